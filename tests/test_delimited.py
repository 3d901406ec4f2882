"""The raw-byte delimited reader against Python's csv module, at every chunk boundary."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from unittest import mock
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dataaudit.sources import delimited
from dataaudit.sources.base import ROW, RecordProblem
from dataaudit.sources.delimited import DelimitedReader, sniff, sniff_delimiter, unique_names

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

FIELD_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFF) | st.sampled_from(
    [",", ";", "\t", "|", '"', "\n", "\r", " ", "é", "中", "€"])
FIELD = st.text(FIELD_CHARS, max_size=12)


def read_all(path: Path, delimiter: str, chunk_bytes: int, typed: bool = False, encoding: str | None = None,
             ) -> tuple[list[list[Any]], list[int], list[RecordProblem]]:
    """Every row the reader yields (``None`` as ``""``), their ``__row__`` and the problems.

    ``typed=False`` reads every column as text (what csv.reader returns); ``typed=True``
    lets the reader type numeric columns from the first chunk, as a scan does.
    """
    dialect = sniff(path, delimiter, encoding=encoding)
    schema = None if typed else {h: pl.String for h in dialect.header}
    reader = DelimitedReader(path, path.name, dialect, "train", chunk_bytes=chunk_bytes, schema=schema)
    frames: list[pl.DataFrame] = []
    problems: list[RecordProblem] = []
    for frame, probs, _ in reader.frames():
        problems += probs
        if frame is not None:
            frames.append(frame)
    rows: list[list[Any]] = []
    index: list[int] = []
    for df in frames:  # chunks read as text may sit beside typed ones: keep each frame's values as read
        names = [c for c in df.columns if c != ROW]
        rows += [["" if v is None else v for v in r] for r in df.select(names).iter_rows()]
        index += df[ROW].to_list()
    return rows, index, problems


@contextlib.contextmanager
def small_windows(size: int | None) -> Iterator[None]:
    """Shrink the reader's analysis windows so that window edges fall everywhere too."""
    if size is None:
        yield
        return
    with mock.patch.object(delimited, "WINDOW_BYTES", size), \
            mock.patch.object(delimited, "RESTART_WINDOW_BYTES", max(1, size // 2)):
        yield


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str, terminator: str) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator=terminator)
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(data)
    return data


def csv_rows(data: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))[1:]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    ncols = draw(st.integers(2, 5))
    header = [f"c{i}" for i in range(ncols)]
    rows = draw(st.lists(st.lists(FIELD, min_size=ncols, max_size=ncols), min_size=1, max_size=25))
    # A bare CR is a record end for csv.reader (classic Mac files) but data for polars, and csv.writer leaves
    # it unquoted when the line terminator is "\n": such files are ambiguous, so CRs travel with an LF here
    # (which makes the writer quote them).
    rows = [[re.sub("\r(?!\n)", "\r\n", f) for f in r] for r in rows]
    # a record of empty fields only would be written as a blank line by some writers; keep records non-blank
    rows = [r if any(r) else ["x"] + r[1:] for r in rows]
    return header, rows


@SETTINGS
@given(table=tables(), delimiter=st.sampled_from([",", "\t", ";", "|"]), terminator=st.sampled_from(["\n", "\r\n"]),
       chunk=st.sampled_from([1, 2, 3, 7, 16, 61, 4096]), window=st.sampled_from([None, 1, 8, 64]))
def test_reader_returns_exactly_the_rows_csv_reader_returns(tmp_path: Path, table: tuple[list[str], list[list[str]]],
                                                           delimiter: str, terminator: str, chunk: int,
                                                           window: int | None) -> None:
    header, rows = table
    path = tmp_path / "t.csv"
    data = write_csv(path, header, rows, delimiter, terminator)
    expected = csv_rows(data, delimiter)
    with small_windows(window):
        got, index, problems = read_all(path, delimiter, chunk)
    assert problems == []
    assert got == expected
    assert index == list(range(len(expected)))


def _same(value: Any, text: str) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(text)
        return x == value or (x != x and value != value)
    return bool(value == text)


@SETTINGS
@given(table=tables(), numbers=st.lists(st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6, allow_nan=False),
                                        min_size=1, max_size=25),
       chunk=st.sampled_from([1, 3, 17, 4096]), token=st.sampled_from(["NA", "?", "", "12 g"]), data=st.data())
def test_typed_reading_keeps_every_value_as_written(tmp_path: Path, table: tuple[list[str], list[list[str]]],
                                                    numbers: list[float], chunk: int, token: str,
                                                    data: st.DataObject) -> None:
    """A numeric column is typed, and a chunk where it holds a token is read as text: no value lost."""
    header, rows = table
    n = min(len(rows), len(numbers))
    rows = [[str(numbers[i])] + rows[i][1:] for i in range(n)]
    if data.draw(st.booleans()):
        rows[data.draw(st.integers(0, n - 1))][0] = token
    path = tmp_path / "t.csv"
    raw = write_csv(path, header, rows, ",", "\n")
    expected = csv_rows(raw, ",")
    got, index, problems = read_all(path, ",", chunk, typed=True)
    assert problems == [] and index == list(range(len(expected)))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert all(_same(a, b) for a, b in zip(g, e)), (g, e)


@SETTINGS
@given(table=tables(), chunk=st.sampled_from([1, 5, 13, 64, 4096]), window=st.sampled_from([None, 1, 8, 64]),
       data=st.data())
def test_malformed_records_are_reported_with_row_and_line_and_left_out(
        tmp_path: Path, table: tuple[list[str], list[list[str]]], chunk: int, window: int | None,
        data: st.DataObject) -> None:
    header, rows = table
    ncols = len(header)
    # simple fields so that every good record is one physical line and lines are easy to count
    rows = [[f"v{i}_{j}" for j in range(ncols)] for i in range(len(rows))]
    bad_positions = sorted(data.draw(st.sets(st.integers(0, len(rows)), min_size=1, max_size=4)))
    lines: list[str] = []
    bad_rows: list[int] = []
    good: list[list[str]] = []
    good_index: list[int] = []
    for i in range(len(rows) + 1):
        if i in bad_positions:
            bad_rows.append(len(lines))
            width = data.draw(st.sampled_from([1, ncols - 1, ncols + 1, ncols + 3, -1]))
            if width == -1:  # the right number of fields, but a quote that never closes
                lines.append('"' + ",".join(f"bad{k}" for k in range(ncols)))
            else:
                lines.append(",".join(f"bad{k}" for k in range(width)))
        if i < len(rows):
            good_index.append(len(lines))
            good.append(rows[i])
            lines.append(",".join(rows[i]))
    assume(all(len(ln.split(",")) != ncols or ln.startswith('"') for ln in (lines[r] for r in bad_rows)))
    path = tmp_path / "t.csv"
    path.write_text(",".join(header) + "\n" + "\n".join(lines) + "\n")
    with small_windows(window):
        got, index, problems = read_all(path, ",", chunk)
    assert got == good
    assert index == good_index
    assert [p.row for p in problems] == bad_rows
    assert [p.line for p in problems] == [r + 2 for r in bad_rows]  # header is line 1
    assert [p.kind for p in problems] == ["unbalanced_quote" if lines[r].startswith('"') else "field_count"
                                          for r in bad_rows]
    assert all(p.expected == ncols for p in problems)


@pytest.mark.parametrize("chunk", [1, 4, 9, 4096], ids=lambda c: f"chunks of {c} bytes")
def test_unbalanced_quote_is_one_problem_and_the_next_rows_survive(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,2,3\n4,"5,6\n7,8,9\n10,11,12\n')
    got, index, problems = read_all(path, ",", chunk)
    assert [(p.row, p.line, p.kind) for p in problems] == [(1, 3, "unbalanced_quote")]
    assert got == [["1", "2", "3"], ["7", "8", "9"], ["10", "11", "12"]]
    assert index == [0, 2, 3]


def test_other_delimiter_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4;5;6\n7,8,9\n")
    got, index, problems = read_all(path, ",", 4096)
    assert [(p.row, p.line, p.kind, p.fields, p.expected) for p in problems] == [(1, 3, "other_delimiter", 1, 3)]
    assert index == [0, 2]


def test_quoted_multiline_records_count_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b\n"x\ny\nz",1\n2\n3,4\n')
    got, index, problems = read_all(path, ",", 3)
    assert got == [["x\ny\nz", "1"], ["3", "4"]]
    assert [(p.row, p.line) for p in problems] == [(1, 5)]


def test_blank_lines_are_not_records(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n\r\n\n3,4\r\n")
    got, index, problems = read_all(path, ",", 2)
    assert got == [["1", "2"], ["3", "4"]] and index == [0, 1] and problems == []


def test_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4")
    assert read_all(path, ",", 3)[0] == [["1", "2"], ["3", "4"]]


@pytest.mark.parametrize(("text", "delim"), [
    ("a;b;c\n1;2,5;3\n4;5;6\n", ";"),
    ("a\tb\tc\n1\t2\t3\n", "\t"),
    ("a|b|c\n1|2|3\n", "|"),
    ('a,b,c\n"1;2",3,4\n', ","),
], ids=["semicolons with decimal commas", "tabs", "pipes", "commas with a quoted semicolon"])
def test_delimiter_is_sniffed(tmp_path: Path, text: str, delim: str) -> None:
    path = tmp_path / "t.txt"
    path.write_text(text)
    dialect = sniff(path)
    assert dialect.delimiter == delim and dialect.header == ["a", "b", "c"]
    assert sniff_delimiter(text.splitlines(), None)[0] == delim


@pytest.mark.parametrize(("raw", "encoding", "bom"), [
    ("species,island\nPingüino,Señor\n".encode("latin-1"), "cp1252", False),
    (b"\xef\xbb\xbfspecies,island\nA,B\n", "utf-8", True),
    ("species,island\r\nPingüino,Señor\r\n".encode(), "utf-8", False),
], ids=["latin-1 read with an explicit encoding", "UTF-8 with BOM", "UTF-8 with CRLF"])
def test_encodings_are_detected_and_decoded(tmp_path: Path, raw: bytes, encoding: str, bom: bool) -> None:
    """A legacy 8-bit encoding is never guessed (see test_hardening_sources): it is read when named."""
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    dialect = sniff(path, encoding=encoding if encoding != "utf-8" else None)
    assert (dialect.encoding, dialect.bom, dialect.header) == (encoding, bom, ["species", "island"])
    got, _, problems = read_all(path, ",", 5, encoding=dialect.encoding)
    assert problems == []
    assert got[0][0] in ("Pingüino", "A") and got[0][1] in ("Señor", "B")


def test_binary_and_empty_content_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "empty.csv").write_bytes(b"   \n")
    assert sniff(tmp_path / "bin.csv").binary
    assert sniff(tmp_path / "empty.csv").empty


def test_duplicate_column_names_are_made_unique() -> None:
    assert unique_names(["a", "b", "a", "", "a"]) == (["a", "b", "a_2", "column_4", "a_3"], ["a", "a"])
    assert unique_names(["a", "a_2", "a"]) == (["a", "a_2", "a_3"], ["a"])


@pytest.mark.parametrize("chunk", [1, 3, 4096], ids=lambda c: f"chunks of {c} bytes")
def test_utf16_file_is_text_and_read_whole(tmp_path: Path, chunk: int) -> None:
    """A chunk that ends inside a character decodes to nothing yet: reading must go on."""
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\nü,1\n€,2\n中,3\n".encode("utf-16"))
    dialect = sniff(path)
    assert not dialect.binary and dialect.encoding == "utf-16" and dialect.header == ["a", "b"]
    got, index, problems = read_all(path, ",", chunk)
    assert got == [["ü", "1"], ["€", "2"], ["中", "3"]] and index == [0, 1, 2] and problems == []


@pytest.mark.parametrize("chunk", [2, 4096], ids=lambda c: f"chunks of {c} bytes")
def test_bare_cr_line_ends_are_records(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\r1,2\r3,4\r5\r")
    assert sniff(path).cr_newlines
    got, index, problems = read_all(path, ",", chunk)
    assert got == [["1", "2"], ["3", "4"]] and index == [0, 1]
    assert [(p.row, p.line) for p in problems] == [(2, 4)]


@pytest.mark.parametrize("chunk", [1, 4096], ids=lambda c: f"chunks of {c} bytes")
def test_two_unbalanced_quotes_are_not_merged_into_one_record(tmp_path: Path, chunk: int) -> None:
    """csv.reader would read lines 2-4 as one two-field record; they are two broken records and a good one."""
    path = tmp_path / "t.csv"
    path.write_text('a,b\n"x,y\n1,2\n"z,w\n3,4\n')
    got, index, problems = read_all(path, ",", chunk)
    assert got == [["1", "2"], ["3", "4"]] and index == [1, 3]
    assert [(p.row, p.line, p.kind) for p in problems] == [(0, 2, "unbalanced_quote"), (2, 4, "unbalanced_quote")]


def test_escaped_quotes_and_quoted_empty_fields_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b\n"say ""hi""",""\n"",x\n')
    got, _, problems = read_all(path, ",", 3)
    assert problems == [] and got == [['say "hi"', ""], ["", "x"]]


def test_a_stray_quote_on_every_line_is_reported_line_by_line(tmp_path: Path) -> None:
    """Each broken line is one problem with its own row (and reading stays linear: no restart re-reads the chunk)."""
    path = tmp_path / "t.csv"
    path.write_text("id,name,price\n" + "".join(f'{i},Margherita {i}" pizza,{i}.5\n' for i in range(3000)))
    got, index, problems = read_all(path, ",", 1 << 20)
    assert [p.row for p in problems] == list(range(3000))
    assert {p.kind for p in problems} == {"unbalanced_quote"}


@pytest.mark.parametrize("chunk", range(8, 40), ids=lambda c: f"chunks of {c} bytes")
def test_a_quoted_record_cut_off_after_quote_free_ones_is_read_whole(tmp_path: Path, chunk: int) -> None:
    # Quote-free complete records are parsed without quote tracking; the record cut off after
    # them (its quote, delimiter inside the quotes) must come back whole from the next chunk.
    data = b"c0,c1\n" + b"ab,cd\n" * 4 + b'"x,y",z\n' + b"ef,gh\n" * 3 + b'"p\nq",r\n'
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    got, index, problems = read_all(path, ",", chunk)
    assert problems == []
    assert got == csv_rows(data, ",") and index == list(range(9))


@pytest.mark.parametrize(("header", "rows"), [
    ([f"column_{i:05d}" for i in range(9000)], [[str(i % 7) for i in range(9000)]] * 3),
    (["a\nb", "c"], [["1", "2"], ["3", "4"]]),
], ids=["a header longer than the first read", "a quoted header field with a line break"])
def test_where_the_header_ends_is_found_whatever_its_length(tmp_path: Path, header: list[str],
                                                             rows: list[list[str]]) -> None:
    path = tmp_path / "t.csv"
    data = write_csv(path, header, rows, ",", "\n")
    assert len(data) > delimited.HEAD_BYTES or "\n" in header[0]
    got, index, problems = read_all(path, ",", 4096)
    assert problems == [] and got == csv_rows(data, ",") and index == list(range(len(rows)))
