"""Near pairs of 64-bit hashes (dataaudit.profile.hamming): exact, and without all pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataaudit.profile import hamming
from dataaudit.profile.hamming import near_pairs, popcount64


def reference(a: np.ndarray, b: np.ndarray | None, radius: int) -> set[tuple[int, int, int]]:
    other = a if b is None else b
    out = set()
    for i, x in enumerate(a.tolist()):
        for j, y in enumerate(other.tolist()):
            if b is None and j >= i:
                continue
            d = bin(x ^ y).count("1")
            if d <= radius:
                out.add((i, j, d))
    return out


def as_set(pairs: np.ndarray) -> set[tuple[int, int, int]]:
    return {(int(i), int(j), int(d)) for i, j, d in pairs}


def clustered(rng: np.random.Generator, n: int, flips: int = 6) -> np.ndarray:
    """Hashes in small clusters so that many pairs fall within small radii."""
    centres = rng.integers(0, 2**64 - 1, max(1, n // 4), dtype=np.uint64, endpoint=True)
    out = centres[rng.integers(0, len(centres), n)]
    for k in range(n):
        for bit in rng.choice(64, int(rng.integers(0, flips + 1)), replace=False):
            out[k] ^= np.uint64(1) << np.uint64(int(bit))
    return out


def test_popcount64() -> None:
    x = np.array([0, 1, 3, 2**63, 2**64 - 1], dtype=np.uint64)
    assert popcount64(x).tolist() == [0, 1, 2, 1, 64]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    m=st.integers(0, 40),
    radius=st.integers(0, 12),
    cross=st.booleans(),
)
def test_matches_all_pairs_reference(seed: int, n: int, m: int, radius: int, cross: bool) -> None:
    rng = np.random.default_rng(seed)
    a = clustered(rng, n)
    b = clustered(rng, m) if cross else None
    if cross and b is not None and len(a) and len(b):
        b[: min(len(a), len(b)) // 2] = a[: min(len(a), len(b)) // 2]
    got = near_pairs(a, b, radius)
    assert got.dtype == np.int64 and got.shape[1] == 3
    assert as_set(got) == reference(a, b, radius)


@pytest.mark.parametrize("radius", [1, 4, 8, 11], ids=lambda r: f"multi-index search at radius {r} equals brute force")
@pytest.mark.parametrize("cross", [False, True], ids=["within one set", "between two sets"])
def test_multi_index_search_equals_brute_force(monkeypatch: pytest.MonkeyPatch, radius: int, cross: bool) -> None:
    rng = np.random.default_rng(radius)
    a = clustered(rng, 3000, flips=radius)
    b = clustered(rng, 2000, flips=radius) if cross else None
    if b is not None:
        b[:500] = a[:500] ^ np.uint64(0b101)
    monkeypatch.setattr(hamming, "BRUTE_FORCE_PAIRS", 0)  # force the index
    indexed = near_pairs(a, b, radius)
    monkeypatch.setattr(hamming, "BRUTE_FORCE_PAIRS", 10**12)
    brute = near_pairs(a, b, radius)
    assert len(indexed) > 0
    assert np.array_equal(indexed, brute)


def test_rows_are_sorted_and_within_set_pairs_have_j_below_i() -> None:
    rng = np.random.default_rng(5)
    a = clustered(rng, 500)
    got = near_pairs(a, radius=6)
    assert (got[:, 1] < got[:, 0]).all()
    assert np.array_equal(got, got[np.lexsort((got[:, 1], got[:, 0]))])
    assert (got[:, 2] == popcount64(a[got[:, 0]] ^ a[got[:, 1]])).all()


def test_planted_pairs_found_among_200k_random_hashes() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    a = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    planted = set()
    for k in range(30):
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        flip = 0
        for bit in rng.choice(64, 1 + k % 8, replace=False):
            flip |= 1 << int(bit)
        a[i] = a[j] ^ np.uint64(flip)
        planted.add((max(i, j), min(i, j)))
    got = {(int(i), int(j)) for i, j, _ in near_pairs(a, radius=8)}
    assert planted <= got


def test_empty_inputs_and_bad_radius() -> None:
    empty = np.zeros(0, dtype=np.uint64)
    assert near_pairs(empty).shape == (0, 3)
    assert near_pairs(np.array([1], dtype=np.uint64), empty).shape == (0, 3)
    with pytest.raises(ValueError):
        near_pairs(np.array([1, 2], dtype=np.uint64), radius=-1)


def test_plan_avoids_tiny_chunks_for_a_million_hashes() -> None:
    assert hamming._plan(1_000_000, 1_000_000, 8) == 3
