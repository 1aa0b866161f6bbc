"""The main job: fit the suite, derive every table, draw the figures, write the report.

``run_models.py`` (or ``run_models.py fit``) runs :func:`fit_command`; :func:`run_suite`
is the pipeline itself, reusable by other workflows and tests: fits are saved as they
finish, every table is written atomically, and the report comes last.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from data.study import HOUSING, Study
from inference.engine import SamplerSettings
from inference.files import write_csv, write_text
from inference.suite import FitResult, fit_suite
from models.spec import ModelSpec
from workflows import console
from workflows.setup import setup
from workflows.timing import PhaseClock

if TYPE_CHECKING:
    from data.imputation import Imputations
    from data.population import Population

__all__ = ["contrast_robustness", "fit_command", "run_suite"]


def fit_command(args: argparse.Namespace) -> int:
    """Fit the study's suite (or the config's outcomes) and write every output."""
    clock = PhaseClock()
    with clock("setup (config, load, validate, specs)"):
        run = setup(args)
    out = args.out or default_out(args)
    verdicts = run_suite(run.specs, run.frame, settings=run.settings, out=out, truth=run.truth,
                         study=run.study, source=run.source, clock=clock,
                         populations=run.config.populations,
                         contrasts=run.config.contrasts, population=run.population,
                         imputations=run.imputations, run_info=run_info(args, run.config),
                         tipping_deltas=run.config.tipping_deltas)
    if args.strict and (verdicts["verdict"] == "fail").any():
        console.warn("strict: at least one model failed its convergence checks")
        return 1
    return 0


def default_out(args: argparse.Namespace) -> Path:
    """The main job's folder without ``--out``: ``results/<config name>`` for a config run
    (``examples/pupils.toml`` -> ``results/pupils``), else ``results/default``."""
    config = getattr(args, "config", None)
    return Path("results") / (Path(config).stem if config else "default")


def run_info(args: argparse.Namespace, config) -> dict:
    """What ``run.json`` records of how the run was started: the command line, the resolved
    config (file values with the command line's overrides applied) and the package versions."""
    import dataclasses
    import sys

    from inference.store import package_versions

    resolved = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return {"command": getattr(args, "argv", None) or ["run_models.py", *sys.argv[1:]],
            "config": resolved if config.source != "<defaults>" else None,
            "versions": package_versions()}


def run_suite(specs: dict[str, ModelSpec], frame: pd.DataFrame, *, settings: SamplerSettings,
              out: Path, truth: dict | None = None, study: Study = HOUSING,
              source: str | None = None, clock: PhaseClock | None = None,
              populations: tuple[str, ...] = (),
              contrasts: dict | None = None,
              population: Population | None = None,
              imputations: Imputations | None = None,
              run_info: dict | None = None,
              tipping_deltas: tuple[float, ...] | None = None) -> pd.DataFrame:
    """Fit ``specs`` on ``frame``, write the tables and the report; return the verdicts.

    ``populations``: target subgroups of the probability-scale effects beside all analysed
    rows (``effects.csv`` ``subgroup``): a focal level's own rows (``RO``) or a subgroup
    (``age_group=4``). ``contrasts``: the config's own ``{name: (plus, minus)}``.
    ``population``: a register or cell counts (:mod:`data.population`); the effects are
    then also standardised to it (``effects.csv`` ``population``: ``respondents``, the
    file's name for post-stratification, ``<name> [propensity]`` for response-propensity
    weights) and ``population.csv`` says how (weights' effective sample size per model).
    ``imputations``: completed copies of ``frame`` (:func:`data.imputation.impute`); every
    model is then fitted on each and the draws pooled (:mod:`inference.imputation`);
    ``imputation.csv`` has how they were imputed, the convergence per imputation and the
    fraction of missing information per headline contrast; ``missing.csv`` what was
    imputed.

    Every phase is timed (``clock``, which may already hold the setup's seconds); the
    seconds per phase and per model go to ``run.json``, with ``run_info`` (the command
    line, the resolved config and the versions: :func:`run_info`).
    """
    from diagnostics.ppc import ppc_table, prior_predictive_table
    from diagnostics.tables import (
        SUMMARY_COLUMNS,
        effects_latent,
        estimand_comparison,
        label_effects,
    )
    from inference.engine import Engine
    from workflows.report import REPORT_TABLES, overview_tables, report_context, write_report

    out.mkdir(parents=True, exist_ok=True)
    clock = clock or PhaseClock()
    t0 = time.perf_counter()
    engine = Engine()
    with clock("fits (prepare, compile, sample, predictive)"):
        if imputations is not None:
            from inference.imputation import fit_imputed

            results = fit_imputed(specs, imputations.frames, settings=settings,
                                  fits_dir=out / "fits", engine=engine,
                                  progress=console.progress)
        else:
            results = fit_suite(specs, frame, settings=settings, fits_dir=out / "fits",
                                engine=engine, progress=console.progress)
    joints = study.two_parts(specs) if study.two_parts else {}
    joint_results = []
    if joints:
        from inference.suite import fit_joints

        with clock("joint two-part fits"):
            if imputations is not None:
                from inference.imputation import fit_joints_imputed

                joint_results = fit_joints_imputed(joints, imputations.frames,
                                                   settings=settings, fits_dir=out / "fits",
                                                   engine=engine, progress=console.progress)
            else:
                joint_results = fit_joints(joints, frame, settings=settings,
                                           fits_dir=out / "fits", engine=engine,
                                           progress=console.progress)
    summaries, verdicts, missing, ppcs, priors, per_imputation = [], [], [], [], [], []
    imputation = None  # imputation.csv: how the covariates were imputed, FMI per contrast
    for r in results:
        if "posterior_predictive" in r.tree.children:
            with clock("predictive checks"):
                ppcs.append(ppc_table(r.tree, r.spec, r.data))
                priors.append(prior_predictive_table(r.tree, r.spec, r.data))
        with clock("summaries and convergence"):
            table, verdict_row = _summary(r, r.spec.outcome, per_imputation)
            summaries.append(table)
            verdicts.append(verdict_row)
        missing.append(r.data.removed.assign(n_before=r.data.n_before, n_analysed=r.data.n))
    for j in joint_results:
        with clock("summaries and convergence"):
            table, verdict_row = _summary(j, j.joint.outcome, per_imputation)
            summaries.append(table)
            verdicts.append(verdict_row)
    summary = pd.concat(summaries, ignore_index=True)
    verdict = pd.concat(verdicts, ignore_index=True)
    missing = pd.concat(missing, ignore_index=True)
    if imputations is not None:  # what was imputed (for every model) beside what was removed
        missing.insert(1, "action", "rows removed")
        missing = pd.concat([imputations.report.rename(columns={"column": "variable"}).assign(
            model="(every model)", action=f"imputed (m={imputations.m})"), missing],
            ignore_index=True)
        from inference.imputation import headline_fmi, imputation_table

        with clock("fraction of missing information"):
            imputation = imputation_table(per_imputation, imputations,
                                          headline_fmi(results, joint_results))
        write_csv(imputation, out / "imputation.csv")
    standards = Standardisations(
        population, frame, frames=imputations.frames if imputations is not None else None,
        gates=_gates(results, joints))
    with clock("probability-scale effects"):
        # latent contrasts of the single models (a joint model's parts repeat them)
        effects = pd.concat([effects_latent(summary[~summary["model"].isin(joints)]),
                             *_probability_rows(results, study, frame, populations,
                                                contrasts, standards),
                             *_total_rows(joint_results, frame, study, populations,
                                          contrasts, standards)],
                            ignore_index=True)
    population_tables = None
    if population is not None:
        from data.population import population_comparison, response_table

        population_tables = {"weights": pd.DataFrame(standards.info),
                             "response": response_table(population, frame),
                             "comparison": population_comparison(effects)}
        write_csv(population_tables["weights"], out / "population.csv")
        write_csv(population_tables["response"], out / "response.csv")
        if population.kind == "register":
            with clock("tipping point (non-ignorable non-response)"):
                tipping = tipping_table(results, standards, deltas=tipping_deltas)
            if len(tipping):
                population_tables["tipping"] = tipping
                write_csv(tipping, out / "tipping_point.csv")
    status = dict(zip(verdict["model"], verdict["verdict"], strict=True))
    effects["verdict"] = effects["model"].map(status)
    # which covariates each effect is controlled for (a study's named set, or as declared)
    effects["adjustment"] = effects["model"].map(
        {r.spec.name: r.spec.adjustment or "terms as declared" for r in results} |
        {j.joint.name: j.joint.adjustment or "terms as declared" for j in joint_results})
    effects = label_effects(effects, _effect_labels(results, joint_results, study))
    with clock("covariate overlap"):
        overlap = _overlap(results)
    if overlap is not None:
        write_csv(overlap, out / "overlap.csv")
        keyed = overlap.set_index(["model", "contrast"])["outside_support"]
        # a total effect's population is its gate's: the gate model's overlap
        gate_of = {j.joint.name: j.joint.gate.name for j in joint_results}
        effects["outside_support"] = [keyed.get((gate_of.get(m, m), c), np.nan) for m, c in
                                      zip(effects["model"], effects["contrast"], strict=True)]
    with clock("robustness to unmeasured confounding"):
        robustness = contrast_robustness(results, joint_results, effects)
    if robustness is not None and len(robustness):
        write_csv(robustness, out / "robustness.csv")
        keyed = robustness.set_index(["model", "contrast"])
        from diagnostics.effects import headline_rows

        head = effects.index.isin(headline_rows(effects[(effects["scale"] != "latent") & (
            effects["estimand"] == "new_complex")]).index)
        for col in ("e_value_interval", "k_interval", "benchmark"):
            effects[col] = [keyed[col].get((m, c)) if h else None for m, c, h in
                            zip(effects["model"], effects["contrast"], head, strict=True)]
    write_csv(summary[SUMMARY_COLUMNS + ["verdict", "reason"]], out / "summary.csv")
    write_csv(effects, out / "effects.csv")
    estimands = estimand_comparison(effects)
    if len(estimands):
        write_csv(estimands, out / "estimands.csv")
    write_csv(missing, out / "missing.csv")
    loo = ppc = psense = None
    group_lls: dict = {}
    with_ll = {r.spec.name: r.tree for r in results if "log_likelihood" in r.tree.children}
    if with_ll:
        from diagnostics.compare import loo_table
        from diagnostics.crossval import (
            group_log_densities,
            latent_integrated_tree,
            logo_summary,
        )

        with clock("PSIS-LOO"):
            # a latent per row (item-level model): LOO of a whole row, its latent integrated
            for r in results:
                if r.spec.name in with_ll and hasattr(r.spec.family_impl, "latent_log_density"):
                    with_ll[r.spec.name] = latent_integrated_tree(r.tree, r.spec, r.data)
            loo = loo_table(with_ll, observed={r.spec.name: r.data.y for r in results})
        with clock("PSIS-LOGO"):  # leave one complex out: a new complex's answers
            logo_fits = [r for r in results if r.spec.name in with_ll]
            group_lls = group_log_densities(logo_fits)  # shared with the structures
            loo = loo.merge(logo_summary(logo_fits, group_lls=group_lls),
                            on="model", how="left")
    joint_psense = None
    if joint_results and with_ll:
        with clock("joint models: LOO, predictive checks, prior sensitivity"):
            joint_loo, joint_ppc, joint_psense = _joint_checks(joint_results, results, frame)
        loo = pd.concat([loo, joint_loo], ignore_index=True)
        ppcs.append(joint_ppc)
    if loo is not None:
        write_csv(loo, out / "loo.csv")
        verdict["pareto_k_bad"] = verdict["model"].map(loo.set_index("model")["pareto_k_bad"])
    if ppcs:
        ppc = pd.concat(ppcs, ignore_index=True)
        write_csv(ppc, out / "ppc.csv")
        write_csv(pd.concat(priors, ignore_index=True), out / "prior_predictive.csv")
        verdict["ppc_misfits"] = verdict["model"].map(
            ppc[ppc["verdict"] == "misfit"].groupby("model").size()).fillna(0).astype(int)
    with clock("power-scaling sensitivity"):
        psense = _psense(results)
    if joint_psense is not None:
        psense = pd.concat([t for t in (psense, joint_psense) if t is not None],
                           ignore_index=True)
    if psense is not None:
        write_csv(psense, out / "psense.csv")
        flagged = psense[psense["diagnosis"] != "ok"].groupby("model").size()
        verdict["prior_sensitive"] = verdict["model"].map(flagged).fillna(0).astype(int)
    write_csv(verdict, out / "diagnostics.csv")
    with clock("findings and recovery"):
        findings, rope = _findings(results, status) if study.has_findings else (None, None)
        # the simulator's truth is the effect controlled for every covariate it draws: only
        # models adjusted for the study's full set are compared with it
        as_simulated = {r.spec.name for r in results if r.spec.adjustment in (None, "study")}
        coverage = _recovery(summary[summary["model"].isin(as_simulated)], truth, out) \
            if truth is not None else None
    structures = by_structure = None
    if study.focal_predictors is not None and imputations is None:
        with clock("form-effect structures (reweighted)"):
            structures, by_structure = _structures(results, frame, study, status, findings,
                                                   group_lls)
        if structures is not None and len(structures):
            write_csv(structures, out / "structures.csv")
        if by_structure is not None:
            write_csv(by_structure, out / "findings_structures.csv")
    if findings is not None:
        write_csv(findings, out / "findings.csv")
    if rope is not None and len(rope):
        write_csv(rope, out / "findings_rope.csv")
    focal = {s.focal for s in specs.values() if s.focal}
    focal_name = study.level_name(focal.pop()) if len(focal) == 1 else "focal-level"
    with clock("figures and report"):
        tables = {"diagnostics": verdict, "effects": effects, "findings": findings,
                  "findings_rope": rope, "structures": structures,
                  "findings_structures": by_structure,
                  "overlap": overlap, "estimands": estimands if len(estimands) else None,
                  "robustness": robustness if robustness is not None and len(robustness)
                  else None,
                  "missing": missing, "imputation": imputation, "ppc": ppc, "loo": loo,
                  "coverage": coverage,
                  "psense": psense,
                  **({f"population_{k}": v for k, v in population_tables.items()}
                     if population_tables else {})}
        if study.has_overview and "living_form" in frame and "complex_id" in frame:
            overview_tables(frame, tables)
        for key in ("overview", "marginals", "population_comparison"):
            if tables.get(key) is not None:
                write_csv(tables[key], out / REPORT_TABLES[key])
        context = report_context(
            results, frame=frame, study=study, source=source or str(out), settings=settings,
            effects=effects, focal_name=focal_name, joint=[j.joint.name for j in joint_results],
            population=population.name if population is not None else None,
            imputations=imputations.m if imputations is not None else None)
        context["tables"] = [k for k, v in tables.items() if v is not None and k in REPORT_TABLES]
        write_report(out, study=study, fits={r.spec.name: r.tree for r in results},
                     tables=tables, context=context)
    _write_timing(out, clock, [*results, *joint_results], engine.timings, settings, context,
                  run_info)
    console.print_effects(effects, verdict, focal_name=focal_name)
    if not (effects["scale"] == "latent").any():
        console.print_verdicts(verdict)
    console.print_probabilities(effects, pooled=tuple(study.pooled))
    if population_tables is not None:
        console.print_population(population_tables["comparison"], population.name)
    console.print_run_summary(coverage=coverage, psense=psense, findings=findings, out=out,
                              seconds=time.perf_counter() - t0)
    counts = verdict["verdict"].value_counts().reindex(["ok", "warn", "fail"], fill_value=0)
    console.say(f"time: {clock.total:.0f} s -- {clock.line()}; peak memory "
                f"{clock.peak_total_mb / 1000:.1f} GB; verdicts: "
                f"{', '.join(f'{n} {v}' for v, n in counts.items())} (run.json)")
    return verdict


def _write_timing(out: Path, clock: PhaseClock, results: list,
                  timings: list[dict], settings: SamplerSettings, report: dict,
                  info: dict | None = None) -> None:
    """``run.json``: how the run was started (``info``: command line, resolved config,
    versions), wall seconds per phase and per model (fresh fits: compile, sample, ...), and
    what the report says of the run beyond its tables (``run_models.py report``)."""
    fresh = {t["model"]: t for t in timings}
    models = [{"model": r.name, "reused": r.reused, "seconds": r.seconds,
               **{k: v for k, v in fresh.get(r.name, {}).items() if k != "model"}}
              for r in results]
    write_text(out / "run.json", json.dumps({
        **(info or {}), "total_s": clock.total, "phases_s": clock.seconds,
        "peak_memory_mb": {"total": clock.peak_total_mb, "phases": clock.peak_mb},
        "models": models,
        "settings": json.loads(settings.to_json()), "report": report}, indent=1))


def _summary(result, outcome: str, per_imputation: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(parameter summary, convergence verdict)`` of a fit; of an imputed one, the pooled
    estimates with the worst imputation's diagnostics (the per-imputation rows are
    appended to ``per_imputation``)."""
    from diagnostics.convergence import model_verdict
    from diagnostics.tables import summary_rows

    if not result.imputed:
        table = summary_rows(result.tree, model=result.name, outcome=outcome)
        return table, model_verdict(result.tree, table, model=result.name)
    from inference.imputation import imputation_verdicts

    table, verdict, per = imputation_verdicts(result)
    per_imputation.append(per)
    return table, verdict


def _findings(results: list[FitResult],
              status: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's published conclusions checked against the fits of their outcomes, and
    the equivalence claims over several ROPE widths (``findings_rope.csv``)."""
    from data.codebook import CAUSAL_GRAPH
    from data.findings import EQUIVALENCES, FINDINGS
    from diagnostics.effects import form_probabilities, pooled_probabilities
    from diagnostics.findings import (
        check_equivalences,
        check_findings,
        path_models,
        rope_sensitivity,
    )

    findings = check_findings({r.spec.name: r.posterior for r in results},
                              model_for=path_models(FINDINGS, [r.spec for r in results],
                                                    graph=CAUSAL_GRAPH))
    findings = findings[findings["outcome"].isin([r.spec.outcome for r in results])]
    on_scale = {r.spec.outcome: (pooled_probabilities(
        lambda t, d, n, k, r=r: form_probabilities(t, r.spec, d, max_draws=n, seed=k),
        r.pairs, 400),
                                 r.spec.family_impl.has_probability_scale, float(np.std(r.data.y)))
                for r in results if r.spec.outcome in {e.outcome for e in EQUIVALENCES}
                and r.spec.adjustment in (None, "study")
                and r.spec.focal and r.spec.variant != "none"
                and r.spec.family_impl.has_event_prediction}
    findings = pd.concat([findings, check_equivalences(on_scale)], ignore_index=True)
    findings["model_verdict"] = findings["outcome"].map(status)
    return findings, rope_sensitivity(on_scale)


def _structures(results: list[FitResult], frame: pd.DataFrame, study: Study,
                status: dict[str, str], findings: pd.DataFrame | None,
                group_lls: dict | None = None
                ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The pooled focal effects against the other structures, by reweighting the fits
    (:mod:`diagnostics.structures`): ``structures.csv`` (weights' Pareto k, leave-one-
    complex-out per structure, the largest shift of a contrast) and, with the study's
    conclusions, each conclusion's verdict under every structure
    (``findings_structures.csv``; ``depends_on_structure`` where a trusted reweighting
    changes the verdict)."""
    import dataclasses

    from diagnostics.structures import structure_comparison

    pooled = [r for r in results if r.spec.focal and r.spec.variant == "hierarchical"
              and not r.spec.focal_by_category and r.imputed is None]
    if not pooled:
        return None, None
    table, reweighted = structure_comparison(pooled, frame=frame, group_lls=group_lls,
                                             predictors=study.focal_predictors)
    if findings is None or not len(findings) or not reweighted:
        return table, None
    keys = ["outcome", "parameter", "claim_type", "claim"]
    out = findings[keys + ["verdict"]].rename(columns={"verdict": "hierarchical"}).copy()
    out["p_hierarchical"] = findings["p_claim"].to_numpy()
    compared = set(table.loc[table["structure"] == "hierarchical", "model"])
    model_of = {r.spec.outcome: r.spec.name for r in pooled}
    ess = table.set_index(["model", "structure"])["weight_ess"].to_dict() \
        if "weight_ess" in table else {}

    def mcse(p: pd.Series, label: str) -> np.ndarray:  # of a probability, by the weights' ESS
        n = np.array([ess.get((model_of.get(o), label), np.nan) for o in out["outcome"]])
        return np.sqrt(np.clip(p * (1 - p), 0.0, None) / n)

    moved = np.zeros(len(out), bool)
    for label, trees in reweighted.items():
        swapped = [dataclasses.replace(r, tree=trees[r.spec.name], pooled=None, imputed=None)
                   if r.spec.name in trees else r for r in results]
        other, _ = _findings(swapped, status)
        if not other[keys].fillna("").equals(findings[keys].fillna("")):
            raise RuntimeError("findings under another structure came out in another order")
        untrusted = compared - set(trees)  # k too high: not judged under this structure
        judged = ~findings["outcome"].isin(untrusted).to_numpy()
        out[label] = np.where(judged, other["verdict"].to_numpy(), "(k too high)")
        out[f"p_{label}"] = np.where(judged, other["p_claim"].to_numpy(), np.nan)
        # a verdict that changes only within Monte Carlo error (the reweighted draws have
        # fewer effective draws) is borderline, not a dependence on the structure
        for col in ("p_claim", "p_against"):
            a, b = findings[col].astype(float), other[col].astype(float)
            err = np.sqrt(mcse(a, "hierarchical") ** 2 + mcse(b, label) ** 2)
            moved |= judged & (np.abs(b - a).to_numpy() > 2 * np.nan_to_num(err, nan=0.0))
    others = list(reweighted)
    changed = np.array([any(v != row["hierarchical"] for v in row[others] if v != "(k too high)")
                        for _, row in out.iterrows()], bool)
    out["depends_on_structure"] = changed & moved
    out["borderline"] = changed & ~moved
    return table, out


def contrast_robustness(results: list, joint_results: list,
                effects: pd.DataFrame) -> pd.DataFrame | None:
    """E-values of every headline contrast, benchmarked against the covariates of the model
    it came from (a two-part outcome's: its part's model; :mod:`diagnostics.robustness`)."""
    from diagnostics.headline import headline_effects
    from diagnostics.robustness import covariate_benchmarks, robustness_table

    head = headline_effects(effects)
    if not len(head):
        return None
    by_name = {r.spec.name: r for r in results}
    part_of = {j.joint.name: j.joint.parts[1].name for j in joint_results}
    gate_term = {j.joint.name: j.joint.mediator for j in joint_results if j.joint.mediator}
    rows, benchmarks = [], {}
    for _, row in head.iterrows():
        r = by_name.get(part_of.get(row["model"], row["model"]))
        if r is None or not r.spec.focal or "beta" not in r.tree["posterior"]:
            continue
        labels = list(r.data.level_labels[r.spec.focal])
        level, ref = (part.strip() for part in row["contrast"].split(" - ", 1))
        if level not in labels or ref not in labels:
            continue
        row = row.copy()
        gaussian = row["scale"] == "response"
        if gaussian:  # a mean difference in outcome SDs as a risk ratio (exp(0.91 d))
            sd = float(np.std(r.data.y))
            for col, src in (("rr_median", "mean"), ("rr_lower", "q05"), ("rr_upper", "q95")):
                row[col] = float(np.exp(0.91 * row[src] / sd))
        base = np.clip((row["reference_level_p"] + row["mean"] / 2) / 100, 0.01, 0.99) \
            if not gaussian else 0.5
        beta = r.tree["posterior"]["beta"].mean(("chain", "draw")).values
        benchmarks[(row["model"], row["contrast"])] = covariate_benchmarks(
            term_names=r.data.term_names, X=r.data.X, level=r.data.level_idx[r.spec.focal],
            level_a=labels.index(level), level_b=labels.index(ref), beta=beta, base=base,
            outcome_sd=sd if gaussian else None,
            exclude=frozenset({gate_term.get(row["model"], "")}))
        rows.append(row)
    return robustness_table(pd.DataFrame(rows), benchmarks) if rows else None


def _effect_labels(results: list[FitResult], joint_results: list, study: Study) -> dict:
    """What each model's effect may be called, from the study's causal graph: a single
    model's terms held fixed, conditional where it is defined on a subset; a joint two-part
    model's unconditional, holding both parts' terms except the gate's own category (which
    its gate model integrates over)."""
    from models.causal import CausalGraph

    focal = next((r.spec.focal for r in results if r.spec.focal), None) or "focal level"
    graph = study.causal_graph or CausalGraph(exposure=focal, nodes=())
    labels = {r.spec.name: graph.label([t.name for t in r.spec.terms],
                                       conditional=bool(r.spec.subset)) for r in results}
    for j in joint_results:
        gate, part = j.joint.parts
        terms = [t.name for t in (*gate.terms, *part.terms) if t.name != j.joint.mediator]
        labels[j.joint.name] = graph.label(terms, conditional=False)
    return labels


def _overlap(results: list[FitResult]) -> pd.DataFrame | None:
    """Covariate overlap per contrast of every model with a focal level and terms."""
    from diagnostics.overlap import overlap_table

    tables = [overlap_table(r.spec, r.data) for r in results
              if r.spec.focal and r.spec.reference is not None and r.data.X.shape[1]]
    return pd.concat(tables, ignore_index=True) if tables else None


def _joint_checks(joint_results: list, results: list[FitResult], frame: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What every single model gets, for the joint two-part models too
    (:mod:`diagnostics.joint_checks`): PSIS-LOO of the joint likelihood per tenant beside
    the separate parts', predictive checks of the joint event, power-scaling sensitivity.
    A multiply imputed joint model is checked on its first imputation."""
    from diagnostics.joint_checks import joint_loo_row, joint_ppc_table, joint_psense_tree
    from diagnostics.sensitivity import psense_table

    separate = {r.spec.name: r.tree for r in results if "log_likelihood" in r.tree.children}
    loo, ppc, psense = [], [], []
    for j in joint_results:
        d1, d2 = j.data
        loo.append(joint_loo_row(j.tree, j.joint, d1, d2, separate))
        ppc.append(joint_ppc_table(j.tree, j.joint, d1, d2, frame))
        psense.append(psense_table(joint_psense_tree(j.tree, j.joint, d1, d2),
                                   model=j.joint.name))
    return pd.DataFrame(loo), pd.concat(ppc, ignore_index=True), \
        pd.concat(psense, ignore_index=True)


def _psense(results: list[FitResult]) -> pd.DataFrame | None:
    """Power-scaling sensitivity of every fit that has log_prior and log_likelihood."""
    from diagnostics.sensitivity import psense_table

    tables = [psense_table(r.tree, model=r.spec.name) for r in results
              if {"log_prior", "log_likelihood"} <= set(r.tree.children)]
    return pd.concat(tables, ignore_index=True) if tables else None


def level_weights(frame: pd.DataFrame, spec: ModelSpec, data, study: Study
                  ) -> dict[str, dict[str, float]]:
    """Weights of the focal levels for pooled averages: analysed rows per level
    (``tenant-weighted``) and, where the study names a size column of the lowest level, the
    summed sizes of each level's groups (``dwelling-weighted``: dwellings per form)."""
    labels = list(data.level_labels[spec.focal])
    counts = np.bincount(data.level_idx[spec.focal], minlength=len(labels))
    out = {f"{study.unit}-weighted": dict(zip(labels, counts.astype(float), strict=True))}
    group = spec.levels[0] if len(spec.levels) > 1 else None
    size = study.size_column
    if size and group and size in frame and group in frame:
        groups = frame.drop_duplicates(group)
        sizes = groups.groupby(groups[spec.focal].astype(str))[size].sum()
        out[f"{study.size_unit}-weighted"] = sizes.astype(float).to_dict()
    return out


BOOTSTRAP_DRAWS = 1000  # per-draw weights drawn: at least the effects' posterior draws


def _gates(results: list[FitResult], joints: dict) -> dict:
    """Subset model -> (its gate's fit, the open gate categories), from the two-part
    outcomes: the population of a subset model's effect is the gate's open share."""
    by_name = {r.spec.name: r for r in results}
    return {j.part.name: (by_name[j.gate.name], tuple(j.open_categories))
            for j in joints.values() if j.gate.name in by_name and j.part.name in by_name}


class Standardisations:
    """To whom the probability-scale effects are standardised: the respondents (equal
    weights) and, with a ``population`` file, multilevel regression and post-stratification
    and (for a register) response-propensity weights; ``info`` collects one row per model
    and standardisation for ``population.csv``.

    A population's target is made per imputation (``frames``: the completed data sets of a
    multiply imputed run, so a row's imputed cell value counts), per draw (a Bayesian
    bootstrap of the cells' covariates, bootstrap refits of the response model) and, for a
    subset model (an outcome asked only when a gate is open), with each cell's count times
    its gate share predicted by the gate's model (``gates``: subset model -> ``(gate
    result, open gate categories)``).
    """

    def __init__(self, population: Population | None, frame: pd.DataFrame, *,
                 frames: list[pd.DataFrame] | None = None, gates: dict | None = None) -> None:
        self.population, self.frame, self.info = population, frame, []
        self.frames, self.gates = frames, gates or {}
        self._cache: dict = {}

    def __call__(self, model: str, spec: ModelSpec, data) -> Iterator[tuple[str, object]]:
        from diagnostics.effects import RESPONDENTS

        yield RESPONDENTS, None
        pop = self.population
        if pop is None:
            return
        for how in ("poststratified", "propensity") if pop.kind == "register" else \
                ("poststratified",):
            yield pop.label(how), functools.partial(self.target, model, how)

    def target(self, model: str, how: str, spec: ModelSpec, data, rows: np.ndarray, k: int):
        """The population's :class:`~data.population.Target` for ``rows`` of ``data``
        (imputation ``k``)."""
        from data.population import population_target
        from models.design import aligned_frame

        key = (model, how, k, len(rows), hash(np.asarray(rows).tobytes()))
        if key in self._cache:
            return self._cache[key]
        frame = self.frames[k] if self.frames and k < len(self.frames) else self.frame
        aligned = aligned_frame(frame, spec, data).reset_index(drop=True)
        share = self.gate_share(model, spec, k) if how == "poststratified" else None
        t = population_target(self.population, aligned.iloc[rows], how,
                              draws=BOOTSTRAP_DRAWS, seed=k if how == "poststratified" else 0,
                              cell_share=share)
        if k == 0 and not any(r["model"] == model and r["population"] ==
                              self.population.label(how) for r in self.info):
            self.info.append({"model": model, "population": self.population.label(how),
                              **t.info, "gate_share": "from the gate model" if share is not
                              None else "", "covariates": "Bayesian bootstrap within cells, "
                              "per draw" if how == "poststratified" else "as observed"})
        self._cache[key] = t = t.within(np.asarray(rows), aligned)
        return t

    def gate_share(self, model: str, spec: ModelSpec, k: int) -> np.ndarray | None:
        """``(draws, cells)``: each population cell's share with the gate open, predicted by
        the gate's model at the cell's values (a new complex); ``None`` without a gate."""
        if model not in self.gates:
            return None
        from data.population import mrp_target
        from diagnostics.effects import focal_effects, random_sd
        from models.design import aligned_frame, design_at
        from models.draws import posterior_draws

        gate, open_codes = self.gates[model]
        g_data, g_tree = (gate.imputed[k] if gate.imputed and k < len(gate.imputed)
                          else (gate.data, gate.tree))
        gspec = gate.spec
        frame = self.frames[k] if self.frames and k < len(self.frames) else self.frame
        aligned = aligned_frame(frame, gspec, g_data).reset_index(drop=True)
        t = mrp_target(self.population, aligned)
        X = design_at(g_data.X, g_data.term_names, gspec.terms, aligned, t.donors, t.values)
        draws = posterior_draws(g_tree, max_draws=BOOTSTRAP_DRAWS, seed=k)
        effect = focal_effects(gspec, g_data, draws)
        forms = list(g_data.level_labels[gspec.focal])
        cats = list(g_data.categories) if g_data.categories is not None else [0, 1]
        event = cats.index(min(open_codes)) if gspec.family == "cumulative" else None
        focal_values = self.population.counts[gspec.focal].astype(str).to_numpy()
        share = np.ones((len(effect), len(self.population.counts)))
        for c in np.unique(t.cell):
            rows = t.cell == c
            f = forms.index(focal_values[c]) if focal_values[c] in forms else None
            if f is None:
                continue
            sd = random_sd(gspec, draws, X[rows], g_data, focal_index=f)
            share[:, c] = gspec.family_impl.event_probability(
                X[rows] @ draws("beta").T + effect[:, f][None, :], draws, sd=sd,
                event=event)
        return share


TIPPING_DRAWS = 200  # posterior draws per model in the tipping-point table


def tipping_table(results: list[FitResult], standards: Standardisations, *,
                  deltas: tuple[float, ...] | None = None) -> pd.DataFrame:
    """``tipping_point.csv``: for every single model with a probability scale, the
    post-stratified population's contrasts and levels over the delta grid, with the delta
    at which each contrast's conclusion flips (:mod:`diagnostics.tipping`); a multiply
    imputed model on its first imputation (a new complex)."""
    from diagnostics.effects import event_label, population_design, posterior_draws
    from diagnostics.tipping import (
        DEFAULT_DELTAS,
        delta_probabilities,
        nonresponse_share,
        tipping_points,
    )

    pop, deltas = standards.population, deltas or DEFAULT_DELTAS
    tables = []
    for r in results:
        spec = r.spec
        if not spec.focal or spec.variant == "none" or \
                not spec.family_impl.has_event_prediction:
            continue
        data, tree = r.imputed[0] if r.imputed else (r.data, r.tree)
        rows = np.arange(data.n)
        target = standards.target(spec.name, "poststratified", spec, data, rows, 0)
        draws = posterior_draws(tree, max_draws=TIPPING_DRAWS, seed=0)
        S = len(draws("beta")) if data.X.shape[1] else TIPPING_DRAWS
        X, w = population_design(target, spec, data, rows, S)
        probs = delta_probabilities(spec, data, draws, X, w, nonresponse_share(pop, target),
                                    deltas)
        label, _ = event_label(spec, data)
        if spec.subset:
            label = f"{label[:-1]} | {spec.subset})"
        tables.append(tipping_points(
            probs, deltas, list(data.level_labels[spec.focal]), spec.reference,
            model=spec.name, outcome=spec.outcome, event=label,
            scale=100.0 if spec.family_impl.has_probability_scale else 1.0).assign(
            population=pop.name, delta_scale="log-odds" if
            spec.family_impl.has_probability_scale else "outcome units"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _probability_rows(results: list[FitResult], study: Study, frame: pd.DataFrame,
                      populations: tuple[str, ...] = (),
                      contrasts: dict | None = None,
                      standards: Standardisations | None = None) -> Iterator[pd.DataFrame]:
    """Probability-scale effects of every model with a focal effect and such a scale: for
    all analysed rows, and for each target subgroup in ``populations`` (a focal level's
    rows or a ``column=value`` subgroup); standardised to each of ``standards``."""
    from diagnostics.effects import ALL, ESTIMANDS, probability_effects

    standards = standards or Standardisations(None, frame)
    for r in results:
        spec = r.spec
        if not spec.focal or spec.variant == "none" or not spec.family_impl.has_event_prediction:
            continue
        weights = level_weights(frame, spec, r.data, study)
        for population, w in standards(spec.name, spec, r.data):
            # subgroups for the respondents; a population standardises all analysed rows
            for subgroup in (ALL, *populations) if w is None else (ALL,):
                for estimand in ESTIMANDS:
                    yield probability_effects(r.tree, r.spec, r.data, estimand=estimand,
                                              pooled=study.pooled, subgroup=subgroup,
                                              frame=frame, weights=weights,
                                              contrasts=contrasts, row_weights=w,
                                              population=population, imputed=r.imputed)


def _total_rows(joint_results: list, frame: pd.DataFrame, study: Study,
                populations: tuple[str, ...] = (),
                contrasts: dict | None = None,
                standards: Standardisations | None = None) -> Iterator[pd.DataFrame]:
    """Total effects of the two-part outcomes (joint models), as :func:`_probability_rows`."""
    from diagnostics.effects import ALL, ESTIMANDS, total_effects

    standards = standards or Standardisations(None, frame)
    for j in joint_results:
        weights = level_weights(frame, j.joint.gate, j.data[0], study)
        for population, w in standards(j.joint.name, j.joint.gate, j.data[0]):
            for subgroup in (ALL, *populations) if w is None else (ALL,):
                for estimand in ESTIMANDS:
                    yield total_effects(j.tree, j.joint, *j.data, frame, estimand=estimand,
                                        pooled=study.pooled, subgroup=subgroup,
                                        weights=weights, contrasts=contrasts, row_weights=w,
                                        population=population, imputed=j.imputed)


def _recovery(summary: pd.DataFrame, truth: dict, out: Path) -> pd.DataFrame | None:
    """Recovery of the simulator's truth: recovery.csv per parameter, coverage.csv overall."""
    from diagnostics.recovery import coverage_summary, recovery_table

    table = recovery_table(summary, truth)
    if not len(table):
        return None
    write_csv(table, out / "recovery.csv")
    cov = coverage_summary(table)
    write_csv(cov, out / "coverage.csv")
    return cov
