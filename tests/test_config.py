"""The study config: another nested data set (pupils in classes in schools) without code."""

from pathlib import Path

import numpy as np
import pytest

import run_models
from data.config import ConfigError, load_config
from data.loader import read_table
from models.build import build_model
from models.design import prepare
from models.spec import specs_from_config

EXAMPLE = "examples/pupils.toml"


@pytest.fixture(scope="module")
def pupils():
    cfg = load_config(EXAMPLE)
    frame = read_table(cfg.table)
    return cfg, frame, specs_from_config(cfg, columns=set(frame.columns))


def test_example_config_gives_one_spec_per_outcome(pupils):
    cfg, frame, specs = pupils
    assert set(specs) == {"score", "passed", "grade"}
    assert {s.family for s in specs.values()} == {"gaussian", "bernoulli", "cumulative"}
    assert all(s.levels == ("class_id", "school") and s.reference == "S1"
               for s in specs.values())
    assert specs["score"].prior["beta_sd"] == 1.0  # [priors] override reached the spec


@pytest.mark.parametrize("name", ["score", "passed", "grade"])
def test_example_models_build_with_finite_density(pupils, name):
    _, frame, specs = pupils
    data = prepare(frame, specs[name])
    model = build_model(specs[name], data)
    assert list(model.coords["school"]) == [f"S{i}" for i in range(1, 7)]
    assert list(model.coords["contrast"]) == [f"S{i} - S1" for i in range(2, 7)]
    assert set(data.term_names) == {"girl", "homework_hours", "ses[2.0]", "ses[3.0]"} or \
        set(data.term_names) == {"girl", "homework_hours", "ses[2]", "ses[3]"}
    point = model.initial_point()
    assert np.isfinite(model.compile_logp(mode="FAST_COMPILE")(point))
    assert np.isfinite(model.compile_dlogp(mode="FAST_COMPILE")(point)).all()


@pytest.mark.parametrize("terms", ["__import__('os').system('echo hi')", "girl * ses",
                                   "np.log(homework_hours)", "nosuchcolumn"])
def test_config_terms_cannot_run_code_or_reach_unknown_columns(tmp_path, terms):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[data]\ntable = "{(tmp_path / "p.csv").as_posix()}"\n'
                   f'[[outcomes]]\nname = "score"\nresponse = "score"\nfamily = "gaussian"\n'
                   f'terms = "{terms}"\nlevels = ["class_id", "school"]\n')
    (tmp_path / "p.csv").write_text(Path("examples/pupils.csv").read_text())
    rc = run_models.main(["--config", str(cfg), "--out", str(tmp_path / "r")])
    assert rc == 2


def test_config_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[dataa]\n")
    with pytest.raises(ConfigError, match="c.toml.*unknown section"):
        load_config(bad)
    bad.write_text('[[outcomes]]\nname = "x"\nfamily = "gaussian"\n')
    with pytest.raises(ConfigError, match="missing key 'response'"):
        load_config(bad)


def test_non_numeric_value_in_a_term_is_named(tmp_path, capsys):
    text = Path("examples/pupils.csv").read_text().splitlines()
    head = text[0].split(",")
    row = text[5].split(",")
    row[head.index("homework_hours")] = "lots"
    text[5] = ",".join(row)
    (tmp_path / "pupils.csv").write_text("\n".join(text) + "\n")
    cfg = tmp_path / "p.toml"
    cfg.write_text(Path(EXAMPLE).read_text())
    rc = run_models.main(["--config", str(cfg), "--outcomes", "score", "--out",
                          str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "homework_hours" in err and "'lots'" in err
    assert "row 5:" in err  # data line 5 of the CSV (no id column declared)


def test_subgroups_key_and_its_old_name(tmp_path):
    from data.config import ConfigError, load_config

    new = tmp_path / "new.toml"
    new.write_text('[model]\nsubgroups = ["RO", "age_group=4"]\n')
    old = tmp_path / "old.toml"
    old.write_text('[model]\npopulations = ["RO"]\n')
    both = tmp_path / "both.toml"
    both.write_text('[model]\nsubgroups = ["RO"]\npopulations = ["RR"]\n')
    assert load_config(new).populations == ("RO", "age_group=4")
    assert load_config(old).populations == ("RO",)
    with pytest.raises(ConfigError, match="old name of 'subgroups'"):
        load_config(both)


def test_tipping_deltas_are_numbers_with_zero(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[model]\ntipping_deltas = [1, 0, -1]\n")
    assert load_config(path).tipping_deltas == (-1.0, 0.0, 1.0)
    path.write_text("[model]\ntipping_deltas = [1, 2]\n")
    with pytest.raises(ConfigError, match="must contain 0"):
        load_config(path)
    path.write_text("[model]\ntipping_deltas = [\"big\", 0]\n")
    with pytest.raises(ConfigError, match="list of numbers"):
        load_config(path)
