"""Sensitivity to unmeasured confounding: E-values, bounding factors and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics.robustness import (
    bias_factor,
    covariate_benchmarks,
    e_value,
    odds_to_risk_ratio,
    robustness_table,
    strength_multiple,
)


def test_e_value_matches_the_published_examples():
    # VanderWeele & Ding (2017): RR 3.9 -> E-value 7.26; a protective RR is inverted
    assert e_value(3.9) == pytest.approx(7.26, abs=0.01)
    assert e_value(1 / 3.9) == pytest.approx(7.26, abs=0.01)
    assert e_value(1.0) == 1.0
    # the E-value is the equal strength that gives exactly that bias
    e = e_value(2.0)
    assert bias_factor(e, e) == pytest.approx(2.0)


def test_strength_multiple_scales_a_benchmark_to_the_needed_bias():
    needed = bias_factor(1.5**2, 2.0**2)
    assert strength_multiple(1.5, 2.0, needed) == pytest.approx(2.0, rel=1e-6)
    assert strength_multiple(1.5, 2.0, bias_factor(1.5, 2.0)) == pytest.approx(1.0, rel=1e-6)
    assert strength_multiple(1.5, 2.0, 1.0) == 0.0
    assert strength_multiple(1.0, 2.0, 1.3) == np.inf  # unrelated to the exposure


def test_odds_ratio_to_risk_ratio():
    assert odds_to_risk_ratio(1.0, 0.3) == 1.0
    assert odds_to_risk_ratio(3.0, 0.001) == pytest.approx(3.0, rel=1e-2)  # rare: OR ~ RR
    assert odds_to_risk_ratio(3.0, 0.5) == pytest.approx(1.5)


def test_benchmarks_read_prevalence_and_coefficient():
    rng = np.random.default_rng(1)
    n = 4000
    level = rng.integers(0, 2, n)
    # a binary covariate twice as common in level 1, a numeric one unrelated to the level
    x1 = (rng.random(n) < np.where(level == 1, 0.4, 0.2)).astype(float)
    x2 = rng.normal(size=n)
    bench = covariate_benchmarks(term_names=("c1", "c2"), X=np.column_stack([x1, x2]),
                                 level=level, level_a=1, level_b=0,
                                 beta=np.array([np.log(3.0), 0.0]), base=0.001)
    bench = bench.set_index("covariate")
    assert bench.loc["c1", "rr_exposure"] == pytest.approx(2.0, rel=0.15)
    assert bench.loc["c1", "rr_outcome"] == pytest.approx(3.0, rel=0.02)
    assert bench.loc["c2", "rr_outcome"] == pytest.approx(1.0)
    assert bench.loc["c2", "bias"] == 1.0
    assert bench.loc["c1", "bias"] == pytest.approx(bias_factor(
        bench.loc["c1", "rr_exposure"], bench.loc["c1", "rr_outcome"]))


def _row(model, contrast, rr, low, high):
    return {"model": model, "outcome": "y", "contrast": contrast, "mean": 1.0, "q05": 0.0,
            "q95": 2.0, "rr_median": rr, "rr_lower": low, "rr_upper": high}


def test_robustness_table_flags_what_a_measured_strength_could_overturn():
    rows = pd.DataFrame([_row("m", "A - R", 1.3, 1.1, 1.5),      # fragile
                         _row("m", "B - R", 4.0, 3.0, 5.0),      # robust
                         _row("m", "C - R", 0.9, 0.7, 1.05)])    # includes no effect
    strong = pd.DataFrame([{"covariate": "c", "rr_exposure": 2.0, "rr_outcome": 2.0,
                            "bias": bias_factor(2.0, 2.0)}])
    bench = {("m", c): strong for c in ("A - R", "B - R", "C - R")}
    table = robustness_table(rows, bench).set_index("contrast")
    assert table.loc["A - R", "e_value_interval"] == pytest.approx(e_value(1.1))
    assert table.loc["A - R", "k_interval"] < 1 < table.loc["B - R", "k_interval"]
    assert "fragile" in table.loc["A - R", "robustness"]
    assert table.loc["C - R", "e_value_interval"] == 1.0
    assert "already includes" in table.loc["C - R", "robustness"]
    # halving needs less than explaining away, which needs more than the interval's limit
    for c in ("A - R", "B - R"):
        r = table.loc[c]
        assert r.e_value_halve < r.e_value_point and r.e_value_interval < r.e_value_point
