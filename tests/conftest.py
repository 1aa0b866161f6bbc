"""Shared fixtures: one small simulated study, built once per test session.

The simulator calibrates its intercepts/thresholds on first use (tens of seconds, cached per
process), so everything that needs simulated data should go through these fixtures.
"""

from __future__ import annotations

import pandas as pd
import pytest

from data.loader import StudyData
from data.simulate import Design, simulate

SMALL_DESIGN = Design(n_tenants=400, n_complexes=70)
SMALL_SEED = 5


@pytest.fixture(scope="session")
def small_study() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Raw canonical ``(complexes, tenants, truth)`` of the small design."""
    return simulate(SMALL_DESIGN, seed=SMALL_SEED)


def quick_fit(spec, frame: pd.DataFrame, *, draws: int, tune: int, seed: int):
    """``(spec, data, tree)``: ``spec`` prepared on ``frame`` and fitted briefly (2 chains,
    no predictive groups) -- for tests that need a real posterior, not a good one."""
    from inference.engine import Engine, SamplerSettings
    from models.design import prepare

    data = prepare(frame, spec)
    tree = Engine().fit(spec, data, SamplerSettings(draws=draws, tune=tune, chains=2,
                                                   seed=seed, predictive=False))
    return spec, data, tree


@pytest.fixture(scope="session")
def small_frame(small_study) -> pd.DataFrame:
    """The small study as an analysis frame: derived variables, recodes, complexes merged."""
    cx, tn, _ = small_study
    return StudyData(complexes=cx, tenants=tn).merged()


@pytest.fixture(scope="session")
def data_dir(small_study, tmp_path_factory):
    """The small simulated study as complexes.csv + tenants.csv (canonical format)."""
    cx, tn, _ = small_study
    directory = tmp_path_factory.mktemp("data")
    cx.to_csv(directory / "complexes.csv", index=False)
    tn.to_csv(directory / "tenants.csv", index=False)
    return directory
