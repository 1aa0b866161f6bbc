"""Turn an analysis frame plus a spec into the arrays a model needs (no PyMC here).

Rows with a missing value in the response, a term or a grouping level are removed as
complete cases, and the removal is reported per variable, never silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import PreparationError
from models.spec import ModelSpec
from models.terms import complete_cases, covariate_matrix

__all__ = ["ModelData", "PreparationError", "prepare"]

_SUBSET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class ModelData:
    """Arrays of one model's analysed rows; group indices map rows to each level.

    ``level_idx[level]`` has shape (n_rows,) and indexes ``level_labels[level]``;
    ``categories`` are the response levels of an ordinal family (response coded 0..K-1).
    """

    y: np.ndarray
    X: np.ndarray
    term_names: tuple[str, ...]
    level_idx: dict[str, np.ndarray]
    level_labels: dict[str, tuple[str, ...]]
    categories: tuple
    row_ids: tuple[str, ...]
    removed: pd.DataFrame
    n_before: int
    # (mean, sd) the Gaussian priors are centred and scaled by; None: this y's own. Pinned
    # when y is replaced by simulated values so that the prior stays the same (SBC).
    y_scale: tuple[float, float] | None = None

    @property
    def n(self) -> int:
        """Number of analysed rows."""
        return len(self.y)

    @property
    def y_mean(self) -> float:
        """Response mean (Gaussian prior centring)."""
        return self.y_scale[0] if self.y_scale else float(np.mean(self.y))

    @property
    def y_sd(self) -> float:
        """Response sd (Gaussian prior scaling); 1 when degenerate."""
        sd = self.y_scale[1] if self.y_scale else float(np.std(self.y))
        return sd if sd > 0 else 1.0

    def with_y(self, y: np.ndarray) -> ModelData:
        """The same design with another response (e.g. simulated); the prior is unchanged."""
        y = np.asarray(y, dtype=self.y.dtype)
        if y.shape != self.y.shape:
            raise ValueError(f"new response has shape {y.shape}, the design {self.y.shape}")
        return dataclasses.replace(self, y=y, y_scale=(self.y_mean, self.y_sd))

    def data_hash(self) -> str:
        """Hash of everything the likelihood sees (changes when any value changes)."""
        h = hashlib.sha256()
        for arr in (self.y, self.X, *(self.level_idx[k] for k in sorted(self.level_idx))):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((self.term_names, self.level_labels, self.categories)).encode())
        return h.hexdigest()[:16]


def _apply_subset(frame: pd.DataFrame, subset: str | None, name: str) -> pd.DataFrame:
    if not subset:
        return frame
    parts = [p for p in re.split(r"\s+and\s+", subset.strip())]
    keep = pd.Series(True, index=frame.index)
    for part in parts:
        m = _SUBSET.match(part)
        if not m:
            raise PreparationError(f"model {name!r}: subset {part!r} must look like "
                                   f"'column >= number' (joined with 'and')")
        col, op, val = m[1], m[2], float(m[3])
        if col not in frame:
            raise PreparationError(f"model {name!r}: subset column {col!r} not in data")
        x = pd.to_numeric(frame[col]).astype("Float64")
        cmp = {">=": x >= val, "<=": x <= val, "==": x == val, "!=": x != val, ">": x > val,
               "<": x < val}[op]
        keep &= cmp.fillna(False).astype(bool)
    return frame[keep.to_numpy()]


def _numeric(frame: pd.DataFrame, columns: list[str], name: str,
             id_column: str | None) -> pd.DataFrame:
    """Columns as numbers; any non-numeric cell is an error naming column, row and value."""
    out = frame.copy()
    problems = []
    ids = frame[id_column] if id_column in frame else frame.iloc[:, 0]
    for col in dict.fromkeys(columns):
        raw = frame[col]
        num = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        problems += [f"column {col!r}, row {ids.name}={i}: value {v!r} is not a number"
                     for i, v in zip(ids[bad], raw[bad], strict=True)]
        out[col] = num
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise PreparationError(f"model {name!r}: non-numeric values:\n  "
                               + "\n  ".join(problems[:20]) + more)
    return out


def _nested_labels(frame: pd.DataFrame, levels: tuple[str, ...]) -> dict[str, pd.Series]:
    """Labels per level; a lower-level id reused under two parents is made unique."""
    labels = {levels[-1]: frame[levels[-1]].astype(str)}
    for lower, upper in zip(levels[-2::-1], levels[:0:-1], strict=True):
        lab = frame[lower].astype(str)
        parents = frame.groupby(lab, observed=True)[upper].nunique()
        if (parents > 1).any():
            lab = labels[upper] + "/" + lab
        labels[lower] = lab
    return labels


def prepare(frame: pd.DataFrame, spec: ModelSpec) -> ModelData:
    """Select, complete-case and encode the rows ``spec`` analyses.

    Parameters
    ----------
    frame
        One row per analysed unit with its groups' columns joined on.
    spec
        The model specification.
    """
    family = spec.family_impl
    responses = family.response_columns(spec)
    term_columns = list(dict.fromkeys(c for t in spec.terms for c in t.columns))
    needed = [*responses, *spec.levels, *term_columns]
    absent = [c for c in needed if c not in frame]
    if absent:
        raise PreparationError(f"model {spec.name!r}: column(s) {absent} not in the data")
    frame = _numeric(frame, [*responses, *term_columns], spec.name, spec.id_column)
    sub = _apply_subset(frame, spec.subset, spec.name)
    n_before = len(sub)
    sub, removed = complete_cases(sub, needed)  # reported per variable, never silent
    removed.insert(0, "model", spec.name)
    if len(sub) == 0:
        raise PreparationError(f"model {spec.name!r}: no complete rows left")
    X = covariate_matrix(sub, spec.terms)
    const = [c for c in X if np.nanstd(X[c].to_numpy()) == 0]
    if const:
        raise PreparationError(f"model {spec.name!r}: term(s) {const} are constant in the "
                               f"analysed rows and cannot be estimated")
    # coded as the family's likelihood reads it (categories, binary check, reversed items)
    y, categories = family.encode(sub[responses].to_numpy(dtype=float), spec)
    # groups come from the whole data set, not just the analysed subset: a group without
    # analysed rows keeps its prior, and models on subsets share their compiled shape
    # with full-data models of the same family
    grouped = frame.dropna(subset=list(spec.levels))
    all_labels = _nested_labels(grouped, spec.levels)
    labels = {lv: all_labels[lv].loc[sub.index] for lv in spec.levels}
    level_idx, level_labels = {}, {}
    for lv in spec.levels:
        uniques = sorted(all_labels[lv].unique())
        if lv == spec.focal and spec.level_order:  # the study's order, then the rest
            first = [lab for lab in spec.level_order if lab in set(uniques)]
            uniques = first + [lab for lab in uniques if lab not in set(first)]
        uniques = pd.Index(uniques)
        level_idx[lv] = uniques.get_indexer(labels[lv]).astype(np.int64)
        level_labels[lv] = tuple(uniques.tolist())
    if spec.focal and spec.reference is not None and \
            spec.reference not in level_labels[spec.focal]:
        raise PreparationError(f"model {spec.name!r}: reference {spec.reference!r} of level "
                               f"{spec.focal!r} is not in the analysed data")
    rows = sub[spec.id_column].astype(str) if spec.id_column in sub else sub.index.astype(str)
    return ModelData(y=y, X=X.to_numpy(dtype=float), term_names=tuple(X.columns),
                     level_idx=level_idx, level_labels=level_labels,
                     categories=categories, row_ids=tuple(rows), removed=removed,
                     n_before=n_before)
