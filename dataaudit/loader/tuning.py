"""Choose DataLoader settings by measurement, and remember the choice.

Candidates are worker counts ``0..min(cores, 8)`` x where to normalise (in the
main process, in the workers, or on the accelerator from uint8); the winner is
then tried with prefetch factors 1, 2, 4 and 8 and with sample-level instead of
batch-level loading. Each candidate runs in short windows, repeated until three
agree within 5% or its time budget is spent; its rate is the median window and
its spread (``(max - min) / median``) is recorded, and a candidate within the
best one's spread of it counts as a tie (the simpler setting wins), so the
choice does not swing with the machine's load. Batches are counted as the
training loop gets them (normalised, on the device). A candidate that raises is recorded as failed with its error and is
never chosen. The decision and every measurement go to ``tuning.json`` beside
the cache, keyed by what the choice depends on (batch size, device, cores,
torch version), so the next run reuses it without measuring.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import xxhash

from dataaudit.errors import UsageError

NORMALIZE_PLACES = ("main", "worker", "device")
FETCHES = ("batch", "sample")


def available_cores() -> int:
    """CPU cores this process may run on (affinity and cgroup-visible count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class LoaderSettings:
    """What the tuner chooses between."""

    num_workers: int = 0
    prefetch_factor: int | None = None
    """Batches each worker keeps in flight (``None`` with no workers)."""
    normalize: str = "main"
    """Where uint8 becomes normalised float: ``main``, ``worker`` or ``device``."""
    pin_memory: bool = False
    fetch: str = "batch"
    """``batch``: the dataset gathers a whole batch in one call (``__getitems__``);
    ``sample``: item by item, then stacked (the ``DataLoader`` default)."""

    def __post_init__(self) -> None:
        if self.num_workers < 0:
            raise UsageError(f"num_workers must be 0 or more, got {self.num_workers}")
        if self.normalize not in NORMALIZE_PLACES:
            raise UsageError(f"normalize must be one of {', '.join(NORMALIZE_PLACES)}, got {self.normalize!r}")
        if self.num_workers == 0 and self.prefetch_factor is not None:
            raise UsageError("prefetch_factor needs num_workers > 0")
        if self.num_workers == 0 and self.normalize == "worker":
            raise UsageError("normalize='worker' needs num_workers > 0")
        if self.fetch not in FETCHES:
            raise UsageError(f"fetch must be one of {', '.join(FETCHES)}, got {self.fetch!r}")
        if self.prefetch_factor is not None and not 1 <= self.prefetch_factor <= 64:
            raise UsageError(f"prefetch_factor must be 1..64, got {self.prefetch_factor}")

    def label(self) -> str:
        pf = f", prefetch {self.prefetch_factor}" if self.prefetch_factor else ""
        pin = ", pinned" if self.pin_memory else ""
        fetch = ", item by item" if self.fetch == "sample" else ""
        return f"workers {self.num_workers}{pf}, normalise in {self.normalize}{pin}{fetch}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoaderSettings:
        return cls(
            num_workers=int(d["num_workers"]),
            prefetch_factor=None if d.get("prefetch_factor") is None else int(d["prefetch_factor"]),
            normalize=str(d.get("normalize", "main")),
            pin_memory=bool(d.get("pin_memory", False)),
            fetch=str(d.get("fetch", "batch")),
        )


@dataclass
class Measurement:
    """One candidate's run: throughput (repeated windows), or the error that made it fail."""

    settings: LoaderSettings
    batches: int = 0
    images: int = 0
    seconds: float = 0.0
    startup_s: float = 0.0
    """Time to the first batch (worker start-up), not counted in the rate."""
    error: str | None = None
    rates: list[float] = field(default_factory=list)
    """Batches per second of each timed window, in order."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.batches > 0

    @property
    def batches_per_s(self) -> float:
        """The median window's rate (the overall rate when there are no windows)."""
        if self.rates:
            return float(statistics.median(self.rates))
        return self.batches / self.seconds if self.seconds > 0 else 0.0

    @property
    def images_per_s(self) -> float:
        per_batch = self.images / self.batches if self.batches else 0.0
        return self.batches_per_s * per_batch

    @property
    def spread(self) -> float:
        """``(max - min) / median`` of the window rates: how much the measurement swung."""
        if len(self.rates) < 2 or self.batches_per_s <= 0:
            return 0.0
        return (max(self.rates) - min(self.rates)) / self.batches_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings.to_dict(), "batches": self.batches, "images": self.images,
            "seconds": round(self.seconds, 4), "startup_s": round(self.startup_s, 4),
            "batches_per_s": round(self.batches_per_s, 2), "images_per_s": round(self.images_per_s, 1),
            "repeats": len(self.rates), "spread": round(self.spread, 4),
            "rates": [round(r, 3) for r in self.rates], "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        return cls(LoaderSettings.from_dict(d["settings"]), int(d["batches"]), int(d["images"]),
                   float(d["seconds"]), float(d.get("startup_s", 0.0)), d.get("error"),
                   [float(r) for r in d.get("rates", [])])  # fmt: skip


@dataclass
class Decision:
    """The chosen settings, why (the measurements), and for what context."""

    chosen: LoaderSettings
    measurements: list[Measurement]
    context: dict[str, Any]
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    reused: bool = False
    """True when read from ``tuning.json`` rather than measured now."""
    seconds: float = 0.0
    """Wall time the measuring took."""

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen.to_dict(), "context": self.context, "created": self.created,
                "seconds": round(self.seconds, 3),
                "measurements": [m.to_dict() for m in self.measurements]}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(LoaderSettings.from_dict(d["chosen"]), [Measurement.from_dict(m) for m in d["measurements"]],
                   dict(d["context"]), str(d.get("created", "")), True, float(d.get("seconds", 0.0)))  # fmt: skip


def tuning_context(batch_size: int, device: str, output: str, cores: int | None = None) -> dict[str, Any]:
    """What a choice depends on; a different context is tuned again."""
    import torch

    dev = device
    if device.startswith("cuda") and torch.cuda.is_available():
        dev = f"{device}:{torch.cuda.get_device_name(torch.device(device))}"
    return {
        "batch_size": batch_size, "device": dev, "output": output, "cores": cores or available_cores(),
        "torch": torch.__version__, "python": platform.python_version(),
    }  # fmt: skip


def _context_key(context: dict[str, Any]) -> str:
    return xxhash.xxh3_64_hexdigest(json.dumps(context, sort_keys=True).encode())


def load_decision(path: Path, context: dict[str, Any]) -> Decision | None:
    """The recorded decision for ``context`` in ``path`` (``tuning.json``), if any."""
    try:
        doc = json.loads(path.read_text())
        entry = doc["decisions"][_context_key(context)]
        decision = Decision.from_dict(entry)
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return None
    if decision.context != context:
        return None
    failed = {m.settings for m in decision.measurements if not m.ok}
    if decision.chosen in failed:
        return None
    return decision


def save_decision(path: Path, decision: Decision) -> None:
    """Add ``decision`` to ``path`` (other contexts kept), atomically."""
    try:
        doc = json.loads(path.read_text())
        if not isinstance(doc.get("decisions"), dict):
            raise ValueError
    except (OSError, ValueError, AttributeError):
        doc = {"format": "dataaudit.loader-tuning", "version": 1, "decisions": {}}
    doc["decisions"][_context_key(decision.context)] = decision.to_dict()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


MAX_WORKERS = 8
PREFETCH_FACTORS = (1, 2, 4, 8)


def worker_counts(cores: int) -> list[int]:
    """``0..min(cores, 8)``: more workers than cores only adds contention."""
    return list(range(0, min(max(1, cores), MAX_WORKERS) + 1))


def first_round(cores: int, cuda: bool, normalize: bool) -> list[LoaderSettings]:
    """Worker counts x where to normalise, prefetch factor 2, batch-level loading."""
    out: list[LoaderSettings] = []
    for w in worker_counts(cores):
        places = ["device", "main"] if cuda else ["main"]
        if w > 0 and normalize and not cuda:
            places.append("worker")
        if not normalize:
            places = ["main"]
        for place in places:
            out.append(LoaderSettings(w, 2 if w else None, place, pin_memory=cuda))
    return out


def second_round(best: LoaderSettings) -> list[LoaderSettings]:
    """The winner with every other prefetch depth (1-8, when it uses workers) and with
    item-by-item (sample-level) loading instead of whole batches."""
    out = [replace(best, fetch="sample")]
    if best.num_workers > 0:
        out += [replace(best, prefetch_factor=p) for p in PREFETCH_FACTORS if p != best.prefetch_factor]
    return out


Runner = Callable[[LoaderSettings], Iterable[int]]
"""Builds the pipeline for some settings and iterates it, yielding each batch's image count
(run until the tuner stops asking: it may loop over epochs)."""


def measure(
    settings: LoaderSettings, run: Runner, seconds: float, warmup: int = 2, max_spread: float = 0.05,
    min_repeats: int = 3, windows: int = 5,
) -> Measurement:  # fmt: skip
    """Time ``run(settings)`` after ``warmup`` batches in windows of ``seconds / windows``,
    repeated until ``min_repeats`` windows agree within ``max_spread`` (``(max - min) /
    median``) or ``seconds`` are spent; errors are recorded."""
    m = Measurement(settings)
    it: Iterator[int] | None = None
    window = seconds / max(1, windows)
    try:
        t0 = time.perf_counter()
        it = iter(run(settings))
        for _ in range(warmup):
            next(it)
        start = time.perf_counter()
        m.startup_s = start - t0
        w_start, w_batches = start, 0
        while True:
            try:
                n = next(it)
            except StopIteration:
                now = time.perf_counter()
                if w_batches and now > w_start:
                    m.rates.append(w_batches / (now - w_start))
                raise
            m.batches += 1
            m.images += n
            w_batches += 1
            now = time.perf_counter()
            m.seconds = now - start
            if now - w_start >= window:
                m.rates.append(w_batches / (now - w_start))
                w_start, w_batches = now, 0
                if len(m.rates) >= min_repeats and m.spread <= max_spread:
                    break
            if m.seconds >= seconds:
                break
    except StopIteration:
        m.error = "the data ran out before the measurement started" if m.batches == 0 else None
    except Exception as exc:  # any failure disqualifies the candidate, whatever it is
        lines = [ln.strip() for ln in f"{type(exc).__name__}: {exc}".splitlines() if ln.strip()]
        # errors from worker processes carry their traceback: keep the headline and the cause
        m.error = (lines[0] if len(lines) < 2 else f"{lines[0]} ... {lines[-1]}")[:500]
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # pragma: no cover - shutting down a broken pipeline
                pass
    return m


def choose(measurements: list[Measurement]) -> LoaderSettings | None:
    """The fastest candidate that did not fail; among those within 3% of it (or within the
    best's own measured spread, when larger), the simplest."""
    ok = [m for m in measurements if m.ok]
    if not ok:
        return None
    best = max(ok, key=lambda m: (m.batches_per_s, -m.settings.num_workers))
    # differences inside the noise are not evidence: prefer fewer processes, less memory
    margin = max(0.03, min(best.spread, 0.25))
    close = [m for m in ok if m.batches_per_s >= (1 - margin) * best.batches_per_s]
    return min(close, key=lambda m: (m.settings.num_workers, m.settings.prefetch_factor or 0,
                                     m.settings.fetch != "batch")).settings  # fmt: skip


def tune(
    run: Runner,
    context: dict[str, Any],
    seconds: float = 0.75,
    candidates: list[LoaderSettings] | None = None,
    cuda: bool = False,
    normalize: bool = True,
    log: Callable[[str], None] | None = None,
) -> Decision:
    """Measure the candidates (default: :func:`first_round` then :func:`second_round`).

    Raises :class:`RuntimeError` with the errors when every candidate failed.
    """
    t0 = time.perf_counter()
    cores = int(context.get("cores") or available_cores())
    rounds = [candidates] if candidates is not None else [first_round(cores, cuda, normalize)]
    measurements: list[Measurement] = []
    for r, cands in enumerate(rounds):
        for s in cands:
            m = measure(s, run, seconds)
            measurements.append(m)
            if log is not None:
                log(f"  {s.label()}: " + (f"{m.batches_per_s:.1f} batches/s (+-{m.spread / 2:.0%} over {len(m.rates)})"
                                          if m.ok else f"failed ({m.error})"))
        best = choose(measurements)
        if candidates is None and r == 0 and best is not None:
            extra = [s for s in second_round(best) if s not in {m.settings for m in measurements}]
            if extra:
                rounds.append(extra)
    chosen = choose(measurements)
    if chosen is None:
        errors = "; ".join(f"{m.settings.label()}: {m.error}" for m in measurements)
        raise RuntimeError(f"every loader setting failed: {errors}")
    return Decision(chosen, measurements, context, seconds=time.perf_counter() - t0)
