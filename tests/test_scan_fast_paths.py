"""The shortcuts that make table scans fast, each against the plain way of computing the same thing.

- quote-free chunks are proven well-formed by a strict parse (no byte analysis);
  plain files are read in place with ``pread``, compressed ones as a stream;
- batches are read ahead in a thread;
- item hashes are kept in chunks (row ranges, folded 32-bit label/raw hashes);
- near-duplicate text hashes normalise only the values not already in normal form;
- repeated keys are found by sorting the upper 32 bits first.
"""

from __future__ import annotations

import dataclasses

import gzip
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataaudit.checks.duplicates import key_index, repeated
from dataaudit.profile.hashes import ItemHashes, fold32
from dataaudit.profile.table import (HASH_SEED, TextShape, _small_int_counts, _text_shape_joined, hash_columns,
                                     normalised_hash, normalised_text, text_shape)
from dataaudit.sources.base import ROW, RecordProblem
from dataaudit.sources.delimited import DelimitedReader, sniff
from dataaudit.sources.readahead import read_ahead

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- quote-free delimited text: strict parse vs a line-by-line oracle ------------------------------------
CELL = st.sampled_from(["", "0", "7", "-3", "12", "4.5", "x", "NA", "a b"])


@st.composite
def quote_free_files(draw: st.DrawFn) -> tuple[str, list[list[str]], list[int], list[tuple[int, int]]]:
    """A CSV without quotes, with short, long, blank and other-delimiter lines among good ones.

    Returns the text, the good rows (as written), their row indices and the (row, line) of
    each malformed record.
    """
    ncols = draw(st.integers(2, 5))
    header = ",".join(f"c{i}" for i in range(ncols))
    lines = [header]
    good: list[list[str]] = []
    good_index: list[int] = []
    bad: list[tuple[int, int]] = []
    row = 0
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["good"] * 6 + ["short", "long", "blank", "other"]))
        if kind == "blank":
            lines.append("")
            continue
        if kind == "good":
            cells = [draw(CELL) for _ in range(ncols)]
            if not any(cells):
                cells[0] = "x"
            good.append(cells)
            good_index.append(row)
            lines.append(",".join(cells))
        else:
            width = {"short": draw(st.integers(1, ncols - 1)), "long": ncols + draw(st.integers(1, 3)),
                     "other": ncols}[kind]
            sep = ";" if kind == "other" else ","
            lines.append(sep.join(f"b{k}" for k in range(width)))
            bad.append((row, len(lines)))
        row += 1
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    text = terminator.join(lines) + (terminator if draw(st.booleans()) else "")
    return text, good, good_index, bad


def read(path: Path, chunk: int, typed: bool) -> tuple[list[list[Any]], list[int], list[RecordProblem]]:
    dialect = sniff(path, ",")
    schema = None if typed else {h: pl.String() for h in dialect.header}
    reader = DelimitedReader(path, path.name, dialect, "train", chunk_bytes=chunk, schema=schema)
    rows: list[list[Any]] = []
    index: list[int] = []
    problems: list[RecordProblem] = []
    for frame, probs, _ in reader.frames():
        problems += probs
        if frame is not None:
            names = [c for c in frame.columns if c != ROW]
            rows += [["" if v is None else str(v) for v in r] for r in frame.select(names).iter_rows()]
            index += frame[ROW].to_list()
    return rows, index, problems


def _same(got: str, written: str) -> bool:
    if got == written:
        return True
    try:
        return float(got) == float(written)
    except ValueError:
        return False


@SETTINGS
@given(case=quote_free_files(), chunk=st.sampled_from([1, 2, 5, 11, 37, 4096]), typed=st.booleans(),
       compressed=st.booleans())
def test_quote_free_records_match_a_line_by_line_reading(
        tmp_path: Path, case: tuple[str, list[list[str]], list[int], list[tuple[int, int]]], chunk: int,
        typed: bool, compressed: bool) -> None:
    text, good, good_index, bad = case
    path = tmp_path / ("t.csv.gz" if compressed else "t.csv")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    rows, index, problems = read(path, chunk, typed)
    assert index == good_index
    assert len(rows) == len(good)
    for got, written in zip(rows, good):
        assert all(_same(g, w) for g, w in zip(got, written)), (got, written)
    assert [(p.row, p.line) for p in problems] == bad


def test_a_chunk_whose_last_field_is_empty_is_still_read_without_byte_analysis(tmp_path: Path) -> None:
    """Empty last fields are nulls like a missing field would be: the delimiter count tells them apart."""
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,\n3,4,5\n6,7,\n")
    with mock.patch.object(DelimitedReader, "_process", side_effect=AssertionError("byte analysis")):
        rows, index, problems = read(path, 4096, typed=True)
    assert rows == [["1", "2", ""], ["3", "4", "5"], ["6", "7", ""]] and problems == []
    path.write_text("a,b,c\n1,2,\n3,4\n6,7,\n")  # a record one field short: the count gives it away
    with mock.patch.object(DelimitedReader, "_process", autospec=True, side_effect=DelimitedReader._process) as spy:
        rows, index, problems = read(path, 4096, typed=True)
    assert spy.called
    assert index == [0, 2] and [(p.row, p.line, p.fields) for p in problems] == [(1, 3, 2)]


@pytest.mark.parametrize("chunk", [1 << 24, 4096], ids=["in one chunk", "in many chunks"])
def test_invalid_utf8_bytes_past_the_sniffed_head_are_a_problem_and_every_other_row_kept(tmp_path: Path,
                                                                                         chunk: int) -> None:
    """Chunks are parsed as strict UTF-8; the record that is not valid UTF-8 is located and
    reported (its column named), never read lossily (issue 14)."""
    path = tmp_path / "t.csv"
    n = 150_000  # the head the encoding is sniffed from is valid UTF-8
    path.write_bytes("id,name\n".encode() + "".join(f"{i},café\n" for i in range(n)).encode()
                     + f"{n},caf".encode() + b"\xe9" + f"\n{n + 1},Zoë\n".encode())
    rows, index, problems = read(path, chunk, typed=True)
    assert index == [*range(n), n + 1]
    assert [(p.row, p.line, p.kind, p.column) for p in problems] == [(n, n + 2, "invalid_utf8", "name")]
    assert [r[1] for r in rows[-2:]] == ["café", "Zoë"]


def test_strict_utf8_parse_raises_for_invalid_utf8_and_nothing_else() -> None:
    from dataaudit.sources.delimited import InvalidUtf8, _read_csv

    with pytest.raises(InvalidUtf8):
        _read_csv(b"1,caf\xe9\n", has_header=False, new_columns=["a", "b"], encoding="utf8")
    with pytest.raises(pl.exceptions.PolarsError):  # other errors are not taken for invalid UTF-8
        _read_csv(b"1,2,3\n", has_header=False, new_columns=["a", "b"], encoding="utf8",
                  schema={"a": pl.Int64, "b": pl.Int64}, truncate_ragged_lines=False)


# -- read-ahead --------------------------------------------------------------------------------------------
def test_read_ahead_keeps_order_and_raises_where_the_producer_failed() -> None:
    def produce() -> Iterator[int]:
        yield from range(5)
        raise ValueError("broken at 5")

    got: list[int] = []
    with pytest.raises(ValueError, match="broken at 5"):
        for item in read_ahead(produce(), depth=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_closing_read_ahead_early_stops_the_producer() -> None:
    produced: list[int] = []
    finished = threading.Event()

    def produce() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            finished.set()

    stream = read_ahead(produce(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert finished.wait(5)
    time.sleep(0.05)
    assert len(produced) < 10  # it stopped, a few items ahead at most


# -- item hashes in chunks ---------------------------------------------------------------------------------
@SETTINGS
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=6), gaps=st.lists(st.booleans(), min_size=6, max_size=6),
       data=st.data())
def test_item_hashes_in_chunks_answer_like_concatenated_arrays(sizes: list[int], gaps: list[bool],
                                                               data: st.DataObject) -> None:
    rng = np.random.default_rng(len(sizes))
    h = ItemHashes()
    index_parts: list[np.ndarray] = []
    start = 0
    for size, gap in zip(sizes, gaps):
        idx = start + np.arange(size, dtype=np.int64)
        if gap and size > 1:
            idx = idx[::2]  # rows left out (malformed records): an index array, not a range
        start += size + 3
        content = rng.integers(0, 2**64, len(idx), dtype=np.uint64)
        label = rng.integers(0, 2**64, len(idx), dtype=np.uint64)
        h.add(idx if gap else range(int(idx[0]), int(idx[0]) + len(idx)) if len(idx) else idx, content, label,
              content ^ np.uint64(1), label)
        index_parts.append(idx)
    index = np.concatenate(index_parts)
    assert np.array_equal(h.index(), index)
    n = len(h)
    positions = np.asarray(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=20)) if n else [], dtype=np.int64)
    assert np.array_equal(h.index_at(positions), index[positions])
    for kind, whole in (("content", h.content), ("label", h.label), ("norm", h.norm), ("raw", h.raw_text())):
        assert whole is not None
        assert np.array_equal(h.take(kind, positions), whole[positions])
        if kind in ("content", "norm"):
            assert np.array_equal(h.high32(kind), (whole >> np.uint64(32)).astype(np.uint32))
            assert h.series(kind).to_numpy().tolist() == whole.tolist()


def test_labels_are_folded_to_32_bits_the_same_way_everywhere() -> None:
    h = ItemHashes()
    full = np.array([2**63 + 5, 7, 2**40], dtype=np.uint64)
    h.add(range(3), np.arange(3, dtype=np.uint64), full)
    assert h.label.dtype == np.uint32
    assert h.label.tolist() == fold32(full).tolist()
    assert h.has("label") and not ItemHashes().has("label")


# -- normal-form text hashes -------------------------------------------------------------------------------
TEXT = st.text(st.sampled_from(list("abcXYZ  \t\n\r\x0b\x0c1.+niN") + ["é", "Ｆ", "\u00a0", "\u2028", "ß", "İ"]),
               max_size=12) | st.sampled_from(["nan", "inf", "Infinity", "NaN", "+inf", "nab", "infinitx"])


@SETTINGS
@given(values=st.lists(TEXT | st.none(), min_size=1, max_size=30))
def test_normalised_hash_equals_hashing_the_normalised_text(values: list[str | None]) -> None:
    series = pl.Series(values, dtype=pl.String)
    expected = normalised_text(series).hash(HASH_SEED).to_numpy()
    raw = series.hash(HASH_SEED).to_numpy()
    assert normalised_hash(series, raw).tolist() == expected.tolist()
    assert normalised_hash(series, raw, text_shape(series)).tolist() == expected.tolist()


@SETTINGS
@given(values=st.lists(TEXT | st.none(), min_size=1, max_size=30), skip=st.integers(0, 3),
       joined=st.booleans())
def test_text_shape_claims_only_what_holds_for_every_value(values: list[str | None], skip: int,
                                                           joined: bool) -> None:
    # a slice of a longer column too: its Arrow export starts inside the buffers
    series = pl.concat([pl.Series(["Zz  \t"] * skip, dtype=pl.String), pl.Series(values, dtype=pl.String)],
                       rechunk=True).slice(skip)
    shape = (_text_shape_joined if joined else text_shape)(series)
    present = [v for v in values if v is not None]
    if shape.ascii:
        assert all(v.isascii() for v in present)
    if shape.trimmed:
        assert series.str.strip_chars().to_list() == values
    if shape.normal:
        assert normalised_text(series).to_list() == [v for v in values]
    if shape.no_numbers:
        assert series.cast(pl.Float64, strict=False).null_count() == len(values)


@pytest.mark.parametrize(("values", "expected"), [
    (["great app", "slow login", None], TextShape(ascii=True, trimmed=True, normal=True)),
    (["Great app", "slow login"], TextShape(ascii=True, trimmed=True, normal=False)),
    (["great  app"], TextShape(ascii=True)),
    (["great app ", "x"], TextShape(ascii=True)),
    (["great", " app"], TextShape(ascii=True)),
    (["great\tapp"], TextShape(ascii=True)),
    (["café"], TextShape()),
    (["great app", "", "x"], TextShape(ascii=True, trimmed=True, normal=True)),
    (["a", "great app ", "x"], TextShape(ascii=True)),
    (["a ", " b"], TextShape(ascii=True)),
    ([None, None], TextShape(ascii=True, trimmed=True, normal=True)),
], ids=["lower-case single-spaced ASCII is normal", "a capital is trimmed but not normal",
        "a double space is neither", "a trailing space is neither", "a leading space is neither",
        "a tab is neither", "non-ASCII proves nothing", "an empty value is its own normal form",
        "a trailing space in the middle of the column", "edge spaces of neighbours", "nulls only"])
def test_text_shape_of_typical_columns(values: list[str | None], expected: TextShape) -> None:
    series = pl.Series(values, dtype=pl.String)
    assert dataclasses.replace(text_shape(series), no_numbers=False) == expected
    if "" not in values:  # the joined scan sees an empty value as a double space (conservative)
        assert _text_shape_joined(series) == expected


@pytest.mark.parametrize(("values", "no_numbers"), [
    (["great app", "slow login", None, ""], True),
    (["great app", "4 stars"], False), (["-"], False), (["nan"], False), (["Infinity"], False),
    (["+.5"], False), ([".5"], False), (["no way", "nice", "in", "inks", "infinitely"], True), (["NAN"], False),
], ids=["words", "a leading digit", "a sign", "nan", "Infinity", "a signed fraction", "a point",
        "words starting with n or i but not nan, inf or infinity", "NAN"])
def test_text_shape_tells_when_no_value_can_be_a_number(values: list[str | None], no_numbers: bool) -> None:
    series = pl.Series(values, dtype=pl.String)
    assert text_shape(series).no_numbers is no_numbers
    assert not _text_shape_joined(series).no_numbers  # value starts unknown there


def test_text_not_in_normal_form_is_scanned_for_its_shape_twice_then_hashed_value_by_value() -> None:
    from dataaudit.config import Config
    from dataaudit.profile import table
    from dataaudit.sources.base import Batch, Dataset

    ds = Dataset(source="mem", root=None, modality="text", splits={}, label_column=None, read=lambda: iter(()),
                 text_column="text")
    prof = table.TableSplitProfiler("train", ds, Config())
    batches = [pl.DataFrame({"text": [f"Great App {i}", f"slow  login {i}", f"ok {i}"],
                             ROW: pl.Series([3 * i, 3 * i + 1, 3 * i + 2], dtype=pl.Int64)}) for i in range(5)]
    with mock.patch.object(table, "text_shape", wraps=table.text_shape) as shape:
        for frame in batches:
            prof.update(Batch("train", "t.csv", frame=frame))
    assert shape.call_count == 2
    text = pl.concat(batches).get_column("text")
    assert prof.result().hashes.norm.tolist() == normalised_text(text).hash(HASH_SEED).to_numpy().tolist()


@pytest.mark.parametrize("values", [
    ["great app", "slow login", "", None, "missing", "?", "no way", "in time"],
    ["great app", "42", "-3.5", "nan", "inf", "n/a", None, ""],
], ids=["words only (not parsed as numbers)", "words and numbers (parsed)"])
def test_free_text_statistics_are_the_same_with_and_without_its_shape(values: list[str | None]) -> None:
    from dataaudit.config import Config
    from dataaudit.profile import table
    from dataaudit.sources.base import Batch, Dataset

    def column(shape: Any) -> dict[str, Any]:
        ds = Dataset(source="mem", root=None, modality="text", splits={}, label_column=None,
                     read=lambda: iter(()), text_column="text")
        prof = table.TableSplitProfiler("train", ds, Config())
        frame = pl.DataFrame({"text": values * 700, ROW: pl.int_range(0, 700 * len(values), eager=True)})
        with mock.patch.object(table, "VALUE_CAP", 2), mock.patch.object(table, "text_shape", shape):
            prof.update(Batch("train", "t.csv", frame=frame))
        return dataclasses.asdict(prof.result().columns["text"])

    assert column(text_shape) == column(lambda _: TextShape())


# -- content hashes of typed and text chunks ---------------------------------------------------------------
def test_a_row_hashes_the_same_whether_its_numbers_were_read_typed_or_as_text() -> None:
    typed = pl.DataFrame({"x": [1.5, 2.0, None, 4.0], "y": [7, 8, 9, None], "t": ["a", "b", "c", "d"]})
    text = pl.DataFrame({"x": ["1.5", " 2", None, "4.0"], "y": ["7", "8", "9", None], "t": ["a", "b", "c", "d"]})
    cols, numeric = ["x", "y", "t"], frozenset({"x", "y"})
    assert hash_columns(text, cols, numeric).tolist() == hash_columns(typed, cols, numeric).tolist()
    # a value that is not a number is content too: it tells the row from one with that value missing
    odd = text.with_columns(pl.Series("x", ["1.5", "2", "n/a", "4.0"]))
    got, want = hash_columns(odd, cols, numeric), hash_columns(typed, cols, numeric)
    assert got[2] != want[2] and got[[0, 1, 3]].tolist() == want[[0, 1, 3]].tolist()
    assert len(set(hash_columns(text.with_columns(pl.Series("x", ["a", "b", "c", "d"])), cols, numeric).tolist())) == 4


# -- repeated keys -----------------------------------------------------------------------------------------
def test_repeated_keys_are_decided_on_all_64_bits() -> None:
    h = ItemHashes()
    same_high = np.array([(5 << 32) | 1, (5 << 32) | 2, 9, (7 << 32) | 3], dtype=np.uint64)
    h.add(range(4), same_high)
    h.add(range(4, 7), np.array([(7 << 32) | 3, 11, (5 << 32) | 2], dtype=np.uint64))
    # equal upper halves alone (positions 0 and 1) are not repeats; the full values at 1/6 and 3/4 are
    assert repeated(h, "content").tolist() == [1, 3, 4, 6]


def _split_hashes(rng: np.random.Generator, pool: np.ndarray, sizes: list[int]) -> list[ItemHashes]:
    splits = []
    for n in sizes:
        h = ItemHashes()
        keys = rng.choice(pool, n)
        for a in range(0, n, 7):  # several parts per split
            h.add(range(a, min(a + 7, n)), keys[a:a + 7])
        splits.append(h)
    return splits


@pytest.mark.parametrize("scratch", [None, 1000, 5], ids=["in a fresh array", "in a scratch array",
                                                          "a scratch array too short is not used"])
@pytest.mark.parametrize("bucket_bytes", [1 << 30, 64], ids=["in one sort", "in many buckets"])
@pytest.mark.parametrize("seed", range(6))
def test_key_index_finds_exactly_the_repeats_and_later_occurrences(seed: int, bucket_bytes: int,
                                                                   scratch: int | None) -> None:
    rng = np.random.default_rng(seed)
    # few distinct keys, many sharing their upper half: every kind of meeting happens
    high = rng.integers(0, 6, 40, dtype=np.uint64) << np.uint64(32)
    pool = np.unique(high | rng.integers(0, 2**32, 40, dtype=np.uint64))
    splits = _split_hashes(rng, pool, [int(rng.integers(0, 60)), int(rng.integers(0, 30)), int(rng.integers(0, 30))])
    buffer = None if scratch is None else np.full(scratch, 2**64 - 1, dtype=np.uint64)  # garbage must not leak in
    got = key_index(splits, "content", bucket_bytes=bucket_bytes, scratch=buffer)
    keys = [np.concatenate(h.parts("content")).tolist() if len(h) else [] for h in splits]
    for j, (rep, later, earlier) in enumerate(got):
        own = keys[j]
        after = {k for other in keys[j + 1:] for k in other}
        before = {k for other in keys[:j] for k in other}
        assert rep.tolist() == [i for i, k in enumerate(own) if own.count(k) > 1]
        assert later.tolist() == [i for i, k in enumerate(own) if k in after]
        assert earlier.tolist() == [i for i, k in enumerate(own) if k in before]
        assert rep.tolist() == repeated(splits[j], "content").tolist()


def test_no_repeats_in_random_keys_even_when_upper_halves_collide() -> None:
    rng = np.random.default_rng(0)
    keys = (rng.integers(0, 2**12, 200_000, dtype=np.uint64) << np.uint64(32)) | rng.integers(
        0, 2**32, 200_000, dtype=np.uint64)
    keys = np.unique(keys)
    h = ItemHashes()
    h.add(range(len(keys)), rng.permutation(keys))
    assert repeated(h, "content").tolist() == []


@pytest.mark.parametrize("distinct", [3, 300, 70_000], ids=["a few classes (1-byte codes)",
                                                            "hundreds of classes (2-byte codes)",
                                                            "a regression target (hashes kept)"])
def test_labels_kept_as_codes_read_back_as_their_hashes(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    labels = rng.integers(1, 2**63, distinct, dtype=np.uint64)[rng.integers(0, distinct, 3 * distinct)]
    a, b, whole = ItemHashes(), ItemHashes(), ItemHashes()
    cut = len(labels) // 3
    for h, part in ((a, labels[:cut]), (a, labels[cut: 2 * cut]), (b, labels[2 * cut:])):
        h.add(range(len(part)), np.arange(len(part), dtype=np.uint64), part)
    whole.add(range(len(labels)), np.arange(len(labels), dtype=np.uint64), labels)
    merged = a.merge(b)
    assert merged.label.tolist() == whole.label.tolist() == fold32(labels).tolist()
    positions = rng.integers(0, len(labels), 50)
    assert merged.take("label", positions).tolist() == fold32(labels[positions]).tolist()
    assert merged.has("label")
    code_bytes = sum(p.nbytes for p in merged._label)
    assert code_bytes == len(labels) * (1 if distinct <= 256 else 2 if distinct <= 65_536 else 4)


@pytest.mark.parametrize("dtype", [pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32])
@pytest.mark.parametrize("seed", range(3))
def test_small_integer_value_counts_match_polars(dtype: pl.DataType, seed: int) -> None:
    rng = np.random.default_rng(seed)
    info = np.iinfo(getattr(np, str(dtype).lower()))
    span = min(300, int(info.max) - int(info.min) + 1)  # all of an 8-bit type
    base = int(rng.integers(int(info.min), int(info.max) - span + 2))
    values = pl.Series("x", base + rng.integers(0, span, 5000), dtype=dtype)
    got = _small_int_counts(values)
    want = values.to_frame().lazy().select(pl.col("x").value_counts(name="__n__")).unnest("x").collect()
    assert got is not None and got.sort("x").equals(want.sort("x"))


@pytest.mark.parametrize("values", [
    pl.Series("x", [1, None, 2]), pl.Series("x", [0, 1 << 16]), pl.Series("x", [1.0, 2.0]),
    pl.Series("x", [1, 2], dtype=pl.UInt64), pl.Series("x", [], dtype=pl.Int64),
], ids=["with nulls", "a wide range", "floats", "uint64", "empty"])
def test_small_integer_value_counts_leave_other_columns_to_polars(values: pl.Series) -> None:
    assert _small_int_counts(values) is None


def test_the_key_indexes_built_side_by_side_are_the_ones_the_checks_would_build(tmp_path: Path) -> None:
    import csv as csv_module

    from tabledata import random_split, reviews

    from dataaudit.checks.duplicates import (key_answers, matches_in, precompute, repeated_in, shared_with_earlier,
                                             shared_with_others)
    from dataaudit.config import build_config
    from dataaudit.profile.dataset import profile_dataset
    from dataaudit.sources import open_source

    sp = random_split(reviews(300, seed=5), seed=5)
    sp["train"] += sp["train"][:7] + [{**sp["train"][9], "text": sp["train"][9]["text"].upper()}]
    sp["test"] += sp["train"][20:25] + sp["val"][:3]
    for name, rows in sp.items():
        with (tmp_path / f"{name}.csv").open("w", newline="") as fh:
            w = csv_module.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    def stats() -> Any:
        cfg = build_config(None)
        return profile_dataset(open_source(str(tmp_path), cfg), cfg)

    built, lazy = stats(), stats()
    precompute(built)
    for kind in ("content", "norm"):
        a, b = built.derived["answers"][kind], key_answers(lazy, kind)
        assert a.dup_count.tolist() == b.dup_count.tolist() and a.conflict_items.tolist() == b.conflict_items.tolist()
        assert {k: v.tolist() for k, v in a.matched.items()} == {k: v.tolist() for k, v in b.matched.items()}
        for j in range(len(built.ordered)):
            assert [x.tolist() for x in a.near_items(j)] == [x.tolist() for x in b.near_items(j)]
    assert len(repeated_in(built, built.splits["train"], "norm")) > len(repeated_in(built, built.splits["train"], "content")) > 0
    assert len(shared_with_others(built, built.splits["train"], "content")) > 0
    assert len(shared_with_others(built, built.splits["val"], "content")) > 0
    assert len(shared_with_earlier(built, built.splits["test"], "content")) > 0
    # a lookup probes only the items shared with an earlier split, and finds every match
    for kind in ("content", "norm"):
        for at, ref in enumerate(built.ordered):
            for split in built.ordered[at + 1:]:
                pos, where = matches_in(built, ref, split, kind)
                ref_keys = ref.hashes.take(kind, np.arange(len(ref.hashes)))
                first = {}
                for i, k in zip(ref.hashes.index_at(np.arange(len(ref.hashes))).tolist(), ref_keys.tolist()):
                    first.setdefault(k, i)
                keys = split.hashes.take(kind, np.arange(len(split.hashes))).tolist()
                want = [i for i, k in enumerate(keys) if k in first]
                assert pos.tolist() == want and where.tolist() == [first[keys[i]] for i in want]
