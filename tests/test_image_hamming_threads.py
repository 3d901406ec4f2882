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
