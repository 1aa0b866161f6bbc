"""Response families as objects (models.families): structural checks, no sampling.

Every family is exercised on small hand-made arrays: the registry, encoding (with its
errors), the likelihood in a tiny model (against a hand-computed log density), prior
scaling, event probabilities, predictive-check statistics and the Bambi equivalent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import integrate
from scipy.special import expit
from scipy.stats import norm

from models import spec as spec_module
from models.build import data_updates
from models.design import ModelData, PreparationError
from models.families import (
    FAMILIES,
    Bernoulli,
    Binomial,
    Cumulative,
    CumulativeProbit,
    Family,
    Gaussian,
    Graded,
    GradedEqual,
    GradedLatent,
    get_family,
)
from models.spec import DEFAULT_PRIORS, ModelSpec

FAST = "FAST_COMPILE"
NAMES = ("bernoulli", "binomial", "cumulative", "cumulative_probit", "gaussian", "graded",
         "graded_equal", "graded_latent")
TRIALS = np.array([3, 5, 2, 4, 6])  # the binomial family's trials in the tiny data sets


def _spec(family: str, **kw) -> ModelSpec:
    args = dict(name="t", outcome="t", response="y", family=family, terms=(), levels=("g",),
                focal=None, reference=None, variant="none")
    if isinstance(family, str) and family.startswith("graded"):
        args |= dict(items=("a", "b"), reversed_items=("b",), categories=(1, 2, 3, 4, 5))
    if family == "binomial":
        args |= dict(trials="n")
    return ModelSpec(**(args | kw))


def _data(y: np.ndarray, categories: tuple = (), trials: np.ndarray | None = None) -> ModelData:
    n = len(y)
    return ModelData(y=np.asarray(y), X=np.linspace(-1.0, 1.0, n)[:, None], term_names=("x",),
                     level_idx={"g": np.zeros(n, dtype=np.int64)}, level_labels={"g": ("g1",)},
                     categories=categories, row_ids=tuple(map(str, range(n))),
                     removed=pd.DataFrame(), n_before=n, trials=trials)


def _draws(values: dict[str, np.ndarray]):
    return lambda name: np.asarray(values[name])


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------
def test_registry_holds_one_object_per_family_under_its_name():
    assert tuple(FAMILIES) == NAMES
    for name, family in FAMILIES.items():
        assert isinstance(family, Family)
        assert family.name == name
        assert get_family(name) is family
        assert type(family).__doc__  # each family says what it is
    assert [type(f) for f in FAMILIES.values()] == [Bernoulli, Binomial, Cumulative,
                                                     CumulativeProbit, Gaussian, Graded,
                                                     GradedEqual, GradedLatent]
    with pytest.raises(TypeError):
        FAMILIES["poisson"] = Bernoulli()  # read-only


def test_spec_family_names_come_from_the_registry():
    assert spec_module.FAMILIES == NAMES
    assert isinstance(spec_module.FAMILIES, tuple)
    spec = _spec("cumulative")
    assert spec.family == "cumulative"  # the saved JSON keeps the name
    assert '"family": "cumulative"' in spec.to_json()
    assert spec.family_impl is FAMILIES["cumulative"]


@pytest.mark.parametrize("bad", ["poisson", "Bernoulli", "", None, ["gaussian"]])
def test_unknown_family_is_a_value_error(bad):
    with pytest.raises(ValueError, match="unknown family") as err:
        get_family(bad)
    assert str(err.value) == f"unknown family {bad!r}; choose one of {NAMES}"
    with pytest.raises(ValueError) as spec_err:
        _spec(bad)
    assert str(spec_err.value) == f"model 't': unknown family {bad!r}; choose one of {NAMES}"
    with pytest.raises(ValueError) as owned:
        get_family(bad, owner="model 't'")
    assert str(owned.value) == str(spec_err.value)


def test_items_need_an_item_family_and_back():
    message = (r"an item family \(graded, graded_equal, graded_latent\) needs items, and "
               r"items need an item family")
    with pytest.raises(ValueError, match=message):
        _spec("graded", items=())
    with pytest.raises(ValueError, match=message):
        _spec("bernoulli", items=("a", "b"))


@pytest.mark.parametrize(("name", "ordinal", "items", "intercept", "event", "probability",
                          "bambi"), [
    ("bernoulli", False, False, True, True, True, "bernoulli"),
    ("binomial", False, False, True, True, True, None),
    ("cumulative", True, False, False, True, True, "cumulative"),
    ("cumulative_probit", True, False, False, True, True, None),
    ("gaussian", False, False, True, True, False, "gaussian"),
    ("graded", True, True, False, False, False, None),
    ("graded_equal", True, True, False, False, False, None),
    ("graded_latent", True, True, False, False, False, None),
])
def test_family_flags(name, ordinal, items, intercept, event, probability, bambi):
    family = get_family(name)
    assert family.ordinal is ordinal
    assert family.uses_items is items
    assert family.has_intercept is intercept
    assert family.has_event_prediction is event
    assert family.has_probability_scale is probability
    assert family.bambi_name == bambi
    assert family.obs_dims == (("obs", "item") if items else "obs")


# --------------------------------------------------------------------------------------
# encoding the response
# --------------------------------------------------------------------------------------
def test_bernoulli_encode():
    family, spec = Bernoulli(), _spec("bernoulli")
    y, cats = family.encode(np.array([[0.0], [1.0], [1.0]]), spec)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1] and cats == ()
    assert family.response_columns(spec) == ["y"]
    with pytest.raises(PreparationError, match=r"model 't': binary response 'y' has "
                                               r"value\(s\) \[0.5, 2.0\]"):
        family.encode(np.array([[0.0], [2.0], [0.5]]), spec)


def test_binomial_encode_checks_successes_and_trials():
    family, spec = Binomial(), _spec("binomial")
    assert family.response_columns(spec) == ["y", "n"]
    raw = np.array([[0.0, 3.0], [2.0, 2.0], [1.0, 5.0]])
    y, cats = family.encode(raw, spec)
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1] and cats == ()
    assert family.trials(raw, spec).tolist() == [3, 2, 5]
    assert Bernoulli().trials(raw, _spec("bernoulli")) is None
    with pytest.raises(PreparationError, match=r"1 row\(s\) have more successes \('y'\) than "
                                               r"trials \('n'\)"):
        family.encode(np.array([[4.0, 3.0]]), spec)
    with pytest.raises(PreparationError, match=r"'y' must hold whole numbers >= 0, has \[0.5\]"):
        family.encode(np.array([[0.5, 3.0]]), spec)
    with pytest.raises(PreparationError, match="fewer than 1 trial"):
        family.encode(np.array([[0.0, 0.0]]), spec)
    with pytest.raises(ValueError, match="needs a trials column"):
        _spec("binomial", trials=None)


def test_gaussian_encode_keeps_values():
    raw = np.array([[1.5], [-2.0], [3.25]])
    y, cats = Gaussian().encode(raw, _spec("gaussian"))
    assert y.dtype == np.float64 and y.tolist() == [1.5, -2.0, 3.25] and cats == ()


def test_cumulative_encode_codes_categories():
    family = Cumulative()
    y, cats = family.encode(np.array([[1.0], [3.0], [2.0], [3.0]]),
                            _spec("cumulative", categories=(1, 2, 3)))
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1, 2] and cats == (1, 2, 3)
    # no categories in the spec: the known levels (3 is absent from the data)
    y, cats = family.encode(np.array([[1.0], [2.0]]), _spec("cumulative"),
                            known_levels=(1, 2, 3))
    assert cats == (1, 2, 3) and y.tolist() == [0, 1]
    # the spec's categories come first
    y, cats = family.encode(np.array([[2.0], [1.0]]), _spec("cumulative", categories=(2, 1)),
                            known_levels=(1, 2, 3))
    assert cats == (2, 1) and y.tolist() == [0, 1]
    # neither: the values in the data
    y, cats = family.encode(np.array([[4.0], [9.0], [4.0]]), _spec("cumulative"))
    assert cats == (4, 9) and y.tolist() == [0, 1, 0]
    assert all(type(c) is int for c in cats)  # categories read from data: 4, not 4.0
    with pytest.raises(PreparationError, match=r"model 't': response \['y'\] has value\(s\) "
                                               r"\[7.0\] outside categories \[1, 2, 3\]"):
        family.encode(np.array([[1.0], [7.0]]), _spec("cumulative", categories=(1, 2, 3)))


def test_graded_encode_reverses_items_and_codes_them():
    family, spec = Graded(), _spec("graded")
    assert family.response_columns(spec) == ["a", "b"]
    raw = np.array([[1.0, 1.0], [5.0, 2.0], [3.0, 5.0]])
    y, cats = family.encode(raw, spec)
    # item b is reversed on 1..5 (x -> 6 - x) before coding 1..5 as 0..4
    assert y.dtype == np.int64 and y.tolist() == [[0, 4], [4, 3], [2, 0]]
    assert cats == (1, 2, 3, 4, 5)
    assert raw.tolist() == [[1.0, 1.0], [5.0, 2.0], [3.0, 5.0]]  # input untouched
    # categories from the data when the spec has none: 2..4, b reversed as 6 - x
    y, cats = family.encode(np.array([[2.0, 4.0], [4.0, 3.0]]), _spec("graded", categories=()),
                            known_levels=(1, 2, 3, 4, 5))  # not for items
    assert cats == (2, 3, 4) and y.tolist() == [[0, 0], [2, 1]]
    with pytest.raises(PreparationError, match=r"response \['a', 'b'\] has value\(s\) \[6.0\]"):
        family.encode(np.array([[6.0, 1.0]]), spec)


# --------------------------------------------------------------------------------------
# the likelihood in a tiny model
# --------------------------------------------------------------------------------------
Y_TINY = {"bernoulli": np.array([0, 1, 1, 0, 1]),
          "binomial": np.array([0, 4, 2, 1, 6]),
          "gaussian": np.array([0.3, -1.2, 2.0, 0.7, 1.1]),
          "cumulative": np.array([0, 2, 1, 2, 0]),
          "cumulative_probit": np.array([0, 2, 1, 2, 0]),
          "graded": np.array([[0, 4], [2, 3], [4, 0], [1, 1], [3, 2]])}
Y_TINY |= {"graded_equal": Y_TINY["graded"], "graded_latent": Y_TINY["graded"]}
OWN_FREE = {"bernoulli": ["intercept"], "binomial": ["intercept"],
            "gaussian": ["intercept", "sigma"],
            "cumulative": ["threshold_first", "threshold_gaps"],
            "cumulative_probit": ["threshold_first", "threshold_gaps"],
            "graded": ["sd_tenant", "threshold_first", "threshold_gaps", "log_loading"],
            "graded_equal": ["sd_tenant", "threshold_first", "threshold_gaps"],
            "graded_latent": ["sd_tenant", "z_tenant", "threshold_first", "threshold_gaps"]}


def _tiny_model(name: str):
    spec = _spec(name)
    family = spec.family_impl
    cats = ((1, 2, 3, 4, 5) if name.startswith("graded")
            else (1, 2, 3) if name.startswith("cumulative") else ())
    data = _data(Y_TINY[name], cats, TRIALS if name == "binomial" else None)
    coords = {"obs": np.arange(data.n)} | family.coords(spec, data.categories)
    with pm.Model(coords=coords) as model:
        priors = {k: pm.Data(k, v) for k, v in data_updates(spec, data).items()
                  if k.startswith("prior_")}
        y_obs = pm.Data("y_obs", data.y, dims=family.obs_dims)
        shift = pm.Normal("shift", 0.0, 1.0)
        eta = pt.as_tensor(data.X[:, 0]) + shift
        y = family.likelihood(eta, y_obs=y_obs, priors=priors, spec=spec, data=data)
    return spec, data, model, y


@pytest.mark.parametrize("name", NAMES)
def test_likelihood_builds_with_finite_logp_and_gradient(name):
    spec, data, model, y = _tiny_model(name)
    assert y is model["y"] and [v.name for v in model.observed_RVs] == ["y"]
    # the family's variables, in the order that fixes nutpie's parameter vector
    assert [v.name for v in model.free_RVs] == ["shift", *OWN_FREE[name]]
    dims = spec.family_impl.obs_dims
    assert model.named_vars_to_dims["y"] == ((dims,) if isinstance(dims, str) else dims)
    if spec.family_impl.ordinal:
        assert "thresholds" in {v.name for v in model.deterministics}
    point = model.initial_point()
    assert np.isfinite(model.compile_logp(mode=FAST)(point))
    grad = model.compile_dlogp(mode=FAST)(point)
    assert np.isfinite(grad).all() and np.any(grad != 0)


def _point(name: str, model) -> dict[str, np.ndarray]:
    """A hand-set point on the value (transformed) scale."""
    point = model.initial_point()
    point["shift"] = np.array(0.4)
    if "intercept" in point:
        point["intercept"] = np.array(-0.3)
    if "sigma_log__" in point:
        point["sigma_log__"] = np.array(np.log(1.7))
    if "threshold_first" in point:
        point["threshold_first"] = np.full_like(point["threshold_first"], -0.5)
        point["threshold_gaps_log__"] = np.log(np.full_like(point["threshold_gaps_log__"], 0.8))
    if "sd_tenant_log__" in point:
        point["sd_tenant_log__"] = np.array(np.log(0.6))
    if "z_tenant" in point:
        point["z_tenant"] = np.array([0.5, -1.0, 0.0, 1.5, -0.2])
    return point


def _ordered_logp(y: np.ndarray, eta: np.ndarray, cuts: np.ndarray, cdf=expit) -> float:
    upper = np.append(cdf(cuts[None, :] - eta[:, None]), np.ones((len(eta), 1)), axis=1)
    cdf = np.concatenate([np.zeros((len(eta), 1)), upper], axis=1)
    return float(np.log(cdf[np.arange(len(y)), y + 1] - cdf[np.arange(len(y)), y]).sum())


@pytest.mark.parametrize("name", NAMES)
def test_likelihood_matches_hand_computed_log_density(name):
    _, data, model, _ = _tiny_model(name)
    point = _point(name, model)
    got = model.compile_logp(vars=[model["y"]], mode=FAST)(point)
    eta = data.X[:, 0] + 0.4
    y = data.y
    if name == "bernoulli":
        p = expit(eta - 0.3)
        expected = np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
    elif name == "binomial":
        from scipy.stats import binom
        expected = binom.logpmf(y, TRIALS, expit(eta - 0.3)).sum()
    elif name == "gaussian":
        expected = norm.logpdf(y, eta - 0.3, 1.7).sum()
    elif name == "cumulative":
        expected = _ordered_logp(y, eta, -0.5 + 0.8 * np.arange(2))
    elif name == "cumulative_probit":
        expected = _ordered_logp(y, eta, -0.5 + 0.8 * np.arange(2), cdf=norm.cdf)
    elif name == "graded_latent":
        theta = eta + 0.6 * np.array([0.5, -1.0, 0.0, 1.5, -0.2])
        cuts = -0.5 + 0.8 * np.arange(4)
        expected = sum(_ordered_logp(y[:, j], theta, cuts) for j in range(2))
    else:  # the latent integrated out, loadings 1 (zero log-loadings at the point)
        cuts = -0.5 + 0.8 * np.arange(4)

        def row(i):
            def f(u):
                theta = np.array([eta[i] + 0.6 * u])
                return np.exp(sum(_ordered_logp(y[[i], j], theta, cuts) for j in range(2)))
            return np.log(integrate.quad(lambda u: f(u) * norm.pdf(u), -12, 12,
                                         epsabs=1e-14, epsrel=1e-12)[0])
        expected = sum(row(i) for i in range(len(y)))
    # PyMC's OrderedProbit goes through erfc: agreement to 1e-8 rather than 1e-10
    assert got == pytest.approx(expected, rel=1e-8 if name == "cumulative_probit" else 1e-10)


# --------------------------------------------------------------------------------------
# prior scaling
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_scale_priors(name):
    data = _data(np.array([1.0, 3.0, 5.0, 7.0]))  # mean 4, sd sqrt(5)
    prior = dict(DEFAULT_PRIORS)
    scaled = get_family(name).scale_priors(prior, data)
    extra = ["loading_sd"] if name.startswith("graded") else []
    assert list(scaled) == [*prior, "intercept_mu", *extra]  # pm.Data in this order
    assert prior == dict(DEFAULT_PRIORS)  # not modified
    if name == "gaussian":
        s = np.sqrt(5.0)
        for key in ("beta_sd", "intercept_sd", "focal_sd_scale", "fixed_focal_sd",
                    "group_sd_scale", "sigma_scale"):
            assert scaled[key] == pytest.approx(prior[key] * s, rel=1e-12), key
        for key in ("threshold_sd", "tenant_sd_scale", "beta_nu"):
            assert scaled[key] == prior[key], key
        assert scaled["intercept_mu"] == pytest.approx(4.0)
    elif name.startswith("graded"):
        assert scaled == prior | {"intercept_mu": 0.0, "loading_sd": 0.5}
    else:
        assert scaled == prior | {"intercept_mu": 0.0}


# --------------------------------------------------------------------------------------
# events and their probabilities
# --------------------------------------------------------------------------------------
def test_event_labels():
    cats = _data(np.array([0, 1, 2]), (1, 2, 3))
    assert Bernoulli().event(_spec("bernoulli"), cats) == ("P(y = 1)", None)
    assert Gaussian().event(_spec("gaussian"), cats) == ("mean y", None)
    assert Cumulative().event(_spec("cumulative"), cats) == ("P(y >= 3)", 2)
    assert Cumulative().event(_spec("cumulative"), cats, category=1) == ("P(y >= 2)", 1)
    assert Bernoulli().event(_spec("bernoulli"), cats, category=1) == ("P(y = 1)", None)
    assert Binomial().event(_spec("binomial"), cats) == ("P(y success per trial)", None)
    with pytest.raises(ValueError, match="not defined"):
        Graded().event(_spec("graded"), cats)


ETA = np.array([[0.0, 1.0], [-2.0, 0.5], [1.0, -1.0]])  # (n=3 rows, S=2 draws)


def test_event_probability_without_group_variation():
    zero = np.zeros(2)
    draws = _draws({"intercept": [0.5, -0.5], "thresholds": [[-1.0, 0.3], [0.0, 2.0]]})
    p = Bernoulli().event_probability(ETA, draws, sd=zero, event=None)
    np.testing.assert_allclose(p, expit(ETA + [0.5, -0.5]).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(Binomial().event_probability(ETA, draws, sd=zero, event=None), p)
    mean = Gaussian().event_probability(ETA, draws, sd=np.ones(2), event=None)
    np.testing.assert_allclose(mean, np.array([0.5 - 1.5 + 1.5, 0.5 + 0.0 - 1.5]) / 3)
    # P(y >= cat_2) = 1 - expit(tau_1 - eta); P(y >= cat_1) = 1 - expit(tau_0 - eta)
    top = Cumulative().event_probability(ETA, draws, sd=zero, event=2)
    np.testing.assert_allclose(top, (1 - expit(np.array([0.3, 2.0]) - ETA)).mean(axis=0))
    mid = Cumulative().event_probability(ETA, draws, sd=zero, event=1)
    np.testing.assert_allclose(mid, (1 - expit(np.array([-1.0, 0.0]) - ETA)).mean(axis=0))
    assert np.all(mid > top)
    with pytest.raises(ValueError, match="not defined"):
        Graded().event_probability(ETA, draws, sd=zero, event=None)


def _integrated(f, eta: float, sd: float) -> float:
    return integrate.quad(lambda u: f(eta + u) * norm.pdf(u, 0.0, sd), -12 * sd, 12 * sd)[0]


def test_event_probability_integrates_group_variation():
    sd = np.array([0.8, 1.5])
    draws = _draws({"intercept": [0.2, -0.4], "thresholds": [[-1.0, 0.3], [0.0, 2.0]]})
    p = Bernoulli().event_probability(ETA, draws, sd=sd, event=None)
    expected = [np.mean([_integrated(expit, ETA[i, s] + [0.2, -0.4][s], sd[s])
                         for i in range(3)]) for s in range(2)]
    np.testing.assert_allclose(p, expected, atol=1e-5)
    assert not np.allclose(p, expit(ETA + [0.2, -0.4]).mean(axis=0), atol=1e-3)  # sd matters
    top = Cumulative().event_probability(ETA, draws, sd=sd, event=2)
    tau = [0.3, 2.0]
    expected = [np.mean([_integrated(lambda x, t=tau[s]: 1 - expit(t - x), ETA[i, s], sd[s])
                         for i in range(3)]) for s in range(2)]
    np.testing.assert_allclose(top, expected, atol=1e-5)


def test_event_probability_integrates_a_row_specific_sd():
    """Varying slopes make the new group's SD differ by row: sd of shape (n, S)."""
    sd = np.array([[0.5, 1.0], [2.0, 0.1], [1.0, 1.0]])
    draws = _draws({"intercept": [0.0, 0.0]})
    p = Bernoulli().event_probability(ETA, draws, sd=sd, event=None)
    expected = [np.mean([_integrated(expit, ETA[i, s], sd[i, s]) for i in range(3)])
                for s in range(2)]
    np.testing.assert_allclose(p, expected, atol=1e-5)


# --------------------------------------------------------------------------------------
# predictive-check statistics
# --------------------------------------------------------------------------------------
def test_ppc_statistics():
    rep = np.array([[0, 1, 1, 1], [0, 0, 0, 1]])
    shares = Bernoulli().ppc_statistics(_data(np.zeros(4)))
    assert list(shares) == ["share 1"]
    np.testing.assert_allclose(shares["share 1"](rep), [0.75, 0.25])
    ordinal = _data(np.zeros(4, dtype=int), ("low", "mid", "high"))
    stats = Cumulative().ppc_statistics(ordinal)
    assert list(stats) == ["share low", "share mid", "share high"]
    np.testing.assert_allclose(stats["share mid"](np.array([[1, 1, 2, 0]])), [0.5])
    assert list(Graded().ppc_statistics(ordinal)) == list(stats)
    gauss = Gaussian().ppc_statistics(_data(np.zeros(4)))
    assert list(gauss) == ["mean", "sd", "skewness", "min", "max"]
    a = np.array([[0.0, 0.0, 0.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(gauss["mean"](a), [1.0, 2.5])
    np.testing.assert_allclose(gauss["skewness"](a), [2 / np.sqrt(3), 0.0], atol=1e-12)
    np.testing.assert_allclose(gauss["max"](a) - gauss["min"](a), [4.0, 3.0])
    trials = _data(np.array([1, 2, 0]), trials=np.array([2, 4, 4]))
    binom = Binomial().ppc_statistics(trials)
    obs, shares = Binomial().ppc_arrays(trials.y, np.array([[0, 2, 4], [1, 1, 0]]), trials)
    np.testing.assert_allclose(obs, [0.5, 0.5, 0.0])  # successes / trials per row
    np.testing.assert_allclose(binom["mean row share"](shares), [0.5, 0.25])
    np.testing.assert_allclose(binom["rows with no success"](shares), [1 / 3, 1 / 3])
    np.testing.assert_allclose(binom["sd of row shares"](shares),
                               [np.std([0, 0.5, 1.0]), np.std([0.5, 0.25, 0.0])])


def test_ppc_arrays_pool_items_only_for_the_item_family():
    obs, rep = np.arange(6).reshape(3, 2), np.arange(24).reshape(4, 3, 2)
    pooled_obs, pooled_rep = Graded().ppc_arrays(obs, rep)
    assert pooled_obs.shape == (6,) and pooled_rep.shape == (4, 6)
    assert pooled_rep[1].tolist() == rep[1].ravel().tolist()
    flat = np.arange(3)
    for family in (Bernoulli(), Cumulative(), Gaussian()):
        same_obs, same_rep = family.ppc_arrays(flat, rep[:, :, 0])
        assert same_obs is flat and same_rep.shape == (4, 3)


# --------------------------------------------------------------------------------------
# the plain-Bambi equivalent
# --------------------------------------------------------------------------------------
def test_bambi_pieces():
    p = {"intercept_mu": 1.0, "intercept_sd": 2.0, "sigma_scale": 3.0, "threshold_sd": 4.0}
    cats = _data(np.array([0, 2, 1]), (1, 2, 3))
    assert Bernoulli().bambi_priors(p, cats) == {
        "Intercept": ("Normal", {"mu": 1.0, "sigma": 2.0})}
    assert Gaussian().bambi_priors(p, cats) == {
        "Intercept": ("Normal", {"mu": 1.0, "sigma": 2.0}),
        "sigma": ("HalfNormal", {"sigma": 3.0})}
    dist, params = Cumulative().bambi_priors(p, cats)["threshold"]
    assert dist == "Normal" and params["sigma"] == 4.0
    np.testing.assert_allclose(params["mu"], [-1.0, 1.0])
    response = Cumulative().bambi_response(_spec("cumulative"), cats)
    assert list(response) == [1, 3, 2] and response.ordered
    assert Bernoulli().bambi_response(_spec("bernoulli"), _data(np.array([0, 1]))).dtype.kind \
        == "i"
    assert Gaussian().bambi_response(_spec("gaussian"), _data(np.array([0, 1]))).dtype.kind \
        == "f"
    for name in ("bernoulli", "cumulative", "gaussian"):
        assert get_family(name).require_bambi(_spec(name)) == name
    with pytest.raises(ValueError, match="family 'binomial' has no plain Bambi equivalent"):
        Binomial().require_bambi(_spec("binomial"))
    message = (r"model 't': family 'graded' has no plain Bambi equivalent "
               r"\(supported: \['bernoulli', 'cumulative', 'gaussian'\]\)")
    with pytest.raises(ValueError, match=message):
        Graded().require_bambi(_spec("graded"))
    with pytest.raises(ValueError, match=message):
        Graded().bambi_response(_spec("graded"), cats)


def test_coords_of_ordinal_and_item_families():
    assert Bernoulli().coords(_spec("bernoulli"), ()) == {}
    assert Gaussian().coords(_spec("gaussian"), ()) == {}
    assert Cumulative().coords(_spec("cumulative"), (1, 2, 3)) == {"threshold": ["1|2", "2|3"]}
    coords = Graded().coords(_spec("graded"), (1, 2, 3))
    assert list(coords) == ["item", "threshold"]
    assert coords == {"item": ["a", "b"], "threshold": ["1|2", "2|3"]}


def test_sampled_latent_raises_the_target_acceptance_and_no_other_family_does():
    from inference.engine import SamplerSettings, effective_target_accept

    settings = SamplerSettings(target_accept=0.9)
    assert effective_target_accept(_spec("graded_latent"), settings) == 0.95
    for name in ("bernoulli", "binomial", "cumulative", "gaussian", "graded", "graded_equal"):
        assert effective_target_accept(_spec(name), settings) == 0.9
    # a run that asks for more keeps it
    assert effective_target_accept(_spec("graded_latent"),
                                   SamplerSettings(target_accept=0.99)) == 0.99
