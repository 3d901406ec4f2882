"""Pillow's JPEG row buffer kept off 32-byte boundaries in the image workers (see
``dataaudit.profile.images._RowBuffers``): where it lands, that it never changes what is
decoded, and that it only ever frees what it allocated."""

from __future__ import annotations

import ctypes
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dataaudit.profile import images as img

glibc = img._glibc()
needs_glibc = pytest.mark.skipif(glibc is None, reason="the row buffer placement relies on glibc's allocator")


class FakeLibc:
    """An allocator handing out addresses ``step`` apart (no memory behind them): 64 apart they
    are all 32-byte aligned, 48 apart they alternate between 16 and 0 mod 32."""

    def __init__(self, step: int = 64) -> None:
        self.step = step
        self.next = 1 << 20
        self.live: set[int] = set()
        self.freed: list[int] = []

        def malloc(n: int) -> int:
            return self._take()

        def calloc(count: int, n: int) -> int:
            return self._take()

        def free(p: int) -> None:
            assert p in self.live, "freed something it did not allocate"
            self.live.discard(p)
            self.freed.append(p)

        self.malloc: Any = malloc
        self.calloc: Any = calloc
        self.free: Any = free

    def _take(self) -> int:
        self.next += self.step
        self.live.add(self.next)
        return self.next


def test_a_size_that_keeps_coming_back_aligned_is_left_alone_and_little_is_held() -> None:
    libc = FakeLibc()
    rows = img._RowBuffers(libc)
    for _ in range(50):
        rows.place(512)
    # the cache fill is handed back, TRIES aligned chunks are held, then the size is given up
    assert len(rows.kept) == rows.TRIES
    assert libc.live == set(rows.kept)
    assert len(libc.freed) == rows.TCACHE_FILL


def test_an_aligned_chunk_is_held_back_and_the_next_one_at_16_mod_32_handed_back() -> None:
    libc = FakeLibc(step=48)
    rows = img._RowBuffers(libc)
    rows.place(512)
    # 7 cache-fill chunks, then calloc: the first answer at 0 mod 32 is held, the next
    # (16 mod 32) freed for pillow's calloc to take
    assert [k % 32 for k in rows.kept] == [0] * len(rows.kept)
    assert libc.freed[-1] % 32 == 16
    assert libc.live == set(rows.kept)
    assert 512 not in rows._given_up


def test_what_is_held_stays_under_its_cap() -> None:
    libc = FakeLibc()
    rows = img._RowBuffers(libc)
    rows.MAX_KEPT_BYTES = 3 * 1000
    for size in range(1000, 1010):
        rows.place(size)
    assert rows.kept_bytes <= 3 * 1000
    assert libc.live == set(rows.kept)


def _jpegs() -> list[bytes]:
    rng = np.random.default_rng(11)
    out = []
    for k, size in enumerate([(128, 128), (97, 61), (300, 200), (64, 64)]):
        arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr, "RGB" if k != 3 else "RGB").convert("L" if k == 3 else "RGB").save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


@needs_glibc
def test_placing_the_row_buffer_changes_nothing_that_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = _jpegs()
    task = [(i, None, b) for i, b in enumerate(blobs)]
    monkeypatch.setattr(img, "_row_buffers", None)
    plain = img.decode_task(None, task)
    monkeypatch.setattr(img, "_row_buffers", img._RowBuffers(glibc))
    placed = img.decode_task(None, task)
    for field in ("index", "content", "phash", "width", "height", "means", "stds"):
        assert np.array_equal(getattr(plain, field), getattr(placed, field)), field
    assert plain.modes == placed.modes == ["RGB", "RGB", "RGB", "L"]
