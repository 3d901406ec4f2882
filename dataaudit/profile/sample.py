"""A deterministic, mergeable sample of rows: the ``k`` rows with the smallest priority.

The priority of a row is a fixed 64-bit mix (splitmix64) of its index within the
split, so the sample of a split is the same whatever the batch size, whichever
shard read which rows, and in whatever order shards are merged: merging two
samples is taking the ``k`` smallest priorities of their union.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from dataaudit.sources.base import ROW

PRIORITY = "__priority__"


def splitmix64(x: np.ndarray, seed: int = 0x5EED) -> np.ndarray:
    """Vectorised splitmix64 finaliser: a stable bijective hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 + seed) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def own_buffers(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its text columns copied out of the buffers they share with the batch.

    A filtered polars string column is a view into the batch's string buffers: a
    sample of a few hundred rows would otherwise keep every batch it came from
    alive (hundreds of MB over a large split). Samples are small, so rebuilding
    their text columns from Python values costs little.
    """
    shared = [c for c, dt in frame.schema.items() if dt in (pl.String, pl.Binary) or dt.is_nested()]
    if not shared:
        return frame
    return frame.with_columns(pl.Series(c, frame.get_column(c).to_list(), dtype=frame.schema[c]) for c in shared)


@dataclass
class RowSample:
    """Bottom-``k`` sample of a split's rows (all columns as read, plus ``__row__``)."""

    k: int = 20_000
    frame: pl.DataFrame | None = None
    _parts: list[pl.DataFrame] = field(default_factory=list)
    _pending: int = 0
    _threshold: int = 2**64 - 1
    _sorted: tuple[pl.DataFrame, pl.DataFrame] | None = field(default=None, repr=False, compare=False)
    """``(frame, frame in row order)``: :meth:`rows` is read by many checks, once per column."""

    def update(self, frame: pl.DataFrame) -> None:
        if self.k <= 0 or frame.height == 0:
            return
        pri = splitmix64(frame[ROW].to_numpy())
        keep = pri <= np.uint64(self._threshold)
        n = int(np.count_nonzero(keep))
        if n == 0:
            return
        if n > self.k:  # only this batch's k smallest can be among the split's k smallest
            keep &= pri <= np.partition(pri[keep], self.k - 1)[self.k - 1]
        part = own_buffers(frame.filter(pl.Series(keep))).with_columns(pl.Series(PRIORITY, pri[keep]))
        self._parts.append(part)
        self._pending += part.height
        if self._pending > 2 * self.k:
            self._compact()

    def merge(self, other: RowSample) -> RowSample:
        other._compact()
        if other.frame is not None:
            self._parts.append(other.frame)
            self._pending += other.frame.height
        self._compact()
        return self

    def _compact(self) -> None:
        if not self._parts:  # the frame is already the sample
            return
        parts = ([self.frame] if self.frame is not None else []) + self._parts
        merged = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
        merged = merged.sort(PRIORITY).head(self.k)
        self.frame, self._parts, self._pending = merged, [], 0
        if merged.height >= self.k:
            self._threshold = int(merged[PRIORITY][-1])

    def rows(self) -> pl.DataFrame:
        """The sample in row order (without the priority column)."""
        self._compact()
        if self.frame is None:
            return pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)})
        if self._sorted is None or self._sorted[0] is not self.frame:
            self._sorted = (self.frame, self.frame.sort(ROW).drop(PRIORITY))
        return self._sorted[1]
