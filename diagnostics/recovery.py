"""Compare fitted summaries with a simulator's truth (parameter recovery).

Pure functions over a ``summary.csv``-shaped table and a ``truth.json`` dict. The
mean-scale cohesion model is left out (its truth is on the item-level latent scale, which
the ``cohesion_items`` model estimates and is compared on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["coverage_summary", "recovery_table", "truth_tree"]


def _truth_rows(outcome: str, entry: dict, shift: float) -> list[tuple[str, float]]:
    """True values named as fitted; ``shift`` re-expresses intercept/thresholds when the fit
    centres the form effects (zero-sum) instead of fixing the reference at 0."""
    rows = [(f"living_form_contrast[{k}]", v) for k, v in entry["latent_contrasts"].items()]
    rows += [(f"beta[{k}]", v) for k, v in entry["coefficients"].items()]
    rows.append(("sd_complex_id", entry["complex_sd"]))
    thresholds = entry.get("thresholds") or [t for item in entry.get("item_thresholds", [])
                                             for t in item]
    rows += [(f"thresholds[{i}]", v - shift) for i, v in enumerate(thresholds)]
    if "tenant_sd" in entry:
        rows.append(("sd_tenant", entry["tenant_sd"]))
    if "intercept" in entry:
        rows.append(("intercept", entry["intercept"] + shift))
    return rows


def recovery_table(summary: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """One row per fitted parameter with a known true value: estimate, interval, covered.

    Thresholds are matched by position (``thresholds[0]`` is the first cut point). In the
    hierarchical (zero-sum) variant the intercept absorbs the mean form effect, so the true
    intercept is shifted by it (thresholds the other way) before comparing.
    """
    out = []
    for (model, outcome), rows in summary.groupby(["model", "outcome"], sort=False):
        entry = truth["outcomes"].get(outcome)
        by_param = rows.set_index("parameter")
        if entry is None or ("sigma" in by_param.index and "item_thresholds" in entry):
            continue  # mean-scale model of an item-level truth: scales differ
        thr = [p for p in by_param.index if p.startswith("thresholds[")]
        zero_sum = any(p.startswith("living_form_effect[") for p in by_param.index)
        shift = float(np.mean(list(entry["form_effects"].values()))) if zero_sum else 0.0
        for name, value in _truth_rows(outcome, entry, shift):
            key = name
            if name.startswith("thresholds["):
                i = int(name[len("thresholds["):-1])
                if i >= len(thr):
                    continue
                key = thr[i]
            if key not in by_param.index:
                continue
            r = by_param.loc[key]
            kind = name.split("[")[0]
            out.append({"model": model, "outcome": outcome, "parameter": key, "kind": kind,
                        "truth": value, "mean": r["mean"], "q05": r["q05"], "q95": r["q95"],
                        "covered": bool(r["q05"] <= value <= r["q95"])})
    table = pd.DataFrame(out)
    if len(table):
        table["error"] = table["mean"] - table["truth"]
    return table


def coverage_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage of the 90% intervals per parameter kind and overall, with a binomial SE."""
    groups = [("all", table)] + list(table.groupby("kind"))
    rows = []
    for kind, g in groups:
        n = len(g)
        rate = float(g["covered"].mean()) if n else np.nan
        rows.append({"kind": kind, "n": n, "covered": int(g["covered"].sum()),
                     "coverage": rate, "binomial_se_at_90": float(np.sqrt(0.09 / n)) if n
                     else np.nan, "rmse": float(np.sqrt((g["error"] ** 2).mean())) if n
                     else np.nan})
    return pd.DataFrame(rows)


def truth_tree(entry: dict, *, term_names, forms, focal: str) -> xr.DataTree:
    """A one-draw 'posterior' at the simulator's true values, for the estimand functions.

    The g-computation only needs the linear predictor, which does not depend on how the
    form effects are centred, so the true form effects (reference 0) and the true intercept
    or thresholds are used as they are.
    """
    def one(value, dims=(), coords=None):
        arr = np.asarray(value, dtype=float).reshape((1, 1, *np.shape(value)))
        return xr.DataArray(arr, dims=("chain", "draw", *dims), coords=coords or {})

    coefs = entry["coefficients"]
    data_vars = {
        "beta": one([coefs.get(t, 0.0) for t in term_names], ("term",),
                    {"term": list(term_names)}),
        f"{focal}_effect": one([entry["form_effects"][f] for f in forms], (focal,),
                               {focal: list(forms)}),
        "sd_complex_id": one(entry["complex_sd"]),
    }
    if "intercept" in entry:
        data_vars["intercept"] = one(entry["intercept"])
    if "thresholds" in entry:
        data_vars["thresholds"] = one(entry["thresholds"], ("threshold",))
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data_vars)})
