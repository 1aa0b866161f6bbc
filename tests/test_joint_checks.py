"""Checks of the joint two-part models: the per-tenant likelihood, the predictive checks of
the joint event, and the whole path through the main job."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import run_models
from data.suite import default_specs, two_part_specs
from diagnostics.joint_checks import joint_pointwise, joint_ppc_table
from models.design import prepare


@pytest.fixture(scope="module")
def friendly(small_frame):
    joint = two_part_specs(default_specs())["friendly_contact__total"]
    return joint, prepare(small_frame, joint.gate), prepare(small_frame, joint.part)


def _posterior(joint, d1, d2, *, intercept=-0.5, sd=(0.8, 0.6), rho=0.5, n_draws=40,
               seed=5):
    """A posterior of the joint model's shape, every draw a hand-set parameter point."""
    rng = np.random.default_rng(seed)
    g, p = joint.gate.name, joint.part.name
    n_forms, n_cx = len(d1.level_labels["living_form"]), len(d1.level_labels["complex_id"])

    def var(*shape, scale=0.3, loc=0.0):
        return loc + scale * rng.standard_normal((1, n_draws, *shape))
    cuts = np.sort(var(2, scale=0.2), axis=-1) + np.array([-1.0, 0.8])
    post = xr.Dataset({
        f"{g}::beta": (("chain", "draw", "t1"), var(len(d1.term_names))),
        f"{g}::thresholds": (("chain", "draw", "threshold"), cuts),
        f"{g}::living_form_effect": (("chain", "draw", "living_form"), var(n_forms)),
        f"{p}::beta": (("chain", "draw", "t2"), var(len(d2.term_names))),
        f"{p}::intercept": (("chain", "draw"), np.full((1, n_draws), float(intercept))),
        f"{p}::living_form_effect": (("chain", "draw", "living_form"), var(n_forms)),
        "sd_complex_id": (("chain", "draw", "part"), np.broadcast_to(sd, (1, n_draws, 2))),
        "corr_complex_id": (("chain", "draw", "pair"), np.full((1, n_draws, 1), rho)),
        "z_complex_id": (("chain", "draw", "complex_id", "part"), var(n_cx, 2, scale=1.0)),
    })
    return xr.DataTree.from_dict({"posterior": post})


def test_pointwise_likelihood_is_gate_plus_part_by_hand(friendly):
    joint, d1, d2 = friendly
    tree = _posterior(joint, d1, d2)
    ll = joint_pointwise(tree, joint, d1, d2)
    assert ll.dims == ("chain", "draw", "tenant") and ll.shape[-1] == d1.n
    post = {k: v.values[0] for k, v in tree["posterior"].items()}
    g, p = joint.gate.name, joint.part.name
    part_row = {r: i for i, r in enumerate(d2.row_ids)}
    s = 7
    sd, rho, z = post["sd_complex_id"][s], post["corr_complex_id"][s, 0], post["z_complex_id"][s]
    u1, u2 = sd[0] * z[:, 0], sd[1] * (rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1])
    for i in (0, 5, d1.n - 1):
        f, c = d1.level_idx["living_form"][i], d1.level_idx["complex_id"][i]
        eta = d1.X[i] @ post[f"{g}::beta"][s] + post[f"{g}::living_form_effect"][s, f] + u1[c]
        below = np.concatenate([[0.0], expit(post[f"{g}::thresholds"][s] - eta), [1.0]])
        want = np.log(below[int(d1.y[i]) + 1] - below[int(d1.y[i])])
        if d1.row_ids[i] in part_row:
            k = part_row[d1.row_ids[i]]
            eta2 = d2.X[k] @ post[f"{p}::beta"][s] + post[f"{p}::living_form_effect"][s, f] \
                + u2[c] + post[f"{p}::intercept"][s]
            q = expit(eta2)
            want += np.log(q if d2.y[k] == 1 else 1 - q)
        assert float(ll.values[0, s, i]) == pytest.approx(want, rel=1e-9), i


def test_joint_event_check_flags_a_wrong_part_and_passes_a_plausible_one(friendly, small_frame):
    joint, d1, d2 = friendly
    observed = pd.Series(np.asarray(d2.y), index=list(d2.row_ids)).mean()
    plausible = _posterior(joint, d1, d2, intercept=float(np.log(observed / (1 - observed))))
    wrong = _posterior(joint, d1, d2, intercept=4.0)  # friendly contact almost certain
    good = joint_ppc_table(plausible, joint, d1, d2, small_frame, max_draws=40)
    bad = joint_ppc_table(wrong, joint, d1, d2, small_frame, max_draws=40)
    for table in (good, bad):
        assert set(table["check"]) == {"joint event", "joint between-group spread"}
        assert table["ppp"].between(0, 1).all() and set(table["model"]) == {joint.name}
        assert "all" in set(table["group"])
    share = lambda t: t[(t["check"] == "joint event") & (t["group"] == "all")].iloc[0]  # noqa
    assert share(bad)["verdict"] == "misfit" and share(bad)["replicated_mean"] > \
        share(bad)["observed"] + 0.2
    assert share(good)["verdict"] == "ok"


@pytest.mark.slow
def test_main_job_checks_the_joint_models(data_dir, tmp_path):
    """Slow tier (about 2 minutes on a quiet machine): the joint checks through the main job."""
    out = tmp_path / "run"
    argv = ["--data", str(data_dir), "--outcomes", "contact,friendly_contact", "--draws", "60",
            "--tune", "80", "--chains", "2", "--out", str(out)]
    assert run_models.main(argv) in (0, 1)
    loo = pd.read_csv(out / "loo.csv").set_index("model")
    assert "friendly_contact__total" in loo.index
    row = loo.loc["friendly_contact__total"]
    assert np.isfinite(row["elpd_loo"]) and np.isfinite(row["elpd_diff_vs_separate"])
    ppc = pd.read_csv(out / "ppc.csv")
    assert (ppc["model"] == "friendly_contact__total").sum() >= 2
    psense = pd.read_csv(out / "psense.csv")
    joint = psense[psense["model"] == "friendly_contact__total"]
    assert any("corr_complex_id" in p for p in joint["parameter"])
    diag = pd.read_csv(out / "diagnostics.csv").set_index("model")
    assert "ppc_misfits" in diag and "friendly_contact__total" in diag.index
    assert "joint models: LOO, predictive checks, prior sensitivity" in \
        json.loads((out / "run.json").read_text())["phases_s"]


def test_joint_spread_check_flags_an_opposite_complex_correlation(friendly, small_frame):
    """A planted world: the joint event drawn from the joint model whose gate and part
    complex effects correlate +0.9 (large SDs). Checked against the posterior that made it,
    the between-complex spread of the joint event is quiet; against the same posterior with
    the correlation reversed (-0.9) it is a misfit -- the spread of the joint event is what
    the correlation moves."""
    from diagnostics.joint_checks import joint_event_replicates

    joint, d1, d2 = friendly
    truth = _posterior(joint, d1, d2, sd=(2.5, 2.5), rho=0.9, n_draws=1, seed=9)
    planted = joint_event_replicates(truth, joint, d1, d2, small_frame, seed=4)[0]
    right = _posterior(joint, d1, d2, sd=(2.5, 2.5), rho=0.9, n_draws=200, seed=9)
    wrong = _posterior(joint, d1, d2, sd=(2.5, 2.5), rho=-0.9, n_draws=200, seed=9)

    def spread(tree):
        t = joint_ppc_table(tree, joint, d1, d2, small_frame, observed=planted, seed=1)
        return t[(t["check"] == "joint between-group spread") & (t["group"] == "all")].iloc[0]

    good, bad = spread(right), spread(wrong)
    assert good["verdict"] == "ok", good
    assert bad["verdict"] == "misfit" and bad["replicated_mean"] < bad["observed"], bad
