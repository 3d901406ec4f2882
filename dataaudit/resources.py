"""What the machine allows a scan: worker processes and memory.

A scan must end in exit 0, 1 or 2, never a signal. Polars (Rust) aborts the
process when an allocation fails, so running out of memory cannot be caught
once it happens: :func:`check_memory` compares what a scan will need with the
address-space limit (``ulimit -v`` / ``prlimit --as``) and the memory available
before the scan starts, and refuses with the figures (exit 2). A ``MemoryError``
that happens anyway is reported by the command line with the same figures
(:func:`out_of_memory_message`).
"""

from __future__ import annotations

import os
from typing import Any

from dataaudit.errors import DataauditError

WORKER_BYTES = 256 << 20
"""Memory budgeted per image decode worker: a forked worker's own pages (its share of
the interpreter and libraries is shared) plus a task's decoded images."""

SCAN_HEADROOM = 512 << 20
"""Memory a scan adds, at the most, to what the process holds when it starts reading
(read buffers, per-row key hashes of the split, the sample, the threads' arenas). Measured
here: +0 on a 125 kB table, +0.49 GB of address space and +0.44 GB resident on 120 MB
and 216 MB tables (the increase levels off: the tables are streamed)."""

UNKNOWN_SIZE_HEADROOM = 256 << 20
"""The growth assumed where the input's size is not known up front (image folders, the Hub:
an image scan of 24 files peaked at 90 MB resident here)."""

BYTES_PER_INPUT_BYTE = 4
"""Below :data:`SCAN_HEADROOM`, a small input adds about this much per byte."""

_NEEDED: dict[str, int] = {}
"""The last estimate of :func:`check_memory`, for the message of a ``MemoryError``."""


class OutOfMemoryError(DataauditError):
    """The scan cannot run in the memory it is allowed (exit 2, with the figures)."""


def cpu_count() -> int:
    """CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


STARTUP_ADDRESS_SPACE = 1 << 30
"""Address space below which no scan can start: the interpreter, polars, numpy and their thread
pools reserve ~1.4 GiB here before the first row (VmPeak of a scan of a 14 KB CSV on 2 CPUs).
Under a tighter ``ulimit -v`` polars' allocator can spin on failing thread creations for a minute
before it aborts, so the limit is refused up front."""


def check_startup_memory() -> None:
    """Exit 2 at once, with the figures, when the address-space limit cannot hold a scan at all."""
    limit = address_space_limit()
    if limit is not None and limit < STARTUP_ADDRESS_SPACE:
        raise OutOfMemoryError(
            f"not enough memory to start: the address-space limit (ulimit -v / prlimit --as) is {gib(limit)} "
            f"and dataaudit needs at least {gib(STARTUP_ADDRESS_SPACE)} of address space before it reads a row; "
            "raise the limit")


def address_space_limit() -> int | None:
    """The soft ``RLIMIT_AS`` in bytes, or ``None`` when unlimited."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else int(soft)


def available_memory() -> int | None:
    """Memory that can be used without swapping: ``MemAvailable``, capped by the cgroup's
    limit less its usage; ``None`` where neither can be read."""
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            raw = fh.read().strip()
        if raw != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                used = int(fh.read().strip())
            found.append(max(0, int(raw) - used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def gib(n: float) -> str:
    """``n`` bytes as a readable figure."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n / (1 << 20):.0f} MiB"


def bounded_workers(requested: int | None) -> tuple[int, str | None]:
    """The number of decode workers to use for ``requested`` (``None``: as many as CPUs),
    at most the CPU count and what the available memory holds; a note when clamped."""
    cpus = cpu_count()
    memory = available_memory()
    # the scan's own growth first, then one worker per WORKER_BYTES (check_memory's sum)
    by_memory = max(1, (memory - UNKNOWN_SIZE_HEADROOM) // WORKER_BYTES + 1) if memory is not None else cpus
    bound = max(1, min(cpus, by_memory))
    if requested is None:
        return bound, None
    if requested <= bound:
        return requested, None
    why = f"{cpus} CPU(s)" if bound == cpus else f"{gib(memory or 0)} of available memory ({gib(WORKER_BYTES)} a worker)"
    return bound, f"--workers {requested} lowered to {bound}: bounded by {why}"


def _status(field: str) -> int | None:
    """A ``kB`` figure of ``/proc/self/status`` (``VmSize``, ``VmRSS``) in bytes, or ``None``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_needed(input_bytes: int | None, workers: int = 1) -> tuple[int, int]:
    """(address space, resident memory) the process is expected to need at its peak for a
    scan of ``input_bytes`` of input with ``workers`` decode processes: what it holds now
    plus what a scan adds."""
    growth = UNKNOWN_SIZE_HEADROOM if input_bytes is None else min(SCAN_HEADROOM, BYTES_PER_INPUT_BYTE * input_bytes)
    address = (_status("VmSize") or 0) + growth
    resident = (_status("VmRSS") or 0) + growth + max(0, workers - 1) * WORKER_BYTES
    return address, resident


def check_memory(input_bytes: int | None, workers: int = 1) -> None:
    """Refuse (exit 2) a scan that will not fit in the address-space limit or the memory
    available, before it starts: past that point an allocation failure aborts the process."""
    address, resident = memory_needed(input_bytes, workers)
    _NEEDED.update(address=address, resident=resident)
    limit = address_space_limit()
    if limit is not None and address > limit:
        raise OutOfMemoryError(
            f"not enough memory: this scan needs about {gib(address)} of address space and the limit "
            f"(ulimit -v / prlimit --as) is {gib(limit)}; raise the limit or scan fewer files at a time")
    available = available_memory()
    held = _status("VmRSS") or 0
    if available is not None and resident - held > available:
        raise OutOfMemoryError(
            f"not enough memory: this scan needs about {gib(resident)} ({gib(resident - held)} more than it "
            f"holds) and {gib(available)} is available; free memory or scan fewer files at a time")


def out_of_memory_message(exc: BaseException | None = None) -> str:
    """The one-line message for a ``MemoryError``: what was needed and what was allowed."""
    parts = ["out of memory"]
    if _NEEDED:
        parts.append(f"this scan was expected to need about {gib(_NEEDED['resident'])} "
                     f"({gib(_NEEDED['address'])} of address space)")
    limit = address_space_limit()
    if limit is not None:
        parts.append(f"it needed more than the address-space limit of {gib(limit)} allows")
    available = available_memory()
    if available is not None:
        parts.append(f"{gib(available)} is available now")
    detail = str(exc) if exc is not None and str(exc) else ""
    if detail:
        parts.append(detail)
    return "; ".join(parts) + "; raise the limit or scan fewer files at a time"


def describe() -> dict[str, Any]:
    """CPU and memory figures the scan ran with (for the report)."""
    return {"cpus": cpu_count(), "address_space_limit": address_space_limit(), "available_memory": available_memory()}
