"""dataaudit: audit machine-learning training data before training.

>>> import dataaudit
>>> report = dataaudit.scan("sample_data/tables_faulty")   # doctest: +SKIP
>>> report.passed, [f.check for f in report.findings]      # doctest: +SKIP

Heavy libraries (torch, datasets, great_expectations) are imported lazily, where
they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataaudit._version import __version__
from dataaudit.errors import DataauditError, SourceError, UsageError
from dataaudit.report.model import Finding, Report, Severity

if TYPE_CHECKING:
    from pathlib import Path


def scan(path: str | Path, **options: Any) -> Report:
    """Audit the dataset at ``path``; see :func:`dataaudit.scanner.scan`."""
    from dataaudit.scanner import scan as _scan

    return _scan(path, **options)


def fit(source: str | Path, output: str | Path | None = None, **options: Any) -> Any:
    """Fit the preprocessing artefact on the train split; see :func:`dataaudit.fit.fit`."""
    from dataaudit.fit import fit as _fit

    return _fit(source, output, **options)


__all__ = ["DataauditError", "Finding", "Report", "Severity", "SourceError", "UsageError", "__version__", "fit", "scan"]
