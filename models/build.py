"""Build a PyMC model from a :class:`~models.spec.ModelSpec` and :class:`~models.design.ModelData`.

Written by hand rather than through Bambi because (i) the focal level must be identified
beside free thresholds (zero-sum effects; a plain random intercept there trades off with the
thresholds and samples poorly, see docs/sampler-measurements.md), and (ii) every data array and prior
hyperparameter is a ``pm.Data`` so one compiled model serves many refits (new data, new
priors, simulation-based calibration) without recompiling.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["build_model", "contrast_labels", "data_updates", "is_structural"]


def is_structural(name: str) -> bool:
    """Whether a model variable is hierarchical structure, not a prior choice or estimand.

    The standard-normal offsets ``z_*`` of the non-centred levels, the zero-sum ``*_raw``
    focal offsets and the per-level ``*_effect`` (summarised by ``*_contrast`` instead).
    """
    return name.startswith("z_") or name.endswith(("_raw", "_effect"))


def contrast_labels(spec: ModelSpec, data: ModelData) -> tuple[str, ...]:
    """Labels ``"RB - HZ"`` of the focal contrasts vs the reference, in level order."""
    if not spec.focal:
        return ()
    labels = data.level_labels[spec.focal]
    return tuple(f"{lab} - {spec.reference}" for lab in labels if lab != spec.reference)


def _prior_values(spec: ModelSpec, data: ModelData) -> dict[str, float]:
    p = spec.prior
    if spec.family == "gaussian":  # Bambi-style auto-scaling by the response sd
        s = data.y_sd
        p = p | {k: p[k] * s for k in ("beta_sd", "intercept_sd", "focal_sd_scale",
                                       "fixed_focal_sd", "group_sd_scale", "sigma_scale")}
        p["intercept_mu"] = data.y_mean
    else:
        p["intercept_mu"] = 0.0
    p["beta_nu"] = max(p["beta_nu"], 1.0)  # only used when heavy tails are on
    return {f"prior_{k}": float(v) for k, v in p.items()}


def data_updates(spec: ModelSpec, data: ModelData) -> dict[str, np.ndarray]:
    """Values of every ``pm.Data`` in the model, for ``set_data`` / nutpie ``with_data``."""
    out = {"X": data.X, "y_obs": data.y}
    for lv in spec.levels:
        out[f"idx_{lv}"] = data.level_idx[lv]
    return out | {k: np.asarray(v) for k, v in _prior_values(spec, data).items()}


def _thresholds(sd, n_cut: int, *, n_items: int | None = None):
    """Ordered cut points as the first one plus positive gaps (a *generative* prior).

    ``threshold_first ~ Normal(0, sd)``, ``threshold_gaps ~ HalfNormal(sd)``, ``thresholds``
    = first + cumulative gaps (per item for the graded family). Forward sampling (prior
    predictive checks, simulation-based calibration) draws from exactly the prior the fit
    uses. The earlier ``Normal(linspace(-1, 1), sd)`` with an ordered *transform* did not:
    PyMC's forward sampling ignores transforms, so about a third of prior draws had unordered
    cut points that the fitted model cannot represent -- SBC of the contact model flagged
    ``thresholds[1|2]`` (90% coverage 0.64 at 200 simulations).
    """
    if n_items is None:
        first = pm.Normal("threshold_first", 0.0, sd)
        if n_cut == 1:
            return pm.Deterministic("thresholds", first[None], dims="threshold")
        gaps = pm.HalfNormal("threshold_gaps", sd, shape=n_cut - 1)
        cuts = pt.concatenate([first[None], first + pt.cumsum(gaps)])
        return pm.Deterministic("thresholds", cuts, dims="threshold")
    first = pm.Normal("threshold_first", 0.0, sd, dims="item")
    if n_cut == 1:
        return pm.Deterministic("thresholds", first[:, None], dims=("item", "threshold"))
    gaps = pm.HalfNormal("threshold_gaps", sd, shape=(n_items, n_cut - 1))
    cuts = pt.concatenate([first[:, None], first[:, None] + pt.cumsum(gaps, axis=1)], axis=1)
    return pm.Deterministic("thresholds", cuts, dims=("item", "threshold"))


def build_model(spec: ModelSpec, data: ModelData) -> pm.Model:
    """The PyMC model of ``spec`` on ``data``.

    Latent predictor for row i::

        eta_i = [intercept] + X_i beta + focal_effect[form_i] + sum_l sd_l z_l[group_l(i)]

    with ``P(y_i <= k) = expit(threshold_k - eta_i)`` (cumulative), ``y_i ~ Bernoulli(
    expit(eta_i))``, ``y_i ~ Normal(eta_i, sigma)``, or (graded) per item j
    ``P(y_ij <= k) = expit(threshold_jk - eta_i - sd_tenant e_i)`` with ``e_i ~ N(0, 1)``.
    """
    coords = {"term": list(data.term_names), "obs": np.arange(data.n)}
    for lv in spec.levels:
        coords[lv] = list(data.level_labels[lv])
    contrasts = contrast_labels(spec, data)
    if spec.focal and spec.variant != "none":
        coords["contrast"] = list(contrasts)
    if spec.family == "graded":
        coords["item"] = list(spec.items)
    if spec.family in ("cumulative", "graded"):
        coords["threshold"] = [f"{a}|{b}" for a, b in zip(data.categories[:-1],
                                                          data.categories[1:], strict=True)]
    values = data_updates(spec, data)
    with pm.Model(coords=coords) as model:
        pd_ = {k: pm.Data(k, v) for k, v in values.items() if k.startswith("prior_")}
        X = pm.Data("X", data.X, dims=("obs", "term"))
        y_dims = ("obs", "item") if spec.family == "graded" else "obs"
        y_obs = pm.Data("y_obs", data.y, dims=y_dims)
        idx = {lv: pm.Data(f"idx_{lv}", data.level_idx[lv], dims="obs") for lv in spec.levels}

        if spec.prior["beta_nu"] > 0:
            beta = pm.StudentT("beta", nu=pd_["prior_beta_nu"], mu=0.0,
                               sigma=pd_["prior_beta_sd"], dims="term")
        else:
            beta = pm.Normal("beta", 0.0, pd_["prior_beta_sd"], dims="term")
        eta = pt.dot(X, beta)  # (n_obs,) <- (n_obs, n_term) @ (n_term,)

        for lv in spec.random_levels:
            sd = pm.HalfNormal(f"sd_{lv}", pd_["prior_group_sd_scale"])
            z = pm.Normal(f"z_{lv}", 0.0, 1.0, dims=lv)  # non-centred
            eta = eta + (sd * z)[idx[lv]]  # (n_obs,) <- (n_level,)[idx]

        if spec.focal and spec.variant != "none":
            ref = data.level_labels[spec.focal].index(spec.reference)
            k = len(data.level_labels[spec.focal])
            if spec.variant == "hierarchical":
                sd_f = pm.HalfNormal(f"sd_{spec.focal}", pd_["prior_focal_sd_scale"])
                if spec.focal_centered:
                    effect = pm.ZeroSumNormal(f"{spec.focal}_effect", sigma=sd_f,
                                              dims=spec.focal)
                else:  # non-centred: for small effects the centred form funnels
                    raw = pm.ZeroSumNormal(f"{spec.focal}_raw", sigma=1.0, dims=spec.focal)
                    effect = pm.Deterministic(f"{spec.focal}_effect", sd_f * raw,
                                              dims=spec.focal)
                others = np.array([j for j in range(k) if j != ref])
                pm.Deterministic(f"{spec.focal}_contrast", effect[others] - effect[ref],
                                 dims="contrast")
            else:
                contrast = pm.Normal(f"{spec.focal}_contrast", 0.0, pd_["prior_fixed_focal_sd"],
                                     dims="contrast")
                effect = pt.concatenate([contrast[:ref], pt.zeros(1), contrast[ref:]])
            eta = eta + effect[idx[spec.focal]]  # (n_obs,) <- (n_form,)[idx]

        if spec.family == "graded":
            # a latent trait per row, measured by the items with item-specific thresholds
            sd_t = pm.HalfNormal("sd_tenant", pd_["prior_tenant_sd_scale"])
            e = pm.Normal("z_tenant", 0.0, 1.0, dims="obs")
            theta = eta + sd_t * e  # (n_obs,)
            n_items = len(spec.items)
            thresholds = _thresholds(pd_["prior_threshold_sd"], len(data.categories) - 1,
                                     n_items=n_items)
            # (n_obs, n_item) latent, one row of thresholds per item
            pm.OrderedLogistic("y", eta=pt.repeat(theta[:, None], n_items, axis=1),
                               cutpoints=thresholds, observed=y_obs, compute_p=False,
                               dims=("obs", "item"))
        elif spec.family == "cumulative":
            thresholds = _thresholds(pd_["prior_threshold_sd"], len(data.categories) - 1)
            pm.OrderedLogistic("y", eta=eta, cutpoints=thresholds, observed=y_obs,
                               compute_p=False, dims="obs")
        elif spec.family == "bernoulli":
            intercept = pm.Normal("intercept", pd_["prior_intercept_mu"],
                                  pd_["prior_intercept_sd"])
            pm.Bernoulli("y", logit_p=intercept + eta, observed=y_obs, dims="obs")
        else:
            intercept = pm.Normal("intercept", pd_["prior_intercept_mu"],
                                  pd_["prior_intercept_sd"])
            sigma = pm.HalfNormal("sigma", pd_["prior_sigma_scale"])
            pm.Normal("y", mu=intercept + eta, sigma=sigma, observed=y_obs, dims="obs")
    return model
