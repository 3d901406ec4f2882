"""Verify perceptual-hash near-copy candidates with the images' 16x16 luma thumbnails.

Two images whose 64-bit pHashes are within a few bits are only *candidates*: when
an image holds little detail (a digit drawn on 8x8 pixels and scaled up, a face
at 25 px), different images of the same kind agree in most low DCT frequencies.
The thumbnails (:data:`dataaudit.profile.images.THUMB_SIDE` square, kept per
image at 256 bytes) decide:

* **similarity**: the correlation of the two thumbnails (brightness and contrast
  changes do not move it), the best of the thumbnails as they are and of one
  aligned to the other under a slight crop (the crop's margins are estimated
  from the thumbnails' row and column profiles, in both directions, then the
  whole thumbnail is compared);
* **detail**: one minus the correlation of a thumbnail with itself shifted by one
  pixel (averaged over both axes; the smaller of the pair's two). A re-encoded,
  resized or cropped copy of a detailed image loses more correlation than one of a
  smooth image, and unrelated smooth images are already close, so
* **acceptance adapts**: a pair is a near copy when ``1 - similarity`` is at most
  ``base_residual + detail_slope * detail**2``. With the defaults, a
  low-detail image (detail ~0.1, digits) must correlate at >= 0.9957 (distinct
  handwritten digits that share a pHash reach 0.995, copies >= 0.996); a
  detailed photograph (detail ~0.5) at >= 0.91 (unrelated photos: below 0.7).

Thumbnails flat to within :data:`FLAT_STD` grey levels have no correlation to
measure: two such images are near copies when their mean grey levels are within
:data:`FLAT_LEVELS`.

Everything is vectorised over the candidate pairs, in blocks of
:data:`BLOCK_PAIRS`, so memory stays bounded whatever the number of candidates.
"""

from __future__ import annotations

import functools

import numpy as np

SIDE = 16
BASE_RESIDUAL = 0.003
"""Residual (1 - correlation) every verified pair may have, whatever its detail."""
DETAIL_SLOPE = 0.35
"""How fast the residual allowed grows with the square of an image's detail."""
MAX_RESIDUAL = 0.12
"""The residual allowed never exceeds this (a correlation of 0.88)."""
FLAT_STD = 2.0
"""Thumbnail standard deviation (grey levels) under which an image is flat."""
FLAT_LEVELS = 32.0
"""Two flat thumbnails whose mean grey levels are within this are near copies (a brightened
blank image is still the same blank image)."""
BLOCK_PAIRS = 8192
_MARGINS = (0.0, 1 / 64, 2 / 64, 3 / 64, 4 / 64)
"""Margins (fractions of a side) a slight crop may take off each end of an axis."""


@functools.lru_cache(maxsize=1)
def _crop_warps() -> np.ndarray:
    """``(k, SIDE, SIDE)`` linear-interpolation matrices: each resamples the interval
    ``[lo, 1 - hi]`` of a thumbnail axis to the whole axis, for every pair of margins."""
    warps = []
    for lo in _MARGINS:
        for hi in _MARGINS:
            m = np.zeros((SIDE, SIDE))
            for i in range(SIDE):
                c = (lo + (i + 0.5) / SIDE * (1.0 - lo - hi)) * SIDE - 0.5
                c = min(max(c, 0.0), SIDE - 1.0)
                f = int(np.floor(c))
                t = c - f
                m[i, f] += 1.0 - t
                if t > 0:
                    m[i, min(f + 1, SIDE - 1)] += t
            warps.append(m)
    return np.stack(warps)


def _normalised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` (..., d) centred and scaled to unit norm, and their standard deviations."""
    centred = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred * centred).sum(axis=-1, keepdims=True))
    std = norm[..., 0] / np.sqrt(x.shape[-1])
    return centred / np.maximum(norm, 1e-9), std


def _corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of the rows of ``x`` and ``y`` (..., d)."""
    nx, _ = _normalised(x)
    ny, _ = _normalised(y)
    out: np.ndarray = (nx * ny).sum(axis=-1)
    return out


def detail(t: np.ndarray) -> np.ndarray:
    """Detail of each ``(n, SIDE, SIDE)`` thumbnail: 1 - its correlation with itself one pixel over."""
    across = _corr(t[:, :, 1:].reshape(len(t), -1), t[:, :, :-1].reshape(len(t), -1))
    down = _corr(t[:, 1:, :].reshape(len(t), -1), t[:, :-1, :].reshape(len(t), -1))
    out: np.ndarray = np.clip(1.0 - (across + down) / 2.0, 0.0, 1.0)
    return out


def _aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of ``b`` with ``a`` warped onto it as if ``b`` were a slight crop of ``a``.

    The crop's margins are the ones whose warped row (column) profile of ``a``
    correlates best with ``b``'s: one small search per axis, not one per combination.
    """
    warps = _crop_warps()
    best = []
    for axis in (2, 1):  # rows' profile (mean over columns), then columns' profile
        pa, pb = a.mean(axis=axis), b.mean(axis=axis)  # (n, SIDE)
        cand = np.einsum("kij,nj->nki", warps, pa)  # (n, k, SIDE)
        best.append(np.argmax(_corr(cand, pb[:, None, :]), axis=1))
    rows, cols = warps[best[0]], warps[best[1]]  # (n, SIDE, SIDE)
    warped = rows @ a @ cols.transpose(0, 2, 1)
    return _corr(warped.reshape(len(a), -1), b.reshape(len(b), -1))


def required(detail_of_pair: np.ndarray) -> np.ndarray:
    """The similarity a candidate pair needs, given the smaller detail of its two images."""
    residual = np.minimum(BASE_RESIDUAL + DETAIL_SLOPE * detail_of_pair**2, MAX_RESIDUAL)
    out: np.ndarray = 1.0 - residual
    return out


def verify(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(similarity, needed)`` of candidate pairs whose thumbnails are the rows of ``a`` and ``b``.

    ``a`` and ``b`` are ``(n, SIDE * SIDE)`` uint8 thumbnails, aligned pair by pair.
    A pair is a near copy when ``similarity >= needed``. Both are float64 arrays of
    length ``n``.
    """
    n = len(a)
    similarity = np.zeros(n)
    needed = np.ones(n)
    for start in range(0, n, BLOCK_PAIRS):
        stop = min(n, start + BLOCK_PAIRS)
        x = np.asarray(a[start:stop], dtype=np.float64).reshape(-1, SIDE, SIDE)
        y = np.asarray(b[start:stop], dtype=np.float64).reshape(-1, SIDE, SIDE)
        flat_x = x.reshape(len(x), -1).std(axis=1) < FLAT_STD
        flat_y = y.reshape(len(y), -1).std(axis=1) < FLAT_STD
        sim = _corr(x.reshape(len(x), -1), y.reshape(len(y), -1))
        # alignment only where the thumbnails as they are fall short of the strictest need
        todo = np.flatnonzero((sim < 1.0 - BASE_RESIDUAL) & ~flat_x & ~flat_y)
        if len(todo):
            xs, ys = x[todo], y[todo]
            sim[todo] = np.maximum(sim[todo], np.maximum(_aligned(xs, ys), _aligned(ys, xs)))
        need = required(np.minimum(detail(x), detail(y)))
        flat = flat_x | flat_y
        if flat.any():
            close = flat_x & flat_y & (np.abs(x.reshape(len(x), -1).mean(axis=1) - y.reshape(len(y), -1).mean(axis=1))
                                       <= FLAT_LEVELS)
            sim[flat] = np.where(close[flat], 1.0, 0.0)
            need[flat] = 1.0
        similarity[start:stop] = sim
        needed[start:stop] = need
    return similarity, needed
