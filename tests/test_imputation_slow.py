"""Slow tier: multiple imputation against complete cases on simulated missing covariates.

Seven self-reported covariates go missing among the respondents at about 15% each, more
often for the 85+ and those receiving personal care (missing at random given both, which
are always observed; ``Design(covariate_missing=0.15)``): about a third of the tenants are
complete cases, and they are younger and less frail than the rest. The estimand is every
form's event probability for *all* respondents (a new complex). Complete cases standardise
to the complete rows, with a third of the data; multiple imputation (m = 5 by chained
equations, each imputation fitted and the draws pooled) keeps every respondent. Help given
and loneliness, 2 chains x (500 + 500) per fit: about 5 minutes on 2 cores
(``uv run pytest -m slow tests/test_imputation_slow.py -s``).
"""

from __future__ import annotations

import numpy as np
import pytest

from data.simulate import Design, probability_truth, simulate_survey
from inference.engine import Engine, SamplerSettings
from workflows.validate import VALIDATE_SAMPLER

pytestmark = pytest.mark.slow
SETTINGS = SamplerSettings(**VALIDATE_SAMPLER, seed=5, predictive=False)
WORLD = Design(covariate_missing=0.15)
OUTCOMES = ("help_given", "lonely")
SEED = 7


@pytest.fixture(scope="module")
def fitted():
    from data.imputation import imputation_columns, impute
    from data.loader import StudyData
    from data.suite import default_specs
    from diagnostics.effects import form_probabilities, pooled_probabilities
    from inference.imputation import fit_imputed
    from models.design import prepare

    cx, tn, _, _ = simulate_survey(WORLD, seed=SEED)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    specs = {o: default_specs()[o] for o in OUTCOMES}
    columns, auxiliary = imputation_columns(frame, default_specs().values())
    imps = impute(frame, columns=columns, auxiliary=auxiliary, m=5, seed=SEED)
    engine = Engine()
    results = fit_imputed(specs, imps.frames, settings=SETTINGS, fits_dir=_tmp(),
                          engine=engine, progress=lambda _: None)
    out = {}
    for r in results:
        cc = prepare(frame, r.spec)
        cc_tree = engine.fit(r.spec, cc, SETTINGS)
        out[r.spec.outcome] = {
            "mi": 100 * pooled_probabilities(
                lambda t, d, n, k, s=r.spec: form_probabilities(t, s, d, max_draws=n, seed=k),
                r.pairs, 500).values,
            "cc": 100 * form_probabilities(cc_tree, r.spec, cc, max_draws=500).values,
            "complete": np.flatnonzero(frame["tenant_id"].astype(str).isin(
                [str(i) for i in cc.row_ids])),
            "n": (cc.n, r.data.n)}
    truth = probability_truth(WORLD, seed=SEED, n_rep=40, outcomes=OUTCOMES)
    return out, truth


def _width(draws: np.ndarray) -> float:
    return float(np.diff(np.quantile(draws, [0.05, 0.95], axis=0), axis=0).mean())


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="mi_slow_"))


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_imputation_covers_what_complete_cases_miss(fitted, outcome):
    out, truth = fitted
    est = out[outcome]
    forms = list(truth[outcome])
    t_all = 100 * np.array([truth[outcome][f] for f in forms])
    t_cc = 100 * np.array([probability_truth(WORLD, seed=SEED, n_rep=40, outcomes=(outcome,),
                                             rows=est["complete"])[outcome][f] for f in forms])
    drift = float(np.mean(t_cc - t_all))  # what standardising to complete cases changes
    q = np.quantile(est["mi"], [0.05, 0.95], axis=0)
    covered = int(((q[0] <= t_all) & (t_all <= q[1])).sum())
    mi_err = np.abs(est["mi"].mean(axis=0) - t_all)
    cc_err = np.abs(est["cc"].mean(axis=0) - t_all)
    print(f"\n{outcome}: {est['n'][0]} complete cases of {est['n'][1]}; true drift of the "
          f"complete-case population {drift:+.2f} pp; |error| complete cases "
          f"{cc_err.mean():.2f} pp vs imputation {mi_err.mean():.2f}; imputation covers "
          f"{covered}/7; 90% widths {_width(est['cc']):.1f} vs {_width(est['mi']):.1f} pp")
    assert est["n"][0] < 0.6 * est["n"][1]  # complete cases lose many rows
    assert covered >= 5  # imputation covers the truth for all respondents
    assert _width(est["mi"]) < 0.8 * _width(est["cc"])  # with the information kept
    if abs(drift) > 1.0:  # where complete cases stand for another population, it shows
        assert mi_err.mean() < cc_err.mean()
