"""Property-based fuzz of the delimited reader (issue 14).

- Arbitrary bytes, plain or gzip, cut into chunks of any size and analysed in windows of
  any size: the reader never raises, every record is accounted for exactly once (a row
  of a frame or a problem), and no value is ever transcoded (no U+FFFD that the bytes
  did not hold).
- Well-formed CSV with quotes, delimiters, newlines, non-ASCII text and long fields,
  some records holding bytes that are not UTF-8: the other records parse exactly as
  Python's ``csv`` module (and polars) parse them, and each corrupted record is an
  ``invalid_utf8`` problem naming its row and column.
- A whole scan of arbitrary bytes gives a report or a one-line ``DataauditError``,
  never another exception, and never an internal reader failure dressed as a finding.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dataaudit
from dataaudit.errors import DataauditError
from dataaudit.sources.base import ROW, RecordProblem
from dataaudit.sources.delimited import DelimitedReader, sniff
from test_delimited import small_windows

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])
TOKENS = [b",", b";", b"\t", b"|", b'"', b'""', b"\n", b"\r\n", b"\r", b"a", b"bc", b"1", b"2.5", b" ",
          b"\xff", b"\xc3\xa9", b"\xe2\x82", b"\xe2\x82\xac", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf",
          b"\xef\xbf\xbd", b"\x00", b"\xef\xbb\xbf"]
"""Pieces that matter to a delimited reader: delimiters, quotes, line ends, valid and
invalid UTF-8 (cut, overlong, surrogate), the replacement character itself, NUL, a BOM."""

FRAGMENTS = st.lists(st.sampled_from(TOKENS) | st.binary(max_size=6), max_size=120).map(b"".join)
HOSTILE = st.one_of(st.binary(max_size=400), FRAGMENTS,
                    st.tuples(st.sampled_from([b"a,b,c\n", b'"a","b"\n', b"x\ty\n"]), FRAGMENTS).map(b"".join))


windows = small_windows  # the reader tests' helper: window edges fall everywhere too


def read(path: Path, chunk: int, typed: bool = False, delimiter: str | None = None,
         ) -> tuple[list[list[Any]], list[int], list[RecordProblem], list[str]]:
    """Rows (``None`` as ``""``), their ``__row__``, the problems and the header names."""
    dialect = sniff(path, delimiter)
    schema = None if typed else {h: pl.String() for h in dialect.header}
    reader = DelimitedReader(path, path.name, dialect, "train", chunk_bytes=chunk, schema=schema)
    rows: list[list[Any]] = []
    index: list[int] = []
    problems: list[RecordProblem] = []
    for frame, probs, _ in reader.frames():
        problems += probs
        if frame is not None:
            names = [c for c in frame.columns if c != ROW]
            rows += [["" if v is None else v for v in r] for r in frame.select(names).iter_rows()]
            index += frame[ROW].to_list()
    return rows, index, problems, reader.names


def write(path: Path, data: bytes, compressed: bool) -> Path:
    if compressed:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)
    return path


@SETTINGS
@given(data=HOSTILE, chunk=st.sampled_from([1, 2, 3, 7, 64, 4096]), window=st.sampled_from([None, 1, 8, 64]),
       compressed=st.booleans(), typed=st.booleans())
@example(data=b"a,b\n" + b"x" * 70 + b"\n1,2\n", chunk=16, window=8, compressed=False, typed=False)
@example(data=b'a,b\n"' + b"q\n" * 40, chunk=7, window=1, compressed=True, typed=True)
@example(data=b"a,b\n1,caf\xc3", chunk=1, window=None, compressed=False, typed=False)
def test_any_bytes_are_read_without_an_exception_and_every_record_is_accounted_once(
        tmp_path: Path, data: bytes, chunk: int, window: int | None, compressed: bool, typed: bool) -> None:
    path = write(tmp_path / "t.csv", data, compressed)
    dialect = sniff(path)
    if dialect.binary or dialect.empty or not dialect.header:
        return  # a finding of inspect_file (binary, empty): the reader is never run on it
    with windows(window):
        rows, index, problems, _ = read(path, chunk, typed)
    numbered = index + [p.row for p in problems if p.row is not None]
    assert sorted(numbered) == list(range(len(numbered)))  # no record lost, none counted twice
    assert len(rows) == len(index)
    if b"\xef\xbf\xbd" not in data:  # nothing was transcoded into replacement characters
        assert not any("\ufffd" in v for r in rows for v in r if isinstance(v, str))


FIELD = st.text(st.characters(codec="utf-8", exclude_characters="\u00a7", exclude_categories=("Cs", "Cc")),
                max_size=12) | st.sampled_from(['"', '""', ",", "a,b", 'say "hi"', "\n", "x\r\ny", "  ", "é€😀"]) \
    | st.text(st.sampled_from("ab ,\"\n"), min_size=200, max_size=3000)
MARK = "\u00a7"  # written as b"\xc2\xa7", then replaced by bytes that are not UTF-8


@st.composite
def corrupted_tables(draw: st.DrawFn) -> tuple[bytes, list[str], list[list[str]], dict[int, str], str]:
    """CSV bytes, header, the rows csv.reader must give for the clean records, {row: column} of the
    corrupted ones, and the delimiter."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    ncols = draw(st.integers(2, 5))
    header = [f"c{i}" for i in range(ncols)]
    rows = draw(st.lists(st.lists(FIELD, min_size=ncols, max_size=ncols), min_size=1, max_size=20))
    rows = [r if any(r) else ["x"] + r[1:] for r in rows]  # a record of empty fields may be a blank line
    bad = draw(st.dictionaries(st.integers(0, len(rows) - 1), st.integers(0, ncols - 1), max_size=3))
    junk = draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80\x80"]))
    out = io.StringIO(newline="")
    w = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    blob = out.getvalue().encode()
    for i, r in enumerate(rows):
        rec = io.StringIO(newline="")
        csv.writer(rec, delimiter=delimiter, lineterminator="\n").writerow(
            [f + MARK if i in bad and j == bad[i] else f for j, f in enumerate(r)])
        blob += rec.getvalue().encode().replace(MARK.encode(), junk)
    clean = [r for i, r in enumerate(rows) if i not in bad]
    return blob, header, clean, {i: header[j] for i, j in bad.items()}, delimiter


@SETTINGS
@given(table=corrupted_tables(), chunk=st.sampled_from([1, 3, 17, 64, 4096, 1 << 20]),
       window=st.sampled_from([None, 1, 8, 64]), compressed=st.booleans())
def test_well_formed_records_parse_as_csv_module_and_invalid_utf8_is_located(
        tmp_path: Path, table: tuple[bytes, list[str], list[list[str]], dict[int, str], str], chunk: int,
        window: int | None, compressed: bool) -> None:
    blob, header, clean, bad, delimiter = table
    path = write(tmp_path / "t.csv", blob, compressed)
    with windows(window):
        rows, index, problems, names = read(path, chunk, delimiter=delimiter)
    assert names == header
    assert rows == clean
    assert [(p.row, p.kind, p.column) for p in problems] == [(i, "invalid_utf8", c) for i, c in sorted(bad.items())]
    assert index == [i for i in range(len(clean) + len(bad)) if i not in bad]
    if not bad:  # polars on the same bytes agrees too
        theirs = pl.read_csv(blob, separator=delimiter, infer_schema=False)
        assert [["" if v is None else v for v in r] for r in theirs.iter_rows()] == rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=HOSTILE, name=st.sampled_from(["train.csv", "train.tsv", "train.txt", "train.csv.gz"]))
@example(data=b"a,label\n1,x\n2,y\n3,\xff\n", name="train.csv")
def test_a_scan_of_any_bytes_is_a_report_or_a_one_line_error(tmp_path: Path, data: bytes, name: str) -> None:
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    (root / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    try:
        report = dataaudit.scan(root, progress=False, workers=1)
    except DataauditError as exc:
        assert "\n" not in str(exc).strip()
        return
    report.to_json()
    for f in report.by_check("corrupt_file"):  # an internal failure would hide here as "unreadable"
        assert all(e["kind"] in ("binary", "empty") for e in f.examples), f.examples
