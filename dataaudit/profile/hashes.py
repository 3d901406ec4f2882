"""Content hashes of every item of a split: what duplicate and leakage checks compare.

Per item we keep a 64-bit hash of its feature content (label excluded), its label
(a 1- or 2-byte code into a table of 32-bit label hashes while there are at most
65,536 labels, else the 32-bit hash) and, for text, a 64-bit hash of the
normalised text and a 32-bit hash of the raw text, the latter only where it
differs from the normal form. Item indices (row numbers, or positions in the
file list) are kept as ranges while they are contiguous, which they are for
every row that parses, so a table split costs 9 bytes a row (17 with a text
column): a 100-million-row split fits in about 1 GB. Columns stay in the chunks
they were added in; checks read them chunk by chunk (:meth:`ItemHashes.take`,
:meth:`ItemHashes.series`, :meth:`ItemHashes.high32`) instead of concatenating a
large split. Hashes are computed with polars within one run, and
:attr:`ItemHashes.scheme` records how, so statistics computed with another
version of the hash are never merged or compared by mistake.

Label and raw-text hashes only ever answer "same or different" between items that
already share a 64-bit content hash, so 32 bits are plenty there (a false "same"
needs a 1-in-4-billion collision inside one group of equal rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dataaudit.errors import DataauditError

if TYPE_CHECKING:
    import polars as pl


def hash_scheme() -> str:
    import polars as pl

    return f"polars-{pl.__version__}-hash_rows-v3"  # v3: columns in name order (v2: the free-text column as its own hash)


def fold32(h: np.ndarray) -> np.ndarray:
    """A 64-bit hash folded to 32 bits (xor of its halves)."""
    h64: np.ndarray = np.asarray(h, dtype=np.uint64)
    folded: np.ndarray = (h64 ^ (h64 >> np.uint64(32))).astype(np.uint32)
    return folded


Part = tuple[int, int] | np.ndarray
"""Item indices of one :meth:`ItemHashes.add`: ``(start, count)`` when contiguous, else an array."""


def _as_part(index: np.ndarray | range) -> Part:
    if isinstance(index, range):
        if index.step == 1:
            return (index.start, len(index))
        index = np.asarray(index, dtype=np.int64)
    arr = np.asarray(index, dtype=np.int64)
    n = len(arr)
    if n == 0:
        return (0, 0)
    start = int(arr[0])
    if int(arr[-1]) - start == n - 1 and (n < 2 or bool(np.all(np.diff(arr) == 1))):
        return (start, n)
    return arr


def _by_part(sizes: list[int], pos: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(part, which of pos, positions within the part)`` for every part that ``pos`` touches.

    Positions are grouped by part with one stable sort of their part numbers (a
    radix sort for up to 65,536 parts), so the cost is linear in ``len(pos)``
    whatever the number of parts.
    """
    starts = np.cumsum([0] + sizes)
    which = np.searchsorted(starts, pos, side="right") - 1
    if len(sizes) <= 65_536:
        which = which.astype(np.uint16)
    order = np.argsort(which, kind="stable")
    counts = np.bincount(which, minlength=len(sizes))
    bounds = np.concatenate(([0], np.cumsum(counts)))
    for k in np.flatnonzero(counts).tolist():
        sel = order[bounds[k]: bounds[k + 1]]
        yield k, sel, pos[sel] - starts[k]


@dataclass
class ItemHashes:
    """Parallel columns per item: index, content hash, label hash, normalised and raw text hashes."""

    scheme: str = field(default_factory=hash_scheme)
    _index: list[Part] = field(default_factory=list)
    _content: list[np.ndarray] = field(default_factory=list)
    _label: list[np.ndarray] = field(default_factory=list)
    """Per chunk: label codes (uint8, or uint16 past 255 labels) into ``_label_table`` while there are
    at most 65,536 distinct labels, else the 32-bit label hashes themselves."""
    _label_table: list[int] | None = field(default_factory=list)
    _label_code: dict[int, int] = field(default_factory=dict)
    _norm: list[np.ndarray] = field(default_factory=list)
    _raw: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    """32-bit hash of the text before normalisation (text datasets), per chunk of ``_norm``, kept
    only where it differs from the folded normalised hash: ``(positions in the chunk, hashes)``.
    Text already in normal form (most of it, in most data) costs nothing here."""
    _n: int = 0

    def add(
        self,
        index: np.ndarray | range,
        content: np.ndarray,
        label: np.ndarray | None = None,
        norm: np.ndarray | None = None,
        raw: np.ndarray | None = None,
    ) -> None:
        """Append items: ``label`` and ``raw`` may be 64-bit hashes (they are folded to 32)."""
        n = len(content)
        if len(index) != n:
            raise ValueError(f"{len(index)} indices for {n} content hashes")
        self._index.append(_as_part(index))
        self._content.append(np.asarray(content, dtype=np.uint64))
        self._add_labels(np.zeros(n, dtype=np.uint32) if label is None else self._fold(label))
        if norm is not None:
            norm64 = np.asarray(norm, dtype=np.uint64)
            self._norm.append(norm64)
            if raw is None or raw is norm:  # text already in normal form throughout
                self._raw.append((np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint32)))
            else:
                raw32 = self._fold(raw)
                differs = np.flatnonzero(raw32 != fold32(norm64)).astype(np.int32)
                self._raw.append((differs, raw32[differs]))
        self._n += n

    # -- labels as small codes ------------------------------------------------------------------
    def _add_labels(self, hashes: np.ndarray) -> None:
        table = self._label_table
        if table is None:
            self._label.append(hashes)
            return
        distinct, inverse = np.unique(hashes, return_inverse=True)
        for h in distinct.tolist():
            if h not in self._label_code:
                self._label_code[h] = len(table)
                table.append(h)
        if len(table) > 65_536:  # not classes: keep the hashes themselves
            self._label = [self._label_hashes(k) for k in range(len(self._label))] + [hashes]
            self._label_table, self._label_code = None, {}
            return
        dtype = np.uint8 if len(table) <= 256 else np.uint16
        if dtype == np.uint16 and self._label and self._label[0].dtype == np.uint8:
            self._label = [p.astype(np.uint16) for p in self._label]
        codes_of_distinct = np.array([self._label_code[h] for h in distinct.tolist()], dtype=dtype)
        self._label.append(codes_of_distinct[inverse.reshape(-1)])

    def _label_hashes(self, k: int) -> np.ndarray:
        part = self._label[k]
        if self._label_table is None:
            return part
        hashes: np.ndarray = np.asarray(self._label_table, dtype=np.uint32)[part]
        return hashes

    @staticmethod
    def _fold(h: np.ndarray) -> np.ndarray:
        h = np.asarray(h)
        return h if h.dtype == np.uint32 else fold32(h)

    def merge(self, other: ItemHashes) -> ItemHashes:
        if other.scheme != self.scheme:
            raise DataauditError(
                f"cannot merge statistics hashed with {other.scheme} into {self.scheme}"
            )
        self._index += other._index
        self._content += other._content
        for k in range(len(other._label)):
            self._add_labels(other._label_hashes(k))
        self._norm += other._norm
        self._raw += other._raw
        self._n += other._n
        return self

    # -- columns -------------------------------------------------------------------------
    @property
    def content(self) -> np.ndarray:
        """64-bit content hash per item (label excluded)."""
        if len(self._content) != 1:  # consolidated once: later reads of a queried split are free
            self._content[:] = [np.concatenate(self._content) if self._content else np.zeros(0, dtype=np.uint64)]
        return self._content[0]

    @property
    def label(self) -> np.ndarray:
        """32-bit label hash per item (0 where there is no label)."""
        parts = [self._label_hashes(k) for k in range(len(self._label))]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)

    @property
    def norm(self) -> np.ndarray | None:
        """Normalised-text hash per item, or ``None`` when not every item has one."""
        if not self._norm or sum(len(a) for a in self._norm) != self._n:
            return None
        # not consolidated in place: the sparse raw-text hashes are kept per chunk of these
        return self._norm[0] if len(self._norm) == 1 else np.concatenate(self._norm)

    def raw_text(self) -> np.ndarray | None:
        """32-bit hashes of the un-normalised text, aligned with :attr:`norm` (``None`` if not text)."""
        parts = self.parts("raw")
        return np.concatenate(parts) if parts else None

    def _raw_part(self, k: int) -> np.ndarray:
        out = fold32(self._norm[k])
        differs, values = self._raw[k]
        out[differs] = values
        return out

    # -- part-wise access: large splits are never concatenated by the checks -----------------
    def parts(self, kind: str) -> list[np.ndarray]:
        """The chunks of one column: ``content``, ``label``, ``norm`` or ``raw``."""
        if kind == "raw":
            if not self.parts("norm") or len(self._raw) != len(self._norm):
                return []
            return [self._raw_part(k) for k in range(len(self._norm))]
        if kind == "label":
            return [self._label_hashes(k) for k in range(len(self._label))]
        parts = {"content": self._content, "norm": self._norm}[kind]
        if kind == "norm" and sum(len(a) for a in parts) != self._n:
            return []
        return parts

    def has(self, kind: str) -> bool:
        """Whether every item has a ``kind`` hash (and, for labels, any item a label)."""
        if kind == "label":
            if self._label_table is not None:
                return any(h != 0 for h in self._label_table)
            return any(bool(p.any()) for p in self._label)
        if kind == "raw":  # without building the parts
            return self.has("norm") and len(self._raw) == len(self._norm)
        return bool(self.parts(kind)) or (kind == "content" and self._n == 0)

    def series(self, kind: str) -> pl.Series:
        """One column as a polars Series over the chunks (no copy)."""
        import polars as pl

        parts = self.parts(kind)
        if not parts:
            return pl.Series(kind, [], dtype=pl.UInt64)
        return pl.concat([pl.Series(kind, p) for p in parts], rechunk=False)

    def take(self, kind: str, positions: np.ndarray) -> np.ndarray:
        """The ``kind`` hashes of the items at ``positions``."""
        pos = np.asarray(positions, dtype=np.int64)
        if kind == "raw":
            return self._take_raw(pos)
        if kind == "label" and self._label_table is not None:
            codes = self._take_parts(self._label, pos, np.uint16)
            labels: np.ndarray = np.asarray(self._label_table, dtype=np.uint32)[codes]
            return labels
        return self._take_parts(self.parts(kind), pos, np.uint64)

    @staticmethod
    def _take_parts(parts: list[np.ndarray], pos: np.ndarray, default: type) -> np.ndarray:
        dtype = parts[0].dtype if parts else default
        if len(parts) == 1:
            only: np.ndarray = parts[0][pos]
            return only
        out = np.empty(len(pos), dtype=dtype)
        if len(pos) == 0 or not parts:
            return out
        for k, sel, local in _by_part([len(p) for p in parts], pos):
            out[sel] = parts[k][local]
        return out

    def _take_raw(self, pos: np.ndarray) -> np.ndarray:
        out = fold32(self.take("norm", pos))
        if not any(len(d) for d, _ in self._raw):
            return out
        for k, sel, local in _by_part([len(p) for p in self._norm], pos):
            differs, values = self._raw[k]
            if not len(differs):
                continue
            at = np.clip(np.searchsorted(differs, local), 0, len(differs) - 1)
            hit = differs[at] == local
            out[sel[hit]] = values[at[hit]]
        return out

    def high32(self, kind: str) -> np.ndarray:
        """The upper 32 bits of a 64-bit column, one new array (half the memory of a copy)."""
        parts = self.parts(kind)
        out = np.empty(self._n if parts else 0, dtype=np.uint32)
        at = 0
        for p in parts:
            out[at: at + len(p)] = p >> np.uint64(32)
            at += len(p)
        return out

    def index(self) -> np.ndarray:
        """Item index per item (materialised: prefer :meth:`index_at` on large splits)."""
        return self.index_at(np.arange(self._n, dtype=np.int64))

    def index_at(self, positions: np.ndarray) -> np.ndarray:
        """Item indices of the items at ``positions`` (positions in the hash columns)."""
        pos = np.asarray(positions, dtype=np.int64)
        if len(pos) == 0 or not self._index:
            return np.zeros(len(pos), dtype=np.int64)
        if len(self._index) == 1 and isinstance(self._index[0], tuple):
            return pos + self._index[0][0]
        sizes = [p[1] if isinstance(p, tuple) else len(p) for p in self._index]
        first = self._index[0]
        if all(isinstance(p, tuple) for p in self._index) and isinstance(first, tuple):
            at = first[0]
            for p in self._index:  # rows numbered on from part to part: one offset for all
                if p[0] != at:  # type: ignore[index]
                    break
                at += p[1]  # type: ignore[index]
            else:
                return pos + first[0]
        out = np.empty(len(pos), dtype=np.int64)
        for k, sel, local in _by_part(sizes, pos):
            p = self._index[k]
            out[sel] = local + p[0] if isinstance(p, tuple) else p[local]
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """``(index, content, label, norm)`` (norm is ``None`` if not every item has one)."""
        return self.index(), self.content, self.label.astype(np.uint64), self.norm

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        parts = [a for group in (self._content, self._label, self._norm) for a in group]
        parts += [a for pair in self._raw for a in pair]
        parts += [p for p in self._index if isinstance(p, np.ndarray)]
        return sum(a.nbytes for a in parts)
