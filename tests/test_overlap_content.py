"""Overlap is about content: column order, a column of one split only, and exact text copies.

A row copied from train into test is the same row whatever order test's file
writes its columns in, and whether or not test has a column train lacks; a text
copied verbatim from train into test is a leak whatever the other columns hold.
Real data: sklearn's bundled wine table and the review texts of ``tabledata``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from tabledata import random_split, reviews

import dataaudit
from dataaudit.report.model import Report

Rows = list[dict[str, Any]]


def wine() -> pl.DataFrame:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = pl.from_pandas(data.frame).rename({"target": "label"})
    return frame.with_columns(pl.col("label").cast(pl.String))


def scan(root: Path) -> Report:
    return dataaudit.scan(root, progress=False)


def overlap(report: Report, split: str = "test", other: str = "train") -> int:
    return sum(f.count or 0 for f in report.findings
               if f.check == "split_overlap" and f.split == split and f.details.get("other_split") == other)


def wine_splits(seed: int = 0) -> dict[str, pl.DataFrame]:
    frame = wine().sample(fraction=1.0, shuffle=True, seed=seed)
    n = frame.height
    return {"train": frame[: int(0.7 * n)], "val": frame[int(0.7 * n): int(0.85 * n)], "test": frame[int(0.85 * n):]}


def write(root: Path, splits: dict[str, pl.DataFrame]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in splits.items():
        frame.write_csv(root / f"{name}.csv")
    return root


COPIED = 20


def _copied_into_test(order: str) -> dict[str, pl.DataFrame]:
    sp = wine_splits()
    test = pl.concat([sp["test"], sp["train"][:COPIED]])
    if order == "reversed":
        test = test.select(list(reversed(test.columns)))
    elif order == "shuffled":
        cols = list(test.columns)
        np.random.default_rng(3).shuffle(cols)
        test = test.select(cols)
    elif order == "extra column in test":
        test = test.with_columns(pl.Series("annotator", [f"a{i % 4}" for i in range(test.height)]))
    elif order == "extra column in train":
        sp["train"] = sp["train"].with_columns(pl.Series("weight", np.ones(sp["train"].height)))
    return {**sp, "test": test}


@pytest.mark.parametrize("order", ["reversed", "shuffled", "extra column in test", "extra column in train"],
                         ids=lambda o: f"rows copied from train are found in test with its columns {o}"
                         if "extra" not in o else f"rows copied from train are found with an {o}")
def test_rows_copied_across_splits_are_found_whatever_the_columns_order(tmp_path: Path, order: str) -> None:
    report = scan(write(tmp_path, _copied_into_test(order)))
    assert overlap(report) == COPIED


@pytest.mark.parametrize("order", ["reversed", "extra column in test"],
                         ids=["a clean split with test's columns reversed stays quiet",
                              "a clean split with an extra column in test stays quiet"])
def test_a_clean_split_written_in_another_column_order_reports_no_overlap(tmp_path: Path, order: str) -> None:
    sp = wine_splits(seed=1)
    if order == "reversed":
        sp["test"] = sp["test"].select(list(reversed(sp["test"].columns)))
    else:
        sp["test"] = sp["test"].with_columns(pl.lit("x").alias("annotator"))
    report = scan(write(tmp_path, sp))
    assert not [f for f in report.findings if f.check in ("split_overlap", "duplicates")]


def write_rows(root: Path, splits: dict[str, Rows]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with (root / f"{name}.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return root


def text_splits(seed: int) -> dict[str, Rows]:
    rows = reviews(900, seed=seed)
    for i, row in enumerate(rows):  # columns beside the text that a copy does not keep
        row["source"] = f"s{i}"
        row["stars"] = (i * 7) % 5 + 1
    return random_split(rows, seed=seed)


@pytest.mark.parametrize("how", ["same text, other columns differ", "same text and label, other columns differ"])
def test_exact_text_copies_across_splits_are_split_overlap(tmp_path: Path, how: str) -> None:
    sp = text_splits(seed=4)
    copies = []
    for i, row in enumerate(sp["train"][:40]):
        new = {**sp["test"][i], "text": row["text"]}
        if "label" in how:
            new["label"] = row["label"]
        copies.append(new)
    sp["test"] = copies + sp["test"][40:]
    report = scan(write_rows(tmp_path, sp))
    found = [f for f in report.findings if f.check == "split_overlap" and f.split == "test"
             and f.details["other_split"] == "train"]
    assert len(found) == 1 and found[0].count == 40 and found[0].severity.label == "error"
    assert found[0].details["text_matches"] == 40
    assert {e["duplicate_of"]["row"] for e in found[0].examples} <= set(range(40))
    # exact copies are not also reported as near copies
    assert not [f for f in report.findings if f.check == "near_split_overlap" and f.split == "test"]


def test_a_clean_text_split_reports_no_exact_text_copy(tmp_path: Path) -> None:
    report = scan(write_rows(tmp_path, text_splits(seed=5)))
    assert not [f for f in report.findings if f.check in ("split_overlap", "near_split_overlap")]


def test_a_short_categorical_text_column_repeating_across_splits_is_not_a_leak(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [{"text": ["yes", "no", "maybe", "later"][int(rng.integers(4))], "x": float(rng.normal()),
             "label": str(int(rng.integers(2)))} for _ in range(600)]
    report = scan(write_rows(tmp_path, random_split(rows, seed=0)))
    assert overlap(report) == 0


def test_a_feature_whose_name_ends_in_id_is_content_not_an_id_column(tmp_path: Path) -> None:
    # wine's "malic_acid" ends in "id": rows that differ only there are not duplicates
    sp = wine_splits(seed=2)
    twin = sp["train"][:5].with_columns(pl.col("malic_acid") + 0.5)
    sp["train"] = pl.concat([sp["train"], twin])
    report = scan(write(tmp_path, sp))
    assert "malic_acid" not in report.detected["id_columns"]
    assert not [f for f in report.findings if f.check in ("duplicates", "split_overlap")]
