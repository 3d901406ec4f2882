"""Every table check: a planted defect is found where it is, and clean realistic data stays quiet."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import write_table
from tabledata import FEATURES, clean_splits, minmax, penguins, random_split, reviews, standardise

import dataaudit
from dataaudit.report.model import Finding, Report, Severity

Splits = dict[str, list[dict[str, Any]]]


def write_splits(root: Path, splits: Splits, ext: str = "csv") -> Path:
    for name, rows in splits.items():
        write_table(root, f"{name}.{ext}", rows)
    return root


def scan(root: Path, **options: Any) -> Report:
    options.setdefault("progress", False)
    return dataaudit.scan(root, **options)


def only(report: Report, check: str, split: str | None = ..., column: str | None = ...) -> Finding:  # type: ignore[assignment]
    found = [f for f in report.findings if f.check == check
             and (split is ... or f.split == split) and (column is ... or f.column == column)]
    assert len(found) == 1, f"expected one {check} finding for {split}/{column}, got " + "; ".join(
        f"{f.check}[{f.split}/{f.column}]: {f.message}" for f in report.findings)
    return found[0]


def loud(report: Report, at: Severity = Severity.WARNING) -> list[str]:
    return [f"{f.severity.label} {f.check}[{f.split}/{f.column}]: {f.message}" for f in report.findings
            if f.severity >= at]


def rows_of(f: Finding) -> list[int]:
    return [e["row"] for e in f.examples if "row" in e]


@pytest.fixture(scope="module")
def base() -> Splits:
    return clean_splits(1500, seed=11)


@pytest.fixture
def splits(base: Splits) -> Splits:
    return copy.deepcopy(base)


# -- clean data ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5], ids=lambda s: f"random split of clean penguins, seed {s}")
def test_random_split_of_clean_data_raises_nothing_at_warning_or_above(tmp_path: Path, seed: int) -> None:
    report = scan(write_splits(tmp_path, clean_splits(1500, seed)))
    assert loud(report) == []
    assert report.passed


def test_clean_data_in_parquet_and_jsonl_raises_nothing(tmp_path: Path, base: Splits) -> None:
    write_table(tmp_path / "p", "train.parquet", base["train"])
    write_table(tmp_path / "p", "val.parquet", base["val"])
    write_table(tmp_path / "p", "test.parquet", base["test"])
    write_table(tmp_path / "j", "train.jsonl", base["train"])
    write_table(tmp_path / "j", "test.jsonl", base["test"])
    assert loud(scan(tmp_path / "p")) == []
    assert loud(scan(tmp_path / "j")) == []


def test_clean_text_dataset_raises_nothing(tmp_path: Path) -> None:
    sp = random_split(reviews(600, seed=3), seed=3)
    report = scan(write_splits(tmp_path, sp))
    assert report.modality == "text"
    assert loud(report) == []


# -- missing_values ------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "NA", "?", "", "-999"], ids=lambda t: f"missing written as {t!r}")
def test_missing_values_are_found_per_column_and_split_with_rows(tmp_path: Path, splits: Splits, token: Any) -> None:
    planted = [3, 40, 41, 200]
    for r in planted:
        splits["val"][r]["bill_depth_mm"] = token
    f = only(scan(write_splits(tmp_path, splits)), "missing_values")
    assert (f.split, f.column, f.count) == ("val", "bill_depth_mm", 4)
    assert rows_of(f) == planted
    assert f.fraction == pytest.approx(4 / len(splits["val"]))


def test_missing_label_is_at_least_a_warning(tmp_path: Path, splits: Splits) -> None:
    splits["train"][7]["species"] = ""
    f = only(scan(write_splits(tmp_path, splits)), "missing_values", "train", "species")
    assert f.severity >= Severity.WARNING and rows_of(f) == [7]


def test_mostly_missing_column_is_an_error(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"][: int(0.6 * len(splits["test"]))]:
        r["sex"] = None
    f = only(scan(write_splits(tmp_path, splits)), "missing_values", "test", "sex")
    assert f.severity == Severity.ERROR


# -- constant_column / schema_mismatch / empty_split -------------------------------------------------------
def test_constant_column_is_found(tmp_path: Path, splits: Splits) -> None:
    for rows in splits.values():
        for r in rows:
            r["year"] = 2009
    f = only(scan(write_splits(tmp_path, splits)), "constant_column")
    assert (f.split, f.column) == ("train", "year")
    assert f.details["value"] == "2009"


def test_missing_column_in_one_split_is_a_schema_mismatch(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"]:
        del r["island"]
    f = only(scan(write_splits(tmp_path, splits)), "schema_mismatch")
    assert f.split == "test" and f.column == "island"
    assert f.details["missing"] == ["island"]


def test_missing_label_column_in_one_split_is_an_error_not_a_crash(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"]:
        del r["species"]
    report = scan(write_splits(tmp_path, splits), label="species")
    f = only(report, "schema_mismatch", "test")
    assert f.severity == Severity.ERROR and f.column == "species"


def test_column_kind_change_is_a_schema_mismatch(tmp_path: Path, splits: Splits) -> None:
    for r in splits["val"]:
        r["body_mass_g"] = f"{r['body_mass_g']} g"
    f = only(scan(write_splits(tmp_path, splits)), "schema_mismatch", "val")
    assert f.column == "body_mass_g"
    assert (f.details["reference_kind"], f.details["kind_in_split"]) == ("numeric", "categorical")


def test_zero_row_split_is_an_empty_split(tmp_path: Path, splits: Splits) -> None:
    write_splits(tmp_path, {"train": splits["train"], "val": splits["val"]})
    (tmp_path / "test.csv").write_text(",".join(splits["train"][0]) + "\n")
    report = scan(tmp_path)
    f = only(report, "empty_split")
    assert f.split == "test" and f.severity == Severity.ERROR
    assert report.to_dict()["splits"]["test"]["rows"] == 0


# -- duplicates / split_overlap / conflicting_labels ------------------------------------------------------
def test_exact_duplicate_rows_within_a_split(tmp_path: Path, splits: Splits) -> None:
    splits["train"].insert(30, dict(splits["train"][5]))
    splits["train"].append(dict(splits["train"][5]))
    f = only(scan(write_splits(tmp_path, splits)), "duplicates")
    assert f.split == "train" and f.count == 2
    assert f.examples == [{"split": "train", "row": 30, "duplicate_of": {"split": "train", "row": 5}},
                          {"split": "train", "row": len(splits["train"]) - 1,
                           "duplicate_of": {"split": "train", "row": 5}}]


def test_duplicate_examples_are_the_earliest_repeats_whatever_their_groups(tmp_path: Path, splits: Splits) -> None:
    rows = splits["train"]
    for source in (40, 7, 22, 3):  # four groups, planted at the end in an order unrelated to the rows
        rows.append(dict(rows[source]))
    f = only(scan(write_splits(tmp_path, splits)), "duplicates")
    n = len(rows)
    assert [(e["row"], e["duplicate_of"]["row"]) for e in f.examples] == [
        (n - 4, 40), (n - 3, 7), (n - 2, 22), (n - 1, 3)]


def test_rows_of_test_found_in_train_are_split_overlap(tmp_path: Path, splits: Splits) -> None:
    splits["test"].insert(3, dict(splits["train"][10]))
    splits["test"].insert(9, dict(splits["train"][100]))
    f = only(scan(write_splits(tmp_path, splits)), "split_overlap")
    assert f.split == "test" and f.severity == Severity.ERROR and f.count == 2
    assert f.examples[0] == {"split": "test", "row": 3, "duplicate_of": {"split": "train", "row": 10}}
    assert f.examples[1] == {"split": "test", "row": 9, "duplicate_of": {"split": "train", "row": 100}}


def test_split_overlap_ignores_the_label_and_conflicting_labels_reports_it(tmp_path: Path, splits: Splits) -> None:
    leaked = dict(splits["train"][10])
    leaked["species"] = "Gentoo" if leaked["species"] != "Gentoo" else "Adelie"
    splits["val"].insert(4, leaked)
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "split_overlap")
    assert f.examples[0] == {"split": "val", "row": 4, "duplicate_of": {"split": "train", "row": 10}}
    c = only(report, "conflicting_labels")
    assert c.split == "val" and c.examples[0]["row"] == 4 and c.examples[0]["duplicate_of"]["row"] == 10
    assert sorted(c.examples[0]["labels"]) == sorted([leaked["species"], splits["train"][10]["species"]])


def test_conflicting_labels_within_a_split(tmp_path: Path, splits: Splits) -> None:
    twin = dict(splits["train"][20])
    twin["species"] = "Chinstrap" if twin["species"] != "Chinstrap" else "Adelie"
    splits["train"].insert(50, twin)
    report = scan(write_splits(tmp_path, splits))
    c = only(report, "conflicting_labels")
    assert c.split == "train" and c.count == 2
    assert c.examples[0]["row"] == 50 and c.examples[0]["duplicate_of"] == {"split": "train", "row": 20}
    assert not report.by_check("duplicates")  # different labels: not a duplicate, a conflict


def test_id_columns_are_left_out_of_content_hashes(tmp_path: Path, splits: Splits) -> None:
    for name, rows in splits.items():
        for i, r in enumerate(rows):
            r["penguin_id"] = f"{name}-{i}"
    splits["test"].insert(2, {**splits["train"][8], "penguin_id": "test-x"})
    report = scan(write_splits(tmp_path, splits))
    assert "penguin_id" in report.detected["id_columns"]
    f = only(report, "split_overlap")
    assert f.examples[0]["row"] == 2 and f.examples[0]["duplicate_of"]["row"] == 8


# -- near_duplicates / near_split_overlap (text) -------------------------------------------------------------
@pytest.mark.parametrize("variant", [
    pytest.param(lambda t: t.upper(), id="upper-cased copy"),
    pytest.param(lambda t: "  " + t.replace(" ", "   ") + " ", id="copy with extra whitespace"),
    pytest.param(lambda t: t.replace("e", "\uff45"), id="copy with full-width Unicode letters"),
])
def test_text_variants_are_near_duplicates_and_near_split_overlap(tmp_path: Path, variant: Any) -> None:
    sp = random_split(reviews(500, seed=1), seed=1)
    sp["train"].insert(12, {"id": 10_001, "text": variant(sp["train"][3]["text"]), "label": sp["train"][3]["label"]})
    sp["test"].insert(5, {"id": 10_002, "text": variant(sp["train"][40]["text"]), "label": sp["train"][40]["label"]})
    report = scan(write_splits(tmp_path, sp))
    near = only(report, "near_duplicates")
    assert near.split == "train"
    assert near.examples[0] == {"split": "train", "row": 12, "duplicate_of": {"split": "train", "row": 3}}
    cross = only(report, "near_split_overlap")
    assert cross.split == "test" and cross.severity >= Severity.WARNING
    assert cross.examples[0] == {"split": "test", "row": 5, "duplicate_of": {"split": "train", "row": 40}}
    assert not report.by_check("duplicates") and not report.by_check("split_overlap")


# -- label checks -----------------------------------------------------------------------------------------
def test_rare_class_is_class_imbalance(tmp_path: Path, splits: Splits) -> None:
    kept, chin = [], 0
    for r in splits["train"]:
        if r["species"] == "Chinstrap":
            chin += 1
            if chin > 6:
                continue
        kept.append(r)
    splits["train"] = kept
    report = scan(write_splits(tmp_path, splits))
    found = [f for f in report.by_check("class_imbalance") if f.split == "train"]
    assert found and all(f.severity == Severity.WARNING for f in found)
    assert any("Chinstrap" in f.message for f in found)
    ratio = [f for f in found if "ratio" in f.message][0]
    assert ratio.details["counts"]["Chinstrap"] == 6 and ratio.details["ratio"] >= 10


def test_class_only_in_test_is_label_set_mismatch(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"][:30]:
        r["species"] = "Emperor"
    report = scan(write_splits(tmp_path, splits))
    f = [f for f in report.by_check("label_set_mismatch") if f.severity == Severity.ERROR]
    assert len(f) == 1 and f[0].split == "test" and f[0].details["classes"] == {"Emperor": 30}
    assert rows_of(f[0])[:3] == [0, 1, 2]


def test_class_absent_from_val_is_label_set_mismatch(tmp_path: Path, splits: Splits) -> None:
    splits["val"] = [r for r in splits["val"] if r["species"] != "Gentoo"]
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "label_set_mismatch", "val")
    assert f.severity == Severity.WARNING and "Gentoo" in f.details["absent"]


def test_label_distribution_change_is_label_shift(tmp_path: Path, splits: Splits) -> None:
    adelie = [r for r in splits["test"] if r["species"] == "Adelie"]
    others = [r for r in splits["test"] if r["species"] != "Adelie"]
    splits["test"] = adelie + others[: len(others) // 5]
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "label_shift")
    assert f.split == "test" and f.column == "species"
    assert f.details["value"] >= f.details["threshold_warning"]
    assert f.details["p_value"] < f.details["alpha"]


@pytest.mark.parametrize(("bad", "reason"), [
    pytest.param("adelie ", "case_or_whitespace", id="a lower-case, space-padded class name"),
    pytest.param("Adeile", "typo", id="a near-miss typo of a frequent class"),
    pytest.param("Gentooo", "typo", id="a typo with one extra letter"),
    pytest.param("3", "numeric", id="a number among categorical labels"),
    pytest.param("Dream", "other_column", id="an island name shifted into the label"),
])
def test_label_corruption_is_found_with_its_row(tmp_path: Path, splits: Splits, bad: str, reason: str) -> None:
    splits["train"][17]["species"] = bad
    splits["train"][230]["species"] = bad
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "label_corruption")
    assert (f.split, f.column, f.count) == ("train", "species", 2)
    assert rows_of(f) == [17, 230]
    assert f.details["suspects"][bad]["reason"] == reason
    assert all(e["label"] == bad for e in f.examples)
    # one corrupt label is reported once, as what it is
    assert not report.by_check("class_imbalance") and not report.by_check("label_set_mismatch")


def test_shifted_row_puts_a_measurement_in_the_label(tmp_path: Path, splits: Splits) -> None:
    r = splits["val"][9]
    shifted = {"species": r["island"], "island": r["bill_length_mm"], "bill_length_mm": r["bill_depth_mm"],
               "bill_depth_mm": r["flipper_length_mm"], "flipper_length_mm": r["body_mass_g"],
               "body_mass_g": r["sex"], "sex": ""}
    splits["val"][9] = shifted
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "label_corruption")
    assert f.split == "val" and rows_of(f) == [9]
    assert f.details["suspects"][shifted["species"]]["reason"] == "other_column"


def test_regression_target_is_not_label_corruption(tmp_path: Path, splits: Splits) -> None:
    for rows in splits.values():
        for r in rows:
            r["target"] = r.pop("body_mass_g")
    twin = dict(splits["train"][3])
    twin["target"] = twin["target"] + 50
    splits["train"].append(twin)
    report = scan(write_splits(tmp_path, splits), label="target")
    assert not [f for f in report.findings if f.check.startswith("label") or f.check == "class_imbalance"]
    assert not report.by_check("conflicting_labels")


# -- delimiter_corruption -----------------------------------------------------------------------------------
HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"


def _csv_lines(rows: list[dict[str, Any]]) -> list[str]:
    return [",".join(str(r[c]) for c in HEADER.split(",")) for r in rows]


@pytest.mark.parametrize(("line", "kind"), [
    pytest.param("Adelie,Dream,39.1,18.7,181,3750", "field_count", id="a row with a field missing"),
    pytest.param("Adelie,Dream,39.1,18.7,181,3750,male,extra", "field_count", id="a row with an extra field"),
    pytest.param("Adelie;Dream;39.1;18.7;181;3750;male", "other_delimiter", id="a row written with semicolons"),
    pytest.param('Adelie,"Dream,39.1,18.7,181,3750,male', "unbalanced_quote", id="a row with an unbalanced quote"),
    pytest.param("Adelie,Dream,Torgersen,39.1,18.7,181,3750,male", "field_count", id="a row shifted by a column"),
])
def test_malformed_records_are_reported_by_data_row_and_left_out(tmp_path: Path, splits: Splits, line: str,
                                                                  kind: str) -> None:
    write_splits(tmp_path, splits)
    lines = _csv_lines(splits["test"])
    lines.insert(25, line)
    (tmp_path / "test.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    report = scan(tmp_path)
    f = only(report, "delimiter_corruption")
    assert f.split == "test" and f.count == 1 and f.severity == Severity.ERROR
    ex = f.examples[0]
    assert (ex["row"], ex["line"], ex["kind"], ex["path"]) == (25, 27, kind, "test.csv")
    assert report.to_dict()["splits"]["test"]["rows"] == len(lines) - 1
    # the rows after the bad one keep their numbers
    assert report.stats.splits["test"].sample.rows()["__row__"].to_list()[-1] == len(lines) - 1
    assert not report.by_check("missing_values") and not report.by_check("schema_mismatch")


def test_unbalanced_quote_does_not_swallow_the_following_rows(tmp_path: Path, splits: Splits) -> None:
    lines = _csv_lines(splits["train"][:50])
    lines[10] = lines[10].replace("Adelie", '"Adelie').replace("Gentoo", '"Gentoo').replace("Chinstrap", '"Chinstrap')
    (tmp_path / "train.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    report = scan(tmp_path / "train.csv")
    f = only(report, "delimiter_corruption")
    assert [e["row"] for e in f.examples] == [10]
    assert report.stats.splits["train"].rows == 49


def test_quoted_delimiters_and_newlines_are_not_corruption(tmp_path: Path) -> None:
    rows = [{"note": f"line one, with comma\nline \"two\" {i}", "label": "a" if i % 2 else "b", "x": i}
            for i in range(60)]
    write_table(tmp_path, "train.csv", rows)
    report = scan(tmp_path)
    assert not report.by_check("delimiter_corruption")
    assert report.stats.splits["train"].rows == 60


# -- distribution_shift ---------------------------------------------------------------------------------------
def test_numeric_covariate_shift_is_flagged_with_statistic_and_threshold(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"]:
        r["flipper_length_mm"] = round(r["flipper_length_mm"] + 12.0, 1)
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "distribution_shift")
    assert (f.split, f.column) == ("test", "flipper_length_mm")
    assert f.severity >= Severity.WARNING
    d = f.details
    assert d["test"] == "ks_2samp" and d["statistic"] >= d["threshold_warning"] and d["p_value"] < d["alpha"]


def test_categorical_covariate_shift_is_flagged(tmp_path: Path, splits: Splits) -> None:
    for r in splits["val"]:
        if r["island"] == "Torgersen":
            r["island"] = "Dream"
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "distribution_shift")
    assert (f.split, f.column) == ("val", "island")
    assert f.details["statistic_name"] == "total_variation_distance"
    assert f.details["statistic"] >= f.details["threshold_warning"]


def test_distribution_shift_threshold_is_configurable(tmp_path: Path, splits: Splits) -> None:
    for r in splits["test"]:
        r["flipper_length_mm"] = round(r["flipper_length_mm"] + 12.0, 1)
    report = scan(write_splits(tmp_path, splits), params={"distribution_shift": {"ks_warning": 0.99}})
    assert not report.by_check("distribution_shift")


# -- normalization_leak -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scale", "using", "kind"), [
    pytest.param(standardise, "all", "all_splits", id="standardised with all-split statistics"),
    pytest.param(standardise, "each", "per_split", id="each split standardised with its own statistics"),
    pytest.param(minmax, "all", "all_splits_minmax", id="min-max scaled with all-split extremes"),
    pytest.param(minmax, "each", "per_split_minmax", id="each split min-max scaled on its own"),
])
def test_normalization_leak_is_flagged(tmp_path: Path, splits: Splits, scale: Any, using: str, kind: str) -> None:
    expected = set(FEATURES)
    if kind == "all_splits_minmax":
        # When train holds both extremes of the union, all-split min-max *is* train-only scaling: no leak.
        expected = {c for c in FEATURES
                    if min(r[c] for r in splits["train"]) > min(r[c] for rows in splits.values() for r in rows)
                    or max(r[c] for r in splits["train"]) < max(r[c] for rows in splits.values() for r in rows)}
        assert expected, "the fixture must put some extreme outside train"
    scale(splits, FEATURES, using)
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "normalization_leak")
    assert f.details["kind"] == kind and f.count == len(expected)
    assert set(f.details["columns"]) == expected
    # Per-split min-max is only info: a naturally bounded [0, 1] feature looks the same.
    assert f.severity >= (Severity.INFO if kind == "per_split_minmax" else Severity.ERROR)


@pytest.mark.parametrize("scale", [standardise, minmax], ids=["standardised on train only", "min-max on train only"])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_train_only_scaling_is_not_a_leak(tmp_path: Path, splits: Splits, scale: Any, ext: str) -> None:
    scale(splits, FEATURES, "train")
    report = scan(write_splits(tmp_path, splits, ext))
    assert not report.by_check("normalization_leak")
    assert loud(report) == []


# -- corrupt_file ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "kind"), [
    pytest.param(bytes(range(256)) * 40, "binary", id="binary garbage named .csv"),
    pytest.param(b"", "empty", id="an empty file"),
    pytest.param(b"\n\n  \n", "empty", id="a file of blank lines"),
])
def test_unreadable_split_file_is_corrupt_file(tmp_path: Path, splits: Splits, content: bytes, kind: str) -> None:
    write_splits(tmp_path, {"train": splits["train"], "val": splits["val"]})
    (tmp_path / "test.csv").write_bytes(content)
    report = scan(tmp_path)
    f = only(report, "corrupt_file")
    assert f.split == "test" and f.severity == Severity.ERROR
    assert f.examples[0]["path"] == "test.csv" and f.examples[0]["kind"] == kind
    assert only(report, "empty_split").split == "test"


def test_corrupt_parquet_shard_is_corrupt_file(tmp_path: Path, splits: Splits) -> None:
    write_table(tmp_path, "train/part-0.parquet", splits["train"][:500])
    write_table(tmp_path, "train/part-1.parquet", splits["train"][500:])
    (tmp_path / "train" / "part-2.parquet").write_bytes(b"PAR1" + b"\x01" * 100)
    write_table(tmp_path, "test/part-0.parquet", splits["test"])
    report = scan(tmp_path)
    f = only(report, "corrupt_file")
    assert f.split == "train" and f.examples[0]["path"] == "train/part-2.parquet"
    assert report.stats.splits["train"].rows == len(splits["train"])


def test_every_check_is_silent_on_clean_data_by_id(tmp_path: Path, base: Splits) -> None:
    """The clean-data twin of every table check above, asserting silence id by id (even at info)."""
    report = scan(write_splits(tmp_path, copy.deepcopy(base)))
    ids = {"missing_values", "constant_column", "schema_mismatch", "empty_split", "duplicates", "split_overlap",
           "conflicting_labels", "near_duplicates", "near_split_overlap", "class_imbalance", "label_set_mismatch",
           "label_shift", "label_corruption", "delimiter_corruption", "distribution_shift", "normalization_leak",
           "corrupt_file"}
    assert [f.message for f in report.findings if f.check in ids] == []


def test_penguins_generator_is_realistic() -> None:
    rows = penguins(2000, seed=0)
    by = {s: [r["flipper_length_mm"] for r in rows if r["species"] == s] for s in ("Adelie", "Gentoo")}
    assert sum(by["Gentoo"]) / len(by["Gentoo"]) > sum(by["Adelie"]) / len(by["Adelie"]) + 20


@pytest.mark.parametrize("using", ["all", "each"], ids=["all-split statistics", "per-split statistics"])
def test_standardisation_leak_survives_rounding_to_two_decimals(tmp_path: Path, using: str) -> None:
    splits = clean_splits(3000, seed=7)
    standardise(splits, FEATURES, using)
    for rows in splits.values():
        for r in rows:
            for c in FEATURES:
                r[c] = round(r[c], 2)
    f = only(scan(write_splits(tmp_path, splits)), "normalization_leak")
    assert f.details["kind"] == ("all_splits" if using == "all" else "per_split") and f.count == len(FEATURES)


def test_leak_is_found_when_one_split_reads_a_numeric_column_as_text(tmp_path: Path, splits: Splits) -> None:
    """A sentinel makes test's chunk text while train's is typed: content hashes must still agree."""
    splits["test"][0]["body_mass_g"] = "NA"
    splits["test"].insert(6, dict(splits["train"][12]))
    splits["train"].insert(40, dict(splits["train"][12]))
    report = scan(write_splits(tmp_path, splits))
    f = only(report, "split_overlap")
    assert f.examples[0] == {"split": "test", "row": 6, "duplicate_of": {"split": "train", "row": 12}}
    assert only(report, "duplicates").examples[0]["row"] == 40
    m = only(report, "missing_values")
    assert (m.split, m.column, rows_of(m)) == ("test", "body_mass_g", [0])


def test_numbered_classes_with_a_rare_one_are_not_typos(tmp_path: Path) -> None:
    rng = __import__("random").Random(0)
    counts = {"stage_1": 400, "stage_2": 300, "stage_3": 200, "stage_4": 8}
    rows = [{"x": round(rng.gauss(i, 1), 3), "label": c} for i, (c, n) in enumerate(counts.items()) for _ in range(n)]
    rng.shuffle(rows)
    write_table(tmp_path, "train.csv", rows)
    report = scan(tmp_path)
    assert not report.by_check("label_corruption")
    assert report.by_check("class_imbalance")  # the rare class is still reported, as imbalance


SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


def test_sample_clean_tables_pass_quietly() -> None:
    path = SAMPLE_DATA / "tables_clean"
    if not path.exists():
        pytest.skip(f"{path} not generated yet")
    report = scan(path)
    assert loud(report) == [] and report.passed


def test_sample_faulty_tables_show_every_tabular_fault() -> None:
    path = SAMPLE_DATA / "tables_faulty"
    if not path.exists():
        pytest.skip(f"{path} not generated yet")
    report = scan(path)
    found = {f.check for f in report.findings}
    expected = {"missing_values", "duplicates", "split_overlap", "conflicting_labels", "label_corruption",
                "delimiter_corruption", "distribution_shift", "constant_column", "class_imbalance"}
    assert expected <= found, f"missing: {sorted(expected - found)}"
    assert not report.passed


@pytest.mark.parametrize("dataset", [("breast_cancer_uci", "diagnosis"), ("wine_uci", "cultivar")],
                         ids=["real breast cancer data", "real wine data"])
@pytest.mark.parametrize("seed", range(8), ids=lambda s: f"seed {s}")
def test_random_split_of_real_uci_data_raises_nothing(tmp_path: Path, dataset: tuple[str, str], seed: int) -> None:
    import polars as pl

    folder = SAMPLE_DATA / dataset[0]
    files = sorted(folder.glob("*.csv"))
    if not files:
        pytest.skip(f"{folder} absent")
    rows = pl.read_csv(files[0]).to_dicts()
    report = scan(write_splits(tmp_path, random_split(rows, seed)), label=dataset[1])
    assert loud(report) == []


def test_counted_values_are_reported_most_first_and_ties_by_value_whatever_order_they_were_counted_in() -> None:
    from collections import Counter

    from dataaudit.checks.registry import ranked

    one = Counter({"b": 1, "stay": 5, "a": 1, "churn": 5})
    other = Counter({"churn": 5, "a": 1, "stay": 5, "b": 1})
    assert ranked(one) == ranked(other) == [("churn", 5), ("stay", 5), ("a", 1), ("b", 1)]
