"""Slow tier: from respondents to the invited population on simulated non-response.

A world where the oldest and those living alone answer much less (the response model's
register log-odds x 2.5, ``Design(invited=14921, response_selection=2.5)``): respondents
are not the population, but given the register's cells they are. The truth of every
form's event probability is simulated for both (every tenant placed in each form, in a new
complex). The respondent standardisation estimates the respondents' answer; the
post-stratified one (MRP over form x age group x sex x household) must move to the
population's: its draw-wise shift from the respondents' covers the true shift and excludes
zero, and its intervals cover the population truth. Contact, help given and loneliness,
2 chains x (500 + 500): about 4 minutes on 2 cores
(``uv run pytest -m slow tests/test_population_slow.py -s``).
"""

from __future__ import annotations

import numpy as np
import pytest

from data.simulate import Design, probability_truth, simulate_survey
from inference.engine import Engine, SamplerSettings
from workflows.validate import VALIDATE_SAMPLER

pytestmark = pytest.mark.slow
SETTINGS = SamplerSettings(**VALIDATE_SAMPLER, seed=5, predictive=False)
WORLD = Design(invited=14921, response_selection=2.5)  # strong selection
OUTCOMES = ("contact", "help_given", "lonely")
SEED = 7


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from data.loader import StudyData
    from data.population import load_population, mrp_target
    from data.suite import default_specs
    from diagnostics.effects import form_probabilities
    from models.design import aligned_frame, prepare

    cx, tn, _, register = simulate_survey(WORLD, seed=SEED)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    path = tmp_path_factory.mktemp("pop") / "register.csv"
    register.to_csv(path, index=False)
    pop = load_population(path, frame)
    engine, specs, out = Engine(), default_specs(), {}
    for outcome in OUTCOMES:
        spec = specs[outcome]
        data = prepare(frame, spec)
        tree = engine.fit(spec, data, SETTINGS)
        rows = aligned_frame(frame, spec, data)
        target = mrp_target(pop, rows.reset_index(drop=True), draws=400)  # as the main job
        out[outcome] = {
            "respondents": 100 * form_probabilities(tree, spec, data).values,
            "population": 100 * form_probabilities(tree, spec, data,
                                                   row_weights=target).values,
            "ess": target.info["ess"]}
    truth = {t: probability_truth(WORLD, seed=SEED, n_rep=n, outcomes=OUTCOMES, target=t)
             for t, n in (("respondents", 40), ("population", 10))}
    return out, truth


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_poststratification_moves_to_the_population(fitted, outcome):
    out, truth = fitted
    est = out[outcome]
    forms = list(truth["population"][outcome])
    pop_truth = 100 * np.array([truth["population"][outcome][f] for f in forms])
    resp_truth = 100 * np.array([truth["respondents"][outcome][f] for f in forms])
    true_shift = float(np.mean(pop_truth - resp_truth))  # averaged over the seven forms
    shift = (est["population"] - est["respondents"]).mean(axis=1)  # per draw
    lo, hi = np.quantile(shift, [0.05, 0.95])
    resp_gap = np.abs(est["respondents"].mean(axis=0) - pop_truth)
    mrp_gap = np.abs(est["population"].mean(axis=0) - pop_truth)
    q = np.quantile(est["population"], [0.05, 0.95], axis=0)
    covered = int(((q[0] <= pop_truth) & (pop_truth <= q[1])).sum())
    print(f"\n{outcome}: true shift {true_shift:+.2f} pp, estimated {shift.mean():+.2f} "
          f"[{lo:+.2f}, {hi:+.2f}]; |respondents - population truth| "
          f"{resp_gap.mean():.2f} pp vs MRP {mrp_gap.mean():.2f}; MRP covers {covered}/7; "
          f"weights' ESS {est['ess']:.0f}")
    assert abs(true_shift) > 1.0  # the world makes non-response matter
    assert lo <= true_shift <= hi  # the estimated shift covers the true one ...
    assert lo > 0 or hi < 0  # ... and is not nothing
    assert mrp_gap.mean() < resp_gap.mean()
    assert covered >= 5
