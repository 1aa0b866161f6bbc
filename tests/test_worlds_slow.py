"""Slow tier: coverage of the probability-scale contrasts in every test world.

Each world (data.simulate.WORLDS) breaks one assumption of the fitted models; the truth
is brute-force simulation of new complexes. Per world: contact, gossip and loneliness, 2
chains x (500 + 500), 60 replications per form for the truth -- about 2 minutes per world
on 2 cores (``uv run pytest -m slow tests/test_worlds_slow.py -s``; the same grid as
``run_models.py validate --outcomes contact,gossip,lonely``). The coverage and the true
nulls called "supported" are printed; the asserted floors are sanity bounds (a world built
to break the model may undercover, and that is what the printout is for), except in the
default world, the fitted models' own.
"""

from __future__ import annotations

import dataclasses

import pytest

from data.simulate import WORLDS
from diagnostics.worlds import coverage_by_world
from inference.engine import Engine, SamplerSettings
from workflows.validate import VALIDATE_SAMPLER, validate_world

pytestmark = pytest.mark.slow
SETTINGS = SamplerSettings(**VALIDATE_SAMPLER, seed=5, predictive=False)
OUTCOMES = ("contact", "gossip", "lonely")


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.mark.parametrize("world", list(WORLDS))
def test_coverage_in_world(world, engine):
    table, _ = validate_world(world, OUTCOMES, settings=SETTINGS, engine=engine)
    cov = coverage_by_world(table)
    print(f"\n{world}:\n{cov.round(3).to_string(index=False)}")
    covered, n = int(cov["covered"].sum()), int(cov["n"].sum())
    floor = 0.75 if world == "default" else 0.5
    assert covered >= floor * n, cov
    if world == "default":
        assert cov["nulls_supported"].sum() <= 1, cov
    assert dataclasses.asdict(WORLDS[world])  # the world is stated with the results
