"""Label counts of one split (exact), mergeable."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dataaudit.profile.moments import merge_smallest

LABEL_CAP = 50_000
"""Beyond this many distinct labels the column is a regression target, not classes."""


@dataclass
class LabelStats:
    """How often each label value occurs, as read (no normalisation)."""

    counts: Counter[str] | None = field(default_factory=Counter)
    missing: int = 0
    missing_rows: list[int] = field(default_factory=list)
    first_rows: dict[str, list[int]] = field(default_factory=dict)
    """The first few items (row indices) carrying each label, for examples."""
    example_cap: int = 20

    def add_counts(self, counts: dict[str, int], first_rows: dict[str, list[int]]) -> None:
        if self.counts is not None:
            self.counts.update(counts)
            if len(self.counts) > LABEL_CAP:
                self.counts = None
                self.first_rows = {}
                return
        for value, rows in first_rows.items():
            have = self.first_rows.get(value, [])
            if len(have) < self.example_cap:
                self.first_rows[value] = merge_smallest(have, sorted(rows), self.example_cap)

    def merge(self, other: LabelStats) -> LabelStats:
        self.missing += other.missing
        self.missing_rows = merge_smallest(self.missing_rows, other.missing_rows, self.example_cap)
        if other.counts is None:
            self.counts = None
            self.first_rows = {}
        else:
            self.add_counts(other.counts, other.first_rows)
        return self

    @property
    def is_categorical(self) -> bool:
        return self.counts is not None

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.counts else 0
