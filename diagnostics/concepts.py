"""Predictions for new housing concepts from the "features" model variant (pure functions).

For a fixed random subsample of the analysed tenants (the *population*, named in every
row), the event probability (e.g. P(daily contact)) if they lived in a complex with a
concept's building features. A concept is a *new* complex of a *new* living form: both group
effects are unknown and integrated over their posterior SDs, so the prediction keeps the
between-complex and between-form variation the features do not explain. The 7 existing
forms are predicted beside them for a new complex of that form: the prediction averaged
over the form's own complexes (each with its features and the form's estimated effect), not
the prediction at an "average complex" -- averaging the features first put categorical
features (vitality 1-3, averaged to e.g. 2.55) at their reference level and ignored the
non-linearity of the link.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data import codebook as cb
from data.suite import COMPLEX_LEVEL
from diagnostics.effects import (
    event_label,
    event_probability,
    focal_effects,
    posterior_draws,
    random_sd,
)
from models.design import ModelData
from models.spec import ModelSpec

__all__ = ["feature_identification", "form_complexes", "predict_concepts"]

POPULATION_SEED = 0  # the fixed subsample of analysed tenants every row is standardised to
_CHUNK = 8  # complexes evaluated together (memory: chunk x tenants x draws x 15 nodes)


def _feature_terms(spec: ModelSpec):
    return [t for t in spec.terms if t.name in COMPLEX_LEVEL]


def _design_with(X: np.ndarray, data: ModelData, spec: ModelSpec,
                 features: pd.DataFrame) -> np.ndarray:
    """``X`` (the population's design) with its complex-level columns set to each row of
    ``features`` in turn, stacked: shape ``(len(features) * len(X), p)``."""
    cm = cb.covariate_matrix(features.reset_index(drop=True), _feature_terms(spec))
    names = list(data.term_names)
    blocks = []
    for j in range(len(features)):
        block = X.copy()
        for col in cm.columns:
            block[:, names.index(col)] = cm[col].to_numpy()[j]
        blocks.append(block)
    return np.vstack(blocks)


def form_complexes(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per complex (the spec's lowest level): its living form (the focal level) and
    building features (as in the data)."""
    cols = [t.name for t in _feature_terms(spec)]
    group = spec.levels[0]
    return frame.drop_duplicates(group)[[group, spec.focal, *cols]].reset_index(drop=True)


def predict_concepts(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                     concepts: pd.DataFrame, complexes: pd.DataFrame, ci_prob: float = 0.9,
                     max_draws: int = 400, max_tenants: int = 500) -> pd.DataFrame:
    """Predicted event probability (percent) per concept and per existing form.

    ``complexes`` (:func:`form_complexes`): each existing form is predicted as the average of
    its complexes' predictions. Every row is standardised to the same population: all
    analysed tenants, or a fixed random ``max_tenants`` of them (the cost of the forms grows
    with complexes x tenants). Columns: ``model, outcome, event, kind (concept|living
    form), name, population, complexes, mean, sd, q05, q95``.
    """
    if spec.focal is None or spec.variant != "hierarchical":
        raise ValueError(f"model {spec.name!r}: concept predictions need the hierarchical "
                         f"features variant (form effects as variance)")
    if not _feature_terms(spec):
        raise ValueError(f"model {spec.name!r} has no building-feature terms")
    draws = posterior_draws(tree, max_draws=max_draws)
    rows_pop = np.arange(data.n)
    if data.n > max_tenants:
        rng = np.random.default_rng(POPULATION_SEED)
        rows_pop = np.sort(rng.choice(data.n, size=max_tenants, replace=False))
    X_pop = data.X[rows_pop]
    population = (f"all {data.n} analysed tenants" if len(rows_pop) == data.n else
                  f"{len(rows_pop)} of {data.n} analysed tenants (random, seed "
                  f"{POPULATION_SEED})")
    sd_complex = random_sd(spec, draws)
    sd_form = draws(f"sd_{spec.focal}")
    effects = focal_effects(spec, data, draws)
    scale = 100.0 if spec.family_impl.has_probability_scale else 1.0
    label, _ = event_label(spec, data)
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    rows = []

    def add(kind, name, values, n_complexes):
        v = values * scale
        rows.append({"model": spec.name, "outcome": spec.outcome, "event": label,
                     "kind": kind, "name": name, "population": population,
                     "complexes": n_complexes, "mean": float(v.mean()), "sd": float(v.std()),
                     "q05": float(np.quantile(v, lo)), "q95": float(np.quantile(v, hi))})

    forms = list(data.level_labels[spec.focal])
    for f, form in enumerate(forms):
        own = complexes[complexes[spec.focal] == form]
        if own.empty:
            continue
        total = 0.0
        for start in range(0, len(own), _CHUNK):  # mean over (complex, tenant) pairs
            chunk = own.iloc[start:start + _CHUNK]
            X = _design_with(X_pop, data, spec, chunk)
            total = total + len(chunk) * event_probability(
                spec, data, draws, X=X, offset=effects[:, f], sd=sd_complex)
        add("living form", form, total / len(own), len(own))
    new_sd = np.sqrt(sd_complex**2 + sd_form**2)
    for _, concept in concepts.iterrows():
        X = _design_with(X_pop, data, spec, concept.to_frame().T)
        add("concept", concept["name"], event_probability(
            spec, data, draws, X=X, offset=np.zeros_like(new_sd), sd=new_sd), np.nan)
    return pd.DataFrame(rows)


def feature_identification(tree: xr.DataTree, spec: ModelSpec, data: ModelData,
                           complexes: pd.DataFrame) -> pd.DataFrame:
    """How strongly the data identify each building feature's coefficient.

    Per feature column: its posterior sd beside its prior sd (``beta_sd``) -- a ratio near 1
    means the prior, not the data, sets what a concept with that feature predicts -- and the
    share of the feature's variance across complexes that lies *between* living forms
    (R^2 of the feature on the form indicators; 1: the feature is fixed within forms, e.g.
    a meeting room in every clustered complex, so its effect and the forms' effects trade
    off). Columns: ``model, outcome, feature, role, mean, posterior_sd, prior_sd, sd_ratio,
    between_form_share, identified``.
    """
    beta = tree["posterior"]["beta"].stack(sample=("chain", "draw"))
    prior_sd = float(spec.prior["beta_sd"])
    cm = cb.covariate_matrix(complexes, _feature_terms(spec))
    forms = pd.get_dummies(complexes[spec.focal]).to_numpy(dtype=float)
    rows = []
    for col in cm.columns:
        x = cm[col].to_numpy(dtype=float)
        fitted = forms @ np.linalg.lstsq(forms, x, rcond=None)[0]
        var = x.var()
        share = float(1 - ((x - fitted) ** 2).mean() / var) if var > 0 else 1.0
        draws = beta.sel(term=col).values
        ratio = float(draws.std() / prior_sd)
        base = col.split("[")[0]
        rows.append({"model": spec.name, "outcome": spec.outcome, "feature": col,
                     "role": cb.FEATURE_ROLES.get(base, ("", ""))[0],
                     "mean": float(draws.mean()), "posterior_sd": float(draws.std()),
                     "prior_sd": prior_sd, "sd_ratio": ratio, "between_form_share": share,
                     "identified": "by the data" if ratio < 0.3 else
                     "partly" if ratio < 0.7 else "mostly by the prior"})
    return pd.DataFrame(rows)
