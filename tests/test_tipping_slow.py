"""Slow tier: the delta adjustment recovers outcome-dependent non-response of a known delta.

A world where the lonely answer less (``Design(response_outcome=-1)``: the response
log-odds of a lonely tenant 1 lower). Within a register cell the odds of loneliness among
non-respondents are then exp(+1) times those among respondents like them, so the delta
adjustment at ``delta = +1`` describes the world and at ``delta = 0`` (missing at random
given the cells) it does not. The population's share of lonely tenants per living form
(MRP, a new complex) must be covered at delta = 1 and missed at delta = 0. About 3 minutes
on 2 cores (``uv run pytest -m slow tests/test_tipping_slow.py -s``).
"""

from __future__ import annotations

import numpy as np
import pytest

from data.simulate import Design, probability_truth, simulate_survey
from inference.engine import Engine, SamplerSettings
from workflows.validate import VALIDATE_SAMPLER

pytestmark = pytest.mark.slow
WORLD = Design(invited=14921, response_outcome=-1.0)
SEED = 11
TRUE_DELTA = 1.0


def test_the_known_delta_covers_the_population_and_zero_does_not(tmp_path):
    from data.loader import StudyData
    from data.population import load_population, mrp_target
    from data.suite import default_specs
    from diagnostics.effects import population_design, posterior_draws
    from diagnostics.tipping import delta_probabilities, nonresponse_share
    from models.design import aligned_frame, prepare

    cx, tn, _, register = simulate_survey(WORLD, seed=SEED)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    register.to_csv(tmp_path / "register.csv", index=False)
    pop = load_population(tmp_path / "register.csv", frame)
    spec = default_specs()["lonely"]
    data = prepare(frame, spec)
    tree = Engine().fit(spec, data, SamplerSettings(**VALIDATE_SAMPLER, seed=3,
                                                    predictive=False))
    rows = aligned_frame(frame, spec, data).reset_index(drop=True)
    target = mrp_target(pop, rows, draws=400)
    draws = posterior_draws(tree, max_draws=400)
    X, w = population_design(target, spec, data, np.arange(data.n), 400)
    deltas = (0.0, TRUE_DELTA)
    probs = 100 * delta_probabilities(spec, data, draws, X, w, nonresponse_share(pop, target),
                                      deltas)
    truth = probability_truth(WORLD, seed=SEED, n_rep=10, outcomes=("lonely",),
                              target="population")["lonely"]
    forms = list(data.level_labels[spec.focal])
    true = 100 * np.array([truth[f] for f in forms])
    covered, gap = {}, {}
    for i, d in enumerate(deltas):
        q = np.quantile(probs[i], [0.05, 0.95], axis=0)
        covered[d] = int(((q[0] <= true) & (true <= q[1])).sum())
        gap[d] = float(np.mean(probs[i].mean(axis=0) - true))
        print(f"\ndelta {d:+.1f}: covers {covered[d]}/7, mean error {gap[d]:+.2f} pp "
              f"(estimate {np.round(probs[i].mean(axis=0), 1)}, truth {np.round(true, 1)})")
    assert gap[0.0] < -3.0  # missing at random misses low: the lonely did not answer
    assert covered[TRUE_DELTA] >= 5 and covered[0.0] <= 2
    assert abs(gap[TRUE_DELTA]) < abs(gap[0.0]) / 3
