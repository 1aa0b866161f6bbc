"""One summary of posterior draws, built on arviz-stats: mean, sd, interval, ESS, R-hat.

Every table of the workbench that reports a posterior quantity (parameters, contrasts,
probability-scale effects, concept predictions, subgroup effects, prior-grid refits) takes
its mean / sd / ``q05`` / ``q95`` from here, so they all agree on the interval (equal-tailed,
``ci_prob`` mass) and on the sd (``ddof=1``, as arviz-stats computes it).
"""

from __future__ import annotations

from collections.abc import Mapping

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["STAT_COLUMNS", "draw_summary", "draws_table", "posterior_summary"]

STAT_COLUMNS = ["mean", "sd", "q05", "q95"]
_DIAGNOSTICS = ["r_hat", "ess_bulk", "ess_tail", "mcse_mean"]


def _renamed(table: pd.DataFrame, ci_prob: float) -> pd.DataFrame:
    pct = f"{100 * ci_prob:g}"
    return table.rename(columns={f"eti{pct}_lb": "q05", f"eti{pct}_ub": "q95"})


def posterior_summary(post: xr.Dataset, *, ci_prob: float = 0.9,
                      diagnostics: bool = True) -> pd.DataFrame:
    """Per parameter of ``post`` (dims ``chain``, ``draw``, ...): stats and diagnostics.

    Columns ``variable``, ``parameter`` (``name[label, ...]``), ``mean``, ``sd``, ``q05`` and
    ``q95`` (the equal-tailed ``ci_prob`` interval, named for the default 0.9) and, with
    ``diagnostics``, rank-normalised ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean``
    (arviz-stats ``summary(ci_kind="eti")``). A variable with an empty dimension (a model
    without terms) contributes no rows.
    """
    post = post[[v for v, da in post.data_vars.items() if da.size > 0]]
    columns = ["variable", "parameter", *STAT_COLUMNS, *(_DIAGNOSTICS if diagnostics else [])]
    if not post.data_vars:
        return pd.DataFrame(columns=columns)
    table = azs.summary(post, kind="all" if diagnostics else "stats", ci_kind="eti",
                        ci_prob=ci_prob, round_to="none")
    table = _renamed(table, ci_prob).rename_axis("parameter").reset_index()
    table.insert(0, "variable", table["parameter"].str.replace(r"\[.*$", "", regex=True))
    return table[columns]


def draws_table(draws: Mapping[str, np.ndarray], *, ci_prob: float = 0.9) -> pd.DataFrame:
    """``mean``, ``sd``, ``q05``, ``q95`` of each named quantity's draws (1-D, equal length).

    One arviz-stats call for all of them; the index is the names, in the given order.
    """
    names = list(draws)
    values = np.stack([np.asarray(draws[n], dtype=float) for n in names], axis=-1)
    da = xr.DataArray(values[None], dims=("chain", "draw", "quantity"),
                      coords={"quantity": np.arange(len(names))}, name="x")
    table = _renamed(azs.summary(da, kind="stats", ci_kind="eti", ci_prob=ci_prob,
                                 round_to="none"), ci_prob)
    return table[STAT_COLUMNS].set_axis(pd.Index(names, name="quantity")).astype(float)


def draw_summary(values: np.ndarray, *, ci_prob: float = 0.9) -> dict[str, float]:
    """``mean``, ``sd``, ``q05``, ``q95`` of one quantity's draws (a 1-D array)."""
    return draws_table({"x": values}, ci_prob=ci_prob).iloc[0].to_dict()
