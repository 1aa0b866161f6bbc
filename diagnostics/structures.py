"""The focal level's effect structure, compared by evidence without refitting.

The default model pools the focal levels' effects (``hierarchical``: zero-sum, ``e ~
ZeroSumNormal(sd)``, ``sd ~ HalfNormal``). Two other structures answer the same question:

* ``fixed``: each level's contrast with the reference has its own ``Normal(0, s)`` prior,
  nothing pooled;
* ``<columns> + residual``: the levels' describing columns (the study's
  ``focal_predictors``, e.g. ``clustered``) as coefficients with the terms' prior, plus
  pooled residual level effects -- two groups of levels, not seven exchangeable ones.

All three have the same likelihood as a function of the levels' means (intercept, or
thresholds, plus each level's effect); they differ only in the *prior* of those means. A
structure's posterior is therefore the fitted one reweighted by the ratio of the two priors
of the means, ``w = p_B(a, e) / p_A(a, e)`` with ``a`` the grand mean (intercept, or minus
the first threshold) and ``e`` the level effects; the pooled SDs are integrated out of each
prior by quadrature (Gaussian given the SD: exactly). The weights are Pareto-smoothed and
their ``k`` says whether the reweighting can be trusted (``k <= 0.7``; Vehtari et al. 2024,
the machinery of PSIS-LOO and of power-scaling sensitivity). Where it can, the structures
are compared by leave-one-complex-out (PSIS-LOGO with the structure's weights times each
complex's), and every conclusion is judged again on the reweighted draws: a conclusion that
changes its verdict between structures depends on the structure, and the report says so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp
from scipy.stats import norm

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["PARETO_K_OK", "StructureWeights", "level_values", "pareto_k_threshold",
           "reweighted_tree",
           "structure_comparison", "structure_logo", "structure_weights"]

PARETO_K_OK = 0.7  # the smoothed weights are trusted up to this k (as PSIS-LOO's)
_SD_NODES = 200  # Gauss-Legendre nodes over the HalfNormal's probability scale


def pareto_k_threshold(draws: int) -> float:
    """The largest Pareto k at which ``draws`` importance-weighted draws still estimate
    well: ``min(1 - 1 / log10(S), 0.7)`` (Vehtari et al. 2024; 0.67 at 1,000 draws)."""
    return float(min(1.0 - 1.0 / np.log10(max(draws, 11)), PARETO_K_OK))


def _half_normal_nodes(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``sigma`` and log weights integrating over ``HalfNormal(scale)``: midpoints of
    its probability scale mapped through the quantile function."""
    u, w = np.polynomial.legendre.leggauss(_SD_NODES)
    u = (u + 1) / 2  # (0, 1)
    return scale * norm.ppf((1 + u) / 2), np.log(w / 2)


def _zero_sum_basis(k: int) -> np.ndarray:
    """An orthonormal basis ``(k, k - 1)`` of the vectors summing to zero."""
    q, _ = np.linalg.qr(np.eye(k) - 1.0 / k)
    return q[:, :k - 1]


def _mixture_logpdf(x: np.ndarray, mean: np.ndarray, covariance, sd_scale: float) -> np.ndarray:
    """``log  integral N(x; mean, covariance(sigma)) HalfNormal(sigma; sd_scale) d sigma``
    per row of ``x`` ``(S, d)``."""
    sig, log_w = _half_normal_nodes(sd_scale)
    out = np.empty((len(sig), len(x)))
    d = x - mean
    for i, s in enumerate(sig):
        cov = covariance(s)
        chol = np.linalg.cholesky(cov)
        sol = np.linalg.solve(chol, d.T)  # (d, S)
        out[i] = (-0.5 * (sol**2).sum(axis=0) - np.log(np.diag(chol)).sum()
                  - 0.5 * x.shape[1] * np.log(2 * np.pi))
    return logsumexp(out + log_w[:, None], axis=0)


class StructureWeights:
    """Log importance weights from the fitted hierarchical structure to the others.

    ``level`` ``(S,)`` the grand mean per draw, ``effects`` ``(S, K)`` the zero-sum level
    effects; ``priors`` the fit's prior values (``models.build._prior_values``);
    ``predictors`` ``{name: (K,) values per level}`` of the describing columns (as coded in
    the design). :meth:`log_weights` gives ``{structure: (S,)}``."""

    def __init__(self, level: np.ndarray, effects: np.ndarray, *, reference: int,
                 level_prior: tuple[float, float], priors: dict[str, float],
                 predictors: dict[str, np.ndarray] | None = None) -> None:
        self.level, self.effects, self.reference = level, effects, reference
        self.mu, self.s_level = level_prior
        self.priors = priors
        self.predictors = predictors or {}
        self.k = effects.shape[1]
        self.q = _zero_sum_basis(self.k)
        self.z = effects @ self.q  # (S, K-1) coordinates in the zero-sum subspace

    def _hierarchical(self) -> np.ndarray:
        k1 = self.k - 1
        return (norm.logpdf(self.level, self.mu, self.s_level)
                + _mixture_logpdf(self.z, np.zeros(k1), lambda s: s**2 * np.eye(k1),
                                  self.priors["prior_focal_sd_scale"]))

    def _fixed(self) -> np.ndarray:
        e_ref = self.effects[:, self.reference]
        others = np.delete(self.effects, self.reference, axis=1) - e_ref[:, None]
        return (norm.logpdf(self.level + e_ref, self.mu, self.s_level)
                + norm.logpdf(others, 0.0, self.priors["prior_fixed_focal_sd"]).sum(axis=1))

    def predictor_moments(self, x: np.ndarray):
        """``(mean, covariance(sigma))`` of ``(a, z)`` under the describing columns ``x``
        ``(K, p)`` plus pooled residual effects: jointly Gaussian given the residual SD
        ``sigma`` -- the coefficients (prior ``beta_sd``) move the grand mean by ``beta .
        mean(x)`` and the levels by ``beta . (x - mean(x))``."""
        sb = self.priors["prior_beta_sd"]
        x = np.asarray(x, float).reshape(self.k, -1)
        xbar = x.mean(axis=0)  # (p,)
        u = self.q.T @ (x - xbar)  # (K-1, p)
        k1 = self.k - 1
        top = np.concatenate([[self.s_level**2 + sb**2 * xbar @ xbar], sb**2 * (u @ xbar)])
        ab = sb**2 * (u @ u.T)

        def covariance(s: float) -> np.ndarray:
            cov = np.empty((k1 + 1, k1 + 1))
            cov[0] = top
            cov[:, 0] = top
            cov[1:, 1:] = ab + s**2 * np.eye(k1)
            return cov

        return np.concatenate([[self.mu], np.zeros(k1)]), covariance

    def _with_predictors(self, x: np.ndarray) -> np.ndarray:
        mean, covariance = self.predictor_moments(x)
        return _mixture_logpdf(np.column_stack([self.level, self.z]), mean, covariance,
                               self.priors["prior_focal_sd_scale"])

    def log_weights(self) -> dict[str, np.ndarray]:
        base = self._hierarchical()
        out = {"fixed": self._fixed() - base}
        if self.predictors:
            label = " + ".join(self.predictors) + " + residual"
            out[label] = self._with_predictors(np.column_stack(list(self.predictors.values()))
                                               ) - base
        return out


def _focal_variable(post: xr.Dataset, spec: ModelSpec) -> str | None:
    for v in post.data_vars:
        if str(v).endswith("_effect") and spec.focal in post[v].dims:
            return str(v)
    return None


def structure_weights(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                      predictors: dict[str, np.ndarray] | None = None,
                      draws=None) -> tuple[dict[str, np.ndarray], str | None]:
    """``({structure: log weights (S,)}, None)`` over the draws of a hierarchical fit (all
    of them, or those of the ``draws`` accessor), or ``({}, why not)``."""
    from models.build import _prior_values

    family = spec.family_impl
    if spec.variant != "hierarchical" or spec.focal_by_category or not spec.focal:
        return {}, "the fit's focal effects are not the pooled zero-sum structure"
    if getattr(family, "uses_items", False):
        return {}, "item-level model: its thresholds are per item"
    post = tree["posterior"]
    name = _focal_variable(post, spec)
    if name is None:
        return {}, "no focal effects in the fit"
    if draws is None:
        def draws(v):
            return post[v].stack(sample=("chain", "draw")).transpose("sample", ...).values
    priors = _prior_values(spec, data)
    if family.has_intercept and "intercept" in post:
        level = draws("intercept")
        level_prior = (priors["prior_intercept_mu"], priors["prior_intercept_sd"])
    elif "threshold_first" in post:  # thresholds: the grand mean is minus the first cut
        level = -draws("threshold_first")
        level_prior = (0.0, priors["prior_threshold_sd"])
    else:
        return {}, "neither an intercept nor a first threshold"
    labels = list(data.level_labels[spec.focal])
    effects = draws(name)
    w = StructureWeights(np.asarray(level, float).reshape(-1), effects,
                         reference=labels.index(spec.reference), level_prior=level_prior,
                         priors=priors, predictors=predictors)
    return w.log_weights(), None


def smoothed(log_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
    """Pareto-smoothed log weights normalised over the last axis, and their ``k`` (one per
    leading index; a float for one set of weights)."""
    from arviz_stats.base.array import array_stats

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        # arviz-stats takes log-likelihoods: the log ratios are their negatives
        lw, k = array_stats.psislw(-np.asarray(log_weights, float), r_eff=1.0, axis=-1)
    lw = np.asarray(lw)
    lw = lw - logsumexp(lw, axis=-1, keepdims=True)
    return lw, (float(k) if np.ndim(k) == 0 else np.asarray(k))


def reweighted_tree(tree: xr.DataTree, log_weights: np.ndarray, *, seed: int = 0
                    ) -> xr.DataTree:
    """The posterior resampled by the (smoothed) weights: as many draws, one chain
    (systematic resampling), for anything that reads draws."""
    from diagnostics.joint_checks import posterior_subset

    p = np.exp(log_weights - logsumexp(log_weights))
    n = len(p)
    u = (np.random.default_rng(seed).random() + np.arange(n)) / n
    return posterior_subset(tree, np.minimum(np.searchsorted(np.cumsum(p), u), n - 1))


def structure_logo(ll: np.ndarray, log_weights: dict[str, np.ndarray]) -> pd.DataFrame:
    """Leave-one-complex-out of each structure from one fit's draws: ``ll`` ``(S, G)`` each
    complex's log-likelihood (its effect integrated out). Per structure and complex the
    PSIS estimate with log ratios ``log w_s - ll_sg`` (``log w = 0`` for the fitted one):
    columns ``structure``, ``group``, ``elpd``, ``pareto_k``."""
    tables = []
    for label, lw in {"hierarchical": np.zeros(ll.shape[0]), **log_weights}.items():
        w, k = smoothed((lw[:, None] - ll).T)  # (G, S)
        tables.append(pd.DataFrame({"structure": label, "group": np.arange(ll.shape[1]),
                                    "elpd": logsumexp(w + ll.T, axis=1), "pareto_k": k}))
    return pd.concat(tables, ignore_index=True)


def level_values(frame: pd.DataFrame, spec: ModelSpec, data: ModelData,
                 columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each describing column's value per focal level (in ``data``'s level order), for the
    columns constant within every level; others are left out (not a level's feature)."""
    labels = list(data.level_labels[spec.focal])
    out = {}
    for col in columns:
        if col not in frame or spec.focal not in frame:
            continue
        by = frame.groupby(frame[spec.focal].astype(str))[col]
        if (by.nunique(dropna=True) > 1).any():
            continue
        values = by.first().reindex(labels)
        if values.notna().all() and values.nunique() > 1:
            out[col] = values.to_numpy(dtype=float)
    return out


def structure_comparison(fits, *, frame: pd.DataFrame, predictors: tuple[str, ...] = (),
                         seed: int = 0, group_lls: dict | None = None):
    """Every pooled fit (objects with ``spec``, ``data``, ``tree``) under the other focal
    structures by reweighting. Returns ``(table, reweighted)``: per model and structure the
    weights' Pareto ``k`` and ESS, leave-one-complex-out elpd and its paired difference
    from the fitted structure, and the largest shift of a focal contrast's posterior mean
    (in posterior SDs); ``reweighted`` maps ``structure -> {model: resampled tree}`` for
    the fits whose weights can be trusted (``k`` under :func:`pareto_k_threshold`). The
    draws are those of leave-one-group-out (:data:`diagnostics.crossval.LOGO_DRAWS`);
    ``group_lls``: the fits' :func:`diagnostics.crossval.group_log_densities` on them, if
    computed."""
    from diagnostics.crossval import (
        LOGO_DRAWS,
        group_log_density,
        paired_se,
        thinned_draws,
        unsupported_reason,
    )

    rows, reweighted = [], {}
    for r in fits:
        draws, post = thinned_draws(r.tree, max_draws=LOGO_DRAWS)
        xs = level_values(frame, r.spec, r.data, predictors) if r.spec.focal else {}
        weights, why = structure_weights(r.tree, r.spec, r.data, predictors=xs, draws=draws)
        if why:
            rows.append({"model": r.spec.name, "structure": "(not compared)", "note": why})
            continue
        logo = None
        if not unsupported_reason(r.spec):
            known = (group_lls or {}).get(r.spec.name)
            _, ll = known if known is not None else group_log_density(r.tree, r.spec, r.data,
                                                                      draws)
            logo = structure_logo(ll, weights)
        thin = xr.DataTree.from_dict({"posterior": post})
        name = _focal_variable(post, r.spec)
        eff = draws(name)
        ref = list(r.data.level_labels[r.spec.focal]).index(r.spec.reference)
        contrast = np.delete(eff, ref, axis=1) - eff[:, [ref]]  # (S, K-1)
        base_mean, base_sd = contrast.mean(axis=0), contrast.std(axis=0)
        k_ok = pareto_k_threshold(len(eff))
        for label, lw in {"hierarchical": np.zeros(len(eff)), **weights}.items():
            sm, k = smoothed(lw) if label != "hierarchical" else (lw - np.log(len(lw)), 0.0)
            p = np.exp(sm)
            shift = np.abs(p @ contrast - base_mean) / base_sd
            row = {"model": r.spec.name, "structure": label, "pareto_k": k,
                   "weight_ess": float(1.0 / (p**2).sum()), "draws": len(p),
                   "max_contrast_shift_sd": float(shift.max()), "trusted": bool(k <= k_ok),
                   "note": "" if k <= k_ok else
                   f"Pareto k > {k_ok:.2f}: the reweighting cannot be trusted; fit this "
                   "structure (run_models.py compare)"}
            if logo is not None:
                mine = logo[logo.structure == label]
                base = logo[logo.structure == "hierarchical"]
                diff = mine["elpd"].to_numpy() - base["elpd"].to_numpy()
                row |= {"elpd_logo": float(mine["elpd"].sum()),
                        "elpd_diff": float(diff.sum()),
                        "dse": paired_se(pd.Series(diff)) if label != "hierarchical" else 0.0,
                        "logo_pareto_k_bad": int((mine["pareto_k"] > PARETO_K_OK).sum())}
            rows.append(row)
            if label != "hierarchical" and k <= k_ok:
                reweighted.setdefault(label, {})[r.spec.name] = reweighted_tree(thin, sm, seed=seed)
    table = pd.DataFrame(rows)
    if "elpd_diff" in table:
        # preferred only where both the structure's weights and its leave-one-group-out
        # importance ratios can be trusted
        table["preferred"] = (table["structure"] != "hierarchical") & table["trusted"].fillna(
            False).astype(bool) & (table["logo_pareto_k_bad"] == 0) & (
            table["elpd_diff"] > 2 * table["dse"])
    return table, reweighted
