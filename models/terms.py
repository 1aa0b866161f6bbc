"""Model terms and design matrices: how data columns enter a model's linear predictor.

A :class:`Covariate` is one term (a binary flag, a categorical variable treatment-coded
against its first level, a rescaled number, an interaction); :func:`covariate_matrix`
turns terms plus a frame into the design matrix; :func:`complete_cases` selects the rows a
model can use and reports what it removed. Generic: nothing here knows any study.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Covariate", "category_levels", "complete_cases", "covariate_matrix",
           "split_outside"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Covariate:
    """A term as it enters a model's linear predictor.

    Binary terms enter as 0/1; categorical ones (numeric codes or text) treatment-coded
    against the first level or the named ``reference``; ``scaled`` ones as
    ``(x - center) / scale`` with fixed, data-independent values (so that coefficients
    compare across data sets, e.g. with a simulator's truth); ``standardize``/``center``
    with the data's own mean (and sd); ``log`` as ``log(x)``; ``interaction`` as the product
    of its two ``parts``.
    """

    name: str
    # binary | categorical | scaled | standardize | center | numeric | interaction | log
    kind: str
    levels: tuple = ()
    center: float = 0.0
    scale: float = 1.0
    # interaction: (a column, another column or term of the model); log: (the column,)
    parts: tuple[str, ...] = ()
    reference: str | None = None  # categorical: the reference level (default: the first)

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns this term reads."""
        return self.parts or (self.name,)

    def term_names(self) -> list[str]:
        """Names of the model coefficients this covariate produces."""
        if self.kind == "categorical" and self.levels:
            return [f"{self.name}[{lv}]" for lv in self.levels[1:]]
        if self.kind == "categorical":
            return [f"{self.name}[*]"]  # levels come from the data
        return [self.name]



def covariate_matrix(frame: pd.DataFrame, covariates: tuple[Covariate, ...]) -> pd.DataFrame:
    """Design matrix of ``covariates`` (columns named by :meth:`Covariate.term_names`).

    Kinds: ``binary``/``numeric`` as is; ``scaled`` with the covariate's fixed centre and
    scale; ``standardize``/``center`` with the data's mean (and sd); ``categorical``
    treatment-coded against its reference (:func:`category_levels`: the covariate's levels,
    else the data's sorted numbers or text, the named reference first); its columns read
    ``temp[warm]``; ``log`` the log of its column (named ``log(x)``); ``interaction`` its
    first column times the other part's model column (the column itself when that is not a
    term of the model). Missing values propagate as NaN.
    """
    cols = {}
    for cov in covariates:
        if cov.kind == "interaction":  # first column x the other's model column (or column)
            flag, other = cov.parts
            z = pd.to_numeric(frame[flag]).to_numpy(dtype=float, na_value=np.nan)
            cols[cov.name] = z * (cols[other] if other in cols else pd.to_numeric(
                frame[other]).to_numpy(dtype=float, na_value=np.nan))
            continue
        if cov.kind == "log":  # log(x), named so; the column is its only part
            x = pd.to_numeric(frame[cov.parts[0]]).to_numpy(dtype=float, na_value=np.nan)
            if np.nanmin(x) <= 0:
                raise ValueError(f"term {cov.name}: {cov.parts[0]!r} has values <= 0")
            cols[cov.name] = np.log(x)
            continue
        if cov.kind == "categorical":
            cols |= _dummies(frame[cov.name], cov)
            continue
        x = pd.to_numeric(frame[cov.name]).to_numpy(dtype=float, na_value=np.nan)
        if cov.kind == "standardize":
            cols[cov.name] = (x - np.nanmean(x)) / np.nanstd(x)
        elif cov.kind == "center":
            cols[cov.name] = x - np.nanmean(x)
        else:
            cols[cov.name] = (x - cov.center) / cov.scale
    return pd.DataFrame(cols, index=frame.index)



def _label(value) -> str:
    """A level as it reads in a term name: ``2`` not ``2.0``, text as is."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def category_levels(values: pd.Series, cov: Covariate) -> tuple:
    """The levels of a categorical term, reference first.

    The covariate's own ``levels`` when it lists them (a codebook's codes), else the sorted
    distinct values: numbers when the column is numeric, text otherwise. ``cov.reference``
    (matched on the level as it reads, so ``"2"`` names code 2) moves to the front.
    """
    if cov.levels:
        levels = list(cov.levels)
    else:
        present = values.dropna()
        numeric = pd.to_numeric(present, errors="coerce")
        if len(present) and numeric.notna().all():
            levels = sorted(set(numeric.astype(float).tolist()))
        else:
            levels = sorted(set(present.astype(str).str.strip().tolist()))
    if cov.reference is not None:
        match = [lv for lv in levels if _label(lv) == str(cov.reference)]
        if not match:
            raise ValueError(f"term C({cov.name}): reference {cov.reference!r} is not a level "
                             f"of {cov.name!r}; levels: {[_label(lv) for lv in levels]}")
        levels.remove(match[0])
        levels.insert(0, match[0])
    return tuple(levels)


def _dummies(values: pd.Series, cov: Covariate) -> dict[str, np.ndarray]:
    """Treatment-coded 0/1 columns ``name[level]`` of every level but the reference."""
    levels = category_levels(values, cov)
    numeric = pd.to_numeric(values, errors="coerce")
    if all(isinstance(lv, int | float) for lv in levels) and \
            (numeric.notna() | values.isna()).all():
        x = numeric.to_numpy(dtype=float, na_value=np.nan)
        keys = [float(lv) for lv in levels]
    else:  # text levels (or codes read as text)
        x = values.astype("string").str.strip().to_numpy(dtype=object, na_value=None)
        keys = [_label(lv) for lv in levels]
    missing = pd.isna(values).to_numpy()
    return {f"{cov.name}[{_label(lv)}]": np.where(missing, np.nan, (x == key) * 1.0)
            for lv, key in zip(levels[1:], keys[1:], strict=True)}


def complete_cases(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the rows that are complete on ``columns`` and report what was removed.

    Parameters
    ----------
    frame
        The table (not modified).
    columns
        Columns that must be non-missing.

    Returns
    -------
    complete : pandas.DataFrame
        The complete rows (original index kept).
    report : pandas.DataFrame
        One row per column: ``variable``, ``n_missing`` (rows missing it),
        ``n_removed_only_by_this`` (rows missing only this one of ``columns``), and the
        table's ``n_before`` and ``n_after``.

    Raises
    ------
    KeyError
        When a column is not in the frame.
    """
    columns = list(dict.fromkeys(columns))
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise KeyError(f"columns not in the data: {', '.join(absent)}")
    missing = frame[columns].isna()
    n_missing_in_row = missing.sum(axis=1)
    keep = n_missing_in_row == 0
    complete = frame.loc[keep].copy()
    n_before, n_after = len(frame), int(keep.sum())
    report = pd.DataFrame({
        "variable": pd.Series(columns, dtype=object),
        "n_missing": [int(missing[c].sum()) for c in columns],
        "n_removed_only_by_this": [int((missing[c] & (n_missing_in_row == 1)).sum())
                                   for c in columns],
        "n_before": n_before,
        "n_after": n_after,
    })
    logger.info("complete cases on %d column(s): %d of %d rows kept, %d removed%s",
                len(columns), n_after, n_before, n_before - n_after,
                "".join(f"; {r.variable}: {r.n_missing} missing"
                        for r in report.itertuples() if r.n_missing))
    return complete, report



def split_outside(text: str, sep: str) -> list[str]:
    """``text`` split on the character ``sep`` outside parentheses and quotes, each part
    stripped (empty parts kept): ``C(x, ref="a+b") + y`` is two terms."""
    parts, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return [*parts, cur.strip()]
