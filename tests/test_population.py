"""Population files (register, cell counts), their validation, and the weights that
standardise the respondents to them; the simulator's survey process."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from data.population import (
    check_model_cells,
    load_population,
    mrp_target,
    propensity_target,
)
from data.simulate import Design, simulate_survey
from data.validation import DataValidationError

SURVEY = Design(n_tenants=600, n_complexes=80, invited=3000)


@pytest.fixture(scope="module")
def survey():
    from data.loader import StudyData

    complexes, tenants, truth, register = simulate_survey(SURVEY, seed=3)
    frame = StudyData(complexes=complexes, tenants=tenants).merged()
    return frame, register, truth


def _text(values: pd.Series) -> pd.Series:
    """Values as text, numbers written one way (1, 1.0 and "1" alike)."""
    num = pd.to_numeric(values, errors="coerce")
    return num.map(lambda v: f"{v:g}") if num.notna().all() else values.astype(str)


def _write(tmp_path, frame: pd.DataFrame, name: str = "population.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_survey_process(survey):
    """The register holds every invited tenant, the respondents are its responders, and
    response follows the assumed model: lower when living alone, phoning lifts 85+."""
    frame, register, truth = survey
    assert len(register) == SURVEY.invited
    assert set(frame["tenant_id"]) == set(register.loc[register["responded"] == 1, "tenant_id"])
    assert abs(len(frame) - SURVEY.n_tenants) < 4 * np.sqrt(SURVEY.n_tenants)
    by_household = register.groupby("lives_alone")["responded"].mean()
    assert by_household[1] < by_household[0]
    assert register.loc[register["phoned"] == 1, "age_group"].eq(4).all()
    assert truth["survey"]["invited"] == SURVEY.invited
    # response at random: no selection by household beyond noise
    _, _, _, flat = simulate_survey(dataclasses.replace(SURVEY, response_selection=0.0), seed=3)
    rates = flat.groupby("lives_alone")["responded"].mean()
    assert abs(rates[1] - rates[0]) < 0.05


def test_default_world_has_no_register():
    assert simulate_survey(Design(n_tenants=300, n_complexes=40), seed=1)[3] is None
    with pytest.raises(ValueError, match="must exceed"):
        Design(n_tenants=300, invited=200)


def test_covariate_missingness_depends_on_age_and_care():
    design = dataclasses.replace(SURVEY, covariate_missing=0.15)
    _, tenants, _, _ = simulate_survey(design, seed=4)
    missing = tenants["extraversion"].isna()
    assert 0.05 < missing.mean() < 0.35
    assert missing[tenants["age_group"] == 4].mean() > missing[tenants["age_group"] < 4].mean()
    assert tenants["age_group"].notna().all() and tenants["personal_care"].notna().all()


def test_poststratified_target_reproduces_the_population_cells(survey, tmp_path):
    frame, register, _ = survey
    pop = load_population(_write(tmp_path, register), frame)
    assert pop.kind == "register" and pop.cells[0] == "living_form"
    assert set(pop.cells) == {"living_form", "age_group", "female", "lives_alone"}
    t = mrp_target(pop, frame)
    w = t.weights
    assert w.sum() == pytest.approx(len(register))
    assert 0 < t.info["ess"] < len(register)
    # every population cell is predicted at its own values: the target's rows carry the
    # population's distribution of every cell variable exactly, empty cells included
    for cell in pop.cells:
        weighted = pd.Series(w).groupby(_text(t.values[cell]).to_numpy()).sum() / w.sum()
        target = _text(register[cell]).value_counts(normalize=True)
        np.testing.assert_allclose(weighted.reindex(target.index).to_numpy(),
                                   target.to_numpy(), rtol=0, atol=1e-12)
    # propensity weights: in the population's direction, from a main-effects model, with
    # the response model's uncertainty as bootstrap refits (one set per posterior draw)
    tp = propensity_target(pop, frame, draws=60, seed=2)
    alone = frame["lives_alone"].to_numpy() == 1
    wp = tp.weights.mean(axis=0)
    assert tp.weights.shape == (60, len(frame)) and tp.info["propensity_refits"] == 60
    assert wp[alone].sum() / wp.sum() > alone.mean()
    assert 0 < tp.info["ess"] < len(frame)
    assert (tp.weights.std(axis=0) > 0).all()  # the refits differ


def test_a_cell_without_respondents_is_predicted_at_its_own_values(survey, tmp_path):
    """No count moves onto another cell: the empty cell (GG, 85+) is predicted as aged 85+
    in GG, with other covariates borrowed from GG's respondents of other ages."""
    frame, register, _ = survey
    counts = register.groupby(["living_form", "age_group"]).size().rename("count").reset_index()
    kept = frame[~((frame["living_form"] == "GG") & (frame["age_group"] == 4))] \
        .reset_index(drop=True)
    pop = load_population(_write(tmp_path, counts, "cells.csv"), frame)
    assert pop.kind == "cells" and pop.size == len(register)
    t = mrp_target(pop, kept, draws=40, seed=1)
    gg85 = counts.query("living_form == 'GG' and age_group == 4")["count"].sum()
    assert t.info["borrowed_share"] == pytest.approx(gg85 / len(register))
    assert t.info["cells_without_respondents"] == 1
    np.testing.assert_allclose(t.weights.sum(axis=1), len(register))  # per draw, nobody lost
    empty = (t.values["living_form"] == "GG").to_numpy() & \
        (t.values["age_group"].astype(float) == 4).to_numpy()
    donors = kept.iloc[t.donors[empty]]
    assert empty.any() and (donors["living_form"] == "GG").all()
    assert (donors["age_group"] != 4).all()  # borrowed from other ages ...
    np.testing.assert_allclose(t.weights[:, empty].sum(axis=1), gg85)  # ... with its count
    # each cell keeps its count in every draw (a Bayesian bootstrap within cells)
    for c in np.unique(t.cell)[:6]:
        np.testing.assert_allclose(t.weights[:, t.cell == c].sum(axis=1),
                                   pop.counts["count"].iloc[c])
    assert t.weights.std(axis=0).mean() > 0


def test_mrp_prediction_matches_a_brute_force_average(survey, tmp_path):
    """The model's prediction at an empty cell is used: the population average computed
    through the target's design equals the average computed by hand over every population
    tenant's cell values (a fixed coefficient vector as the 'posterior')."""
    from data.suite import default_specs
    from diagnostics.effects import population_design
    from models.design import aligned_frame, prepare
    from models.terms import covariate_matrix

    frame, register, _ = survey
    counts = register.groupby(["living_form", "age_group", "female"]).size() \
        .rename("count").reset_index()
    kept = frame[~((frame["living_form"] == "GG") & (frame["age_group"] == 4))] \
        .reset_index(drop=True)
    pop = load_population(_write(tmp_path, counts, "cells.csv"), frame)
    spec = default_specs()["lonely"]
    data = prepare(kept, spec)
    rows = aligned_frame(kept, spec, data).reset_index(drop=True)
    t = mrp_target(pop, rows)
    X, w = population_design(t, spec, data, np.arange(data.n), 1)
    beta = np.random.default_rng(0).normal(scale=0.5, size=X.shape[1])
    got = np.average(1 / (1 + np.exp(-(X @ beta))), weights=w)
    # by hand: each cell's tenants are its respondents (or, empty, GG's other ages) set to
    # the cell's age group and sex, each cell weighted by its count
    total = 0.0
    for _, cell in counts.iterrows():
        own = rows[(rows["living_form"] == cell["living_form"])
                   & (rows["age_group"] == cell["age_group"]) & (rows["female"] == cell["female"])]
        if own.empty:
            own = rows[(rows["living_form"] == cell["living_form"])
                       & (rows["age_group"] == cell["age_group"])]
        if own.empty:
            own = rows[rows["living_form"] == cell["living_form"]]
        moved = own.assign(age_group=cell["age_group"], female=cell["female"])
        Xc = covariate_matrix(moved, spec.terms)[list(data.term_names)].to_numpy(float)
        total += cell["count"] * np.mean(1 / (1 + np.exp(-(Xc @ beta))))
    assert got == pytest.approx(total / counts["count"].sum(), rel=1e-10)
    # the respondents' own average differs: the population is not the respondents
    assert abs(got - np.mean(1 / (1 + np.exp(-(data.X @ beta))))) > 1e-4


def test_register_complexes_come_from_the_complex_table(tmp_path):
    """A register row whose complex had no respondents is part of the population: its form
    and complex-level cell values come from the study's complex table."""
    design = Design(n_tenants=150, n_complexes=60, invited=1200)
    complexes, tenants, _, register = simulate_survey(design, seed=5)
    from data.loader import StudyData

    frame = StudyData(complexes=complexes, tenants=tenants).merged()
    silent = set(register["complex_id"]) - set(tenants["complex_id"])
    assert silent and silent <= set(complexes["complex_id"])  # the table lists them
    reg = register.drop(columns="living_form")
    with pytest.raises(DataValidationError, match="complex not in the analysed data"):
        load_population(_write(tmp_path, reg), frame)
    table = StudyData(complexes=complexes, tenants=tenants).complex_table()
    pop = load_population(_write(tmp_path, reg), frame, complexes=table,
                          cells=["living_form", "age_group", "rural"])
    assert pop.size == len(register) and "rural" in pop.cells
    by_form = register.groupby("living_form").size()
    np.testing.assert_array_equal(pop.counts.groupby("living_form")["count"].sum()
                                  .reindex(by_form.index).to_numpy(), by_form.to_numpy())


def test_population_validation_names_every_problem(survey, tmp_path):
    frame, register, _ = survey
    bad = register.copy().astype(object)
    bad.loc[3, "age_group"] = 9
    bad.loc[5, "responded"] = "yes"
    bad.loc[7, "female"] = None
    with pytest.raises(DataValidationError) as err:
        load_population(_write(tmp_path, bad), frame)
    text = str(err.value)
    for needle in (f"column 'age_group', row tenant_id={bad.loc[3, 'tenant_id']}",
                   "never observed", f"row tenant_id={bad.loc[5, 'tenant_id']}",
                   "must be 0 or 1", "missing value in a cell variable"):
        assert needle in text
    assert "population.csv" in text
    with pytest.raises(DataValidationError, match="neither a register"):
        load_population(_write(tmp_path, register.drop(columns="responded")), frame)
    counts = pd.DataFrame({"living_form": ["GG", "GG"], "count": [3, -1]})
    with pytest.raises(DataValidationError, match="listed twice"):
        load_population(_write(tmp_path, counts, "c.csv"), frame)
    with pytest.raises(DataValidationError, match="not a column of the analysed data"):
        load_population(_write(tmp_path, register.assign(pets=1)), frame,
                        cells=["living_form", "pets"])
    with pytest.raises(DataValidationError, match="not a column of the file"):
        load_population(_write(tmp_path, register), frame, cells=["living_form", "pets"])


def test_register_without_form_takes_it_from_the_complex(survey, tmp_path):
    frame, register, _ = survey
    reg = register[register["complex_id"].isin(frame["complex_id"])].drop(columns="living_form")
    pop = load_population(_write(tmp_path, reg), frame)
    assert "living_form" in pop.cells
    unknown = reg.copy()
    unknown.loc[0, "complex_id"] = "C9999"
    with pytest.raises(DataValidationError, match="complex not in the analysed data"):
        load_population(_write(tmp_path, unknown), frame)


def test_model_lacking_a_cell_variable_is_an_error(survey, tmp_path):
    frame, register, _ = survey
    pop = load_population(_write(tmp_path, register), frame)
    with pytest.raises(ValueError, match=r"lacks the cell variable\(s\) \['lives_alone'\]"):
        check_model_cells(pop, "m", {"living_form", "age_group", "female"})
    check_model_cells(pop, "m", {"living_form", "age_group", "female", "lives_alone"})


def test_weighted_average_equals_duplicated_rows():
    """Integer weights average as if each row were repeated that many times."""
    from models.families import Bernoulli, Cumulative

    rng = np.random.default_rng(0)
    eta = rng.normal(size=(6, 4))
    w = np.array([1, 3, 2, 1, 4, 1])
    rep = np.repeat(eta, w, axis=0)
    draws = {"intercept": rng.normal(size=4), "thresholds": np.sort(rng.normal(size=(4, 2)))}
    sd = np.full(4, 0.7)
    for fam, event in ((Bernoulli(), None), (Cumulative(), 2)):
        np.testing.assert_allclose(
            fam.event_probability(eta, draws.__getitem__, sd=sd, event=event, weights=w),
            fam.event_probability(rep, draws.__getitem__, sd=sd, event=event))
