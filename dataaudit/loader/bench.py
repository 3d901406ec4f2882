"""Measure the tuned loader against a naive one (``dataaudit loader-bench`` and the benchmark).

The naive loader is what a training script starts with: torchvision's
``ImageFolder`` (or the same PIL loading for metadata layouts) with the fitted
eval transform (``build_image_transform(artefact)``, or the same v2 steps by
hand) per image, default collation, ``num_workers=0``,
and a ``RandomSampler`` seeded like the tuned loader's first epoch. Every batch
of both is hashed (pixels and label names), so the report says whether they
delivered the same samples in the same order.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from dataaudit.errors import UsageError


@dataclass
class Phase:
    """One timed run over the data."""

    name: str
    items: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "items": self.items, "batches": self.batches,
                "seconds": round(self.seconds, 4), "images_per_s": round(self.images_per_s, 1)}  # fmt: skip


@dataclass
class BenchResult:
    """Naive vs tuned: throughput of each phase and whether the outputs agree."""

    naive: Phase
    first: Phase
    cached: Phase
    tuning_s: float
    open_s: float
    settings: dict[str, Any]
    decision: dict[str, Any] | None
    loader: dict[str, Any]
    same_samples: bool
    same_order: bool
    first_mismatch: int | None = None
    notes: list[str] = field(default_factory=list)
    rounds: list[tuple[float, float]] = field(default_factory=list)
    """(naive, first epoch) images/s of each interleaved round."""

    @property
    def first_ratio(self) -> float:
        return self.first.images_per_s / self.naive.images_per_s if self.naive.images_per_s else 0.0

    @property
    def cached_ratio(self) -> float:
        return self.cached.images_per_s / self.naive.images_per_s if self.naive.images_per_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "naive": self.naive.to_dict(), "first_epoch": self.first.to_dict(), "cached_epochs": self.cached.to_dict(),
            "first_vs_naive": round(self.first_ratio, 2), "cached_vs_naive": round(self.cached_ratio, 2),
            "tuning_s": round(self.tuning_s, 3), "cache_open_s": round(self.open_s, 4),
            "settings": self.settings, "decision": self.decision, "loader": self.loader,
            "same_samples": self.same_samples, "same_order": self.same_order,
            "first_mismatch": self.first_mismatch, "notes": self.notes,
            "rounds": [{"naive": round(a, 1), "first_epoch": round(b, 1)} for a, b in self.rounds],
        }  # fmt: skip

    def lines(self) -> list[str]:
        """The human-readable report."""
        lo = self.loader
        img = lo["image"]
        s = self.settings
        out = [
            f"source: {lo['source']} (split {lo['split']}, {lo['items']} images -> {img['height']}x{img['width']} "
            f"{img['mode']}, batch {lo['batch_size']}, device {lo['device']})",
            f"naive  (ImageFolder + per-image transform, num_workers=0): {self.naive.images_per_s:10.1f} images/s",
            f"tuned, first epoch (decode into cache, threads):          {self.first.images_per_s:10.1f} images/s"
            f"  {self.first_ratio:5.2f}x naive",
            f"tuned, cached epochs ({self.cached.batches} batches):                 "
            f"{self.cached.images_per_s:10.1f} images/s  {self.cached_ratio:5.2f}x naive",
            f"chosen settings: workers {s['num_workers']}, prefetch {s['prefetch_factor']}, "
            f"normalise in {s['normalize']}, pin_memory {s['pin_memory']}, fetch {s.get('fetch', 'batch')}",
            f"tuning (once, reused by later runs): {self.tuning_s:.2f}s; cache open + verify: {self.open_s:.3f}s",
            f"same samples as naive: {'yes' if self.same_samples else 'NO'}; "
            f"same order (seed {lo['seed']}): {'yes' if self.same_order else 'NO'}"
            + ("" if self.first_mismatch is None else f" (first difference at sample {self.first_mismatch})"),
        ]
        if self.decision:
            for m in self.decision["measurements"]:
                st = m["settings"]
                what = (f"{m['batches_per_s']:.1f} batches/s (spread {m.get('spread', 0):.1%} over "
                        f"{m.get('repeats', 1)} windows)" if m["error"] is None else f"failed: {m['error']}")
                out.append(f"  measured: workers {st['num_workers']}, prefetch {st['prefetch_factor']}, "
                           f"normalise in {st['normalize']}, fetch {st.get('fetch', 'batch')}: {what}")  # fmt: skip
        px = lo.get("pixels") or {}
        if px and not px.get("identical_to_full_decode", True):
            out.append(f"pixels: {px.get('decode')} decode, not bit-identical to the full decode "
                       f"(max abs diff {px.get('max_abs_diff')}, mean {px.get('mean_abs_diff')} on "
                       f"{px.get('compared_images')} images): 'same samples' compares pixels, so it says NO")  # fmt: skip
        if len(self.rounds) > 1:
            out.append("rounds (naive, first epoch images/s; medians above): "
                       + "; ".join(f"{a:.0f}, {b:.0f}" for a, b in self.rounds))  # fmt: skip
        out.extend(self.notes)
        return out


def _digests(images: Any, names: Sequence[str]) -> list[str]:
    """One hash per sample: its pixels (exact bytes) and its label name."""
    arr = images.detach().cpu().contiguous().numpy()
    return [xxhash.xxh3_128_hexdigest(arr[i].tobytes() + b"\0" + name.encode()) for i, name in enumerate(names)]


def _timed(name: str, batches: Iterable[Any], label_names: Callable[[Any], list[str]]) -> tuple[Phase, list[str]]:
    phase = Phase(name)
    digests: list[str] = []
    hash_s = 0.0
    t0 = time.perf_counter()
    for images, labels in batches:
        h0 = time.perf_counter()
        digests.extend(_digests(images, label_names(labels)))
        hash_s += time.perf_counter() - h0
        phase.items += int(labels.shape[0])
        phase.batches += 1
    # checking the output is the benchmark's work, not the loader's
    phase.seconds = time.perf_counter() - t0 - hash_s
    return phase, digests


def eval_transform(size: tuple[int, int], mode: str, mean: Sequence[float] | None, std: Sequence[float] | None) -> Any:
    """What a script writes by hand: colour mode, ``ToImage``, ``Resize``, ``ToDtype``, ``Normalize``
    (the steps of :func:`dataaudit.transforms.images.build_image_transform`)."""
    import torch
    from torchvision.transforms import v2

    steps: list[Any] = [v2.RGB() if mode == "RGB" else v2.Grayscale(1), v2.ToImage(),
                        v2.Resize(list(size), antialias=True), v2.ToDtype(torch.float32, scale=True)]  # fmt: skip
    if mean is not None and std is not None:
        steps.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(steps)


def naive_loader(
    root: Path, folder: str, layout: str, names: Sequence[str], labels: Sequence[str | None], size: tuple[int, int],
    mode: str, mean: Sequence[float] | None, std: Sequence[float] | None, batch_size: int, shuffle: bool, seed: int,
    transform: Any = None,
) -> tuple[Any, list[str]]:  # fmt: skip
    """The naive DataLoader and its class names (``ImageFolder`` for class-folder layouts)."""
    import torch
    from torch.utils.data import DataLoader, Dataset, RandomSampler
    from torchvision import datasets

    tf = transform if transform is not None else eval_transform(size, mode, mean, std)
    ds: Any = None
    if layout in ("imagefolder", "class_folders") and all(lab is not None for lab in labels):
        ds = datasets.ImageFolder(str(root / folder), transform=tf)
        classes = list(ds.classes)
        if [Path(p).relative_to(root).as_posix() for p, _ in ds.samples] != list(names):
            ds = None  # ImageFolder lists other files (extensions it ignores): use the listing
    if ds is None:
        from torchvision.datasets.folder import pil_loader

        classes = sorted({lab for lab in labels if lab is not None})
        pos = {c: i for i, c in enumerate(classes)}

        class Listed(Dataset[Any]):
            def __len__(self) -> int:
                return len(names)

            def __getitem__(self, i: int) -> Any:
                lab = labels[i]
                return tf(pil_loader(str(root / names[i]))), -1 if lab is None else pos[lab]

        ds = Listed()
    sampler = RandomSampler(ds, generator=torch.Generator().manual_seed(seed)) if shuffle else None
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=0), classes


def run_bench(
    source: str | Path,
    split: str = "train",
    artefact: Any = None,
    size: int | Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    batch_size: int = 64,
    epochs: int = 3,
    seed: int = 0,
    shuffle: bool = True,
    cache_dir: str | Path | None = None,
    tune_seconds: float = 0.75,
    rounds: int = 1,
    log: Callable[[str], None] | None = None,
    decode: str = "exact",
) -> BenchResult:
    """Naive epoch and tuned first epoch (empty cache), ``rounds`` times interleaved (the
    medians are reported: the machine may be shared); then tuning, and ``epochs`` cached
    epochs from a fresh ``build_loader`` (as a later run would). Without ``cache_dir`` a
    temporary cache is used and removed, so every first epoch is really uncached."""
    from dataaudit.loader.pipeline import TunedLoader, build_loader

    if epochs < 1 or rounds < 1:
        raise UsageError("epochs and rounds must be at least 1")
    # a training script imports these first thing: module import time is timed for neither loader
    import torchvision.datasets  # noqa: F401
    import torchvision.transforms.v2  # noqa: F401

    from dataaudit.config import build_config
    from dataaudit.sources import open_source

    open_source(str(source), build_config(source=str(source), progress=False), splits=[split])
    tmp = None
    if cache_dir is None:
        tmp = tempfile.mkdtemp(prefix="dataaudit-bench-")
        cache_dir = tmp
    base = Path(cache_dir)

    def say(msg: str) -> None:
        if log is not None:
            log(msg)

    try:
        kw: dict[str, Any] = dict(split=split, artefact=artefact, batch_size=batch_size, seed=seed,
                                  shuffle=shuffle, size=size, mean=mean, std=std, tune_seconds=tune_seconds,
                                  log=log, decode=decode)  # fmt: skip
        notes: list[str] = []
        naive_runs: list[Phase] = []
        first_runs: list[Phase] = []
        naive_d: list[str] = []
        first_d: list[str] = []
        loader: Any = None
        fitted = None
        if artefact is not None and size is None and mean is None and std is None:
            from dataaudit.loader.pipeline import _load_artefact
            from dataaudit.transforms.images import build_image_transform

            art = _load_artefact(artefact)
            fitted = build_image_transform(art) if art is not None and art.image is not None else None
        for r in range(rounds):
            cdir = base if rounds == 1 else base / f"bench-round-{r}"
            t0 = time.perf_counter()
            loader = build_loader(source, cache_dir=cdir, **kw)
            build_s = time.perf_counter() - t0
            if not isinstance(loader, TunedLoader):
                raise UsageError("loader-bench measures image datasets")
            if loader.cached:
                notes.append(f"note: {loader.cache_path} was already cached: the first epoch read the cache")
            src = loader.source
            if src.names is None or src.root is None or src.labels is None:
                raise UsageError("loader-bench compares against files on disk: give a local image folder")
            spec = loader.spec
            naive, naive_classes = naive_loader(
                src.root, src.folder, src.layout or "", src.names, src.labels, (spec.height, spec.width),
                spec.mode, loader.normalizer.mean, loader.normalizer.std, batch_size, loader.shuffle, seed,
                transform=fitted,
            )  # fmt: skip
            classes = sorted(loader.class_index, key=loader.class_index.__getitem__)

            def tuned_names(y: Any) -> list[str]:
                return [classes[i] if i >= 0 else "" for i in y.tolist()]

            def naive_names(y: Any) -> list[str]:
                return [naive_classes[i] if i >= 0 else "" for i in y.tolist()]

            say(f"round {r + 1}/{rounds}: naive epoch...")
            phase, naive_d = _timed("naive", naive, naive_names)
            naive_runs.append(phase)
            say(f"round {r + 1}/{rounds}: tuned first epoch...")
            phase, first_d = _timed("first", loader, tuned_names)
            phase.seconds += build_s
            first_runs.append(phase)
        t0 = time.perf_counter()
        settings = loader.choose_settings()
        tuning_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = build_loader(source, cache_dir=loader.cache_path.parent.parent, **kw)
        open_s = time.perf_counter() - t0
        assert isinstance(again, TunedLoader)
        again.choose_settings()
        if again.decision is None or not again.decision.reused:
            notes.append("note: the second run did not reuse the recorded tuning decision")
        again.set_epoch(0)
        _, cached_d = _timed("check", again, tuned_names)
        cached = Phase("cached")
        say(f"{epochs} cached epoch(s)...")
        for _ in range(epochs):
            p, _d = _timed("cached", again, tuned_names)
            cached.items += p.items
            cached.batches += p.batches
            cached.seconds += p.seconds
        same_order = naive_d == first_d == cached_d
        same_samples = sorted(naive_d) == sorted(first_d) == sorted(cached_d)
        mismatch = next((i for i, (a, b) in enumerate(zip(naive_d, first_d)) if a != b), None)
        if mismatch is None and first_d != cached_d:
            mismatch = next((i for i, (a, b) in enumerate(zip(first_d, cached_d)) if a != b), None)
        if mismatch is None and not (len(naive_d) == len(first_d) == len(cached_d)):
            mismatch = min(len(naive_d), len(first_d), len(cached_d))
        result = BenchResult(_median(naive_runs), _median(first_runs), cached, tuning_s, open_s,
                             settings.to_dict(), None if loader.decision is None else loader.decision.to_dict(),
                             loader.describe(), same_samples, same_order, mismatch, notes)  # fmt: skip
        result.rounds = [(n.images_per_s, f.images_per_s) for n, f in zip(naive_runs, first_runs)]
        return result
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _median(phases: list[Phase]) -> Phase:
    """The phase with the median throughput."""
    return sorted(phases, key=lambda p: p.images_per_s)[len(phases) // 2]


def run_table_bench(
    source: str | Path,
    artefact: Any,
    split: str = "train",
    batch_size: int = 64,
    epochs: int = 3,
    seed: int = 0,
    shuffle: bool = True,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Rows/s of a naive table loader (a ``Dataset`` indexing one row at a time over the
    transformed split, default collation, ``num_workers=0``), the tuned loader's first
    epoch (transform into the cache) and its cached epochs; and whether they agree."""
    import torch
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    from dataaudit.loader.pipeline import _load_artefact, build_loader
    from dataaudit.loader.tables import TableLoader
    from dataaudit.transforms.tables import TableTransform

    art = _load_artefact(artefact)
    if art is None or art.table is None:
        raise UsageError("a table benchmark needs a table artefact (--artefact from `dataaudit fit`)")
    tmp = None
    if cache_dir is None:
        tmp = tempfile.mkdtemp(prefix="dataaudit-bench-")
        cache_dir = tmp
    try:
        kw: dict[str, Any] = dict(split=split, artefact=art, batch_size=batch_size, seed=seed, shuffle=shuffle,
                                  cache_dir=cache_dir, log=log)  # fmt: skip
        tf = TableTransform(art)

        def naive_epoch() -> tuple[Phase, Any]:
            # what a script does without a cache: read the split, transform it, index rows one by one
            from dataaudit.config import build_config
            from dataaudit.sources import open_source

            t0 = time.perf_counter()
            ds = open_source(str(source), build_config(source=str(source), progress=False), splits=[split])
            parts = [tf(b.frame) for b in ds.read() if b.split == split and b.frame is not None and b.frame.height]
            x = torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros((0, len(tf.features)))
            data = TensorDataset(x)
            sampler = RandomSampler(data, generator=torch.Generator().manual_seed(seed)) if shuffle else None
            phase = Phase("naive")
            out = []
            for (xb,) in DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=0):
                phase.items += int(xb.shape[0])
                phase.batches += 1
                out.append(xb)
            phase.seconds = time.perf_counter() - t0
            return phase, torch.cat(out) if out else x

        def tuned_epoch(loader: TableLoader, name: str) -> tuple[Phase, Any]:
            t0 = time.perf_counter()
            phase = Phase(name)
            out = []
            for xb, _ in loader:
                phase.items += int(xb.shape[0])
                phase.batches += 1
                out.append(xb)
            phase.seconds = time.perf_counter() - t0
            return phase, torch.cat(out) if out else None

        naive, naive_x = naive_epoch()
        t0 = time.perf_counter()
        loader = build_loader(source, **kw)
        build_s = time.perf_counter() - t0
        assert isinstance(loader, TableLoader)
        first, first_x = tuned_epoch(loader, "first")
        first.seconds += build_s
        again = build_loader(source, **kw)
        assert isinstance(again, TableLoader)
        again.set_epoch(0)
        _, cached_x = tuned_epoch(again, "check")
        cached = Phase("cached")
        for _ in range(epochs):
            p, _x = tuned_epoch(again, "cached")
            cached.items += p.items
            cached.batches += p.batches
            cached.seconds += p.seconds
        same = naive_x is not None and first_x is not None and cached_x is not None and \
            torch.equal(naive_x, first_x) and torch.equal(naive_x, cached_x)  # fmt: skip
        return {
            "naive": naive.to_dict(), "first_epoch": first.to_dict(), "cached_epochs": cached.to_dict(),
            "first_vs_naive": round(first.images_per_s / naive.images_per_s, 2) if naive.images_per_s else None,
            "cached_vs_naive": round(cached.images_per_s / naive.images_per_s, 2) if naive.images_per_s else None,
            "rows": again.num_items, "features": len(again.feature_names), "batch_size": batch_size,
            "same_rows_and_order": bool(same), "cache": str(again.cache_path),
        }  # fmt: skip
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def table_lines(doc: dict[str, Any]) -> list[str]:
    """The human-readable table benchmark report."""
    return [
        f"table: {doc['rows']} rows -> {doc['features']} float32 features, batch {doc['batch_size']}",
        f"naive  (read + transform, per-row Dataset, num_workers=0): {doc['naive']['images_per_s']:12.1f} rows/s",
        f"tuned, first epoch (transform into cache):                {doc['first_epoch']['images_per_s']:12.1f} rows/s"
        f"  {doc['first_vs_naive']}x naive",
        f"tuned, cached epochs:                                     {doc['cached_epochs']['images_per_s']:12.1f} rows/s"
        f"  {doc['cached_vs_naive']}x naive",
        f"same rows in the same order as naive: {'yes' if doc['same_rows_and_order'] else 'NO'}",
    ]
