"""Precision and recall of image near-copy detection, per transformation, on real images.

Three real image sets, each split at random into ``train`` (80%) and ``test`` (20%)
class folders:

* ``photos``: every 128x128 tile (on a grid, no overlap) of the photographs
  bundled with scikit-image (astronaut, camera, coffee, chelsea, rocket, ...) and
  scikit-learn (``load_sample_images``), less the flat ones (luma std < 4),
  stored as JPEG (quality 90);
* ``digits``: scikit-learn's ``load_digits`` (1,797 handwritten digits, 8x8),
  scaled up to 32x32 grayscale PNGs: images that hold little detail, where
  different digits often share a 64-bit pHash;
* ``faces``: scikit-image's ``lfw_subset`` (200 25x25 grey crops, faces and
  non-faces), PNG: a second low-detail set, smaller still.

For each transformation, copies of randomly chosen ``train`` images are planted
in ``test`` and the folder is scanned (``dataaudit.scanner.scan``, default
settings). A planted copy is found when ``near_split_overlap`` names it with its
source as ``duplicate_of``. Printed per set and transformation:

* ``hash``: the fraction of planted pairs whose pHashes are within the Hamming
  radius (what the hash search can propose at all);
* ``recall``: the fraction the scan reports (hash candidates the thumbnails
  confirm; it can pass ``hash``: the thumbnails' crop keys propose cropped
  copies the pHash does not);
* ``precision``: reported items that are planted copies, over all items the
  scan reports under ``near_split_overlap`` and ``near_duplicates``;
* the ``clean`` row: the random split with nothing planted, and the most severe
  ``near_*`` finding it raised (targets: none at warning or above).

Usage: ``python benchmarks/bench_near_copies.py [--copies N] [--seed N] [--radius R]``
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PHOTOS = ("astronaut", "brick", "camera", "cat", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text", "cell",
          "colorwheel", "microaneurysms")


def photo_tiles(side: int = 128) -> list[Image.Image]:
    """Non-overlapping ``side`` tiles of the bundled photographs, flat ones left out."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    arrays = [getattr(skimage.data, name)() for name in PHOTOS] + list(load_sample_images().images)
    tiles = []
    for arr in arrays:
        img = Image.fromarray(arr if arr.ndim == 2 else np.ascontiguousarray(arr[..., :3]))
        w, h = img.size
        for y in range(0, h - side + 1, side):
            for x in range(0, w - side + 1, side):
                tile = img.crop((x, y, x + side, y + side))
                if np.asarray(tile.convert("L"), dtype=np.float64).std() >= 4:
                    tiles.append(tile)
    return tiles


def digit_images() -> list[Image.Image]:
    """``load_digits`` scaled from 8x8 to 32x32 grey (bilinear), as a low-resolution set is stored."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return [Image.fromarray(np.round(x * 255 / 16).astype(np.uint8), "L").resize((32, 32), Image.Resampling.BILINEAR)
            for x in d.images]


def face_images() -> list[Image.Image]:
    """scikit-image's ``lfw_subset``: 200 25x25 grey crops (faces and non-faces), another low-detail set."""
    import skimage.data

    return [Image.fromarray(np.round(x * 255).astype(np.uint8), "L") for x in skimage.data.lfw_subset()]


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """``img`` less those fractions of its sides, each at least one pixel when not zero."""
    w, h = img.size

    def px(f: float, side: int) -> int:
        return max(1, round(side * f)) if f else 0

    return img.crop((px(left, w), px(top, h), w - px(right, w), h - px(bottom, h)))


Transform = Callable[[Image.Image], tuple[bytes, str]]
TRANSFORMS: dict[str, Transform] = {
    "JPEG quality 50": lambda im: (encode(im, "JPEG", quality=50), "jpg"),
    "JPEG quality 75": lambda im: (encode(im, "JPEG", quality=75), "jpg"),
    "resized to 50%": lambda im: (encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS), "PNG"), "png"),
    "resized to 150%": lambda im: (encode(im.resize((im.width * 3 // 2, im.height * 3 // 2), Image.Resampling.BICUBIC), "PNG"), "png"),
    "brightened 1.1x": lambda im: (encode(ImageEnhance.Brightness(im).enhance(1.1), "PNG"), "png"),
    "brightened 1.2x": lambda im: (encode(ImageEnhance.Brightness(im).enhance(1.2), "PNG"), "png"),
    "cropped 2% per side": lambda im: (encode(_crop(im, 0.02, 0.02, 0.02, 0.02), "PNG"), "png"),
    "cropped 5% one side": lambda im: (encode(_crop(im, 0.05, 0.0, 0.0, 0.0), "PNG"), "png"),
}


def write_split(root: Path, images: list[Image.Image], fmt: str, seed: int) -> list[str]:
    """Write a random 80/20 train/test split of ``images`` under ``root``; the train paths."""
    rng = np.random.default_rng(seed)
    test = rng.random(len(images)) < 0.2
    ext = "jpg" if fmt == "JPEG" else "png"
    train = []
    for i, img in enumerate(images):
        split = "test" if test[i] else "train"
        rel = f"{split}/c{i % 5}/{i:05d}.{ext}"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(img, fmt, **({"quality": 90} if fmt == "JPEG" else {})))
        if split == "train":
            train.append(rel)
    return train


def near_items(report: object) -> tuple[dict[str, str], int, str]:
    """``(test path -> duplicate_of path, items reported under any near_* check, worst severity)``."""
    matched: dict[str, str] = {}
    reported = 0
    worst = "none"
    order = {"none": -1, "info": 0, "warning": 1, "error": 2}
    for f in report.findings:  # type: ignore[attr-defined]
        if not f.check.startswith("near_"):
            continue
        reported += f.count
        sev = f.severity.name.lower()
        worst = sev if order[sev] > order[worst] else worst
        if f.check == "near_split_overlap":
            for ex in f.examples:
                matched[ex.get("path", "")] = ex["duplicate_of"].get("path", "")
    return matched, reported, worst


def hash_distance(a: bytes, b: bytes) -> int:
    from dataaudit.profile.hamming import popcount64
    from dataaudit.profile.images import analyse_image

    x, y = np.uint64(analyse_image(a)["phash"]), np.uint64(analyse_image(b)["phash"])
    return int(popcount64(np.asarray([x ^ y]))[0])


def bench_set(name: str, images: list[Image.Image], fmt: str, copies: int, seed: int, radius: int,
              work: Path) -> list[tuple[str, str, int, float, float, float, str]]:
    from dataaudit.scanner import scan

    root = work / name
    train = write_split(root, images, fmt, seed)
    params = {"near_split_overlap": {"hamming_radius": radius}, "near_duplicates": {"hamming_radius": radius}}

    def run() -> object:
        return scan(root, progress=False, max_examples=100_000, params=params)

    rows = []
    t0 = time.perf_counter()
    _, reported, worst = near_items(run())
    rows.append((name, "clean (nothing planted)", 0, float("nan"), float("nan"), float("nan"),
                 f"{reported} reported, worst: {worst}"))
    rng = np.random.default_rng(seed + 1)
    for tname, transform in TRANSFORMS.items():
        sources = rng.choice(len(train), size=min(copies, len(train)), replace=False)
        planted: dict[str, str] = {}
        within = 0
        for k, s in enumerate(sources.tolist()):
            src = train[s]
            original = (root / src).read_bytes()
            data, ext = transform(Image.open(io.BytesIO(original)))
            rel = f"test/planted/{k:04d}.{ext}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            planted[rel] = src
            within += hash_distance(original, data) <= radius
        matched, reported, worst = near_items(run())
        found = sum(1 for rel, src in planted.items() if matched.get(rel) == src)
        recall = found / len(planted)
        precision = found / reported if reported else float("nan")
        rows.append((name, tname, len(planted), within / len(planted), recall, precision, ""))
        shutil.rmtree(root / "test" / "planted")
    print(f"  {name}: {len(images)} images, {len(TRANSFORMS) + 1} scans in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=60, help="copies planted per transformation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--radius", type=int, default=8, help="pHash Hamming radius (the checks' default: 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = bench_set("photos", photo_tiles(), "JPEG", args.copies, args.seed, args.radius, work)
        rows += bench_set("digits", digit_images(), "PNG", args.copies, args.seed, args.radius, work)
        rows += bench_set("faces", face_images(), "PNG", args.copies, args.seed, args.radius, work)
    print(f"| set | transformation | planted | hash within {args.radius} | recall | precision |")
    print("|---|---|---:|---:|---:|---:|")
    for name, tname, n, within, recall, precision, note in rows:
        if note:
            print(f"| {name} | {tname} | - | - | {note} | |")
        else:
            print(f"| {name} | {tname} | {n} | {within:.2f} | {recall:.2f} | {precision:.2f} |")


if __name__ == "__main__":
    main()
