"""Which column is the label, when no flag, configuration or conventional name says so.

Losing the label silently loses every label check (leaks of labels, typos in
class names, imbalance, label shift), so when no column is called ``label``,
``target``, ``class``... the head of the reference split is read and the label is
inferred by a fixed, explainable rule:

1. the **last column**, if its values look like class labels (names or codes);
2. else the **first column**, if its values are class-like names;
3. else the **only column of short repeated names** in the table.

Values look like class labels when, among the first rows (at most 10,000 rows or
1 MiB), there are at least 2 and few distinct values, each seen several times on
average: short names (``barolo``, ``Iris-setosa``, ``malignant``) or a handful of
whole numbers (``0``..``9``). Identifier columns (by name, or every value
distinct), free text (long values, many words) and measurements (fractional
numbers, or many distinct whole numbers) are never chosen. The decision and its
reason go into ``detected["label_reason"]``; when nothing qualifies in a table of
several columns, the reason says why, and the ``label_missing`` check turns it into
a visible warning with the ``--label`` fix.

The inference reads only the head, so it is cheap and deterministic; a file
sorted by class may show a single class in its head, in which case nothing is
chosen and the warning says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from dataaudit.sources.delimited import open_binary

if TYPE_CHECKING:
    from dataaudit.sources.tables import TableFile

HEAD_ROWS = 10_000
HEAD_BYTES = 1 << 20
MAX_CLASSES = 1000
"""More distinct short names than this in the head is a categorical feature or a key, not a label."""
MAX_INT_CLASSES = 20
"""More distinct whole numbers than this is a count or a measurement (ages, years, prices)."""
MIN_PER_CLASS = 3.0
"""Labels repeat: on average each distinct value is seen at least this often in the head."""
MAX_NAME_CHARS = 40
MAX_NAME_WORDS = 4
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class ColumnView:
    """What the head says about one column."""

    name: str
    values: int
    """Non-empty values read."""
    distinct: list[str]
    """Distinct values, most frequent first (ties in value order)."""
    numeric: bool
    """Every value reads as a number."""
    whole: bool
    """Every value reads as a whole number."""
    long_text: bool
    """Values are long or have many words: free text, not names."""

    @property
    def k(self) -> int:
        return len(self.distinct)

    def looks_like_names(self) -> bool:
        """Short repeated non-numeric names, at least two of them."""
        return (not self.numeric and not self.long_text and 2 <= self.k <= MAX_CLASSES
                and self.values >= MIN_PER_CLASS * self.k)

    def looks_like_codes(self) -> bool:
        """A handful of repeated whole numbers (class codes such as 0/1 or 0..9)."""
        return (self.numeric and self.whole and 2 <= self.k <= MAX_INT_CLASSES
                and self.values >= MIN_PER_CLASS * self.k)

    def looks_like_label(self) -> bool:
        return self.looks_like_names() or self.looks_like_codes()

    def shown(self, n: int = 5) -> str:
        head = ", ".join(v if len(v) <= 20 else v[:17] + "..." for v in self.distinct[:n])
        return head + (f", ... ({self.k} in all)" if self.k > n else "")

    def why_not(self) -> str:
        """Why this column was not taken for a label (for the warning)."""
        if self.values == 0:
            return "it is empty in the first rows"
        if self.k < 2:
            return f"it holds a single value ({self.shown()}) in the first {self.values:,} rows"
        if self.long_text:
            return "it holds free text"
        if self.numeric and not self.whole:
            return f"it holds fractional numbers ({self.k:,} different values in {self.values:,} rows)"
        if self.numeric and self.k > MAX_INT_CLASSES:
            return f"it holds {self.k:,} different whole numbers in {self.values:,} rows (a count or a measurement?)"
        return f"its {self.k:,} different values in {self.values:,} rows repeat too rarely for classes"


@dataclass(frozen=True)
class LabelChoice:
    """The inferred label column (or ``None``) and the reason, in words."""

    column: str | None
    reason: str


def view(frame: pl.DataFrame, name: str, sentinels: Sequence[str] = ()) -> ColumnView:
    """Summarise one column of a head read as text."""
    s = frame.get_column(name).cast(pl.String).str.strip_chars().drop_nulls()
    s = s.filter((s != "") & ~s.is_in(list(sentinels)))
    vc = s.value_counts(sort=False)
    pairs = sorted(zip(vc.get_column(name).to_list(), vc.get_column("count").to_list()), key=lambda kv: (-kv[1], kv[0]))
    distinct = [str(v) for v, _ in pairs]
    numeric = bool(distinct) and all(_NUMBER.match(v) for v in distinct)
    whole = numeric and all(float(v) == int(float(v)) for v in distinct if abs(float(v)) < 1e15)
    lengths = s.str.len_chars()
    words = s.str.count_matches(r"\S+")
    long_text = s.len() > 0 and (float(lengths.median() or 0) > MAX_NAME_CHARS  # type: ignore[arg-type]
                                 or float(words.median() or 0) > MAX_NAME_WORDS)  # type: ignore[arg-type]
    return ColumnView(name, s.len(), distinct, numeric, whole, long_text)


def infer_label(frame: pl.DataFrame, excluded: set[str], sentinels: Sequence[str] = ()) -> LabelChoice:
    """Choose the label among ``frame``'s columns (in file order) by the module's rule."""
    from dataaudit.sources.tables import ID_PATTERN

    names = [c for c in frame.columns if c not in excluded and not ID_PATTERN.search(c.strip())]
    rows = frame.height
    views = [view(frame, c, sentinels) for c in names]
    views = [v for v in views if not (v.k == v.values and v.values >= 20)]  # every value distinct: a key
    if not views:
        return LabelChoice(None, "no column is left once identifiers and free text are set aside")
    # first and last among the columns that could be a label (a trailing split column or id does not count)
    last, first = views[-1], views[0]
    if last.name == names[-1] and last.looks_like_label():
        return LabelChoice(last.name, f"inferred: the last column, {_what(last, rows)}")
    # first column: names only; a small whole number first (a count of rooms, a season code) is a
    # feature far more often than a label, and a label written as codes first is rare without a name
    if first.name == names[0] and first.looks_like_names():
        return LabelChoice(first.name, f"inferred: the first column, {_what(first, rows)}")
    named = [v for v in views if v.looks_like_names()]
    if len(named) == 1:
        return LabelChoice(named[0].name, f"inferred: the only column of class-like names, {_what(named[0], rows)}")
    if len(named) > 1:
        return LabelChoice(None, "several columns hold class-like names ("
                           + ", ".join(repr(v.name) for v in named[:6]) + "), none of them first or last")
    tail = views[-1]
    return LabelChoice(None, f"no column looks like class labels (the last column, {tail.name!r}: {tail.why_not()})")


def _what(v: ColumnView, rows: int) -> str:
    kind = "whole numbers" if v.numeric else "names"
    return f"{v.k} distinct {kind} repeated over the first {rows:,} rows ({v.shown()})"


def read_head(tf: TableFile, max_rows: int = HEAD_ROWS, max_bytes: int = HEAD_BYTES) -> pl.DataFrame | None:
    """The first rows of a table file, every column as text; ``None`` if they cannot be read."""
    try:
        if tf.dialect is not None:
            return _delimited_head(tf, max_rows, max_bytes)
        if tf.format == "parquet":
            frame = pl.scan_parquet(tf.path).head(max_rows).collect()
            return frame.select(pl.all().cast(pl.String, strict=False))
        if tf.format == "jsonl":
            with open_binary(tf.path) as fh:
                head = fh.read(max_bytes)
            records = []
            for line in head.splitlines()[:max_rows]:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    records.append({str(k): None if v is None else str(v) for k, v in obj.items()})
            if not records:
                return None
            return pl.from_dicts(records, schema={c: pl.String for c in tf.columns} or None, strict=False)
    except Exception:  # an unreadable head is the reader's finding to report, not a crash here
        return None
    return None


def _delimited_head(tf: TableFile, max_rows: int, max_bytes: int) -> pl.DataFrame | None:
    # the dataset's own reader: malformed records (stray quotes, wrong field counts) are set aside
    # as they are in the scan, instead of failing the whole head
    from dataaudit.sources.base import ROW
    from dataaudit.sources.delimited import DelimitedReader

    assert tf.dialect is not None
    reader = DelimitedReader(tf.path, tf.rel, tf.dialect, "", chunk_bytes=max_bytes, schema=tf.schema)
    parts: list[pl.DataFrame] = []
    rows = 0
    for frame, _problems, _nbytes in reader.frames():
        if frame is not None and frame.height:
            parts.append(frame.drop(ROW, strict=False).head(max_rows - rows))
            rows += parts[-1].height
        if rows >= max_rows or reader.bytes_read >= max_bytes:
            break
    if not parts:
        return None
    return pl.concat(parts, how="diagonal_relaxed").select(pl.all().cast(pl.String, strict=False))
