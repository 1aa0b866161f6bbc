"""A self-contained HTML report from precomputed tables and figures (no file I/O here).

Figures arrive as PNG bytes and are embedded as data URIs, so the file opens offline. A
small script marks on ``<body>`` how many images decoded (``data-images-decoded``), which
the browser test reads back.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime

import pandas as pd

__all__ = ["SECTIONS", "build_report", "figure_png"]

SECTIONS = ("flags", "data", "convergence", "effects", "probability", "estimands", "ppc", "loo",
            "sensitivity", "findings", "recovery")
_CSS = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222}
h1{font-size:1.6em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.fail{background:#fde2e2} .warn{background:#fff4d6} .ok{background:#e6f4ea}
.banner{padding:.8em 1em;border-radius:6px;margin:1em 0}
img{max-width:100%;border:1px solid #eee}
"""
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  document.body.setAttribute('data-images-decoded', ok + '/' + imgs.length);
});
"""


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def _table(frame: pd.DataFrame, *, max_rows: int = 400) -> str:
    if frame is None or frame.empty:
        return "<p><em>nothing to show</em></p>"
    frame = frame.head(max_rows).copy()
    for col in frame.select_dtypes("float").columns:
        frame[col] = frame[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    rows = []
    for _, r in frame.iterrows():
        verdict = str(r.get("verdict", ""))
        cls = f' class="{verdict}"' if verdict in ("ok", "warn", "fail") else (
            ' class="fail"' if verdict in ("misfit", "not supported") else "")
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in r.to_numpy())
        rows.append(f"<tr{cls}>{cells}</tr>")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _psense_section(psense: pd.DataFrame | None, figures: str) -> str:
    intro = ("<p>Power-scaling sensitivity (arviz-stats <code>psense</code>, no refits): how "
             "far each posterior moves when the prior or the likelihood is raised to a power "
             "near 1. Above 0.05 on both: possible <b>prior-data conflict</b>; on the prior "
             "only: <b>strong prior / weak likelihood</b>. The top-level priors are scaled "
             "(coefficients, thresholds, SDs), not the standard-normal group offsets.</p>")
    if psense is None or psense.empty:
        return f'<section id="sensitivity"><h2>Prior sensitivity</h2>{intro}' \
               "<p><em>not computed (fits without log_prior)</em></p></section>"
    flagged = psense[psense["diagnosis"] != "ok"]
    per_model = psense.groupby("model", sort=False).agg(
        parameters=("parameter", "size"), max_prior=("prior", "max"),
        max_likelihood=("likelihood", "max"),
        flagged=("diagnosis", lambda d: int((d != "ok").sum()))).reset_index()
    per_model["verdict"] = per_model["flagged"].map(lambda n: "warn" if n else "ok")
    per_parameter = "".join(
        f"<details><summary>{html.escape(str(model))}: {int((g['diagnosis'] != 'ok').sum())} "
        f"of {len(g)} parameters flagged</summary>{_table(g.drop(columns='model'))}</details>"
        for model, g in psense.groupby("model", sort=False))
    return (f'<section id="sensitivity"><h2>Prior sensitivity</h2>{intro}'
            f"{_table(per_model)}<h3>Flagged parameters ({len(flagged)})</h3>"
            f"{_table(flagged)}<h3>Every parameter, per model</h3>{per_parameter}"
            f"{figures}</section>")


def _estimands_section(table: pd.DataFrame | None, focal: str) -> str:
    """Every contrast under each estimand of the run, side by side, and what each answers."""
    if table is None or not len(table):
        return ""
    cell = table.assign(value=[f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}]" for m, lo, hi in
                               zip(table["mean"], table["q05"], table["q95"], strict=True)])
    wide = cell.pivot_table(index=["outcome", "contrast"], columns=["effect", "adjustment"],
                            values="value", aggfunc="first")
    wide.columns = [f"{e}, {a}" for e, a in wide.columns]
    intro = ("<p>Percentage points vs the reference, a new complex, all analysed tenants "
             "(mean [90% interval]). <b>conditional</b>: among those who pass a gate the "
             "form itself moves (friendly contact among tenants with contact; participation "
             "where activities are organised) &mdash; the report's own analysis. "
             "<b>total</b>: the gate and the outcome together (P(contact &ge; 2 and "
             "friendly)), from the joint two-part model. <b>study</b>: controlled for all "
             "twelve tenant covariates, including four the form may itself change (shared "
             "norms, outside contact, social motive, residence duration); "
             "<b>pre_residence</b>: adjusted for the eight confounders only &mdash; the form's "
             "total effect if nothing unmeasured confounds it. Empty cells: not fitted in "
             "this run (<code>--adjustment both</code> fits both sets).</p>")
    return (f'<section id="estimands"><h2>Which effect of the {focal.lower()}? Every '
            f"estimand side by side</h2>{intro}{_table(wide.reset_index().fillna(''))}"
            "</section>")


def _population_section(tables: dict) -> str:
    """Who answered, and the headline effects for the respondents and for the population."""
    response = tables.get("population_response")
    if response is None:
        return ""
    weights = tables.get("population_weights")
    model = ""
    if weights is not None and "propensity_model" in weights:
        model = next(iter(weights["propensity_model"].dropna()), "")
        weights = weights[[c for c in ("model", "population", "ess", "n_rows",
                                       "population_size", "cells", "collapsed_share")
                           if c in weights]]
    intro = ("<p>The respondents are not the tenant population: response differs by the "
             "register's cells. <b>respondents</b>: the effects averaged over the analysed "
             "tenants (equal weights). <b>post-stratified</b> (the file's name): each "
             "population cell's count shared by the cell's respondents &mdash; the model's "
             "counterfactual predictions standing for the cell's tenants (MRP). "
             "<b>[propensity]</b>: weights 1/P(respond) from a main-effects logistic "
             "regression on the register. Both assume that, within a cell, respondents are "
             "like non-respondents (missing at random given the cells); response that "
             "depends on the outcome itself is not repaired.</p>")
    return ('<section id="population"><h2>Who answered, and whom the effects stand for</h2>'
            f"{intro}<h3>Response by cell variable</h3>{_table(response)}"
            f"<h3>Weights per model</h3><p>ess: Kish's effective sample size of the "
            f"weights; collapsed_share: the population share in cells without respondents, "
            f"moved to their neighbours. Propensity model: {html.escape(model) or 'none'}."
            f"</p>{_table(weights)}"
            f"<h3>Headline effects for respondents and population (a new complex, "
            f"percent or percentage points, mean [90% interval])</h3>"
            f"{_table(tables.get('population_comparison'))}</section>")


def build_report(*, title: str, source: str, tables: dict[str, pd.DataFrame],
                 figures: dict[str, list[tuple[str, bytes | None]]], design: str = "",
                 focal_name: str = "focal-level") -> str:
    """The report as one HTML string.

    ``title``, ``design`` (one sentence on the data's structure) and ``focal_name`` (what
    the focal level is called) are the study's wording. ``tables`` may hold ``diagnostics``,
    ``overview``, ``missing``, ``marginals``, ``effects``, ``ppc``, ``loo``, ``psense``,
    ``findings``, ``coverage``; ``figures`` maps a section name to ``(caption, png)`` pairs.
    Sections with nothing to show are left out: the focal-level effects without effect
    rows, the conclusions without ``findings``, recovery without ``coverage`` (real data).
    """
    diag = tables.get("diagnostics", pd.DataFrame())
    bad = diag[diag["verdict"] != "ok"] if len(diag) else diag
    if len(bad):
        items = "".join(f"<li><b>{html.escape(r.model)}</b>: {html.escape(r.verdict)} — "
                        f"{html.escape(r.reason)}</li>" for r in bad.itertuples())
        cls = "fail" if (bad["verdict"] == "fail").any() else "warn"
        flags = (f'<div class="banner {cls}"><b>Doubtful fits.</b> A model marked fail '
                 f"cannot be trusted; its estimates are shown in red.<ul>{items}</ul></div>")
    else:
        flags = '<div class="banner ok">All models passed every convergence check.</div>'

    def figs(section: str) -> str:
        return "".join(f"<h3>{html.escape(c)}</h3>{_img(p, c) if p else ''}" for c, p in
                       figures.get(section, []))

    effects = tables.get("effects", pd.DataFrame())
    latent = effects[effects["scale"] == "latent"] if len(effects) else effects
    prob = effects[(effects["scale"] != "latent")] if len(effects) else effects
    focal = html.escape(focal_name[:1].upper() + focal_name[1:])
    ppc = tables.get("ppc")
    ppc = pd.DataFrame() if ppc is None else ppc
    misfits = ppc[ppc["verdict"] == "misfit"] if len(ppc) else ppc
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Data: {html.escape(source)}. Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        f"{html.escape(design)}</p>",
        f'<section id="flags"><h2>Verdicts at a glance</h2>{flags}</section>',
        '<section id="data"><h2>Data overview</h2>' + "".join(
            f"<h3>{heading}</h3>{_table(tables.get(key))}" for key, heading in (
                ("overview", "Tenants and complexes per living form"),
                ("marginals", "Marginals beside the report's published figures"),
                ("overlap", "Covariate overlap per contrast: the share of the two groups' "
                            "rows outside the common support of their generalised propensity "
                            "score (extrapolates: more than 10%)"),
                ("missing", "Missing values and rows removed per model"))
            if key == "missing" or tables.get(key) is not None) + "</section>",
        '<section id="convergence"><h2>Convergence</h2><p>Thresholds: R-hat &le; 1.01 '
        "(fail &gt; 1.05), bulk and tail ESS &ge; 100 per chain, no divergences, E-BFMI "
        f"&ge; 0.3.</p>{_table(diag)}{figs('convergence')}</section>",
        f'<section id="effects"><h2>{focal} effects (latent scale)</h2>'
        f"{figs('effects')}{_table(latent)}</section>" if len(latent) else "",
        f'<section id="probability"><h2>{focal} effects on the probability scale</h2>'
        "<p>Average counterfactual effects: the analysed population placed in each "
        "level in turn; <em>new_complex</em> integrates over the between-group variation of "
        "every random grouping level (a new group of each), <em>average_complex</em> sets "
        "it to zero.</p>"
        f"{figs('probability')}{_table(prob)}</section>" if len(prob) else "",
        _estimands_section(tables.get("estimands"), focal),
        _population_section(tables),
        '<section id="ppc"><h2>Posterior predictive checks</h2>'
        f"<p>{len(misfits)} of {len(ppc)} checked statistics outside the central 95% of "
        f"their replications.</p>{figs('ppc')}<h3>Misfits</h3>{_table(misfits)}</section>",
        '<section id="loo"><h2>Predictive accuracy: PSIS-LOO and leave-one-complex-out</h2>'
        "<p><em>elpd_loo</em> (PSIS-LOO) scores a new tenant in a known complex; "
        "<em>elpd_logo</em> (PSIS-LOGO) a whole new complex, its effect integrated out -- "
        "the living-form question. Pareto k &gt; 0.7 marks unreliable estimates; LOO-PIT "
        "tests the calibration of the leave-one-out predictive distribution. "
        "<code>run_models.py compare</code> ranks the relaxed variants (complex SD by form, "
        "category-specific form effects) by both, with exact refits and grouped K-fold.</p>"
        f'{_table(tables.get("loo"))}</section>',
        _psense_section(tables.get("psense"), figs("sensitivity")),
        '<section id="findings"><h2>The report\'s conclusions, one by one</h2>'
        f"{_table(tables.get('findings'))}</section>" if tables.get("findings") is not None
        else "",
        '<section id="recovery"><h2>Recovery of the simulator\'s truth</h2>'
        f"{_table(tables.get('coverage'))}</section>" if tables.get("coverage") is not None
        else "",
    ]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
            f"<script>{_SCRIPT}</script></head><body>{''.join(parts)}</body></html>")
