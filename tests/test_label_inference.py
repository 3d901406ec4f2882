"""The label is found or its absence is loud (issue 13, item 4).

``sample_data/tables_faulty`` copied without its ``pyproject.toml`` lost all five label
checks: its label column, ``cultivar``, is not a conventional name, and only a note said
so. Now the label is inferred from the head of the data by a fixed rule (last column,
first column, the only column of class-like names), the report says which column and
why, and a table where nothing qualifies gets a ``label_missing`` warning naming the
``--label`` fix.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dataaudit.report.console import render_console
from dataaudit.report.model import Severity
from dataaudit.scanner import scan

sklearn_datasets = pytest.importorskip("sklearn.datasets")

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
LABEL_CHECKS = {"conflicting_labels", "label_corruption", "class_imbalance", "label_set_mismatch", "label_shift"}


def copy_without_config(name: str, dest: Path) -> Path:
    src = SAMPLES / name
    if not src.is_dir():
        pytest.skip(f"{src} is not beside the tests")
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix == ".csv":
            shutil.copy(f, dest / f.name)
    return dest


def key(report) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    return sorted((f.check, f.split, f.column, f.severity.label, f.count) for f in report.findings)


def console_text(report) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    render_console(report, file=buf, color=False)
    return buf.getvalue()


# -- the case ----------------------------------------------------------------------------------------
def test_tables_faulty_without_its_pyproject_keeps_its_label_checks(tmp_path: Path) -> None:
    copy = copy_without_config("tables_faulty", tmp_path / "faulty")
    report = scan(copy)
    assert report.label_column == "cultivar"
    assert report.detected["label_reason"].startswith("inferred: the last column")
    assert LABEL_CHECKS <= {f.check for f in report.findings}
    configured = scan(copy, label="cultivar")
    assert key(report) == key(configured), "the same findings as with the label configured"
    text = console_text(report)
    assert "label 'cultivar' inferred: the last column" in text and "--label COL" in text
    assert not report.by_check("label_missing")


@pytest.mark.parametrize("name", ["tables_clean", "breast_cancer_uci", "wine_uci"])
def test_clean_sample_tables_without_config_report_what_they_report_with_it(tmp_path: Path, name: str) -> None:
    copy = copy_without_config(name, tmp_path / name)
    label = (SAMPLES / name / "pyproject.toml").read_text().split('label = "')[1].split('"')[0]
    report = scan(copy)
    assert report.label_column == label
    assert key(report) == key(scan(copy, label=label))


# -- real tables, labels where real tables keep them -------------------------------------------------------
def real(name: str) -> pl.DataFrame:
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    cols = {f"f{i}" if name == "digits" else str(c).replace(" ", "_"): bunch.data[:, i]
            for i, c in enumerate(bunch.feature_names)}
    names = np.asarray(bunch.target_names)[bunch.target] if name != "digits" else bunch.target
    return pl.DataFrame(cols).with_columns(pl.Series("kind", names))


def write_split(root: Path, df: pl.DataFrame, fmt: str = "csv", seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    idx = np.random.default_rng(seed).permutation(df.height)
    cut = int(df.height * 0.8)
    for split, ii in (("train", idx[:cut]), ("test", idx[cut:])):
        part = df[np.sort(ii).tolist()]
        if fmt == "csv":
            part.write_csv(root / f"{split}.csv")
        elif fmt == "parquet":
            part.write_parquet(root / f"{split}.parquet")
        else:
            part.write_ndjson(root / f"{split}.jsonl")
    return root


@pytest.mark.parametrize(("name", "arrange", "rule"), [
    ("wine", "last", "the last column"),
    ("iris", "first", "the first column"),
    ("breast_cancer", "middle", "the only column of class-like names"),
    ("digits", "last", "the last column"),
], ids=["wine cultivar names in the last column", "iris species names in the first column",
        "breast cancer diagnosis among numeric columns", "digit codes 0-9 in the last column"])
def test_the_label_of_a_real_table_is_inferred_and_explained(tmp_path: Path, name: str, arrange: str,
                                                             rule: str) -> None:
    df = real(name)
    if arrange == "first":
        df = df.select(["kind", *[c for c in df.columns if c != "kind"]])
    elif arrange == "middle":
        cols = [c for c in df.columns if c != "kind"]
        df = df.select([*cols[:5], "kind", *cols[5:]])
    report = scan(write_split(tmp_path, df))
    assert report.label_column == "kind"
    assert report.detected["label_reason"].startswith(f"inferred: {rule}")
    assert not report.by_check("label_missing")
    assert [f for f in report.findings if f.check in LABEL_CHECKS and f.severity >= Severity.WARNING] == [], \
        "the label checks stay quiet on a clean random split once its label is inferred"


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_the_label_is_inferred_from_other_formats(tmp_path: Path, fmt: str) -> None:
    report = scan(write_split(tmp_path, real("wine"), fmt))
    assert report.label_column == "kind"


# -- what must never be taken for a label --------------------------------------------------------------------
def regression_table() -> pl.DataFrame:
    bunch = sklearn_datasets.load_diabetes()
    return pl.DataFrame({c: bunch.data[:, i] for i, c in enumerate(bunch.feature_names)}).with_columns(
        pl.Series("progression", bunch.target))


def test_a_regression_table_gets_a_visible_warning_with_the_fix(tmp_path: Path) -> None:
    report = scan(write_split(tmp_path, regression_table()))
    assert report.label_column is None
    (f,) = report.by_check("label_missing")
    assert f.severity == Severity.WARNING and report.passed
    assert "'progression'" in f.message and "whole numbers" in f.message
    assert "--label COL" in f.message and "--ignore label_missing" in f.message
    assert "label_missing" in console_text(report)
    assert not [g for g in report.findings if g.check in LABEL_CHECKS]


def test_an_id_column_last_is_not_a_label(tmp_path: Path) -> None:
    df = regression_table().with_columns(pl.Series("record", [f"r{i:05d}" for i in range(442)]))
    report = scan(write_split(tmp_path, df))
    assert report.label_column is None and report.by_check("label_missing")


def test_free_text_last_is_not_a_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = ["the", "wine", "was", "quite", "dry", "and", "fruity", "with", "notes", "of", "oak"]
    notes = [" ".join(rng.choice(words, 8)) for _ in range(400)]
    df = pl.DataFrame({"acidity": rng.normal(size=400), "sugar": rng.normal(size=400), "tasting_note": notes})
    report = scan(write_split(tmp_path, df))
    assert report.label_column is None
    assert "free text" in report.by_check("label_missing")[0].message


def test_a_named_label_or_an_ignored_warning_is_quiet(tmp_path: Path) -> None:
    root = write_split(tmp_path, regression_table())
    assert scan(root, label="progression").by_check("label_missing") == []
    assert scan(root, ignore=["label_missing"]).by_check("label_missing") == []


def test_a_single_column_table_needs_no_label(tmp_path: Path) -> None:
    df = pl.DataFrame({"value": np.random.default_rng(1).normal(size=200)})
    report = scan(write_split(tmp_path, df))
    assert report.label_column is None and report.by_check("label_missing") == []


def test_the_inference_does_not_depend_on_row_order_of_the_whole_head(tmp_path: Path) -> None:
    df = real("wine")
    a = scan(write_split(tmp_path / "a", df, seed=1))
    b = scan(write_split(tmp_path / "b", df.reverse(), seed=1))
    assert a.label_column == b.label_column == "kind"


def test_a_small_whole_number_in_the_first_column_of_a_regression_table_is_not_a_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    df = regression_table().select([pl.Series("rooms", rng.integers(1, 7, 442)), pl.all()])
    report = scan(write_split(tmp_path, df))
    assert report.label_column is None and report.by_check("label_missing")
