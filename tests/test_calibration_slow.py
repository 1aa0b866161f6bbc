"""Slow tier: SBC at 200 simulations -- the default models are calibrated, a wrong one is not.

Run with ``uv run pytest -m slow -s`` (about 15 minutes for this file on 2 cores). Uses the
default data set's design, reduced to about 600 tenants (whole complexes, every form), and
the same sampler settings as ``run_models.py sbc`` (2 chains x (300 + 300)), on a Dask
LocalCluster.
"""

from __future__ import annotations

import pytest

from data.simulate import analysis_frame
from data.suite import default_specs
from diagnostics.calibration import uniformity_table
from inference.engine import SamplerSettings
from inference.parallel import run_tasks
from inference.sbc import misspecified, results_frame, sbc_task, sbc_tasks, subsample_design
from models.design import prepare
from workflows.sbc import SBC_SAMPLER
from workflows.setup import DEFAULT_SEED

pytestmark = pytest.mark.slow
SETTINGS = SamplerSettings(**SBC_SAMPLER, predictive=False)
SIMS = 200


@pytest.fixture(scope="module")
def design():
    return analysis_frame(seed=DEFAULT_SEED)


def _sbc(frame, outcome, tmp_path, *, misspecify="none", n_tenants=600):
    spec = default_specs()[outcome]
    sub = subsample_design(frame, n_tenants, group="complex_id", stratum="living_form", seed=1)
    data = prepare(sub, spec)
    fit_spec, settings = misspecified(spec, SETTINGS, misspecify)
    fit_data = data if fit_spec is spec else prepare(sub, fit_spec)
    tasks = sbc_tasks(spec, data, sims=SIMS, seed=1, settings=settings, fit_spec=fit_spec)
    batch = run_tasks(sbc_task, tasks, store=tmp_path, shared={"spec": fit_spec,
                                                               "data": fit_data})
    assert not batch.failures, batch.failures[:3]
    table = uniformity_table(results_frame(batch.results))
    print(f"\n{outcome} ({misspecify}): {SIMS} sims on {data.n} tenants, wall "
          f"{batch.seconds:.0f} s, {sum(batch.task_seconds) / SIMS:.2f} s per fit; "
          f"min p {table['p_value'].min():.4f}; mean 90% coverage "
          f"{table['coverage90'].mean():.3f}; miscalibrated: "
          f"{list(table.loc[table['verdict'] != 'ok', 'parameter'])}")
    return table


@pytest.mark.parametrize("outcome", ["contact", "lonely"])
def test_default_model_is_calibrated(design, outcome, tmp_path):
    table = _sbc(design, outcome, tmp_path)
    assert (table["verdict"] == "ok").all(), table[table["verdict"] != "ok"]
    assert 0.86 <= table["coverage90"].mean() <= 0.94


def test_ignoring_the_complex_level_is_flagged(design, tmp_path):
    table = _sbc(design, "lonely", tmp_path, misspecify="no-complex", n_tenants=1000)
    contrasts = table[table["parameter"].str.startswith("living_form_contrast")]
    assert (table["verdict"] == "miscalibrated").any()
    assert contrasts["coverage90"].mean() < 0.85  # overconfident form contrasts
