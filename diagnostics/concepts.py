"""Predictions for new housing concepts from the "features" model variant (pure functions).

For the analysed tenant population, the event probability (e.g. P(daily contact)) if they
lived in a complex with a concept's building features. A concept is a *new* complex of a
*new* living form: both group effects are unknown and integrated over their posterior SDs,
so the prediction keeps the between-complex and between-form variation the features do not
explain. The 7 existing forms are predicted beside them for a new complex of that form with
the form's typical features (the average over its complexes in the data) and its own
estimated form effect.
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

__all__ = ["form_feature_profiles", "predict_concepts"]


def _feature_terms(spec: ModelSpec):
    return [t for t in spec.terms if t.name in COMPLEX_LEVEL]


def _design_with(data: ModelData, spec: ModelSpec, features: pd.DataFrame) -> np.ndarray:
    """The population's design with its complex-level columns set to ``features`` (1 row)."""
    X = data.X.copy()
    cm = cb.covariate_matrix(features, _feature_terms(spec))
    names = list(data.term_names)
    for col in cm.columns:
        X[:, names.index(col)] = cm[col].to_numpy()[0]
    return X


def form_feature_profiles(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Each living form's typical complex: mean of each feature over its complexes."""
    cols = [t.name for t in _feature_terms(spec)]
    complexes = frame.drop_duplicates("complex_id")[["living_form", *cols]]
    return complexes.groupby("living_form")[cols].mean()


def predict_concepts(tree: xr.DataTree, spec: ModelSpec, data: ModelData, *,
                     concepts: pd.DataFrame, profiles: pd.DataFrame, ci_prob: float = 0.9,
                     max_draws: int = 400) -> pd.DataFrame:
    """Predicted event probability (percent) per concept and per existing form.

    Columns: ``model, outcome, event, kind (concept|living form), name, mean, sd, q05, q95``.
    """
    if spec.focal is None or spec.variant != "hierarchical":
        raise ValueError(f"model {spec.name!r}: concept predictions need the hierarchical "
                         f"features variant (form effects as variance)")
    if not _feature_terms(spec):
        raise ValueError(f"model {spec.name!r} has no building-feature terms")
    draws = posterior_draws(tree, max_draws=max_draws)
    sd_complex = random_sd(spec, draws)
    sd_form = draws(f"sd_{spec.focal}")
    effects = focal_effects(spec, data, draws)
    scale = 100.0 if spec.family_impl.has_probability_scale else 1.0
    label, _ = event_label(spec, data)
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    rows = []

    def add(kind, name, values):
        v = values * scale
        rows.append({"model": spec.name, "outcome": spec.outcome, "event": label,
                     "kind": kind, "name": name, "mean": float(v.mean()), "sd": float(v.std()),
                     "q05": float(np.quantile(v, lo)), "q95": float(np.quantile(v, hi))})

    forms = list(data.level_labels[spec.focal])
    for f, form in enumerate(forms):
        if form not in profiles.index:
            continue
        X = _design_with(data, spec, profiles.loc[[form]].reset_index(drop=True))
        add("living form", form, event_probability(spec, data, draws, X=X,
                                                   offset=effects[:, f], sd=sd_complex))
    new_sd = np.sqrt(sd_complex**2 + sd_form**2)
    for _, concept in concepts.iterrows():
        X = _design_with(data, spec, concept.to_frame().T.reset_index(drop=True))
        add("concept", concept["name"], event_probability(
            spec, data, draws, X=X, offset=np.zeros_like(new_sd), sd=new_sd))
    return pd.DataFrame(rows)
