"""Fit every imputed data set on the compiled model and pool the draws (brms'
``brm_multiple``).

Each of the ``m`` completed frames (:func:`data.imputation.impute`) is prepared with the
same spec; the rows and shapes are the same in every imputation (only covariate values
differ), so the engine compiles once and swaps the data in (``with_data``) for the other
``m - 1``. The imputation's fit gets sampler seed ``seed + k``. Pooling concatenates the
posteriors along ``chain``: the mixture of the ``m`` posteriors approximates the posterior
given the observed data (Zhou & Reiter 2010), so every pooled summary carries the
between-imputation variance.

R-hat over the pooled chains mixes that between-imputation variance with non-convergence
(brms warns about the same): the convergence verdict is the worst of the *per-imputation*
verdicts, and the pooled R-hat is reported beside them, not judged.

How much of a contrast's uncertainty is due to the missing values is its *fraction of
missing information* (:func:`fraction_missing_information`, Rubin 1987): Rubin's rules
applied to each imputation's posterior draws of the contrast.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from inference.engine import Engine, SamplerSettings
from inference.suite import FitResult, _load_or_fit
from models.design import prepare
from models.spec import ModelSpec

__all__ = ["fit_imputed", "fit_joints_imputed", "fraction_missing_information",
           "headline_fmi", "imputation_path", "imputation_table", "imputation_verdicts",
           "pool_trees"]

_POOLED = ("posterior", "sample_stats")


def pool_trees(trees: list[xr.DataTree]) -> xr.DataTree:
    """The posteriors (and sample stats) of ``trees`` concatenated along ``chain``, chains
    renumbered ``0..``; ``attrs["imputations"]`` says how many were pooled and
    ``attrs["chains_per_imputation"]`` how many chains each gave."""
    groups = {}
    for group in _POOLED:
        parts, offset = [], 0
        for tree in trees:
            ds = tree[group].to_dataset()
            n = ds.sizes["chain"]
            parts.append(ds.assign_coords(chain=np.arange(offset, offset + n)))
            offset += n
        groups[group] = xr.concat(parts, dim="chain", join="override",
                                  combine_attrs="drop_conflicts")
    if "observed_data" in trees[0].children:
        groups["observed_data"] = trees[0]["observed_data"].to_dataset()
    pooled = xr.DataTree.from_dict(groups)
    pooled.attrs = {**trees[0].attrs, "imputations": len(trees),
                    "chains_per_imputation": int(trees[0]["posterior"].sizes["chain"])}
    return pooled


def imputation_path(fits_dir: Path, name: str, k: int) -> Path:
    """Where imputation ``k`` (from 1) of model ``name`` is saved."""
    return Path(fits_dir) / name / f"imputation_{k}.nc"


def fit_imputed(specs: dict[str, ModelSpec], frames: list[pd.DataFrame], *,
                settings: SamplerSettings, fits_dir: Path, engine: Engine | None = None,
                progress: Callable[[str], None] = print) -> list[FitResult]:
    """Fit every spec on every imputed frame (saved as ``<name>/imputation_<k>.nc``, so an
    interrupted run resumes) and pool them.

    Each result's ``tree``/``data`` are the first imputation's (for the checks that need
    one data set: predictive checks, LOO, power-scaling); ``pooled`` holds the pooled
    draws and ``imputed`` every ``(data, tree)`` pair, for the pooled effects.
    """
    engine = engine or Engine()
    results = []
    m = len(frames)
    for i, (name, spec) in enumerate(specs.items(), start=1):
        t0 = time.perf_counter()
        pairs, reused = [], True
        for k, frame in enumerate(frames):
            data = prepare(frame, spec)
            if pairs and list(data.row_ids) != list(pairs[0][0].row_ids):
                raise ValueError(f"model {name!r}: imputation {k + 1} analyses other rows "
                                 f"than imputation 1 (an outcome or id left missing?)")
            # predictive draws and log-likelihood for the first imputation only: the checks
            # that need one data set (PPC, LOO, power-scaling) read that one
            run = dataclasses.replace(settings, seed=settings.seed + k,
                                      predictive=settings.predictive and k == 0)
            path = imputation_path(fits_dir, name, k + 1)
            tree, was = _load_or_fit(
                path, spec.to_json(), data.data_hash(), run,
                partial(engine.fit, spec, data, run), progress,
                f"[{i}/{len(specs)}] {name} (imputation {k + 1}/{m})",
                f"fitting {spec.family} model on {data.n} rows ...")
            pairs.append((data, tree))
            reused &= was
        results.append(FitResult(spec, pairs[0][0], pairs[0][1], Path(fits_dir) / name, reused,
                                 time.perf_counter() - t0,
                                 pooled=pool_trees([t for _, t in pairs]), imputed=pairs))
        progress(f"[{i}/{len(specs)}] {name}: {m} imputations done in "
                 f"{time.perf_counter() - t0:.0f} s")
    return results


def imputation_verdicts(result: FitResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(summary, verdict row, per-imputation table)`` of an imputed fit.

    ``summary``: the pooled draws' estimates (mean, sd, quantiles) with each parameter's
    *worst* per-imputation R-hat and ESS and verdict; the verdict row is the worst
    imputation's (its reason names it). The per-imputation table has one row per
    imputation and a ``pooled`` row whose R-hat includes the between-imputation variance
    (reported, not judged).
    """
    from diagnostics.convergence import VERDICTS, model_verdict
    from diagnostics.tables import summary_rows

    name = result.name
    outcome = (result.joint if hasattr(result, "joint") else result.spec).outcome
    rows, tables = [], []
    for k, (_, tree) in enumerate(result.imputed, start=1):
        table = summary_rows(tree, model=name, outcome=outcome)
        tables.append(table)
        rows.append(model_verdict(tree, table, model=name).assign(imputation=str(k)))
    per = pd.concat(rows, ignore_index=True)
    pooled = summary_rows(result.pooled, model=name, outcome=outcome)
    per = pd.concat([per, pd.DataFrame([{
        "model": name, "imputation": "pooled", "max_r_hat": float(pooled.r_hat.max()),
        "min_ess_bulk": float(pooled.ess_bulk.min()),
        "min_ess_tail": float(pooled.ess_tail.min()),
        "verdict": "not judged",
        "reason": "R-hat over all imputations' chains includes the between-imputation "
                  "variance"}])], ignore_index=True)
    # per parameter: the worst imputation's diagnostics beside the pooled estimates
    stacked = pd.concat(tables, ignore_index=True)
    stacked["rank"] = stacked["verdict"].map(VERDICTS.index)
    worst = stacked.sort_values("rank").groupby("parameter", sort=False).last()
    summary = pooled.copy()
    summary["r_hat"] = summary["parameter"].map(stacked.groupby("parameter")["r_hat"].max())
    for col in ("ess_bulk", "ess_tail"):
        summary[col] = summary["parameter"].map(stacked.groupby("parameter")[col].min())
    summary["verdict"] = summary["parameter"].map(worst["verdict"])
    summary["reason"] = summary["parameter"].map(worst["reason"])
    judged = per[per["imputation"] != "pooled"]
    top = judged.iloc[int(np.argmax([VERDICTS.index(v) for v in judged["verdict"]]))]
    verdict = top.drop(labels=["imputation"]).to_frame().T.reset_index(drop=True)
    verdict["reason"] = f"worst of {len(judged)} imputations (imputation " \
                        f"{top['imputation']}): {top['reason']}"
    verdict["max_r_hat"] = judged["max_r_hat"].max()
    verdict["min_ess_bulk"] = judged["min_ess_bulk"].min()
    verdict["min_ess_tail"] = judged["min_ess_tail"].min()
    verdict["divergences"] = int(judged["divergences"].sum())
    return summary, verdict, per


def fit_joints_imputed(joints: dict, frames: list[pd.DataFrame], *,
                       settings: SamplerSettings, fits_dir: Path, engine: Engine | None = None,
                       progress: Callable[[str], None] = print) -> list:
    """The joint two-part models on every imputed frame (``imputation_<k>/`` folders),
    pooled as :func:`fit_imputed` pools single models."""
    from inference.suite import fit_joints

    per = [fit_joints(joints, frame, settings=dataclasses.replace(settings,
                                                                  seed=settings.seed + k),
                      fits_dir=Path(fits_dir) / f"imputation_{k + 1}", engine=engine,
                      progress=progress) for k, frame in enumerate(frames)]
    out = []
    for j, first in enumerate(per[0]):
        # each imputation's (gate data, part data, frame): the total effect reads the
        # part's covariates of the gate's rows from that imputation's frame
        pairs = [((*run[j].data, frame), run[j].tree) for run, frame in zip(per, frames,
                                                                           strict=True)]
        out.append(dataclasses.replace(
            first, pooled=pool_trees([t for _, t in pairs]), imputed=pairs,
            reused=all(run[j].reused for run in per),
            seconds=sum(run[j].seconds for run in per)))
    return out


def fraction_missing_information(draws: np.ndarray, imputation: np.ndarray) -> dict:
    """Rubin's rules on the posterior draws of one quantity, labelled by imputation.

    ``W``: the mean of the per-imputation posterior variances; ``B``: the variance of the
    per-imputation posterior means, less the Monte Carlo share of it (``W / n`` for ``n``
    draws per imputation, treated as independent; floored at 0); ``T = W + (1 + 1/m) B``,
    the variance of the pooled posterior; ``fmi = (1 + 1/m) B / T``, the large-sample
    fraction of missing information (Rubin 1987, ch. 3; for posterior draws pooled across
    imputations, Gelman et al. 2013, BDA3 s. 18.2; Zhou & Reiter 2010). ``m_needed`` is
    ``ceil(100 x fmi)``, White, Royston & Wood's (2011) rule with the FMI in place of the
    fraction of incomplete cases.
    """
    draws, imputation = np.asarray(draws, float), np.asarray(imputation)
    groups = [draws[imputation == k] for k in dict.fromkeys(imputation.tolist())]
    m = len(groups)
    nan = {"m": m, "mean": float(draws.mean()), "within_var": np.nan, "between_var": np.nan,
           "total_var": np.nan, "fmi": np.nan, "m_needed": np.nan}
    if m < 2 or min(len(g) for g in groups) < 2:
        return nan
    n = np.mean([len(g) for g in groups])
    within = float(np.mean([g.var(ddof=1) for g in groups]))
    between = max(0.0, float(np.var([g.mean() for g in groups], ddof=1)) - within / n)
    total = within + (1 + 1 / m) * between
    fmi = (1 + 1 / m) * between / total if total > 0 else np.nan
    return {**nan, "within_var": within, "between_var": between, "total_var": total,
            "fmi": fmi, "m_needed": int(np.ceil(100 * fmi - 1e-9)) if total > 0 else np.nan}


def headline_fmi(results: list, joints: list = (), *, draws: int = 2000) -> pd.DataFrame:
    """The fraction of missing information of every focal level's contrast with the
    reference, under the headline estimand (probability scale, a new group, all analysed
    rows; the two-part outcomes' unconditional effects from their joint models), for the
    imputed fits among ``results`` (single models) and ``joints`` (joint two-part models).

    ``draws`` in all, an equal share per imputation (at least 50 each: Rubin's ``B`` is
    corrected for their Monte Carlo error). One row per model and contrast: ``model,
    outcome, contrast`` and the columns of :func:`fraction_missing_information`
    (variances in percentage points squared).
    """
    from diagnostics.effects import form_probabilities

    rows = []
    m = max([len(r.imputed) for r in [*results, *joints] if r.imputed] or [1])
    draws = max(50, -(-draws // m))  # per imputation

    def add(name, outcome, reference, per, scale):
        forms = [str(f) for f in per[0].coords[per[0].dims[1]].values]
        for f in forms:
            if f == reference:
                continue
            d = np.concatenate([scale * (p.values[:, forms.index(f)]
                                         - p.values[:, forms.index(reference)]) for p in per])
            lab = np.repeat(np.arange(len(per)), [p.sizes["sample"] for p in per])
            rows.append({"model": name, "outcome": outcome, "contrast": f"{f} - {reference}",
                         **fraction_missing_information(d, lab)})

    for r in results:
        spec = r.spec
        if not (r.imputed and spec.focal and spec.variant != "none"
                and spec.family_impl.has_event_prediction):
            continue
        per = [form_probabilities(tree, spec, data, max_draws=draws, seed=k)
               for k, (data, tree) in enumerate(r.imputed)]
        add(spec.name, spec.outcome, spec.reference, per,
            100.0 if spec.family_impl.has_probability_scale else 1.0)
    for j in joints:
        if not j.imputed:
            continue
        from models.joint import total_probabilities

        per = []
        for k, (data, tree) in enumerate(j.imputed):
            d1, d2, frame = data
            probs, _ = total_probabilities(tree, j.joint, d1, d2, frame, max_draws=draws,
                                           seed=k, rows=np.arange(d1.n))
            per.append(probs)
        add(j.joint.name, j.joint.outcome, j.joint.gate.reference, per, 100.0)
    return pd.DataFrame(rows)


def imputation_table(per_imputation: list[pd.DataFrame], imputations, fmi: pd.DataFrame
                     ) -> pd.DataFrame:
    """``imputation.csv``: blocks of rows, named in ``block``: ``settings`` (how the
    imputations were made: ``setting, value``), ``missing by design`` (cells kept
    missing), ``convergence`` (each imputation's and the pooled diagnostics per model) and
    ``fmi`` (:func:`headline_fmi`)."""
    blocks = [pd.DataFrame({"block": "settings", "setting": list(imputations.settings),
                            "value": [str(v) for v in imputations.settings.values()]})]
    if len(imputations.structural):
        blocks.append(imputations.structural.assign(block="missing by design"))
    if per_imputation:
        blocks.append(pd.concat(per_imputation, ignore_index=True).assign(block="convergence"))
    if fmi is not None and len(fmi):
        blocks.append(fmi.assign(block="fmi"))
    table = pd.concat(blocks, ignore_index=True)
    return table[["block", *[c for c in table.columns if c != "block"]]]
