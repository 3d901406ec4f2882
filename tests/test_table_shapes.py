"""Every shape of the benchmark matrix, small: the scan's duplicate, overlap and label-conflict
findings equal a straightforward polars computation of the same quantities.

The data comes from ``benchmarks/bench_table_matrix.py`` (the same generator the 1 GB benchmark
uses), with label conflicts and copies between splits planted on top; the expected figures are
computed from the files with polars alone (group by the feature columns), not from the scan.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import dataaudit
from dataaudit.report.model import Finding, Report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_table_matrix as matrix  # noqa: E402

SPLITS = ("train", "val", "test")
ROWS = {"long_text": 600, "wide_numeric": 600}
CAP = 5


def plant(frames: dict[str, pl.DataFrame], seed: int) -> dict[str, pl.DataFrame]:
    """Label conflicts within train, rows of train copied into test (some under another label)."""
    rng = np.random.default_rng(seed)
    train, test = frames["train"], frames["test"]
    labels = train.get_column("label").unique().sort().to_list()

    def relabel(rows: pl.DataFrame) -> pl.DataFrame:
        other = {a: labels[(labels.index(a) + 1) % len(labels)] for a in labels}
        return rows.with_columns(pl.col("label").replace_strict(other, return_dtype=pl.String))

    pick = rng.choice(train.height, 60, replace=False)
    conflicts = relabel(train[pick[:15]])
    copies = train[pick[15:45]]
    clashing = relabel(train[pick[45:]])
    return {**frames, "train": pl.concat([train, conflicts]), "test": pl.concat([test, copies, clashing])}


def write(shape: str, root: Path, seed: int = 0) -> Path:
    """The shape, small, with plants; as CSV (split files or shard folders) or Parquet."""
    n = ROWS.get(shape, 3000)
    rng = np.random.default_rng(seed)
    frames = {name: matrix.frame_of(shape, rng, int(n * frac), 0) for name, frac in matrix.SPLITS}
    if "id" in frames["train"].columns:  # ids go on counting in the other splits
        at = 0
        for name in SPLITS:
            frames[name] = frames[name].with_columns(pl.int_range(at, at + frames[name].height).alias("id"))
            at += frames[name].height
    frames = plant(frames, seed)
    if "id" in frames["test"].columns:  # copied rows get ids of their own
        frames["test"] = frames["test"].with_columns(pl.int_range(10**6, 10**6 + frames["test"].height).alias("id"))
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if shape == "shards":
            (root / name).mkdir()
            for k, a in enumerate(range(0, frame.height, 97)):
                frame[a: a + 97].write_csv(root / name / f"part-{k:05d}.csv")
        elif shape == "parquet":
            frame.write_parquet(root / f"{name}.parquet")
        else:
            frame.write_csv(root / f"{name}.csv")
    return root


def read(root: Path, split: str) -> pl.DataFrame:
    """A split as plain polars reads it."""
    files = sorted((root / split).glob("*.csv")) if (root / split).is_dir() else sorted(root.glob(f"{split}.*"))
    frames = [pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_csv(f) for f in files]
    return pl.concat(frames).with_row_index("__i__")


def expected(root: Path, text_column: str | None, free_text: bool) -> dict[str, Any]:
    """Duplicate groups, overlaps and label conflicts, computed with polars group-bys."""
    frames = {s: read(root, s) for s in SPLITS}
    features = [c for c in frames["train"].columns if c not in ("__i__", "label", "id")]
    out: dict[str, Any] = {}
    for s, f in frames.items():
        by_row = f.group_by([*features, "label"]).agg(pl.len().alias("n")).filter(pl.col("n") > 1)
        by_features = f.group_by(features).agg(pl.col("label").n_unique().alias("labels"), pl.len().alias("n"))
        mixed = by_features.filter(pl.col("labels") > 1)
        out[s] = {"duplicates": int((by_row["n"] - 1).sum()), "groups": by_row.height,
                  "conflict_groups": mixed.height, "conflict_items": int(mixed["n"].sum())}
    train = frames["train"]
    first = train.sort("__i__").group_by(features, maintain_order=True).agg(pl.col("label").first().alias("ref"))
    for s in ("val", "test"):
        f = frames[s]
        joined = f.join(first, on=features, how="left")
        in_train = joined["ref"].is_not_null()
        if free_text and text_column is not None:  # an exact copy of the text is overlap too
            in_train = in_train | f[text_column].is_in(train[text_column].implode())
        out[s]["overlap"] = int(in_train.sum())
        out[s]["cross_conflicts"] = int((joined["ref"].is_not_null() & (joined["ref"] != joined["label"])).sum())
    return out


def one(report: Report, check: str, split: str, other: str | None = None) -> Finding | None:
    found = [f for f in report.findings if f.check == check and f.split == split
             and (other is None or f.details.get("other_split") == other)
             and (other is not None or "other_split" not in f.details)]
    assert len(found) <= 1
    return found[0] if found else None


def count(f: Finding | None) -> int:
    return 0 if f is None else int(f.count or 0)


@pytest.mark.parametrize("shape", matrix.SHAPES, ids=lambda s: f"{s}: findings equal polars' group-bys")
def test_duplicates_overlap_and_conflicts_match_a_polars_computation(tmp_path: Path, shape: str) -> None:
    root = write(shape, tmp_path / shape)
    report = dataaudit.scan(root, progress=False, max_examples=CAP)
    from dataaudit.checks.duplicates import free_text
    from dataaudit.config import build_config
    from dataaudit.profile.dataset import profile_dataset
    from dataaudit.sources import open_source

    cfg = build_config(str(root))
    stats = profile_dataset(open_source(str(root), cfg), cfg)
    want = expected(root, stats.text_column, free_text(stats))
    for s in SPLITS:
        dup = one(report, "duplicates", s)
        assert count(dup) == want[s]["duplicates"], s
        assert (dup.details["groups"] if dup else 0) == want[s]["groups"], s
        conflict = one(report, "conflicting_labels", s)
        assert count(conflict) == want[s]["conflict_items"], s
        assert (conflict.details["groups"] if conflict else 0) == want[s]["conflict_groups"], s
        for f in (dup, conflict):
            assert f is None or len(f.examples) <= CAP
    for s in ("val", "test"):
        assert count(one(report, "split_overlap", s, "train")) == want[s]["overlap"], s
        assert count(one(report, "conflicting_labels", s, "train")) == want[s]["cross_conflicts"], s
    # the plants are there to be found
    assert want["test"]["overlap"] >= 45 and want["test"]["cross_conflicts"] >= 15
    assert want["train"]["conflict_groups"] >= 1


@pytest.mark.parametrize("shape", ["distinct", "free_text", "wide_numeric"],
                         ids=lambda s: f"{s}: a clean random split reports no duplicate, overlap or conflict")
def test_clean_shapes_report_no_duplicates_overlap_or_conflicts(tmp_path: Path, shape: str) -> None:
    rng = np.random.default_rng(7)
    root = tmp_path / shape
    root.mkdir()
    at = 0
    for name, frac in matrix.SPLITS:
        frame = matrix.frame_of(shape, rng, int(2000 * frac), at)
        at += frame.height
        frame.write_csv(root / f"{name}.csv")
    report = dataaudit.scan(root, progress=False)
    assert not [f for f in report.findings if f.check in ("duplicates", "split_overlap", "conflicting_labels")]


def test_many_small_shards_profile_as_one_file_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small shards are joined before profiling; every finding, row number and file is as without joining."""
    import json

    from dataaudit.sources import coalesce

    rng = np.random.default_rng(3)
    frame = matrix.frame_of("distinct", rng, 900, 0)
    frame = pl.concat([frame, frame[:12].with_columns(pl.col("id") + 10_000)])  # duplicates across shards
    for name in ("train", "test"):
        (tmp_path / name).mkdir()
    for k, a in enumerate(range(0, frame.height, 7)):
        frame[a: a + 7].write_csv(tmp_path / ("train" if k % 5 else "test") / f"part-{k:04d}.csv")
    with (tmp_path / "train" / "part-0001.csv").open("a") as fh:
        fh.write("1,2,3\n")  # a malformed record in one shard
    (tmp_path / "train" / "part-0002.csv").write_text("id,age\n1,2\n")  # a shard of another schema

    def report() -> dict[str, Any]:
        got = json.loads(dataaudit.scan(tmp_path, progress=False).to_json())
        return {k: got[k] for k in ("splits", "findings")}

    joined = report()
    monkeypatch.setattr(coalesce, "COALESCE_ROWS", 1)
    monkeypatch.setattr(coalesce.coalesce, "__defaults__", (1,))
    alone = report()
    assert joined == alone
    checks = {f["check"] for f in joined["findings"]}
    assert {"duplicates", "delimiter_corruption", "schema_mismatch"} <= checks


def test_a_shard_whose_numbers_are_text_reads_right_when_its_head_was_not_probed(tmp_path: Path) -> None:
    """Among thousands of shards only some heads are probed for types: a shard holding text in a
    numeric column still reads as text there (counted as not numeric), nothing coerced or lost."""
    from dataaudit.config import build_config
    from dataaudit.profile.dataset import profile_dataset
    from dataaudit.sources import open_source, tables

    (tmp_path / "train").mkdir()
    shards = 3 * tables.SHARDS_PROBED
    odd = {7, 101, 150}  # not among the probed heads (spread evenly, first and last included)
    for k in range(shards):
        x = ["oops", "1.5", "2"] if k in odd else ["1.5", "2", "3"]
        pl.DataFrame({"x": x, "y": [1, 2, 3], "label": ["a", "b", "a"]}).write_csv(
            tmp_path / "train" / f"part-{k:04d}.csv")
    cfg = build_config(str(tmp_path))
    dataset = open_source(str(tmp_path), cfg)
    assert "x" in dataset.typed_columns
    stats = profile_dataset(dataset, cfg)
    train = stats.splits["train"]
    assert train.rows == 3 * shards
    assert train.columns["x"].non_numeric == len(odd) and train.columns["x"].numeric.count == 3 * shards - len(odd)
