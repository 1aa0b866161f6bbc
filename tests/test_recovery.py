"""Slow tier: parameter recovery on the default simulated data (run with `pytest -m slow`).

Fits the whole default suite with the default sampler settings and checks that the 90%
intervals cover the simulator's true values at a rate consistent with 90%, and that the
complex-level SDs are recovered. About 10 minutes on 2 cores.
"""

import numpy as np
import pandas as pd
import pytest

from data.findings import Finding
from data.simulate import simulated_study
from data.suite import default_specs
from diagnostics.convergence import model_verdict
from diagnostics.effects import probability_effects
from diagnostics.findings import check_findings
from diagnostics.recovery import coverage_summary, recovery_table, truth_tree
from diagnostics.tables import summary_rows
from inference.engine import SamplerSettings
from inference.suite import fit_suite
from workflows.setup import DEFAULT_SEED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recovery_fits(tmp_path_factory):
    study, truth = simulated_study(seed=DEFAULT_SEED)
    frame = study.merged()
    results = fit_suite(default_specs(), frame, settings=SamplerSettings(predictive=False),
                        fits_dir=tmp_path_factory.mktemp("fits"))
    return results, truth


@pytest.fixture(scope="module")
def recovery(recovery_fits):
    results, truth = recovery_fits
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


def test_probability_scale_contrasts_cover_the_truth(recovery_fits):
    """The 90% intervals of P(event) contrasts vs HZ cover the true contrasts (computed by
    the same g-computation at the generating parameters) at a rate consistent with 90%."""
    results, truth = recovery_fits
    rows = []
    for r in results:
        entry = truth["outcomes"].get(r.spec.outcome)
        if entry is None or r.spec.family not in ("bernoulli", "cumulative"):
            continue
        tt = truth_tree(entry, term_names=r.data.term_names,
                        forms=r.data.level_labels[r.spec.focal], focal=r.spec.focal)
        true = probability_effects(tt, r.spec.with_(variant="hierarchical"), r.data,
                                   max_draws=1).set_index("contrast")["mean"]
        est = probability_effects(r.tree, r.spec, r.data).set_index("contrast")
        for c in est.index[est.index.str.endswith(" - HZ")]:
            rows.append((r.spec.name, c, true[c], est.loc[c, "q05"], est.loc[c, "q95"]))
    table = pd.DataFrame(rows, columns=["model", "contrast", "truth", "q05", "q95"])
    table["covered"] = (table["q05"] <= table["truth"]) & (table["truth"] <= table["q95"])
    print(f"probability-scale coverage {table['covered'].mean():.3f} of {len(table)}")
    assert len(table) >= 50
    assert 0.78 <= table["covered"].mean() <= 0.99, table[~table["covered"]].to_string()


def test_findings_reproduce_large_true_effects(recovery_fits):
    """Claims whose true effect is large are supported, and contrasts whose true value is
    zero come out 'uncertain' (at a rate consistent with the 95% verdict rule)."""
    results, truth = recovery_fits
    fits = {r.spec.name: r.tree for r in results}
    table = check_findings(fits)
    true = []
    for f in table.itertuples():
        entry = truth["outcomes"][f.outcome]
        if f.kind == "beta":
            true.append(entry["coefficients"].get(f.parameter, 0.0))
        else:
            a, b = f.parameter.split(" - ")
            true.append(entry["form_effects"][a] - entry["form_effects"][b])
    table["truth"] = true
    sign = np.where(table["expected"] == "+", 1, -1)
    large = table[(table["truth"] * sign >= 0.5) & (table["outcome"] != "cohesion")]
    assert len(large) >= 20
    assert (large["verdict"] == "supported").mean() >= 0.9, large.to_string()
    # true nulls: every form whose generating effect equals HZ's, as a claim "X - HZ > 0"
    nulls = [Finding(name, "contrast", f"{form} - HZ", +1, "true null")
             for name, entry in truth["outcomes"].items() if name in fits
             and name != "cohesion"
             for form, value in entry["form_effects"].items()
             if form != "HZ" and value == entry["form_effects"]["HZ"]]
    null_table = check_findings(fits, findings=nulls)
    print(f"true nulls: {len(null_table)}, uncertain "
          f"{(null_table['verdict'] == 'uncertain').mean():.2f}")
    assert len(null_table) >= 10
    assert (null_table["verdict"] == "uncertain").mean() >= 0.75, null_table.to_string()
