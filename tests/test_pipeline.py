"""End-to-end: fit a small suite, save/reuse fits with provenance, and the ``fit`` CLI.

Sampling is kept tiny (60 draws, 60 tuning steps, 2 chains) on the small simulated frame:
these tests check plumbing (files, groups, hashes, reuse, exit codes), not posteriors.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import run_models
import workflows.fit
from data import codebook as cb
from data.suite import default_specs
from diagnostics.tables import EFFECT_COLUMNS, SUMMARY_COLUMNS
from inference import store
from inference.engine import Engine, SamplerSettings
from inference.store import FitMismatchError, load_fit, save_fit, try_load_fit
from inference.suite import fit_suite
from models.design import prepare
from models.spec import ModelSpec

SETTINGS = SamplerSettings(draws=60, tune=60, chains=2, prior_draws=20, seed=3)
GROUPS = ("posterior", "sample_stats", "log_likelihood", "log_prior", "posterior_predictive",
          "prior", "prior_predictive")
CONTRASTS = [f"{f} - {cb.REFERENCE_FORM}" for f in cb.FORM_CODES if f != cb.REFERENCE_FORM]


@pytest.fixture(scope="module")
def suite(small_frame, tmp_path_factory):
    """gossip and lonely (both Bernoulli, same terms: one compiled structure), fitted once."""
    specs = {k: v for k, v in default_specs().items() if k in ("gossip", "lonely")}
    assert specs["gossip"].structure_key == specs["lonely"].structure_key
    fits_dir = tmp_path_factory.mktemp("fits")
    engine = Engine()
    messages = []
    results = fit_suite(specs, small_frame, settings=SETTINGS, fits_dir=fits_dir,
                        engine=engine, progress=messages.append)
    return {"specs": specs, "fits_dir": fits_dir, "engine": engine, "results": results,
            "messages": messages}


def _keys(result, settings=SETTINGS) -> dict:
    return {"spec_json": result.spec.to_json(), "data_hash": result.data.data_hash(),
            "settings_json": settings.to_json()}


# --------------------------------------------------------------------------------------
# fit_suite
# --------------------------------------------------------------------------------------
def test_suite_writes_one_file_per_model_and_nothing_else(suite):
    names = sorted(p.name for p in suite["fits_dir"].iterdir())
    assert names == ["gossip.nc", "lonely.nc"]  # in particular no leftover temp files
    assert [r.spec.name for r in suite["results"]] == ["gossip", "lonely"]
    assert all(not r.reused for r in suite["results"])
    assert all(r.path == suite["fits_dir"] / f"{r.spec.name}.nc" for r in suite["results"])
    assert any("gossip" in m and "fitting" in m for m in suite["messages"])
    # a fresh fit carries the same provenance as one loaded from disk
    assert all(r.tree.attrs["fit_hash"] and r.tree.attrs["spec"] == r.spec.to_json()
               for r in suite["results"])


def test_saved_fit_reloads_into_an_equal_spec(suite):
    for result in suite["results"]:
        tree = xr.open_datatree(result.path, engine="netcdf4").load()
        tree.close()
        spec = ModelSpec.from_json(tree.attrs["spec"])
        assert spec == result.spec
        assert spec.to_json() == tree.attrs["spec"]


@pytest.mark.parametrize("index", [0, 1])
def test_saved_fit_has_all_groups_and_provenance(suite, index):
    result = suite["results"][index]
    tree = xr.open_datatree(result.path, engine="netcdf4").load()
    tree.close()
    assert set(GROUPS) <= set(tree.children)
    post = tree["posterior"]
    assert post.sizes["chain"] == SETTINGS.chains and post.sizes["draw"] == SETTINGS.draws
    assert tree["prior"].sizes["draw"] == SETTINGS.prior_draws
    assert list(post["living_form_contrast"]["contrast"].values) == CONTRASTS
    assert list(post["beta"]["term"].values) == list(result.data.term_names)
    assert tree["log_likelihood"]["y"].shape == (SETTINGS.chains, SETTINGS.draws,
                                                 result.data.n)
    assert tree["posterior_predictive"]["y"].shape == (SETTINGS.chains, SETTINGS.draws,
                                                       result.data.n)
    attrs = tree.attrs
    assert attrs["spec"] == result.spec.to_json()
    assert json.loads(attrs["spec"])["name"] == result.spec.name
    assert attrs["data_hash"] == result.data.data_hash()
    assert attrs["sampler_settings"] == SETTINGS.to_json()
    assert attrs["fit_hash"] == store.fit_hash(attrs["spec"], attrs["data_hash"],
                                               attrs["sampler_settings"])
    versions = json.loads(attrs["package_versions"])
    assert {"pymc", "nutpie", "numpy"} <= set(versions)
    assert versions["pymc"] != "absent"
    # the returned tree is what was saved
    np.testing.assert_array_equal(tree["posterior"]["beta"].values,
                                  result.tree["posterior"]["beta"].values)


def test_models_of_one_shape_share_a_compiled_structure(suite):
    engine = suite["engine"]
    assert len(engine._cache) == 1
    first, second = engine.timings
    assert [first["model"], second["model"]] == ["gossip", "lonely"]
    assert second["compile_s"] < 0.2 * first["compile_s"]
    # sharing the structure did not share the data: the two posteriors differ
    gossip, lonely = (r.tree["posterior"]["intercept"].values for r in suite["results"])
    assert not np.allclose(gossip, lonely)


def test_rerun_reuses_saved_fits(suite, small_frame):
    engine = suite["engine"]
    n_fits = len(engine.timings)
    again = fit_suite(suite["specs"], small_frame, settings=SETTINGS,
                      fits_dir=suite["fits_dir"], engine=engine, progress=lambda m: None)
    assert [r.reused for r in again] == [True, True]
    assert len(engine.timings) == n_fits  # nothing sampled
    for old, new in zip(suite["results"], again, strict=True):
        assert set(GROUPS) <= set(new.tree.children)
        for var in old.tree["posterior"].data_vars:
            np.testing.assert_array_equal(new.tree["posterior"][var].values,
                                          old.tree["posterior"][var].values, err_msg=var)
    assert sorted(p.name for p in suite["fits_dir"].iterdir()) == ["gossip.nc", "lonely.nc"]


def test_other_settings_data_or_spec_do_not_reuse(suite, small_frame):
    result = suite["results"][0]
    assert try_load_fit(result.path, **_keys(result)) is not None
    other_seed = dataclasses.replace(SETTINGS, seed=SETTINGS.seed + 1)
    assert try_load_fit(result.path, **_keys(result, other_seed)) is None
    with pytest.raises(FitMismatchError, match="another spec, data or sampler settings"):
        load_fit(result.path, **_keys(result, other_seed))
    # other data: one response flipped
    frame = small_frame.copy()
    frame["gossip"] = frame["gossip"].astype("Int64")
    frame.loc[frame.index[0], "gossip"] = 1 - frame.loc[frame.index[0], "gossip"]
    other_data = prepare(frame, result.spec)
    assert other_data.data_hash() != result.data.data_hash()
    assert try_load_fit(result.path, **(_keys(result) | {
        "data_hash": other_data.data_hash()})) is None
    # other priors
    other_spec = result.spec.with_(priors={"beta_sd": 1.0})
    assert try_load_fit(result.path, **(_keys(result) | {
        "spec_json": other_spec.to_json()})) is None
    assert try_load_fit(result.path.with_name("absent.nc"), **_keys(result)) is None


def test_tampered_attrs_are_refused(suite, tmp_path):
    result = suite["results"][0]
    tree = xr.open_datatree(result.path, engine="netcdf4").load()
    tree.close()
    spec = json.loads(tree.attrs["spec"])
    spec["priors"]["beta_sd"] = 99.0
    tree.attrs["spec"] = json.dumps(spec, sort_keys=True)  # fit_hash left as it was
    tampered = tmp_path / "tampered.nc"
    tree.to_netcdf(tampered, engine="netcdf4")
    with pytest.raises(FitMismatchError, match="altered"):
        load_fit(tampered, **_keys(result))
    assert try_load_fit(tampered, **_keys(result)) is None
    # also refused when asked for with the tampered spec itself
    with pytest.raises(FitMismatchError):
        load_fit(tampered, **(_keys(result) | {"spec_json": tree.attrs["spec"]}))


def test_save_is_atomic_when_writing_fails(suite, tmp_path, monkeypatch):
    result = suite["results"][0]
    path = tmp_path / "fit.nc"
    keys = _keys(result)
    save_fit(result.tree, path, **keys)
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        with open(target, "wb") as fh:  # a partial file, then the crash
            fh.write(b"CDF\x01 half written")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        save_fit(result.tree, path, **keys)
    with pytest.raises(OSError, match="disk full"):
        save_fit(result.tree, tmp_path / "new.nc", **keys)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]  # no temp, no new.nc
    assert path.read_bytes() == before
    assert load_fit(path, **keys) is not None


# --------------------------------------------------------------------------------------
# The fit CLI
# --------------------------------------------------------------------------------------
def test_cli_fits_and_writes_tables(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(data_dir), "--outcomes", "gossip", "--draws", "40", "--tune", "40",
            "--chains", "2", "--out", str(out)]
    assert run_models.main(argv) == 0
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err
    assert f"{cb.REFERENCE_FORM}" in printed.out and "gossip" in printed.out

    assert sorted(p.name for p in (out / "fits").iterdir()) == ["gossip.nc"]
    for name in ("summary.csv", "effects.csv", "diagnostics.csv", "missing.csv", "psense.csv"):
        assert (out / name).exists(), name
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    timing = json.loads((out / "run.json").read_text())
    phases = timing["phases_s"]
    assert {"setup (config, load, validate, specs)", "figures and report",
            "fits (prepare, compile, sample, predictive)"} <= set(phases)
    assert 0 < sum(phases.values()) <= timing["total_s"] + 1e-6
    (model,) = timing["models"]
    assert model["model"] == "gossip" and not model["reused"]
    assert {"compile_s", "sample_s", "log_likelihood_s", "posterior_predictive_s"} <= set(model)
    assert timing["settings"]["adaptation"] == "draw_diag"
    # the sampling rounds per model: draws chosen, so one round and no top-up
    assert [(r["action"], r["chains"], r["draws"], r["tune"]) for r in model["rounds"]] == [
        ("first", 2, 40, 40)]
    assert (model["top_up_rounds"], model["top_up"]) == (0, "none")
    diagnostics = pd.read_csv(out / "diagnostics.csv")
    assert diagnostics.loc[0, "rounds"] == "2x40" and diagnostics.loc[0, "top_up_rounds"] == 0
    assert "time:" in printed.out and "verdicts:" in printed.out

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns)[:len(SUMMARY_COLUMNS)] == [
        "model", "outcome", "parameter", "mean", "sd", "q05", "q95", "r_hat", "ess_bulk",
        "ess_tail"]
    assert set(summary["model"]) == {"gossip"} and set(summary["outcome"]) == {"gossip"}
    params = set(summary["parameter"])
    assert {"intercept", "sd_complex_id", "sd_living_form"} <= params
    assert {f"living_form_contrast[{c}]" for c in CONTRASTS} <= params
    assert not any(p.startswith("z_") for p in params)  # per-complex offsets left out
    assert summary[["mean", "sd", "q05", "q95"]].notna().all().all()
    assert (summary["q05"] <= summary["q95"]).all()

    effects = pd.read_csv(out / "effects.csv")
    assert list(effects.columns)[:len(EFFECT_COLUMNS)] == [
        "model", "outcome", "contrast", "scale", "mean", "sd", "q05", "q95"]
    # what the effect may be called, from the causal graph: the study set holds shared
    # norms and outside contact fixed, so it is a controlled effect, never 'total'
    assert set(effects["effect"]) == {"unconditional"}
    assert set(effects["interpretation"]) == {"controlled"}
    assert set(effects["held_fixed"]) == {"little_outside_contact, shared_norms"}
    assert set(effects["estimand"].dropna()) <= {"new_complex", "typical_complex"}
    robustness = pd.read_csv(out / "robustness.csv")
    assert set(robustness["contrast"]) == {c for c in CONTRASTS}
    assert (robustness["e_value_interval"] >= 1).all()
    # a benchmark is named where there is something to overturn
    assert (robustness["benchmark"].notna() == (robustness["e_value_interval"] > 1)).all()
    head = effects[effects["e_value_interval"].notna()]
    assert set(head["scale"]) == {"probability"} and set(head["estimand"]) == {"new_complex"}
    assert 'id="robustness"' in (out / "report.html").read_text()
    latent = effects[effects["scale"] == "latent"]
    assert list(latent["contrast"]) == CONTRASTS
    assert (latent["model"] == "gossip").all()

    diagnostics = pd.read_csv(out / "diagnostics.csv")
    assert list(diagnostics["model"]) == ["gossip"]
    assert diagnostics["verdict"].isin(["ok", "warn", "fail"]).all()
    psense = pd.read_csv(out / "psense.csv")
    assert set(psense["model"]) == {"gossip"} and "diagnosis" in psense
    assert diagnostics["prior_sensitive"].iloc[0] == (psense["diagnosis"] != "ok").sum()

    # a rerun reuses the fit; --strict exits 1 exactly when a verdict is "fail"
    rc = run_models.main([*argv, "--strict"])
    printed = capsys.readouterr()
    assert "reusing saved fit" in printed.out
    assert rc == (1 if (diagnostics["verdict"] == "fail").any() else 0)


def test_cli_report_rebuilds_the_page_from_the_run_folder(data_dir, tmp_path, capsys):
    """``report`` rebuilds report.html and methods.md from the folder alone (no refit), and
    a concepts table written there since joins the page."""
    out = tmp_path / "run"
    assert run_models.main(["--data", str(data_dir), "--outcomes", "gossip", "--draws", "40",
                            "--tune", "40", "--chains", "2", "--out", str(out)]) == 0
    first = (out / "report.html").read_text()
    methods = (out / "methods.md").read_text()
    assert 'id="answer"' in first and 'id="headline-figure"' in first
    assert re.search(r"[\d,]+ tenants in \d+ complexes in 7 living forms", first)
    assert "gossip" in methods and "2 chains of 40 warm-up and 40 retained draws" in methods
    assert json.loads((out / "run.json").read_text())["report"]["methods"]["paragraphs"]
    (out / "report.html").unlink()
    (out / "methods.md").unlink()
    pd.DataFrame([{"model": "gossip", "name": "courtyard", "kind": "concept", "mean": 31.2,
                   "q05": 25.0, "q95": 37.9}]).to_csv(out / "concepts.csv", index=False)
    # a table an earlier run left in the folder is not this run's: it stays out
    assert not (out / "estimands.csv").exists()
    pd.DataFrame([{"outcome": "gossip", "contrast": "RB - HZ", "effect": e, "adjustment": "study",
                   "model": "gossip", "mean": 1.0, "q05": 0.0, "q95": 2.0}
                  for e in ("unconditional", "conditional")]).to_csv(out / "estimands.csv",
                                                                     index=False)
    fits_before = sorted((out / "fits").iterdir())
    capsys.readouterr()
    assert run_models.main(["report", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    again = (out / "report.html").read_text()
    assert 'id="concepts"' in again and "courtyard" in again
    assert 'id="estimands"' not in again
    assert "Methods (from this run" in again and (out / "methods.md").read_text() == methods
    assert sorted((out / "fits").iterdir()) == fits_before
    assert run_models.main(["report", "--out", str(tmp_path / "nothing")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_cli_invalid_data_exits_2_naming_file_column_and_row(data_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    cx = pd.read_csv(data_dir / "complexes.csv")
    tn = pd.read_csv(data_dir / "tenants.csv")
    tn.loc[3, "contact"] = 7
    cx.loc[5, "living_form"] = "XX"
    cx.to_csv(bad / "complexes.csv", index=False)
    tn.to_csv(bad / "tenants.csv", index=False)
    rc = run_models.main(["--data", str(bad), "--outcomes", "gossip", "--out",
                          str(tmp_path / "run")])
    printed = capsys.readouterr()
    assert rc == 2
    err = printed.err
    assert "Traceback" not in err + printed.out
    lines = err.splitlines()

    def names_all(*parts):
        return any(all(p in line for p in parts) for line in lines)

    assert names_all("tenants.csv", "'contact'", f"tenant_id={tn.loc[3, 'tenant_id']}", "7")
    assert names_all("complexes.csv", "'living_form'",
                     f"complex_id={cx.loc[5, 'complex_id']}", "XX")
    assert not (tmp_path / "run" / "fits").exists()


@pytest.fixture
def data_without_gossip(data_dir, tmp_path):
    directory = tmp_path / "no_gossip"
    directory.mkdir()
    shutil.copy(data_dir / "complexes.csv", directory / "complexes.csv")
    pd.read_csv(data_dir / "tenants.csv").drop(columns="gossip").to_csv(
        directory / "tenants.csv", index=False)
    return directory


def test_cli_reports_skipped_outcomes(data_without_gossip, tmp_path, capsys, monkeypatch):
    fitted = {}

    def fake_run(specs, frame, *, settings, out, **kwargs):  # no sampling: record the specs
        fitted.update(specs)
        return pd.DataFrame({"model": list(specs), "verdict": "ok"})

    monkeypatch.setattr(workflows.fit, "run_suite", fake_run)
    rc = run_models.main(["--data", str(data_without_gossip), "--out", str(tmp_path / "r")])
    printed = capsys.readouterr()
    assert rc == 0
    skipped = next(line for line in printed.out.splitlines() if "skipped" in line)
    assert "gossip" in skipped
    assert "gossip" not in fitted
    assert {"contact", "lonely", "cohesion"} <= set(fitted)


def test_cli_requesting_only_absent_outcomes_is_a_clean_error(data_without_gossip,
                                                              tmp_path, capsys):
    rc = run_models.main(["--data", str(data_without_gossip), "--outcomes", "gossip",
                          "--out", str(tmp_path / "r")])
    printed = capsys.readouterr()
    assert rc != 0
    assert "gossip" in printed.err
