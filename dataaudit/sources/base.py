"""What every source yields: located batches of one split.

A :class:`Dataset` is what layout detection (or the Hub) found: its splits, its
modality, the label column and what was guessed. :meth:`Dataset.batches` yields
:class:`Batch` objects in stream order; each batch says where it comes from
(split, file, first row) so that findings can name the rows and files they are
about. Readers never raise for broken rows or files: those travel in the batch as
:class:`RecordProblem` and :class:`FileProblem`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

ROW = "__row__"
"""Name of the column every table batch carries: the data-row index within its split."""

SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}  # fmt: skip


def canonical_split(name: str) -> str | None:
    """``"Validation"`` -> ``"val"``; ``None`` for names that are not split names."""
    return SPLIT_ALIASES.get(name.strip().lower())


def split_order(name: str) -> tuple[int, str]:
    """Sort key: train, val, test, then the rest alphabetically."""
    rank = {"train": 0, "val": 1, "test": 2}
    return (rank.get(name, 3), name)


@dataclass(frozen=True)
class RecordProblem:
    """A malformed record found in the raw text of a delimited file."""

    split: str | None
    path: str
    row: int | None
    """Data-row index within the split (header excluded), ``None`` if unknown."""
    line: int
    """1-based physical line in the file where the record starts."""
    kind: str
    """``field_count``, ``other_delimiter``, ``unbalanced_quote``, ``bad_json``,
    ``invalid_utf8`` (bytes that are not UTF-8) or ``invalid_encoding`` (bytes the
    ``--encoding`` given cannot decode)."""
    fields: int
    expected: int
    text: str
    """The start of the raw record (at most 200 characters; undecodable bytes shown as U+FFFD)."""
    column: str | None = None
    """The column of the first undecodable byte (``invalid_utf8``/``invalid_encoding``)."""

    def item(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split, "path": self.path, "line": self.line}
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        out.update({"kind": self.kind, "fields": self.fields, "expected": self.expected, "text": self.text})
        return out


@dataclass(frozen=True)
class FileProblem:
    """A file of the dataset that cannot be read (empty, binary, undecodable, a name only)."""

    split: str | None
    path: str
    kind: str
    """``empty``, ``binary``, ``unreadable``, ``not_image``, ``truncated``, ``undecodable``,
    ``missing`` (a dangling link), ``outside`` (a link out of the dataset), ``link_loop``,
    ``not_regular`` (a FIFO, device or socket)..."""
    message: str
    counted: bool = True
    """Whether the file is one of the split's counted items (an image that was listed
    and then failed to decode) rather than a name the listing could not include
    (a dangling link, a FIFO): what ``corrupt_file`` divides by depends on it."""


@dataclass
class Batch:
    """A located piece of one split."""

    split: str
    path: str
    """File the rows come from, relative to the dataset root with ``/`` separators."""
    frame: pl.DataFrame | None = None
    """Table rows (with the ``__row__`` column), or ``None`` for a problems-only batch."""
    records: list[RecordProblem] = field(default_factory=list)
    files: list[FileProblem] = field(default_factory=list)
    columns: list[str] | None = None
    """The file's header when this batch starts a new file (for schema checks)."""
    payload: Any = None
    """Non-table items (e.g. image records) for profilers of other modalities."""
    nbytes: int = 0
    """Raw bytes this batch consumed from storage (for progress)."""


@dataclass
class SplitInfo:
    """One split as found: its canonical name and the files that hold it."""

    name: str
    files: list[Path] = field(default_factory=list)
    format: str | None = None


@dataclass
class Dataset:
    """A recognised dataset, ready to stream."""

    source: str
    """How the user named it (path or ``hf://`` URL); shown in reports."""
    root: Path | None
    modality: str
    """``table``, ``text`` or ``image``."""
    splits: dict[str, SplitInfo]
    label_column: str | None
    read: Callable[[], Iterator[Batch]]
    """Yields every batch of every split in stream order (one pass)."""
    text_column: str | None = None
    id_columns: list[str] = field(default_factory=list)
    """Columns left out of content hashes (row ids, pandas index columns)."""
    exclude_columns: list[str] = field(default_factory=list)
    """Columns that are not features at all (the split column)."""
    typed_columns: list[str] = field(default_factory=list)
    """Delimited-text columns read as numbers (content hashes treat their text form the same)."""
    shared_columns: list[str] | None = None
    """The columns every split has, when the splits' columns differ: content hashes read only these,
    so a column of one split alone does not hide a row copied between splits. ``None``: all."""
    detected: dict[str, Any] = field(default_factory=dict)
    """What was guessed: layout, format, delimiter, encoding, label, modality..."""
    notes: list[str] = field(default_factory=list)
    total_bytes: int | None = None
    """Bytes to read, when known, for progress."""
    partial: bool = False
    """True when the source was read only in part (``--max-rows``)."""
    class_names: list[str] | None = None
    """Label names when the source declares them (Hub ``ClassLabel``)."""

    def batches(self) -> Iterator[Batch]:
        return self.read()

    @property
    def split_names(self) -> list[str]:
        return sorted(self.splits, key=split_order)
