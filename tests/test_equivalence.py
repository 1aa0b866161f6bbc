"""Verdict words and equivalence claims on synthetic posterior draws (no model fitting).

A world's posterior for k forms is drawn as a flat-prior normal posterior would be: each
form's posterior mean is its true share plus sampling noise of the posterior's own sd
("much data": sd 0.1 pp; "little data": sd 3 pp), its draws scatter around that mean.
"""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data.findings import Equivalence
from diagnostics.equivalence import LARGEST, equivalence_rows, rope_width
from diagnostics.findings import (
    VERDICT_RULES,
    check_equivalences,
    claim_summary,
    directional_verdict,
    joint_verdict,
    rope_sensitivity,
    verdict_counts,
)
from diagnostics.methods import conclusions_text

FORMS = ["HZ", "LZ", "RO", "RR", "RG", "RB", "GG"]


def _world(truth_pp, sd_pp, *, seed, n_draws=400):
    """Posterior draws (sample, form) in percentage points of a world with ``truth_pp``."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth_pp, dtype=float)
    means = truth + sd_pp * rng.normal(size=truth.shape)  # what this data set estimates
    return means + sd_pp * rng.normal(size=(n_draws, len(truth)))


def _claim(values, rope=2.0):
    return equivalence_rows(values, FORMS, rope=rope).iloc[0]


def _one_apart(pp):
    truth = np.full(7, 15.0)
    truth[FORMS.index("GG")] += pp
    return truth


def test_one_pp_apart_is_equivalent_with_much_data_and_uncertain_with_little():
    much = _claim(_world(_one_apart(1.0), 0.1, seed=1))
    assert much["pair"] == LARGEST and much["verdict"] == "equivalent", much.to_dict()
    assert much["p_equivalent"] >= 0.95 and much["upper"] < 2.0
    assert much["mean"] == pytest.approx(1.0, abs=0.3)
    little = _claim(_world(_one_apart(1.0), 3.0, seed=1))
    assert little["verdict"] == "uncertain", little.to_dict()
    assert little["p_equivalent"] < 0.05  # nothing equivalent about it, nor different


def test_five_pp_apart_is_different_and_names_the_pairs():
    rows = equivalence_rows(_world(_one_apart(5.0), 0.3, seed=2), FORMS, rope=2.0)
    claim, pairs = rows.iloc[0], rows.iloc[1:].set_index("pair")
    assert claim["verdict"] == "different" and claim["p_different"] >= 0.95
    assert len(pairs) == 21
    with_gg = pairs.index.str.contains("GG")
    assert (pairs.loc[with_gg, "verdict"] == "different").all()
    assert (pairs.loc[~with_gg, "verdict"] == "equivalent").all()
    # the simultaneous band of GG's pairs lies wholly beyond the ROPE, on GG's side
    gg = pairs.loc["HZ - GG"]
    assert gg["band_hi"] < -2.0 and gg["mean"] == pytest.approx(-5.0, abs=0.8)
    assert claim["p_different"] == pairs["p_different"].max()


def test_pure_noise_is_not_read_as_a_difference():
    """Seven equal forms, posteriors 1 pp wide. The range of the posterior means (the old
    statistic) is beyond the 2 pp ROPE, and so is the largest difference per draw in nearly
    every draw -- judged "different" by P(largest > ROPE) or by the old rule (P(inside) <=
    0.05: "not supported") the noise would read as a difference. The simultaneous band
    leaves it uncertain."""
    values = _world(np.full(7, 15.0), 1.0, seed=3)
    assert np.ptp(values.mean(axis=0)) > 2.0  # range of posterior means: "beyond the ROPE"
    claim = _claim(values)
    assert 1 - claim["p_equivalent"] >= 0.95  # the old verdict's and the naive rule's reading
    assert claim["verdict"] == "uncertain", claim.to_dict()


def test_false_different_rate_in_null_worlds_stays_near_five_percent():
    """Over 200 worlds where every form is equal (posterior sd 1 or 3 pp): the share judged
    "different" stays at most 5% (+ Monte Carlo slack), where the range of the posterior
    means passes the 2 pp ROPE in most of them."""
    different, by_range, n = 0, 0, 0
    for seed in range(100):
        for sd in (1.0, 3.0):
            values = _world(np.full(7, 15.0), sd, seed=1000 + seed, n_draws=300)
            different += _claim(values)["verdict"] == "different"
            by_range += np.ptp(values.mean(axis=0)) > 2.0
            n += 1
    assert different / n <= 0.08, different / n
    assert by_range / n >= 0.75, by_range / n


def test_directional_and_joint_verdicts_have_their_own_words():
    assert directional_verdict(0.95, 0.05) == "supported"
    assert directional_verdict(0.03, 0.97) == "contradicted"
    assert directional_verdict(0.94, 0.06) == "uncertain"
    # draws exactly at zero count for neither sign: not contradicted without 95% against
    assert directional_verdict(0.0, 0.5) == "uncertain"
    assert joint_verdict(0.96) == "holds" and joint_verdict(0.05) == "fails"
    assert joint_verdict(0.5) == "uncertain"
    assert set(VERDICT_RULES) == {"directional", "joint", "equivalence"}
    assert not any("not supported" in rule for rule in VERDICT_RULES.values())


def test_rope_width_is_a_tenth_of_a_latent_sd_at_the_base_rate():
    assert rope_width(np.array([0.15]), on_probability_scale=True,
                      response_sd=0.36) == pytest.approx(2.33, abs=0.01)
    assert rope_width(np.array([0.5]), on_probability_scale=True,
                      response_sd=0.5) == pytest.approx(3.99, abs=0.01)
    assert rope_width(np.array([3.5]), on_probability_scale=False,
                      response_sd=0.8) == pytest.approx(0.08)
    assert rope_width(np.array([0.15]), on_probability_scale=True, response_sd=0.36,
                      rope_sd=0.2) == pytest.approx(4.66, abs=0.02)


def _probabilities():
    close = _world(_one_apart(1.0), 0.2, seed=4) / 100  # shares: 15%, GG 16%
    apart = _world(_one_apart(5.0), 0.2, seed=5) / 100
    gauss = 3.5 + np.random.default_rng(6).normal(0, 0.01, (400, 7))

    def array(v):
        return xr.DataArray(v, dims=("sample", "living_form"), coords={"living_form": FORMS})
    return {"a": (array(close), True, 0.36), "b": (array(apart), True, 0.36),
            "c": (array(gauss), False, 0.8)}


def test_findings_rows_and_the_rope_sensitivity_table():
    eqs = [Equivalence(o, f"{o}: little difference") for o in "abc"]
    table = check_equivalences(_probabilities(), equivalences=eqs)
    by = table.set_index("outcome")
    assert list(by["verdict"]) == ["equivalent", "different", "equivalent"]
    assert set(table["claim_type"]) == {"equivalence"}
    assert by.loc["a", "expected"] == "< 2.34 pp (ROPE, 0.1 SD)"  # base rate ~15.1%
    assert by.loc["c", "expected"] == "< 0.08 response units (ROPE, 0.1 SD)"
    assert by.loc["b", "posterior_mean"] == pytest.approx(5.0, abs=0.8)
    assert by.loc["b", "p_against"] >= 0.95 and by.loc["a", "p_claim"] >= 0.95
    assert table["verdict_rule"].str.startswith("equivalent:").all()

    rope = rope_sensitivity(_probabilities(), equivalences=eqs, widths=(0.05, 0.1, 0.2))
    assert len(rope) == 3 * 3 * 22  # outcomes x widths x (claim + 21 pairs)
    assert list(rope.columns[:6]) == ["outcome", "claim", "rope_sd", "rope", "unit", "pair"]
    claims = rope[rope["pair"] == LARGEST].set_index(["outcome", "rope_sd"])
    # a 1 pp difference: too big for a 1.2 pp ROPE, inside 2.3 and 4.7 pp
    assert claims.loc[("a", 0.05), "verdict"] in ("different", "uncertain")
    assert claims.loc[("a", 0.1), "verdict"] == claims.loc[("a", 0.2), "verdict"] == \
        "equivalent"
    # P(equivalent) grows with the width; 5 pp is different at up to 0.1 sd (2.4 pp), and
    # uncertain at 0.2 sd, whose 4.8 pp ROPE almost reaches the difference itself
    for outcome in "abc":
        assert claims.loc[outcome, "p_equivalent"].is_monotonic_increasing
    assert claims.loc["b", "verdict"].tolist() == ["different", "different", "uncertain"]


def test_claim_summary_and_counts_use_each_claim_types_words():
    eq = check_equivalences(_probabilities(),
                            equivalences=[Equivalence("b", "b: little difference")])
    directional = pd.DataFrame([
        {"outcome": "x", "parameter": p, "kind": "contrast", "claim_type": "directional",
         "claim": "X more", "p_claim": pc, "p_against": 1 - pc, "verdict": v}
        for p, pc, v in (("RB - HZ", 0.99, "supported"), ("RR - HZ", 0.5, "uncertain"))]
        + [{"outcome": "x", "parameter": "RB - HZ & RR - HZ", "kind": "joint",
            "claim_type": "joint", "claim": "X more", "p_claim": 0.49, "p_against": 0.51,
            "verdict": "uncertain"}])
    findings = pd.concat([directional, eq], ignore_index=True)
    summary = claim_summary(findings).set_index("claim")
    assert summary.loc["X more", "claim_type"] == "joint"
    assert summary.loc["X more", ["supported", "uncertain", "contradicted"]].tolist() == \
        [1, 1, 0]
    assert summary.loc["b: little difference", "verdict"] == "different"
    assert verdict_counts(findings) == ("directional: 1 supported, 1 uncertain; "
                                        "joint: 1 uncertain; equivalence: 1 different")


def test_methods_text_argues_the_rope_and_states_the_rules():
    text = conclusions_text()
    for words in ("supported when P(claimed sign) \u2265 0.95", "contradicted", "holds",
                  "fails", "equivalent when P(largest < ROPE)", "simultaneous 95%",
                  "\u00b12.3 pp at a 15% base rate", "[rope]", "findings_rope.csv",
                  "0 of 126 false form-difference claims", "upper bound 2.9%"):
        assert words in text, words
