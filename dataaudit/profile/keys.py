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
from dataclasses import dataclass, field

import numpy as np

from dataaudit.profile.hashes import ItemHashes

PARTITION_ITEMS = 2_000_000
"""At most about this many keys are sorted at once (the partition count is a power of two): the
temporaries of a partition, up to ~100 bytes a key where every key repeats, stay near 0.2 GB
whatever the dataset's size."""

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
    attrs: dict[str, np.ndarray] = field(default_factory=dict)
    """Per member, the other columns asked of :func:`partitions` (``label``, ``raw``)."""

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
               scratch: np.ndarray | None = None, attrs: tuple[str, ...] = ()) -> Iterator[Groups]:
    """The :class:`Groups` of every partition of the ``kind`` keys of ``splits``, one after the other.

    ``attrs`` names other columns (``label``, ``raw``) each member brings along.
    ``scratch`` (uint64, at least as long as all the keys) holds the packed keys
    of a dataset sorted in one partition instead of a fresh array.
    """
    sizes = [len(h) if len(h) and h.has(kind) and all(h.has(a) for a in attrs) else 0 for h in splits]
    bases = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    total = int(bases[-1])
    if total < 2:
        return
    bits = partition_bits(total, partition_items)
    if total >= 2**32:  # item numbers no longer fit beside the upper halves: sort (key, item) pairs
        yield from _partitions_wide(splits, sizes, kind, bits, attrs)
        return
    for bucket in range(1 << bits):
        packed, items, low, extra = _packed_keys(splits, sizes, bases, kind, bits, bucket, total, scratch, attrs)
        packed.sort()
        groups = _groups_of_sorted(bases, packed, items, low, extra)
        del packed, items, low, extra
        if groups is not None:
            yield groups


def _groups_of_sorted(bases: np.ndarray, packed: np.ndarray, items: np.ndarray | None, low: np.ndarray,
                      extra: dict[str, np.ndarray]) -> Groups | None:
    """Groups from packed keys (upper half | number in the partition) sorted ascending.

    ``items`` maps a number in the partition to its item number across the splits
    (``None``: the same), ``low`` gives its key's lower half, ``extra`` its attributes.
    """
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
    local = (cand & _LOW).astype(np.int64)
    high = cand >> np.uint64(32)
    del cand
    full = (high << np.uint64(32)) | low[local].astype(np.uint64)
    item = local if items is None else items[local].astype(np.int64)
    attrs = {name: values[local] for name, values in extra.items()}
    del local
    # Candidates are ordered by upper half, then item. Within a run of equal upper halves the full
    # keys almost always agree (true repeats); runs where they do not (chance meetings) are
    # reordered by full key, keeping item order, in place: only those few members are sorted.
    run_edge = np.ones(len(full), dtype=bool)
    run_edge[1:] = high[1:] != high[:-1]
    del high
    mixed_at = np.flatnonzero(~run_edge[1:] & (full[1:] != full[:-1])) + 1
    if len(mixed_at):
        run_id = np.cumsum(run_edge) - 1
        sel = np.flatnonzero(np.isin(run_id, np.unique(run_id[mixed_at])))
        moved = sel[np.lexsort((sel, full[sel], run_id[sel]))]  # stable within (run, key): item order kept
        for values in (full, item, *attrs.values()):
            values[sel] = values[moved]
    del run_edge
    edge = np.ones(len(full), dtype=bool)
    edge[1:] = full[1:] != full[:-1]
    start = np.flatnonzero(edge)
    size = np.diff(np.append(start, len(full)))
    if bool((size < 2).any()):  # chance meetings of upper halves: single keys after all
        keep = np.repeat(size >= 2, size)
        full, item = full[keep], item[keep]
        attrs = {name: values[keep] for name, values in attrs.items()}
        size = size[size >= 2]
        start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
    if not len(size):
        return None
    split = np.searchsorted(bases, item, side="right") - 1
    return Groups(key=full[start], start=start.astype(np.int64), size=size.astype(np.int64),
                  split=split.astype(np.int64), pos=item - bases[split], attrs=attrs)


def _packed_keys(splits: list[ItemHashes], sizes: list[int], bases: np.ndarray, kind: str, bits: int,
                 bucket: int, total: int, scratch: np.ndarray | None = None, attrs: tuple[str, ...] = ()
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, dict[str, np.ndarray]]:
    """The keys of one partition (those whose top ``bits`` bits are ``bucket``), each packed as upper
    half | its number in the partition; and per number its item number across the splits (``None``
    when every key is in the partition: the same), its key's lower half and its ``attrs``.

    Everything but the packed keys is written in the splits' order, part after part (no random
    access): the sorted keys then find their lower half and attributes by number."""
    if not bits:  # every key: written straight into place, no temporaries the size of a part
        keys = scratch[:total] if scratch is not None and len(scratch) >= total else np.empty(total, dtype=np.uint64)
        low = np.empty(total, dtype=np.uint32)
        extra: dict[str, np.ndarray] = {}
        numbers = np.arange(max(len(p) for h, n in zip(splits, sizes) if n for p in h.parts(kind)), dtype=np.uint64)
        at = 0
        for hashes, size in zip(splits, sizes):
            if not size:
                continue
            columns = [hashes.parts(a) for a in attrs]
            for k, part in enumerate(hashes.parts(kind)):
                seg = keys[at:at + len(part)]
                np.bitwise_and(part, _HIGH, out=seg)
                seg += numbers[:len(part)]  # the low halves are zero: adding is or-ing
                seg += np.uint64(at)
                low[at:at + len(part)] = part  # the lower 32 bits
                for a, column in zip(attrs, columns):
                    values = column[k]
                    if a not in extra:
                        extra[a] = np.empty(total, dtype=values.dtype)
                    extra[a][at:at + len(part)] = values
                at += len(part)
        return keys, None, low, extra
    segments: list[np.ndarray] = []
    items: list[np.ndarray] = []
    lows: list[np.ndarray] = []
    extras: dict[str, list[np.ndarray]] = {a: [] for a in attrs}
    count = 0
    for hashes, size, base in zip(splits, sizes, bases.tolist()):
        if not size:
            continue
        columns = [hashes.parts(a) for a in attrs]
        at = base
        for k, part in enumerate(hashes.parts(kind)):
            keep = np.flatnonzero((part >> np.uint64(64 - bits)) == bucket)
            chosen = part[keep]
            segments.append((chosen & _HIGH) | np.arange(count, count + len(keep), dtype=np.uint64))
            items.append((keep + at).astype(np.uint32))
            lows.append(chosen.astype(np.uint32))
            for a, column in zip(attrs, columns):
                extras[a].append(column[k][keep])
            count += len(keep)
            at += len(part)
    if not segments:
        e = np.zeros(0, dtype=np.uint64)
        return e, e.astype(np.uint32), e.astype(np.uint32), {a: e for a in attrs}
    return (np.concatenate(segments), np.concatenate(items), np.concatenate(lows),
            {a: np.concatenate(v) for a, v in extras.items()})


def _partitions_wide(splits: list[ItemHashes], sizes: list[int], kind: str, bits: int,
                     attrs: tuple[str, ...] = ()) -> Iterator[Groups]:
    """:func:`partitions` for 2**32 items or more: (key, split, position) sorted together."""
    for bucket in range(1 << bits):
        keys, split, pos = [], [], []
        extras: dict[str, list[np.ndarray]] = {a: [] for a in attrs}
        for j, (hashes, n) in enumerate(zip(splits, sizes)):
            if not n:
                continue
            columns = [hashes.parts(a) for a in attrs]
            at = 0
            for k, part in enumerate(hashes.parts(kind)):
                keep = np.flatnonzero((part >> np.uint64(64 - bits)) == bucket) if bits else np.arange(len(part))
                keys.append(part[keep])
                split.append(np.full(len(keep), j, dtype=np.int64))
                pos.append(keep.astype(np.int64) + at)
                for a, column in zip(attrs, columns):
                    extras[a].append(column[k][keep])
                at += len(part)
        if not keys:
            continue
        k_, s_, p_ = np.concatenate(keys), np.concatenate(split), np.concatenate(pos)
        order = np.lexsort((p_, s_, k_))
        k_, s_, p_ = k_[order], s_[order], p_[order]
        edge = np.ones(len(k_), dtype=bool)
        edge[1:] = k_[1:] != k_[:-1]
        start = np.flatnonzero(edge)
        size = np.diff(np.append(start, len(k_)))
        keep = np.repeat(size >= 2, size)
        if not keep.any():
            continue
        size = size[size >= 2]
        start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
        yield Groups(key=k_[keep][start], start=start, size=size.astype(np.int64), split=s_[keep], pos=p_[keep],
                     attrs={a: np.concatenate(v)[order][keep] for a, v in extras.items()})


def smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest ``values`` (ascending by value), in linear time."""
    if len(values) <= k:
        return np.argsort(values, kind="stable")
    part = np.argpartition(values, k)[:k]
    return part[np.argsort(values[part], kind="stable")]
