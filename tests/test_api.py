"""The Python API (clusterwonen): a run made from Python equals the command line's, a run
folder loads back as tables and DataTrees, and the example notebook runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

import clusterwonen as cw
import run_models

ROOT = Path(__file__).resolve().parents[1]
PUPILS = ROOT / "examples" / "pupils.toml"
TINY = {"draws": 30, "tune": 30, "chains": 2, "seed": 3}
TABLES = ("effects", "summary", "diagnostics")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    argv = ["fit", "--config", str(PUPILS), "--outcomes", "score", "--out", str(out)]
    for key, value in TINY.items():
        argv += [f"--{key}", str(value)]
    assert run_models.main(argv) == 0
    return out


def test_fit_from_python_equals_the_command_line_at_the_same_seed(cli_run, tmp_path):
    run = cw.fit(PUPILS, outcomes="score", out=tmp_path / "api", **TINY)
    cli = cw.load_run(cli_run)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(run, name), getattr(cli, name), obj=name)
    xr.testing.assert_equal(run.trees["score"]["posterior"].to_dataset(),
                            cli.trees["score"]["posterior"].to_dataset())


def test_load_run_reads_the_tables_and_trees_of_a_cli_run(cli_run):
    run = cw.load_run(cli_run)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(run, name), pd.read_csv(cli_run / f"{name}.csv"))
    assert run.models == ["score"] and "effects" in run.tables
    assert set(run.effects["contrast"]) >= {"S2 - S1", "S6 - S1"}
    tree = run.trees["score"]
    assert isinstance(tree, xr.DataTree) and "school_contrast" in tree["posterior"]
    assert tree["posterior"].sizes["chain"] == TINY["chains"]
    assert run.report() == cli_run / "report.html" and run.report().exists()
    with pytest.raises(FileNotFoundError, match="no table 'compare'"):
        run.table("compare")
    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        cw.load_run(cli_run / "fits")


def test_fit_errors_are_raised_with_the_commands_message(tmp_path):
    with pytest.raises(cw.FitError, match="uncorrelated varying slopes"):
        cw.fit("score ~ girl + (1 + girl || school)", data=ROOT / "examples" / "pupils.csv",
               out=tmp_path / "x", **TINY)
    with pytest.raises(cw.FitError, match=r"column\(s\) \['nope'\] not in the data"):
        cw.fit("score ~ nope + (1 | school)", data=ROOT / "examples" / "pupils.csv",
               out=tmp_path / "y", **TINY)
    with pytest.raises(FileNotFoundError, match="neither a formula"):
        cw.fit("no_such.toml")


@pytest.mark.slow  # two fits and a report: 54 s alone, over 100 s on a busy machine
def test_the_example_notebook_runs(tmp_path):
    """examples/notebook.py (jupytext percent format) as a script at tiny draws: a config
    fit, the same model as a formula, effects, an arviz-plots figure, the report."""
    env = os.environ | {"NOTEBOOK_OUT": str(tmp_path), "NOTEBOOK_DRAWS": "30",
                        "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook.py")], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "school_contrasts.png").exists()
    assert (tmp_path / "config" / "report.html").exists()
    formula = cw.load_run(tmp_path / "formula")
    assert formula.models == ["score"] and len(formula.effects)
