"""The entry point, the subcommand table, setup, the study wording and atomic writing."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pandas as pd
import pytest

import run_models
from data.config import load_config
from data.study import HOUSING, study_for
from inference.files import atomic_write, write_csv
from workflows import commands

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--draws", "30", "--tune", "30", "--chains", "1"]


def test_entry_point_is_short_and_imported_by_no_module():
    assert len((ROOT / "run_models.py").read_text().splitlines()) < 150
    importers = []
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or path.parent == ROOT / "tests" or path.name == "run_models.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            if "run_models" in names:
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


def test_one_table_feeds_parser_and_dispatch(monkeypatch):
    parser = commands.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {c.name for c in commands.COMMANDS}
    called = []
    patched = tuple(c.__class__(c.name, c.help, c.add_arguments,
                                lambda args, n=c.name: called.append(n) or 7)
                    for c in commands.COMMANDS)
    monkeypatch.setattr(run_models, "COMMANDS", patched)
    assert run_models.main(["compare", "--quick"]) == 7
    assert run_models.main(["--quick"]) == 7  # no subcommand: the default one
    assert called == ["compare", commands.DEFAULT_COMMAND]


def test_cli_choices_come_from_their_constants():
    from inference.engine import ADAPTATIONS, SAMPLERS
    from inference.sbc import MISSPECIFICATIONS
    from models.spec import VARIANTS

    parser = commands.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    fit = {a.dest: a for a in sub.choices["fit"]._actions}
    sbc = {a.dest: a for a in sub.choices["sbc"]._actions}
    assert tuple(fit["variant"].choices) == VARIANTS
    assert tuple(fit["sampler"].choices) == SAMPLERS
    assert tuple(fit["adaptation"].choices) == ADAPTATIONS
    assert tuple(sbc["misspecify"].choices) == MISSPECIFICATIONS


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(pd.DataFrame({"a": [1]}), path)
    before = path.read_bytes()

    def broken(tmp: Path) -> None:
        tmp.write_text("half a fi")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.csv"]  # no temporary file left behind


def test_housing_study_for_its_own_suite_a_worded_generic_one_for_a_config():
    assert study_for(load_config(None)) is HOUSING
    assert HOUSING.pooled["non-clustered"] == ("GG", "LZ", "HZ")
    pupils = study_for(load_config(ROOT / "examples/pupils.toml"))
    assert pupils.unit == "pupil" and pupils.level_name("class_id") == "class"
    assert "school" in pupils.title.lower()
    assert pupils.pooled == {} and pupils.compare_terms == ()
    assert set(pupils.suites) == {"default"}
    with pytest.raises(ValueError, match="housing study"):
        pupils.suite("features", load_config(ROOT / "examples/pupils.toml"), columns=set())


def test_study_section_errors_name_file_and_key(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[study]\ntitel = "x"\n[[outcomes]]\nname = "y"\nresponse = "y"\n'
                   'family = "gaussian"\nlevels = ["g"]\n')
    with pytest.raises(ValueError, match=r"s.toml: \[study\]: unknown key 'titel'"):
        study_for(load_config(cfg))


# --------------------------------------------------------------------------------------
# Subcommands through the CLI (tiny draws: these test the plumbing, not the estimates)
# --------------------------------------------------------------------------------------
@pytest.mark.slow  # five variants compiled (about 2.5 minutes); the pieces: test_crossval
def test_cli_compare_on_the_pupils_config(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = run_models.main(["compare", "--config", str(ROOT / "examples/pupils.toml"),
                          "--outcomes", "passed", *TINY, "--out", str(out), "--reloo-max", "1",
                          "--scheduler", "serial"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    table = pd.read_csv(out / "compare.csv")
    assert set(table["outcome"]) == {"passed"}
    by = table.groupby("criterion")["model"].apply(set)
    # hierarchical, fixed, no focal level, no lowest level, class SD by school; no housing
    # terms added; leave one class out for all but the variant without classes
    assert len(by["PSIS-LOO (tenant)"]) == 5
    assert by["PSIS-LOGO (class_id)"] == by["PSIS-LOO (tenant)"] - {"passed[no class_id level]"}
    assert "passed[class_id SD by school]" in by["PSIS-LOGO (class_id)"]
    assert not table["model"].str.contains("rural|small_community").any()
    assert "rural" not in printed.out
    logo = pd.read_csv(out / "logo.csv")
    assert logo["refitted"].sum() <= 4  # at most --reloo-max per variant
    assert logo.groupby("model")["group"].nunique().nunique() == 1  # same classes each


@pytest.mark.slow  # six item-level variants compiled (about 10 minutes on 2 loaded cores)
def test_cli_compare_scores_the_item_level_model_per_tenant(tmp_path, capsys):
    """The item-level cohesion model in ``compare``: PSIS-LOO per tenant with the tenant's
    latent integrated out (one value per tenant, not per answer); no leave-one-complex-out
    (said, not silently missing)."""
    data = tmp_path / "sim"
    assert run_models.main(["simulate", "--seed", "3", "--n-tenants", "500",
                            "--n-complexes", "80", "--out", str(data)]) == 0
    out = tmp_path / "cmp"
    rc = run_models.main(["compare", "--data", str(data), "--outcomes", "cohesion_items",
                          "--draws", "100", "--tune", "150", "--chains", "2", "--out",
                          str(out), "--scheduler", "serial"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    table = pd.read_csv(out / "compare.csv")
    assert set(table["criterion"]) == {"PSIS-LOO (tenant)"}
    assert {"cohesion_items[hierarchical]", "cohesion_items[fixed]",
            "cohesion_items[no living_form]", "cohesion_items[free loadings]"} <= \
        set(table["model"])
    # equal (the default family's) vs free loadings by the same per-tenant LOO
    loadings = pd.read_csv(out / "loadings.csv")
    assert len(loadings) == 1 and loadings["free"].iloc[0] == "cohesion_items__free_loadings"
    assert loadings["preferred"].iloc[0] in ("equal", "free")
    assert "Equal vs free item loadings" in printed.out
    loo = pd.read_csv(out / "loo.csv")
    n = len(pd.read_csv(data / "tenants.csv"))
    assert (loo["n_obs"] <= n).all() and (loo["n_obs"] > 0.9 * n).all()  # tenants, not items
    assert loo["left_out"].str.contains("latent integrated out").all()
    assert "leave-one-complex-out skips" in printed.err + printed.out


def test_housing_comparison_variants_add_or_drop_its_group_terms():
    from data.suite import default_specs
    from models.spec import comparison_variants

    specs = default_specs()
    columns = {"rural", "small_community"}
    gossip = comparison_variants(specs["gossip"], terms=HOUSING.compare_terms, columns=columns)
    # rural is a confounder in every model (the causal graph), so every model's variant
    # drops the group terms it has
    assert list(gossip) == ["gossip[hierarchical]", "gossip[fixed]", "gossip[no living_form]",
                            "gossip[no complex_id level]",
                            "gossip[complex_id SD by living_form]",
                            "gossip[without rural/small community]"]
    assert "rural" not in {t.name for t in gossip["gossip[without rural/small community]"]
                           .terms}
    assert "rural" in {t.name for t in specs["gossip"].terms}
    bare = specs["gossip"].with_(terms=tuple(t for t in specs["gossip"].terms
                                             if t.name != "rural"))
    added = comparison_variants(bare, terms=HOUSING.compare_terms, columns=columns)[
        "gossip[with rural + small community]"]
    assert [t.name for t in added.terms[-2:]] == ["rural", "small_community"]
    contact = comparison_variants(specs["contact"], terms=HOUSING.compare_terms,
                                  columns=columns)
    dropped = contact["contact[without rural/small community]"]
    assert "rural" not in {t.name for t in dropped.terms}
    assert dropped.levels == specs["contact"].levels
    assert contact["contact[no complex_id level]"].levels == ("living_form",)
    # a study without such terms gets no such variant; names are file-safe
    plain = comparison_variants(specs["gossip"])
    assert len(plain) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", s.name) for s in plain.values())


def test_cli_benefit(data_dir, tmp_path, capsys):
    out = tmp_path / "ben"
    rc = run_models.main(["benefit", "--data", str(data_dir), "--outcomes", "help_given",
                          *TINY, "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    table = pd.read_csv(out / "benefit.csv")
    assert set(table["model"]) == {"help_given_benefit"}
    assert {"moderator", "level", "mean", "q05", "q95", "p_positive", "verdict"} <= set(table)
    assert "Who benefits" in printed.out


def test_cli_concepts(data_dir, tmp_path, capsys):
    out = tmp_path / "con"
    rc = run_models.main(["concepts", "--data", str(data_dir), "--outcomes", "gossip",
                          "--concepts", str(ROOT / "concepts.toml"), *TINY, "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    table = pd.read_csv(out / "concepts.csv")
    assert set(table["kind"]) == {"concept", "living form"}
    assert (table["q05"] <= table["mean"]).all() and (table["mean"] <= table["q95"]).all()
    assert (out / "concepts.png").stat().st_size > 1000


def test_cli_features_suite_is_refused_for_another_study(tmp_path, capsys):
    rc = run_models.main(["concepts", "--config", str(ROOT / "examples/pupils.toml"),
                          "--concepts", str(ROOT / "concepts.toml"), "--out", str(tmp_path)])
    assert rc == 2
    assert "housing study" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# The generic engine knows no housing concept
# --------------------------------------------------------------------------------------
GENERIC = ["models/spec.py", "models/terms.py", "models/families.py", "models/design.py",
           "models/build.py", "inference/engine.py", "inference/store.py",
           "inference/suite.py", "inference/parallel.py", "inference/sbc.py",
           "inference/sensitivity.py", "diagnostics/summary.py", "diagnostics/convergence.py",
           "diagnostics/ppc.py", "diagnostics/compare.py", "diagnostics/tables.py",
           "diagnostics/effects.py", "diagnostics/plots.py", "diagnostics/report.py",
           "diagnostics/sensitivity.py", "diagnostics/calibration.py", "diagnostics/present.py",
           "diagnostics/headline.py", "diagnostics/methods.py", "diagnostics/structures.py"]
HOUSING_WORDS = {"HZ", "GG", "LZ", "RO", "RR", "RG", "RB", "rural", "small_community",
                 "living_form", "complex_id", "tenant_id", "help", "non-clustered"}


@pytest.mark.parametrize("module", GENERIC)
def test_generic_engine_names_no_housing_concept(module):
    source = (ROOT / module).read_text()
    tree = ast.parse(source)
    imports = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + \
        [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    study = [m for m in imports if m and m.split(".")[0] in ("data", "workflows", "run_models")]
    assert study == [], f"{module} imports the study"
    doc_nodes = {id(n.body[0].value) for n in ast.walk(tree)
                 if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                 and isinstance(n.body[0], ast.Expr)}
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and id(n) not in doc_nodes]
    found = sorted({w for s in literals for w in HOUSING_WORDS
                    if re.search(rf"(?<![A-Za-z_]){re.escape(w)}(?![A-Za-z_])", s)})
    assert found == [], f"{module} names housing concepts in code: {found}"


def test_the_project_compile_cache(tmp_path):
    """run_models points PyTensor (and numba's cache) at .cache/pytensor and turns numba's
    fastmath off, unless the user's PYTENSOR_FLAGS choose otherwise."""
    import os
    import subprocess
    import sys

    from inference.cache import CACHE_DIR, clear_cache

    code = ("import run_models, pytensor; from pytensor.link.numba.cache import "
            "NUMBA_CACHE_PATH as n; c = pytensor.config; "
            "print(c.base_compiledir, c.compiledir, n, c.numba__fastmath)")
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    got = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout.split()
    assert Path(got[0]) == CACHE_DIR and CACHE_DIR.is_relative_to(ROOT)
    # the C modules and numba's cache both live there; numba compiles without fastmath
    assert Path(got[1]).parent == CACHE_DIR and Path(got[2]) == CACHE_DIR / "numba"
    assert got[3] == "False"
    own = tmp_path / "mine"
    env["PYTENSOR_FLAGS"] = f"compiledir={own},numba__fastmath=True"
    got = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout.split()
    assert Path(got[1]) == own and got[3] == "True"  # the user's choices win
    (tmp_path / "c" / "sub").mkdir(parents=True)
    (tmp_path / "c" / "sub" / "mod.so").write_bytes(b"x" * 1000)
    assert clear_cache(tmp_path / "c") == 1000 and not (tmp_path / "c").exists()
    assert clear_cache(tmp_path / "c") == 0


def test_progress_bars_only_on_a_terminal():
    from inference.engine import Engine

    assert Engine().progress is False  # pytest captures stdout: plain lines
    assert Engine(progress=True).progress is True


def test_the_default_run_tops_up_and_a_run_with_chosen_draws_does_not():
    import argparse

    from data.config import StudyConfig
    from inference.engine import SamplerSettings
    from workflows.setup import DEFAULT_FIRST_ROUND, DEFAULT_TOP_UP, sampler_settings

    def settings(cfg=None, **flags):
        return sampler_settings(argparse.Namespace(**flags), cfg or StudyConfig())

    assert DEFAULT_TOP_UP >= 1 and settings().top_up == DEFAULT_TOP_UP
    # draws by target: a smaller first round than the fixed count, rounds after it
    first = settings()
    assert (first.draws, first.tune) == (DEFAULT_FIRST_ROUND["draws"], DEFAULT_FIRST_ROUND["tune"])
    assert first.draws < SamplerSettings().draws and first.tune < SamplerSettings().tune
    assert settings(tune=800).tune == 800 and settings(tune=800).draws == first.draws
    assert settings(StudyConfig(sampler={"tune": 700})).tune == 700
    assert (settings(top_up=0).draws, settings(top_up=0).tune) == (
        SamplerSettings().draws, SamplerSettings().tune)  # no rounds: the fixed count
    assert (settings(draws=300).draws, settings(draws=300).tune) == (300, SamplerSettings().tune)
    assert settings(draws=300).top_up == 0
    assert settings(quick=True).top_up == 0
    assert settings(StudyConfig(sampler={"draws": 500})).top_up == 0
    assert settings(draws=300, top_up=1).top_up == 1
    assert settings(top_up=0).top_up == 0
