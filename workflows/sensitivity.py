"""Refit every model under a grid of priors (over Dask) and measure how far contrasts move."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd

from inference.files import write_csv
from workflows import console
from workflows.setup import WorkflowError, setup

__all__ = ["sensitivity_command"]


def sensitivity_command(args: argparse.Namespace) -> int:
    """Fit each focal model under each prior setting; 1 if any fit failed."""
    from diagnostics.plots import save_figure
    from diagnostics.sensitivity import grid_table, sensitivity_figure
    from inference.parallel import run_tasks
    from inference.sensitivity import (
        grid_rows,
        grid_task,
        grid_tasks,
        joint_grid_task,
        joint_grid_tasks,
        joint_prior_grid,
    )
    from models.design import prepare
    from models.joint import joint_data_hash
    from models.spec import prior_grid

    run = setup(args)
    try:  # prior_grid checks every value, so each setting is valid for every model
        grid = prior_grid(run.config.sensitivity, source=str(args.config or "defaults"))
    except ValueError as err:
        raise WorkflowError(f"error: {err}") from err
    specs = {k: s for k, s in run.specs.items() if s.focal and s.variant != "none"}
    if not specs:
        raise WorkflowError("error: the prior grid measures how focal contrasts move; none "
                            "of the requested models has a focal level")
    out = args.out or Path("results") / "sensitivity"
    out.mkdir(parents=True, exist_ok=True)
    datas = {name: prepare(run.frame, spec) for name, spec in specs.items()}
    settings = dataclasses.replace(run.settings, predictive=False)
    tasks = grid_tasks(specs, grid, settings=settings,
                       data_hashes={k: d.data_hash() for k, d in datas.items()})
    console.say(f"prior grid ({len(grid)} settings): " + "; ".join(
        f"{k}: {v or 'as configured'}" for k, v in grid.items()))
    console.say(f"{len(tasks)} fits: {len(specs)} models x {len(grid)} prior settings")
    batch = run_tasks(grid_task, tasks, store=out / "tasks",
                      shared={"datas": datas, "settings": settings},
                      scheduler=args.scheduler, workers=args.workers, retries=args.retries,
                      progress=lambda msg: console.say(f"  {msg}"))
    # the joint two-part models of the requested parts: the same grid on both parts, and
    # the correlation prior of their complex effects (LKJ eta) besides
    joints = run.study.two_parts(specs) if run.study.two_parts else {}
    if joints:
        joint_datas = {name: (prepare(run.frame, j.gate), prepare(run.frame, j.part))
                       for name, j in joints.items()}
        jtasks = joint_grid_tasks(joints, grid, settings=settings, data_hashes={
            k: joint_data_hash(*d) for k, d in joint_datas.items()})
        extra = sorted(set(joint_prior_grid(grid)) - set(grid))
        console.say(f"{len(jtasks)} joint fits: {len(joints)} two-part model(s) x the grid"
                    + (f" and {', '.join(extra)} (the complex effects' correlation prior)"
                       if extra else ""))
        jbatch = run_tasks(joint_grid_task, jtasks, store=out / "tasks",
                           shared={"datas": joint_datas, "frame": run.frame,
                                   "settings": settings},
                           scheduler=args.scheduler, workers=args.workers,
                           retries=args.retries,
                           progress=lambda msg: console.say(f"  {msg}"))
        batch = dataclasses.replace(
            batch, results=batch.results | jbatch.results,
            failures=batch.failures + jbatch.failures, reused=batch.reused + jbatch.reused,
            seconds=batch.seconds + jbatch.seconds,
            task_seconds=batch.task_seconds + jbatch.task_seconds)
    rows = grid_rows(batch.results)
    if rows.empty:
        raise WorkflowError(f"error: no fit finished ({len(batch.failures)} failed)", code=1)
    table = grid_table(rows)
    write_csv(table, out / "sensitivity.csv")
    runs = pd.DataFrame([{k: r[k] for k in ("model", "prior", "verdict", "divergences",
                                            "compile_s", "sample_s", "total_s")}
                         for r in batch.results.values()])
    write_csv(runs, out / "fits.csv")
    for scale in dict.fromkeys(table["scale"]):
        save_figure(sensitivity_figure(table, scale=scale), out / f"sensitivity_{scale}.png")
    console.print_sensitivity(table, runs, batch, out)
    if batch.failures:
        console.report_failures(batch.failures, out, "fit(s)")
    console.say(f"wrote {out}/sensitivity.csv, fits.csv, sensitivity_*.png")
    return 1 if batch.failures else 0
