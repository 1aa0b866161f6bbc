"""Coverage of the post-stratified shift (population minus respondents) over many seeds.

Usage::

    uv run python bench/coverage_poststrat.py [--seeds 20] [--outcomes contact,lonely]
                                              [--selection 1.0] [--n-tenants 2963]

Per seed: the invited population (``Design(invited=5 * n_tenants)``) with the assumed
response model x ``--selection``; each outcome's default model fitted on the respondents
(2 chains x (400 + 400)); the shift of every form's event probability from the respondents
to the register's cells, averaged over the forms, per draw (Bayesian-bootstrap weights);
the true shift by brute-force simulation. Prints per seed the true and estimated shift
(90% interval) and, at the end, how often the interval covered the truth.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.loader import StudyData  # noqa: E402
from data.population import load_population, mrp_target  # noqa: E402
from data.simulate import Design, probability_truth, simulate_survey  # noqa: E402
from data.suite import default_specs  # noqa: E402
from diagnostics.effects import form_probabilities  # noqa: E402
from inference.engine import Engine, SamplerSettings  # noqa: E402
from models.design import aligned_frame, prepare  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--outcomes", default="contact,lonely")
    p.add_argument("--selection", type=float, default=1.0)
    p.add_argument("--n-tenants", type=int, default=2963)
    args = p.parse_args(argv)
    outcomes = tuple(args.outcomes.split(","))
    design = Design(n_tenants=args.n_tenants, invited=5 * args.n_tenants,
                    response_selection=args.selection)
    settings = SamplerSettings(chains=2, draws=400, tune=400, seed=1, predictive=False)
    engine, specs, hits = Engine(), default_specs(), {o: [] for o in outcomes}
    tmp = Path(tempfile.mkdtemp())
    for seed in range(1, args.seeds + 1):
        cx, tn, _, register = simulate_survey(design, seed=seed)
        frame = StudyData(complexes=cx, tenants=tn).merged()
        register.to_csv(tmp / "register.csv", index=False)
        pop = load_population(tmp / "register.csv", frame)
        truth = {t: probability_truth(design, seed=seed, n_rep=n, outcomes=outcomes, target=t)
                 for t, n in (("respondents", 30), ("population", 6))}
        for o in outcomes:
            spec = specs[o]
            data = prepare(frame, spec)
            tree = engine.fit(spec, data, settings)
            rows = aligned_frame(frame, spec, data)
            target = mrp_target(pop, rows.reset_index(drop=True), draws=400, seed=seed)
            base = form_probabilities(tree, spec, data, max_draws=400).values
            moved = form_probabilities(tree, spec, data, max_draws=400,
                                       row_weights=target).values
            shift = 100 * (moved - base).mean(axis=1)
            forms = list(truth["population"][o])
            true = 100 * np.mean([truth["population"][o][f] - truth["respondents"][o][f]
                                  for f in forms])
            lo, hi = np.quantile(shift, [0.05, 0.95])
            hits[o].append(lo <= true <= hi)
            print(f"seed {seed} {o}: true {true:+.2f}, estimated {shift.mean():+.2f} "
                  f"[{lo:+.2f}, {hi:+.2f}] {'covered' if hits[o][-1] else 'MISSED'}",
                  flush=True)
    for o in outcomes:
        print(f"{o}: covered {sum(hits[o])} of {len(hits[o])}")


if __name__ == "__main__":
    main()
