"""Focal-level effects on the probability scale by g-computation (average counterfactuals).

For every posterior draw, every analysed row is placed in each focal level in turn and the
outcome distribution is averaged over rows: "if this population belonged to level f". Two
estimands for the random (lower) grouping levels -- named for the housing study, where the
lower level is the complex:

* ``new_complex`` (default): a *new* group of that level, integrating over the between-group
  variation ``u ~ N(0, sd^2)`` of every random level (Gauss-Hermite quadrature per draw);
* ``typical_complex``: the typical (median) group, ``u = 0`` -- under a non-identity link
  not the average group: the average of the outcome over groups is ``new_complex``.

The target population is every analysed row, or the rows of one focal level ("the effect
for RO's own residents": each form's counterfactual for the people who live in RO).

Intervals are computed draw-wise: the population average is formed per draw first, then
summarised (not the mean of per-unit bounds). The event, its probability given the latent
predictor and whether it is a probability at all are the response family's
(:attr:`ModelSpec.family_impl <models.spec.ModelSpec.family_impl>`). Pure functions;
nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from diagnostics.summary import draws_table
from models.build import slope_columns
from models.design import ModelData, aligned_frame
from models.draws import posterior_draws  # re-exported: the draws every estimand uses
from models.spec import ModelSpec

__all__ = ["ALL", "ESTIMANDS", "RESPONDENTS", "event_label", "event_probability", "focal_effects",
           "form_probabilities", "headline_rows", "pooled_probabilities", "population_design",
           "posterior_draws",
           "probability_effects",
           "random_sd", "subgroup_label", "subgroup_rows", "summarise_probabilities",
           "total_effects"]

ESTIMANDS = ("new_complex", "typical_complex")


def event_label(spec: ModelSpec, data: ModelData) -> tuple[str, int | None]:
    """The event read on the probability scale: ``P(y >= categories[spec.event])`` for
    ordinal outcomes (the top category when the spec names none), P(y = 1) for binary, the
    mean for Gaussian.

    Returns the label and the category index of the event (``None`` where not ordinal), as
    the spec's family defines them (``ValueError`` for a family without an event).
    """
    return spec.family_impl.event(spec, data, category=spec.event)


def event_probability(spec: ModelSpec, data: ModelData, draws, *, X: np.ndarray,
                      offset: np.ndarray, sd: np.ndarray,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Population-average event probability per draw, shape (S,).

    ``X`` (n, p) is the population's design, ``offset`` (S,) the group effect added to every
    row, ``sd`` (S,) the SD of the unknown group effects integrated over (0: none),
    ``weights`` (n,) the rows' weights in the average (default equal).
    """
    family = spec.family_impl
    _, event = event_label(spec, data)
    fixed = X @ draws("beta").T if X.shape[1] else 0.0  # intercept-only: no beta
    eta = fixed + np.broadcast_to(offset[None, :], (X.shape[0], len(offset)))  # (n, S)
    # intercept or thresholds, link, and the unknown group effects integrated (Gauss-Hermite)
    return family.event_probability(eta, draws, sd=sd, event=event, weights=weights)


def focal_effects(spec: ModelSpec, data: ModelData, draws) -> np.ndarray:
    """Per-draw effect of every focal level, shape (S, F) (reference 0 in the fixed variant)."""
    key = spec.level_key(spec.focal)
    if spec.focal_by_category:  # effects per threshold: the event's own threshold's
        return draws(f"{key}_effect")[:, :, event_label(spec, data)[1] - 1]
    if spec.variant == "hierarchical":
        return draws(f"{key}_effect")
    forms = list(data.level_labels[spec.focal])
    return np.insert(draws(f"{key}_contrast"), forms.index(spec.reference), 0.0, axis=1)


def focal_part(spec: ModelSpec, data: ModelData, draws, rows: np.ndarray):
    """The focal effects of ``rows`` for a row-level prediction: ``(eta (n, S), draws)``.

    Focal effects on the latent scale are returned in ``eta``; category-specific ones
    (``spec.focal_by_category``) move each row's thresholds instead, so ``eta`` is 0 and the
    returned accessor gives ``thresholds`` per row, ``(S, n, K-1)``.
    """
    if not spec.focal or spec.variant == "none":
        return 0.0, draws
    form = data.level_idx[spec.focal][rows]
    if not spec.focal_by_category:
        return focal_effects(spec, data, draws)[:, form].T, draws
    effect = draws(f"{spec.level_key(spec.focal)}_effect")  # (S, F, K-1)

    def shifted(name: str) -> np.ndarray:
        if name == "thresholds":
            return draws(name)[:, None, :] - effect[:, form, :]
        return draws(name)
    return 0.0, shifted


def random_sd(spec: ModelSpec, draws, X: np.ndarray | None = None,
              data: ModelData | None = None, *, focal_index: int | None = None) -> np.ndarray:
    """Per-draw SD of a new unit at every random level together.

    Shape (S,); with varying slopes the SD depends on the row's covariates,
    ``sqrt(c_i' Sigma c_i)`` with ``c_i = (1, x_i of the slopes)``, so the result is
    (n, S) for the rows of ``X`` (needs ``X`` and ``data``). Where the SD differs by the
    focal level (``spec.sd_by_focal``), ``focal_index`` says whose SD a new group has.
    """
    var = 0.0
    for lv in spec.random_levels:
        key = spec.level_key(lv)
        sd = draws(f"sd_{key}")
        if spec.sd_by_focal:
            if focal_index is None:
                raise ValueError(f"model {spec.name!r}: the SD of {lv!r} differs by "
                                 f"{spec.focal!r}; a new group's needs its focal level")
            sd = sd[:, focal_index]
        if sd.ndim == 1:
            var = var + sd**2
            continue
        if X is None or data is None:
            raise ValueError(f"model {spec.name!r}: varying slopes of {lv!r} need the rows' "
                             f"covariates to integrate over a new group")
        cols = slope_columns(spec, data, lv)
        k = sd.shape[1]
        corr = np.broadcast_to(np.eye(k), (sd.shape[0], k, k)).copy()
        upper, pairs = np.triu_indices(k, 1), draws(f"corr_{key}")
        corr[:, upper[0], upper[1]] = pairs
        corr[:, upper[1], upper[0]] = pairs
        cov = sd[:, :, None] * corr * sd[:, None, :]  # (S, k, k)
        c = np.column_stack([np.ones(len(X)), X[:, cols]])  # (n, k)
        var = var + np.einsum("nk,skl,nl->ns", c, cov, c)
    return np.sqrt(var)


ALL = "all analysed"  # the default target subgroup: every analysed row
RESPONDENTS = "respondents"  # the default population: the analysed rows, equal weights


def headline_rows(effects: pd.DataFrame) -> pd.DataFrame:
    """The rows for every analysed row, standardised to the respondents (the headline
    tables'; other subgroups and populations are reported beside them)."""
    keep = np.ones(len(effects), bool)
    if "subgroup" in effects:
        keep &= (effects["subgroup"] == ALL).to_numpy()
    if "population" in effects:
        keep &= (effects["population"] == RESPONDENTS).to_numpy()
    return effects[keep]


def _matches(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` with ``value`` as text: numbers compare as numbers (``4`` and
    ``4.0`` alike), anything else as text."""
    numeric = pd.to_numeric(column, errors="coerce")
    try:
        return (numeric == float(value)).to_numpy() if numeric.notna().any() else \
            (column.astype(str) == value).to_numpy()
    except ValueError:
        return (column.astype(str) == value).to_numpy()


def subgroup_rows(spec: ModelSpec, data: ModelData, subgroup: str = ALL,
                  frame: pd.DataFrame | None = None) -> np.ndarray:
    """Indices of the analysed rows of a target subgroup.

    ``"all analysed"``; a focal level's label (e.g. ``"RO"``): the rows that belong to it --
    "the effect for RO's own residents", every form's counterfactual computed for the
    people who actually live in RO; or ``"column=value"`` (``"age_group=4"``): a subgroup
    by any column of ``frame`` (the analysis frame the data were prepared from).
    """
    if subgroup == ALL:
        return np.arange(data.n)
    if "=" in subgroup:
        column, value = (part.strip() for part in subgroup.split("=", 1))
        if frame is None:
            raise ValueError(f"model {spec.name!r}: the subgroup {subgroup!r} needs the "
                             f"analysis frame")
        if column not in frame:
            raise ValueError(f"model {spec.name!r}: subgroup column {column!r} is not in the "
                             f"data")
        rows = np.flatnonzero(_matches(aligned_frame(frame, spec, data)[column], value))
    else:
        labels = list(data.level_labels[spec.focal]) if spec.focal else []
        if subgroup not in labels:
            raise ValueError(f"model {spec.name!r}: target population {subgroup!r} is "
                             f"neither {ALL!r}, a level of {spec.focal!r} ({labels}) nor "
                             f"'column=value'")
        rows = np.flatnonzero(data.level_idx[spec.focal] == labels.index(subgroup))
    if not len(rows):
        raise ValueError(f"model {spec.name!r}: no analysed rows in {subgroup!r}")
    return rows


def subgroup_label(spec: ModelSpec, subgroup: str) -> str:
    """How a target subgroup reads in tables: ``all analysed``, ``living_form=RO`` or
    ``age_group=4``."""
    if subgroup == ALL or "=" in subgroup:
        return subgroup
    return f"{spec.focal}={subgroup}"


def _draw_weights(row_weights, rows: np.ndarray, n_draws: int):
    """The rows' weights for the average: ``(n,)``, or, for per-draw weights ``(S', n)``
    (a Bayesian bootstrap), the first ``n_draws`` of them as ``(n, S)``."""
    if row_weights is None:
        return None
    w = np.asarray(row_weights, float)
    if w.ndim == 1:
        return w[rows]
    if w.shape[0] < n_draws:
        raise ValueError(f"{w.shape[0]} per-draw weights for {n_draws} draws")
    return w[:n_draws, rows].T


def population_design(row_weights, spec: ModelSpec, data: ModelData, rows: np.ndarray,
                      n_draws: int, k: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, weights)`` of the population a prediction is averaged over: the analysed
    ``rows`` with ``row_weights`` (``None``, one per analysed row or ``(draws, rows)``), or a
    population's :class:`data.population.Target` -- given, or made by a callable
    ``(spec, data, rows, k)`` for imputation ``k`` -- whose rows are moved to their cells'
    values (:func:`models.design.design_at`)."""
    from models.design import design_at

    if callable(row_weights):
        row_weights = row_weights(spec, data, rows, k)
    if row_weights is None or isinstance(row_weights, np.ndarray | list):
        return data.X[rows], _draw_weights(row_weights, rows, n_draws)
    t = row_weights
    X = design_at(data.X, data.term_names, spec.terms, t.frame, t.donors, t.values)
    return X, _draw_weights(t.weights, np.arange(len(t.donors)), n_draws)


def form_probabilities(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                       estimand: str = "new_complex", max_draws: int = 400,
                       seed: int = 0, subgroup: str = ALL,
                       frame: pd.DataFrame | None = None,
                       row_weights: np.ndarray | None = None) -> xr.DataArray:
    """Posterior draws of the population-average event probability per focal level.

    ``subgroup`` (:func:`subgroup_rows`) is the target subgroup the counterfactuals are
    averaged over; ``row_weights`` (one per analysed row, or ``(draws, rows)``: one set per
    posterior draw; default equal) standardise the respondents to a population
    or a population's :class:`data.population.Target` (:func:`population_design`).
    Returns an array with dims ``(sample, <focal level>)``.
    """
    if estimand not in ESTIMANDS:
        raise ValueError(f"unknown estimand {estimand!r}; choose one of {ESTIMANDS}")
    if not spec.focal or spec.variant == "none":
        raise ValueError(f"model {spec.name!r} has no focal-level effect")
    event_label(spec, data)  # ValueError for a family without an event (graded)
    draws = posterior_draws(tree, max_draws=max_draws, seed=seed)
    effect = focal_effects(spec, data, draws)
    rows = subgroup_rows(spec, data, subgroup, frame)
    X, w = population_design(row_weights, spec, data, rows, len(effect), seed)
    forms = list(data.level_labels[spec.focal])

    def sd(f):  # of a new group in focal level f (0: the typical group, u = 0)
        out = random_sd(spec, draws, X, data, focal_index=f)
        return np.zeros_like(out) if estimand == "typical_complex" else out
    out = np.column_stack([event_probability(spec, data, draws, X=X, offset=effect[:, f],
                                             sd=sd(f), weights=w) for f in range(len(forms))])
    return xr.DataArray(out, dims=("sample", spec.focal),
                        coords={spec.focal: forms}, name=event_label(spec, data)[0])


def probability_effects(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                        estimand: str = "new_complex", ci_prob: float = 0.9,
                        max_draws: int = 400,
                        pooled: Mapping[str, tuple[str, ...]] | None = None,
                        subgroup: str = ALL, frame: pd.DataFrame | None = None,
                        weights: Mapping[str, Mapping[str, float]] | None = None,
                        contrasts: Mapping[str, tuple[tuple, tuple]] | None = None,
                        row_weights: np.ndarray | None = None,
                        population: str = RESPONDENTS,
                        imputed: list | None = None) -> pd.DataFrame:
    """Per focal level and contrast, in percentage points for probabilities: mean, sd,
    interval and P(direction).

    Contrasts are each level vs the reference (``"RB - HZ"``); for each named group of
    ``pooled`` whose levels are all present, each other level vs the group's unweighted
    average (``"RB - non-clustered"``) and vs its average weighted by each of ``weights``
    (``"RB - non-clustered [tenant-weighted]"``); and the custom ``contrasts`` (see
    :func:`summarise_probabilities`). ``subgroup`` (:func:`subgroup_rows`) with ``frame``
    for a ``column=value`` subgroup. ``row_weights`` standardise to the ``population`` they
    stand for (default: the respondents, unweighted). ``imputed``: ``[(data, tree), ...]``
    of a multiply imputed fit -- each imputation's draws with its own completed covariates,
    pooled (``tree``/``data`` are then ignored).
    """
    probs = pooled_probabilities(
        lambda t, d, n, k: form_probabilities(t, spec, d, estimand=estimand, max_draws=n,
                                              seed=k, subgroup=subgroup, frame=frame,
                                              row_weights=row_weights),
        imputed or [(data, tree)], max_draws)
    label, _ = event_label(spec, data)
    # the event is defined on the spec's subset only: an effect *conditional* on it
    if spec.subset:
        label = f"{label[:-1]} | {spec.subset})"
    return summarise_probabilities(
        probs, model=spec.name, outcome=spec.outcome, reference=spec.reference,
        estimand=estimand, event=label, subgroup=subgroup_label(spec, subgroup),
        population=population,
        on_probability_scale=spec.family_impl.has_probability_scale,
        effect="conditional" if spec.subset else "unconditional", ci_prob=ci_prob,
        pooled=pooled,
        weights=weights, contrasts=contrasts)


def pooled_probabilities(compute, pairs: list, max_draws: int) -> xr.DataArray:
    """``compute(tree, data, n_draws, seed)`` for every ``(data, tree)`` of ``pairs`` (the
    imputations of a multiply imputed fit, or the one fit), concatenated along ``sample``:
    the pooled posterior of a derived quantity, each imputation contributing an equal
    share of the ``max_draws`` (at least 50 each)."""
    if len(pairs) == 1:
        data, tree = pairs[0]
        return compute(tree, data, max_draws, 0)
    per = max(50, -(-max_draws // len(pairs)))
    return xr.concat([compute(tree, data, per, k) for k, (data, tree) in enumerate(pairs)],
                     dim="sample")


def summarise_probabilities(probs: xr.DataArray, *, model: str, outcome: str, reference: str,
                            estimand: str, event: str, subgroup: str,
                            on_probability_scale: bool, effect: str, ci_prob: float = 0.9,
                            pooled: Mapping[str, tuple[str, ...]] | None = None,
                            weights: Mapping[str, Mapping[str, float]] | None = None,
                            contrasts: Mapping[str, tuple[tuple, tuple]] | None = None,
                            population: str = RESPONDENTS) -> pd.DataFrame:
    """The rows of :func:`probability_effects` from draws ``(sample, level)`` of the event
    probability per focal level (shared with the total effects of two-part models).

    ``effect``: ``unconditional``, or ``conditional`` where the event is defined on a subset
    that the focal level may itself change (friendly contact among those with contact).
    Whether an unconditional effect is also a *total* one depends on what its model holds
    fixed (:meth:`models.causal.CausalGraph.label`), added by the caller. Beside the
    difference of each contrast, ``rr_*`` summarise its risk ratio (level over the
    contrasted level or group, per draw; NaN off the probability scale) for the
    sensitivity analysis of :mod:`diagnostics.robustness`.
    ``weights``: named weightings of the levels (``tenant-weighted``: analysed rows per
    level) for the pooled groups' averages. ``contrasts``: ``{name: (plus, minus)}``, the
    unweighted mean of the ``plus`` levels minus that of the ``minus`` levels (a
    ``ValueError`` names a level that is not in the data).
    """
    focal = probs.dims[1]
    scale = 100.0 if on_probability_scale else 1.0
    unit = "percentage points" if on_probability_scale else "response units"
    forms = list(probs[focal].values)
    series = {f"{f}": probs.sel({focal: f}).values * scale for f in forms}
    ratios = {}  # name -> (numerator, denominator) draws of each contrast
    ref = probs.sel({focal: reference}).values * scale
    for f in forms:
        if f != reference:
            series[f"{f} - {reference}"] = series[f] - ref
            ratios[f"{f} - {reference}"] = (series[f], ref)
    for group, members in (pooled or {}).items():
        if not set(members) <= set(forms):
            continue
        avgs = {group: np.mean([series[f] for f in members], axis=0)}
        for how, w in (weights or {}).items():  # e.g. by the forms' numbers of tenants
            wm = np.array([float(w.get(f, 0.0)) for f in members])
            if wm.sum() > 0:
                avgs[f"{group} [{how}]"] = np.average([series[f] for f in members], axis=0,
                                                      weights=wm)
        for name, avg in avgs.items():
            for f in forms:
                if f not in members:
                    series[f"{f} - {name}"] = series[f] - avg
                    ratios[f"{f} - {name}"] = (series[f], avg)
    for name, (plus, minus) in (contrasts or {}).items():
        unknown = sorted((set(plus) | set(minus)) - set(forms))
        if unknown:
            raise ValueError(f"contrast {name!r}: level(s) {unknown} not in the data "
                             f"({forms})")
        top = np.mean([series[f] for f in plus], axis=0)
        bottom = np.mean([series[f] for f in minus], axis=0)
        series[name] = top - bottom
        ratios[name] = (top, bottom)
    stats = draws_table(series, ci_prob=ci_prob)
    rows = []
    for name, v in series.items():
        is_contrast = " - " in name or name in (contrasts or {})
        p = float((v > 0).mean()) if is_contrast else np.nan
        rows.append({"model": model, "outcome": outcome, "contrast": name,
                     "scale": "probability" if on_probability_scale else "response",
                     "estimand": estimand, "effect": effect, "event": event,
                     "subgroup": subgroup, "population": population,
                     "unit": unit if is_contrast else ("percent" if scale == 100 else unit),
                     **stats.loc[name].to_dict(), "p_positive": p,
                     # Monte Carlo error of the summaries: the draws are a random subset
                     # of the chains, treated as independent (iid approximation)
                     "n_draws": len(v), "mcse_mean": float(np.std(v, ddof=1) / np.sqrt(len(v))),
                     "p_mcse": float(np.sqrt(p * (1 - p) / len(v))) if is_contrast else np.nan,
                     **_ratio_summary(ratios.get(name), on_probability_scale, ci_prob)})
    return pd.DataFrame(rows)


def _ratio_summary(pair, on_probability_scale: bool, ci_prob: float) -> dict:
    """Median and equal-tailed interval of a contrast's risk ratio, per draw."""
    if pair is None or not on_probability_scale:
        return {"rr_median": np.nan, "rr_lower": np.nan, "rr_upper": np.nan}
    top, bottom = pair
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = top / bottom
    rr = rr[np.isfinite(rr)]
    if not len(rr):
        return {"rr_median": np.nan, "rr_lower": np.nan, "rr_upper": np.nan}
    tail = (1 - ci_prob) / 2
    low, med, high = np.quantile(rr, [tail, 0.5, 1 - tail])
    return {"rr_median": float(med), "rr_lower": float(low), "rr_upper": float(high)}


def total_effects(tree: xr.DataTree, joint, d1: ModelData, d2: ModelData, frame: pd.DataFrame,
                  *, estimand: str = "new_complex", ci_prob: float = 0.9,
                  max_draws: int = 400,
                  pooled: Mapping[str, tuple[str, ...]] | None = None,
                  subgroup: str = ALL,
                  weights: Mapping[str, Mapping[str, float]] | None = None,
                  contrasts: Mapping[str, tuple[tuple, tuple]] | None = None,
                  row_weights: np.ndarray | None = None,
                  population: str = RESPONDENTS,
                  imputed: list | None = None) -> pd.DataFrame:
    """The *unconditional* effect of a two-part outcome (:class:`models.joint.TwoPart`) per focal
    level and contrast, as :func:`probability_effects` reports a single model's.

    The population is the gate's analysed rows (those of one focal level for a named
    ``population``); the event is "gate open and the part's event"
    (``P(contact >= 2 and friendly_contact = 1)``).
    """
    from models.joint import total_event_label, total_probabilities

    rows = subgroup_rows(joint.gate, d1, subgroup, frame)
    n_pop = []

    def compute(t, data, n_draws, k):  # data: (d1, d2) or, imputed, (d1, d2, its frame)
        probs, n = total_probabilities(t, joint, data[0], data[1], data[2] if len(data) > 2
                                       else frame, estimand=estimand,
                                       max_draws=n_draws, seed=k, rows=rows,
                                       row_weights=row_weights)
        n_pop.append(n)
        return probs
    probs = pooled_probabilities(compute, imputed or [((d1, d2), tree)], max_draws)
    n = n_pop[0]
    label = subgroup_label(joint.gate, subgroup)
    if n < len(rows):  # rows without the part's covariates are not in the population
        label = f"{label} (with the part's covariates: {n} of {len(rows)})"
    return summarise_probabilities(
        probs, model=joint.name, outcome=joint.outcome, reference=joint.gate.reference,
        estimand=estimand, event=total_event_label(joint, d2), subgroup=label,
        population=population,
        on_probability_scale=True, effect="unconditional", ci_prob=ci_prob, pooled=pooled,
        weights=weights, contrasts=contrasts)
