"""One pass over the images of a split into mergeable statistics.

Images are decoded with pillow in worker processes (all cores unless
``config.workers`` says otherwise); at most a few tasks per worker are in flight,
so memory stays bounded whatever the dataset size. Each worker returns a small
tuple of figures per image, never pixels.

Per image we compute:

* ``byte_hash``: xxh64 of the file's bytes;
* the content hash: xxh64 of mode, size and decoded pixel bytes, so a lossless
  re-save (another PNG compression level, stripped metadata) is the same image.
  JPEGs whose sides are both at least :data:`DRAFT_MIN_SIDE` are decoded with
  pillow's ``draft`` (libjpeg DCT scaling) to at least :data:`DRAFT_TARGET` pixels
  on the short side, and the content hash is over that reduced decode (plus the
  full size and the scale): two such files still hash alike exactly when their
  JPEG coefficients do;
* a 64-bit perceptual hash (DCT pHash as in Zauner 2010 and ``imagehash``: the
  image box-reduced to a short side of 64-127 px, resized to a 32x32 thumbnail
  with pillow's antialiased bilinear weights, its luma's 8x8 lowest DCT
  frequencies against their median; the resize is folded into the DCT);
* a 16x16 luma thumbnail (256 bytes, the same antialiased bilinear resize of the
  statistics image, rounded to 8 bits): the finer comparison that verifies pHash
  near-copy candidates (``checks/duplicates.py``);
* width, height, aspect (width / height), mode, channel count (palette images
  count as the RGB(A) they decode to), format;
* per-channel mean and standard deviation of R, G, B on a 0-255 scale, of the
  image box-reduced by an integer factor to a short side of 64-127 px (whole
  boxes only; smaller images are used as they are): means are those of the full
  image up to rounding, standard deviations measure contrast at that scale;
  grey images give the same figure for the three channels and alpha is ignored;
  brightness (ITU-R 601 luma of the channel means) and ``pixel_std``, the largest
  channel standard deviation; ``near_constant`` when it is below
  :data:`NEAR_CONSTANT_STD`.

Per file, a worker reads the bytes with one ``os.read`` (plus the one that finds
the end). A plain 8-bit grey or colour JPEG (:func:`_plain_jpeg_header`: only
segments pillow's parser reads without error, no EXIF/ICC/Adobe/MPO) goes
straight to pillow's JPEG decoder with the arguments ``Image.open`` would give
it (:func:`_plain_jpeg`); other files are opened with ``Image.open`` and RGB or
grey JPEGs among them decoded the same way (:func:`_load_jpeg`: what
``ImageFile.load`` does for one tile, without its Python). Any decode that does
not end cleanly is redone through ``Image.open`` and ``load``, so broken files
fail as pillow says. Tasks carry :data:`TASK_ITEMS` files, the dataset's last ones
:data:`TAIL_TASK_ITEMS`.

Broken files never raise: they become :class:`~dataaudit.sources.base.FileProblem`
of kind ``empty``, ``truncated``, ``not_image``, ``undecodable`` or
``unreadable`` (missing or unreadable file).
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import io
import math
import multiprocessing
import os
import re
import sys
import warnings
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import xxhash
from PIL import Image, JpegImagePlugin

from dataaudit.errors import DataauditError
from dataaudit.profile.columns import ColumnStats
from dataaudit.profile.hashes import ItemHashes
from dataaudit.profile.labels import LabelStats
from dataaudit.profile.moments import Moments
from dataaudit.profile.sample import RowSample
from dataaudit.profile.split import SplitStats
from dataaudit.sources.base import ROW, Batch, Dataset, FileProblem
from dataaudit.sources.images import ImageRecord, sniff_image

if TYPE_CHECKING:
    from dataaudit.config import Config

HASH_SCHEME = "xxh64-image-pixels-v3"
""":attr:`ItemHashes.scheme` of image content hashes."""

DRAFT_MIN_SIDE = 1024
DRAFT_TARGET = 512
NEAR_CONSTANT_STD = 2.0
"""Luma standard deviation (0-255 scale) under which an image is near-constant."""
TASK_ITEMS = 256
"""Images per task sent to a worker process (fewer, larger tasks: less pool traffic;
each task costs the parent ~0.3 ms of CPU in ``ProcessPoolExecutor``'s threads)."""
DATA_TASK_ITEMS = 128
"""Images per task when the records carry their bytes (Hub items): tasks in flight
hold them, so they stay as small as before :data:`TASK_ITEMS` grew."""
TAIL_TASK_ITEMS = 32
"""Images per task once a dataset has at most ``workers`` x :data:`TASK_ITEMS` images
left to send: the last tasks are small, so the workers finish close together."""
_FIGURE_PIXELS = 16_384
"""Pixels of statistics images processed per numpy call in :func:`_figures` (four
64x64 images): the float64 temporaries stay in cache."""
INFLIGHT_PER_WORKER = 4
INLINE_MAX = 64
"""Datasets with fewer images are decoded in this process (no pool start-up)."""
MAX_CONSECUTIVE_CRASHES = 3
"""Worker deaths in a row, with no image decoded between them, before the scan gives up."""

NUMERIC_COLUMNS: tuple[str, ...] = (
    "width", "height", "aspect", "brightness",
    "mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b",
)  # fmt: skip
"""Per-image figures kept as numeric columns (and in the row sample)."""
_INT_COLUMNS = frozenset({"width", "height"})

_CHANNELS = {"RGB": 3, "L": 1, "RGBA": 4, "LA": 2, "1": 1, "CMYK": 4, "P": 3, "PA": 4}
"""Channels per mode; palette images decode to RGB(A): count the channels a loader will see."""

_PHASH_N = 32
THUMB_SIDE = 16
"""Side of the luma thumbnail kept per image to verify perceptual-hash near copies
(``checks/duplicates.py``): 256 bytes an image, from the product the pHash already makes."""
THUMB_BYTES = THUMB_SIDE * THUMB_SIDE
_k = np.arange(8)[:, None]
_n = np.arange(_PHASH_N)[None, :]
_DCT8 = np.cos(np.pi * (2 * _n + 1) * _k / (2 * _PHASH_N)) * np.sqrt(2.0 / _PHASH_N)
_DCT8[0] /= np.sqrt(2.0)
_LUMA = np.asarray([0.299, 0.587, 0.114])
_HIGH_DEPTH = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})

ErrRow = tuple[int, int, str, str]
"""``(index, byte_hash, kind, message)`` of an image that could not be analysed."""
Task = list[tuple[int, "str | None", "bytes | None"]]
"""``(index, path, data)`` of the images of one unit of work."""
Decoded = tuple[int, int, int, str, int, str, bytes, int, int]
"""``(content_hash, width, height, mode, channels, format, pixels, small_width,
small_height)`` of one decoded image: ``pixels`` the 8-bit ``L``/``RGB`` bytes of its
statistics image."""


@dataclass
class TaskResult:
    """Figures of the images of one task, as columns (cheap to pickle and to merge).

    Arrays are aligned with ``index`` (the images that decoded); ``errors`` lists
    the others.
    """

    index: np.ndarray
    byte_hash: np.ndarray
    content: np.ndarray
    phash: np.ndarray
    thumb: np.ndarray
    """(n, THUMB_BYTES) uint8 luma thumbnails (:data:`THUMB_SIDE` square, row-major)."""
    width: np.ndarray
    height: np.ndarray
    channels: np.ndarray
    means: np.ndarray
    """(n, 3) per-channel means, R G B, 0-255."""
    stds: np.ndarray
    """(n, 3) per-channel standard deviations."""
    modes: list[str]
    formats: list[str]
    errors: list[ErrRow]
    nbytes: int = 0
    """Bytes of the task's images (as read, or as given)."""

    @property
    def brightness(self) -> np.ndarray:
        """ITU-R 601 luma of the channel means."""
        return np.asarray(self.means @ _LUMA, dtype=np.float64)


# -- per-image work (runs in worker processes) ----------------------------------------


def _to_8bit(im: Any) -> Any:
    """``im`` as an 8-bit ``L`` or ``RGB`` image (16-bit and float scaled to 0-255)."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode in _HIGH_DEPTH:
        arr = np.asarray(im, dtype=np.float32)
        if mode == "F":
            top = float(arr.max()) if arr.size else 0.0
            arr = arr * 255.0 if top <= 1.0 else arr
        else:
            arr = arr / 257.0
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if mode in ("1", "LA", "La"):
        return im.convert("L")
    return im.convert("RGB")


def _decode_one(data: bytes) -> Decoded:
    """Decode one image with pillow C calls only (decode, pixel hash, one box
    reduction); the figures come later, per task, in :func:`_figures`."""
    plain = _plain_jpeg(data)
    if plain is not None:
        im, fmt, scale = plain, "JPEG", 1
        width, height = im.size
        mode = im.mode
        channels = _CHANNELS[mode]
    else:
        im = Image.open(io.BytesIO(data))
        width, height = im.size
        mode, fmt = im.mode, im.format or ""
        known = _CHANNELS.get(mode)
        channels = len(im.getbands()) if known is None else known
        scale = 1
        if fmt == "JPEG" and min(width, height) >= DRAFT_MIN_SIDE:
            factor = min(width, height) / DRAFT_TARGET
            im.draft(mode, (math.ceil(width / factor), math.ceil(height / factor)))
            scale = max(1, round(width / im.size[0]))
        if not (fmt == "JPEG" and _load_jpeg(im, data)):
            im.load()
    seed = _content_seed(mode, width, height, scale)
    if mode in ("P", "PA"):
        # the same indices under another palette are another picture
        seed = _hash(bytes(im.getpalette() or b""), seed)
    content = _pixel_hash(im, seed)
    pixels, sw, sh = _statistics_image(im if mode in ("RGB", "L") else _to_8bit(im))
    return content, width, height, mode, channels, fmt, pixels, sw, sh


_JpegImageFile: Any = JpegImagePlugin.JpegImageFile
_pillow_core: Any = getattr(Image, "core", None)
_direct_jpeg = True
"""Whether :func:`_load_jpeg` decodes through pillow's core (cleared for good the first
time its internals do not look as expected)."""


def _load_jpeg(im: Any, data: bytes) -> bool:
    """Load the JPEG ``im`` opened from ``data``: ``True`` when done, ``False`` when the
    caller must call ``im.load()`` (broken files, unusual ones, another pillow).

    What ``ImageFile.load`` does for a single-tile JPEG, without its Python around
    the decoder (file seeks, 64 KiB reads, tile sorting, the pixel-access object it
    returns): one decoder, fed the whole file, into a new image (~8 us of ~125 us
    for a 128x128 image). Only a decode that ends cleanly counts; any other outcome
    (truncated or corrupt data, a decoder error) is left to ``im.load()``, so broken
    files fail with pillow's own messages. Before the decode, the row buffer is
    placed for RGB (:class:`_RowBuffers`). A test holds the pixels to ``im.load()``'s.
    """
    global _direct_jpeg
    if not _direct_jpeg or type(im) is not _JpegImageFile or im.mode not in ("RGB", "L"):
        _place_row_buffer(im)
        return False
    try:
        tile = im.tile
        if len(tile) != 1 or im._im is not None:
            _place_row_buffer(im)
            return False
        name, extents, offset, args = tile[0]
        core = _pillow_core.new(im.mode, im.size)
        decoder = Image._getdecoder(im.mode, name, args, im.decoderconfig)
    except (AttributeError, TypeError, ValueError, OSError):
        _direct_jpeg = False  # pillow's internals differ: im.load() from now on
        _place_row_buffer(im)
        return False
    _place_row_buffer(im)
    try:
        decoder.setimage(core, extents)
        consumed, err = decoder.decode(memoryview(data)[offset:] if offset else data)
    except Exception:  # noqa: BLE001 - im.load() raises what pillow raises for this file
        return False
    finally:
        decoder.cleanup()
    if consumed >= 0 or err < 0:
        return False  # truncated (the decoder wants more) or broken
    im.im = core
    im.tile = []
    im.readonly = 0
    im.fp = None
    return True


_PLAIN_SEGMENTS = frozenset({0xC4, 0xDD, 0xFE})
"""DHT, DRI and COM: segments pillow's JPEG parser skips or stores without reading them."""
_PLAIN_SOF = frozenset({0xC0, 0xC1, 0xC2})
"""Baseline, extended sequential and progressive Huffman frames."""


def _plain_jpeg_header(data: bytes) -> tuple[str, int, int] | None:
    """``(mode, width, height)`` of a plain 8-bit grey or colour JPEG, or ``None``.

    Plain: start of image, then only APP0/APP1 (not EXIF)/APP3-APP12/APP15, DQT,
    DHT, DRI and COM segments and one baseline, extended or progressive frame
    (SOF0-2) before the start of scan, each well formed, back to back. Every such
    header is one pillow's ``JpegImageFile`` reads without error into exactly
    this mode and size, format ``JPEG`` and one ``jpeg`` tile from offset 0; the
    checks below are those its segment handlers would fail on. Anything else
    (EXIF, ICC profiles, MPO, Adobe or Photoshop segments, padding or stray
    bytes between segments, other frames, sides over :data:`DRAFT_MIN_SIDE`,
    pixel counts over pillow's bomb limit) is ``None``: ``Image.open`` reads it.
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    pos = 2
    frame: tuple[str, int, int] | None = None
    while True:
        if pos + 4 > n or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        end = pos + 2 + ((data[pos + 2] << 8) | data[pos + 3])
        if end < pos + 4 or end > n:
            return None
        body = pos + 4
        if marker == 0xDA:  # start of scan: the header is complete
            return frame
        if 0xE0 <= marker <= 0xEF:
            if marker in (0xE2, 0xED, 0xEE):
                return None  # ICC profile/MPO/FlashPix, Photoshop, Adobe: pillow parses them
            if marker == 0xE1 and data.startswith(b"Exif\0\0", body, end):
                return None  # pillow reads the DPI from it
            if marker == 0xE0 and data.startswith(b"JFIF", body, end) and end - body < 7:
                return None  # pillow reads the JFIF version at bytes 5-6
        elif marker == 0xDB:  # DQT: whole 8- or 16-bit tables, as pillow requires
            q = body
            while q < end:
                q += 65 if data[q] < 16 else 129
            if q != end:
                return None
        elif marker in _PLAIN_SOF:
            length = end - body
            if frame is not None or length < 6 or (length - 6) % 3 or data[body] != 8:
                return None
            layers = data[body + 5]
            height = (data[body + 1] << 8) | data[body + 2]
            width = (data[body + 3] << 8) | data[body + 4]
            if layers not in (1, 3) or not width or not height or min(width, height) >= DRAFT_MIN_SIDE:
                return None
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                return None
            frame = ("L" if layers == 1 else "RGB", width, height)
        elif marker not in _PLAIN_SEGMENTS:
            return None
        pos = end


def _plain_jpeg(data: bytes) -> Any:
    """The decoded image of a plain JPEG (:func:`_plain_jpeg_header`), or ``None`` (not
    plain, or its decode does not end cleanly): the caller then goes through
    ``Image.open`` and ``load``, which decode it again or raise pillow's error.

    Skips ``Image.open``'s Python header parse (~13 of ~17 us for a 128x128 JPEG,
    the info dict, quantization tables, EXIF DPI the scan does not read) and runs
    the decoder pillow would, with the arguments it would (``(mode, "")``, no
    draft), on the whole file (see :func:`_load_jpeg`). A test holds the header
    reading to pillow's on valid and malformed headers.
    """
    global _direct_jpeg
    if not _direct_jpeg:
        return None
    head = _plain_jpeg_header(data)
    if head is None:
        return None
    mode, width, height = head
    try:
        im = Image.new(mode, (width, height), None)
        decoder = Image._getdecoder(mode, "jpeg", (mode, ""))
    except (AttributeError, TypeError, ValueError, OSError):
        _direct_jpeg = False  # pillow's internals differ: Image.open from now on
        return None
    _place_row_buffer(im)
    try:
        decoder.setimage(im.im, (0, 0, width, height))
        consumed, err = decoder.decode(data)
    except Exception:  # noqa: BLE001 - Image.open and load raise what pillow raises for this file
        return None
    finally:
        decoder.cleanup()
    if consumed >= 0 or err < 0:
        return None
    return im


def _place_row_buffer(im: Any) -> None:
    if _row_buffers is not None and im.mode == "RGB":
        _row_buffers.place(im.size[0] * 4)  # pillow decodes RGB JPEG rows as RGBX


def _statistics_image(im8: Any) -> tuple[bytes, int, int]:
    """``(pixels, width, height)`` of the statistics image of an 8-bit image: the
    image box-reduced to a short side of 64-127 px (smaller images as they are).

    Its pHash thumbnail is computed from it in :func:`_figures`.
    """
    global _core_path
    if _core_path:
        try:
            return _statistics_image_core(im8)
        except (AttributeError, TypeError, ValueError):
            _core_path = False  # this pillow's internals differ: the public calls from now on
    mid = _reduced(im8)
    # packed bytes (RGB in 3): pillow's stored 4-byte RGB would be cheaper to copy, but
    # numpy converts a 3-of-4 strided view to float several times slower than it saves
    pixels: bytes = mid.tobytes()
    return pixels, mid.size[0], mid.size[1]


_raw_encoder: Any = getattr(getattr(Image, "core", None), "raw_encoder", None)
_core_path = _raw_encoder is not None
"""Whether :func:`_statistics_image` calls pillow's core directly (cleared for good the
first time that fails)."""


def _statistics_image_core(im8: Any) -> tuple[bytes, int, int]:
    """:func:`_statistics_image` through the calls ``Image.reduce`` and ``Image.tobytes``
    make, without their Python wrappers (a new ``Image`` with a copy of the info dict,
    reloads, encoder lookup): ~8 of ~25 us per 128x128 image. A test holds it to the
    public path byte for byte."""
    width, height = im8.size
    factor = min(width, height) // (2 * _PHASH_N)
    core = im8.im
    if factor > 1:
        core = core.reduce((factor, factor), (0, 0, width - width % factor, height - height % factor))
    w, h = core.size
    encoder = _raw_encoder(im8.mode, im8.mode)
    encoder.setimage(core, (0, 0, w, h))
    chunks = []
    while True:
        _, status, data = encoder.encode(max(65536, w * 4))
        chunks.append(data)
        if status:
            break
    if status < 0:
        raise ValueError(f"raw encoder error {status}")
    return b"".join(chunks), w, h


class _ArrowSchema(ctypes.Structure):
    """``struct ArrowSchema`` of the Arrow C data interface (a stable ABI)."""


_ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))), ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]  # fmt: skip


class _ArrowArray(ctypes.Structure):
    """``struct ArrowArray`` of the Arrow C data interface (a stable ABI)."""


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)), ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p), ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]  # fmt: skip

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

_IN_PLACE = {"L": (b"C", 1), "RGB": (b"+w:4", 4), "RGBA": (b"+w:4", 4)}
"""Modes whose pixels are hashed in place: the Arrow format pillow exports them as and
the bytes per pixel it stores."""


_LAYOUT_CHECKED: dict[str, bool] = {}
"""Mode -> whether pillow's Arrow schema for it is the one :data:`_IN_PLACE` expects
(checked on the first image of each mode, in each process)."""


def _schema_matches(schema_capsule: Any, fmt: bytes, pixel_bytes: int) -> bool:
    schema = _ArrowSchema.from_address(_capsule_pointer(schema_capsule, b"arrow_schema"))
    if schema.format != fmt:
        return False
    if pixel_bytes == 1:
        return bool(schema.n_children == 0)
    return bool(schema.n_children == 1 and schema.children[0].contents.format == b"C")


@functools.lru_cache(maxsize=64)
def _char_array(nbytes: int) -> Any:
    """The ctypes array type of ``nbytes`` bytes (creating a ctypes type costs microseconds)."""
    return ctypes.c_char * nbytes


def _stored_pixels(im: Any) -> tuple[Any, Any] | None:
    """``(view, owner)``: the pixels of ``im`` as pillow stores them, in place, or ``None``.

    Pillow exports an image held in one block of memory through the Arrow C data
    interface; ``view`` is a ctypes array over that memory (``L``: 1 byte a pixel;
    ``RGB``/``RGBA``: 4, ``RGB`` with a fourth byte of 255), valid while ``owner``
    (the exported capsules) is alive. ``None`` for other modes and for images spread
    over several blocks (very large ones), which depends only on mode and size.
    """
    layout = _IN_PLACE.get(im.mode)
    if layout is None:
        return None
    try:
        # the core's export, as Image.__arrow_c_array__ makes it (less its load(): the
        # image is loaded)
        core = im.im
        schema_capsule, array_capsule = core.__arrow_c_schema__(), core.__arrow_c_array__()
    except (AttributeError, ValueError):
        return None  # pillow without Arrow export, or rows not in one block
    fmt, pixel_bytes = layout
    ok = _LAYOUT_CHECKED.get(im.mode)
    if ok is None:
        ok = _LAYOUT_CHECKED[im.mode] = _schema_matches(schema_capsule, fmt, pixel_bytes)
    if not ok:
        return None
    array = _ArrowArray.from_address(_capsule_pointer(array_capsule, b"arrow_array"))
    if pixel_bytes > 1:
        if array.n_children != 1:
            return None
        array = array.children[0].contents
    width, height = im.size
    nbytes = width * height * pixel_bytes
    if array.length != nbytes or array.offset != 0 or array.n_buffers != 2 or not array.buffers[1]:
        return None
    return _char_array(nbytes).from_address(array.buffers[1]), (schema_capsule, array_capsule)


def _pixel_hash(im: Any, seed: int) -> int:
    """xxh64 of the decoded pixels of ``im``, read in place where pillow exports them.

    Hashing pillow's own buffer (:func:`_stored_pixels`) saves ``tobytes``, which
    allocates a copy and packs ``RGB`` from the 4 bytes per pixel pillow stores.
    ``RGB`` is hashed as stored, its fourth byte included: pillow's decoders and
    unpackers set it to 255, so a JPEG and a lossless copy in another format still
    hash alike (a test holds every format to that). Other modes, and images spread
    over several blocks, are hashed from ``tobytes``; which path an image takes
    depends only on its mode and size, so identical images take the same one.
    """
    stored = _stored_pixels(im)
    if stored is None:
        return _hash(im.tobytes(), seed)
    view, _owner = stored  # the capsules own the exported memory: alive until we return
    return _hash(view, seed)


def _hash(data: Any, seed: int = 0) -> int:
    """xxh64 of a buffer: the hash of file bytes and of pixels in the workers.

    Not xxh3: its vectorised path (inputs over 240 bytes) uses AVX-512 where the
    CPU has it, and here that made the pillow and libjpeg-turbo code that ran
    next about 10 us per image slower (a 128x128 JPEG decodes in ~120 us), more
    than xxh3 saves over xxh64 (~3 us on 64 KiB).
    """
    return xxhash.xxh64_intdigest(data, seed=seed)


def _reduced(im8: Any) -> Any:
    """``im8`` box-reduced by an integer factor to a short side of 64-127 px.

    The last ``width % factor`` columns and ``height % factor`` rows are left out,
    so every output pixel averages a full box (pillow would average the partial
    boxes at the edges too, over-weighting edge pixels).
    """
    width, height = im8.size
    factor = min(width, height) // (2 * _PHASH_N)
    if factor <= 1:
        return im8
    return im8.reduce(factor, (0, 0, width - width % factor, height - height % factor))


@functools.lru_cache(maxsize=256)
def _content_seed(mode: str, width: int, height: int, scale: int) -> int:
    """Mode, size and draft scale folded into the seed of the pixel hash."""
    return _hash(f"{mode}|{width}x{height}|{scale}".encode())


def phash_batch(luma32: np.ndarray) -> np.ndarray:
    """64-bit DCT pHash of each 32x32 luma thumbnail in ``luma32`` (shape (n, 32, 32)).

    The 8x8 lowest frequencies of the 2-D DCT-II are compared with their median;
    bit 63 is the DC term. Vectorised over the batch.
    """
    x = np.asarray(luma32, dtype=np.float64).reshape(-1, _PHASH_N, _PHASH_N)
    if len(x) == 0:
        return np.zeros(0, dtype=np.uint64)
    return _phash_bits((_DCT8 @ x @ _DCT8.T).reshape(len(x), 64))


def phash64(im: Any) -> int:
    """64-bit DCT perceptual hash of one pillow image (same as the scan computes)."""
    return int(_figures([_statistics_image(_to_8bit(im))])[2][0])


@functools.lru_cache(maxsize=128)
def _resample_matrix(n: int, size: int = _PHASH_N) -> np.ndarray:
    """``(size, n)`` weights of pillow's antialiased bilinear resize of ``n`` samples to ``size``.

    The same triangle filter, widened by the scale when shrinking, with the same
    centres and normalisation as pillow's ``precompute_coeffs``: applied to a
    statistics image it gives the thumbnail ``resize((size, size), BILINEAR)`` would,
    without rounding to 8 bits.
    """
    scale = n / size
    filterscale = max(scale, 1.0)
    support = filterscale  # bilinear: support 1, widened by the scale
    out = np.zeros((size, n))
    for i in range(size):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n)
        x = (np.arange(lo, hi) - centre + 0.5) / filterscale
        w = np.clip(1.0 - np.abs(x), 0.0, None)
        if w.sum() > 0:
            out[i, lo:hi] = w / w.sum()
    return out


@functools.lru_cache(maxsize=64)
def _dct_resample(n: int) -> np.ndarray:
    """``(8, n)``: the 8 lowest DCT-II rows of a 32-point thumbnail, folded into the
    resize from ``n`` samples (``_DCT8 @ _resample_matrix(n)``)."""
    folded: np.ndarray = _DCT8 @ _resample_matrix(n)
    return folded


@functools.lru_cache(maxsize=64)
def _row_weights(n: int) -> np.ndarray:
    """``(8 + THUMB_SIDE, n)``: :func:`_dct_resample` stacked on the thumbnail's resize, so
    one product over an image's rows serves the pHash and the thumbnail."""
    return np.ascontiguousarray(np.vstack([_dct_resample(n), _resample_matrix(n, THUMB_SIDE)]))


def _figures(items: list[tuple[bytes, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel means and stds (n, 3), pHashes (n,) and luma thumbnails (n, THUMB_BYTES)
    of ``(pixels, width, height)`` statistics images (8-bit ``L`` or ``RGB`` bytes),
    vectorised per shape.

    Grey images give the same figure for the three channels. Sums are of integers
    in float64, hence exact: the figures do not depend on how images were batched.
    The pHash's 8x8 lowest DCT frequencies are taken straight from each image's
    luma with :func:`_dct_resample` (resize and DCT in two small matrix products); the
    thumbnail (:data:`THUMB_SIDE` square, the same antialiased bilinear resize, rounded
    to 8 bits) shares the product over the rows.
    """
    n = len(items)
    sums = np.zeros((n, 3))
    squares = np.zeros((n, 3))
    count = np.ones(n)
    low = np.zeros((n, 8, 8))
    thumbs = np.zeros((n, THUMB_SIDE, THUMB_SIDE))
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, (pixels, w, h) in enumerate(items):
        groups.setdefault((w, h, len(pixels) // max(w * h, 1)), []).append(i)
    blocks = [
        (key, g[s : s + step])
        for key, g in groups.items()
        for step in [max(1, _FIGURE_PIXELS // max(key[0] * key[1], 1))]
        for s in range(0, len(g), step)
    ]
    for (w, h, bands), members in blocks:
        x = np.frombuffer(b"".join([items[i][0] for i in members]), dtype=np.uint8)
        x = x.reshape(len(members), w * h, bands).astype(np.float64)
        ones = np.ones(w * h)
        # sums as matrix products (numpy's reductions over the middle axis are several times
        # slower); integers in float64, hence exact
        sums[members] = x.transpose(0, 2, 1) @ ones  # a grey image's sum fills the three channels
        squares[members] = (x * x).transpose(0, 2, 1) @ ones
        count[members] = w * h
        luma = (x @ _LUMA if bands == 3 else x[:, :, 0]).reshape(len(members), h, w)
        rows = _row_weights(h) @ luma
        low[members] = rows[:, :8] @ _dct_resample(w).T
        thumbs[members] = rows[:, 8:] @ _resample_matrix(w, THUMB_SIDE).T
    means = sums / count[:, None]
    stds = np.sqrt(np.maximum(squares / count[:, None] - means * means, 0.0))
    thumb = np.clip(np.rint(thumbs.reshape(n, THUMB_BYTES)), 0, 255).astype(np.uint8)
    return means, stds, _phash_bits(low.reshape(n, 64)), thumb


def _phash_bits(low: np.ndarray) -> np.ndarray:
    """64-bit hashes from ``(n, 64)`` low DCT frequencies: each against their median."""
    if len(low) == 0:
        return np.zeros(0, dtype=np.uint64)
    med = np.partition(low, (31, 32), axis=1)[:, 31:33].mean(axis=1)
    packed = np.packbits(low > med[:, None], axis=1)
    return packed.view(">u8").ravel().astype(np.uint64)


_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-fA-F]+>")
"""pillow names the file object it could not identify: a memory address, different
in every run, that would make reports differ."""


def _classify_error(data: bytes, exc: BaseException) -> tuple[str, str]:
    text = _OBJECT_REPR.sub("", f"{type(exc).__name__}: {exc}").strip()
    lowered = text.lower()
    if "truncated" in lowered or isinstance(exc, EOFError) or "premature end" in lowered:
        return "truncated", text
    if type(exc).__name__ == "UnidentifiedImageError":
        if sniff_image(data[:16]) is None:
            return "not_image", "the file's content is not a recognised image format"
        return "undecodable", text
    return "undecodable", text


_READ_FIRST = 1 << 18
"""Bytes asked for by the first ``read`` of a file (most images are smaller: one read)."""


def _read_file(path: str) -> bytes:
    """The bytes of the file at ``path``: ``open``, ``read`` until end of file, ``close``.

    ``os.open``/``os.read`` rather than ``open(path, "rb").read()``: no buffered file
    object to build and no ``fstat`` for its size hint (~6.7 -> ~2.5 us per file).
    The read that returns nothing is what says the file ended, as ``readall`` does.
    """
    fd = os.open(path, _O_RDONLY)
    try:
        data = os.read(fd, _READ_FIRST)
        if not data:
            return data
        more = os.read(fd, max(len(data), _READ_FIRST))
        if not more:
            return data
        chunks = [data, more]
        while more:
            more = os.read(fd, 4 * len(more))
            chunks.append(more)
        return b"".join(chunks)
    finally:
        os.close(fd)


_O_RDONLY = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
"""O_NONBLOCK: a FIFO put in place of a listed image after the listing gives an empty read, never a wait."""


def decode_task(root: str | None, items: Task) -> TaskResult:
    """Analyse ``(index, path, data)`` items; the unit of work of a worker process.

    Per image only pillow's C routines run (decode, pixel hash, one box
    reduction); the statistics and perceptual hashes are then computed for the
    whole task at once with numpy (:func:`_figures`).
    """
    index: list[int] = []
    byte_hashes: list[int] = []
    rows: list[Decoded] = []
    errors: list[ErrRow] = []
    nbytes = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for idx, path, data in items:
            if data is None:
                try:
                    data = _read_file(os.path.join(root or "", path or ""))
                except OSError as exc:
                    errors.append((idx, 0, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}"))
                    continue
            nbytes += len(data)
            byte_hash = _hash(data)
            if not data:
                errors.append((idx, byte_hash, "empty", "the file is empty (0 bytes)"))
                continue
            try:
                rows.append(_decode_one(data))
            except Exception as exc:  # any decoder failure is a finding, never a crash
                kind, message = _classify_error(data, exc)
                errors.append((idx, byte_hash, kind, message))
                continue
            index.append(idx)
            byte_hashes.append(byte_hash)
    contents, widths, heights, modes, channels, formats, pixels, sws, shs = zip(*rows) if rows else ((),) * 9
    means, stds, ph, thumb = _figures(list(zip(pixels, sws, shs)))
    return TaskResult(
        index=np.asarray(index, dtype=np.int64),
        byte_hash=np.asarray(byte_hashes, dtype=np.uint64),
        content=np.asarray(contents, dtype=np.uint64),
        phash=ph,
        thumb=thumb,
        width=np.asarray(widths, dtype=np.int64),
        height=np.asarray(heights, dtype=np.int64),
        channels=np.asarray(channels, dtype=np.int64),
        means=means,
        stds=stds,
        modes=list(modes),
        formats=list(formats),
        errors=errors,
        nbytes=nbytes,
    )


def analyse_image(data: bytes) -> dict[str, Any]:
    """Every figure the scan computes for one encoded image; raises on a broken file.

    Keys: ``content`` (pixel hash), ``phash``, ``thumb`` (luma thumbnail, uint8), ``width``,
    ``height``, ``mode``, ``channels``, ``format``, ``means``, ``stds`` (R, G, B), ``brightness``,
    ``pixel_std``.
    """
    content, w, h, mode, ch, fmt, pixels, sw, sh = _decode_one(data)
    means, stds, ph, thumb = _figures([(pixels, sw, sh)])
    return {
        "content": content, "phash": int(ph[0]), "thumb": thumb[0], "width": w, "height": h, "mode": mode, "channels": ch,
        "format": fmt, "means": tuple(float(v) for v in means[0]), "stds": tuple(float(v) for v in stds[0]),
        "brightness": float(means[0] @ _LUMA), "pixel_std": float(stds[0].max()),
    }  # fmt: skip


def _worker_init() -> None:
    warnings.simplefilter("ignore")
    # A forked worker inherits the parent's whole heap (listings, polars, ...): keep
    # the cyclic GC from walking it, which costs CPU and copies pages on write.
    gc.freeze()
    _keep_heap()
    global _row_buffers
    libc = _glibc()
    if libc is not None:
        _row_buffers = _RowBuffers(libc)


class _RowBuffers:
    """Keep pillow's JPEG row buffer off 32-byte boundaries, in worker processes.

    Pillow decodes a JPEG a row at a time into a buffer it ``calloc``-s per image
    and copies each row into the image. When that buffer is 32-byte aligned,
    libjpeg-turbo's AVX2 colour conversion writes it with non-temporal stores
    (``vmovntdq``), which bypass the cache, and the copy then reads every row back
    from memory: a 128x128 decode takes ~170-230 us instead of ~120 us. Whether it
    is aligned is heap luck (half the processes, and it stays so for the life of
    the process), so right before each decode this takes the chunk that ``calloc``
    would hand pillow: one at 16 mod 32 is freed straight back (pillow gets it),
    one at 0 mod 32 is held back (pillow gets another). glibc's ``calloc`` never
    reads its per-thread cache, so that cache is filled once per size first (else
    the freed chunk would park there). Only ever frees what it allocated; holds at
    most :attr:`MAX_KEPT_BYTES` (a chunk every few hundred images in practice); a
    size that keeps coming back aligned is left alone.
    """

    MAX_KEPT_BYTES = 8 << 20
    TCACHE_FILL = 7  # glibc's default tcache_count
    TRIES = 4

    def __init__(self, libc: Any) -> None:
        self._malloc, self._calloc, self._free = libc.malloc, libc.calloc, libc.free
        self._malloc.restype = self._calloc.restype = ctypes.c_void_p
        self._malloc.argtypes = [ctypes.c_size_t]
        self._calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        self._free.argtypes = [ctypes.c_void_p]
        self._filled: set[int] = set()
        self._given_up: set[int] = set()
        self.kept: list[int] = []
        self.kept_bytes = 0

    def place(self, nbytes: int) -> None:
        """Make the next ``calloc(1, nbytes)`` return a chunk at 16 mod 32 (best effort)."""
        if nbytes in self._given_up or nbytes <= 0:
            return
        if nbytes not in self._filled:
            chunks = [self._malloc(nbytes) for _ in range(self.TCACHE_FILL)]
            for chunk in chunks:
                self._free(chunk)
            self._filled.add(nbytes)
        for _ in range(self.TRIES):
            chunk = self._calloc(1, nbytes)
            if not chunk:
                return
            if chunk % 32 == 16:
                self._free(chunk)
                return
            if self.kept_bytes + nbytes > self.MAX_KEPT_BYTES:
                self._free(chunk)
                break
            self.kept.append(chunk)
            self.kept_bytes += nbytes
        self._given_up.add(nbytes)


_row_buffers: _RowBuffers | None = None
"""Set in worker processes on glibc (see :func:`_worker_init`)."""


def _glibc() -> Any:
    """The C library when it is glibc (its allocator is what :class:`_RowBuffers` relies on), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


def _keep_heap() -> None:
    """Stop glibc from returning freed memory to the system after every image.

    Each decode frees its pixel buffers; with the default thresholds glibc trims
    the heap and the next image's buffers and numpy temporaries fault their pages
    in again, which measured about twice the per-task numpy time here. Worker
    processes only (the caller's process is left alone); a no-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_trim_threshold, 32 << 20)
    mallopt(m_top_pad, 4 << 20)
    mallopt(m_mmap_threshold, 8 << 20)


# -- statistics ---------------------------------------------------------------------


@dataclass
class ImageSplitStats(SplitStats):
    """:class:`SplitStats` of an image split (``kind == "image"``).

    Beyond the generic fields (``rows`` = images listed, ``files`` = their paths,
    ``columns``/``sample`` of :data:`NUMERIC_COLUMNS`, ``hashes`` of the decoded
    images, ``labels``, ``file_problems``), ``extra`` holds arrays aligned with
    ``extra["index"]`` (every listed item, sorted by item index):

    ``paths`` (list of str or None), ``decoded`` (bool), ``width``, ``height``,
    ``channels`` (int64, 0 when not decoded), ``mode_of``, ``format_of`` (lists of
    str, ``""`` when not decoded), ``brightness``, ``pixel_std`` (float64, NaN when
    not decoded), ``near_constant`` (bool), ``byte_hash`` (uint64, 0 when
    unreadable); and for decoded images only ``phash`` (uint64) and ``thumb``
    ((n, THUMB_BYTES) uint8 luma thumbnails) with ``phash_index`` (int64 item
    indices); plus ``modes`` and ``formats``
    (Counters over decoded images) and ``near_constant_std`` (the threshold).
    """

    def item(self, index: int) -> dict[str, Any]:
        idx = self.extra.get("index")
        paths = self.extra.get("paths")
        if idx is not None and paths is not None and len(idx):
            pos = int(np.searchsorted(idx, index))
            if pos < len(idx) and int(idx[pos]) == index and paths[pos] is not None:
                return {"split": self.name, "path": paths[pos]}
        return {"split": self.name, "row": int(index)}

    def merge(self, other: SplitStats) -> SplitStats:
        """Fold another shard of the same split in (item indices must not overlap)."""
        mine, theirs = self.files, other.files
        self.files, other.files = [], []
        try:
            super().merge(other)
        finally:
            self.files, other.files = mine + theirs, theirs
        self.extra = merge_extra(self.extra, other.extra)
        return self


_ALIGNED_ARRAYS = ("decoded", "width", "height", "channels", "brightness", "pixel_std", "near_constant", "byte_hash")
_ALIGNED_LISTS = ("paths", "mode_of", "format_of")


def merge_extra(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Merge the per-item image arrays of two shards of one split."""
    if a.get("index") is None or len(a["index"]) == 0:
        return dict(b) if b else dict(a)
    if b.get("index") is None or len(b["index"]) == 0:
        return a
    index = np.concatenate([a["index"], b["index"]])
    order = np.argsort(index, kind="stable")
    out: dict[str, Any] = {"index": index[order]}
    for key in _ALIGNED_ARRAYS:
        out[key] = np.concatenate([a[key], b[key]])[order]
    for key in _ALIGNED_LISTS:
        joined = list(a[key]) + list(b[key])
        out[key] = [joined[i] for i in order.tolist()]
    pidx = np.concatenate([a["phash_index"], b["phash_index"]])
    porder = np.argsort(pidx, kind="stable")
    out["phash_index"] = pidx[porder]
    out["phash"] = np.concatenate([a["phash"], b["phash"]])[porder]
    if "thumb" in a and "thumb" in b:
        out["thumb"] = np.concatenate([a["thumb"], b["thumb"]])[porder]
    out["modes"] = Counter(a.get("modes", {})) + Counter(b.get("modes", {}))
    out["formats"] = Counter(a.get("formats", {})) + Counter(b.get("formats", {}))
    out["near_constant_std"] = a.get("near_constant_std", NEAR_CONSTANT_STD)
    for key, value in a.items():
        out.setdefault(key, value)
    if "thumb" not in b:
        out.pop("thumb", None)  # a shard without thumbnails: no verification rather than a misaligned one
    return out


# -- the profiler -------------------------------------------------------------------


class ImageSplitProfiler:
    """Consumes the :class:`ImageRecord` batches of one split; see :class:`ImageSplitStats`.

    Worker processes are shared by the profilers of all splits and kept until
    :meth:`close` (``profile_dataset`` calls it after the last split).
    """

    _pool: ClassVar[ProcessPoolExecutor | None] = None
    _pool_size: ClassVar[int] = 0
    _sent: ClassVar[int] = 0
    """Images sent to workers since the pool was last closed (``profile_dataset``
    closes it after each dataset): what is left of the dataset sizes its tasks."""

    def __init__(self, split: str, dataset: Dataset, config: Config) -> None:
        self.split = split
        self.root = None if dataset.root is None else str(dataset.root)
        self.config = config
        self.labelled = dataset.label_column is not None
        self.workers = max(1, int(config.workers) if config.workers else (os.cpu_count() or 1))
        total = dataset.detected.get("images")
        self.total = total if isinstance(total, int) else None
        self.inline = self.workers <= 1 or (self.total is not None and self.total < INLINE_MAX)
        self.max_inflight = self.workers * INFLIGHT_PER_WORKER
        self._pending: deque[tuple[Future[TaskResult], Task]] = deque()
        self._results: list[TaskResult] = []
        self._err: list[ErrRow] = []
        self._index: list[int] = []
        self._paths: list[str | None] = []
        self._labels: list[str | None] = []
        self._bytes = 0
        self._extra_problems: list[FileProblem] = []
        self._crashes = 0

    # pool management ------------------------------------------------------------
    @classmethod
    def _get_pool(cls, workers: int) -> ProcessPoolExecutor:
        if cls._pool is None or cls._pool_size != workers:
            cls._shutdown()
            # fork where the platform has it (as torch's DataLoader does): workers start in
            # milliseconds and never re-import the caller's __main__ (spawn and forkserver
            # do, which breaks scripts without a main guard). Workers only run pillow,
            # numpy and xxhash, none of which shares locks with the parent's thread pools.
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            cls._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)
            cls._pool_size = workers
        return cls._pool

    @classmethod
    def close(cls) -> None:
        """Shut the shared worker processes down (idempotent)."""
        cls._shutdown()
        ImageSplitProfiler._sent = 0

    @classmethod
    def _shutdown(cls) -> None:
        if cls._pool is not None:
            cls._pool.shutdown(wait=True, cancel_futures=True)
        cls._pool, cls._pool_size = None, 0

    # streaming --------------------------------------------------------------------
    def update(self, batch: Batch) -> None:
        """Queue the images of ``batch`` (``payload``: list of :class:`ImageRecord`)."""
        records: list[ImageRecord] = list(batch.payload or [])
        self._index.extend([r.index for r in records])
        # files of a local dataset are located by path; Hub items by row
        if self.root is not None:
            self._paths.extend([r.path if r.data is None else None for r in records])
        else:
            self._paths.extend([None] * len(records))
        self._labels.extend([r.label for r in records])
        start = 0
        while start < len(records):
            size = self._task_items() if records[start].data is None else DATA_TASK_ITEMS
            task: Task = [(r.index, r.path, r.data) for r in records[start : start + size]]
            start += size
            ImageSplitProfiler._sent += len(task)
            if self.inline:
                self._absorb(decode_task(self.root, task))
                continue
            pool = self._get_pool(self.workers)
            self._pending.append((pool.submit(decode_task, self.root, task), task))
            while len(self._pending) > self.max_inflight:
                self._collect_one()
        self._extra_problems.extend(batch.files)

    def _task_items(self) -> int:
        if self.total is not None and self.total - ImageSplitProfiler._sent <= self.workers * TASK_ITEMS:
            return min(TAIL_TASK_ITEMS, TASK_ITEMS)
        return TASK_ITEMS

    def _absorb(self, result: TaskResult) -> None:
        self._results.append(result)
        self._bytes += result.nbytes

    def _collect_one(self) -> None:
        fut, task = self._pending.popleft()
        try:
            self._absorb(fut.result())
        except BrokenProcessPool:
            self._retry_alone(task)

    def _retry_alone(self, task: Task) -> None:
        """A worker died (a decoder crash, or the pool broke under a task that was in
        flight beside the culprit): redo the task whole in a fresh pool, and if that
        dies too, an image at a time to find the culprit."""
        type(self)._shutdown()
        try:
            self._absorb(self._get_pool(self.workers).submit(decode_task, self.root, task).result())
            return
        except BrokenProcessPool:
            type(self)._shutdown()
        for item in task:
            pool = self._get_pool(self.workers)
            try:
                self._absorb(pool.submit(decode_task, self.root, [item]).result())
                self._crashes = 0
            except BrokenProcessPool:
                type(self)._shutdown()
                self._crashes += 1
                if self._crashes >= MAX_CONSECUTIVE_CRASHES:
                    raise DataauditError(
                        f"image worker processes died {self._crashes} times in a row; "
                        "rerun with --workers 1 to decode in the main process"
                    ) from None
                self._err.append((item[0], 0, "undecodable", "the image decoder crashed on this file"))

    def result(self) -> ImageSplitStats:
        """Wait for the split's images and return its statistics."""
        while self._pending:
            self._collect_one()
        return build_stats(
            self.split,
            np.asarray(self._index, dtype=np.int64),
            self._paths,
            self._labels if self.labelled else None,
            self._results,
            self._err,
            sample_size=self.config.sample_size,
            bytes_read=self._bytes,
            extra_problems=self._extra_problems,
        )


def _label_hash(label: str | None) -> int:
    return 0 if label is None else xxhash.xxh3_64_intdigest(label.encode("utf-8"))


def build_stats(
    split: str,
    index: np.ndarray,
    paths: list[str | None],
    labels: list[str | None] | None,
    results: list[TaskResult],
    errors: list[ErrRow] | None = None,
    sample_size: int = 20_000,
    bytes_read: int = 0,
    extra_problems: list[FileProblem] | None = None,
) -> ImageSplitStats:
    """Assemble :class:`ImageSplitStats` from the listed items and the task results.

    ``index``/``paths``/``labels`` describe every listed item (in any order);
    ``results`` hold the figures of the decoded ones and their errors, ``errors``
    any further failures (e.g. a decoder crash).
    """
    lab = labels
    if len(index) > 1 and not bool(np.all(index[1:] > index[:-1])):
        order = np.argsort(index, kind="stable")
        index = index[order]
        olist = order.tolist()
        paths = [paths[i] for i in olist]
        lab = None if labels is None else [labels[i] for i in olist]
    n = len(index)
    modes: Counter[str] = Counter()
    formats: Counter[str] = Counter()

    decoded = np.zeros(n, dtype=bool)
    width = np.zeros(n, dtype=np.int64)
    height = np.zeros(n, dtype=np.int64)
    channels = np.zeros(n, dtype=np.int64)
    brightness = np.full(n, np.nan)
    pixel_std = np.full(n, np.nan)
    byte_hash = np.zeros(n, dtype=np.uint64)
    mode_of = [""] * n
    format_of = [""] * n
    means = np.full((n, 3), np.nan)
    stds = np.full((n, 3), np.nan)
    content = np.zeros(n, dtype=np.uint64)
    phash = np.zeros(n, dtype=np.uint64)
    thumb = np.zeros((n, THUMB_BYTES), dtype=np.uint8)

    all_errors: list[ErrRow] = list(errors or [])
    for res in results:
        all_errors.extend(res.errors)
        if len(res.index) == 0:
            continue
        pos = np.searchsorted(index, res.index)
        decoded[pos] = True
        byte_hash[pos] = res.byte_hash
        content[pos] = res.content
        phash[pos] = res.phash
        thumb[pos] = res.thumb
        width[pos], height[pos], channels[pos] = res.width, res.height, res.channels
        means[pos], stds[pos] = res.means, res.stds
        brightness[pos] = res.brightness
        pixel_std[pos] = res.stds.max(axis=1)
        for p, m, f in zip(pos.tolist(), res.modes, res.formats):
            mode_of[p], format_of[p] = m, f
        modes.update(res.modes)
        formats.update(res.formats)
    problems: list[FileProblem] = list(extra_problems or [])
    for idx, bh, kind, message in sorted(all_errors):
        p = int(np.searchsorted(index, idx))
        byte_hash[p] = bh
        problems.append(FileProblem(split, paths[p] or f"{split}[{idx}]", kind, message))

    stats = ImageSplitStats(name=split, kind="image", rows=n, files=[p for p in paths if p is not None])
    stats.bytes_read = bytes_read
    stats.file_problems = problems

    d = decoded
    dec_index = index[d]
    values: dict[str, np.ndarray] = {
        "width": width[d].astype(np.float64),
        "height": height[d].astype(np.float64),
        "aspect": width[d] / np.maximum(height[d], 1),
        "brightness": brightness[d],
        "mean_r": means[d, 0], "mean_g": means[d, 1], "mean_b": means[d, 2],
        "std_r": stds[d, 0], "std_g": stds[d, 1], "std_b": stds[d, 2],
    }  # fmt: skip
    for name in NUMERIC_COLUMNS:
        stats.columns[name] = _numeric_column(name, values[name])

    stats.hashes = ItemHashes(scheme=HASH_SCHEME)
    label_hashes = np.zeros(int(d.sum()), dtype=np.uint64)
    if lab is not None:
        memo: dict[str | None, int] = {}
        label_hashes = np.asarray(
            [memo[v] if v in memo else memo.setdefault(v, _label_hash(v)) for v, keep in zip(lab, d.tolist()) if keep],
            dtype=np.uint64,
        )
    stats.hashes.add(dec_index, content[d], label_hashes)

    if lab is not None:
        ls = LabelStats()
        counts: Counter[str | None] = Counter(lab)
        ls.missing = counts.pop(None, 0)
        first: dict[str | None, list[int]] = {}
        cap = ls.example_cap
        for i, v in zip(index.tolist(), lab):
            rows = first.get(v)
            if rows is None:
                first[v] = [i]
            elif len(rows) < cap:
                rows.append(i)
        ls.missing_rows = first.pop(None, [])
        ls.add_counts({k: c for k, c in counts.items() if k is not None}, {k: r for k, r in first.items() if k is not None})
        stats.labels = ls

    import polars as pl

    stats.sample = RowSample(k=sample_size)
    frame = pl.DataFrame({**{k: pl.Series(k, v, dtype=pl.Float64) for k, v in values.items()}, ROW: dec_index})
    frame = frame.with_columns(pl.col("width").cast(pl.Int64), pl.col("height").cast(pl.Int64))
    stats.sample.update(frame)

    stats.extra = {
        "index": index,
        "paths": paths,
        "decoded": decoded,
        "width": width,
        "height": height,
        "channels": channels,
        "mode_of": mode_of,
        "format_of": format_of,
        "brightness": brightness,
        "pixel_std": pixel_std,
        "near_constant": np.nan_to_num(pixel_std, nan=np.inf) < NEAR_CONSTANT_STD,
        "byte_hash": byte_hash,
        "phash": phash[d],
        "thumb": thumb[d],
        "phash_index": dec_index,
        "modes": modes,
        "formats": formats,
        "near_constant_std": NEAR_CONSTANT_STD,
    }
    return stats


def _numeric_column(name: str, values: np.ndarray) -> ColumnStats:
    integral = name in _INT_COLUMNS
    col = ColumnStats(name=name)
    col.dtypes = {"int64" if integral else "float64"}
    col.count = len(values)
    col.integral = integral
    if len(values):
        col.numeric = Moments()
        col.numeric.add_summary(
            len(values), float(values.mean()), float(values.var()), float(values.min()), float(values.max())
        )
    if integral:
        distinct, counts = np.unique(values, return_counts=True)
        col.values = Counter({str(int(v)): int(c) for v, c in zip(distinct.tolist(), counts.tolist())})
        col.distinct_lower_bound = len(col.values)
    else:
        col.values = None
        col.distinct_lower_bound = int(len(np.unique(values)))
    return col


atexit.register(ImageSplitProfiler.close)


def profile_records(
    split: str,
    records: list[ImageRecord],
    root: Path | None,
    config: Config,
    labelled: bool = True,
) -> ImageSplitStats:
    """Statistics of one split from a list of records, decoded in this process (tests, tools)."""
    result = decode_task(None if root is None else str(root), [(r.index, r.path, r.data) for r in records])
    return build_stats(
        split,
        np.asarray([r.index for r in records], dtype=np.int64),
        [r.path for r in records],
        [r.label for r in records] if labelled else None,
        [result],
        sample_size=config.sample_size,
    )
