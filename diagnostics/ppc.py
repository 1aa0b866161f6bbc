"""Posterior (and prior) predictive checks as tables with a verdict (pure functions).

Ordinal and binary outcomes: the observed share of every response category, overall, per
focal level and by the size of the lowest-level group (analysed rows per group), beside the
replicated shares (mean and 90% interval over posterior predictive draws) and the
posterior predictive p-value, mid-p for ties: ``P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2``
(Gelman, Meng & Stern 1996; with ``>=`` alone a discrete statistic's ties biased it
upward). Gaussian outcomes: mean, sd, skewness, minimum and maximum (the statistics are the
response family's, :meth:`models.families.Family.ppc_statistics`). A p-value outside
[0.025, 0.975] is flagged ``misfit``. Checks (column ``check``):

* ``shares``: overall, per focal level and by group size -- free thresholds plus a
  focal effect per level reproduce these almost by construction;
* ``by covariate``: the same per 0/1 covariate column (``female=1``): calibration where the
  model's additive terms may be wrong (bayesplot's ``ppc_stat_grouped``);
* ``between-group spread``: replications with *new* group effects at the lowest random
  level (not the fitted ones), so that the spread of the group means -- the between-complex
  variation that a new-complex estimand integrates over -- is checked, per focal level;
* ``proportional odds`` (cumulative families): for each 0/1 covariate and each focal level
  vs the reference, the log odds ratio at the top cut minus that at the bottom cut; a
  model with one coefficient per term replicates about 0, a category-specific effect in the
  data does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["PPP_BOUNDS", "binary_columns", "group_spread_rows", "mid_p", "ppc_table",
           "prior_predictive_table", "proportional_odds_rows", "size_groups"]

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


def mid_p(t_rep: np.ndarray, t_obs: float) -> float:
    """Posterior predictive p-value with ties split: ``P(T_rep > T) + P(T_rep = T) / 2``."""
    return float((t_rep > t_obs).mean() + 0.5 * (t_rep == t_obs).mean())


def _row(check: str, group: str, statistic: str, t_obs: float, t_rep: np.ndarray) -> dict:
    """One check: the observed statistic beside its replications and the mid-p value."""
    return {"check": check, "group": group, "statistic": statistic, "observed": t_obs,
            "replicated_mean": float(t_rep.mean()),
            "replicated_q05": float(np.quantile(t_rep, 0.05)),
            "replicated_q95": float(np.quantile(t_rep, 0.95)), "ppp": mid_p(t_rep, t_obs)}


def _rows(obs: np.ndarray, rep: np.ndarray, stats: dict, where: str,
          check: str = "shares") -> list[dict]:
    return [_row(check, where, name, float(fn(obs[None, :])[0]), fn(rep))
            for name, fn in stats.items()]


def ppc_table(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
              group: str = "posterior_predictive", max_draws: int = 1000,
              seed: int = 0) -> pd.DataFrame:
    """Observed vs replicated statistics: every check of the module docstring."""
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
    if not family.uses_items:
        for name, mask in binary_columns(data).items():
            if 5 <= mask.sum() <= len(mask) - 5:
                rows += _rows(obs[mask], rep[:, mask], stats, name, "by covariate")
        if family.ordinal:
            rows += proportional_odds_rows(np.asarray(data.y), rep, spec, data)
        rows += group_spread_rows(tree, spec, data, seed=seed)
    table = pd.DataFrame(rows)
    table.insert(0, "model", spec.name)
    lo, hi = PPP_BOUNDS
    table["verdict"] = np.where((table["ppp"] < lo) | (table["ppp"] > hi), "misfit", "ok")
    return table


def binary_columns(data: ModelData) -> dict[str, np.ndarray]:
    """``{"female=1": mask}`` for every 0/1 column of the design (categorical dummies too)."""
    out = {}
    for j, name in enumerate(data.term_names):
        x = data.X[:, j]
        if np.isin(x, (0.0, 1.0)).all() and 0 < x.sum() < len(x):
            out[f"{name}=1"] = x == 1.0
    return out


def proportional_odds_rows(obs: np.ndarray, rep: np.ndarray, spec: ModelSpec,
                           data: ModelData) -> list[dict]:
    """Log odds ratio at the top cut minus at the bottom cut, per 0/1 covariate and per
    focal level vs the reference (``check = proportional odds``)."""
    n_cat = len(data.categories)
    if n_cat < 3:
        return []
    contrasts = dict(binary_columns(data))
    if spec.focal and spec.reference is not None:
        labels = list(data.level_labels[spec.focal])
        idx = data.level_idx[spec.focal]
        ref = idx == labels.index(spec.reference)
        for k, lab in enumerate(labels):
            if lab != spec.reference:
                contrasts[f"{spec.focal}={lab} vs {spec.reference}"] = \
                    np.where(idx == k, 1.0, np.where(ref, 0.0, np.nan))

    def lor_gap(a: np.ndarray, x: np.ndarray) -> np.ndarray:  # (S, n) -> (S,)
        one, zero = x == 1.0, x == 0.0

        def logit_share(cut, m):  # P(y >= cut) with a half count each way (never 0 or 1)
            p = ((a[:, m] >= cut).sum(axis=1) + 0.5) / (m.sum() + 1.0)
            return np.log(p / (1 - p))
        lor = [logit_share(c, one) - logit_share(c, zero) for c in (1, n_cat - 1)]
        return lor[1] - lor[0]

    rows = []
    for name, x in contrasts.items():
        x = np.asarray(x, dtype=float)
        if min((x == 1).sum(), (x == 0).sum()) < 10:
            continue
        rows.append(_row("proportional odds", name, "log OR top cut - log OR bottom cut",
                         float(lor_gap(obs[None, :], x)[0]), lor_gap(rep, x)))
    return rows


def group_spread_rows(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                      max_draws: int = 400, min_rows: int = 3, seed: int = 0) -> list[dict]:
    """SD of the group means at the lowest random level, observed vs replicated with *new*
    group effects drawn from the fitted SDs (``check = between-group spread``), overall and
    per focal level. Groups with fewer than ``min_rows`` analysed rows are left out; models
    with varying slopes, or whose family draws no replications, are skipped."""
    from diagnostics.effects import focal_part, posterior_draws
    from models.build import slope_columns

    levels = spec.random_levels
    if not levels or any(slope_columns(spec, data, lv) for lv in levels):
        return []
    family = spec.family_impl
    draws = posterior_draws(tree, max_draws=max_draws, seed=seed)
    rng = np.random.default_rng([seed, 5])
    eta = data.X @ draws("beta").T if data.X.shape[1] else np.zeros((data.n, 1))
    eta = np.broadcast_to(eta, (data.n, len(draws("sd_" + spec.level_key(levels[0]))))).copy()
    focal, draws = focal_part(spec, data, draws, np.arange(data.n))
    eta += focal
    for lv in levels:  # new effects for every group of every random level
        sd = draws(f"sd_{spec.level_key(lv)}")  # (S,), or (S, focal levels): by focal
        sd = sd[:, data.parent_idx[lv]].T if spec.sd_by_focal else sd[None, :]
        u = rng.standard_normal((len(data.level_labels[lv]), sd.shape[1])) * sd
        eta += u[data.level_idx[lv]]
    rep = family.draw(eta, draws, rng, data)
    if rep is None:  # the family draws no replications outside PyMC
        return []
    obs, rep = family.ppc_arrays(np.asarray(data.y, dtype=float), rep.astype(float), data)
    lowest = levels[0]
    idx = data.level_idx[lowest]
    sets = {"all": np.ones(data.n, bool)}
    if spec.focal:
        labels = np.asarray(data.level_labels[spec.focal])[data.level_idx[spec.focal]]
        sets |= {f"{spec.focal}={g}": labels == g for g in data.level_labels[spec.focal]}
    rows = []
    for where, mask in sets.items():
        groups, inverse, counts = np.unique(idx[mask], return_inverse=True, return_counts=True)
        keep = counts >= min_rows
        if keep.sum() < 3:
            continue

        def spread(a, inv=inverse, cnt=counts, k=keep, m=mask):  # (S, n) -> (S,)
            sums = np.zeros((a.shape[0], len(cnt)))
            np.add.at(sums.T, inv, a[:, m].T)
            return (sums / cnt)[:, k].std(axis=1)
        rows.append(_row("between-group spread", where,
                         f"sd of {lowest} means (new {lowest} effects; {int(keep.sum())} "
                         f"with >= {min_rows} rows)", float(spread(obs[None, :])[0]),
                         spread(rep)))
    return rows


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
