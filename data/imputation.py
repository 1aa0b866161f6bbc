"""Multiple imputation of missing covariates by chained equations (statsmodels' MICE),
congenial with the multilevel models that analyse the imputations.

Complete-case analysis drops every row with a missing covariate model by model, so each
outcome's effects are standardised to a different, self-selected set of tenants (the old
and frail, who skip more questions, drop out most). Here the missing covariates are
imputed ``m`` times instead, and every model is fitted on every imputed data set
(:mod:`inference.imputation`), the draws pooled as brms' ``brm_multiple`` pools them.

**The equations.** statsmodels' :class:`~statsmodels.imputation.mice.MICEData`: each
incomplete column in turn is regressed (OLS) on all the others with their current
imputations, and a missing cell takes the observed value of one of the ``k_pmm`` rows
whose prediction is nearest (predictive mean matching), with the regression's parameters
drawn from their approximate posterior first. Predictive mean matching only ever imputes
values that occur in the data, so binary and ordinal codes stay valid codes (a linear
imputer would invent 0.4 of a woman); the measurement behind the choice is
``bench/bench_imputation.py``.

**Congeniality** (Meng 1994): the imputation model holds the analysis models' structure.
Its predictors are the outcomes (their own missing cells are imputed along the way for
that purpose only; the models still analyse the observed outcomes -- without them the
covariates' effects are biased towards zero), the complete covariates, the focal level as
indicator columns (the living form: the models' form effects), and the lowest grouping
level (the complex: the models' random intercepts) as the *complex means* of every
tenant-level column -- the mean over the tenant's fellow residents, recomputed from the
current imputations before every equation. This is the "cluster means" version of
two-level chained equations (Enders, Mistler & Keller 2016; Grund, Lüdtke & Robitzsch
2018), which approximates a random-intercept imputation model; no maintained Python
library offers two-level predictive mean matching (R's ``mice``/``miceadds`` ``2l.pmm``).
A complex with one respondent has no fellow residents: its tenant takes the form's mean.

**Independent imputations**: one chain per imputation, each with its own seed (spawned
from ``seed``), a random start (observed values drawn at random) and ``burn_in`` cycles;
the lag-1 autocorrelation of the imputed means across imputations is reported per column
(near 0: independent; one chain sampled every few cycles is not).

**How many**: ``m = min(cap, max(floor, ceil(100 x fraction of incomplete rows)))``
(White, Royston & Wood 2011: ``m`` at least 100 times the fraction of incomplete cases,
so that the Monte Carlo error of the pooled estimates is small), floor 5, cap 40
(:func:`imputation_count`); every model is fitted ``m`` times, so the cap bounds the
cost, and the fraction of missing information reported per contrast says afterwards
whether the ``m`` used was enough (WRW's rule with the FMI in place of the fraction of
incomplete cases). ``--imputations`` overrides the rule.

**Missing by design** (:func:`by_design`): a question put only to some tenants (friendly
contact is asked where contact is at least regular, :attr:`data.codebook.Outcome.asked`)
is not missing at random elsewhere -- it has no value there. Such cells are never imputed:
in the equations they hold a constant beside an indicator of being asked (so that the
column predicts only where it is defined), and they stay missing in the completed frames.
Where the gate itself is missing (contact unknown), whether the question was asked is
unknown, and the cell is imputed, for the predictor role only, as any outcome's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["M_CAP", "M_FLOOR", "Imputations", "by_design", "delta_adjusted",
           "imputation_columns", "imputation_count", "imputation_inputs", "impute",
           "lag1_autocorrelation"]

M_FLOOR = 5
M_CAP = 40


@dataclass(frozen=True)
class Imputations:
    """``m`` completed copies of a frame and what was imputed.

    Attributes
    ----------
    frames
        The completed frames (same rows and order as the input; imputed covariate columns
        filled, outcome columns as observed, cells missing by design still missing).
    report
        One row per imputed covariate: ``column, n_missing, share_missing,
        observed_mean, imputed_mean`` (the imputed cells' mean over all imputations) and
        ``lag1_autocorrelation`` of the imputed cells' means across the imputations.
    columns
        The imputed covariates.
    auxiliary
        The other columns of the imputation models (outcomes and complete covariates).
    settings
        ``m`` and the rule that chose it, the fraction of incomplete rows, chains, burn-in,
        ``k_pmm``, the seed, the form and complex columns and the number of predictors.
    structural
        One row per column missing by design: ``column, asked_when, n_not_asked,
        n_gate_unknown`` (cells kept missing; cells whose gate is itself missing).
    """

    frames: list[pd.DataFrame]
    report: pd.DataFrame
    columns: tuple[str, ...]
    auxiliary: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    structural: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def m(self) -> int:
        return len(self.frames)


def imputation_count(fraction_incomplete: float, *, floor: int = M_FLOOR,
                     cap: int = M_CAP) -> int:
    """``m`` from the fraction of incomplete rows: ``ceil(100 x fraction)`` (White, Royston
    & Wood 2011), at least ``floor`` and at most ``cap``."""
    if not 0.0 <= fraction_incomplete <= 1.0:
        raise ValueError(f"fraction of incomplete rows must be in [0, 1], got "
                         f"{fraction_incomplete}")
    return int(min(cap, max(floor, math.ceil(100 * fraction_incomplete - 1e-9))))


def lag1_autocorrelation(series: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (NaN for fewer than 3 values or no variance)."""
    x = np.asarray(series, float)
    if len(x) < 3 or np.std(x) == 0:
        return np.nan
    d = x - x.mean()
    return float(np.sum(d[1:] * d[:-1]) / np.sum(d * d))


def imputation_columns(frame: pd.DataFrame, specs: Iterable) -> tuple[list[str], list[str]]:
    """``(incomplete covariates, auxiliary columns)`` of the models ``specs``: the term
    columns with a missing value are imputed; every other numeric term column and every
    response column is a predictor in the imputation models."""
    terms, responses = [], []
    for spec in specs:
        terms += [c for t in spec.terms for c in t.columns]
        responses.append(spec.response)  # one column per outcome (not the items too)
    terms = [c for c in dict.fromkeys(terms) if c in frame]
    numeric = [c for c in terms if pd.api.types.is_numeric_dtype(frame[c])]
    incomplete = [c for c in numeric if frame[c].isna().any()]
    auxiliary = [c for c in dict.fromkeys([*numeric, *responses])
                 if c in frame and c not in incomplete
                 and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]
    return incomplete, auxiliary


def by_design(frame: pd.DataFrame) -> dict[str, str]:
    """``{column: query of the rows it is asked of}`` for the codebook's outcomes that are
    asked of some tenants only (:attr:`data.codebook.Outcome.asked`), where the column and
    the query's columns are in ``frame``."""
    from data.codebook import OUTCOMES

    out = {}
    for o in OUTCOMES:
        asked = getattr(o, "asked", None)
        if asked and o.column in frame and _query_columns(frame, asked):
            out[o.column] = asked
    return out


def imputation_inputs(frame: pd.DataFrame, specs: Iterable) -> dict:
    """The keyword arguments of :func:`impute` for the models ``specs``: the columns to
    impute and the auxiliary ones, the focal level (``form``), the lowest grouping level
    (``cluster``) and the columns missing by design."""
    specs = list(specs)
    columns, auxiliary = imputation_columns(frame, specs)
    focal = next((s.focal for s in specs if s.focal and s.focal in frame), None)
    cluster = next((s.levels[0] for s in specs if s.levels and s.levels[0] in frame
                    and s.levels[0] != focal), None)
    return {"columns": columns, "auxiliary": auxiliary, "form": focal, "cluster": cluster,
            "structural": by_design(frame)}


def _query_columns(frame: pd.DataFrame, query: str) -> list[str]:
    return [c for c in frame.columns if re.search(rf"\b{re.escape(str(c))}\b", query)]


def _asked(frame: pd.DataFrame, query: str) -> tuple[np.ndarray, np.ndarray]:
    """``(asked, unknown)`` per row: the query holds; a column of the query is missing."""
    cols = _query_columns(frame, query)
    unknown = frame[cols].isna().any(axis=1).to_numpy()
    values = frame[cols].apply(lambda c: c.astype(float)
                               if pd.api.types.is_numeric_dtype(c) else c)
    asked = pd.Series(values.eval(query)).fillna(False).to_numpy(bool) & ~unknown
    return asked, unknown


class _Means:
    """The complex means of the tenant-level columns of the chained equations: each row's
    mean over its fellow residents (leave-one-out), of the rows where the column is
    defined; the form's mean where a complex has no other (defined) resident."""

    def __init__(self, cluster: np.ndarray, form: np.ndarray | None,
                 defined: dict[str, np.ndarray]):
        self.cluster = cluster
        self.form = form if form is not None else np.zeros(len(cluster), int)
        self.defined = defined  # source column -> rows where it has a value

    def __call__(self, x: np.ndarray, source: str) -> np.ndarray:
        w = self.defined.get(source, np.ones(len(x), bool)).astype(float)
        xw = np.where(w > 0, x, 0.0) * w
        sums, counts = np.bincount(self.cluster, xw), np.bincount(self.cluster, w)
        others = counts[self.cluster] - w
        form_sums, form_counts = np.bincount(self.form, xw), np.bincount(self.form, w)
        fallback = form_sums[self.form] / np.maximum(form_counts[self.form], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            loo = (sums[self.cluster] - xw) / others
        return np.where(others > 0, loo, fallback)


def _one_thread():
    """BLAS on one thread: the regressions are small (rows x ~60), and threads fighting
    over shared cores made each SVD ten times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a transitive dependency of scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _chain_class():
    from statsmodels.imputation.mice import MICEData

    class ClusteredMICEData(MICEData):
        """``MICEData`` whose complex-mean columns follow the current imputations and whose
        chain starts from observed values drawn at random (statsmodels starts every chain
        from the value nearest the mean: the same start for every chain)."""

        def __init__(self, data: pd.DataFrame, *, means: dict, refresh: _Means | None,
                     undefined: dict, **kwargs):
            self._means = means  # mean column -> source column
            self._refresh_with = refresh
            self._undefined = undefined  # column -> rows where it has no value by design
            self._dynamic: list[str] = []
            super().__init__(data, **kwargs)

        def _initial_imputation(self):
            # a column missing by design is neither fitted on nor a donor where undefined
            for col, off in self._undefined.items():
                self.ix_obs[col] = np.setdiff1d(self.ix_obs[col], np.flatnonzero(off))
            for col in self.data.columns:
                ix = self.ix_miss[col]
                if len(ix):
                    observed = self.data[col].to_numpy()[self.ix_obs[col]]
                    self.data.iloc[ix, self.data.columns.get_loc(col)] = \
                        self.rng.choice(observed, size=len(ix))
            # only the means of columns with imputed cells move during the chain
            self._dynamic = [k for k, src in self._means.items() if len(self.ix_miss[src])]
            self._refresh(list(self._means))

        def _refresh(self, names: list[str]) -> None:
            for name in names:
                source = self._means[name]
                self.data[name] = self._refresh_with(self.data[source].to_numpy(float), source)

        def update(self, vname):
            super().update(vname)
            if self._refresh_with is not None:  # the complex means of the column just updated
                self._refresh([k for k in self._dynamic if self._means[k] == vname])

        def _exog(self, vname: str) -> np.ndarray:
            # every other column with an intercept, as the default formula says, built
            # without patsy (which took most of the time of an update)
            others = self.data.drop(columns=vname).to_numpy(float)
            return np.column_stack([np.ones(len(others)), others])

        def get_fitting_data(self, vname):
            ix = self.ix_obs[vname]
            endog = self.data[vname].to_numpy(float)[ix]
            return endog, self._exog(vname)[ix], {}, {}

        def get_split_data(self, vname):
            exog = self._exog(vname)
            ixo, ixm = self.ix_obs[vname], self.ix_miss[vname]
            return self.data[vname].to_numpy(float)[ixo], exog[ixo], exog[ixm], {}, {}

    return ClusteredMICEData


def _design(frame: pd.DataFrame, names: list[str], *, form: str | None, cluster: str | None,
            structural: Mapping[str, str]) -> tuple[pd.DataFrame, dict, _Means | None, dict]:
    """The chained equations' data: ``v<i>`` per column (cells missing by design filled
    with a constant, beside an ``asked<i>`` indicator), ``form<j>`` indicators and
    ``mean<i>`` complex means; plus ``{mean column: source}``, the means' refresher and
    ``{column: (not asked, gate unknown)}``."""
    data = pd.DataFrame({f"v{i}": pd.to_numeric(frame[c], errors="coerce").astype(float)
                         .to_numpy() for i, c in enumerate(names)})
    # columns without any variance say nothing and break the regressions
    data = data.loc[:, data.std(skipna=True).fillna(0) > 0]
    code = {c: f"v{i}" for i, c in enumerate(names) if f"v{i}" in data}
    defined, kept = {}, {}
    for c, query in structural.items():
        if c not in code:
            continue
        asked, unknown = _asked(frame, query)
        off = ~asked & ~unknown  # known not to be asked: no value to impute
        kept[c] = (off, unknown)
        if off.any():
            v = code[c]
            data[v] = data[v].where(~off, 0.0)
            data[f"asked{names.index(c)}"] = (~off).astype(float)  # unknown gate: as asked
            defined[v] = ~off
    form_codes = None
    if form is not None and form in frame:
        levels = pd.Categorical(frame[form].astype(str))
        form_codes = levels.codes.astype(int)
        for j in range(1, len(levels.categories)):  # the first level: the reference
            data[f"form{j}"] = (form_codes == j).astype(float)
    means, refresh = {}, None
    if cluster is not None and cluster in frame:
        groups = pd.factorize(frame[cluster].astype(str))[0]
        refresh = _Means(groups, form_codes, defined)
        for v in code.values():
            x = data[v]
            # complex-level columns (the same for every resident) need no complex mean
            within = x.groupby(groups).nunique().max() > 1
            if within:
                name = f"mean{v[1:]}"
                observed = x.notna().to_numpy()
                w = defined.get(v, np.ones(len(x), bool)) & observed
                data[name] = _Means(groups, form_codes, {v: w})(x.fillna(0.0).to_numpy(), v)
                means[name] = v
    if data.isna().all(axis=1).any():  # MICEData drops a row without any value: keep it
        data["one"] = 1.0
    return data, {"code": code, "means": means}, refresh, kept


def impute(frame: pd.DataFrame, *, columns: list[str], auxiliary: list[str],
           m: int | None = None, seed: int = 0, burn_in: int = 10, k_pmm: int = 20,
           form: str | None = None, cluster: str | None = None,
           structural: Mapping[str, str] | None = None) -> Imputations:
    """``m`` imputations of ``columns`` by chained equations with predictive mean matching.

    Parameters
    ----------
    frame
        The analysis frame (not modified).
    columns, auxiliary
        The columns to impute and the other predictors (:func:`imputation_columns`).
    m
        Number of imputations; ``None``: :func:`imputation_count` of the fraction of rows
        with a missing value in ``columns``.
    seed, burn_in, k_pmm
        Each imputation is its own chain of ``burn_in`` cycles, seeded from ``seed``;
        ``k_pmm`` donors for predictive mean matching.
    form, cluster
        The focal level's column (indicator predictors) and the lowest grouping level's
        (complex means of every tenant-level column as predictors).
    structural
        ``{column: query of the rows it is asked of}`` (:func:`by_design`): elsewhere the
        column's cells are missing by design, never imputed.

    ``ValueError`` for a column with no observed value.
    """
    structural = dict(structural or {})
    empty = [c for c in columns if frame[c].notna().sum() == 0]
    if empty:
        raise ValueError(f"cannot impute column(s) {empty}: no observed value")
    incomplete = float(frame[list(columns)].isna().any(axis=1).mean()) if columns else 0.0
    rule = m is None
    m = imputation_count(incomplete) if rule else int(m)
    if m < 1:
        raise ValueError(f"need at least one imputation, got m={m}")
    names = list(dict.fromkeys([*columns, *auxiliary]))
    data, coding, refresh, kept = _design(frame, names, form=form, cluster=cluster,
                                          structural=structural)
    code = coding["code"]
    chain = _chain_class()
    frames, imputed_means = [], {c: [] for c in columns}
    for seq in np.random.SeedSequence(seed).spawn(m):
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")  # collinear outcomes (an item and its scale)
            mice = chain(data, means=coding["means"], refresh=refresh, k_pmm=k_pmm,
                         undefined={code[c]: off for c, (off, _) in kept.items() if c in code},
                         rng=np.random.default_rng(seq))
            mice.update_all(burn_in)
        if len(mice.data) != len(frame):
            raise RuntimeError("the chained equations dropped rows")  # a row with no value
        done = frame.copy()
        for c in columns:
            miss = frame[c].isna().to_numpy()
            if not miss.any() or c not in code:
                continue
            values = mice.data[code[c]].to_numpy()
            if c in kept:  # a covariate missing by design stays missing where not asked
                values = np.where(kept[c][0], np.nan, values)
            done[c] = pd.array(np.where(miss, values, pd.to_numeric(frame[c]).to_numpy(float)),
                               dtype=frame[c].dtype if pd.api.types.is_float_dtype(frame[c])
                               else "Int64")
            imputed_means[c].append(float(np.nanmean(values[miss])))
        frames.append(done)
    report = pd.DataFrame([{
        "column": c, "n_missing": int(frame[c].isna().sum()),
        "share_missing": float(frame[c].isna().mean()),
        "observed_mean": float(pd.to_numeric(frame[c]).mean()),
        "imputed_mean": float(np.mean(imputed_means[c])) if imputed_means[c] else np.nan,
        "lag1_autocorrelation": lag1_autocorrelation(imputed_means[c]),
        "method": f"chained equations, PMM (k={k_pmm}), statsmodels MICEData; "
                  f"{m} chains x {burn_in} cycles"}
        for c in columns])
    by = pd.DataFrame([{"column": c, "asked_when": structural[c],
                        "n_not_asked": int(off.sum()), "n_gate_unknown": int(unknown.sum())}
                       for c, (off, unknown) in kept.items()],
                      columns=["column", "asked_when", "n_not_asked", "n_gate_unknown"])
    settings = {
        "m": m, "m_rule": (f"min({M_CAP}, max({M_FLOOR}, ceil(100 x {incomplete:.3f})))"
                           if rule else "set by the caller"),
        "fraction_incomplete": incomplete, "chains": f"one per imputation ({m})",
        "burn_in": burn_in, "k_pmm": k_pmm, "seed": seed, "form": form, "cluster": cluster,
        "predictors": int(data.shape[1]), "complex_means": len(coding["means"]),
        "missing_by_design": "; ".join(f"{c}: asked when {q}" for c, q in structural.items()
                                       if c in kept) or "none"}
    return Imputations(frames=frames, report=report, columns=tuple(columns),
                       auxiliary=tuple(a for a in auxiliary if a not in columns),
                       settings=settings, structural=by)


def delta_adjusted(imputations: Imputations, frame: pd.DataFrame, column: str, delta: float,
                   *, seed: int = 0) -> Imputations:
    """The imputations with ``column``'s *imputed* cells moved by ``delta`` (the
    delta-adjustment of van Buuren 2018, sec. 3.8, for values missing not at random):
    observed cells are untouched.

    * a 0/1 column: each imputed cell redrawn from Bernoulli(expit(logit(p) + delta)), with
      ``p`` the cell's share of 1s over the ``m`` imputations (the imputation model's
      probability for it): the tenants with a missing value are ``delta`` log-odds more
      likely to have the trait than the imputation model says;
    * any other numeric column: ``delta`` times the observed values' SD added, rounded and
      kept inside the observed range where the column holds whole numbers (codes).

    The shift is applied to the completed data sets (not inside the chained equations), so
    the other covariates' imputations do not follow it.
    """
    from scipy.special import expit, logit

    if column not in imputations.columns:
        raise ValueError(f"column {column!r} was not imputed (imputed: "
                         f"{list(imputations.columns)})")
    observed = pd.to_numeric(frame[column]).dropna()
    miss = frame[column].isna().to_numpy()
    stack = np.stack([pd.to_numeric(f[column]).to_numpy(float) for f in imputations.frames])
    binary = set(observed.unique()) <= {0, 1}
    frames = []
    rng = np.random.default_rng(seed)
    for k, done in enumerate(imputations.frames):
        values = stack[k].copy()
        cells = miss & np.isfinite(values)
        if delta and cells.any():
            if binary:
                p = np.clip(np.nanmean(stack[:, cells], axis=0), 0.02, 0.98)
                values[cells] = rng.random(cells.sum()) < expit(logit(p) + delta)
            else:
                values[cells] = values[cells] + delta * float(observed.std())
                if (observed == np.round(observed)).all():
                    values[cells] = np.clip(np.round(values[cells]), observed.min(),
                                            observed.max())
        out = done.copy()
        out[column] = pd.array(values, dtype=done[column].dtype) if pd.api.types \
            .is_float_dtype(done[column]) else pd.array(
                np.where(np.isfinite(values), values, np.nan), dtype="Float64").round() \
            .astype("Int64")
        frames.append(out)
    return dataclasses.replace(imputations, frames=frames, settings={
        **imputations.settings, "delta": f"{column}: {delta:+g}"
        + (" log-odds" if binary else " SD")})
