"""Verify perceptual-hash near-copy candidates with the images' 16x16 luma thumbnails.

Two images whose 64-bit pHashes are within a few bits are only *candidates*: when
an image holds little detail (a digit drawn on 8x8 pixels and scaled up, a face
at 25 px), different images of the same kind agree in most low DCT frequencies.
The thumbnails (:data:`dataaudit.profile.images.THUMB_SIDE` square, kept per
image at 256 bytes) decide:

* **similarity**: the correlation of the two thumbnails (brightness and contrast
  changes do not move it), the best of the thumbnails as they are and of one
  warped onto the other as if it were a slight crop of it (up to 1/16 of a side
  off each end; per axis the :data:`ALIGN_TOP` margins whose row or column
  profile matches best, then their combinations on the whole thumbnail, in both
  directions);
* **detail**: one minus the correlation of a thumbnail with itself shifted by one
  pixel (averaged over both axes; the smaller of the pair's two). A re-encoded,
  resized or cropped copy of a detailed image loses more correlation than one of a
  smooth image, while unrelated smooth images are already close, so
* **acceptance adapts**: a pair is a near copy when ``1 - similarity`` is at most
  ``BASE_RESIDUAL + DETAIL_SLOPE * detail**2`` (at most :data:`MAX_RESIDUAL`).
  Measured on scikit-learn's digits scaled to 32x32 (detail ~0.06-0.12): distinct
  digits whose pHashes are within 8 bits stay at least 0.0007 below what they
  would need, while re-encoded, resized, brightened and 1-2 px cropped copies
  pass; a detailed photograph (detail ~0.5) needs about 0.91.

A pair that falls short gets a second comparison with both thumbnails smoothed by
``[SMOOTH, 1 - 2 SMOOTH, SMOOTH]`` along each axis (a warped 16 px thumbnail is
blurred by its interpolation, its copy is not, which alone costs a cropped detailed
image the correlation it needs), against a stricter bar: :data:`SMOOTH_RESIDUAL` of
the residual the smoothed thumbnails' own (lower) detail would allow.

Crops move the pHash: :func:`crop_key` and :func:`shifted_keys` give the checks
more candidate keys, computed from the thumbnails alone.

Thumbnails flat to within :data:`FLAT_STD` grey levels have no correlation to
measure: two such images are near copies when their mean grey levels are within
:data:`FLAT_LEVELS`.

Everything is vectorised over the candidate pairs (6,000-7,500 pairs a second on
one core here), in blocks of :data:`BLOCK_PAIRS`, so memory stays bounded
whatever the number of candidates; each image's detail is computed once.
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
BLOCK_PAIRS = 4096
ALIGN_TOP = 3
"""Margins tried per axis when aligning a slight crop (the best by the axis' profile)."""
_MARGINS = (0.0, 1 / 64, 2 / 64, 3 / 64, 4 / 64)
"""Margins (fractions of a side) a slight crop may take off each end of an axis."""
SMOOTH = 0.3
"""Weight of each neighbour in the ``[SMOOTH, 1 - 2 SMOOTH, SMOOTH]`` smoothing of the second,
smoothed comparison (per axis)."""
SMOOTH_RESIDUAL = 0.8
"""The smoothed comparison allows this fraction of the residual its smoothed thumbnails' detail
would allow: stricter, so that distinct low-detail images do not pass it."""
KEY_TRIM = 1
"""Thumbnail pixels left out on each side for the crop key (:func:`crop_key`)."""


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


@functools.lru_cache(maxsize=1)
def _smoother() -> np.ndarray:
    """``(SIDE, SIDE)``: the ``[SMOOTH, 1 - 2 SMOOTH, SMOOTH]`` filter along one axis (edges repeated)."""
    k = np.zeros((SIDE, SIDE))
    for i in range(SIDE):
        k[i, i] = 1.0 - 2.0 * SMOOTH
        k[i, max(i - 1, 0)] += SMOOTH
        k[i, min(i + 1, SIDE - 1)] += SMOOTH
    return k


@functools.lru_cache(maxsize=1)
def _smoothed_warps() -> np.ndarray:
    """:func:`_crop_warps` followed by :func:`_smoother`: ``K W a W' K'`` is the smoothed warp."""
    out: np.ndarray = np.einsum("ij,kjl->kil", _smoother(), _crop_warps())
    return out


def _smooth(t: np.ndarray) -> np.ndarray:
    """``(n, SIDE, SIDE)`` thumbnails, each smoothed along both axes."""
    k = _smoother().astype(t.dtype)
    out: np.ndarray = k @ t @ k.T
    return out


@functools.lru_cache(maxsize=1)
def _key_dct() -> np.ndarray:
    """``(8, SIDE)``: the 8 lowest DCT-II rows over the trimmed thumbnail side, zero on the
    :data:`KEY_TRIM` pixels left out at each end."""
    n = SIDE - 2 * KEY_TRIM
    out = np.zeros((8, SIDE))
    out[:, KEY_TRIM:SIDE - KEY_TRIM] = np.cos(np.pi * (np.arange(n)[None, :] + 0.5) * np.arange(8)[:, None] / n)
    return out


def _key_bits(t: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The 64-bit key of each ``(n, SIDE, SIDE)`` thumbnail from its ``rows @ t @ cols.T``
    (8x8) low frequencies, each against their median (see :func:`crop_key`)."""
    low = (rows.astype(t.dtype) @ t @ cols.T.astype(t.dtype)).reshape(len(t), 64)
    med = np.partition(low, (31, 32), axis=1)[:, 31:33].mean(axis=1)
    return np.packbits(low > med[:, None], axis=1).view(">u8").ravel().astype(np.uint64)


def crop_key(thumbs: np.ndarray) -> np.ndarray:
    """A second 64-bit candidate key per ``(n, SIDE * SIDE)`` uint8 thumbnail, for cropped copies.

    The pHash of the thumbnail less :data:`KEY_TRIM` pixels on each side (its 8x8
    lowest DCT frequencies, each against their median): a copy cropped by a few
    percent moves bits of the whole-image pHash that this one keeps, and the other
    way round, so the searches together propose more cropped copies than either
    (measured in ``benchmarks/bench_near_copies.py``). Computed from the thumbnails
    the statistics already hold: nothing more to store or merge.
    """
    t = np.asarray(thumbs, dtype=np.float32).reshape(-1, SIDE, SIDE)
    if len(t) == 0:
        return np.zeros(0, dtype=np.uint64)
    d = _key_dct()
    return _key_bits(t, d, d)


SHIFT_MARGINS = (3, 4)
"""The shifted keys (:func:`shifted_keys`) see the image less these many 64ths of one side."""
SHIFTS = 4 * len(SHIFT_MARGINS)
"""Shifted keys per image (:func:`shifted_keys`)."""


@functools.lru_cache(maxsize=1)
def _shifted_dcts() -> list[tuple[np.ndarray, np.ndarray]]:
    """``(rows, cols)`` (8, SIDE) each: the key's DCT composed with each shift's warp."""
    warps, k, d = _crop_warps(), len(_MARGINS), _key_dct()
    ident = d @ warps[0]
    out = []
    for margin in SHIFT_MARGINS:
        m = _MARGINS.index(margin / 64)
        lo, hi = d @ warps[m * k], d @ warps[m]
        out += [(ident, lo), (ident, hi), (lo, ident), (hi, ident)]
    return out


def shifted_keys(thumbs: np.ndarray) -> np.ndarray:
    """``(n, SHIFTS)`` uint64: :func:`crop_key` of each thumbnail as if each of
    :data:`SHIFT_MARGINS` (64ths) of its left, right, top or bottom had been cropped off.

    A copy cropped on one side is shifted as well as scaled, which moves both
    hashes; the key of the original warped the same way stays close to the copy's.
    """
    t = np.asarray(thumbs, dtype=np.float32).reshape(-1, SIDE, SIDE)
    out = np.zeros((len(t), SHIFTS), dtype=np.uint64)
    for c, (rows, cols) in enumerate(_shifted_dcts() if len(t) else []):
        out[:, c] = _key_bits(t, rows, cols)
    return out


def _normalised(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (..., d) centred and scaled to unit norm (flat rows stay zero)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", centred, centred))[..., None]
    out: np.ndarray = centred / np.maximum(norm, 1e-6)
    return out


def _corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of the rows of ``x`` and ``y`` (..., d)."""
    out: np.ndarray = np.einsum("...i,...i->...", _normalised(x), _normalised(y))
    return out


def detail(t: np.ndarray) -> np.ndarray:
    """Detail of each ``(n, SIDE, SIDE)`` thumbnail: 1 - its correlation with itself one pixel over."""
    t = np.asarray(t, dtype=np.float64).reshape(-1, SIDE, SIDE)
    across = _corr(t[:, :, 1:].reshape(len(t), -1), t[:, :, :-1].reshape(len(t), -1))
    down = _corr(t[:, 1:, :].reshape(len(t), -1), t[:, :-1, :].reshape(len(t), -1))
    out: np.ndarray = np.clip(1.0 - (across + down) / 2.0, 0.0, 1.0)
    return out


def _aligned(a: np.ndarray, b: np.ndarray, smoothed: bool = False) -> np.ndarray:
    """Correlation of ``b`` with ``a`` warped onto it as if ``b`` were a slight crop of ``a``.

    The crop's margins are searched per axis: the :data:`ALIGN_TOP` margins whose
    warped row (column) profile of ``a`` correlates best with ``b``'s, then every
    combination of those for rows and columns on the whole thumbnail (a few warps
    per pair, not one per combination of all margins). ``smoothed``: each warp is
    followed by :func:`_smoother` (``b`` is then expected smoothed too).
    """
    n = len(a)
    warps = (_smoothed_warps() if smoothed else _crop_warps()).astype(a.dtype)
    bank = warps.reshape(-1, SIDE)  # every warp's rows, stacked: one matrix product per axis
    picks = []
    for axis in (2, 1):  # rows' profile (mean over columns), then columns' profile
        profiles = (a.mean(axis=axis) @ bank.T).reshape(n, len(warps), SIDE)
        score = np.einsum("nki,ni->nk", _normalised(profiles), _normalised(b.mean(axis=axis)))
        picks.append(np.argsort(-score, axis=1, kind="stable")[:, :ALIGN_TOP])
    # the target is centred, so a warped thumbnail's correlation with it needs only its dot
    # product, its sum and its sum of squares: no centred copy of every warp
    target = _normalised(b.reshape(n, -1))
    size = float(SIDE * SIDE)
    out = np.full(n, -1.0, dtype=a.dtype)
    cols = [np.ascontiguousarray(warps[picks[1][:, c]].transpose(0, 2, 1)) for c in range(picks[1].shape[1])]
    for r in range(picks[0].shape[1]):
        partial = warps[picks[0][:, r]] @ a  # (n, SIDE, SIDE)
        for col in cols:
            warped = (partial @ col).reshape(n, -1)
            dot = np.einsum("ni,ni->n", warped, target)
            total = warped.sum(axis=1)
            spread = np.sqrt(np.maximum(np.einsum("ni,ni->n", warped, warped) - total * total / size, 1e-6))
            out = np.maximum(out, dot / spread)
    return out


def required(detail_of_pair: np.ndarray) -> np.ndarray:
    """The similarity a candidate pair needs, given the smaller detail of its two images."""
    residual = np.minimum(BASE_RESIDUAL + DETAIL_SLOPE * detail_of_pair**2, MAX_RESIDUAL)
    out: np.ndarray = 1.0 - residual
    return out


def verify(
    thumbs_a: np.ndarray, thumbs_b: np.ndarray, ia: np.ndarray | None = None, ib: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(similarity, needed)`` of candidate pairs of thumbnails.

    ``thumbs_a`` and ``thumbs_b`` are ``(n, SIDE * SIDE)`` uint8 thumbnails; the
    pairs are ``(thumbs_a[ia[k]], thumbs_b[ib[k]])``, or row by row when ``ia`` and
    ``ib`` are ``None``. A pair is a near copy when ``similarity >= needed``; both
    are float64 arrays, one value a pair. Each image's detail is computed once,
    however many pairs it is in.
    """
    if ia is None or ib is None:
        ia = ib = np.arange(len(thumbs_a))
    ia, ib = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
    n = len(ia)
    similarity, needed = np.zeros(n), np.ones(n)
    if n == 0:
        return similarity, needed
    ua, inv_a = np.unique(ia, return_inverse=True)
    ub, inv_b = np.unique(ib, return_inverse=True)
    ta, tb = np.asarray(thumbs_a)[ua].astype(np.float32), np.asarray(thumbs_b)[ub].astype(np.float32)
    det_a, det_b = detail(ta), detail(tb)
    sa, sb = _smooth(ta.reshape(-1, SIDE, SIDE)), _smooth(tb.reshape(-1, SIDE, SIDE))
    sdet_a, sdet_b = detail(sa), detail(sb)
    std_a, std_b = ta.std(axis=1), tb.std(axis=1)
    mean_a, mean_b = ta.mean(axis=1), tb.mean(axis=1)
    for start in range(0, n, BLOCK_PAIRS):
        ka, kb = inv_a[start:start + BLOCK_PAIRS], inv_b[start:start + BLOCK_PAIRS]
        x, y = ta[ka], tb[kb]
        sim = _corr(x, y).astype(np.float64)
        need = required(np.minimum(det_a[ka], det_b[kb]))
        flat_x, flat_y = std_a[ka] < FLAT_STD, std_b[kb] < FLAT_STD
        flat = flat_x | flat_y
        # alignment only where the thumbnails as they are fall short
        todo = np.flatnonzero((sim < need) & ~flat)
        if len(todo):
            xs, ys = x[todo].reshape(-1, SIDE, SIDE), y[todo].reshape(-1, SIDE, SIDE)
            sim[todo] = np.maximum(sim[todo], np.maximum(_aligned(xs, ys), _aligned(ys, xs)))
        # A warped 16x16 thumbnail is blurred by its interpolation, its copy is not: on a
        # detailed image that alone costs a cropped copy the correlation it needs. Both
        # smoothed, the blur matters less; the bar is set by the smoothed thumbnails' own
        # (lower) detail, a little stricter.
        todo = np.flatnonzero((sim < need) & ~flat)
        if len(todo):
            ka2, kb2 = ka[todo], kb[todo]
            xs, ys = x[todo].reshape(-1, SIDE, SIDE), y[todo].reshape(-1, SIDE, SIDE)
            xs2, ys2 = sa[ka2], sb[kb2]
            sim2 = np.maximum(_corr(xs2.reshape(len(todo), -1), ys2.reshape(len(todo), -1)),
                              np.maximum(_aligned(xs, ys2, smoothed=True), _aligned(ys, xs2, smoothed=True)))
            need2 = 1.0 - SMOOTH_RESIDUAL * (1.0 - required(np.minimum(sdet_a[ka2], sdet_b[kb2])))
            ok = sim2 >= need2
            sim[todo[ok]], need[todo[ok]] = sim2[ok], need2[ok]
        if flat.any():
            close = flat_x & flat_y & (np.abs(mean_a[ka] - mean_b[kb]) <= FLAT_LEVELS)
            sim[flat] = np.where(close[flat], 1.0, 0.0)
            need[flat] = 1.0
        similarity[start:start + len(ka)] = np.clip(sim, -1.0, 1.0)  # float32 sums can pass 1 by 1e-6
        needed[start:start + len(ka)] = need
    return similarity, needed
