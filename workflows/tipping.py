"""How far a covariate missing not at random would move each conclusion: the models refitted
on delta-adjusted imputations, with the delta at which each contrast's conclusion flips."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from inference.files import write_csv
from workflows import console
from workflows.setup import WorkflowError, setup

__all__ = ["DEFAULT_COVARIATE_DELTAS", "tipping_command"]

DEFAULT_COVARIATE_DELTAS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _deltas(text: str | None) -> tuple[float, ...]:
    if not text:
        return DEFAULT_COVARIATE_DELTAS
    try:
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError as err:
        raise WorkflowError(f"error: --deltas must be comma-separated numbers, got {text!r}"
                            ) from err
    if 0.0 not in values:
        raise WorkflowError(f"error: --deltas must contain 0 (the analysis under missing at "
                            f"random), got {text!r}")
    return tuple(values)


def tipping_command(args: argparse.Namespace) -> int:
    """Refit every focal model on the imputations with ``--column``'s imputed values moved
    by each delta of ``--deltas``; write ``tipping_covariates.csv`` and a figure."""
    from data.imputation import delta_adjusted
    from diagnostics.effects import event_label, form_probabilities, pooled_probabilities
    from diagnostics.plots import save_figure, tipping_figure
    from diagnostics.tipping import tipping_points
    from inference.engine import Engine
    from inference.imputation import fit_imputed
    from models.design import prepare

    deltas = _deltas(getattr(args, "deltas", None))
    run = setup(args)
    if run.imputations is None:
        raise WorkflowError("error: no covariate of the requested models has missing values "
                            "(or --missing complete-case): there is nothing to adjust")
    imputed = run.imputations
    column = args.column or str(imputed.report.sort_values("n_missing").iloc[-1]["column"])
    if column not in imputed.columns:
        raise WorkflowError(f"error: --column {column!r} was not imputed; imputed: "
                            f"{', '.join(imputed.columns)}")
    specs = {k: s for k, s in run.specs.items() if s.focal and s.variant != "none"
             and s.family_impl.has_event_prediction}
    if not specs:
        raise WorkflowError("error: none of the requested models has a focal level with a "
                            "probability scale")
    out = args.out or Path("results") / "tipping"
    out.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(run.settings, predictive=False)
    engine = Engine()
    n_missing = int(imputed.report.set_index("column").loc[column, "n_missing"])
    console.say(f"tipping point of {column} (imputed in {n_missing} rows): {len(specs)} "
                f"model(s) x {len(deltas)} deltas x {imputed.m} imputations")
    probs: dict[str, list] = {name: [] for name in specs}
    for d in deltas:
        adjusted = delta_adjusted(imputed, run.frame, column, d, seed=int(run.settings.seed))
        results = fit_imputed(specs, adjusted.frames, settings=settings,
                              fits_dir=out / f"delta_{d:+g}", engine=engine,
                              progress=console.progress)
        for r in results:
            probs[r.spec.name].append(pooled_probabilities(
                lambda t, data, n, k, r=r: form_probabilities(t, r.spec, data, max_draws=n,
                                                              seed=k),
                r.imputed, 400).values)
    unit = "log-odds" if set(pd.to_numeric(run.frame[column]).dropna().unique()) <= {0, 1} \
        else "SD"
    tables = []
    for name, spec in specs.items():
        data = prepare(imputed.frames[0], spec)
        n = min(p.shape[0] for p in probs[name])
        stacked = np.stack([p[:n] for p in probs[name]])
        tables.append(tipping_points(
            stacked, deltas, list(data.level_labels[spec.focal]), spec.reference,
            model=name, outcome=spec.outcome, event=event_label(spec, data)[0],
            scale=100.0 if spec.family_impl.has_probability_scale else 1.0,
            arm_specific=False).assign(column=column, delta_unit=unit))
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out / "tipping_covariates.csv")
    save_figure(tipping_figure(table, xlabel=f"delta: the imputed {column} values moved "
                               f"({unit}), in every form"), out / "tipping_covariates.png")
    flips = table[(table["delta"] == 0) & table["conclusion"].ne("uncertain")]
    for _, row in flips.iterrows():
        console.say(f"  {row['model']}: {row['contrast']} {row['conclusion']} "
                    f"({row['mean']:+.1f} [{row['q05']:+.1f}, {row['q95']:+.1f}]) -- "
                    f"uncertain at delta {row['delta_uncertain']:+.2f} {unit}"
                    if np.isfinite(row["delta_uncertain"]) else
                    f"  {row['model']}: {row['contrast']} {row['conclusion']}: holds over "
                    f"the whole grid")
    console.say(f"wrote {out / 'tipping_covariates.csv'} and {out / 'tipping_covariates.png'}")
    return 0
