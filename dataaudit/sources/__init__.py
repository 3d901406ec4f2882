"""Layout detection and streaming readers, one module per kind of source.

:func:`open_source` is the single entry point: it looks at what it was given and
returns a :class:`~dataaudit.sources.base.Dataset` ready to stream.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dataaudit.errors import SourceError, UsageError
from dataaudit.sources.base import ROW, Batch, Dataset, FileProblem, RecordProblem, SplitInfo, canonical_split
from dataaudit.sources.localfs import open_regular

if TYPE_CHECKING:
    from dataaudit.config import Config

__all__ = ["ROW", "Batch", "Dataset", "FileProblem", "RecordProblem", "SplitInfo", "canonical_split", "open_source",
           "open_split"]


def open_source(path: str | Path, config: Config, splits: list[str] | None = None) -> Dataset:
    """Recognise the dataset at ``path`` (a folder, a file or ``hf://ns/name``).

    ``splits`` restricts what is read (``["train"]`` for fitting): other splits are
    never opened.
    """
    wanted = {canonical_split(s) or s for s in splits} if splits else None
    spec = str(path)
    if spec.startswith("hf://"):
        from dataaudit.sources.hub import open_hub

        return _restrict(open_hub(spec, config), wanted)
    if "://" in spec:
        raise UsageError(f"{spec}: unsupported URL scheme (use a local path or hf://NAMESPACE/NAME)")
    if config.encoding:
        from dataaudit.sources.delimited import check_encoding

        check_encoding(config.encoding)
    p = Path(spec).expanduser()
    try:
        _usable_root(p, spec)
        found = _detect_local(p, config, wanted)
    except OSError as exc:  # the root or a parent of it cannot be read: the scan cannot run
        raise SourceError(f"cannot read: {exc.strerror or exc}", spec) from None
    if found is not None:
        return _restrict(found, wanted)
    raise SourceError(
        "no dataset found: expected table files (.csv .tsv .txt .parquet .jsonl, optionally .gz/.zst) "
        "or image folders (every layout: docs/dataset-layouts.md in the dataaudit repository)", spec)


def _detect_local(p: Path, config: Config, wanted: set[str] | None) -> Dataset | None:
    if p.is_dir() and config.modality != "image":
        if _is_hub_folder(p):
            from dataaudit.sources.hub import open_hub

            return open_hub(str(p), config)
    # Folders try image layouts first: an imagefolder's metadata.csv is not a table dataset, and
    # detect_images declines folders whose table files are at least as many as their images.
    if p.is_dir() and config.modality in (None, "image"):
        images = _detect_images(p, config)
        if images is not None:
            return images
    if config.modality != "image":
        from dataaudit.sources.tables import detect_tables

        return detect_tables(p, config, wanted)
    return None


def open_split(source: str | Path | Dataset, split: str, config: Config | None = None) -> tuple[Dataset, str]:
    """Open only ``split`` of ``source`` (or take an opened :class:`Dataset` as it is).

    Returns the dataset and the split's canonical name (``"validation"`` -> ``"val"``).
    """
    if isinstance(source, Dataset):
        ds = source
    else:
        from dataaudit.config import build_config

        spec = str(source)
        cfg = config if config is not None else build_config(source=spec, progress=False)
        ds = open_source(spec, cfg, splits=[split])
    return ds, canonical_split(split) or split


def _usable_root(p: Path, spec: str) -> None:
    """Raise :class:`SourceError` unless ``p`` is a folder that can be listed or a regular
    file that can be opened (a FIFO given as the source is refused, never opened)."""
    if not p.exists():
        raise SourceError("no such file or folder", spec)
    if not (p.is_dir() or p.is_file()):
        raise SourceError("not a regular file or folder", spec)
    try:
        if p.is_dir():
            with os.scandir(p) as it:
                next(it, None)
        else:
            open_regular(p).close()
    except PermissionError:
        raise SourceError("permission denied", spec) from None


def _restrict(ds: Dataset, wanted: set[str] | None) -> Dataset:
    if wanted is None:
        return ds
    inner = ds.read

    def read():  # type: ignore[no-untyped-def]
        for batch in inner():
            if batch.split in wanted:
                yield batch

    ds.read = read
    ds.splits = {k: v for k, v in ds.splits.items() if k in wanted}
    return ds


def _is_hub_folder(p: Path) -> bool:
    try:
        from dataaudit.sources.hub import is_hub_folder
    except ModuleNotFoundError as exc:  # pragma: no cover - during development only
        if exc.name == "dataaudit.sources.hub":
            return False
        raise
    return is_hub_folder(p)


def _detect_images(p: Path, config: Config) -> Dataset | None:
    try:
        from dataaudit.sources.images import detect_images
    except ModuleNotFoundError as exc:  # pragma: no cover - during development only
        if exc.name == "dataaudit.sources.images":
            return None
        raise
    return detect_images(p, config)
