"""Slow: would the model checks notice a world that breaks the model?

For the contact model (cumulative) in four worlds, ``workflows.validate.world_checks`` runs
the focal-level predictive checks (proportional odds per form, spread of complex means per
form with new complex effects) and leave-one-complex-out (PSIS-LOGO) of the relaxed variants
(complex SD by form, category-specific form effects) against the default model.

Asserted: the non-proportional-odds and the form-specific-SD worlds are flagged, the models'
own world is not. For contact alone the probit world is reported, not asserted: a logit and
a probit link differ mainly in the tails, which 2,963 three-category answers barely reach.
Measured 2026-12-07 with the probit-link variant: it predicts new complexes better than the
logit model by 2.6 elpd (SE 1.9) in the probit world, short of the 2 SE that flags, and by
0.4 (SE 1.9) in the default world; -3.3 and -4.2 in the other two broken worlds.

The link is a property of every rating scale of the survey, so the second test pools the
probit variant's gain per complex over the four cumulative outcomes
(:func:`diagnostics.worlds.pooled_link_rows`) and asserts that this flags the probit world
and not the models' own. Measured 2026-12-07 (data seed 7): probit world +10.2 elpd (SE
3.3), flagged -- per outcome contact +2.6 (1.9), activity participation +1.5 (0.8), help
received +2.0 (1.6), help given +4.1 (1.5); default world +1.7 (SE 3.4), not flagged --
per outcome +0.4, +0.6, -0.3, +1.0. One data set per world: the pooled test's power at this
design is about where its z of 3.1 puts it, not a certainty.

Run: ``uv run pytest -m slow tests/test_world_checks_slow.py -s`` (about 30 minutes: 15 for
the four contact worlds, 15 for the pooled link check).
"""

from __future__ import annotations

import pandas as pd
import pytest

from data.loader import StudyData
from data.simulate import WORLDS, simulate
from data.suite import default_specs
from diagnostics.worlds import checks_by_world, pooled_link_rows
from inference.engine import Engine, SamplerSettings
from workflows.validate import world_checks

pytestmark = pytest.mark.slow

SETTINGS = SamplerSettings(chains=2, draws=500, tune=500, seed=3, prior_draws=50)
EXPECT = {"default": False, "non_proportional": True, "complex_sd_by_form": True,
          "probit": None}


@pytest.fixture(scope="module")
def flags():
    engine = Engine()
    spec = default_specs()["contact"]
    rows = []
    for world in EXPECT:
        cx, tn, _ = simulate(WORLDS[world], seed=7)
        frame = StudyData(complexes=cx, tenants=tn).merged()
        rows.append(world_checks(world, spec, frame, settings=SETTINGS, engine=engine)[0])
    table = pd.concat(rows, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(table.to_string(index=False))
        print(checks_by_world(table).to_string(index=False))
    return table


@pytest.mark.parametrize("world", list(EXPECT))
def test_checks_flag_the_broken_worlds_and_not_the_models_own(flags, world):
    summary = checks_by_world(flags).set_index("world")
    expected = EXPECT[world]
    if expected is None:
        pytest.skip(f"{world}: reported only (flagged={summary.loc[world, 'flagged']})")
    assert bool(summary.loc[world, "flagged"]) is expected, summary.loc[world, "which"]
    if world == "default":  # the relaxed variants predict new complexes no better
        logo = flags.query("world == 'default' and signal == 'LOGO relaxed variant'")
        assert len(logo) == 3 and (logo["value"] < 5).all(), logo


CUMULATIVE = ("contact", "activity_participation", "help_received", "help_given")


@pytest.fixture(scope="module")
def pooled_link():
    from workflows.validate import link_pairs

    engine = Engine()
    specs = default_specs()
    rows = {}
    for world in ("default", "probit"):
        cx, tn, _ = simulate(WORLDS[world], seed=7)
        frame = StudyData(complexes=cx, tenants=tn).merged()
        links = {}
        for outcome in CUMULATIVE:
            checks, pointwise = world_checks(world, specs[outcome], frame, settings=SETTINGS,
                                             engine=engine, only=("probit link",))
            print(checks[checks["signal"] == "LOGO relaxed variant"].to_string(index=False))
            links.update(link_pairs(specs[outcome], pointwise))
        rows[world] = pooled_link_rows(links, world=world)
        print(rows[world].to_string(index=False))
    return rows


@pytest.mark.parametrize("world", ["default", "probit"])
def test_the_link_check_pooled_over_cumulative_outcomes_flags_the_probit_world(pooled_link,
                                                                               world):
    row = pooled_link[world]
    assert len(row) == 1 and row["outcome"].item().count(",") == len(CUMULATIVE) - 1
    assert bool(row["flagged"].item()) is (world == "probit"), row["detail"].item()
