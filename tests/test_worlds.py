"""Test worlds that break the fitted models' assumptions, and validation against a
brute-force truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import run_models
from data.simulate import WORLDS, Design, probability_truth, simulate
from data.validation import validate_study
from diagnostics.worlds import coverage_by_world, validation_rows

SMALL = {"n_tenants": 1500, "n_complexes": 250}


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_every_world_simulates_valid_data(world):
    import dataclasses

    cx, tn, truth = simulate(dataclasses.replace(WORLDS[world], **SMALL), seed=2)
    validate_study(cx, tn)  # raises naming every problem
    assert truth["design"]["link"] in ("logit", "probit")
    _, default, _ = simulate(Design(**SMALL), seed=2)
    same = default["contact"].equals(tn["contact"])
    assert same == (world in ("default",)), world  # every stress switch changes the data


def test_switches_do_what_they_say():
    rng_free = probability_truth(Design(**SMALL), seed=4, n_rep=6, outcomes=("contact",))
    npo = probability_truth(Design(**SMALL, non_proportional=1.0), seed=4, n_rep=6,
                            outcomes=("contact", "help_received"))
    base = probability_truth(Design(**SMALL), seed=4, n_rep=6, outcomes=("help_received",))
    # top-cut form effects doubled: the forms' P(daily contact) spread out ...
    spread = np.ptp(list(npo["contact"].values())) - np.ptp(list(rng_free["contact"].values()))
    assert spread > 0.05
    # ... while "at least monthly help" reads the bottom cut, untouched
    np.testing.assert_allclose(list(npo["help_received"].values()),
                               list(base["help_received"].values()), atol=0.01)
    _, heavy, _ = simulate(Design(**SMALL, heavy_tails=True), seed=4)
    assert len(heavy) == SMALL["n_tenants"]
    with pytest.raises(ValueError, match="link"):
        Design(link="cloglog")


def test_validation_rows_and_coverage():
    effects = pd.DataFrame([
        {"model": "m", "outcome": "o", "contrast": c, "scale": "probability",
         "estimand": "new_complex", "subgroup": "all analysed", "effect": "unconditional",
         "event": "P(o = 1)", "mean": m, "q05": m - 2, "q95": m + 2, "p_positive": p}
        for c, m, p in (("A - HZ", 5.0, 0.99), ("B - HZ", 0.2, 0.97), ("C - HZ", 1.0, 0.7),
                        ("A - non-clustered", 9.0, 1.0), ("A", 30.0, np.nan))])
    truth = {"HZ": 0.20, "A": 0.24, "B": 0.2005, "C": 0.25}
    rows = validation_rows(effects, truth, world="w", reference="HZ").set_index("contrast")
    assert list(rows.index) == ["A - HZ", "B - HZ", "C - HZ"]
    assert rows.loc["A - HZ", "truth"] == pytest.approx(4.0)
    assert rows["covered"].tolist() == [True, True, False]
    assert rows.loc["B - HZ", "null"] and rows.loc["B - HZ", "supported"]
    cov = coverage_by_world(rows.reset_index()).iloc[0]
    assert (cov["n"], cov["covered"], cov["true_nulls"], cov["nulls_supported"]) == \
        (3, 2, 1, 1)


def test_cli_validate_writes_tables(tmp_path, capsys):
    out = tmp_path / "v"
    rc = run_models.main(["validate", "--worlds", "heavy_tails", "--outcomes", "gossip",
                          "--draws", "60", "--tune", "80", "--chains", "1", "--n-rep", "2",
                          "--out", str(out)])
    assert rc == 0
    table = pd.read_csv(out / "validate.csv")
    assert set(table["world"]) == {"heavy_tails"} and len(table) == 6
    assert table["truth"].notna().all()
    assert (out / "validate.png").stat().st_size > 5_000
    assert "coverage" in capsys.readouterr().out
    assert run_models.main(["validate", "--worlds", "nowhere", "--out", str(out)]) == 2


def test_check_rows_flag_at_a_family_wise_level():
    """A world is flagged by a focal-level check only past a Bonferroni bound (a dozen
    checks at 5% each would flag half of all correct worlds), or by a relaxed variant that
    predicts new complexes better by more than twice its paired SE."""
    from diagnostics.worlds import check_rows, checks_by_world

    def ppc(ppps):
        return pd.DataFrame({"check": "proportional odds", "statistic": "gap", "verdict": "ok",
                             "group": [f"form={i} vs A" for i in range(len(ppps))],
                             "ppp": ppps})
    calm = ppc([0.5] * 9 + [0.02])  # misfit by the per-check rule, not family-wise
    rows = check_rows(calm, None, world="w", outcome="o", focal="form", base="b")
    assert not rows["flagged"].any() and len(rows) == 10
    loud = ppc([0.5] * 9 + [0.001])
    assert check_rows(loud, None, world="w", outcome="o", focal="form",
                      base="b")["flagged"].sum() == 1
    base = pd.Series(np.full(30, -5.0), index=[f"c{i}" for i in range(30)])
    better = base + np.random.default_rng(0).normal(0.5, 0.3, 30)  # +15 elpd, SE ~1.6
    noisy = base + np.random.default_rng(1).normal(0.05, 1.0, 30)
    rows = check_rows(calm, {"b": base, "better": better, "noisy": noisy}, world="w",
                      outcome="o", focal="form", base="b")
    logo = rows[rows["signal"] == "LOGO relaxed variant"].set_index("detail")["flagged"]
    assert logo.tolist() == [True, False]
    summary = checks_by_world(rows)
    assert summary["flagged"].item() and summary["signals_flagged"].item() == 1


def _complex_series(values, start=0):
    return pd.Series(values, index=[f"c{i:03d}" for i in range(start, start + len(values))])


def test_pooled_by_group_sums_per_complex_and_adds_nothing_where_an_outcome_is_absent():
    from diagnostics.crossval import pooled_by_group

    a = _complex_series([1.0, 2.0, 3.0])
    b = _complex_series([10.0, 20.0], start=1)  # c000 outside this outcome's subset
    pooled = pooled_by_group([a, b])
    assert pooled.to_dict() == {"c000": 1.0, "c001": 12.0, "c002": 23.0}
    with pytest.raises(ValueError, match="nothing to pool"):
        pooled_by_group([])


def test_pooled_link_check_tells_what_one_outcome_cannot():
    """Four outcomes each gaining +2.6 elpd under a probit link (SE 1.5 each): one alone is
    short of 2 SE, the four pooled per complex are flagged; gains that scatter around zero
    are not; one outcome gives no pooled row."""
    from diagnostics.crossval import paired_se
    from diagnostics.worlds import pooled_link_rows

    rng = np.random.default_rng(4)
    n = 470
    base = {o: _complex_series(rng.normal(-6.0, 2.0, n)) for o in "abcd"}

    def shifted(mean):
        noise = {o: rng.normal(0.0, 1.5 / np.sqrt(n), n) for o in base}
        return {o: (b, b + (noise[o] - noise[o].mean()) + mean / n)
                for o, b in base.items()}

    probit = shifted(2.6)
    for b, alt in probit.values():
        assert (alt - b).sum() == pytest.approx(2.6)
        assert (alt - b).sum() < 2 * paired_se(alt - b)  # not flagged alone
    row = pooled_link_rows(probit, world="probit")
    assert len(row) == 1 and bool(row["flagged"].item())
    assert row["outcome"].item() == "pooled: a, b, c, d"
    assert row["value"].item() == pytest.approx(10.4)
    assert not pooled_link_rows(shifted(0.0), world="default")["flagged"].any()
    assert pooled_link_rows({"a": probit["a"]}, world="probit").empty


def test_null_world_has_no_form_effect_and_keeps_the_marginals():
    """``Design(null_forms=True)``: every living-form effect zero on every outcome, the
    intercepts recalibrated so the expected marginals stay the published ones."""
    from data.simulate import simulated_marginals

    design = Design(null_forms=True)
    cx, tn, truth = simulate(design, seed=3)
    for entry in truth["outcomes"].values():
        assert set(entry["form_effects"].values()) == {0.0}
        assert set(entry["latent_contrasts"].values()) == {0.0}
    marg = simulated_marginals(cx, tn)
    assert marg["difference_pp"].abs().max() < 6
    probs = probability_truth(Design(**SMALL, null_forms=True), seed=3, n_rep=4,
                              outcomes=("contact",))["contact"]
    assert np.ptp(list(probs.values())) < 0.02  # the same tenants in any form: same rates
