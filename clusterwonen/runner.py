"""Run a workbench command from Python: the same workflow as ``run_models.py <command>``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clusterwonen.command import run_command
from clusterwonen.run import Run, load_run

__all__ = ["compare", "concepts", "fit", "sensitivity"]

_TABLE_SUFFIXES = (".csv", ".parquet", ".sav")


def _flags(settings: dict) -> list[str]:
    """Keyword settings as command-line options: ``draws=200`` -> ``--draws 200``,
    ``quick=True`` -> ``--quick`` (``False``/``None``: left out)."""
    out = []
    for key, value in settings.items():
        flag = f"--{key.replace('_', '-')}"
        if value is True:
            out.append(flag)
        elif value is not None and value is not False:
            out += [flag, str(value)]
    return out


def _model_and_data(config_or_formula: str | Path, data, out: Path) -> list[str]:
    """``--config FILE`` or ``--formula TEXT``, and ``--table FILE`` / ``--data DIR`` (a
    DataFrame is written to ``out/input.parquet`` first)."""
    text = str(config_or_formula)
    argv = ["--formula", text] if "~" in text else ["--config", text]
    if "~" not in text and not Path(text).is_file():
        raise FileNotFoundError(f"{text}: neither a formula (no '~') nor a config file")
    if isinstance(data, pd.DataFrame):
        out.mkdir(parents=True, exist_ok=True)
        path = out / "input.parquet"
        data.to_parquet(path)
        argv += ["--table", str(path)]
    elif data is not None:
        path = Path(data)
        argv += ["--table" if path.suffix.lower() in _TABLE_SUFFIXES else "--data", str(path)]
    return argv


def _default_out(config_or_formula, command: str) -> Path:
    text = str(config_or_formula)
    if "~" in text:
        return Path("results") / f"{command}-{text.partition('~')[0].strip().split()[0]}"
    return Path("results") / (Path(text).stem if command == "fit" else
                              f"{Path(text).stem}-{command}")


def _run(command: str, config_or_formula, data, out, settings: dict) -> Run:
    out = Path(out) if out is not None else _default_out(config_or_formula, command)
    argv = [*_model_and_data(config_or_formula, data, out), "--out", str(out),
            *_flags(settings)]
    run_command(command, *argv)
    return load_run(out) if (out / "run.json").exists() else Run(folder=out)


def fit(config_or_formula: str | Path, data: str | Path | pd.DataFrame | None = None, *,
        out: str | Path | None = None, **settings) -> Run:
    """Fit every model of a config, or one formula, and return the finished run.

    Parameters
    ----------
    config_or_formula
        A study config (TOML, see ``docs/config.md``) or an lme4/brms formula
        (``"score ~ girl + C(ses) + (1 | school/class_id)"``, see ``docs/formulas.md``).
    data
        One table (CSV, Parquet, SPSS ``.sav`` or a DataFrame) or a study folder; default:
        the config's ``[data]``.
    out
        The run folder (default ``results/<config name>``, or ``results/fit-<response>``).
    **settings
        Command-line options of ``run_models.py fit`` as keywords: ``family``, ``focal``,
        ``reference`` (with a formula), ``quick``, ``draws``, ``tune``, ``chains``,
        ``seed``, ``target_accept``, ``outcomes``, ``variant``, ``missing``, ...

    Returns
    -------
    Run
        The run folder's tables and fits (:func:`load_run`).
    """
    return _run("fit", config_or_formula, data, out, settings)


def compare(config_or_formula, data=None, *, out=None, **settings) -> Run:
    """``run_models.py compare``: model variants per outcome by PSIS-LOO and leave-one-
    group-out (``run.table("compare")``); settings as in :func:`fit`, plus ``kfold``,
    ``reloo_max``, ``scheduler`` (``"serial"``: in this process)."""
    return _run("compare", config_or_formula, data, out, settings)


def sensitivity(config_or_formula, data=None, *, out=None, **settings) -> Run:
    """``run_models.py sensitivity``: every model refitted under the config's prior grid
    (``run.table("sensitivity")``); settings as in :func:`compare`."""
    return _run("sensitivity", config_or_formula, data, out, settings)


def concepts(config_or_formula=None, data=None, *, out=None, **settings) -> Run:
    """``run_models.py concepts``: predictions for new housing concepts (the housing study's
    building features; ``concepts="concepts.toml"``)."""
    if config_or_formula is None:  # the housing study: no config
        out = Path(out) if out is not None else Path("results") / "concepts"
        argv = ([] if data is None else ["--data", str(data)]) + ["--out", str(out)]
        run_command("concepts", *argv, *_flags(settings))
        return Run(folder=out)
    return _run("concepts", config_or_formula, data, out, settings)
