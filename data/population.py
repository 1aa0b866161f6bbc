"""A population to generalise to: a register of invited tenants, or a table of cell counts.

The respondents are not the population a housing association asks about. ``--population
FILE`` names either

* a **register**: one row per invited tenant with the cell variables (e.g. ``living_form``
  or ``complex_id``, ``age_group``, ``female``, ``lives_alone``) and ``responded`` (0/1); or
* a **table of cell counts**: one row per cell with the cell variables and ``count``.

From it, every analysed row gets a weight (:func:`row_weights`) with which the
probability-scale effects are averaged instead of the plain respondent mean:

* ``poststratified`` (MRP): each population cell's count ``N_c`` is shared equally by the
  analysed rows of that cell (``w_i = N_c / n_c``): the model's counterfactual predictions
  of a cell's respondents stand for the cell's tenants. A cell without respondents is
  *collapsed*: its count goes to the respondents who match it on all but the last cell
  variable, then all but the last two, ... (the focal variable is kept longest), and the
  share of the population so moved is reported. The model must contain every cell
  variable (:func:`check_model_cells`): post-stratifying on a variable the model ignores
  only reweights the other covariates.
* ``propensity`` (register only): a main-effects logistic regression of ``responded`` on
  the cell variables (scikit-learn), ``w_i = 1 / p_i``.

Both report Kish's effective sample size ``(sum w)^2 / sum w^2``. The assumption is the
same: given the cell variables, respondents are like the non-respondents (missing at
random given the cells). A cell's respondents are then a *sample* of its tenants: their
other covariates differ from the tenants' by sampling noise, which fixed weights would
ignore. :func:`bootstrap_weights` redraws the weights per posterior draw (a Bayesian
bootstrap within cells), so the population-level intervals carry it. Errors name the file,
column, row and value, as the data's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.validation import DataValidationError, Problem, to_number
from diagnostics.effects import RESPONDENTS  # the population of the unweighted average

__all__ = ["RESPONDENTS", "STANDARDISATIONS", "Population", "check_model_cells",
           "load_population", "population_comparison", "response_table", "row_weights"]

STANDARDISATIONS = ("poststratified", "propensity")
_NOT_CELLS = frozenset({"tenant_id", "complex_id", "responded", "phoned", "count"})


@dataclass(frozen=True)
class Population:
    """A validated population file.

    Attributes
    ----------
    name
        The file's name: how ``effects.csv``'s ``population`` column names it.
    kind
        ``register`` (one row per invited tenant) or ``cells`` (counts per cell).
    cells
        The cell variables, the focal one first.
    counts
        One row per non-empty cell: the cell variables, ``count`` and, for a register,
        ``responded`` (how many of the cell answered).
    register
        The register's rows (cell variables and ``responded``), for a register.
    """

    name: str
    kind: str
    cells: tuple[str, ...]
    counts: pd.DataFrame
    register: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(self.counts["count"].sum())

    def label(self, how: str) -> str:
        """The ``population`` column's text for a standardisation."""
        return self.name if how == "poststratified" else f"{self.name} [propensity]"


def _fail(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise DataValidationError(problems)


def _canonical(values: pd.Series, observed: pd.Series) -> pd.Series:
    """``values`` in the representation of the analysed column ``observed``: numbers as
    numbers where the data's column is numeric, text otherwise."""
    if pd.api.types.is_numeric_dtype(observed):
        return to_number(values.astype(object))
    return values.astype(object).map(lambda v: v if v is None or pd.isna(v) else str(v).strip())


def load_population(path: str | Path, frame: pd.DataFrame, *, focal: str = "living_form",
                    cells: Sequence[str] | None = None,
                    column_map: dict[str, str] | None = None) -> Population:
    """Read and validate a register or cell-count table against the analysed ``frame``.

    ``cells``: the cell variables (default: every column of the file that is also a column
    of ``frame``, ids and ``responded``/``count`` aside). A register without ``focal`` takes
    each tenant's from its ``complex_id`` in ``frame``. Raises
    :class:`~data.validation.DataValidationError` listing every problem (file, column,
    row, value): a column the data lack, a missing or unseen value, ``responded`` not 0/1,
    a negative or fractional ``count``, a cell listed twice.
    """
    from data.loader import read_table

    path = Path(path)
    raw = read_table(path, column_map=column_map).reset_index(drop=True)
    file = path.name
    if "responded" in raw:
        kind, id_col = "register", "tenant_id" if "tenant_id" in raw else None
    elif "count" in raw:
        kind, id_col = "cells", None
    else:
        raise DataValidationError([Problem(file, "", None, None,
                                           "neither a register (a 'responded' column, one row "
                                           "per invited tenant) nor a table of cell counts "
                                           "(a 'count' column)")])

    def problem(column, i, value, message):
        row = raw[id_col].iloc[i] if id_col and i is not None else None
        return Problem(file, column, row, value, message, id_column=id_col,
                       row_number=None if i is None else i + 1)

    problems: list[Problem] = []
    if kind == "register" and focal not in raw and "complex_id" in raw and focal in frame:
        form_of = frame.drop_duplicates("complex_id").set_index(
            frame.drop_duplicates("complex_id")["complex_id"].astype(str))[focal]
        ids = raw["complex_id"].astype(str).str.strip()
        raw[focal] = ids.map(form_of)
        for i in np.flatnonzero(raw[focal].isna()):
            problems.append(problem("complex_id", i, ids.iloc[i],
                                    f"complex not in the analysed data, so its {focal} is "
                                    f"unknown: add a '{focal}' column to the register"))
    if cells is None:
        cells = [c for c in raw.columns if c in frame and c not in _NOT_CELLS]
    cells = list(dict.fromkeys(([focal] if focal in cells or focal in raw else []) +
                               [c for c in cells if c != focal]))
    if not cells:
        problems.append(Problem(file, "", None, None, f"no cell variables: none of its "
                                f"columns {list(raw.columns)} is a column of the data"))
    for c in cells:
        if c not in raw:
            problems.append(Problem(file, c, None, None, "declared cell variable is not a "
                                    "column of the file"))
        elif c not in frame:
            problems.append(Problem(file, c, None, None, "not a column of the analysed "
                                    "data: the model cannot be post-stratified on it"))
    _fail(problems)
    for c in cells:
        raw[c] = _canonical(raw[c], frame[c])
        seen = set(frame[c].dropna().tolist())
        for i in np.flatnonzero(raw[c].isna().to_numpy()):
            problems.append(problem(c, i, None, "missing value in a cell variable"))
        unseen = ~raw[c].isna() & ~raw[c].isin(seen)
        for i in np.flatnonzero(unseen.to_numpy()):
            problems.append(problem(c, i, raw[c].iloc[i],
                                    f"value never observed in the analysed data (observed: "
                                    f"{sorted(seen, key=str)}): the model cannot predict "
                                    f"for it"))
    weight_col = "responded" if kind == "register" else "count"
    values = to_number(raw[weight_col].astype(object))
    bad = values.isna() | (values < 0) | (values != np.floor(values))
    if kind == "register":
        bad |= ~values.isin([0, 1])
    for i in np.flatnonzero(bad.to_numpy()):
        problems.append(problem(weight_col, i, raw[weight_col].iloc[i],
                                "must be 0 or 1" if kind == "register"
                                else "must be a non-negative whole number"))
    if kind == "cells":
        dup = raw.duplicated(cells, keep="first")
        for i in np.flatnonzero(dup.to_numpy()):
            problems.append(problem("", i, None, f"cell {raw.loc[i, cells].tolist()} listed "
                                    "twice"))
    _fail(problems)
    raw[weight_col] = values.astype(int)
    if kind == "register":
        counts = raw.groupby(cells, observed=True).agg(
            count=("responded", "size"), responded=("responded", "sum")).reset_index()
        register = raw[[*cells, "responded"]]
    else:
        counts = raw[[*cells, "count"]].loc[raw["count"] > 0].reset_index(drop=True)
        register = None
    if not len(counts):
        raise DataValidationError([Problem(file, "", None, None, "the population is empty")])
    return Population(name=file, kind=kind, cells=tuple(cells), counts=counts,
                      register=register)


def check_model_cells(population: Population, model: str, columns: set[str]) -> None:
    """``ValueError`` unless the model reads every cell variable (``columns``: its data
    columns, the focal one included)."""
    lacking = [c for c in population.cells if c not in columns]
    if lacking:
        raise ValueError(
            f"population {population.name}: model {model!r} lacks the cell variable(s) "
            f"{lacking}; post-stratifying on a variable the model does not condition on "
            f"assumes the outcome does not depend on it. Add it to the model, or leave it "
            f"out of the cells (--cells {','.join(c for c in population.cells if c in columns)})")


def _keys(frame: pd.DataFrame, cells: Sequence[str]) -> pd.Series:
    return pd.Series(list(zip(*(frame[c].tolist() for c in cells), strict=True)),
                     index=frame.index, dtype=object) if cells else \
        pd.Series([()] * len(frame), index=frame.index, dtype=object)


def _poststratified(population: Population, rows: pd.DataFrame) -> tuple[np.ndarray, dict]:
    cells = list(population.cells)
    w = np.zeros(len(rows))
    moved = 0
    for _, cell in population.counts.iterrows():
        for k in range(len(cells), -1, -1):  # collapse: drop the last cell variables first
            use = cells[:k]
            match = np.ones(len(rows), bool)
            for c in use:
                match &= (rows[c] == cell[c]).to_numpy()
            if match.any():
                w[match] += cell["count"] / match.sum()
                moved += cell["count"] * (k < len(cells))
                break
    return w, {"cells": len(population.counts), "collapsed_share": moved / population.size}


def _codes(frame: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Cell values as text, numbers written one way (``1``, ``1.0`` and ``"1"`` alike)."""
    out = {}
    for c in cells:
        num = pd.to_numeric(frame[c], errors="coerce")
        out[c] = num.astype(float).map(repr) if num.notna().all() else frame[c].astype(str)
    return pd.DataFrame(out)


def _propensity(population: Population, rows: pd.DataFrame) -> tuple[np.ndarray, dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    if population.register is None:
        raise ValueError(f"population {population.name}: response-propensity weights need a "
                         f"register (one row per invited tenant, 'responded'), not cell counts")
    cells = list(population.cells)
    enc = OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False)
    X = enc.fit_transform(_codes(population.register, cells))
    fit = LogisticRegression(C=1e8, max_iter=5000).fit(  # C=1e8: unpenalised
        X, population.register["responded"].to_numpy())
    p = fit.predict_proba(enc.transform(_codes(rows, cells)))[:, 1]
    return 1.0 / p, {"propensity_model": f"logit(responded) ~ {' + '.join(cells)} (main effects, "
                              f"scikit-learn)", "min_p": float(p.min())}


def bootstrap_weights(population: Population, rows: pd.DataFrame, weights: np.ndarray, *,
                      draws: int, seed: int = 0) -> np.ndarray:
    """``(draws, n)`` Bayesian-bootstrap versions of ``weights``: within each population
    cell, the cell's total weight is shared by its rows in Dirichlet(1, ..., 1) proportions,
    a new draw for each posterior draw.

    The respondents of a cell are a sample of its tenants, so their covariates beyond the
    cells (extraversion, outside contact, ...) differ from the tenants' by sampling noise.
    Averaging over them with fixed weights treats the sample as the population; the
    Bayesian bootstrap (Rubin 1981) carries that uncertainty into the population-level
    estimand, while every cell keeps its population count.
    """
    key = pd.factorize(_keys(rows.reset_index(drop=True), list(population.cells)))[0]
    g = np.random.default_rng(seed).exponential(size=(draws, len(rows)))
    sums = np.zeros((draws, key.max() + 1))
    np.add.at(sums.T, key, g.T)
    size = np.bincount(key)
    return weights[None, :] * g * size[key][None, :] / sums[:, key]


def row_weights(population: Population, rows: pd.DataFrame, how: str = "poststratified"
                ) -> tuple[np.ndarray, dict]:
    """Weights of the analysed ``rows`` (frame rows with the cell variables) that
    standardise them to the population, and what was done (``ess``: Kish's effective
    sample size; ``collapsed_share``: population share of cells without respondents)."""
    if how not in STANDARDISATIONS:
        raise ValueError(f"standardisation must be one of {STANDARDISATIONS}, got {how!r}")
    w, info = (_poststratified if how == "poststratified" else _propensity)(population, rows)
    if not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"population {population.name}: no analysed row in any of its cells")
    info |= {"standardisation": how, "ess": float(w.sum() ** 2 / (w**2).sum()),
             "n_rows": len(rows), "population_size": population.size}
    return w, info


def response_table(population: Population, frame: pd.DataFrame) -> pd.DataFrame:
    """Who answered: per value of each cell variable, the population's count and share,
    the respondents' (the data's tenants) count and share, and (a register) the response
    rate."""
    rows = []
    for c in population.cells:
        pop = population.counts.groupby(c)["count"].sum()
        got = frame[c].value_counts()
        answered = population.counts.groupby(c)["responded"].sum() \
            if "responded" in population.counts else None
        for value, n in pop.items():
            k = int(sum(v for key, v in got.items() if key == value))
            shown = int(value) if isinstance(value, float) and value.is_integer() else value
            rows.append({"variable": c, "value": shown, "population": int(n),
                         "population_share": n / pop.sum(), "respondents": k,
                         "respondents_share": k / max(len(frame), 1),
                         "response_rate": (answered[value] / n) if answered is not None
                         else np.nan})
    return pd.DataFrame(rows)


def population_comparison(effects: pd.DataFrame) -> pd.DataFrame:
    """Headline rows (every analysed row, a new complex, on the probability scale) per
    population side by side: ``model, contrast`` and for each population ``mean``/``q05``/
    ``q95``, plus ``shift`` = each population's mean minus the respondents'."""
    if "population" not in effects or effects["population"].nunique() < 2:
        return pd.DataFrame()
    rows = effects[(effects["scale"] != "latent") & (effects["estimand"] == "new_complex")
                   & (effects["subgroup"] == "all analysed")]
    wide = rows.pivot_table(index=["model", "contrast"], columns="population",
                            values=["mean", "q05", "q95"], aggfunc="first", sort=False)
    out = pd.DataFrame(index=wide.index)
    for pop in dict.fromkeys(rows["population"]):
        out[pop] = [f"{m:.1f} [{lo:.1f}, {hi:.1f}]" for m, lo, hi in zip(
            wide[("mean", pop)], wide[("q05", pop)], wide[("q95", pop)], strict=True)]
        if pop != RESPONDENTS:
            out[f"shift: {pop}"] = (wide[("mean", pop)] - wide[("mean", RESPONDENTS)]).round(2)
    return out.reset_index()
