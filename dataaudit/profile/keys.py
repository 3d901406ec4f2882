"""The key stage: items of every split that share a key, found partition by partition.

The checks that compare items by key (exact duplicates, overlap between splits,
conflicting labels, normalised-text copies) all start from the same question:
which items share a key with another item, in which splits. :func:`partitions`
answers it for one kind of key over all splits at once, one partition of the
key space after the other (the keys' top bits pick the partition, so each is
answered alone and a partition never needs another one's keys). Per partition
the keys' upper 32 bits and their item numbers are packed into one integer and
sorted; items whose upper halves meet are the only candidates, their full
64-bit keys decide, and the result is the groups of two or more items sharing a
key, each group's members ordered by split and position.

Every step is a sort or a linear pass over a partition's keys: a key held by a
million items costs what a million distinct keys cost, and the checks reduce
each partition's groups to counts and capped examples before the next one is
built (:class:`Groups`), so the memory beyond the hashes themselves stays within
about one partition's worth. Locally the partitions run one after the other; an
engine that spreads them over workers answers each one the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dataaudit.profile.hashes import ItemHashes

PARTITION_ITEMS = 6_000_000
"""At most about this many keys are sorted at once (the partition count is a power of two): the
temporaries of a partition, ~60 bytes a key, stay near 0.4 GB whatever the dataset's size."""

_HIGH = np.uint64(0xFFFFFFFF00000000)
_LOW = np.uint64(0xFFFFFFFF)


@dataclass
class Groups:
    """The items of one partition whose key is shared by two or more items, as groups.

    Members are listed group after group; within a group ordered by split number
    then position in the split (hence by item index within a split, for tables).
    """

    key: np.ndarray
    """uint64: each group's key."""
    start: np.ndarray
    """int64: where each group's members start."""
    size: np.ndarray
    """int64: how many members each group has (at least two)."""
    split: np.ndarray
    """int64: each member's split number (its place in the list of splits)."""
    pos: np.ndarray
    """int64: each member's position in its split's hash columns."""

    @property
    def group_of(self) -> np.ndarray:
        """The group number of each member."""
        return np.repeat(np.arange(len(self.size), dtype=np.int64), self.size)

    def runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Runs of members of one group and one split: ``(start, size, group, split)`` per run."""
        n = len(self.pos)
        e = np.zeros(0, dtype=np.int64)
        if not n:
            return e, e, e, e
        change = np.ones(n, dtype=bool)
        change[1:] = self.split[1:] != self.split[:-1]
        change[self.start] = True
        start = np.flatnonzero(change)
        size = np.diff(np.append(start, n))
        return start, size, self.group_of[start], self.split[start]

    def take(self, splits: list[ItemHashes], kind: str) -> np.ndarray:
        """Each member's ``kind`` column (``label``, ``raw``, ``content``, ``norm``)."""
        return gather(splits, self.split, self.pos, kind)

    def index(self, splits: list[ItemHashes]) -> np.ndarray:
        """Each member's item index (row number or image number) within its split."""
        out = np.empty(len(self.pos), dtype=np.int64)
        for j, hashes in enumerate(splits):
            sel = self.split == j
            if sel.any():
                out[sel] = hashes.index_at(self.pos[sel])
        return out


def gather(splits: list[ItemHashes], split: np.ndarray, pos: np.ndarray, kind: str) -> np.ndarray:
    """The ``kind`` hashes of the items at ``(split, pos)``."""
    out: np.ndarray | None = None
    for j, hashes in enumerate(splits):
        sel = split == j
        if not sel.any():
            continue
        part = hashes.take(kind, pos[sel])
        if out is None:
            out = np.zeros(len(pos), dtype=part.dtype)
        out[sel] = part
    return out if out is not None else np.zeros(len(pos), dtype=np.uint64)


def partition_bits(total: int, partition_items: int = PARTITION_ITEMS) -> int:
    """How many top bits of the key pick a partition, for ``total`` keys."""
    return max(0, math.ceil(math.log2(max(1.0, total / max(partition_items, 1)))))


def partitions(splits: list[ItemHashes], kind: str, partition_items: int = PARTITION_ITEMS,
               scratch: np.ndarray | None = None) -> Iterator[Groups]:
    """The :class:`Groups` of every partition of the ``kind`` keys of ``splits``, one after the other.

    ``scratch`` (uint64, at least as long as all the keys) holds the packed keys
    of a dataset sorted in one partition instead of a fresh array.
    """
    sizes = [len(h) if len(h) and h.has(kind) else 0 for h in splits]
    bases = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    total = int(bases[-1])
    if total < 2:
        return
    if total >= 2**32:  # item numbers no longer fit beside the upper halves: sort (key, item) pairs
        yield from _partitions_wide(splits, sizes, kind, partition_bits(total, partition_items))
        return
    bits = partition_bits(total, partition_items)
    for bucket in range(1 << bits):
        packed = _packed_keys(splits, sizes, bases, kind, bits, bucket, total, scratch)
        packed.sort()
        groups = _groups_of_sorted(splits, bases, kind, packed)
        del packed
        if groups is not None:
            yield groups


def _groups_of_sorted(splits: list[ItemHashes], bases: np.ndarray, kind: str,
                      packed: np.ndarray) -> Groups | None:
    """Groups from packed keys (upper half | item number) sorted ascending."""
    n = len(packed)
    if n < 2:
        return None
    upper = packed & _HIGH
    meet = upper[1:] == upper[:-1]
    del upper
    member = np.zeros(n, dtype=bool)
    member[1:] = meet
    member[:-1] |= meet
    del meet
    cand = packed[member]
    del member
    if not len(cand):
        return None
    item = (cand & _LOW).astype(np.int64)
    high = cand >> np.uint64(32)
    del cand
    split = np.searchsorted(bases, item, side="right") - 1
    pos = item - bases[split]
    del item
    full = gather(splits, split, pos, kind)
    # Candidates are ordered by upper half, then item. Within a run of equal upper halves the full
    # keys almost always agree (true repeats); runs where they do not (chance meetings) are
    # reordered by full key, keeping item order, in place: only those few members are sorted.
    run_edge = np.ones(len(full), dtype=bool)
    run_edge[1:] = high[1:] != high[:-1]
    mixed_at = np.flatnonzero(~run_edge[1:] & (full[1:] != full[:-1])) + 1
    if len(mixed_at):
        run_id = np.cumsum(run_edge) - 1
        mixed_runs = np.unique(run_id[mixed_at])
        sel = np.flatnonzero(np.isin(run_id, mixed_runs))
        order = np.lexsort((sel, full[sel], run_id[sel]))  # stable within (run, key): item order kept
        moved = sel[order]
        full[sel], split[sel], pos[sel] = full[moved], split[moved], pos[moved]
    del high
    edge = np.ones(len(full), dtype=bool)
    edge[1:] = full[1:] != full[:-1]
    start = np.flatnonzero(edge)
    size = np.diff(np.append(start, len(full)))
    if bool((size < 2).any()):  # chance meetings of upper halves: single keys after all
        keep = np.repeat(size >= 2, size)
        full, split, pos = full[keep], split[keep], pos[keep]
        start = np.concatenate(([0], np.cumsum(size[size >= 2])[:-1])).astype(np.int64)
        size = size[size >= 2]
    if not len(size):
        return None
    return Groups(key=full[start], start=start.astype(np.int64), size=size.astype(np.int64),
                  split=split.astype(np.int64), pos=pos.astype(np.int64))


def _packed_keys(splits: list[ItemHashes], sizes: list[int], bases: np.ndarray, kind: str,
                 bits: int, bucket: int, total: int, scratch: np.ndarray | None = None) -> np.ndarray:
    """The keys of one partition (those whose top ``bits`` bits are ``bucket``): upper half | item number."""
    if not bits:  # every key: written straight into place, no temporaries the size of a part
        keys = scratch[:total] if scratch is not None and len(scratch) >= total else np.empty(total, dtype=np.uint64)
        numbers = np.arange(max(len(p) for h, n in zip(splits, sizes) if n for p in h.parts(kind)), dtype=np.uint64)
        at = 0
        for hashes, size in zip(splits, sizes):
            for part in hashes.parts(kind) if size else ():
                seg = keys[at:at + len(part)]
                np.bitwise_and(part, _HIGH, out=seg)
                seg += numbers[:len(part)]  # the low halves are zero: adding is or-ing
                seg += np.uint64(at)
                at += len(part)
        return keys
    segments: list[np.ndarray] = []
    for hashes, size, base in zip(splits, sizes, bases.tolist()):
        at = base
        for part in hashes.parts(kind) if size else ():
            keep = np.flatnonzero((part >> np.uint64(64 - bits)) == bucket)
            segments.append((part[keep] & _HIGH) | (keep.astype(np.uint64) + np.uint64(at)))
            at += len(part)
    return np.concatenate(segments) if segments else np.zeros(0, dtype=np.uint64)


def _partitions_wide(splits: list[ItemHashes], sizes: list[int], kind: str, bits: int) -> Iterator[Groups]:
    """:func:`partitions` for 2**32 items or more: (key, split, position) sorted together."""
    for bucket in range(1 << bits):
        keys, split, pos = [], [], []
        for j, (hashes, n) in enumerate(zip(splits, sizes)):
            at = 0
            for part in hashes.parts(kind) if n else ():
                keep = np.flatnonzero((part >> np.uint64(64 - bits)) == bucket) if bits else np.arange(len(part))
                keys.append(part[keep])
                split.append(np.full(len(keep), j, dtype=np.int64))
                pos.append(keep.astype(np.int64) + at)
                at += len(part)
        if not keys:
            continue
        k, s, p = np.concatenate(keys), np.concatenate(split), np.concatenate(pos)
        order = np.lexsort((p, s, k))
        k, s, p = k[order], s[order], p[order]
        edge = np.ones(len(k), dtype=bool)
        edge[1:] = k[1:] != k[:-1]
        start = np.flatnonzero(edge)
        size = np.diff(np.append(start, len(k)))
        keep = np.repeat(size >= 2, size)
        if not keep.any():
            continue
        size = size[size >= 2]
        start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
        yield Groups(key=k[keep][start], start=start, size=size.astype(np.int64), split=s[keep], pos=p[keep])


def smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest ``values`` (ascending by value), in linear time."""
    if len(values) <= k:
        return np.argsort(values, kind="stable")
    part = np.argpartition(values, k)[:k]
    return part[np.argsort(values[part], kind="stable")]
