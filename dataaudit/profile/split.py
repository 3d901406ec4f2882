"""Everything known about one split after its single pass, and how to merge shards."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataaudit.profile.columns import ColumnStats
from dataaudit.profile.hashes import ItemHashes
from dataaudit.profile.labels import LabelStats
from dataaudit.profile.sample import RowSample
from dataaudit.sources.base import FileProblem, RecordProblem

PROBLEM_CAP = 200
"""Malformed records kept per kind for examples (all are counted)."""


@dataclass
class SplitStats:
    """Mergeable statistics of one split (tables; image statistics extend this)."""

    name: str
    kind: str = "table"
    rows: int = 0
    files: list[str] = field(default_factory=list)
    file_columns: dict[str, list[str]] = field(default_factory=dict)
    """The header (or schema) of each file, in order."""
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    hashes: ItemHashes = field(default_factory=ItemHashes)
    labels: LabelStats | None = None
    sample: RowSample = field(default_factory=RowSample)
    record_problems: list[RecordProblem] = field(default_factory=list)
    record_problem_counts: Counter[str] = field(default_factory=Counter)
    file_problems: list[FileProblem] = field(default_factory=list)
    bytes_read: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for statistics of other modalities (image arrays, hub metadata)."""

    def item(self, index: int) -> dict[str, Any]:
        """Where item ``index`` is, as a person would look for it."""
        return {"split": self.name, "row": int(index)}

    def add_record_problems(self, problems: list[RecordProblem]) -> None:
        for p in problems:
            self.record_problem_counts[p.kind] += 1
            if sum(1 for q in self.record_problems if q.kind == p.kind) < PROBLEM_CAP:
                self.record_problems.append(p)

    @property
    def column_order(self) -> list[str]:
        return list(self.columns)

    def merge(self, other: SplitStats) -> SplitStats:
        """Fold the statistics of another shard of the same split into this one."""
        if other.name != self.name:
            raise ValueError(f"cannot merge split {other.name!r} into {self.name!r}")
        self.rows += other.rows
        self.files += [f for f in other.files if f not in self.files]
        self.file_columns.update(other.file_columns)
        for name, col in other.columns.items():
            if name in self.columns:
                self.columns[name].merge(col)
            else:
                self.columns[name] = col
        self.hashes.merge(other.hashes)
        if other.labels is not None:
            if self.labels is None:
                self.labels = other.labels
            else:
                self.labels.merge(other.labels)
        self.sample.merge(other.sample)
        for p in other.record_problems:
            if sum(1 for q in self.record_problems if q.kind == p.kind) < PROBLEM_CAP:
                self.record_problems.append(p)
        self.record_problem_counts.update(other.record_problem_counts)
        self.file_problems += other.file_problems
        self.bytes_read += other.bytes_read
        return self
