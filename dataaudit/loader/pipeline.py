"""The tuned loader: first epoch decodes into the cache, later epochs read it.

Epoch 1 of a split that is not cached yet decodes every image once, in a pool
of threads (Pillow releases the GIL while decoding and resizing, so threads
use every core with no inter-process copies), writes it into the memory-mapped
shards of a partial cache and yields the batch at the same time. When the epoch
ends (items a ``drop_last`` skipped are decoded then) the cache is checksummed
and moved into place. From then on a ``torch.utils.data.DataLoader`` over the
cache is used, with the settings the tuner measured as fastest on this machine.
Sources that are streamed (the Hub) are materialised into the cache first.

The order is a pure function of ``(seed, epoch)`` (see :class:`SeededSampler`),
the same for the uncached and cached epochs and whatever the settings, and the
pixels equal those of torchvision's ``ImageFolder`` + ``Resize`` + ``ToTensor``
+ ``Normalize``.

The loader is itself a ``torch.utils.data.DataLoader`` (:class:`TunedLoader`),
so training frameworks that check for one take it. Random augmentation
(:class:`~dataaudit.loader.datasets.Augmenter`) runs on the cached uint8 pixels
before normalising, each item seeded by ``(seed, epoch, index)``. Under
``torch.distributed`` each rank iterates its share of every epoch's order; rank
0 fills the cache inside :func:`build_loader` and the others wait for its
completion marker.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from dataaudit.errors import SourceError, UsageError, require
from dataaudit.loader.cache import (
    MARKER,
    TUNING,
    CacheBuilder,
    CacheError,
    DecodeSpec,
    ImageCache,
    Verify,
    cache_key,
    decode_error,
    decode_image,
    default_cache_root,
    fingerprint_files,
    iter_chunks,
    label_codes,
    open_cache,
    prune_caches,
    touch_cache,
)
from dataaudit.loader.tuning import (
    Decision,
    LoaderSettings,
    available_cores,
    load_decision,
    save_decision,
    tuning_context,
)
from dataaudit.loader.tuning import tune as run_tuner

if TYPE_CHECKING:
    import torch

    from dataaudit.fit.artefact import Artefact
    from dataaudit.loader.tables import TableLoader
    from dataaudit.loader.datasets import Augmenter, CachedImageDataset, Normalizer, SeededSampler
    from dataaudit.sources.base import Dataset
    from dataaudit.sources.images import ImageRecord

LOCAL_LAYOUTS = frozenset({"imagefolder", "imagefolder_metadata", "class_folders", "flat"})


@dataclass
class ImageSource:
    """One split of an image source, as the loader needs it."""

    name: str
    split: str
    fingerprint: str
    classes: list[str]
    """Every class of the source (all splits, sorted): the default class-to-index map."""
    root: Path | None = None
    names: list[str] | None = None
    """Random access: file paths relative to ``root``, in item order."""
    labels: list[str | None] | None = None
    stream: Callable[[], Iterator[ImageRecord]] | None = None
    """Streams (the Hub): the split's records, read once to fill the cache."""
    layout: str | None = None
    folder: str = ""
    """The split's folder relative to ``root`` (``""``: the root itself)."""

    @property
    def random_access(self) -> bool:
        return self.names is not None


def resolve_source(source: Any, split: str, config: Any = None) -> ImageSource:
    """Open ``source`` (a path, ``hf://`` URL or an opened :class:`Dataset`) and describe ``split``."""
    from dataaudit.sources import open_split

    ds, split = open_split(source, split, config)
    if ds.modality != "image":
        raise UsageError(
            f"{ds.source}: build_loader reads image datasets; this source is {ds.modality!r} "
            "(use dataaudit.transforms for tables)"
        )
    if split not in ds.splits:
        raise SourceError(f"no split {split!r} (splits: {', '.join(ds.split_names) or 'none'})", ds.source)
    classes = list(ds.class_names or [])
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(ds.source.rstrip("/")).name or "source")[:40]
    layout = ds.detected.get("layout")
    if ds.root is not None and layout in LOCAL_LAYOUTS:
        names: list[str] = []
        labels: list[str | None] = []
        for batch in ds.read():
            if batch.split != split:
                continue
            for rec in batch.payload or []:
                if rec.path is None:
                    raise SourceError(f"image record {rec.index} has no path", ds.source)
                names.append(rec.path)
                labels.append(rec.label)
        if not names:
            raise SourceError(f"split {split!r} has no images", ds.source)
        fp = fingerprint_files(ds.root, names, labels, {"layout": layout})
        folder = str(ds.detected.get("splits", {}).get(split, "."))
        return ImageSource(name, split, fp, classes, ds.root, names, labels, None, str(layout),
                           "" if folder == "." else folder)  # fmt: skip

    root = ds.root
    detected = json.dumps({"source": ds.source, "split": split, "detected": ds.detected}, sort_keys=True, default=str)
    fp = "xxh3_128:" + xxhash.xxh3_128_hexdigest(detected.encode())

    def records() -> Iterator[ImageRecord]:
        for batch in ds.read():
            if batch.split == split:
                yield from batch.payload or []

    return ImageSource(name, split, fp, classes, root, stream=records, layout=None if layout is None else str(layout))


def _record_bytes(rec: ImageRecord, root: Path | None) -> bytes:
    from dataaudit.sources.images import read_image_bytes

    return read_image_bytes(rec, root)


@contextmanager
def decoding_pool(threads: int) -> Iterator[ThreadPoolExecutor]:
    """Threads that decode images, each with one intra-op torch thread.

    Pillow and torch release the GIL, so the threads use every core; one
    intra-op thread each keeps them from oversubscribing the cores (which on a
    busy machine costs more than the parallelism gains). ``torch.set_num_threads``
    also sets the default for threads started later, so the caller's count is
    restored afterwards.
    """
    import torch

    keep = torch.get_num_threads()  # initialises this thread's count before the workers change the default
    pool = ThreadPoolExecutor(threads, thread_name_prefix="dataaudit-decode", initializer=torch.set_num_threads,
                              initargs=(1,))  # fmt: skip
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(keep)


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device!r}: CUDA is not available on this machine")
    return dev


class SplitView(TorchDataset[tuple[Any, int]]):
    """The loader's split as a map-style dataset (its ``DataLoader.dataset``).

    Item ``i`` is what the loader delivers for it on the CPU without augmentation:
    cached pixels when the cache exists, otherwise decoded from the file (normalised
    unless ``output="uint8"``). The loader itself does not fetch through it.
    """

    def __init__(self, loader: TunedLoader) -> None:
        self._loader = weakref.proxy(loader)

    def __len__(self) -> int:
        return int(self._loader.num_items)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        images, labels = self.__getitems__([i])
        return images[0], int(labels[0])

    def __getitems__(self, keys: list[Any]) -> tuple[Any, Any]:
        import torch

        from dataaudit.loader.datasets import split_keys

        lo = self._loader
        idx, _ = split_keys(keys)
        if lo.cache is not None:
            arr = lo.cache.gather(idx)
            codes = lo.cache.labels[np.asarray(idx, dtype=np.int64)]
            labels = lo.label_map[codes]
        else:
            names, root, src_labels = lo.source.names, lo.source.root, lo.source.labels
            assert names is not None and root is not None and src_labels is not None
            arr = np.empty((len(idx), *lo.spec.item_shape), dtype=np.uint8)
            for j, i in enumerate(idx):
                arr[j] = lo.decode(root / names[i], names[i])
            label_names = lo._split_label_names()
            labels = lo.label_map[label_codes([src_labels[i] for i in idx], label_names)]
        images = torch.from_numpy(arr)
        if lo.output == "float":
            images = lo.normalizer(images)
        return images, torch.from_numpy(np.asarray(labels, dtype=np.int64))


class TunedLoader(DataLoader[Any]):
    """A ``torch.utils.data.DataLoader`` of ``(images, labels)`` batches; see :func:`build_loader`.

    ``images`` is float32 normalised ``(N, C, H, W)`` (or uint8 with
    ``output="uint8"``), ``labels`` int64 class indices (``-1``: unlabelled),
    both on :attr:`device`. Each ``iter()`` is one epoch; epochs count up from
    0 unless :meth:`set_epoch` (or ``loader.sampler.set_epoch``, as Lightning
    calls it) says otherwise. ``dataset``, ``sampler`` (this rank's seeded
    share), ``batch_size``, ``drop_last`` and ``len()`` are those of a plain
    ``DataLoader``; iteration decodes into the cache on the first epoch and
    reads the cache, with measured settings, afterwards (:attr:`dataloader`).
    """

    def __init__(
        self,
        source: ImageSource,
        spec: DecodeSpec,
        normalizer: Normalizer,
        class_index: dict[str, int],
        *,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        seed: int,
        device: torch.device,
        cache_root: Path,
        tune: bool,
        tune_seconds: float,
        settings: LoaderSettings | None,
        verify: Verify,
        threads: int | None,
        output: str,
        log: Callable[[str], None] | None,
        augment: Augmenter | None = None,
        rank: int = 0,
        world_size: int = 1,
        cache_timeout: float = 3600.0,
        decode: str = "exact",
        max_caches: int | None = None,
    ) -> None:
        from dataaudit.loader.datasets import SeededSampler, keep_batch

        self.source = source
        self.spec = spec
        self.normalizer = normalizer
        self.class_index = class_index
        self.shuffle = shuffle
        self.seed = seed
        self.device = device
        self.tune_enabled = tune
        self.tune_seconds = tune_seconds
        self.forced_settings = settings
        self.verify = verify
        self.threads = threads or available_cores() + 1
        self.output = output
        self._log = log
        self.augment = augment
        self.rank = rank
        self.world_size = world_size
        self.decode_mode = decode
        self.max_caches = max_caches
        # reduced-scale pixels differ from the full decode: they get a cache of their own
        fingerprint = source.fingerprint if decode == "exact" else f"{source.fingerprint}|decode={decode}"
        self.key = cache_key(fingerprint, source.split, spec)
        self.cache_path = cache_root / "loader" / f"{source.name}-{source.split}-{self.key}"
        self.cache: ImageCache | None = None
        self.rebuilt_because: str | None = None
        """Why an existing cache was discarded (``None`` if none was)."""
        self.decision: Decision | None = None
        self._dataloader: Any = None
        self._chosen: LoaderSettings | None = settings
        self._builder: CacheBuilder | None = None
        self._builder_cleanup: Any = None
        self.cache, self.rebuilt_because = open_cache(self.cache_path, self.key, verify)
        if self.rebuilt_because:
            self.log(f"cache {self.cache_path.name} is invalid ({self.rebuilt_because}); rebuilding")
        if self.cache is None and world_size > 1 and rank != 0:
            self.cache = self._wait_for_cache(cache_timeout)
        if self.cache is None and not source.random_access:
            self._materialise()
        n = self.cache.count if self.cache is not None else len(source.names or [])
        self._order = SeededSampler(n, seed, shuffle, rank, world_size, keyed=augment is not None)
        """The order of the epoch being delivered (the public :attr:`sampler` holds the next epoch)."""
        names = self.cache.label_names if self.cache is not None else self._split_label_names()
        self.label_map = self._label_map(names)
        super().__init__(SplitView(self), batch_size=batch_size, sampler=SeededSampler(n, seed, shuffle, rank, world_size),
                         drop_last=drop_last, collate_fn=keep_batch)  # type: ignore[arg-type]  # fmt: skip
        if self.cache is None and world_size > 1:
            # rank 0 fills the cache now: the other ranks wait in build_loader for its marker,
            # before anything (a DDP constructor, a barrier) could make rank 0 wait for them
            self.prepare()
        if self.cache is not None:
            self._touch()

    # -- small helpers -------------------------------------------------------------
    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def _split_label_names(self) -> list[str]:
        return sorted({lab for lab in self.source.labels or [] if lab is not None})

    def _label_map(self, names: list[str]) -> np.ndarray:
        unknown = [n for n in names if n not in self.class_index]
        if unknown:
            raise SourceError(
                f"split {self.source.split!r} has label(s) not in the class map: {', '.join(unknown[:10])}"
                f" (known: {', '.join(list(self.class_index)[:10])}); refit the artefact or pass classes=",
                self.source.name,
            )
        return np.asarray([self.class_index[n] for n in names] + [-1], dtype=np.int64)

    def decode(self, src: Path | bytes, where: str) -> np.ndarray:
        """One image decoded as the cache stores it (``decode=`` chooses the exact or reduced path)."""
        try:
            if self.decode_mode == "reduced":
                from dataaudit.loader.decode import decode_reduced

                return decode_reduced(src, self.spec)
            return decode_image(src, self.spec)
        except SourceError:
            raise
        except Exception as exc:  # PIL raises many types for bad files
            raise decode_error(where, exc) from None

    def _wait_for_cache(self, timeout: float) -> ImageCache:
        """Ranks other than 0: wait for rank 0's completion marker, then open its cache."""
        self.log(f"rank {self.rank}: waiting up to {timeout:g}s for rank 0 to build {self.cache_path}")
        deadline = time.monotonic() + timeout
        while True:
            if (self.cache_path / MARKER).is_file():
                cache, _ = open_cache(self.cache_path, self.key, "sizes")
                if cache is not None:
                    return cache
            if time.monotonic() >= deadline:
                raise CacheError(
                    f"rank {self.rank} of {self.world_size}: rank 0 did not finish the cache {self.cache_path} "
                    f"within {timeout:g}s; check that rank 0 runs build_loader with the same arguments and that "
                    "cache_dir is one folder every rank sees (or raise cache_timeout=)"
                )
            time.sleep(0.1)

    def _touch(self) -> None:
        """Mark the cache used now and keep at most ``max_caches`` caches (least recently used go)."""
        try:
            touch_cache(self.cache_path)
            if self.max_caches is not None and self.rank == 0:
                for gone in prune_caches(self.cache_path.parent, self.max_caches, keep=self.cache_path):
                    self.log(f"removed the least recently used cache {gone.name} (max_caches={self.max_caches})")
        except OSError as exc:  # a read-only cache still works
            self.log(f"could not record the cache's use: {exc}")

    @property
    def cached(self) -> bool:
        """Whether the split is in the cache (later epochs skip decoding)."""
        return self.cache is not None

    @property
    def settings(self) -> LoaderSettings | None:
        """The settings of the cached epochs (``None`` until chosen)."""
        return self._chosen

    @property
    def num_items(self) -> int:
        """Items in the split (all ranks); ``len(loader.sampler)`` is this rank's share."""
        return self._order.n

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next ``iter()`` runs (its shuffle order, shard and augmentation)."""
        self.sampler.set_epoch(epoch)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # type: ignore[override]
        public = self.sampler
        epoch = int(public.epoch)  # type: ignore[attr-defined]
        public.epoch = epoch + 1  # type: ignore[attr-defined]
        self._order.set_epoch(epoch)
        if self.cache is None:
            return self._fill_epoch(self._order.order(), epoch)
        return self._cached_epoch()

    def _deliver(self, images: torch.Tensor, labels: torch.Tensor, place: str, pinned: bool) -> tuple[torch.Tensor, torch.Tensor]:
        normalise = self.output == "float" and place != "worker"
        if normalise and place == "main":
            images = self.normalizer(images)
        if self.device.type != "cpu":
            images = images.to(self.device, non_blocking=pinned)
            labels = labels.to(self.device, non_blocking=pinned)
        if normalise and place == "device":
            images = self.normalizer(images)
        return images, labels

    def _fill_place(self) -> str:
        return "device" if self.device.type == "cuda" else "main"

    # -- first epoch: decode into the cache -----------------------------------------
    def _new_builder(self) -> CacheBuilder:
        names = self._split_label_names()
        b = CacheBuilder(self.cache_path, self.key, self.spec, names, len(self.source.names or []),
                         self._cache_meta())  # fmt: skip
        codes = label_codes(self.source.labels or [], names)
        assert b.labels is not None
        b.labels[:] = codes
        self._builder_cleanup = weakref.finalize(self, b.abort)
        return b

    def _cache_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"source": self.source.name, "split": self.source.split,
                                "fingerprint": self.source.fingerprint, "decode_mode": self.decode_mode}  # fmt: skip
        if self.source.root is not None:
            meta["origin"] = str(self.source.root.resolve())
        if self.decode_mode != "exact":
            from dataaudit.loader.decode import compare_decodes

            root, names = self.source.root, self.source.names or []
            sample = [root / n for n in names[:8]] if root is not None else []
            meta["pixels"] = {"identical_to_full_decode": False, "decode": self.decode_mode,
                              **compare_decodes(sample, self.spec)}  # fmt: skip
        return meta

    def pixels(self) -> dict[str, Any]:
        """Whether the cached pixels equal the full-decode path (the eval transform), and how far off they are."""
        if self.decode_mode == "exact":
            return {"identical_to_full_decode": True, "decode": "exact"}
        if self.cache is not None and isinstance(self.cache.meta.get("pixels"), dict):
            return dict(self.cache.meta["pixels"])
        return {"identical_to_full_decode": False, "decode": self.decode_mode}

    def _fill_epoch(self, order: list[int], epoch: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Decode the items of ``order`` (in batches, delivered) and then every other item into the cache.
        ``epoch`` seeds the augmentation (``None``: none, for :meth:`prepare`)."""
        import torch

        if self._builder is None:
            self._builder = self._new_builder()
        b = self._builder
        assert b.filled is not None and b.labels is not None and self.source.names is not None
        root = self.source.root
        assert root is not None
        names = self.source.names
        filled, codes = b.filled, b.labels
        shape = self.spec.item_shape
        augment = self.augment if epoch is not None else None

        cuda = self.device.type == "cuda"
        # on the CPU the decoding threads also normalise (NumPy, one thread each): torch's
        # intra-op threads in the main process would fight them for the cores; augmentation
        # comes before normalising, in this thread (torch's generator is per process)
        host_norm = self.output == "float" and not cuda and augment is None

        def work(idx: list[int]) -> np.ndarray:
            out = np.empty((len(idx), *shape), dtype=np.uint8)
            for j, i in enumerate(idx):
                if filled[i]:
                    out[j] = b.read(i)
                    continue
                arr = self.decode(root / names[i], names[i])
                b.write(i, arr, int(codes[i]))
                out[j] = arr
            return self.normalizer.numpy(out) if host_norm else out

        bs = self.batch_size
        assert bs is not None
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        if self.drop_last and batches and len(batches[-1]) < bs:
            batches.pop()
        place = "worker" if host_norm else self._fill_place()
        pending: deque[tuple[list[int], Future[np.ndarray]]] = deque()
        todo = iter(batches)
        complete = False
        try:
            with decoding_pool(self.threads) as pool:
                for idx in todo:
                    pending.append((idx, pool.submit(work, idx)))
                    if len(pending) >= 2 * self.threads:
                        break
                while pending:
                    idx, fut = pending.popleft()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.append((nxt, pool.submit(work, nxt)))
                    images = torch.from_numpy(fut.result())
                    if augment is not None:
                        assert epoch is not None
                        images = augment(images, idx, epoch)
                    labels = torch.from_numpy(self.label_map[codes[np.asarray(idx, dtype=np.int64)]])
                    if cuda:
                        images = images.pin_memory()
                    yield self._deliver(images, labels, place, pinned=cuda)
                rest = [int(i) for i in b.missing()]
                for f in [pool.submit(work, chunk) for chunk in iter_chunks(rest, bs)]:
                    f.result()
                complete = True
        finally:
            if complete:
                self._finish_cache()

    def _finish_cache(self) -> None:
        b = self._builder
        assert b is not None
        src = self.source
        if src.root is not None and src.names is not None and src.labels is not None:
            now = fingerprint_files(src.root, src.names, src.labels, {"layout": src.layout})
            if now != src.fingerprint:
                # a file changed while it was being cached: what is cached may be older than
                # the key says, so it is not sealed; the next build_loader lists the files again
                self.log("source files changed during the first epoch; the cache was not kept")
                b.abort()
                self._builder = None
                return
        t0 = time.perf_counter()
        self._builder = None  # spent even if sealing fails (full disk): the next epoch starts afresh
        self.cache = b.finish(self.verify)
        if self._builder_cleanup is not None:
            self._builder_cleanup.detach()
        self.log(f"cached {self.cache.count} images in {self.cache_path} ({time.perf_counter() - t0:.2f}s to seal)")
        self._touch()

    def _materialise(self) -> None:
        """Read a streamed split once, decoding into a new cache."""
        assert self.source.stream is not None
        t0 = time.perf_counter()
        b = CacheBuilder(self.cache_path, self.key, self.spec, None, None, self._cache_meta())
        root = self.source.root

        def work(rec: ImageRecord) -> np.ndarray:
            where = rec.path or f"{self.source.split}[{rec.index}]"
            return self.decode(_record_bytes(rec, root), where)

        try:
            with decoding_pool(self.threads) as pool:
                for chunk in iter_chunks(self.source.stream(), 256):
                    for rec, arr in zip(chunk, pool.map(work, chunk)):
                        b.append(arr, rec.label)
            self.cache = b.finish(self.verify)
        except BaseException:
            b.abort()
            raise
        self.log(f"materialised {self.cache.count} images into {self.cache_path} in {time.perf_counter() - t0:.1f}s")
        self._touch()

    # -- cached epochs ---------------------------------------------------------------
    def _dataset(self, settings: LoaderSettings) -> CachedImageDataset:
        from dataaudit.loader.datasets import CachedImageDataset

        assert self.cache is not None
        norm = self.normalizer if settings.normalize == "worker" and self.output == "float" else None
        return CachedImageDataset(self.cache, self.label_map, norm, self.augment)

    def make_dataloader(self, settings: LoaderSettings, sampler: SeededSampler, persistent: bool) -> Any:
        """A ``DataLoader`` over the cache with ``settings``."""
        import torch

        from dataaudit.loader.datasets import PerSample, keep_batch, seed_worker, stack_items

        g = torch.Generator()
        g.manual_seed(self.seed)
        w = settings.num_workers
        ds: Any = self._dataset(settings)
        if settings.fetch == "sample":
            ds = PerSample(ds)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=self.drop_last,
            num_workers=w,
            prefetch_factor=settings.prefetch_factor if w else None,
            persistent_workers=persistent and w > 0,
            pin_memory=settings.pin_memory and torch.cuda.is_available(),
            collate_fn=stack_items if settings.fetch == "sample" else keep_batch,  # type: ignore[arg-type]
            worker_init_fn=seed_worker if w else None,
            generator=g,
        )

    @property
    def dataloader(self) -> Any:
        """The ``torch.utils.data.DataLoader`` of the cached epochs (built, and tuned, on first use)."""
        if self.cache is None:
            raise RuntimeError("the split is not cached yet: iterate one epoch first (or call prepare())")
        if self._dataloader is None:
            settings = self.choose_settings()
            self._dataloader = self.make_dataloader(settings, self._order, persistent=True)
        return self._dataloader

    def prepare(self) -> TunedLoader:
        """Fill the cache now (one pass over every item, no batches delivered) instead of during epoch 1."""
        if self.cache is None:
            for _ in self._fill_epoch(list(range(len(self.source.names or []))), None):
                pass
        return self

    def choose_settings(self) -> LoaderSettings:
        """Forced settings, else the recorded decision, else measure now (or defaults with ``tune=False``)."""
        if self._chosen is None:
            self._chosen = self._choose()
        return self._chosen

    def _context(self) -> dict[str, Any]:
        context = tuning_context(self.batch_size or 1, str(self.device), self.output)
        context["augment"] = self.augment is not None
        context["pixels"] = self.pixels()
        return context

    def _choose(self) -> LoaderSettings:
        if self.decision is not None:
            return self.decision.chosen
        cuda = self.device.type == "cuda"
        if not self.tune_enabled or len(self) == 0:  # nothing to measure with no full batch
            return LoaderSettings(0, None, "device" if cuda and self.output == "float" else "main", pin_memory=cuda)
        context = self._context()
        path = self.cache_path / TUNING
        found = load_decision(path, context)
        if found is not None:
            self.decision = found
            self.log(f"loader settings reused from {path}: {found.chosen.label()}")
            return found.chosen
        self.log(f"tuning the loader (up to {self.tune_seconds:g}s per candidate)...")
        decision = run_tuner(self._tuning_run, context, self.tune_seconds, cuda=cuda,
                             normalize=self.output == "float", log=self._log)  # fmt: skip
        try:
            save_decision(path, decision)
        except OSError as exc:  # a read-only cache still works, it just re-tunes next time
            self.log(f"could not record the tuning decision: {exc}")
        self.decision = decision
        self.log(f"chosen: {decision.chosen.label()}")
        return decision.chosen

    def _tuning_run(self, settings: LoaderSettings) -> Iterator[int]:
        import torch

        from dataaudit.loader.datasets import SeededSampler

        o = self._order
        sampler = SeededSampler(o.n, self.seed, self.shuffle, o.rank, o.world_size, keyed=o.keyed)
        dl = self.make_dataloader(settings, sampler, persistent=False)
        cuda = self.device.type == "cuda"
        epoch = 0
        while True:
            sampler.set_epoch(epoch)
            got = False
            for images, labels in dl:
                x, y = self._deliver(images, labels, settings.normalize, settings.pin_memory)
                if cuda:
                    torch.cuda.synchronize(self.device)
                got = True
                yield int(y.shape[0])
            if not got:
                return
            epoch += 1

    def _cached_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        dl = self.dataloader
        s = self.settings
        assert s is not None
        for images, labels in dl:
            yield self._deliver(images, labels, s.normalize, s.pin_memory)

    def describe(self) -> dict[str, Any]:
        """What the loader is and what it chose, for printing."""
        return {
            "source": self.source.name, "split": self.source.split, "items": self.num_items,
            "batch_size": self.batch_size, "shuffle": self.shuffle, "drop_last": self.drop_last,
            "seed": self.seed, "device": str(self.device), "cache": str(self.cache_path), "cached": self.cached,
            "image": {"height": self.spec.height, "width": self.spec.width, "mode": self.spec.mode},
            "rank": self.rank, "world_size": self.world_size, "augment": self.augment is not None,
            "pixels": self.pixels(),
            "settings": None if self.settings is None else self.settings.to_dict(),
            "decision": None if self.decision is None else self.decision.to_dict(),
        }  # fmt: skip


def _load_artefact(artefact: Any) -> Artefact | None:
    if artefact is None:
        return None
    if isinstance(artefact, (str, Path)):
        from dataaudit.fit.artefact import load_artefact

        return load_artefact(artefact)
    return artefact  # type: ignore[no-any-return]


def build_loader(
    source: Any,
    split: str = "train",
    artefact: Any = None,
    batch_size: int = 64,
    device: str | Any = "auto",
    cache_dir: str | Path | None = None,
    seed: int = 0,
    drop_last: bool = False,
    tune: bool = True,
    *,
    shuffle: bool | None = None,
    size: int | Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    mode: str | None = None,
    classes: Sequence[str] | None = None,
    output: str = "float",
    settings: LoaderSettings | dict[str, Any] | None = None,
    tune_seconds: float = 0.75,
    verify: Verify = "full",
    threads: int | None = None,
    config: Any = None,
    log: Callable[[str], None] | None = None,
    augment: bool | Callable[[Any], Any] | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    cache_timeout: float = 3600.0,
    decode: str = "exact",
    max_caches: int | None = -1,
) -> TunedLoader | TableLoader:
    """The fastest correct loader for one split of an image dataset (or of a table).

    ``source`` is a folder, an ``hf://`` URL or a :class:`~dataaudit.sources.base.Dataset`.
    ``artefact`` (a path or an ``Artefact`` from ``dataaudit fit``) supplies the
    image size, colour mode, per-channel mean/std and the class-to-index map;
    ``size``/``mean``/``std``/``mode``/``classes`` supply or override them.
    Without mean/std, images are scaled to [0, 1]; ``output="uint8"`` skips
    normalisation altogether. Train shuffles (``shuffle=`` overrides), in an
    order that depends only on ``seed`` and the epoch.

    ``cache_dir`` defaults to ``$DATAAUDIT_CACHE``, ``$XDG_CACHE_HOME/dataaudit``
    or ``~/.cache/dataaudit``. ``tune`` measures the loader settings for
    ``tune_seconds`` per candidate when the cache is first read (the decision is
    stored beside the cache); ``settings`` forces them. ``verify="sizes"`` skips
    checksumming a cache on open (for very large caches). ``threads`` decode
    the first epoch (default: cores + 1).

    With a table artefact, the split is streamed once through the fitted
    :class:`~dataaudit.transforms.tables.TableTransform` into a cached float32
    matrix and a :class:`~dataaudit.loader.tables.TableLoader` yields
    ``(features, targets)`` rows in the artefact's feature order.

    The image loader is a ``torch.utils.data.DataLoader`` (a subclass): code that
    checks for one accepts it. ``augment`` runs random transforms after the
    cache, before normalising: ``True`` takes the artefact's ``train=True``
    steps (``RandomResizedCrop`` + ``RandomHorizontalFlip``, on the cached,
    resized pixels), or give your own torchvision v2 transform of a uint8
    ``(C, H, W)`` image. Each item's randomness is seeded by ``(seed, epoch,
    index)``, so a run is reproducible whatever ``num_workers`` is, and each
    epoch differs. With ``torch.distributed`` initialised (or ``rank`` and
    ``world_size`` given) each rank gets a disjoint share of every epoch's
    seeded order (together: every item exactly once), rank 0 builds the cache
    inside ``build_loader`` and the other ranks wait for its completion marker
    (at most ``cache_timeout`` seconds; ``cache_dir`` must be one folder all
    ranks see). ``decode="reduced"`` decodes JPEGs at reduced DCT scale where
    the size allows (faster first epoch; pixels differ slightly from the eval
    transform, which :meth:`TunedLoader.pixels` and the tuning record say).
    ``max_caches`` keeps that many caches under the cache folder, removing the
    least recently used and any this one replaces (default
    ``$DATAAUDIT_LOADER_MAX_CACHES`` or 8; ``None``: keep all).
    """
    require("torch", "torch")
    from dataaudit.loader.datasets import Normalizer

    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    if output not in ("float", "uint8"):
        raise UsageError(f"output must be 'float' or 'uint8', got {output!r}")
    if verify not in ("full", "sizes"):
        raise UsageError(f"verify must be 'full' or 'sizes', got {verify!r}")
    if decode not in ("exact", "reduced"):
        raise UsageError(f"decode must be 'exact' or 'reduced', got {decode!r}")
    rank, world_size = _resolve_ranks(rank, world_size)
    keep = _resolve_max_caches(max_caches)
    art = _load_artefact(artefact)
    plan = art.image if art is not None else None
    if art is not None and art.table is not None:
        from dataaudit.loader.tables import build_table_loader

        return build_table_loader(
            source, split, art, batch_size, shuffle, seed, drop_last, resolve_device(device),
            Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root(), config, log,
        )  # fmt: skip
    if size is None and plan is None:
        raise UsageError("build_loader needs the image size: pass artefact= (from `dataaudit fit`) or size=(height, width)")
    if size is not None:
        hw = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    else:
        assert plan is not None
        hw = (plan.height, plan.width)
    require("torchvision", "torch")
    import torchvision.transforms.v2.functional  # noqa: F401  (imported here, not by the decoding threads)

    img_mode = mode or (plan.mode if plan is not None else "RGB")
    try:
        spec = DecodeSpec(hw[0], hw[1], img_mode, plan.interpolation if plan is not None else "bilinear")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if mean is None and std is None and plan is not None:
        mean, std = plan.mean, plan.std
    if (mean is None) != (std is None):
        raise UsageError("give both mean and std, or neither")
    if mean is not None and std is not None:
        if len(mean) != spec.channels or len(std) != spec.channels:
            raise UsageError(f"mode {spec.mode} needs {spec.channels} mean and std values")
        if any(s <= 0 for s in std):
            raise UsageError("std values must be positive")
    dev = resolve_device(device)
    src = resolve_source(source, split, config)
    if classes is None and art is not None and art.label is not None:
        classes = art.label.classes
    class_list = list(classes) if classes is not None else src.classes
    forced = LoaderSettings.from_dict(settings) if isinstance(settings, dict) else settings
    if decode == "reduced":
        from dataaudit.loader.decode import reduced_available

        if not reduced_available():
            raise UsageError("decode='reduced' needs simplejpeg: pip install 'dataaudit[torch]'")
    return TunedLoader(
        src, spec, Normalizer(mean, std), {c: i for i, c in enumerate(class_list)},
        batch_size=batch_size, shuffle=src.split == "train" if shuffle is None else shuffle,
        drop_last=drop_last, seed=seed, device=dev,
        cache_root=Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root(),
        tune=tune, tune_seconds=tune_seconds, settings=forced, verify=verify, threads=threads,
        output=output, log=log, augment=_augmenter(augment, art, seed), rank=rank, world_size=world_size,
        cache_timeout=cache_timeout, decode=decode, max_caches=keep,
    )  # fmt: skip


def _resolve_ranks(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``rank``/``world_size`` as given, else from an initialised ``torch.distributed``, else 0 of 1."""
    if rank is None and world_size is None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1
    if rank is None or world_size is None:
        raise UsageError("give both rank and world_size, or neither (then torch.distributed's are used)")
    if world_size < 1 or not 0 <= rank < world_size:
        raise UsageError(f"rank must be in 0..world_size-1, got rank {rank} of world_size {world_size}")
    return int(rank), int(world_size)


def _resolve_max_caches(max_caches: int | None) -> int | None:
    """``-1`` (the default): ``$DATAAUDIT_LOADER_MAX_CACHES`` or 8."""
    if max_caches == -1:
        env = os.environ.get("DATAAUDIT_LOADER_MAX_CACHES", "").strip()
        try:
            max_caches = int(env) if env else 8
        except ValueError:
            raise UsageError(f"DATAAUDIT_LOADER_MAX_CACHES must be a whole number, got {env!r}") from None
    if max_caches is not None and max_caches < 1:
        raise UsageError(f"max_caches must be at least 1 (or None to keep every cache), got {max_caches}")
    return max_caches


def train_steps(art: Artefact) -> Any:
    """The random steps of the artefact's ``train=True`` pipeline, as one transform of a uint8 image
    (colour conversion, ``ToImage``, ``ToDtype`` and ``Normalize`` are the loader's own)."""
    from torchvision.transforms import v2

    from dataaudit.transforms.images import build_image_transform

    pipeline = build_image_transform(art, train=True)
    skip = (v2.RGB, v2.Grayscale, v2.ToImage, v2.ToDtype, v2.Normalize)
    return v2.Compose([t for t in pipeline.transforms if not isinstance(t, skip)])


def _augmenter(augment: bool | Callable[[Any], Any] | None, art: Artefact | None, seed: int) -> Augmenter | None:
    from dataaudit.loader.datasets import Augmenter

    if augment is None or augment is False:
        return None
    if augment is True:
        if art is None or art.image is None:
            raise UsageError("augment=True uses the artefact's train transforms: pass artefact= (an image artefact) "
                             "or augment=<a torchvision v2 transform>")  # fmt: skip
        return Augmenter(train_steps(art), seed)
    if not callable(augment):
        raise UsageError(f"augment must be True, False or a transform (a callable), got {type(augment).__name__}")
    return Augmenter(augment, seed)


def stderr_log(message: str) -> None:
    """A ``log=`` for build_loader that prints to standard error."""
    print(message, file=sys.stderr)
