"""The scan's JPEG decode through pillow's core and its file reads: the same pixels,
the same errors as pillow's public calls."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dataaudit.profile import images as img


def _jpeg(mode: str, size: tuple[int, int], seed: int = 0, **options: Any) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "JPEG", **options)
    return buf.getvalue()


def _public(data: bytes, draft: bool = False) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    if draft:
        w, h = im.size
        factor = min(w, h) / img.DRAFT_TARGET
        im.draft(im.mode, (-(-w // factor), -(-h // factor)))  # type: ignore[arg-type]
    im.load()
    return im


CASES = [
    ("RGB", (128, 128), {"quality": 90}),
    ("RGB", (37, 91), {"quality": 75, "subsampling": 0}),
    ("L", (64, 48), {}),
    ("RGB", (96, 80), {"progressive": True}),
    ("RGB", (120, 72), {"restart_marker_rows": 1}),
    ("RGB", (700, 500), {"quality": 100}),  # over 64 KiB: pillow feeds it in several reads
]
IDS = [
    "a baseline colour jpeg",
    "an odd-sized one without chroma subsampling",
    "a grey one",
    "a progressive one",
    "one with restart markers",
    "one larger than pillow's read size",
]


@pytest.mark.parametrize(("mode", "size", "options"), CASES, ids=IDS)
def test_the_direct_decode_gives_pillows_pixels(mode: str, size: tuple[int, int], options: dict[str, Any]) -> None:
    data = _jpeg(mode, size, **options)
    im = Image.open(io.BytesIO(data))
    assert img._load_jpeg(im, data) is True
    expected = _public(data)
    assert (im.mode, im.size) == (expected.mode, expected.size)
    assert im.tobytes() == expected.tobytes()
    assert img.analyse_image(data)["content"] == img._pixel_hash(expected, img._content_seed(mode, *size, 1))


def test_a_draft_decode_is_pillows_draft_decode() -> None:
    data = _jpeg("RGB", (2100, 1100), quality=80)
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (978, 513))
    assert img._load_jpeg(im, data) is True
    expected = _public(data, draft=True)
    assert im.size == expected.size == (1050, 550)
    assert im.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    "cut", [0.5, 0.95], ids=["a jpeg cut in half is left to pillow", "a jpeg missing its last bytes is left to pillow"]
)
def test_a_truncated_jpeg_is_left_to_pillows_load_and_its_error(cut: float) -> None:
    data = _jpeg("RGB", (128, 128), quality=90)
    data = data[: int(len(data) * cut)]
    im = Image.open(io.BytesIO(data))
    assert img._load_jpeg(im, data) is False
    with pytest.raises(OSError, match="truncated") as direct:
        im.load()
    with pytest.raises(OSError) as public:
        _public(data)
    assert str(direct.value) == str(public.value)


def test_a_corrupt_jpeg_gives_the_same_finding_as_before(tmp_path: Path) -> None:
    data = bytearray(_jpeg("RGB", (64, 64)))
    sos = data.index(b"\xff\xda")
    data[sos + 20 : sos + 400] = b"\xff" * 380  # entropy-coded data destroyed
    broken = bytes(data)
    try:
        _public(broken)
        expected = None
    except Exception as exc:  # noqa: BLE001 - whatever pillow raises is the reference
        expected = img._classify_error(broken, exc)
    result = img.decode_task(None, [(0, None, broken)])
    if expected is None:
        assert len(result.index) == 1 and not result.errors
    else:
        assert [(kind, message) for _, _, kind, message in result.errors] == [expected]


def test_other_formats_and_modes_take_pillows_load() -> None:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), "RGB").save(buf, "PNG")
    png = Image.open(io.BytesIO(buf.getvalue()))
    assert img._load_jpeg(png, buf.getvalue()) is False
    cmyk = io.BytesIO()
    Image.new("CMYK", (16, 16), (1, 2, 3, 4)).save(cmyk, "JPEG")
    im = Image.open(io.BytesIO(cmyk.getvalue()))
    assert img._load_jpeg(im, cmyk.getvalue()) is False
    im.load()
    assert im.mode == "CMYK"


@pytest.mark.parametrize(
    "size",
    [0, 5, img._READ_FIRST - 1, img._READ_FIRST, img._READ_FIRST + 1, 3 * img._READ_FIRST + 7],
    ids=["an empty file", "a tiny file", "just under one read", "exactly one read", "one byte over", "several reads"],
)
def test_file_reads_return_the_whole_file(tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert img._read_file(str(path)) == data


def test_unreadable_paths_raise_oserror_as_open_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        img._read_file(str(tmp_path / "missing.jpg"))
    with pytest.raises(IsADirectoryError):
        img._read_file(str(tmp_path))
