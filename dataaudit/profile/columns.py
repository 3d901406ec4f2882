"""Per-column statistics of one split, computed batch by batch and mergeable.

Delimited files are read as text, so each column keeps both views: the numeric
view of the values that parse as numbers (exact moments) and the categorical view
(exact value counts while the column has few distinct values). Which view a check
uses is decided at the end from the proportions (:attr:`ColumnStats.kind`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataaudit.profile.moments import Moments, merge_smallest

VALUE_CAP = 2_000
"""Distinct values counted exactly per column; beyond that the column is high-cardinality."""


@dataclass
class ColumnStats:
    """Statistics of one column in one split."""

    name: str
    example_cap: int = 50
    dtypes: set[str] = field(default_factory=set)
    count: int = 0
    nulls: int = 0
    empty: int = 0
    nan: int = 0
    sentinels: Counter[str] = field(default_factory=Counter)
    missing_rows: list[int] = field(default_factory=list)
    numeric: Moments = field(default_factory=Moments)
    infinite: int = 0
    non_numeric: int = 0
    non_numeric_examples: list[tuple[int, str]] = field(default_factory=list)
    integral: bool = True
    values: Counter[str] | None = field(default_factory=Counter)
    text_len: Moments = field(default_factory=Moments)
    distinct_lower_bound: int = 0

    # -- derived -------------------------------------------------------------------
    @property
    def missing(self) -> int:
        return self.nulls + self.empty + self.nan + sum(self.sentinels.values())

    @property
    def present(self) -> int:
        """Values that are neither missing nor sentinels."""
        return self.count - self.missing

    @property
    def kind(self) -> str:
        """``numeric``, ``categorical``, ``text``, ``empty`` (all missing)."""
        present = self.present
        if present <= 0:
            return "empty"
        if self.numeric.count + self.infinite >= 0.95 * present and self.numeric.count > 0:
            return "numeric"
        if self.values is None and self.text_len.count and self.text_len.mean >= 30:
            return "text"
        return "categorical"

    @property
    def distinct(self) -> int | None:
        """Exact number of distinct present values, or ``None`` past :data:`VALUE_CAP`."""
        return None if self.values is None else len(self.values)

    @property
    def is_constant(self) -> bool:
        if self.present == 0:
            return True
        if self.values is not None:
            return len(self.values) <= 1
        return False

    def merge(self, other: ColumnStats) -> ColumnStats:
        self.dtypes |= other.dtypes
        self.count += other.count
        self.nulls += other.nulls
        self.empty += other.empty
        self.nan += other.nan
        self.sentinels.update(other.sentinels)
        self.missing_rows = merge_smallest(self.missing_rows, other.missing_rows, self.example_cap)
        self.numeric.merge(other.numeric)
        self.infinite += other.infinite
        self.non_numeric += other.non_numeric
        self.non_numeric_examples = merge_smallest(
            self.non_numeric_examples, other.non_numeric_examples, self.example_cap
        )
        self.integral = self.integral and other.integral
        if self.values is None or other.values is None:
            self.values = None
        else:
            self.values.update(other.values)
            if len(self.values) > VALUE_CAP:
                self.values = None
        self.text_len.merge(other.text_len)
        self.distinct_lower_bound = max(self.distinct_lower_bound, other.distinct_lower_bound)
        if self.values is not None:
            self.distinct_lower_bound = len(self.values)
        return self

    def summary(self) -> dict[str, Any]:
        """Figures for reports and plots."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "dtypes": sorted(self.dtypes),
        }
        if self.numeric.count:
            out["numeric"] = self.numeric.to_dict()
        if self.values is not None:
            out["distinct"] = len(self.values)
        return out
