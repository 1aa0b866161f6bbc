"""A self-contained HTML report that answers the question first (no file I/O here).

The first screen holds one sentence on data and model, the convergence verdict in one
line (a prominent warning naming the models when not all passed), the headline figure and
the findings in words. The evidence follows per question -- effects, estimands, whom the
effects stand for, the published conclusions, concepts and who benefits when run, prior
sensitivity, predictive checks, model comparison, convergence -- then the data, recovery
of a simulator's truth and a methods text. Model-by-model detail is collapsed.

The page is a Jinja2 template (``templates/report.html.j2``); tables arrive as text from
:func:`diagnostics.present.present` (rounded, no ``nan`` cells), each with its CSV
embedded for download. Figures arrive as PNG bytes and are embedded as data URIs, so the
file opens offline. A load script marks on ``<body>`` how many images decoded
(``data-images-decoded``), whether the headline figure and the findings lie inside the
first screen (``data-first-screen``) and how many cells read ``nan`` (``data-nan-cells``),
which the browser test reads back.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from diagnostics.convergence import THRESHOLDS
from diagnostics.equivalence import ROPE_SD, rope_width
from diagnostics.findings import VERDICT_RULES, claim_summary, verdict_counts
from diagnostics.headline import (
    FINDINGS_LEGEND,
    convergence_line,
    findings_sentences,
    headline_effects,
    headline_estimand,
)
from diagnostics.plots import GROUP_COLOURS
from diagnostics.present import interval_text, present

__all__ = ["SECTIONS", "SIMULATED_NOTE", "build_report", "figure_png", "structure_sentence"]

# every section a full run's report has (the first one is the answer)
SECTIONS = ("answer", "effects", "estimands", "population", "findings", "sensitivity", "ppc",
            "loo", "convergence", "data", "recovery", "methods")
MAX_ROWS = 300  # rows shown on the page per table (the CSV link has them all)
COLLAPSE_OVER = 15  # longer tables are collapsed
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)
_VERDICT_CLASS = {"ok": "ok", "warn": "warn", "fail": "fail", "misfit": "fail",
                  "supported": "ok", "uncertain": "warn", "contradicted": "fail",
                  "holds": "ok", "fails": "fail", "equivalent": "ok", "different": "fail",
                  "mixed": "warn", "yes": "warn"}
_VERDICT_COLUMNS = ("verdict", "diagnosis", "model_verdict", "flagged")
# the first screen's sentence when the data are simulated (a truth to recover is given)
SIMULATED_NOTE = ("The data are simulated: these effects and verdicts restate the truth "
                  "the simulator was given (by default its built-in one, data/truth.py, whose "
                  "directions encode the published findings), so agreement with the report "
                  "is by construction \u2014 it shows what this design can detect, not how "
                  "real complexes behave.")


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _src(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def _figs(pairs: Sequence[tuple[str, bytes | None]]) -> list[dict]:
    return [{"caption": c, "src": _src(p)} for c, p in pairs]


def _table(name: str, frame: pd.DataFrame | None, *, title: str = "",
           collapse: bool | None = None, group_of: Mapping[str, str] | None = None,
           groups: Sequence[str] = ()) -> dict | None:
    """A table for the template: text cells, a class per verdict cell, the CSV embedded."""
    if frame is None or not len(frame):
        return None
    csv = "data:text/csv;base64," + base64.b64encode(
        frame.to_csv(index=False).encode()).decode()
    shown = present(frame.head(MAX_ROWS))
    verdicts = {c.replace("_", " ") for c in _VERDICT_COLUMNS}
    # a column of words reads left-aligned; numbers and intervals right-aligned
    words = {h for h in shown.columns if h not in verdicts and
             (~shown[h].str.match(r"^[-+\u2013]?[\d.,]+")).mean() > 0.5}
    rows = []
    for _, r in shown.iterrows():
        rows.append([(value, _VERDICT_CLASS.get(value, "") if header in verdicts else
                      "text" if header in words else "") for header, value in r.items()])
    headers_html = []
    for h in shown.columns:
        g = (group_of or {}).get(str(h).split(" ")[0])
        colour = f' class="g{list(groups).index(g)}"' if g in groups else ""
        align = ' class="text"' if h in words else ""
        headers_html.append(Markup(f"<span{colour}{align}>{escape(h)}</span>"))
    n = len(frame)
    return {"name": name, "title": title, "headers": headers_html, "rows": rows, "csv": csv,
            "n_rows": n, "shown": min(n, MAX_ROWS), "truncated": n > MAX_ROWS,
            "collapsed": (n > COLLAPSE_OVER) if collapse is None else collapse}


def _ordered(frame: pd.DataFrame | None, first: Sequence[str] = (),
             last: Sequence[str] = ()) -> pd.DataFrame | None:
    """``frame`` with ``first`` (those it has) leading in that order and ``last`` at the end."""
    if frame is None:
        return None
    lead = [c for c in first if c in frame.columns]
    tail = [c for c in last if c in frame.columns]
    return frame[lead + [c for c in frame.columns if c not in lead and c not in tail] + tail]


def _verdict_legend() -> Markup:
    """The verdict words of each claim type and their rules (:data:`VERDICT_RULES`)."""
    items = "".join(f"<li><b>{escape(kind)}</b>: {escape(rule)}</li>"
                    for kind, rule in VERDICT_RULES.items())
    at_15 = rope_width(np.array([0.15]), on_probability_scale=True, response_sd=1.0)
    return Markup(f'<ul id="verdict-legend" class="legend">{items}<li>ROPE (region of '
                  f"practical equivalence): &plusmn;{ROPE_SD:g} SD of the outcome, on its "
                  f"latent scale at its base rate for a share (&plusmn;{at_15:.1f} "
                  "percentage points at a 15% base rate); the expected column gives each "
                  "claim's width, the table of widths below the verdicts at others</li></ul>")


def _text(html: str) -> dict:
    """A paragraph of the report's own wording (trusted markup, never data)."""
    return {"kind": "text", "html": Markup(html)}


def _tab(*args, **kwargs) -> dict:
    return {"kind": "table", "table": _table(*args, **kwargs)}


def _details(summary: str, blocks: list[dict]) -> dict:
    return {"kind": "details", "summary": summary, "blocks": blocks}


def _wide_headline(headline: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    """Outcomes x levels, each cell ``mean [5%, 95%]`` of the contrast (the headline)."""
    rows = []
    for outcome, g in headline.groupby("outcome", sort=False):
        pp = g["unit"].iloc[0] == "percentage points"
        row = {"outcome": outcome, "event": g["event"].iloc[0],
               "model": g["model"].iloc[0],
               "reference": (f"{g['contrast'].iloc[0].split(' - ')[-1]}: "
                             f"{g['reference_level_p'].iloc[0]:.0f}%") if pp else
               g["contrast"].iloc[0].split(" - ")[-1]}
        for r in g.itertuples():
            row[r.level] = interval_text(r.mean, r.q05, r.q95, decimals=1 if pp else 2)
        rows.append(row)
    wide = pd.DataFrame(rows)
    return wide[["outcome", "event", "model", "reference",
                 *[lv for lv in levels if lv in wide]]]


def _imputation_blocks(table: pd.DataFrame | None) -> list:
    """How the covariates were imputed and the fraction of missing information (FMI) of
    the headline contrasts (``imputation.csv``), in a line and a table."""
    if table is None or "block" not in table or not len(table):
        return []
    settings = table[table["block"] == "settings"].set_index("setting")["value"]
    fmi = table[table["block"] == "fmi"].dropna(axis=1, how="all").drop(columns="block")
    words = (f"Missing covariates imputed m = {settings.get('m', '?')} times "
             f"({escape(str(settings.get('m_rule', '')))}; "
             f"{float(settings.get('fraction_incomplete', 'nan')):.0%} of rows incomplete), "
             "each imputation its own chain, with the outcomes, the "
             f"{escape(str(settings.get('form', 'focal level')))} and the "
             f"{escape(str(settings.get('cluster', 'group')))} means among the predictors; "
             f"missing by design and never imputed: "
             f"{escape(str(settings.get('missing_by_design', 'none')))}.")
    if len(fmi) and fmi["fmi"].notna().any():
        top = fmi.loc[fmi["fmi"].idxmax()]
        words += (f" Fraction of missing information of the headline contrasts: median "
                  f"{fmi['fmi'].median():.2f}, largest {top['fmi']:.2f} "
                  f"({escape(str(top['outcome']))}, {escape(str(top['contrast']))}); "
                  f"m &ge; 100 &times; FMI wants {fmi['m_needed'].max():.0f}.")
    blocks = [_text(words)]
    if len(fmi):
        blocks.append(_tab("imputation", _ordered(fmi, (
            "model", "outcome", "contrast", "fmi", "m_needed", "within_var", "between_var",
            "total_var", "m")), title="Fraction of missing information per headline "
            "contrast (Rubin's rules on each imputation's draws; variances in pp&sup2;)"))
    return blocks


def _effects_section(tables: dict, figures: dict, headline: pd.DataFrame, focal: str,
                     names: Callable[[str], str], groups: Mapping[str, str]) -> dict | None:
    effects = tables.get("effects")
    if effects is None or not len(effects):
        return None
    latent = effects[effects["scale"] == "latent"]
    prob = effects[effects["scale"] != "latent"]
    order = list(dict.fromkeys(groups.values()))
    blocks = []
    if len(headline):
        levels = [lv for lv in groups if lv in set(headline["level"])]  # grouped already
        blocks += [_text(f"The headline contrasts in one table: percentage points (or response "
                         f"units) vs the reference {focal.lower()}, mean [90% interval]; the "
                         f"reference column gives its own level."),
                   _tab("headline", _wide_headline(headline, levels), collapse=False,
                        group_of=groups, groups=order)]
        named = [f"{escape(names(lv))} ({escape(groups.get(lv, ''))})" for lv in levels
                 if names(lv) != lv]
        if named:
            blocks.append(_text("Levels: " + "; ".join(named) + "."))
    if figures.get("probability"):
        blocks.append({"kind": "figures", "figures": _figs(figures["probability"]),
                       "collapsed": False})
    if len(prob):
        blocks.append(_text("<em>new_complex</em> integrates over the between-group variation "
                            "of every random grouping level (a new group of each); "
                            "<em>typical_complex</em> sets it to zero (the typical, median "
                            "group: under a logit link not the average one, which is "
                            "new_complex's average over groups). Every analysed row is placed "
                            "in each level in turn. <em>interpretation</em>: <b>total</b> only "
                            "for an unconditional effect whose model holds no possible "
                            "mediator fixed (the assumptions in <em>assumes</em>), "
                            "<b>controlled</b> where it does (<em>held_fixed</em>), "
                            "<b>conditional</b> among those a gate lets through."))
        blocks.append(_tab("probability_effects", prob, title="Every probability-scale effect "
                           "(levels, contrasts, pooled groups, estimands, subgroups)",
                           collapse=True))
    if len(latent):
        blocks.append(_details("Latent scale (log-odds or response units): every contrast", [
            {"kind": "figures", "figures": _figs(figures.get("effects", []))},
            {"kind": "table", "table": _table("latent_effects", latent, collapse=False)}]))
    return {"id": "effects", "title": f"What the {focal.lower()} changes: effects",
            "blocks": blocks}


def _estimands_section(table: pd.DataFrame | None, focal: str) -> dict | None:
    """Every contrast under each estimand of the run, side by side, and what each answers."""
    if table is None or not len(table):
        return None
    cell = table.assign(value=[interval_text(m, lo, hi) for m, lo, hi in
                               zip(table["mean"], table["q05"], table["q95"], strict=True)])
    wide = cell.pivot_table(index=["outcome", "contrast"], columns=["effect", "adjustment"],
                            values="value", aggfunc="first")
    wide.columns = [f"{e}, {a}" for e, a in wide.columns]
    wide = wide[wide.notna().sum(axis=1) > 1]  # a contrast with one estimand: the headline's
    if not len(wide):
        return None
    intro = ("Percentage points vs the reference, a new complex, all analysed tenants "
             "(mean [90% interval]). <b>conditional</b>: among those who pass a gate the "
             "form itself moves (friendly contact among tenants with contact; participation "
             "where activities are organised) &mdash; the report's own analysis. "
             "<b>unconditional</b>: the gate and the outcome together (P(contact &ge; 2 and "
             "friendly)), from the joint two-part model. The adjustment sets come from the "
             "causal graph and bound the effect: <b>study</b> holds every covariate fixed, "
             "including the two the form may change (shared norms, outside contact): a "
             "<em>controlled</em> effect; <b>pre_residence_wide</b> the confounders and the "
             "three covariates whose role is two-sided (social motive, personal care, "
             "residence duration), read as confounders; <b>pre_residence</b> the "
             "confounders only, reading the two-sided ones as consequences of the form. Each "
             "of the last two is the <em>total</em> effect under its reading, if nothing "
             "unmeasured confounds it. Only contrasts with more than one estimand in this "
             "run are shown (<code>--adjustment bounds</code> fits all three sets); a dash: "
             "not fitted.")
    return {"id": "estimands", "title": f"Which effect of the {focal.lower()}? Every "
            "estimand side by side",
            "blocks": [_text(intro), _tab("estimands", wide.reset_index(), collapse=False)]}


def _robustness_section(table: pd.DataFrame | None, causal: list, focal: str) -> dict | None:
    """The causal graph the adjustment sets come from, and how strong an unmeasured
    confounder would have to be to overturn each headline contrast."""
    if (table is None or not len(table)) and not causal:
        return None
    blocks = []
    if causal:
        blocks.append(_text("The causal roles the adjustment sets are derived from: "
                            "confounders (before the move) point into the "
                            f"{focal.lower()}; possible mediators and form features are "
                            f"pointed to by it; two-sided covariates both. The effect is "
                            "called <em>total</em> only where no mediator is held fixed."))
        blocks.append({"kind": "figures", "figures": _figs(causal), "collapsed": False})
    if table is not None and len(table):
        fragile = table[table["k_interval"] < 1] if "k_interval" in table else table.iloc[:0]
        blocks.append(_text(
            "E-values (VanderWeele &amp; Ding 2017): the risk ratio an unmeasured confounder "
            f"would need with both the {focal.lower()} and the outcome to move the 90% "
            "interval to no effect (<em>e_value_interval</em>), to explain the point away "
            "or to halve it; <em>k_interval</em>: how many times as strong (log risk ratios "
            "&times; k) as the most dangerous measured covariate (<em>benchmark</em>) it "
            f"would have to be. {len(fragile)} of {len(table)} contrasts could be "
            "overturned by a confounder weaker than a measured one (k &lt; 1)."))
        blocks.append(_tab("robustness", _ordered(table, (
            "outcome", "contrast", "mean", "q05", "q95", "rr_median", "e_value_interval",
            "e_value_point", "e_value_halve", "benchmark", "k_interval", "k_halve"),
            last=("robustness",)), collapse=False))
    return {"id": "robustness", "title": "Would an unmeasured confounder overturn it?",
            "blocks": blocks}


def _population_section(tables: dict, figures: list | None = None) -> dict | None:
    """Who answered, and the headline effects for the respondents and for the population."""
    response = tables.get("population_response")
    if response is None:
        return None
    weights = tables.get("population_weights")
    model = ""
    if weights is not None and "propensity_model" in weights:
        model = next(iter(weights["propensity_model"].dropna()), "")
    if weights is not None:
        weights = weights[[c for c in ("model", "population", "ess", "n_rows",
                                       "population_size", "cells", "cells_without_respondents",
                                       "borrowed_share", "gate_share", "propensity_refits")
                           if c in weights]]
    intro = ("The respondents are not the tenant population: response differs by the "
             "register's cells. <b>respondents</b>: the effects averaged over the analysed "
             "tenants (equal weights). <b>post-stratified</b> (the file's name): multilevel "
             "regression and post-stratification &mdash; every population cell predicted by "
             "the model at its own values and weighted by its count; a cell without "
             "respondents is predicted at its own values too, borrowing only the covariates "
             "the cells do not fix from its nearest cell with respondents; a subset "
             "model's cells are weighted by their gate share, predicted by the gate's model. "
             "<b>[propensity]</b>: weights 1/P(respond) from a main-effects logistic "
             "regression on the register, refitted on bootstrap resamples. Both assume that, "
             "within a cell, respondents are like non-respondents (missing at random given "
             "the cells); the tipping-point table below measures how far a departure "
             "would move each conclusion.")
    tipping = tables.get("population_tipping")
    tipping_blocks = []
    if tipping is not None and len(tipping):
        points = tipping[tipping["delta"] == 0][[
            "model", "contrast", "mean", "q05", "q95", "conclusion", "delta_uncertain",
            "delta_reversed"]].rename(columns={"mean": "mean (delta 0)"})
        tipping_blocks = [
            _text("<b>Tipping point</b>: if the non-respondents in a contrast's first form "
                  "were delta log-odds (a Gaussian outcome: delta units) more likely to have "
                  "the event than respondents like them, at what delta would the conclusion "
                  "stop holding? delta_uncertain: the interval reaches 0; delta_reversed: "
                  "the mean changes sign (empty: not within the grid; signed: the "
                  "direction that undoes the effect)."),
            {"kind": "figures", "figures": _figs(figures or [])},
            _tab("tipping_point", points, title="Tipping points per contrast "
                 "(post-stratified population, a new complex)")]
    return {"id": "population", "title": "Who answered, and whom the effects stand for",
            "blocks": [
                _text(intro),
                _tab("population_comparison", tables.get("population_comparison"),
                     title="Headline effects for respondents and population (a new complex, "
                           "percent or percentage points, mean [90% interval])",
                     collapse=False),
                _tab("response", response, title="Response by cell variable"),
                _text("ess: Kish's effective sample size of the weights; borrowed share: "
                      "the population share in cells without respondents (predicted at "
                      "their own values with their nearest cell's other covariates). "
                      f"Propensity model: {escape(model) or 'none'}."),
                _tab("population_weights", weights, title="Weights per model"),
                *tipping_blocks]}


def _psense_section(psense: pd.DataFrame | None, grid: pd.DataFrame | None,
                    figures: list) -> dict:
    intro = ("Power-scaling sensitivity (arviz-stats <code>psense</code>, no refits): how "
             "far each posterior moves when the prior or the likelihood is raised to a power "
             "near 1. Above 0.05 on both: possible <b>prior-data conflict</b>; on the prior "
             "only: <b>strong prior / weak likelihood</b>. The top-level priors are scaled "
             "(coefficients, thresholds, SDs), not the standard-normal group offsets.")
    blocks = [_text(intro)]
    if psense is None or psense.empty:
        blocks.append(_text("<em>Power-scaling not computed (fits without log_prior).</em>"))
    else:
        flagged = psense[psense["diagnosis"] != "ok"]
        per_model = psense.groupby("model", sort=False).agg(
            parameters=("parameter", "size"), max_prior=("prior", "max"),
            max_likelihood=("likelihood", "max"),
            flagged=("diagnosis", lambda d: int((d != "ok").sum()))).reset_index()
        per_model["verdict"] = per_model["flagged"].map(lambda n: "warn" if n else "ok")
        blocks += [_tab("psense_models", per_model, collapse=False),
                   {"kind": "heading", "anchor": "psense-flagged",
                    "text": f"Flagged parameters ({len(flagged)})"},
                   _tab("psense_flagged", flagged) if len(flagged) else
                   _text("No parameter flagged.")]
        blocks.append(_details("Every parameter, per model", [
            {"kind": "table", "table": _table(
                f"psense_{model}", g.drop(columns="model"), collapse=False,
                title=f"{model}: {int((g['diagnosis'] != 'ok').sum())} of {len(g)} "
                      f"parameters flagged")}
            for model, g in psense.groupby("model", sort=False)]))
    if grid is not None and len(grid):
        blocks += [{"kind": "heading", "anchor": "prior-grid",
                    "text": "Refits under a grid of priors (run_models.py sensitivity)"},
                   _tab("sensitivity", grid)]
    if figures:
        blocks.append({"kind": "figures", "figures": _figs(figures), "collapsed": True,
                       "summary": "Power-scaled posteriors (figures)"})
    return {"id": "sensitivity", "title": "Prior sensitivity", "blocks": blocks}


def _optional(tables: dict, key: str, title: str, intro: str) -> dict | None:
    table = tables.get(key)
    if table is None or not len(table):
        return None
    return {"id": key, "title": title, "blocks": [_text(intro), _tab(key, table)]}


def structure_sentence(by_structure: pd.DataFrame | None, structures: pd.DataFrame | None,
                       *, focal_name: str) -> str:
    """The first screen's sentence on the focal-effect structures: which conclusions change
    their verdict under another structure beyond Monte Carlo error, how many only within
    it, and whether leave-one-group-out prefers another structure (plain text)."""
    if by_structure is None or not len(by_structure):
        return ""
    keys = {"outcome", "parameter", "claim_type", "claim", "hierarchical",
            "depends_on_structure", "borderline"}
    others = [c for c in by_structure.columns if c not in keys and not c.startswith("p_")]
    if not others:
        return ""
    flips = by_structure[by_structure["depends_on_structure"].astype(bool)]
    head = (f"Under the other {focal_name} effect structures ({'; '.join(others)}; the "
            "pooled fit reweighted), ")
    if len(flips):
        named = "; ".join(f"{r.outcome} {r.parameter} ({r.hierarchical} → "
                          + ", ".join(f"{c}: {r[c]}" for c in others) + ")"
                          for _, r in flips.head(6).iterrows())
        more = f" and {len(flips) - 6} more" if len(flips) > 6 else ""
        words = head + f"{len(flips)} conclusion(s) change their verdict: {named}{more}."
    else:
        words = head + f"no conclusion changes its verdict ({len(by_structure)} checked)."
    if "borderline" in by_structure and by_structure["borderline"].astype(bool).any():
        words += (f" {int(by_structure['borderline'].astype(bool).sum())} more change only "
                  "within Monte Carlo error (borderline).")
    untrusted = (by_structure[others] == "(k too high)").any(axis=1).sum()
    if untrusted:
        words += f" {untrusted} could not be judged under every structure (Pareto k too high)."
    if structures is not None and "preferred" in structures and \
            structures["preferred"].astype(bool).any():
        pref = structures[structures["preferred"].astype(bool)]
        words += (" Leave-one-group-out prefers another structure for "
                  + ", ".join(f"{m} ({s_})" for m, s_ in zip(pref["model"], pref["structure"],
                                                             strict=True)) + ".")
    return words


def build_report(*, title: str, source: str, tables: dict[str, pd.DataFrame],
                 figures: dict[str, list[tuple[str, bytes | None]]], design: str = "",
                 focal_name: str = "focal-level", lede: str | None = None,
                 names: Callable[[str], str] = str, groups: Mapping[str, str] | None = None,
                 methods: tuple[list, list] | None = None, group_name: str = "group",
                 units: str = "rows", unit: str = "row", simulated: bool | None = None) -> str:
    """The report as one HTML string.

    ``title``, ``design`` (one sentence on the data's structure), ``focal_name`` (what the
    focal level is called), ``names`` (a focal label's display name), ``groups`` (each focal
    label's group, e.g. clustered / non-clustered: coloured alike) and ``units`` are the
    study's wording; ``lede``: the sentence on data and model (default: ``design``).
    ``tables`` may hold ``diagnostics``, ``overview``, ``missing``, ``marginals``,
    ``overlap``, ``effects``, ``estimands``, ``population_*``, ``findings``, ``concepts``,
    ``benefit``, ``sensitivity`` (the refit grid), ``ppc``, ``loo``, ``psense``,
    ``coverage``; ``figures`` maps ``headline``, ``effects``, ``probability``,
    ``sensitivity``, ``ppc`` and ``convergence`` to ``(caption, png)`` pairs; ``methods``
    is :func:`diagnostics.methods.methods_text`'s result. Sections with nothing to show
    are left out (effects without effect rows, conclusions without ``findings``, recovery
    without ``coverage``). ``simulated`` (default: whether ``coverage``, the recovery of a
    simulator's truth, is given): the first screen then says that the conclusions restate
    the simulator's encoded truth (:data:`SIMULATED_NOTE`).
    """
    focal = focal_name[:1].upper() + focal_name[1:]
    groups = dict(groups or {})
    diag = tables.get("diagnostics", pd.DataFrame())
    failed = set(diag.loc[diag["verdict"] == "fail", "model"]) if len(diag) else set()
    headline = headline_effects(tables.get("effects"))
    for level in headline.get("level", []):
        groups.setdefault(level, "levels")
    findings_words = findings_sentences(headline, names=str, failed=failed) \
        if len(headline) else []
    estimand = headline_estimand(headline, group=group_name, focal=focal_name, units=units)
    findings = tables.get("findings")
    conclusions = ""
    if findings is not None and len(findings):
        conclusions = ("The report's published conclusions, checked one by one: "
                       + verdict_counts(findings) + " (see below).")
    structure_words = structure_sentence(tables.get("findings_structures"),
                                         tables.get("structures"), focal_name=focal_name)
    if structure_words:
        conclusions = f"{conclusions} {structure_words}".strip()
    if simulated is None:
        simulated = tables.get("coverage") is not None
    if simulated:
        conclusions = f"{conclusions} {SIMULATED_NOTE}".strip()
    head_fig = (figures.get("headline") or [("", None)])[0]

    ppc = tables.get("ppc")
    ppc = pd.DataFrame() if ppc is None else ppc
    misfits = ppc[ppc["verdict"] == "misfit"] if len(ppc) else ppc
    sections = [
        _effects_section(tables, figures, headline, focal, names, groups),
        _estimands_section(tables.get("estimands"), focal),
        _robustness_section(tables.get("robustness"), figures.get("causal", []), focal),
        _population_section(tables, figures.get("tipping", [])),
        {"id": "findings", "title": "The report's conclusions, one by one", "blocks": [
            _text("Each published conclusion restated as a claim about the fitted model and "
                  "judged from its posterior, in words that belong to its kind of claim; "
                  "P(claim) and P(against) are the posterior probabilities the verdict "
                  "rests on."),
            {"kind": "html", "html": _verdict_legend()},
            _tab("claims", claim_summary(findings), collapse=False,
                 title="Per sentence of the report (joint: every pair in the same draw)"),
            _tab("findings", findings.drop(columns="verdict_rule", errors="ignore"),
                 title="Every claimed pair and coefficient", collapse=True),
            *([_tab("findings_rope", tables["findings_rope"], collapse=True,
                    title="Equivalence claims over several ROPE widths (standardised units; "
                          "rope: the width on the outcome scale), every pair of forms")]
              if tables.get("findings_rope") is not None and len(tables["findings_rope"])
              else []),
            *([_tab("findings_structures",
                    tables["findings_structures"].drop(columns="claim", errors="ignore"),
                    collapse=True,
                    title=f"Every conclusion's verdict under each {focal_name} effect "
                          "structure (the pooled fit reweighted; p_: P(claim); (k too "
                          "high): the reweighting cannot be trusted, not judged; "
                          "borderline: changed within Monte Carlo error)")]
              if tables.get("findings_structures") is not None else [])]}
        if findings is not None and len(findings) else None,
        _optional(tables, "concepts", "New concepts",
                  "Predicted outcomes for new concepts described by their group-level "
                  f"features (run_models.py concepts), beside the existing {focal_name}s."),
        _optional(tables, "benefit", "Who benefits",
                  "One group of levels minus another for the analysed rows at each level of "
                  "a moderator (run_models.py benefit)."),
        _psense_section(tables.get("psense"), tables.get("sensitivity"),
                        figures.get("sensitivity", [])),
        {"id": "ppc", "title": "Posterior predictive checks", "blocks": [
            _text(f"{len(misfits)} of {len(ppc)} checked statistics outside the central 95% "
                  "of their replications (two-sided mid-p). Checks: category shares per "
                  "level and by group size, the spread of group means with <em>new</em> group "
                  "effects, proportional odds per level, calibration by covariate."),
            _tab("ppc_misfits", misfits, title=f"Misfits ({len(misfits)})")
            if len(misfits) else _text("No statistic outside its replications' central 95%."),
            {"kind": "figures", "figures": _figs(figures.get("ppc", [])), "collapsed": True,
             "summary": "Observed vs replicated, per model (figures)"},
            _tab("ppc", ppc, title="Every checked statistic", collapse=True)]},
        {"id": "loo", "title": "Model comparison and predictive accuracy", "blocks": [
            _text(f"<em>elpd (PSIS-LOO)</em> scores a new {unit} in a known {group_name}; "
                  f"<em>elpd (leave one {group_name} out)</em> a whole new {group_name}, its "
                  f"effect integrated out &mdash; the question about the {focal_name}. "
                  "Pareto k &gt; 0.7 marks unreliable estimates. A joint two-part model scores "
                  f"each {unit}'s gate and part answers together; <em>elpd_diff_vs_separate"
                  "</em> compares it with the two separate models on the same rows (what the "
                  "correlated group effects add). LOO-PIT tests the "
                  "calibration of the leave-one-out predictive distribution. "
                  "<code>run_models.py compare</code> ranks relaxed variants (group SD by "
                  f"{focal_name}, category-specific {focal_name} effects) by both, with exact "
                  "refits and grouped K-fold."),
            _tab("loo", _ordered(tables.get("loo"), (
                "model", "elpd_loo", "se", "elpd_diff_vs_separate", "diff_se", "elpd_logo",
                "logo_se", "p_loo", "pareto_k_bad",
                "logo_pareto_k_bad", "loo_pit_ks_p", "loo_pit_outer", "verdict", "note")),
                collapse=False),
            *([_text(f"<em>{focal} effect structures</em>: the fitted model pools the "
                     f"{focal_name} effects (zero-sum, one SD). <em>fixed</em> gives each "
                     "contrast its own prior; <em>&lt;columns&gt; + residual</em> explains "
                     f"the {focal_name}s by their describing columns and pools the rest. The "
                     "structures differ only in the prior of the level means, so each is "
                     "the fitted posterior reweighted (Pareto-smoothed; k above min(1 &minus; "
                     "1/log10 S, 0.7): not trusted, fit it with <code>run_models.py "
                     "compare</code>). A structure is preferred only where its "
                     "leave-one-group-out elpd exceeds the fitted one's by more than twice "
                     "the paired SE and no group's leave-out ratios have k &gt; 0.7."),
               _tab("structures", tables["structures"], collapse=True,
                    title=f"{focal} effect structures by reweighting")]
              if tables.get("structures") is not None and len(tables["structures"])
              else [])]},
        {"id": "convergence", "title": "Convergence", "blocks": [
            _text(f"Thresholds: R-hat &le; {THRESHOLDS['rhat_warn']} (fail &gt; "
                  f"{THRESHOLDS['rhat_fail']}), bulk and tail ESS &ge; "
                  f"{THRESHOLDS['ess_per_chain']:.0f} per chain, no divergences, E-BFMI "
                  f"&ge; {THRESHOLDS['ebfmi']}."),
            _tab("diagnostics", _ordered(diag, (
                "model", "verdict", "max_r_hat", "min_ess_bulk", "min_ess_tail", "divergences",
                "min_ebfmi"), last=("reason",)), collapse=False),
            *[_details(caption, [{"kind": "figures", "figures": _figs([(caption, png)])}])
              for caption, png in figures.get("convergence", [])]]},
        {"id": "data", "title": "Data", "blocks": [
            _tab(key, tables.get(key), title=heading) for key, heading in (
                ("overview", f"Rows and groups per {focal_name}"),
                ("marginals", "Marginals beside the report's published figures"),
                ("overlap", "Covariate overlap per contrast: the share of the two groups' "
                            "rows outside the common support of their generalised propensity "
                            "score (extrapolates: more than 10%)"),
                ("missing", "Missing values and rows removed per model"))
            if tables.get(key) is not None and len(tables.get(key))]
            + _imputation_blocks(tables.get("imputation"))
            or [_text("No missing values; no rows removed.")]},
        {"id": "recovery", "title": "Recovery of the simulator's truth", "blocks": [
            _text("Simulated data: how often the 90% intervals cover the known truth."),
            _tab("coverage", tables.get("coverage"), collapse=False)]}
        if tables.get("coverage") is not None else None,
    ]
    if methods is not None:
        paras, refs = methods
        sections.append({"id": "methods", "title": "Methods (from this run; paste and edit)",
                         "cls": "methods", "blocks": [
                             *[_text(f"<b>{escape(h)}.</b> {escape(p)}") for h, p in paras],
                             {"kind": "html", "html": Markup('<ul class="refs">' + "".join(
                                 f"<li>{escape(r)}</li>" for r in refs) + "</ul>")}]})
    sections = [s for s in sections if s is not None]
    toc = [("answer", "The answer"), *[(s["id"], s["title"].split(":")[0]) for s in sections]]
    return _ENV.get_template("report.html.j2").render(
        title=title, lede=lede or design, source=source,
        generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        convergence=convergence_line(diag, THRESHOLDS),
        headline_figure={"caption": head_fig[0], "src": _src(head_fig[1])}
        if head_fig[1] is not None or head_fig[0] else None,
        findings=findings_words, estimand=estimand, conclusions=conclusions,
        legend=FINDINGS_LEGEND,
        sections=sections, toc=toc, colours=GROUP_COLOURS)
