"""Mergeable statistics: merge(stats(a), stats(b)) == stats(a + b), piece by piece and for whole splits."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataaudit.config import Config
from dataaudit.profile.columns import ColumnStats
from dataaudit.profile.hashes import ItemHashes
from dataaudit.profile.labels import LabelStats
from dataaudit.profile.moments import Moments
from dataaudit.profile.sample import RowSample
from dataaudit.profile.split import SplitStats
from dataaudit.profile.table import TableSplitProfiler
from dataaudit.sources.base import ROW, Batch, Dataset

SETTINGS = settings(max_examples=40, deadline=None)
FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def same_moments(a: Moments, b: Moments) -> None:
    assert a.count == b.count
    if a.count:
        assert close(a.mean, b.mean) and close(a.min, b.min) and close(a.max, b.max)
        assert math.isclose(a.m2, b.m2, rel_tol=1e-7, abs_tol=1e-3 * max(1.0, a.count))


def moments_of(xs: list[float]) -> Moments:
    m = Moments()
    if xs:
        arr = np.asarray(xs, dtype=np.float64)
        m.add_summary(len(arr), float(arr.mean()), float(arr.var()), float(arr.min()), float(arr.max()))
    return m


@SETTINGS
@given(xs=st.lists(FLOATS, max_size=60), cut=st.integers(0, 60))
def test_moments_merge(xs: list[float], cut: int) -> None:
    a, b = xs[:cut], xs[cut:]
    same_moments(moments_of(a).merge(moments_of(b)), moments_of(xs))
    # and merging in the other order
    same_moments(moments_of(b).merge(moments_of(a)), moments_of(xs))


@SETTINGS
@given(labels=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=80), cut=st.integers(0, 80))
def test_label_stats_merge(labels: list[str], cut: int) -> None:
    def stats(items: list[tuple[int, str]]) -> LabelStats:
        s = LabelStats(example_cap=3)
        first: dict[str, list[int]] = {}
        for i, v in items:
            first.setdefault(v, []).append(i)
        s.add_counts(Counter(v for _, v in items), first)
        return s

    items = list(enumerate(labels))
    merged = stats(items[:cut]).merge(stats(items[cut:]))
    whole = stats(items)
    assert merged.counts == whole.counts
    assert merged.first_rows == whole.first_rows


@SETTINGS
@given(n=st.integers(0, 300), k=st.integers(1, 40), cut=st.integers(0, 300))
def test_row_sample_merge(n: int, k: int, cut: int) -> None:
    frame = pl.DataFrame({ROW: pl.Series(range(n), dtype=pl.Int64), "x": [float(i) * 0.5 for i in range(n)]})
    cut = min(cut, n)
    a, b, whole = RowSample(k=k), RowSample(k=k), RowSample(k=k)
    a.update(frame[:cut])
    b.update(frame[cut:])
    for lo in range(0, n, 17):  # the whole in small batches: the sample must not depend on batching
        whole.update(frame[lo: lo + 17])
    assert a.merge(b).rows().equals(whole.rows())
    assert whole.rows().height == min(k, n)


@SETTINGS
@given(n=st.integers(0, 100), cut=st.integers(0, 100), text=st.booleans())
def test_item_hashes_merge(n: int, cut: int, text: bool) -> None:
    rng = np.random.default_rng(n)
    idx = np.arange(n, dtype=np.int64)
    content = rng.integers(0, 2**63, n, dtype=np.uint64)
    label = rng.integers(0, 5, n, dtype=np.uint64)
    norm = rng.integers(0, 2**63, n, dtype=np.uint64) if text else None
    cut = min(cut, n)

    def build(sl: slice) -> ItemHashes:
        h = ItemHashes()
        h.add(idx[sl], content[sl], label[sl], None if norm is None else norm[sl])
        return h

    merged, whole = build(slice(0, cut)).merge(build(slice(cut, n))), build(slice(0, n))
    for x, y in zip(merged.arrays(), whole.arrays()):
        assert (x is None and y is None) or np.array_equal(x, y)  # type: ignore[arg-type]
    assert len(merged) == n


# -- whole splits through the real profiler ---------------------------------------------------------------
CELLS = st.sampled_from(["Adelie", "Gentoo", "NA", "", "?", " gentoo", "3.5", "x"]) | st.none()
NUMS = FLOATS.map(lambda x: round(x, 3)) | st.none() | st.just(-999.0) | st.just(float("nan"))


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 60))
    label = draw(st.lists(st.sampled_from(["a", "b", "c", "A ", ""]) | st.none(), min_size=n, max_size=n))
    return pl.DataFrame({
        "num": pl.Series(draw(st.lists(NUMS, min_size=n, max_size=n)), dtype=pl.Float64),
        "int": pl.Series(draw(st.lists(st.integers(-50, 50) | st.none(), min_size=n, max_size=n)), dtype=pl.Int64),
        "cat": pl.Series(draw(st.lists(CELLS, min_size=n, max_size=n)), dtype=pl.String),
        "text": pl.Series([f"Some Review {i % 7}  text" if i % 3 else f"some review {i % 7} TEXT" for i in range(n)]),
        "label": pl.Series(label, dtype=pl.String),
        ROW: pl.Series(range(n), dtype=pl.Int64),
    })


def profile(frame: pl.DataFrame, pieces: list[pl.DataFrame]) -> SplitStats:
    ds = Dataset(source="mem", root=None, modality="text", splits={}, label_column="label", read=lambda: iter(()),
                 text_column="text")
    prof = TableSplitProfiler("train", ds, Config(sample_size=25, max_examples=5))
    for i, piece in enumerate(pieces):
        prof.update(Batch("train", "train.csv", frame=piece, columns=list(frame.columns[:-1]) if i == 0 else None))
    return prof.result()


def same_columns(a: ColumnStats, b: ColumnStats) -> None:
    for f in ("dtypes", "count", "nulls", "empty", "nan", "sentinels", "missing_rows", "infinite", "non_numeric",
              "non_numeric_examples", "integral", "values"):
        assert getattr(a, f) == getattr(b, f), f
    same_moments(a.numeric, b.numeric)
    same_moments(a.text_len, b.text_len)
    assert a.kind == b.kind and a.is_constant == b.is_constant


@settings(max_examples=40, deadline=None)
@given(frame=frames(), cut=st.integers(0, 60))
def test_split_stats_merge_equals_profiling_the_whole(frame: pl.DataFrame, cut: int) -> None:
    cut = min(cut, frame.height)
    left = profile(frame, [frame[:cut]])
    right = profile(frame, [frame[cut:]])
    merged = left.merge(right)
    whole = profile(frame, [frame])
    assert merged.rows == whole.rows == frame.height
    assert list(merged.columns) == list(whole.columns) or set(merged.columns) == set(whole.columns)
    for name in whole.columns:
        same_columns(merged.columns[name], whole.columns[name])
    assert merged.labels is not None and whole.labels is not None
    assert merged.labels.counts == whole.labels.counts
    assert merged.labels.missing == whole.labels.missing
    assert merged.labels.missing_rows == whole.labels.missing_rows
    assert merged.labels.first_rows == whole.labels.first_rows

    def by_index(h: ItemHashes) -> list[tuple[Any, ...]]:
        idx, content, label, norm = h.arrays()
        order = np.argsort(idx, kind="stable")
        cols = [idx[order], content[order], label[order]] + ([norm[order]] if norm is not None else [])
        return list(zip(*(c.tolist() for c in cols)))

    assert by_index(merged.hashes) == by_index(whole.hashes)
    assert merged.sample.rows().equals(whole.sample.rows())


@pytest.mark.parametrize("pieces", [1, 2, 5], ids=lambda k: f"read in {k} batches")
def test_batching_does_not_change_split_stats(pieces: int) -> None:
    rng = np.random.default_rng(0)
    n = 500
    frame = pl.DataFrame({
        "num": rng.normal(10, 2, n).round(2), "int": rng.integers(0, 9, n),
        "cat": rng.choice(["x", "y", "NA", ""], n), "text": [f"t {i % 40}" for i in range(n)],
        "label": rng.choice(["a", "b"], n), ROW: np.arange(n),
    })
    bounds = np.linspace(0, n, pieces + 1).astype(int)
    split = profile(frame, [frame[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
    whole = profile(frame, [frame])
    for name in whole.columns:
        same_columns(split.columns[name], whole.columns[name])
    assert split.labels is not None and whole.labels is not None and split.labels.counts == whole.labels.counts


def test_hashes_computed_beside_the_column_statistics_equal_the_sequential_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Large batches hash in a helper thread while the columns are profiled: same statistics."""
    from dataaudit.profile import table

    rng = np.random.default_rng(1)
    n = 3 * table.PARALLEL_ROWS
    frame = pl.DataFrame({
        "num": rng.normal(10, 2, n).round(2), "int": rng.integers(0, 9, n),
        "cat": rng.choice(["x", "y", "NA", ""], n), "text": [f"Review {i % 997}  TEXT" for i in range(n)],
        "label": rng.choice(["a", "b", "c"], n), ROW: np.arange(n),
    })
    pieces = [frame[: n // 2], frame[n // 2:]]
    threaded = profile(frame, pieces)
    monkeypatch.setattr(table, "PARALLEL_ROWS", n + 1)
    sequential = profile(frame, pieces)
    for name in sequential.columns:
        same_columns(threaded.columns[name], sequential.columns[name])
    for x, y in zip(threaded.hashes.arrays(), sequential.hashes.arrays()):
        assert x is not None and y is not None and np.array_equal(x, y)
    assert np.array_equal(threaded.hashes.take("raw", np.arange(n)), sequential.hashes.take("raw", np.arange(n)))
    assert threaded.sample.rows().equals(sequential.sample.rows())
    assert threaded.labels is not None and sequential.labels is not None
    assert threaded.labels.counts == sequential.labels.counts


def test_large_batches_stop_counting_many_valued_columns_early_with_the_same_statistics() -> None:
    """A batch past the head check (more than 8,192 rows) drops a column with many distinct values
    before counting it; the statistics equal those of the same rows profiled in small batches."""
    n = 20_000
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({
        "num": pl.Series(rng.normal(size=n).round(3), dtype=pl.Float64),
        "int": pl.Series(rng.integers(0, 5, n), dtype=pl.Int64),
        "cat": pl.Series(rng.choice(["Adelie", "Gentoo", "NA", ""], n), dtype=pl.String),
        "text": pl.Series([f"review number {i} of many" for i in range(n)]),
        "label": pl.Series(rng.choice(["a", "b", "c"], n), dtype=pl.String),
        ROW: pl.Series(range(n), dtype=pl.Int64),
    })
    whole = profile(frame, [frame])
    pieces = profile(frame, [frame[i:i + 2_000] for i in range(0, n, 2_000)])
    assert whole.columns["text"].values is None and whole.columns["num"].values is None
    assert whole.columns["cat"].values == pieces.columns["cat"].values and whole.columns["int"].values is not None
    for name in whole.columns:
        same_columns(whole.columns[name], pieces.columns[name])
