"""Table layouts, formats, split aliases, label detection, and bad input that must never crash."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import tree_digest, write_table
from tabledata import clean_splits

import dataaudit
from dataaudit.config import build_config
from dataaudit.errors import DataauditError, SourceError, UsageError
from dataaudit.report.model import Report, Severity
from dataaudit.sources import open_source
from dataaudit.sources.base import ROW

Splits = dict[str, list[dict[str, Any]]]


def scan(path: Path, **options: Any) -> Report:
    options.setdefault("progress", False)
    return dataaudit.scan(path, **options)


@pytest.fixture(scope="module")
def base() -> Splits:
    return clean_splits(600, seed=5)


@pytest.fixture
def splits(base: Splits) -> Splits:
    return copy.deepcopy(base)


def leak(splits: Splits, test_row: int = 4, train_row: int = 7) -> None:
    """Plant one train row in test at ``test_row``: a finding whose location proves row numbering."""
    splits["test"].insert(test_row, dict(splits["train"][train_row]))


# -- per-split files in every format ----------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["csv", "tsv", "txt", "parquet", "jsonl", "ndjson", "csv.gz", "csv.zst", "tsv.gz", "txt.zst",
                                 "jsonl.gz"])
def test_per_split_files_are_read_in_every_format(tmp_path: Path, splits: Splits, ext: str) -> None:
    leak(splits)
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.{ext}", rows)
    report = scan(tmp_path)
    assert report.detected["layout"] == "split_files"
    assert report.label_column == "species" and report.detected["label_guessed"] is True
    assert {k: v["rows"] for k, v in report.to_dict()["splits"].items()} == {k: len(v) for k, v in splits.items()}
    f = report.by_check("split_overlap")
    assert len(f) == 1 and f[0].examples[0] == {"split": "test", "row": 4, "duplicate_of": {"split": "train", "row": 7}}
    assert [x for x in report.findings if x.severity >= Severity.WARNING and x.check != "split_overlap"] == []


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolons"), ("|", "pipes"), ("\t", "tabs"), (",", "commas")])
def test_txt_files_get_a_sniffed_delimiter(tmp_path: Path, splits: Splits, delimiter: str, name: str) -> None:
    for split, rows in splits.items():
        write_table(tmp_path, f"{split}.txt", rows, delimiter=delimiter)
    report = scan(tmp_path)
    assert report.detected["delimiter"] == delimiter
    assert report.stats.splits["train"].columns["flipper_length_mm"].kind == "numeric"
    assert not report.by_check("delimiter_corruption") and not report.by_check("schema_mismatch")


@pytest.mark.parametrize(("names", "expected"), [
    (("Train", "Valid", "Test"), ["train", "val", "test"]),
    (("training", "validation", "testing"), ["train", "val", "test"]),
    (("TRAIN", "dev", "TEST"), ["train", "val", "test"]),
], ids=["capitalised with Valid", "long forms", "upper case with dev"])
def test_split_name_aliases(tmp_path: Path, splits: Splits, names: tuple[str, str, str], expected: list[str]) -> None:
    for alias, rows in zip(names, splits.values()):
        write_table(tmp_path, f"{alias}.csv", rows)
    report = scan(tmp_path)
    assert list(report.to_dict()["splits"]) == expected


def test_shard_folders_number_rows_across_shards_in_sorted_order(tmp_path: Path, splits: Splits) -> None:
    test = splits["test"]
    # shards written out of order on purpose; part-10 sorts after part-02 by name
    write_table(tmp_path, "test/part-10.csv", test[60:])
    write_table(tmp_path, "test/part-01.csv", test[:25])
    write_table(tmp_path, "test/part-02.parquet", test[25:60])
    write_table(tmp_path, "train/part-0.parquet", splits["train"])
    write_table(tmp_path, "validation/a.jsonl", splits["val"])
    # a train row leaked into the third shard, at its row 3 -> split row 25 + 35 + 3
    leaked = dict(splits["train"][11])
    rows = test[60:]
    rows.insert(3, leaked)
    write_table(tmp_path, "test/part-10.csv", rows)
    report = scan(tmp_path)
    assert report.detected["layout"] == "split_folders"
    assert report.to_dict()["splits"]["test"]["rows"] == len(test) + 1
    f = report.by_check("split_overlap")
    assert len(f) == 1
    assert f[0].examples[0] == {"split": "test", "row": 63, "duplicate_of": {"split": "train", "row": 11}}


def test_malformed_record_in_a_later_shard_has_its_split_row(tmp_path: Path, splits: Splits) -> None:
    write_table(tmp_path, "train/part-0.csv", splits["train"][:100])
    write_table(tmp_path, "train/part-1.csv", splits["train"][100:])
    path = tmp_path / "train" / "part-1.csv"
    lines = path.read_text().splitlines()
    lines.insert(6, "Adelie,Dream,1,2")  # data row 5 of the shard
    path.write_text("\n".join(lines) + "\n")
    report = scan(tmp_path)
    f = report.by_check("delimiter_corruption")
    assert len(f) == 1 and f[0].split == "train"
    assert (f[0].examples[0]["row"], f[0].examples[0]["line"], f[0].examples[0]["path"]) == (105, 7, "train/part-1.csv")


def test_split_column_numbers_rows_within_each_split(tmp_path: Path, splits: Splits) -> None:
    leak(splits, test_row=2, train_row=9)
    rows = []
    # interleave the splits so that file order and split order differ
    longest = max(len(v) for v in splits.values())
    for i in range(longest):
        for name, alias in (("train", "train"), ("val", "Validation"), ("test", "TEST")):
            if i < len(splits[name]):
                rows.append({**splits[name][i], "split": alias})
    write_table(tmp_path, "data.csv", rows)
    report = scan(tmp_path / "data.csv")
    assert report.detected["layout"] == "split_column" and report.detected["split_column"] == "split"
    assert {k: v["rows"] for k, v in report.to_dict()["splits"].items()} == {k: len(v) for k, v in splits.items()}
    f = report.by_check("split_overlap")
    assert len(f) == 1 and f[0].examples[0] == {"split": "test", "row": 2, "duplicate_of": {"split": "train", "row": 9}}
    assert "split" not in report.stats.splits["train"].columns  # the split column is not a feature
    assert [x.message for x in report.findings if x.severity >= Severity.WARNING and x.check != "split_overlap"] == []


def test_split_column_option_names_another_column(tmp_path: Path, splits: Splits) -> None:
    rows = [{**r, "fold": name} for name, rs in splits.items() for r in rs]
    write_table(tmp_path, "data.parquet", rows)
    report = scan(tmp_path / "data.parquet", split_column="fold")
    assert set(report.to_dict()["splits"]) == {"train", "val", "test"}
    with pytest.raises(UsageError, match="--split-column 'nope' not found"):
        scan(tmp_path / "data.parquet", split_column="nope")


def test_single_file_is_one_split_train(tmp_path: Path, splits: Splits) -> None:
    rows = splits["train"]
    rows.insert(20, dict(rows[3]))
    write_table(tmp_path, "penguins.csv", rows)
    for target in (tmp_path / "penguins.csv", tmp_path):
        report = scan(target)
        assert report.detected["layout"] == "single_file"
        assert list(report.to_dict()["splits"]) == ["train"]
        f = report.by_check("duplicates")
        assert f[0].examples[0] == {"split": "train", "row": 20, "duplicate_of": {"split": "train", "row": 3}}


def test_label_option_and_detection(tmp_path: Path, splits: Splits) -> None:
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.csv", [{("Target" if k == "species" else k): v for k, v in r.items()}
                                              for r in rows])
    assert scan(tmp_path).label_column == "Target"
    report = scan(tmp_path, label="island")
    assert report.label_column == "island" and report.detected["label_guessed"] is False
    with pytest.raises(UsageError, match="--label 'nope' not found"):
        scan(tmp_path, label="nope")


def test_no_label_column_skips_label_checks_and_says_so(tmp_path: Path, splits: Splits) -> None:
    # measurements only: no column is named like a label, and none holds class-like values to infer one from
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.csv", [{k: v for k, v in r.items() if k not in ("species", "island", "sex")}
                                              for r in rows])
    report = scan(tmp_path)
    assert report.label_column is None
    (warning,) = report.by_check("label_missing")
    assert "no label column" in warning.message and "--label COL" in warning.message
    assert not [f for f in report.findings if f.check in ("label_corruption", "label_set_mismatch", "label_shift",
                                                          "conflicting_labels", "class_imbalance")]


def test_only_requested_splits_are_opened(tmp_path: Path, splits: Splits) -> None:
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.csv", rows)
    (tmp_path / "test.csv").write_bytes(b"\x00\x01garbage" * 100)
    ds = open_source(tmp_path, build_config(str(tmp_path), progress=False), splits=["train"])
    assert list(ds.splits) == ["train"]
    batches = list(ds.batches())
    assert {b.split for b in batches} == {"train"}
    assert sum(b.frame.height for b in batches if b.frame is not None) == len(splits["train"])
    assert all(b.frame is None or b.frame[ROW].dtype.is_integer() for b in batches)


# -- bad input ---------------------------------------------------------------------------------------------
def test_nonexistent_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        scan(tmp_path / "missing")


def test_folder_without_tables_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(DataauditError, match="no dataset found"):
        scan(tmp_path)


@pytest.mark.parametrize(("content", "kind"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "binary"),
], ids=["an empty single file", "a PNG named .csv"])
def test_single_unreadable_file_is_a_finding_not_a_crash(tmp_path: Path, content: bytes, kind: str) -> None:
    (tmp_path / "data.csv").write_bytes(content)
    report = scan(tmp_path / "data.csv")
    f = report.by_check("corrupt_file")
    assert len(f) == 1 and f[0].examples[0]["kind"] == kind and f[0].examples[0]["path"] == "data.csv"
    assert f[0].split == "train"
    assert report.by_check("empty_split") and not report.passed
    report.to_json()


def test_header_only_file_is_an_empty_split(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("a,b,label\n")
    report = scan(tmp_path)
    assert [f.check for f in report.findings] == ["empty_split"]


@pytest.mark.parametrize(("encode", "name"), [
    (lambda t: t.encode("latin-1"), "latin-1"),
    (lambda t: b"\xef\xbb\xbf" + t.encode(), "UTF-8 with BOM"),
    (lambda t: t.replace("\n", "\r\n").encode(), "CRLF line ends"),
    (lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode(), "BOM and CRLF"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_encodings_and_line_ends_read_cleanly(tmp_path: Path, encode: Any, name: str) -> None:
    rows = ["species,island,weight", *[f"{'Pingüino' if i % 2 else 'Adélie'},{'Biscoe' if i % 3 else 'Dream'},"
                                       f"{3000 + 17 * i}" for i in range(80)]]
    (tmp_path / "train.csv").write_bytes(encode("\n".join(rows) + "\n"))
    # a legacy encoding is read when named, never guessed (test_hardening_sources)
    report = scan(tmp_path, encoding="cp1252") if name == "latin-1" else scan(tmp_path)
    st = report.stats.splits["train"]
    assert st.rows == 80
    assert list(st.columns) == ["species", "island", "weight"]  # no BOM glued to the first name
    assert set(st.labels.counts) == {"Pingüino", "Adélie"}
    assert st.columns["weight"].kind == "numeric" and st.columns["weight"].numeric.max == 3000 + 17 * 79
    assert not [f for f in report.findings if f.severity >= Severity.WARNING]


def test_ragged_rows_are_delimiter_corruption(tmp_path: Path) -> None:
    lines = ["a,b,c,label"] + [f"{i},{i * 2},{i % 7},{'x' if i % 2 else 'y'}" for i in range(50)]
    lines[10] = "9,18"
    lines[30] = "29,58,1,x,extra,more"
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    report = scan(tmp_path)
    f = report.by_check("delimiter_corruption")
    assert len(f) == 1 and [e["row"] for e in f[0].examples] == [9, 29]
    assert report.stats.splits["train"].rows == 48


def test_duplicate_column_names_are_reported_and_kept_apart(tmp_path: Path) -> None:
    lines = ["x,x,label"] + [f"{i},{100 - i},{'a' if i % 2 else 'b'}" for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    report = scan(tmp_path)
    f = report.by_check("schema_mismatch")
    assert len(f) == 1 and f[0].details["kind"] == "duplicate_column_names" and f[0].column == "x"
    cols = report.stats.splits["train"].columns
    assert cols["x"].numeric.max == 39 and cols["x_2"].numeric.max == 100


def test_scanning_never_modifies_the_input(tmp_path: Path, splits: Splits) -> None:
    write_table(tmp_path, "train.csv", splits["train"])
    write_table(tmp_path, "val.parquet", splits["val"])
    write_table(tmp_path, "test.csv.gz", splits["test"])
    (tmp_path / "pyproject.toml").write_text('[tool.dataaudit]\nfail_on = "warning"\n')
    before = tree_digest(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    scan(tmp_path)
    scan(tmp_path / "train.csv")
    assert tree_digest(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == mtimes


def test_label_missing_from_one_split_is_detected_from_train_and_an_error(tmp_path: Path, splits: Splits) -> None:
    write_table(tmp_path, "train.parquet", splits["train"])
    write_table(tmp_path, "test.parquet", [{k: v for k, v in r.items() if k != "species"} for r in splits["test"]])
    report = scan(tmp_path)
    assert report.label_column == "species"
    f = report.by_check("schema_mismatch")
    assert len(f) == 1 and f[0].severity == Severity.ERROR and f[0].split == "test" and f[0].column == "species"
    assert not report.by_check("label_set_mismatch")


def test_header_only_file_with_a_split_column_is_an_empty_split(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b,split\n")
    report = scan(tmp_path / "data.csv")
    assert [(f.check, f.split) for f in report.findings] == [("empty_split", "train")]


def test_quoted_header_name_with_a_newline(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text('"bill\nlength",label\n' + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(40)))
    report = scan(tmp_path)
    assert report.stats.splits["train"].rows == 40 and not report.by_check("delimiter_corruption")
    assert list(report.stats.splits["train"].columns) == ["bill\nlength", "label"]


def test_malformed_record_with_a_split_column_names_file_and_line(tmp_path: Path, splits: Splits) -> None:
    write_table(tmp_path, "data.csv", [{**r, "split": k} for k, rs in splits.items() for r in rs])
    lines = (tmp_path / "data.csv").read_text().splitlines()
    lines.insert(5, "Adelie,Dream,1,2")
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    f = scan(tmp_path / "data.csv").by_check("delimiter_corruption")
    assert len(f) == 1 and (f[0].examples[0]["path"], f[0].examples[0]["line"]) == ("data.csv", 6)
