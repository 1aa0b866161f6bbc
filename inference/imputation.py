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

__all__ = ["fit_imputed", "fit_joints_imputed", "imputation_path", "imputation_verdicts",
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
