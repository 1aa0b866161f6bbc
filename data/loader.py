"""Reading and writing the study data in the canonical two-table format.

A data set is two tables, ``complexes`` (one row per housing complex) and ``tenants`` (one
row per respondent), joined on ``complex_id``; the columns are described by
:data:`data.codebook.VARIABLES`. Each table may be a ``.csv``, ``.parquet`` or SPSS ``.sav``
file. :func:`load_study` reads both, renames columns to the canonical names, validates them
(:func:`data.validation.check_study`, with the real file names in every message), converts
them to proper dtypes and adds the derived variables (:func:`data.codebook.derive`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyreadstat

from data.codebook import DERIVED, FORMS, VARIABLES, Variable, add_outcome_columns, derive
from data.validation import TABLES, check_study, normalise_table, to_number
from models.terms import complete_cases

__all__ = [
    "SUFFIXES",
    "StudyData",
    "complete_cases",
    "load_study",
    "read_table",
    "to_canonical_dtypes",
    "write_study",
]

logger = logging.getLogger(__name__)

SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".sav")
"""File formats :func:`read_table` understands, in the order :func:`load_study` looks."""

_VARS_BY_NAME: dict[str, Variable] = {}
for _v in VARIABLES:
    _VARS_BY_NAME.setdefault(_v.name, _v)
_TABLE_VARS: dict[str, dict[str, Variable]] = {
    table: {v.name: v for v in VARIABLES if v.table == table} for table in TABLES
}
_COMPUTED = frozenset({d.name for d in DERIVED} | {"activity_organised"})
_CODED_KINDS = frozenset({"category", "binary", "ordinal"})


# --------------------------------------------------------------------------------------
# The loaded study
# --------------------------------------------------------------------------------------
@dataclass
class StudyData:
    """The two validated canonical tables of a study and where they came from.

    Attributes
    ----------
    complexes
        One row per complex, canonical dtypes, derived ``rural`` and ``small_community``.
    tenants
        One row per tenant, canonical dtypes, derived ``cohesion`` and ``lonely``.
    source
        Where the data came from (directory or file paths), for reports.
    """

    complexes: pd.DataFrame
    tenants: pd.DataFrame
    source: str = ""

    def complex_table(self) -> pd.DataFrame:
        """Every complex with its derived columns (e.g. ``rural``), those without tenants
        included: the population's complexes."""
        return derive(self.complexes, self.tenants)[0]

    def merged(self) -> pd.DataFrame:
        """Tenants joined with their complex's columns, ready for modelling.

        The derived variables (:func:`data.codebook.derive`) and the outcome recodes
        (:func:`data.codebook.add_outcome_columns`) are (re)computed first; then the
        complex columns of the codebook (``living_form``, the building features,
        ``address_density``, ``rural``, ``small_community``) are joined onto the tenants by
        ``complex_id``. Tenant row order is kept.

        Returns
        -------
        pandas.DataFrame
            One row per tenant.
        """
        complexes, tenants = derive(self.complexes, self.tenants)
        tenants = add_outcome_columns(tenants)
        complex_known = set(_TABLE_VARS["complexes"]) | {
            d.name for d in DERIVED if d.table == "complexes"
        }
        columns = [c for c in complexes.columns if c in complex_known and c != "complex_id"]
        clashes = [c for c in columns if c in tenants.columns]
        if clashes:
            logger.warning("tenant columns %s are replaced by the complex columns of that name",
                           clashes)
            tenants = tenants.drop(columns=clashes)
        return tenants.merge(complexes[["complex_id", *columns]], on="complex_id", how="left",
                             validate="many_to_one")


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------
def _norm_label(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def _label_lookup(var: Variable) -> dict[str, object]:
    """Map normalised label text (English, Dutch, or the code itself) to the code."""
    lookup: dict[str, object] = {}
    if var.name == "living_form":
        for form in FORMS:
            for text in (form.code, form.en, form.nl):
                lookup[_norm_label(text)] = form.code
        return lookup
    for labels in (var.labels_en, var.labels_nl):
        for code, text in zip(var.values, labels, strict=False):
            lookup.setdefault(_norm_label(text), code)
    return lookup


def _map_text_labels(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Replace cells of a coded column that spell out a codebook label by the code."""
    var = _VARS_BY_NAME.get(name)
    if var is None or var.kind not in _CODED_KINDS:
        return frame
    lookup = _label_lookup(var)
    col = frame[name].astype(object)
    is_text = col.map(lambda x: isinstance(x, str))
    mapped = col.map(lambda x: lookup.get(_norm_label(x), x) if isinstance(x, str) else x)
    changed = is_text & (mapped != col)
    if var.kind == "category":  # the codes themselves are text: only count real relabelling
        changed &= ~col.isin(var.values)
    if changed.any():
        logger.info("column %r: %d label(s) mapped to codebook codes", name, int(changed.sum()))
        frame[name] = mapped
    return frame


def _map_value_labels(frame: pd.DataFrame, name: str, labels: Mapping) -> pd.DataFrame:
    """Map SPSS value labels of a column to the codebook's codes.

    ``living_form`` stored as labelled numbers becomes the form code. A numeric coded
    variable keeps its numeric codes, unless *all* its labels name codebook levels under
    different codes (e.g. ``1 = nee, 2 = ja``), in which case the codes are remapped.
    """
    var = _VARS_BY_NAME.get(name)
    if var is None or var.kind not in _CODED_KINDS or not labels:
        return frame
    lookup = _label_lookup(var)
    mapping = {code: lookup.get(_norm_label(text)) for code, text in labels.items()}
    matched = {code: target for code, target in mapping.items() if target is not None}
    if var.kind == "category":
        if matched:
            frame[name] = frame[name].map(lambda x: matched.get(x, x))
            logger.info("column %r: SPSS value labels mapped to codes %s", name, matched)
        unmatched = sorted(str(c) for c in mapping if mapping[c] is None)
        if unmatched:
            logger.warning("column %r: value labels for codes %s match no codebook level",
                           name, ", ".join(unmatched))
        return frame
    identity = all(float(code) == float(target) for code, target in matched.items())
    if identity:
        return frame
    if len(matched) == len(mapping) and len(set(matched.values())) == len(matched):
        frame[name] = frame[name].map(lambda x: matched.get(x, x))
        logger.info("column %r: codes remapped by their SPSS value labels %s", name, matched)
    else:
        logger.warning("column %r: SPSS value labels disagree with the codebook; numeric codes "
                       "kept as they are", name)
    return frame


def _own_labels(frame: pd.DataFrame, name: str, labels: Mapping, measure: str | None,
                path: Path) -> pd.DataFrame:
    """A study's own labelled SPSS variable (not in the housing codebook): a *nominal* one
    with more than two labels becomes its labels, a text factor (``C(region)`` then reads
    "north", not 3); every other keeps its numeric codes, so that a labelled 0/1 flag or an
    ordinal or scale variable stays usable as a number. A code without a label is an error
    naming the file, column and value, never a silent category."""
    if measure != "nominal" or len(labels) <= 2:
        return frame
    values = pd.unique(frame[name].dropna())
    unlabelled = sorted(v for v in values if v not in labels)
    if unlabelled:
        shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                          for v in unlabelled[:5])
        raise ValueError(f"{path}: column {name!r} is a nominal SPSS variable with value "
                         f"labels, but value(s) {shown} have no label")
    frame[name] = frame[name].map(lambda x: str(labels[x]) if x in labels else x)
    logger.info("column %r: SPSS value labels used as its categories", name)
    return frame


def _csv_separator(path: Path) -> str:
    with path.open(encoding="utf-8-sig") as handle:
        header = handle.readline()
    return ";" if header.count(";") > header.count(",") else ","


def read_table(path: str | Path, *, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read one table from a ``.csv``, ``.parquet`` or ``.sav`` file.

    CSV files are read entirely as text, with empty cells as missing, so that ids keep
    leading zeros and a bad cell in a numeric column (``"abc"``) reaches validation instead
    of being silently turned into a missing value. A ``;`` separator (Dutch spreadsheet
    exports) is detected from the header. For ``.sav`` files, SPSS value labels are mapped
    back to the codebook's codes: ``living_form`` as labelled numbers (or as label text such
    as ``"Hoogbouw zonder ontmoetingsruimte"``) becomes ``"HZ"``; labelled numeric codes of
    other codebook variables keep their codes. A study's own variables: a nominal one with
    more than two value labels becomes its labels (a text factor), others keep their codes;
    SPSS user-missing codes are missing values in every column. In every format, coded
    columns whose cells spell out a codebook label get the code.

    Parameters
    ----------
    path
        The file; its suffix decides the reader.
    column_map
        Optional renaming ``{name in the file: canonical name}``, applied before the labels
        are mapped.

    Returns
    -------
    pandas.DataFrame
        The table, not yet validated or converted.

    Raises
    ------
    ValueError
        For an unknown suffix or a column map that would create duplicate column names.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {path}: unknown file type {path.suffix!r} "
                         f"(expected one of {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    value_labels: dict[str, Mapping] = {}
    measures: dict[str, str] = {}
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, sep=_csv_separator(path), encoding="utf-8-sig",
                            skipinitialspace=True)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        # user-missing codes (SPSS "missing values") become missing here
        frame, meta = pyreadstat.read_sav(str(path), user_missing=False)
        value_labels = dict(meta.variable_value_labels or {})
        measures = dict(meta.variable_measure or {})
    frame.columns = [str(c).strip() for c in frame.columns]
    if column_map:
        frame = _rename(frame, column_map, path)
        value_labels = {column_map.get(k, k): v for k, v in value_labels.items()}
        measures = {column_map.get(k, k): v for k, v in measures.items()}
    for name, labels in value_labels.items():
        if name in frame and name in _VARS_BY_NAME:
            frame = _map_value_labels(frame, name, labels)
        elif name in frame:
            frame = _own_labels(frame, name, labels, measures.get(name), path)
    for name in frame.columns:
        frame = _map_text_labels(frame, name)
    logger.info("read %s: %d rows, %d columns", path, len(frame), frame.shape[1])
    return frame


def _rename(frame: pd.DataFrame, column_map: Mapping[str, str], path: Path) -> pd.DataFrame:
    absent = [k for k in column_map if k not in frame.columns]
    if absent:
        logger.warning("%s: column map names columns the file does not have: %s", path.name,
                       ", ".join(map(str, absent)))
    renamed = frame.rename(columns=dict(column_map))
    dupes = sorted(set(renamed.columns[renamed.columns.duplicated()]))
    if dupes:
        raise ValueError(f"{path.name}: the column map gives more than one column the name(s) "
                         f"{', '.join(dupes)}")
    return renamed


# --------------------------------------------------------------------------------------
# Converting validated tables
# --------------------------------------------------------------------------------------
def to_canonical_dtypes(frame: pd.DataFrame, *, table: str) -> pd.DataFrame:
    """Return a copy of a *validated* table with the codebook's dtypes.

    Ids and ``living_form`` become text, binary/ordinal/count columns nullable ``Int64``,
    continuous ones ``float64``; empty cells become missing. Unknown columns are kept as
    they are. The index is reset.

    Parameters
    ----------
    frame
        A table that passed :func:`data.validation.check_study` (not modified).
    table
        ``"complexes"`` or ``"tenants"``.
    """
    out = normalise_table(frame, table=table)
    for name in out.columns:
        var = _TABLE_VARS[table].get(name)
        if var is None:
            continue
        if var.kind in {"id", "category"}:
            out[name] = out[name].astype("string").astype(str)
        elif var.kind == "continuous":
            out[name] = to_number(out[name])
        else:
            out[name] = to_number(out[name]).astype("Int64")
    return out


# --------------------------------------------------------------------------------------
# Loading a study
# --------------------------------------------------------------------------------------
def _find(directory: Path, table: str) -> Path:
    found = [p for p in sorted(directory.iterdir())
             if p.is_file() and p.stem == table and p.suffix.lower() in SUFFIXES]
    if not found:
        raise FileNotFoundError(f"no {table} file in {directory} "
                                f"(looked for {', '.join(table + s for s in SUFFIXES)})")
    if len(found) > 1:
        raise ValueError(f"more than one {table} file in {directory}: "
                         f"{', '.join(p.name for p in found)}; pass the path explicitly")
    return found[0]


def load_study(
    directory: str | Path | None = None,
    *,
    complexes_path: str | Path | None = None,
    tenants_path: str | Path | None = None,
    column_map: Mapping[str, Mapping[str, str]] | None = None,
) -> StudyData:
    """Read, validate, convert and derive the two tables of a study.

    Parameters
    ----------
    directory
        Folder holding ``complexes.{csv,parquet,sav}`` and ``tenants.{csv,parquet,sav}``.
    complexes_path, tenants_path
        Explicit files; they take precedence over ``directory``.
    column_map
        Renaming per table, ``{"tenants": {"their_name": "canonical_name"},
        "complexes": {...}}``.

    Returns
    -------
    StudyData
        Canonical dtypes plus the derived variables.

    Raises
    ------
    DataValidationError
        With every problem found (real file names in the messages).
    FileNotFoundError, ValueError
        When the files cannot be found or read, or the arguments are inconsistent.
    """
    column_map = dict(column_map or {})
    unknown = set(column_map) - set(TABLES)
    if unknown:
        raise ValueError(f"column_map keys must be among {TABLES}, got {sorted(unknown)}")
    paths: dict[str, Path] = {}
    for table, explicit in (("complexes", complexes_path), ("tenants", tenants_path)):
        if explicit is not None:
            paths[table] = Path(explicit)
        elif directory is not None:
            paths[table] = _find(Path(directory), table)
        else:
            raise ValueError(f"give a directory or {table}_path")
    raw = {t: read_table(p, column_map=column_map.get(t)) for t, p in paths.items()}
    check_study(raw["complexes"], raw["tenants"], complexes_file=paths["complexes"].name,
                tenants_file=paths["tenants"].name)
    complexes = to_canonical_dtypes(raw["complexes"], table="complexes")
    tenants = to_canonical_dtypes(raw["tenants"], table="tenants")
    complexes, tenants = derive(complexes, tenants)
    source = (str(directory) if directory is not None and complexes_path is None
              and tenants_path is None
              else f"complexes={paths['complexes']}, tenants={paths['tenants']}")
    logger.info("loaded study from %s: %d complexes, %d tenants", source, len(complexes),
                len(tenants))
    return StudyData(complexes=complexes, tenants=tenants, source=source)


# --------------------------------------------------------------------------------------
# Complete cases
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def _for_sav(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = pd.Series([None if pd.isna(x) else str(x) for x in col],
                                  index=out.index, dtype=object)
    return out


def write_study(
    study_or_frames: StudyData | tuple[pd.DataFrame, pd.DataFrame],
    directory: str | Path,
    *,
    fmt: str = "csv",
) -> tuple[Path, Path]:
    """Write the two tables as ``complexes.<fmt>`` and ``tenants.<fmt>``.

    Derived and recoded columns (``rural``, ``small_community``, ``cohesion``, ``lonely``,
    ``activity_organised``) are not written: they are recomputed on loading. ``.sav`` files
    get the codebook's English column labels and value labels for coded numeric columns;
    ``living_form`` is written as text.

    Parameters
    ----------
    study_or_frames
        A :class:`StudyData` or a ``(complexes, tenants)`` pair.
    directory
        Target folder (created if needed); existing files are overwritten.
    fmt
        ``"csv"``, ``"parquet"`` or ``"sav"``.

    Returns
    -------
    tuple of Path
        The complexes and tenants files written.
    """
    if fmt not in {s.lstrip(".") for s in SUFFIXES}:
        raise ValueError(f"fmt must be one of csv, parquet, sav; got {fmt!r}")
    if isinstance(study_or_frames, StudyData):
        frames = {"complexes": study_or_frames.complexes, "tenants": study_or_frames.tenants}
    else:
        complexes, tenants = study_or_frames
        frames = {"complexes": complexes, "tenants": tenants}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table, frame in frames.items():
        frame = frame.drop(columns=[c for c in frame.columns if c in _COMPUTED])
        path = directory / f"{table}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            known = {n: v for n, v in _TABLE_VARS[table].items() if n in frame.columns}
            pyreadstat.write_sav(
                _for_sav(frame), str(path),
                column_labels={n: v.en for n, v in known.items()},
                variable_value_labels={n: dict(zip(v.values, v.labels_en, strict=False))
                                       for n, v in known.items()
                                       if v.kind in {"binary", "ordinal"} and v.labels_en},
            )
        logger.info("wrote %s (%d rows)", path, len(frame))
        written.append(path)
    return written[0], written[1]
