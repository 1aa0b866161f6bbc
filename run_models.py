"""Entry point: simulate, load, fit every outcome's model, diagnose, and write results.

    python run_models.py                      # default simulated data, every outcome
    python run_models.py --quick              # small draws: a smoke run in minutes
    python run_models.py --data DIR           # real data in the canonical format
    python run_models.py simulate --seed 3 --out sim3
    python run_models.py --help

Results go to ``results/<run>/`` (``--out``): ``fits/<model>.nc``, ``summary.csv``,
``effects.csv``, ``diagnostics.csv``, ``missing.csv``. Reruns reuse matching fits; an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

DEFAULT_SEED = 20261128  # the built-in default data set: simulator output for this seed
QUICK = {"draws": 250, "tune": 300, "chains": 2, "prior_draws": 100}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_models.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    fit = sub.add_parser("fit", help="fit the model suite (the default command)")
    _fit_args(fit)
    con = sub.add_parser("concepts", help="predict outcomes for new housing concepts")
    con.add_argument("--concepts", type=Path, default=Path("concepts.toml"),
                     help="TOML file of [[concept]] entries (default concepts.toml)")
    _fit_args(con)
    ben = sub.add_parser("benefit", help="who benefits: clustered x openness/vulnerability")
    _fit_args(ben)
    cmp = sub.add_parser("compare", help="LOO comparison of model variants per outcome")
    _fit_args(cmp)
    sbc = sub.add_parser("sbc", help="simulation-based calibration of a model (over Dask)")
    sbc.add_argument("--outcome", default="contact",
                     help="model to calibrate, or 'all' for every default model (default contact)")
    sbc.add_argument("--sims", type=int, default=200, help="number of simulations (default 200)")
    sbc.add_argument("--n-tenants", type=int,
                     help="smaller design for speed: whole complexes drawn (stratified by "
                          "living form) until about this many tenants")
    sbc.add_argument("--sbc-seed", type=int, default=1, help="seed of the prior draws")
    sbc.add_argument("--misspecify", choices=("none", "no-complex", "prior-mismatch"),
                     default="none", help="fit a deliberately wrong model (no-complex: ignore "
                     "the complex level; prior-mismatch: prior scales a third of those "
                     "simulated from) to see SBC flag it")
    _parallel_args(sbc)
    _fit_args(sbc, outcomes=False)
    sen = sub.add_parser("sensitivity", help="refit every model under a grid of priors")
    _parallel_args(sen)
    _fit_args(sen)
    sim = sub.add_parser("simulate", help="write a simulated data set with its truth")
    sim.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sim.add_argument("--out", type=Path, required=True, help="output directory")
    sim.add_argument("--n-tenants", type=int, default=2963)
    sim.add_argument("--n-complexes", type=int, default=470)
    sim.add_argument("--missing-rate", type=float, default=0.0,
                     help="MCAR share of missing cells in covariates and outcome items")
    return p


def _parallel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)"
                   ", or 'serial' to run in this process; default: a LocalCluster with one "
                   "worker process per core")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: cores)")
    p.add_argument("--retries", type=int, default=2,
                   help="retries of a failed task before it is reported (default 2)")


def _fit_args(p: argparse.ArgumentParser, *, outcomes: bool = True) -> None:
    p.add_argument("--data", type=Path, help="directory with complexes.* and tenants.* "
                   "(csv, parquet or sav); default: the built-in simulated data set")
    p.add_argument("--config", type=Path, help="study config (TOML); see README")
    if outcomes:
        p.add_argument("--outcomes",
                       help="comma-separated outcomes to fit (default: all present)")
    p.add_argument("--variant", choices=("hierarchical", "fixed", "none"),
                   help="living-form variant (default hierarchical)")
    p.add_argument("--sampler", choices=("nutpie", "pymc"))
    p.add_argument("--draws", type=int)
    p.add_argument("--tune", type=int)
    p.add_argument("--chains", type=int)
    p.add_argument("--target-accept", type=float)
    p.add_argument("--seed", type=int, help="sampler seed (default 1)")
    p.add_argument("--out", type=Path, help="run folder (default results/default)")
    p.add_argument("--quick", action="store_true",
                   help=f"small draws for a smoke run ({QUICK})")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when any model's convergence verdict is 'fail'")
    p.add_argument("-v", "--verbose", action="store_true")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("fit", "simulate", "concepts", "compare", "benefit", "sbc",
                                 "sensitivity", "-h", "--help"):
        argv = ["fit", *argv]
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else
                        logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("pymc", "pytensor", "arviz", "numba", "distributed"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from data.concepts import ConceptError
    from models.design import PreparationError

    command = {"simulate": _simulate, "concepts": _concepts, "compare": _compare,
               "benefit": _benefit, "sbc": _sbc, "sensitivity": _sensitivity}
    try:
        return command.get(args.command, _fit)(args)
    except _Exit as err:
        print(err, file=sys.stderr)
        return err.code
    except (PreparationError, ConceptError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _simulate(args) -> int:
    from data.simulate import Design, simulated_marginals, write_simulation

    design = Design(args.n_tenants, args.n_complexes, args.missing_rate)
    out = write_simulation(args.out, seed=args.seed, design=design)
    print(f"wrote {args.out}/complexes.csv ({len(out['complexes'])} complexes), "
          f"tenants.csv ({len(out['tenants'])} tenants), truth.json")
    print("\nSimulated marginals beside the report's published figures:")
    print(simulated_marginals(out["complexes"], out["tenants"]).round(3).to_string(index=False))
    return 0


def _load(args, cfg):
    """Return (analysis frame, description, truth or None)."""
    from data.loader import StudyData, load_study, read_table
    from data.simulate import simulate

    if cfg.table is not None:
        frame = read_table(cfg.table)
        return frame, f"{cfg.table} ({len(frame)} rows)", None
    directory = args.data or cfg.data_dir
    truth = None
    if directory is None:
        cx, tn, truth = simulate(seed=DEFAULT_SEED)
        study = StudyData(complexes=cx, tenants=tn, source=f"simulated (seed {DEFAULT_SEED})")
    else:
        study = load_study(directory, column_map=cfg.column_map)
    frame = study.merged()
    described = f"{study.source}: {len(study.tenants)} tenants, {len(study.complexes)} complexes"
    if truth is None and directory is not None and (Path(directory) / "truth.json").exists():
        truth = json.loads((Path(directory) / "truth.json").read_text())
    return frame, described, truth


def _settings(args, cfg):
    from inference.engine import SamplerSettings

    values = dict(cfg.sampler)
    if args.quick:
        values |= QUICK
    for key in ("sampler", "draws", "tune", "chains", "seed", "target_accept"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    return SamplerSettings(**values)


class _Exit(Exception):
    """Stop the command with a readable message and an exit code (no traceback)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _setup(args, *, kind: str = "default"):
    """Config, sampler settings, analysis frame, truth and the specs to fit."""
    from data.config import ConfigError, load_config
    from data.validation import DataValidationError
    from models.design import PreparationError
    from models.spec import benefit_specs, feature_specs, specs_from_config

    try:
        cfg = load_config(args.config)
        if args.variant:
            cfg = type(cfg)(**{**cfg.__dict__, "variant": args.variant})
        settings = _settings(args, cfg)
        frame, described, truth = _load(args, cfg)
        if kind in ("features", "benefit"):
            # concepts need the form effects as variance: always the hierarchical variant
            made = feature_specs() if kind == "features" else benefit_specs(cfg.variant)
            specs = {k.removesuffix(f"_{kind}"): s.with_(priors=cfg.priors)
                     for k, s in made.items()}
        else:
            specs = specs_from_config(cfg, columns=set(frame.columns))
    except (DataValidationError, ConfigError, PreparationError, FileNotFoundError,
            ValueError, TypeError) as err:
        raise _Exit(f"error: {err}") from err
    print(f"data: {described}")
    present = {k: s for k, s in specs.items() if s.response in frame.columns
               and frame[s.response].notna().any()}
    skipped = sorted(set(specs) - set(present))
    if skipped:
        print(f"skipped (outcome not in the data): {', '.join(skipped)}")
    if getattr(args, "outcomes", None):
        wanted = [o.strip() for o in args.outcomes.split(",") if o.strip()]
        unknown = [o for o in wanted if o not in specs]
        if unknown:
            raise _Exit(f"error: unknown outcome(s) {unknown}; known: {sorted(specs)}")
        present = {k: present[k] for k in wanted if k in present}
    if not present:
        asked = args.outcomes or "the default suite"
        raise _Exit(f"error: none of the requested outcomes ({asked}) is in the data; "
                    f"nothing to fit")
    return settings, frame, truth, present


def _fit(args) -> int:
    settings, frame, truth, specs = _setup(args)
    out = args.out or Path("results") / "default"
    verdicts = _run(specs, frame, settings=settings, out=out, truth=truth)
    if args.strict and (verdicts["verdict"] == "fail").any():
        print("strict: at least one model failed its convergence checks", file=sys.stderr)
        return 1
    return 0


def _benefit(args) -> int:
    import pandas as pd

    from diagnostics.benefit import benefit_table
    from diagnostics.convergence import model_verdict
    from inference.suite import fit_suite

    settings, frame, _, specs = _setup(args, kind="benefit")
    out = args.out or Path("results") / "benefit"
    out.mkdir(parents=True, exist_ok=True)
    results = fit_suite(specs, frame, settings=settings, fits_dir=out / "fits",
                        progress=lambda msg: print(msg, flush=True))
    table = pd.concat([benefit_table(r.tree, r.spec, r.data).assign(
        verdict=model_verdict(r.tree, model=r.spec.name)["verdict"].iloc[0])
        for r in results], ignore_index=True)
    _write_csv(table, out / "benefit.csv")
    print("\nWho benefits? Clustered minus non-clustered forms, percentage points, for the "
          "analysed tenants given each level (mean [90% interval] P(>0))")
    for model, g in table.groupby("model", sort=False):
        print(f"\n{model}: {g['event'].iloc[0]}  [convergence: {g['verdict'].iloc[0]}]")
        for r in g.itertuples():
            print(f"  {r.moderator:<24} {r.level:>8}  {r.mean:+5.1f}  [{r.q05:+5.1f}, "
                  f"{r.q95:+5.1f}]  {r.p_positive:.2f}  {r.contrast}")
    print(f"\nwrote {out}/benefit.csv and fits/*.nc")
    return 0


def _compare(args) -> int:
    import pandas as pd

    from diagnostics.compare import compare_table, loo_table
    from inference.engine import Engine
    from inference.suite import fit_suite
    from models.spec import comparison_variants

    settings, frame, _, specs = _setup(args)
    out = args.out or Path("results") / "compare"
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    tables, loos = [], []
    for name, spec in specs.items():
        if spec.family == "graded" or not spec.focal:
            continue
        variants = comparison_variants(spec)
        results = fit_suite({v.name: v for v in variants.values()}, frame,
                            settings=settings, fits_dir=out / "fits", engine=engine,
                            progress=lambda msg: print(msg, flush=True))
        fits = {label: r.tree for label, r in zip(variants, results, strict=True)}
        loos.append(loo_table(fits).assign(outcome=name))
        tables.append(compare_table(fits, outcome=name))
    table = pd.concat(tables, ignore_index=True)
    _write_csv(table, out / "compare.csv")
    _write_csv(pd.concat(loos, ignore_index=True), out / "loo.csv")
    print("\nPSIS-LOO comparison of variants (compare.csv; Pareto k per model in loo.csv)")
    for outcome, g in table.groupby("outcome", sort=False):
        print(f"\n{outcome}")
        for r in g.itertuples():
            print(f"  {r.model:<52} elpd_diff {r.elpd_diff:6.1f} (SE {r.dse:4.1f})  {r.meaning}")
    return 0


def _concepts(args) -> int:
    import pandas as pd

    from data.concepts import load_concepts
    from diagnostics.concepts import form_feature_profiles, predict_concepts
    from diagnostics.convergence import model_verdict
    from inference.suite import fit_suite

    concepts = load_concepts(args.concepts)
    settings, frame, _, specs = _setup(args, kind="features")
    out = args.out or Path("results") / "concepts"
    out.mkdir(parents=True, exist_ok=True)
    results = fit_suite(specs, frame, settings=settings, fits_dir=out / "fits",
                        progress=lambda msg: print(msg, flush=True))
    tables = []
    for r in results:
        verdict = model_verdict(r.tree, model=r.spec.name)["verdict"].iloc[0]
        profiles = form_feature_profiles(frame, r.spec)
        tables.append(predict_concepts(r.tree, r.spec, r.data, concepts=concepts,
                                       profiles=profiles).assign(verdict=verdict))
    table = pd.concat(tables, ignore_index=True)
    _write_csv(table, out / "concepts.csv")
    from diagnostics.plots import concepts_figure

    fig = concepts_figure(table)
    fig.savefig(out / "concepts.png", dpi=110, bbox_inches="tight")
    print("\nPredicted for the analysed tenant population (percent, mean [90% interval]); "
          "concepts are a new complex of a new form")
    for model, g in table.groupby("model", sort=False):
        flag = "" if g["verdict"].iloc[0] == "ok" else f"  [convergence: {g['verdict'].iloc[0]}]"
        print(f"\n{model}: {g['event'].iloc[0]}{flag}")
        for r in g.itertuples():
            print(f"  {r.kind:>11}  {r.name[:48]:<48} {r.mean:5.1f}  [{r.q05:5.1f}, {r.q95:5.1f}]")
    print(f"\nwrote {out}/concepts.csv, concepts.png and fits/*.nc")
    return 0


SBC_SAMPLER = {"chains": 2, "draws": 300, "tune": 300}  # per simulation, unless given


def _sbc(args) -> int:

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
        raise _Exit(f"error: --sims must be at least 2, got {args.sims}")
    args.outcomes = None if args.outcome == "all" else args.outcome
    settings, frame, _, specs = _setup(args)
    given = {k for k in SBC_SAMPLER if getattr(args, k) is not None}
    settings = dataclasses.replace(settings, predictive=False, **{
        k: v for k, v in SBC_SAMPLER.items() if k not in given and not args.quick})
    out_root = args.out or Path("results") / "sbc"
    failed = 0
    for name, spec in specs.items():
        level = spec.levels[0]
        design = frame if args.n_tenants is None else subsample_design(
            frame, args.n_tenants, group=level, stratum=spec.focal, seed=args.sbc_seed)
        data = prepare(design, spec)
        fit_spec, fit_settings = misspecified(spec, settings, args.misspecify)
        fit_data = data if fit_spec is spec else prepare(design, fit_spec)
        suffix = "" if args.misspecify == "none" else f"_{args.misspecify}"
        out = out_root / f"{name}{suffix}"
        out.mkdir(parents=True, exist_ok=True)
        print(f"\nSBC of {name}: {args.sims} simulations on {data.n} rows in "
              f"{len(data.level_labels[level])} {level} groups; fitted: {fit_spec.name}, "
              f"{fit_settings.chains}x({fit_settings.tune}+{fit_settings.draws}) draws",
              flush=True)
        tasks = sbc_tasks(spec, data, sims=args.sims, seed=args.sbc_seed,
                          settings=fit_settings, fit_spec=fit_spec)
        batch = run_tasks(sbc_task, tasks, store=out / "tasks",
                          shared={"spec": fit_spec, "data": fit_data},
                          scheduler=args.scheduler, workers=args.workers,
                          retries=args.retries, progress=_progress(args.sims))
        ranks = results_frame(batch.results)
        if ranks.empty:
            print(f"  no simulation finished; {len(batch.failures)} failed")
            failed += 1
            continue
        table = uniformity_table(ranks)
        _write_csv(ranks, out / "ranks.csv")
        _write_csv(table, out / "uniformity.csv")
        save_figure(sbc_figure(ranks, table=table), out / "ecdf.png")
        timing = _batch_timing(batch)
        (out / "run.json").write_text(json.dumps(
            describe(spec, fit_spec, fit_settings, fit_data) | timing, indent=1))
        if batch.failures:
            failed += 1
            _report_failures(batch.failures, out, "simulation(s)", indent="  ")
        bad = table[table["verdict"] != "ok"]
        divergent = ranks.drop_duplicates("sim")["divergences"].gt(0).sum()
        print(f"  {timing['tasks_run']} fits in {timing['wall_s']:.0f} s wall on "
              f"{batch.workers} {batch.scheduler} worker(s): {timing['per_sim_s']:.1f} s per "
              f"simulation ({batch.reused} reused); {divergent} fit(s) with divergences")
        verdict = ("MISCALIBRATED: " + ", ".join(
            f"{r.parameter} (p={r.p_value:.1g}, 90% coverage {r.coverage90:.2f})"
            for r in bad.itertuples())) if len(bad) else "no miscalibration"
        print(f"  {len(table)} parameters, min p = {table['p_value'].min():.3f}, "
              f"90% coverage {table['coverage90'].mean():.3f} on average: {verdict}")
        if len(ranks["sim"].unique()) < 50:
            print("  note: under 50 simulations the uniformity tests have little power and "
                  "their verdicts are unstable; use 200 for a calibration claim")
        print(f"  wrote {out}/uniformity.csv, ranks.csv, ecdf.png, run.json")
    return 1 if failed else 0


def _report_failures(failures, out: Path, what: str, indent: str = "") -> None:
    """Write failures.csv (key, attempts, error) and say so; failed tasks are never dropped."""
    import pandas as pd

    _write_csv(pd.DataFrame([f.__dict__ for f in failures]), out / "failures.csv")
    print(f"{indent}{len(failures)} {what} FAILED after retries (failures.csv): "
          f"{failures[0].key}: {failures[0].error}")


def _progress(total: int):
    """Print a task line every tenth of the batch (and every failure)."""
    step = max(1, total // 10)

    def report(msg: str) -> None:
        if "FAILED" in msg or not msg.startswith("[") or \
                int(msg[1:msg.index("/")]) % step == 0:
            print(f"  {msg}", flush=True)
    return report


def _batch_timing(batch) -> dict:
    run = batch.task_seconds
    return {"wall_s": batch.seconds, "tasks_run": len(run), "reused": batch.reused,
            "workers": batch.workers, "scheduler": batch.scheduler,
            "per_sim_s": float(sum(run) / len(run)) if run else float("nan"),
            "per_sim_wall_s": batch.seconds / len(run) if run else float("nan")}


def _sensitivity(args) -> int:
    import pandas as pd

    from data.config import load_config
    from diagnostics.plots import save_figure
    from diagnostics.sensitivity import grid_table, sensitivity_figure
    from inference.parallel import run_tasks
    from inference.sensitivity import grid_rows, grid_task, grid_tasks
    from models.design import prepare
    from models.spec import prior_grid

    settings, frame, _, specs = _setup(args)
    try:  # prior_grid checks every value, so each setting is valid for every model
        grid = prior_grid(load_config(args.config).sensitivity,
                          source=str(args.config or "defaults"))
    except ValueError as err:
        raise _Exit(f"error: {err}") from err
    specs = {k: s for k, s in specs.items() if s.focal and s.variant != "none"}
    out = args.out or Path("results") / "sensitivity"
    out.mkdir(parents=True, exist_ok=True)
    datas = {name: prepare(frame, spec) for name, spec in specs.items()}
    settings = dataclasses.replace(settings, predictive=False)
    tasks = grid_tasks(specs, grid, settings=settings,
                       data_hashes={k: d.data_hash() for k, d in datas.items()})
    print(f"prior grid ({len(grid)} settings): " + "; ".join(
        f"{k}: {v or 'as configured'}" for k, v in grid.items()))
    print(f"{len(tasks)} fits: {len(specs)} models x {len(grid)} prior settings", flush=True)
    batch = run_tasks(grid_task, tasks, store=out / "tasks",
                      shared={"datas": datas, "settings": settings},
                      scheduler=args.scheduler, workers=args.workers, retries=args.retries,
                      progress=lambda msg: print(f"  {msg}", flush=True))
    rows = grid_rows(batch.results)
    if rows.empty:
        raise _Exit(f"error: no fit finished ({len(batch.failures)} failed)", code=1)
    table = grid_table(rows)
    _write_csv(table, out / "sensitivity.csv")
    runs = pd.DataFrame([{k: r[k] for k in ("model", "prior", "verdict", "divergences",
                                            "compile_s", "sample_s", "total_s")}
                         for r in batch.results.values()])
    _write_csv(runs, out / "fits.csv")
    for scale in dict.fromkeys(table["scale"]):
        fig = sensitivity_figure(table, scale=scale)
        save_figure(fig, out / f"sensitivity_{scale}.png")
    print("\nHow far each living-form contrast moves from the default prior (shift in default "
          "posterior SDs; |shift| > 0.5 = moves), per model and prior setting:")
    moved = table[table["prior"] != "default"]
    summary = moved.groupby(["model", "prior", "scale"], sort=False).agg(
        max_abs_shift=("shift_sd", lambda v: float(v.abs().max())),
        moves=("moves", "sum"), contrasts=("contrast", "size"),
        width_ratio=("width_ratio", "mean")).reset_index()
    print(summary.round(2).to_string(index=False))
    fresh = runs[runs["compile_s"] > 1.0]
    extra = runs[runs["compile_s"] <= 1.0]
    if len(fresh) and len(extra):
        print(f"\nTime: a fresh fit (compile + sample) {fresh['total_s'].mean():.1f} s on "
              f"average ({fresh['compile_s'].mean():.1f} s compiling, n={len(fresh)}); an "
              f"extra prior setting on a compiled model {extra['total_s'].mean():.1f} s "
              f"(n={len(extra)}).")
    print(f"Wall {batch.seconds:.0f} s on {batch.workers} {batch.scheduler} worker(s), "
          f"{batch.reused} fit(s) reused.")
    if batch.failures:
        _report_failures(batch.failures, out, "fit(s)")
    print(f"wrote {out}/sensitivity.csv, fits.csv, sensitivity_*.png")
    return 1 if batch.failures else 0


def _write_csv(frame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


def _run(specs, frame, *, settings, out: Path, truth: dict | None = None):
    import pandas as pd

    from diagnostics.convergence import model_verdict
    from diagnostics.findings import check_findings
    from diagnostics.ppc import ppc_table, prior_predictive_table
    from diagnostics.tables import SUMMARY_COLUMNS, effects_latent, summary_rows
    from inference.suite import fit_suite

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = fit_suite(specs, frame, settings=settings, fits_dir=out / "fits",
                        progress=lambda msg: print(msg, flush=True))
    summaries, verdicts, missing, ppcs, priors = [], [], [], [], []
    for r in results:
        if "posterior_predictive" in r.tree.children:
            ppcs.append(ppc_table(r.tree, r.spec, r.data))
            priors.append(prior_predictive_table(r.tree, r.spec, r.data))
        table = summary_rows(r.tree, model=r.spec.name, outcome=r.spec.outcome)
        summaries.append(table)
        verdicts.append(model_verdict(r.tree, table, model=r.spec.name))
        missing.append(r.data.removed.assign(n_before=r.data.n_before, n_analysed=r.data.n))
    summary = pd.concat(summaries, ignore_index=True)
    verdict = pd.concat(verdicts, ignore_index=True)
    effects = pd.concat([effects_latent(summary), *_probability_rows(results)],
                        ignore_index=True)
    findings = check_findings({r.spec.name: r.tree for r in results})
    findings = findings[findings["outcome"].isin([r.spec.outcome for r in results])]
    status = dict(zip(verdict["model"], verdict["verdict"], strict=True))
    effects["verdict"] = effects["model"].map(status)
    _write_csv(summary[SUMMARY_COLUMNS + ["verdict", "reason"]], out / "summary.csv")
    _write_csv(effects, out / "effects.csv")
    _write_csv(pd.concat(missing, ignore_index=True), out / "missing.csv")
    with_ll = {r.spec.name: r.tree for r in results if "log_likelihood" in r.tree.children}
    if with_ll:
        from diagnostics.compare import loo_table

        loo = loo_table(with_ll)
        _write_csv(loo, out / "loo.csv")
        verdict["pareto_k_bad"] = verdict["model"].map(loo.set_index("model")["pareto_k_bad"])
    if ppcs:
        ppc = pd.concat(ppcs, ignore_index=True)
        _write_csv(ppc, out / "ppc.csv")
        _write_csv(pd.concat(priors, ignore_index=True), out / "prior_predictive.csv")
        verdict["ppc_misfits"] = verdict["model"].map(
            ppc[ppc["verdict"] == "misfit"].groupby("model").size()).fillna(0).astype(int)
    psense = _psense(results)
    if psense is not None:
        _write_csv(psense, out / "psense.csv")
        flagged = psense[psense["diagnosis"] != "ok"].groupby("model").size()
        verdict["prior_sensitive"] = verdict["model"].map(flagged).fillna(0).astype(int)
    _write_csv(verdict, out / "diagnostics.csv")
    findings["model_verdict"] = findings["outcome"].map(status)
    cov = _recovery(summary, truth, out) if truth is not None else None
    _write_csv(findings, out / "findings.csv")
    _report(out, frame=frame, fits={r.spec.name: r.tree for r in results}, tables={
        "diagnostics": verdict, "effects": effects, "findings": findings,
        "missing": pd.concat(missing, ignore_index=True).query("n_missing > 0"),
        "ppc": ppc if ppcs else None, "loo": loo if with_ll else None, "coverage": cov,
        "psense": psense})
    _print_effects(effects, verdict)
    if cov is not None:
        print("\nSimulated data with known truth: coverage of the 90% intervals "
              "(recovery.csv, coverage.csv)")
        print(cov.round(3).to_string(index=False))
    _print_probabilities(effects)
    if psense is not None:
        flagged = psense[psense["diagnosis"] != "ok"]
        where = "; ".join(f"{m}: {', '.join(g['parameter'] + ' (' + g['diagnosis'] + ')')}"
                          for m, g in flagged.groupby("model", sort=False))
        print(f"\nPrior sensitivity by power-scaling (psense.csv): {len(flagged)} of "
              f"{len(psense)} parameters flagged" + (f" -- {where}" if where else ""))
    counts = findings["verdict"].value_counts().to_dict()
    if len(findings):
        print(f"\nThe report's conclusions checked one by one (findings.csv): {counts}")
    print(f"\nwrote {out}/report.html, summary.csv, effects.csv, findings.csv, diagnostics.csv, "
          f"ppc.csv, loo.csv, psense.csv, missing.csv and "
          f"fits/*.nc in {time.perf_counter() - t0:.0f} s")
    return verdict


def _psense(results):
    """Power-scaling sensitivity of every fit that has log_prior and log_likelihood."""
    import pandas as pd

    from diagnostics.sensitivity import psense_table

    tables = [psense_table(r.tree, model=r.spec.name) for r in results
              if {"log_prior", "log_likelihood"} <= set(r.tree.children)]
    return pd.concat(tables, ignore_index=True) if tables else None


def _probability_rows(results):
    from diagnostics.effects import ESTIMANDS, probability_effects

    for r in results:
        if not r.spec.focal or r.spec.variant == "none" or r.spec.family == "graded":
            continue
        for estimand in ESTIMANDS:
            yield probability_effects(r.tree, r.spec, r.data, estimand=estimand)


def _print_probabilities(effects) -> None:
    rows = effects[(effects["scale"] == "probability") & (effects["estimand"] == "new_complex")
                   & effects["contrast"].str.contains(" - ")
                   & ~effects["contrast"].str.endswith("non-clustered")]
    if not len(rows):
        return
    print("\nOn the probability scale (a new group of each level, this population): "
          "percentage points vs the reference, mean [90% interval] P(>0)")
    for model, g in rows.groupby("model", sort=False):
        print(f"\n{model}: {g['event'].iloc[0]}")
        for r in g.itertuples():
            print(f"  {r.contrast:>10}  {r.mean:+5.1f}  [{r.q05:+5.1f}, {r.q95:+5.1f}]  "
                  f"{r.p_positive:.2f}")


def _recovery(summary, truth: dict, out: Path):
    from diagnostics.recovery import coverage_summary, recovery_table

    table = recovery_table(summary, truth)
    if not len(table):
        return None
    _write_csv(table, out / "recovery.csv")
    cov = coverage_summary(table)
    _write_csv(cov, out / "coverage.csv")
    return cov


def _report(out: Path, *, frame, fits: dict, tables: dict) -> None:
    """Write report.html (figures embedded) beside the CSV tables."""
    import pandas as pd

    from diagnostics.plots import forest_figure, ppc_figure, rank_figure
    from diagnostics.report import build_report

    if "living_form" in frame and "complex_id" in frame:
        from data.codebook import FORM_BY_CODE

        g = frame.groupby("living_form")
        overview = pd.DataFrame({"tenants": g.size(), "complexes": g["complex_id"].nunique()})
        overview = overview.reindex([f for f in FORM_BY_CODE if f in overview.index])
        overview.insert(0, "name", [FORM_BY_CODE[f].en for f in overview.index])
        overview.insert(1, "clustered", [FORM_BY_CODE[f].clustered for f in overview.index])
        tables["overview"] = overview.reset_index()
        try:
            from data.simulate import simulated_marginals

            cx = frame.drop_duplicates("complex_id")
            tables["marginals"] = simulated_marginals(cx, frame)
        except KeyError:  # a data set without some outcome columns
            tables["marginals"] = None
    effects = tables["effects"]
    figures = {"effects": [_figure("Contrasts vs HZ, latent scale (90% intervals)",
                                   lambda: forest_figure(effects, scale="latent"))]}
    if (effects["scale"] == "probability").any():
        figures["probability"] = [_figure("Contrasts vs HZ in percentage points, a new "
                                          "complex (90% intervals)",
                                          lambda: forest_figure(effects, scale="probability"))]
    figures["convergence"] = [_figure(f"{name}: rank plots (chains should overlap)",
                                      lambda t=tree: rank_figure(t)) for name, tree in fits.items()]
    psense = tables.get("psense")
    if psense is not None:
        from diagnostics.sensitivity import psense_figure

        # arviz-plots power-scaling densities for models with a flag (or the first model)
        shown = list(dict.fromkeys(psense.loc[psense["diagnosis"] != "ok", "model"]))
        shown = shown or [next(iter(fits))]
        figures["sensitivity"] = [_figure(f"{m}: power-scaled posteriors of SDs and contrasts",
                                          lambda m=m: psense_figure(fits[m])) for m in shown]
    if tables.get("ppc") is not None:
        figures["ppc"] = [_figure(m, lambda m=m: ppc_figure(tables["ppc"], m))
                          for m in dict.fromkeys(tables["ppc"]["model"])]
    text = build_report(title="Does where senior tenants live change how they live together?",
                        source=str(out), tables=tables, figures=figures)
    tmp = out / ".report.html.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out / "report.html")


def _figure(caption: str, make) -> tuple[str, bytes | None]:
    """``(caption, png)``; a figure that fails to draw is reported, not fatal to the run."""
    from diagnostics.report import figure_png

    try:
        return caption, figure_png(make())
    except Exception as err:  # noqa: BLE001 - the tables and fits are already written
        logging.getLogger("run_models").warning("figure %r failed: %s", caption, err)
        print(f"warning: figure {caption!r} could not be drawn: {type(err).__name__}: {err}",
              file=sys.stderr)
        return f"{caption} (not drawn: {type(err).__name__}: {err})", None


def _print_effects(effects, verdict) -> None:
    print("\nLiving-form contrasts vs reference (latent scale: log-odds; mean [90% interval])")
    latent = effects[effects["scale"] == "latent"]
    for model, rows in latent.groupby("model", sort=False):
        v = verdict.set_index("model").loc[model]
        flag = "" if v.verdict == "ok" else f"  <-- {v.verdict.upper()}: {v.reason}"
        misfit = getattr(v, "ppc_misfits", 0)
        ppc = f", predictive checks: {misfit} misfit(s) (ppc.csv)" if misfit else ""
        print(f"\n{model}  [convergence: {v.verdict}{ppc}]{flag}")
        for r in rows.itertuples():
            sure = "*" if r.q05 > 0 or r.q95 < 0 else " "
            print(f"  {r.contrast:>10}  {r.mean:+.2f}  [{r.q05:+.2f}, {r.q95:+.2f}] {sure}")
    print("\n* = 90% interval excludes 0. A model marked FAIL cannot be trusted.")


if __name__ == "__main__":
    sys.exit(main())
