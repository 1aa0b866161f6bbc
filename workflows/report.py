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


def write_report(out: Path, *, frame: pd.DataFrame, study: Study, source: str,
                 fits: dict, tables: dict, focal_name: str = "focal-level") -> Path:
    """Write ``report.html`` (figures embedded) beside the CSV tables."""
    from diagnostics.plots import forest_figure, ppc_figure, rank_figure
    from diagnostics.report import build_report

    if study.has_overview and "living_form" in frame and "complex_id" in frame:
        _overview(frame, tables)
    effects = tables["effects"]
    figures = {}
    if (effects["scale"] == "latent").any():
        figures["effects"] = [figure("Contrasts vs the reference, latent scale (90% intervals)",
                                     lambda: forest_figure(effects, scale="latent",
                                                           names=study.label_name,
                                                           pooled=tuple(study.pooled)))]
    if (effects["scale"] == "probability").any():
        figures["probability"] = [figure(
            "Contrasts vs the reference in percentage points, a new group (90% intervals)",
            lambda: forest_figure(effects, scale="probability", names=study.label_name,
                                  pooled=tuple(study.pooled)))]
    figures["convergence"] = [figure(f"{name}: rank plots (chains should overlap)",
                                     lambda t=tree: rank_figure(t)) for name, tree in fits.items()]
    psense = tables.get("psense")
    if psense is not None:
        from diagnostics.sensitivity import psense_figure

        # arviz-plots power-scaling densities for models with a flag (or the first model)
        shown = list(dict.fromkeys(psense.loc[psense["diagnosis"] != "ok", "model"]))
        shown = shown or [next(iter(fits))]
        figures["sensitivity"] = [figure(f"{m}: power-scaled posteriors of SDs and contrasts",
                                         lambda m=m: psense_figure(fits[m])) for m in shown]
    if tables.get("ppc") is not None:
        figures["ppc"] = [figure(m, lambda m=m: ppc_figure(tables["ppc"], m))
                          for m in dict.fromkeys(tables["ppc"]["model"])]
    text = build_report(title=study.title, design=study.design, source=source,
                        focal_name=focal_name,
                        tables=tables, figures=figures)
    return write_text(out / "report.html", text)
