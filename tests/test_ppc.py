"""Posterior predictive checks flag a model that cannot reproduce the data."""

import numpy as np
import pytest

from data.suite import default_specs
from diagnostics.ppc import mid_p, ppc_table, prior_predictive_table, proportional_odds_rows
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
    overall = table[(table["group"] == "all") & (table["check"] == "shares")]
    assert set(overall["statistic"]) == {"share 1"}  # share 0 is its complement
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


def test_mid_p_splits_ties():
    # a discrete statistic equal to the observed value in every replication is no evidence
    assert mid_p(np.full(100, 0.3), 0.3) == 0.5
    assert mid_p(np.array([0.1, 0.3, 0.3, 0.5]), 0.3) == pytest.approx(0.5)
    assert mid_p(np.array([0.4, 0.5]), 0.3) == 1.0


def test_new_group_replications_catch_a_missing_complex_level(engine):
    """Fitted complex effects reproduce every share; only replications with *new* complex
    effects show that a model whose complex SD is forced to ~0 underrates the spread
    between complexes (about 10 tenants per complex, so that complex means say something)."""
    from data.loader import StudyData
    from data.simulate import Design, simulate

    cx, tn, _ = simulate(Design(n_tenants=1500, n_complexes=150), seed=5)
    frame = StudyData(complexes=cx, tenants=tn).merged()
    spec = default_specs()["activity_organised"]
    data, tree = _fit(engine, frame, spec)
    table = ppc_table(tree, spec, data)
    spread = table.query("check == 'between-group spread'")
    assert {"female=1", "age_group[4]=1"} <= set(table.query("check == 'by covariate'")["group"])
    # per form few complexes: one of 7 may fall out by chance
    assert spread.set_index("group").loc["all", "verdict"] == "ok", spread
    assert len(spread) == 8 and (spread["verdict"] == "misfit").sum() <= 1, spread
    flat = spec.with_(name="flat_complex", priors={"group_sd_scale": 0.01})
    data_f, tree_f = _fit(engine, frame, flat)
    spread_f = ppc_table(tree_f, flat, data_f).query("check == 'between-group spread'")
    assert spread_f.set_index("group").loc["all", "verdict"] == "misfit", spread_f
    assert (spread_f["observed"] > spread_f["replicated_q95"]).sum() >= 2


def test_proportional_odds_check_flags_a_category_specific_effect():
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    n, S = 2000, 300
    x = (rng.random(n) < 0.5).astype(float)
    data = SimpleNamespace(categories=(1, 2, 3), X=x[:, None], term_names=("x",),
                           level_idx={}, level_labels={})
    spec = SimpleNamespace(focal=None, reference=None)

    def po(size, shift):  # cumulative logit, one shift for every cut
        cuts = np.array([-0.5, 1.0])
        cum = 1 / (1 + np.exp(-(cuts[None, :] - shift[:, None])))
        return (rng.random(size)[:, None] > cum).sum(axis=1)

    rep = np.stack([po(n, 0.8 * x) for _ in range(S)])
    ok = proportional_odds_rows(po(n, 0.8 * x), rep, spec, data)[0]
    # x raises only the top category: the bottom cut is untouched
    bottom = po(n, np.zeros(n))
    skewed = np.where((x == 1) & (bottom == 1) & (rng.random(n) < 0.5), 2, bottom)
    bad = proportional_odds_rows(skewed, rep, spec, data)[0]
    assert 0.025 < ok["ppp"] < 0.975
    assert bad["ppp"] < 0.025 or bad["ppp"] > 0.975


def test_loo_pit_is_uniform_for_a_fitting_model_and_not_for_a_wrong_family(engine,
                                                                           small_frame):
    from diagnostics.compare import loo_table

    good = default_specs()["gossip"]
    wrong = good.with_(name="gossip_gaussian", family="gaussian")
    fits, observed = {}, {}
    for spec in (good, wrong):
        data, tree = _fit(engine, small_frame, spec)
        fits[spec.name], observed[spec.name] = tree, data.y
    table = loo_table(fits, observed=observed).set_index("model")
    assert table.loc["gossip", "loo_pit_ks_p"] > 0.01
    assert 0.05 < table.loc["gossip", "loo_pit_outer"] < 0.2
    assert table.loc["gossip_gaussian", "loo_pit_ks_p"] < 0.01
    assert "LOO-PIT not uniform" in table.loc["gossip_gaussian", "note"]
