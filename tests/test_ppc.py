"""Posterior predictive checks flag a model that cannot reproduce the data."""

import pytest

from data.suite import default_specs
from diagnostics.ppc import ppc_table, prior_predictive_table
from inference.engine import Engine, SamplerSettings
from models.design import prepare

SETTINGS = SamplerSettings(draws=100, tune=150, chains=2, seed=11, prior_draws=100)


@pytest.fixture(scope="module")
def engine():
    return Engine()


def _fit(engine, frame, spec):
    data = prepare(frame, spec)
    return data, engine.fit(spec, data, SETTINGS)


def test_correct_model_reproduces_overall_shares(engine, small_frame):
    spec = default_specs()["activity_organised"]
    data, tree = _fit(engine, small_frame, spec)
    table = ppc_table(tree, spec, data)
    overall = table[table["group"] == "all"]
    assert set(overall["statistic"]) == {"share 0", "share 1"}
    assert (overall["verdict"] == "ok").all(), overall
    assert {"living_form=HZ", "living_form=RB"} <= set(table["group"])
    assert any(g.startswith("size ") for g in table["group"])
    prior = prior_predictive_table(tree, spec, data)
    assert (prior["verdict"] == "ok").all(), prior


def test_model_without_living_form_misfits_per_form(engine, small_frame):
    # activities are organised far more often in clustered forms: a model with neither a
    # form nor a complex effect cannot reproduce the per-form shares
    spec = default_specs()["activity_organised"].with_(
        name="no_form", variant="none", priors={"group_sd_scale": 0.01})
    data, tree = _fit(engine, small_frame, spec)
    table = ppc_table(tree, spec, data)
    per_form = table[table["group"].str.startswith("living_form=")]
    assert (per_form["verdict"] == "misfit").any(), per_form


def test_wrong_family_is_flagged(engine, small_frame):
    # a Gaussian model for a 0/1 outcome replicates symmetric, unbounded data
    spec = default_specs()["gossip"].with_(name="gossip_gaussian", family="gaussian")
    data, tree = _fit(engine, small_frame, spec)
    table = ppc_table(tree, spec, data).set_index(["group", "statistic"])
    assert table.loc[("all", "skewness"), "verdict"] == "misfit"
    assert table.loc[("all", "min"), "verdict"] == "misfit"
