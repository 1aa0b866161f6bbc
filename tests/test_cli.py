"""The command line and the documentation a newcomer reads: no sampling, seconds.

Every option has help text and shows its default; ``--version``; ``check`` on good and
broken configs; the README's commands exist; every config key the code accepts is
documented in docs/config.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

import run_models
from workflows import commands

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ("usage.md", "cli.md", "config.md", "formulas.md", "methods.md", "validation.md",
        "benchmarks.md")
CONFIGS = [ROOT / "examples" / "pupils.toml", *sorted((ROOT / "tests" / "data").glob("*.toml"))]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        run_models.main(["--version"])
    assert stop.value.code == 0
    assert re.fullmatch(r"clusterwonen \S+\n", capsys.readouterr().out)


def test_every_option_of_every_subcommand_has_help_and_its_default():
    parser = commands.build_parser()
    missing, no_default = [], []
    for name, sub in _subparsers(parser).items():
        formatter = commands.HelpFormatter(prog=name)
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue  # a hidden alias of a renamed option; -h
            flag = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(flag)
                continue
            takes_value = action.nargs != 0
            text = formatter._get_help_string(action)
            if takes_value and not action.required and "default" not in text:
                no_default.append(flag)
    assert missing == [], f"options without help text: {missing}"
    assert no_default == [], f"options whose help shows no default: {no_default}"


def test_the_command_line_reference_is_generated_from_the_parser():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == commands.reference_markdown(), \
        "docs/cli.md is out of date: regenerate it as its first lines say"


def test_top_level_help_is_for_a_newcomer(capsys):
    with pytest.raises(SystemExit):
        run_models.main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text  # no RST, no developer notes
    for needed in ("fit", "check", "--quick", "--config", "--version", "report"):
        assert needed in text


def test_renamed_options_keep_their_old_spelling():
    parser = commands.build_parser()
    simulate = parser.parse_args(["simulate", "--seed", "3", "--out", "o", "--missing-rate",
                                  "0.1", "--covariate-missing", "0.2"])
    assert (simulate.data_seed, simulate.missing_rate, simulate.covariate_missing) == \
        (3, 0.1, 0.2)
    new = parser.parse_args(["simulate", "--data-seed", "3", "--out", "o", "--mcar-rate",
                             "0.1", "--mar-rate", "0.2"])
    assert (new.data_seed, new.missing_rate, new.covariate_missing) == (3, 0.1, 0.2)
    assert parser.parse_args(["sbc", "--outcome", "lonely"]).outcome == "lonely"
    assert parser.parse_args(["sbc", "--outcomes", "all"]).outcome == "all"
    report = parser.parse_args(["report", "--out", "old"])
    assert (report.run_dir, report.out) == (None, Path("old"))
    assert parser.parse_args(["report", "new"]).run_dir == Path("new")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_check_describes_each_model_of_a_bundled_config(config, capsys):
    from data.config import load_config

    assert run_models.main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for outcome in load_config(config).outcomes:
        name = outcome.get("name") or outcome["response"]
        block = out[out.index(f"\n{name}\n"):]
        assert " ~ " in block.splitlines()[2]  # the formula line
        assert re.search(r"rows +[\d,]+ used, [\d,]+ dropped", block)
    assert "nothing fitted" in out


def _broken(tmp_path: Path, outcome: str) -> Path:
    (tmp_path / "pupils.csv").write_text((ROOT / "examples" / "pupils.csv").read_text())
    path = tmp_path / "broken.toml"
    path.write_text(f'[data]\ntable = "pupils.csv"\n[[outcomes]]\nname = "s"\n{outcome}\n')
    return path


@pytest.mark.parametrize(("outcome", "named"), [
    ('response = "score"\nfamly = "gaussian"\nlevels = ["school"]', "famly"),
    ('response = "scoore"\nfamily = "gaussian"\nlevels = ["school"]', "scoore"),
    ('response = "score"\nfamily = "gaussian"\nlevels = ["skool"]', "skool"),
])
def test_check_names_the_key_or_column_of_a_broken_config(tmp_path, capsys, outcome, named):
    assert run_models.main(["check", "--config", str(_broken(tmp_path, outcome))]) == 2
    assert named in capsys.readouterr().err


def test_housing_only_options_are_refused_on_a_config_run(capsys):
    rc = run_models.main(["check", "--config", str(ROOT / "examples" / "pupils.toml"),
                          "--adjustment", "both"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--adjustment" in err and "housing" in err and len(err.strip().splitlines()) == 1


def test_an_outcome_selects_all_its_models_and_an_unknown_name_is_an_error():
    from workflows.setup import WorkflowError, select_outcomes

    specs = {"contact": SimpleNamespace(outcome="contact"),
             "contact__pre_residence": SimpleNamespace(outcome="contact"),
             "lonely": SimpleNamespace(outcome="lonely")}
    assert list(select_outcomes(specs, "contact")) == ["contact", "contact__pre_residence"]
    assert list(select_outcomes(specs, "contact__pre_residence")) == ["contact__pre_residence"]
    with pytest.raises(WorkflowError, match="unknown outcome.*'lonley'"):
        select_outcomes(specs, "contact,lonley")


def test_a_config_run_writes_to_results_config_name():
    from workflows.fit import default_out

    assert default_out(argparse.Namespace(config=Path("examples/pupils.toml"))) == \
        Path("results/pupils")
    assert default_out(argparse.Namespace(config=None)) == Path("results/default")


def test_run_json_records_the_config_and_report_rebuilds_with_its_wording():
    from data.config import load_config
    from data.study import HOUSING, study_for
    from workflows.fit import run_info
    from workflows.report import recorded_config

    config = load_config(ROOT / "examples" / "pupils.toml")
    args = argparse.Namespace(argv=["run_models.py", "fit", "--config", config.source])
    info = json.loads(json.dumps(run_info(args, config)))  # as run.json holds it
    assert info["command"] == args.argv
    assert {"pymc", "nutpie", "arviz-stats"} <= set(info["versions"])
    study = study_for(recorded_config(info["config"]))
    assert study.title == config.study["title"] and study.unit == "pupil"
    assert study_for(recorded_config(None)) is HOUSING


def _shown_commands(page: Path) -> list[list[str]]:
    """Every ``run_models.py ...`` / ``clusterwonen ...`` command line a page shows, in code
    blocks and inline code."""
    text = page.read_text()
    code = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    code = [line for block in code for line in block.replace("\\\n", " ").splitlines()]
    code += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    lines = []
    for snippet in code:
        # "run_models.py  parse ..." (two spaces: a layout table's line) is no command
        match = re.search(r"(?:run_models\.py|uv run clusterwonen)(?=$| \S)(.*)",
                          snippet.split("#")[0])
        if match:
            lines.append([w for w in shlex.split(match.group(1)) if w != "..."])
    return lines


def test_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert not re.search(r"#\d", text)  # no issue numbers
    assert len(_shown_commands(README)) >= 5


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_the_commands_a_page_shows_exist_under_their_current_names(page):
    subs = _subparsers(commands.build_parser())
    for words in _shown_commands(page):
        command = commands.DEFAULT_COMMAND
        if words and not words[0].startswith("-"):
            command = words.pop(0)
            assert command in subs, f"{page.name} shows an unknown subcommand {command!r}"
        options = {s: a for a in subs[command]._actions for s in a.option_strings}
        for word in words:
            flag = word.split("=")[0]
            if flag.startswith("--"):
                assert flag in options, f"{page.name} shows {command} {flag}: no such option"
                assert options[flag].help != argparse.SUPPRESS, \
                    f"{page.name} shows {command} {flag}: the old name of a renamed option"


def test_docs_pages_exist_and_the_readme_links_them():
    text = README.read_text()
    for page in DOCS:
        assert (ROOT / "docs" / page).exists()
        assert f"(docs/{page}" in text, f"README does not link docs/{page}"
    for page in (ROOT / "docs").glob("*.md"):
        assert not re.search(r"(?<![\w&])#\d+\b", page.read_text()), \
            f"{page.name} mentions an issue number"


def test_every_config_key_the_code_accepts_is_documented():
    import data.config as config
    from data.study import _WORDING
    from inference.engine import SamplerSettings
    from models.spec import DEFAULT_PRIORS

    documented = set(re.findall(r"`\[*([a-z_]+)[\].<a-z>]*`",
                                (ROOT / "docs" / "config.md").read_text()))
    key_sets = {name: value for name, value in vars(config).items()
                if name == "_TOP" or name.endswith("_KEYS")}
    accepted = {key for keys in key_sets.values() for key in keys}
    accepted |= set(DEFAULT_PRIORS) | set(_WORDING)
    accepted |= {f.name for f in dataclasses.fields(SamplerSettings)}
    assert key_sets, "data.config's key sets were renamed: update this test"
    assert sorted(accepted - documented) == []


def _documented_defaults(section: str) -> dict[str, str]:
    """``key -> default`` as the table of ``## `[section]` `` in docs/config.md shows it."""
    page = (ROOT / "docs" / "config.md").read_text()
    table = page.split(f"## `[{section}]`")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| ([^|]+) \|", table, flags=re.M)
    return {key: default.strip().strip("`").strip('"') for key, default in rows}


def test_documented_prior_and_sampler_defaults_are_the_codes():
    from inference.engine import SamplerSettings
    from models.spec import DEFAULT_PRIORS
    from workflows.setup import DEFAULT_TOP_UP

    priors = _documented_defaults("priors")
    assert {k: float(v) for k, v in priors.items()} == dict(DEFAULT_PRIORS)
    sampler = _documented_defaults("sampler")
    code = {f.name: f.default for f in dataclasses.fields(SamplerSettings)}
    assert set(sampler) == set(code)
    for key, value in code.items():
        if key in ("top_up", "draws", "tune"):  # a run that draws by target (setup)
            first = str(DEFAULT_TOP_UP if key == "top_up" else value)
            assert sampler[key].startswith(first), f"[sampler] {key}: {sampler[key]!r}"
            continue
        shown = {"true": True, "false": False}.get(sampler[key], sampler[key])
        assert type(value)(shown) == value, f"[sampler] {key}: docs {shown!r}, code {value!r}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_links_between_the_pages_lead_somewhere(page):
    for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", page.read_text()):
        path = (page.parent / target).resolve()
        assert path.exists(), f"{page.name} links {target}, which does not exist"
        if anchor:
            slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)}
            assert anchor in slugs, f"{page.name} links {target}#{anchor}: no such heading"
