"""PSIS-LOO per model and comparisons of model variants (pure functions over fits).

PSIS-LOO (Vehtari, Gelman & Gabry 2017) estimates each model's expected log predictive
density for a new tenant; Pareto k > 0.7 marks observations whose estimate is unreliable.
Comparisons are only meaningful between models of the *same* rows and response (a variant
with another subset or the item-level cohesion model is not comparable to the mean scale).
"""

from __future__ import annotations

import logging
import warnings

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["PARETO_K_BAD", "compare_table", "loo_table", "meaning", "per_row_log_likelihood"]

log = logging.getLogger(__name__)
PARETO_K_BAD = 0.7


LOO_PIT_ALPHA = 0.01  # a KS p-value below this: the LOO predictive distribution misfits


def loo_pit_summary(tree: xr.DataTree, observed: np.ndarray, res) -> tuple[float, float]:
    """LOO-PIT (arviz-stats ``loo_pit``, randomised for discrete responses, reusing the
    PSIS weights of ``res``): the KS p-value against uniform and the share of PIT values
    in the outer 10% (0.10 when calibrated; more: tails too thin, less: too wide)."""
    from scipy.stats import kstest

    t = tree.copy()
    ll = tree["log_likelihood"]["y"]
    dims = [d for d in ll.dims if d not in ("chain", "draw")]
    t["observed_data"] = xr.Dataset({"y": (dims, np.asarray(observed))},
                                    coords={d: ll[d].values for d in dims if d in ll.coords})
    pit = azs.loo_pit(t, var_names=["y"], log_weights=xr.Dataset({"y": res.log_weights}),
                      pareto_k=xr.Dataset({"y": res.pareto_k}))
    v = np.asarray(pit["y"]).ravel()
    return float(kstest(v, "uniform").pvalue), float(((v < 0.05) | (v > 0.95)).mean())


def per_row_log_likelihood(tree: xr.DataTree) -> tuple[xr.DataTree, list[str]]:
    """The log-likelihood per row: where a row has several answers that share a latent (the
    item-level model: dims ``obs, item``) they are summed, so that LOO leaves out a whole
    tenant, not a single answer. Returns the tree and the dims summed over."""
    ll = tree["log_likelihood"]["y"]
    extra = [d for d in ll.dims if d not in ("chain", "draw")][1:]
    if not extra:
        return tree, []
    out = tree.copy()
    out["log_likelihood"] = xr.Dataset({"y": ll.sum(extra)})
    return out, extra


def loo_table(fits: dict[str, xr.DataTree],
              observed: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """elpd_loo, its SE, p_loo and the count of Pareto k > 0.7 per model; with ``observed``
    (each model's coded response) also the LOO-PIT calibration (:func:`loo_pit_summary`) of
    models with one answer per row. A tree's ``left_out`` attribute names what its LOO
    leaves out where that is not one row as stored (a row with its latent integrated out,
    :func:`diagnostics.crossval.latent_integrated_tree`)."""
    rows = []
    for name, tree in fits.items():
        tree, summed = per_row_log_likelihood(tree)
        with warnings.catch_warnings():  # high Pareto k is reported in the table instead
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            res = azs.loo(tree, pointwise=True)
        k = np.asarray(res.pareto_k).ravel()
        bad = int((k > PARETO_K_BAD).sum())
        notes = [f"{bad} observation(s) with Pareto k > {PARETO_K_BAD}: their LOO estimate "
                 f"is unreliable"] if bad else []
        row = {"model": name, "elpd_loo": float(res.elpd), "se": float(res.se),
               "p_loo": float(res.p), "n_obs": int(k.size), "pareto_k_bad": bad,
               "left_out": tree.attrs.get("left_out") or (
                   f"one row ({' and '.join(summed)} summed)" if summed else "one row")}
        if observed is not None and name in observed and not summed \
                and np.ndim(observed[name]) == 1:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
                p, outer = loo_pit_summary(tree, observed[name], res)
            row |= {"loo_pit_ks_p": p, "loo_pit_outer": outer}
            if p < LOO_PIT_ALPHA:
                notes.append(f"LOO-PIT not uniform (KS p {p:.3g}, {outer:.0%} in the outer "
                             f"10%): the predictive distribution misfits")
        rows.append(row | {"verdict": "warn" if notes else "ok", "note": "; ".join(notes)})
    return pd.DataFrame(rows)


def meaning(model: str, best: str, diff: float, dse: float) -> str:
    """A comparison in words: ``diff`` elpd below ``best``; under twice its SE ``dse`` it is
    no clear difference."""
    if model == best:
        return "best expected predictive accuracy"
    if diff > 2 * max(dse, 1e-9):
        return f"worse than {best} by {diff:.1f} elpd (SE {dse:.1f}): the data favour {best}"
    return f"no clear difference from {best} ({diff:.1f} elpd, SE {dse:.1f})"


def compare_table(fits: dict[str, xr.DataTree], *, outcome: str = "") -> pd.DataFrame:
    """Rank models by elpd_loo with differences to the best and their SEs, and a sentence.

    A difference smaller than about twice its SE is read as "no clear difference".
    """
    with warnings.catch_warnings():  # high Pareto k is reported by loo_table instead
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        # "none": unrounded (None rounds every column to 2 significant digits)
        cmp = azs.compare(fits, round_to="none")
    cmp = cmp.reset_index().rename(columns={"index": "model"})
    cmp["elpd_diff"] = cmp["elpd_diff"].abs()  # distance below the best model
    best = cmp.iloc[0]["model"]
    cmp["meaning"] = [meaning(r.model, best, r.elpd_diff, r.dse) for r in cmp.itertuples()]
    cmp.insert(0, "outcome", outcome)
    keep = ["outcome", "model", "rank", "elpd", "p", "elpd_diff", "dse", "se", "weight",
            "warning", "meaning"]
    return cmp[[c for c in keep if c in cmp.columns]]
