"""Convergence diagnostics as pure functions returning tables with a verdict column.

Thresholds live in :data:`THRESHOLDS` (Vehtari et al. 2021, "Rank-normalization, folding,
and localization: an improved R-hat"): rank-normalised split R-hat <= 1.01, bulk and tail
ESS >= 100 per chain, no divergences, E-BFMI >= 0.3, no tree-depth saturation.
Nothing here prints or writes files; a ``fail`` is also logged as a warning.
"""

from __future__ import annotations

import json
import logging
from types import MappingProxyType

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from diagnostics.summary import posterior_summary

__all__ = ["THRESHOLDS", "VERDICTS", "model_verdict", "parameter_table",
           "reported_variables", "rounds_text", "short_of_thresholds", "shortfall",
           "shortfall_detail"]

log = logging.getLogger(__name__)
VERDICTS = ("ok", "warn", "fail")
THRESHOLDS = MappingProxyType({
    "rhat_warn": 1.01,
    "rhat_fail": 1.05,
    "ess_per_chain": 100,
    "ebfmi": 0.3,
    "divergences_fail": 0,   # any divergence is a fail (posterior may be biased)
    "treedepth_share_warn": 0.01,
})


def reported_variables(tree: xr.DataTree) -> list[str]:
    """The posterior variables a fit is judged and reported on: all but per-group offsets
    (``z_*``), zero-sum raw focal offsets (``*_raw``) and packed Cholesky factors
    (``chol_*``, summarised by ``sd_*``/``corr_*``)."""
    return [v for v in tree["posterior"].data_vars
            if not v.startswith(("z_", "chol_")) and not v.endswith("_raw")]


def shortfall(tree: xr.DataTree) -> frozenset[str]:
    """What more draws could cure: ``"rhat"`` where a reported parameter's R-hat exceeds
    its threshold, ``"ess"`` where its bulk or tail ESS falls short; empty when the fit
    passes, or when a transition diverged (a ``fail`` that draws do not cure)."""
    return shortfall_detail(tree)["short"]


def shortfall_detail(tree: xr.DataTree) -> dict:
    """:func:`shortfall` with the figures behind it: ``short`` (the set), ``least_ess`` (the
    least bulk or tail ESS over the reported parameters), ``ess_needed``, ``max_r_hat`` and
    ``worst`` (``"parameter (bulk|tail ESS n)"`` or ``"parameter (R-hat r)"``: what
    decided the next round)."""
    out = {"short": frozenset(), "least_ess": float("nan"), "ess_needed": _ess_needed(tree),
           "max_r_hat": float("nan"), "worst": ""}
    stats = tree["sample_stats"].to_dataset()
    if "diverging" in stats and int(stats["diverging"].sum()) > THRESHOLDS["divergences_fail"]:
        return out
    table = parameter_table(tree, var_names=reported_variables(tree))
    rhat = ~np.isfinite(table["r_hat"]) | (table["r_hat"] > THRESHOLDS["rhat_warn"])
    low = np.minimum(table["ess_bulk"], table["ess_tail"])
    ess = ~np.isfinite(low) | (low < out["ess_needed"])
    out["short"] = frozenset(k for k, short in (("rhat", rhat), ("ess", ess)) if short.any())
    if len(table):
        out["least_ess"] = float(np.nanmin(low)) if np.isfinite(low).any() else float("nan")
        out["max_r_hat"] = float(np.nanmax(table["r_hat"])) \
            if np.isfinite(table["r_hat"]).any() else float("nan")
        if rhat.any():
            i = int(np.argmax(np.where(np.isfinite(table["r_hat"]), table["r_hat"], np.inf)))
            out["worst"] = f"{table['parameter'].iloc[i]} (R-hat {table['r_hat'].iloc[i]:.3f})"
        else:
            i = int(np.argmin(np.where(np.isfinite(low), low, -np.inf)))
            kind = "bulk" if table["ess_bulk"].iloc[i] <= table["ess_tail"].iloc[i] else "tail"
            out["worst"] = f"{table['parameter'].iloc[i]} ({kind} ESS {low.iloc[i]:.0f})"
    return out


def _ess_needed(tree: xr.DataTree) -> float:
    """Bulk and tail ESS each parameter needs: ``ess_per_chain`` per chain *asked for*
    (chains added to reach the threshold do not raise it)."""
    chains = tree["posterior"].sizes["chain"]
    return THRESHOLDS["ess_per_chain"] * int(tree.attrs.get("chains_requested", chains))


def short_of_thresholds(tree: xr.DataTree) -> bool:
    """Whether more draws could make the fit pass (:func:`shortfall` is not empty)."""
    return bool(shortfall(tree))


def parameter_table(tree: xr.DataTree, *, var_names: list[str] | None = None,
                    ci_prob: float = 0.9) -> pd.DataFrame:
    """Per parameter: mean, sd, central interval, R-hat, bulk/tail ESS, MCSE and a verdict.

    Parameters
    ----------
    tree
        A fit with a ``posterior`` group.
    var_names
        Variables to summarise (default all posterior variables).
    ci_prob
        Mass of the equal-tailed interval (columns ``q05``/``q95`` for 0.9).
    """
    post = tree["posterior"].to_dataset()
    if var_names:
        post = post[[v for v in var_names if v in post]]
    table = posterior_summary(post, ci_prob=ci_prob)
    need = _ess_needed(tree)
    reasons = []
    verdicts = []
    for r in table.itertuples():
        why, level = [], "ok"
        if not np.isfinite(r.r_hat) or r.r_hat > THRESHOLDS["rhat_fail"]:
            why.append(f"R-hat {r.r_hat:.3f} > {THRESHOLDS['rhat_fail']}")
            level = "fail"
        elif r.r_hat > THRESHOLDS["rhat_warn"]:
            why.append(f"R-hat {r.r_hat:.3f} > {THRESHOLDS['rhat_warn']}")
            level = "warn"
        low = min(r.ess_bulk, r.ess_tail)
        if not np.isfinite(low) or low < need:
            why.append(f"ESS {low:.0f} < {need}")
            level = "fail" if (not np.isfinite(low) or low < need / 4) else max(
                level, "warn", key=VERDICTS.index)
        verdicts.append(level)
        reasons.append("; ".join(why))
    table["verdict"] = verdicts
    table["reason"] = reasons
    return table


def model_verdict(tree: xr.DataTree, table: pd.DataFrame | None = None, *,
                  model: str = "") -> pd.DataFrame:
    """One row for a fit: worst R-hat, least ESS, divergences, E-BFMI, tree depth, verdict.

    The verdict is ``fail`` if any parameter fails, any transition diverged or E-BFMI is
    below threshold; ``warn`` on a parameter warning or tree-depth saturation; else ``ok``.
    """
    table = parameter_table(tree) if table is None else table
    stats = tree["sample_stats"].to_dataset()
    n_div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    depth_hit = float(stats["maxdepth_reached"].mean()) if "maxdepth_reached" in stats else (
        float(stats["reached_max_treedepth"].mean()) if "reached_max_treedepth" in stats else 0.0)
    min_bfmi = float("nan")
    if "energy" in stats:
        bfmi = azs.bfmi(tree)  # per chain, as a DataTree/Dataset with variable "energy"
        min_bfmi = float(np.min(bfmi["energy"].values))
    why = [f"{(table.verdict == v).sum()} parameter(s) {v}: " + "; ".join(
        f"{p} ({r})" for p, r in zip(table.parameter[table.verdict == v][:3],
                                     table.reason[table.verdict == v][:3], strict=True))
           for v in ("fail", "warn") if (table.verdict == v).any()]
    level = "fail" if (table.verdict == "fail").any() else (
        "warn" if (table.verdict == "warn").any() else "ok")
    if n_div > THRESHOLDS["divergences_fail"]:
        why.append(f"{n_div} divergent transition(s)")
        level = "fail"
    if np.isfinite(min_bfmi) and min_bfmi < THRESHOLDS["ebfmi"]:
        why.append(f"E-BFMI {min_bfmi:.2f} < {THRESHOLDS['ebfmi']}")
        level = "fail"
    if depth_hit > THRESHOLDS["treedepth_share_warn"]:
        why.append(f"{100 * depth_hit:.1f}% of draws hit the maximum tree depth")
        level = max(level, "warn", key=VERDICTS.index)
    quad = json.loads(tree.attrs.get("quadrature", "null") or "null")
    if quad and not quad["ok"]:  # the latent's quadrature moves the posterior
        why.append(f"{quad['nodes']}-node quadrature errs by {quad['error_sd']:.2f} nats (SD "
                   f"over the draws, against {quad['reference']} nodes): refit with more "
                   f"nodes")
        level = max(level, "warn", key=VERDICTS.index)
    chains, rounds = stats.sizes["chain"], int(tree.attrs.get("top_up_rounds", 0))
    draws = stats.sizes["draw"]
    if rounds and level != "ok":
        why.append(f"still short after {rounds} round(s) of more draws ({chains} chains x "
                   f"{draws} draws)")
    if level == "fail":
        log.warning("model %s cannot be trusted: %s", model, "; ".join(why))
    return pd.DataFrame([{
        "model": model, "max_r_hat": float(table.r_hat.max()),
        "min_ess_bulk": float(table.ess_bulk.min()), "min_ess_tail": float(table.ess_tail.min()),
        "divergences": n_div, "min_ebfmi": min_bfmi, "treedepth_share": depth_hit,
        "verdict": level, "reason": "; ".join(why) or "all checks passed",
        "chains": chains, "draws": draws, "top_up_rounds": rounds,
        "rounds": rounds_text(tree),
    }])


def rounds_text(tree: xr.DataTree) -> str:
    """The fit's sampling rounds in a few words (attribute ``rounds``,
    :meth:`inference.engine.Engine._sample_enough`): ``"4x400, +2x400 (least ESS 331 <
    400)"`` or, chains run on, ``"4x500, on to 4x700 (R-hat 1.013 > 1.01)"``; a fit
    without the record: its chains x draws."""
    import json

    try:
        rounds = json.loads(tree.attrs.get("rounds", "[]"))
    except (TypeError, ValueError):
        rounds = []
    if not rounds:
        post = tree["posterior"]
        return f"{post.sizes['chain']}x{post.sizes['draw']}"
    words = []
    for r in rounds:
        why = str(r.get("why", "")).split(":")[0]
        size = f"{r['chains']}x{r['draws']}"
        words.append(size if r.get("action") == "first" else
                     f"+{size} ({why})" if r.get("action") == "more chains" else
                     f"on to {size} ({why})" if r.get("action") == "continued" else
                     f"{size} anew ({why})")
    return ", ".join(words)
