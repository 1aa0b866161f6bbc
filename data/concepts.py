"""New housing concepts described by building features, read from TOML and validated.

A concept names the building features of the "features" model variant::

    [[concept]]
    name = "small low-rise with shared kitchen"
    floors = 2
    units = 20
    meeting_room = 1
    kitchen_dining = 1
    care_facilities = 0
    rural = 0             # or address_density = 2500
    # ratings of the community, used only by the model with --features all:
    involvement_activities = 1
    involvement_spaces = 1
    vitality = 3          # 1 low, 2 mixed, 3 high

The design features (:data:`DESIGN_KEYS` and the location) are required; the community
ratings (:data:`COMMUNITY_KEYS`) are required only for the model with every feature
(``features="all"``) and otherwise not used. Values are checked against the codebook; an
unknown key or an impossible value is an error naming the concept, the key and the value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data import codebook as cb
from data.config import read_toml

__all__ = ["COMMUNITY_KEYS", "CONCEPT_FEATURES", "ConceptError", "DESIGN_KEYS",
           "load_concepts", "concepts_frame"]

DESIGN_KEYS = ("floors", "units", "meeting_room", "kitchen_dining", "care_facilities")
COMMUNITY_KEYS = ("involvement_activities", "involvement_spaces", "vitality")
CONCEPT_FEATURES = DESIGN_KEYS + COMMUNITY_KEYS


class ConceptError(ValueError):
    """A concept file or entry is invalid."""


def _check_value(where: str, key: str, value) -> None:
    var = cb.variable(key, "complexes") if key != "rural" else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConceptError(f"{where}: {key} = {value!r} is not a number")
    if var is None:  # rural
        if value not in (0, 1):
            raise ConceptError(f"{where}: rural = {value!r} must be 0 or 1")
        return
    if var.values and value not in var.values:
        raise ConceptError(f"{where}: {key} = {value!r} not in allowed values "
                           f"{list(var.values)} ({var.en})")
    lo, hi = var.bounds
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConceptError(f"{where}: {key} = {value!r} outside [{lo}, {hi}] ({var.en})")
    if var.kind == "count" and value != int(value):
        raise ConceptError(f"{where}: {key} = {value!r} must be a whole number")


def concepts_frame(entries: list[dict], *, source: str = "concepts",
                   features: str = "design") -> pd.DataFrame:
    """Validate concept dicts and return one row per concept with the model's features.

    ``features``: ``design`` (community ratings optional and unused) or ``all``.
    """
    required = DESIGN_KEYS if features == "design" else CONCEPT_FEATURES
    rows, names = [], set()
    allowed = {"name", "description", *CONCEPT_FEATURES, "rural", "address_density"}
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: concept #{i} ({entry.get('name', 'unnamed')!r})"
        if "name" not in entry:
            raise ConceptError(f"{where}: missing 'name'")
        if entry["name"] in names:
            raise ConceptError(f"{where}: duplicate name")
        names.add(entry["name"])
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ConceptError(f"{where}: unknown feature(s) {unknown}; known: "
                               f"{sorted(allowed - {'name', 'description'})}")
        missing = [k for k in required if k not in entry]
        if "rural" not in entry and "address_density" not in entry:
            missing.append("rural (or address_density)")
        if missing:
            raise ConceptError(f"{where}: missing feature(s) {missing}")
        for key in (*CONCEPT_FEATURES, "rural", "address_density"):
            if key in entry:
                _check_value(where, key, entry[key])
        row = {k: entry[k] for k in CONCEPT_FEATURES if k in entry}
        row["address_density"] = entry.get("address_density",
                                           500.0 if entry.get("rural") == 1 else 2000.0)
        row["name"] = entry["name"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    derived, _ = cb.derive(frame, pd.DataFrame())
    if entries and any("rural" in e for e in entries):  # an explicit rural flag wins
        derived["rural"] = [e.get("rural", r) for e, r in zip(entries, derived["rural"],
                                                              strict=True)]
    return derived


def load_concepts(path: Path, *, features: str = "design") -> pd.DataFrame:
    """Read ``[[concept]]`` entries from a TOML file (see module docstring)."""
    path = Path(path)
    raw = read_toml(path, error=ConceptError)
    entries = raw.get("concept")
    if not entries:
        raise ConceptError(f"{path}: no [[concept]] entries")
    return concepts_frame(entries, source=str(path), features=features)
