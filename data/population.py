"""A population to generalise to: a register of invited tenants, or a table of cell counts.

The respondents are not the population a housing association asks about. ``--population
FILE`` names either

* a **register**: one row per invited tenant with the cell variables (e.g. ``living_form``
  or ``complex_id``, ``age_group``, ``female``, ``lives_alone``) and ``responded`` (0/1); or
* a **table of cell counts**: one row per cell with the cell variables and ``count``.

From it the probability-scale effects are averaged over the population instead of the
respondents:

* ``poststratified`` -- multilevel regression and post-stratification (MRP,
  :func:`mrp_target`): every population cell (e.g. living form x age group x sex x
  household, optionally with a complex-level column such as ``rural`` joined from the
  complex table) is predicted by the model *at that cell's values*, then weighted by its
  count. A cell's own respondents lend it the covariates the cells do not fix
  (extraversion, outside contact, ...); a cell *without* respondents is still predicted at
  its own values, borrowing only those other covariates from the nearest cell that has
  respondents (all cell variables but the last, then all but the last two, ...; the focal
  variable is kept longest). No count moves onto another cell's prediction; the population
  share predicted with borrowed covariates is reported (``borrowed_share``). The model must
  contain every cell variable (:func:`check_model_cells`): post-stratifying on a variable
  the model ignores only reweights the other covariates. A subset model (an outcome asked
  only when a gate is open) weights each cell by its count times the cell's gate share,
  predicted by the gate's model.
* ``propensity`` (register only, :func:`propensity_target`): a main-effects logistic
  regression of ``responded`` on the cell variables (scikit-learn), ``w_i = 1 / p_i``,
  refitted on bootstrap resamples of the register so that the response model's
  uncertainty reaches the intervals.

Both report Kish's effective sample size ``(sum w)^2 / sum w^2``. The assumption is the
same: given the cell variables, respondents are like the non-respondents (missing at
random given the cells); ``diagnostics.tipping`` measures how far a departure from it
moves each conclusion. A cell's respondents are a *sample* of its tenants: their other
covariates differ from the tenants' by sampling noise, which fixed weights would ignore, so
the weights are redrawn per posterior draw (a Bayesian bootstrap within cells). Errors name
the file, column, row and value, as the data's do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.validation import DataValidationError, Problem, to_number
from diagnostics.effects import RESPONDENTS  # the population of the unweighted average

__all__ = ["RESPONDENTS", "STANDARDISATIONS", "Population", "Target", "check_model_cells",
           "load_population", "mrp_target", "population_comparison", "population_target",
           "propensity_target", "response_table"]

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
                    column_map: dict[str, str] | None = None,
                    complexes: pd.DataFrame | None = None) -> Population:
    """Read and validate a register or cell-count table against the analysed ``frame``.

    ``cells``: the cell variables (default: every column of the file that is also a column
    of ``frame``, ids and ``responded``/``count`` aside). A register with ``complex_id``
    takes each tenant's complex-level values it lacks (``focal``, and any complex-level
    column named in ``cells``, e.g. ``rural``) from the study's complex table
    ``complexes`` -- every complex of the population, those without respondents included
    -- else from ``frame`` (complexes with respondents only). Raises
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
    if kind == "register" and "complex_id" in raw:
        table = complexes if complexes is not None and "complex_id" in complexes else frame
        where = "the complex table" if table is complexes else "the analysed data"
        table = table.drop_duplicates("complex_id")
        table = table.set_index(table["complex_id"].astype(str).str.strip())
        ids = raw["complex_id"].astype(str).str.strip()
        joined = [c for c in dict.fromkeys([focal, *(cells or ())])
                  if c not in raw and c in table and c in frame and c != "complex_id"]
        for c in joined:
            raw[c] = ids.map(table[c])
        unknown = ~ids.isin(table.index)
        for i in np.flatnonzero(unknown.to_numpy() & bool(joined)):
            problems.append(problem("complex_id", i, ids.iloc[i],
                                    f"complex not in {where}, so its "
                                    f"{', '.join(joined)} is unknown: add the complex to the "
                                    f"complex table or a '{joined[0]}' column to the register"))
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


@dataclass(frozen=True)
class Target:
    """Where a population's predictions are made and how they are averaged.

    Row ``j`` of the target is analysed row ``donors[j]`` *moved to* the cell values
    ``values.iloc[j]`` (the same values for a cell with respondents; an empty cell's own
    values for the rows that lend it their other covariates); ``weights`` ``(m,)`` or
    ``(draws, m)`` (one set per posterior draw) weight the average. ``cell`` is each row's
    population cell (index into ``Population.counts``). ``frame``: the analysed rows the
    donors index (all their columns), from which a design at the cell values is made
    (:func:`models.design.design_at`).
    """

    donors: np.ndarray
    values: pd.DataFrame
    weights: np.ndarray
    cell: np.ndarray
    info: dict = field(default_factory=dict)
    frame: pd.DataFrame | None = field(default=None, repr=False)

    def within(self, rows: np.ndarray, frame: pd.DataFrame) -> Target:
        """This target built on ``frame.iloc[rows]``, re-indexed to the rows of ``frame``."""
        return dataclasses.replace(self, donors=np.asarray(rows)[self.donors], frame=frame)



def _prefix_index(rows: pd.DataFrame, cells: Sequence[str]) -> list[dict]:
    """For k = 0..len(cells): the analysed rows per value of the first k cell variables."""
    out = []
    for k in range(len(cells) + 1):
        keys = _keys(rows.reset_index(drop=True), list(cells[:k]))
        out.append(pd.Series(np.arange(len(rows))).groupby(keys.to_numpy()).apply(
            np.asarray).to_dict() if len(rows) else {})
    return out


def _dirichlet_shares(n_draws: int, sizes: np.ndarray, seed: int) -> np.ndarray:
    """``(draws, sum(sizes))``: per group of ``sizes`` consecutive rows, Dirichlet(1, ...,
    1) shares summing to 1 per draw (a Bayesian bootstrap within each group)."""
    g = np.random.default_rng(seed).exponential(size=(n_draws, int(sizes.sum())))
    group = np.repeat(np.arange(len(sizes)), sizes)
    sums = np.zeros((n_draws, len(sizes)))
    np.add.at(sums.T, group, g.T)
    return g / sums[:, group]


def mrp_target(population: Population, rows: pd.DataFrame, *, draws: int = 0,
               seed: int = 0, cell_share: np.ndarray | None = None) -> Target:
    """Multilevel regression and post-stratification: every population cell predicted at
    its own values, weighted by its count.

    A cell with respondents among ``rows`` (the analysed rows with their cell variables)
    is predicted for those respondents: their other covariates (extraversion, outside
    contact, ...) stand for the cell's tenants'. A cell *without* respondents is predicted
    at its own cell values too -- no count moves onto other cells' predictions; only the
    covariates the cells do not fix are borrowed, from the nearest cell that has
    respondents (the rows matching it on all cell variables but the last, then all but
    the last two, ...; the focal variable is kept longest), and ``info['borrowed_share']``
    says for how much of the population. With ``draws``, the weights are drawn anew per
    posterior draw: within each cell, its count is shared in Dirichlet(1, ..., 1)
    proportions (a Bayesian bootstrap, Rubin 1981): the respondents are a sample of the
    cell's tenants. ``cell_share`` (one per population cell, or ``(draws, cells)``)
    multiplies each cell's count, e.g. the share of the cell a subset model's population
    covers (the gate open).
    """
    cells = list(population.cells)
    index = _prefix_index(rows, cells)
    counts = population.counts
    donors, cell_of, sizes, borrowed, values = [], [], [], 0.0, []
    for c, (_, cell) in enumerate(counts.iterrows()):
        for k in range(len(cells), -1, -1):
            hit = index[k].get(tuple(cell[v] for v in cells[:k]))
            if hit is not None and len(hit):
                break
        else:
            continue
        borrowed += cell["count"] * (k < len(cells))
        donors.append(hit)
        cell_of.append(np.full(len(hit), c))
        sizes.append(len(hit))
        values.append(np.repeat(cell[cells].to_numpy(dtype=object)[None, :], len(hit), axis=0))
    if not donors:
        raise ValueError(f"population {population.name}: no analysed row in any of its cells")
    donors, cell_of = np.concatenate(donors), np.concatenate(cell_of)
    sizes = np.asarray(sizes)
    n_c = counts["count"].to_numpy(float)
    share = np.ones(len(counts)) if cell_share is None else np.asarray(cell_share, float)
    if draws:
        if share.ndim == 2:  # per-draw shares, recycled where fewer than the draws
            share = share[np.arange(draws) % len(share)]
        w = _dirichlet_shares(draws, sizes, seed) * share[..., cell_of] * n_c[cell_of]
    else:
        w = (n_c * (share if share.ndim == 1 else share.mean(axis=0)))[cell_of] / \
            np.repeat(sizes, sizes)
    mean_w = w if w.ndim == 1 else w.mean(axis=0)
    own = _own_rows(rows, cells, counts, donors, cell_of)
    info = {"standardisation": "poststratified", "cells": len(counts),
            "cells_without_respondents": len(counts) - len(np.unique(cell_of[own])),
            "borrowed_share": borrowed / population.size, "target_rows": len(donors),
            "n_rows": len(rows), "population_size": population.size,
            "ess": float(mean_w.sum() ** 2 / (mean_w**2).sum())}
    return Target(donors=donors, values=pd.DataFrame(np.vstack(values), columns=cells),
                  weights=w, cell=cell_of, info=info, frame=rows)


def _own_rows(rows, cells, counts, donors, cell_of) -> np.ndarray:
    """Which target rows are their cell's own respondents (not borrowed)."""
    own = np.ones(len(donors), bool)
    for v in cells:
        own &= (rows[v].to_numpy()[donors] == counts[v].to_numpy()[cell_of])
    return own


def _codes(frame: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """Cell values as text, numbers written one way (``1``, ``1.0`` and ``"1"`` alike)."""
    out = {}
    for c in cells:
        num = pd.to_numeric(frame[c], errors="coerce")
        out[c] = num.astype(float).map(repr) if num.notna().all() else frame[c].astype(str)
    return pd.DataFrame(out)


PROPENSITY_BOOTSTRAP = 100  # refits of the response model on resampled registers
_RESPONSE_FITS: dict = {}  # (register, seed, refit) -> the fitted response model


def propensity_target(population: Population, rows: pd.DataFrame, *, draws: int = 0,
                      seed: int = 0, refits: int = PROPENSITY_BOOTSTRAP) -> Target:
    """Inverse response-propensity weights ``1 / p_i`` of the analysed ``rows``, from a
    main-effects logistic regression of ``responded`` on the cell variables over the
    register (scikit-learn, unpenalised).

    With ``draws``, the response model's uncertainty is carried: it is refitted on
    ``refits`` bootstrap resamples of the register (Efron's nonparametric bootstrap), and
    posterior draw ``s`` is averaged with the weights of refit ``s mod refits``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    if population.register is None:
        raise ValueError(f"population {population.name}: response-propensity weights need a "
                         f"register (one row per invited tenant, 'responded'), not cell counts")
    cells = list(population.cells)
    reg = population.register
    enc = OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False)
    X = enc.fit_transform(_codes(reg, cells))
    Xr = enc.transform(_codes(rows, cells))
    y = reg["responded"].to_numpy()

    def fit(idx):
        return LogisticRegression(C=1e8, max_iter=5000).fit(X[idx], y[idx])  # unpenalised

    def fitted(k):  # k = 0: the register itself; k > 0: bootstrap refit k (fitted once)
        key = (id(reg), seed, k)
        if key not in _RESPONSE_FITS:
            idx = np.arange(len(reg)) if k == 0 else np.random.default_rng(
                [seed, k]).integers(0, len(reg), len(reg))
            _RESPONSE_FITS[key] = fit(idx)
        return _RESPONSE_FITS[key].predict_proba(Xr)[:, 1]
    p = fitted(0)
    info = {"standardisation": "propensity",
            "propensity_model": f"logit(responded) ~ {' + '.join(cells)} (main effects, "
                                f"scikit-learn)", "min_p": float(p.min()),
            "n_rows": len(rows), "population_size": population.size}
    w = 1.0 / p
    if draws:
        boot = np.stack([1.0 / fitted(k) for k in range(1, min(refits, draws) + 1)])
        info["propensity_refits"] = len(boot)
        w = boot[np.arange(draws) % len(boot)]
    mean_w = w if w.ndim == 1 else w.mean(axis=0)
    info["ess"] = float(mean_w.sum() ** 2 / (mean_w**2).sum())
    return Target(donors=np.arange(len(rows)), values=rows[cells].reset_index(drop=True),
                  weights=w, cell=np.zeros(len(rows), int), info=info, frame=rows)


def population_target(population: Population, rows: pd.DataFrame,
                      how: str = "poststratified", *, draws: int = 0, seed: int = 0,
                      cell_share: np.ndarray | None = None) -> Target:
    """The :class:`Target` of a standardisation: :func:`mrp_target` (``poststratified``)
    or :func:`propensity_target` (``propensity``, a register only)."""
    if how not in STANDARDISATIONS:
        raise ValueError(f"standardisation must be one of {STANDARDISATIONS}, got {how!r}")
    if how == "propensity":
        return propensity_target(population, rows, draws=draws, seed=seed)
    return mrp_target(population, rows, draws=draws, seed=seed, cell_share=cell_share)


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
