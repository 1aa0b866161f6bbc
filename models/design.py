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

__all__ = ["ModelData", "PreparationError", "aligned_frame", "prepare", "row_labels"]

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
    # binomial family: trials per row (the response holds the successes)
    trials: np.ndarray | None = None
    # per random level: "centered" or "noncentered" (choose_parametrisation), and the
    # reliability of its group means the choice was made from (NaN where the config chose)
    parametrisation: tuple[tuple[str, str, float], ...] = ()
    # nested levels: for each group of a level, the index of its group at the next level
    parent_idx: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

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

    def take(self, rows: np.ndarray) -> ModelData:
        """The analysed rows selected by ``rows`` (a boolean mask or indices), every group
        kept: a group left without rows keeps its prior in a fit, so the compiled shape (and
        the group indices) stay those of the full data -- the training set of a
        leave-groups-out fold is one :meth:`take` away."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return dataclasses.replace(
            self, y=self.y[rows], X=self.X[rows],
            level_idx={k: v[rows] for k, v in self.level_idx.items()},
            row_ids=tuple(np.asarray(self.row_ids, dtype=object)[rows].tolist()),
            trials=None if self.trials is None else self.trials[rows],
            y_scale=(self.y_mean, self.y_sd))

    def data_hash(self) -> str:
        """Hash of everything the likelihood sees (changes when any value changes)."""
        h = hashlib.sha256()
        extra = () if self.trials is None else (self.trials,)
        for arr in (self.y, self.X, *extra,
                    *(self.level_idx[k] for k in sorted(self.level_idx))):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((self.term_names, self.level_labels, self.categories,
                       self.parametrisation)).encode())
        return h.hexdigest()[:16]

    def centered(self, level: str) -> bool:
        """Whether ``level``'s group effects are centred in the model."""
        return any(lv == level and how == "centered" for lv, how, _ in self.parametrisation)


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
    problems, hints = [], []
    for col in dict.fromkeys(columns):
        raw = frame[col]
        num = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        out[col] = num
        if bad.any():
            rows = row_labels(frame, id_column)[bad.to_numpy()]
            problems += [f"column {col!r}, {r}: value {v!r} is not a number"
                         for r, v in zip(rows, raw[bad], strict=True)]
            values = sorted(raw[bad].astype(str).unique().tolist())
            hints.append(f"column {col!r} holds text ({', '.join(map(repr, values[:5]))}"
                         f"{', ...' if len(values) > 5 else ''}): as a term write "
                         f"C({col}) (categorical); a response must be coded as numbers")
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise PreparationError(f"model {name!r}: non-numeric values:\n  "
                               + "\n  ".join(problems[:20]) + more
                               + "".join(f"\n  hint: {h}" for h in hints))
    return out


def row_labels(frame: pd.DataFrame, id_column: str | None) -> np.ndarray:
    """How each row is named in messages: ``tenant_id=T0001`` when the spec names an id
    column present in the data, else ``row 5``: the 1-based position in the table (the
    data line of a CSV file)."""
    if id_column is not None and id_column in frame:
        return np.array([f"row {id_column}={v}" for v in frame[id_column]], dtype=object)
    return np.array([f"row {i + 1}" for i in range(len(frame))], dtype=object)


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


# A random level is centred when its group means are at least this reliable (see
# choose_parametrisation); documented in docs/sampler-measurements.md.
CENTRED_RELIABILITY = 0.75


def group_reliability(y: np.ndarray, groups: np.ndarray) -> float:
    """How much the data say about each group's effect: ``n tau^2 / (n tau^2 + sigma^2)``.

    One-way ANOVA (method of moments) of the numeric response ``y`` (row means for items)
    on ``groups``: ``sigma^2`` the pooled within-group variance, ``tau^2`` the between-group
    variance of the group means beyond what ``sigma^2`` explains, ``n`` the mean group
    size. It is the shrinkage weight of a group mean: near 1 the likelihood pins each group
    (a centred parametrisation samples well), near 0 the prior does (non-centred does).
    """
    y = np.asarray(y, dtype=float)
    codes, idx = np.unique(groups, return_inverse=True)
    n_g = np.bincount(idx, minlength=len(codes)).astype(float)
    if len(codes) < 2 or (n_g > 1).sum() == 0:
        return 0.0
    mean_g = np.bincount(idx, weights=y, minlength=len(codes)) / n_g
    resid = y - mean_g[idx]
    dof = float((n_g - 1).sum())
    sigma2 = float((resid**2).sum() / dof) if dof > 0 else 0.0
    n_h = len(n_g) / float((1.0 / n_g).sum())  # harmonic mean group size
    tau2 = max(float(np.var(mean_g, ddof=1)) - sigma2 / n_h, 0.0)
    n_bar = float(n_g.mean())
    if sigma2 == 0.0:
        return 1.0 if tau2 > 0 else 0.0
    return n_bar * tau2 / (n_bar * tau2 + sigma2)


def choose_parametrisation(spec: ModelSpec, y: np.ndarray,
                           level_idx: dict[str, np.ndarray]) -> tuple:
    """Centred or non-centred group effects per random level, by a documented rule.

    The spec's own choice where it names one; else centred when the group means'
    reliability (:func:`group_reliability` of the coded response, row means for items)
    is at least :data:`CENTRED_RELIABILITY` and the level is not nested in another random
    level, non-centred otherwise (groups with little data each: the usual case for tenants
    in complexes). A lower nested level stays non-centred by default: measured on lme4's
    Pastes (cask in batch, reliability 0.97), centring the casks -- even on their batch's
    effect -- left the intercept or the batch SD mixing slowly (bulk ESS 38-105 of 2,000
    draws) where all non-centred at target_accept 0.99 passed (ESS 251, 0 divergences).
    Returns ``(level, choice, reliability)`` triples.
    """
    y_num = y.mean(axis=1) if y.ndim > 1 else y
    out = []
    levels = spec.random_levels
    for i, lv in enumerate(levels):
        how, rel = spec.parametrisation_of(lv), float("nan")
        if spec.slope_terms(lv):  # varying slopes are always non-centred (models.build)
            how = "noncentered"
        elif how == "auto":
            rel = group_reliability(y_num, level_idx[lv])
            nested_in_random = spec.nested and i + 1 < len(levels)
            how = "centered" if rel >= CENTRED_RELIABILITY and not nested_in_random \
                else "noncentered"
        out.append((lv, how, rel))
    return tuple(out)


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
    # categorical terms may hold text; every other column must be numeric
    numeric = [c for t in spec.terms if t.kind != "categorical" for c in t.columns]
    frame = _numeric(frame, [*responses, *numeric], spec.name, spec.id_column)
    sub = _apply_subset(frame, spec.subset, spec.name)
    n_before = len(sub)
    sub, removed = complete_cases(sub, needed)  # reported per variable, never silent
    removed.insert(0, "model", spec.name)
    if len(sub) == 0:
        raise PreparationError(f"model {spec.name!r}: no complete rows left")
    try:
        X = covariate_matrix(sub, spec.terms)
    except ValueError as err:  # e.g. a named reference level that is not in the data
        raise PreparationError(f"model {spec.name!r}: {err}") from err
    const = [c for c in X if np.nanstd(X[c].to_numpy()) == 0]
    if const:
        raise PreparationError(f"model {spec.name!r}: term(s) {const} are constant in the "
                               f"analysed rows and cannot be estimated")
    # coded as the family's likelihood reads it (categories, binary check, reversed items)
    y, categories = family.encode(sub[responses].to_numpy(dtype=float), spec)
    trials = family.trials(sub[responses].to_numpy(dtype=float), spec)
    # groups come from the whole data set, not just the analysed subset: a group without
    # analysed rows keeps its prior, and models on subsets share their compiled shape
    # with full-data models of the same family
    grouped = frame.dropna(subset=list(spec.levels))
    all_labels = _nested_labels(grouped, spec.levels) if spec.nested else \
        {lv: grouped[lv].astype(str) for lv in spec.levels}
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
    parent_idx = {}
    if spec.nested:
        for lower, upper in zip(spec.levels[:-1], spec.levels[1:], strict=True):
            parent = pd.Series(all_labels[upper].to_numpy(), index=all_labels[lower].to_numpy())
            parent = parent[~parent.index.duplicated()]
            parent_idx[lower] = pd.Index(level_labels[upper]).get_indexer(
                parent.reindex(list(level_labels[lower])).to_numpy()).astype(np.int64)
    if spec.focal and spec.reference is not None and \
            spec.reference not in level_labels[spec.focal]:
        raise PreparationError(f"model {spec.name!r}: reference {spec.reference!r} of level "
                               f"{spec.focal!r} is not in the analysed data")
    rows = sub[spec.id_column].astype(str) if spec.id_column in sub else sub.index.astype(str)
    y_rel = y / trials if trials is not None else y  # binomial: the share of successes
    return ModelData(y=y, X=X.to_numpy(dtype=float), term_names=tuple(X.columns),
                     level_idx=level_idx, level_labels=level_labels,
                     categories=categories, row_ids=tuple(rows), removed=removed,
                     n_before=n_before, trials=trials, parent_idx=parent_idx,
                     parametrisation=choose_parametrisation(spec, y_rel, level_idx))


def aligned_frame(frame: pd.DataFrame, spec: ModelSpec, data: ModelData) -> pd.DataFrame:
    """The rows of ``frame`` behind ``data``'s analysed rows, in their order (matched on
    the spec's id column, else the frame's index)."""
    id_col = spec.id_column
    if id_col and id_col in frame:
        return frame.set_index(frame[id_col].astype(str)).loc[list(data.row_ids)]
    return frame.set_index(frame.index.astype(str)).loc[list(data.row_ids)]


def design_at(X: np.ndarray, term_names: tuple[str, ...], terms, rows: pd.DataFrame,
              donors: np.ndarray, values: pd.DataFrame) -> np.ndarray:
    """The design rows of analysed rows ``donors`` with the columns of ``values`` set to its
    values (one row per donor): "this respondent's other covariates, at these cell values".

    ``X``/``term_names`` are the analysed rows' design, ``terms`` the model's
    :class:`~models.terms.Covariate` terms and ``rows`` the analysed rows' data (aligned with
    ``X``). Only the design columns whose terms read a changed column are recomputed
    (dummies, interactions, rescaling), with the encoding of the analysed rows: a term
    whose scaling depends on the data (``standardize``, ``center``) keeps the analysed
    rows' mean and SD.
    """
    out = X[donors].copy()
    rows = rows.reset_index(drop=True)
    changed = [c for c in values.columns if c in rows and not np.array_equal(
        rows[c].to_numpy(dtype=object)[donors], values[c].to_numpy(dtype=object))]
    if not changed or not len(donors):
        return out
    moved = rows.iloc[donors].reset_index(drop=True)
    for c in changed:
        moved[c] = values[c].to_numpy()
        if pd.api.types.is_numeric_dtype(rows[c]):
            moved[c] = pd.to_numeric(moved[c])
    both = covariate_matrix(pd.concat([rows, moved], ignore_index=True), tuple(terms))
    names = list(term_names)
    n = len(rows)
    for col in both.columns:
        if col not in names:
            continue
        j = names.index(col)
        base, new = both[col].to_numpy()[:n], both[col].to_numpy()[n:]
        if np.allclose(base, X[:, j], equal_nan=True):
            out[:, j] = new
            continue
        # data-dependent scaling: the analysed rows' encoding is affine in the recomputed one
        ok = np.isfinite(base) & np.isfinite(X[:, j])
        b, a = np.polyfit(base[ok], X[ok, j], 1) if np.ptp(base[ok]) > 0 else (1.0, 0.0)
        out[:, j] = a + b * new
    return out
