"""Tests for :mod:`data.loader`: formats, column mapping, derived variables, complete cases."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from data.codebook import COMPLEX_COLUMNS, FORMS, TENANT_COLUMNS
from data.loader import (
    StudyData,
    complete_cases,
    load_study,
    read_table,
    to_canonical_dtypes,
    write_study,
)
from data.validation import DataValidationError
from tests.test_validation import make_tables

FORMATS = ["csv", "parquet", "sav"]
_INT_COLUMNS_C = [c for c in COMPLEX_COLUMNS if c not in {"complex_id", "living_form",
                                                           "address_density"}]
_INT_COLUMNS_T = [c for c in TENANT_COLUMNS if c not in {"tenant_id", "complex_id"}]


@pytest.fixture
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_tables()


def _assert_canonical(study: StudyData, complexes: pd.DataFrame, tenants: pd.DataFrame) -> None:
    """Loaded tables hold the hand-made values with the codebook's dtypes."""
    for name in ("complex_id", "living_form"):
        assert pd.api.types.is_string_dtype(study.complexes[name])
    for name in ("tenant_id", "complex_id"):
        assert pd.api.types.is_string_dtype(study.tenants[name])
    assert study.complexes["address_density"].dtype == np.float64
    for name in _INT_COLUMNS_C:
        assert study.complexes[name].dtype == "Int64", name
    for name in _INT_COLUMNS_T:
        assert study.tenants[name].dtype == "Int64", name
    for loaded, original in ((study.complexes, complexes), (study.tenants, tenants)):
        for name in original.columns:
            expected = original[name]
            if name not in {"complex_id", "tenant_id", "living_form", "address_density"}:
                expected = expected.astype("Int64")
            pd.testing.assert_series_equal(loaded[name], expected, check_dtype=False,
                                           obj=name)


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tables, tmp_path, fmt):
    paths = write_study(tables, tmp_path, fmt=fmt)
    assert [p.name for p in paths] == [f"complexes.{fmt}", f"tenants.{fmt}"]
    study = load_study(tmp_path)
    _assert_canonical(study, *tables)
    assert study.source == str(tmp_path)
    # derived variables were added
    assert {"rural", "small_community"} <= set(study.complexes)
    assert {"cohesion", "lonely"} <= set(study.tenants)
    # and writing the loaded study again does not write them
    write_study(study, tmp_path / "again", fmt=fmt)
    again = load_study(tmp_path / "again")
    pd.testing.assert_frame_equal(again.complexes, study.complexes)
    pd.testing.assert_frame_equal(again.tenants, study.tenants)


def test_csv_is_read_as_text_and_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "complexes.csv"
    path.write_text("complex_id,living_form,floors\n007,HZ,3\n008,RB,\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["complex_id"].tolist() == ["007", "008"]
    assert frame["floors"].iloc[0] == "3" and pd.isna(frame["floors"].iloc[1])


def test_semicolon_csv_is_detected(tmp_path):
    path = tmp_path / "complexes.csv"
    path.write_text("complex_id;living_form;address_density\nC1;HZ;1234.5\n", encoding="utf-8")
    assert read_table(path).columns.tolist() == ["complex_id", "living_form", "address_density"]


def test_bad_numeric_in_csv_is_reported_not_coerced(tables, tmp_path):
    write_study(tables, tmp_path, fmt="csv")
    path = tmp_path / "complexes.csv"
    path.write_text(path.read_text().replace("C02,RB,2,", "C02,RB,abc,"))
    with pytest.raises(DataValidationError) as info:
        load_study(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.column, problem.row, problem.value) == (
        "complexes.csv", "floors", "C02", "abc")
    assert "complexes.csv: column 'floors', row complex_id=C02: value 'abc'" in str(info.value)


def test_messages_name_the_real_file(tables, tmp_path):
    complexes, tenants = tables
    tenants = tenants.assign(contact=tenants["contact"].replace(3, 4))
    complexes.to_parquet(tmp_path / "complexes.parquet")
    tenants.to_csv(tmp_path / "people.csv", index=False)
    with pytest.raises(DataValidationError, match=r"people\.csv: column 'contact'"):
        load_study(complexes_path=tmp_path / "complexes.parquet",
                   tenants_path=tmp_path / "people.csv")


# --------------------------------------------------------------------------------------
# SPSS value labels
# --------------------------------------------------------------------------------------
def _sav_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64 and text as object, as pyreadstat writes them."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_numeric_dtype(out[name]):
            out[name] = out[name].astype("float64")
        else:
            out[name] = out[name].astype(object)
    return out


def test_sav_living_form_as_labelled_numbers(tables, tmp_path):
    complexes, tenants = tables
    number = {f.code: i for i, f in enumerate(FORMS, start=1)}  # GG=1 ... RB=7
    labels = {i: (f.nl if i % 2 else f.en) for i, f in enumerate(FORMS, start=1)}
    coded = complexes.assign(living_form=complexes["living_form"].map(number).astype(float))
    pyreadstat.write_sav(_sav_frame(coded), str(tmp_path / "complexes.sav"),
                         variable_value_labels={"living_form": labels})
    contact_labels = {1.0: "weinig/nooit", 2.0: "regelmatig", 3.0: "(bijna) dagelijks"}
    pyreadstat.write_sav(_sav_frame(tenants), str(tmp_path / "tenants.sav"),
                         variable_value_labels={"contact": contact_labels})
    raw = read_table(tmp_path / "complexes.sav")
    assert raw["living_form"].tolist() == ["HZ", "RB", "GG", "RO", "RR"]
    study = load_study(tmp_path)
    assert study.complexes["living_form"].tolist() == ["HZ", "RB", "GG", "RO", "RR"]
    # a labelled numeric code keeps its code
    assert study.tenants["contact"].tolist() == tenants["contact"].tolist()
    _assert_canonical(study, complexes, tenants)


def test_sav_living_form_as_label_text(tables, tmp_path):
    complexes = tables[0].assign(
        living_form=["Hoogbouw zonder ontmoetingsruimte", "space for engagement", "GG",
                     "ruimte voor ondersteuning", "Space for  Recreation"])
    pyreadstat.write_sav(_sav_frame(complexes), str(tmp_path / "complexes.sav"))
    assert read_table(tmp_path / "complexes.sav")["living_form"].tolist() == [
        "HZ", "RB", "GG", "RO", "RR"]


def test_sav_unknown_labelled_code_is_reported(tables, tmp_path):
    coded = tables[0].assign(living_form=[3.0, 7.0, 1.0, 4.0, 9.0])
    labels = {1: "GG", 3: "HZ", 4: "RO", 7: "RB", 9: "Serviceflat"}
    pyreadstat.write_sav(_sav_frame(coded), str(tmp_path / "complexes.sav"),
                         variable_value_labels={"living_form": labels})
    write_study(tables, tmp_path, fmt="csv")
    (tmp_path / "complexes.csv").unlink()
    with pytest.raises(DataValidationError) as info:
        load_study(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.column, problem.row, problem.value) == (
        "complexes.sav", "living_form", "C05", 9.0)


def test_sav_numeric_codes_remapped_when_labels_disagree(tables, tmp_path):
    tenants = tables[1].assign(female=tables[1]["female"] + 1)  # 1 = nee, 2 = ja
    pyreadstat.write_sav(_sav_frame(tenants), str(tmp_path / "tenants.sav"),
                         variable_value_labels={"female": {1: "nee", 2: "ja"}})
    frame = read_table(tmp_path / "tenants.sav")
    assert frame["female"].tolist() == tables[1]["female"].tolist()


# --------------------------------------------------------------------------------------
# Finding files, column mapping
# --------------------------------------------------------------------------------------
def test_unknown_suffix_names_the_file(tmp_path):
    path = tmp_path / "tenants.xlsx"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"tenants\.xlsx.*unknown file type '\.xlsx'"):
        read_table(path)


def test_missing_and_ambiguous_files(tables, tmp_path):
    with pytest.raises(FileNotFoundError, match="no complexes file"):
        load_study(tmp_path)
    write_study(tables, tmp_path, fmt="csv")
    write_study(tables, tmp_path, fmt="parquet")
    with pytest.raises(ValueError, match=r"more than one complexes file.*complexes\.parquet"):
        load_study(tmp_path)
    with pytest.raises(ValueError, match="give a directory"):
        load_study()


def test_column_mapping(tables, tmp_path):
    complexes, tenants = tables
    theirs_c = {"complex_id": "complex", "living_form": "woonvorm", "floors": "bouwlagen"}
    theirs_t = {"tenant_id": "respondent", "complex_id": "complex", "contact": "v12"}
    complexes.rename(columns=theirs_c).to_csv(tmp_path / "complexes.csv", index=False)
    tenants.rename(columns=theirs_t).to_csv(tmp_path / "tenants.csv", index=False)
    column_map = {"complexes": {v: k for k, v in theirs_c.items()},
                  "tenants": {v: k for k, v in theirs_t.items()}}
    study = load_study(tmp_path, column_map=column_map)
    _assert_canonical(study, complexes, tenants)
    with pytest.raises(ValueError, match="column_map keys"):
        load_study(tmp_path, column_map={"people": {}})
    with pytest.raises(ValueError, match="more than one column the name"):
        load_study(tmp_path, column_map={"tenants": {"v12": "respondent"}})


def test_unmapped_columns_fail_with_missing_required_column(tables, tmp_path):
    complexes, tenants = tables
    complexes.to_csv(tmp_path / "complexes.csv", index=False)
    tenants.rename(columns={"tenant_id": "respondent"}).to_csv(tmp_path / "tenants.csv",
                                                                index=False)
    with pytest.raises(DataValidationError) as info:
        load_study(tmp_path)
    assert {(p.file, p.column, p.severity) for p in info.value.problems} == {
        ("tenants.csv", "tenant_id", "error"), ("tenants.csv", "respondent", "warning")}


def test_load_does_not_modify_and_keeps_extra_columns(tables, tmp_path):
    complexes, tenants = tables
    before = tenants.copy()
    tenants.assign(note="x").to_parquet(tmp_path / "tenants.parquet")
    complexes.to_parquet(tmp_path / "complexes.parquet")
    study = load_study(tmp_path)
    assert study.tenants["note"].tolist() == ["x"] * 10
    pd.testing.assert_frame_equal(tenants, before)


# --------------------------------------------------------------------------------------
# Derived variables and the merged table
# --------------------------------------------------------------------------------------
def test_derived_variables_by_hand(tmp_path):
    (tmp_path / "complexes.csv").write_text(
        "complex_id,living_form,units,address_density\n"
        "A,HZ,25,999.9\n"
        "B,RB,26,1000\n"
        "C,GG,,\n", encoding="utf-8")
    items = ",".join([*(f"cohesion_{i}" for i in range(1, 6)), "support_1", "support_2",
                      "support_3", "activity_participation"])
    (tmp_path / "tenants.csv").write_text(
        f"tenant_id,complex_id,{items}\n"
        "t1,A,5,4,2,3,5,3,3,3,0\n"   # cohesion (5+4+(6-2)+3+5)/5 = 4.2; all support <= 3
        "t2,A,1,1,5,1,1,3,4,1,2\n"   # cohesion (1+1+1+1+1)/5 = 1.0; support_2 = 4 -> 0
        "t3,B,3,,3,3,3,,2,2,\n"      # cohesion and lonely missing
        "t4,C,2,3,1,4,4,1,1,1,3\n",  # cohesion (2+3+5+4+4)/5 = 3.6; lonely 1
        encoding="utf-8")
    study = load_study(tmp_path)
    cohesion = study.tenants["cohesion"].tolist()
    assert cohesion[0] == pytest.approx(4.2) and cohesion[1] == pytest.approx(1.0)
    assert math.isnan(cohesion[2]) and cohesion[3] == pytest.approx(3.6)
    assert study.tenants["lonely"].tolist() == [1, 0, pd.NA, 1]
    assert study.complexes["rural"].tolist() == [1, 0, pd.NA]
    assert study.complexes["small_community"].tolist() == [1, 0, pd.NA]

    merged = study.merged()
    assert merged["tenant_id"].tolist() == ["t1", "t2", "t3", "t4"]
    assert merged["living_form"].tolist() == ["HZ", "HZ", "RB", "GG"]
    assert merged["rural"].tolist() == [1, 1, 0, pd.NA]
    assert merged["small_community"].tolist() == [1, 1, 0, pd.NA]
    assert merged["units"].tolist() == [25, 25, 26, pd.NA]
    assert merged["activity_organised"].tolist() == [0, 1, pd.NA, 1]


def test_merged_has_one_row_per_tenant_with_complex_features(tables):
    study = StudyData(to_canonical_dtypes(tables[0], table="complexes"),
                      to_canonical_dtypes(tables[1], table="tenants"), "by hand")
    merged = study.merged()
    assert len(merged) == len(tables[1])
    assert {"living_form", "floors", "meeting_room", "vitality", "rural",
            "small_community", "cohesion", "lonely", "activity_organised"} <= set(merged)
    assert merged.loc[merged["tenant_id"] == "T0004", "living_form"].item() == "RB"
    assert "rural" not in study.complexes  # merged() works on copies


# --------------------------------------------------------------------------------------
# Complete cases
# --------------------------------------------------------------------------------------
def test_complete_cases_report(caplog):
    frame = pd.DataFrame({
        "a": pd.array([1, None, 3, None, 5, 6], dtype="Int64"),
        "b": [1.0, 2.0, np.nan, np.nan, 5.0, 6.0],
        "c": ["x", "y", "z", "w", None, "v"],
        "other": [None] * 6,
    })
    with caplog.at_level(logging.INFO, logger="models.terms"):
        complete, report = complete_cases(frame, ["a", "b", "c"])
    assert complete.index.tolist() == [0, 5]
    assert report.to_dict("records") == [
        {"variable": "a", "n_missing": 2, "n_removed_only_by_this": 1, "n_before": 6,
         "n_after": 2},
        {"variable": "b", "n_missing": 2, "n_removed_only_by_this": 1, "n_before": 6,
         "n_after": 2},
        {"variable": "c", "n_missing": 1, "n_removed_only_by_this": 1, "n_before": 6,
         "n_after": 2},
    ]
    assert "2 of 6 rows kept, 4 removed" in caplog.text
    assert frame["a"].isna().sum() == 2  # input untouched
    with pytest.raises(KeyError, match="zzz"):
        complete_cases(frame, ["a", "zzz"])


def test_write_study_rejects_unknown_format(tables, tmp_path):
    with pytest.raises(ValueError, match="fmt must be one of"):
        write_study(tables, tmp_path, fmt="xlsx")


def test_own_sav_variables_labels_as_categories_and_user_missing_as_missing(tmp_path):
    """A study's own SPSS file: a nominal labelled variable becomes its labels, a labelled
    0/1 flag and a scale variable keep their numbers, user-missing codes are missing."""
    import run_models

    rng = np.random.default_rng(4)
    n = 240
    raw = pd.DataFrame({
        "school": [f"S{i % 6}" for i in range(n)],
        "class_id": [f"S{i % 6}-C{i % 12}" for i in range(n)],
        "region": rng.choice([1.0, 2.0, 3.0, 9.0], n),  # 9 = "no answer", user-missing
        "girl": rng.choice([0.0, 1.0], n),
        "homework": np.where(rng.random(n) < 0.1, -1.0, rng.uniform(0, 10, n)),
    })
    raw["score"] = rng.normal(50, 10, n)
    path = tmp_path / "pupils.sav"
    pyreadstat.write_sav(
        raw, str(path),
        variable_value_labels={"region": {1.0: "north", 2.0: "east", 3.0: "south",
                                          9.0: "no answer"},
                               "girl": {0.0: "no", 1.0: "yes"}},
        missing_ranges={"region": [9.0], "homework": [-1.0]},
        variable_measure={"region": "nominal", "girl": "nominal", "homework": "scale",
                          "score": "scale"})
    frame = read_table(path)
    assert set(frame["region"].dropna()) == {"north", "east", "south"}
    assert frame["region"].isna().sum() == (raw["region"] == 9.0).sum() > 0
    assert set(frame["girl"]) == {0.0, 1.0}  # a labelled flag stays a number
    assert frame["homework"].isna().sum() == (raw["homework"] == -1.0).sum() > 0
    assert frame["homework"].dropna().min() >= 0
    # through a config with a formula: the labels are the factor's levels
    (tmp_path / "study.toml").write_text(
        '[data]\ntable = "pupils.sav"\n\n[[outcomes]]\nfamily = "gaussian"\n'
        'formula = "score ~ C(region, ref=\\"north\\") + girl + scale(homework) '
        '+ (1|school/class_id)"\nfocal = "school"\nreference = "S0"\n')
    assert run_models.main(["check", "--config", str(tmp_path / "study.toml")]) == 0


def test_own_sav_nominal_code_without_a_label_is_named(tmp_path, capsys):
    raw = pd.DataFrame({"region": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 4.0]})
    pyreadstat.write_sav(raw, str(tmp_path / "t.sav"),
                         variable_value_labels={"region": {1.0: "north", 2.0: "east",
                                                           3.0: "south"}},
                         variable_measure={"region": "nominal", "y": "scale"})
    with pytest.raises(ValueError, match=r"t\.sav: column 'region'.*value\(s\) 4 have no label"):
        read_table(tmp_path / "t.sav")
    import run_models

    (tmp_path / "t.toml").write_text('[data]\ntable = "t.sav"\n\n[[outcomes]]\n'
                                     'family = "gaussian"\nformula = "y ~ C(region) + (1|g)"\n')
    assert run_models.main(["check", "--config", str(tmp_path / "t.toml")]) == 2
    assert "value(s) 4 have no label" in capsys.readouterr().err
