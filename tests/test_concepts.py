"""New housing concepts: validation against the codebook, and predictions that make sense."""

import numpy as np
import pandas as pd
import pytest

from data.concepts import ConceptError, concepts_frame, load_concepts
from data.suite import COMPLEX_LEVEL, feature_specs
from diagnostics.concepts import feature_identification, form_complexes, predict_concepts
from tests.conftest import quick_fit

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
    # every feature (vitality included: the profile bug was about a categorical feature)
    return quick_fit(feature_specs(features="all")["gossip_features"], small_frame, draws=150,
                     tune=200, seed=4)


def test_a_form_is_the_average_of_its_own_complexes_predictions(features_fit, small_frame):
    """The old code predicted a form at its *average* complex: vitality (1-3) averaged to
    e.g. 2.55 matched no level, so every vitality dummy was 0 (the reference level)."""
    from diagnostics.effects import event_probability, focal_effects, posterior_draws, random_sd

    spec, data, tree = features_fit
    complexes = form_complexes(small_frame, spec)
    concepts = concepts_frame([GOOD])
    table = predict_concepts(tree, spec, data, concepts=concepts, complexes=complexes)
    by = table.set_index("name")
    draws = posterior_draws(tree, max_draws=400)
    forms = list(data.level_labels[spec.focal])
    for form in ("RB", "HZ"):
        own = complexes[complexes["living_form"] == form]
        names = list(data.term_names)
        per_complex = []
        for _, c in own.iterrows():  # one complex at a time, by hand
            X = data.X.copy()
            X[:, names.index("high_rise")] = c["high_rise"]
            X[:, names.index("log_units")] = c["log_units"] - np.log(40.0)
            for flag in ("meeting_room", "kitchen_dining", "care_facilities",
                         "involvement_activities", "involvement_spaces", "rural"):
                X[:, names.index(flag)] = c[flag]
            for level in (2, 3):
                X[:, names.index(f"vitality[{level}]")] = float(c["vitality"] == level)
            per_complex.append(event_probability(
                spec, data, draws, X=X, offset=focal_effects(spec, data, draws)[:, forms.index(
                    form)], sd=random_sd(spec, draws)))
        expected = 100 * np.mean(per_complex, axis=0)
        assert by.loc[form, "mean"] == pytest.approx(expected.mean(), rel=1e-9)
        assert by.loc[form, "complexes"] == len(own)
    assert set(table["kind"]) == {"concept", "living form"}
    assert table["population"].nunique() == 1  # every row standardised to one population
    assert (table["q05"] <= table["mean"]).all() and (table["mean"] <= table["q95"]).all()


def test_the_population_is_a_fixed_subsample_when_large(features_fit, small_frame):
    spec, data, tree = features_fit
    complexes = form_complexes(small_frame, spec)
    kwargs = dict(concepts=concepts_frame([GOOD]), complexes=complexes, max_draws=50)
    a = predict_concepts(tree, spec, data, max_tenants=100, **kwargs)
    b = predict_concepts(tree, spec, data, max_tenants=100, **kwargs)
    pd.testing.assert_frame_equal(a, b)
    assert a["population"].iloc[0] == f"100 of {data.n} analysed tenants (random, seed 0)"


def test_concepts_need_feature_terms(features_fit):
    spec, data, tree = features_fit
    bare = spec.with_(terms=tuple(t for t in spec.terms if t.name == "female"))
    with pytest.raises(ValueError, match="building-feature"):
        predict_concepts(tree, bare, data, concepts=concepts_frame([GOOD]),
                         complexes=pd.DataFrame())


def test_design_features_are_the_default_concept_inputs():
    design = {t.name for t in feature_specs()["contact_features"].terms}
    every = {t.name for t in feature_specs(features="all")["contact_features"].terms}
    community = {"involvement_activities", "involvement_spaces", "vitality"}
    assert not design & community and community <= every
    assert {"meeting_room", "high_rise", "log_units", "rural"} <= design
    with pytest.raises(ValueError, match="unknown feature set"):
        feature_specs(features="some")
    bare = {k: v for k, v in GOOD.items() if k not in community}
    assert "vitality" not in concepts_frame([bare])  # design model: ratings not needed
    with pytest.raises(ConceptError, match="missing feature.*vitality"):
        concepts_frame([bare], features="all")


def test_feature_identification(features_fit, small_frame):
    spec, data, tree = features_fit
    complexes = form_complexes(small_frame, spec)
    table = feature_identification(tree, spec, data, complexes).set_index("feature")
    assert set(table.index) == {n for n in data.term_names
                                if n.split("[")[0] in COMPLEX_LEVEL}
    assert "vitality[3]" in table.index and "female" not in table.index
    beta = tree["posterior"]["beta"].sel(term="meeting_room").values
    assert table.loc["meeting_room", "sd_ratio"] == pytest.approx(beta.std() / 1.5)
    assert table.loc["vitality[3]", "role"] == "community_rating"
    # a feature fixed within forms is wholly between forms; a constant-per-form column
    fixed = complexes.assign(meeting_room=complexes["living_form"].isin(
        ["RO", "RR", "RG", "RB"]).astype(int))
    assert feature_identification(tree, spec, data, fixed).set_index("feature").loc[
        "meeting_room", "between_form_share"] == pytest.approx(1.0)
    assert (table["between_form_share"].between(0, 1 + 1e-9)).all()
