"""Delimited text (CSV/TSV/TXT) read once, as raw bytes, in bounded chunks.

Each chunk is analysed with vectorised numpy passes over its bytes: quote parity
(so delimiters and newlines inside quoted fields do not count), record ends, and
the number of fields of every record. Records whose field count differs from the
header, that use another delimiter, or whose quotes never close are reported as
:class:`~dataaudit.sources.base.RecordProblem` with their data-row index and
line, and are left out of the frame; the well-formed records of the chunk are
parsed by polars (all columns as text, so nothing is coerced silently). This is
one pass over the file, in memory bounded by the chunk size, and it sees exactly
the rows a lenient parser would have swallowed.

Most chunks of most files hold no quote character at all. For those the byte-level
analysis is not needed: polars parses the chunk strictly (a record with more
fields than the header fails the parse), and a record with fewer fields leaves its
last column null, so when the last column has no nulls (or the chunk's delimiter
count is exactly ``(fields - 1) * rows``) the parse itself proves every record has
the header's field count. Any other chunk (quotes, a failed parse, a count that
does not add up, blank lines) takes the byte-level path above.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import polars as pl

from dataaudit.errors import UsageError
from dataaudit.sources.base import ROW, RecordProblem
from dataaudit.sources.localfs import open_regular

# polars warns (from its reader threads) when a chunk holds malformed records; this reader finds
# and reports every such record itself (delimiter_corruption, with row and line), so the warning
# would only be noise on the user's terminal. Narrow: that message alone.
warnings.filterwarnings("ignore", message=r"CSV malformed", category=UserWarning)

CHUNK_BYTES = 16 * 1024 * 1024
FIRST_CHUNK_BYTES = 2 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024
"""A quoted field still open after this many bytes is taken as an unbalanced quote (an
unbalanced quote would otherwise hold the rest of the file in memory). Records without an
open quote have no limit: one longer than a chunk is read whole, however long."""
HEAD_BYTES = 64 * 1024
"""Bytes read first to find where a plain file's header ends (more only if it does not end there)."""
WINDOW_BYTES = 1024 * 1024
RESTART_WINDOW_BYTES = 4096
"""Bytes analysed at a time within a chunk (see :meth:`DelimitedReader._process`)."""
CANDIDATE_DELIMITERS = (",", "\t", ";", "|")
NL, CR, QUOTE = 10, 13, 34


@dataclass
class Dialect:
    """What sniffing found about a delimited file."""

    delimiter: str
    encoding: str
    bom: bool
    header: list[str]
    delimiter_guessed: bool
    binary: bool = False
    empty: bool = False
    cr_newlines: bool = False
    """Records end with a bare CR (classic Mac files): read as if they ended with LF."""


def open_binary(path: Path) -> IO[bytes]:
    """Open a possibly compressed file (``.gz``, ``.zst``) as a binary stream."""
    name = path.name.lower()
    raw = open_regular(path)  # never blocks on a FIFO, never streams a device
    if name.endswith(".gz"):
        gz = gzip.GzipFile(fileobj=raw, mode="rb")
        gz.myfileobj = raw  # type: ignore[assignment]  # closed with the GzipFile, as gzip.open does
        return cast(IO[bytes], gz)
    if name.endswith(".zst") or name.endswith(".zstd"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return raw


def check_encoding(name: str) -> str:
    """The codec name for ``--encoding NAME``; :class:`UsageError` (exit 2) naming the option
    when Python knows no text encoding by that name (``utf-9``; ``rot13`` and ``base64``
    are codecs, but not text encodings)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise UsageError(f"--encoding {name!r} (or `encoding` in the configuration): not a known text "
                         "encoding; use a name such as utf-8, cp1252, latin-1 or utf-16")
    return info.name


def _detect_encoding(head: bytes) -> tuple[str, bool]:
    """UTF-16 when a byte-order mark says so, else UTF-8 (with or without its mark).

    Nothing else is guessed: text that is not valid UTF-8 is reported record by record
    (``invalid_utf8``), never re-read in a guessed 8-bit encoding, where one stray byte
    would silently turn every accented label into mojibake. ``--encoding`` reads another
    encoding on purpose.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", True
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", True
    return "utf-8", False


class InvalidUtf8(Exception):
    """A parse met bytes that are not valid UTF-8 (the caller locates the records that hold them)."""


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: each byte the encoding cannot decode becomes byte 0xFF once
    re-encoded (``surrogateescape``), a byte that is never valid UTF-8, so the record that
    holds it is reported like any invalid UTF-8 instead of being silently replaced."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff" * (exc.end - exc.start), exc.end


codecs.register_error("dataaudit-mark", _mark_undecodable)


def invalid_utf8(buf: np.ndarray) -> np.ndarray:
    """Sorted positions of the bytes of ``buf`` that are not part of a well-formed UTF-8 sequence.

    Vectorised (a few numpy passes over the non-ASCII bytes only): a lead byte is valid
    with its continuation bytes (and the narrower second-byte ranges that exclude
    overlong forms, surrogates and code points past U+10FFFF); every other byte at or
    above 0x80 is invalid. A sequence cut by the end of ``buf`` counts as invalid.
    """
    high = np.flatnonzero(buf >= 0x80)
    if len(high) == 0:
        return high
    pad = np.concatenate((buf, np.zeros(3, dtype=np.uint8)))
    lead = buf[high]
    second = pad[high + 1]
    c1 = (second & 0xC0) == 0x80
    c2 = (pad[high + 2] & 0xC0) == 0x80
    c3 = (pad[high + 3] & 0xC0) == 0x80
    two = (lead >= 0xC2) & (lead <= 0xDF) & c1
    three = ((lead >= 0xE0) & (lead <= 0xEF) & c1 & c2
             & ~((lead == 0xE0) & (second < 0xA0)) & ~((lead == 0xED) & (second > 0x9F)))
    four = ((lead >= 0xF0) & (lead <= 0xF4) & c1 & c2 & c3
            & ~((lead == 0xF0) & (second < 0x90)) & ~((lead == 0xF4) & (second > 0x8F)))
    valid = np.zeros(len(pad), dtype=bool)
    for mask, width in ((two, 2), (three, 3), (four, 4)):
        starts = high[mask]
        for k in range(width):
            valid[starts + k] = True
    return high[~valid[high]]


def looks_binary(head: bytes) -> bool:
    """True for content that is not text: NUL bytes or many control characters."""
    if not head:
        return False
    sample = head[:8192]
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        # UTF-16 text is full of NUL bytes: judge the decoded characters instead
        text = sample[: len(sample) // 2 * 2].decode("utf-16", errors="replace")
        control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
        return control > 0.05 * max(len(text), 1)
    if b"\x00" in sample:
        return True
    control = len(sample) - len(sample.translate(None, CONTROL_BYTES))
    return control > 0.05 * len(sample)


CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
"""Bytes that text seldom holds (control characters other than tab, newlines and form feed)."""


def sniff_delimiter(lines: list[str], preferred: str | None) -> tuple[str, bool]:
    """Choose the candidate whose (unquoted) count per line is most consistent and non-zero."""
    best, best_score = preferred or ",", -1.0
    if not lines:
        return best, preferred is None
    for cand in CANDIDATE_DELIMITERS:
        counts = []
        for line in lines[:200]:
            if '"' not in line:  # no quoting: the csv module would split at every delimiter
                counts.append(line.count(cand))
                continue
            try:
                counts.append(len(next(csv.reader([line], delimiter=cand))) - 1)
            except (csv.Error, StopIteration):
                counts.append(0)
        header = counts[0]
        if header == 0:
            continue
        agree = sum(1 for c in counts if c == header) / len(counts)
        score = agree * 10 + min(header, 50) / 100 + (0.5 if cand == preferred else 0.0)
        if score > best_score:
            best, best_score = cand, score
    return best, preferred is None or best != preferred


def sniff(path: Path, delimiter: str | None = None, preferred: str | None = None, encoding: str | None = None) -> Dialect:
    """Read the head of ``path`` to find its encoding, delimiter and header."""
    with open_binary(path) as fh:
        head = fh.read(256 * 1024)
    if not head.strip():
        return Dialect(delimiter or preferred or ",", "utf-8", False, [], False, empty=True)
    if looks_binary(head):
        return Dialect(delimiter or preferred or ",", "utf-8", False, [], False, binary=True)
    enc, bom = _detect_encoding(head)
    if encoding:
        enc = encoding
    text = head.decode(enc, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(head) == 256 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    if delimiter:
        delim, guessed = delimiter, False
    else:
        delim, guessed = sniff_delimiter(lines, preferred)
    header: list[str] = []
    if lines:
        try:
            # Parse the text, not the first line: a quoted header name may hold a newline.
            header = next(r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim) if r)
        except (csv.Error, StopIteration):
            header = lines[0].split(delim)
    header = [h.strip() for h in header]
    cr_only = b"\n" not in head and b"\r" in head
    return Dialect(delim, enc, bom, header, guessed, cr_newlines=cr_only)


def unique_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Make column names unique (``a``, ``a_2``) and return the duplicated originals."""
    seen: dict[str, int] = {}
    out, dups = [], []
    for i, name in enumerate(names):
        base = name or f"column_{i + 1}"
        if base in seen:
            seen[base] += 1
            dups.append(base)
            new = f"{base}_{seen[base]}"
            while new in seen:
                seen[base] += 1
                new = f"{base}_{seen[base]}"
            seen[new] = 1
            out.append(new)
        else:
            seen[base] = 1
            out.append(base)
    return out, dups


def _record_spans(buf: np.ndarray, quoted: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Ends (index of the newline) of records in ``buf`` and the outside-quote mask."""
    if not quoted:
        return np.flatnonzero(buf == NL), None
    # Parity of quotes seen *before* each byte; uint8 cumsum wraps at 256, keeping parity.
    parity = np.cumsum(buf == QUOTE, dtype=np.uint8) & 1
    outside = parity == 0  # for non-quote bytes, parity before == parity after
    return np.flatnonzero((buf == NL) & outside), outside


class DelimitedReader:
    """Stream the records of one delimited file as located polars frames."""

    def __init__(
        self,
        path: Path,
        rel: str,
        dialect: Dialect,
        split: str,
        row_offset: int = 0,
        chunk_bytes: int = CHUNK_BYTES,
        schema: dict[str, pl.DataType] | None = None,
    ) -> None:
        self.path, self.rel, self.dialect, self.split = path, rel, dialect, split
        self.row_offset = row_offset
        self.chunk_bytes = chunk_bytes
        self.names, self.duplicate_names = unique_names(dialect.header)
        self.expected = len(dialect.header)
        self.delim = dialect.delimiter.encode()[0]
        self.others = [ord(d) for d in CANDIDATE_DELIMITERS if d != dialect.delimiter]
        self.schema: dict[str, pl.DataType] | None = (
            {name: schema.get(raw, pl.String()) for raw, name in zip(dialect.header, self.names)} if schema else None
        )
        """Numeric columns typed (given for the whole dataset, else inferred from the first chunk);
        a chunk that does not fit is read as text."""
        self.rows = 0  # data rows seen (good and bad)
        self.line = 1  # physical line number of the next record
        self.bytes_read = 0

    # -- raw input -----------------------------------------------------------------
    def _raw_chunks(self) -> Iterator[bytes]:
        decoder = None
        if self.dialect.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            decoder = codecs.getincrementaldecoder(self.dialect.encoding)(errors="dataaudit-mark")
        first = True
        with open_binary(self.path) as fh:
            while True:
                raw = fh.read(self.chunk_bytes)
                self.bytes_read += len(raw)
                data = raw
                if decoder is not None:
                    # a chunk may end inside a character: the decoder keeps it for the next one
                    data = decoder.decode(raw, final=not raw).encode("utf-8", "surrogateescape")
                if first and data:
                    first = False
                    if data.startswith(codecs.BOM_UTF8):
                        data = data[3:]
                if self.dialect.cr_newlines:
                    data = data.replace(b"\r", b"\n")
                if data:
                    yield data
                if not raw:
                    break

    # -- main loop -------------------------------------------------------------------
    def frames(self) -> Iterator[tuple[pl.DataFrame | None, list[RecordProblem], int]]:
        """Yield ``(frame of good rows, problems, raw bytes consumed)`` per chunk."""
        if self._plain():
            yield from self._frames_plain()
            return
        pending = b""
        header_done = False
        consumed_before = 0
        retry_at = 0  # a record longer than what is pending: read on to this size before trying again
        for data in self._raw_chunks():
            pending = pending + data if pending else data
            if not header_done:
                cut = self._header_end(pending)
                if cut is None:
                    if len(pending) > MAX_RECORD_BYTES:
                        cut = pending.find(b"\n") + 1 or len(pending)
                    else:
                        continue
                header_problems = self._header_problems(pending[:cut])
                self.line += pending[:cut].count(b"\n")
                pending = pending[cut:]
                header_done = True
                if header_problems:
                    yield None, header_problems, 0
            if len(pending) < retry_at:
                continue
            end = pending.rfind(b"\n") + 1
            locate = False
            if end and pending.find(b'"', 0, end) < 0:
                try:
                    frame = self._fast(pending, end)
                except InvalidUtf8:
                    frame, locate = None, True
                if frame is not None:
                    pending = pending[end:]
                    yield frame, [], self.bytes_read - consumed_before
                    consumed_before = self.bytes_read
                    continue
            frame, problems, rest = self._process(pending, final=False, locate=locate)
            retry_at = 2 * len(pending) if len(rest) == len(pending) else 0
            pending = rest
            if frame is None and not problems:
                continue
            yield frame, problems, self.bytes_read - consumed_before
            consumed_before = self.bytes_read
        if pending:
            frame, problems, rest = self._process(pending + (b"" if pending.endswith(b"\n") else b"\n"), final=True)
            yield frame, problems, self.bytes_read - consumed_before
        elif self.bytes_read > consumed_before:
            yield None, [], self.bytes_read - consumed_before

    def _plain(self) -> bool:
        """An uncompressed UTF-8 file with LF or CRLF newlines: chunks can be read in place."""
        name = self.path.name.lower()
        return (not name.endswith((".gz", ".zst", ".zstd")) and not self.dialect.cr_newlines
                and self.dialect.encoding.lower().replace("_", "-") in ("utf-8", "utf8"))

    def _frames_plain(self) -> Iterator[tuple[pl.DataFrame | None, list[RecordProblem], int]]:
        """:meth:`frames` for a plain file: each chunk is read from the file offset where its first record starts.

        So a chunk is parsed from the very buffer it was read into: no carried-over
        partial line is glued to the next chunk and no chunk is sliced (a fresh copy
        of a large buffer costs about a quarter of its parse in page faults alone).
        A record longer than a chunk is read whole: the chunk doubles until it holds it.
        """
        with open_regular(self.path) as fh:
            fd = fh.fileno()
            size = os.fstat(fd).st_size
            head = os.pread(fd, HEAD_BYTES, 0)  # the header is short: its end is found in a small read
            cut = self._header_end(head)
            if cut is None and len(head) == HEAD_BYTES:  # a long or oddly quoted header
                head = os.pread(fd, max(self.chunk_bytes, MAX_RECORD_BYTES + 1), 0)
                cut = self._header_end(head)
            if cut is None:
                cut = head.find(b"\n") + 1 or len(head)
            header_problems = self._header_problems(head[:cut])
            self.line += head[:cut].count(b"\n")
            offset = cut
            del head
            if header_problems:
                yield None, header_problems, 0
            # a small first chunk: the scan's pipeline (profiling beside reading) starts sooner
            want = min(self.chunk_bytes, FIRST_CHUNK_BYTES)
            while offset < size:
                data = os.pread(fd, want, offset)
                if not data:
                    break
                self.bytes_read = offset + len(data)
                eof = offset + len(data) >= size
                if eof and not data.endswith(b"\n"):
                    data += b"\n"  # the last record has no newline
                end = data.rfind(b"\n") + 1
                locate = False
                if end and data.find(b'"', 0, end) < 0:
                    try:
                        frame = self._fast(data, end)
                    except InvalidUtf8:
                        frame, locate = None, True
                    if frame is not None:
                        offset += end
                        want = self.chunk_bytes
                        yield frame, [], end
                        continue
                frame, problems, rest = self._process(data, final=eof, locate=locate)
                consumed = len(data) - len(rest)
                if consumed == 0 and not eof:
                    want = 2 * len(data)  # a record longer than the chunk: read more of it at once
                    continue
                offset += consumed
                want = self.chunk_bytes
                yield frame, problems, consumed
                if eof:
                    break

    def _fast(self, data: bytes, end: int) -> pl.DataFrame | None:
        """Parse the quote-free complete records ``data[:end]`` if the parse proves them well-formed.

        ``data`` may go on past ``end`` with the start of a record cut by the chunk
        boundary: it is parsed too and its row dropped (cheaper than slicing the
        buffer). Returns ``None`` when the records cannot be proven well-formed (a
        record with too many fields fails the strict parse; too few fields or a
        blank line leave the delimiter count short), and the caller analyses the
        bytes instead. Raises :class:`InvalidUtf8` when the complete records are not
        valid UTF-8 (the caller then locates the records that are not).
        """
        cut = end < len(data)
        try:
            frame = self._read_body(data, strict=True, typed_only=cut, quotes=False)
        except (pl.exceptions.PolarsError, InvalidUtf8) as exc:
            if not cut:
                if isinstance(exc, InvalidUtf8):
                    raise
                return None
            try:  # the cut record itself may be what failed to parse (a character cut in two, too)
                data, cut = data[:end], False
                frame = self._read_body(data, strict=True, quotes=False)
            except pl.exceptions.PolarsError:
                return None
        n = frame.height - cut
        if n <= 0:
            return None
        if cut:
            frame = frame.slice(0, n)
        if frame.get_column(self.names[-1]).null_count():
            delimiters = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=end) == self.delim))
            if delimiters != (self.expected - 1) * n:
                return None
        start = self.row_offset + self.rows
        self.rows += n
        self.line += n  # no quotes, so one line per record
        return frame.with_columns(pl.int_range(start, start + n, dtype=pl.Int64).alias(ROW))

    def _header_end(self, data: bytes) -> int | None:
        buf = np.frombuffer(data, dtype=np.uint8)
        ends, _ = _record_spans(buf, QUOTE in data[:MAX_RECORD_BYTES])
        return int(ends[0]) + 1 if len(ends) else None

    def _process(self, data: bytes, final: bool, locate: bool = False,
                 ) -> tuple[pl.DataFrame | None, list[RecordProblem], bytes]:
        """Analyse complete records in ``data``; return the unconsumed tail.

        Records holding bytes that are not valid UTF-8 are problems (``invalid_utf8``,
        with the column of the first such byte), left out of the frame like any other
        malformed record. They are looked for only when a parse has failed on them
        (``locate``, or a strict parse of the good records that raises): valid text
        costs nothing more than the parse that validates it.
        """
        rows, line = self.rows, self.line
        if not locate:
            try:
                return self._analyse(data, final, None)
            except InvalidUtf8:
                self.rows, self.line = rows, line  # analysed again, this time locating the bytes
        return self._analyse(data, final, invalid_utf8(np.frombuffer(data, dtype=np.uint8)))

    def _analyse(self, data: bytes, final: bool, invalid: np.ndarray | None,
                 ) -> tuple[pl.DataFrame | None, list[RecordProblem], bytes]:
        problems: list[RecordProblem] = []
        good_spans: list[tuple[int, int]] = []
        good_rows: list[np.ndarray] = []
        pos = 0
        n = len(data)
        buf = np.frombuffer(data, dtype=np.uint8)
        window = WINDOW_BYTES
        while pos < n:
            # Work through a window: after a restart (a broken record) it shrinks to a few KiB and
            # doubles with every clean window, so each restart costs a few KiB, not the rest of the
            # chunk (a file with a stray quote on every line stays linear instead of quadratic).
            width = window
            while True:
                window_end = min(n, pos + width)
                view = buf[pos:window_end]
                quoted = bool((view == QUOTE).any())
                ends, outside = _record_spans(view, quoted)
                # without a quote a record ends at the next newline, however far: the window
                # grows until it finds one; an open quote is given up on after MAX_RECORD_BYTES
                if len(ends) or window_end == n or (quoted and width > MAX_RECORD_BYTES):
                    break
                width *= 2
            if len(ends) == 0:
                # No complete record: an open quote may run to the end of the data.
                if quoted and (final or n - pos > MAX_RECORD_BYTES):
                    nl = data.find(b"\n", pos)
                    stop = n if nl < 0 else nl + 1
                    self._bad_quote(data, pos, stop, problems)
                    pos = stop
                    continue
                break
            starts = np.concatenate(([0], ends[:-1] + 1))
            # fields per record: unquoted delimiters between start and end
            dmask = view[: ends[-1] + 1] == self.delim
            if outside is not None:
                dmask &= outside[: ends[-1] + 1]
            dpos = np.flatnonzero(dmask)
            fields = np.bincount(np.searchsorted(ends, dpos), minlength=len(ends)) + 1
            lengths = ends - starts
            # blank lines (empty or a lone CR) are not records
            blank = (lengths == 0) | ((lengths == 1) & (view[np.maximum(ends - 1, 0)] == CR))
            multiline = None
            if quoted:
                nls = np.flatnonzero(view[: ends[-1] + 1] == NL)
                per_record_nl = np.bincount(np.searchsorted(ends, nls), minlength=len(ends))
                multiline = per_record_nl > 1
            stray = self._misplaced_quotes(view, ends) if quoted else np.zeros(len(ends), dtype=bool)
            structural = ((fields != self.expected) | stray) & ~blank
            bad = structural
            utf8_col = None
            if invalid is not None:
                utf8_col = self._invalid_columns(invalid, pos, starts, ends, dpos)
                bad = structural | ((utf8_col >= 0) & ~blank)
            # An unbalanced quote swallows following lines: restart after its first line.
            restart_at = None
            if multiline is not None:
                swallowed = np.flatnonzero(structural & multiline)
                if len(swallowed):
                    restart_at = int(swallowed[0])
            limit = len(ends) if restart_at is None else restart_at
            lines_in = np.ones(len(ends), dtype=np.int64)
            if multiline is not None:
                lines_in = per_record_nl.astype(np.int64)
            self._collect(
                data, pos, starts[:limit], ends[:limit], fields[:limit], bad[:limit], blank[:limit],
                lines_in[:limit], good_spans, good_rows, problems, stray[:limit],
                None if utf8_col is None else utf8_col[:limit],
            )
            if restart_at is None:
                window = min(window * 2, WINDOW_BYTES)
                pos += int(ends[-1]) + 1
                if window_end < n:
                    continue
                if not final:
                    break
                continue
            rec_start = pos + int(starts[restart_at])
            nl = data.find(b"\n", rec_start)
            self._bad_quote(data, rec_start, nl + 1, problems)
            pos = nl + 1
            window = RESTART_WINDOW_BYTES
        rest = data[pos:]
        frame = self._parse(data, good_spans, good_rows)
        return frame, problems, rest

    @staticmethod
    def _invalid_columns(invalid: np.ndarray, pos: int, starts: np.ndarray, ends: np.ndarray,
                         dpos: np.ndarray) -> np.ndarray:
        """Per record of the window at ``pos``: the field index of its first byte that is not
        valid UTF-8 (``invalid``: positions in the whole chunk), or -1."""
        out = np.full(len(ends), -1, dtype=np.int64)
        lo, hi = np.searchsorted(invalid, [pos, pos + int(ends[-1]) + 1])
        if hi > lo:
            rel = invalid[lo:hi] - pos
            rec = np.searchsorted(ends, rel)
            first_rec, first = np.unique(rec, return_index=True)
            out[first_rec] = np.searchsorted(dpos, rel[first]) - np.searchsorted(dpos, starts[first_rec])
        return out

    def _collect(
        self, data: bytes, base: int, starts: np.ndarray, ends: np.ndarray, fields: np.ndarray,
        bad: np.ndarray, blank: np.ndarray, lines_in: np.ndarray,
        good_spans: list[tuple[int, int]], good_rows: list[np.ndarray], problems: list[RecordProblem],
        stray: np.ndarray | None = None, utf8_col: np.ndarray | None = None,
    ) -> None:
        if len(starts) == 0:
            return
        is_row = ~blank
        row_ids = self.rows + np.cumsum(is_row) - 1
        line_ids = self.line + np.concatenate(([0], np.cumsum(lines_in)[:-1]))
        good = is_row & ~bad
        # contiguous runs of good records become byte spans for polars
        if good.all():
            good_spans.append((base + int(starts[0]), base + int(ends[-1]) + 1))
        else:
            idx = np.flatnonzero(good)
            if len(idx):
                breaks = np.flatnonzero(np.diff(idx) != 1)
                run_starts = np.concatenate(([idx[0]], idx[breaks + 1]))
                run_ends = np.concatenate((idx[breaks], [idx[-1]]))
                for a, b in zip(run_starts, run_ends):
                    good_spans.append((base + int(starts[a]), base + int(ends[b]) + 1))
        good_rows.append(self.row_offset + row_ids[good])
        for i in np.flatnonzero(bad & is_row):
            raw = data[base + int(starts[i]): base + int(ends[i])].decode("utf-8", "replace").rstrip("\r")
            quote = stray is not None and bool(stray[i])
            column = None
            if utf8_col is not None and utf8_col[i] >= 0 and fields[i] == self.expected and not quote:
                column = int(utf8_col[i])
            problems.append(self._problem(raw, int(row_ids[i]), int(line_ids[i]), int(fields[i]), quote, column))
        self.rows += int(is_row.sum())
        self.line += int(lines_in.sum())

    def _misplaced_quotes(self, view: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Records with a quote that cannot open or close a field (RFC 4180).

        A quote opening a quoted field follows a delimiter or the record start; the
        quote closing it is followed by a delimiter or the record end (``""`` is an
        escaped quote, which passes both rules). Anything else, such as
        ``"a,b`` closed by a quote several lines later in ``x"y``, is a broken record
        that a lenient parser would silently merge with the lines between.
        """
        body = view[: int(ends[-1]) + 1]
        qpos = np.flatnonzero(body == QUOTE)
        out = np.zeros(len(ends), dtype=bool)
        if len(qpos) == 0:
            return out
        opening, closing = qpos[0::2], qpos[1::2]
        before = np.where(opening > 0, body[np.maximum(opening - 1, 0)], NL)
        after = body[np.minimum(closing + 1, len(body) - 1)]
        ok_before = np.isin(before, [self.delim, NL, CR, QUOTE])
        ok_after = np.isin(after, [self.delim, NL, CR, QUOTE])
        bad = np.concatenate((opening[~ok_before], closing[~ok_after]))
        if len(bad):
            out[np.searchsorted(ends, bad)] = True
        return out

    def _problem(self, raw: str, row: int, line: int, fields: int, quote: bool = False,
                 column: int | None = None) -> RecordProblem:
        if column is not None:  # well-formed, but with bytes that are not text in the file's encoding
            return RecordProblem(self.split, self.rel, self.row_offset + row, line,
                                 self._text_kind(), fields, self.expected, raw[:200], self.names[column])
        kind = "unbalanced_quote" if quote else "field_count"
        if fields < self.expected and not quote:
            for other in self.others:
                if raw.count(chr(other)) >= self.expected - 1:
                    kind = "other_delimiter"
                    break
        return RecordProblem(self.split, self.rel, self.row_offset + row, line, kind, fields, self.expected, raw[:200])

    def _text_kind(self) -> str:
        utf8 = self.dialect.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        return "invalid_utf8" if utf8 else "invalid_encoding"

    def _header_problems(self, header: bytes) -> list[RecordProblem]:
        """The header line as a problem when it holds bytes that are not valid text."""
        if header.isascii():
            return []
        bad = invalid_utf8(np.frombuffer(header, dtype=np.uint8))
        if len(bad) == 0:
            return []
        field = header.count(self.dialect.delimiter.encode(), 0, int(bad[0]))
        name = self.names[min(field, len(self.names) - 1)] if self.names else None
        raw = header.decode("utf-8", "replace").rstrip("\r\n")
        return [RecordProblem(self.split, self.rel, None, self.line, self._text_kind(), self.expected,
                              self.expected, raw[:200], name)]

    def _bad_quote(self, data: bytes, start: int, stop: int, problems: list[RecordProblem]) -> None:
        raw = data[start:stop].decode("utf-8", "replace").rstrip("\r\n")
        fields = raw.count(self.dialect.delimiter) + 1
        problems.append(
            RecordProblem(self.split, self.rel, self.row_offset + self.rows, self.line, "unbalanced_quote",
                          fields, self.expected, raw[:200])
        )
        self.rows += 1
        self.line += 1

    def _parse(self, data: bytes, spans: list[tuple[int, int]], rows: list[np.ndarray]) -> pl.DataFrame | None:
        row_idx = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        if len(row_idx) == 0:
            return None
        if len(spans) == 1:
            body = data[spans[0][0]: spans[0][1]]
        else:
            body = b"".join(data[a:b] for a, b in spans)
        frame = self._read_body(body)
        if frame.height != len(row_idx):
            frame = self._read_body_python(body)
        if frame.height != len(row_idx):  # pragma: no cover - defensive
            raise RuntimeError(f"{self.rel}: parsed {frame.height} rows, expected {len(row_idx)}")
        return frame.with_columns(pl.Series(ROW, row_idx, dtype=pl.Int64))

    def _read_body(self, body: bytes, strict: bool = False, typed_only: bool = False,
                   quotes: bool = True) -> pl.DataFrame:
        """Parse well-formed records: numeric columns typed, the rest (and any misfit chunk) as text.

        Typing numbers at parse time is much cheaper than parsing text columns
        later; a chunk where a "numeric" column holds anything else (a sentinel
        such as ``NA``, a unit, a typo) fails the typed parse and is read as text
        instead, so every value is still seen as written. ``strict``: a record
        with more fields than the header raises instead of being truncated;
        ``typed_only``: a failed typed parse raises instead of reading text.
        ``quotes=False``: the records hold no quote character (a record cut off
        after them may), so the parser need not track quoting (~5% of the parse).
        """
        common: dict[str, Any] = dict(
            has_header=False, new_columns=self.names, separator=self.dialect.delimiter,
            encoding="utf8", truncate_ragged_lines=not strict, raise_if_empty=False,
            quote_char='"' if quotes else None,
        )
        if strict:
            return self._read_typed_or_text(body, common, typed_only)
        try:
            return self._read_typed_or_text(body, common)
        except pl.exceptions.PolarsError:
            return self._read_body_python(body)

    def _read_typed_or_text(self, body: bytes, common: dict[str, Any], typed_only: bool = False) -> pl.DataFrame:
        if self.schema is None:
            probe = _read_csv(body, infer_schema_length=10_000, n_rows=10_000,
                              **{**common, "truncate_ragged_lines": True})
            self.schema = {
                name: (dtype if dtype in (pl.Int64, pl.Float64) else pl.String())
                for name, dtype in zip(self.names, probe.dtypes)
            }
        if any(dt != pl.String for dt in self.schema.values()):
            try:
                return _read_csv(body, schema=self.schema, **common)
            except pl.exceptions.PolarsError:
                if typed_only:
                    raise
        return _read_csv(body, infer_schema=False, **common)

    def _read_body_python(self, body: bytes) -> pl.DataFrame:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidUtf8 from None
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=self.dialect.delimiter) if r]
        cols: dict[str, list[str | None]] = {name: [] for name in self.names}
        for r in rows:
            for i, name in enumerate(self.names):
                v = r[i] if i < len(r) else None
                cols[name].append(v if v != "" else None)
        return pl.DataFrame(cols, schema={n: pl.String for n in self.names})


def _read_csv(body: bytes, **options: Any) -> pl.DataFrame:
    """``polars.read_csv`` as strict UTF-8: :class:`InvalidUtf8` when the bytes are not valid UTF-8.

    The strict decoder validates a chunk in one vectorised pass as it parses; the
    records that are not valid UTF-8 are then located and reported (never read
    lossily, which would turn them into other text without a word).
    """
    try:
        return pl.read_csv(body, **options)
    except pl.exceptions.ComputeError as exc:
        if options.get("encoding") != "utf8" or "utf-8" not in str(exc).lower():
            raise
    raise InvalidUtf8


def head_schema(path: Path, dialect: Dialect, max_bytes: int = 1 << 20) -> dict[str, pl.DataType]:
    """Column types inferred from the head of a file: Int64/Float64 for numbers, String otherwise."""
    with open_binary(path) as fh:
        head = fh.read(max_bytes)
    if dialect.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        head = head.decode(dialect.encoding, errors="replace").encode()
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    if dialect.cr_newlines:
        head = head.replace(b"\r", b"\n")
    if len(head) == max_bytes:
        head = head[: head.rfind(b"\n") + 1]
    try:
        probe = pl.read_csv(head, separator=dialect.delimiter, infer_schema_length=10_000, n_rows=10_000,
                            encoding="utf8-lossy", truncate_ragged_lines=True, ignore_errors=True,
                            raise_if_empty=False, new_columns=None)
    except pl.exceptions.PolarsError:
        return {}
    out: dict[str, pl.DataType] = {}
    for name, dtype in zip(dialect.header, probe.dtypes):
        out[name] = dtype if dtype in (pl.Int64, pl.Float64) else pl.String()
    return out
