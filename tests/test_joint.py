"""Two-part outcomes: the joint model with correlated complex effects and the total effect."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from data.suite import default_specs, two_part_specs
from diagnostics.effects import total_effects
from models.design import prepare
from models.joint import TwoPart, build_joint_model, part_design, total_probabilities


@pytest.fixture(scope="module")
def friendly(small_frame):
    joint = two_part_specs(default_specs())["friendly_contact__total"]
    return joint, prepare(small_frame, joint.gate), prepare(small_frame, joint.part)


def _fake_tree(joint, d1, d2, *, rho: float, sd=(1.0, 0.8), n_draws=6, seed=3):
    """A posterior of the joint model's shape with arbitrary (not fitted) values."""
    rng = np.random.default_rng(seed)
    forms = list(d1.level_labels["living_form"])
    g, p = joint.gate.name, joint.part.name

    def var(shape, scale=0.3, loc=0.0):
        return (("chain", "draw", *shape[0]),
                loc + scale * rng.standard_normal((1, n_draws, *shape[1])))

    cuts = np.sort(rng.normal(0, 1, (1, n_draws, 2)), axis=-1) + np.array([-0.5, 0.8])
    post = xr.Dataset({
        f"{g}::beta": var((("t1",), (len(d1.term_names),))),
        f"{g}::thresholds": (("chain", "draw", "threshold"), cuts),
        f"{g}::living_form_effect": var((("living_form",), (len(forms),)), 0.5),
        f"{p}::beta": var((("t2",), (len(d2.term_names),))),
        f"{p}::intercept": var(((), ()), 0.3, -0.5),
        f"{p}::living_form_effect": var((("living_form",), (len(forms),)), 0.5),
        "sd_complex_id": (("chain", "draw", "part"), np.broadcast_to(sd, (1, n_draws, 2))),
        "corr_complex_id": (("chain", "draw", "pair"), np.full((1, n_draws, 1), rho)),
    })
    return xr.DataTree.from_dict({"posterior": post})


def _by_hand(tree, joint, d1, d2, frame, *, u1, u2):
    """Total probability per draw and form, written out independently of the module:
    sum over contact 2 and 3 of P(contact = k) P(friendly | contact_daily = [k = 3])."""
    post = tree["posterior"]
    g, p = joint.gate.name, joint.part.name
    X2, keep = part_design(joint, frame, d1, d2)
    med = d2.term_names.index("contact_daily")
    forms = list(d1.level_labels["living_form"])
    out = np.empty((post.sizes["draw"], len(forms)))
    for s in range(post.sizes["draw"]):
        b1 = post[f"{g}::beta"].values[0, s]
        tau = post[f"{g}::thresholds"].values[0, s]
        b2 = post[f"{p}::beta"].values[0, s]
        a2 = post[f"{p}::intercept"].values[0, s]
        for f in range(len(forms)):
            eta1 = (d1.X[keep] @ b1 + post[f"{g}::living_form_effect"].values[0, s, f]
                    )[:, None] + u1[s][None, :]
            p_regular = expit(tau[1] - eta1) - expit(tau[0] - eta1)  # contact = 2
            p_daily = 1.0 - expit(tau[1] - eta1)  # contact = 3
            e2 = post[f"{p}::living_form_effect"].values[0, s, f]
            X2[:, med] = 0.0
            f_regular = expit(a2 + (X2[keep] @ b2 + e2)[:, None] + u2[s][None, :])
            X2[:, med] = 1.0
            f_daily = expit(a2 + (X2[keep] @ b2 + e2)[:, None] + u2[s][None, :])
            out[s, f] = (p_regular * f_regular + p_daily * f_daily).mean()
    return out


def test_typical_complex_total_is_the_sum_over_open_gate_categories(friendly, small_frame):
    joint, d1, d2 = friendly
    tree = _fake_tree(joint, d1, d2, rho=0.5)
    got, n = total_probabilities(tree, joint, d1, d2, small_frame, estimand="typical_complex")
    zero = [np.zeros(1)] * 6
    want = _by_hand(tree, joint, d1, d2, small_frame, u1=zero, u2=zero)
    assert n == d1.n
    np.testing.assert_allclose(got.values, want, rtol=1e-10)


def test_new_complex_total_integrates_over_correlated_complex_effects(friendly, small_frame):
    """Monte Carlo over new complexes (10,000 per draw, drawn with numpy's own MvNormal)
    agrees with the quadrature; and the correlation visibly changes the answer."""
    joint, d1, d2 = friendly
    rng = np.random.default_rng(0)
    results = {}
    for rho in (0.0, 0.9):
        tree = _fake_tree(joint, d1, d2, rho=rho, sd=(1.5, 1.2), n_draws=3)
        cov = np.array([[2.25, rho * 1.8], [rho * 1.8, 1.44]])
        u = [rng.multivariate_normal([0, 0], cov, size=10_000) for _ in range(3)]
        want = _by_hand(tree, joint, d1, d2, small_frame, u1=[a[:, 0] for a in u],
                        u2=[a[:, 1] for a in u])
        got, _ = total_probabilities(tree, joint, d1, d2, small_frame)
        np.testing.assert_allclose(got.values, want, atol=0.005)  # MC error ~0.002
        results[rho] = got.values
    # a positive correlation of the complex effects raises P(both): the product of two
    # increasing functions of correlated effects
    assert (results[0.9] - results[0.0]).min() > 0.01  # every form, every draw


def test_joint_model_shares_one_correlated_complex_effect(friendly):
    joint, d1, d2 = friendly
    model = build_joint_model(joint, d1, d2)
    names = {v.name for v in model.free_RVs + model.deterministics}
    assert {"sd_complex_id", "corr_complex_id", "z_complex_id", "contact::beta",
            "contact::thresholds", "friendly_contact::intercept",
            "friendly_contact::living_form_contrast"} <= names
    assert model.coords["part"] == ("contact", "friendly_contact")
    assert len(model.coords["complex_id"]) == len(d1.level_labels["complex_id"])


def test_two_part_models_need_matching_parts():
    specs = default_specs()
    with pytest.raises(ValueError, match="mediator values"):
        TwoPart("x", specs["contact"], specs["friendly_contact"], (2, 3), "contact >= 2",
                "contact_daily", {2: 0.0})
    with pytest.raises(ValueError, match="at most one ordinal"):
        TwoPart("x", specs["contact"], specs["activity_participation"], (2, 3), "c")
    with pytest.raises(ValueError, match="family"):
        TwoPart("x", specs["cohesion"], specs["friendly_contact"], (2, 3), "c")
    assert set(two_part_specs(default_specs(adjustment="both"))) == {
        "friendly_contact__total", "activity_participation__total",
        "friendly_contact__pre_residence__total", "activity_participation__pre_residence__total"}


def test_fitted_joint_model_gives_total_effect_rows(friendly, small_frame):
    from inference.engine import Engine, SamplerSettings

    joint, d1, d2 = friendly
    tree = Engine().fit_joint(joint, d1, d2, SamplerSettings(draws=100, tune=150, chains=2,
                                                             seed=2, predictive=False))
    assert tree["posterior"]["corr_complex_id"].shape[-1] == 1
    rows = total_effects(tree, joint, d1, d2, small_frame, max_draws=50,
                         pooled={"non-clustered": ("GG", "LZ", "HZ")}, subgroup="RO")
    assert set(rows["effect"]) == {"unconditional"}
    assert rows["event"].iloc[0] == "P(contact >= 2 and friendly_contact = 1)"
    assert rows["subgroup"].iloc[0] == "living_form=RO"
    levels = rows[~rows["contrast"].str.contains(" - ")]
    assert ((levels["mean"] > 0) & (levels["mean"] < 100)).all()
    assert "RB - non-clustered" in set(rows["contrast"])


def test_estimand_comparison_shifts_from_the_reports_own_contrast():
    import pandas as pd

    from diagnostics.tables import estimand_comparison

    base = {"scale": "probability", "estimand": "new_complex", "subgroup": "all analysed",
            "outcome": "friendly_contact", "sd": 1.0, "q05": 0.0, "q95": 1.0}
    rows = [base | {"model": m, "contrast": c, "effect": e, "adjustment": a, "mean": v}
            for m, e, a, v in (("friendly_contact", "conditional", "study", 10.0),
                               ("friendly_contact__total", "unconditional", "study", 14.0),
                               ("friendly_contact__pre_residence", "conditional",
                                "pre_residence", 11.5))
            for c, v in (("RB - HZ", v), ("RB - non-clustered", v + 1), ("RB", 30.0))]
    rows.append(base | {"model": "friendly_contact", "contrast": "RB - HZ", "effect":
                        "conditional", "adjustment": "study", "mean": 99.0,
                        "estimand": "typical_complex"})
    table = estimand_comparison(pd.DataFrame(rows)).set_index("model")
    assert set(table["contrast"]) == {"RB - HZ"}
    assert table.loc["friendly_contact__total", "shift"] == pytest.approx(4.0)
    assert table.loc["friendly_contact__pre_residence", "shift"] == pytest.approx(1.5)
    assert table.loc["friendly_contact", "shift"] == 0.0
    one = pd.DataFrame([r for r in rows if r["model"] == "friendly_contact"])
    assert estimand_comparison(one).empty  # a single estimand: nothing to compare


def test_total_with_per_draw_weights_and_a_population_target(friendly, small_frame):
    """Per-draw weights longer than the draws, with draws not a multiple of the chunk; equal
    per-draw weights give the unweighted total; a population target whose cells all have
    respondents and equal counts per respondent is the unweighted total too."""
    from data.population import Population, mrp_target
    from models.design import aligned_frame

    joint, d1, d2 = friendly
    tree = _fake_tree(joint, d1, d2, rho=0.3, n_draws=7)
    plain, _ = total_probabilities(tree, joint, d1, d2, small_frame, chunk=3)
    ones = np.ones((50, d1.n))
    weighted, _ = total_probabilities(tree, joint, d1, d2, small_frame, chunk=3,
                                      row_weights=ones)
    np.testing.assert_allclose(weighted.values, plain.values, rtol=1e-10)
    rows = aligned_frame(small_frame, joint.gate, d1).reset_index(drop=True)
    counts = rows.groupby(["living_form", "female"]).size().rename("count").reset_index()
    pop = Population(name="p", kind="cells", cells=("living_form", "female"), counts=counts)
    target = mrp_target(pop, rows, draws=40, seed=1).within(np.arange(d1.n), rows)
    got, _ = total_probabilities(tree, joint, d1, d2, small_frame, chunk=3,
                                 row_weights=target)
    # counts equal to the respondents: the Bayesian bootstrap varies the weights per draw,
    # so the target's total differs from the plain one only by that reweighting
    assert got.shape == plain.shape
    np.testing.assert_allclose(got.values, plain.values, atol=0.03)
