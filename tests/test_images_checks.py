"""Image statistics (ImageSplitProfiler), the image_properties check, and image scans end to end."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from PIL import Image

import dataaudit.checks.images  # noqa: F401  (registers image_properties)
from dataaudit.checks.images import image_properties
from dataaudit.checks.registry import CheckContext
from dataaudit.config import Config
from dataaudit.profile import images as pimages
from dataaudit.profile.dataset import DatasetStats, profile_dataset
from dataaudit.profile.images import ImageSplitProfiler, ImageSplitStats, analyse_image, build_stats, decode_task
from dataaudit.report.model import Finding, Report, Severity
from dataaudit.scanner import scan
from dataaudit.sources.base import Batch
from dataaudit.sources.images import ImageRecord, detect_images
from tests.imagedata import brighten, encode, imagefolder, reencode, resave_png, textured, write

REPO = Path(__file__).resolve().parent.parent
from dataaudit.report.model import SCHEMA_PATH as SCHEMA  # noqa: E402  (the packaged schema)


def profile(root: Path, **config: Any) -> DatasetStats:
    cfg = Config(**config)
    ds = detect_images(root, cfg)
    assert ds is not None
    return profile_dataset(ds, cfg)


def findings(stats: DatasetStats, **params: Any) -> list[Finding]:
    cfg = Config(params={"image_properties": params} if params else {})
    return list(image_properties(stats, CheckContext(cfg)))


def paths_of(f: Finding) -> list[str]:
    return [e["path"] for e in f.examples]


# -- per-image statistics ----------------------------------------------------------------


def test_lossless_resave_keeps_the_pixel_hash_and_changes_the_byte_hash() -> None:
    png = encode(textured(1), "PNG", compress_level=9)
    again = resave_png(png, level=1)
    assert png != again
    a, b = analyse_image(png), analyse_image(again)
    assert a["content"] == b["content"]
    assert a["phash"] == b["phash"]
    assert analyse_image(encode(textured(2), "PNG"))["content"] != a["content"]


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("PPM", {})],
    ids=["png", "bmp", "tiff", "lossless webp", "ppm"],
)
def test_a_lossless_copy_of_a_jpeg_in_another_format_has_its_pixel_hash(fmt: str, options: dict[str, Any]) -> None:
    jpg = encode(textured(11, (70, 52)))
    pixels = Image.open(io.BytesIO(jpg))
    pixels.load()
    copy = encode(pixels, fmt, **options)
    a, b = analyse_image(jpg), analyse_image(copy)
    assert b["format"] != "JPEG" and b["mode"] == "RGB"
    assert a["content"] == b["content"]
    assert a["phash"] == b["phash"] and a["means"] == b["means"] and a["stds"] == b["stds"]


def test_palette_images_hash_their_colours_not_only_their_indices() -> None:
    img = textured(12).convert("P")
    other = img.copy()
    palette = img.getpalette() or []
    other.putpalette([255 - v for v in palette])
    assert img.tobytes() == other.tobytes()  # the same indices
    assert analyse_image(encode(img, "PNG"))["content"] != analyse_image(encode(other, "PNG"))["content"]
    assert analyse_image(encode(img, "PNG"))["content"] == analyse_image(encode(img, "PNG", compress_level=1))["content"]


@pytest.mark.parametrize(
    ("size", "factor"),
    [((20, 12), 1), ((48, 48), 1), ((130, 97), 1), ((128, 128), 2), ((300, 200), 3), ((700, 64), 1)],
    ids=["tiny, used as it is", "under 64 px, used as it is", "under 128 px, used as it is",
         "128 px, reduced 2x", "odd sizes, reduced 3x", "a strip, by its short side"],
)
def test_statistics_are_those_of_the_image_box_reduced_to_a_short_side_of_64_to_127(
    size: tuple[int, int], factor: int
) -> None:
    img = textured(13, size)
    out = analyse_image(encode(img, "PNG"))
    w, h = size
    box = (0, 0, w - w % factor, h - h % factor)
    small = img.reduce(factor, box) if factor > 1 else img
    reduced = np.asarray(small, dtype=np.float64).reshape(-1, 3)
    # exactly the moments of the reduced image (not an estimate)
    assert np.allclose(out["means"], reduced.mean(axis=0), rtol=0, atol=1e-9)
    assert np.allclose(out["stds"], reduced.std(axis=0), rtol=0, atol=1e-9)
    assert out["brightness"] == pytest.approx(float(reduced.mean(axis=0) @ [0.299, 0.587, 0.114]))
    # means: those of the full image (less the rows and columns past a whole box), up to rounding
    whole = np.asarray(img.crop(box), dtype=np.float64).reshape(-1, 3)
    assert np.allclose(out["means"], whole.mean(axis=0), rtol=0, atol=0.5)


def test_the_phash_thumbnail_is_pillows_bilinear_32px_resize_of_the_statistics_image() -> None:
    img = textured(15, (300, 200))
    small = img.reduce(3, (0, 0, 300, 198))
    thumb = np.asarray(small.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    from dataaudit.profile.hamming import popcount64

    expected = pimages.phash_batch(thumb.reshape(1, 32, 32))[0]
    got = np.uint64(analyse_image(encode(img, "PNG"))["phash"])
    assert int(popcount64(expected ^ got)) <= 2  # pillow rounds its thumbnail to 8 bits, we do not


@pytest.mark.parametrize("scale", [0.9, 0.75, 0.6, 0.5], ids=lambda s: f"a {s}x copy")
def test_resized_copies_stay_within_a_few_bits(scale: float) -> None:
    from dataaudit.profile.hamming import popcount64

    worst = 0
    for seed in range(40):
        img = textured(200 + seed, (128 + 8 * (seed % 9), 128))
        small = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        a, b = analyse_image(encode(img, "PNG")), analyse_image(encode(small, "PNG"))
        worst = max(worst, int(popcount64(np.uint64(a["phash"]) ^ np.uint64(b["phash"]))))
    assert worst <= 4  # a box reduction straight to 32 px (no antialiased resize) reaches 8 bits here


def test_figures_do_not_depend_on_how_images_are_batched() -> None:
    blobs = [encode(textured(i, size), fmt) for i, (size, fmt) in enumerate(
        [(48, "JPEG"), ((130, 97), "PNG"), (128, "JPEG"), (20, "PNG"), ((64, 200), "JPEG"), (128, "PNG")] * 3
    )]
    blobs.append(encode(textured(99, 40).convert("L"), "PNG"))
    together = decode_task(None, [(i, None, b) for i, b in enumerate(blobs)])
    alone = [decode_task(None, [(i, None, b)]) for i, b in enumerate(blobs)]
    for key in ("content", "phash", "means", "stds", "width", "height"):
        assert np.array_equal(getattr(together, key), np.concatenate([getattr(r, key) for r in alone])), key


def test_near_copies_have_close_perceptual_hashes_and_distinct_images_do_not() -> None:
    from dataaudit.profile.hamming import popcount64

    jpg = encode(textured(3, 96))
    base = np.uint64(analyse_image(jpg)["phash"])
    small = encode(Image.open(io.BytesIO(jpg)).resize((72, 72), Image.Resampling.LANCZOS))
    for copy in (reencode(jpg, 50), brighten(jpg, 1.1), small):
        assert int(popcount64(base ^ np.uint64(analyse_image(copy)["phash"]))) <= 8
    other = np.uint64(analyse_image(encode(textured(4, 96)))["phash"])
    assert int(popcount64(base ^ other)) > 8


@pytest.mark.parametrize(
    ("mode", "channels"),
    [("RGB", 3), ("L", 1), ("RGBA", 4), ("P", 3), ("LA", 2), ("I;16", 1), ("1", 1), ("CMYK", 4)],
    ids=["rgb", "grey", "rgba", "palette counts as rgb", "grey with alpha", "16-bit grey", "bilevel", "cmyk"],
)
def test_every_mode_is_analysed_on_a_0_to_255_scale(mode: str, channels: int) -> None:
    img = textured(5, 40)
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        img = Image.fromarray(arr)
        assert img.mode == "I;16"
    else:
        img = img.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    out = analyse_image(encode(img, fmt))
    assert out["mode"] == mode and out["channels"] == channels
    assert (out["width"], out["height"]) == (40, 40)
    assert all(0 <= m <= 255 for m in out["means"]) and 0 <= out["brightness"] <= 255
    assert out["pixel_std"] > 5  # textured, not blank


def test_large_jpeg_is_draft_decoded_but_reports_its_full_size() -> None:
    big = textured(6, (2400, 1600))
    data = encode(big)
    out = analyse_image(data)
    assert (out["width"], out["height"]) == (2400, 1600)
    assert out["content"] == analyse_image(data)["content"]
    assert out["content"] != analyse_image(encode(textured(7, (2400, 1600))))["content"]


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("empty.png", lambda: b"", "empty"),
        ("cut.jpg", lambda: encode(textured(1))[:-300], "truncated"),
        ("cut.png", lambda: encode(textured(1), "PNG")[:-200], "truncated"),
        ("notes.png", lambda: b"these are my notes\n", "not_image"),
        ("garbled.jpg", lambda: encode(textured(1))[:20] + bytes(range(256)) * 8, "undecodable"),
    ],
    ids=["an empty file", "a truncated jpeg", "a truncated png", "a text file named png", "a jpeg with garbage data"],
)
def test_broken_files_become_file_problems_never_exceptions(tmp_path: Path, name: str, make: Callable[[], bytes], kind: str) -> None:
    imagefolder(tmp_path, {"train": {"a": 3}})
    write(tmp_path / "train" / "a" / name, make())
    stats = profile(tmp_path, workers=1)
    split = stats.splits["train"]
    assert [(p.path, p.kind) for p in split.file_problems] == [(f"train/a/{name}", kind)]
    assert split.rows == 4
    assert len(split.hashes) == 3  # the broken file has no content hash
    assert len(split.extra["phash"]) == 3


def test_split_statistics_contract(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 2, "b": 1}})
    write(tmp_path / "train" / "b" / "wide.png", encode(textured(9, (80, 40)), "PNG"))
    split = profile(tmp_path, workers=1).splits["train"]
    assert isinstance(split, ImageSplitStats) and split.kind == "image"
    assert split.rows == 4 and split.files == [
        "train/a/a_000.jpg", "train/a/a_001.jpg", "train/b/b_000.jpg", "train/b/wide.png",
    ]  # fmt: skip
    assert split.item(3) == {"split": "train", "path": "train/b/wide.png"}
    assert set(split.columns) == set(pimages.NUMERIC_COLUMNS)
    assert split.columns["width"].numeric.max == 80 and split.columns["aspect"].numeric.max == 2.0
    assert split.columns["width"].kind == "numeric"
    sample = split.sample.rows()
    assert sample["__row__"].to_list() == [0, 1, 2, 3]
    assert sample["width"].to_list() == [48, 48, 48, 80]
    idx, content, label, _ = split.hashes.arrays()
    assert idx.tolist() == [0, 1, 2, 3] and content.dtype == np.uint64
    assert label[2] == label[3] != label[0]
    assert split.labels is not None and dict(split.labels.counts or {}) == {"a": 2, "b": 2}
    assert split.labels.first_rows == {"a": [0, 1], "b": [2, 3]}
    assert split.extra["phash_index"].tolist() == [0, 1, 2, 3]
    assert split.extra["modes"] == {"RGB": 4} and split.extra["formats"] == {"JPEG": 3, "PNG": 1}


def test_worker_processes_give_the_same_statistics_as_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imagefolder(tmp_path, {"train": {"a": 40, "b": 40}, "test": {"a": 10}}, size=24)
    write(tmp_path / "train" / "a" / "bad.jpg", b"nope")
    inline = profile(tmp_path, workers=1)
    monkeypatch.setattr(pimages, "INLINE_MAX", 0)
    monkeypatch.setattr(pimages, "TASK_ITEMS", 7)
    pooled = profile(tmp_path, workers=2)
    for name in ("train", "test"):
        a, b = inline.splits[name], pooled.splits[name]
        for key in ("index", "width", "pixel_std", "byte_hash", "phash", "phash_index"):
            assert np.array_equal(a.extra[key], b.extra[key], equal_nan=key == "pixel_std"), key
        assert [p.path for p in a.file_problems] == [p.path for p in b.file_problems]
        assert a.columns["brightness"].numeric == b.columns["brightness"].numeric
    assert ImageSplitProfiler._pool is None  # profile_dataset closed the pool


_ORIGINAL_DECODE_TASK = pimages.decode_task


def _crashing_decode_task(root: str | None, items: Any) -> Any:
    """Kills its worker process on ``crash.jpg``, as a decoder segfault would."""
    import os

    if any(path and path.endswith("crash.jpg") for _, path, _ in items):
        os._exit(1)
    return _ORIGINAL_DECODE_TASK(root, items)


def test_a_decoder_crash_in_a_worker_is_isolated_to_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imagefolder(tmp_path, {"train": {"a": 20}}, size=16)
    write(tmp_path / "train" / "a" / "crash.jpg", encode(textured(1, 16)))
    monkeypatch.setattr(pimages, "INLINE_MAX", 0)
    monkeypatch.setattr(pimages, "TASK_ITEMS", 8)
    monkeypatch.setattr(pimages, "decode_task", _crashing_decode_task)
    split = profile(tmp_path, workers=2).splits["train"]
    assert [(p.path, p.kind) for p in split.file_problems] == [("train/a/crash.jpg", "undecodable")]
    assert "crashed" in split.file_problems[0].message
    assert len(split.hashes) == 20


def test_merging_shards_equals_profiling_the_whole(tmp_path: Path) -> None:
    imagefolder(tmp_path, {"train": {"a": 5, "b": 4}})
    write(tmp_path / "train" / "b" / "empty.jpg", b"")
    ds = detect_images(tmp_path, Config())
    assert ds is not None
    recs: list[ImageRecord] = [r for b in ds.read() for r in b.payload]

    def stats_of(part: list[ImageRecord]) -> ImageSplitStats:
        prof = ImageSplitProfiler("train", ds, Config(workers=1))
        prof.update(Batch(split="train", path="train", payload=part))
        return prof.result()

    whole = stats_of(recs)
    merged = stats_of(recs[:4]).merge(stats_of(recs[4:]))
    assert isinstance(merged, ImageSplitStats)
    assert merged.rows == whole.rows and merged.files == whole.files
    for key in ("index", "width", "height", "byte_hash", "phash", "phash_index", "decoded"):
        assert np.array_equal(merged.extra[key], whole.extra[key]), key
    assert merged.extra["paths"] == whole.extra["paths"]
    assert merged.extra["modes"] == whole.extra["modes"]
    for name, col in whole.columns.items():
        got = merged.columns[name].numeric
        assert got.count == col.numeric.count
        assert got.mean == pytest.approx(col.numeric.mean) and got.m2 == pytest.approx(col.numeric.m2)
    assert [a.tolist() for a in merged.hashes.arrays()[:3]] == [a.tolist() for a in whole.hashes.arrays()[:3]]
    assert merged.labels is not None and whole.labels is not None
    assert merged.labels.counts == whole.labels.counts
    assert merged.item(9) == whole.item(9) == {"split": "train", "path": "train/b/empty.jpg"}


def test_hub_style_records_with_bytes_are_profiled_and_located_by_row() -> None:
    from dataaudit.sources.base import Dataset, SplitInfo

    blobs = [encode(textured(i)) for i in range(4)] + [b"broken"]
    recs = [ImageRecord(i, f"hub/{i}.jpg", blob, "x" if i % 2 else "y") for i, blob in enumerate(blobs)]
    ds = Dataset(source="hf://o/n", root=None, modality="image", splits={"train": SplitInfo("train")},
                 label_column="label", read=lambda: iter([Batch(split="train", path="", payload=recs)]))
    stats = profile_dataset(ds, Config(workers=1))
    split = stats.splits["train"]
    assert split.rows == 5 and len(split.hashes) == 4
    assert split.item(2) == {"split": "train", "row": 2}
    assert [(p.kind) for p in split.file_problems] == ["not_image"]
    assert split.labels is not None and dict(split.labels.counts or {}) == {"x": 2, "y": 3}


def test_bytes_records_are_located_by_row() -> None:
    data = [encode(textured(i)) for i in range(3)]
    result = decode_task(None, [(i, None, d) for i, d in enumerate(data)])
    stats = build_stats("train", np.arange(3), [None, None, None], ["x", "y", "x"], [result])
    assert stats.item(1) == {"split": "train", "row": 1}
    assert len(stats.hashes) == 3


# -- image_properties ------------------------------------------------------------------


@pytest.fixture()
def uniform(tmp_path: Path) -> Path:
    """30 train images, all 48x48 RGB JPEG."""
    return imagefolder(tmp_path / "ds", {"train": {"a": 15, "b": 15}})


def test_image_properties_is_silent_on_clean_uniform_images(uniform: Path) -> None:
    assert findings(profile(uniform, workers=1)) == []


def test_image_properties_is_silent_on_naturally_varied_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(40):
        w, h = int(rng.integers(300, 520)), int(rng.integers(240, 400))
        write(tmp_path / "train" / "a" / f"{i}.jpg", encode(textured(i, (w, h))))
    assert findings(profile(tmp_path, workers=1)) == []


def test_odd_size_in_a_fixed_size_split(uniform: Path) -> None:
    write(uniform / "train" / "a" / "panorama.jpg", encode(textured(99, (160, 48))))
    write(uniform / "train" / "b" / "small.jpg", encode(textured(98, (40, 40))))
    (f,) = findings(profile(uniform, workers=1))
    assert f.check == "image_properties" and f.severity == Severity.WARNING and f.split == "train"
    assert sorted(paths_of(f)) == ["train/a/panorama.jpg", "train/b/small.jpg"]
    assert f.count == 2 and f.fraction == pytest.approx(2 / 32)
    assert f.details["most_common_size"] == "48x48"
    assert f.examples[0]["width"] == 160


def test_odd_aspect_ratio_against_a_varied_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for i in range(30):
        write(tmp_path / "train" / "a" / f"{i:02d}.jpg", encode(textured(i, (int(rng.integers(300, 420)), int(rng.integers(260, 340))))))
    write(tmp_path / "train" / "a" / "strip.jpg", encode(textured(77, (1200, 150))))
    (f,) = findings(profile(tmp_path, workers=1))
    assert paths_of(f) == ["train/a/strip.jpg"]
    assert "off the median" in f.examples[0]["reason"]


def test_grayscale_among_rgb_is_a_channel_warning(uniform: Path) -> None:
    write(uniform / "train" / "a" / "grey.jpg", encode(textured(50).convert("L")))
    (f,) = findings(profile(uniform, workers=1))
    assert f.severity == Severity.WARNING
    assert paths_of(f) == ["train/a/grey.jpg"]
    assert f.examples[0]["mode"] == "L" and f.details["expected_mode"] == "RGB"


def test_palette_among_rgb_is_only_info(uniform: Path) -> None:
    write(uniform / "train" / "a" / "pal.png", encode(textured(51).convert("P"), "PNG"))
    (f,) = findings(profile(uniform, workers=1))
    assert f.severity == Severity.INFO and paths_of(f) == ["train/a/pal.png"]


def test_blank_image_is_flagged_and_threshold_is_configurable(uniform: Path) -> None:
    flat = np.full((48, 48, 3), 200, dtype=np.uint8)
    write(uniform / "train" / "b" / "blank.png", encode(Image.fromarray(flat), "PNG"))
    stats = profile(uniform, workers=1)
    (f,) = findings(stats)
    assert paths_of(f) == ["train/b/blank.png"] and f.examples[0]["pixel_std"] == 0.0
    assert findings(stats, blank_std=0.0) == []


# -- scans end to end ----------------------------------------------------------------


@pytest.fixture(scope="module")
def base_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return imagefolder(tmp_path_factory.mktemp("base") / "ds")


@pytest.fixture()
def dataset(base_dataset: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ds"
    shutil.copytree(base_dataset, target)
    return target


def run(root: Path, **options: Any) -> Report:
    return scan(root, progress=False, **options)


def by_check(report: Report, check: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check]


def test_clean_image_dataset_scans_silently(dataset: Path) -> None:
    report = run(dataset)
    assert report.modality == "image" and report.passed
    assert [f for f in report.findings if f.severity >= Severity.WARNING] == []
    assert report.splits["train"]["rows"] == 48


def _copy(root: Path, src: str, dst: str, transform: Callable[[bytes], bytes] = lambda b: b) -> None:
    write(root / dst, transform((root / src).read_bytes()))


def _resize(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)).resize((40, 40), Image.Resampling.LANCZOS))


PLANTS: dict[str, tuple[Callable[[Path], None], str, str, str | None]] = {
    # id: (plant, check, split, expected example path; duplicate_of path in a comment of the test)
    "corrupt truncated": (lambda r: write(r / "val/cat/cut.jpg", (r / "val/cat/cat_000.jpg").read_bytes()[:400]), "corrupt_file", "val", "val/cat/cut.jpg"),
    "corrupt not an image": (lambda r: write(r / "train/dog/notes.png", b"not an image"), "corrupt_file", "train", "train/dog/notes.png"),
    "exact byte copy": (lambda r: _copy(r, "train/cat/cat_001.jpg", "train/cat/copy.jpg"), "duplicates", "train", "train/cat/copy.jpg"),
    "lossless re-save": (
        lambda r: (write(r / "train/cat/orig.png", encode(textured(4242), "PNG", compress_level=9)),
                   _copy(r, "train/cat/orig.png", "train/cat/resaved.png", resave_png)),
        "duplicates", "train", "train/cat/resaved.png",
    ),
    "exact copy across splits": (lambda r: _copy(r, "train/dog/dog_002.jpg", "test/dog/leak.jpg"), "split_overlap", "test", "test/dog/leak.jpg"),
    "re-encoded copy within train": (lambda r: _copy(r, "train/bird/bird_003.jpg", "train/bird/q50.jpg", lambda b: reencode(b, 50)), "near_duplicates", "train", "train/bird/q50.jpg"),
    "brightened copy in test": (lambda r: _copy(r, "train/cat/cat_004.jpg", "test/cat/bright.jpg", brighten), "near_split_overlap", "test", "test/cat/bright.jpg"),
    "resized copy in val": (lambda r: _copy(r, "train/dog/dog_005.jpg", "val/dog/small.jpg", _resize), "near_split_overlap", "val", "val/dog/small.jpg"),
    "same image under two classes": (lambda r: _copy(r, "train/cat/cat_006.jpg", "train/dog/cat_006.jpg"), "conflicting_labels", "train", None),
    "odd size": (lambda r: write(r / "train/bird/wide.jpg", encode(textured(777, (160, 48)))), "image_properties", "train", "train/bird/wide.jpg"),
    "grayscale image": (lambda r: write(r / "train/bird/grey.jpg", encode(textured(778).convert("L"))), "image_properties", "train", "train/bird/grey.jpg"),
    "blank image": (lambda r: write(r / "train/bird/blank.png", encode(Image.new("RGB", (48, 48), (9, 9, 9)), "PNG")), "image_properties", "train", "train/bird/blank.png"),
    "class missing from test": (lambda r: shutil.rmtree(r / "test/bird"), "label_set_mismatch", "test", None),
}


@pytest.mark.parametrize("plant", list(PLANTS), ids=[f"{k} is found" for k in PLANTS])
def test_each_planted_image_fault_is_found_where_it_is(dataset: Path, plant: str) -> None:
    make, check, split, path = PLANTS[plant]
    make(dataset)
    report = run(dataset)
    found = [f for f in by_check(report, check) if f.split == split]
    assert found, f"no {check} finding in {split}: {[(f.check, f.split) for f in report.findings]}"
    if path is not None:
        assert any(e.get("path") == path for f in found for e in f.examples)
    if check == "conflicting_labels":
        ex = found[0].examples[0]
        assert {ex["path"], ex["duplicate_of"]["path"]} == {"train/cat/cat_006.jpg", "train/dog/cat_006.jpg"}
    if check in ("near_split_overlap", "split_overlap", "near_duplicates", "duplicates"):
        ex = next(e for f in found for e in f.examples if e.get("path") == path)
        assert "duplicate_of" in ex and ex["duplicate_of"]["path"].endswith((".jpg", ".png"))


def test_near_copy_is_not_also_reported_as_exact(dataset: Path) -> None:
    _copy(dataset, "train/cat/cat_004.jpg", "test/cat/bright.jpg", brighten)
    report = run(dataset)
    assert by_check(report, "split_overlap") == []
    (f,) = by_check(report, "near_split_overlap")
    assert f.examples[0]["duplicate_of"] == {"split": "train", "path": "train/cat/cat_004.jpg"}


def test_class_imbalance_and_label_shift_from_folder_labels(tmp_path: Path) -> None:
    root = imagefolder(tmp_path / "ds", {
        "train": {"cat": 40, "dog": 40, "bird": 3},
        "test": {"cat": 2, "dog": 36, "bird": 2},
    }, size=24)  # fmt: skip
    report = run(root)
    imb = [f for f in by_check(report, "class_imbalance") if f.split == "train"]
    assert imb and "bird" in imb[0].message
    assert [f.split for f in by_check(report, "label_shift")] == ["test"]


def test_distribution_shift_on_image_statistics(tmp_path: Path) -> None:
    root = imagefolder(tmp_path / "ds", {"train": {"a": 30, "b": 30}, "test": {"a": 15, "b": 15}}, size=24)
    for p in (root / "test").rglob("*.jpg"):
        p.write_bytes(brighten(p.read_bytes(), 1.8))
    report = run(root)
    shifted = by_check(report, "distribution_shift")
    assert shifted and all(f.split == "test" for f in shifted)
    assert {"brightness", "mean_r", "mean_g", "mean_b"} & {f.column for f in shifted}


def test_schema_mismatch_when_a_split_is_grayscale(dataset: Path) -> None:
    for p in (dataset / "test").rglob("*.jpg"):
        p.write_bytes(encode(Image.open(p).convert("L")))
    report = run(dataset)
    (f,) = by_check(report, "schema_mismatch")
    assert f.split == "test" and f.details["kind"] == "image_mode"


def test_a_dataset_of_only_broken_files_scans_without_crashing(tmp_path: Path) -> None:
    write(tmp_path / "train" / "a" / "1.jpg", b"")
    write(tmp_path / "train" / "a" / "2.jpg", encode(textured(1))[:100])
    write(tmp_path / "train" / "b" / "3.png", b"plain text")
    report = run(tmp_path)
    assert not report.passed
    (f,) = by_check(report, "corrupt_file")
    assert sorted(e["path"] for e in f.examples) == ["train/a/1.jpg", "train/a/2.jpg", "train/b/3.png"]


def test_json_report_of_an_image_scan_validates_against_the_schema(dataset: Path) -> None:
    _copy(dataset, "train/cat/cat_001.jpg", "test/cat/leak.jpg")
    write(dataset / "val/cat/bad.png", b"")
    doc = json.loads(run(dataset).to_json())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["modality"] == "image" and doc["label_column"] == "label"
    assert {f["check"] for f in doc["findings"]} >= {"split_overlap", "corrupt_file"}


# -- the sample datasets ----------------------------------------------------------------


def test_sample_images_clean_passes_without_warnings() -> None:
    report = run(REPO / "sample_data" / "images_clean")
    assert report.passed
    assert [(f.check, f.split) for f in report.findings if f.severity >= Severity.WARNING] == []


def test_sample_images_faulty_raises_every_planted_fault() -> None:
    report = run(REPO / "sample_data" / "images_faulty")
    where = {(f.check, f.split): f for f in report.findings}
    paths = {(f.check, e.get("path")) for f in report.findings for e in f.examples}
    assert ("corrupt_file", "train/circle/truncated.jpg") in paths
    assert ("corrupt_file", "train/square/empty.png") in paths
    assert ("corrupt_file", "val/circle/notes.png") in paths
    assert ("duplicates", "train/circle/circle_001_copy.jpg") in paths
    assert ("duplicates", "train/square/square_002_resaved.png") in paths
    assert ("split_overlap", "test/circle/circle_004.jpg") in paths
    assert ("near_duplicates", "train/triangle/triangle_009_q60.jpg") in paths
    for near in ("test/square/reencoded.jpg", "val/circle/resized.jpg", "val/triangle/brightened.jpg", "test/circle/cropped.jpg"):
        assert ("near_split_overlap", near) in paths, near
    assert ("image_properties", "train/stripes/panorama.jpg") in paths
    assert ("image_properties", "train/circle/grayscale.jpg") in paths
    assert ("image_properties", "train/square/blank.png") in paths
    assert ("conflicting_labels", "train") in where
    assert ("class_imbalance", "train") in where
    assert ("label_set_mismatch", "test") in where and "triangle" in where[("label_set_mismatch", "test")].message
    assert not report.passed


# -- the command line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [("images_clean", 0), ("images_faulty", 1)],
    ids=["clean sample images exit 0", "faulty sample images exit 1"],
)
def test_cli_exit_code_and_json_on_sample_images(tmp_path: Path, name: str, code: int) -> None:
    import subprocess
    import sys

    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "dataaudit", "scan", str(REPO / "sample_data" / name), "--format", "json", "--output", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == code, proc.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["modality"] == "image"
    assert doc["summary"]["passed"] is (code == 0)


def _metadata_dataset(tmp_path: Path) -> Path:
    for split, offset in (("train", 0), ("test", 1000)):
        lines = ["file_name,label"]
        for i in range(12):
            write(tmp_path / split / f"{i}.jpg", encode(textured(offset + i, 24)))
            lines.append(f"{i}.jpg,{'ab'[i % 2]}")
        (tmp_path / split / "metadata.csv").write_text("\n".join(lines) + "\n")
    _copy(tmp_path, "train/3.jpg", "test/leak.jpg")
    with (tmp_path / "test" / "metadata.csv").open("a") as fh:
        fh.write("leak.jpg,b\n")
    return tmp_path


def _assert_metadata_scan(report: Report) -> None:
    assert report.modality == "image" and report.label_column == "label"
    (f,) = by_check(report, "split_overlap")
    assert f.examples[0] == {"split": "test", "path": "test/leak.jpg", "duplicate_of": {"split": "train", "path": "train/3.jpg"}}


def test_huggingface_imagefolder_with_metadata_scans_as_images_when_asked(tmp_path: Path) -> None:
    _assert_metadata_scan(run(_metadata_dataset(tmp_path), modality="image"))


def test_huggingface_imagefolder_with_metadata_scans_as_images(tmp_path: Path) -> None:
    _assert_metadata_scan(run(_metadata_dataset(tmp_path)))
