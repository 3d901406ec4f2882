"""Pairs of 64-bit hashes within a Hamming radius, without comparing all pairs.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012): split the 64 bits into
``m`` chunks. If two hashes differ in at most ``r`` bits, then by the pigeonhole
principle at least one chunk differs in at most ``s = r // m`` bits (and with
``r = m * s + t``, one of the first ``t + 1`` chunks within ``s`` or one of the
others within ``s - 1``: those are probed one bit less deep). For each
chunk we bucket the hashes by chunk value (a dense count table, so a lookup is one
gather), probe every bucket within ``s`` bit flips of each hash's chunk, and
verify the candidates with a full 64-bit popcount. ``m`` is chosen from a cost
model of the probes and the expected random candidates for the number of hashes,
so 1,000,000 hashes at radius 8 take three 21-bit chunks with radius-2 probes.

Small inputs are compared exhaustively (vectorised), which is faster there and
gives the reference the index is tested against.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DEFAULT_RADIUS = 8
"""Default radius for 64-bit DCT pHash (``sample_data/README.md`` has the measurements); candidates
within it are confirmed by the thumbnails (:mod:`dataaudit.profile.thumbs`)."""

BRUTE_FORCE_PAIRS = 250_000
"""Below this many pairs, compare all pairs directly (above it the multi-index search is faster:
a 2,000-hash self-join takes ~50 ms by brute force, ~5 ms indexed)."""

THREADED_PAIRS = 1_000_000_000
"""From this many query x index pairs on, the multi-index probes run in threads."""

_MAX_CHUNK_BITS = 24


def popcount64(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 value."""
    x = np.asarray(x, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        counted: np.ndarray = np.bitwise_count(x).astype(np.int64)
        return counted
    # SWAR fallback for numpy < 2.0
    with np.errstate(over="ignore"):
        x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
        x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
        x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def _ball(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit mask with at most ``radius`` bits set (0 first)."""
    masks = [0]
    for k in range(1, min(radius, bits) + 1):
        for combo in itertools.combinations(range(bits), k):
            masks.append(sum(1 << b for b in combo))
    return np.asarray(masks, dtype=np.uint64)


def _ball_size(bits: int, radius: int) -> int:
    return sum(math.comb(bits, k) for k in range(0, min(radius, bits) + 1))


def _chunks(m: int) -> list[tuple[int, int]]:
    """``m`` contiguous (shift, bits) chunks covering 64 bits, sizes differing by at most one."""
    base, extra = divmod(64, m)
    out, shift = [], 0
    for i in range(m):
        bits = base + (1 if i < extra else 0)
        out.append((shift, bits))
        shift += bits
    return out


def _plan(n_index: int, n_query: int, radius: int, self_join: bool = True) -> int:
    """The number of chunks ``m`` with the lowest estimated time.

    Per probe (one chunk, one bit-flip pattern): a fixed numpy overhead, a pass
    over the queries (half of them in a self-join) and the verification of the
    random candidates the probe draws (queries x index / 2**bits). Constants
    were measured on this code (seconds).
    """
    per_probe, per_query, per_candidate = 1.5e-4, 8e-9, 40e-9
    queries = n_query / 2.0 if self_join else float(n_query)
    best_m, best_cost = 64, math.inf
    for m in range(1, 65):
        bits = math.ceil(64 / m)
        if bits > _MAX_CHUNK_BITS:
            continue
        probes = sum(_ball_size(bits, depth) for depth in _radii(m, radius) if depth >= 0)
        candidates = queries * n_index / 2.0**bits
        cost = probes * (per_probe + queries * per_query + candidates * per_candidate)
        if cost < best_cost:
            best_m, best_cost = m, cost
    return best_m


def _brute(a: np.ndarray, b: np.ndarray | None, radius: int) -> np.ndarray:
    out: list[np.ndarray] = []
    other = a if b is None else b
    step = max(1, BRUTE_FORCE_PAIRS // max(len(other), 1))
    for start in range(0, len(a), step):
        block = a[start : start + step]
        d = popcount64(block[:, None] ^ other[None, :])
        i, j = np.nonzero(d <= radius)
        i = i + start
        if b is None:
            keep = j < i
            i, j = i[keep], j[keep]
        out.append(np.stack([i, j, d[i - start, j]], axis=1).astype(np.int64))
    if not out:
        return np.zeros((0, 3), dtype=np.int64)
    return np.concatenate(out)


def _chunk_pairs(
    index: np.ndarray, queries: np.ndarray, self_join: bool, shift: int, bits: int, flips: np.ndarray, radius: int
) -> list[np.ndarray]:
    """Verified pairs whose ``(shift, bits)`` chunks differ by one of ``flips``."""
    mask_bits = np.uint64((1 << bits) - 1)
    ikey = ((index >> np.uint64(shift)) & mask_bits).astype(np.int32)
    order = np.argsort(ikey, kind="stable")
    skey = ikey[order]
    shash = index[order]
    counts = np.bincount(skey, minlength=1 << bits).astype(np.int32)
    # one byte per bucket: the table probed for every query stays in cache
    occupied = counts.astype(bool)
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    if self_join:
        qkey, qhash, qpos = skey, shash, np.arange(len(skey), dtype=np.int32)
    else:
        qkey = ((queries >> np.uint64(shift)) & mask_bits).astype(np.int32)
        qhash, qpos = queries, np.arange(len(queries), dtype=np.int32)
    # For a self-join, a pair (i, j) is reached from i and from j with the same flip;
    # probe only from the side whose key has the flip's top bit clear (the smaller key).
    by_top: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    found: list[np.ndarray] = []
    for flip in flips.tolist():
        if self_join and flip:
            top = flip.bit_length() - 1
            if top not in by_top:
                sel = np.flatnonzero((qkey >> top) & 1 == 0).astype(np.int32)
                by_top[top] = (sel, qkey[sel])
            src, keys = by_top[top]
        else:
            src, keys = qpos, qkey
        probe = keys ^ np.int32(flip)
        hit = np.flatnonzero(occupied[probe])
        if len(hit) == 0:
            continue
        bucket = probe[hit]
        src, c, first = src[hit].astype(np.int64), counts[bucket].astype(np.int64), starts[bucket]
        total = int(c.sum())
        ends = np.cumsum(c)
        pos = np.arange(total, dtype=np.int64) + np.repeat(first - (ends - c), c)
        cand_i = np.repeat(src, c)
        d = popcount64(qhash[cand_i] ^ shash[pos])
        ok = d <= radius
        if self_join:
            ok &= cand_i != pos
        if ok.any():
            ci, cj = cand_i[ok], order[pos[ok]].astype(np.int64)
            if self_join:
                ci = order[ci].astype(np.int64)
                ci, cj = np.maximum(ci, cj), np.minimum(ci, cj)
            found.append(np.stack([ci, cj, d[ok]], axis=1))
    return found


def _radii(m: int, radius: int) -> list[int]:
    """Probe radius of each of ``m`` chunks (``-1``: the chunk is not probed).

    With ``radius = m * s + t`` (``0 <= t < m``), two hashes within ``radius`` agree
    to within ``s`` bits on one of the first ``t + 1`` chunks or to within ``s - 1``
    on one of the others (else they would differ in at least
    ``(t + 1)(s + 1) + (m - t - 1) s = radius + 1`` bits), so the others are probed
    one bit less deep (at ``s = 0``, not at all).
    """
    s, t = divmod(radius, m)
    return [s if i <= t else s - 1 for i in range(m)]


def _mih(a: np.ndarray, b: np.ndarray | None, radius: int, threads: int | None = None) -> np.ndarray:
    index = a if b is None else b
    m = _plan(len(index), len(a), radius, self_join=b is None)
    if threads is not None:
        workers = threads
    elif len(a) * len(index) < THREADED_PAIRS:
        workers = 1  # thread start-up and GIL hand-offs cost more than they save here
    else:
        workers = min(2 * m, os.cpu_count() or 1)
    jobs: list[tuple[int, int, np.ndarray]] = []
    for (shift, bits), depth in zip(_chunks(m), _radii(m, radius)):
        if depth < 0:
            continue
        flips = _ball(bits, depth)
        if workers == 1:
            jobs.append((shift, bits, flips))  # one job per chunk: its index is built once
            continue
        # two jobs per chunk so that the threads stay busy to the end
        half = (len(flips) + 1) // 2
        for part in (flips[:half], flips[half:]):
            if len(part):
                jobs.append((shift, bits, part))

    def run(job: tuple[int, int, np.ndarray]) -> list[np.ndarray]:
        shift, bits, flips = job
        return _chunk_pairs(index, a, b is None, shift, bits, flips, radius)

    found: list[np.ndarray] = []
    if workers > 1:
        # numpy releases the GIL in the gathers and ufuncs that dominate here
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for chunk_found in pool.map(run, jobs):
                found.extend(chunk_found)
    else:
        for job in jobs:
            found.extend(run(job))
    if not found:
        return np.zeros((0, 3), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    code = pairs[:, 0] * np.int64(len(index)) + pairs[:, 1]
    _, first_idx = np.unique(code, return_index=True)
    unique_pairs: np.ndarray = pairs[np.sort(first_idx)]
    return unique_pairs


def _exact(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Pairs of equal hashes, by sorting."""
    other = a if b is None else b
    order = np.argsort(other, kind="stable")
    sorted_other = other[order]
    lo = np.searchsorted(sorted_other, a, side="left")
    hi = np.searchsorted(sorted_other, a, side="right")
    counts = hi - lo
    qi = np.repeat(np.arange(len(a), dtype=np.int64), counts)
    pos = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    qj = order[pos].astype(np.int64)
    keep = qj < qi if b is None else np.ones(len(qi), dtype=bool)
    return np.stack([qi[keep], qj[keep], np.zeros(int(keep.sum()), dtype=np.int64)], axis=1)


def near_pairs(a: np.ndarray, b: np.ndarray | None = None, radius: int = DEFAULT_RADIUS) -> np.ndarray:
    """Index pairs of hashes within ``radius`` bits of each other.

    With ``b`` ``None``: rows ``(i, j, distance)`` for every pair of positions of
    ``a`` with ``j < i``. With ``b``: rows ``(i, j, distance)`` with ``i`` a
    position in ``a`` and ``j`` one in ``b``. Rows are sorted by ``(i, j)``; the
    result has shape ``(m, 3)`` and dtype int64. Exact (no pair is missed).
    """
    if radius < 0:
        raise ValueError("radius must be >= 0")
    a = np.ascontiguousarray(a, dtype=np.uint64)
    bb = None if b is None else np.ascontiguousarray(b, dtype=np.uint64)
    n_other = len(a) if bb is None else len(bb)
    if len(a) == 0 or n_other == 0:
        return np.zeros((0, 3), dtype=np.int64)
    if radius >= 64:
        radius = 64
    if radius == 0:
        pairs = _exact(a, bb)
    elif len(a) * n_other <= BRUTE_FORCE_PAIRS or radius >= 32:
        pairs = _brute(a, bb, radius)
    else:
        pairs = _mih(a, bb, radius)
    if len(pairs) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return np.ascontiguousarray(pairs[order], dtype=np.int64)
