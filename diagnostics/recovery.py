"""Compare fitted summaries with a simulator's truth (parameter recovery).

Pure functions over a ``summary.csv``-shaped table and a ``truth.json`` dict. The cohesion
model is fitted on the mean scale while its truth is on the item-level latent scale, so it
is left out of coverage (only directions compare there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["coverage_summary", "recovery_table"]


def _truth_rows(outcome: str, entry: dict) -> list[tuple[str, float]]:
    rows = [(f"living_form_contrast[{k}]", v) for k, v in entry["latent_contrasts"].items()]
    rows += [(f"beta[{k}]", v) for k, v in entry["coefficients"].items()]
    rows.append(("sd_complex_id", entry["complex_sd"]))
    if "thresholds" in entry:
        rows += [(f"thresholds[{i}]", v) for i, v in enumerate(entry["thresholds"])]
    if "intercept" in entry:
        rows.append(("intercept", entry["intercept"]))
    return rows


def recovery_table(summary: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """One row per fitted parameter with a known true value: estimate, interval, covered.

    Thresholds are matched by position (``thresholds[0]`` is the first cut point).
    """
    out = []
    for (model, outcome), rows in summary.groupby(["model", "outcome"], sort=False):
        entry = truth["outcomes"].get(outcome)
        if entry is None or outcome == "cohesion":
            continue
        by_param = rows.set_index("parameter")
        thr = [p for p in by_param.index if p.startswith("thresholds[")]
        for name, value in _truth_rows(outcome, entry):
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
