"""The study config (TOML): data files, column mapping, outcomes, priors and sampler settings.

A config lets the engine fit another nested data set without code changes. Everything is
plain data; formulas are parsed by a whitelist (:func:`models.spec.parse_terms`, and a
whole lme4/brms formula by :func:`models.formula.parse_formula`), never evaluated. Every
section's keys are checked: an unknown key is an error naming the section, the key and the
nearest valid key. Example (see README for a worked non-housing example)::

    [data]
    directory = "my_data"            # complexes.* + tenants.* in the canonical format
    # or: table = "pupils.csv"       # one table with response, terms and group columns

    [data.columns.tenants]           # their column name = canonical name
    geslacht = "female"

    [model]
    variant = "hierarchical"         # or "fixed", "none"
    adjustment = "study"             # housing suite: "study", "pre_residence" or "both"
    subgroups = ["RO"]               # probability effects also for the rows of these focal
                                     # levels ("RO's own residents"), beside all analysed,
                                     # or of a subgroup: "age_group=4"
    by = ["age_group"]               # ... and for each value of these columns (subgroups)
    tipping_deltas = [-1, 0, 1, 2]   # with a --population register: the non-respondents'
                                     # departure (log-odds) the tipping-point table tries

    [contrasts]                      # own contrasts of the focal level's probabilities:
    "clustered - non-clustered" = { plus = ["RO", "RR", "RG", "RB"], minus = ["GG", "LZ", "HZ"] }

    [priors]                         # overrides for every model (see DEFAULT_PRIORS)
    beta_sd = 1.0

    [sampler]
    draws = 1000

    [[outcomes]]                     # optional: own outcomes (default: the study's)
    name = "score"                   # a whole formula instead of the six keys below:
    # formula = "score ~ age + C(sex, ref='male') + scale(income) + (1 + age | school/class)"
    response = "score"
    family = "gaussian"              # bernoulli | binomial | cumulative | gaussian | graded
                                     # (graded_equal, graded_latent: see docs/config.md)
    # graded: items = ["q1", "q2", "q3"], reversed_items = ["q2"], categories = [1, 2, 3, 4, 5]
    # binomial: trials = "n_trials" (the response holds the successes)
    terms = "age + C(sex, ref=\"male\") + scale(income)"
    levels = ["class", "school"]     # lowest to highest; any depth >= 1
    nested = true                    # false: the levels are crossed
    slopes = { class = ["age"] }     # optional: age's coefficient varies by class
    parametrisation = { class = "centered" }   # optional; default: auto per level
    id = "pupil_id"                  # optional: the column naming rows in messages
    focal = "school"                 # optional: contrasts of the highest level
    reference = "S01"

    [study]                          # optional wording (see data.study.Study)
    title = "Do schools differ?"
    unit = "pupil"
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["ConfigError", "StudyConfig", "check_keys", "formula_config", "load_config",
           "read_toml"]

_TOP = {"data", "model", "priors", "sampler", "outcomes", "sensitivity", "study",
        "contrasts"}
_DATA_KEYS = {"directory", "table", "columns"}
# "populations" is the old name of "subgroups" (kept: target subgroups, not the
# post-stratification population of --population)
_MODEL_KEYS = {"variant", "adjustment", "subgroups", "populations", "by", "tipping_deltas"}
# [study]: the wording keys of data.study.Study a config may set, and their types
STUDY_KEYS = {"title": str, "design": str, "unit": str, "units": str, "level_names": dict,
              "label_names": dict, "pooled": dict, "complement": str, "compare_terms": list,
              "focal_predictors": list, "roles": dict}
# what a formula says; an outcome gives either ``formula`` or these keys
FORMULA_KEYS = ("response", "terms", "levels", "nested", "slopes", "trials")
_OUTCOME_KEYS = {"name", "formula", *FORMULA_KEYS, "family", "focal", "reference",
                 "subset", "categories", "priors", "variant", "items", "reversed_items",
                 "parametrisation", "id"}


class ConfigError(ValueError):
    """The study config is malformed (file, key, reason)."""


def check_keys(given, known, *, where: str, what: str = "key") -> None:
    """Raise :class:`ConfigError` for the first key of ``given`` not in ``known``, naming
    ``where`` and the nearest known key (:func:`difflib.get_close_matches`) as a hint."""
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown {what} {key!r}{hint} (known: "
                              f"{', '.join(sorted(map(str, known)))})")


@dataclass(frozen=True)
class StudyConfig:
    """Parsed config; paths are resolved relative to the config file."""

    source: str = "<defaults>"
    data_dir: Path | None = None
    table: Path | None = None
    column_map: dict = field(default_factory=dict)
    variant: str = "hierarchical"
    adjustment: str = "study"
    features: str = "design"  # concepts: building features of the features model
    populations: tuple[str, ...] = ()
    by: tuple[str, ...] = ()
    contrasts: dict = field(default_factory=dict)  # name -> (plus levels, minus levels)
    tipping_deltas: tuple[float, ...] | None = None  # None: diagnostics.tipping's default
    priors: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=dict)
    outcomes: tuple[dict, ...] = ()
    sensitivity: dict = field(default_factory=dict)
    study: dict = field(default_factory=dict)


def _contrasts(section: dict, path: Path) -> dict[str, tuple[tuple, tuple]]:
    """``[contrasts]``: ``name = { plus = [levels], minus = [levels] }``, checked."""
    out = {}
    for name, entry in section.items():
        where = f"{path}: [contrasts] {name!r}"
        if isinstance(entry, dict):
            check_keys(entry, ("plus", "minus"), where=where)
        if not isinstance(entry, dict) or set(entry) != {"plus", "minus"}:
            raise ConfigError(f"{where}: must be {{ plus = [levels], minus = [levels] }}, "
                              f"got {entry!r}")
        plus, minus = ([str(x) for x in entry[k]] if isinstance(entry[k], list) else None
                       for k in ("plus", "minus"))
        if not plus or not minus:
            raise ConfigError(f"{where}: plus and minus must be non-empty lists of levels")
        if set(plus) & set(minus):
            raise ConfigError(f"{where}: level(s) {sorted(set(plus) & set(minus))} on both "
                              f"sides")
        out[name] = (tuple(plus), tuple(minus))
    return out


def read_toml(path: Path, *, error: type[ValueError]) -> dict:
    """Parse a TOML file; a missing file or bad syntax raises ``error`` naming the file."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise error(f"{path}: file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML: {err}") from err


def _subgroups(model: dict, path: Path) -> tuple[str, ...]:
    """``[model] subgroups`` (or its old name ``populations``; not both)."""
    if "subgroups" in model and "populations" in model:
        raise ConfigError(f"{path}: [model]: 'populations' is the old name of 'subgroups'; "
                          f"give one of them")
    return tuple(model.get("subgroups", model.get("populations", ())))


def load_config(path: Path | None) -> StudyConfig:
    """Read and check a study config; ``None`` gives the defaults.

    Every section's keys are checked (:func:`check_keys`), and an outcome's ``formula`` is
    parsed here (:func:`models.formula.parse_formula`), so that a typo or an unsupported
    formula term stops the run before any data are read.
    """
    if path is None:
        return StudyConfig()
    path = Path(path)
    raw = read_toml(path, error=ConfigError)
    check_keys(raw, _TOP, where=str(path), what="section")
    _check_sections(raw, path)
    data = raw.get("data", {})
    base = path.parent
    outcomes = tuple(_outcome(oc, i, path) for i, oc in enumerate(raw.get("outcomes", ())))
    return StudyConfig(
        source=str(path),
        data_dir=(base / data["directory"]) if "directory" in data else None,
        table=(base / data["table"]) if "table" in data else None,
        column_map=_column_map(data, path),
        variant=raw.get("model", {}).get("variant", "hierarchical"),
        adjustment=raw.get("model", {}).get("adjustment", "study"),
        populations=_subgroups(raw.get("model", {}), path),
        by=tuple(raw.get("model", {}).get("by", ())),
        tipping_deltas=_deltas(raw.get("model", {}), path),
        contrasts=_contrasts(raw.get("contrasts", {}), path),
        priors=dict(raw.get("priors", {})),
        sampler=dict(raw.get("sampler", {})),
        outcomes=outcomes,
        sensitivity=dict(raw.get("sensitivity", {})),
        study=dict(raw.get("study", {})),
    )


def _deltas(model: dict, path: Path) -> tuple[float, ...] | None:
    """``[model] tipping_deltas``: numbers, 0 among them (the missing-at-random analysis)."""
    if "tipping_deltas" not in model:
        return None
    values = model["tipping_deltas"]
    if not isinstance(values, list) or not values or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"{path}: [model] tipping_deltas must be a list of numbers, got "
                          f"{values!r}")
    if 0 not in values:
        raise ConfigError(f"{path}: [model] tipping_deltas must contain 0 (the analysis "
                          f"under missing at random), got {values!r}")
    return tuple(sorted(float(v) for v in values))


def _check_sections(raw: dict, path: Path) -> None:
    """Unknown keys of [data], [model], [priors], [sampler], [study], [sensitivity.*]."""
    import dataclasses

    from inference.engine import SamplerSettings
    from models.spec import DEFAULT_PRIORS

    sampler_keys = {f.name for f in dataclasses.fields(SamplerSettings)}
    for section, known in (("data", _DATA_KEYS), ("model", _MODEL_KEYS),
                           ("priors", DEFAULT_PRIORS), ("sampler", sampler_keys),
                           ("study", STUDY_KEYS)):
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{section}] must be a table, got {value!r}")
        check_keys(value, known, where=f"{path}: [{section}]")
    for name, table in raw.get("sensitivity", {}).items():
        if isinstance(table, dict):
            check_keys(table, DEFAULT_PRIORS, where=f"{path}: [sensitivity.{name}]")


def _column_map(data: dict, path: Path) -> dict:
    """``[data.columns]``: per table (``[data.columns.tenants]``) for a ``directory``, or
    one flat renaming ``file name = name used`` for a single ``table``."""
    columns = dict(data.get("columns", {}))
    if "table" in data:
        nested = [k for k, v in columns.items() if isinstance(v, dict)]
        if nested == list(columns) and len(nested) == 1:  # [data.columns.<table>] allowed
            columns = dict(columns[nested[0]])
        bad = [k for k, v in columns.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{path}: [data.columns]: with one table, a flat renaming "
                              f"'name in the file' = \"name used\"; {bad[0]!r} is not a "
                              f"column name")
    return columns


def _outcome(oc: dict, i: int, path: Path) -> dict:
    """One ``[[outcomes]]`` table checked; a ``formula`` parsed (its name defaults to its
    response)."""
    where = f"{path}: [[outcomes]] #{i + 1}"
    check_keys(oc, _OUTCOME_KEYS, where=where)
    if "formula" in oc:
        from models.formula import FormulaError, parse_formula

        both = [k for k in FORMULA_KEYS if k in oc]
        if both:
            raise ConfigError(f"{where}: give either 'formula' or the keys {both}, not both "
                              f"(the formula says {', '.join(FORMULA_KEYS)})")
        if not isinstance(oc["formula"], str):
            raise ConfigError(f"{where}: formula must be a string, got {oc['formula']!r}")
        try:
            parts = parse_formula(oc["formula"], focal=oc.get("focal"))
        except FormulaError as err:
            raise ConfigError(f"{where}: {err}") from None
        oc = {"name": parts.response} | oc
        required = ("name", "family")
    else:
        required = ("name", "response", "family", "levels")
    for key in required:
        if key not in oc:
            raise ConfigError(f"{where}: missing key {key!r}")
    return oc


def formula_config(formula: str, *, table: Path | None = None, family: str = "gaussian",
                   focal: str | None = None, reference: str | None = None,
                   name: str | None = None, base: StudyConfig | None = None) -> StudyConfig:
    """A config of one outcome given as a formula (``--formula`` on the command line, the
    Python API's ``fit("y ~ x + (1 | g)", data=...)``).

    ``base`` (a ``--config``) keeps its priors, sampler settings and wording; its
    ``[[outcomes]]`` are replaced by this one, and ``table`` (when given) replaces its data.
    """
    base = base or StudyConfig(source="--formula")
    outcome = {"formula": formula, "family": family}
    if name:
        outcome["name"] = name
    if focal:
        outcome["focal"] = focal
    if reference is not None:
        outcome["reference"] = reference
    parsed = _outcome(outcome, 0, Path(base.source))
    changes = {"outcomes": (parsed,)}
    if table is not None:
        changes |= {"table": Path(table), "data_dir": None}
    return replace(base, **changes)
