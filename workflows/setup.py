"""What every fitting command starts from: config, sampler settings, data, truth, specs.

:func:`setup` resolves the precedence of config file, ``--quick`` and command-line flags
once and returns one typed :class:`Run`; workflows never re-read the config.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from data.config import ConfigError, StudyConfig, load_config
from data.simulate import DEFAULT_DATA_SEED
from data.study import Study, study_for
from data.validation import DataValidationError
from inference.engine import SamplerSettings
from models.design import PreparationError
from models.spec import ModelSpec

if TYPE_CHECKING:
    from data.imputation import Imputations
    from data.population import Population

__all__ = ["DEFAULT_FIRST_ROUND", "DEFAULT_SEED", "DEFAULT_TOP_UP", "QUICK", "Run",
           "WorkflowError", "load_frame", "sampler_settings", "setup"]

DEFAULT_SEED = DEFAULT_DATA_SEED  # the built-in default data set: simulator output, this seed
# The default run (no draws chosen by flag, config or --quick) draws by target: a first
# round of 4 chains x DEFAULT_FIRST_ROUND["draws"] after DEFAULT_FIRST_ROUND["tune"] warm-up
# steps, then up to DEFAULT_TOP_UP rounds of more draws until every reported parameter meets
# R-hat <= 1.01 and bulk and tail ESS >= 400 (inference.engine.Engine._sample_enough;
# docs/benchmarks.md, "Draws by target"). A run whose draws the user set gets no round more
# unless --top-up or [sampler] top_up asks for it.
DEFAULT_FIRST_ROUND = {"draws": 500, "tune": 300}
DEFAULT_TOP_UP = 3
QUICK = {"draws": 250, "tune": 300, "chains": 2, "prior_draws": 100}


class WorkflowError(Exception):
    """Stop the command with a readable message and an exit code (no traceback)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Run:
    """Everything a fitting workflow needs, resolved once.

    Attributes
    ----------
    config
        The study config (defaults when no ``--config``), ``--variant`` applied.
    settings
        Sampler settings: config ``[sampler]``, then ``--quick``, then explicit flags.
    frame
        The analysis frame: one row per analysed unit, group columns joined on.
    source
        Where the data came from, in words (printed and shown in the report).
    truth
        The simulator's truth when the data are simulated (else ``None``).
    specs
        The models to fit, by name: only outcomes present in the data, as requested.
    study
        The study's wording and domain knowledge (:class:`data.study.Study`).
    population
        ``--population FILE``: the register or cell counts the effects are also
        standardised to (:mod:`data.population`), checked against every model's terms.
    imputations
        ``--missing impute`` (the default) where the models' covariates have missing
        values: ``m`` completed copies of ``frame`` (:mod:`data.imputation`); ``None`` when
        nothing is missing or with ``--missing complete-case``.
    """

    config: StudyConfig
    settings: SamplerSettings
    frame: pd.DataFrame
    source: str
    truth: dict | None
    specs: dict[str, ModelSpec]
    study: Study
    population: Population | None = None
    imputations: Imputations | None = None


def sampler_settings(args: argparse.Namespace, cfg: StudyConfig) -> SamplerSettings:
    """Config ``[sampler]`` values, then ``--quick``, then explicit flags (last wins); the
    default run (no draws chosen) draws by target: a smaller first round
    (:data:`DEFAULT_FIRST_ROUND`, a warm-up the user set kept) and up to
    :data:`DEFAULT_TOP_UP` rounds more (``--top-up 0`` alone: the fixed
    :class:`SamplerSettings` defaults)."""
    values = dict(cfg.sampler)
    if getattr(args, "quick", False):
        values |= QUICK
    for key in ("sampler", "adaptation", "draws", "tune", "chains", "seed", "target_accept",
                "top_up"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    # the default run draws by target; --top-up 0 alone: the fixed 4 x 1000 after 1000
    if "draws" not in values and values.get("top_up", DEFAULT_TOP_UP):
        values = {**DEFAULT_FIRST_ROUND, "top_up": DEFAULT_TOP_UP} | values
    try:
        return SamplerSettings(**values)
    except ValueError as err:
        raise WorkflowError(f"error: sampler settings: {err}") from None


_COMPLEX_TABLES: dict[int, pd.DataFrame] = {}  # frame id -> its study's complex table


def load_frame(data_dir: Path | None, cfg: StudyConfig) -> tuple[pd.DataFrame, str, dict | None]:
    """The analysis frame, a description of its source, and the truth when simulated.

    ``data_dir`` (``--data``) wins over the config's ``[data]`` (its ``directory`` and its
    ``table``); with neither, the built-in default data set is simulated (seed
    :data:`DEFAULT_SEED`). A single ``table`` is renamed by ``[data.columns]``.
    """
    from data.loader import load_study, read_table
    from data.simulate import simulated_study

    if cfg.table is not None and data_dir is None:
        frame = read_table(cfg.table, column_map=cfg.column_map or None)
        return frame, f"{cfg.table} ({len(frame)} rows)", None
    directory = data_dir or cfg.data_dir
    truth = None
    if directory is None:
        study, truth = simulated_study(seed=DEFAULT_SEED)
    else:
        study = load_study(directory, column_map=cfg.column_map)
    frame = study.merged()
    _COMPLEX_TABLES[id(frame)] = study.complex_table()  # a --population register's complexes
    described = f"{study.source}: {len(study.tenants)} tenants, {len(study.complexes)} complexes"
    if truth is None and directory is not None and (Path(directory) / "truth.json").exists():
        truth = json.loads((Path(directory) / "truth.json").read_text())
    return frame, described, truth


MAX_BY_VALUES = 12  # a --by column with more values is not a subgroup variable


def _populations(cfg: StudyConfig, frame: pd.DataFrame) -> tuple[str, ...]:
    """The config's target populations plus ``column=value`` for every value of each
    ``by`` column (sorted; missing values are not a subgroup)."""
    out = list(cfg.populations)
    for column in cfg.by:
        if column not in frame:
            raise ValueError(f"--by: column {column!r} is not in the data")
        values = frame[column].dropna().unique()
        if len(values) > MAX_BY_VALUES:
            raise ValueError(f"--by: column {column!r} has {len(values)} values (more than "
                             f"{MAX_BY_VALUES}): not a subgroup variable")
        for v in sorted(values, key=lambda x: (str(type(x)), x)):
            text = f"{v:g}" if isinstance(v, float) else str(v)
            out.append(f"{column}={text}")
    return tuple(dict.fromkeys(out))


def _check_contrasts(cfg: StudyConfig, frame: pd.DataFrame, specs: dict) -> None:
    """Every level of a ``[contrasts]`` entry exists in each model's focal column."""
    for focal in {s.focal for s in specs.values() if s.focal}:
        have = set(frame[focal].dropna().astype(str)) if focal in frame else set()
        for name, (plus, minus) in cfg.contrasts.items():
            unknown = sorted((set(plus) | set(minus)) - have)
            if unknown:
                raise ValueError(f"{cfg.source}: [contrasts] {name!r}: level(s) {unknown} not "
                                 f"in column {focal!r} (levels: {sorted(have)})")


# options that only the housing suite reads: a config with its own outcomes refuses them
HOUSING_ONLY = {"adjustment": "--adjustment", "population": "--population", "cells": "--cells"}


def _refuse_housing_options(args: argparse.Namespace, cfg: StudyConfig) -> None:
    """A config with its own ``[[outcomes]]`` declares its terms itself: the housing suite's
    adjustment sets and population file do not apply (one line says why)."""
    if not cfg.outcomes:
        return
    given = [flag for dest, flag in HOUSING_ONLY.items() if getattr(args, dest, None)]
    if given:
        raise WorkflowError(f"error: {', '.join(given)}: only for the housing study's own "
                            f"suite; {cfg.source} declares its own [[outcomes]] and terms")


def select_outcomes(specs: dict[str, ModelSpec], asked: str) -> dict[str, ModelSpec]:
    """The specs of the asked outcomes: an outcome name selects every model of it (each
    adjustment set), a model name that model; a name matching nothing is an error."""
    wanted = [o.strip() for o in asked.split(",") if o.strip()]
    unknown = [o for o in wanted if o not in specs
               and not any(s.outcome == o for s in specs.values())]
    if unknown:
        outcomes = sorted({s.outcome for s in specs.values()})
        raise WorkflowError(f"error: --outcomes: unknown outcome(s) {unknown}; known: "
                            f"{outcomes}" + (f" (models: {sorted(specs)})"
                                             if sorted(specs) != outcomes else ""))
    return {k: s for k, s in specs.items() if k in wanted or s.outcome in wanted}


def _with_formula(args: argparse.Namespace, cfg: StudyConfig) -> StudyConfig:
    """``--formula`` (one outcome replacing the config's) and ``--table`` (one table
    replacing the config's data) applied to the config."""
    from data.config import formula_config

    if getattr(args, "table", None) and getattr(args, "data", None):
        raise ConfigError("--table and --data name two data sources; give one")
    if getattr(args, "formula", None):
        return formula_config(args.formula, table=getattr(args, "table", None),
                              family=getattr(args, "family", None) or "gaussian",
                              focal=getattr(args, "focal", None),
                              reference=getattr(args, "reference", None), base=cfg)
    if any(getattr(args, k, None) for k in ("family", "focal", "reference")):
        raise ConfigError("--family, --focal and --reference go with --formula")
    if getattr(args, "table", None):
        return replace(cfg, table=args.table, data_dir=None)
    return cfg


def setup(args: argparse.Namespace, *, suite: str = "default",
          outcomes: str | None = None, impute: bool = True) -> Run:
    """Resolve config, settings, data and the specs of ``suite`` for one command.

    Parameters
    ----------
    args
        Parsed command-line arguments (``--config``, ``--data``, sampler flags, ...).
    suite
        ``default`` (the study's models or the config's outcomes), ``features`` (building
        features, for new concepts) or ``benefit`` (subgroup interactions).
    outcomes
        Comma-separated outcomes to keep (default: ``args.outcomes``; all when empty): an
        outcome keeps all its models (every adjustment set), a model name that model.
    impute
        ``False``: no multiple imputation (``check``: nothing is fitted).
    """
    try:
        cfg = _with_formula(args, load_config(getattr(args, "config", None)))
        _refuse_housing_options(args, cfg)
        if getattr(args, "variant", None):
            cfg = replace(cfg, variant=args.variant)
        if getattr(args, "adjustment", None):
            cfg = replace(cfg, adjustment=args.adjustment)
        if getattr(args, "by", None):
            cfg = replace(cfg, by=tuple(c.strip() for c in args.by.split(",") if c.strip()))
        if getattr(args, "features", None):
            cfg = replace(cfg, features=args.features)
        if getattr(args, "subgroup", None):
            cfg = replace(cfg, populations=tuple(
                p.strip() for p in args.subgroup.split(",") if p.strip()))
        settings = sampler_settings(args, cfg)
        frame, described, truth = load_frame(getattr(args, "data", None), cfg)
        study = study_for(cfg)
        specs = study.suite(suite, cfg, columns=set(frame.columns))
        cfg = replace(cfg, populations=_populations(cfg, frame))
        _check_contrasts(cfg, frame, specs)
        population = _population(args, frame, specs, cfg)
    except (DataValidationError, ConfigError, PreparationError, FileNotFoundError,
            ValueError, TypeError) as err:
        raise WorkflowError(f"error: {err}") from err
    print(f"data: {described}")
    present = {k: s for k, s in specs.items() if s.response in frame.columns
               and frame[s.response].notna().any()}
    skipped = sorted(set(specs) - set(present))
    if skipped:
        print(f"skipped (outcome not in the data): {', '.join(skipped)}")
    asked = outcomes if outcomes is not None else getattr(args, "outcomes", None)
    if asked:
        chosen = select_outcomes(specs, asked)
        present = {k: s for k, s in present.items() if k in chosen}
    if not present:
        raise WorkflowError(f"error: none of the requested outcomes ({asked or 'the default suite'}"
                            f") is in the data; nothing to fit")
    # the imputation models read every outcome of the suite, whichever are fitted now, so
    # that a run of some outcomes imputes exactly as a run of all of them
    imputations = _imputations(args, frame, {k: s for k, s in specs.items()
                                             if s.response in frame}, settings.seed) \
        if impute else None
    return Run(config=cfg, settings=settings, frame=frame, source=described, truth=truth,
               specs=present, study=study, population=population, imputations=imputations)


def _imputations(args: argparse.Namespace, frame: pd.DataFrame, specs: dict[str, ModelSpec],
                 seed: int) -> Imputations | None:
    """The models' missing covariates imputed ``--imputations`` times (default: by the
    fraction of incomplete rows, :func:`data.imputation.imputation_count`), unless
    ``--missing complete-case`` or nothing is missing."""
    import time

    from data.imputation import imputation_inputs, impute

    how = getattr(args, "missing", None) or "impute"
    inputs = imputation_inputs(frame, specs.values())
    columns = inputs["columns"]
    if how == "complete-case" or not columns:
        return None
    t0 = time.perf_counter()
    try:
        imps = impute(frame, **inputs, m=getattr(args, "imputations", None), seed=seed)
    except ValueError as err:
        raise WorkflowError(f"error: {err}") from err
    print(f"imputed {len(columns)} covariate(s) with missing values ({', '.join(columns)}) "
          f"{imps.m} times ({imps.settings['m_rule']}) by chained equations in "
          f"{time.perf_counter() - t0:.0f} s; every model is fitted on each "
          f"(--imputations sets m; --missing complete-case drops the rows instead)")
    return imps


def _population(args: argparse.Namespace, frame: pd.DataFrame, specs: dict[str, ModelSpec],
                cfg: StudyConfig) -> Population | None:
    """``--population FILE`` read, validated, and checked against every model's terms (a
    model lacking a cell variable stops the run before any fit)."""
    from data.population import check_model_cells, load_population

    path = getattr(args, "population", None)
    if not path:
        return None
    focals = {s.focal for s in specs.values() if s.focal}
    cells = getattr(args, "cells", None)
    pop = load_population(path, frame, focal=next(iter(sorted(focals)), "living_form"),
                          cells=[c.strip() for c in cells.split(",") if c.strip()]
                          if cells else None, column_map=cfg.column_map,
                          complexes=_COMPLEX_TABLES.get(id(frame)))
    for name, spec in specs.items():
        if spec.focal and spec.variant != "none":
            check_model_cells(pop, name, {c for t in spec.terms for c in t.columns}
                              | {spec.focal})
    print(f"population: {pop.name} ({pop.kind}, {pop.size} tenants in {len(pop.counts)} "
          f"cells of {', '.join(pop.cells)})")
    return pop
