"""One pass over a dataset into per-split statistics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dataaudit.profile.split import SplitStats
from dataaudit.sources.base import Batch, Dataset, split_order
from dataaudit.sources.readahead import read_ahead

if TYPE_CHECKING:
    from dataaudit.config import Config


@dataclass
class DatasetStats:
    """The statistics every check reads: one :class:`SplitStats` per split."""

    source: str
    modality: str
    splits: dict[str, SplitStats]
    label_column: str | None = None
    text_column: str | None = None
    id_columns: list[str] = field(default_factory=list)
    detected: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    class_names: list[str] | None = None
    partial: bool = False
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    """Indexes derived from the statistics on first use and shared by checks (e.g. which
    items of a split repeat a key); a cache, emptied whenever the statistics change."""

    @property
    def reference(self) -> SplitStats | None:
        """The split others are compared with: ``train``, else the first split."""
        if "train" in self.splits:
            return self.splits["train"]
        names = sorted(self.splits, key=split_order)
        return self.splits[names[0]] if names else None

    @property
    def others(self) -> list[SplitStats]:
        ref = self.reference
        return [s for n, s in sorted(self.splits.items(), key=lambda kv: split_order(kv[0])) if s is not ref]

    @property
    def ordered(self) -> list[SplitStats]:
        return [self.splits[n] for n in sorted(self.splits, key=split_order)]

    def merge(self, other: DatasetStats) -> DatasetStats:
        """Merge the statistics of another shard of the same dataset."""
        for name, split in other.splits.items():
            if name in self.splits:
                self.splits[name].merge(split)
            else:
                self.splits[name] = split
        self.partial = self.partial or other.partial
        self.derived.clear()
        return self


class SplitProfiler(Protocol):
    """Consumes the batches of one split and returns its statistics."""

    def update(self, batch: Batch) -> None: ...

    def result(self) -> SplitStats: ...


ProfilerFactory = Callable[[str, Dataset, "Config"], SplitProfiler]


def _factory(dataset: Dataset) -> ProfilerFactory:
    if dataset.modality == "image":
        from dataaudit.profile.images import ImageSplitProfiler

        return ImageSplitProfiler
    from dataaudit.profile.table import TableSplitProfiler

    return TableSplitProfiler


def profile_dataset(
    dataset: Dataset,
    config: Config,
    on_batch: Callable[[Batch], None] | None = None,
) -> DatasetStats:
    """Read every split once and return its statistics."""
    factory = _factory(dataset)
    profilers: dict[str, SplitProfiler] = {}
    batches = dataset.batches()
    if dataset.modality != "image":  # image decoding is already spread over worker processes
        batches = read_ahead(batches)
    for batch in batches:
        prof = profilers.get(batch.split)
        if prof is None:
            prof = profilers[batch.split] = factory(batch.split, dataset, config)
        prof.update(batch)
        if on_batch is not None:
            on_batch(batch)
    for name in dataset.splits:
        if name not in profilers:
            profilers[name] = factory(name, dataset, config)
    splits = {name: profilers[name].result() for name in sorted(profilers, key=split_order)}
    close = getattr(factory, "close", None)
    if callable(close):
        close()
    return DatasetStats(
        source=dataset.source,
        modality=dataset.modality,
        splits=splits,
        label_column=dataset.label_column,
        text_column=dataset.text_column,
        id_columns=list(dataset.id_columns),
        detected=dict(dataset.detected),
        notes=list(dataset.notes),
        class_names=dataset.class_names,
        partial=dataset.partial,
    )
