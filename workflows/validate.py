"""Validation where the model is wrong: fit the default models in named test worlds and
compare their probability-scale contrasts with a brute-force truth.

``run_models.py validate --worlds probit,heavy_tails --outcomes contact,lonely`` writes
``results/validate/validate.csv`` (every contrast beside its truth), ``coverage.csv``
(world x outcome: coverage, mean absolute error, true nulls "supported") and
``validate.png``. With ``--checks`` also whether the model checks would notice each world:
``checks.csv`` (every signal: focal-level predictive checks, leave-one-complex-out of the
relaxed variants, and with two or more cumulative outcomes the probit link's gain pooled
over them, outcome ``pooled: ...``) and ``flagged.csv`` (world x outcome). Results are
written after each world, so an interrupted run keeps them. The link check needs the
cumulative outcomes named: ``--outcomes contact,activity_participation,help_received,
help_given``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd

from diagnostics.worlds import LINK_VARIANT, check_rows, pooled_link_rows
from inference.files import write_csv
from workflows import console
from workflows.setup import WorkflowError, sampler_settings

__all__ = ["DEFAULT_OUTCOMES", "VALIDATE_SAMPLER", "link_pairs", "validate_command",
           "validate_world", "world_checks"]

DEFAULT_OUTCOMES = ("contact", "gossip", "lonely", "friendly_contact")
VALIDATE_SAMPLER = {"chains": 2, "draws": 500, "tune": 500}  # per fit, unless given


def validate_world(world: str, outcomes: tuple[str, ...], *, settings, engine,
                   data_seed: int = 7, n_rep: int = 60, checks: bool = False
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One world: simulate, compute the truth, fit each outcome's default model (the
    two-part outcomes: their joint model's total), compare. Returns validation rows and,
    with ``checks``, whether the model checks notice the world (:func:`world_checks`)."""
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
    tables, flags, links = [], [], {}
    for outcome in outcomes:
        fitted = None
        if outcome in TWO_PART:
            joint = joints[f"{outcome}__total"]
            d1, d2 = prepare(frame, joint.gate), prepare(frame, joint.part)
            tree = engine.fit_joint(joint, d1, d2, settings)
            effects = total_effects(tree, joint, d1, d2, frame)
            reference = joint.gate.reference
        else:
            spec = specs[outcome]
            data = prepare(frame, spec)
            tree = engine.fit(spec, data, dataclasses.replace(settings, predictive=checks))
            fitted = (data, tree)
            effects = probability_effects(tree, spec, data)
            reference = spec.reference
        tables.append(validation_rows(effects, truth[outcome], world=world,
                                      reference=reference))
        if checks:
            rows, pointwise = world_checks(world, specs[outcome], frame, settings=settings,
                                           engine=engine, fitted=fitted)
            flags.append(rows)
            links.update(link_pairs(specs[outcome], pointwise))
    if checks:
        flags.append(pooled_link_rows(links, world=world))
    return (pd.concat(tables, ignore_index=True),
            pd.concat(flags, ignore_index=True) if checks else None)


def link_pairs(spec, pointwise: dict[str, pd.Series]) -> dict[str, tuple[pd.Series, pd.Series]]:
    """``{outcome: (logit model, probit-link variant)}`` elpd per complex, from one outcome's
    :func:`world_checks` values (empty unless it has the probit variant): the input of
    :func:`diagnostics.worlds.pooled_link_rows`."""
    alt = f"{spec.name}[{LINK_VARIANT}]"
    return {spec.outcome: (pointwise[spec.name], pointwise[alt])} if alt in pointwise else {}


def world_checks(world: str, spec, frame: pd.DataFrame, *, settings, engine,
                 fitted=None, only: tuple[str, ...] | None = None
                 ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Would a user notice this world? The model's focal-level predictive checks (with
    posterior predictive draws) and leave-one-complex-out (PSIS-LOGO) of its relaxed
    variants -- complex SD by form, and for a cumulative outcome category-specific form
    effects and a probit link -- against it (:func:`diagnostics.worlds.check_rows`).
    Returns the signal rows and each model's elpd per complex (keyed by the model's name,
    the variants as ``name[label]``), which :func:`link_pairs` pools over outcomes.
    ``only``: fit just the relaxed variants of these labels (e.g. ``("probit link",)``)."""
    from diagnostics.crossval import psis_logo
    from diagnostics.ppc import ppc_table
    from models.design import prepare

    if fitted is None:
        data = prepare(frame, spec)
        fitted = (data, engine.fit(spec, data, dataclasses.replace(settings, predictive=True)))
    data, tree = fitted
    relaxed = {"complex SD by form": spec.with_(sd_by_focal=True)}
    if spec.family == "cumulative":
        relaxed["form by category"] = spec.with_(focal_by_category=True)
        relaxed[LINK_VARIANT] = spec.with_(family="cumulative_probit")
    pointwise = {spec.name: psis_logo(tree, spec, data).set_index("group")["elpd"]}
    quiet = dataclasses.replace(settings, predictive=False)
    for label, variant in relaxed.items():
        if only is not None and label not in only:
            continue
        d = prepare(frame, variant)
        pointwise[f"{spec.name}[{label}]"] = psis_logo(engine.fit(variant, d, quiet), variant,
                                                      d).set_index("group")["elpd"]
    rows = check_rows(ppc_table(tree, spec, data), pointwise, world=world,
                      outcome=spec.outcome, focal=spec.focal, base=spec.name)
    return rows, pointwise


def validate_command(args: argparse.Namespace) -> int:
    """Run the grid of worlds x outcomes; write the tables and the figure."""
    from data.config import StudyConfig
    from data.simulate import TRUTH_EVENTS, WORLDS
    from diagnostics.plots import save_figure
    from diagnostics.worlds import checks_by_world, coverage_by_world, worlds_figure
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
    tables, flags = [], []
    checks = getattr(args, "checks", False)
    for i, world in enumerate(worlds, start=1):
        t0 = time.perf_counter()
        console.progress(f"[{i}/{len(worlds)}] world {world}: simulating, truth by brute "
                         f"force, fitting {', '.join(outcomes)} ...")
        rows, flagged = validate_world(world, outcomes, settings=settings, engine=engine,
                                       data_seed=args.data_seed, n_rep=args.n_rep,
                                       checks=checks)
        tables.append(rows)
        table = pd.concat(tables, ignore_index=True)
        coverage = coverage_by_world(table)
        write_csv(table, out / "validate.csv")
        write_csv(coverage, out / "coverage.csv")
        if flagged is not None:
            flags.append(flagged)
            write_csv(pd.concat(flags, ignore_index=True), out / "checks.csv")
            write_csv(checks_by_world(pd.concat(flags, ignore_index=True)),
                      out / "flagged.csv")
        console.progress(f"[{i}/{len(worlds)}] world {world}: done in "
                         f"{time.perf_counter() - t0:.0f} s")
    save_figure(worlds_figure(coverage), out / "validate.png")
    console.say("\nCoverage of the 90% intervals of the probability-scale contrasts vs HZ "
                "(a new complex), per test world and outcome:")
    console.say(coverage.round(3).to_string(index=False))
    written = "validate.csv, coverage.csv, validate.png"
    if flags:
        summary = checks_by_world(pd.concat(flags, ignore_index=True))
        console.say("\nWould the checks notice the world? (focal-level predictive checks and "
                    "leave-one-complex-out of relaxed variants; checks.csv per signal)")
        console.say(summary.to_string(index=False))
        written += ", checks.csv, flagged.csv"
    console.say(f"\nwrote {out}/{written}")
    return 0
