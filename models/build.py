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

__all__ = ["build_model", "centred_on_parent", "contrast_labels", "data_updates",
           "is_structural", "model_coords", "slope_columns"]


def is_structural(name: str) -> bool:
    """Whether a model variable is hierarchical structure, not a prior choice or estimand.

    The group effects ``z_*`` of every random level (standard-normal offsets when
    non-centred), the packed Cholesky factor ``chol_*`` of varying slopes (summarised by
    ``sd_*`` and ``corr_*``), the zero-sum ``*_raw`` focal offsets and the per-level
    ``*_effect`` (summarised by ``*_contrast`` instead).
    """
    return name.startswith(("z_", "chol_")) or name.endswith(("_raw", "_effect"))


def slope_columns(spec: ModelSpec, data: ModelData, level: str) -> list[int]:
    """Columns of ``data.X`` whose coefficients vary by ``level`` (varying slopes)."""
    terms = spec.slope_terms(level)
    return [j for j, name in enumerate(data.term_names)
            if any(name == t or name.startswith(f"{t}[") for t in terms)]


def model_coords(spec: ModelSpec, data: ModelData) -> dict[str, list]:
    """Every coordinate of the model of ``spec`` on ``data`` (dims of levels by
    :meth:`~models.spec.ModelSpec.level_key`)."""
    coords = {"term": list(data.term_names), "obs": np.arange(data.n)}
    for lv in spec.levels:
        key = spec.level_key(lv)
        coords[key] = list(data.level_labels[lv])
        cols = slope_columns(spec, data, lv)
        if cols:
            names = ["Intercept", *(data.term_names[j] for j in cols)]
            coords[f"coef_{key}"] = names
            coords[f"pair_{key}"] = [f"{a}, {b}" for i, a in enumerate(names)
                                     for b in names[i + 1:]]
    if spec.focal and spec.variant != "none":
        coords["contrast"] = list(contrast_labels(spec, data))
    return coords | spec.family_impl.coords(spec, data.categories)  # items, thresholds


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
    if data.trials is not None:
        out["trials"] = data.trials
    for lv in spec.levels:
        out[f"idx_{spec.level_key(lv)}"] = data.level_idx[lv]
    for lv in centred_on_parent(spec, data):
        out[f"parent_{spec.level_key(lv)}"] = data.parent_idx[lv]
    if spec.sd_by_focal:
        lv = spec.random_levels[0]
        out[f"focal_of_{spec.level_key(lv)}"] = data.parent_idx[lv]
    return out | {k: np.asarray(v) for k, v in _prior_values(spec, data).items()}


def build_model(spec: ModelSpec, data: ModelData) -> pm.Model:
    """The PyMC model of ``spec`` on ``data``.

    Latent predictor for row i::

        eta_i = [intercept] + X_i beta + focal_effect[form_i] + sum_l sd_l z_l[group_l(i)]

    with ``P(y_i <= k) = expit(threshold_k - eta_i)`` (cumulative), ``y_i ~ Bernoulli(
    expit(eta_i))``, ``y_i ~ Normal(eta_i, sigma)``, or (graded) per item j
    ``P(y_ij <= k) = expit(threshold_jk - eta_i - sd_tenant e_i)`` with ``e_i ~ N(0, 1)``.
    """
    coords = model_coords(spec, data)
    family = spec.family_impl
    values = data_updates(spec, data)
    with pm.Model(coords=coords) as model:
        pd_ = {k: pm.Data(k, v) for k, v in values.items() if k.startswith("prior_")}
        X = pm.Data("X", data.X, dims=("obs", "term"))
        y_obs = pm.Data("y_obs", data.y, dims=family.obs_dims)
        key = {lv: spec.level_key(lv) for lv in spec.levels}  # names inside the model
        idx = {lv: pm.Data(f"idx_{key[lv]}", data.level_idx[lv], dims="obs")
               for lv in spec.levels}

        if not data.term_names:  # intercept-only: no zero-length coefficient vector
            eta = pt.zeros(X.shape[0])
        elif spec.prior["beta_nu"] > 0:
            beta = pm.StudentT("beta", nu=pd_["prior_beta_nu"], mu=0.0,
                               sigma=pd_["prior_beta_sd"], dims="term")
            eta = pt.dot(X, beta)
        else:
            beta = pm.Normal("beta", 0.0, pd_["prior_beta_sd"], dims="term")
            eta = pt.dot(X, beta)  # (n_obs,) <- (n_obs, n_term) @ (n_term,)

        eta = eta + _random_levels(spec, data, key, X, idx, pd_)

        if spec.focal and spec.variant != "none":
            ref = data.level_labels[spec.focal].index(spec.reference)
            k = len(data.level_labels[spec.focal])
            shift = None
            if spec.focal_by_category:  # effects per threshold: the cut points move by row
                f = key[spec.focal]
                sd_f = pm.HalfNormal(f"sd_{f}", pd_["prior_focal_sd_scale"])
                # zero-sum over the forms (ZeroSumNormal sums its *last* axes to zero)
                raw = pm.ZeroSumNormal(f"{f}_raw", sigma=1.0, dims=("threshold", f))
                effect = pm.Deterministic(f"{f}_effect", sd_f * raw.T, dims=(f, "threshold"))
                others = np.array([j for j in range(k) if j != ref])
                pm.Deterministic(f"{f}_contrast", effect[others] - effect[ref],
                                 dims=("contrast", "threshold"))
                shift = effect[idx[spec.focal]]  # (n_obs, n_threshold)
            elif spec.variant == "hierarchical":
                f = key[spec.focal]
                sd_f = pm.HalfNormal(f"sd_{f}", pd_["prior_focal_sd_scale"])
                if spec.focal_centered:
                    effect = pm.ZeroSumNormal(f"{f}_effect", sigma=sd_f, dims=f)
                else:  # non-centred: for small effects the centred form funnels
                    raw = pm.ZeroSumNormal(f"{f}_raw", sigma=1.0, dims=f)
                    effect = pm.Deterministic(f"{f}_effect", sd_f * raw, dims=f)
                others = np.array([j for j in range(k) if j != ref])
                pm.Deterministic(f"{f}_contrast", effect[others] - effect[ref],
                                 dims="contrast")
            else:
                contrast = pm.Normal(f"{key[spec.focal]}_contrast", 0.0,
                                     pd_["prior_fixed_focal_sd"], dims="contrast")
                effect = pt.concatenate([contrast[:ref], pt.zeros(1), contrast[ref:]])
            if shift is None:
                eta = eta + effect[idx[spec.focal]]  # (n_obs,) <- (n_form,)[idx]

        # intercept or thresholds, sigma / row-level latent, then the observed y
        if spec.focal_by_category:
            family.likelihood(eta, y_obs=y_obs, priors=pd_, spec=spec, data=data,
                              cut_shift=shift)
        else:
            family.likelihood(eta, y_obs=y_obs, priors=pd_, spec=spec, data=data)
    return model


def centred_on_parent(spec: ModelSpec, data: ModelData) -> dict[str, str]:
    """Random levels centred on their parent's effect (see :func:`_random_levels`):
    ``{level: parent}`` for a centred level nested in a random level, neither with slopes."""
    levels = spec.random_levels
    if not spec.nested:
        return {}
    return {lv: parent for lv, parent in zip(levels[:-1], levels[1:], strict=True)
            if data.centered(lv) and lv in data.parent_idx
            and not slope_columns(spec, data, lv) and not slope_columns(spec, data, parent)}


def _random_levels(spec: ModelSpec, data: ModelData, key: dict, X, idx: dict, pd_: dict):
    """The random levels' part of ``eta``, (n_obs,).

    Built from the highest random level down. A level is non-centred
    (``u = sd * z``, ``z ~ N(0, 1)``) or centred (``u ~ N(mu, sd)``) as
    ``data.parametrisation`` says. A centred level nested in a random parent is centred on
    its parent's effect (*hierarchical centring*, Gelfand, Sahu & Carlin 1995): ``u_cask ~
    N(u_batch[parent], sd_cask)`` and ``eta`` takes ``u_cask`` alone -- otherwise a cask's
    and its batch's effects trade off and the parent's SD mixes slowly. Levels with varying
    slopes are neither parents nor children of this.
    """
    import pymc as pm

    levels = spec.random_levels
    on_parent = centred_on_parent(spec, data)
    u, out = {}, 0.0
    for lv in reversed(levels):
        cols = slope_columns(spec, data, lv)
        if cols:
            out = out + _varying_slopes(key[lv], cols, X, idx[lv], pd_)
            continue
        if spec.sd_by_focal:  # one SD per focal level: each group's is its focal level's
            sd_f = pm.HalfNormal(f"sd_{key[lv]}", pd_["prior_group_sd_scale"],
                                 dims=key[spec.focal])
            sd = sd_f[pm.Data(f"focal_of_{key[lv]}", data.parent_idx[lv], dims=key[lv])]
        else:
            sd = pm.HalfNormal(f"sd_{key[lv]}", pd_["prior_group_sd_scale"])
        if data.centered(lv):  # groups the data pin down: centred mixes better
            mu = 0.0
            if lv in on_parent:
                parent_of = pm.Data(f"parent_{key[lv]}", data.parent_idx[lv], dims=key[lv])
                mu = u[on_parent[lv]][parent_of]
            u[lv] = pm.Normal(f"z_{key[lv]}", mu, sd, dims=key[lv])
        else:  # groups with little data each: non-centred
            u[lv] = sd * pm.Normal(f"z_{key[lv]}", 0.0, 1.0, dims=key[lv])
    absorbed = set(on_parent.values())
    for lv, effect in u.items():
        if lv not in absorbed:
            out = out + effect[idx[lv]]  # (n_obs,) <- (n_group,)[idx]
    return out


def _varying_slopes(key: str, cols: list[int], X, idx, pd_: dict):
    """Correlated group intercepts and slopes of one level: its part of ``eta``, (n_obs,).

    ``u_g ~ MvNormal(0, Sigma)`` over (intercept, slopes...) with ``Sigma = diag(sd) R
    diag(sd)``, ``sd_k ~ HalfNormal(group_sd_scale)``, ``R ~ LKJ(lkj_eta)``, always
    non-centred: ``u = z L^T`` with ``z ~ N(0, 1)`` (a centred ``MvNormal`` needs a
    triangular solve per gradient, and this PyTensor build links no BLAS for it). Reported:
    ``sd_<level>`` per coefficient and ``corr_<level>`` per pair.
    """
    import pymc as pm

    k = len(cols) + 1
    sd_dist = pm.HalfNormal.dist(pd_["prior_group_sd_scale"], shape=k)
    chol, corr, sds = pm.LKJCholeskyCov(f"chol_{key}", n=k, eta=pd_["prior_lkj_eta"],
                                        sd_dist=sd_dist, compute_corr=True,
                                        store_in_trace=False)
    pm.Deterministic(f"sd_{key}", sds, dims=f"coef_{key}")
    upper = np.triu_indices(k, 1)
    pm.Deterministic(f"corr_{key}", corr[upper], dims=f"pair_{key}")
    z = pm.Normal(f"z_{key}", 0.0, 1.0, dims=(key, f"coef_{key}"))
    u = pt.dot(z, chol.T)  # (n_group, k)
    u_row = u[idx]  # (n_obs, k)
    return u_row[:, 0] + (u_row[:, 1:] * X[:, cols]).sum(axis=1)
