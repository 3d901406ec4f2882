"""Deadlines and retry budgets for sources read over a network.

A scan of a remote source runs under one :class:`Guard`: an overall deadline
(``--timeout``, ``timeout`` in ``[tool.dataaudit]``) and a budget of retries.
The client that talks to the server asks the guard before every attempt
(:meth:`Guard.check`), bounds its socket waits by what is left
(:meth:`Guard.timeouts`), reports every failed attempt (:meth:`Guard.failure`,
which says how long to back off, or gives up) and every step forward
(:meth:`Guard.progress`, which refills the budget). Once the guard has given up,
every later attempt fails at once with the same one-line reason, so a library
that swallows one error cannot start the retries over.

Retries are logged one line each on the ``dataaudit.sources.network`` logger at INFO
level: visible with ``--verbose``, silent otherwise. Nothing here knows HTTP;
the Hub client (:mod:`dataaudit.sources.hub`) is built on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0
"""Seconds a network scan may take in all, unless ``--timeout`` says otherwise."""


class NetworkGaveUp(Exception):
    """The deadline or the retry budget is spent, or the server cannot be reached: the scan stops."""


class NetworkInterrupted(Exception):
    """A transfer broke off after it started; already counted by the guard, the reader may resume."""


@dataclass(frozen=True)
class NetworkPolicy:
    """How patient a network scan is. ``timeout`` is the default deadline; the rest bound each attempt."""

    timeout: float = DEFAULT_TIMEOUT
    retries: int = 5
    """Failed attempts in a row (without progress in between) that are retried; the next one gives up."""
    retry_window: float = 30.0
    """Seconds from the first failure in a row within which the retries must succeed."""
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    stall: float = 20.0
    """Seconds to wait for a connection or the next byte when the client set no shorter limit."""
    min_rate: float = 1024.0
    """Bytes per second a response must average once it has waited ``rate_window`` seconds for the network."""
    rate_window: float = 10.0
    progress_bytes: int = 1 << 20
    """Bytes of one response that count as progress (a finished response always does)."""

    def delay(self, failures: int) -> float:
        """Seconds to back off after the ``failures``-th failure in a row (1-based): 0.5, 1, 2, ... capped."""
        return float(min(self.max_delay, self.first_delay * self.factor ** max(0, failures - 1)))


class Guard:
    """The deadline and retry budget of one scan of ``target`` (e.g. ``"the Hub at https://huggingface.co"``).

    Requests to other hosts (optional side services such as the Hub's dataset
    viewer) still stop at the deadline, but their failures are the caller's to
    handle: they neither spend the budget nor end the scan.
    """

    def __init__(
        self, target: str, policy: NetworkPolicy, timeout: float | None = None, hosts: tuple[str, ...] = ()
    ) -> None:
        self.target = target
        self.hosts = hosts
        """The hosts the scan depends on: their failures are retried and count against the budget."""
        self.policy = policy
        self.timeout = float(timeout if timeout is not None else policy.timeout)
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout
        self.failures = 0
        """Failed attempts since the last progress."""
        self.streak_started: float | None = None
        self.retries = 0
        """Retries in all (for the record)."""
        self.fatal: str | None = None
        self.last: str | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state
    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it passed)."""
        return self.deadline - time.monotonic()

    def check(self) -> None:
        """Raise :class:`NetworkGaveUp` if the guard gave up or the deadline passed."""
        if self.fatal is not None:
            raise NetworkGaveUp(self.fatal)
        if self.remaining() <= 0:
            self.give_up(self.deadline_message())

    def deadline_message(self) -> str:
        """Why a scan stopped at its deadline, with the last failure when there was one."""
        after = f" (last failure: {self.last})" if self.last else ""
        return f"the {self.timeout:g} s deadline passed{after}: raise it with --timeout SECONDS"

    def give_up(self, message: str) -> NoReturn:
        """Stop the scan: this and every later attempt raise :class:`NetworkGaveUp` with the first reason given."""
        with self._lock:
            if self.fatal is None:
                self.fatal = message
            reason = self.fatal
        raise NetworkGaveUp(reason)

    # --------------------------------------------------------------- attempts
    def timeouts(self, current: dict[str, float | None] | None = None) -> dict[str, float]:
        """Socket timeouts for the next attempt: the client's own (or ``stall``), none beyond the deadline."""
        left = max(0.001, self.remaining())
        out: dict[str, float] = {}
        for key in ("connect", "read", "write", "pool"):
            value = (current or {}).get(key)
            limit = self.policy.stall if value is None else min(float(value), self.policy.stall)
            out[key] = min(limit, left)
        return out

    def failure(self, what: str, retry_after: float | None = None) -> float:
        """Count one failed attempt; return the seconds to wait before the next, or give up.

        Gives up when the failures in a row exceed the budget (``retries``, or
        the ``retry_window`` since the first of them), or when waiting would run
        past the deadline. Logs one line per retry (INFO).
        """
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            self.retries += 1
            self.last = what
            failures = self.failures
            if self.streak_started is None:
                self.streak_started = now
            streak = now - self.streak_started
        self.check()
        delay = self.policy.delay(failures)
        if retry_after is not None and retry_after > delay:
            delay = min(float(retry_after), self.policy.max_delay)
        if failures > self.policy.retries or streak + delay > self.policy.retry_window:
            self.give_up(
                f"{self.target} kept failing: {what} (gave up after {failures - 1} retries in {streak:.0f} s): "
                "try again later"
            )
        if delay >= self.remaining():
            self.give_up(self.deadline_message())
        logger.info("retry %d of %d in %.1f s: %s", failures, self.policy.retries, delay, what)
        return delay

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, never past the deadline."""
        time.sleep(max(0.0, min(seconds, self.remaining())))

    def progress(self) -> None:
        """Something arrived: the failures so far no longer count against the budget."""
        with self._lock:
            self.failures = 0
            self.streak_started = None


class RateMeter:
    """Time spent waiting for one response's bytes, to tell a slow drip from a slow reader."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self.waited = 0.0
        self.received = 0
        self.credited = 0

    def add(self, seconds: float, nbytes: int) -> None:
        """Record one read that waited ``seconds`` for ``nbytes``."""
        self.waited += seconds
        self.received += nbytes

    def too_slow(self) -> str | None:
        """A description of the drip when the response averages below ``min_rate``, else ``None``."""
        if self.waited < self.policy.rate_window:
            return None
        rate = self.received / self.waited
        if rate >= self.policy.min_rate:
            return None
        return f"{self.received} bytes in {self.waited:.1f} s, below {self.policy.min_rate:g} bytes/s"

    def progressed(self) -> bool:
        """True once per ``progress_bytes`` received: enough to refill the retry budget."""
        if self.received - self.credited >= self.policy.progress_bytes:
            self.credited = self.received
            return True
        return False


_ACTIVE: list[Guard] = []
_ACTIVE_LOCK = threading.Lock()


@contextmanager
def active(guard: Guard) -> Iterator[Guard]:
    """Make ``guard`` the one that network clients consult while the block runs (it may span a generator)."""
    with _ACTIVE_LOCK:
        _ACTIVE.append(guard)
    try:
        yield guard
    finally:
        with _ACTIVE_LOCK:
            for i in range(len(_ACTIVE) - 1, -1, -1):
                if _ACTIVE[i] is guard:
                    del _ACTIVE[i]
                    break


def guarded_iter(guard: Guard, items: Iterable[T]) -> Iterator[T]:
    """``items`` read with ``guard`` active while the reader works, not while its consumer holds an item.

    A reader left half-read (a caller that stops early) thus never keeps a spent
    guard in force over other requests of the process.
    """
    iterator = iter(items)
    try:
        while True:
            with active(guard):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            with active(guard):
                close()


def current() -> Guard | None:
    """The guard of the scan in progress, ``None`` outside a network scan.

    A process-wide stack rather than a context variable: the libraries read files
    from their own threads (pyarrow's I/O pool), which would not see the caller's
    context.
    """
    with _ACTIVE_LOCK:
        return _ACTIVE[-1] if _ACTIVE else None
