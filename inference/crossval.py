"""Leave-groups-out refits: grouped K-fold by complex, and exact refits where PSIS-LOGO fails.

Each task refits one model without a set of groups of its lowest random level (the
training rows are :meth:`models.design.ModelData.take` of the full data, so every group
keeps its index and the compiled model is reused through ``with_data``) and returns the
held-out groups' log predictive density ``log mean_s p(y_g | theta_s)``, each group's
effect integrated out (:func:`diagnostics.crossval.group_log_density`). Tasks run through
:func:`inference.parallel.run_tasks`: over Dask, resumable, with retries and a failure list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from inference.engine import SamplerSettings
from inference.parallel import Task, fingerprint, worker_engine
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["fold_tasks", "group_folds", "heldout_task", "pointwise_from_results"]


def group_folds(spec: ModelSpec, data: ModelData, k: int, *, seed: int = 0) -> np.ndarray:
    """Fold (0..k-1) of every group of the lowest random level; -1 for groups without
    analysed rows. Stratified by the focal level (each focal level's groups are dealt
    round the folds in a random order), so every fold's training set keeps every level."""
    from diagnostics.crossval import logo_level

    level = logo_level(spec)
    idx = data.level_idx[level]
    n_groups = len(data.level_labels[level])
    if k < 2:
        raise ValueError(f"grouped K-fold needs K >= 2, got {k}")
    present = np.unique(idx)
    if len(present) < k:
        raise ValueError(f"model {spec.name!r}: {len(present)} groups of {level!r} with rows, "
                         f"fewer than K = {k} folds")
    folds = np.full(n_groups, -1)
    rng = np.random.default_rng([seed, 11])
    if spec.focal:
        first_row = pd.Series(np.arange(data.n)).groupby(idx).first()
        strata = data.level_idx[spec.focal][first_row.loc[present].to_numpy()]
    else:
        strata = np.zeros(len(present), dtype=int)
    start = 0
    for s in np.unique(strata):
        members = rng.permutation(present[strata == s])
        folds[members] = (start + np.arange(len(members))) % k
        start += len(members)  # continue the deal where the last stratum stopped
    return folds


def fold_tasks(specs: dict[str, ModelSpec], held: dict[str, dict[str, list[int]]], *,
               settings: SamplerSettings, data_hashes: dict[str, str]) -> list[Task]:
    """One task per model and held-out set: ``held[model][label]`` lists group indices."""
    tasks = []
    for name, sets in held.items():
        spec = specs[name]
        for label, groups in sets.items():
            fp = fingerprint(spec.to_json(), settings.to_json(), data_hashes[name],
                             ",".join(map(str, sorted(groups))))
            tasks.append(Task(key=f"{name}--{label}", fingerprint=fp,
                              kwargs={"spec": spec, "model": name, "label": label,
                                      "groups": list(map(int, groups))}))
    return tasks


def heldout_task(*, spec: ModelSpec, model: str, label: str, groups: list[int],
                 datas: dict[str, ModelData], settings: SamplerSettings,
                 max_draws: int = 1000) -> dict:
    """Refit ``model`` without ``groups``; the held-out groups' log predictive density."""
    from diagnostics.convergence import model_verdict
    from diagnostics.crossval import group_log_density, logo_level, thinned_draws

    data = datas[model]
    level = logo_level(spec)
    held = np.isin(data.level_idx[level], groups)
    engine = worker_engine()
    tree = engine.fit(spec, data.take(~held), settings)
    draws, _ = thinned_draws(tree, max_draws=max_draws)
    scored, ll = group_log_density(tree, spec, data, draws, rows=np.flatnonzero(held))
    elpd = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    verdict = model_verdict(tree, model=model).iloc[0]
    labels = np.asarray(data.level_labels[level], dtype=object)[scored]
    return {"model": model, "label": label, "groups": [str(g) for g in labels],
            "elpd": elpd.tolist(), "n_train": int((~held).sum()),
            "verdict": str(verdict["verdict"]), "reason": str(verdict["reason"]),
            "seconds": engine.timings[-1]["total_s"]}


def pointwise_from_results(results: dict[str, dict]) -> dict[str, pd.Series]:
    """Per model: the held-out elpd of every group (``group -> elpd``) over its tasks."""
    out: dict[str, dict[str, float]] = {}
    for r in results.values():
        out.setdefault(r["model"], {}).update(zip(r["groups"], r["elpd"], strict=True))
    return {m: pd.Series(v, dtype=float).sort_index() for m, v in out.items()}
