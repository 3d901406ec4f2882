"""Generate the image sample datasets ``images_clean/`` and ``images_faulty/``.

Deterministic (seeded): running it twice gives byte-identical files. Each image is
a 48x48 picture of one of four classes (``circle``, ``square``, ``triangle``,
``stripes``): a shape with its own colour and texture over a smooth random
background of low-frequency colour blobs, saved as JPEG (quality 90). See
``images_README.md`` for what each folder holds and which findings it should
raise.

Usage: ``python sample_data/make_images.py [--out DIR]`` (default: beside this file).
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

CLASSES = ("circle", "square", "triangle", "stripes")
SIZE = 48
QUALITY = 90


def _blobs(rng: np.random.Generator, size: int, grid: int, lo: float, hi: float) -> np.ndarray:
    """Smooth random colour field: a small random grid upsampled bicubically, (size, size, 3)."""
    small = rng.uniform(lo, hi, (grid, grid, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small, "RGB").resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)


def make_image(rng: np.random.Generator, cls: str, size: int = SIZE) -> Image.Image:
    """One textured picture of class ``cls``."""
    base = rng.uniform(40, 215, 3)
    bg = np.clip(base + (_blobs(rng, size, 4, 0, 255) - 128) * 0.6, 0, 255)
    img = Image.fromarray(bg.astype(np.uint8), "RGB")
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = rng.uniform(0.3, 0.7, 2) * size
    r = rng.uniform(0.18, 0.32) * size
    if cls == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif cls == "square":
        angle = rng.uniform(0, np.pi / 2)
        pts = [(cx + r * np.cos(angle + k * np.pi / 2) * 1.2, cy + r * np.sin(angle + k * np.pi / 2) * 1.2) for k in range(4)]
        draw.polygon(pts, fill=255)
    elif cls == "triangle":
        angle = rng.uniform(0, 2 * np.pi)
        pts = [(cx + r * 1.3 * np.cos(angle + k * 2 * np.pi / 3), cy + r * 1.3 * np.sin(angle + k * 2 * np.pi / 3)) for k in range(3)]
        draw.polygon(pts, fill=255)
    else:
        period = rng.uniform(5, 10)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size]
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        mask = Image.fromarray(((wave > 0) * 255).astype(np.uint8), "L")
    colour = np.clip(255 - base + rng.normal(0, 30, 3), 0, 255)
    fg = np.clip(colour + (_blobs(rng, size, 6, 0, 255) - 128) * 0.35, 0, 255)
    img.paste(Image.fromarray(fg.astype(np.uint8), "RGB"), (0, 0), mask.filter(ImageFilter.GaussianBlur(0.6)))
    noise = rng.normal(0, 6, (size, size, 3))
    out = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB")


def jpeg_bytes(img: Image.Image, quality: int = QUALITY) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(img: Image.Image, level: int = 6) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=level)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def make_clean(out: Path, seed: int = 7, per_class: int = 36) -> None:
    """Balanced classes, each split at random into 2/3 train, 1/6 val, 1/6 test (stratified)."""
    rng = np.random.default_rng(seed)
    n_val = n_test = per_class // 6
    for cls in CLASSES:
        splits = ["train"] * (per_class - n_val - n_test) + ["val"] * n_val + ["test"] * n_test
        rng.shuffle(splits)
        for i, split in enumerate(splits):
            _write(out / split / cls / f"{cls}_{i:03d}.jpg", jpeg_bytes(make_image(rng, cls)))


def make_faulty(out: Path, seed: int = 11) -> dict[str, str]:
    """Every image fault once; returns ``{fault: path}`` of what was planted."""
    rng = np.random.default_rng(seed)
    planted: dict[str, str] = {}
    # imbalance in train: 24/24/24 and only 4 stripes; 'triangle' absent from test
    train_counts = {"circle": 24, "square": 24, "triangle": 24, "stripes": 4}
    held_counts = {"circle": 6, "square": 6, "triangle": 6, "stripes": 3}
    originals: dict[str, Image.Image] = {}
    for cls in CLASSES:
        for i in range(train_counts[cls]):
            img = make_image(rng, cls)
            rel = f"train/{cls}/{cls}_{i:03d}.jpg"
            originals[rel] = img
            _write(out / rel, jpeg_bytes(img))
        for split in ("val", "test"):
            if split == "test" and cls == "triangle":
                continue
            for i in range(held_counts[cls]):
                _write(out / split / cls / f"{cls}_{split}_{i:03d}.jpg", jpeg_bytes(make_image(rng, cls)))

    # corrupt files
    data = (out / "train/circle/circle_000.jpg").read_bytes()
    _write(out / "train/circle/truncated.jpg", data[: len(data) * 3 // 5])
    planted["truncated JPEG"] = "train/circle/truncated.jpg"
    _write(out / "train/square/empty.png", b"")
    planted["empty file"] = "train/square/empty.png"
    _write(out / "val/circle/notes.png", b"labelling notes: re-check the val circles before the next release\n")
    planted["text file named .png"] = "val/circle/notes.png"
    # exact copies within train: a byte copy and a lossless PNG re-save
    shutil.copyfile(out / "train/circle/circle_001.jpg", out / "train/circle/circle_001_copy.jpg")
    planted["exact byte duplicate in train"] = "train/circle/circle_001_copy.jpg (of circle_001.jpg)"
    png = Image.open(out / "train/square/square_002.jpg")
    png.load()
    (out / "train/square/square_002.jpg").unlink()
    _write(out / "train/square/square_002.png", png_bytes(png, 9))
    _write(out / "train/square/square_002_resaved.png", png_bytes(Image.open(io.BytesIO(png_bytes(png, 9))), 1))
    planted["lossless PNG re-save in train"] = "train/square/square_002_resaved.png (of square_002.png)"
    # the same image under two classes (conflicting labels; also a duplicate)
    shutil.copyfile(out / "train/triangle/triangle_003.jpg", out / "train/square/triangle_003.jpg")
    planted["same image under two classes"] = "train/square/triangle_003.jpg (also train/triangle/)"
    # exact copy across splits
    shutil.copyfile(out / "train/circle/circle_004.jpg", out / "test/circle/circle_004.jpg")
    planted["exact copy across splits"] = "test/circle/circle_004.jpg (of train/circle/circle_004.jpg)"
    # near copies across splits
    src = originals["train/square/square_005.jpg"]
    _write(out / "test/square/reencoded.jpg", jpeg_bytes(src, 55))
    planted["re-encoded JPEG copy"] = "test/square/reencoded.jpg (of train/square/square_005.jpg)"
    src = originals["train/circle/circle_006.jpg"]
    _write(out / "val/circle/resized.jpg", jpeg_bytes(src.resize((40, 40), Image.Resampling.LANCZOS)))
    planted["resized copy"] = "val/circle/resized.jpg (of train/circle/circle_006.jpg, 40x40)"
    src = originals["train/triangle/triangle_007.jpg"]
    _write(out / "val/triangle/brightened.jpg", jpeg_bytes(ImageEnhance.Brightness(src).enhance(1.12)))
    planted["brightened copy"] = "val/triangle/brightened.jpg (of train/triangle/triangle_007.jpg)"
    src = originals["train/circle/circle_008.jpg"]
    cropped = src.crop((1, 1, SIZE - 1, SIZE - 1)).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    _write(out / "test/circle/cropped.jpg", jpeg_bytes(cropped))
    planted["cropped copy"] = "test/circle/cropped.jpg (of train/circle/circle_008.jpg)"
    # near copy within train
    src = originals["train/triangle/triangle_009.jpg"]
    _write(out / "train/triangle/triangle_009_q60.jpg", jpeg_bytes(src, 60))
    planted["near copy within train"] = "train/triangle/triangle_009_q60.jpg (of triangle_009.jpg)"
    # image properties
    wide = make_image(rng, "stripes", size=160).crop((0, 56, 160, 104))
    _write(out / "train/stripes/panorama.jpg", jpeg_bytes(wide))
    planted["odd size / aspect"] = "train/stripes/panorama.jpg (160x48)"
    gray = make_image(rng, "circle").convert("L")
    _write(out / "train/circle/grayscale.jpg", jpeg_bytes(gray))
    planted["grayscale among RGB"] = "train/circle/grayscale.jpg"
    flat = np.clip(np.full((SIZE, SIZE, 3), 128.0) + rng.normal(0, 0.6, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    _write(out / "train/square/blank.png", png_bytes(Image.fromarray(flat, "RGB")))
    planted["blank image"] = "train/square/blank.png"
    planted["class missing from test"] = "triangle"
    planted["class imbalance"] = "train/stripes (4 of 76 train images before the planted files)"
    return planted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    for name in ("images_clean", "images_faulty"):
        target = args.out / name
        if target.exists():
            shutil.rmtree(target)
    make_clean(args.out / "images_clean")
    planted = make_faulty(args.out / "images_faulty")
    for fault, where in planted.items():
        print(f"{fault:32s} {where}")


if __name__ == "__main__":
    main()
