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

__all__ = ["figure", "write_report"]

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


def _overview(frame: pd.DataFrame, tables: dict) -> None:
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
    levels = specs[0].levels if specs else ()
    groups = ", ".join(f"{frame[lv].nunique():,} {study.level_name(lv)}s" for lv in levels
                       if lv in frame)
    families = sorted({s.family for s in specs})
    return (f"{source}: {len(frame):,} {study.units}" + (f" in {groups}" if groups else "")
            + f". {len(specs)} Bayesian multilevel models ({', '.join(families)}), one per "
            f"outcome; {study.design[:1].lower() + study.design[1:]} "
            f"{settings.chains} chains x {settings.draws:,} draws ({settings.sampler}).")


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
                        joint=joint, population=population, imputations=imputations)


def write_report(out: Path, *, frame: pd.DataFrame, study: Study, source: str,
                 fits: dict, tables: dict, focal_name: str = "focal-level",
                 results: list | None = None, settings=None, joint: list[str] = (),
                 population: str | None = None, imputations: int | None = None) -> Path:
    """Write ``report.html`` (figures embedded) and ``methods.md`` beside the CSV tables.

    The subcommands' tables (``concepts.csv``, ``benefit.csv``, the prior grid's
    ``sensitivity.csv``) join the report when they lie in the run folder (run them with
    ``--out`` the run's folder, then rerun the main job: its fits are reused).
    """
    from diagnostics.headline import headline_effects, headline_estimand, level_groups
    from diagnostics.methods import methods_markdown
    from diagnostics.plots import forest_figure, headline_figure, ppc_figure, rank_figure
    from diagnostics.report import build_report

    if study.has_overview and "living_form" in frame and "complex_id" in frame:
        _overview(frame, tables)
    for name in ("concepts", "benefit", "sensitivity"):
        if (out / f"{name}.csv").exists() and tables.get(name) is None:
            tables[name] = pd.read_csv(out / f"{name}.csv")
    effects = tables["effects"]
    headline = headline_effects(effects)
    groups = level_groups(list(dict.fromkeys(headline.get("level", []))), study.pooled,
                          study.complement) if len(headline) else {}
    figures = {}
    if len(headline):
        figures["headline"] = [figure(
            f"Each {focal_name} vs the reference, every outcome: dot = posterior mean, line "
            "= 90% interval; right of 0 = more of the event. Hollow: the model did not "
            "converge.",
            lambda: headline_figure(headline, groups=groups, names=str))]
    if (effects["scale"] == "latent").any():
        figures["effects"] = [figure("Contrasts vs the reference, latent scale (90% intervals)",
                                     lambda: forest_figure(effects, scale="latent",
                                                           names=study.label_name,
                                                           pooled=tuple(study.pooled)))]
    if (effects["scale"] == "probability").any():
        figures["probability"] = [figure(
            "Contrasts vs the reference in percentage points, a new group (90% intervals); "
            "red: a model that failed its convergence checks",
            lambda: forest_figure(effects, scale="probability", names=study.label_name,
                                  pooled=tuple(study.pooled)))]
    figures["convergence"] = [figure(f"{name}: rank plots of the group SDs and contrasts "
                                     "(each chain's ranks should be uniform: the lines stay "
                                     "inside the band)",
                                     lambda t=tree: rank_figure(t)) for name, tree in fits.items()]
    psense = tables.get("psense")
    if psense is not None:
        from diagnostics.sensitivity import psense_figure

        # arviz-plots power-scaling densities for models with a flag (or the first model)
        shown = list(dict.fromkeys(psense.loc[psense["diagnosis"] != "ok", "model"]))
        shown = shown or [next(iter(fits))]
        figures["sensitivity"] = [figure(f"{m}: power-scaled posteriors of SDs and contrasts "
                                         "(curves apart: sensitive)",
                                         lambda m=m: psense_figure(fits[m])) for m in shown]
    if tables.get("ppc") is not None:
        figures["ppc"] = [figure(f"{m}: observed (dot) inside the replicated 90% (bar) is a "
                                 "fit; red dots are misfits",
                                 lambda m=m: ppc_figure(tables["ppc"], m))
                          for m in dict.fromkeys(tables["ppc"]["model"])]
    methods = None
    if results and settings is not None:
        group = study.level_name(results[0].spec.levels[0]) if results[0].spec.levels \
            else "group"
        estimand = headline_estimand(headline, group=group, focal=focal_name,
                                     units=study.units)
        methods = methods_for(results, frame=frame, study=study, source=source,
                              settings=settings, joint=list(joint), estimand=estimand,
                              population=population, imputations=imputations)
        write_text(out / "methods.md", methods_markdown(*methods, title=study.title))
    specs = [r.spec for r in results or []]
    text = build_report(title=study.title, design=study.design, source=source,
                        focal_name=focal_name, tables=tables, figures=figures,
                        lede=_lede(frame, study, source, specs, settings)
                        if specs and settings is not None else None,
                        names=study.label_name, groups=groups, methods=methods,
                        group_name=study.level_name(specs[0].levels[0]) if specs else "group",
                        units=study.units)
    return write_text(out / "report.html", text)
