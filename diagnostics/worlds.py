"""Validation in test worlds: probability-scale contrasts against a brute-force truth.

Every test world (:data:`data.simulate.WORLDS`) breaks one assumption of the fitted models
(or none: ``default``). Its truth per outcome and form comes from simulating new complexes
with the generator itself (:func:`data.simulate.probability_truth`), not from the
project's g-computation, so a bug there cannot cancel out. Pure functions; the
``validate`` command fits and writes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FAMILY_ALPHA", "FORM_CHECKS", "LINK_VARIANT", "NULL_BAND", "check_rows",
           "checks_by_world", "coverage_by_world", "pooled_link_rows", "validation_rows",
           "worlds_figure"]

# a true contrast this small counts as "no effect": a directional verdict on it is false
NULL_BAND = {"probability": 1.0, "response": 0.02}  # percentage points; response units


# predictive checks read at the focal level: do they notice a world's misspecification?
FORM_CHECKS = ("proportional odds", "between-group spread")
FAMILY_ALPHA = 0.05  # family-wise error of the focal-level checks that flag a world
LINK_VARIANT = "probit link"  # the relaxed variant whose gain is also pooled over outcomes


def check_rows(ppc: pd.DataFrame, pointwise: dict[str, pd.Series] | None, *, world: str,
               outcome: str, focal: str, base: str) -> pd.DataFrame:
    """Could the checks notice this world? One row per signal, ``flagged`` true or false.

    * the base model's focal-level predictive checks (:data:`FORM_CHECKS` whose group names
      the focal level: proportional odds per form vs the reference, spread of complex means
      per form with new complex effects). With a dozen such checks, the per-check verdict
      (outside the central 95%) would flag about half of all correct worlds, so a check flags
      the world at a family-wise 5% (Bonferroni): two-sided ``2 min(ppp, 1 - ppp) <
      FAMILY_ALPHA / m`` for ``m`` checks;
    * leave-one-complex-out: ``pointwise`` holds each model's elpd per complex (the base
      model's under ``base``); a relaxed variant that predicts new complexes better than the
      base by more than twice the SE of the paired difference flags the world.
    """
    from diagnostics.crossval import paired_se

    rows = []
    form = ppc[ppc["check"].isin(FORM_CHECKS) & ppc["group"].str.startswith(f"{focal}=")]
    for r in form.itertuples():
        two_sided = 2 * min(r.ppp, 1 - r.ppp)
        rows.append({"signal": f"PPC {r.check}", "detail": f"{r.group}: {r.statistic} "
                     f"(ppp {r.ppp:.3f})", "value": two_sided,
                     "flagged": two_sided < FAMILY_ALPHA / len(form)})
    for name, values in (pointwise or {}).items():
        if name == base:
            continue
        diff = (values - pointwise[base]).dropna()
        gain, dse = float(diff.sum()), paired_se(diff)
        rows.append({"signal": "LOGO relaxed variant",
                     "detail": f"{name} vs {base}: elpd gain over new complexes "
                               f"{gain:.1f} (SE {dse:.1f})",
                     "value": gain, "flagged": gain > 2 * dse})
    out = pd.DataFrame(rows, columns=["signal", "detail", "value", "flagged"])
    out.insert(0, "outcome", outcome)
    out.insert(0, "world", world)
    return out


def pooled_link_rows(pointwise: dict[str, tuple[pd.Series, pd.Series]], *,
                     world: str) -> pd.DataFrame:
    """The link check pooled over outcomes: ``pointwise`` maps each cumulative outcome to
    its (logit model, probit-link variant) elpd per complex. A link is a property of how
    the survey's rating scales map a latent onto categories, so one test over all of them:
    the per-complex sums of the probit variant's gain (:func:`diagnostics.crossval.
    pooled_by_group`), flagged when the total exceeds twice its paired SE -- the rule of the
    per-outcome signals. One outcome alone gains about 2.6 elpd (SE 1.9) in the probit world
    (2,963 four-category answers barely reach a link's tails); several together can tell.
    No row with fewer than two outcomes."""
    from diagnostics.crossval import paired_se, pooled_by_group

    columns = ["world", "outcome", "signal", "detail", "value", "flagged"]
    if len(pointwise) < 2:
        return pd.DataFrame(columns=columns)
    diff = pooled_by_group([alt - base for base, alt in pointwise.values()])
    gain, dse = float(diff.sum()), paired_se(diff)
    names = ", ".join(pointwise)
    return pd.DataFrame([{
        "world": world, "outcome": f"pooled: {names}", "signal": "LOGO link, pooled",
        "detail": f"[{LINK_VARIANT}] vs logit over {len(pointwise)} cumulative outcomes "
                  f"({names}): elpd gain over new complexes {gain:.1f} (SE {dse:.1f})",
        "value": gain, "flagged": gain > 2 * dse}], columns=columns)


def checks_by_world(rows: pd.DataFrame) -> pd.DataFrame:
    """Per world and outcome: how many signals flag it, of how many, and which."""
    def summary(g):
        hit = g[g["flagged"]]
        return pd.Series({"flagged": bool(len(hit)), "signals_flagged": len(hit),
                          "signals": len(g), "which": "; ".join(hit["detail"])})
    return rows.groupby(["world", "outcome"], sort=False).apply(
        summary, include_groups=False).reset_index()


def validation_rows(effects: pd.DataFrame, truth: dict[str, float], *, world: str,
                    reference: str) -> pd.DataFrame:
    """Each ``X - reference`` contrast of one model's probability rows (a new complex, all
    analysed) beside its truth: ``covered`` (90% interval), ``null`` (the true contrast
    is within :data:`NULL_BAND`) and ``supported`` (P(> 0) >= 0.95 or <= 0.05)."""
    from diagnostics.effects import headline_rows
    rows = headline_rows(effects)
    rows = rows[(rows["estimand"] == "new_complex")
                & rows["contrast"].str.endswith(f" - {reference}")].copy()
    scale = np.where(rows["scale"] == "probability", 100.0, 1.0)
    forms = rows["contrast"].str.split(" - ", regex=False).str[0]
    rows["truth"] = [truth[f] - truth[reference] for f in forms] * scale
    rows["error"] = rows["mean"] - rows["truth"]
    rows["covered"] = (rows["q05"] <= rows["truth"]) & (rows["truth"] <= rows["q95"])
    band = rows["scale"].map(NULL_BAND)
    rows["null"] = rows["truth"].abs() < band
    rows["supported"] = (rows["p_positive"] >= 0.95) | (rows["p_positive"] <= 0.05)
    rows.insert(0, "world", world)
    keep = ["world", "model", "outcome", "contrast", "effect", "event", "scale", "truth",
            "mean", "q05", "q95", "error", "covered", "null", "supported", "p_positive"]
    return rows[keep].reset_index(drop=True)


def coverage_by_world(table: pd.DataFrame) -> pd.DataFrame:
    """Per world and outcome: contrasts, 90% coverage, mean absolute error, true nulls and
    how many of them came out "supported" (a directional verdict on no effect)."""
    g = table.groupby(["world", "outcome"], sort=False)
    out = g.agg(n=("covered", "size"), covered=("covered", "sum"),
                mean_abs_error=("error", lambda e: float(np.abs(e).mean())),
                true_nulls=("null", "sum"))
    out["coverage"] = out["covered"] / out["n"]
    out["nulls_supported"] = g.apply(lambda d: int((d["null"] & d["supported"]).sum()),
                                     include_groups=False)
    return out.reset_index()


def worlds_figure(coverage: pd.DataFrame):
    """Heat map of 90% coverage, world x outcome, annotated with covered / n."""
    import matplotlib.pyplot as plt

    wide = coverage.pivot(index="world", columns="outcome", values="coverage")
    text = coverage.assign(label=coverage["covered"].astype(int).astype(str) + "/"
                           + coverage["n"].astype(str)).pivot(
        index="world", columns="outcome", values="label")
    fig, ax = plt.subplots(figsize=(1.3 * wide.shape[1] + 2.5, 0.5 * wide.shape[0] + 1.5))
    im = ax.imshow(wide.to_numpy(dtype=float), vmin=0.5, vmax=1.0, cmap="RdYlGn")
    ax.set_xticks(range(wide.shape[1]), wide.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(wide.shape[0]), wide.index, fontsize=8)
    for i in range(wide.shape[0]):
        for j in range(wide.shape[1]):
            label = text.iloc[i, j]
            if isinstance(label, str):
                ax.text(j, i, label, ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="coverage of the 90% intervals")
    ax.set_title("Probability-scale contrasts vs HZ, new complex: coverage of the truth",
                 fontsize=9)
    fig.tight_layout()
    return fig
