"""The pixel hash of decoded images, read in place from pillow's memory where it can be."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dataaudit.profile import images as img


def _png(arr: np.ndarray, mode: str) -> Image.Image:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG")
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


@pytest.mark.parametrize(
    ("mode", "bands", "as_stored"),
    [("RGB", 3, "RGBA"), ("RGBA", 4, "RGBA"), ("L", None, "L")],
    ids=["rgb is hashed as pillow stores it (4 bytes a pixel)", "rgba as it is", "grey as it is"],
)
def test_the_in_place_hash_is_the_hash_of_the_stored_pixels(mode: str, bands: int | None, as_stored: str) -> None:
    rng = np.random.default_rng(7)
    shape = (23, 41) if bands is None else (23, 41, bands)
    im = _png(rng.integers(0, 256, shape, dtype=np.uint8), mode)
    # pillow stores RGB with a fourth byte of 255: the same bytes as the RGBA image with opaque alpha
    expected = img._hash(im.convert(as_stored).tobytes(), 99)
    assert img._pixel_hash(im, 99) == expected
    assert img._pixel_hash(im, 99) != img._pixel_hash(im, 98)


def test_one_changed_pixel_changes_the_in_place_hash() -> None:
    rng = np.random.default_rng(8)
    arr = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    other = arr.copy()
    other[15, 15, 2] ^= 1
    assert img._pixel_hash(_png(arr, "RGB"), 0) != img._pixel_hash(_png(other, "RGB"), 0)


def test_modes_without_an_in_place_layout_and_multi_block_images_hash_their_bytes() -> None:
    grey16 = Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    assert img._pixel_hash(grey16, 5) == img._hash(grey16.tobytes(), 5)
    # larger than one of pillow's 16 MiB blocks: no single buffer to read, so tobytes
    # (whether a block holds an image depends only on its mode and size, so identical
    # images always take the same path)
    big = Image.new("RGB", (3000, 2000), (10, 20, 30))
    assert img._pixel_hash(big, 5) == img._hash(big.tobytes(), 5)
    assert img._pixel_hash(big.copy(), 5) == img._pixel_hash(big, 5)


def test_a_task_of_images_gives_the_same_figures_as_each_image_alone(tmp_path: object) -> None:
    rng = np.random.default_rng(9)
    blobs = []
    for k in range(5):
        buf = io.BytesIO()
        mode = ("RGB", "L", "RGBA", "RGB", "P")[k]
        arr = rng.integers(0, 256, (70 + k, 90, 3), dtype=np.uint8)
        im = Image.fromarray(arr, "RGB").convert(mode)
        im.save(buf, "PNG")
        blobs.append(buf.getvalue())
    blobs.append(b"not an image at all")
    result = img.decode_task(None, [(i, None, b) for i, b in enumerate(blobs)])
    assert result.index.tolist() == [0, 1, 2, 3, 4]
    assert [e[0] for e in result.errors] == [5]
    for pos, i in enumerate(result.index.tolist()):
        alone = img.analyse_image(blobs[i])
        assert int(result.content[pos]) == alone["content"]
        assert int(result.phash[pos]) == alone["phash"]
        assert tuple(result.means[pos]) == alone["means"]
        assert tuple(result.stds[pos]) == alone["stds"]


@pytest.mark.parametrize(
    ("mode", "size"),
    [("RGB", (128, 128)), ("RGB", (300, 200)), ("L", (701, 64)), ("RGB", (40, 30)), ("L", (129, 255)), ("RGB", (64, 2000))],
    ids=["rgb reduced 2x", "rgb reduced 3x with partial boxes left out", "a grey strip used as it is",
         "a tiny image used as it is", "grey reduced 2x, odd sides", "a tall strip larger than one encoder buffer"],
)
def test_the_statistics_image_through_pillows_core_equals_the_public_calls(mode: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
    reduced = img._reduced(im)
    assert img._statistics_image_core(im) == (reduced.tobytes(), reduced.size[0], reduced.size[1])
    assert img._core_path  # the fast path is in use with this pillow


def test_the_statistics_image_falls_back_to_the_public_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise TypeError("another pillow")

    monkeypatch.setattr(img, "_raw_encoder", broken)
    monkeypatch.setattr(img, "_core_path", True)
    im = Image.fromarray(np.full((130, 140, 3), 7, dtype=np.uint8), "RGB")
    reduced = img._reduced(im)
    assert img._statistics_image(im) == (reduced.tobytes(), reduced.size[0], reduced.size[1])
    assert img._core_path is False
