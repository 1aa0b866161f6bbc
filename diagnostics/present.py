"""Tables for people: rounded to what their uncertainty supports, readable headers, no
``nan`` cells (pure functions; the report renders what they return).

A column that does not apply to any row of a table (all missing, e.g. ``p_positive`` of
latent rows) is left out; a cell that does not apply in a column that applies elsewhere
shows an en dash. Estimates with a posterior sd are rounded so that the sd keeps two
significant digits (``+6.8`` for sd 2.9 percentage points, ``0.31`` for sd 0.12 log-odds):
more digits than that are noise of the Monte Carlo and of the data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["HEADERS", "NOT_APPLICABLE", "decimals_for", "interval_text", "present"]

NOT_APPLICABLE = "\u2013"
# readable headers for the result tables' column names (others: underscores to spaces)
HEADERS = {
    "mean": "mean", "sd": "sd", "q05": "5%", "q95": "95%", "r_hat": "R-hat",
    "max_r_hat": "max R-hat", "ess_bulk": "bulk ESS", "ess_tail": "tail ESS",
    "min_ess_bulk": "min bulk ESS", "min_ess_tail": "min tail ESS", "min_ebfmi": "min E-BFMI",
    "treedepth_share": "max-depth share", "p_positive": "P(>0)", "p_mcse": "MCSE of P",
    "mcse_mean": "MCSE of mean", "n_draws": "draws", "ppc_misfits": "PPC misfits",
    "pareto_k_bad": "Pareto k > 0.7", "prior_sensitive": "prior-sensitive parameters",
    "elpd_loo": "elpd (PSIS-LOO)", "elpd_logo": "elpd (leave one complex out)",
    "p_loo": "p_loo", "logo_se": "SE (LOGO)", "outside_support": "outside common support",
    "n_analysed": "analysed", "n_before": "rows", "n_missing": "missing",
    "p_claim": "P(claim)", "p_against": "P(against)", "p_equivalent": "P(equivalent)",
    "p_different": "P(different)",
}
# columns whose numbers are counts: shown without decimals
_COUNTS = {"divergences", "n_draws", "ppc_misfits", "pareto_k_bad", "prior_sensitive",
           "n_analysed", "n_before", "n_missing", "tenants", "complexes", "n", "covered",
           "logo_groups", "logo_pareto_k_bad", "ess_bulk", "ess_tail", "min_ess_bulk",
           "min_ess_tail", "parameters", "flagged", "n_rows", "cells", "n_obs", "pairs",
           "supported", "uncertain", "contradicted"}
# estimate columns rounded by the row's sd (when the table has one)
_BY_SD = ("mean", "q05", "q95", "median", "estimate", "shift", "report_own")


def decimals_for(sd: float, *, digits: int = 2, most: int = 3) -> int:
    """Decimals that leave ``digits`` significant digits of ``sd`` (0 to ``most``)."""
    if not np.isfinite(sd) or sd <= 0:
        return most
    return int(min(most, max(0, digits - 1 - math.floor(math.log10(sd)))))


def interval_text(mean: float, lo: float, hi: float, *, decimals: int = 1,
                  signed: bool = True) -> str:
    """``+6.8 [+0.9, +11.8]``."""
    f = f"{{:{'+' if signed else ''}.{decimals}f}}"
    return f"{f.format(mean)} [{f.format(lo)}, {f.format(hi)}]"


def _number(value, decimals: int | None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return NOT_APPLICABLE
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    a = abs(value)
    if a == 0:
        return "0"
    if a >= 100:  # elpd and the like: whole units carry the comparison
        return f"{value:,.1f}"
    return f"{value:.3g}" if a >= 0.001 else f"{value:.1e}"


def _empty(col: pd.Series) -> bool:
    text = col.astype(str).str.strip()
    return bool(col.isna().all() or text.isin(["", "nan", "None", "<NA>", "NaN"]).all())


def present(frame: pd.DataFrame | None, *, drop: tuple[str, ...] = (),
            headers: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` as text for a reader.

    Columns entirely missing and those in ``drop`` are left out; estimates (``mean``,
    ``q05``, ``q95``, ...) are rounded by the row's ``sd`` where the table has one, counts
    show no decimals, other numbers three significant digits (whole tenths from 100 up);
    every missing cell becomes an en dash. Headers are renamed by :data:`HEADERS` and
    ``headers``.
    """
    if frame is None or not len(frame.columns):
        return pd.DataFrame()
    frame = frame.reset_index(drop=True)
    keep = [c for c in frame.columns if c not in drop and not _empty(frame[c])]
    frame = frame[keep]
    sd = pd.to_numeric(frame["sd"], errors="coerce") if "sd" in frame else None
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values):
            out[col] = values.map(lambda v: "yes" if v else "no")
        elif pd.api.types.is_numeric_dtype(values):
            if "r_hat" in str(col):  # judged at 1.01: three decimals tell 1.006 from 1.014
                out[col] = [_number(v, 3) for v in values]
            elif col in _COUNTS:
                out[col] = [NOT_APPLICABLE if pd.isna(v) else f"{v:,.0f}" for v in values]
            elif sd is not None and col in (*_BY_SD, "sd"):
                out[col] = [_number(v, decimals_for(s)) for v, s in zip(values, sd, strict=True)]
            else:
                out[col] = [_number(v, None) for v in values]
        else:
            out[col] = [NOT_APPLICABLE if v is None or (isinstance(v, float) and np.isnan(v))
                        or str(v) in ("nan", "None", "<NA>", "") else str(v) for v in values]
    names = HEADERS | (headers or {})
    return out.rename(columns={c: names.get(c, str(c).replace("_", " ")) for c in out.columns})
