"""Tables: the fitted table transform applied once, rows cached as a float32 matrix.

A split is streamed once through :class:`~dataaudit.transforms.tables.TableTransform`
(the artefact's column order, imputation, scaling and encoding) into
``features.f32`` (rows x features, float32) and ``targets.bin`` (int64 class
indices, or float32 regression targets), sealed like the image cache (private
``.partial`` folder, checksums, a marker written last, then a rename). The key
covers the split's files (names, sizes, mtimes) and the artefact, so a changed
file or a refitted artefact gives a new cache. Epochs then gather rows from the
memory map: one copy per batch, no parsing, so no worker processes are needed.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from dataaudit.errors import SourceError, UsageError
from dataaudit.loader.cache import (
    INDEX,
    MARKER,
    CacheError,
    CacheInvalid,
    _atomic_write,
    _fsync,
    _hash_file,
    clean_stale,
    remove_tree,
    write_error,
)

if TYPE_CHECKING:
    import torch

    from dataaudit.fit.artefact import Artefact

FEATURES = "features.f32"
TARGETS = "targets.bin"
TABLE_FORMAT = "dataaudit.loader-table-cache"


def table_fingerprint(ds: Any, split: str, artefact: Artefact) -> str:
    """Files of the split (name, size, mtime) or the Hub description, and the artefact."""
    h = xxhash.xxh3_128()
    h.update(json.dumps(artefact.body(), sort_keys=True, default=str).encode())
    h.update(json.dumps({"source": ds.source, "split": split, "detected": ds.detected}, sort_keys=True,
                        default=str).encode())  # fmt: skip
    info = ds.splits.get(split)
    for f in sorted(str(p) for p in (info.files if info is not None else [])):
        try:
            st = os.stat(f)
            h.update(f"{f}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f}\tmissing\n".encode())
    return h.hexdigest()[:24]


class TableCache:
    """A sealed table cache: ``features`` (memory-mapped) and ``targets``."""

    def __init__(self, path: Path, key: str) -> None:
        marker, index = path / MARKER, path / INDEX
        if not marker.is_file() or not index.is_file():
            raise CacheInvalid("no completion marker")
        raw = index.read_bytes()
        if marker.read_text().strip() != xxhash.xxh3_128_hexdigest(raw):
            raise CacheInvalid("index does not match its completion marker")
        meta = json.loads(raw)
        if meta.get("format") != TABLE_FORMAT or meta.get("key") != key:
            raise CacheInvalid("format or key mismatch")
        self.path = path
        self.meta = meta
        self.count = int(meta["count"])
        self.feature_names: list[str] = list(meta["features"])
        width = len(self.feature_names)
        for name, size, digest in ((FEATURES, 4 * width * self.count, meta["features_xxh3_128"]),
                                   (TARGETS, meta["targets_bytes"], meta["targets_xxh3_128"])):  # fmt: skip
            p = path / name
            if not p.is_file() or p.stat().st_size != size:
                raise CacheInvalid(f"{name}: wrong size")
            if _hash_file(p) != digest:
                raise CacheInvalid(f"{name}: checksum mismatch")
        shape = (self.count, width)
        self.features: np.ndarray = (
            np.memmap(path / FEATURES, dtype="<f4", mode="r", shape=shape) if self.count and width
            else np.zeros(shape, dtype=np.float32)
        )  # fmt: skip
        tdtype = meta["targets_dtype"]
        self.targets: np.ndarray | None = None if tdtype is None else np.fromfile(path / TARGETS, dtype=tdtype)


def build_table_cache(path: Path, key: str, ds: Any, split: str, artefact: Artefact) -> TableCache:
    """Stream ``split`` of ``ds`` through the artefact's transform into a sealed cache at ``path``."""
    from dataaudit.transforms.tables import TableTransform

    tf = TableTransform(artefact)
    label = tf.label_column
    classify = bool(tf.classes)
    tmp = path.with_name(f".{path.name}.partial-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(path.parent)
        tmp.mkdir()
    except OSError as exc:
        raise CacheError(f"cannot create the cache folder {path.parent}: {exc.strerror or exc}; "
                         "set cache_dir= or DATAAUDIT_CACHE to a writable folder") from None  # fmt: skip
    count = 0
    has_targets = False
    try:
        with open(tmp / FEATURES, "wb") as feats, open(tmp / TARGETS, "wb") as targs:
            for batch in ds.read():
                if batch.split != split or batch.frame is None or batch.frame.height == 0:
                    continue
                frame = batch.frame
                feats.write(np.ascontiguousarray(tf(frame), dtype="<f4").tobytes())
                if label is not None and label in frame.columns:
                    has_targets = True
                    values = frame.get_column(label)
                    if classify:
                        y = tf.encode_labels(values.to_list()).astype("<i8")
                    else:
                        import polars as pl

                        y = values.cast(pl.Float32, strict=False).to_numpy().astype("<f4")
                    targs.write(y.tobytes())
                count += frame.height
        for p in (tmp / FEATURES, tmp / TARGETS):
            _fsync(p)
        index = {
            "format": TABLE_FORMAT, "key": key, "count": count, "features": tf.features,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "split": split, "source": ds.source,
            "targets_dtype": ("<i8" if classify else "<f4") if has_targets else None,
            "targets_bytes": (tmp / TARGETS).stat().st_size,
            "features_xxh3_128": _hash_file(tmp / FEATURES), "targets_xxh3_128": _hash_file(tmp / TARGETS),
        }  # fmt: skip
        raw = json.dumps(index, indent=1, sort_keys=True).encode()
        _atomic_write(tmp / INDEX, raw)
        _atomic_write(tmp / MARKER, xxhash.xxh3_128_hexdigest(raw).encode() + b"\n")
        try:
            os.rename(tmp, path)
        except OSError:
            remove_tree(path)
            os.rename(tmp, path)
    except OSError as exc:
        remove_tree(tmp)
        raise write_error(exc, path.parent) from None
    except BaseException:
        remove_tree(tmp)
        raise
    return TableCache(path, key)


class TableView(TorchDataset[tuple[Any, Any]]):
    """The cached rows as a map-style dataset (the loader's ``DataLoader.dataset``)."""

    def __init__(self, cache: TableCache) -> None:
        self.cache = cache

    def __len__(self) -> int:
        return int(self.cache.count)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        x, y = self.__getitems__([i])
        return x[0], None if y is None else y[0]

    def __getitems__(self, keys: list[int]) -> tuple[Any, Any]:
        import torch

        idx = np.asarray(keys, dtype=np.int64)
        y = None if self.cache.targets is None else torch.from_numpy(self.cache.targets[idx])
        return torch.from_numpy(self.cache.features[idx]), y


class TableLoader(DataLoader[Any]):
    """A ``torch.utils.data.DataLoader`` of ``(features, targets)`` batches: float32 ``(N, F)``
    in the artefact's feature order, int64 class indices (or float32 targets; ``None``
    without a label column), on :attr:`device`. Same sampler, seeding and epoch rules as
    the image loader (``set_epoch`` or ``loader.sampler.set_epoch``)."""

    def __init__(self, cache: TableCache, batch_size: int, shuffle: bool, seed: int, drop_last: bool,
                 device: torch.device, rebuilt_because: str | None) -> None:  # fmt: skip
        from dataaudit.loader.datasets import SeededSampler, keep_batch

        self.cache = cache
        self.cache_path = cache.path
        self.shuffle = shuffle
        self.seed = seed
        self.device = device
        self.rebuilt_because = rebuilt_because
        self._order = SeededSampler(cache.count, seed, shuffle)
        super().__init__(TableView(cache), batch_size=batch_size, sampler=SeededSampler(cache.count, seed, shuffle),
                         drop_last=drop_last, collate_fn=keep_batch)  # type: ignore[arg-type]  # fmt: skip

    @property
    def cached(self) -> bool:
        return True

    @property
    def feature_names(self) -> list[str]:
        return self.cache.feature_names

    @property
    def num_items(self) -> int:
        return self.cache.count

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next ``iter()`` runs (its shuffle order)."""
        self.sampler.set_epoch(epoch)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:  # type: ignore[override]
        import torch

        public = self.sampler
        epoch = int(public.epoch)  # type: ignore[attr-defined]
        public.epoch = epoch + 1  # type: ignore[attr-defined]
        self._order.set_epoch(epoch)
        bs = self.batch_size
        assert bs is not None
        order = np.asarray(self._order.order(), dtype=np.int64)
        cuda = self.device.type == "cuda"
        stop = len(self) * bs if self.drop_last else len(order)
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            x = torch.from_numpy(self.cache.features[idx])
            y = None if self.cache.targets is None else torch.from_numpy(self.cache.targets[idx])
            if self.device.type != "cpu":
                x = (x.pin_memory() if cuda else x).to(self.device, non_blocking=cuda)
                y = None if y is None else (y.pin_memory() if cuda else y).to(self.device, non_blocking=cuda)
            yield x, y


def build_table_loader(
    source: Any, split: str, artefact: Artefact, batch_size: int, shuffle: bool | None, seed: int,
    drop_last: bool, device: torch.device, cache_root: Path, config: Any, log: Callable[[str], None] | None,
) -> TableLoader:  # fmt: skip
    """Open the table split, reuse or build its cache, return the loader."""
    import re

    from dataaudit.sources import open_split

    ds, split = open_split(source, split, config)
    if ds.modality == "image":
        raise UsageError("the artefact was fitted on a table but this source holds images")
    if split not in ds.splits:
        raise SourceError(f"no split {split!r} (splits: {', '.join(ds.split_names) or 'none'})", ds.source)
    key = table_fingerprint(ds, split, artefact)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(ds.source.rstrip("/")).name or "source")[:40]
    path = cache_root / "loader" / f"{name}-{split}-table-{key}"
    why: str | None = None
    cache: TableCache | None = None
    clean_stale(path.parent)  # what killed runs left, even when the cache is reused
    if path.exists():
        try:
            cache = TableCache(path, key)
        except (CacheInvalid, OSError, ValueError, KeyError) as exc:
            why = str(exc)
            remove_tree(path)
            if log is not None:
                log(f"cache {path.name} is invalid ({why}); rebuilding")
    if cache is None:
        t0 = time.perf_counter()
        cache = build_table_cache(path, key, ds, split, artefact)
        if log is not None:
            log(f"cached {cache.count} rows x {len(cache.feature_names)} features in {path} "
                f"({time.perf_counter() - t0:.2f}s)")  # fmt: skip
    return TableLoader(cache, batch_size, split == "train" if shuffle is None else shuffle, seed, drop_last,
                       device, why)  # fmt: skip
