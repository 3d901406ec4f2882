"""Reduced-scale JPEG decoding (decode="reduced"): close to the full decode, said to differ in
the loader's record, a cache of its own; the exact path stays the default and bit-identical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("simplejpeg")

from PIL import Image  # noqa: E402

from dataaudit.errors import UsageError  # noqa: E402
from dataaudit.loader import build_loader  # noqa: E402
from dataaudit.loader.cache import TUNING, DecodeSpec, decode_image  # noqa: E402
from dataaudit.loader.decode import compare_decodes, decode_reduced  # noqa: E402

pytestmark = pytest.mark.torch

FAST = {"tune_seconds": 0.02, "threads": 2, "batch_size": 4}


def _photo(path: Path, w: int, h: int, seed: int = 0) -> Path:
    """Smooth colour fields plus a little noise, like a photo (what DCT scaling is made for)."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(low).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    img = np.clip(img + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=90)
    return path


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(8):
        _photo(root / "train" / ("x" if i % 2 else "y") / f"p{i}.jpg", 200, 150, seed=i)
    return root


@pytest.mark.parametrize(
    ("w", "h", "size"),
    [(200, 150, (48, 48)), (96, 64, (40, 56)), (120, 90, (30, 100))],
    ids=["a quarter-size square target", "a target just under the image", "a wide target"],
)
def test_reduced_decode_is_close_to_the_full_decode(tmp_path: Path, w: int, h: int, size: tuple[int, int]) -> None:
    path = _photo(tmp_path / "p.jpg", w, h)
    spec = DecodeSpec(*size)
    exact, reduced = decode_image(path, spec), decode_reduced(path, spec)
    assert reduced.shape == exact.shape == spec.item_shape and reduced.dtype == np.uint8
    # the same picture (a per-pixel noise field is where the two resamplings differ most)
    diff = np.abs(exact.astype(int) - reduced.astype(int))
    assert diff.mean() < 12.0
    assert np.corrcoef(exact.ravel().astype(float), reduced.ravel().astype(float))[0, 1] > 0.95


def test_reduced_decode_leaves_what_it_cannot_scale_to_the_exact_path(tmp_path: Path) -> None:
    small = _photo(tmp_path / "small.jpg", 30, 20)
    png = tmp_path / "big.png"
    Image.open(_photo(tmp_path / "big.jpg", 200, 150)).save(png)
    for path, spec in ((small, DecodeSpec(40, 40)), (png, DecodeSpec(24, 24))):
        assert np.array_equal(decode_reduced(path, spec), decode_image(path, spec))


def test_a_big_jpeg_really_takes_the_reduced_path(tmp_path: Path) -> None:
    path = _photo(tmp_path / "p.jpg", 400, 300)
    spec = DecodeSpec(32, 32)
    assert not np.array_equal(decode_reduced(path, spec), decode_image(path, spec))
    report = compare_decodes([path], spec)
    assert report["compared_images"] == 1 and report["identical"] is False and report["max_abs_diff"] > 0


def test_the_loader_says_when_its_pixels_differ_and_keeps_them_apart(photos: Path) -> None:
    exact = build_loader(photos, size=(24, 24), **FAST)
    reduced = build_loader(photos, size=(24, 24), decode="reduced", **FAST)
    assert exact.cache_path != reduced.cache_path
    assert exact.pixels() == {"identical_to_full_decode": True, "decode": "exact"}
    x_exact = torch.cat([x for x, _ in exact])
    x_reduced = torch.cat([x for x, _ in reduced])
    assert x_exact.shape == x_reduced.shape and not torch.equal(x_exact, x_reduced)
    px = reduced.pixels()
    assert px["identical_to_full_decode"] is False and px["decode"] == "reduced"
    assert px["compared_images"] == 8 and px["max_abs_diff"] > 0
    assert reduced.describe()["pixels"] == px
    reduced.choose_settings()
    (entry,) = json.loads((reduced.cache_path / TUNING).read_text())["decisions"].values()
    assert entry["context"]["pixels"]["identical_to_full_decode"] is False
    again = build_loader(photos, size=(24, 24), decode="reduced", **FAST)
    assert again.cached and again.pixels() == px  # read back from the cache's index


def test_an_unknown_decode_is_a_usage_error(photos: Path) -> None:
    with pytest.raises(UsageError, match="decode"):
        build_loader(photos, size=(24, 24), decode="fast", **FAST)
