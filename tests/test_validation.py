"""Tests for :mod:`data.validation`: every check names file, column, row id and value."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pandas as pd
import pytest

from data.codebook import COMPLEX_COLUMNS, TENANT_COLUMNS
from data.validation import (
    DataValidationError,
    Problem,
    check_study,
    normalise_table,
    validate_study,
)

CF, TF = "complexes.csv", "tenants.csv"


# --------------------------------------------------------------------------------------
# A small valid study, built by hand (also used by test_loader)
# --------------------------------------------------------------------------------------
def make_complexes() -> pd.DataFrame:
    """Five complexes of different living forms with all canonical columns."""
    rows = [
        # id,   form, floors, units, meet, kitch, care, act, spaces, vital, density
        ("C01", "HZ", 8, 64, 0, 0, 0, 0, 0, 2, 4200.5),
        ("C02", "RB", 2, 24, 1, 1, 0, 1, 1, 3, 850.0),
        ("C03", "GG", 1, 30, 0, 0, 0, 0, 0, 2, 640.0),
        ("C04", "RO", 6, 120, 1, 1, 1, 0, 0, 1, 2100.0),
        ("C05", "RR", 3, 25, 1, 0, 0, 1, 0, None, 999.0),
    ]
    frame = pd.DataFrame(rows, columns=list(COMPLEX_COLUMNS))
    frame["vitality"] = frame["vitality"].astype("Int64")
    return frame


_TENANT_ROWS = [
    # id, complex, female, age, edu, care, limit, alone, outside, fin, extra, motive, dur, norms,
    # contact, friendly, act_part, organised, maintained, gossip, coh1-5, sup1-3, help_r, help_g
    ("T0001", "C01", 1, 3, 1, 0, 1, 1, 0, 0, 5, 0, 3, 1,
     1, None, 0, 0, 0, 0, 3, 2, 4, 3, 3, 2, 3, 2, 1, 1),
    ("T0002", "C01", 0, 2, 2, 0, 0, 0, 0, 1, 9, 1, 2, 1,
     2, 0, 1, 0, 0, 1, 4, 3, 3, 4, 4, 4, 4, 3, 1, 2),
    ("T0003", "C01", 1, 4, None, 1, 1, 1, 1, 0, 3, 0, 3, 0,
     3, 1, 2, 0, 0, 0, 4, 4, 2, 4, 5, 4, 5, 4, 2, 1),
    ("T0004", "C02", 1, 2, 3, 0, 0, 0, 0, 0, 11, 1, 2, 1,
     3, 1, 3, 1, 1, 0, 5, 5, 1, 5, 5, 5, 5, 5, 3, 3),
    ("T0005", "C02", 0, 3, 2, 0, 0, 1, 0, 0, 7, 1, 1, 1,
     2, 1, 3, 1, 0, 0, 4, 4, 2, 4, 4, 4, 4, 4, 2, 2),
    ("T0006", "C03", 1, 1, 2, 0, 0, 0, 0, 1, 6, 0, 3, 1,
     2, 0, 0, 0, 0, 0, 4, 3, 3, 3, 4, 3, 3, 3, 1, 1),
    ("T0007", "C04", 1, 4, 1, 1, 1, 1, 1, 1, 2, 0, 2, 0,
     1, None, 1, 0, 0, 1, 3, 3, 4, 3, 3, 2, 2, 2, 1, 1),
    ("T0008", "C04", 0, 4, 1, 1, 1, 1, 0, 0, 4, 0, 3, 1,
     2, 0, 2, 0, 0, 0, 3, 3, 3, 3, 4, 3, 4, 3, 2, 1),
    ("T0009", "C05", 1, 3, 2, 0, 0, 1, 0, 0, 8, 1, 3, 1,
     3, 1, 3, 1, 0, 0, 5, 4, 2, 4, 5, 5, 4, 5, 1, 3),
    ("T0010", "C05", 0, 2, 3, 0, 0, 0, 0, 0, 10, 1, 1, None,
     3, 0, 2, 0, 1, 0, 4, 4, 3, 4, 4, None, 4, 4, 1, 2),
]


def make_tenants() -> pd.DataFrame:
    """Ten tenants in the five complexes, with a few (allowed) missing answers."""
    frame = pd.DataFrame(_TENANT_ROWS, columns=list(TENANT_COLUMNS))
    for name in TENANT_COLUMNS[2:]:
        frame[name] = frame[name].astype("Int64")
    return frame


def make_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_complexes(), make_tenants()


def set_cell(frame: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    """Put any value (also text into a numeric column) into a copy of the frame."""
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


def only(problems: list[Problem], column: str, *, severity: str = "error") -> Problem:
    found = [p for p in problems if p.column == column and p.severity == severity]
    assert len(found) == 1, problems
    return found[0]


@pytest.fixture
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_tables()


def _validate(complexes: pd.DataFrame, tenants: pd.DataFrame) -> list[Problem]:
    return validate_study(complexes, tenants, complexes_file=CF, tenants_file=TF)


# --------------------------------------------------------------------------------------
# Clean data
# --------------------------------------------------------------------------------------
def test_valid_tables_have_no_problems(tables):
    assert _validate(*tables) == []
    assert check_study(*tables) == []


def test_inputs_are_not_modified(tables):
    complexes = set_cell(tables[0], 1, "floors", " abc ")
    tenants = set_cell(tables[1], 2, "contact", "")
    before = complexes.copy(), tenants.copy()
    _validate(complexes, tenants)
    pd.testing.assert_frame_equal(complexes, before[0])
    pd.testing.assert_frame_equal(tenants, before[1])


def test_all_text_tables_as_read_from_csv_are_valid(tables):
    complexes, tenants = (t.astype(object).where(t.notna(), "").astype(str) for t in tables)
    assert _validate(complexes, tenants) == []


def test_optional_columns_may_be_absent(tables):
    complexes, tenants = tables
    outcomes = ["contact", "friendly_contact", "gossip", "help_given", "support_2"]
    problems = _validate(complexes.drop(columns=["address_density", "floors"]),
                         tenants.drop(columns=outcomes))
    assert problems == []


def test_empty_cells_are_missing_and_allowed_in_ordinary_columns(tables):
    complexes = set_cell(tables[0], 0, "floors", "  ")
    tenants = set_cell(tables[1], 3, "extraversion", None)
    tenants = set_cell(tenants, 4, "gossip", np.nan)
    assert _validate(complexes, tenants) == []


# --------------------------------------------------------------------------------------
# One test per check
# --------------------------------------------------------------------------------------
def test_missing_required_column(tables):
    problems = _validate(tables[0].drop(columns=["living_form"]), tables[1])
    p = only(problems, "living_form")
    assert (p.file, p.row, p.value) == (CF, None, None)
    assert "required column is missing" in str(p)


def test_missing_required_tenant_id_column(tables):
    problems = _validate(tables[0], tables[1].drop(columns=["tenant_id"]))
    p = only(problems, "tenant_id")
    assert p.file == TF and "missing" in p.message


def test_unknown_living_form_code(tables):
    complexes = set_cell(tables[0], 2, "living_form", "XX")
    p = only(_validate(complexes, tables[1]), "living_form")
    assert (p.file, p.row, p.value) == (CF, "C03", "XX")
    assert str(p) == ("complexes.csv: column 'living_form', row complex_id=C03: value 'XX' "
                      "not in allowed values GG, LZ, HZ, RO, RR, RG, RB")


def test_unknown_ordinal_code(tables):
    tenants = set_cell(tables[1], 6, "contact", 7)
    p = only(_validate(tables[0], tenants), "contact")
    assert str(p) == ("tenants.csv: column 'contact', row tenant_id=T0007: "
                      "value 7 not in allowed values 1, 2, 3")
    assert (p.row, p.value, p.severity) == ("T0007", 7, "error")


def test_unknown_binary_code_as_text(tables):
    tenants = set_cell(tables[1], 1, "female", "2")
    p = only(_validate(tables[0], tenants), "female")
    assert (p.file, p.row, p.value) == (TF, "T0002", "2")
    assert "not in allowed values 0, 1" in p.message


def test_count_out_of_range(tables):
    complexes = set_cell(tables[0], 3, "floors", 99)
    p = only(_validate(complexes, tables[1]), "floors")
    assert (p.file, p.row, p.value) == (CF, "C04", 99)
    assert "99 outside the allowed range 1 to 60" in str(p)


def test_count_not_whole(tables):
    tenants = set_cell(tables[1], 0, "extraversion", 4.5)
    p = only(_validate(tables[0], tenants), "extraversion")
    assert (p.row, p.value) == ("T0001", 4.5)
    assert "not a whole number" in p.message


def test_continuous_below_minimum(tables):
    complexes = set_cell(tables[0], 0, "address_density", -5.0)
    p = only(_validate(complexes, tables[1]), "address_density")
    assert (p.row, p.value) == ("C01", -5.0)
    assert "below the minimum 0" in p.message


def test_non_numeric_value_in_numeric_column(tables):
    complexes = set_cell(tables[0], 1, "floors", "abc")
    p = only(_validate(complexes, tables[1]), "floors")
    assert (p.file, p.row, p.value) == (CF, "C02", "abc")
    assert str(p) == "complexes.csv: column 'floors', row complex_id=C02: value 'abc' is not " \
                     "a (finite) number"


def test_infinite_value_is_not_a_number(tables):
    complexes = set_cell(tables[0], 1, "address_density", "inf")
    p = only(_validate(complexes, tables[1]), "address_density")
    assert (p.row, p.value) == ("C02", "inf")


def test_duplicate_complex_id(tables):
    complexes = pd.concat([tables[0], tables[0].iloc[[1]]], ignore_index=True)
    p = only(_validate(complexes, tables[1]), "complex_id")
    assert (p.file, p.row, p.value, p.row_number) == (CF, "C02", "C02", 6)
    assert "duplicate complex_id C02" in str(p)


def test_duplicate_tenant_id(tables):
    tenants = set_cell(tables[1], 4, "tenant_id", "T0001")
    p = only(_validate(tables[0], tenants), "tenant_id")
    assert (p.file, p.row, p.value) == (TF, "T0001", "T0001")
    assert "duplicate tenant_id T0001" in p.message


def test_ids_compare_as_text(tables):
    """7, 7.0 (numbers) and "7" (text) are the same id; the tenant's complex is found."""
    complexes = set_cell(tables[0], 0, "complex_id", 7.0)
    tenants = tables[1].copy()
    tenants["complex_id"] = tenants["complex_id"].replace("C01", "7")
    assert _validate(complexes, tenants) == []


def test_missing_id_value(tables):
    tenants = set_cell(tables[1], 2, "tenant_id", "")
    p = only(_validate(tables[0], tenants), "tenant_id")
    assert (p.file, p.row, p.row_number) == (TF, None, 3)
    assert "row #3 (tenant_id missing)" in str(p)


def test_missing_living_form_value(tables):
    complexes = set_cell(tables[0], 4, "living_form", None)
    p = only(_validate(complexes, tables[1]), "living_form")
    assert (p.row, p.value) == ("C05", None)


def test_tenant_in_unknown_complex(tables):
    tenants = set_cell(tables[1], 7, "complex_id", "C99")
    p = only(_validate(tables[0], tenants), "complex_id")
    assert (p.file, p.row, p.value) == (TF, "T0008", "C99")
    assert "complex_id C99 not found in complexes.csv" in str(p)


def test_complex_without_tenants_is_a_warning(tables, caplog):
    tenants = tables[1][tables[1]["complex_id"] != "C03"]
    problems = _validate(tables[0], tenants)
    p = only(problems, "complex_id", severity="warning")
    assert (p.file, p.row, p.value) == (CF, "C03", "C03")
    assert "no tenants in tenants.csv" in str(p) and str(p).endswith("(warning)")
    assert [q for q in problems if q.severity == "error"] == []
    with caplog.at_level(logging.WARNING, logger="data.validation"):
        assert check_study(tables[0], tenants, tenants_file=TF) == [
            Problem("complexes", "complex_id", "C03", "C03", "complex has no tenants in "
                    "tenants.csv", "warning", "complex_id", 3)]
    assert "C03" in caplog.text


def test_complex_under_two_living_forms(tables):
    second = tables[0].iloc[[0]].assign(living_form="RG")
    complexes = pd.concat([tables[0], second], ignore_index=True)
    problems = _validate(complexes, tables[1])
    p = only(problems, "living_form")
    assert (p.file, p.row, p.value) == (CF, "C01", "RG")
    assert "complex C01 is listed under more than one living form (HZ, RG)" in str(p)
    # reported specially, not (also) as a plain duplicate id
    assert [q for q in problems if q.column == "complex_id"] == []


def test_friendly_contact_given_when_contact_is_little(tables):
    tenants = set_cell(tables[1], 0, "friendly_contact", 0)
    p = only(_validate(tables[0], tenants), "friendly_contact")
    assert (p.file, p.row, p.value) == (TF, "T0001", 0)
    assert "contact == 1" in p.message


def test_unknown_column_is_a_warning(tables):
    tenants = tables[1].assign(shoe_size=42)
    problems = _validate(tables[0], tenants)
    p = only(problems, "shoe_size", severity="warning")
    assert (p.file, p.row) == (TF, None)
    assert not [q for q in problems if q.severity == "error"]


def test_derived_columns_are_not_unknown(tables):
    complexes = tables[0].assign(rural=1)
    assert _validate(complexes, tables[1].assign(cohesion=3.0, lonely=0)) == []


def test_duplicate_column_name_is_an_error(tables):
    tenants = pd.concat([tables[1], tables[1][["gossip"]]], axis=1)
    p = only(_validate(tables[0], tenants), "gossip")
    assert "column appears 2 times" in p.message


def test_empty_table_is_an_error(tables):
    problems = _validate(tables[0], tables[1].iloc[:0])
    assert any(p.file == TF and "no rows" in p.message for p in problems)


# --------------------------------------------------------------------------------------
# Collecting everything in one error
# --------------------------------------------------------------------------------------
def test_all_problems_are_collected_in_one_error(tables):
    complexes = set_cell(tables[0], 1, "floors", "abc")
    complexes = set_cell(complexes, 2, "living_form", "XX")
    tenants = set_cell(tables[1], 6, "contact", 7)
    tenants = set_cell(tenants, 7, "complex_id", "C99")
    tenants = set_cell(tenants, 0, "friendly_contact", 1)
    with pytest.raises(DataValidationError) as info:
        check_study(complexes, tenants, complexes_file=CF, tenants_file=TF)
    error = info.value
    assert isinstance(error, ValueError)
    assert {(p.file, p.column, p.row) for p in error.errors} == {
        (CF, "floors", "C02"), (CF, "living_form", "C03"), (TF, "contact", "T0007"),
        (TF, "complex_id", "T0008"), (TF, "friendly_contact", "T0001"),
    }
    text = str(error)
    assert text.startswith("study data failed validation: 5 errors, 0 warnings")
    assert len(text.splitlines()) == 6
    for p in error.problems:
        assert str(p) in text
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


def test_error_message_is_capped(tables):
    tenants = pd.concat([tables[1]] * 7, ignore_index=True)
    tenants["tenant_id"] = [f"T{i:04d}" for i in range(len(tenants))]
    tenants["contact"] = 9
    tenants["friendly_contact"] = pd.array([None] * len(tenants), dtype="Int64")
    with pytest.raises(DataValidationError) as info:
        check_study(tables[0], tenants)
    lines = str(info.value).splitlines()
    assert len(info.value.problems) == 70
    assert len(lines) == 1 + 50 + 1 and lines[-1] == "  ... and 20 more"


def test_normalise_table_keeps_bad_values_and_unifies_missing():
    raw = pd.DataFrame({"complex_id": [7, 8.0, " C9 "], "floors": ["3", "", "abc"],
                        "living_form": [" HZ", None, np.nan]})
    out = normalise_table(raw, table="complexes")
    assert out["complex_id"].tolist() == ["7", "8", "C9"]
    assert out["floors"].tolist() == ["3", None, "abc"]
    assert out["living_form"].tolist() == ["HZ", None, None]
    with pytest.raises(ValueError, match="table must be one of"):
        normalise_table(raw, table="houses")


def test_validate_study_rejects_non_frames(tables):
    with pytest.raises(TypeError, match="tenants must be a pandas DataFrame"):
        validate_study(tables[0], [1, 2, 3])
