"""Validation of the canonical ``complexes`` and ``tenants`` tables against the codebook.

The pandera schemas are generated from :data:`data.codebook.VARIABLES` (one
:class:`pandera.pandas.Column` per codebook variable of the table) and run with ``lazy=True``,
so that *every* problem of a data set is collected before anything fails. Each failure is
turned into a :class:`Problem` that names the file, the column, the row (by its id) and the
offending value.

Values are checked as they were read, without silent coercion: a numeric column read as
strings (CSV) is parsed here and a cell that does not parse (``"abc"`` in ``floors``) is
reported, not turned into a missing value. Empty cells (``NaN``, ``None``, ``""`` or only
whitespace) are missing, which is allowed everywhere except in the id columns and in
``living_form``. Columns that are not required by the codebook may be absent (a data set may
hold only some outcomes); columns the codebook does not know are ignored with a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from data.codebook import DERIVED, VARIABLES, Variable

__all__ = [
    "ID_COLUMNS",
    "MAX_LISTED",
    "TABLES",
    "DataValidationError",
    "Problem",
    "check_study",
    "format_problems",
    "normalise_table",
    "to_number",
    "validate_study",
]

logger = logging.getLogger(__name__)

TABLES: tuple[str, ...] = ("complexes", "tenants")
ID_COLUMNS: dict[str, str] = {"complexes": "complex_id", "tenants": "tenant_id"}
MAX_LISTED = 50
"""Problems listed in a :class:`DataValidationError` message before ``... and N more``."""

Severity = Literal["error", "warning"]

_VARS: dict[str, dict[str, Variable]] = {
    table: {v.name: v for v in VARIABLES if v.table == table} for table in TABLES
}
# derived and recoded analysis columns are recomputed on load, so they are not "unknown"
_RECOMPUTED: dict[str, frozenset[str]] = {
    "complexes": frozenset(d.name for d in DERIVED if d.table == "complexes"),
    "tenants": frozenset(
        {d.name for d in DERIVED if d.table == "tenants"} | {"activity_organised"}
    ),
}
_NUMERIC_KINDS = frozenset({"binary", "ordinal", "count", "continuous"})
# columns where a missing value is an error (besides the id columns)
_NOT_NULLABLE = frozenset({"living_form"})


# --------------------------------------------------------------------------------------
# Problems and the error that carries them
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One problem found in the study data.

    Attributes
    ----------
    file
        File (or table) name the problem is in, e.g. ``"tenants.csv"``.
    column
        Column the problem concerns; ``""`` for a problem of the whole table.
    row
        Id of the offending row (``complex_id`` in complexes, ``tenant_id`` in tenants), or
        ``None`` for a table-level problem or a row whose id is itself missing.
    value
        The offending value as read (``None`` for table-level problems).
    message
        What is wrong, in words.
    severity
        ``"error"`` (the data cannot be used) or ``"warning"`` (usable, but check it).
    id_column
        Name of the id column ``row`` refers to.
    row_number
        1-based position of the row in the table (data rows, header not counted), or
        ``None`` for table-level problems.
    """

    file: str
    column: str
    row: object
    value: object
    message: str
    severity: Severity = "error"
    id_column: str | None = None
    row_number: int | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.column:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.id_column or 'id'}={self.row}")
        elif self.row_number is not None:
            where.append(f"row #{self.row_number} ({self.id_column or 'id'} missing)")
        text = ", ".join(where[1:])
        text = f"{where[0]}: {text}: {self.message}" if text else f"{where[0]}: {self.message}"
        return f"{text} (warning)" if self.severity == "warning" else text


def format_problems(problems: Iterable[Problem], *, max_lines: int = MAX_LISTED) -> str:
    """Format problems as one readable multi-line message, errors first.

    Parameters
    ----------
    problems
        The problems to list.
    max_lines
        At most this many problems are listed; the rest is summarised as ``... and N more``.

    Returns
    -------
    str
        A header line with the counts followed by one line per problem.
    """
    problems = list(problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings_ = [p for p in problems if p.severity != "error"]
    header = (
        f"study data failed validation: {len(errors)} error{'s' * (len(errors) != 1)}, "
        f"{len(warnings_)} warning{'s' * (len(warnings_) != 1)}"
    )
    ordered = errors + warnings_
    lines = [header, *(f"  - {p}" for p in ordered[:max_lines])]
    if len(ordered) > max_lines:
        lines.append(f"  ... and {len(ordered) - max_lines} more")
    return "\n".join(lines)


class DataValidationError(ValueError):
    """The study data failed validation; ``problems`` holds every problem found.

    ``str(error)`` is one multi-line message listing all problems (errors first, at most
    :data:`MAX_LISTED` lines, then ``... and N more``).
    """

    def __init__(self, problems: Iterable[Problem], *, max_lines: int = MAX_LISTED) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.max_lines = max_lines
        super().__init__(format_problems(self.problems, max_lines=max_lines))

    def __reduce__(self):  # keep the exception picklable (e.g. across processes)
        return (_rebuild_error, (self.problems, self.max_lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems of severity ``"error"``."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The problems of severity ``"warning"``."""
        return tuple(p for p in self.problems if p.severity == "warning")


def _rebuild_error(problems: tuple[Problem, ...], max_lines: int) -> DataValidationError:
    return DataValidationError(problems, max_lines=max_lines)


# --------------------------------------------------------------------------------------
# Normalisation: one representation of "missing", ids as strings, nothing coerced
# --------------------------------------------------------------------------------------
def _is_missing(x: object) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    if isinstance(x, str):
        return not x.strip()
    if isinstance(x, float | np.floating):
        return bool(np.isnan(x))
    return False


def _clean_cell(x: object) -> object:
    if _is_missing(x):
        return None
    return x.strip() if isinstance(x, str) else x


def _id_text(x: object) -> str | None:
    """Canonical text of an id cell: ``7``, ``7.0`` and ``" 7 "`` all become ``"7"``."""
    if _is_missing(x):
        return None
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, bool | np.bool_):
        return str(x)
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating) and float(x).is_integer():
        return str(int(x))
    return str(x)


def normalise_table(frame: pd.DataFrame, *, table: str) -> pd.DataFrame:
    """Return a copy of a raw table in the form the checks see it.

    The index is reset to positions, codebook columns become object columns with ``None``
    for every kind of empty cell and stripped strings, and id columns become text (``7`` and
    ``7.0`` both read ``"7"``). Nothing is parsed: ``"abc"`` in a numeric column stays
    ``"abc"``. Duplicate column names keep their first occurrence. Unknown columns are left
    as they are.

    Parameters
    ----------
    frame
        The raw table (not modified).
    table
        ``"complexes"`` or ``"tenants"``.

    Returns
    -------
    pandas.DataFrame
        The normalised copy.
    """
    _check_table_name(table)
    out = frame.loc[:, ~frame.columns.duplicated()].copy().reset_index(drop=True)
    for name in out.columns:
        var = _VARS[table].get(name)
        if var is None:
            continue
        clean = _id_text if var.kind == "id" else _clean_cell
        out[name] = pd.Series([clean(x) for x in out[name].astype(object)], index=out.index,
                              dtype=object)
    return out


def to_number(values: pd.Series) -> pd.Series:
    """Parse a column to ``float64``; missing, unparseable and non-finite cells become NaN.

    Use it only on validated data or together with the ``numeric`` check, which reports the
    cells this function turns into NaN.
    """
    parsed = pd.to_numeric(values.astype(object), errors="coerce").astype("float64")
    return parsed.where(np.isfinite(parsed))


def _check_table_name(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")


# --------------------------------------------------------------------------------------
# Schema generation
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """How to report the failures of one named check of one column."""

    message: Callable[[object, int], str]
    severity: Severity = "error"


def _fmt(value: object) -> str:
    """Show a value as a user would recognise it from the file (``7``, ``'abc'``)."""
    if _is_missing(value):
        return "missing"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return repr(value)
        return value
    if isinstance(value, float | np.floating) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _fmt_values(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _bounds_text(bounds: tuple[float | None, float | None]) -> str:
    lo, hi = (None if b is None else _fmt(b) for b in bounds)
    if lo is not None and hi is not None:
        return f"outside the allowed range {lo} to {hi}"
    if lo is not None:
        return f"below the minimum {lo}"
    return f"above the maximum {hi}"


def _passes(flags_bad: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """A check function from precomputed row flags (True = problem) over the whole table.

    pandera drops missing cells before calling a check, so the flags are aligned on the
    index of what it passes in.
    """

    def check(values: pd.Series) -> pd.Series:
        return ~flags_bad.reindex(values.index, fill_value=False).astype(bool)

    return check


class _SchemaBuilder:
    """Builds one table's pandera schema and remembers how to report each check."""

    def __init__(self, table: str, frame: pd.DataFrame, other: pd.DataFrame, other_file: str):
        self.table = table
        self.frame = frame
        self.other = other
        self.other_file = other_file
        self.specs: dict[tuple[str, str], _Spec] = {}
        self.conflicting = self._conflicting_complexes()

    def _add(
        self,
        checks: list[pa.Check],
        var: Variable,
        name: str,
        bad: pd.Series,
        message: Callable[[object, int], str],
        severity: Severity = "error",
    ) -> None:
        checks.append(pa.Check(_passes(bad), name=name))
        self.specs[(var.name, name)] = _Spec(message, severity)

    def column(self, var: Variable) -> pa.Column:
        present = var.name in self.frame
        values = self.frame[var.name] if present else pd.Series(dtype=object)
        missing = values.isna()
        checks: list[pa.Check] = []
        if var.kind in _NUMERIC_KINDS:
            number = to_number(values)
            self._add(checks, var, "numeric", ~missing & number.isna(),
                      lambda v, _i: f"value {_fmt(v)} is not a (finite) number")
            if var.values:
                allowed = _fmt_values(var.values)
                self._add(checks, var, "allowed_values", number.notna() & ~number.isin(var.values),
                          lambda v, _i, a=allowed: f"value {_fmt(v)} not in allowed values {a}")
            if var.kind == "count":
                self._add(checks, var, "whole_number", number.notna() & (number % 1 != 0),
                          lambda v, _i: f"value {_fmt(v)} is not a whole number")
            lo, hi = var.bounds
            if lo is not None or hi is not None:
                low = number < lo if lo is not None else pd.Series(False, index=number.index)
                high = number > hi if hi is not None else pd.Series(False, index=number.index)
                text = _bounds_text(var.bounds)
                self._add(checks, var, "bounds", number.notna() & (low | high),
                          lambda v, _i, t=text: f"value {_fmt(v)} {t}")
        elif var.kind == "category":
            allowed = _fmt_values(var.values)
            known = values.map(lambda x: isinstance(x, str) and x in var.values).astype(bool)
            self._add(checks, var, "allowed_values", ~missing & ~known,
                      lambda v, _i, a=allowed: f"value {_fmt(v)} not in allowed values {a}")
        if present:
            self._cross_checks(var, checks)
        return pa.Column(
            name=var.name,
            checks=checks,
            nullable=var.kind != "id" and var.name not in _NOT_NULLABLE,
            required=var.required,
            title=var.en,
            description=var.nl,
        )

    def _cross_checks(self, var: Variable, checks: list[pa.Check]) -> None:
        """Checks that involve other rows, other columns or the other table."""
        frame, other, table = self.frame, self.other, self.table
        values = frame[var.name]
        conflicting = self.conflicting
        if var.name == ID_COLUMNS[table]:
            dup = values.notna() & values.duplicated(keep="first") & ~values.isin(conflicting)
            self._add(checks, var, "unique_id", dup,
                      lambda v, _i, n=var.name: f"duplicate {n} {v}")
        if var.name == "complex_id" and "complex_id" in other:
            other_ids = set(other["complex_id"].dropna())
            known = values.isin(other_ids)
            if table == "tenants":
                self._add(checks, var, "known_complex", values.notna() & ~known,
                          lambda v, _i, f=self.other_file: f"complex_id {v} not found in {f}")
            else:
                self._add(checks, var, "has_tenants", values.notna() & ~known,
                          lambda v, _i, f=self.other_file: f"complex has no tenants in {f}",
                          severity="warning")
        if table == "complexes" and var.name == "living_form" and "complex_id" in frame:
            ids = frame["complex_id"]
            bad = ids.isin(conflicting) & ids.duplicated(keep="first")

            def message(value: object, index: int) -> str:
                cid = ids.iloc[index]
                forms = frame.loc[ids == cid, "living_form"].dropna().unique()
                return (f"complex {cid} is listed under more than one living form "
                        f"({_fmt_values(forms)})")

            self._add(checks, var, "single_living_form", bad, message)
        if table == "tenants" and var.name == "friendly_contact" and "contact" in frame:
            contact = to_number(frame["contact"])
            bad = values.notna() & (contact == 1)
            self._add(checks, var, "friendly_without_contact", bad,
                      lambda v, _i: f"value {_fmt(v)} given although contact == 1 "
                                    "(little/never); friendly_contact must then be missing")

    def _conflicting_complexes(self) -> set[str]:
        frame = self.frame
        if self.table != "complexes" or not {"complex_id", "living_form"} <= set(frame):
            return set()
        forms = frame.dropna(subset=["complex_id", "living_form"])
        n_forms = forms.groupby("complex_id", sort=False)["living_form"].nunique()
        return set(n_forms.index[n_forms > 1])

    def schema(self) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {var.name: self.column(var) for var in _VARS[self.table].values()},
            strict=False,
            name=self.table,
        )


# --------------------------------------------------------------------------------------
# Running the checks
# --------------------------------------------------------------------------------------
def _table_problems(raw: pd.DataFrame, table: str, file: str) -> list[Problem]:
    """Problems pandera cannot see: duplicated/unknown column names, an empty table."""
    problems = []
    counts = pd.Series(raw.columns).value_counts(sort=False)
    for name, n in counts[counts > 1].items():
        problems.append(Problem(file, str(name), None, None,
                                f"column appears {n} times (the first one is checked)"))
    known = set(_VARS[table]) | _RECOMPUTED[table]
    for name in dict.fromkeys(raw.columns):
        if name not in known:
            problems.append(Problem(file, str(name), None, None,
                                    f"column is not a {table} column of the codebook; ignored",
                                    severity="warning"))
    if len(raw) == 0:
        problems.append(Problem(file, "", None, None, "table has no rows"))
    return problems


def _run_schema(builder: _SchemaBuilder, file: str) -> list[Problem]:
    frame, table = builder.frame, builder.table
    schema = builder.schema()
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        failures = exc.failure_cases
    else:
        return []
    id_column = ID_COLUMNS[table]
    problems = []
    for case in failures.itertuples(index=False):
        check, column, index = str(case.check), case.column, case.index
        if check == "column_in_dataframe":
            problems.append(Problem(file, str(case.failure_case), None, None,
                                    "required column is missing"))
            continue
        column = "" if column is None else str(column)
        if index is None or _is_missing(index):
            problems.append(Problem(file, column, None, case.failure_case,
                                    f"check {check!r} failed: {case.failure_case}"))
            continue
        position = int(index)
        value = frame.at[position, column] if column in frame else case.failure_case
        value = None if _is_missing(value) else value
        row = frame.at[position, id_column] if id_column in frame else None
        row = None if _is_missing(row) else row
        spec = builder.specs.get((column, check))
        if check == "not_nullable":
            spec = _Spec(lambda _v, _i: "missing value in a column that must be filled in")
        if spec is None:
            spec = _Spec(lambda v, _i, c=check: f"value {_fmt(v)} failed check {c!r}")
        problems.append(Problem(file, column, row, value, spec.message(value, position),
                                severity=spec.severity, id_column=id_column,
                                row_number=position + 1))
    return problems


def _unique(problems: list[Problem]) -> list[Problem]:
    """Drop repeats of the same problem (e.g. one id flagged by two checks' rows)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        key = (str(p), repr(p.value))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _sort_key(table_order: int, columns: list[str]) -> Callable[[Problem], tuple]:
    order = {name: i for i, name in enumerate(columns)}

    def key(p: Problem) -> tuple:
        return (table_order, p.row_number is not None, order.get(p.column, len(order)),
                p.row_number or 0)

    return key


def validate_study(
    complexes: pd.DataFrame,
    tenants: pd.DataFrame,
    *,
    complexes_file: str = "complexes",
    tenants_file: str = "tenants",
) -> list[Problem]:
    """Check both canonical tables against the codebook and return every problem found.

    Checks: required columns present; ids filled in and unique; ``living_form`` filled in
    and a known form code; codes of categorical/ordinal/binary columns among the codebook's
    values; numeric cells numeric (nothing is coerced silently), counts whole and within
    bounds; every tenant's ``complex_id`` present in complexes; every complex having
    tenants (warning); no complex listed under two living forms; ``friendly_contact``
    missing where ``contact == 1``; unknown columns (warning).

    Parameters
    ----------
    complexes, tenants
        The raw tables (any dtypes; not modified).
    complexes_file, tenants_file
        Names used for the tables in the problems (the real file names when loading).

    Returns
    -------
    list of Problem
        All problems, errors and warnings, complexes first; empty when the data are clean.
    """
    for name, frame in (("complexes", complexes), ("tenants", tenants)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    norm_c = normalise_table(complexes, table="complexes")
    norm_t = normalise_table(tenants, table="tenants")
    problems: list[Problem] = []
    for order, (table, raw, norm, other, file, other_file) in enumerate((
        ("complexes", complexes, norm_c, norm_t, complexes_file, tenants_file),
        ("tenants", tenants, norm_t, norm_c, tenants_file, complexes_file),
    )):
        found = _table_problems(raw, table, file)
        found += _run_schema(_SchemaBuilder(table, norm, other, other_file), file)
        found = _unique(found)
        found.sort(key=_sort_key(order, [*_VARS[table], *norm.columns]))
        problems += found
    return problems


def check_study(
    complexes: pd.DataFrame,
    tenants: pd.DataFrame,
    *,
    complexes_file: str = "complexes",
    tenants_file: str = "tenants",
) -> list[Problem]:
    """Validate the study data; raise if there is any error, log the warnings otherwise.

    Parameters
    ----------
    complexes, tenants
        The raw tables (not modified).
    complexes_file, tenants_file
        Names used for the tables in the messages.

    Returns
    -------
    list of Problem
        The warnings (empty when the data are clean).

    Raises
    ------
    DataValidationError
        When at least one problem has severity ``"error"``; it carries all problems.
    """
    problems = validate_study(complexes, tenants, complexes_file=complexes_file,
                              tenants_file=tenants_file)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)
    for problem in problems:
        logger.warning("%s", problem)
    return problems
