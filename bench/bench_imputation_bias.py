"""Bias and coverage of the living-form contrasts: multiple imputation vs complete cases, in
simulated worlds where the missing covariates differ by living form.

Usage::

    uv run python bench/bench_imputation_bias.py [--before OLD.py] [--strengths 1 2]
        [--seeds 3 4] [--outcomes contact lonely] [--m 5] [--draws 300]

Each world is the default simulated study with self-reported covariates missing at
``--rate`` among the respondents, more often for the 85+ and those receiving personal care
(both always observed, both far more common in RO: missing at random given form, age and
care), and the covariates' form shifts ``1 + strength`` times the assumed ones
(``Design(poor_overlap=strength)``), so that the covariates that go missing differ sharply
by form. The truth is every form's event probability for all respondents (a new complex,
:func:`data.simulate.probability_truth`); the estimand the contrasts vs HZ in percentage
points. Per world and outcome it fits complete cases once and the imputed data sets of
each imputer (``--m`` of each, pooled draws), and prints per method the mean absolute
error of the six contrasts, their mean signed error, how many 90% intervals cover the
truth and the mean interval width. ``--before FILE``: also the ``impute`` of an older
``data/imputation.py`` (e.g. ``git show <rev>:data/imputation.py > /tmp/old.py``), called
as it was (no form, complex or design arguments).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.imputation import imputation_columns, imputation_inputs, impute  # noqa: E402
from data.loader import StudyData  # noqa: E402
from data.simulate import Design, probability_truth, simulate_survey  # noqa: E402
from data.suite import default_specs  # noqa: E402
from diagnostics.effects import form_probabilities, pooled_probabilities  # noqa: E402
from inference.engine import Engine, SamplerSettings  # noqa: E402
from inference.imputation import fit_imputed  # noqa: E402
from models.design import prepare  # noqa: E402


def _old_impute(path: str):
    spec = importlib.util.spec_from_file_location("old_imputation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.impute


def _contrasts(draws: np.ndarray, forms: list[str], reference: str) -> np.ndarray:
    ref = forms.index(reference)
    return 100 * (np.delete(draws, ref, axis=1) - draws[:, [ref]])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", help="an older data/imputation.py to compare")
    p.add_argument("--strengths", type=float, nargs="+", default=[1.0, 2.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    p.add_argument("--outcomes", nargs="+", default=["contact", "lonely"])
    p.add_argument("--rate", type=float, default=0.2)
    p.add_argument("--m", type=int, default=5)
    p.add_argument("--draws", type=int, default=300)
    args = p.parse_args(argv)
    settings = SamplerSettings(chains=2, draws=args.draws, tune=args.draws, seed=1,
                               predictive=False)
    engine = Engine()
    imputers = {"after (congenial, independent chains)": None}
    if args.before:
        imputers = {"before": _old_impute(args.before), **imputers}
    rows = []
    for strength, seed in zip(args.strengths, args.seeds, strict=True):
        design = Design(covariate_missing=args.rate, poor_overlap=strength)
        cx, tn, _, _ = simulate_survey(design, seed=seed)
        frame = StudyData(complexes=cx, tenants=tn).merged()
        specs = {o: default_specs()[o] for o in args.outcomes}
        truth = probability_truth(design, seed=seed, n_rep=40, outcomes=tuple(args.outcomes))
        columns, auxiliary = imputation_columns(frame, default_specs().values())
        runs = {}
        for name, old in imputers.items():
            t0 = time.perf_counter()
            if old is None:
                imps = impute(frame, **imputation_inputs(frame, default_specs().values()),
                              m=args.m, seed=seed)
            else:
                imps = old(frame, columns=columns, auxiliary=auxiliary, m=args.m, seed=seed)
            secs = time.perf_counter() - t0
            runs[name] = fit_imputed(specs, imps.frames, settings=settings,
                                     fits_dir=Path(tempfile.mkdtemp(prefix="bench_mi_")),
                                     engine=engine, progress=lambda _: None)
            print(f"strength {strength}, seed {seed}: {name} imputed in {secs:.0f} s",
                  flush=True)
        for k, outcome in enumerate(args.outcomes):
            spec = specs[outcome]
            forms = list(truth[outcome])
            t = 100 * np.array([truth[outcome][f] for f in forms])
            t = np.delete(t, forms.index(spec.reference)) - t[forms.index(spec.reference)]
            cc = prepare(frame, spec)
            estimates = {"complete cases": form_probabilities(
                engine.fit(spec, cc, settings), spec, cc, max_draws=600)}
            for name, results in runs.items():
                r = results[k]
                estimates[name] = pooled_probabilities(
                    lambda tr, d, n, j, s=spec: form_probabilities(tr, s, d, max_draws=n,
                                                                   seed=j),
                    r.imputed, 600)
            for name, probs in estimates.items():
                c = _contrasts(probs.sel({spec.focal: forms}).values, forms, spec.reference)
                lo, hi = np.quantile(c, [0.05, 0.95], axis=0)
                err = c.mean(axis=0) - t
                rows.append({"strength": strength, "seed": seed, "outcome": outcome,
                             "method": name, "n_rows": cc.n if name == "complete cases"
                             else runs[name][k].data.n,
                             "mean_abs_error_pp": np.abs(err).mean(),
                             "mean_error_pp": err.mean(),
                             "covered_of_6": int(((lo <= t) & (t <= hi)).sum()),
                             "width_pp": (hi - lo).mean()})
            print(pd.DataFrame(rows).round(2).tail(len(estimates)).to_string(index=False),
                  flush=True)
    table = pd.DataFrame(rows)
    print("\nall worlds")
    print(table.round(2).to_string(index=False))
    print("\nmean over worlds and outcomes")
    print(table.groupby("method", sort=False)[["mean_abs_error_pp", "mean_error_pp",
                                                "covered_of_6", "width_pp"]].mean()
          .round(2).to_string())


if __name__ == "__main__":
    main()
