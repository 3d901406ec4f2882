"""``duplicates``, ``near_duplicates``, ``split_overlap`` and ``near_split_overlap``.

All four read the content hashes every profiler keeps (rows and images alike);
near copies use the normalised-text hash (text) or the perceptual hash (images).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.hashes import ItemHashes
from dataaudit.profile.sample import splitmix64
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity


def repeated(hashes: ItemHashes, kind: str) -> np.ndarray:
    """Positions of the items whose ``kind`` hash occurs more than once (ascending).

    Sorting the upper 32 bits (half the memory of sorting the hashes) finds the
    candidates; in the common case, no repeats, that is all. Otherwise the
    candidates' full 64-bit hashes decide, chunk by chunk, so a large split is
    never copied whole.
    """
    e = np.zeros(0, dtype=np.int64)
    if len(hashes) < 2 or not hashes.has(kind):
        return e
    hi = hashes.high32(kind)
    hi.sort()
    same = hi[1:] == hi[:-1]
    if not same.any():
        return e
    values = np.unique(hi[1:][same])
    del hi, same
    wanted = pl.Series(values).implode()
    cand: list[np.ndarray] = []
    at = 0
    for part in hashes.parts(kind):
        high = pl.Series((part >> np.uint64(32)).astype(np.uint32))
        cand.append(at + np.flatnonzero(high.is_in(wanted).to_numpy()))
        at += len(part)
    pos = np.concatenate(cand)
    keys = hashes.take(kind, pos)
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return pos[counts[inverse] > 1]


def repeated_in(stats: DatasetStats, split: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``split`` whose ``kind`` key repeats within it (shared by the checks)."""
    cache = stats.derived.setdefault("repeated", {})
    if (split.name, kind) not in cache:
        if _position(stats, split) is not None:
            _index_kind(stats, kind)
        else:
            cache[split.name, kind] = repeated(split.hashes, kind)
    out: np.ndarray = cache[split.name, kind]
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


def shared_with_others(stats: DatasetStats, ref: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``ref`` whose ``kind`` key occurs in a later split.

    Splits are compared with the earlier ones (val and test with train, test with
    val); every check that compares splits starts from these positions, and only
    the matching items are looked at further. Built for every split at once by
    :func:`key_index`.
    """
    return _shared(stats, "shared", ref, kind)


def shared_with_earlier(stats: DatasetStats, split: SplitStats, kind: str) -> np.ndarray:
    """Positions of the items of ``split`` whose ``kind`` key occurs in an earlier split.

    The only items of ``split`` that can match an earlier split: a lookup in one
    probes these few instead of every item. Built by :func:`key_index` with
    :func:`shared_with_others`.
    """
    return _shared(stats, "earlier", split, kind)


def _shared(stats: DatasetStats, table: str, split: SplitStats, kind: str) -> np.ndarray:
    """The ``table`` ("shared" or "earlier") positions of ``split`` from the key index, built on first use."""
    cache = stats.derived.setdefault(table, {})
    if (split.name, kind) not in cache:
        if _position(stats, split) is not None:
            _index_kind(stats, kind)
        else:  # not one of the dataset's splits: compared with all of them
            cache[split.name, kind] = _shared_by_set(split.hashes, [s.hashes for s in stats.ordered], kind)
    out: np.ndarray = cache[split.name, kind]
    return out


def matches_in(stats: DatasetStats, ref: SplitStats, split: SplitStats, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the items of ``split``, a later split than ``ref``, whose ``kind`` key is among
    ``ref``'s (ascending), and for each the smallest ``ref`` item index holding that key.

    Only the items of ``split`` whose key occurs in an earlier split are probed
    (:func:`shared_with_earlier`), against only the keys ``ref`` shares with a
    later split (:func:`lookup`).
    """
    candidates = shared_with_earlier(stats, split, kind)
    hit, where = lookup(stats, ref, kind, split.hashes.take(kind, candidates))
    return candidates[hit], where[hit]


def _position(stats: DatasetStats, split: SplitStats) -> int | None:
    # identity: split statistics compare by value
    return next((i for i, s in enumerate(stats.ordered) if s is split), None)


def _index_kind(stats: DatasetStats, kind: str, scratch: np.ndarray | None = None) -> None:
    """Fill the ``repeated`` and ``shared`` caches of every split for one kind of key."""
    ordered = stats.ordered
    repeats = stats.derived.setdefault("repeated", {})
    shared = stats.derived.setdefault("shared", {})
    earlier = stats.derived.setdefault("earlier", {})
    for split, (rep, sh, ea) in zip(ordered, key_index([s.hashes for s in ordered], kind, scratch=scratch)):
        repeats[split.name, kind] = rep
        shared[split.name, kind] = sh
        earlier[split.name, kind] = ea


def precompute(stats: DatasetStats) -> None:
    """Build the key indexes the checks share (repeats within each split, keys shared with later splits).

    The checks would build a missing one themselves; the scanner calls this in a
    thread of its own while the checks that do not need the indexes run. The two
    kinds of key (content, normalised text) are indexed side by side, each in its
    own scratch array (the sorts release the GIL): 0.30 -> 0.20 s on 10.5M rows
    and 2 cores, for the peak memory of two indexes instead of one.
    """
    kinds = [k for k in ("content", "norm") if any(len(s.hashes) and s.hashes.has(k) for s in stats.ordered)]
    n = sum(len(s.hashes) for s in stats.ordered)

    def index(kind: str) -> None:  # larger than a bucket: sorted in buckets, no scratch array
        _index_kind(stats, kind, _scratch(n) if 8 * n <= INDEX_BUCKET_BYTES else None)

    if len(kinds) < 2:
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


INDEX_BUCKET_BYTES = 96 * 1024 * 1024
"""Sort at most about this many bytes of keys at once: larger datasets are indexed in buckets
(by the top bits of the keys), one after the other."""


def key_index(splits: list[ItemHashes], kind: str, bucket_bytes: int = INDEX_BUCKET_BYTES,
              scratch: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each split in order: the positions whose ``kind`` key repeats within the split, those
    whose key occurs in a later split, and those whose key occurs in an earlier one (all ascending).

    One sort over every split's keys answers both questions for all splits: each
    key's upper 32 bits and its item number across the splits are packed into one
    uint64 and sorted, so keys whose upper halves meet end up side by side. Only
    those (the true repeats and, in 10 million keys, some ten thousand chance
    meetings) are looked at further, and their full 64-bit keys decide. Cheaper
    than a sort per split plus a hash-set probe per pair of splits, and the
    temporaries stay within about ``bucket_bytes`` whatever the dataset's size.
    ``scratch`` (uint64, at least as long as all the keys) holds the packed keys
    when they are sorted in one piece, instead of a fresh array.
    """
    e = np.zeros(0, dtype=np.int64)
    sizes = [len(h) if len(h) and h.has(kind) else 0 for h in splits]
    bases = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    total = int(bases[-1])
    if total < 2:
        return [(e, e, e) for _ in splits]
    if total >= 2**32:  # item numbers no longer fit beside the upper halves
        return [(repeated(h, kind), _shared_by_set(h, splits[j + 1:], kind), _shared_by_set(h, splits[:j], kind))
                for j, h in enumerate(splits)]
    bits = max(0, math.ceil(math.log2(max(1.0, 8 * total / bucket_bytes))))
    high_half, low_half = np.uint64(0xFFFFFFFF00000000), np.uint64(0xFFFFFFFF)
    step = 1 << 21  # keys are shifted and compared in windows: no temporary as large as the keys
    window = np.empty(min(step + 1, total), dtype=np.uint64)
    found: list[np.ndarray] = []
    for bucket in range(1 << bits):
        keys = _packed_keys(splits, sizes, bases, kind, bits, bucket, total, scratch)
        keys.sort()
        for a in range(0, max(len(keys) - 1, 0), step):
            w = np.bitwise_and(keys[a:a + step + 1], high_half, out=window[:len(keys[a:a + step + 1])])
            meet = np.flatnonzero(w[1:] == w[:-1])
            if len(meet):
                found.append(keys[a + np.union1d(meet, meet + 1)] & low_half)
        del keys
    items = np.unique(np.concatenate(found)).astype(np.int64) if found else e
    if not len(items):
        return [(e, e, e) for _ in splits]
    which = np.searchsorted(bases, items, side="right") - 1
    local = items - bases[which]
    full = np.empty(len(items), dtype=np.uint64)
    for j, hashes in enumerate(splits):
        sel = which == j
        if sel.any():
            full[sel] = hashes.take(kind, local[sel])
    _, key_group = np.unique(full, return_inverse=True)
    key_group = key_group.reshape(-1).astype(np.int64)
    _, pair, pair_count = np.unique(key_group * len(splits) + which, return_inverse=True, return_counts=True)
    repeats = pair_count[pair.reshape(-1)] > 1
    last = np.full(int(key_group.max()) + 1, -1, dtype=np.int64)
    np.maximum.at(last, key_group, which)
    first = np.full(len(last), len(splits), dtype=np.int64)
    np.minimum.at(first, key_group, which)
    later, earlier = last[key_group] > which, first[key_group] < which
    return [(local[(which == j) & repeats], local[(which == j) & later], local[(which == j) & earlier])
            for j in range(len(splits))]


def _packed_keys(splits: list[ItemHashes], sizes: list[int], bases: np.ndarray, kind: str,
                 bits: int, bucket: int, total: int, scratch: np.ndarray | None = None) -> np.ndarray:
    """The keys of one bucket (those whose top ``bits`` bits are ``bucket``): upper half | item number."""
    high_half = np.uint64(0xFFFFFFFF00000000)
    if not bits:  # every key: written straight into place, no temporaries the size of a part
        keys = scratch[:total] if scratch is not None and len(scratch) >= total else np.empty(total, dtype=np.uint64)
        numbers = np.arange(max(len(p) for h, n in zip(splits, sizes) if n for p in h.parts(kind)), dtype=np.uint64)
        at = 0
        for hashes, size in zip(splits, sizes):
            for part in hashes.parts(kind) if size else ():
                seg = keys[at:at + len(part)]
                np.bitwise_and(part, high_half, out=seg)
                seg += numbers[:len(part)]  # the low halves are zero: adding is or-ing
                seg += np.uint64(at)
                at += len(part)
        return keys
    segments: list[np.ndarray] = []
    for hashes, size, base in zip(splits, sizes, bases.tolist()):
        at = base
        for part in hashes.parts(kind) if size else ():
            keep = np.flatnonzero((part >> np.uint64(64 - bits)) == bucket)
            segments.append((part[keep] & high_half) | (keep.astype(np.uint64) + np.uint64(at)))
            at += len(part)
    return np.concatenate(segments) if segments else np.zeros(0, dtype=np.uint64)


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
    for split in stats.ordered:
        h = split.hashes
        if len(h) < 2:
            continue
        rep = repeated_in(stats, split, "content")  # equal rows have equal content first of all
        order, starts, sizes = group(h.take("content", rep) ^ splitmix64(h.take("label", rep)), rep, h)
        if len(starts) == 0:
            continue
        idx = h.index_at(order)
        # the earliest repeats, each with the first item of its group
        group_of = np.repeat(np.arange(len(starts)), sizes)
        later = np.ones(len(idx), dtype=bool)
        later[starts] = False
        members = np.flatnonzero(later)
        shown = members[np.argsort(idx[members], kind="stable")[: ctx.example_cap]]
        examples = [{**split.item(int(idx[t])), "duplicate_of": split.item(int(idx[starts[group_of[t]]]))}
                    for t in shown]
        count = int(sizes.sum() - len(sizes))
        frac = count / max(split.rows, 1)
        yield Finding(
            check="duplicates", severity=_severity(frac, p), split=split.name, count=count, fraction=frac,
            message=f"{count} {_noun(split)} of {split.name} repeat another item of {split.name} exactly "
                    f"({len(starts)} groups, {frac:.1%})",
            examples=examples,
            details={"groups": int(len(starts)), "largest_group": int(sizes.max()),
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


@register_check({
    "split_overlap": {"error_fraction": 0.0, "error_min_count": 1},
})
def split_overlap(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Items of one split whose exact content (label excluded) occurs in an earlier split."""
    p = ctx.params("split_overlap")
    for earlier, later, vs_ref in _overlap_pairs(stats):
        pos, where = matches_in(stats, earlier, later, "content")
        count = len(pos)
        if count == 0:
            continue
        frac = count / max(later.rows, 1)
        leak = vs_ref and count >= p["error_min_count"] and frac > p["error_fraction"]
        l_idx = later.hashes.index_at(pos)
        order = np.argsort(l_idx, kind="stable")
        q_idx, r_idx = l_idx[order], where[order]
        examples = [{**later.item(int(a)), "duplicate_of": earlier.item(int(b))}
                    for a, b in zip(q_idx[: ctx.example_cap], r_idx[: ctx.example_cap])]
        yield Finding(
            check="split_overlap", severity=Severity.ERROR if leak else Severity.WARNING, split=later.name,
            count=count, fraction=frac,
            message=f"{count} {later.name} {_noun(later)} also occur in {earlier.name} "
                    f"(exact content match, {frac:.1%} of {later.name})",
            examples=examples,
            details={"other_split": earlier.name, "compared": "content, label excluded",
                     "id_columns_excluded": stats.id_columns},
        )


def _has_text_hashes(split: SplitStats) -> bool:
    """Whether the split has normalised and raw text hashes for every item."""
    return split.hashes.has("norm") and split.hashes.has("raw")


def _near_in_groups(stats: DatasetStats, split: SplitStats) -> tuple[np.ndarray, np.ndarray]:
    """Items whose normalised text equals an earlier item's while the raw text differs.

    Vectorised: returns ``(item, first item of its group)`` index arrays.
    """
    hashes = split.hashes
    rep = repeated_in(stats, split, "norm")
    order, starts, sizes = group(hashes.take("norm", rep), rep, hashes)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    member = np.repeat(np.arange(len(starts)), sizes)
    firsts = order[starts[member]]
    differs = (hashes.take("raw", order) != hashes.take("raw", firsts)) & (order != firsts)
    return hashes.index_at(order[differs]), hashes.index_at(firsts[differs])


def _near_text_across(stats: DatasetStats, ref: SplitStats, other: SplitStats) -> tuple[np.ndarray, np.ndarray]:
    """Items of ``other`` whose normalised text occurs in ``ref`` while that exact text does not.

    Returns ``(other item index, earliest ref item index with the same normalised text)``.
    """
    if not _has_text_hashes(other):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pos, where = matches_in(stats, ref, other, "norm")
    if len(pos) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    norm, raw = other.hashes.take("norm", pos), other.hashes.take("raw", pos)
    # exact copies (same normalised and same raw text as some ref item) are split_overlap's, not near copies
    ref_pos = shared_with_others(stats, ref, "norm")
    pairs = pl.DataFrame({"n": ref.hashes.take("norm", ref_pos), "r": ref.hashes.take("raw", ref_pos),
                          "x": True}).unique()
    exact = (pl.DataFrame({"n": norm, "r": raw})
             .join(pairs, on=["n", "r"], how="left", maintain_order="left")
             .get_column("x").is_not_null().to_numpy())
    return other.hashes.index_at(pos[~exact]), where[~exact]


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
