"""Assemble the run's report: figures drawn from the tables, then one HTML file.

The tables are computed by the fit workflow; here they only become figures (each guarded,
so a figure that cannot be drawn is reported and the report still written) and
``report.html``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from data.study import Study
from inference.files import write_text
from workflows import console

__all__ = ["REPORT_TABLES", "figure", "overview_tables", "report_command", "report_context",
           "write_report"]

log = logging.getLogger(__name__)


def figure(caption: str, make: Callable) -> tuple[str, bytes | None]:
    """``(caption, png)``; a figure that fails to draw is reported, not fatal to the run."""
    from diagnostics.report import figure_png

    try:
        return caption, figure_png(make())
    except Exception as err:  # noqa: BLE001 - the tables and fits are already written
        log.warning("figure %r failed: %s", caption, err)
        console.warn(f"warning: figure {caption!r} could not be drawn: "
                     f"{type(err).__name__}: {err}")
        return f"{caption} (not drawn: {type(err).__name__}: {err})", None


def overview_tables(frame: pd.DataFrame, tables: dict) -> None:
    """The housing data overview: tenants and complexes per form, simulated marginals."""
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


def _lede(frame: pd.DataFrame, study: Study, source: str, specs: list, settings) -> str:
    """One sentence on the data and the models of the run."""
    from diagnostics.methods import plural

    levels = specs[0].levels if specs else ()
    groups = " in ".join(f"{frame[lv].nunique():,} {plural(study.level_name(lv))}"
                         for lv in levels if lv in frame)
    families = sorted({s.family for s in specs})
    kind = source.split(":")[0]
    return (f"Data, {kind}: {len(frame):,} {study.units}" + (f" in {groups}" if groups else "")
            + f". {len(specs)} Bayesian multilevel models ({', '.join(families)}), "
            f"one per outcome; {study.design[:1].lower() + study.design[1:]} "
            f"{settings.chains} chains \u00d7 {settings.draws:,} draws"
            + (" or more, until every R-hat and ESS target is met (per model under "
               "Convergence)" if settings.top_up else "") + f" ({settings.sampler}).")


def methods_for(results: list, *, frame: pd.DataFrame, study: Study, source: str,
                settings, joint: list[str], estimand: str, population: str | None = None,
                imputations: int | None = None) -> tuple[list, list]:
    """The methods paragraphs and references of a run (:mod:`diagnostics.methods`)."""
    from dataclasses import asdict

    from diagnostics.convergence import THRESHOLDS
    from diagnostics.methods import methods_text, model_facts
    from inference.engine import effective_target_accept

    facts = [model_facts(r.spec, r.data, target_accept=effective_target_accept(r.spec,
                                                                               settings))
             for r in results]
    levels = results[0].spec.levels if results else ()
    return methods_text(models=facts, settings=asdict(settings), thresholds=THRESHOLDS,
                        n_rows=len(frame), units=study.units,
                        groups={lv: int(frame[lv].nunique()) for lv in levels if lv in frame},
                        level_names=study.level_names, source=source, estimand=estimand,
                        joint=joint, population=population, imputations=imputations,
                        findings=study.has_findings, causal=study.causal_graph,
                        robustness=any(r.spec.focal for r in results))


# the report's tables and the CSV files of a run folder they are read back from
REPORT_TABLES = {
    "diagnostics": "diagnostics.csv", "effects": "effects.csv", "estimands": "estimands.csv",
    "robustness": "robustness.csv",
    "findings": "findings.csv", "findings_rope": "findings_rope.csv",
    "structures": "structures.csv", "findings_structures": "findings_structures.csv",
    "overlap": "overlap.csv", "missing": "missing.csv", "imputation": "imputation.csv",
    "ppc": "ppc.csv", "loo": "loo.csv", "coverage": "coverage.csv", "psense": "psense.csv",
    "overview": "overview.csv", "marginals": "marginals.csv",
    "population_weights": "population.csv", "population_response": "response.csv",
    "population_comparison": "population_effects.csv",
    "population_tipping": "tipping_point.csv", "concepts": "concepts.csv",
    "benefit": "benefit.csv", "sensitivity": "sensitivity.csv",
}
SUBCOMMAND_TABLES = ("concepts", "benefit", "sensitivity")  # written into a run folder later


def report_context(results: list, *, frame: pd.DataFrame, study: Study, source: str,
                   settings, effects: pd.DataFrame, focal_name: str, joint: list[str] = (),
                   population: str | None = None, imputations: int | None = None) -> dict:
    """What the report says of the run beyond its tables: the sentence on data and models,
    the methods paragraphs and references (kept in ``run.json``, so that ``run_models.py
    report`` can rebuild the page from the run folder)."""
    from diagnostics.headline import headline_effects, headline_estimand

    specs = [r.spec for r in results]
    group = study.level_name(specs[0].levels[0]) if specs else "group"
    estimand = headline_estimand(headline_effects(effects), group=group, focal=focal_name,
                                 units=study.units)
    paragraphs, references = methods_for(results, frame=frame, study=study, source=source,
                                         settings=settings, joint=list(joint),
                                         estimand=estimand, population=population,
                                         imputations=imputations)
    return {"source": source, "focal_name": focal_name, "group_name": group, "joint": list(joint),
            "lede": _lede(frame, study, source, specs, settings),
            "methods": {"paragraphs": paragraphs, "references": references}}


def write_report(out: Path, *, study: Study, fits: dict, tables: dict,
                 context: dict, read: tuple[str, ...] = SUBCOMMAND_TABLES) -> Path:
    """Write ``report.html`` (figures embedded) and ``methods.md`` beside the CSV tables.

    ``tables``: keys of :data:`REPORT_TABLES`; those of ``read`` not given are read from
    the run folder where their CSV lies there -- by default the subcommands' tables
    (``concepts.csv``, ``benefit.csv``, the prior grid's ``sensitivity.csv``, run with
    ``--out`` the run's folder), never a main-job table this run did not make (a CSV left
    by an earlier run in the folder). ``context``: :func:`report_context`.
    """
    from diagnostics.headline import headline_effects, level_groups
    from diagnostics.methods import methods_markdown
    from diagnostics.plots import forest_figure, headline_figure, ppc_figure, rank_figure
    from diagnostics.report import build_report

    tables = dict(tables)
    for key in read:
        name = REPORT_TABLES[key]
        if tables.get(key) is None and (out / name).exists():
            tables[key] = pd.read_csv(out / name)
    if tables.get("missing") is not None and "n_missing" in tables["missing"]:
        tables["missing"] = tables["missing"].query("n_missing > 0")
    focal_name = context.get("focal_name", "focal-level")
    effects = tables["effects"]
    headline = headline_effects(effects)
    groups = level_groups(list(dict.fromkeys(headline.get("level", []))), study.pooled,
                          study.complement) if len(headline) else {}
    figures = {}
    if len(headline):
        reference = headline["contrast"].iloc[0].split(" - ")[-1]
        named = [study.label_name(lv) for lv in [*groups, reference]
                 if study.label_name(lv) != lv]
        figures["headline"] = [figure(
            f"Each {focal_name} vs the reference, every outcome: dot = posterior mean, line "
            "= 90% interval; right of 0 = more of the event. Hollow: the model did not "
            "converge." + (f" {'; '.join(named)}." if named else ""),
            lambda: headline_figure(headline, groups=groups, names=str))]
    if (effects["scale"] == "latent").any():
        figures["effects"] = [figure("Contrasts vs the reference, latent scale (90% intervals)",
                                     lambda: forest_figure(effects, scale="latent",
                                                           names=study.label_name,
                                                           pooled=tuple(study.pooled),
                                                           groups=groups))]
    if (effects["scale"] == "probability").any():
        figures["probability"] = [figure(
            "Contrasts vs the reference in percentage points, a new group (90% intervals); "
            "red: a model that failed its convergence checks",
            lambda: forest_figure(effects, scale="probability", names=study.label_name,
                                  pooled=tuple(study.pooled), groups=groups))]
    if study.causal_graph is not None and study.causal_graph.nodes:
        from diagnostics.plots import causal_graph_figure

        figures["causal"] = [figure(
            "Causal roles of the covariates (confounders and two-sided covariates also "
            "point to the outcomes; red: a path a checked conclusion is about)",
            lambda: causal_graph_figure(study.causal_graph))]
    if tables.get("population_tipping") is not None and len(tables["population_tipping"]):
        from diagnostics.plots import tipping_figure

        figures["tipping"] = [figure(
            "Contrasts for the population (post-stratified, a new complex) if the "
            "non-respondents in the contrast's first form were delta log-odds more likely "
            "to have the event than respondents like them (90% intervals)",
            lambda: tipping_figure(tables["population_tipping"]))]
    figures["convergence"] = [figure(f"{name}: rank plots of the group SDs and contrasts "
                                     "(each chain's ranks should be uniform: the lines stay "
                                     "inside the band)",
                                     lambda t=tree: rank_figure(t)) for name, tree in fits.items()]
    psense = tables.get("psense")
    if psense is not None and fits:
        from diagnostics.sensitivity import psense_figure

        # arviz-plots power-scaling densities for models with a flag (or the first model)
        shown = [m for m in dict.fromkeys(psense.loc[psense["diagnosis"] != "ok", "model"])
                 if m in fits] or [next(iter(fits))]
        figures["sensitivity"] = [figure(f"{m}: power-scaled posteriors of SDs and contrasts "
                                         "(curves apart: sensitive)",
                                         lambda m=m: psense_figure(fits[m])) for m in shown]
    if tables.get("ppc") is not None:
        figures["ppc"] = [figure(f"{m}: observed (dot) inside the replicated 90% (bar) is a "
                                 "fit; red dots are misfits",
                                 lambda m=m: ppc_figure(tables["ppc"], m))
                          # the joint models' checks (joint event) are in the table only
                          for m in dict.fromkeys(tables["ppc"].loc[
                              ~tables["ppc"]["check"].str.startswith("joint"), "model"])]
    for m, tree in fits.items():  # item-level fits: their item characteristic curves
        if "thresholds" in getattr(tree.get("posterior"), "data_vars", ()) \
                and "item" in tree["posterior"]["thresholds"].dims:
            figures.setdefault("ppc", []).append(figure(
                f"{m}: item characteristic curves, P(answer | latent) per item (top) and "
                "P(answer >= k | latent) (bottom; posterior mean and 90% band; steeper: a "
                "more discriminating item)",
                lambda t=tree, m=m: _item_curves(t, m)))
    methods = context.get("methods")
    methods = (methods["paragraphs"], methods["references"]) if methods else None
    if methods is not None:
        write_text(out / "methods.md", methods_markdown(*methods, title=study.title))
    text = build_report(title=study.title, design=study.design,
                        source=context.get("source", str(out)), focal_name=focal_name,
                        tables=tables, figures=figures, lede=context.get("lede"),
                        names=study.label_name, groups=groups, methods=methods,
                        group_name=context.get("group_name", "group"), units=study.units,
                        unit=study.unit)
    return write_text(out / "report.html", text)


def _item_curves(tree, model: str):
    from diagnostics.crossval import item_curves
    from diagnostics.plots import item_curves_figure

    cuts = [str(c).split("|") for c in tree["posterior"]["threshold"].values]
    theta, *curves = item_curves(tree)
    _, *at_least = item_curves(tree, theta=theta, at_least=True)
    return item_curves_figure(theta, *curves, items=[str(i) for i in
                                                     tree["posterior"]["item"].values],
                              categories=[c[0] for c in cuts] + [cuts[-1][-1]], title=model,
                              at_least=tuple(at_least))


def _fit_trees(out: Path, models: list[str]) -> dict:
    """The saved posterior of each model of a run folder (an imputed fit's first imputation)."""
    import xarray as xr

    from inference.imputation import imputation_path

    trees = {}
    for model in models:
        for path in (out / "fits" / f"{model}.nc", imputation_path(out / "fits", model, 1)):
            if path.exists():
                trees[model] = xr.open_datatree(path, engine="netcdf4").load()
                break
    return trees


def recorded_config(recorded: dict | None):
    """The study config a run recorded in ``run.json`` (its outcomes and ``[study]``
    wording), or the defaults (the housing study) for a run without one."""
    from data.config import StudyConfig

    if not recorded:
        return StudyConfig()
    return StudyConfig(source=recorded.get("source", "<recorded>"),
                       outcomes=tuple(recorded.get("outcomes", ())),
                       study=dict(recorded.get("study", {})))


def report_command(args) -> int:
    """``run_models.py report``: rebuild ``report.html`` and ``methods.md`` of a run folder
    from its tables, fits and ``run.json`` -- nothing refitted or recomputed; tables that a
    subcommand wrote into the folder since (concepts, benefit, the prior grid) join it."""
    import json

    from data.config import ConfigError, load_config
    from data.study import study_for

    if getattr(args, "out", None) is not None:
        console.warn(f"note: `report --out {args.out}` is now `report {args.out}`")
    out = args.run_dir or getattr(args, "out", None) or Path("results") / "default"
    run_json = out / "run.json"
    if not run_json.exists() or not (out / "effects.csv").exists():
        console.warn(f"error: {out} is not a finished run folder (no run.json or effects.csv)"
                     "; run the main job with --out there first")
        return 2
    run = json.loads(run_json.read_text())
    try:
        study = study_for(load_config(args.config) if args.config else
                          recorded_config(run.get("config")))
    except (ConfigError, ValueError) as err:
        console.warn(f"error: {err}")
        return 2
    models = [m["model"] for m in run.get("models", [])]
    joint = set(run.get("report", {}).get("joint", []))
    fits = _fit_trees(out, [m for m in models if m not in joint])
    context = run.get("report", {})
    # the main job's own tables as it listed them (an older run.json: every CSV there)
    made = tuple(context.get("tables", [k for k in REPORT_TABLES
                                        if k not in SUBCOMMAND_TABLES]))
    path = write_report(out, study=study, fits=fits, tables={}, context=context,
                        read=(*made, *SUBCOMMAND_TABLES))
    methods = f" and {out / 'methods.md'}" if context.get("methods") else \
        " (no methods text: run.json predates it; rerun the main job, its fits are reused)"
    console.say(f"wrote {path}{methods} from the tables and {len(fits)} fits in {out}")
    return 0
