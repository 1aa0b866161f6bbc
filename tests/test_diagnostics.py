"""Tests for :mod:`diagnostics.convergence` and :mod:`diagnostics.tables` on hand-made fits.

Each posterior is built by hand as an ``xarray.DataTree`` (``posterior`` + ``sample_stats``)
with a known defect, so that the verdict it must get is known without any sampling.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diagnostics.convergence import (
    THRESHOLDS,
    model_verdict,
    parameter_table,
    short_of_thresholds,
    shortfall,
)
from diagnostics.tables import EFFECT_COLUMNS, effects_latent, summary_rows
from inference.engine import chain_length, chains_to_add

CHAINS, DRAWS = 4, 500
TERMS = ["a", "b", "c"]


def make_tree(posterior: dict[str, np.ndarray], *, diverging: np.ndarray | None = None,
              energy: np.ndarray | None = None, maxdepth: np.ndarray | None = None,
              seed: int = 0) -> xr.DataTree:
    """A fit with ``posterior`` variables of shape (chain, draw[, term]) and sample stats."""
    rng = np.random.default_rng([seed, 99])
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)}
    post = xr.Dataset(
        {k: (("chain", "draw", "term")[:v.ndim], v) for k, v in posterior.items()},
        coords=coords | ({"term": TERMS} if any(v.ndim == 3 for v in posterior.values())
                         else {}))
    stats = {"diverging": np.zeros((CHAINS, DRAWS), bool) if diverging is None else diverging}
    # iid energies: E-BFMI about 2, far above the threshold
    stats["energy"] = rng.normal(size=(CHAINS, DRAWS)) if energy is None else energy
    if maxdepth is not None:
        stats["maxdepth_reached"] = maxdepth
    ss = xr.Dataset({k: (("chain", "draw"), v) for k, v in stats.items()}, coords=coords)
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": ss})


def iid(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(CHAINS, DRAWS, *shape))


@pytest.fixture
def converged() -> xr.DataTree:
    return make_tree({"mu": iid(1), "beta": iid(2, len(TERMS))})


# --------------------------------------------------------------------------------------
# model_verdict
# --------------------------------------------------------------------------------------
def test_converged_fit_is_ok(converged):
    row = model_verdict(converged, model="m").iloc[0]
    assert row["verdict"] == "ok", row["reason"]
    assert row["model"] == "m"
    assert row["divergences"] == 0
    assert row["max_r_hat"] < THRESHOLDS["rhat_warn"]
    assert row["min_ess_bulk"] > THRESHOLDS["ess_per_chain"] * CHAINS
    assert row["min_ebfmi"] > THRESHOLDS["ebfmi"]
    assert row["reason"] == "all checks passed"


def test_stuck_chain_fails_on_r_hat(caplog):
    mu = iid(3)
    mu[0] = 5.0  # one chain stuck at a constant far from the others
    with caplog.at_level(logging.WARNING, logger="diagnostics.convergence"):
        row = model_verdict(make_tree({"mu": mu, "sigma": iid(4)}), model="stuck").iloc[0]
    assert row["verdict"] == "fail"
    assert "R-hat" in row["reason"] and "mu" in row["reason"]
    assert "sigma" not in row["reason"]  # the healthy parameter is not blamed
    assert row["max_r_hat"] > THRESHOLDS["rhat_fail"]
    assert "stuck" in caplog.text  # a fail is logged as a warning naming the model


def test_divergences_fail():
    diverging = np.zeros((CHAINS, DRAWS), bool)
    diverging[1, 100:110] = True
    row = model_verdict(make_tree({"mu": iid(5)}, diverging=diverging)).iloc[0]
    assert row["verdict"] == "fail"
    assert row["divergences"] == 10
    assert "10 divergent" in row["reason"]
    assert "R-hat" not in row["reason"]  # the draws themselves are fine


def test_low_ebfmi_fails():
    # energy as a random walk: successive energies barely change, so E-BFMI ~ 0
    energy = np.cumsum(np.random.default_rng(6).normal(size=(CHAINS, DRAWS)), axis=1)
    row = model_verdict(make_tree({"mu": iid(7)}, energy=energy)).iloc[0]
    assert row["min_ebfmi"] < THRESHOLDS["ebfmi"]
    assert row["verdict"] == "fail"
    assert "E-BFMI" in row["reason"]


def test_ebfmi_is_the_minimum_over_chains():
    rng = np.random.default_rng(8)
    energy = rng.normal(size=(CHAINS, DRAWS))
    energy[2] = np.cumsum(energy[2])  # only chain 2 has low E-BFMI
    row = model_verdict(make_tree({"mu": iid(9)}, energy=energy)).iloc[0]
    # E-BFMI of a chain: mean squared energy change over the energy variance
    per_chain = [np.mean(np.diff(e) ** 2) / np.var(e) for e in energy]
    assert row["min_ebfmi"] == pytest.approx(min(per_chain), rel=0.02)
    assert row["verdict"] == "fail"


def test_missing_energy_does_not_fail(converged):
    tree = converged.copy()
    tree["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset().drop_vars("energy"))
    row = model_verdict(tree).iloc[0]
    assert np.isnan(row["min_ebfmi"])
    assert row["verdict"] == "ok", row["reason"]


def test_tree_depth_saturation_warns():
    maxdepth = np.zeros((CHAINS, DRAWS), bool)
    maxdepth[:, :50] = True  # 10% of draws
    row = model_verdict(make_tree({"mu": iid(10)}, maxdepth=maxdepth)).iloc[0]
    assert row["treedepth_share"] == pytest.approx(0.1)
    assert row["verdict"] == "warn"
    assert "tree depth" in row["reason"]


# --------------------------------------------------------------------------------------
# parameter_table
# --------------------------------------------------------------------------------------
def test_parameter_table_values_and_labels(converged):
    table = parameter_table(converged)
    assert sorted(table["parameter"]) == ["beta[a]", "beta[b]", "beta[c]", "mu"]
    assert table["parameter"].is_unique
    for col in ("mean", "sd", "q05", "q95", "r_hat", "ess_bulk", "ess_tail", "mcse_mean",
                "verdict", "reason"):
        assert col in table
    row = table.set_index("parameter").loc["beta[b]"]
    draws = converged["posterior"]["beta"].sel(term="b").values.ravel()
    assert row["mean"] == pytest.approx(draws.mean())
    assert row["sd"] == pytest.approx(draws.std(ddof=1))  # arviz-stats: sample sd
    assert row["q05"] == pytest.approx(np.quantile(draws, 0.05))
    assert row["q95"] == pytest.approx(np.quantile(draws, 0.95))
    assert (table["verdict"] == "ok").all()


def test_parameter_table_var_names(converged):
    table = parameter_table(converged, var_names=["beta", "not_there"])
    assert set(table["variable"]) == {"beta"}


def test_parameter_table_low_ess_fails():
    # a slowly mixing AR(1) chain: strongly autocorrelated draws, tiny ESS
    rng = np.random.default_rng(11)
    x = np.zeros((CHAINS, DRAWS))
    for t in range(1, DRAWS):
        x[:, t] = 0.995 * x[:, t - 1] + 0.1 * rng.normal(size=CHAINS)
    table = parameter_table(make_tree({"mu": x}))
    row = table.iloc[0]
    need = THRESHOLDS["ess_per_chain"] * CHAINS
    assert min(row["ess_bulk"], row["ess_tail"]) < need / 4
    assert row["verdict"] == "fail"
    assert "ESS" in row["reason"]


def ar1(seed: int, rho: float, draws: int = DRAWS, chains: int = CHAINS) -> np.ndarray:
    """Stationary AR(1) draws per chain: ESS about (1 - rho) / (1 + rho) of the draws."""
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=chains)
    return x


def test_chains_added_to_reach_the_threshold_do_not_raise_it():
    """The ESS a parameter needs is per chain *asked for*: a run of 2 chains topped up
    to 4 needs 200, not 400."""
    tree = make_tree({"mu": ar1(21, 0.75)})  # ESS about 2000/7, between 200 and 400
    low = parameter_table(tree).iloc[0]
    assert 200 < min(low["ess_bulk"], low["ess_tail"]) < 400
    assert low["verdict"] == "warn" and "ESS" in low["reason"]
    tree.attrs |= {"chains_requested": 2, "top_up_rounds": 1}
    assert parameter_table(tree).iloc[0]["verdict"] == "ok"
    row = model_verdict(tree).iloc[0]
    assert (row["verdict"], row["chains"], row["top_up_rounds"]) == ("ok", CHAINS, 1)


def test_still_short_after_a_top_up_says_so():
    tree = make_tree({"mu": ar1(22, 0.9)})
    tree.attrs |= {"chains_requested": 2, "top_up_rounds": 1}
    row = model_verdict(tree).iloc[0]
    assert row["verdict"] == "warn"
    assert f"still short after 1 round(s) of more draws ({CHAINS} chains x {DRAWS} draws)" \
        in row["reason"]


def test_shortfall_names_what_is_short():
    assert shortfall(make_tree({"mu": iid(30)})) == frozenset()
    assert shortfall(make_tree({"mu": ar1(31, 0.8)})) == {"ess"}  # R-hat fine at this seed
    stuck = iid(32)
    stuck[0] += 3.0
    assert "rhat" in shortfall(make_tree({"mu": stuck}))


class _FakeEngine:
    """Engine._sample_enough over synthetic fits: ``script`` maps the call number to the
    posterior of ``mu`` that call returns (any chains x draws)."""

    def __init__(self, script):
        self.script, self.calls = script, []

    def _sample(self, model, compiled, settings, target_accept):
        self.calls.append(settings)
        mu = self.script[len(self.calls) - 1](settings)
        chains, draws = mu.shape
        coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
        zeros = np.zeros((chains, draws))
        energy = np.random.default_rng(len(self.calls)).normal(size=(chains, draws))
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}, coords=coords),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), zeros.astype(bool)),
                                        "energy": (("chain", "draw"), energy)},
                                       coords=coords)})


def _enough(script, top_up=2):
    from inference.engine import Engine, SamplerSettings

    fake = _FakeEngine(script)
    settings = SamplerSettings(chains=CHAINS, draws=DRAWS, top_up=top_up, seed=5)
    tree = Engine._sample_enough(fake, None, None, settings, 0.9)
    return fake, tree


def _fresh(seed):
    """A settled posterior of as many chains and draws as the round asks for."""
    return lambda s: np.random.default_rng([seed, s.seed]).normal(size=(s.chains, s.draws))


def test_ess_short_adds_chains_and_keeps_the_first_ones():
    first = ar1(21, 0.75)  # ESS short (about 290 of 400), R-hat fine at this seed
    fake, tree = _enough([lambda s: first, _fresh(41)])
    assert len(fake.calls) == 2 and fake.calls[1].draws == DRAWS
    assert fake.calls[1].seed != fake.calls[0].seed
    # sized by the shortfall: 4 x (1.25 x 400 / ESS - 1) rounded up, not 4 more
    least = min(parameter_table(make_tree({"mu": first}))[["ess_bulk", "ess_tail"]].iloc[0])
    added = chains_to_add(CHAINS, least, 400, CHAINS)
    assert added == fake.calls[1].chains and CHAINS // 2 <= added <= 2 * CHAINS
    assert tree["posterior"].sizes["chain"] == CHAINS + added
    np.testing.assert_array_equal(tree["posterior"]["mu"].values[:CHAINS], first)
    assert tree.attrs["top_up"].startswith(
        f"more chains (+{added} x {DRAWS} draws, {CHAINS + added} in all, least ESS ")
    assert tree.attrs["top_up_rounds"] == 1 and tree.attrs["chains_requested"] == CHAINS
    rounds = json.loads(tree.attrs["rounds"])
    assert [(r["action"], r["chains"], r["draws"]) for r in rounds] == [
        ("first", CHAINS, DRAWS), ("more chains", added, DRAWS)]
    assert rounds[1]["why"].startswith("least ESS ") and "mu (" in rounds[1]["why"]
    row = model_verdict(tree).iloc[0]
    assert row["verdict"] == "ok"
    assert row["rounds"] == f"{CHAINS}x{DRAWS}, +{added}x{DRAWS} ({rounds[1]['why'].split(':')[0]})"


def test_rounds_stop_as_soon_as_the_targets_are_met():
    """A first round that meets every target is the whole fit: no round more, even
    with rounds to spare."""
    fake, tree = _enough([_fresh(50)], top_up=5)
    assert len(fake.calls) == 1
    assert tree.attrs["top_up_rounds"] == 0 and tree.attrs["top_up"] == "none"
    assert [r["action"] for r in json.loads(tree.attrs["rounds"])] == ["first"]
    assert model_verdict(tree).iloc[0]["rounds"] == f"{CHAINS}x{DRAWS}"


def test_rounds_go_on_while_the_ess_target_is_missed(monkeypatch):
    """Rounds of more chains until the least ESS reaches its target, each sized by what
    is still missing. The shortfall is scripted (30 ESS per chain, R-hat fine), so the
    test is about the rounds, not about estimating ESS."""
    import diagnostics.convergence as convergence

    def scripted(tree):
        least = 30.0 * tree["posterior"].sizes["chain"]
        need = 100.0 * tree.attrs["chains_requested"]
        return {"short": frozenset({"ess"}) if least < need else frozenset(),
                "least_ess": least, "ess_needed": need, "max_r_hat": 1.0,
                "worst": f"mu (bulk ESS {least:.0f})"}

    monkeypatch.setattr(convergence, "shortfall_detail", scripted)
    fake, tree = _enough([_fresh(60)] * 10, top_up=5)
    # 4 chains: ESS 120 -> +8 (at most twice the chains asked); 12: 360 -> +5; 17: 510
    assert [c.chains for c in fake.calls] == [CHAINS, 8, 5]
    assert all(c.draws == DRAWS for c in fake.calls)  # appended chains are as long
    assert tree["posterior"].sizes["chain"] == 17
    assert tree.attrs["top_up_rounds"] == 2
    rounds = json.loads(tree.attrs["rounds"])
    assert [r["why"] for r in rounds] == ["", "least ESS 120 < 400: mu (bulk ESS 120)",
                                          "least ESS 360 < 400: mu (bulk ESS 360)"]
    # and no further than the rounds allowed: a shortfall left is said
    fake, tree = _enough([_fresh(61)] * 10, top_up=1)
    assert len(fake.calls) == 2 and tree.attrs["top_up_rounds"] == 1


def test_an_r_hat_round_draws_chains_long_enough_for_the_ess_per_chain():
    """R-hat stays above 1.01 by chance while a chain holds under about 100 effective
    draws: 4 x 400 draws with a least ESS of 190 (47.5 per chain) need 4 x 1,100 or so
    (1.25 x 100 / 47.5 x 400 = 1,053, in whole hundreds); a stuck chain with ESS to
    spare gets the rule's floor (twice, then three times the draws)."""
    assert chain_length(400, 4, 190, 400, 4, floor=800) == 1100
    assert chain_length(400, 4, 3000, 400, 4, floor=800) == 800
    assert chain_length(400, 4, float("nan"), 400, 4, floor=1200) == 1200
    assert chain_length(400, 4, 20, 400, 4, floor=800) == 1600  # stuck: at most 2 x floor
    assert chain_length(400, 8, 380, 400, 4, floor=800) == 1100  # per chain: 47.5 again


def test_chains_to_add_is_sized_by_the_shortfall_and_bounded():
    assert chains_to_add(4, 380, 400, 4) == 2  # just short: at least half the chains asked
    assert chains_to_add(4, 250, 400, 4) == 4  # 4 x (1.25 x 1.6 - 1)
    assert chains_to_add(8, 250, 400, 4) == 8
    assert chains_to_add(4, 20, 400, 4) == 8  # far short: at most twice the chains asked
    assert chains_to_add(4, float("nan"), 400, 4) == 8
    assert chains_to_add(1, 90, 100, 1) == 1


def test_rhat_short_replaces_the_chains_by_longer_ones():
    """More chains of the same length cannot lower R-hat: the round draws longer chains."""
    def stuck(s):
        mu = np.random.default_rng(s.seed).normal(size=(s.chains, s.draws))
        mu[0] += 3.0  # one chain elsewhere: R-hat short
        return mu

    def settled(s):
        return np.random.default_rng(s.seed).normal(size=(s.chains, s.draws))

    fake, tree = _enough([stuck, stuck, settled])
    # a stuck chain leaves almost no ESS: each round gets twice the rule's floor
    # ((k + 1) x the draws), the most chain_length gives
    assert [c.draws for c in fake.calls] == [DRAWS, 4 * DRAWS, 6 * DRAWS]
    assert tree["posterior"].sizes["chain"] == CHAINS
    assert tree["posterior"].sizes["draw"] == 6 * DRAWS
    steps = tree.attrs["top_up"].split("; ")
    assert [s.split(", R-hat ")[0] for s in steps] == [
        f"longer chains ({CHAINS} x {k * DRAWS} draws" for k in (4, 6)]
    assert "> 1.01: mu (R-hat " in steps[0]
    assert [r["draws"] for r in json.loads(tree.attrs["rounds"])] == [DRAWS, 4 * DRAWS, 6 * DRAWS]
    assert tree.attrs["chains_requested"] == CHAINS
    assert model_verdict(tree).iloc[0]["verdict"] == "ok"
    # bounded: at most top_up rounds, and a shortfall left is said
    fake, tree = _enough([stuck, stuck, stuck], top_up=2)
    assert len(fake.calls) == 3 and tree.attrs["top_up_rounds"] == 2
    row = model_verdict(tree).iloc[0]
    assert row["verdict"] != "ok" and "still short after 2 round(s)" in row["reason"]
    assert row["draws"] == 6 * DRAWS


def test_short_of_thresholds_only_where_draws_can_help():
    assert not short_of_thresholds(make_tree({"mu": iid(23), "z_g": ar1(24, 0.99)}))
    assert short_of_thresholds(make_tree({"mu": ar1(25, 0.9)}))  # ESS short
    stuck = iid(26)
    stuck[0] += 3.0  # one chain elsewhere: R-hat
    assert short_of_thresholds(make_tree({"mu": stuck}))
    diverging = np.zeros((CHAINS, DRAWS), bool)
    diverging[0, 5] = True  # a divergence: a fail that more draws do not cure
    assert not short_of_thresholds(make_tree({"mu": ar1(25, 0.9)}, diverging=diverging))


def test_summary_and_effects_tables():
    contrast = iid(12, 2)
    post = xr.Dataset(
        {"living_form_contrast": (("chain", "draw", "contrast"), contrast),
         "z_complex_id": (("chain", "draw", "complex_id"), iid(13, 2)),
         "living_form_raw": (("chain", "draw", "living_form"), iid(14, 3)),
         "intercept": (("chain", "draw"), iid(15))},
        coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS),
                "contrast": ["GG - HZ", "RB - HZ"], "complex_id": ["C1", "C2"],
                "living_form": ["GG", "HZ", "RB"]})
    tree = xr.DataTree.from_dict({"posterior": post})
    summary = summary_rows(tree, model="m1", outcome="o1")
    assert not summary["variable"].isin(["z_complex_id", "living_form_raw"]).any()
    assert (summary["model"] == "m1").all() and (summary["outcome"] == "o1").all()
    effects = effects_latent(summary)
    assert list(effects.columns) == EFFECT_COLUMNS
    assert list(effects["contrast"]) == ["GG - HZ", "RB - HZ"]
    assert (effects["scale"] == "latent").all()
    rb = effects.set_index("contrast").loc["RB - HZ"]
    assert rb["mean"] == pytest.approx(contrast[..., 1].mean())
    assert isinstance(summary, pd.DataFrame)


# --------------------------------------------------------------------------------------
# chains that run on: judged at growing checkpoints (Engine._sample_continued)

def _long_run(mu: np.ndarray):
    """``draws_at`` over one long run of ``mu`` (chain, draw): blocks for nothing and hands
    back *more* draws than asked (a sampler runs on while a checkpoint is judged), with
    the draws asked for recorded."""
    asked = []

    def draws_at(n):
        asked.append(n)
        have = min(mu.shape[1], n + 37)
        coords = {"chain": np.arange(mu.shape[0]), "draw": np.arange(have)}
        energy = np.random.default_rng(n).normal(size=(mu.shape[0], have))
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu[:, :have])}, coords=coords),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"),
                                                      np.zeros((mu.shape[0], have), bool)),
                                        "energy": (("chain", "draw"), energy)},
                                       coords=coords)})
    return draws_at, asked


def test_continued_chains_stop_at_the_first_checkpoint_that_meets_the_targets():
    """One run of chains judged at growing checkpoints: ESS short at 500 draws (AR(1) with
    rho 0.75 gives about 0.14 ESS per draw, 290 of 400), so the chains go on to the length
    the ESS per chain asks for, and the fit is each chain's first draws up to there --
    exactly the run's draws, none thrown away, nothing drawn twice."""
    from inference.engine import SamplerSettings, continue_until_met, next_checkpoint

    mu = ar1(21, 0.75, 8 * DRAWS)
    draws_at, asked = _long_run(mu)
    settings = SamplerSettings(chains=CHAINS, draws=DRAWS, top_up=3, seed=5)
    tree = continue_until_met(draws_at, settings, cap=8 * DRAWS)
    first = parameter_table(make_tree({"mu": mu[:, :DRAWS]}))
    least = float(first[["ess_bulk", "ess_tail"]].min(axis=1).iloc[0])
    assert least < 400  # the premise: short at the first checkpoint
    assert asked[:2] == [DRAWS, next_checkpoint(DRAWS, CHAINS, least, 400, CHAINS,
                                                cap=8 * DRAWS)]
    n = asked[-1]
    assert DRAWS < n <= 8 * DRAWS and tree["posterior"].sizes["draw"] == n
    np.testing.assert_array_equal(tree["posterior"]["mu"].values, mu[:, :n])
    assert model_verdict(tree).iloc[0]["verdict"] == "ok"
    rounds = json.loads(tree.attrs["rounds"])
    assert [r["draws"] for r in rounds] == asked
    assert [r["action"] for r in rounds] == ["first"] + ["continued"] * (len(asked) - 1)
    assert rounds[1]["why"].startswith("least ESS ")
    assert tree.attrs["top_up_rounds"] == len(asked) - 1
    assert model_verdict(tree).iloc[0]["rounds"].startswith(f"{CHAINS}x{DRAWS}, on to ")


def test_continued_chains_that_meet_the_targets_at_once_are_one_look():
    from inference.engine import SamplerSettings, continue_until_met

    mu = np.random.default_rng(3).normal(size=(CHAINS, 8 * DRAWS))
    draws_at, asked = _long_run(mu)
    tree = continue_until_met(draws_at, SamplerSettings(chains=CHAINS, draws=DRAWS,
                                                        top_up=3), cap=8 * DRAWS)
    assert asked == [DRAWS] and tree.attrs["top_up"] == "none"
    assert tree["posterior"].sizes["draw"] == DRAWS  # the extra draws are cut off


def test_continued_chains_stop_at_the_cap_and_the_looks_allowed():
    """A stuck chain never settles: the looks stop at ``top_up`` (or at the cap) and the
    verdict says what is short."""
    from inference.engine import SamplerSettings, continue_until_met

    mu = np.random.default_rng(4).normal(size=(CHAINS, 8 * DRAWS))
    mu[0] += 3.0
    draws_at, asked = _long_run(mu)
    tree = continue_until_met(draws_at, SamplerSettings(chains=CHAINS, draws=DRAWS,
                                                        top_up=2), cap=8 * DRAWS)
    assert len(asked) == 3 and tree.attrs["top_up_rounds"] == 2
    assert model_verdict(tree).iloc[0]["verdict"] != "ok"
    draws_at, asked = _long_run(mu)
    continue_until_met(draws_at, SamplerSettings(chains=CHAINS, draws=DRAWS, top_up=9),
                       cap=3 * DRAWS)
    assert asked[-1] == 3 * DRAWS and len(asked) < 10


def test_next_checkpoint_grows_by_the_shortfall_within_bounds():
    from inference.engine import next_checkpoint

    # ESS enough, R-hat short: 1.4 x longer, in whole hundreds
    assert next_checkpoint(500, 4, 3000, 400, 4, cap=4000) == 700
    # ESS per chain 47.5 of 100 needed: 1.25 x 100 / 47.5 x 500 = 1,316 -> at most 2 x 500
    assert next_checkpoint(500, 4, 190, 400, 4, cap=4000) == 1000
    assert next_checkpoint(500, 4, 350, 400, 4, cap=4000) == 800  # 714 -> 800
    assert next_checkpoint(500, 4, float("nan"), 400, 4, cap=4000) == 700
    assert next_checkpoint(3000, 4, 190, 400, 4, cap=4000) == 4000  # the cap


@pytest.mark.slow
def test_a_continued_nutpie_run_keeps_the_draws_a_plain_run_of_that_length_makes():
    """The engine's continued run on a real nutpie model: the kept draws are bit-identical
    to a plain run of as many draws with the same seed (the checkpoint's draws do not
    depend on how far the sampler had run on)."""
    import pymc as pm

    from inference.engine import Engine, SamplerSettings, _compile

    rng = np.random.default_rng(0)
    g = rng.integers(30, size=3000)
    with pm.Model() as model:
        sd = pm.HalfNormal("sd", 1)
        z = pm.Normal("z", 0, 1, shape=30)
        b = pm.Normal("b", 0, 1)
        pm.Normal("y", b + sd * z[g], 1, observed=rng.normal(size=3000) + 0.3 * (g % 3))
    compiled = _compile(model)
    engine = Engine(progress=False)
    settings = SamplerSettings(chains=4, draws=100, tune=200, top_up=2, seed=4)
    tree = engine._sample_enough(model, compiled, settings, 0.9)
    n = tree["posterior"].sizes["draw"]
    plain = engine._sample(model, compiled, SamplerSettings(chains=4, draws=n, tune=200,
                                                            seed=4), 0.9)
    np.testing.assert_array_equal(tree["posterior"]["z"].values, plain["posterior"]["z"].values)
    assert json.loads(tree.attrs["rounds"])[-1]["draws"] == n
