"""The delta adjustment for non-ignorable non-response and its tipping points."""

from __future__ import annotations

import numpy as np
import pytest

from data.suite import default_specs
from diagnostics.tipping import delta_probabilities, tipping_points
from tests.conftest import quick_fit

FORMS = ["A", "B", "C"]


def _probs(deltas, slope_a, slope_b, base_a, base_b, sd=0.01, draws=400):
    """(deltas, S, 3) probabilities: form A's and B's move linearly with delta; C is the
    reference at 0.3."""
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=sd, size=draws)
    out = np.empty((len(deltas), draws, 3))
    for i, d in enumerate(deltas):
        out[i, :, 0] = base_a + slope_a * d + noise
        out[i, :, 1] = base_b + slope_b * d + noise
        out[i, :, 2] = 0.3
    return out


def test_tipping_point_is_where_the_contrast_reaches_zero():
    deltas = np.array([-2, -1, -0.5, 0, 0.5, 1, 2], float)
    # A: 10 pp above C at delta 0, +8 pp per unit delta -> mean reaches 0 at delta -1.25
    # B: 5 pp below C, rising 1 pp per unit -> never reaches 0 within +2
    probs = _probs(deltas, 0.08, 0.01, 0.40, 0.25)
    table = tipping_points(probs, deltas, FORMS, "C", model="m", outcome="y", event="P(y)")
    a = table[table["contrast"] == "A - C"]
    b = table[table["contrast"] == "B - C"]
    assert set(a["conclusion"]) == {"higher"} and set(b["conclusion"]) == {"lower"}
    assert a["delta_reversed"].iloc[0] == pytest.approx(-1.25, abs=0.02)
    # the interval reaches 0 a little before the mean does (towards 0 from -1.25)
    assert -1.25 < a["delta_uncertain"].iloc[0] < -1.0
    assert np.isnan(b["delta_reversed"].iloc[0]) and np.isnan(b["delta_uncertain"].iloc[0])
    # at delta 0 the contrast is the missing-at-random one
    zero = a[a["delta"] == 0]
    assert zero["mean"].iloc[0] == pytest.approx(10.0, abs=0.2)
    with pytest.raises(ValueError, match="must contain 0"):
        tipping_points(probs[1:], deltas[deltas != 0], FORMS, "C", model="m", outcome="y",
                       event="P(y)")


def test_an_uncertain_conclusion_has_no_tipping_point():
    deltas = np.array([-1, 0, 1], float)
    probs = _probs(deltas, 0.05, 0.0, 0.30, 0.30, sd=0.05)
    table = tipping_points(probs, deltas, FORMS, "C", model="m", outcome="y", event="P(y)")
    a = table[table["contrast"] == "A - C"]
    assert set(a["conclusion"]) == {"uncertain"} and a["delta_uncertain"].isna().all()


@pytest.fixture(scope="module")
def gossip_fit(small_frame):
    return quick_fit(default_specs()["gossip"], small_frame, draws=100, tune=150, seed=3)


def test_delta_shifts_only_the_non_respondents(gossip_fit):
    """pi = 0: delta changes nothing; pi = 1: the whole population is shifted by delta;
    in between, the population's probability is the mixture."""
    from diagnostics.effects import event_probability, focal_effects, posterior_draws, random_sd

    spec, data, tree = gossip_fit
    draws = posterior_draws(tree, max_draws=100)
    X, w = data.X, np.ones(data.n)
    deltas = (0.0, 1.0)
    none = delta_probabilities(spec, data, draws, X, w, np.zeros(data.n), deltas)
    np.testing.assert_allclose(none[0], none[1])
    everyone = delta_probabilities(spec, data, draws, X, w, np.ones(data.n), deltas)
    effect = focal_effects(spec, data, draws)
    sd = random_sd(spec, draws, X, data, focal_index=0)
    shifted = event_probability(spec, data, draws, X=X, offset=effect[:, 0] + 1.0, sd=sd)
    np.testing.assert_allclose(everyone[1][:, 0], shifted)
    half = delta_probabilities(spec, data, draws, X, w, np.full(data.n, 0.5), deltas)
    np.testing.assert_allclose(half[1], 0.5 * (none[1] + everyone[1]))
    assert (everyone[1] > none[1]).all()  # a positive delta: more of the event


@pytest.mark.slow
def test_tipping_command_refits_on_delta_adjusted_imputations(tmp_path):
    """``run_models.py tipping``: every delta refitted, the table at delta 0 is the
    missing-at-random analysis, the contrasts move with delta, errors are clean."""
    import pandas as pd

    import run_models
    from data.simulate import Design, write_simulation

    data = tmp_path / "data"
    write_simulation(data, seed=3,
                     design=Design(n_tenants=500, n_complexes=80, covariate_missing=0.15))
    out = tmp_path / "tip"
    argv = ["tipping", "--data", str(data), "--outcomes", "lonely", "--column", "extraversion",
            "--deltas=-1,0,1", "--imputations", "2", "--quick", "--out", str(out)]
    assert run_models.main(argv) == 0
    table = pd.read_csv(out / "tipping_covariates.csv")
    assert set(table["delta"]) == {-1.0, 0.0, 1.0} and set(table["column"]) == {"extraversion"}
    assert (out / "tipping_covariates.png").stat().st_size > 0
    wide = table.pivot_table(index="contrast", columns="delta", values="mean")
    assert (wide[1.0] != wide[0.0]).any()  # the refits differ
    assert run_models.main([*argv[:-2], "--out", str(tmp_path / "x"), "--column",
                            "lonely"]) != 0
