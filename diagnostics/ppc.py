"""Posterior (and prior) predictive checks as tables with a verdict (pure functions).

Ordinal and binary outcomes: the observed share of every response category, overall, per
focal level and by the size of the lowest-level group (analysed rows per group), beside the
replicated shares (mean and 90% interval over posterior predictive draws) and the
posterior predictive p-value
``P(T(y_rep) >= T(y))`` (Gelman, Meng & Stern 1996). Gaussian outcomes: mean, sd, skewness,
minimum and maximum (the statistics are the response family's,
:meth:`models.families.Family.ppc_statistics`). A p-value outside [0.025, 0.975] is flagged
``misfit``: a focal level whose share the model cannot reproduce becomes visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["PPP_BOUNDS", "ppc_table", "prior_predictive_table", "size_groups"]

PPP_BOUNDS = (0.025, 0.975)


def size_groups(data: ModelData, *, level: str) -> np.ndarray:
    """Label per row: size class of its group at ``level`` by analysed rows (1-3, 4-8, 9+)."""
    idx = data.level_idx[level]
    counts = np.bincount(idx, minlength=len(data.level_labels[level]))[idx]
    return np.select([counts <= 3, counts <= 8], [f"1-3 per {level}", f"4-8 per {level}"],
                     f"9+ per {level}")


def _replicated(tree: xr.DataTree, group: str) -> np.ndarray:
    y = tree[group]["y"]
    return y.stack(sample=("chain", "draw")).transpose("sample", ...).values  # (S, n[, J])


def _rows(obs: np.ndarray, rep: np.ndarray, stats: dict, where: str) -> list[dict]:
    rows = []
    for name, fn in stats.items():
        t_obs = float(fn(obs[None, :])[0])
        t_rep = fn(rep)
        ppp = float((t_rep >= t_obs).mean()) if np.ptp(t_rep) > 0 or t_rep[0] != t_obs \
            else 0.5
        rows.append({"group": where, "statistic": name, "observed": t_obs,
                     "replicated_mean": float(t_rep.mean()),
                     "replicated_q05": float(np.quantile(t_rep, 0.05)),
                     "replicated_q95": float(np.quantile(t_rep, 0.95)), "ppp": ppp})
    return rows


def ppc_table(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
              group: str = "posterior_predictive", max_draws: int = 1000) -> pd.DataFrame:
    """Observed vs replicated statistics overall, per focal level and by complex size."""
    family = spec.family_impl
    # item-level: the items' answers pooled, so per-row groups do not apply
    obs, rep = family.ppc_arrays(np.asarray(data.y), _replicated(tree, group), data)
    groups = {}
    if not family.uses_items:
        if spec.focal:
            labels = np.asarray(data.level_labels[spec.focal])[data.level_idx[spec.focal]]
            groups |= {f"{spec.focal}={g}": labels == g for g in data.level_labels[spec.focal]}
        if spec.random_levels:
            sizes = size_groups(data, level=spec.random_levels[0])
            groups |= {f"size {g}": sizes == g for g in np.unique(sizes)}
    if rep.shape[0] > max_draws:
        rep = rep[np.linspace(0, rep.shape[0] - 1, max_draws).astype(int)]
    stats = family.ppc_statistics(data)
    rows = _rows(obs, rep, stats, "all")
    for name, mask in groups.items():
        if mask.sum() >= 5:
            rows += _rows(obs[mask], rep[:, mask], stats, name)
    table = pd.DataFrame(rows)
    table.insert(0, "model", spec.name)
    lo, hi = PPP_BOUNDS
    table["verdict"] = np.where((table["ppp"] < lo) | (table["ppp"] > hi), "misfit", "ok")
    return table


def prior_predictive_table(tree: xr.DataTree, spec: ModelSpec, data: ModelData) -> pd.DataFrame:
    """What the priors imply on the outcome scale: replicated statistics under the prior.

    Verdict ``implausible`` when the observed value lies outside the prior predictive's
    central 99% (a prior that cannot produce the data), else ``ok``.
    """
    family = spec.family_impl
    obs, rep = family.ppc_arrays(np.asarray(data.y), _replicated(tree, "prior_predictive"),
                                 data)
    rows = []
    for name, fn in family.ppc_statistics(data).items():
        t_rep, t_obs = fn(rep), float(fn(obs[None, :])[0])
        q = np.quantile(t_rep, [0.005, 0.05, 0.5, 0.95, 0.995])
        rows.append({"model": spec.name, "statistic": name, "observed": t_obs,
                     "prior_q05": q[1], "prior_median": q[2], "prior_q95": q[3],
                     "verdict": "ok" if q[0] <= t_obs <= q[4] else "implausible"})
    return pd.DataFrame(rows)
