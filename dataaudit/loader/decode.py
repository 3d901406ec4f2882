"""The loader's reduced-scale JPEG decoding (``decode="reduced"``).

libjpeg-turbo can run the inverse DCT at a fraction of the full size (through
``simplejpeg``), so a 500x375 photo resized to 128x128 is decoded at 1/2 scale
(250x188) and only then resized: less work in the decoder and in the
antialiased resize. Only 1/2, 1/4 and 1/8 are used: the other factors (5/8,
3/4, 7/8) measured slower than a full decode on this machine (1.04 vs 0.78 ms
for 500x375 at 5/8), so a 500x375 photo for 224x224 is decoded at full size
(by libjpeg-turbo directly, which measured equal to Pillow's pixels). The result is close to, but not bit-identical with, the
full decode followed by the same resize (the eval transform), so it is an
option: ``decode="exact"`` (the default) keeps :func:`~dataaudit.loader.cache.decode_image`.
Images that are not baseline/progressive JPEGs in a colour space simplejpeg
converts, or that are already no larger than the target, take the exact path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataaudit.loader.cache import DecodeSpec, _interpolation, decode_image

DECODES = ("exact", "reduced")
_JPEG_MAGIC = b"\xff\xd8\xff"


def reduced_available() -> bool:
    """Whether ``simplejpeg`` (the reduced-scale decoder) is installed."""
    try:
        import simplejpeg  # noqa: F401
    except ImportError:
        return False
    return True


def decode_reduced(src: str | os.PathLike[str] | bytes, spec: DecodeSpec) -> np.ndarray:
    """Like :func:`~dataaudit.loader.cache.decode_image`, decoding JPEGs at the smallest DCT
    scale that still covers ``spec``'s size in both directions, then resizing."""
    import simplejpeg

    data = src if isinstance(src, bytes) else Path(src).read_bytes()
    if data[:3] != _JPEG_MAGIC:
        return decode_image(data, spec)
    try:
        h, w, colour, _ = simplejpeg.decode_jpeg_header(data)
        if colour not in ("Gray", "YCbCr") or (h <= spec.height and w <= spec.width):
            return decode_image(data, spec)
        # the largest power-of-two reduction that still covers the target: libjpeg-turbo's
        # other scales (5/8, 3/4, ...) measured slower here than decoding at full size
        k = next((k for k in (8, 4, 2) if -(-h // k) >= spec.height and -(-w // k) >= spec.width), 1)
        arr = simplejpeg.decode_jpeg(data, colorspace="RGB" if spec.mode == "RGB" else "GRAY",
                                     min_height=-(-h // k), min_width=-(-w // k))  # fmt: skip
    except ValueError:  # anything libjpeg-turbo will not do directly: Pillow decides
        return decode_image(data, spec)
    import torch
    from torchvision.transforms.v2 import functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    if tuple(tensor.shape[1:]) != (spec.height, spec.width):
        tensor = F.resize(tensor, [spec.height, spec.width], interpolation=_interpolation(spec.interpolation),
                          antialias=True)  # fmt: skip
    return np.ascontiguousarray(tensor.numpy())


def compare_decodes(files: Sequence[Path], spec: DecodeSpec) -> dict[str, Any]:
    """How far reduced-scale pixels are from the full decode, on ``files`` (for the record)."""
    diffs: list[np.ndarray] = []
    for f in files:
        try:
            a = decode_image(f, spec).astype(np.int16)
            b = decode_reduced(f, spec).astype(np.int16)
        except Exception:  # an undecodable file is reported when the epoch reaches it
            continue
        diffs.append(np.abs(a - b))
    if not diffs:
        return {"compared_images": 0}
    flat = np.concatenate([d.ravel() for d in diffs])
    return {"compared_images": len(diffs), "max_abs_diff": int(flat.max()),
            "mean_abs_diff": round(float(flat.mean()), 3), "identical": bool(flat.max() == 0)}  # fmt: skip
