"""The answer first: the headline contrasts of a run and its findings in words.

Pure functions over the effects and diagnostics tables. The headline is one estimand,
named in every output that shows it: the probability scale (percentage points), a *new*
group of the lowest level (its effect integrated out), every analysed row placed in each
focal level in turn, the respondents unweighted, the study's own adjustment set, and the
*unconditional* effect where a two-part outcome has one (its conditional effect is reported
beside it in the evidence). Whether it is a *total* or a *controlled* effect is said by its
rows' ``interpretation`` (:meth:`models.causal.CausalGraph.label`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from diagnostics.effects import headline_rows
from diagnostics.present import interval_text

__all__ = ["FINDINGS_LEGEND", "HEADLINE_ESTIMAND", "convergence_line", "findings_sentences",
           "headline_effects", "headline_estimand", "level_groups"]

HEADLINE_ESTIMAND = ("probability scale, a new {group} of each {focal}, all analysed {units} "
                     "(respondents, unweighted), {adjustment}; unconditional effects (gate "
                     "and part together) where an outcome has two parts")


FINDINGS_LEGEND = ("Levels whose 90% interval excludes 0, largest first: mean [90% interval] "
                   "(posterior probability of the sign shown); 'unclear': the interval "
                   "includes 0")


def _reference(contrasts: pd.Series) -> str | None:
    right = contrasts.str.split(" - ", regex=False).str[-1]
    return right.mode().iloc[0] if len(right) else None


def headline_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """Each outcome's contrasts of a focal level vs the reference under the headline estimand.

    One model per outcome: the unconditional effect (a joint two-part model) before a
    conditional one, the adjustment ``study`` before others. Columns of ``effects`` plus
    ``level`` (the contrasted level) and ``reference_level_p`` (the reference level's own
    mean, e.g. its percentage of tenants with the event).
    """
    need = {"scale", "estimand", "contrast"}
    if effects is None or not len(effects) or not need <= set(effects):
        return pd.DataFrame()
    rows = headline_rows(effects[(effects["scale"] != "latent")
                                 & (effects["estimand"] == "new_complex")])
    if not len(rows):
        return pd.DataFrame()
    pairs = rows[rows["contrast"].str.contains(" - ", regex=False)]
    reference = _reference(pairs["contrast"])
    pairs = pairs[pairs["contrast"].str.split(" - ", regex=False).str[-1] == reference]
    chosen = []
    for _, g in pairs.groupby("outcome", sort=False):
        rank = g.assign(
            _total=(g.get("effect", pd.Series("unconditional", index=g.index))
                    != "unconditional"),
            _adj=~g.get("adjustment", pd.Series("study", index=g.index))
            .isin(["study", "terms as declared"]))
        best = rank.sort_values(["_total", "_adj"], kind="stable").iloc[0]["model"]
        chosen.append(best)
    out = pairs[pairs["model"].isin(chosen)].copy()
    # outcomes in the order the effects table first names them (the suite's order)
    order = {o: k for k, o in enumerate(dict.fromkeys(effects["outcome"]))}
    out = out.sort_values("outcome", key=lambda c: c.map(order), kind="stable")
    out["level"] = out["contrast"].str.split(" - ", regex=False).str[0]
    levels = rows[rows["contrast"] == reference].drop_duplicates("model") \
        .set_index("model")["mean"]
    out["reference_level_p"] = out["model"].map(levels)
    return out.reset_index(drop=True)


def headline_estimand(headline: pd.DataFrame, *, group: str, focal: str, units: str) -> str:
    """The headline estimand in words, with the adjustment set(s) its rows carry."""
    adjustments = sorted(set(headline.get("adjustment", pd.Series(dtype=str)).dropna())
                         - {"terms as declared"})
    adjustment = ("adjusted for the " + " / ".join(adjustments) + " covariates"
                  if adjustments else "adjusted for each model's declared terms")
    readings = sorted(set(headline.get("interpretation", pd.Series(dtype=str)).dropna()))
    if readings:
        held = sorted({t for h in headline.get("held_fixed", pd.Series(dtype=str)).dropna()
                       for t in str(h).split(", ") if t})
        adjustment += " (" + " / ".join(readings) + (" effects: holding fixed "
                                                       + ", ".join(held) + ", which the "
                                                       + focal + " may change"
                                                       if held else " effects") + ")"
    return HEADLINE_ESTIMAND.format(group=group, focal=focal, units=units,
                                    adjustment=adjustment)


def level_groups(levels: list[str], pooled: Mapping[str, tuple[str, ...]],
                 complement: str) -> dict[str, str]:
    """Each focal level's group: the first pooled group it belongs to, else ``complement``
    (the housing study: ``non-clustered`` = GG, LZ, HZ; every other form ``clustered``).

    Ordered by group, the complement's levels first (the levels within a group in their
    given order): the report draws and colours the groups in this order.
    """
    group = {lv: next((g for g, members in pooled.items() if lv in members), complement)
             for lv in levels}
    order = [complement, *pooled]
    return dict(sorted(group.items(), key=lambda kv: order.index(kv[1])))


def _unit(unit: str) -> str:
    return "pp" if unit == "percentage points" else unit


def _probability(p: float) -> str:
    """A posterior probability as the draws support it: ``>0.99`` rather than ``1.00``."""
    return ">0.99" if p > 0.99 else ("<0.01" if p < 0.01 else f"= {p:.2f}")


def _clear(r, decimals: int) -> str:
    """``RB +6.8 [+0.9, +11.8] (0.97)``: the posterior probability of the sign shown."""
    p = r.p_positive if r.mean > 0 else 1 - r.p_positive
    return (f"{r.level} {interval_text(r.mean, r.q05, r.q95, decimals=decimals)} "
            f"({_probability(p).removeprefix('= ')})")


def findings_sentences(headline: pd.DataFrame, *, names: Callable[[str], str] = str,
                       failed: set[str] = frozenset()) -> list[tuple[str, str]]:
    """Per outcome ``(outcome, sentence)``: the levels whose 90% interval excludes zero,
    largest first, as ``RB +6.8 [+0.9, +11.8] (0.97)`` -- the contrast, its interval and
    the posterior probability of its sign (:data:`FINDINGS_LEGEND`); or that none does,
    with the largest. A model whose convergence failed is said so first: its numbers
    cannot be trusted.
    """
    out = []
    for outcome, g in headline.groupby("outcome", sort=False):
        reference = g["contrast"].iloc[0].split(" - ")[-1]
        unit = _unit(str(g["unit"].iloc[0])) if "unit" in g else ""
        base = g["reference_level_p"].iloc[0]
        event = g["event"].iloc[0] if "event" in g else outcome
        on = f"{event}; {names(reference)} {base:.0f}%; {unit} vs {names(reference)}" \
            if unit == "pp" and np.isfinite(base) else f"{event}; {unit} vs {names(reference)}"
        clear = g[(g["q05"] > 0) | (g["q95"] < 0)]
        clear = clear.reindex(clear["mean"].abs().sort_values(ascending=False).index)
        dec = 1 if unit == "pp" else 2
        if len(clear):
            rest = len(g) - len(clear)
            text = ", ".join(_clear(r, dec) for r in clear.itertuples()) + (
                f"; {rest} other{'s' if rest > 1 else ''} unclear" if rest else "")
        else:
            top = g.loc[g["mean"].abs().idxmax()]
            text = (f"none differs clearly (largest {top['level']} "
                    f"{interval_text(top['mean'], top['q05'], top['q95'], decimals=dec)})")
        text = f"({on}): {text}."
        if set(g["model"]) & failed:
            text = f"NOT TRUSTWORTHY (convergence failed) {text}"
        out.append((outcome, text))
    return out


def convergence_line(diagnostics: pd.DataFrame, thresholds: Mapping[str, float]
                     ) -> tuple[str, str]:
    """``(css class, sentence)``: one line when every model passed, else the models named."""
    if diagnostics is None or not len(diagnostics):
        return "warn", "No convergence diagnostics in this run."
    n = len(diagnostics)
    rule = (f"R-hat \u2264 {thresholds['rhat_warn']}, bulk and tail ESS \u2265 "
            f"{thresholds['ess_per_chain']:.0f} per chain, no divergent transitions, E-BFMI "
            f"\u2265 {thresholds['ebfmi']}")
    bad = diagnostics[diagnostics["verdict"] != "ok"]
    if not len(bad):
        return "ok", f"All {n} models passed every convergence check ({rule})."
    failed = bad[bad["verdict"] == "fail"]
    parts = []
    for verdict, label in (("fail", "cannot be trusted"), ("warn", "doubtful")):
        sub = bad[bad["verdict"] == verdict]
        if len(sub):
            parts.append(f"{len(sub)} of {n} models {label}: " + "; ".join(
                f"{r.model} ({r.reason})" for r in sub.itertuples()))
    return ("fail" if len(failed) else "warn"), \
        ". ".join(parts) + f". Thresholds: {rule}. Details under Convergence."
