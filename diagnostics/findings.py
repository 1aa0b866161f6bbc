"""Check the report's conclusions one by one against a fit (pure functions).

Every claim of :data:`data.findings.FINDINGS` and :data:`data.findings.EQUIVALENCES` gets
a verdict whose words belong to its claim type and mean one thing each
(:data:`VERDICT_RULES`), with the posterior probabilities it rests on beside it:

* **directional** (a contrast or coefficient has the claimed sign): ``supported`` when
  P(claimed sign) >= 0.95, ``contradicted`` when P(opposite sign) >= 0.95 (the data point
  the other way), otherwise ``uncertain``;
* **joint** (a sentence with several pairs, "GG the most daily contact"): ``holds`` when
  every pair holds in the same draw with probability >= 0.95, ``fails`` when some pair
  fails with probability >= 0.95, otherwise ``uncertain``;
* **equivalence** ("little difference between forms"): ``equivalent`` / ``different`` /
  ``uncertain`` by the largest absolute pairwise difference per draw against a region of
  practical equivalence (:mod:`diagnostics.equivalence`); :func:`rope_sensitivity` gives
  the verdicts over several ROPE widths with every pair's probability inside.

A claim whose parameter the fit lacks is ``not estimable``. On real data this is the
replication table; on simulated data it shows whether the design can see each claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats

from data.findings import EQUIVALENCES, FINDINGS, Finding
from diagnostics.equivalence import (
    LARGEST,
    LEVEL,
    ROPE_SD,
    ROPE_WIDTHS,
    equivalence_rows,
    rope_width,
)

__all__ = ["path_models", "CLAIM_TYPES", "LEVEL", "ROPE_SD", "ROPE_WIDTHS", "VERDICT_RULES",
           "check_equivalences", "check_findings", "claim_draws", "claim_summary",
           "directional_verdict", "joint_verdict", "rope_sensitivity", "verdict_counts"]

CLAIM_TYPES = {"contrast": "directional", "beta": "directional", "joint": "joint",
               "equivalence": "equivalence"}  # a findings row's kind -> its claim type
VERDICT_RULES = {
    "directional": f"supported: P(claimed sign) >= {LEVEL}; contradicted: P(opposite sign) "
                   f">= {LEVEL}; otherwise uncertain",
    "joint": f"holds: P(every part holds in the same draw) >= {LEVEL}; fails: P(some part "
             f"fails) >= {LEVEL}; otherwise uncertain",
    "equivalence": f"equivalent: P(largest |difference| between forms < ROPE) >= {LEVEL}; "
                   f"different: a pair beyond the ROPE on one side inside a simultaneous "
                   f"{LEVEL:.0%} credible band over all pairs; otherwise uncertain",
}
NOT_ESTIMABLE = "not estimable"


def directional_verdict(p_claim: float, p_against: float, *, level: float = LEVEL) -> str:
    """``supported`` / ``contradicted`` / ``uncertain`` for a sign claim."""
    if p_claim >= level:
        return "supported"
    return "contradicted" if p_against >= level else "uncertain"


def joint_verdict(p_claim: float, *, level: float = LEVEL) -> str:
    """``holds`` / ``fails`` / ``uncertain`` for a sentence judged in the same draw."""
    if p_claim >= level:
        return "holds"
    return "fails" if 1 - p_claim >= level else "uncertain"


def _mcse(indicator: np.ndarray) -> float:
    """Monte Carlo SE of the mean of a (chain, draw) indicator (arviz-stats, ESS-based)."""
    values = np.asarray(indicator, dtype=float)
    if np.ptp(values) == 0:
        return 0.0
    return float(array_stats.mcse(values, chain_axis=-2, draw_axis=-1))


def claim_draws(tree: xr.DataTree, finding: Finding, *, focal: str | None = None,
                reference: str | None = None) -> np.ndarray | None:
    """Posterior draws ``(chain, draw)`` of the claim's parameter, or None if the fit
    lacks it. The focal level and its reference are the fit's own (its one
    ``<focal>_effect`` over dim ``<focal>`` or ``<focal>_contrast`` labelled
    ``"X - reference"``) unless given."""
    post = tree["posterior"]
    shape = (post.sizes["chain"], post.sizes["draw"])
    levels = {str(v).rpartition("_")[0] for v in post.data_vars
              if (str(v).endswith("_contrast") and "contrast" in post[v].dims)
              or (str(v).endswith("_effect") and str(v)[:-len("_effect")] in post[v].dims)}
    focal = focal or (levels.pop() if len(levels) == 1 else None)
    if focal is not None and reference is None and f"{focal}_contrast" in post:
        reference = str(post["contrast"].values[0]).split(" - ")[-1]
    if finding.kind == "beta":
        if "beta" not in post or finding.target not in post["term"].values:
            return None
        return post["beta"].sel(term=finding.target).transpose("chain", "draw").values
    a, b = (s.strip() for s in finding.target.split(" - "))
    if f"{focal}_effect" in post:
        eff = post[f"{focal}_effect"]
        if a not in eff[focal].values or b not in eff[focal].values:
            return None
        return (eff.sel({focal: a}) - eff.sel({focal: b})).transpose("chain", "draw").values
    if f"{focal}_contrast" in post:
        con = post[f"{focal}_contrast"]

        def vs_ref(x):
            if x == reference:
                return 0.0
            label = f"{x} - {reference}"
            return con.sel(contrast=label).transpose("chain", "draw").values \
                if label in con["contrast"].values else None

        va, vb = vs_ref(a), vs_ref(b)
        if va is None or vb is None:
            return None
        return np.broadcast_to(np.asarray(va - vb, dtype=float), shape)
    return None


def _absent(base: dict) -> dict:
    return base | {"p_claim": np.nan, "p_against": np.nan, "p_mcse": np.nan,
                   "verdict": NOT_ESTIMABLE}


def path_models(findings, specs, *, graph=None) -> dict:
    """The model each claim about a path is judged in: ``(outcome, target) -> model name``.

    A claim with ``through`` (education lowers cohesion *through* shared norms) is about
    the covariate's effect including that path, so its model must not hold the path's
    covariate -- or anything it leads to in ``graph`` (a
    :class:`models.causal.CausalGraph`) -- fixed; among the specs of its outcome that
    qualify, the one with the most terms (the report's set before narrower ones). None
    qualifies: ``"(none fitted without <through>)"``, judged not estimable.
    """
    out = {}
    for f in findings:
        if not getattr(f, "through", None):
            continue
        blocked = {f.through} | (graph.descendants(f.through) if graph is not None else set())
        base = f.target.split("[", 1)[0]
        fits = [s for s in specs if s.outcome == f.outcome and not s.items
                and base in {t.name for t in s.terms}
                and not blocked & {t.name for t in s.terms}]
        best = max(fits, key=lambda s: len(s.terms), default=None)
        out[(f.outcome, f.target)] = best.name if best is not None else \
            f"(none fitted without {f.through})"
    return out


def check_findings(fits: dict[str, xr.DataTree], *, findings=FINDINGS,
                   model_for: dict[str, str] | None = None,
                   level: float = LEVEL) -> pd.DataFrame:
    """The findings table over fitted models keyed by outcome name.

    One row per claimed pair or coefficient (``kind`` contrast / beta, ``claim_type``
    directional), then one ``joint`` row per sentence with several pairs. ``p_claim``: the
    posterior probability that the claim holds (a joint row: all of its pairs in the same
    draw); ``p_against``: that of the opposite verdict (the opposite sign; some pair
    failing); ``p_mcse``: the Monte Carlo SE of ``p_claim``; ``verdict_rule``: the rule in
    words (:data:`VERDICT_RULES`).
    """
    rows, holds = [], {}
    for f in findings:
        # a claim may name its own model ((outcome, target): e.g. one that does not hold
        # the claim's own mediator fixed), else its outcome's
        name = (model_for or {}).get((f.outcome, f.target),
                                     (model_for or {}).get(f.outcome, f.outcome))
        tree = fits.get(name)
        draws = None if tree is None else claim_draws(tree, f)
        base = {"outcome": f.outcome, "parameter": f.target, "kind": f.kind,
                "claim_type": "directional", "expected": "+" if f.direction > 0 else "-",
                "claim": f.claim, "posterior_mean": np.nan}
        holds.setdefault((f.outcome, f.claim), []).append(
            (f, None if draws is None else np.sign(draws) == f.direction))
        if draws is None:
            rows.append(_absent(base))
            continue
        hold = np.sign(draws) == f.direction
        p, against = float(hold.mean()), float((np.sign(draws) == -f.direction).mean())
        rows.append(base | {"posterior_mean": float(draws.mean()), "p_claim": p,
                            "p_against": against, "p_mcse": _mcse(hold),
                            "verdict": directional_verdict(p, against, level=level)})
    for (outcome, claim), parts in holds.items():
        if len(parts) < 2:
            continue
        sentence, parts = [f for f, _ in parts], [h for _, h in parts]
        base = {"outcome": outcome, "parameter": " & ".join(f.target for f in sentence),
                "kind": "joint", "claim_type": "joint",
                "expected": "+" if sentence[0].direction > 0 else "-", "claim": claim,
                "posterior_mean": np.nan}
        if any(h is None for h in parts):
            rows.append(_absent(base))
            continue
        joint = np.logical_and.reduce(parts)
        p = float(joint.mean())
        rows.append(base | {"p_claim": p, "p_against": 1 - p, "p_mcse": _mcse(joint),
                            "verdict": joint_verdict(p, level=level)})
    table = pd.DataFrame(rows)
    if len(table):
        table["verdict_rule"] = table["claim_type"].map(VERDICT_RULES)
    return table


def _labels(draws) -> list[str]:
    if isinstance(draws, xr.DataArray):
        return [str(v) for v in draws[draws.dims[1]].values]
    return [str(k) for k in range(np.shape(draws)[1])]


def rope_sensitivity(probabilities: Mapping[str, tuple[xr.DataArray, bool, float]], *,
                     equivalences=EQUIVALENCES, widths: Sequence[float] = ROPE_WIDTHS,
                     level: float = LEVEL) -> pd.DataFrame:
    """Every equivalence claim judged at each ROPE width (``findings_rope.csv``).

    ``probabilities`` maps an outcome to ``(draws, on_probability_scale, response_sd)``:
    posterior draws ``(sample, form)`` of the outcome-scale estimand per form
    (:func:`diagnostics.effects.form_probabilities`, a new complex), whether they are
    probabilities, and the response's sd. ``widths`` are in standardised units
    (:func:`diagnostics.equivalence.rope_width`; ``rope`` and ``unit`` give the width on
    the outcome scale). Per outcome and width: the claim's row (``pair`` = largest
    |difference|) and one row per pair of forms (:func:`equivalence_rows`).
    """
    tables = []
    for eq in equivalences:
        if eq.outcome not in probabilities:
            continue
        draws, is_probability, response_sd = probabilities[eq.outcome]
        values = np.asarray(draws, dtype=float) * (100.0 if is_probability else 1.0)
        unit = "pp" if is_probability else "response units"
        for width in widths:
            rope = rope_width(np.asarray(draws), on_probability_scale=is_probability,
                              response_sd=response_sd, rope_sd=width)
            rows = equivalence_rows(values, _labels(draws), rope=rope, level=level)
            tables.append(rows.assign(outcome=eq.outcome, claim=eq.claim, rope_sd=width,
                                      rope=rope, unit=unit, n_draws=len(values)))
    if not tables:
        return pd.DataFrame()
    out = pd.concat(tables, ignore_index=True)
    lead = ["outcome", "claim", "rope_sd", "rope", "unit", "pair"]
    return out[lead + [c for c in out.columns if c not in lead]]


def check_equivalences(probabilities: Mapping[str, tuple[xr.DataArray, bool, float]], *,
                       equivalences=EQUIVALENCES, rope_sd: float = ROPE_SD,
                       level: float = LEVEL) -> pd.DataFrame:
    """"Little difference between forms": the findings rows of the equivalence claims.

    ``probabilities`` as in :func:`rope_sensitivity`; the ROPE is ``rope_sd`` standardised
    units (:data:`ROPE_SD`). ``posterior_mean``: of the largest absolute difference
    between any two forms; ``p_claim``: P(it is inside the ROPE); ``p_against``: the
    simultaneous credibility of a pair beyond the ROPE; ``p_mcse`` treats the draws as
    independent (they are a random subset of the chains).
    """
    table = rope_sensitivity(probabilities, equivalences=equivalences, widths=(rope_sd,),
                             level=level)
    if not len(table):
        return pd.DataFrame()
    claims = table[table["pair"] == LARGEST]
    p = claims["p_equivalent"]
    return pd.DataFrame({
        "outcome": claims["outcome"], "parameter": "largest |difference| between forms",
        "kind": "equivalence", "claim_type": "equivalence",
        "expected": [f"< {r:.3g} {u} (ROPE, {w:g} SD)" for r, u, w in
                     zip(claims["rope"], claims["unit"], claims["rope_sd"], strict=True)],
        "claim": claims["claim"], "posterior_mean": claims["mean"], "p_claim": p,
        "p_against": claims["p_different"],
        "p_mcse": np.sqrt(p * (1 - p) / claims["n_draws"]), "verdict": claims["verdict"],
        "verdict_rule": VERDICT_RULES["equivalence"]}).reset_index(drop=True)


def verdict_counts(findings: pd.DataFrame) -> str:
    """``directional: 90 supported, 20 uncertain; joint: 8 holds; ...`` (claim types in
    :data:`VERDICT_RULES`' order, then any rows without one)."""
    kind = findings["claim_type"] if "claim_type" in findings \
        else findings["kind"].map(CLAIM_TYPES)
    parts = []
    for claim_type in [*VERDICT_RULES, None]:
        rows = findings[kind == claim_type] if claim_type else findings[kind.isna()]
        if len(rows):
            counts = rows["verdict"].value_counts()
            parts.append((f"{claim_type}: " if claim_type else "")
                         + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return "; ".join(parts)


def claim_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per published claim (a sentence of the report), in the findings' order.

    ``pairs``: the claimed pairs or coefficients (1 for an equivalence claim);
    ``supported``/``contradicted``/``uncertain``: how many of the directional ones;
    ``claim_type``, ``p_claim``, ``p_against`` and ``verdict``: the sentence's own -- its
    ``joint`` row where it has one (all pairs in the same draw), else its single row; a
    sentence of several separately judged parts whose verdicts differ is ``mixed``
    (``p_claim`` then the least of theirs).
    """
    rows = []
    kind = findings["claim_type"] if "claim_type" in findings \
        else findings["kind"].map(CLAIM_TYPES)
    findings = findings.assign(claim_type=kind)
    for (outcome, claim), g in findings.groupby(["outcome", "claim"], sort=False):
        parts = g[g["kind"] != "joint"]
        joint = g[g["kind"] == "joint"]
        own = joint if len(joint) else parts
        directional = parts[parts["claim_type"] == "directional"]["verdict"].value_counts()
        p_against = own["p_against"] if "p_against" in own else pd.Series([np.nan])
        if len(own) == 1 or own["verdict"].nunique() == 1:
            verdict = str(own["verdict"].iloc[0])
        else:
            verdict = "mixed"
        rows.append({"outcome": outcome, "claim": claim,
                     "claim_type": str(own["claim_type"].iloc[0]), "pairs": len(parts),
                     **{v: int(directional.get(v, 0)) for v in ("supported", "contradicted",
                                                                "uncertain")},
                     "p_claim": float(own["p_claim"].min()),
                     "p_against": float(p_against.max()), "verdict": verdict,
                     "model_verdict": g["model_verdict"].iloc[0] if "model_verdict" in g
                     else None})
    return pd.DataFrame(rows)
