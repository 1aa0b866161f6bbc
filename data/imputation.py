"""Multiple imputation of missing covariates by chained equations (statsmodels' MICE).

Complete-case analysis drops every row with a missing covariate model by model, so each
outcome's effects are standardised to a different, self-selected set of tenants (the old
and frail, who skip more questions, drop out most). Here the missing covariates are
imputed ``m`` times instead, and every model is fitted on every imputed data set
(:mod:`inference.imputation`), the draws pooled as brms' ``brm_multiple`` pools them.

The chained equations are statsmodels' :class:`~statsmodels.imputation.mice.MICEData`:
each incomplete column in turn is regressed (OLS) on all the others with their current
imputations, and a missing cell takes the observed value of one of the ``k_pmm`` rows
whose prediction is nearest (predictive mean matching), with the regression's parameters
drawn from their approximate posterior first. Predictive mean matching only ever imputes
values that occur in the data, so binary and ordinal codes stay valid codes (a linear
imputer would invent 0.4 of a woman); the measurement behind the choice is
``bench/bench_imputation.py``. The outcomes enter the imputation models as predictors
(their own missing cells are imputed along the way for that purpose only; the models
still analyse the observed outcomes), as imputation without them would bias the
covariates' effects towards zero. Group columns (complex ids) are not used.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Imputations", "impute", "imputation_columns"]


@dataclass(frozen=True)
class Imputations:
    """``m`` completed copies of a frame and what was imputed.

    Attributes
    ----------
    frames
        The completed frames (same rows and order as the input; imputed covariate columns
        filled, outcome columns as observed).
    report
        One row per imputed covariate: ``column, n_missing, share_missing,
        observed_mean, imputed_mean`` (the imputed cells' mean over all imputations).
    columns
        The imputed covariates.
    auxiliary
        The other columns of the imputation models (outcomes and complete covariates).
    settings
        ``m``, burn-in and spacing cycles, ``k_pmm`` and the seed.
    """

    frames: list[pd.DataFrame]
    report: pd.DataFrame
    columns: tuple[str, ...]
    auxiliary: tuple[str, ...]
    settings: dict = field(default_factory=dict)

    @property
    def m(self) -> int:
        return len(self.frames)


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


def impute(frame: pd.DataFrame, *, columns: list[str], auxiliary: list[str], m: int = 10,
           seed: int = 0, burn_in: int = 5, spacing: int = 2, k_pmm: int = 20) -> Imputations:
    """``m`` imputations of ``columns`` by chained equations with predictive mean matching.

    One chain of the equations is run: ``burn_in`` cycles, then an imputation every
    ``spacing`` cycles. ``ValueError`` for a column with no observed value.
    """
    from statsmodels.imputation.mice import MICEData

    if m < 1:
        raise ValueError(f"need at least one imputation, got m={m}")
    empty = [c for c in columns if frame[c].notna().sum() == 0]
    if empty:
        raise ValueError(f"cannot impute column(s) {empty}: no observed value")
    names = list(dict.fromkeys([*columns, *auxiliary]))
    data = pd.DataFrame({f"v{i}": pd.to_numeric(frame[c], errors="coerce").astype(float)
                         .to_numpy() for i, c in enumerate(names)})
    code = dict(zip(names, data.columns, strict=True))
    # an auxiliary column that is entirely missing in a row subset is still a predictor;
    # columns without any variance say nothing and break the regressions
    data = data.loc[:, data.std(skipna=True).fillna(0) > 0]
    with warnings.catch_warnings():  # collinear outcomes (e.g. an item and its scale)
        warnings.simplefilter("ignore")
        mice = MICEData(data, k_pmm=k_pmm, rng=np.random.default_rng(seed))
        mice.update_all(burn_in)
    frames, imputed_means = [], {c: [] for c in columns}
    for k in range(m):
        if k:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mice.update_all(spacing)
        done = frame.copy()
        for c in columns:
            miss = frame[c].isna().to_numpy()
            values = mice.data[code[c]].to_numpy()
            done[c] = pd.array(np.where(miss, values, pd.to_numeric(frame[c]).to_numpy(float)),
                               dtype=frame[c].dtype if pd.api.types.is_float_dtype(frame[c])
                               else "Int64") if miss.any() else frame[c]
            if miss.any():
                imputed_means[c].append(float(values[miss].mean()))
        frames.append(done)
    report = pd.DataFrame([{
        "column": c, "n_missing": int(frame[c].isna().sum()),
        "share_missing": float(frame[c].isna().mean()),
        "observed_mean": float(pd.to_numeric(frame[c]).mean()),
        "imputed_mean": float(np.mean(imputed_means[c])) if imputed_means[c] else np.nan,
        "method": f"chained equations, PMM (k={k_pmm}), statsmodels MICEData"}
        for c in columns])
    return Imputations(frames=frames, report=report, columns=tuple(columns),
                       auxiliary=tuple(a for a in auxiliary if a not in columns),
                       settings={"m": m, "burn_in": burn_in, "spacing": spacing,
                                 "k_pmm": k_pmm, "seed": seed})
