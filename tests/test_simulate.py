"""Tests for :mod:`data.simulate`: calibration, determinism, truth, files, CLI, structure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import run_models
from data import codebook as cb
from data.simulate import Design, simulate, simulated_marginals, write_simulation
from data.validation import validate_study
from tests.conftest import SMALL_DESIGN, SMALL_SEED

NON_REFERENCE = [f for f in cb.FORM_CODES if f != cb.REFERENCE_FORM]
ALL_TERMS = [t for cov in cb.COVARIATES for t in cov.term_names()]


# --------------------------------------------------------------------------------------
# Calibration: marginals of the default design match the published figures
# --------------------------------------------------------------------------------------
def test_marginals_match_published_over_seeds():
    tables = [simulated_marginals(*simulate(seed=seed)[:2]) for seed in range(4)]
    for t in tables[1:]:  # same rows in the same order for every seed
        pd.testing.assert_frame_equal(t[["outcome", "level", "published"]],
                                      tables[0][["outcome", "level", "published"]])
    mean = tables[0][["outcome", "level", "published"]].copy()
    mean["simulated"] = np.mean([t["simulated"].to_numpy() for t in tables], axis=0)
    # every outcome with published figures has rows, every published level is covered
    published = {oc.name for oc in cb.OUTCOMES if oc.published}
    assert published <= set(mean["outcome"])
    for oc in cb.OUTCOMES:
        if oc.published:
            got = set(mean.loc[mean["outcome"] == oc.name, "level"])
            assert got == set(oc.published), oc.name
    assert mean["simulated"].notna().all()
    off = mean[(mean["simulated"] - mean["published"]).abs() > 0.02]
    assert off.empty, f"marginals more than 2 pp from the published figures:\n{off}"


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------
def test_same_seed_gives_identical_frames(small_study):
    cx, tn, truth = simulate(SMALL_DESIGN, seed=SMALL_SEED)
    pd.testing.assert_frame_equal(cx, small_study[0])
    pd.testing.assert_frame_equal(tn, small_study[1])
    assert json.dumps(truth, sort_keys=True, default=str) == json.dumps(
        small_study[2], sort_keys=True, default=str)


def test_different_seed_gives_different_frames(small_study):
    cx, tn, truth = simulate(SMALL_DESIGN, seed=SMALL_SEED + 1)
    assert not cx.equals(small_study[0])
    assert not tn.equals(small_study[1])
    # the outcome columns themselves differ, not only the group sizes
    assert not tn["contact"].reset_index(drop=True).equals(
        small_study[1]["contact"].reset_index(drop=True))
    assert truth["seed"] == SMALL_SEED + 1


# --------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome", [oc.name for oc in cb.OUTCOMES])
def test_truth_is_complete(small_study, outcome):
    truth = small_study[2]
    assert truth["reference_form"] == cb.REFERENCE_FORM
    assert set(truth["outcomes"]) == {oc.name for oc in cb.OUTCOMES}
    entry = truth["outcomes"][outcome]
    assert set(entry["latent_contrasts"]) == {f"{f} - {cb.REFERENCE_FORM}"
                                              for f in NON_REFERENCE}
    for value in entry["latent_contrasts"].values():
        assert np.isfinite(value)
    missing = [t for t in ALL_TERMS if t not in entry["coefficients"]]
    assert not missing, f"{outcome}: no truth for coefficient(s) {missing}"
    assert np.isfinite(entry["complex_sd"]) and entry["complex_sd"] > 0
    family = cb.OUTCOME_BY_NAME[outcome].family
    if outcome == "cohesion":
        items = entry["item_thresholds"]
        assert len(items) == 5
        for tau in items:
            assert len(tau) == 4 and np.all(np.diff(tau) > 0)
    elif family == "cumulative":
        tau = entry["thresholds"]
        assert len(tau) == len(cb.OUTCOME_BY_NAME[outcome].levels) - 1
        assert np.all(np.diff(tau) > 0)
    else:
        assert family == "bernoulli"
        assert np.isfinite(entry["intercept"])


def test_truth_contrasts_follow_form_effects(small_study):
    """Each latent contrast is the form effect minus the reference form's effect."""
    for name, entry in small_study[2]["outcomes"].items():
        ref = entry["form_effects"][cb.REFERENCE_FORM]
        for f in NON_REFERENCE:
            assert entry["latent_contrasts"][f"{f} - {cb.REFERENCE_FORM}"] == pytest.approx(
                entry["form_effects"][f] - ref), name


# --------------------------------------------------------------------------------------
# Files and CLI
# --------------------------------------------------------------------------------------
def test_write_simulation_writes_three_files(tmp_path, small_study):
    out = write_simulation(tmp_path / "sim", seed=SMALL_SEED, design=SMALL_DESIGN)
    files = sorted(p.name for p in (tmp_path / "sim").iterdir())
    assert files == ["complexes.csv", "tenants.csv", "truth.json"]  # no temp files left
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    assert truth["seed"] == SMALL_SEED
    assert truth["design"]["n_tenants"] == SMALL_DESIGN.n_tenants
    assert set(truth["outcomes"]) == {oc.name for oc in cb.OUTCOMES}
    cx = pd.read_csv(tmp_path / "sim" / "complexes.csv")
    tn = pd.read_csv(tmp_path / "sim" / "tenants.csv")
    assert len(cx) == len(out["complexes"]) == SMALL_DESIGN.n_complexes
    assert len(tn) == len(out["tenants"]) == SMALL_DESIGN.n_tenants
    assert list(tn.columns) == list(small_study[1].columns)
    pd.testing.assert_series_equal(tn["contact"], small_study[1]["contact"],
                                   check_dtype=False)


def test_cli_simulate_prints_marginals(tmp_path, capsys):
    out = tmp_path / "sim3"
    assert run_models.main(["simulate", "--seed", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"complexes.csv", "tenants.csv", "truth.json"}
    assert json.loads((out / "truth.json").read_text())["seed"] == 3
    for word in ("outcome", "level", "simulated", "published"):
        assert word in printed
    for oc in cb.OUTCOMES:
        if oc.published:
            assert oc.name in printed
    assert f"({Design().n_tenants} tenants)" in printed


# --------------------------------------------------------------------------------------
# Missingness and structural rules
# --------------------------------------------------------------------------------------
def test_missingness_rate_and_friendly_contact_rule():
    rate = 0.1
    _, tn, truth = simulate(Design(missing_rate=rate), seed=11)
    assert truth["design"]["missing_rate"] == rate
    cells = tn.drop(columns=["tenant_id", "complex_id", "friendly_contact"])
    observed_rate = float(cells.isna().to_numpy().mean())
    assert abs(observed_rate - rate) < 0.01
    for col in cells.columns:  # every column gets some missing cells, none too many
        assert 0.05 < cells[col].isna().mean() < 0.15, col
    assert tn["tenant_id"].notna().all() and tn["complex_id"].notna().all()
    contact = tn["contact"]
    answered = tn["friendly_contact"].notna()
    assert not (answered & contact.isna()).any()
    assert not (answered & (contact == 1).fillna(False)).any()
    # friendly_contact is also missing at random where contact >= 2
    eligible = (contact >= 2).fillna(False)
    assert 0.05 < (~answered[eligible]).mean() < 0.15


def test_friendly_contact_missing_exactly_when_contact_is_1(small_study):
    tn = small_study[1]
    assert tn["contact"].notna().all()
    np.testing.assert_array_equal(tn["friendly_contact"].isna().to_numpy(),
                                  (tn["contact"] == 1).to_numpy(dtype=bool))
    assert set(tn.loc[tn["contact"] >= 2, "friendly_contact"].unique()) == {0, 1}


@pytest.mark.parametrize("missing_rate", [0.0, 0.1])
def test_simulated_tables_pass_validation(missing_rate):
    cx, tn, _ = simulate(Design(n_tenants=400, n_complexes=70, missing_rate=missing_rate),
                         seed=2)
    problems = validate_study(cx, tn, complexes_file="complexes.csv",
                              tenants_file="tenants.csv")
    errors = [p for p in problems if p.severity == "error"]
    assert not errors, "\n".join(map(str, errors))


def test_group_sizes_unequal_and_every_complex_populated(small_study):
    cx, tn, _ = small_study
    assert cx["complex_id"].is_unique and tn["tenant_id"].is_unique
    sizes = tn.groupby("complex_id").size()
    assert set(sizes.index) == set(cx["complex_id"])
    assert sizes.min() >= 1
    assert sizes.std() > 0
    assert sizes.sum() == SMALL_DESIGN.n_tenants
    assert set(cx["living_form"]) == set(cb.FORM_CODES)  # every form has a complex


def test_building_features_consistent_with_forms():
    cx, _, _ = simulate(seed=4)
    by_form = cx.groupby("living_form")
    for form in ("HZ", "RG"):
        assert (by_form.get_group(form)["floors"] >= 5).all(), form
    for form in ("LZ", "RR", "RB"):
        assert (by_form.get_group(form)["floors"] <= 4).all(), form
    for form in cb.FORMS:
        group = by_form.get_group(form.code)
        if form.clustered:
            assert (group["meeting_room"] == 1).all(), form.code
        else:
            assert (group["meeting_room"] == 0).all(), form.code
    # LZ is defined by having no meeting room, kitchen or dining room
    assert (by_form.get_group("LZ")["kitchen_dining"] == 0).all()
    assert (cx["floors"] >= 1).all() and (cx["units"] >= 1).all()
    assert (cx["address_density"] > 0).all()


def test_shared_trait_and_correlated_complexes_link_the_outcomes():
    """The stress switches: an unmeasured sociability shared by the outcomes and complex
    effects correlated across them; off (the default) nothing else changes."""
    base = Design(n_tenants=2000, n_complexes=300)
    _, plain, _ = simulate(base, seed=3)
    _, trait, tr = simulate(Design(2000, 300, sociability=1.5), seed=3)
    _, corr, _ = simulate(Design(2000, 300, complex_correlation=0.9), seed=3)
    covariates = ["female", "age_group", "extraversion", "lives_alone"]
    pd.testing.assert_frame_equal(plain[covariates], trait[covariates])

    def within(t):  # tenant-level association of two outcomes sharing the trait
        return np.corrcoef(t["organised_together"], t["maintained_together"])[0, 1]

    def between(t):  # association of the complexes' mean outcomes
        m = t.groupby("complex_id")[["organised_together", "gossip"]].mean()
        return np.corrcoef(m["organised_together"], m["gossip"])[0, 1]

    assert within(trait) > within(plain) + 0.05
    assert between(corr) > between(plain) + 0.1
    assert tr["shared_trait"]["sd"] == 1.5
    with pytest.raises(ValueError, match="complex_correlation"):
        Design(complex_correlation=1.0)
