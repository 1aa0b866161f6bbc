"""Slow tier: in a world with an unmeasured sociability shared by the outcomes and complex
effects correlated across them, the joint model's *total* effect of a living form on
friendly contact covers the brute-force truth, and the report's conditional contrast
(friendly contact among those with contact) does not estimate it.

Activity participation is the harder case: with the trait, selection into "organised"
makes P(weekly | organised) depend on both parts' complex effects in a way one correlation
cannot carry, so the total estimate is closer to the truth than the conditional one but its
intervals cover less than nominally (measured at seed 7: 3 of 6 contrasts, errors up to
-7 pp, the clustered forms underestimated); that is what is asserted, and printed.

Run with ``uv run pytest -m slow tests/test_total_effects_slow.py -s`` (about 6 minutes on
2 cores: two joint fits, two single fits, 60 brute-force replications per form).
"""

from __future__ import annotations

import numpy as np
import pytest

from data.loader import StudyData
from data.simulate import Design, simulate, total_truth
from data.suite import default_specs, two_part_specs
from diagnostics.effects import probability_effects, total_effects
from inference.engine import Engine, SamplerSettings
from models.design import prepare

pytestmark = pytest.mark.slow
WORLD = Design(sociability=1.0, complex_correlation=0.6)
SEED = 7
SETTINGS = SamplerSettings(chains=4, draws=500, tune=500, seed=3, predictive=False)


@pytest.fixture(scope="module")
def world():
    cx, tn, _ = simulate(WORLD, seed=SEED)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    return frame, total_truth(WORLD, seed=SEED, n_rep=60)


def _truth_contrasts(truth: dict) -> dict[str, float]:
    return {f"{f} - HZ": 100 * (p - truth["HZ"]) for f, p in truth.items() if f != "HZ"}


def _covered(rows, truth: dict[str, float]) -> dict[str, bool]:
    rows = rows.set_index("contrast")
    return {c: bool(rows.loc[c, "q05"] <= t <= rows.loc[c, "q95"]) for c, t in truth.items()}


# least number of the 6 total contrasts (vs HZ) whose 90% interval covers the truth
MIN_COVERED = {"friendly_contact": 5, "activity_participation": 3}


@pytest.mark.parametrize("outcome", ["friendly_contact", "activity_participation"])
def test_total_effect_covers_the_truth_and_the_conditional_one_does_not(world, outcome):
    frame, truth = world
    specs = default_specs()
    joint = two_part_specs(specs)[f"{outcome}__total"]
    d1, d2 = prepare(frame, joint.gate), prepare(frame, joint.part)
    engine = Engine()
    tree = engine.fit_joint(joint, d1, d2, SETTINGS)
    total = total_effects(tree, joint, d1, d2, frame)
    want = _truth_contrasts(truth[outcome])
    covered = _covered(total, want)
    rows = total.set_index("contrast")
    error = {c: rows.loc[c, "mean"] - t for c, t in want.items()}
    print(f"\n{outcome} total: truth {want}\n  error {error}\n  covered {covered}")

    spec = specs[outcome]
    data = prepare(frame, spec)
    cond = probability_effects(engine.fit(spec, data, SETTINGS), spec, data)
    cond_error = {c: cond.set_index("contrast").loc[c, "mean"] - t for c, t in want.items()}
    cond_covered = _covered(cond, want)
    print(f"  conditional error {cond_error}\n  covered {cond_covered}")
    assert sum(covered.values()) >= MIN_COVERED[outcome], covered
    # the conditional contrast answers another question: further from the total truth
    assert np.mean(np.abs(list(cond_error.values()))) > \
        1.5 * np.mean(np.abs(list(error.values())))
    assert sum(cond_covered.values()) <= 4, cond_covered
