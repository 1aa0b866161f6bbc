"""Slow tier: parameter recovery on the default simulated data (run with `pytest -m slow`).

Fits the whole default suite with the default sampler settings and checks that the 90%
intervals cover the simulator's true values at a rate consistent with 90%, and that the
complex-level SDs are recovered. About 10 minutes on 2 cores.
"""

import pandas as pd
import pytest

from data.loader import StudyData
from data.simulate import simulate
from diagnostics.convergence import model_verdict
from diagnostics.recovery import coverage_summary, recovery_table
from diagnostics.tables import summary_rows
from inference.engine import SamplerSettings
from inference.suite import fit_suite
from models.spec import default_specs
from run_models import DEFAULT_SEED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    cx, tn, truth = simulate(seed=DEFAULT_SEED)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    results = fit_suite(default_specs(), frame, settings=SamplerSettings(predictive=False),
                        fits_dir=tmp_path_factory.mktemp("fits"))
    summary = pd.concat([summary_rows(r.tree, model=r.spec.name, outcome=r.spec.outcome)
                         for r in results], ignore_index=True)
    verdicts = pd.concat([model_verdict(r.tree, model=r.spec.name) for r in results])
    return recovery_table(summary, truth), verdicts


def _missed(table: pd.DataFrame) -> str:
    miss = table[~table["covered"]]
    return "\n".join(f"  {r.model}: {r.parameter} truth {r.truth:+.3f} not in "
                     f"[{r.q05:+.3f}, {r.q95:+.3f}]" for r in miss.itertuples())


def test_no_model_fails_convergence(recovery):
    _, verdicts = recovery
    failed = verdicts[verdicts["verdict"] == "fail"]
    assert failed.empty, failed[["model", "reason"]].to_string()
    assert verdicts["divergences"].sum() == 0, verdicts[["model", "divergences"]].to_string()


def test_coverage_consistent_with_90_percent(recovery):
    table, _ = recovery
    cov = coverage_summary(table).set_index("kind")
    print(coverage_summary(table).round(3).to_string())  # shown with -s: the note's figures
    assert cov.loc["all", "n"] > 200
    # ~250 correlated parameters: a binomial 90% band is about +-4 points; allow +-10
    assert 0.80 <= cov.loc["all", "coverage"] <= 0.98, "coverage off; missed:\n" + _missed(
        table)
    for kind in ("beta", "living_form_contrast"):
        assert cov.loc[kind, "coverage"] >= 0.75, f"{kind} coverage low; missed:\n" + _missed(
            table[table["kind"] == kind])


def test_complex_sds_recovered(recovery):
    table, _ = recovery
    sd = table[table["parameter"].isin(["sd_complex_id", "sd_tenant"])]
    assert len(sd) >= 10
    # each within 0.2 of the truth on the latent scale, and most inside their interval
    far = sd[(sd["mean"] - sd["truth"]).abs() > 0.2]
    assert far.empty, "SDs far from truth:\n" + _missed(far.assign(covered=False))
    assert sd["covered"].sum() >= len(sd) - 3, "SDs not covered:\n" + _missed(sd)
