"""Build a PyMC model from a :class:`~models.spec.ModelSpec` and :class:`~models.design.ModelData`.

Written by hand rather than through Bambi because (i) the focal level must be identified
beside free thresholds (zero-sum effects; a plain random intercept there trades off with the
thresholds and samples poorly, see docs/sampler-measurements.md), and (ii) every data array
and prior hyperparameter is a ``pm.Data`` so one compiled model serves many refits (new data,
new priors, simulation-based calibration) without recompiling.

Everything that differs between response families (intercept or thresholds, residual sd,
the graded family's row-level latent, the likelihood, prior scaling) is owned by the family
object, :attr:`ModelSpec.family_impl <models.spec.ModelSpec.family_impl>`
(:mod:`models.families`); this module builds the linear predictor they share.
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
    p = spec.family_impl.scale_priors(spec.prior, data)  # e.g. Gaussian: x sd(y)
    p["beta_nu"] = max(p["beta_nu"], 1.0)  # only used when heavy tails are on
    return {f"prior_{k}": float(v) for k, v in p.items()}


def data_updates(spec: ModelSpec, data: ModelData) -> dict[str, np.ndarray]:
    """Values of every ``pm.Data`` in the model, for ``set_data`` / nutpie ``with_data``."""
    out = {"X": data.X, "y_obs": data.y}
    for lv in spec.levels:
        out[f"idx_{lv}"] = data.level_idx[lv]
    return out | {k: np.asarray(v) for k, v in _prior_values(spec, data).items()}


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
    family = spec.family_impl
    coords |= family.coords(spec, data.categories)  # items, thresholds
    values = data_updates(spec, data)
    with pm.Model(coords=coords) as model:
        pd_ = {k: pm.Data(k, v) for k, v in values.items() if k.startswith("prior_")}
        X = pm.Data("X", data.X, dims=("obs", "term"))
        y_obs = pm.Data("y_obs", data.y, dims=family.obs_dims)
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

        # intercept or thresholds, sigma / row-level latent, then the observed y
        family.likelihood(eta, y_obs=y_obs, priors=pd_, spec=spec, data=data)
    return model
