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


# -- plain JPEG headers read without Image.open ---------------------------------------


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0110] = "camera"
    return exif.tobytes()


HEADER_CASES = [
    ("RGB", (128, 128), {"quality": 90}, True),
    ("RGB", (33, 17), {"progressive": True, "optimize": True}, True),
    ("L", (40, 30), {"comment": b"made by a test"}, True),
    ("RGB", (64, 48), {"restart_marker_blocks": 2, "dpi": (300, 300)}, True),
    ("RGB", (64, 48), {"exif": _exif()}, False),
    ("RGB", (64, 48), {"icc_profile": b"\0" * 200}, False),
    ("RGB", (1100, 1030), {"quality": 50}, False),
]
HEADER_IDS = [
    "a baseline jpeg is plain",
    "a progressive optimised one is plain",
    "a grey one with a comment is plain",
    "one with restart markers and a density is plain",
    "one with exif is left to Image.open",
    "one with an icc profile is left to Image.open",
    "one large enough for a draft decode is left to Image.open",
]


@pytest.mark.parametrize(("mode", "size", "options", "plain"), HEADER_CASES, ids=HEADER_IDS)
def test_a_plain_header_reads_as_pillow_reads_it(
    mode: str, size: tuple[int, int], options: dict[str, Any], plain: bool
) -> None:
    data = _jpeg(mode, size, **options)
    head = img._plain_jpeg_header(data)
    im = Image.open(io.BytesIO(data))
    if not plain:
        assert head is None
        return
    assert head == (im.mode, *im.size)
    assert im.format == "JPEG" and [tuple(t) for t in im.tile] == [("jpeg", (0, 0, *size), 0, (mode, ""))]
    decoded = img._plain_jpeg(data)
    assert decoded is not None and decoded.tobytes() == _public(data).tobytes()


def _cmyk() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (1, 2, 3, 4)).save(buf, "JPEG")
    return buf.getvalue()


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of the header segments up to the start of scan."""
    out, pos = [], 2
    while True:
        marker, end = data[pos + 1], pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((marker, pos, end))
        if marker == 0xDA:
            return out
        pos = end


def _edit(data: bytes, marker: int, body: bytes) -> bytes:
    """``data`` with the first segment of ``marker`` given another body (length fixed up)."""
    for m, start, end in _segments(data):
        if m == marker:
            return data[:start] + bytes([0xFF, m]) + (len(body) + 2).to_bytes(2, "big") + body + data[end:]
    raise AssertionError(f"no segment {marker:#x}")


def _body(data: bytes, marker: int) -> bytes:
    start, end = next((s, e) for m, s, e in _segments(data) if m == marker)
    return data[start + 4 : end]


BASE = _jpeg("RGB", (48, 32), quality=90)
SOF = _body(BASE, 0xC0)
MALFORMED = {
    "a cmyk jpeg": _cmyk(),
    "a quantisation table cut short": _edit(BASE, 0xDB, _body(BASE, 0xDB)[:-1]),
    "a 12-bit frame": _edit(BASE, 0xC0, bytes([12]) + SOF[1:]),
    "a two-layer frame": _edit(BASE, 0xC0, SOF[:5] + bytes([2]) + SOF[6:12]),
    "a frame with a component cut short": _edit(BASE, 0xC0, SOF[:-1]),
    "a frame of width zero": _edit(BASE, 0xC0, SOF[:3] + b"\0\0" + SOF[5:]),
    "a jfif segment too short for its version": _edit(BASE, 0xE0, b"JFIF\0"),
    "a stray byte between segments": BASE[:2] + b"\x00" + BASE[2:],
    "padding before a marker": BASE[:2] + b"\xff" + BASE[2:],
    "a segment longer than the file": BASE[:4] + b"\xff\xff" + BASE[6:],
    "a header without a frame": b"\xff\xd8" + BASE[_segments(BASE)[-1][1] :],
    "an adobe segment": BASE[:2] + b"\xff\xee\x00\x0eAdobe\x00d\x00\x00\x00\x00\x01" + BASE[2:],
    "an mpo index": BASE[:2] + b"\xff\xe2\x00\x08MPF\x00\x00\x00" + BASE[2:],
    "a truncated header": BASE[:40],
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_unusual_or_malformed_headers_are_left_to_image_open(data: bytes) -> None:
    assert img._plain_jpeg_header(data) is None
    _same_as_the_public_path(data)


def _same_as_the_public_path(data: bytes) -> None:
    """decode_task gives the same figures or the same error with and without the plain path."""
    fast = img.decode_task(None, [(0, None, data)])
    saved = img._direct_jpeg
    img._direct_jpeg = False
    try:
        slow = img.decode_task(None, [(0, None, data)])
    finally:
        img._direct_jpeg = saved
    assert fast.errors == slow.errors
    for key in ("content", "phash", "width", "height", "channels", "means", "stds"):
        assert np.array_equal(getattr(fast, key), getattr(slow, key)), key
    assert fast.modes == slow.modes and fast.formats == slow.formats


def test_headers_with_random_damage_are_read_as_pillow_reads_them() -> None:
    rng = np.random.default_rng(11)
    header_end = _segments(BASE)[-1][2]
    accepted = 0
    for _ in range(400):
        data = bytearray(BASE)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(2, header_end))] = int(rng.integers(0, 256))
        blob = bytes(data)
        head = img._plain_jpeg_header(blob)
        if head is not None:
            accepted += 1
            im = Image.open(io.BytesIO(blob))  # must open: a plain header is one pillow reads
            assert head == (im.mode, *im.size) and im.format == "JPEG"
            assert [tuple(t) for t in im.tile] == [("jpeg", (0, 0, *im.size), 0, (im.mode, ""))]
        _same_as_the_public_path(blob)
    assert 0 < accepted < 400  # both outcomes were exercised


def test_error_messages_name_no_memory_address() -> None:
    blob = _edit(BASE, 0xC0, SOF[:5] + bytes([2]) + SOF[6:12])  # a two-layer frame: pillow cannot identify it
    (_, _, kind, message), = img.decode_task(None, [(0, None, blob)]).errors
    assert kind == "undecodable"
    assert message == "UnidentifiedImageError: cannot identify image file"
