"""One pass over the images of a split into mergeable statistics.

Images are decoded with pillow in worker processes (all cores unless
``config.workers`` says otherwise); at most a few tasks per worker are in flight,
so memory stays bounded whatever the dataset size. Each worker returns a small
tuple of figures per image, never pixels.

Per image we compute:

* ``byte_hash``: xxh3-64 of the file's bytes;
* the content hash: xxh3-64 of mode, size and decoded pixel bytes, so a lossless
  re-save (another PNG compression level, stripped metadata) is the same image.
  JPEGs whose sides are both at least :data:`DRAFT_MIN_SIDE` are decoded with
  pillow's ``draft`` (libjpeg DCT scaling) to at least :data:`DRAFT_TARGET` pixels
  on the short side, and the content hash is over that reduced decode (plus the
  full size and the scale): two such files still hash alike exactly when their
  JPEG coefficients do;
* a 64-bit perceptual hash (DCT pHash: 32x32 luma, the 8x8 lowest frequencies
  against their median, as in Zauner 2010 and ``imagehash``);
* width, height, aspect (width / height), mode, channel count, format;
* per-channel mean and standard deviation of R, G, B on a 0-255 scale (grey
  images give the same figure for the three), brightness (mean ITU-R 601 luma)
  and the luma standard deviation; ``near_constant`` when the latter is below
  :data:`NEAR_CONSTANT_STD`.

Broken files never raise: they become :class:`~dataaudit.sources.base.FileProblem`
of kind ``empty``, ``truncated``, ``not_image``, ``undecodable`` or
``unreadable`` (missing or unreadable file).
"""

from __future__ import annotations

import atexit
import io
import math
import multiprocessing
import os
import warnings
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import xxhash

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

HASH_SCHEME = "xxh3_64-image-pixels-v1"
""":attr:`ItemHashes.scheme` of image content hashes."""

DRAFT_MIN_SIDE = 1024
DRAFT_TARGET = 512
STATS_MAX_SIDE = 512
"""Images larger than this are box-reduced before the per-channel statistics."""
NEAR_CONSTANT_STD = 2.0
"""Luma standard deviation (0-255 scale) under which an image is near-constant."""
TASK_ITEMS = 32
"""Images per task sent to a worker process."""
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

_EFFECTIVE_CHANNELS = {"P": 3, "PA": 4}
"""Palette images decode to RGB(A): count the channels a loader will see."""

_PHASH_N = 32
_k = np.arange(8)[:, None]
_n = np.arange(_PHASH_N)[None, :]
_DCT8 = (np.cos(np.pi * (2 * _n + 1) * _k / (2 * _PHASH_N)) * np.sqrt(2.0 / _PHASH_N)).astype(np.float64)
_DCT8[0] /= np.sqrt(2.0)
_BIT_WEIGHTS = (np.uint64(1) << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)

# (index, byte_hash, content_hash, phash, width, height, mode, channels, format,
#  means(3), stds(3), brightness, luma_std)
OkRow = tuple[int, int, int, int, int, int, str, int, str, tuple[float, float, float], tuple[float, float, float], float, float]
# (index, byte_hash, kind, message)
ErrRow = tuple[int, int, str, str]
Task = list[tuple[int, "str | None", "bytes | None"]]


# -- per-image work (runs in worker processes) ----------------------------------------


def phash64(gray: Any) -> int:
    """64-bit DCT perceptual hash of a pillow image (converted to luma if needed)."""
    from PIL import Image

    if gray.mode != "L":
        gray = gray.convert("L")
    small = gray.resize((_PHASH_N, _PHASH_N), Image.Resampling.LANCZOS, reducing_gap=3.0)
    x = np.asarray(small, dtype=np.float64)
    low = _DCT8 @ x @ _DCT8.T
    bits = (low > np.median(low)).ravel()
    return int(_BIT_WEIGHTS[bits].sum(dtype=np.uint64))


def _to_float_array(im: Any) -> np.ndarray:
    """Pixels as float32 on a 0-255 scale, shape (h, w, 3) or (h, w)."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return np.asarray(im, dtype=np.float32)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        if mode == "F":
            top = float(arr.max()) if arr.size else 0.0
            return np.clip(arr * 255.0 if top <= 1.0 else arr, 0, 255)
        return np.clip(arr / 257.0, 0, 255)
    if mode in ("1", "LA", "La"):
        return np.asarray(im.convert("L"), dtype=np.float32)
    return np.asarray(im.convert("RGB"), dtype=np.float32)


def analyse_image(data: bytes) -> tuple[int, int, int, int, str, int, str, tuple[float, float, float], tuple[float, float, float], float, float]:
    """Figures of one encoded image (see the module docstring); raises on a broken file.

    Returns ``(content_hash, phash, width, height, mode, channels, format,
    means, stds, brightness, luma_std)``.
    """
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    width, height = im.size
    mode, fmt = im.mode, im.format or ""
    channels = _EFFECTIVE_CHANNELS.get(mode, len(im.getbands()))
    scale = 1
    if fmt == "JPEG" and min(width, height) >= DRAFT_MIN_SIDE:
        factor = min(width, height) / DRAFT_TARGET
        im.draft(mode, (math.ceil(width / factor), math.ceil(height / factor)))
        scale = max(1, round(width / im.size[0]))
    im.load()
    h = xxhash.xxh3_64()
    h.update(f"{mode}|{width}x{height}|{scale}|".encode())
    h.update(im.tobytes())
    content = h.intdigest()
    stats_im = im
    side = max(stats_im.size)
    if side > STATS_MAX_SIDE:
        stats_im = stats_im.reduce(math.ceil(side / STATS_MAX_SIDE))
    arr = _to_float_array(stats_im)
    if arr.ndim == 2:
        m = float(arr.mean()) if arr.size else 0.0
        s = float(arr.std()) if arr.size else 0.0
        means, stds = (m, m, m), (s, s, s)
        brightness, luma_std = m, s
        gray = stats_im if stats_im.mode == "L" else Image.fromarray(arr.astype(np.uint8), "L")
    else:
        flat = arr.reshape(-1, 3)
        mv, sv = flat.mean(axis=0), flat.std(axis=0)
        means = (float(mv[0]), float(mv[1]), float(mv[2]))
        stds = (float(sv[0]), float(sv[1]), float(sv[2]))
        luma = flat @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
        brightness, luma_std = float(luma.mean()), float(luma.std())
        gray = Image.fromarray(np.clip(luma, 0, 255).astype(np.uint8).reshape(arr.shape[:2]), "L")
    ph = phash64(gray)
    return content, ph, width, height, mode, channels, fmt, means, stds, brightness, luma_std


def _classify_error(data: bytes, exc: BaseException) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}".strip()
    lowered = text.lower()
    if "truncated" in lowered or isinstance(exc, EOFError) or "premature end" in lowered:
        return "truncated", text
    if type(exc).__name__ == "UnidentifiedImageError":
        if sniff_image(data[:16]) is None:
            return "not_image", "the file's content is not a recognised image format"
        return "undecodable", text
    return "undecodable", text


def decode_task(root: str | None, items: Task) -> tuple[list[OkRow], list[ErrRow]]:
    """Analyse a list of ``(index, path, data)``; the unit of work of a worker process."""
    ok: list[OkRow] = []
    err: list[ErrRow] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, path, data in items:
            if data is None:
                try:
                    with open(os.path.join(root or "", path or ""), "rb") as fh:
                        data = fh.read()
                except OSError as exc:
                    err.append((index, 0, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}"))
                    continue
            byte_hash = xxhash.xxh3_64_intdigest(data)
            if not data:
                err.append((index, byte_hash, "empty", "the file is empty (0 bytes)"))
                continue
            try:
                content, ph, w, hgt, mode, ch, fmt, means, stds, bright, lstd = analyse_image(data)
            except Exception as exc:  # any decoder failure is a finding, never a crash
                kind, message = _classify_error(data, exc)
                err.append((index, byte_hash, kind, message))
                continue
            ok.append((index, byte_hash, content, ph, w, hgt, mode, ch, fmt, means, stds, bright, lstd))
    return ok, err


def _worker_init() -> None:
    warnings.simplefilter("ignore")


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
    str, ``""`` when not decoded), ``brightness``, ``luma_std`` (float64, NaN when
    not decoded), ``near_constant`` (bool), ``byte_hash`` (uint64, 0 when
    unreadable); and for decoded images only ``phash`` (uint64) with
    ``phash_index`` (int64 item indices); plus ``modes`` and ``formats``
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


_ALIGNED_ARRAYS = ("decoded", "width", "height", "channels", "brightness", "luma_std", "near_constant", "byte_hash")
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
    out["modes"] = Counter(a.get("modes", {})) + Counter(b.get("modes", {}))
    out["formats"] = Counter(a.get("formats", {})) + Counter(b.get("formats", {}))
    out["near_constant_std"] = a.get("near_constant_std", NEAR_CONSTANT_STD)
    for key, value in a.items():
        out.setdefault(key, value)
    return out


# -- the profiler -------------------------------------------------------------------


class ImageSplitProfiler:
    """Consumes the :class:`ImageRecord` batches of one split; see :class:`ImageSplitStats`.

    Worker processes are shared by the profilers of all splits and kept until
    :meth:`close` (``profile_dataset`` calls it after the last split).
    """

    _pool: ClassVar[ProcessPoolExecutor | None] = None
    _pool_size: ClassVar[int] = 0

    def __init__(self, split: str, dataset: Dataset, config: Config) -> None:
        self.split = split
        self.root = None if dataset.root is None else str(dataset.root)
        self.config = config
        self.labelled = dataset.label_column is not None
        self.workers = max(1, int(config.workers) if config.workers else (os.cpu_count() or 1))
        total = dataset.detected.get("images")
        self.inline = self.workers <= 1 or (isinstance(total, int) and total < INLINE_MAX)
        self.max_inflight = self.workers * INFLIGHT_PER_WORKER
        self._pending: deque[tuple[Future[tuple[list[OkRow], list[ErrRow]]], Task]] = deque()
        self._ok: list[OkRow] = []
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
            cls.close()
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
        if cls._pool is not None:
            cls._pool.shutdown(wait=True, cancel_futures=True)
        cls._pool, cls._pool_size = None, 0

    # streaming --------------------------------------------------------------------
    def update(self, batch: Batch) -> None:
        """Queue the images of ``batch`` (``payload``: list of :class:`ImageRecord`)."""
        records: list[ImageRecord] = list(batch.payload or [])
        self._bytes += batch.nbytes
        for rec in records:
            self._index.append(rec.index)
            self._paths.append(rec.path)
            self._labels.append(rec.label)
        for start in range(0, len(records), TASK_ITEMS):
            task: Task = [(r.index, r.path, r.data) for r in records[start : start + TASK_ITEMS]]
            if self.inline:
                self._absorb(decode_task(self.root, task))
                continue
            pool = self._get_pool(self.workers)
            self._pending.append((pool.submit(decode_task, self.root, task), task))
            while len(self._pending) > self.max_inflight:
                self._collect_one()
        self._extra_problems.extend(batch.files)

    def _absorb(self, result: tuple[list[OkRow], list[ErrRow]]) -> None:
        self._ok.extend(result[0])
        self._err.extend(result[1])

    def _collect_one(self) -> None:
        fut, task = self._pending.popleft()
        try:
            self._absorb(fut.result())
        except BrokenProcessPool:
            self._retry_alone(task)

    def _retry_alone(self, task: Task) -> None:
        """A worker died (a decoder crash): redo the task an image at a time to find the culprit."""
        type(self).close()
        for item in task:
            pool = self._get_pool(self.workers)
            try:
                self._absorb(pool.submit(decode_task, self.root, [item]).result())
                self._crashes = 0
            except BrokenProcessPool:
                type(self).close()
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
            self._ok,
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
    ok: list[OkRow],
    err: list[ErrRow],
    sample_size: int = 20_000,
    bytes_read: int = 0,
    extra_problems: list[FileProblem] | None = None,
) -> ImageSplitStats:
    """Assemble :class:`ImageSplitStats` from the listed items and the per-image results."""
    order = np.argsort(index, kind="stable")
    index = index[order]
    olist = order.tolist()
    paths = [paths[i] for i in olist]
    lab = None if labels is None else [labels[i] for i in olist]
    n = len(index)
    pos_of = {int(v): p for p, v in enumerate(index.tolist())}

    decoded = np.zeros(n, dtype=bool)
    width = np.zeros(n, dtype=np.int64)
    height = np.zeros(n, dtype=np.int64)
    channels = np.zeros(n, dtype=np.int64)
    brightness = np.full(n, np.nan)
    luma_std = np.full(n, np.nan)
    byte_hash = np.zeros(n, dtype=np.uint64)
    mode_of = [""] * n
    format_of = [""] * n
    means = np.full((n, 3), np.nan)
    stds = np.full((n, 3), np.nan)
    content = np.zeros(n, dtype=np.uint64)
    phash = np.zeros(n, dtype=np.uint64)

    for row in ok:
        p = pos_of[row[0]]
        decoded[p] = True
        byte_hash[p] = row[1]
        content[p] = row[2]
        phash[p] = row[3]
        width[p], height[p] = row[4], row[5]
        mode_of[p], channels[p], format_of[p] = row[6], row[7], row[8]
        means[p], stds[p] = row[9], row[10]
        brightness[p], luma_std[p] = row[11], row[12]
    problems: list[FileProblem] = list(extra_problems or [])
    for idx, bh, kind, message in sorted(err):
        p = pos_of[idx]
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
        label_hashes = np.asarray(
            [_label_hash(v) for v, keep in zip(lab, d.tolist()) if keep], dtype=np.uint64
        )
    stats.hashes.add(dec_index, content[d], label_hashes)

    if lab is not None:
        ls = LabelStats()
        counts: Counter[str] = Counter()
        first: dict[str, list[int]] = {}
        for i, v in zip(index.tolist(), lab):
            if v is None:
                ls.missing += 1
                if len(ls.missing_rows) < ls.example_cap:
                    ls.missing_rows.append(i)
                continue
            counts[v] += 1
            rows = first.setdefault(v, [])
            if len(rows) < ls.example_cap:
                rows.append(i)
        ls.add_counts(dict(counts), first)
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
        "luma_std": luma_std,
        "near_constant": np.nan_to_num(luma_std, nan=np.inf) < NEAR_CONSTANT_STD,
        "byte_hash": byte_hash,
        "phash": phash[d],
        "phash_index": dec_index,
        "modes": Counter(m for m, keep in zip(mode_of, d.tolist()) if keep),
        "formats": Counter(f for f, keep in zip(format_of, d.tolist()) if keep),
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
        col.values = Counter(str(int(v)) for v in values)
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
    ok, err = decode_task(None if root is None else str(root), [(r.index, r.path, r.data) for r in records])
    return build_stats(
        split,
        np.asarray([r.index for r in records], dtype=np.int64),
        [r.path for r in records],
        [r.label for r in records] if labelled else None,
        ok,
        err,
        sample_size=config.sample_size,
    )
