"""The focal-effect structures by reweighting (diagnostics/structures.py): the priors of the
levels' means each structure implies, checked against draws from the structures' own
generative priors; the reweighting, resampling and leave-one-complex-out arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import gaussian_kde, halfnorm, norm

from diagnostics.structures import (
    StructureWeights,
    _mixture_logpdf,
    _zero_sum_basis,
    reweighted_tree,
    smoothed,
    structure_logo,
)

PRIORS = {"prior_focal_sd_scale": 0.5, "prior_fixed_focal_sd": 1.5, "prior_beta_sd": 1.0}
K = 4  # levels (few, so that the densities can be checked by brute force)


def test_the_pooled_prior_integrates_its_sd_exactly():
    """``log int N(z; 0, s^2 I) HalfNormal(s) ds`` by the module's quadrature equals adaptive
    integration, for points near and far from 0."""
    for z in ([0.1, -0.2, 0.05], [1.5, 0.3, -2.0]):
        z = np.array(z)
        got = _mixture_logpdf(z[None], np.zeros(3), lambda s: s**2 * np.eye(3), 0.5)[0]
        want, _ = integrate.quad(
            lambda s, z=z: np.prod(norm.pdf(z, 0, s)) * halfnorm.pdf(s, scale=0.5), 0, 10,
            points=[0.05, 0.5, 1], limit=200)
        assert got == pytest.approx(np.log(want), abs=1e-4)


def _grand_mean_and_coordinates(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fitted structure's parameters of level means ``(S, K)``: grand mean ``a`` and
    zero-sum effects ``e``."""
    a = means.mean(axis=1)
    return a, means - a[:, None]


def _density_check(sample_means, log_density, n_check=6, seed=0):
    """A structure's density of (a, e) against a KDE of draws from its generative prior,
    in the K coordinates (a, z): the log densities agree up to a constant (the Jacobian of
    the linear map), so their differences between points must match."""
    a, e = _grand_mean_and_coordinates(sample_means)
    x = np.column_stack([a, e @ _zero_sum_basis(K)])
    kde = gaussian_kde(x.T)
    pick = np.random.default_rng(seed).choice(len(x), n_check, replace=False)
    # points near the bulk, where the KDE is accurate
    pts = x[pick] * 0.5 + x.mean(axis=0) * 0.5
    ours = log_density(pts)
    ref = np.log(kde(pts.T))
    return (ours - ours.mean()), (ref - ref.mean())


def _weights_at(points: np.ndarray, mu=0.0, s_level=1.0, predictors=None):
    """StructureWeights at points given as (a, z)."""
    q = _zero_sum_basis(K)
    e = points[:, 1:] @ q.T
    return StructureWeights(points[:, 0], e, reference=0, level_prior=(mu, s_level),
                            priors=PRIORS, predictors=predictors)


def test_the_fixed_structure_density_matches_its_generative_prior():
    """``fixed``: the reference's mean ~ N(mu, s_level), every other level's contrast with it
    ~ N(0, s_fixed) -- the density the weights use, against draws of exactly that."""
    rng = np.random.default_rng(1)
    n = 200_000
    alpha = rng.normal(0.3, 1.0, n)
    c = rng.normal(0, PRIORS["prior_fixed_focal_sd"], (n, K - 1))
    means = alpha[:, None] + np.column_stack([np.zeros(n), c])
    ours, ref = _density_check(means, lambda p: _weights_at(p, mu=0.3)._fixed())
    np.testing.assert_allclose(ours, ref, atol=0.15)


def test_the_predictor_structure_moments_match_its_generative_prior():
    """``clustered + residual``: level means ``alpha + beta x_f + r_f`` with ``r`` zero-sum
    normal at a given SD; the grand mean and zero-sum coordinates the weights use are
    Gaussian with the mean and covariance the module computes (sample moments of 400,000
    draws of exactly that)."""
    rng = np.random.default_rng(2)
    n = 400_000
    x = np.array([0.0, 1.0, 1.0, 0.0])
    sd = 0.4
    alpha = rng.normal(0.3, 1.0, n)
    beta = rng.normal(0.0, PRIORS["prior_beta_sd"], n)
    r = rng.normal(size=(n, K)) * sd
    r -= r.mean(axis=1, keepdims=True)  # zero-sum normal: N(0, sd^2) projected
    a, e = _grand_mean_and_coordinates(alpha[:, None] + beta[:, None] * x + r)
    pts = np.column_stack([a, e @ _zero_sum_basis(K)])
    mean, covariance = _weights_at(pts[:10], mu=0.3).predictor_moments(x)
    np.testing.assert_allclose(pts.mean(axis=0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(pts.T), covariance(sd), atol=0.02)
    # and the pooled structure's: the grand mean apart, SD^2 times the identity
    s = _zero_sum_basis(K).T @ r.T
    np.testing.assert_allclose(np.cov(s), sd**2 * np.eye(K - 1), atol=0.005)


def test_reweighting_turns_one_prior_into_another():
    """Draws from the pooled prior reweighted to the fixed structure have the fixed
    structure's contrast SD (a prior-only posterior: the likelihood is 1)."""
    rng = np.random.default_rng(6)
    n = 40_000
    sd = halfnorm.rvs(scale=PRIORS["prior_focal_sd_scale"], size=n, random_state=7)
    r = rng.normal(size=(n, K)) * sd[:, None]
    r -= r.mean(axis=1, keepdims=True)
    a = rng.normal(0, 1.0, n)
    w = StructureWeights(a, r, reference=0, level_prior=(0.0, 1.0), priors=PRIORS)
    sm1, k1 = smoothed(w.log_weights()["fixed"])  # pooled -> fixed: the contrast widens
    c1 = r[:, 1] - r[:, 0]
    assert np.isfinite(k1)
    assert np.sqrt(np.sum(np.exp(sm1) * c1**2)) > 1.5 * np.sqrt(np.mean(c1**2))
    # the other way round it works: fixed-prior draws reweighted to the pooled prior
    c = rng.normal(0, PRIORS["prior_fixed_focal_sd"], (n, K - 1))
    means = rng.normal(0, 1.0, n)[:, None] + np.column_stack([np.zeros(n), c])
    a2, e2 = _grand_mean_and_coordinates(means)
    w2 = StructureWeights(a2, e2, reference=0, level_prior=(0.0, 1.0), priors=PRIORS)
    lw2 = -w2.log_weights()["fixed"]  # pooled / fixed
    sm, k2 = smoothed(lw2)
    assert k2 < 1.0
    contrast = e2[:, 1] - e2[:, 0]
    got = np.sqrt(np.sum(np.exp(sm) * contrast**2))
    pooled = r[:, 1] - r[:, 0]
    assert got == pytest.approx(np.sqrt(np.mean(pooled**2)), rel=0.15)


def test_resampled_tree_and_structure_logo():
    import xarray as xr

    rng = np.random.default_rng(8)
    mu = rng.normal(size=(2, 500))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": (("chain", "draw"), mu)})})
    lw = -0.5 * mu.reshape(-1) ** 2  # reweight N(0, 1) towards N(0, 1/2)
    out = reweighted_tree(tree, lw, seed=1)
    assert out["posterior"].sizes == {"chain": 1, "draw": 1000}
    assert out["posterior"]["mu"].values.std() == pytest.approx(np.sqrt(0.5), rel=0.1)
    # LOGO of the fitted structure (zero log weights) is plain PSIS-LOO per group
    ll = rng.normal(-3, 0.2, size=(1000, 5))
    table = structure_logo(ll, {"other": np.zeros(1000)})
    a = table[table.structure == "hierarchical"]["elpd"].to_numpy()
    b = table[table.structure == "other"]["elpd"].to_numpy()
    np.testing.assert_allclose(a, b)
    harmonic = -np.log(np.mean(np.exp(-ll), axis=0))
    np.testing.assert_allclose(a, harmonic, atol=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["lonely", "contact"])
def test_reweighted_fit_matches_the_fit_of_each_structure(outcome):
    """The point of the module: the pooled fit reweighted to ``fixed`` and to ``clustered
    + residual`` gives the focal contrasts those structures' own fits give -- on the
    default data set (2,963 tenants), where the run uses it; every contrast's posterior
    mean within 0.25 posterior SDs and its SD within 25% of the refit's (4 x 1000 draws
    each). (On the 400-tenant test design the pooled-to-fixed weights have k 0.8-0.9: the
    module then says the reweighting cannot be trusted.)"""
    import xarray as xr

    from data.simulate import analysis_frame

    small_frame = analysis_frame()  # the default data (the name kept from the fixture)

    from data.study import HOUSING
    from data.suite import default_specs
    from diagnostics.structures import level_values, structure_weights
    from inference.engine import Engine, SamplerSettings
    from models.design import prepare
    from models.spec import comparison_variants

    spec = default_specs()[outcome]
    variants = comparison_variants(spec, focal_predictors=HOUSING.focal_predictors,
                                   columns=set(small_frame.columns))
    label = "clustered + residual"
    specs = {"hierarchical": variants[f"{outcome}[hierarchical]"],
             "fixed": variants[f"{outcome}[fixed]"],
             label: variants[f"{outcome}[clustered + residual living_form]"]}
    settings = SamplerSettings(chains=4, draws=1000, tune=500, seed=3, predictive=False)
    engine = Engine(progress=False)
    fits = {k: (s, prepare(small_frame, s)) for k, s in specs.items()}
    trees = {k: engine.fit(s, d, settings) for k, (s, d) in fits.items()}

    spec_h, data_h = fits["hierarchical"]
    labels = list(data_h.level_labels[spec.focal])
    ref = labels.index(spec.reference)
    x = level_values(small_frame, spec_h, data_h, HOUSING.focal_predictors)
    weights, why = structure_weights(trees["hierarchical"], spec_h, data_h, predictors=x)
    assert why is None and set(weights) == {"fixed", label}

    def stacked(tree, name):
        return tree["posterior"][name].stack(s=("chain", "draw")).transpose("s", ...).values

    eff = stacked(trees["hierarchical"], "living_form_effect")
    contrast_h = np.delete(eff, ref, axis=1) - eff[:, [ref]]
    # the structures' own fits, as contrasts with the reference
    fixed = stacked(trees["fixed"], "living_form_contrast")
    r = stacked(trees[label], "living_form_effect")
    beta = trees[label]["posterior"]["beta"].sel(term="clustered").stack(
        s=("chain", "draw")).values
    total = r + beta[:, None] * x["clustered"][None, :]
    own = {"fixed": fixed, label: np.delete(total, ref, axis=1) - total[:, [ref]]}
    for name, lw in weights.items():
        sm, k = smoothed(lw)
        assert k < 0.7
        p = np.exp(sm)
        mean = p @ contrast_h
        sd = np.sqrt(p @ (contrast_h - mean) ** 2)
        want_mean, want_sd = own[name].mean(axis=0), own[name].std(axis=0)
        assert np.abs(mean - want_mean).max() < 0.25 * want_sd.min(), (name, mean, want_mean)
        np.testing.assert_allclose(sd, want_sd, rtol=0.25)
    # the structures do differ here (else the test proves nothing): the fixed contrasts'
    # SDs are wider than the pooled ones
    assert (own["fixed"].std(axis=0) > 1.05 * contrast_h.std(axis=0)).any()
    assert isinstance(trees["hierarchical"], xr.DataTree)
