"""Content hashes of every item of a split: what duplicate and leakage checks compare.

Per item we keep its index (row number, or position in the file list), a 64-bit
hash of its feature content (label excluded), a hash of its label and, for text, a
hash of the normalised text. That is 24-32 bytes an item: a 50-million-row split
fits in about 1.2 GB. Hashes are computed with polars within one run, and
:attr:`ItemHashes.scheme` records how, so statistics computed with another
version of the hash are never merged or compared by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dataaudit.errors import DataauditError


def hash_scheme() -> str:
    import polars as pl

    return f"polars-{pl.__version__}-hash_rows"


@dataclass
class ItemHashes:
    """Parallel arrays: item index, content hash, label hash and normalised-text hash."""

    scheme: str = field(default_factory=hash_scheme)
    _index: list[np.ndarray] = field(default_factory=list)
    _content: list[np.ndarray] = field(default_factory=list)
    _label: list[np.ndarray] = field(default_factory=list)
    _norm: list[np.ndarray] = field(default_factory=list)
    _raw: list[np.ndarray] = field(default_factory=list)
    """Hash of the text field before normalisation (text datasets), aligned with ``_norm``."""
    _done: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def add(
        self,
        index: np.ndarray,
        content: np.ndarray,
        label: np.ndarray | None = None,
        norm: np.ndarray | None = None,
        raw: np.ndarray | None = None,
    ) -> None:
        n = len(index)
        self._done = None
        self._index.append(np.asarray(index, dtype=np.int64))
        self._content.append(np.asarray(content, dtype=np.uint64))
        self._label.append(
            np.zeros(n, dtype=np.uint64) if label is None else np.asarray(label, dtype=np.uint64)
        )
        if norm is not None:
            self._norm.append(np.asarray(norm, dtype=np.uint64))
            self._raw.append(np.asarray(norm if raw is None else raw, dtype=np.uint64))

    def merge(self, other: ItemHashes) -> ItemHashes:
        if other.scheme != self.scheme:
            raise DataauditError(
                f"cannot merge statistics hashed with {other.scheme} into {self.scheme}"
            )
        idx, content, label, norm = other.arrays()
        self.add(idx, content, label, norm, other.raw_text())
        return self

    def raw_text(self) -> np.ndarray | None:
        """Hashes of the un-normalised text, aligned with :meth:`arrays` (``None`` if not text)."""
        if not self._raw:
            return None
        if len(self._raw) > 1:
            self._raw = [np.concatenate(self._raw)]
        raw = self._raw[0]
        return raw if len(raw) == len(self) else None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """``(index, content, label, norm)`` concatenated (norm is ``None`` if never given)."""
        if self._done is None:
            def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
                return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

            idx = cat(self._index, np.int64)
            norm = cat(self._norm, np.uint64) if self._norm else None
            if norm is not None and len(norm) != len(idx):
                norm = None
            self._done = (idx, cat(self._content, np.uint64), cat(self._label, np.uint64), norm)
            self._index, self._content = [self._done[0]], [self._done[1]]
            self._label = [self._done[2]]
            self._norm = [norm] if norm is not None else []
        return self._done

    def __len__(self) -> int:
        return sum(len(a) for a in self._index)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for part in (self._index, self._content, self._label, self._norm, self._raw) for a in part)
