"""The graded response model with the tenant latent integrated out (models/item_response.py,
the ``graded`` families): its quadrature against brute-force integrals, the model it builds,
forward simulation, the latent recovered after sampling, and (slow) recovery of loadings."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy import integrate
from scipy.special import expit
from scipy.stats import norm

from data.suite import default_specs
from models.build import build_model
from models.design import prepare
from models.item_response import (
    category_probabilities,
    latent_moments,
    latent_posterior,
    marginal_log_likelihood,
    marginal_logp,
    simulate_items,
)

FAST = "FAST_COMPILE"
RNG = np.random.default_rng(11)
N, J, K = 40, 5, 5
Y = RNG.integers(0, K, size=(N, J))
Y[0] = 0  # a row in the lowest category of every item
Y[1] = K - 1  # and one in the highest
ETA = RNG.normal(0.0, 1.0, N)
TAU = np.sort(RNG.normal(0.0, 1.5, size=(J, K - 1)), axis=1)
LOADING = np.array([1.6, 0.7, 1.0, 1.3, 0.6])


def _brute(y, eta, sd, tau, loading) -> np.ndarray:
    """``log integral prod_j P(y_j | theta) N(theta; eta, sd^2)`` per row by adaptive
    quadrature (scipy), each probability a plain difference of sigmoids."""
    out = []
    for i in range(len(y)):
        def f(u, i=i):
            lin = loading * (eta[i] + sd * u)
            p = 1.0
            for j in range(len(loading)):
                c = np.concatenate([[0.0], expit(tau[j] - lin[j]), [1.0]])
                p *= c[y[i, j] + 1] - c[y[i, j]]
            return p * norm.pdf(u)
        out.append(np.log(integrate.quad(f, -12, 12, epsabs=1e-15, epsrel=1e-12,
                                         limit=200)[0]))
    return np.array(out)


@pytest.mark.parametrize("sd", [0.4, 1.0, 1.6])
def test_compiled_marginal_log_density_equals_a_brute_force_integral(sd):
    y, eta = pt.lmatrix("y"), pt.dvector("eta")
    s, tau, lam = pt.dscalar("sd"), pt.dmatrix("tau"), pt.dvector("lam")
    f = pytensor.function([y, eta, s, tau, lam], marginal_logp(y, eta, s, tau, lam,
                                                                 nodes=201), mode=FAST)
    expected = _brute(Y, ETA, sd, TAU, LOADING)
    np.testing.assert_allclose(f(Y, ETA, sd, TAU, LOADING), expected, rtol=0, atol=1e-8)
    # the numpy twin agrees with the compiled one
    np.testing.assert_allclose(marginal_log_likelihood(Y, ETA, sd, TAU, LOADING,
                                                       nodes=201)[0], expected, atol=1e-8)


def test_default_nodes_are_accurate_at_a_unit_latent_sd():
    """Plain Gauss-Hermite loses accuracy as the latent SD times the loadings grows: at the
    default node count, within 1e-3 nats per 1000 rows at SD 1 and equal loadings (the
    default data's posterior is near there); bench/bench_items.py measures the fitted case."""
    expected = _brute(Y, ETA, 1.0, TAU, np.ones(J))
    got = marginal_log_likelihood(Y, ETA, 1.0, TAU, None)[0]
    assert np.abs(got - expected).sum() / N * 1000 < 1e-3


def test_gradient_is_finite_and_matches_finite_differences():
    y, eta = pt.lmatrix("y"), pt.dvector("eta")
    s, tau, lam = pt.dscalar("sd"), pt.dmatrix("tau"), pt.dvector("lam")
    total = marginal_logp(y, eta, s, tau, lam).sum()
    f = pytensor.function([y, eta, s, tau, lam], [total, *pt.grad(total, [s, tau, lam])],
                          mode=FAST)
    value, g_sd, g_tau, g_lam = f(Y, ETA, 0.9, TAU, LOADING)
    assert np.isfinite(value) and np.isfinite(g_tau).all() and np.isfinite(g_lam).all()
    h = 1e-6
    numeric = (f(Y, ETA, 0.9 + h, TAU, LOADING)[0] - f(Y, ETA, 0.9 - h, TAU, LOADING)[0]) / 2 / h
    assert float(g_sd) == pytest.approx(numeric, rel=1e-5)
    step = np.zeros(J)
    step[2] = h
    numeric = (f(Y, ETA, 0.9, TAU, LOADING + step)[0]
               - f(Y, ETA, 0.9, TAU, LOADING - step)[0]) / 2 / h
    assert float(g_lam[2]) == pytest.approx(numeric, rel=1e-5)


def test_extreme_parameters_stay_finite():
    """Far outside any posterior (a warm-up's first steps): finite value, finite gradient."""
    y, eta = pt.lmatrix("y"), pt.dvector("eta")
    s, tau, lam = pt.dscalar("sd"), pt.dmatrix("tau"), pt.dvector("lam")
    total = marginal_logp(y, eta, s, tau, lam).sum()
    f = pytensor.function([y, eta, s, tau, lam], [total, *pt.grad(total, [eta, s, tau, lam])],
                          mode=FAST)
    for eta_, sd_, scale in ((ETA * 200, 50.0, 1.0), (ETA, 1e-6, 1.0), (ETA, 1.0, 40.0)):
        out = f(Y, eta_, sd_, TAU * scale, LOADING)
        assert all(np.isfinite(np.asarray(o)).all() for o in out)


def test_latent_moments_equal_numerical_posterior_moments():
    sd = 1.2
    mean, sd_ = latent_moments(Y, ETA, sd, TAU, LOADING, nodes=61)
    assert mean.shape == sd_.shape == (1, N)
    for i in (0, 1, 7):
        def post(u, k, i=i):
            lin = LOADING * (ETA[i] + sd * u)
            p = np.prod([np.diff(np.concatenate([[0.0], expit(TAU[j] - lin[j]), [1.0]]))[Y[i, j]]
                         for j in range(J)])
            return (ETA[i] + sd * u) ** k * p * norm.pdf(u)
        z = integrate.quad(post, -12, 12, args=(0,), epsabs=1e-15)[0]
        m = integrate.quad(post, -12, 12, args=(1,), epsabs=1e-15)[0] / z
        v = integrate.quad(post, -12, 12, args=(2,), epsabs=1e-15)[0] / z - m**2
        assert mean[0, i] == pytest.approx(m, abs=1e-7)
        assert sd_[0, i] == pytest.approx(np.sqrt(v), abs=1e-7)
        assert sd_[0, i] < sd  # the answers narrow the latent
    # the lowest and highest answer patterns pull the latent down and up
    assert mean[0, 0] < ETA[0] and mean[0, 1] > ETA[1]


def test_latent_posterior_combines_draws_by_total_variance():
    eta = np.stack([ETA, ETA + 0.5])  # two draws
    m, s = latent_moments(Y, eta, np.array([1.0, 1.0]), np.stack([TAU, TAU]), None)
    mean, sd = latent_posterior(Y, eta, np.array([1.0, 1.0]), np.stack([TAU, TAU]), None)
    np.testing.assert_allclose(mean, m.mean(axis=0))
    np.testing.assert_allclose(sd**2, (s**2).mean(axis=0) + m.var(axis=0))


def test_simulated_answers_follow_the_marginal_category_probabilities():
    eta = np.full(20_000, 0.3)
    y = simulate_items(eta, 0.8, TAU, LOADING, np.random.default_rng(4))
    assert y.shape == (20_000, J) and y.dtype == np.int64
    x, w = np.polynomial.hermite_e.hermegauss(61)
    curves = category_probabilities(0.3 + 0.8 * x, TAU, LOADING)  # (J, nodes, K)
    probs = np.einsum("jtk,t->jk", curves, w / w.sum())
    shares = np.stack([(y == k).mean(axis=0) for k in range(K)], axis=1)
    np.testing.assert_allclose(shares, probs, atol=0.015)
    # each curve is a distribution over the categories
    curves = category_probabilities(np.linspace(-4, 4, 9), TAU, LOADING)
    assert curves.shape == (J, 9, K) and np.allclose(curves.sum(axis=-1), 1.0)
    assert (curves >= 0).all()


# --------------------------------------------------------------------------------------
# the model the families build
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def items_data(small_frame):
    spec = default_specs()["cohesion_items"]
    return {f: (spec.with_(family=f), prepare(small_frame, spec.with_(family=f)))
            for f in ("graded", "graded_equal", "graded_latent")}


@pytest.mark.parametrize(("family", "own"), [
    ("graded", {"sd_tenant", "threshold_first", "threshold_gaps", "log_loading"}),
    ("graded_equal", {"sd_tenant", "threshold_first", "threshold_gaps"}),
    ("graded_latent", {"sd_tenant", "z_tenant", "threshold_first", "threshold_gaps"}),
])
def test_item_models_build_with_their_variables_and_dims(items_data, family, own):
    spec, data = items_data[family]
    model = build_model(spec, data)
    free = {v.name for v in model.free_RVs}
    assert own <= free and not ({"z_tenant", "log_loading"} - own) & free
    assert model.named_vars_to_dims["y"] == ("obs", "item")
    assert model["y"].type.ndim == 2
    if family == "graded":
        assert model.named_vars_to_dims["log_loading"] == ("item",)
        assert model.named_vars_to_dims["loading"] == ("item",)
    point = model.initial_point()
    assert np.isfinite(model.compile_logp(mode=FAST)(point))
    grad = model.compile_dlogp(mode=FAST)(point)
    assert np.isfinite(grad).all() and np.any(grad != 0)
    # the log-likelihood of the observed y: per tenant when the latent is integrated out
    elem = model.compile_fn(model.logp(vars=[model["y"]], sum=False)[0], mode=FAST,
                            point_fn=True)(point)
    assert elem.shape == ((data.n,) if family != "graded_latent" else (data.n, 5))


def test_marginal_model_density_at_a_hand_set_point_equals_brute_force(items_data):
    """The built model's ``y`` log density at hand-set loadings, thresholds and latent SD
    (every other effect zero) equals brute-force integration per tenant."""
    spec, data = items_data["graded"]
    model = build_model(spec, data)
    point = {k: np.zeros_like(v) for k, v in model.initial_point().items()}
    log_loading = np.log(LOADING) - np.log(LOADING).mean()  # zero-sum: geometric mean 1
    point["log_loading_zerosum__"] = _zerosum_value(model, "log_loading", log_loading)
    point["sd_tenant_log__"] = np.array(np.log(0.8))
    point["threshold_first"] = np.array([-1.5, -1.0, -2.0, -0.5, -1.2])
    point["threshold_gaps_log__"] = np.log(np.full((5, 3), 0.9))
    for k in point:
        if k.startswith("sd_") and k != "sd_tenant_log__":
            point[k] = np.array(-30.0)  # group SDs ~ 0: eta is X beta = 0
    got = model.compile_logp(vars=[model["y"]], sum=False, mode=FAST)(point)[0]
    tau = point["threshold_first"][:, None] + 0.9 * np.arange(4)  # first + cumulative gaps
    eta = np.zeros(data.n)
    rows = np.arange(0, data.n, max(1, data.n // 12))
    expected = _brute(data.y[rows], eta[rows], 0.8, tau, np.exp(log_loading))
    np.testing.assert_allclose(got[rows], expected, atol=1e-5)


def _zerosum_value(model, name: str, value: np.ndarray) -> np.ndarray:
    """The unconstrained value of a zero-sum variable that maps to ``value``."""
    rv = model[name]
    transform = model.rvs_to_transforms[rv]
    return transform.forward(pt.as_tensor(value), *rv.owner.inputs).eval()


def test_marginal_model_forward_draws_and_integrated_loo_tree(items_data):
    """Prior predictive draws answer every item in its categories; the per-tenant
    integrated log-likelihood the LOO uses equals the model's own ``y`` density."""
    import pymc as pm

    from diagnostics.crossval import latent_integrated_tree, latent_scores

    spec, data = items_data["graded"]
    model = build_model(spec, data)
    with model:
        prior = pm.sample_prior_predictive(6, random_seed=2)
        pm.compute_log_likelihood(
            xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()}),
            extend_inferencedata=False, progressbar=False)
    ys = prior["prior_predictive"]["y"].values
    assert ys.shape == (1, 6, data.n, 5) and set(np.unique(ys)) <= set(range(5))
    tree = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    with model:
        ll = pm.compute_log_likelihood(tree, extend_inferencedata=False, progressbar=False)
    lt = latent_integrated_tree(tree, spec, data)
    np.testing.assert_allclose(lt["log_likelihood"]["y"].values, ll["y"].values, atol=1e-6)
    scores = latent_scores(tree, spec, data)
    assert len(scores) == data.n and (scores["theta_sd"] > 0).all()


def test_equal_vs_free_loadings_variant_and_comparison(items_data):
    """``compare`` fits the other loading structure beside an item model's own; the
    comparison by per-tenant integrated LOO (here on prior draws: no sampling) gives one
    row with the paired difference, and refuses fits in the wrong roles."""
    import pymc as pm

    from diagnostics.crossval import loadings_comparison
    from models.spec import comparison_variants

    for family, other in (("graded_latent", "graded"), ("graded", "graded_equal")):
        variants = comparison_variants(items_data[family][0])
        label = f"cohesion_items[{'equal' if family == 'graded' else 'free'} loadings]"
        assert variants[label].family == other
    assert not any("loadings" in k for k in comparison_variants(default_specs()["lonely"]))

    fits = {}
    for family in ("graded_equal", "graded"):
        spec, data = items_data[family]
        with build_model(spec, data):
            prior = pm.sample_prior_predictive(40, random_seed=3)
        fits[family] = (xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()}),
                        spec, data)
    row = loadings_comparison(fits["graded_equal"], fits["graded"],
                              outcome="cohesion_items").iloc[0]
    n = items_data["graded"][1].n
    assert row["n_tenants"] == n and row["preferred"] in ("equal", "free")
    np.testing.assert_allclose(row["elpd_diff"], row["elpd_free"] - row["elpd_equal"])
    assert np.isfinite([row["elpd_equal"], row["elpd_free"], row["dse"]]).all()
    assert row["loadings"].count(":") == 5
    with pytest.raises(ValueError, match="expected equal"):
        loadings_comparison(fits["graded"], fits["graded"])


# --------------------------------------------------------------------------------------
# slow: recovery of the loadings on simulated data (a reduced design)
# --------------------------------------------------------------------------------------
def _simulated_items(loading: np.ndarray, *, n: int, seed: int):
    """An item data set: ``n`` tenants in 100 complexes (effect SD 0.3), one covariate
    (coefficient 0.5), latent SD 1.2, five items of five categories."""
    import pandas as pd

    from models.design import ModelData
    from models.spec import ModelSpec

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    group = rng.integers(0, 100, n)
    eta = 0.5 * x + rng.normal(0.0, 0.3, 100)[group]
    tau = np.array([[-2.0, -0.8, 0.4, 1.6]] * 5) + rng.normal(0, 0.3, size=(5, 1))
    y = simulate_items(eta, 1.2, tau, loading, rng)
    spec = ModelSpec(name="items", outcome="items", response="items", family="graded",
                     terms=(), levels=("g",), focal=None, reference=None, variant="none",
                     items=("a", "b", "c", "d", "e"), categories=(1, 2, 3, 4, 5))
    data = ModelData(y=y, X=x[:, None], term_names=("x",), level_idx={"g": group},
                     level_labels={"g": tuple(f"g{g}" for g in range(100))},
                     categories=(1, 2, 3, 4, 5), row_ids=tuple(map(str, range(n))),
                     removed=pd.DataFrame(), n_before=n)
    return spec, data


@pytest.mark.slow
def test_distinct_true_loadings_are_recovered():
    from inference.engine import Engine, SamplerSettings

    truth = np.array([1.8, 1.2, 1.0, 0.8, 0.55])
    truth = truth / np.exp(np.log(truth).mean())  # geometric mean 1, as identified
    spec, data = _simulated_items(truth, n=1500, seed=5)
    tree = Engine(progress=False).fit(spec, data, SamplerSettings(
        chains=2, draws=500, tune=500, seed=3, predictive=False))
    draws = tree["posterior"]["loading"].stack(s=("chain", "draw")).values  # (item, S)
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=1)
    inside = (lo <= truth) & (truth <= hi)
    assert inside.sum() >= 4, f"loadings outside their 95% intervals: {np.flatnonzero(~inside)}"
    # the largest and the smallest loading told apart
    assert (draws[0] > draws[4]).mean() > 0.99, "loading[a] not above loading[e]"
    beta = tree["posterior"]["beta"].values.ravel()
    assert np.quantile(beta, 0.005) < 0.5 < np.quantile(beta, 0.995), "beta[x]"


@pytest.mark.slow
def test_equal_true_loadings_are_not_made_confidently_different():
    from inference.engine import Engine, SamplerSettings

    spec, data = _simulated_items(np.ones(5), n=1500, seed=6)
    tree = Engine(progress=False).fit(spec, data, SamplerSettings(
        chains=2, draws=500, tune=500, seed=4, predictive=False))
    draws = tree["posterior"]["loading"].stack(s=("chain", "draw")).values
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=1)
    assert ((lo <= 1.0) & (1.0 <= hi)).sum() >= 4, "equal loadings: 1 outside the intervals"
    # no pair's difference is called with 99% posterior probability
    for a in range(5):
        for b in range(a + 1, 5):
            p = (draws[a] > draws[b]).mean()
            assert 0.01 < p < 0.99, f"loadings {a} and {b} called different (P = {p:.3f})"


def test_item_curves_and_their_figure():
    """Curves from a small posterior: steeper for the larger loading; the figure draws
    one panel per item."""
    from diagnostics.crossval import item_curves
    from diagnostics.plots import item_curves_figure

    S = 8
    post = xr.Dataset({
        "thresholds": (("chain", "draw", "item", "threshold"),
                       np.broadcast_to(TAU[:2, :], (1, S, 2, K - 1)).copy()),
        "loading": (("chain", "draw", "item"), np.tile([2.0, 0.5], (1, S, 1))),
        "sd_tenant": (("chain", "draw"), np.ones((1, S)))},
        coords={"item": ["a", "b"], "threshold": [f"{k}|{k + 1}" for k in range(1, K)]})
    theta, mean, lo, hi = item_curves(xr.DataTree.from_dict({"posterior": post}),
                                      theta=np.linspace(-3, 3, 61))
    assert mean.shape == lo.shape == hi.shape == (2, 61, K)
    np.testing.assert_allclose(mean.sum(axis=-1), 1.0)
    # the top category's curve rises faster for the item with loading 2
    slope = np.abs(np.diff(mean[..., -1], axis=1)).max(axis=1)
    assert slope[0] > slope[1]
    fig = item_curves_figure(theta, mean, lo, hi, items=["a", "b"],
                             categories=[str(k) for k in range(1, K + 1)])
    assert len(fig.axes) == 2
    # P(answer >= k): K-1 rising curves per item, equal to the summed upper categories
    _, up, up_lo, up_hi = item_curves(xr.DataTree.from_dict({"posterior": post}),
                                      theta=theta, at_least=True)
    assert up.shape == (2, 61, K - 1)
    np.testing.assert_allclose(up[..., 0], 1.0 - mean[..., 0])
    np.testing.assert_allclose(up[..., -1], mean[..., -1])
    assert (np.diff(up, axis=1) >= -1e-12).all() and (np.diff(up, axis=2) <= 1e-12).all()
    fig = item_curves_figure(theta, mean, lo, hi, items=["a", "b"],
                             categories=[str(k) for k in range(1, K + 1)],
                             at_least=(up, up_lo, up_hi))
    assert len(fig.axes) == 4
    assert fig.axes[2].get_ylabel() == "P(answer >= k)"
    assert len(fig.axes[3].get_lines()) == K - 1


def test_quadrature_check_at_the_draws_flags_too_few_nodes(items_data, monkeypatch):
    """The fit's quadrature judged at its own draws against 61 nodes: at a latent SD of
    1.6-2.2, 5 nodes move the log-likelihood by whole nats from draw to draw (the
    posterior would need reweighting: not ok, and the verdict says so); 31 nodes do not."""
    import json

    import pymc as pm

    from diagnostics.convergence import model_verdict
    from diagnostics.crossval import quadrature_check
    from models.families import GradedEqual

    spec, data = items_data["graded_equal"]
    with build_model(spec, data):
        prior = pm.sample_prior_predictive(40, random_seed=3)["prior"].to_dataset()
    # a posterior-like set of draws: every effect 0, the thresholds of a 5-point scale
    # answered mostly in the middle, the latent SD as given
    prior = prior.map(lambda v: v * 0)
    prior["thresholds"] = prior["thresholds"] + np.array([-2.0, -0.7, 0.7, 2.0])
    prior["sd_tenant"] = prior["sd_tenant"] + np.linspace(1.6, 2.2, 40)
    tree = xr.DataTree.from_dict({"posterior": prior})
    monkeypatch.setattr(GradedEqual, "nodes", 5)
    few = quadrature_check(tree, spec, data)
    monkeypatch.setattr(GradedEqual, "nodes", 31)
    enough = quadrature_check(tree, spec, data)
    assert few["nodes"] == 5 and not few["ok"] and few["error_sd"] > 0.5
    assert enough["ok"] and enough["error_sd"] < few["error_sd"] / 20
    assert 0 < few["weight_ess_share"] < enough["weight_ess_share"] <= 1
    # the verdict of a fit carrying the check
    fit = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"mu": (("chain", "draw"),
                                        np.random.default_rng(1).normal(size=(4, 500)))}),
        "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 500), bool))})})
    assert model_verdict(fit).iloc[0]["verdict"] == "ok"
    fit.attrs["quadrature"] = json.dumps(few)
    row = model_verdict(fit).iloc[0]
    assert row["verdict"] == "warn" and "5-node quadrature" in row["reason"]
