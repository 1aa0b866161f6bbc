"""Probability-scale effects (g-computation) and the findings table on hand-set posteriors."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from data import codebook as cb
from data.findings import Finding
from data.study import HOUSING
from data.suite import default_specs
from diagnostics.effects import form_probabilities, probability_effects
from diagnostics.findings import check_findings
from models.design import prepare

FORMS = list(cb.FORM_CODES)


def _tree(data, *, effect, sd_complex, intercept=0.0, beta_scale=0.0, n_draws=50, extra=None):
    """A posterior with constant draws (2 chains) at the given values."""
    p = len(data.term_names)
    shape = (2, n_draws)
    post = xr.Dataset({
        "beta": (("chain", "draw", "term"), np.full((*shape, p), beta_scale)),
        "intercept": (("chain", "draw"), np.full(shape, intercept)),
        "sd_complex_id": (("chain", "draw"), np.full(shape, sd_complex)),
        # a (7,) vector is the same in every draw; a (2, n_draws, 7) array is used as is
        "living_form_effect": (("chain", "draw", "living_form"),
                               np.broadcast_to(np.asarray(effect, float), (*shape, 7)).copy()),
        **(extra or {}),
    }, coords={"term": list(data.term_names), "living_form": FORMS})
    return xr.DataTree.from_dict({"posterior": post})


@pytest.fixture(scope="module")
def gossip(small_frame):
    spec = default_specs()["gossip"]
    return spec, prepare(small_frame, spec)


def test_probabilities_are_expit_of_the_form_effect_without_complex_variance(gossip):
    spec, data = gossip
    effect = np.zeros(7)
    effect[FORMS.index("GG")] = np.log(3.0)  # P = 0.75 with beta = 0, intercept 0
    tree = _tree(data, effect=effect, sd_complex=0.0)
    probs = form_probabilities(tree, spec, data)
    assert probs.sel(living_form="GG").values == pytest.approx(0.75)
    assert probs.sel(living_form="HZ").values == pytest.approx(0.5)
    table = probability_effects(tree, spec, data, pooled=HOUSING.pooled).set_index("contrast")
    assert table.loc["GG - HZ", "mean"] == pytest.approx(25.0)
    assert table.loc["GG - HZ", "p_positive"] == 1.0
    assert table.loc["RB - HZ", "mean"] == pytest.approx(0.0)
    # vs the average non-clustered form (GG, LZ, HZ): RB 50 - mean(75, 50, 50)
    assert table.loc["RB - non-clustered", "mean"] == pytest.approx(50 - 175 / 3)


def test_new_complex_estimand_integrates_the_complex_variance(gossip):
    spec, data = gossip
    effect = np.zeros(7)
    effect[FORMS.index("GG")] = np.log(3.0)
    tree = _tree(data, effect=effect, sd_complex=1.5)
    new = form_probabilities(tree, spec, data, estimand="new_complex")
    avg = form_probabilities(tree, spec, data, estimand="typical_complex")
    assert avg.sel(living_form="GG").values == pytest.approx(0.75)
    # a new complex's effect is unknown: the probability shrinks towards 1/2, by the amount a
    # brute-force Monte Carlo over u ~ N(0, 1.5^2) gives
    u = np.random.default_rng(0).normal(0, 1.5, 400_000)
    assert new.sel(living_form="GG").values == pytest.approx(expit(np.log(3) + u).mean(),
                                                             abs=2e-3)
    assert new.sel(living_form="HZ").values == pytest.approx(0.5)


def test_intervals_are_drawwise(gossip):
    spec, data = gossip
    rng = np.random.default_rng(1)
    effect = rng.normal(0, 0.5, (2, 50, 7))
    tree = _tree(data, effect=effect, sd_complex=0.0)
    table = probability_effects(tree, spec, data, max_draws=100).set_index("contrast")
    diff = 100 * (expit(effect[..., 0]) - expit(effect[..., 2])).ravel()  # GG - HZ per draw
    assert table.loc["GG - HZ", "mean"] == pytest.approx(diff.mean())
    assert table.loc["GG - HZ", "q05"] == pytest.approx(np.quantile(diff, 0.05))
    # Monte Carlo errors of the summaries, from the draws used (all 100 here)
    row = table.loc["GG - HZ"]
    assert row["n_draws"] == 100
    assert row["mcse_mean"] == pytest.approx(np.std(diff, ddof=1) / 10)
    p = (diff > 0).mean()
    assert row["p_mcse"] == pytest.approx(np.sqrt(p * (1 - p) / 100))
    assert np.isnan(table.loc["GG", "p_mcse"])  # a level, not a contrast


def test_unknown_estimand_is_an_error(gossip):
    spec, data = gossip
    with pytest.raises(ValueError, match="estimand"):
        form_probabilities(_tree(data, effect=0.0, sd_complex=0.0), spec, data,
                           estimand="typical")


def test_findings_verdicts(gossip):
    spec, data = gossip
    rng = np.random.default_rng(2)
    effect = rng.normal(0, 0.05, (2, 50, 7))
    effect[..., FORMS.index("RB")] += 1.0   # RB clearly above HZ
    effect[..., FORMS.index("RG")] -= 1.0   # RG clearly below HZ
    effect[..., FORMS.index("GG")] = rng.normal(0, 1, (2, 50))  # GG vs HZ undecided
    tree = _tree(data, effect=effect, sd_complex=0.3)
    findings = [Finding("gossip", "contrast", "RB - HZ", +1, "RB more"),
                Finding("gossip", "contrast", "RG - HZ", +1, "RG more"),
                Finding("gossip", "contrast", "GG - HZ", +1, "GG more"),
                Finding("gossip", "beta", "no_such_term", +1, "absent"),
                Finding("lonely", "contrast", "RB - HZ", -1, "no fit")]
    table = check_findings({"gossip": tree}, findings=findings)
    assert list(table["verdict"]) == ["supported", "contradicted", "uncertain",
                                      "not estimable", "not estimable"]
    assert table["p_claim"].iloc[0] == 1.0 and table["p_against"].iloc[1] == 1.0
    assert set(table["claim_type"]) == {"directional"}
    assert table["verdict_rule"].str.startswith("supported: P(claimed sign) >= 0.95").all()
    assert table["p_mcse"].iloc[0] == 0.0  # every draw agrees
    gg = effect[..., FORMS.index("GG")] - effect[..., FORMS.index("HZ")]
    from arviz_stats.base import array_stats
    expected = array_stats.mcse((gg > 0).astype(float), chain_axis=-2, draw_axis=-1)
    assert table["p_mcse"].iloc[2] == pytest.approx(float(expected))
    assert 0.02 < table["p_mcse"].iloc[2] < 0.2  # ~ sqrt(p (1 - p) / ESS), 100 draws


def test_a_sentence_with_several_pairs_is_judged_jointly(gossip):
    """Two pairs that each hold in about half the draws but never in the same draw: the
    joint claim has probability 0, which judging the pairs one by one cannot show."""
    spec, data = gossip
    rng = np.random.default_rng(3)
    effect = np.zeros((2, 50, 7))
    split = rng.random((2, 50)) < 0.5
    effect[..., FORMS.index("RB")] = np.where(split, 1.0, -0.05)
    effect[..., FORMS.index("RG")] = np.where(split, -0.05, 1.0)
    effect[..., FORMS.index("GG")] = 1.0
    tree = _tree(data, effect=effect, sd_complex=0.3)
    claim = "RB and RG more"
    findings = [Finding("gossip", "contrast", "RB - HZ", +1, claim),
                Finding("gossip", "contrast", "RG - HZ", +1, claim),
                Finding("gossip", "contrast", "GG - HZ", +1, "GG more")]
    table = check_findings({"gossip": tree}, findings=findings)
    joint = table[table["kind"] == "joint"]
    assert len(joint) == 1  # one sentence with two pairs; GG's sentence has one
    row = joint.iloc[0]
    assert row["parameter"] == "RB - HZ & RG - HZ" and row["claim"] == claim
    assert row["p_claim"] == 0.0 and row["p_against"] == 1.0 and row["verdict"] == "fails"
    assert row["claim_type"] == "joint"
    pairs = table[table["kind"] == "contrast"].set_index("parameter")["p_claim"]
    assert pairs["RB - HZ"] == pytest.approx(split.mean()) and pairs["GG - HZ"] == 1.0
