"""Prior sensitivity: power-scaling diagnosis on real fits, and the refit-grid summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.simulate import analysis_frame
from data.suite import default_specs
from diagnostics.sensitivity import grid_table, prior_var_names, psense_table
from inference.engine import Engine, SamplerSettings
from models.design import prepare
from workflows.setup import DEFAULT_SEED

SETTINGS = SamplerSettings(draws=500, tune=400, chains=2, seed=8, prior_draws=20)


@pytest.fixture(scope="module")
def default_frame() -> pd.DataFrame:
    """The built-in default data set (full size: power-scaling needs a real likelihood)."""
    return analysis_frame(seed=DEFAULT_SEED)


@pytest.fixture(scope="module")
def lonely_fits(default_frame):
    """The loneliness model with its default priors and with a strong, conflicting one."""
    engine = Engine()
    spec = default_specs()["lonely"]
    strong = spec.with_(priors={"beta_sd": 0.05})  # coefficients pinned near 0; data disagree
    return {label: engine.fit(s, prepare(default_frame, s), SETTINGS)
            for label, s in (("default", spec), ("strong", strong))}


def test_structural_offsets_are_not_power_scaled(lonely_fits):
    names = prior_var_names(lonely_fits["default"])
    assert "beta" in names and "sd_complex_id" in names and "sd_living_form" in names
    assert not [n for n in names if n.startswith("z_") or n.endswith("_raw")]


def test_default_prior_is_not_flagged(lonely_fits):
    table = psense_table(lonely_fits["default"], model="lonely")
    assert set(table["diagnosis"]) == {"ok"}, table[table["diagnosis"] != "ok"]
    # every reported parameter has both sensitivities; contrasts included, offsets not
    assert table[["prior", "likelihood"]].notna().all().all()
    assert table["parameter"].str.startswith("living_form_contrast").sum() == 6
    assert not table["parameter"].str.startswith("z_").any()


def test_strong_conflicting_prior_is_flagged(lonely_fits):
    table = psense_table(lonely_fits["strong"], model="lonely")
    beta = table[table["parameter"].str.startswith("beta[")]
    flagged = beta[beta["diagnosis"] != "ok"]
    assert len(flagged) >= len(beta) // 2, table
    assert (beta["prior"] > 0.05).mean() >= 0.5


def test_psense_needs_log_prior(lonely_fits):
    tree = lonely_fits["default"].copy()
    del tree["log_prior"]
    with pytest.raises(ValueError, match="log_prior"):
        psense_table(tree, model="lonely")


def test_grid_table_shift_and_width():
    rows = pd.DataFrame({
        "model": "m", "scale": "latent", "contrast": ["A - B"] * 3,
        "prior": ["default", "tight", "wide"], "mean": [1.0, 0.5, 1.1],
        "sd": [0.5, 0.4, 0.5], "q05": [0.2, -0.1, 0.2], "q95": [1.8, 1.1, 2.2]})
    out = grid_table(rows).set_index("prior")
    np.testing.assert_allclose(out["shift_sd"], [0.0, -1.0, 0.2])
    np.testing.assert_allclose(out["width_ratio"], [1.0, 1.2 / 1.6, 2.0 / 1.6])
    assert out["moves"].tolist() == [False, True, False]
    with pytest.raises(ValueError, match="default"):
        grid_table(rows[rows["prior"] != "default"])


def test_prior_grid_from_config(tmp_path):
    from data.config import load_config
    from models.spec import DEFAULT_PRIOR_GRID, prior_grid

    assert list(prior_grid({})) == list(DEFAULT_PRIOR_GRID)
    assert {"sd_tight", "sd_wide", "beta_tight", "beta_wide", "heavy_tails"} <= \
        set(DEFAULT_PRIOR_GRID)
    cfg = tmp_path / "study.toml"
    cfg.write_text("[sensitivity.narrow_sd]\ngroup_sd_scale = 0.1\n")
    grid = prior_grid(load_config(cfg).sensitivity, source=str(cfg))
    assert grid == {"default": {}, "narrow_sd": {"group_sd_scale": 0.1}}
    for bad, message in (({"x": {"beta_sdd": 1.0}}, r"\[sensitivity.x\].*unknown prior"),
                         ({"x": {"beta_sd": -1.0}}, r"\[sensitivity.x\].*beta_sd"),
                         ({"x": 3}, r"\[sensitivity.x\] must be a table")):
        with pytest.raises(ValueError, match=message):
            prior_grid(bad, source="study.toml")


def test_cli_sensitivity_grid(data_dir, tmp_path, capsys):
    import run_models

    cfg = tmp_path / "grid.toml"
    cfg.write_text("[sensitivity.sd_tight]\nfocal_sd_scale = 0.1\ngroup_sd_scale = 0.1\n"
                   "[sensitivity.heavy]\nbeta_nu = 3\n")
    out = tmp_path / "sens"
    argv = ["sensitivity", "--data", str(data_dir), "--config", str(cfg), "--outcomes",
            "lonely", "--draws", "150", "--tune", "150", "--chains", "2",
            "--scheduler", "serial", "--out", str(out)]
    assert run_models.main(argv) == 0
    printed = capsys.readouterr().out
    assert "extra prior setting on a compiled model" in printed
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table["prior"]) == {"default", "sd_tight", "heavy"}
    assert set(table["scale"]) == {"latent", "probability"}
    assert (table["contrast"].str.endswith(" - HZ")).all()
    assert table.groupby(["prior", "scale"]).size().eq(6).all()
    base = table[table["prior"] == "default"]
    assert np.allclose(base["shift_sd"], 0) and np.allclose(base["width_ratio"], 1)
    # a tight form-SD prior shrinks the contrasts: narrower intervals than the default's
    tight = table[(table["prior"] == "sd_tight") & (table["scale"] == "latent")]
    assert tight["width_ratio"].mean() < 0.9
    fits = pd.read_csv(out / "fits.csv").set_index("prior")
    assert fits.loc["sd_tight", "compile_s"] < 1.0  # same graph: no recompile
    assert (out / "sensitivity_latent.png").exists()
    assert run_models.main(argv) == 0
    assert "3 of 3 tasks already done" in capsys.readouterr().out


def test_cli_sensitivity_bad_grid_is_a_clean_error(data_dir, tmp_path, capsys):
    import run_models

    cfg = tmp_path / "grid.toml"
    cfg.write_text("[sensitivity.oops]\nbeta_sd = 0\n")
    rc = run_models.main(["sensitivity", "--data", str(data_dir), "--config", str(cfg),
                          "--outcomes", "lonely", "--scheduler", "serial",
                          "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "[sensitivity.oops]" in err and "Traceback" not in err


# pip's PyTensor links no BLAS; the LKJ prior's initial point warns about it
@pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
def test_joint_grid_varies_the_correlation_prior(small_frame):
    """A joint two-part model is refitted under the grid and under LKJ eta at half and
    twice its value; a joint model with another eta builds and its prior differs."""
    import cloudpickle

    from data.suite import two_part_specs
    from inference.sensitivity import joint_grid_tasks, joint_prior_grid
    from models.joint import build_joint_model, joint_data_hash
    from models.spec import DEFAULT_PRIOR_GRID, DEFAULT_PRIORS, prior_grid

    grid = prior_grid({})
    jgrid = joint_prior_grid(grid)
    assert DEFAULT_PRIORS["lkj_eta"] == 2.0
    assert jgrid["lkj_eta_1"] == {"lkj_eta": 1.0} and jgrid["lkj_eta_4"] == {"lkj_eta": 4.0}
    assert set(jgrid) == set(DEFAULT_PRIOR_GRID) | {"lkj_eta_1", "lkj_eta_4"}
    assert set(joint_prior_grid(grid, eta=3.0)) - set(grid) == {"lkj_eta_1p5", "lkj_eta_6"}
    own = {"default": {}, "corr": {"lkj_eta": 10.0}}  # a grid that varies eta itself
    assert joint_prior_grid(own) == own

    joint = two_part_specs(default_specs())["friendly_contact__total"]
    d1, d2 = prepare(small_frame, joint.gate), prepare(small_frame, joint.part)
    tasks = joint_grid_tasks({joint.name: joint}, grid, settings=SETTINGS,
                             data_hashes={joint.name: joint_data_hash(d1, d2)})
    by_prior = {t.kwargs["prior"]: t for t in tasks}
    assert set(by_prior) == set(jgrid)
    assert len({t.fingerprint for t in tasks}) == len(tasks)
    eta4 = by_prior["lkj_eta_4"].kwargs["joint"]
    assert eta4.gate.prior["lkj_eta"] == eta4.part.prior["lkj_eta"] == 4.0
    assert by_prior["sd_tight"].kwargs["joint"].part.prior["group_sd_scale"] == 0.25
    assert cloudpickle.loads(cloudpickle.dumps(eta4)) == eta4  # as Dask sends it to workers

    logps = []
    for variant in (joint, eta4):
        model = build_joint_model(variant, d1, d2)
        logps.append(float(model.compile_logp(mode="FAST_COMPILE")(model.initial_point())))
    assert np.isfinite(logps).all() and logps[0] != logps[1]


@pytest.mark.slow  # four joint fits and four single ones, briefly (a few minutes)
def test_cli_sensitivity_refits_the_joint_model_under_the_correlation_prior(data_dir, tmp_path,
                                                                             capsys):
    import run_models

    cfg = tmp_path / "grid.toml"
    cfg.write_text("[sensitivity.sd_tight]\nfocal_sd_scale = 0.25\ngroup_sd_scale = 0.25\n")
    out = tmp_path / "sens"
    argv = ["sensitivity", "--data", str(data_dir), "--config", str(cfg), "--outcomes",
            "contact,friendly_contact", "--draws", "100", "--tune", "150", "--chains", "2",
            "--scheduler", "serial", "--out", str(out)]
    assert run_models.main(argv) == 0
    assert "lkj_eta_1, lkj_eta_4" in capsys.readouterr().out
    table = pd.read_csv(out / "sensitivity.csv")
    joint = table[table["model"] == "friendly_contact__total"]
    assert set(joint["prior"]) == {"default", "sd_tight", "lkj_eta_1", "lkj_eta_4"}
    assert set(table.loc[table["model"] != "friendly_contact__total", "prior"]) == \
        {"default", "sd_tight"}
    assert set(joint["scale"]) == {"latent", "probability", "correlation"}
    per = joint.groupby(["prior", "scale"]).size().unstack()
    assert (per["latent"] == 12).all() and (per["probability"] == 6).all()
    assert (per["correlation"] == 1).all()
    corr = joint[joint["scale"] == "correlation"].set_index("prior")
    assert corr["mean"].between(-1, 1).all() and corr.loc["default", "shift_sd"] == 0
    assert (out / "sensitivity_correlation.png").exists()


def test_sensitivity_command_adds_the_joint_tasks(data_dir, tmp_path, monkeypatch):
    """The workflow's wiring, without sampling: every fit replaced by a stub, the joint
    model's tasks run beside the single models' and land in one table."""
    import inference.sensitivity as sens
    import run_models

    def fake(model, prior, scale, labels):
        rows = [{"scale": scale, "contrast": c, "mean": 0.1, "sd": 1.0, "q05": -1.0,
                 "q95": 1.0} for c in labels]
        return {"model": model, "prior": prior, "rows": rows, "verdict": "pass",
                "reason": "", "divergences": 0, "compile_s": 2.0, "sample_s": 1.0,
                "total_s": 3.0, "priors": {}}

    seen = []
    monkeypatch.setattr(sens, "grid_task", lambda *, spec, prior, model, datas, settings:
                        fake(model, prior, "latent", ["RB - HZ"]))

    def joint_task(*, joint, prior, model, datas, frame, settings):
        seen.append((prior, joint.gate.prior["lkj_eta"], len(frame)))
        return fake(model, prior, "correlation", ["corr"])

    monkeypatch.setattr(sens, "joint_grid_task", joint_task)
    cfg = tmp_path / "grid.toml"
    cfg.write_text("[sensitivity.sd_tight]\ngroup_sd_scale = 0.25\n")
    out = tmp_path / "sens"
    assert run_models.main(["sensitivity", "--data", str(data_dir), "--config", str(cfg),
                            "--outcomes", "contact,friendly_contact", "--scheduler",
                            "serial", "--out", str(out)]) == 0
    assert sorted(p for p, _, _ in seen) == ["default", "lkj_eta_1", "lkj_eta_4", "sd_tight"]
    assert dict((p, eta) for p, eta, _ in seen)["lkj_eta_4"] == 4.0
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table.loc[table["scale"] == "correlation", "model"]) == \
        {"friendly_contact__total"}
    assert len(pd.read_csv(out / "fits.csv")) == 2 * 2 + 4
    assert (out / "sensitivity_correlation.png").exists()
