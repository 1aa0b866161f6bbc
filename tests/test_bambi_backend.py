"""Tests for :mod:`models.bambi_backend` (structure only: nothing is sampled)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data.simulate import Design, analysis_frame
from data.suite import default_specs
from models.bambi_backend import bambi_contrasts, bambi_frame, bambi_model, term_columns
from models.build import build_model
from models.design import ModelData, prepare
from models.spec import ModelSpec


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return analysis_frame(Design(n_tenants=300, n_complexes=60), seed=3)


@pytest.mark.parametrize("outcome", ["gossip", "contact"])  # bernoulli, cumulative
def test_bambi_model_builds_with_finite_logp(frame, outcome):
    spec = default_specs()[outcome]
    data = prepare(frame, spec)
    model = bambi_model(spec, data)
    model.build()
    pm_model = model.backend.model
    logp = pm_model.compile_logp()(pm_model.initial_point())
    assert np.isfinite(logp)
    # every column of X is its own numeric term, named without brackets
    assert "age_group_2" in model.parameters[model.family.likelihood.parent].terms
    assert f"1|{spec.focal}" in pm_model.named_vars
    assert "1|complex_id" in pm_model.named_vars
    assert model.family.name == spec.family


def test_fixed_cumulative_matches_hand_written_model(frame):
    """Same likelihood and priors (but the thresholds' own prior, which differs on purpose):
    identical log density of everything else at the same (arbitrary) point."""
    spec = default_specs("fixed")["contact"]
    data = prepare(frame, spec)
    bm = bambi_model(spec, data)
    bm.build()
    ours = build_model(spec, data)
    rng = np.random.default_rng(0)
    beta = rng.normal(0, 0.5, data.X.shape[1])
    contrast = rng.normal(0, 0.5, len(data.level_labels["living_form"]) - 1)
    z = rng.normal(size=len(data.level_labels["complex_id"]))
    first, gap = -0.5, 1.3  # cut points -0.5 and 0.8
    ours_point = {"beta": beta, "living_form_contrast": contrast, "z_complex_id": z,
                  "sd_complex_id_log__": np.log(0.7), "threshold_first": first,
                  "threshold_gaps_log__": np.array([np.log(gap)])}
    bambi_point = {"living_form": contrast, "1|complex_id_offset": z,
                   "1|complex_id_sigma_log__": np.log(0.7),
                   "threshold_ordered__": np.array([first, np.log(gap)])}
    bambi_point |= {col: beta[j] for j, col in enumerate(term_columns(spec, data).values())}
    pm_b = bm.backend.model
    # Bambi's treatment coding drops the reference, other levels in our contrast order
    assert list(pm_b.coords["living_form_dim"]) == [
        lab for lab in data.level_labels["living_form"] if lab != "HZ"]
    assert list(pm_b.coords["complex_id__factor_dim"]) == list(data.level_labels["complex_id"])

    def without_thresholds(model):
        keep = [v for v in model.free_RVs + model.observed_RVs
                if not v.name.startswith("threshold")]
        return model.compile_logp(vars=keep, jacobian=True)

    np.testing.assert_allclose(without_thresholds(pm_b)(bambi_point),
                               without_thresholds(ours)(ours_point), rtol=1e-10)
    # and our threshold prior is the generative one: Normal(0, 3) first cut, HalfNormal gap
    from scipy import stats

    th = ours.compile_logp(vars=[ours["threshold_first"], ours["threshold_gaps"]],
                           jacobian=False)(ours_point)
    expected = stats.norm(0, 3).logpdf(first) + stats.halfnorm(scale=3).logpdf(gap)
    np.testing.assert_allclose(th, expected, rtol=1e-10)


def _tiny(variant: str) -> tuple[ModelSpec, ModelData]:
    spec = ModelSpec(name="tiny", outcome="tiny", response="y", family="bernoulli",
                     terms=(), variant=variant, levels=("complex_id", "living_form"),
                     focal="living_form", reference="HZ")
    data = ModelData(
        y=np.array([0, 1, 1]), X=np.zeros((3, 0)), term_names=(),
        level_idx={"complex_id": np.arange(3), "living_form": np.arange(3)},
        level_labels={"complex_id": ("a", "b", "c"), "living_form": ("GG", "HZ", "RB")},
        categories=(), row_ids=("1", "2", "3"), removed=pd.DataFrame(), n_before=3)
    return spec, data


def _tree(name: str, dim: str, labels: list[str], values: list[float]) -> xr.DataTree:
    arr = np.array(values, dtype=float)[None, None, :] * np.ones((2, 3, 1))
    arr[1] += 1.0  # a second chain shifted alike in every level: contrasts unchanged
    post = xr.Dataset({name: (("chain", "draw", dim), arr)},
                      coords={"chain": [0, 1], "draw": [0, 1, 2], dim: labels})
    return xr.DataTree.from_dict({"posterior": post})


def test_bambi_contrasts_from_random_intercepts():
    spec, data = _tiny("hierarchical")
    tree = _tree("1|living_form", "living_form__factor_dim", ["GG", "HZ", "RB"],
                 [0.1, 0.5, -0.2])
    out = bambi_contrasts(spec, data, tree)
    assert out.dims == ("chain", "draw", "contrast")
    assert list(out["contrast"].values) == ["GG - HZ", "RB - HZ"]
    np.testing.assert_allclose(out.sel(contrast="GG - HZ"), -0.4)
    np.testing.assert_allclose(out.sel(contrast="RB - HZ"), -0.7)


def test_bambi_contrasts_from_fixed_treatment_coding():
    spec, data = _tiny("fixed")
    tree = _tree("living_form", "living_form_dim", ["GG", "RB"], [-0.4, -0.7])
    out = bambi_contrasts(spec, data, tree)
    assert list(out["contrast"].values) == ["GG - HZ", "RB - HZ"]
    np.testing.assert_allclose(out.isel(chain=0, draw=0), [-0.4, -0.7])


def test_bambi_contrasts_needs_the_reference_level():
    spec, data = _tiny("hierarchical")
    tree = _tree("1|living_form", "living_form__factor_dim", ["GG", "RB"], [0.1, -0.2])
    with pytest.raises(KeyError, match="HZ"):
        bambi_contrasts(spec, data, tree)


def test_term_columns_are_sanitised_and_overridable():
    spec, data = _tiny("hierarchical")
    data = dataclasses.replace(data, X=np.eye(3),
                               term_names=("age_group[2]", "age_group_2", "C"))
    cols = term_columns(spec, data)
    assert cols == {"age_group[2]": "age_group_2", "age_group_2": "age_group_2_2",
                    "C": "x_C"}
    assert term_columns(spec, data, {"age_group[2]": "age2"})["age_group[2]"] == "age2"
    for bad in ("a b", "x)+(1", "Intercept", "living_form"):
        with pytest.raises(ValueError):
            term_columns(spec, data, {"age_group[2]": bad})
    frame = bambi_frame(spec, data)
    assert list(frame.columns) == ["response", "age_group_2", "age_group_2_2", "x_C",
                                   "complex_id", "living_form"]
