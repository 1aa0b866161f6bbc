"""Check the report's conclusions one by one against a fit (pure functions).

For each claim in :data:`data.findings.FINDINGS` the posterior probability that it holds
(the parameter has the claimed sign) with its Monte Carlo standard error; verdict
``supported`` (>= 0.95), ``not supported`` (<= 0.05, i.e. the data point the other way),
otherwise ``uncertain``. A sentence of the report that makes several claims at once ("GG
the most daily contact") is also judged *jointly*: the posterior probability that all of
its pairs hold in the same draw, not the pairs one by one. "Little difference" claims
(:data:`data.findings.EQUIVALENCES`) are judged against a region of practical
equivalence (ROPE) on the outcome scale: the probability that the largest difference
between any two forms is within it. On real data this is the replication table; on
simulated data it shows whether the design can see each claim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats

from data.findings import EQUIVALENCES, FINDINGS, Finding

__all__ = ["ROPE_PP", "ROPE_SD", "SUPPORT", "check_equivalences", "check_findings",
           "claim_draws", "claim_summary"]

SUPPORT = 0.95
ROPE_PP = 2.0  # practical equivalence on the probability scale: +-2 percentage points
ROPE_SD = 0.1  # ... and on a response scale: +-0.1 sd of the response (Kruschke's default)


def _verdict(p: float) -> str:
    return "supported" if p >= SUPPORT else ("not supported" if p <= 1 - SUPPORT
                                              else "uncertain")


def _mcse(indicator: np.ndarray) -> float:
    """Monte Carlo SE of the mean of a (chain, draw) indicator (arviz-stats, ESS-based)."""
    values = np.asarray(indicator, dtype=float)
    if np.ptp(values) == 0:
        return 0.0
    return float(array_stats.mcse(values, chain_axis=-2, draw_axis=-1))


def claim_draws(tree: xr.DataTree, finding: Finding, *, focal: str = "living_form",
                reference: str = "HZ") -> np.ndarray | None:
    """Posterior draws ``(chain, draw)`` of the claim's parameter, or None if the fit
    lacks it."""
    post = tree["posterior"]
    shape = (post.sizes["chain"], post.sizes["draw"])
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


def check_findings(fits: dict[str, xr.DataTree], *, findings=FINDINGS,
                   model_for: dict[str, str] | None = None) -> pd.DataFrame:
    """The findings table over fitted models keyed by outcome name.

    One row per claimed pair or coefficient (``kind`` contrast / beta), then one ``joint``
    row per sentence with several pairs: ``p_claim`` is the probability that all of them
    hold in the same draw (``not estimable`` when any is). ``p_mcse`` is the Monte Carlo
    SE of ``p_claim``.
    """
    rows, holds = [], {}
    for f in findings:
        name = (model_for or {}).get(f.outcome, f.outcome)
        tree = fits.get(name)
        draws = None if tree is None else claim_draws(tree, f)
        base = {"outcome": f.outcome, "parameter": f.target, "kind": f.kind,
                "expected": "+" if f.direction > 0 else "-", "claim": f.claim}
        holds.setdefault((f.outcome, f.claim), []).append(
            (f, None if draws is None else np.sign(draws) == f.direction))
        if draws is None:
            rows.append(base | {"posterior_mean": np.nan, "p_claim": np.nan,
                                "p_mcse": np.nan, "verdict": "not estimable"})
            continue
        hold = np.sign(draws) == f.direction
        p = float(hold.mean())
        rows.append(base | {"posterior_mean": float(draws.mean()), "p_claim": p,
                            "p_mcse": _mcse(hold), "verdict": _verdict(p)})
    for (outcome, claim), parts in holds.items():
        if len(parts) < 2:
            continue
        sentence, parts = [f for f, _ in parts], [h for _, h in parts]
        base = {"outcome": outcome, "parameter": " & ".join(f.target for f in sentence),
                "kind": "joint", "expected": "+" if sentence[0].direction > 0 else "-",
                "claim": claim, "posterior_mean": np.nan}
        if any(h is None for h in parts):
            rows.append(base | {"p_claim": np.nan, "p_mcse": np.nan,
                                "verdict": "not estimable"})
            continue
        joint = np.logical_and.reduce(parts)
        p = float(joint.mean())
        rows.append(base | {"p_claim": p, "p_mcse": _mcse(joint), "verdict": _verdict(p)})
    return pd.DataFrame(rows)


def check_equivalences(probabilities: dict[str, tuple[xr.DataArray, bool, float]], *,
                       equivalences=EQUIVALENCES, rope_pp: float = ROPE_PP,
                       rope_sd: float = ROPE_SD) -> pd.DataFrame:
    """"Little difference between forms", judged against a region of practical equivalence.

    ``probabilities`` maps an outcome to ``(draws, on_probability_scale, response_sd)``:
    the posterior draws ``(sample, form)`` of the outcome-scale estimand per form
    (:func:`diagnostics.effects.form_probabilities`, a new complex), whether they are
    probabilities, and the response's sd. The claim holds in a draw when the largest
    difference between any two forms is within the ROPE: ``rope_pp`` percentage points,
    or ``rope_sd`` response sds. ``p_mcse`` treats the draws as independent (they are a
    random subset of the chains).
    """
    rows = []
    for eq in equivalences:
        if eq.outcome not in probabilities:
            continue
        draws, is_probability, response_sd = probabilities[eq.outcome]
        values = np.asarray(draws) * (100.0 if is_probability else 1.0)
        spread = values.max(axis=1) - values.min(axis=1)  # largest pairwise difference
        rope = rope_pp if is_probability else rope_sd * response_sd
        unit = "pp" if is_probability else "response units"
        inside = spread < rope
        p = float(inside.mean())
        rows.append({"outcome": eq.outcome, "parameter": "largest difference between forms",
                     "kind": "equivalence", "expected": f"< {rope:.3g} {unit} (ROPE)",
                     "claim": eq.claim, "posterior_mean": float(spread.mean()),
                     "p_claim": p, "p_mcse": float(np.sqrt(p * (1 - p) / len(inside))),
                     "verdict": _verdict(p)})
    return pd.DataFrame(rows)


def claim_summary(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per published claim (a sentence of the report), in the findings' order.

    ``pairs``: the claimed pairs or coefficients; ``supported``/``uncertain``/``not
    supported``: how many of them; ``p_claim`` and ``verdict``: the sentence's own -- its
    ``joint`` row where it has one (all pairs in the same draw), else its single row; a
    sentence of several separately judged coefficients whose verdicts differ is ``mixed``
    (``p_claim`` then the least of theirs).
    """
    rows = []
    for (outcome, claim), g in findings.groupby(["outcome", "claim"], sort=False):
        parts = g[g["kind"] != "joint"]
        joint = g[g["kind"] == "joint"]
        counts = parts["verdict"].value_counts()
        if len(joint):
            p, verdict = float(joint["p_claim"].iloc[0]), str(joint["verdict"].iloc[0])
        elif parts["verdict"].nunique() == 1:
            p, verdict = float(parts["p_claim"].min()), str(parts["verdict"].iloc[0])
        else:
            p, verdict = float(parts["p_claim"].min()), "mixed"
        rows.append({"outcome": outcome, "claim": claim, "pairs": len(parts),
                     **{v: int(counts.get(v, 0)) for v in ("supported", "uncertain",
                                                         "not supported")},
                     "p_claim": p, "verdict": verdict,
                     "model_verdict": g["model_verdict"].iloc[0] if "model_verdict" in g
                     else None})
    return pd.DataFrame(rows)
