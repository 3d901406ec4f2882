"""``duplicates``, ``near_duplicates``, ``split_overlap`` and ``near_split_overlap``.

All four read the content hashes every profiler keeps (rows and images alike);
near copies use the normalised-text hash (text) or the perceptual hash (images).
Exact keys are compared through the key stage (:mod:`dataaudit.profile.keys`):
:func:`key_answers` reduces each partition's groups of equal keys to what the
checks report (counts for every group, capped examples), so a key held by a
million items costs what a million distinct keys cost.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.hashes import ItemHashes
from dataaudit.profile import keys
from dataaudit.profile.keys import Groups, partition_bits, partitions, smallest
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity

EXAMPLE_KEEP = 50
"""Examples kept per answer of the key stage (more when the configuration asks for more)."""


@dataclass
class Examples:
    """The ``cap`` earliest items of an answer, each with the item it matches (and both labels)."""

    cap: int
    item: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    other: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))
    other_label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))

    def add(self, item: np.ndarray, other: np.ndarray, label: np.ndarray | None = None,
            other_label: np.ndarray | None = None) -> None:
        """Offer candidates; only the ``cap`` earliest items of all offered are kept."""
        if not len(item):
            return
        if len(item) > self.cap:  # linear: only the earliest few are looked at further
            keep = smallest(item, self.cap)
            item, other = item[keep], other[keep]
            label = label[keep] if label is not None else None
            other_label = other_label[keep] if other_label is not None else None
        z = np.zeros(len(item), dtype=np.uint32)
        items = np.concatenate((self.item, item))
        keep = smallest(items, self.cap)
        self.other = np.concatenate((self.other, other))[keep]
        self.label = np.concatenate((self.label, z if label is None else label.astype(np.uint32)))[keep]
        self.other_label = np.concatenate((self.other_label, z if other_label is None
                                           else other_label.astype(np.uint32)))[keep]
        self.item = items[keep]

    def merged(self, other: Examples) -> Examples:
        """The earliest of both (an item offered by both keeps this one's partner)."""
        out = Examples(self.cap)
        fresh = ~np.isin(other.item, self.item)
        out.add(np.concatenate((self.item, other.item[fresh])), np.concatenate((self.other, other.other[fresh])),
                np.concatenate((self.label, other.label[fresh])),
                np.concatenate((self.other_label, other.other_label[fresh])))
        return out

    def pairs(self) -> list[tuple[int, int, int, int]]:
        """``(item, other item, label, other label)``, earliest item first."""
        return list(zip(self.item.tolist(), self.other.tolist(), self.label.tolist(), self.other_label.tolist()))


@dataclass
class KeyAnswers:
    """What the checks report about one kind of key, for every split (numbered as in ``stats.ordered``).

    Counts cover every group; examples are the earliest ``cap``. For ``content``
    keys: duplicates (same content and label) and label conflicts within each
    split, and per pair of splits ``(earlier, later)`` which items of the later
    one have their content in the earlier one (and, against the reference split,
    under another label). For normalised text (``norm``): the items whose
    normalised text repeats an earlier item's with different raw text, within a
    split and across splits, and the exact text copies across splits.
    """

    kind: str
    cap: int
    splits: int
    dup_count: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dup_groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dup_largest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dup_examples: list[Examples] = field(default_factory=list)
    conflict_groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conflict_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conflict_examples: list[Examples] = field(default_factory=list)
    matched: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    """Per ``(earlier, later)``: a flag per position of the later split, set where its key (its exact
    text, for ``norm``) occurs in the earlier split."""
    matched_examples: dict[tuple[int, int], Examples] = field(default_factory=dict)
    cross_conflicts: dict[int, int] = field(default_factory=dict)
    """Per later split: items whose content occurs in the reference split under another label."""
    cross_conflict_examples: dict[int, Examples] = field(default_factory=dict)
    near: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = field(default_factory=dict)
    """Per split (``norm``): items whose normalised text equals an earlier item's, raw text differing,
    and that earlier item (the first of the group)."""
    near_across: dict[tuple[int, int], tuple[list[np.ndarray], list[np.ndarray]]] = field(default_factory=dict)
    """Per ``(earlier, later)`` (``norm``): later items whose normalised text occurs in the earlier split
    while their exact text does not, and the earliest earlier item with that normalised text."""

    def __post_init__(self) -> None:
        s = self.splits
        self.dup_count, self.dup_groups, self.dup_largest = (np.zeros(s, dtype=np.int64) for _ in range(3))
        self.conflict_groups, self.conflict_items = np.zeros(s, dtype=np.int64), np.zeros(s, dtype=np.int64)
        self.dup_examples = [Examples(self.cap) for _ in range(s)]
        self.conflict_examples = [Examples(self.cap) for _ in range(s)]

    def near_items(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items, firsts)`` of split ``j``'s near text copies, ordered by item."""
        return _ordered(*self.near.get(j, ([], [])))

    def near_across_items(self, e: int, later: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items of later, earliest earlier item)`` of the near text copies, ordered by item."""
        return _ordered(*self.near_across.get((e, later), ([], [])))


def _ordered(items: list[np.ndarray], others: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not items:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a, b = np.concatenate(items), np.concatenate(others)
    order = np.argsort(a, kind="stable")
    return a[order], b[order]


def key_answers(stats: DatasetStats, kind: str, example_cap: int = EXAMPLE_KEEP,
                progress: Callable[[int, int], None] | None = None) -> KeyAnswers:
    """The :class:`KeyAnswers` of ``kind`` keys over every split, built on first use and shared.

    ``progress(done, total)`` is called after each partition.
    """
    cache = stats.derived.setdefault("answers", {})
    cap = max(example_cap, EXAMPLE_KEEP)
    got: KeyAnswers | None = cache.get(kind)
    if got is not None and got.cap >= cap:
        return got
    with _LOCK:  # the scanner may be building it in its index thread
        got = cache.get(kind)
        if got is None or got.cap < cap:
            got = cache[kind] = _answer(stats, kind, cap, progress)
    return got


_LOCK = threading.Lock()


def _answer(stats: DatasetStats, kind: str, cap: int, progress: Callable[[int, int], None] | None) -> KeyAnswers:
    ordered = stats.ordered
    hashes = [s.hashes for s in ordered]
    ans = KeyAnswers(kind, cap, len(ordered))
    for e in range(len(ordered)):
        for later in range(e + 1, len(ordered)):
            ans.matched[e, later] = np.zeros(len(hashes[later]), dtype=bool)
            ans.matched_examples[e, later] = Examples(cap)
    ref = _position(stats, stats.reference) if stats.reference is not None else None
    labels = kind == "content" and any(len(h) and h.has("label") for h in hashes)
    total = sum(len(h) for h in hashes if len(h) and h.has(kind))
    size = keys.PARTITION_ITEMS
    scratch = _scratch(total) if 0 < total <= size else None
    n_parts = 1 << partition_bits(total, size)
    attrs = ("label",) if labels else ("raw",) if kind == "norm" else ()
    for done, g in enumerate(partitions(hashes, kind, size, scratch, attrs), 1):
        if kind == "content":
            _reduce_content(g, hashes, ans, ref, labels)
        else:
            _reduce_text(g, hashes, ans)
        if progress is not None:
            progress(done, n_parts)
    return ans


@dataclass
class _Runs:
    """A partition's members as runs of one group and one split, with each run's earliest item."""

    start: np.ndarray
    size: np.ndarray
    group: np.ndarray
    split: np.ndarray
    run_of: np.ndarray
    """Per member: its run."""
    index: np.ndarray
    """Per member: its item index."""
    first: np.ndarray
    """Per run: its earliest item index."""
    is_first: np.ndarray
    """Per member: whether it is its run's earliest item."""

    def first_value(self, values: np.ndarray) -> np.ndarray:
        """Per run: ``values`` of its earliest member."""
        out = np.zeros(len(self.start), dtype=values.dtype)
        out[self.run_of[self.is_first]] = values[self.is_first]
        return out

    def members(self, runs: np.ndarray) -> np.ndarray:
        """The members of the runs flagged in ``runs`` (a flag per run)."""
        return np.repeat(runs, self.size)


def _runs(g: Groups, hashes: list[ItemHashes]) -> _Runs:
    start, size, grp, split = g.runs()
    run_of = np.repeat(np.arange(len(start), dtype=np.int64), size)
    index = g.index(hashes)
    first = np.minimum.reduceat(index, start)
    return _Runs(start, size, grp, split, run_of, index, first, index == first[run_of])


def _present(split: np.ndarray, n: int) -> list[int]:
    """The split numbers that occur in ``split`` (a linear count, no sort)."""
    return np.flatnonzero(np.bincount(split, minlength=n)).tolist()


def _per_split(split: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(split, weights=weights, minlength=n).astype(np.int64)


def _reduce_content(g: Groups, hashes: list[ItemHashes], ans: KeyAnswers, ref: int | None, labels: bool) -> None:
    """Fold one partition of content groups into ``ans``."""
    s = ans.splits
    r = _runs(g, hashes)
    label = g.attrs["label"].astype(np.uint32) if labels else np.zeros(len(g.pos), dtype=np.uint32)
    run_label = r.first_value(label)
    differs = label != run_label[r.run_of]
    mixed = np.maximum.reduceat(differs.view(np.uint8), r.start).astype(bool) if len(r.start) else differs[:0]
    msplit = g.split
    # duplicates: same content and same label within a split
    pure = ~mixed & (r.size >= 2)
    ans.dup_count += _per_split(r.split[pure], s, (r.size[pure] - 1).astype(np.float64))
    ans.dup_groups += _per_split(r.split[pure], s)
    for j in _present(r.split[pure], s):
        ans.dup_largest[j] = max(int(ans.dup_largest[j]), int(r.size[pure & (r.split == j)].max()))
    repeat = r.members(pure) & ~r.is_first
    for j in _present(msplit[repeat], s):
        sel = repeat & (msplit == j)
        ans.dup_examples[j].add(r.index[sel], r.first[r.run_of[sel]])
    if mixed.any():  # runs whose items carry several labels: duplicates are the items of one label
        sel = np.flatnonzero(r.members(mixed))
        order = sel[np.lexsort((r.index[sel], label[sel], r.run_of[sel]))]
        run, lab, idx = r.run_of[order], label[order], r.index[order]
        edge = np.ones(len(order), dtype=bool)
        edge[1:] = (run[1:] != run[:-1]) | (lab[1:] != lab[:-1])
        starts = np.flatnonzero(edge)
        sizes = np.diff(np.append(starts, len(order)))
        sub_split = msplit[order][starts]
        many = sizes >= 2
        ans.dup_count += _per_split(sub_split[many], s, (sizes[many] - 1).astype(np.float64))
        ans.dup_groups += _per_split(sub_split[many], s)
        for j in _present(sub_split[many], s):
            ans.dup_largest[j] = max(int(ans.dup_largest[j]), int(sizes[many & (sub_split == j)].max()))
        sub_of = np.repeat(np.arange(len(starts)), sizes)
        tail = ~edge
        for j in _present(msplit[order][tail], s):
            at = tail & (msplit[order] == j)
            ans.dup_examples[j].add(idx[at], idx[starts[sub_of[at]]])
        # conflicting labels within a split: every item of a mixed run, examples the items whose
        # label differs from the run's earliest item's
        ans.conflict_groups += _per_split(r.split[mixed], s)
        ans.conflict_items += _per_split(r.split[mixed], s, r.size[mixed].astype(np.float64))
        for j in _present(r.split[mixed], s):
            at = differs & (msplit == j)
            ans.conflict_examples[j].add(r.index[at], r.first[r.run_of[at]], label[at], run_label[r.run_of[at]])
    # across splits: per group, which splits hold it, their earliest item and its label
    n_groups = len(g.size)
    present = np.zeros((n_groups, s), dtype=bool)
    present[r.group, r.split] = True
    first_of = np.full((n_groups, s), -1, dtype=np.int64)
    first_of[r.group, r.split] = r.first
    label_of = np.zeros((n_groups, s), dtype=np.uint32)
    label_of[r.group, r.split] = run_label
    for (e, later), flags in ans.matched.items():
        runs = (r.split == later) & present[r.group, e]
        if not runs.any():
            continue
        sel = r.members(runs)
        grp = r.group[r.run_of[sel]]
        flags[g.pos[sel]] = True
        ans.matched_examples[e, later].add(r.index[sel], first_of[grp, e])
        if e == ref and labels:
            clash = label[sel] != label_of[grp, e]
            if clash.any():
                ans.cross_conflicts[later] = ans.cross_conflicts.get(later, 0) + int(clash.sum())
                ex = ans.cross_conflict_examples.setdefault(later, Examples(ans.cap))
                ex.add(r.index[sel][clash], first_of[grp[clash], e], label[sel][clash], label_of[grp[clash], e])


def _reduce_text(g: Groups, hashes: list[ItemHashes], ans: KeyAnswers) -> None:
    """Fold one partition of normalised-text groups into ``ans``."""
    s = ans.splits
    r = _runs(g, hashes)
    raw = g.attrs["raw"].astype(np.uint32)
    run_raw = r.first_value(raw)
    near = (raw != run_raw[r.run_of])  # the earliest member's own raw text equals itself
    if near.any():
        for j in _present(g.split[near], s):
            at = near & (g.split == j)
            items, firsts = ans.near.setdefault(j, ([], []))
            items.append(r.index[at])
            firsts.append(r.first[r.run_of[at]])
    n_groups = len(g.size)
    present = np.zeros((n_groups, s), dtype=bool)
    present[r.group, r.split] = True
    first_of = np.full((n_groups, s), -1, dtype=np.int64)
    first_of[r.group, r.split] = r.first
    # groups whose members all have the same raw text (most): each member is an exact copy of the others
    uniform = np.minimum.reduceat(raw, g.start) == np.maximum.reduceat(raw, g.start)
    member_group = r.group[r.run_of]
    for (e, later), flags in ans.matched.items():
        runs = (r.split == later) & present[r.group, e]
        if not runs.any():
            continue
        sel = np.flatnonzero(r.members(runs))
        exact = uniform[member_group[sel]]
        hit = sel[exact]
        odd = sel[~exact]
        shown = np.zeros(0, dtype=np.int64)
        if len(hit):
            shown = hit[smallest(r.index[hit], ans.cap)]
            ans.matched_examples[e, later].add(r.index[shown], first_of[member_group[shown], e])
        if len(odd):  # groups of several raw texts: an exact copy is one whose raw text the earlier split has
            text_key = (member_group.astype(np.uint64) << np.uint64(32)) | raw.astype(np.uint64)
            ref_members = np.flatnonzero((g.split == e) & ~uniform[member_group])
            copy = np.isin(text_key[odd], text_key[ref_members])
            if copy.any():
                got = odd[copy]
                hit = np.concatenate((hit, got))
                shown = got[smallest(r.index[got], ans.cap)]
                order = ref_members[np.lexsort((r.index[ref_members], text_key[ref_members]))]
                at = np.searchsorted(text_key[order], text_key[shown])
                ans.matched_examples[e, later].add(r.index[shown], r.index[order[at]])
            miss = odd[~copy]
            if len(miss):
                items, where = ans.near_across.setdefault((e, later), ([], []))
                items.append(r.index[miss])
                where.append(first_of[member_group[miss], e])
        flags[g.pos[hit]] = True


# -- positions of repeated and shared keys (materialised: for callers that need every item) ---------
def key_index(splits: list[ItemHashes], kind: str, bucket_bytes: int = 8 * keys.PARTITION_ITEMS,
              scratch: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each split in order: the positions whose ``kind`` key repeats within the split, those
    whose key occurs in a later split, and those whose key occurs in an earlier one (all ascending).

    Built from the key stage's partitions (``bucket_bytes`` of keys each). The
    checks use :func:`key_answers` instead, which never lists every repeated item.
    """
    found: list[tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = [([], [], []) for _ in splits]
    for g in partitions(splits, kind, partition_items=max(2, bucket_bytes // 8), scratch=scratch):
        start, size, grp, split = g.runs()
        member_run_size = np.repeat(size, size)
        of = g.group_of
        first_split, last_split = g.split[g.start][of], g.split[g.start + g.size - 1][of]
        for j in _present(g.split, len(splits)):
            at = g.split == j
            found[j][0].append(g.pos[at & (member_run_size >= 2)])
            found[j][1].append(g.pos[at & (last_split > j)])
            found[j][2].append(g.pos[at & (first_split < j)])
    e = np.zeros(0, dtype=np.int64)
    return [tuple(np.sort(np.concatenate(lists)) if lists else e for lists in triple)  # type: ignore[misc]
            for triple in found]


def repeated(hashes: ItemHashes, kind: str) -> np.ndarray:
    """Positions of the items whose ``kind`` hash occurs more than once (ascending)."""
    return key_index([hashes], kind)[0][0]


def repeated_in(stats: DatasetStats, split: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``split`` whose ``kind`` key repeats within it."""
    return _positions(stats, split, kind, 0)


def shared_with_others(stats: DatasetStats, ref: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``ref`` whose ``kind`` key occurs in a later split."""
    return _positions(stats, ref, kind, 1)


def shared_with_earlier(stats: DatasetStats, split: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``split`` whose ``kind`` key occurs in an earlier split."""
    return _positions(stats, split, kind, 2)


def _positions(stats: DatasetStats, split: SplitStats, kind: str, which: int) -> np.ndarray:
    at = _position(stats, split)
    if at is None:  # not one of the dataset's splits: compared with all of them
        if which == 0:
            return repeated(split.hashes, kind)
        return _shared_by_set(split.hashes, [s.hashes for s in stats.ordered], kind)
    cache = stats.derived.setdefault("positions", {})
    if kind not in cache:
        cache[kind] = key_index([s.hashes for s in stats.ordered], kind)
    out: np.ndarray = cache[kind][at][which]
    return out


def group(keys: np.ndarray, positions: np.ndarray, hashes: ItemHashes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of two or more of ``positions`` sharing a key: ``(order, group_start, group_size)``.

    ``order`` lists the grouped positions sorted by key then item index (so a
    group's first member is its earliest item); each group starts at
    ``group_start`` within ``order``. ``keys`` are the keys of ``positions``.
    """
    e = np.zeros(0, dtype=np.int64)
    if len(positions) < 2:
        return e, e, e
    sort = np.lexsort((hashes.index_at(positions), keys))
    k, order = keys[sort], positions[sort]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
    if (sizes < 2).any():
        keep = np.repeat(sizes >= 2, sizes)
        order, k = order[keep], k[keep]
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1]))) if len(k) else e
        sizes = np.diff(np.concatenate((starts, [len(k)]))) if len(k) else e
    return order, starts, sizes


def matches_in(stats: DatasetStats, ref: SplitStats, split: SplitStats, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the items of ``split``, a later split than ``ref``, whose ``kind`` key is among
    ``ref``'s (ascending), and for each the smallest ``ref`` item index holding that key."""
    candidates = shared_with_earlier(stats, split, kind)
    hit, where = lookup(stats, ref, kind, split.hashes.take(kind, candidates))
    return candidates[hit], where[hit]


def _position(stats: DatasetStats, split: SplitStats) -> int | None:
    # identity: split statistics compare by value
    return next((i for i, s in enumerate(stats.ordered) if s is split), None)


def precompute(stats: DatasetStats, example_cap: int = EXAMPLE_KEEP,
               progress: Callable[[str, int, int], None] | None = None) -> None:
    """Build the key stage's answers the checks share (content keys, and normalised text).

    The checks would build a missing one themselves; the scanner calls this in a
    thread of its own while the checks that do not need the answers run. Small
    datasets index both kinds side by side (the sorts release the GIL); large
    ones one after the other, so that only one partition's temporaries are
    alive at a time. ``progress(kind, done, total)`` follows the partitions.
    """
    kinds = [k for k in ("content", "norm") if any(len(s.hashes) and s.hashes.has(k) for s in stats.ordered)]
    n = sum(len(s.hashes) for s in stats.ordered)

    def index(kind: str) -> None:
        key_answers(stats, kind, example_cap, None if progress is None else lambda d, t: progress(kind, d, t))

    if len(kinds) < 2 or n > keys.PARTITION_ITEMS:
        for kind in kinds:
            index(kind)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(kinds) - 1, thread_name_prefix="dataaudit-index") as pool:
        others = [pool.submit(index, kind) for kind in kinds[1:]]
        index(kinds[0])
        for other in others:
            other.result()


def _scratch(n: int) -> np.ndarray:
    """An uninitialised uint64 array for the packed keys of one kind of key.

    Allocated without numpy's transparent-huge-page advice: with the kernel's
    default ``defrag=madvise``, the first touch of an advised region compacts
    memory synchronously, which late in a scan (memory fragmented by the batches)
    measured 0.04-0.2 s for 84 MB against a steady 0.045 s without the advice.
    """
    multiarray = getattr(getattr(np, "_core", None), "multiarray", None)  # private: numpy >= 2
    get, put = (getattr(multiarray, f"_{verb}_madvise_hugepage", None) for verb in ("get", "set"))
    if get is None or put is None:
        return np.empty(n, dtype=np.uint64)
    with _ADVICE:  # the setting is process-wide: two indexes allocating at once must not mix it up
        advised = get()
        put(False)
        try:
            return np.empty(n, dtype=np.uint64)
        finally:
            put(advised)


_ADVICE = threading.Lock()


def _shared_by_set(hashes: ItemHashes, others: list[ItemHashes], kind: str) -> np.ndarray:
    """Positions of ``hashes`` whose ``kind`` key is among ``others``' (a hash-set probe)."""
    wanted = [h.series(kind) for h in others if h is not hashes and len(h) and h.has(kind)]
    if not len(hashes) or not hashes.has(kind) or not wanted:
        return np.zeros(0, dtype=np.int64)
    keys = pl.concat(wanted, rechunk=False)  # is_in hashes it into a set: no unique() pass first
    return np.flatnonzero(hashes.series(kind).is_in(keys.implode()).to_numpy())


def lookup(stats: DatasetStats, ref: SplitStats, kind: str, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query key: is it among ``ref``'s ``kind`` keys, and the smallest ref item index holding it."""
    n = len(query)
    where = np.zeros(n, dtype=np.int64)
    pos = shared_with_others(stats, ref, kind)
    if len(pos) == 0 or n == 0:
        return np.zeros(n, dtype=bool), where
    keys = ref.hashes.take(kind, pos)  # the few keys ref shares with later splits: a small set to probe
    hit = pl.Series(query).is_in(pl.Series(keys).implode()).to_numpy()
    at = np.flatnonzero(hit)
    if len(at):
        first = pl.DataFrame({"k": keys, "i": ref.hashes.index_at(pos)}).group_by("k").agg(pl.col("i").min())
        where[at] = (pl.Series("k", query[at]).to_frame().join(first, on="k", how="left", maintain_order="left")
                     .get_column("i").to_numpy())
    return hit, where


def _severity(frac: float, p: dict[str, Any]) -> Severity:
    if frac >= p["error_fraction"]:
        return Severity.ERROR
    if frac >= p["warning_fraction"]:
        return Severity.WARNING
    return Severity.INFO


def _noun(split: SplitStats) -> str:
    return "images" if split.kind == "image" else "rows"


@register_check({"duplicates": {"warning_fraction": 0.01, "error_fraction": 0.1}})
def duplicates(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Items repeated within one split (same content and same label)."""
    p = ctx.params("duplicates")
    ans = key_answers(stats, "content", ctx.example_cap)
    for j, split in enumerate(stats.ordered):
        count = int(ans.dup_count[j]) if len(split.hashes) >= 2 else 0
        if not count:
            continue
        groups = int(ans.dup_groups[j])
        examples = [{**split.item(a), "duplicate_of": split.item(b)}
                    for a, b, _, _ in ans.dup_examples[j].pairs()[: ctx.example_cap]]
        frac = count / max(split.rows, 1)
        yield Finding(
            check="duplicates", severity=_severity(frac, p), split=split.name, count=count, fraction=frac,
            message=f"{count} {_noun(split)} of {split.name} repeat another item of {split.name} exactly "
                    f"({groups} groups, {frac:.1%})",
            examples=examples,
            details={"groups": groups, "largest_group": int(ans.dup_largest[j]),
                     "warning_fraction": p["warning_fraction"], "error_fraction": p["error_fraction"],
                     "compared": "content and label" + ("" if split.kind == "image" else
                                                        "; id columns excluded: " + ", ".join(stats.id_columns)
                                                        if stats.id_columns else "")},
        )


def _overlap_pairs(stats: DatasetStats) -> Iterator[tuple[SplitStats, SplitStats, bool]]:
    """(earlier, later, later-is-compared-with-reference) pairs of splits."""
    ordered = [s for s in stats.ordered if len(s.hashes)]
    ref = stats.reference
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            yield earlier, later, earlier is ref


def free_text(stats: DatasetStats) -> bool:
    """Whether the text column holds free text (not a handful of categories spelled out).

    Exact copies of free text across splits are leaks whatever the other
    columns hold; a text column with few distinct values repeats by nature.
    """
    ref = stats.reference
    if not stats.text_column or ref is None or not _has_text_hashes(ref):
        return False
    col = ref.columns.get(stats.text_column)
    if col is None or col.values is None:  # more distinct values than are counted
        return True
    filled = max(col.count - col.nulls - col.empty, 1)
    return len(col.values) >= 0.5 * filled


@register_check({
    "split_overlap": {"error_fraction": 0.0, "error_min_count": 1},
})
def split_overlap(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Items of one split whose exact content (label excluded), or exact text, occurs in an earlier split."""
    p = ctx.params("split_overlap")
    ans = key_answers(stats, "content", ctx.example_cap)
    text = key_answers(stats, "norm", ctx.example_cap) if free_text(stats) else None
    for earlier, later, vs_ref in _overlap_pairs(stats):
        e, at = _position(stats, earlier), _position(stats, later)
        assert e is not None and at is not None
        flags = ans.matched[e, at]
        examples = ans.matched_examples[e, at]
        by_text = 0
        if text is not None and (e, at) in text.matched:
            by_text = int((text.matched[e, at] & ~flags).sum())
            if by_text:
                flags = flags | text.matched[e, at]
                examples = examples.merged(text.matched_examples[e, at])
        count = int(flags.sum())
        if count == 0:
            continue
        frac = count / max(later.rows, 1)
        leak = vs_ref and count >= p["error_min_count"] and frac > p["error_fraction"]
        how = "exact content match" + (f"; {by_text} by exact text alone" if by_text else "")
        yield Finding(
            check="split_overlap", severity=Severity.ERROR if leak else Severity.WARNING, split=later.name,
            count=count, fraction=frac,
            message=f"{count} {later.name} {_noun(later)} also occur in {earlier.name} "
                    f"({how}, {frac:.1%} of {later.name})",
            examples=[{**later.item(a), "duplicate_of": earlier.item(b)}
                      for a, b, _, _ in examples.pairs()[: ctx.example_cap]],
            details={"other_split": earlier.name, "compared": "content, label excluded"
                     + (f"; or the exact text of {stats.text_column!r}" if text is not None else ""),
                     "id_columns_excluded": stats.id_columns, "text_matches": by_text},
        )


def _has_text_hashes(split: SplitStats) -> bool:
    """Whether the split has normalised and raw text hashes for every item."""
    return split.hashes.has("norm") and split.hashes.has("raw")


def _near_in_groups(stats: DatasetStats, split: SplitStats) -> tuple[np.ndarray, np.ndarray]:
    """Items whose normalised text equals an earlier item's while the raw text differs.

    Returns ``(item, first item of its group)`` index arrays, ordered by item.
    """
    at = _position(stats, split)
    if at is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return key_answers(stats, "norm").near_items(at)


def _near_text_across(stats: DatasetStats, ref: SplitStats, other: SplitStats) -> tuple[np.ndarray, np.ndarray]:
    """Items of ``other`` whose normalised text occurs in ``ref`` while that exact text does not.

    Returns ``(other item index, earliest ref item index with the same normalised text)``.
    """
    e, at = _position(stats, ref), _position(stats, other)
    if not _has_text_hashes(other) or e is None or at is None or e >= at:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return key_answers(stats, "norm").near_across_items(e, at)


def _phash(split: SplitStats) -> tuple[np.ndarray, np.ndarray] | None:
    ph = split.extra.get("phash")
    pi = split.extra.get("phash_index")
    if ph is None or pi is None or len(ph) == 0:
        return None
    return np.asarray(ph, dtype=np.uint64), np.asarray(pi, dtype=np.int64)


def _content_of(split: SplitStats, items: np.ndarray) -> np.ndarray:
    """Content hash of each item index (0 for items that have none, e.g. undecodable)."""
    idx, content = split.hashes.index(), split.hashes.content
    if len(idx) == 0:
        return np.zeros(len(items), dtype=np.uint64)
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    pos = np.clip(np.searchsorted(sorted_idx, items), 0, len(idx) - 1)
    return np.where(sorted_idx[pos] == items, content[order][pos], np.uint64(0))


def _crop_candidates(later: np.ndarray, earlier: np.ndarray | None, radius: int) -> np.ndarray:
    """Pairs ``(position in later, position in earlier, 0)`` the thumbnails' crop keys propose.

    The crop keys within ``radius``, and each image's :func:`shifted_keys` within
    ``radius - SHIFT_RADIUS_LESS`` of the other image's crop key, both ways
    (``earlier`` ``None``: ``later`` with itself, rows with the second position
    the smaller).
    """
    from dataaudit.profile.hamming import near_pairs
    from dataaudit.profile.thumbs import SHIFTS, crop_key, shifted_keys

    lk, ls = crop_key(later), shifted_keys(later)
    near = max(radius - SHIFT_RADIUS_LESS, 0)
    n = len(lk)
    if earlier is None:
        plain = near_pairs(lk, None, radius)
        q = near_pairs(ls.ravel(), lk, near)
        i, j = q[:, 0] // SHIFTS, q[:, 1]
        keep = i != j
        i, j = i[keep], j[keep]
        shifted = np.stack([np.maximum(i, j), np.minimum(i, j), np.zeros(len(i), dtype=np.int64)], axis=1)
        return np.concatenate([plain, shifted])
    ek, es = crop_key(earlier), shifted_keys(earlier)
    plain = near_pairs(lk, ek, radius)
    q1 = near_pairs(ls.ravel(), ek, near)
    q2 = near_pairs(es.ravel(), lk, near)
    zeros = np.zeros(len(q1) + len(q2), dtype=np.int64)
    i = np.concatenate([q1[:, 0] // SHIFTS, q2[:, 1]])
    j = np.concatenate([q1[:, 1], q2[:, 0] // SHIFTS])
    return np.concatenate([plain, np.stack([i, j, zeros], axis=1)])


SHIFT_RADIUS_LESS = 3
"""The shifted keys are searched within a radius this much smaller than the checks' (8 -> 5):
several per image, they would otherwise propose several times the pairs; measured in
``benchmarks/bench_near_copies.py``, 5 keeps 95-100% of the one-side crops there."""


def _image_pairs(
    later: SplitStats, earlier: SplitStats | None, radius: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Verified perceptual near copies: ``(pairs, figures, candidates)``.

    ``earlier`` ``None`` compares ``later`` with itself. ``pairs`` holds rows
    ``(item of later, item of the other split, pHash Hamming distance)`` (int64) of the
    candidates (pHashes, or the thumbnails' crop keys, within ``radius``; exact
    content copies left out) that the thumbnails confirm
    (:func:`dataaudit.profile.thumbs.verify`); ``figures`` the
    matching rows ``(similarity, similarity needed)``; ``candidates`` how many
    pairs the hashes proposed. Stats without thumbnails (from an older profile)
    keep every candidate, with NaN figures.
    """
    from dataaudit.profile.hamming import near_pairs, popcount64
    from dataaudit.profile.thumbs import verify

    empty = np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2)), 0
    lp = _phash(later)
    ep = lp if earlier is None else _phash(earlier)
    if lp is None or ep is None:
        return empty
    other = later if earlier is None else earlier
    lt, et = later.extra.get("thumb"), other.extra.get("thumb")
    verifiable = lt is not None and et is not None and len(lt) == len(lp[0]) and len(et) == len(ep[0])
    found = near_pairs(lp[0], None if earlier is None else ep[0], radius)
    if verifiable and lt is not None and et is not None:
        found = np.concatenate([found, _crop_candidates(np.asarray(lt), None if earlier is None else np.asarray(et),
                                                        radius)])
        if len(found):
            found = np.unique(found[:, :2], axis=0)
            dist = popcount64(lp[0][found[:, 0]] ^ ep[0][found[:, 1]]).astype(np.int64)
            found = np.concatenate([found, dist[:, None]], axis=1)
    if len(found) == 0:
        return empty
    a, b = lp[1][found[:, 0]], ep[1][found[:, 1]]
    keep = np.flatnonzero(_content_of(later, a) != _content_of(other, b))
    found, a, b = found[keep], a[keep], b[keep]
    candidates = len(found)
    if not verifiable or lt is None or et is None:
        figures = np.full((len(found), 2), np.nan)
        return np.stack([a, b, found[:, 2]], axis=1), figures, candidates
    similarity, needed = verify(lt, et, found[:, 0], found[:, 1])
    ok = similarity >= needed
    pairs = np.stack([a[ok], b[ok], found[ok, 2]], axis=1)
    return pairs, np.stack([similarity[ok], needed[ok]], axis=1), candidates


def _figures_of(ex: dict[str, Any], dist: int | None, sim: float, need: float) -> dict[str, Any]:
    """``ex`` with the figures behind a perceptual near copy (when there are any)."""
    if dist is not None:
        ex["hamming_distance"] = dist
    if not math.isnan(sim):
        ex["similarity"] = round(sim, 4)
        ex["similarity_needed"] = round(need, 4)
    return ex


_VERIFIED = ("perceptual hash (of the image, or of its thumbnail's centre for crops) within Hamming distance "
             "{r}, confirmed by the correlation of 16x16 "
             "thumbnails (the correlation needed grows with how little detail the images hold)")


@register_check({
    "near_duplicates": {"warning_fraction": 0.01, "error_fraction": 0.25, "hamming_radius": 8},
})
def near_duplicates(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Near copies within a split: normalised text (case, Unicode, whitespace) or perceptual hash
    confirmed by thumbnails."""
    p = ctx.params("near_duplicates")
    nan = float("nan")
    for split in stats.ordered:
        pairs: list[tuple[int, int, int | None, float, float]] = []
        extra_count = 0
        text = _has_text_hashes(split)
        if text:
            items, firsts = _near_in_groups(stats, split)
            pairs.extend((int(a), int(b), None, nan, nan) for a, b in zip(items[: 10 * ctx.example_cap].tolist(),
                                                                         firsts[: 10 * ctx.example_cap].tolist()))
            extra_count = max(0, len(items) - 10 * ctx.example_cap)
        image = _phash(split) is not None
        candidates = 0
        if image:
            found, figures, candidates = _image_pairs(split, None, int(p["hamming_radius"]))
            for (x, y, d), (sim, need) in zip(found.tolist(), figures.tolist()):
                pairs.append((max(x, y), min(x, y), int(d), sim, need))
        if not pairs:
            continue
        seen: dict[int, tuple[int, int | None, float, float]] = {}
        for item, of, dist, sim, need in sorted(pairs, key=lambda t: t[:2]):
            if item not in seen:
                seen[item] = (of, dist, sim, need)
        count = len(seen) + extra_count
        frac = count / max(split.rows, 1)
        examples = [_figures_of({**split.item(item), "duplicate_of": split.item(of)}, dist, sim, need)
                    for item, (of, dist, sim, need) in sorted(seen.items())[: ctx.example_cap]]
        how = _VERIFIED.format(r=p["hamming_radius"]) if image else "normalised text (case, Unicode form, whitespace)"
        details: dict[str, Any] = {"method": how, "hamming_radius": p["hamming_radius"] if image else None,
                                   "pairs": len(pairs)}
        if image:
            details["hash_candidates"] = candidates
        yield Finding(
            check="near_duplicates", severity=_severity(frac, p), split=split.name, count=count, fraction=frac,
            message=f"{count} {_noun(split)} of {split.name} are near copies of another item of {split.name} "
                    f"({'perceptual hash, confirmed by thumbnails' if image else how})",
            examples=examples,
            details=details,
        )


@register_check({
    "near_split_overlap": {"warning_fraction": 0.0, "error_fraction": 0.05, "hamming_radius": 8},
})
def near_split_overlap(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Near copies across splits that are not exact copies (those are ``split_overlap``); images
    are perceptual-hash candidates confirmed by thumbnails."""
    p = ctx.params("near_split_overlap")
    nan = float("nan")
    for earlier, later, vs_ref in _overlap_pairs(stats):
        matches: dict[int, tuple[int, int | None, float, float]] = {}
        if _has_text_hashes(later) and _has_text_hashes(earlier):
            for a, b in zip(*_near_text_across(stats, earlier, later)):
                matches.setdefault(int(a), (int(b), None, nan, nan))
        candidates = 0
        image = _phash(later) is not None and _phash(earlier) is not None
        if image:
            found, figures, candidates = _image_pairs(later, earlier, int(p["hamming_radius"]))
            rows = sorted(zip(found.tolist(), figures.tolist()), key=lambda t: (t[0][0], t[0][2], -t[1][0]))
            for (x, y, dist), (sim, need) in rows:
                matches.setdefault(int(x), (int(y), int(dist), sim, need))
        if not matches:
            continue
        count = len(matches)
        frac = count / max(later.rows, 1)
        sev = _severity(frac, p) if vs_ref else Severity.WARNING
        if sev == Severity.INFO:
            sev = Severity.WARNING
        examples = []
        for item in sorted(matches)[: ctx.example_cap]:
            of, dist, sim, need = matches[item]
            examples.append(_figures_of({**later.item(item), "duplicate_of": earlier.item(of)}, dist, sim, need))
        details: dict[str, Any] = {"other_split": earlier.name, "hamming_radius": p["hamming_radius"],
                                   "warning_fraction": p["warning_fraction"], "error_fraction": p["error_fraction"]}
        if image:
            details["method"] = _VERIFIED.format(r=p["hamming_radius"])
            details["hash_candidates"] = candidates
        yield Finding(
            check="near_split_overlap", severity=sev, split=later.name, count=count, fraction=frac,
            message=f"{count} {later.name} {_noun(later)} are near copies of {earlier.name} items "
                    f"({frac:.1%} of {later.name})",
            examples=examples,
            details=details,
        )
