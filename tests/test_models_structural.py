"""Structural tests of specs, data preparation and model building (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data import codebook as cb
from data.codebook import Covariate
from data.suite import LEVELS, default_specs
from models.build import build_model, contrast_labels, data_updates
from models.design import PreparationError, prepare
from models.spec import DEFAULT_PRIORS, ModelSpec, parse_terms

# The Python linker compiles in seconds; the default C linker takes ~10 s per graph, and
# only finiteness (not speed) is checked here.
FAST = "FAST_COMPILE"
VARIANTS = ("hierarchical", "fixed")
SPEC_NAMES = list(default_specs())
CONTRASTS = [f"{f} - {cb.REFERENCE_FORM}" for f in cb.FORM_CODES if f != cb.REFERENCE_FORM]


def _expected_free(spec: ModelSpec) -> set[str]:
    names = {"beta"}
    for lv in spec.random_levels:
        names |= {f"sd_{lv}", f"z_{lv}"}
    if spec.variant == "hierarchical":
        names |= {f"sd_{spec.focal}", f"{spec.focal}_raw"}
    elif spec.variant == "fixed":
        names |= {f"{spec.focal}_contrast"}
    cuts = {"threshold_first", "threshold_gaps"}  # thresholds = first + cumsum(gaps)
    names |= {"cumulative": cuts, "bernoulli": {"intercept"},
              "gaussian": {"intercept", "sigma"},
              "graded": cuts | {"sd_tenant", "log_loading"},
              "graded_equal": cuts | {"sd_tenant"},
              "graded_latent": cuts | {"sd_tenant", "z_tenant"}}[spec.family]
    return names


@pytest.fixture(scope="module", params=[(v, n) for v in VARIANTS for n in SPEC_NAMES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def built(request, small_frame):
    variant, name = request.param
    spec = default_specs(variant)[name]
    data = prepare(small_frame, spec)
    return spec, data, build_model(spec, data)


# --------------------------------------------------------------------------------------
# Every default spec builds a model of the expected structure
# --------------------------------------------------------------------------------------
def test_free_variables(built):
    spec, _, model = built
    assert {v.name for v in model.free_RVs} == _expected_free(spec)
    assert [v.name for v in model.observed_RVs] == ["y"]
    deterministics = {v.name for v in model.deterministics}
    if spec.variant == "hierarchical":
        assert {"living_form_effect", "living_form_contrast"} <= deterministics
    else:
        assert "living_form_contrast" not in deterministics


def test_dims_and_coords(built):
    spec, data, model = built
    assert list(model.coords["term"]) == list(data.term_names)
    expected_terms = [t for cov in spec.terms for t in cov.term_names()]
    assert list(data.term_names) == expected_terms
    assert list(model.coords["living_form"]) == list(cb.FORM_CODES)
    assert list(model.coords["contrast"]) == CONTRASTS
    assert list(contrast_labels(spec, data)) == CONTRASTS
    # every complex of the data set is a group, also one without analysed rows (subsets)
    assert len(model.coords["complex_id"]) >= len(set(data.level_idx["complex_id"]))
    assert data.level_idx["complex_id"].min() >= 0
    assert data.level_idx["complex_id"].max() < len(model.coords["complex_id"])
    dims = model.named_vars_to_dims
    assert dims["beta"] == ("term",)
    assert dims["z_complex_id"] == ("complex_id",)
    assert dims["living_form_contrast"] == ("contrast",)
    if spec.variant == "hierarchical":
        assert dims["living_form_raw"] == ("living_form",)
        assert dims["living_form_effect"] == ("living_form",)
    if spec.family == "cumulative":
        assert dims["thresholds"] == ("threshold",)
        assert "thresholds" in {v.name for v in model.deterministics}
        cats = data.categories
        assert len(cats) == len(cb.OUTCOME_BY_NAME[spec.outcome].levels)
        pairs = zip(cats[:-1], cats[1:], strict=True)
        assert list(model.coords["threshold"]) == [f"{a}|{b}" for a, b in pairs]
    # data containers hold exactly what data_updates says
    for key, value in data_updates(spec, data).items():
        np.testing.assert_array_equal(model[key].get_value(), value, err_msg=key)


def test_group_indices_point_at_each_rows_group(built, small_frame):
    spec, data, _ = built
    rows = small_frame.set_index("tenant_id").loc[list(data.row_ids)]
    for lv in spec.levels:
        labels = np.asarray(data.level_labels[lv])[data.level_idx[lv]]
        np.testing.assert_array_equal(labels, rows[lv].astype(str).to_numpy(), err_msg=lv)
    assert data.X.shape == (data.n, len(data.term_names))
    assert np.isfinite(data.X).all()


def test_log_density_and_gradient_finite(built):
    _, _, model = built
    point = model.initial_point()
    logp = model.compile_logp(mode=FAST)(point)
    assert np.isfinite(logp)
    grad = model.compile_dlogp(mode=FAST)(point)
    assert grad.shape == (sum(np.size(v) for v in point.values()),)
    assert np.isfinite(grad).all()
    assert np.any(grad != 0)


@pytest.mark.parametrize("name", ["contact", "gossip", "cohesion"])
def test_hierarchical_contrast_is_scaled_difference_to_reference(small_frame, name):
    spec = default_specs("hierarchical")[name]
    data = prepare(small_frame, spec)
    model = build_model(spec, data)
    inputs = [model["sd_living_form"], model["living_form_raw"]]
    contrast = model.compile_fn(model["living_form_contrast"], inputs=inputs,
                                point_fn=False, mode=FAST)
    effect = model.compile_fn(model["living_form_effect"], inputs=inputs, point_fn=False,
                              mode=FAST)
    ref = cb.FORM_CODES.index(cb.REFERENCE_FORM)
    raw = np.array([0.3, -0.2, 0.5, -0.1, 0.05, -0.4, -0.15])
    for sd in (0.7, 2.0):
        expected = sd * (np.delete(raw, ref) - raw[ref])
        np.testing.assert_allclose(contrast(sd, raw), expected, rtol=1e-12)
        np.testing.assert_allclose(effect(sd, raw), sd * raw, rtol=1e-12)


# --------------------------------------------------------------------------------------
# parse_terms and ModelSpec
# --------------------------------------------------------------------------------------
def test_parse_terms_accepts_whitelisted_forms():
    terms = parse_terms(" a + C(b) +scale(c)+ center(d)", known={"a", "b", "c", "d"})
    assert terms == (Covariate("a", "numeric"), Covariate("b", "categorical"),
                     Covariate("c", "standardize"), Covariate("d", "center"))


@pytest.mark.parametrize("rhs", [
    "__import__('os').system('x')",
    "a*b",
    "a + b:c",
    "a + ",
    "log(a)",
    "C(a, Treatment('x'))",
    "a + zzz",
    "C(zzz)",
    "scale(a + b)",
])
def test_parse_terms_rejects(rhs):
    with pytest.raises(ValueError, match="not allowed|unknown column"):
        parse_terms(rhs, known={"a", "b", "c"})


def _spec(**kw) -> ModelSpec:
    # the housing study's defaults (data.suite), then the test's changes
    args = dict(name="m", outcome="gossip", response="gossip", family="bernoulli",
                terms=cb.COVARIATES, levels=LEVELS, focal=LEVELS[-1], reference="HZ",
                level_order=cb.FORM_CODES, id_column="tenant_id")
    return ModelSpec(**(args | kw))


@pytest.mark.parametrize(("kw", "match"), [
    ({"family": "poisson"}, "unknown family"),
    ({"variant": "random"}, "unknown variant"),
    ({"priors": {"beta_scale": 1.0}}, "unknown prior"),
    ({"response": "gossip; rm"}, "plain column name"),
    ({"levels": ()}, "grouping level"),
    ({"focal": "complex_id"}, "highest level"),
])
def test_model_spec_rejects(kw, match):
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


def test_prior_merges_overrides_over_defaults():
    spec = _spec(priors={"beta_sd": 0.5, "group_sd_scale": 2.0})
    assert spec.prior == dict(DEFAULT_PRIORS) | {"beta_sd": 0.5, "group_sd_scale": 2.0}
    assert DEFAULT_PRIORS["beta_sd"] != 0.5  # defaults untouched
    assert _spec().prior == dict(DEFAULT_PRIORS)
    merged = spec.with_(priors={"threshold_sd": 1.0})
    assert merged.prior["beta_sd"] == 0.5 and merged.prior["threshold_sd"] == 1.0
    # priors do not change the compiled structure, the family does
    assert merged.structure_key == _spec().structure_key
    assert _spec(family="gaussian").structure_key != _spec().structure_key


# --------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------
def test_prepare_removes_incomplete_rows_and_reports_them(small_frame):
    spec = default_specs()["gossip"]
    full = prepare(small_frame, spec)
    frame = small_frame.copy()
    frame["female"] = frame["female"].astype("Int64")
    frame.loc[frame.index[0], "female"] = pd.NA
    frame.loc[frame.index[1], "extraversion"] = np.nan
    data = prepare(frame, spec)
    assert data.n_before == full.n_before == len(small_frame)
    assert data.n == full.n - 2
    assert set(full.row_ids) - set(data.row_ids) == set(small_frame["tenant_id"].iloc[:2])
    removed = data.removed.set_index("variable")
    assert removed.loc["female", "n_missing"] == 1
    assert removed.loc["extraversion", "n_missing"] == 1
    assert removed.loc["female", "n_removed_only_by_this"] == 1
    assert removed.drop(index=["female", "extraversion"])["n_missing"].eq(0).all()
    assert set(removed.index) >= {spec.response, *spec.levels, *(t.name for t in spec.terms)}
    assert (data.removed["model"] == spec.name).all()
    assert full.removed["n_missing"].eq(0).all()


def test_prepare_rejects_response_outside_categories(small_frame):
    frame = small_frame.copy()
    frame["contact"] = frame["contact"].astype("Int64")
    frame.loc[frame.index[3], "contact"] = 7
    with pytest.raises(PreparationError, match=r"contact.*7"):
        prepare(frame, default_specs()["contact"])


def test_prepare_rejects_non_binary_bernoulli_response(small_frame):
    frame = small_frame.copy()
    frame["gossip"] = frame["gossip"].astype("Int64")
    frame.loc[frame.index[3], "gossip"] = 2
    with pytest.raises(PreparationError, match=r"gossip.*2"):
        prepare(frame, default_specs()["gossip"])


def test_prepare_rejects_missing_column(small_frame):
    frame = small_frame.drop(columns=["extraversion"])
    with pytest.raises(PreparationError, match="extraversion"):
        prepare(frame, default_specs()["gossip"])


def test_prepare_applies_subset(small_frame):
    spec = default_specs()["friendly_contact"]
    assert spec.subset == "contact >= 2"
    data = prepare(small_frame, spec)
    eligible = small_frame[small_frame["contact"] >= 2]
    assert data.n_before == len(eligible) < len(small_frame)
    assert data.n == eligible["friendly_contact"].notna().sum()
    contact = small_frame.set_index("tenant_id").loc[list(data.row_ids), "contact"]
    assert (contact >= 2).all()
    # contact_daily, a term of this model, varies inside the subset
    col = list(data.term_names).index("contact_daily")
    assert set(np.unique(data.X[:, col])) == {0.0, 1.0}


@pytest.mark.parametrize("key", ["beta_sd", "group_sd_scale"])
def test_model_spec_rejects_non_positive_prior_scale(key):
    with pytest.raises(ValueError, match=key):
        _spec(priors={key: -1.0})
    with pytest.raises(ValueError, match=key):
        _spec(priors={key: "wide"})


@pytest.mark.parametrize("name", ["contact", "cohesion_items"])
def test_prior_draws_of_thresholds_are_ordered(small_frame, name):
    """Forward (prior predictive) draws come from the fitted prior: cut points ordered."""
    import pymc as pm

    spec = default_specs()[name]
    model = build_model(spec, prepare(small_frame, spec))
    draws = pm.draw(model["thresholds"], draws=400, random_seed=1)
    assert (np.diff(draws, axis=-1) > 0).all()


@pytest.mark.parametrize("variant", ["hierarchical", "fixed", "none"])
def test_every_spec_round_trips_through_json(variant):
    from data.suite import benefit_specs, feature_specs

    specs = default_specs(variant) | feature_specs(variant) | benefit_specs(variant)
    specs["custom"] = specs["contact"].with_(priors={"beta_sd": 0.7, "beta_nu": 3.0},
                                             focal_centered=True)
    for name, spec in specs.items():
        back = ModelSpec.from_json(spec.to_json())
        assert back == spec, name
        assert back.to_json() == spec.to_json(), name
    with pytest.raises(ValueError, match="unknown field"):
        ModelSpec.from_json('{"name": "x", "nonsense": 1}')
