"""A local cache of decoded images: memory-mapped uint8 shards plus a JSON index.

Layout of one cache (a folder under ``<cache root>/loader/``)::

    images-train-<key>/
        shard-00000.u8      # raw uint8, items x channels x height x width (C-order)
        shard-00001.u8
        labels.i64          # int64 per item: index into ``label_names`` (-1: no label)
        index.json          # what the shards hold, their sizes and xxh3-128 checksums
        COMPLETE            # written last: the xxh3-128 of index.json
        tuning.json         # the loader settings chosen by measurement (see tuning.py)

The key is a hash of everything that shapes the bytes: the source's fingerprint
(file names, sizes, modification times and labels, or the Hub revision), the
split, the decoding (size, colour mode, interpolation) and the versions of the
cache format and of Pillow. Normalisation (mean, std) and the class-to-index map
are applied when reading, so a refitted artefact with new statistics reuses the
decoded pixels; a new size or a changed file gives a new key and a rebuild.

A cache is built in a ``.partial`` folder and renamed into place once its
marker is written, so a crash or a concurrent reader never sees half a cache.
Opening verifies the marker, the index, every shard's size and (by default)
every checksum; a cache that fails is removed and rebuilt. Every open or build
first removes what killed runs left: ``.partial`` folders and temp files whose
process is gone. A full disk (or quota) while writing is a one-line
:class:`CacheError` and leaves nothing behind.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xxhash

from dataaudit.errors import DataauditError, SourceError
from dataaudit.fit.artefact import owner_alive, owner_tag

FORMAT = "dataaudit.loader-cache"
FORMAT_VERSION = 1
MARKER = "COMPLETE"
INDEX = "index.json"
LABELS = "labels.i64"
TUNING = "tuning.json"
SHARD_BYTES = 256 * 1024 * 1024
"""Target size of one shard file."""
_CHUNK = 8 * 1024 * 1024

Verify = Literal["full", "sizes"]


def default_cache_root() -> Path:
    """``$DATAAUDIT_CACHE``, else ``$XDG_CACHE_HOME/dataaudit``, else ``~/.cache/dataaudit``."""
    env = os.environ.get("DATAAUDIT_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "dataaudit"


class CacheInvalid(Exception):
    """A cache folder exists but must not be used (internal; callers rebuild)."""


@dataclass(frozen=True)
class DecodeSpec:
    """How every image is decoded before it is cached: colour mode, then resize."""

    height: int
    width: int
    mode: str = "RGB"
    """``RGB`` or ``L``."""
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")
        if self.mode not in ("RGB", "L"):
            raise ValueError(f"image mode must be RGB or L, got {self.mode!r}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(f"interpolation must be one of {', '.join(_RESAMPLE)}, got {self.interpolation!r}")

    @property
    def channels(self) -> int:
        return 3 if self.mode == "RGB" else 1

    @property
    def item_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def item_bytes(self) -> int:
        return self.channels * self.height * self.width

    def key_fields(self) -> dict[str, Any]:
        """What shapes the decoded bytes (library versions included: decoders and kernels change)."""
        import PIL
        import torchvision

        return {
            "height": self.height, "width": self.width, "mode": self.mode,
            "interpolation": self.interpolation, "antialias": True, "pillow": PIL.__version__,
            "torchvision": torchvision.__version__,
        }  # fmt: skip


_RESAMPLE = ("bilinear", "nearest", "bicubic")


def decode_image(src: str | os.PathLike[str] | bytes, spec: DecodeSpec) -> np.ndarray:
    """Decode one image into a ``(channels, height, width)`` uint8 array.

    The operations of the fitted eval transform
    (:func:`dataaudit.transforms.images.build_image_transform`): PIL colour
    conversion, ``ToImage``, then torchvision's antialiased ``Resize`` on the
    uint8 tensor, so cached pixels are exactly what that transform computes
    before scaling.
    """
    from PIL import Image
    from torchvision.transforms.v2 import functional as F

    fh: Any = io.BytesIO(src) if isinstance(src, bytes) else open(src, "rb")
    with fh, Image.open(fh) as img:
        tensor = F.pil_to_tensor(img.convert(spec.mode))
    if tuple(tensor.shape[1:]) != (spec.height, spec.width):
        tensor = F.resize(tensor, [spec.height, spec.width], interpolation=_interpolation(spec.interpolation),
                          antialias=True)  # fmt: skip
    return np.ascontiguousarray(tensor.numpy())


def _interpolation(name: str) -> Any:
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(name)


def fingerprint_files(
    root: Path, names: Sequence[str], labels: Sequence[str | None], extra: dict[str, Any] | None = None
) -> str:
    """xxh3-128 of every file's relative name, size, modification time (ns) and label.

    Like make and rsync, a change that keeps size and mtime is not seen; any
    rewrite of a file through normal tools changes its mtime.
    """
    h = xxhash.xxh3_128()
    h.update(json.dumps(extra or {}, sort_keys=True).encode())
    for name, label in zip(names, labels):
        try:
            st = os.stat(root / name)
            stamp = f"{st.st_size}\t{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"{name}\t{stamp}\t{label}\n".encode())
    return "xxh3_128:" + h.hexdigest()


def cache_key(fingerprint: str, split: str, spec: DecodeSpec) -> str:
    """The name-safe key of a cache: hash of the fingerprint, split, decoding and format."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "fingerprint": fingerprint, "split": split,
           "decode": spec.key_fields()}  # fmt: skip
    return xxhash.xxh3_128_hexdigest(json.dumps(doc, sort_keys=True).encode())[:24]


def _hash_file(path: Path) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CacheError(DataauditError):
    """The cache cannot be written (no space, no permission)."""


def _preallocate(path: Path, size: int) -> None:
    """Reserve the blocks of a shard now: a memory-mapped write into a sparse file on a
    full disk kills the process with SIGBUS instead of raising."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # file systems without fallocate
                    raise CacheError(
                        f"cannot reserve {size / 2**20:.0f} MiB for the cache in {path.parent.parent}: "
                        f"{exc.strerror}; free space or set cache_dir= / DATAAUDIT_CACHE elsewhere"
                    ) from None
                os.ftruncate(fd, size)
        else:  # pragma: no cover - not POSIX
            os.ftruncate(fd, size)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    # the writer's host and pid are in the name: clean_stale removes those of killed runs
    tmp = path.with_name(f".{path.name}.{owner_tag()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
STALE_TMP_SECONDS = 24 * 3600
"""Temp files whose name does not say who wrote them are removed once this old."""


def write_error(exc: OSError, where: Path) -> CacheError:
    """A one-line :class:`CacheError` for a failed cache write (full disk, quota, permissions)."""
    if exc.errno in _DISK_FULL:
        why = "no space left on the device" if exc.errno != errno.EDQUOT else "disk quota exceeded"
        if exc.errno == errno.EFBIG:
            why = "file size limit reached"
    else:
        why = exc.strerror or str(exc)
    return CacheError(f"cannot write the loader cache in {where}: {why}; free space, or set cache_dir= "
                      "or DATAAUDIT_CACHE to another folder (nothing was kept)")  # fmt: skip


@dataclass(frozen=True)
class Shard:
    file: str
    start: int
    count: int
    bytes: int
    xxh3_128: str


@dataclass
class ImageCache:
    """A complete, verified cache: read items with :meth:`gather`."""

    path: Path
    key: str
    count: int
    shape: tuple[int, int, int]
    shards: list[Shard]
    labels: np.ndarray
    """int64 per item: index into :attr:`label_names`, ``-1`` for unlabelled items."""
    label_names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    _maps: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def per_shard(self) -> int:
        return self.shards[0].count if self.shards else 1

    def __getstate__(self) -> dict[str, Any]:
        # memory maps are per process: workers reopen them
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state

    def shard_array(self, i: int) -> np.ndarray:
        arr = self._maps.get(i)
        if arr is None:
            sh = self.shards[i]
            arr = np.memmap(self.path / sh.file, dtype=np.uint8, mode="r", shape=(sh.count, *self.shape))
            self._maps[i] = arr
        return arr

    def gather(self, indices: Sequence[int] | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Items ``indices`` as one ``(len, C, H, W)`` uint8 array (in the order given)."""
        idx = np.asarray(indices, dtype=np.int64)
        if out is None:
            out = np.empty((len(idx), *self.shape), dtype=np.uint8)
        per = self.per_shard
        if len(self.shards) == 1:
            np.take(self.shard_array(0), idx, axis=0, out=out)
            return out
        shard_of = idx // per
        for s in np.unique(shard_of):
            pos = np.nonzero(shard_of == s)[0]
            out[pos] = self.shard_array(int(s))[idx[pos] - int(s) * per]
        return out

    @classmethod
    def open(cls, path: Path, key: str, verify: Verify = "full") -> ImageCache:
        """Open and verify the cache at ``path``; raise :class:`CacheInvalid` if it must not be used."""
        marker = path / MARKER
        index = path / INDEX
        if not marker.is_file() or not index.is_file():
            raise CacheInvalid("no completion marker")
        raw = index.read_bytes()
        if marker.read_text().strip() != xxhash.xxh3_128_hexdigest(raw):
            raise CacheInvalid("index does not match its completion marker")
        try:
            meta = json.loads(raw)
            if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION or meta.get("key") != key:
                raise CacheInvalid("format or key mismatch")
            shards = [Shard(**s) for s in meta["shards"]]
            shape = (int(meta["shape"][0]), int(meta["shape"][1]), int(meta["shape"][2]))
            count = int(meta["count"])
            lab = meta["labels"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CacheInvalid(f"malformed index: {exc}") from None
        item = shape[0] * shape[1] * shape[2]
        if sum(s.count for s in shards) != count:
            raise CacheInvalid("shard counts do not add up")
        for s in shards:
            p = path / s.file
            size = p.stat().st_size if p.is_file() else -1
            if size != s.bytes or s.bytes != s.count * item:
                raise CacheInvalid(f"{s.file}: {size} bytes, expected {s.bytes}")
            if verify == "full" and _hash_file(p) != s.xxh3_128:
                raise CacheInvalid(f"{s.file}: checksum mismatch")
        lpath = path / LABELS
        if not lpath.is_file() or lpath.stat().st_size != 8 * count:
            raise CacheInvalid("labels file missing or truncated")
        if _hash_file(lpath) != lab["xxh3_128"]:
            raise CacheInvalid("labels checksum mismatch")
        labels = np.fromfile(lpath, dtype="<i8").astype(np.int64, copy=False)
        return cls(path, key, count, shape, shards, labels, list(meta["label_names"]), meta)


def _owner_alive(name: str) -> bool:
    """Whether the process that owns a ``.partial`` folder (named host-pid-rand) still runs."""
    try:
        _, _, tail = name.partition(".partial-")
        host, pid, _ = tail.rsplit("-", 2)
        if host != socket.gethostname():
            return True
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def remove_tree(path: Path) -> None:
    """Remove a cache folder: renamed aside first so no reader ever opens half of it."""
    if not path.exists():
        return
    trash = path.with_name(f".{path.name}.trash-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(path, trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def _stale_tmp(p: Path) -> bool:
    """A ``.NAME.TAG.tmp`` file whose writer is gone (untagged ones: once a day old)."""
    if not (p.name.startswith(".") and p.name.endswith(".tmp")):
        return False
    tag = p.name[: -len(".tmp")].rsplit(".", 1)[-1]
    parts = tag.split("-")
    if len(parts) == 3 and len(parts[0]) == 8 and parts[1].isdigit():
        return not owner_alive(tag)
    try:
        return time.time() - p.stat().st_mtime > STALE_TMP_SECONDS
    except OSError:
        return False


def clean_stale(root: Path) -> list[Path]:
    """Remove what killed runs left under ``root``: partial builds whose process died,
    trash folders, and temp files in the caches whose writer is gone. Returns them."""
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for p in entries:
        if ".trash-" in p.name or (".partial-" in p.name and not _owner_alive(p.name)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
        elif p.is_file() and _stale_tmp(p):
            p.unlink(missing_ok=True)
            removed.append(p)
        elif p.is_dir() and not p.name.startswith("."):
            try:
                inner = [f for f in p.iterdir() if _stale_tmp(f)]
            except OSError:
                continue
            for f in inner:
                f.unlink(missing_ok=True)
                removed.append(f)
    return removed


class CacheBuilder:
    """Writes a cache in a private ``.partial`` folder, then moves it into place.

    Random-access sources know their item count: shards are preallocated
    memory maps and items land at their index in any order (:meth:`write`,
    from several threads). Streams append in order (:meth:`append`).
    """

    def __init__(
        self,
        final: Path,
        key: str,
        spec: DecodeSpec,
        label_names: list[str] | None,
        count: int | None,
        meta: dict[str, Any],
        shard_bytes: int = SHARD_BYTES,
    ) -> None:
        self.final = final
        self.key = key
        self.spec = spec
        self.label_names = list(label_names or [])
        self.meta = meta
        self.per_shard = max(1, shard_bytes // spec.item_bytes)
        self.dir = final.with_name(f".{final.name}.partial-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            clean_stale(final.parent)
            self.dir.mkdir()
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {final.parent}: {exc.strerror or exc}; "
                             "set cache_dir= or DATAAUDIT_CACHE to a writable folder") from None  # fmt: skip
        self.count = count
        self._maps: list[np.memmap[Any, np.dtype[np.uint8]]] = []
        self._stream_labels: list[str | None] = []
        self.labels: np.ndarray | None = None
        self.filled: np.ndarray | None = None
        self._stream_file: Any = None
        self._stream_count = 0
        self._stream_shards: list[int] = []
        if count is not None:
            self.labels = np.full(count, -1, dtype=np.int64)
            self.filled = np.zeros(count, dtype=bool)
            try:
                for s, start in enumerate(range(0, count, self.per_shard)):
                    n = min(self.per_shard, count - start)
                    path = self.dir / f"shard-{s:05d}.u8"
                    _preallocate(path, n * spec.item_bytes)
                    self._maps.append(np.memmap(path, dtype=np.uint8, mode="r+", shape=(n, *spec.item_shape)))
            except CacheError:
                self.abort()
                raise

    # -- random access -------------------------------------------------------------
    def shard_paths(self) -> list[tuple[Path, int]]:
        """(file, items) of each preallocated shard, for readers of a partial cache."""
        return [(self.dir / f"shard-{s:05d}.u8", m.shape[0]) for s, m in enumerate(self._maps)]

    def write(self, index: int, item: np.ndarray, label: int) -> None:
        """Store item ``index`` (thread-safe for distinct indices)."""
        assert self.filled is not None and self.labels is not None
        s, off = divmod(index, self.per_shard)
        self._maps[s][off] = item
        self.labels[index] = label
        self.filled[index] = True

    def read(self, index: int) -> np.ndarray:
        """Item ``index`` as written (only meaningful once it is)."""
        s, off = divmod(index, self.per_shard)
        return np.asarray(self._maps[s][off])

    def missing(self) -> np.ndarray:
        """Indices not written yet."""
        assert self.filled is not None
        return np.nonzero(~self.filled)[0]

    # -- streams -------------------------------------------------------------------
    def append(self, item: np.ndarray, label: str | None) -> None:
        """Append the next item of a stream (labels are coded when the stream ends)."""
        try:
            if self._stream_file is None or self._stream_count % self.per_shard == 0:
                if self._stream_file is not None:
                    self._stream_file.close()
                s = len(self._stream_shards)
                self._stream_file = open(self.dir / f"shard-{s:05d}.u8", "wb")
                self._stream_shards.append(0)
            self._stream_file.write(np.ascontiguousarray(item, dtype=np.uint8).tobytes())
        except OSError as exc:
            self.abort()
            raise write_error(exc, self.final.parent) from None
        self._stream_shards[-1] += 1
        self._stream_count += 1
        self._stream_labels.append(label)

    # -- completion ------------------------------------------------------------------
    def finish(self, verify: Verify = "full") -> ImageCache:
        """Checksum, write the index and the marker, move the folder into place, reopen it.

        A write that fails (full disk, quota) removes the partial folder and raises
        :class:`CacheError`; the builder is then spent.
        """
        try:
            return self._finish(verify)
        except OSError as exc:
            self.abort()
            raise write_error(exc, self.final.parent) from None

    def _finish(self, verify: Verify) -> ImageCache:
        if self.count is not None:
            if len(self.missing()):
                raise RuntimeError(f"cache incomplete: {len(self.missing())} items not written")
            counts = [m.shape[0] for m in self._maps]
            for m in self._maps:
                m.flush()
            self._maps.clear()
            assert self.labels is not None
            labels = self.labels
        else:
            if self._stream_file is not None:
                self._stream_file.close()
                self._stream_file = None
            counts = list(self._stream_shards)
            self.label_names = sorted({lab for lab in self._stream_labels if lab is not None})
            labels = label_codes(self._stream_labels, self.label_names)
        total = int(sum(counts))
        shards: list[dict[str, Any]] = []
        start = 0
        for s, n in enumerate(counts):
            p = self.dir / f"shard-{s:05d}.u8"
            _fsync(p)
            shards.append({"file": p.name, "start": start, "count": n, "bytes": n * self.spec.item_bytes,
                           "xxh3_128": _hash_file(p)})  # fmt: skip
            start += n
        lpath = self.dir / LABELS
        labels.astype("<i8").tofile(lpath)
        _fsync(lpath)
        index = {
            "format": FORMAT, "version": FORMAT_VERSION, "key": self.key,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "count": total, "shape": list(self.spec.item_shape), "dtype": "uint8", "layout": "NCHW",
            "decode": self.spec.key_fields(), "label_names": self.label_names,
            "labels": {"file": LABELS, "xxh3_128": _hash_file(lpath)},
            "shards": shards, **self.meta,
        }  # fmt: skip
        raw = json.dumps(index, indent=1, sort_keys=True).encode()
        _atomic_write(self.dir / INDEX, raw)
        _atomic_write(self.dir / MARKER, xxhash.xxh3_128_hexdigest(raw).encode() + b"\n")
        try:
            os.rename(self.dir, self.final)
        except OSError:
            # another process finished the same cache first (or a stale one is in the way)
            try:
                return ImageCache.open(self.final, self.key, verify)
            except (CacheInvalid, OSError):
                remove_tree(self.final)
                os.rename(self.dir, self.final)
        return ImageCache.open(self.final, self.key, verify="sizes")

    def abort(self) -> None:
        """Discard the partial folder."""
        self._maps.clear()
        if self._stream_file is not None:
            self._stream_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def open_cache(path: Path, key: str, verify: Verify = "full") -> tuple[ImageCache | None, str | None]:
    """The verified cache at ``path``, or ``(None, why)``; an invalid cache is removed.

    What killed runs left beside it (see :func:`clean_stale`) is removed first.
    """
    clean_stale(path.parent)
    if not path.exists():
        return None, None
    try:
        return ImageCache.open(path, key, verify), None
    except (CacheInvalid, OSError) as exc:
        remove_tree(path)
        return None, str(exc)


def decode_error(name: str, exc: BaseException) -> SourceError:
    """A one-line error for an image that does not decode."""
    return SourceError(
        f"cannot decode image ({type(exc).__name__}: {exc}); `dataaudit scan` lists corrupt files", name
    )


def label_codes(labels: Iterable[str | None], names: list[str]) -> np.ndarray:
    """Per-item index into ``names`` (``-1`` for ``None``)."""
    pos = {n: i for i, n in enumerate(names)}
    return np.asarray([-1 if lab is None else pos[lab] for lab in labels], dtype=np.int64)


def iter_chunks(it: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` consecutive elements."""
    chunk: list[Any] = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


LAST_USED = "last-used"
"""Touched each time a loader opens the cache: the least recently used caches are removed first."""


def touch_cache(path: Path) -> None:
    """Record that the cache at ``path`` was used now (nanoseconds written in the file: a file's
    mtime ticks coarsely on some filesystems, and two uses within one tick must still be ordered)."""
    import time

    (path / LAST_USED).write_text(str(time.time_ns()), encoding="ascii")


def _last_used(path: Path) -> float:
    try:
        return int((path / LAST_USED).read_text(encoding="ascii").strip()) / 1e9
    except (OSError, ValueError):
        pass
    try:
        return (path / MARKER).stat().st_mtime
    except OSError:
        return 0.0


def _identity(path: Path) -> tuple[Any, ...] | None:
    """What a cache is a cache *of* (origin, split, decoding): two caches alike but for the
    source's fingerprint are an old and a new version of the same split."""
    try:
        doc = json.loads((path / INDEX).read_text())
        if not doc.get("origin"):
            return None
        return (doc["origin"], doc.get("split"), json.dumps(doc.get("decode"), sort_keys=True),
                doc.get("decode_mode", "exact"))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def prune_caches(root: Path, max_caches: int, keep: Path) -> list[Path]:
    """Remove the caches ``keep`` replaces (same split of the same source, older files), then the
    least recently used beyond ``max_caches``; ``keep`` itself always stays. Returns what went."""
    if not root.is_dir():
        return []
    caches = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MARKER).is_file()]
    mine = _identity(keep)
    gone = [p for p in caches if p != keep and mine is not None and _identity(p) == mine]
    rest = sorted((p for p in caches if p != keep and p not in gone), key=_last_used, reverse=True)
    gone += rest[max(0, max_caches - 1) :]
    for p in gone:
        remove_tree(p)
    return gone
