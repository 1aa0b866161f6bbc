"""Simulation-based calibration of one or every model, fanned out over Dask.

Talts et al. (2018), "Validating Bayesian inference algorithms with simulation-based
calibration": prior draws simulated on the study's design, each fitted, ranks tested for
uniformity (:mod:`inference.sbc`, :mod:`diagnostics.calibration`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from inference.files import write_csv, write_text
from workflows import console
from workflows.setup import WorkflowError, setup

__all__ = ["SBC_SAMPLER", "sbc_command"]

SBC_SAMPLER = {"chains": 2, "draws": 300, "tune": 300}  # per simulation, unless given


def sbc_command(args: argparse.Namespace) -> int:
    """Calibrate ``--outcome`` (or ``all``) with ``--sims`` simulations; 1 if any failed."""
    from diagnostics.calibration import sbc_figure, uniformity_table
    from diagnostics.plots import save_figure
    from inference.parallel import run_tasks
    from inference.sbc import (
        describe,
        misspecified,
        results_frame,
        sbc_task,
        sbc_tasks,
        subsample_design,
    )
    from models.design import prepare

    if args.sims < 2:
        raise WorkflowError(f"error: --sims must be at least 2, got {args.sims}")
    run = setup(args, outcomes="" if args.outcome == "all" else args.outcome)
    given = {k for k in SBC_SAMPLER if getattr(args, k) is not None}
    # a fixed number of draws per replicate: no top-up conditional on the diagnostics
    settings = dataclasses.replace(run.settings, predictive=False, top_up=0, **{
        k: v for k, v in SBC_SAMPLER.items() if k not in given and not args.quick})
    out_root = args.out or Path("results") / "sbc"
    failed = 0
    for name, spec in run.specs.items():
        level = spec.levels[0]
        design = run.frame if args.n_tenants is None else subsample_design(
            run.frame, args.n_tenants, group=level, stratum=spec.focal, seed=args.sbc_seed)
        data = prepare(design, spec)
        fit_spec, fit_settings = misspecified(spec, settings, args.misspecify)
        fit_data = data if fit_spec is spec else prepare(design, fit_spec)
        suffix = "" if args.misspecify == "none" else f"_{args.misspecify}"
        out = out_root / f"{name}{suffix}"
        out.mkdir(parents=True, exist_ok=True)
        console.say(f"\nSBC of {name}: {args.sims} simulations on {data.n} rows in "
                    f"{len(data.level_labels[level])} {level} groups; fitted: {fit_spec.name}, "
                    f"{fit_settings.chains}x({fit_settings.tune}+{fit_settings.draws}) draws")
        tasks = sbc_tasks(spec, data, sims=args.sims, seed=args.sbc_seed,
                          settings=fit_settings, fit_spec=fit_spec)
        batch = run_tasks(sbc_task, tasks, store=out / "tasks",
                          shared={"spec": fit_spec, "data": fit_data},
                          scheduler=args.scheduler, workers=args.workers,
                          retries=args.retries, progress=console.task_progress(args.sims))
        ranks = results_frame(batch.results)
        if ranks.empty:
            console.say(f"  no simulation finished; {len(batch.failures)} failed")
            failed += 1
            continue
        table = uniformity_table(ranks)
        write_csv(ranks, out / "ranks.csv")
        write_csv(table, out / "uniformity.csv")
        save_figure(sbc_figure(ranks, table=table), out / "ecdf.png")
        timing = console.batch_timing(batch)
        write_text(out / "run.json", json.dumps(
            describe(spec, fit_spec, fit_settings, fit_data) | timing, indent=1))
        if batch.failures:
            failed += 1
            console.report_failures(batch.failures, out, "simulation(s)", indent="  ")
        console.print_sbc(table, ranks, timing, batch, out)
    return 1 if failed else 0
