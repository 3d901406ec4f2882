"""Helpers that write real image datasets (PNG/JPEG trees) for the image tests.

Images are textured (smooth random colour blobs plus a shape and noise) so that
distinct images have distinct perceptual hashes, as real photos do.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

SIZE = 48


def textured(seed: int, size: int | tuple[int, int] = SIZE, mode: str = "RGB") -> Image.Image:
    """A distinct, natural-looking picture for ``seed``."""
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    img = Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    cx, cy, r = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.15, 0.3) * min(w, h)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return img.convert(mode) if mode != "RGB" else img


def encode(img: Image.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG" and "quality" not in kwargs:
        kwargs["quality"] = 90
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def imagefolder(
    root: Path,
    splits: dict[str, dict[str, int]] | None = None,
    seed: int = 0,
    size: int = SIZE,
    fmt: str = "JPEG",
) -> Path:
    """Write ``root/<split>/<class>/<class>_<i>.<ext>`` with distinct images; returns root.

    ``splits`` maps split -> class -> count (default: 3 classes, 16/6/6 per class).
    """
    splits = splits or {
        "train": {"cat": 16, "dog": 16, "bird": 16},
        "val": {"cat": 6, "dog": 6, "bird": 6},
        "test": {"cat": 6, "dog": 6, "bird": 6},
    }
    ext = "jpg" if fmt == "JPEG" else fmt.lower()
    n = seed * 100_000
    for split, classes in splits.items():
        for cls, count in classes.items():
            for i in range(count):
                n += 1
                write(root / split / cls / f"{cls}_{i:03d}.{ext}", encode(textured(n, size), fmt))
    return root


def class_folders(root: Path, classes: Iterable[str] = ("cat", "dog"), count: int = 5, seed: int = 7) -> Path:
    """``root/<class>/<i>.png`` with no split folders."""
    n = seed * 100_000
    for cls in classes:
        for i in range(count):
            n += 1
            write(root / cls / f"{i}.png", encode(textured(n), "PNG"))
    return root


def brighten(data: bytes, factor: float = 1.1) -> bytes:
    return encode(ImageEnhance.Brightness(Image.open(io.BytesIO(data))).enhance(factor))


def reencode(data: bytes, quality: int = 60) -> bytes:
    return encode(Image.open(io.BytesIO(data)), "JPEG", quality=quality)


def resave_png(data: bytes, level: int = 1) -> bytes:
    """The same pixels, other bytes (another compression level)."""
    return encode(Image.open(io.BytesIO(data)), "PNG", compress_level=level)
