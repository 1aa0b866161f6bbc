"""Simulation-based calibration: ranks, uniformity verdicts, and a wrong model flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import run_models
from data.suite import default_specs
from diagnostics.calibration import sbc_figure, sbc_tree, uniformity_table
from inference.engine import SamplerSettings
from inference.parallel import run_tasks
from inference.sbc import (
    flatten_draws,
    misspecified,
    results_frame,
    sbc_task,
    sbc_tasks,
    subsample_design,
)
from models.design import prepare

SETTINGS = SamplerSettings(draws=200, tune=200, chains=2, seed=4, predictive=False)


def _synthetic(pits: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame([{"sim": i, "parameter": p, "pit": v, "rank": 0, "n_draws": 1,
                          "truth": 0.0, "divergences": 0}
                         for p, vals in pits.items() for i, v in enumerate(vals)])


def test_uniformity_flags_overconfident_and_biased_parameters():
    rng = np.random.default_rng(0)
    ranks = _synthetic({"ok_a": rng.uniform(size=200), "ok_b": rng.uniform(size=200),
                        "overconfident": rng.beta(0.5, 0.5, size=200),  # U-shaped ranks
                        "biased": rng.uniform(size=200) ** 2})  # truth too often low
    table = uniformity_table(ranks).set_index("parameter")
    assert table.loc["overconfident", "verdict"] == "miscalibrated"
    assert table.loc["overconfident", "coverage90"] < 0.8
    assert table.loc["biased", "verdict"] == "miscalibrated"
    assert table.loc["biased", "mean_pit"] < 0.4
    assert (table.loc[["ok_a", "ok_b"], "verdict"] == "ok").all()
    assert (table["sims"] == 200).all()
    assert list(sbc_tree(ranks)["prior_sbc"].dataset.data_vars) == list(table.index)
    sbc_figure(ranks, table=table.reset_index())


def test_flatten_draws_labels_every_element():
    import xarray as xr

    ds = xr.Dataset({"beta": (("chain", "draw", "term"), np.zeros((2, 3, 2))),
                     "sd_g": (("chain", "draw"), np.ones((2, 3))),
                     "z_g": (("chain", "draw", "g"), np.ones((2, 3, 4)))},
                    coords={"term": ["a", "b"]})
    flat = flatten_draws(ds)
    assert list(flat) == ["beta[a]", "beta[b]", "sd_g"]  # structural offsets left out
    assert flat["beta[a]"].shape == (2, 3)


def test_subsample_keeps_whole_complexes_and_every_form(small_frame):
    sub = subsample_design(small_frame, 150, group="complex_id", stratum="living_form", seed=1)
    assert 120 <= len(sub) <= 260
    assert set(sub["living_form"]) == set(small_frame["living_form"])
    full_sizes = small_frame.groupby("complex_id").size()
    assert (sub.groupby("complex_id").size() == full_sizes[sub["complex_id"].unique()]).all()
    assert subsample_design(small_frame, 10_000, group="complex_id", stratum=None,
                            seed=1) is small_frame


def test_new_response_keeps_the_gaussian_prior(small_frame):
    spec = default_specs()["cohesion"]
    data = prepare(small_frame, spec)
    other = data.with_y(data.y * 10 + 3)
    assert (other.y_mean, other.y_sd) == (data.y_mean, data.y_sd)
    with pytest.raises(ValueError, match="shape"):
        data.with_y(data.y[:-1])


def test_sbc_tasks_are_reproducible_and_carry_the_prior_draws(small_frame):
    spec = default_specs()["lonely"]
    data = prepare(small_frame, spec)
    a = sbc_tasks(spec, data, sims=3, seed=9, settings=SETTINGS)
    b = sbc_tasks(spec, data, sims=3, seed=9, settings=SETTINGS)
    assert [t.fingerprint for t in a] == [t.fingerprint for t in b]
    assert a[0].kwargs["truth"] == b[0].kwargs["truth"]
    np.testing.assert_array_equal(a[2].kwargs["y"], b[2].kwargs["y"])
    assert set(np.unique(a[0].kwargs["y"])) <= {0, 1} and a[0].kwargs["y"].shape == data.y.shape
    assert {"sd_complex_id", "intercept", "living_form_contrast[RB - HZ]"} <= \
        set(a[0].kwargs["truth"])
    c = sbc_tasks(spec, data, sims=3, seed=10, settings=SETTINGS)
    assert a[0].kwargs["truth"] != c[0].kwargs["truth"]


@pytest.fixture(scope="module")
def lonely_design(small_frame):
    spec = default_specs()["lonely"]
    sub = subsample_design(small_frame, 250, group="complex_id", stratum="living_form", seed=2)
    return spec, sub


def test_correct_model_is_calibrated_on_a_two_worker_cluster(lonely_design, tmp_path):
    spec, frame = lonely_design
    data = prepare(frame, spec)
    tasks = sbc_tasks(spec, data, sims=40, seed=3, settings=SETTINGS)
    batch = run_tasks(sbc_task, tasks, store=tmp_path, shared={"spec": spec, "data": data},
                      workers=2)
    assert not batch.failures and batch.workers == 2 and len(batch.results) == 40
    ranks = results_frame(batch.results)
    assert (ranks["rank"] <= ranks["n_draws"]).all() and ranks["pit"].between(0, 1).all()
    table = uniformity_table(ranks)
    assert (table["verdict"] == "ok").all(), table[table["verdict"] != "ok"]
    # every parameter, and the six new-complex probability contrasts vs HZ
    assert len(table) == len(flatten_draws(_posterior_like(data, spec))) + 6
    prob = ranks[ranks["parameter"].str.startswith("P[new complex: ")]
    assert prob["parameter"].nunique() == 6 and prob["truth"].abs().max() < 1


def _posterior_like(data, spec):
    """The non-structural variables a fit of ``spec`` has (from a prior draw)."""
    import pymc as pm

    from models.build import build_model

    return pm.sample_prior_predictive(draws=1, model=build_model(spec, data),
                                      random_seed=0)["prior"].dataset


@pytest.mark.slow  # 50 s; the slow tier's SBC also flags a model without the complex level
def test_wrong_model_is_flagged(lonely_design, tmp_path):
    spec, frame = lonely_design
    data = prepare(frame, spec)
    fit_spec, settings = misspecified(spec, SETTINGS, "prior-mismatch")
    tasks = sbc_tasks(spec, data, sims=40, seed=3, settings=settings, fit_spec=fit_spec)
    batch = run_tasks(sbc_task, tasks, store=tmp_path, shared={"spec": fit_spec, "data": data},
                      scheduler="serial")
    table = uniformity_table(results_frame(batch.results))
    assert (table["verdict"] == "miscalibrated").any()
    assert table["coverage90"].mean() < 0.85


def test_misspecifications():
    spec = default_specs()["contact"]
    nc, s = misspecified(spec, SETTINGS, "no-complex")
    assert nc.levels == ("living_form",) and s == SETTINGS
    narrow, _ = misspecified(spec, SETTINGS, "prior-mismatch")
    assert narrow.prior["beta_sd"] == pytest.approx(spec.prior["beta_sd"] / 3)
    with pytest.raises(ValueError, match="unknown misspecification"):
        misspecified(spec, SETTINGS, "typo")


def test_cli_sbc_writes_results_and_resumes(data_dir, tmp_path, capsys):
    argv = ["sbc", "--data", str(data_dir), "--outcome", "lonely", "--sims", "4",
            "--n-tenants", "200", "--draws", "100", "--tune", "100", "--scheduler", "serial",
            "--out", str(tmp_path)]
    assert run_models.main(argv) == 0
    out = capsys.readouterr().out
    assert "per simulation" in out and "parameters, min p" in out
    for name in ("uniformity.csv", "ranks.csv", "ecdf.png", "run.json"):
        assert (tmp_path / "lonely" / name).exists(), name
    assert len(list((tmp_path / "lonely" / "tasks").glob("sim-*.json"))) == 4
    assert run_models.main(argv) == 0
    assert "4 of 4 tasks already done" in capsys.readouterr().out


def test_cli_sbc_unknown_outcome_is_a_clean_error(data_dir, tmp_path, capsys):
    rc = run_models.main(["sbc", "--data", str(data_dir), "--outcome", "nope", "--sims", "3",
                          "--out", str(tmp_path)])
    assert rc == 2 and "unknown outcome" in capsys.readouterr().err
