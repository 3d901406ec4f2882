"""Scan configuration: defaults < ``[tool.dataaudit]`` in ``pyproject.toml`` < flags.

The configuration file is the dataset folder's ``pyproject.toml``, else the
working directory's, unless ``--config FILE`` names one. Example::

    [tool.dataaudit]
    fail_on = "error"
    label = "species"
    ignore = ["constant_column"]

    [tool.dataaudit.severity]
    class_imbalance = "info"

    [tool.dataaudit.checks.distribution_shift]
    numeric_warning = 0.15

Unknown keys, ids and parameters are usage errors (exit 2), so a typo never
silently disables a check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dataaudit.errors import UsageError
from dataaudit.report.model import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SENTINELS: tuple[str, ...] = (
    "NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none",
    "?", "-", "--", "#N/A", "#NA", "missing", "MISSING", "undefined", "-999", "-9999",
    "-999.0", "-9999.0", "<NA>", "nil",
)  # fmt: skip


@dataclass
class Config:
    """Every knob of a scan. Source options are ``None`` when left to detection."""

    fail_on: Severity = Severity.ERROR
    max_examples: int = 20
    ignore: set[str] = field(default_factory=set)
    severity: dict[str, Severity] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    sentinels: tuple[str, ...] = DEFAULT_SENTINELS
    baseline_tolerance: float = 0.0
    """How much an accepted finding's fraction (or count) may grow over the baseline's, as a share of it."""
    # source options
    label: str | None = None
    split_column: str | None = None
    text_column: str | None = None
    format: str | None = None
    delimiter: str | None = None
    modality: str | None = None
    encoding: str | None = None
    # hub options
    config_name: str | None = None
    split: str | None = None
    max_rows: int | None = None
    token: str | None = None
    revision: str | None = None
    timeout: float = 3600.0
    """Seconds a network scan may take in all (``--timeout``); see dataaudit.sources.network."""
    # execution
    sample_size: int = 20_000
    workers: int | None = None
    progress: bool = True
    config_path: str | None = None

    def validate(self) -> None:
        """Raise :class:`UsageError` for unknown ids or parameters."""
        from dataaudit.checks.registry import all_ids, ensure_loaded

        ensure_loaded()
        known = all_ids()
        for check_id in list(self.ignore) + list(self.severity):
            if check_id not in known:
                raise UsageError(f"unknown check id {check_id!r}; known ids: {', '.join(sorted(known))}")
        for check_id, values in self.params.items():
            if check_id not in known:
                raise UsageError(f"unknown check id {check_id!r} in thresholds")
            for key, value in values.items():
                if key not in known[check_id]:
                    choices = ", ".join(sorted(known[check_id])) or "none"
                    raise UsageError(f"unknown parameter {check_id}.{key}; parameters of {check_id}: {choices}")
                default = known[check_id][key]
                if isinstance(default, (int, float)) and not isinstance(default, bool):
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise UsageError(f"{check_id}.{key} must be a number, got {value!r}")
        if isinstance(self.baseline_tolerance, bool) or not isinstance(self.baseline_tolerance, (int, float)) \
                or not self.baseline_tolerance >= 0:
            raise UsageError(f"baseline_tolerance must be a number, 0 or more, got {self.baseline_tolerance!r}")
        if self.max_examples < 0:
            raise UsageError("--max-examples must be 0 or more")
        if self.max_rows is not None and self.max_rows <= 0:
            raise UsageError("--max-rows must be a positive number")
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise UsageError(f"timeout (--timeout) must be a positive number of seconds, got {timeout!r}")
        if self.delimiter is not None and len(self.delimiter.encode()) != 1:
            raise UsageError(f"--delimiter must be a single byte character, got {self.delimiter!r}")


_SOURCE_KEYS = {
    "label", "split_column", "text_column", "format", "delimiter", "modality", "encoding",
    "config_name", "split", "max_rows", "revision", "sample_size", "workers", "max_examples",
    "baseline_tolerance", "timeout",
}  # fmt: skip


def find_config_file(source: str | None, explicit: str | None) -> Path | None:
    """The file to read ``[tool.dataaudit]`` from, or ``None``."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"--config {explicit}: no such file")
        return path
    candidates: list[Path] = []
    if source and "://" not in source:
        src = Path(source)
        candidates.append((src if src.is_dir() else src.parent) / "pyproject.toml")
    candidates.append(Path.cwd() / "pyproject.toml")
    for cand in candidates:
        if cand.is_file() and _has_tool_section(cand):
            return cand
    return None


def _has_tool_section(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "dataaudit" in data.get("tool", {})


def read_table(path: Path) -> dict[str, Any]:
    """The ``[tool.dataaudit]`` table of ``path`` (or its top level if it has no ``tool``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path} is not valid TOML: {exc}") from None
    if "tool" in data:
        table = data["tool"].get("dataaudit", {})
    else:
        table = data
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.dataaudit] must be a table")
    return table


def apply_table(cfg: Config, table: dict[str, Any], origin: str) -> None:
    """Merge one configuration table into ``cfg`` (later calls win)."""
    for key, value in table.items():
        if key == "fail_on":
            cfg.fail_on = _severity(value, f"{origin}: fail_on")
        elif key == "ignore":
            if not isinstance(value, list):
                raise UsageError(f"{origin}: ignore must be a list of check ids")
            cfg.ignore |= {str(v) for v in value}
        elif key == "severity":
            if not isinstance(value, dict):
                raise UsageError(f"{origin}: [severity] must map check ids to levels")
            for check_id, level in value.items():
                cfg.severity[check_id] = _severity(level, f"{origin}: severity.{check_id}")
                if cfg.severity[check_id] == Severity.NEVER:
                    raise UsageError(f"{origin}: severity.{check_id} must be error, warning or info")
        elif key in ("checks", "thresholds"):
            if not isinstance(value, dict):
                raise UsageError(f"{origin}: [{key}] must be a table of check ids")
            for check_id, params in value.items():
                if not isinstance(params, dict):
                    raise UsageError(f"{origin}: [{key}.{check_id}] must be a table")
                params = dict(params)
                if "severity" in params:
                    cfg.severity[check_id] = _severity(params.pop("severity"), f"{origin}: {check_id}.severity")
                if params.pop("enabled", True) is False:
                    cfg.ignore.add(check_id)
                cfg.params.setdefault(check_id, {}).update(params)
        elif key == "sentinels":
            if not isinstance(value, list):
                raise UsageError(f"{origin}: sentinels must be a list of strings")
            cfg.sentinels = tuple(str(v) for v in value)
        elif key in _SOURCE_KEYS:
            setattr(cfg, key, value)
        else:
            raise UsageError(f"{origin}: unknown key {key!r} in [tool.dataaudit]")


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """Parse ``--set check.param=value`` into its parts, the value as TOML."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise UsageError(f"--set {text!r}: expected CHECK.PARAM=VALUE, e.g. distribution_shift.numeric_warning=0.2")
    lhs, raw = text.split("=", 1)
    check_id, param = lhs.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return check_id, param, value


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def build_config(source: str | None = None, config_file: str | None = None, **overrides: Any) -> Config:
    """Defaults, then the configuration file, then keyword overrides (flags)."""
    cfg = Config()
    path = find_config_file(source, config_file)
    if path is not None:
        apply_table(cfg, read_table(path), str(path))
        cfg.config_path = str(path)
    names = {f.name for f in fields(Config)}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "ignore":
            cfg.ignore |= set(value)
        elif key == "severity":
            for check_id, level in dict(value).items():
                cfg.severity[check_id] = _severity(level, f"severity {check_id}")
        elif key == "params":
            for check_id, params in dict(value).items():
                cfg.params.setdefault(check_id, {}).update(params)
        elif key == "fail_on":
            cfg.fail_on = _severity(value, "--fail-on")
        elif key in names:
            setattr(cfg, key, value)
        else:
            raise UsageError(f"unknown option {key!r}")
    cfg.validate()
    return cfg
