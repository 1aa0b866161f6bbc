"""Tidy result tables from fits (pure functions; the CLI writes them)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import xarray as xr

from diagnostics.convergence import parameter_table, reported_variables

__all__ = ["SUMMARY_COLUMNS", "EFFECT_COLUMNS", "effects_latent", "estimand_comparison",
           "label_effects", "summary_rows"]

SUMMARY_COLUMNS = ["model", "outcome", "parameter", "mean", "sd", "q05", "q95", "r_hat",
                   "ess_bulk", "ess_tail"]
EFFECT_COLUMNS = ["model", "outcome", "contrast", "scale", "mean", "sd", "q05", "q95"]


def summary_rows(tree: xr.DataTree, *, model: str, outcome: str) -> pd.DataFrame:
    """Parameter summary of a fit, without per-group offsets (``z_*``), zero-sum raw focal
    offsets or packed Cholesky factors (``chol_*``, summarised by ``sd_*``/``corr_*``),
    plus verdicts."""
    table = parameter_table(tree, var_names=reported_variables(tree))
    table.insert(0, "outcome", outcome)
    table.insert(0, "model", model)
    return table


def effects_latent(table: pd.DataFrame) -> pd.DataFrame:
    """Latent-scale contrasts vs the reference from a :func:`summary_rows` table."""
    rows = table[table["variable"].str.endswith("_contrast")].copy()
    rows["contrast"] = rows["parameter"].str.extract(r"\[(.*)\]$", expand=False)
    rows["scale"] = "latent"
    return rows[EFFECT_COLUMNS].reset_index(drop=True)


def estimand_comparison(effects: pd.DataFrame, *, reference: str | None = None
                        ) -> pd.DataFrame:
    """Each outcome's contrasts vs the reference under every estimand the run has, beside
    the report's own (the single model of the ``study`` adjustment set).

    Probability scale, a new complex, all analysed rows. One row per ``outcome, contrast,
    effect, adjustment`` with the model, ``mean, q05, q95`` and ``shift`` = its mean minus
    the report's own mean (percentage points). Empty where the run has one estimand only.
    """
    need = {"effect", "adjustment", "estimand", "subgroup"}
    if not len(effects) or not need <= set(effects):
        return pd.DataFrame()
    from diagnostics.effects import headline_rows
    rows = headline_rows(effects)
    rows = rows[(rows["scale"] == "probability") & (rows["estimand"] == "new_complex")
                & rows["contrast"].str.contains(" - ", regex=False)].copy()
    right = rows["contrast"].str.split(" - ", regex=False).str[-1]
    if reference is None and len(right):
        reference = right.mode().iloc[0]  # the level every other level is compared with
    rows = rows[right == reference]
    sizes = rows.groupby(["outcome", "contrast"]).size()
    if not len(sizes) or sizes.max() < 2:
        return pd.DataFrame()  # one estimand per contrast: nothing to compare
    own = rows[(rows["adjustment"] == "study") & ~rows["model"].str.endswith("__total")]
    own = own.set_index(["outcome", "contrast"])["mean"]
    keep = ["outcome", "contrast", "effect", "adjustment", "interpretation", "model", "mean",
            "q05", "q95"]
    out = rows[[c for c in keep if c in rows]].copy()
    out["report_own"] = [own.get((o, c)) for o, c in zip(out["outcome"], out["contrast"],
                                                         strict=True)]
    out["shift"] = out["mean"] - out["report_own"]
    return out.sort_values(["outcome", "contrast", "adjustment", "effect"],
                           ignore_index=True)


def label_effects(effects: pd.DataFrame, labels: Mapping) -> pd.DataFrame:
    """``effects`` with what each model's effect may be called: ``effect`` (unconditional /
    conditional), ``interpretation`` (total / controlled / adjusted / conditional),
    ``held_fixed`` (the possible mediators its model holds fixed) and ``assumes``, from
    ``labels`` (model -> :class:`models.causal.EffectLabel`). The latent-scale rows of a
    model carry its label too. Models without a label keep empty columns.
    """
    out = effects.copy()
    get = {m: labels[m] for m in out["model"].unique() if m in labels}
    out["effect"] = [get[m].effect if m in get else e for m, e in
                     zip(out["model"], out.get("effect", pd.Series(index=out.index)),
                         strict=True)]
    out["interpretation"] = out["model"].map({m: lab.interpretation for m, lab in get.items()})
    out["held_fixed"] = out["model"].map({m: ", ".join(lab.held_fixed)
                                          for m, lab in get.items()})
    out["assumes"] = out["model"].map({m: lab.assumes for m, lab in get.items()})
    return out
