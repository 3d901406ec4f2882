"""The finding and report model: what every check returns, what every renderer reads.

The JSON produced by :meth:`Report.to_dict` is the public contract of
``docs/report-contract.md`` (schema version 1).
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataaudit._version import __version__

SCHEMA_VERSION = 1

SCHEMA_PATH = Path(__file__).with_name("schema") / "report.schema.json"
"""The JSON Schema every report validates against, shipped with the package."""


def report_schema_text() -> str:
    """The text of the report's JSON Schema (what ``dataaudit schema`` prints)."""
    return SCHEMA_PATH.read_text(encoding="utf-8")

Item = dict[str, Any]
"""An example location: ``{"split": "train", "row": 17}`` or ``{"split": .., "path": ..}``."""


class Severity(enum.IntEnum):
    """Ordered severities; ``NEVER`` is only a ``--fail-on`` value."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    NEVER = 99

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {value!r}: use error, warning, info or never"
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass
class Finding:
    """One problem found in the data: what, where, how many and the figure behind it."""

    check: str
    severity: Severity
    message: str
    split: str | None = None
    column: str | None = None
    count: int = 0
    fraction: float | None = None
    examples: list[Item] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, max_examples: int | None = None) -> dict[str, Any]:
        examples = self.examples if max_examples is None else self.examples[:max_examples]
        frac = self.fraction
        if frac is not None:
            frac = None if not math.isfinite(frac) else min(1.0, max(0.0, round(frac, 6)))
        return {
            "check": self.check,
            "severity": self.severity.label,
            "split": self.split,
            "column": self.column,
            "count": int(self.count),
            "fraction": frac,
            "message": self.message,
            "examples": [_jsonable(e) for e in examples],
            "details": _jsonable(self.details),
        }

    @property
    def sort_key(self) -> tuple[int, str, str, str]:
        return (-int(self.severity), self.check, self.split or "", self.column or "")


@dataclass
class Report:
    """The outcome of a scan. ``passed`` is decided by ``fail_on``."""

    source: str
    modality: str
    splits: dict[str, dict[str, Any]]
    findings: list[Finding]
    label_column: str | None = None
    fail_on: Severity = Severity.ERROR
    duration_s: float = 0.0
    detected: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    max_examples: int = 20
    config: dict[str, Any] = field(default_factory=dict)
    """Where the configuration came from and the settings in effect:
    ``{"sources": [{"origin", "path", "used", "keys"}, ...], "effective": {...}}``."""
    stats: Any = field(default=None, repr=False, compare=False)
    """The :class:`~dataaudit.profile.DatasetStats` behind the findings (not serialised)."""

    def __post_init__(self) -> None:
        self.findings.sort(key=lambda f: f.sort_key)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def passed(self) -> bool:
        return not any(f.severity >= self.fail_on for f in self.findings)

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    @property
    def summary(self) -> dict[str, Any]:
        return {
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "passed": self.passed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "dataaudit", "version": __version__},
            "source": self.source,
            "modality": self.modality,
            "label_column": self.label_column,
            "splits": _jsonable(self.splits),
            "findings": [f.to_dict(self.max_examples) for f in self.findings],
            "summary": self.summary,
            "duration_s": round(max(0.0, self.duration_s), 4),
            "detected": _jsonable(self.detected),
            "notes": list(self.notes),
            "partial": self.partial,
            "fail_on": self.fail_on.label,
            **({"config": _jsonable(self.config)} if self.config else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text. Control characters that ``json`` leaves raw (DEL, the C1
        range, bidirectional overrides) are written as ``\\uXXXX`` too: the same value, and
        nothing a terminal showing the JSON would obey."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        return _RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_RAW_CONTROL = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars, tuples, NaN and other oddities into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return _jsonable(item())
    return str(value)
