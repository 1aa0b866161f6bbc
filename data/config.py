"""The study config (TOML): data files, column mapping, outcomes, priors and sampler settings.

A config lets the engine fit another nested data set without code changes. Everything is
plain data; formulas are parsed by a whitelist (:func:`models.spec.parse_terms`), never
evaluated. Example (see README for a worked non-housing example)::

    [data]
    directory = "my_data"            # complexes.* + tenants.* in the canonical format
    # or: table = "pupils.csv"       # one table with response, terms and group columns

    [data.columns.tenants]           # their column name = canonical name
    geslacht = "female"

    [model]
    variant = "hierarchical"         # or "fixed", "none"
    adjustment = "study"             # housing suite: "study", "pre_residence" or "both"
    populations = ["RO"]             # probability effects also for the rows of these focal
                                     # levels ("RO's own residents"), beside all analysed,
                                     # or of a subgroup: "age_group=4"
    by = ["age_group"]               # ... and for each value of these columns (subgroups)

    [contrasts]                      # own contrasts of the focal level's probabilities:
    "clustered - non-clustered" = { plus = ["RO", "RR", "RG", "RB"], minus = ["GG", "LZ", "HZ"] }

    [priors]                         # overrides for every model (see DEFAULT_PRIORS)
    beta_sd = 1.0

    [sampler]
    draws = 1000

    [[outcomes]]                     # optional: own outcomes (default: the study's)
    name = "score"
    response = "score"
    family = "gaussian"              # bernoulli | binomial | cumulative | gaussian | graded
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

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "StudyConfig", "load_config", "read_toml"]

_TOP = {"data", "model", "priors", "sampler", "outcomes", "sensitivity", "study",
        "contrasts"}
_OUTCOME_KEYS = {"name", "response", "family", "terms", "levels", "focal", "reference",
                 "subset", "categories", "priors", "variant", "items", "reversed_items",
                 "trials", "nested", "slopes", "parametrisation", "id"}


class ConfigError(ValueError):
    """The study config is malformed (file, key, reason)."""


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


def load_config(path: Path | None) -> StudyConfig:
    """Read and check a study config; ``None`` gives the defaults."""
    if path is None:
        return StudyConfig()
    path = Path(path)
    raw = read_toml(path, error=ConfigError)
    unknown = set(raw) - _TOP
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(_TOP)}")
    data = raw.get("data", {})
    base = path.parent
    outcomes = tuple(raw.get("outcomes", ()))
    for i, oc in enumerate(outcomes):
        bad = set(oc) - _OUTCOME_KEYS
        if bad:
            raise ConfigError(f"{path}: [[outcomes]] #{i + 1}: unknown key(s) {sorted(bad)}")
        for key in ("name", "response", "family", "levels"):
            if key not in oc:
                raise ConfigError(f"{path}: [[outcomes]] #{i + 1}: missing key {key!r}")
    return StudyConfig(
        source=str(path),
        data_dir=(base / data["directory"]) if "directory" in data else None,
        table=(base / data["table"]) if "table" in data else None,
        column_map=dict(data.get("columns", {})),
        variant=raw.get("model", {}).get("variant", "hierarchical"),
        adjustment=raw.get("model", {}).get("adjustment", "study"),
        populations=tuple(raw.get("model", {}).get("populations", ())),
        by=tuple(raw.get("model", {}).get("by", ())),
        contrasts=_contrasts(raw.get("contrasts", {}), path),
        priors=dict(raw.get("priors", {})),
        sampler=dict(raw.get("sampler", {})),
        outcomes=outcomes,
        sensitivity=dict(raw.get("sensitivity", {})),
        study=dict(raw.get("study", {})),
    )
