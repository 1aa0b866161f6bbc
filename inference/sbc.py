"""Simulation-based calibration (Talts et al. 2018; Modrák et al. 2023) on the study design.

For each simulation: draw every parameter from the prior, simulate a response for the *same*
design (the analysed tenants' covariates, complexes and living forms), fit, and record the
rank of each true value among (thinned) posterior draws. If the model, the prior predictive
simulator and the sampler agree, every rank is uniform; departures show miscalibration
(diagnosed in :mod:`diagnostics.calibration`).

Why not simuk: simuk 0.3 loops over ``pm.sample`` in one process, which recompiles the model
for every simulation (about 34 s per refit of the contact model vs 1-4 s for a swap into one
compiled nutpie model, docs/sampler-measurements.md) and cannot fan out over Dask. We keep
its conventions -- parameters from ``pm.sample_prior_predictive``, ranks stored as a
``prior_sbc`` group that arviz-plots ``plot_ecdf_pit`` draws -- and run the fits through
:class:`Engine` and :func:`inference.parallel.run_tasks`.

Ranks are taken after thinning each parameter's draws to about its bulk ESS (autocorrelated
draws make ranks too extreme), and turned into randomised PIT values
``(rank + U) / (L + 1)``, ``U ~ Uniform(0, 1)``, which are exactly uniform under calibration
whatever the number ``L`` of thinned draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from inference.engine import SamplerSettings
from inference.parallel import Task, fingerprint, worker_engine
from models.build import build_model, is_structural
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["MISSPECIFICATIONS", "describe", "flatten_draws", "misspecified", "results_frame",
           "sbc_task", "sbc_tasks", "subsample_design"]

# Deliberately wrong fits that SBC must flag (used by tests and ``run_models.py sbc``)
MISSPECIFICATIONS = ("none", "no-complex", "prior-mismatch")


def flatten_draws(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """``{"beta[female]": array, ...}`` for every non-structural variable of ``ds``.

    Each array keeps the sample dims (chain, draw) if ``ds`` has them (scalars otherwise).
    """
    out = {}
    for name, da in ds.data_vars.items():
        if is_structural(name):
            continue
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if not extra:
            out[name] = da.to_numpy()
            continue
        stacked = da.stack(_flat=extra)
        for i, label in enumerate(stacked["_flat"].to_numpy()):
            label = ", ".join(map(str, label)) if isinstance(label, tuple) else str(label)
            out[f"{name}[{label}]"] = stacked.isel(_flat=i).to_numpy()
    return out


def misspecified(spec: ModelSpec, settings: SamplerSettings,
                 how: str) -> tuple[ModelSpec, SamplerSettings]:
    """The fit that SBC should catch: ``no-complex`` ignores the complex level the data have;
    ``prior-mismatch`` fits with coefficient and SD prior scales a third of those the
    parameters were drawn from (too-narrow posteriors).

    (A sampler with too few warm-up steps is *not* offered: with ranks thinned to the bulk
    ESS, nutpie with 10 tuning steps passed SBC of the loneliness model at 40 simulations --
    slow mixing is a convergence-diagnostics problem, not a calibration one.)
    """
    if how == "none":
        return spec, settings
    if how == "no-complex":
        levels = tuple(lv for lv in spec.levels if lv != spec.levels[0])
        return dataclasses.replace(spec, name=f"{spec.name}_nocomplex", levels=levels), settings
    if how == "prior-mismatch":
        p = spec.prior
        narrow = {k: p[k] / 3 for k in ("beta_sd", "intercept_sd", "focal_sd_scale",
                                        "fixed_focal_sd", "group_sd_scale", "tenant_sd_scale")}
        return dataclasses.replace(spec, name=f"{spec.name}_narrow",
                                   priors=dict(spec.priors) | narrow), settings
    raise ValueError(f"unknown misspecification {how!r}; choose one of {MISSPECIFICATIONS}")


def subsample_design(frame: pd.DataFrame, n_tenants: int, *, group: str, stratum: str | None,
                     seed: int) -> pd.DataFrame:
    """Whole groups (complexes) drawn until about ``n_tenants`` rows, stratified by ``stratum``
    (living form) so that every form keeps at least two groups."""
    if n_tenants >= len(frame):
        return frame
    rng = np.random.default_rng(seed)
    sizes = frame.groupby(group).size()
    strata = (frame.drop_duplicates(group).set_index(group)[stratum] if stratum else
              pd.Series("all", index=sizes.index))
    share = n_tenants / len(frame)
    chosen = []
    for _, members in strata.groupby(strata, sort=False):
        ids = rng.permutation(members.index.to_numpy())
        target = max(share * sizes[ids].sum(), 1)
        cum = np.cumsum(sizes[ids].to_numpy())
        take = max(2, int(np.searchsorted(cum, target)) + 1)
        chosen.extend(ids[:take])
    return frame[frame[group].isin(chosen)].reset_index(drop=True)


def sbc_tasks(spec: ModelSpec, data: ModelData, *, sims: int, seed: int,
              settings: SamplerSettings, fit_spec: ModelSpec | None = None) -> list[Task]:
    """One task per simulation: parameters and a response drawn from ``spec``'s prior.

    All draws come from one ``pm.sample_prior_predictive`` call, so simulation ``i`` is the
    same for a given seed however the tasks are scheduled. ``fit_spec`` (default ``spec``)
    is the model that is fitted -- a different one checks that SBC flags misspecification.
    """
    fit_spec = fit_spec or spec
    model = build_model(spec, data)
    prior = pm.sample_prior_predictive(draws=sims, model=model, random_seed=seed)
    truths = flatten_draws(prior["prior"].dataset)
    ys = prior["prior_predictive"]["y"].to_numpy()[0]  # (sims, *y.shape)
    base = fingerprint(spec.to_json(), fit_spec.to_json(), settings.to_json(),
                        data.data_hash(), str(seed), str(sims), "probability estimands")
    tasks = []
    params = prior["prior"].dataset
    for i in range(sims):
        truth = {k: float(v[0, i]) for k, v in truths.items()}
        tasks.append(Task(key=f"sim-{i:04d}", fingerprint=f"{base}-{i}", kwargs={
            "y": ys[i], "truth": truth, "sim": i, "sim_spec": spec,
            "params": params.isel(draw=[i]),
            "settings": dataclasses.replace(settings, seed=int(seed) * 100_003 + i,
                                            predictive=False)}))
    return tasks


def probability_estimands(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                          max_draws: int) -> dict[str, np.ndarray]:
    """The new-complex probability-scale contrasts vs the reference as ``(chain, draw)``
    arrays (``P[new complex: RB - HZ]``); empty where the model has none."""
    from diagnostics.crossval import thinned_draws
    from diagnostics.effects import form_probabilities

    if not spec.focal or spec.variant == "none" or not spec.family_impl.has_event_prediction:
        return {}
    _, post = thinned_draws(tree, max_draws=max_draws)  # evenly thinned, chains kept
    shape = (post.sizes["chain"], post.sizes["draw"])
    probs = form_probabilities(xr.DataTree.from_dict({"posterior": post.to_dataset()}), spec,
                               data, max_draws=shape[0] * shape[1])
    forms = list(probs[spec.focal].values)
    ref = probs.sel({spec.focal: spec.reference}).values
    return {f"P[new complex: {f} - {spec.reference}]":
            (probs.sel({spec.focal: f}).values - ref).reshape(shape)
            for f in forms if f != spec.reference}


def sbc_task(*, spec: ModelSpec, data: ModelData, y: np.ndarray, truth: dict[str, float],
             sim: int, settings: SamplerSettings, sim_spec: ModelSpec | None = None,
             params: xr.Dataset | None = None, max_estimand_draws: int = 600) -> dict:
    """Fit one simulated data set; return ranks of the true values (small, JSON-ready).

    With the simulated parameters ``params`` (one prior draw of ``sim_spec``), the ranks of
    the new-complex probability-scale contrasts are taken too: the true contrast is the
    g-computation at the true parameters on the same design, the posterior's at each draw.
    """
    from arviz_stats import ess

    engine = worker_engine()
    sim_data = data.with_y(y)
    tree = engine.fit(spec, sim_data, settings)
    post = tree["posterior"].dataset
    draws = flatten_draws(post)
    ess_bulk = flatten_draws(ess(post, method="bulk"))
    truth = dict(truth)
    if params is not None:  # the probability-scale estimands: true value and posterior draws
        true_tree = xr.DataTree.from_dict({"posterior": params})
        for label, value in probability_estimands(true_tree, sim_spec or spec, sim_data,
                                                  max_draws=1).items():
            truth[label] = float(value.ravel()[0])
        est = probability_estimands(tree, spec, sim_data, max_draws=max_estimand_draws)
        if est:
            draws |= est
            ess_bulk |= flatten_draws(ess(xr.Dataset({k: (("chain", "draw"), v)
                                                      for k, v in est.items()}), method="bulk"))
    rng = np.random.default_rng([sim, 11])
    ranks, n_draws, pits = {}, {}, {}
    for label, value in truth.items():
        if label not in draws:  # a parameter the fitted model does not have
            continue
        d = draws[label]
        thin = max(1, int(d.size // max(np.nan_to_num(float(ess_bulk[label]), nan=1.0), 1.0)))
        kept = d[:, ::thin].ravel()
        rank = int(np.sum(kept < value))
        ranks[label], n_draws[label] = rank, int(kept.size)
        pits[label] = float((rank + rng.uniform()) / (kept.size + 1))
    stats = tree["sample_stats"].dataset
    timing = engine.timings[-1]
    return {"sim": sim, "rank": ranks, "n_draws": n_draws, "pit": pits, "truth": truth,
            "divergences": int(stats["diverging"].sum()),
            "compile_s": timing["compile_s"], "sample_s": timing["sample_s"]}


def results_frame(results: dict[str, dict]) -> pd.DataFrame:
    """Long table: one row per simulation and parameter."""
    rows = [{"sim": r["sim"], "parameter": p, "truth": r["truth"][p], "rank": r["rank"][p],
             "n_draws": r["n_draws"][p], "pit": r["pit"][p], "divergences": r["divergences"]}
            for r in results.values() for p in r["rank"]]
    return pd.DataFrame(rows)


def describe(spec: ModelSpec, fit_spec: ModelSpec, settings: SamplerSettings,
             data: ModelData) -> dict:
    """What was calibrated (written beside the results as run.json)."""
    return {"simulated_from": spec.name, "fitted": fit_spec.name, "n_rows": data.n,
            "groups": {k: len(v) for k, v in data.level_labels.items()},
            "settings": dataclasses.asdict(settings)}
