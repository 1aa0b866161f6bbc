"""Population files (register, cell counts), their validation, and the weights that
standardise the respondents to them; the simulator's survey process."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from data.population import check_model_cells, load_population, row_weights
from data.simulate import Design, simulate_survey
from data.validation import DataValidationError

SURVEY = Design(n_tenants=600, n_complexes=80, invited=3000)


@pytest.fixture(scope="module")
def survey():
    complexes, tenants, truth, register = simulate_survey(SURVEY, seed=3)
    frame = tenants.merge(complexes[["complex_id", "living_form"]], on="complex_id")
    return frame, register, truth


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


def test_poststratified_weights_reproduce_the_population_cells(survey, tmp_path):
    frame, register, _ = survey
    pop = load_population(_write(tmp_path, register), frame)
    assert pop.kind == "register" and pop.cells[0] == "living_form"
    assert set(pop.cells) == {"living_form", "age_group", "female", "lives_alone"}
    w, info = row_weights(pop, frame)
    assert w.sum() == pytest.approx(len(register))
    assert 0 < info["ess"] < len(frame)
    # the weighted respondents have the population's distribution of every cell variable
    for cell in pop.cells:
        weighted = pd.Series(w).groupby(frame[cell].astype(str).to_numpy()).sum() / w.sum()
        target = register[cell].astype(str).value_counts(normalize=True)
        # exactly, up to the population share of cells without respondents (collapsed)
        np.testing.assert_allclose(weighted.reindex(target.index).to_numpy(), target.to_numpy(),
                                   rtol=0, atol=info["collapsed_share"] + 1e-12)
    assert info["collapsed_share"] < 0.05
    # propensity weights: in the population's direction, from a main-effects model
    wp, info_p = row_weights(pop, frame, "propensity")
    alone = frame["lives_alone"].to_numpy() == 1
    assert wp[alone].sum() / wp.sum() > alone.mean()
    assert 0 < info_p["ess"] < len(frame)


def test_cells_without_respondents_are_collapsed(survey, tmp_path):
    frame, register, _ = survey
    counts = register.groupby(["living_form", "age_group"]).size().rename("count").reset_index()
    kept = frame[~((frame["living_form"] == "GG") & (frame["age_group"] == 4))]
    pop = load_population(_write(tmp_path, counts, "cells.csv"), frame)
    assert pop.kind == "cells" and pop.size == len(register)
    w, info = row_weights(pop, kept)
    gg85 = counts.query("living_form == 'GG' and age_group == 4")["count"].sum()
    assert info["collapsed_share"] == pytest.approx(gg85 / len(register))
    assert w.sum() == pytest.approx(len(register))  # nobody lost: moved to GG's other ages


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


def test_bootstrap_weights_keep_every_cell_total(survey, tmp_path):
    """Per draw, each cell's rows share the cell's weight in Dirichlet proportions: the
    cells' totals stay the population's, the rows' shares vary from draw to draw."""
    from data.population import bootstrap_weights

    frame, register, _ = survey
    pop = load_population(_write(tmp_path, register), frame)
    w, _ = row_weights(pop, frame)
    W = bootstrap_weights(pop, frame, w, draws=300, seed=1)
    assert W.shape == (300, len(frame)) and (W > 0).all()
    cell = pd.factorize(pd.Series(list(zip(*(frame[c] for c in pop.cells), strict=True))))[0]
    for c in np.unique(cell)[:10]:
        np.testing.assert_allclose(W[:, cell == c].sum(axis=1), w[cell == c].sum())
    assert W.std(axis=0).mean() > 0.3 * w.mean()  # the shares do vary
    np.testing.assert_allclose(W.mean(axis=0), w, rtol=0.35)
