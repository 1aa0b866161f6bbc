"""Everything the workbench prints: progress, result summaries, failure reports.

Library code logs; only the workflows print, and only through this module, so what a user
sees on the console is in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from inference.files import write_csv

__all__ = ["batch_timing", "print_benefit", "print_compare", "print_concepts",
           "print_identification",
           "print_effects", "print_probabilities", "print_sbc", "print_sensitivity",
           "progress", "report_failures", "say", "task_progress", "warn"]


def say(message: str = "") -> None:
    """One line (or block) to standard output, flushed so progress shows in logs."""
    print(message, flush=True)


def warn(message: str) -> None:
    """A warning to standard error."""
    print(message, file=sys.stderr)


def progress(message: str) -> None:
    """Progress of a fitting suite, one line per model event."""
    say(message)


def task_progress(total: int) -> Callable[[str], None]:
    """Print a task line every tenth of a Dask batch (and every failure)."""
    step = max(1, total // 10)

    def report(msg: str) -> None:
        if "FAILED" in msg or not msg.startswith("[") or \
                int(msg[1:msg.index("/")]) % step == 0:
            say(f"  {msg}")
    return report


def report_failures(failures, out: Path, what: str, indent: str = "") -> None:
    """Write failures.csv (key, attempts, error) and say so; failed tasks are never dropped."""
    write_csv(pd.DataFrame([f.__dict__ for f in failures]), out / "failures.csv")
    say(f"{indent}{len(failures)} {what} FAILED after retries (failures.csv): "
        f"{failures[0].key}: {failures[0].error}")


def batch_timing(batch) -> dict:
    """Wall time, task count and per-task seconds of a :class:`inference.parallel.BatchResult`."""
    run = batch.task_seconds
    return {"wall_s": batch.seconds, "tasks_run": len(run), "reused": batch.reused,
            "workers": batch.workers, "scheduler": batch.scheduler,
            "per_sim_s": float(sum(run) / len(run)) if run else float("nan"),
            "per_sim_wall_s": batch.seconds / len(run) if run else float("nan")}


def print_effects(effects: pd.DataFrame, verdict: pd.DataFrame, *, focal_name: str) -> None:
    """Latent-scale focal contrasts per model, with each model's convergence verdict."""
    latent = effects[effects["scale"] == "latent"]
    if not len(latent):
        return
    say(f"\n{focal_name.capitalize()} contrasts vs reference (latent scale: log-odds; "
        f"mean [90% interval])")
    for model, rows in latent.groupby("model", sort=False):
        v = verdict.set_index("model").loc[model]
        flag = "" if v.verdict == "ok" else f"  <-- {v.verdict.upper()}: {v.reason}"
        misfit = getattr(v, "ppc_misfits", 0)
        ppc = f", predictive checks: {misfit} misfit(s) (ppc.csv)" if misfit else ""
        say(f"\n{model}  [convergence: {v.verdict}{ppc}]{flag}")
        for r in rows.itertuples():
            sure = "*" if r.q05 > 0 or r.q95 < 0 else " "
            say(f"  {r.contrast:>10}  {r.mean:+.2f}  [{r.q05:+.2f}, {r.q95:+.2f}] {sure}")
    say("\n* = 90% interval excludes 0. A model marked FAIL cannot be trusted.")


def print_verdicts(verdict: pd.DataFrame) -> None:
    """One line per model that did not pass (for runs without focal contrasts)."""
    for v in verdict[verdict["verdict"] != "ok"].itertuples():
        say(f"{v.model}: convergence {v.verdict.upper()}: {v.reason}")


def print_probabilities(effects: pd.DataFrame, *, pooled: tuple[str, ...] = ()) -> None:
    """Probability-scale contrasts vs the reference, a new group of each level."""
    if "estimand" not in effects:
        return
    rows = effects[(effects["scale"] == "probability") & (effects["estimand"] == "new_complex")
                   & effects["contrast"].str.contains(" - ")]
    from diagnostics.effects import headline_rows
    rows = headline_rows(rows)
    for name in pooled:
        rows = rows[~rows["contrast"].str.contains(f" - {name}", regex=False)]
    if not len(rows):
        return
    say("\nOn the probability scale (a new group of each level, this population): "
        "percentage points vs the reference, mean [90% interval] P(>0)")
    for model, g in rows.groupby("model", sort=False):
        say(f"\n{model}: {g['event'].iloc[0]}")
        for r in g.itertuples():
            say(f"  {r.contrast:>10}  {r.mean:+5.1f}  [{r.q05:+5.1f}, {r.q95:+5.1f}]  "
                f"{r.p_positive:.2f}")


def print_run_summary(*, coverage, psense, findings, out: Path, seconds: float) -> None:
    """The closing lines of the main job: recovery, power-scaling flags, findings, files."""
    if coverage is not None:
        say("\nSimulated data with known truth: coverage of the 90% intervals "
            "(recovery.csv, coverage.csv)")
        say(coverage.round(3).to_string(index=False))
    if psense is not None:
        flagged = psense[psense["diagnosis"] != "ok"]
        where = "; ".join(f"{m}: {', '.join(g['parameter'] + ' (' + g['diagnosis'] + ')')}"
                          for m, g in flagged.groupby("model", sort=False))
        say(f"\nPrior sensitivity by power-scaling (psense.csv): {len(flagged)} of "
            f"{len(psense)} parameters flagged" + (f" -- {where}" if where else ""))
    if findings is not None and len(findings):
        from diagnostics.findings import verdict_counts

        say("\nThe report's conclusions checked one by one (findings.csv, rules in "
            f"verdict_rule; ROPE widths in findings_rope.csv): {verdict_counts(findings)}")
    say(f"\nwrote {out}/report.html, summary.csv, effects.csv, diagnostics.csv, ppc.csv, "
        f"loo.csv, psense.csv, missing.csv{', findings.csv' if findings is not None else ''}"
        f" and fits/*.nc in {seconds:.0f} s")


def print_benefit(table: pd.DataFrame, out: Path) -> None:
    """Who benefits: clustered minus non-clustered, per moderator level."""
    say("\nWho benefits? Clustered minus non-clustered forms, percentage points, for the "
        "analysed tenants given each level (mean [90% interval] P(>0))")
    for model, g in table.groupby("model", sort=False):
        say(f"\n{model}: {g['event'].iloc[0]}  [convergence: {g['verdict'].iloc[0]}]")
        for r in g.itertuples():
            say(f"  {r.moderator:<24} {r.level:>8}  {r.mean:+5.1f}  [{r.q05:+5.1f}, "
                f"{r.q95:+5.1f}]  {r.p_positive:.2f}  {r.contrast}")
    say(f"\nwrote {out}/benefit.csv and fits/*.nc")


def print_compare(table: pd.DataFrame) -> None:
    """Differences of each outcome's variants, per criterion: PSIS-LOO scores a new tenant
    in a known complex, the leave-one-complex-out criteria a new complex."""
    say("\nComparison of variants (compare.csv; Pareto k per model in loo.csv, per complex in "
        "logo.csv). PSIS-LOO: a new tenant in a known complex; LOGO / grouped K-fold: a new "
        "complex -- the living-form question")
    for (outcome, criterion), g in table.groupby(["outcome", "criterion"], sort=False):
        say(f"\n{outcome} -- {criterion}")
        for r in g.itertuples():
            say(f"  {r.model:<52} elpd_diff {r.elpd_diff:6.1f} (SE {r.dse:4.1f})  {r.meaning}")


def print_identification(table: pd.DataFrame) -> None:
    """Per building feature: how much the data (not the prior) pin its effect down."""
    by = table.groupby("feature", sort=False).agg(
        role=("role", "first"), sd_ratio=("sd_ratio", "median"),
        between_form_share=("between_form_share", "first"))
    say("\nBuilding features: posterior sd / prior sd (median over outcomes; near 1: the "
        "prior decides) and the share of each feature's variance between living forms "
        "(near 1: confounded with the forms) -- identification.csv")
    say(by.round(2).to_string())


def print_concepts(table: pd.DataFrame, out: Path) -> None:
    """Predicted event probabilities of the existing forms and each new concept."""
    say("\nPredicted for the analysed tenant population (percent, mean [90% interval]); "
        "concepts are a new complex of a new form")
    for model, g in table.groupby("model", sort=False):
        flag = "" if g["verdict"].iloc[0] == "ok" else f"  [convergence: {g['verdict'].iloc[0]}]"
        say(f"\n{model}: {g['event'].iloc[0]}{flag}")
        for r in g.itertuples():
            say(f"  {r.kind:>11}  {r.name[:48]:<48} {r.mean:5.1f}  [{r.q05:5.1f}, {r.q95:5.1f}]")
    say(f"\nwrote {out}/concepts.csv, concepts.png and fits/*.nc")


def print_sbc(table: pd.DataFrame, ranks: pd.DataFrame, timing: dict, batch, out: Path) -> None:
    """One model's SBC verdict: timing, miscalibrated parameters, files."""
    bad = table[table["verdict"] != "ok"]
    divergent = ranks.drop_duplicates("sim")["divergences"].gt(0).sum()
    say(f"  {timing['tasks_run']} fits in {timing['wall_s']:.0f} s wall on "
        f"{batch.workers} {batch.scheduler} worker(s): {timing['per_sim_s']:.1f} s per "
        f"simulation ({batch.reused} reused); {divergent} fit(s) with divergences")
    verdict = ("MISCALIBRATED: " + ", ".join(
        f"{r.parameter} (p={r.p_value:.1g}, 90% coverage {r.coverage90:.2f})"
        for r in bad.itertuples())) if len(bad) else "no miscalibration"
    say(f"  {len(table)} parameters, min p = {table['p_value'].min():.3f}, "
        f"90% coverage {table['coverage90'].mean():.3f} on average: {verdict}")
    if len(ranks["sim"].unique()) < 50:
        say("  note: under 50 simulations the uniformity tests have little power and "
            "their verdicts are unstable; use 200 for a calibration claim")
    say(f"  wrote {out}/uniformity.csv, ranks.csv, ecdf.png, run.json")


def print_sensitivity(table: pd.DataFrame, runs: pd.DataFrame, batch, out: Path) -> None:
    """How far each contrast moves per prior setting, and what the refits cost."""
    say("\nHow far each focal contrast moves from the default prior (shift in default "
        "posterior SDs; |shift| > 0.5 = moves), per model and prior setting:")
    moved = table[table["prior"] != "default"]
    summary = moved.groupby(["model", "prior", "scale"], sort=False).agg(
        max_abs_shift=("shift_sd", lambda v: float(v.abs().max())),
        moves=("moves", "sum"), contrasts=("contrast", "size"),
        width_ratio=("width_ratio", "mean")).reset_index()
    say(summary.round(2).to_string(index=False))
    fresh = runs[runs["compile_s"] > 1.0]
    extra = runs[runs["compile_s"] <= 1.0]
    if len(fresh) and len(extra):
        say(f"\nTime: a fresh fit (compile + sample) {fresh['total_s'].mean():.1f} s on "
            f"average ({fresh['compile_s'].mean():.1f} s compiling, n={len(fresh)}); an "
            f"extra prior setting on a compiled model {extra['total_s'].mean():.1f} s "
            f"(n={len(extra)}).")
    say(f"Wall {batch.seconds:.0f} s on {batch.workers} {batch.scheduler} worker(s), "
        f"{batch.reused} fit(s) reused.")


def print_population(comparison: pd.DataFrame, name: str) -> None:
    """The headline contrasts for the respondents and standardised to the population."""
    if not len(comparison):
        return
    rows = comparison[comparison["contrast"].str.contains(" - ", regex=False)
                      & ~comparison["contrast"].str.contains("[", regex=False)]
    say(f"\nRespondents vs the population of {name} (percentage points, a new complex, "
        f"mean [90% interval]; shift = population minus respondents; population.csv: "
        f"weights and their effective sample size):")
    say(rows.to_string(index=False))
