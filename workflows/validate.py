"""Validation where the model is wrong: fit the default models in named test worlds and
compare their probability-scale contrasts with a brute-force truth.

``run_models.py validate --worlds probit,heavy_tails --outcomes contact,lonely`` writes
``results/validate/validate.csv`` (every contrast beside its truth), ``coverage.csv``
(world x outcome: coverage, mean absolute error, true nulls "supported") and
``validate.png``. Results are written after each world, so an interrupted run keeps them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd

from inference.files import write_csv
from workflows import console
from workflows.setup import WorkflowError, sampler_settings

__all__ = ["DEFAULT_OUTCOMES", "VALIDATE_SAMPLER", "validate_command", "validate_world"]

DEFAULT_OUTCOMES = ("contact", "gossip", "lonely", "friendly_contact")
VALIDATE_SAMPLER = {"chains": 2, "draws": 500, "tune": 500}  # per fit, unless given


def validate_world(world: str, outcomes: tuple[str, ...], *, settings, engine,
                   data_seed: int = 7, n_rep: int = 60) -> pd.DataFrame:
    """One world: simulate, compute the truth, fit each outcome's default model (the
    two-part outcomes: their joint model's total), compare. Returns validation rows."""
    from data.loader import StudyData
    from data.simulate import TWO_PART, WORLDS, probability_truth, simulate
    from data.suite import default_specs, two_part_specs
    from diagnostics.effects import probability_effects, total_effects
    from diagnostics.worlds import validation_rows
    from models.design import prepare

    design = WORLDS[world]
    cx, tn, _ = simulate(design, seed=data_seed)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    truth = probability_truth(design, seed=data_seed, n_rep=n_rep, outcomes=outcomes)
    specs = default_specs()
    joints = two_part_specs(specs)
    tables = []
    for outcome in outcomes:
        if outcome in TWO_PART:
            joint = joints[f"{outcome}__total"]
            d1, d2 = prepare(frame, joint.gate), prepare(frame, joint.part)
            tree = engine.fit_joint(joint, d1, d2, settings)
            effects = total_effects(tree, joint, d1, d2, frame)
        else:
            spec = specs[outcome]
            data = prepare(frame, spec)
            effects = probability_effects(engine.fit(spec, data, settings), spec, data)
        tables.append(validation_rows(effects, truth[outcome], world=world))
    return pd.concat(tables, ignore_index=True)


def validate_command(args: argparse.Namespace) -> int:
    """Run the grid of worlds x outcomes; write the tables and the figure."""
    from data.config import StudyConfig
    from data.simulate import TRUTH_EVENTS, WORLDS
    from diagnostics.plots import save_figure
    from diagnostics.worlds import coverage_by_world, worlds_figure
    from inference.engine import Engine

    worlds = tuple(WORLDS) if args.worlds == "all" else tuple(
        w.strip() for w in args.worlds.split(",") if w.strip())
    outcomes = tuple(o.strip() for o in (args.outcomes or ",".join(DEFAULT_OUTCOMES))
                     .split(",") if o.strip())
    for kind, asked, known in (("world", worlds, WORLDS), ("outcome", outcomes, TRUTH_EVENTS)):
        unknown = sorted(set(asked) - set(known))
        if unknown:
            raise WorkflowError(f"error: unknown {kind}(s) {unknown}; known: {sorted(known)}")
    settings = sampler_settings(args, StudyConfig(sampler=dict(VALIDATE_SAMPLER)))
    settings = dataclasses.replace(settings, predictive=False)
    out = args.out or Path("results") / "validate"
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine()  # one compiled model per shape, reused across worlds
    tables = []
    for i, world in enumerate(worlds, start=1):
        t0 = time.perf_counter()
        console.progress(f"[{i}/{len(worlds)}] world {world}: simulating, truth by brute "
                         f"force, fitting {', '.join(outcomes)} ...")
        tables.append(validate_world(world, outcomes, settings=settings, engine=engine,
                                     data_seed=args.data_seed, n_rep=args.n_rep))
        table = pd.concat(tables, ignore_index=True)
        coverage = coverage_by_world(table)
        write_csv(table, out / "validate.csv")
        write_csv(coverage, out / "coverage.csv")
        console.progress(f"[{i}/{len(worlds)}] world {world}: done in "
                         f"{time.perf_counter() - t0:.0f} s")
    save_figure(worlds_figure(coverage), out / "validate.png")
    console.say("\nCoverage of the 90% intervals of the probability-scale contrasts vs HZ "
                "(a new complex), per test world and outcome:")
    console.say(coverage.round(3).to_string(index=False))
    console.say(f"\nwrote {out}/validate.csv, coverage.csv, validate.png")
    return 0
