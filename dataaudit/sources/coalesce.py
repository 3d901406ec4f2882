"""Small table batches joined into larger ones before they are profiled.

Profiling a batch costs a fixed few milliseconds (a dozen polars queries) plus
its rows, so a split of many small shards (one file per row, or a few hundred
rows a file) would cost that fixed part once per file. Consecutive small
batches of one split with the same schema are concatenated (rows keep their
numbers), while each file still announces itself (its path, header, malformed
records and bytes) in a batch of its own without rows, so the statistics name
every file as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from dataaudit.sources.base import Batch

COALESCE_ROWS = 50_000
"""Batches smaller than this are joined with their neighbours up to about this many rows."""


def coalesce(batches: Iterator[Batch], rows: int = COALESCE_ROWS) -> Iterator[Batch]:
    """``batches`` with runs of small ones (same split, same schema) joined into one."""
    pending: list[pl.DataFrame] = []
    held = 0
    last: Batch | None = None

    def flush() -> Iterator[Batch]:
        nonlocal held
        if pending and last is not None:
            frame = pending[0] if len(pending) == 1 else pl.concat(pending, rechunk=True)
            yield Batch(last.split, last.path, frame=frame)
        pending.clear()
        held = 0

    for batch in batches:
        frame = batch.frame
        if frame is None or frame.height >= rows:
            yield from flush()
            yield batch
            continue
        if pending and last is not None and (batch.split != last.split or frame.schema != pending[0].schema):
            yield from flush()
        if batch.records or batch.files or batch.columns is not None or batch.nbytes:
            yield Batch(batch.split, batch.path, records=batch.records, files=batch.files, columns=batch.columns,
                        nbytes=batch.nbytes)
        pending.append(frame)
        last = batch
        held += frame.height
        if held >= rows:
            yield from flush()
    yield from flush()
