"""Whether an artefact belongs to the data it is used with (``validate``, ``scan --artefact``).

An artefact fitted on images says nothing about a table, and one fitted on other
columns says nothing about these: comparing them gives findings (or silence) that
mean nothing. :func:`check_artefact_matches` refuses such a pair with a one-line
:class:`~dataaudit.errors.ArtefactError` (exit 2) before the data is read.

Columns match when at least half of the artefact's feature columns are in the
data: then the artefact is this dataset's, and the columns it lacks are serving
skew that ``validate`` reports as ``schema_mismatch``. Below half, the artefact
was fitted on another dataset.
"""

from __future__ import annotations

from pathlib import Path

from dataaudit.errors import ArtefactError
from dataaudit.fit.artefact import Artefact
from dataaudit.sources.base import ROW, Dataset

MIN_SHARED = 0.5
"""Share of the artefact's feature columns the data must hold."""
_PEEK_BATCHES = 64


def peek_columns(dataset: Dataset) -> list[str] | None:
    """The columns of the first readable table file of ``dataset`` (``None`` if none is readable).

    Reads one batch, not the data: the generator is closed right after it.
    """
    batches = dataset.batches()
    try:
        for i, batch in enumerate(batches):
            if batch.columns:
                return [c for c in batch.columns if c != ROW]
            if batch.frame is not None:
                return [c for c in batch.frame.columns if c != ROW]
            if i >= _PEEK_BATCHES:
                break
    finally:
        close = getattr(batches, "close", None)
        if callable(close):
            close()
    return None


def _name(art: Artefact) -> str:
    return str(art.path) if art.path is not None else "the artefact"


def check_artefact_matches(art: Artefact, dataset: Dataset) -> None:
    """Raise :class:`ArtefactError` when ``art`` was fitted on another modality or other columns."""
    data_images = dataset.modality == "image"
    if art.image is not None and not data_images:
        raise ArtefactError(
            f"{_name(art)} was fitted on images but {dataset.source} holds a {dataset.modality}: "
            "use the artefact fitted on this dataset"
        )
    if art.table is not None and data_images:
        raise ArtefactError(
            f"{_name(art)} was fitted on a table but {dataset.source} holds images: "
            "use the artefact fitted on this dataset"
        )
    if art.table is None:
        return
    fitted = [c.name for c in art.table.columns]
    if not fitted:
        return
    columns = peek_columns(dataset)
    if columns is None:
        return  # nothing readable: the command reports the unreadable files itself
    present = set(columns)
    shared = [c for c in fitted if c in present]
    if len(shared) < MIN_SHARED * len(fitted):
        show = ", ".join(fitted[:5]) + (", ..." if len(fitted) > 5 else "")
        have = ", ".join(columns[:5]) + (", ..." if len(columns) > 5 else "")
        raise ArtefactError(
            f"{_name(art)} does not match {dataset.source}: only {len(shared)} of its {len(fitted)} feature "
            f"columns ({show}) are in the data ({have}); it was fitted on another dataset"
        )


def check_artefact_file(path: str | Path, dataset: Dataset) -> None:
    """:func:`check_artefact_matches` for the artefact at ``path`` (what ``scan --artefact`` calls)."""
    from dataaudit.fit.artefact import load_artefact

    check_artefact_matches(load_artefact(path), dataset)
