"""Fitting image preprocessing on the train split: target size, mode, per-channel mean/std.

Two streaming passes over the train images only (the source is read twice, so
memory stays bounded whatever the number of images):

1. headers (PIL reads the size and mode without decoding pixels) give the size
   distribution; the target size is the median width and height, each rounded to
   the nearest multiple of 8 (``--image-size WxH`` overrides it); the mode is ``L`` when every train image is single-channel, else ``RGB``;
2. every image is decoded and converted to that mode (its pixels at the stored
   resolution give ``source_mean``/``source_std``, comparable with the scan's
   profile), then resized to the target size
   exactly as the transform does (torchvision's antialiased bilinear resize on the
   uint8 tensor; without torch, PIL's bilinear resize, within one grey level), then
   scaled to [0, 1]; per-channel count/mean/M2 are merged image by image in float64.

The mean and std are therefore those of the pixels the model sees. Images that do
not decode are skipped and counted (the scan reports them as ``corrupt_file``).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from dataaudit.errors import SourceError, UsageError
from dataaudit.fit.artefact import MAX_IMAGE_SIDE, Artefact, ImagePlan, LabelMap, canonical_fingerprint
from dataaudit.profile.moments import Moments
from dataaudit.sources.base import Dataset

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from dataaudit.config import Config
    from dataaudit.sources.images import ImageRecord

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
SIZE_MULTIPLE = 8


def _records(dataset: Dataset) -> Iterator[ImageRecord]:
    """The train records, streamed (each call reads the source again: memory stays bounded)."""
    for batch in dataset.batches():
        if batch.split == "train" and batch.payload:
            yield from batch.payload


def _open(record: ImageRecord, dataset: Dataset) -> PILImage.Image:
    """Open lazily: PIL reads the header now and the pixels only on ``load()``."""
    from PIL import Image

    from dataaudit.sources.images import read_image_bytes

    if record.data is None and record.path is not None and dataset.root is not None:
        return Image.open(dataset.root / record.path)
    return Image.open(io.BytesIO(read_image_bytes(record, dataset.root)))


def weighted_median(counts: Counter[int]) -> float:
    """The median of values given with their counts (mean of the two middle values when even)."""
    total = sum(counts.values())
    lo_rank, hi_rank = (total - 1) // 2, total // 2
    lo = hi = None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if lo is None and seen > lo_rank:
            lo = value
        if seen > hi_rank:
            hi = value
            break
    assert lo is not None and hi is not None
    return (lo + hi) / 2


def choose_size(widths: Counter[int], heights: Counter[int]) -> tuple[int, int]:
    """``(width, height)``: the medians, each rounded to the nearest multiple of 8 (at least 8)."""

    def rnd(values: Counter[int]) -> int:
        med = weighted_median(values)
        return max(SIZE_MULTIPLE, int(round(med / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    return rnd(widths), rnd(heights)


def resize_backend() -> str:
    """``torchvision`` when torch is importable (the transform's own kernel), else ``pil``."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return "pil"
    return "torchvision"


def model_pixels(img: PILImage.Image, mode: str, width: int, height: int, backend: str) -> np.ndarray:
    """``(C, H, W)`` float64 pixels in [0, 1]: what the eval transform feeds the model before Normalize."""
    img = img.convert(mode)
    if backend == "torchvision":
        import torch
        from torchvision.transforms.v2 import functional as F

        t = F.pil_to_tensor(img)
        t = F.resize(t, [height, width], antialias=True)
        return np.asarray(t.to(torch.float32).mul_(1.0 / 255).numpy(), dtype=np.float64)
    from PIL import Image

    arr = np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    arr = arr.reshape(height, width, -1).transpose(2, 0, 1) * np.float32(1.0 / 255)
    return arr.astype(np.float64)


def fit_images(
    dataset: Dataset, config: Config, size: tuple[int, int] | None, options: dict[str, Any]
) -> Artefact:
    """Fit the image plan on the train split of ``dataset`` (see the module docstring)."""
    modes: Counter[str] = Counter()
    widths: Counter[int] = Counter()
    heights: Counter[int] = Counter()
    sizes: Counter[tuple[int, int]] = Counter()
    seen = 0
    for rec in _records(dataset):
        seen += 1
        try:
            with _open(rec, dataset) as img:
                modes[img.mode] += 1
                widths[img.width] += 1
                heights[img.height] += 1
                sizes[img.size] += 1
        except Exception:  # noqa: BLE001 - any undecodable file is skipped, as documented
            continue
    if not seen:
        raise SourceError("the train split has no images to fit on", dataset.source)
    if not widths:
        raise SourceError("no train image could be read", dataset.source)
    mode = "L" if all(m in GRAY_MODES for m in modes) else "RGB"
    width, height = size if size is not None else choose_size(widths, heights)
    if max(width, height) > MAX_IMAGE_SIDE:
        raise UsageError(
            f"the median train image is {width}x{height}, larger than {MAX_IMAGE_SIDE} on a side: "
            "pass --image-size WxH (nothing was written)"
        )
    backend = resize_backend()
    channels = 1 if mode == "L" else 3
    moments = [Moments() for _ in range(channels)]
    source = [Moments() for _ in range(channels)]
    labels: Counter[str] = Counter()
    content = 0
    used = 0
    skipped: list[str] = []
    from PIL import Image

    from dataaudit.sources.images import read_image_bytes

    for rec in _records(dataset):
        try:
            raw = read_image_bytes(rec, dataset.root)
            with Image.open(io.BytesIO(raw)) as img:
                img.load()
                converted = img.convert(mode)
            px = model_pixels(converted, mode, width, height, backend)
            src = np.asarray(converted, dtype=np.float64).reshape(-1, channels).T / 255.0
        except Exception:  # noqa: BLE001
            skipped.append(rec.path or f"#{rec.index}")
            continue
        used += 1
        flat = px.reshape(channels, -1)
        for c in range(channels):
            v = flat[c]
            moments[c].add_summary(int(v.size), float(v.mean()), float(v.var()), float(v.min()), float(v.max()))
            w = src[c]
            source[c].add_summary(int(w.size), float(w.mean()), float(w.var()), float(w.min()), float(w.max()))
        # order-independent and constant-memory: the sum of per-image hashes mod 2**64
        content = (content + xxhash.xxh3_64_intdigest(raw + b"\x00" + (rec.label or "").encode())) % 2**64
        if rec.label is not None:
            labels[rec.label] += 1
    if used == 0:
        raise SourceError("no train image could be decoded", dataset.source)
    std = [m.std() for m in moments]
    # a constant channel (e.g. all-black padding) must not divide by zero
    std = [s if s > 0 else 1.0 for s in std]
    plan = ImagePlan(
        height=height,
        width=width,
        mode=mode,
        mean=[m.mean for m in moments],
        std=std,
        pixels=moments[0].count,
        source_mean=[m.mean for m in source],
        source_std=[m.std() for m in source],
        images=used,
        size_stats={
            "median_width": weighted_median(widths), "median_height": weighted_median(heights),
            "min_width": float(min(widths)), "max_width": float(max(widths)),
            "min_height": float(min(heights)), "max_height": float(max(heights)),
        },  # fmt: skip
        modes=dict(sorted(modes.items())),
    )
    options["resize_backend"] = backend
    if skipped:
        options["skipped_images"] = len(skipped)
        options["skipped_examples"] = sorted(skipped)[:20]
    # sorted as strings, as torchvision's ImageFolder assigns its class indices
    label = LabelMap(dataset.label_column, sorted(labels)) if labels else None
    if label is not None:
        options["task"] = "classification"
    stats = {
        "images": used,
        "content": f"{content:016x}",
        "modes": dict(modes),
        "sizes": sorted([w, h, n] for (w, h), n in sizes.items()),
        "labels": sorted(labels.items()),
    }
    return Artefact(
        modality="image",
        source=dataset.source,
        fingerprint=canonical_fingerprint(stats),
        items=used,
        image=plan,
        label=label,
        options=options,
    )
