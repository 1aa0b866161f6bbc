"""New housing concepts: validation against the codebook, and predictions that make sense."""

import numpy as np
import pandas as pd
import pytest

from data.concepts import ConceptError, concepts_frame, load_concepts
from data.suite import feature_specs
from diagnostics.concepts import form_feature_profiles, predict_concepts
from inference.engine import Engine, SamplerSettings
from models.design import prepare

GOOD = {"name": "small low-rise", "floors": 2, "units": 20, "meeting_room": 1,
        "kitchen_dining": 1, "care_facilities": 0, "involvement_activities": 1,
        "involvement_spaces": 1, "vitality": 3, "rural": 0}


def test_shipped_concepts_file_is_valid():
    frame = load_concepts("concepts.toml")
    assert len(frame) >= 2
    assert {"high_rise", "log_units", "rural"} <= set(frame.columns)


def test_derived_features_of_a_concept():
    row = concepts_frame([GOOD | {"floors": 6, "units": 40}]).iloc[0]
    assert row["high_rise"] == 1
    assert row["log_units"] == pytest.approx(np.log(40))
    assert row["rural"] == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"balcony": 1}, "unknown feature.*balcony"),
    ({"vitality": 4}, "vitality = 4 not in allowed values"),
    ({"floors": 0}, "floors = 0 outside"),
    ({"units": 20.5}, "units = 20.5 must be a whole number"),
    ({"meeting_room": "yes"}, "meeting_room = 'yes' is not a number"),
    ({"rural": 2}, "rural = 2 must be 0 or 1"),
])
def test_invalid_concepts_are_named(change, message):
    with pytest.raises(ConceptError, match=message) as err:
        concepts_frame([GOOD | change], source="my.toml")
    assert "my.toml" in str(err.value) and "small low-rise" in str(err.value)


def test_missing_feature_and_duplicate_name():
    entry = {k: v for k, v in GOOD.items() if k != "units"}
    with pytest.raises(ConceptError, match="missing feature.*units"):
        concepts_frame([entry])
    with pytest.raises(ConceptError, match="duplicate name"):
        concepts_frame([GOOD, GOOD])


def test_bad_toml_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[[concept]]\nname = 'x'\nfloors = \n")
    with pytest.raises(ConceptError, match="not valid TOML"):
        load_concepts(path)


@pytest.fixture(scope="module")
def features_fit(small_frame):
    spec = feature_specs()["gossip_features"]
    data = prepare(small_frame, spec)
    tree = Engine().fit(spec, data, SamplerSettings(draws=150, tune=200, chains=2, seed=4,
                                                   predictive=False))
    return spec, data, tree


def test_concept_identical_to_a_form_predicts_close_to_it(features_fit, small_frame):
    spec, data, tree = features_fit
    profiles = form_feature_profiles(small_frame, spec)
    # a concept with exactly RB's typical features (and HZ's, for a second check)
    concepts = pd.concat([profiles.loc[[f]].assign(name=f"like {f}") for f in ("RB", "HZ")],
                         ignore_index=True)
    table = predict_concepts(tree, spec, data, concepts=concepts, profiles=profiles)
    by = table.set_index("name")
    for form in ("RB", "HZ"):
        concept, existing = by.loc[f"like {form}"], by.loc[form]
        # only the form's own (small) residual effect and its uncertainty separate them
        width = concept["q95"] - concept["q05"]
        assert abs(concept["mean"] - existing["mean"]) < 0.35 * width, (form, concept,
                                                                          existing)
    assert set(table["kind"]) == {"concept", "living form"}
    assert (table["q05"] <= table["mean"]).all() and (table["mean"] <= table["q95"]).all()


def test_concepts_need_feature_terms(features_fit):
    spec, data, tree = features_fit
    bare = spec.with_(terms=tuple(t for t in spec.terms if t.name == "female"))
    with pytest.raises(ValueError, match="building-feature"):
        predict_concepts(tree, bare, data, concepts=concepts_frame([GOOD]),
                         profiles=pd.DataFrame())
