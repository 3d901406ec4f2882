"""The multi-index Hamming search gives the same pairs whichever way its probes run."""

from __future__ import annotations

import numpy as np
import pytest

from dataaudit.profile import hamming


def _clustered(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**64 - 1, max(1, n // 8), dtype=np.uint64, endpoint=True)
    out = centres[rng.integers(0, len(centres), n)]
    flips = rng.integers(0, 64, (n, 3)).astype(np.uint64)
    for k in range(3):
        out ^= np.where(rng.random(n) < 0.5, np.uint64(1) << flips[:, k], np.uint64(0))
    return out


@pytest.mark.parametrize("cross", [False, True], ids=["a self-join", "a cross join"])
def test_threaded_and_sequential_probes_find_the_same_pairs(cross: bool) -> None:
    a = _clustered(1, 3000)
    b = _clustered(2, 5000) if cross else None
    if b is not None:
        b[:500] = a[:500]
    one = hamming._mih(a, b, 8, threads=1)
    two = hamming._mih(a, b, 8, threads=2)
    key = lambda p: sorted(map(tuple, p.tolist()))  # noqa: E731
    assert key(one) == key(two)
    assert len(one) > 500 if cross else len(one) > 0
    brute = hamming._brute(a, b, 8)
    assert key(one) == key(brute)


def test_a_small_cross_join_is_planned_with_fine_chunks_not_a_few_coarse_probes() -> None:
    # 2,000 queries against 16,000 hashes: five 13-bit chunks with one-bit probes
    # (nine 8-bit exact chunks would verify ~30x more random candidates)
    assert hamming._plan(16_000, 2_000, 8, self_join=False) == 5
    assert hamming._plan(1_000_000, 1_000_000, 8) == 3


@pytest.mark.parametrize(("m", "radius"), [(5, 8), (3, 8), (9, 8), (5, 12), (4, 3), (7, 20)])
def test_the_chunk_radii_still_catch_every_pair_within_the_radius(m: int, radius: int) -> None:
    depths = hamming._radii(m, radius)
    # the closest pair that escapes every probe differs by depth + 1 bits in each chunk
    # (nothing is needed in a chunk that is not probed): one bit more than the radius
    escape = sum(d + 1 for d in depths)
    assert escape == radius + 1
    assert max(depths) == radius // m


@pytest.mark.parametrize("m", [3, 4, 5, 6, 7, 10])
def test_every_plan_finds_the_same_pairs_as_all_pairs(m: int, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _clustered(3, 1200)
    b = _clustered(4, 900)
    b[:200] = a[:200]
    monkeypatch.setattr(hamming, "_plan", lambda *args, **kwargs: m)
    key = lambda p: sorted(map(tuple, p.tolist()))  # noqa: E731
    for radius in (1, 5, 8, 13):
        assert key(hamming._mih(a, None, radius)) == key(hamming._brute(a, None, radius))
        assert key(hamming._mih(a, b, radius)) == key(hamming._brute(a, b, radius))
