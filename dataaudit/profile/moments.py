"""Exact, mergeable moments (count, mean, M2, min, max) and bounded example lists."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

T = TypeVar("T", bound="SupportsRichComparison")


@dataclass
class Moments:
    """Streaming count, mean, second central moment, min and max (Chan et al. merge)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def add_summary(self, count: int, mean: float, var0: float, lo: float, hi: float) -> None:
        """Merge the summary of a batch (``var0`` is the population variance)."""
        if count <= 0:
            return
        self.merge(Moments(count, mean, var0 * count, lo, hi))

    def merge(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            self.min, self.max = other.min, other.max
            return self
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / n
        self.m2 += other.m2 + delta * delta * self.count * other.count / n
        self.count = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def std(self, ddof: int = 0) -> float:
        if self.count - ddof <= 0:
            return math.nan
        return math.sqrt(max(self.m2, 0.0) / (self.count - ddof))

    @property
    def var(self) -> float:
        return self.m2 / self.count if self.count else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean if self.count else None,
            "std": self.std() if self.count else None,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }


def merge_smallest(a: list[T], b: list[T], k: int) -> list[T]:
    """The ``k`` smallest items of two sorted lists (keeps examples bounded and mergeable)."""
    if not b:
        return a[:k]
    if not a:
        return b[:k]
    return list(heapq.merge(a, b))[:k]
