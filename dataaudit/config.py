"""Scan configuration: defaults < ``[tool.dataaudit]`` in ``pyproject.toml`` < flags.

The configuration comes from the working directory's ``pyproject.toml`` (the
CI job's, reviewed like code), or from the file ``--config FILE`` names
instead, then the flags. A ``pyproject.toml`` inside the dataset being scanned is
*not* read unless ``--trust-dataset-config`` is given: the data under audit must
not be able to switch its own gate off (``ignore`` every check, lower every
severity, ``fail_on = "never"``). Either way the report says so in a note and
records every source it looked at and the effective settings. Example::

    [tool.dataaudit]
    fail_on = "error"
    label = "species"
    ignore = ["constant_column"]

    [tool.dataaudit.severity]
    class_imbalance = "info"

    [tool.dataaudit.checks.distribution_shift]
    numeric_warning = 0.15

Unknown keys, ids and parameters, values of the wrong type and values out of
range are usage errors (exit 2) naming the key, so a typo never silently
disables a check.
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
    trust_dataset_config: bool = False
    """Whether a ``pyproject.toml`` inside the dataset was allowed to configure the scan."""
    sources: list[dict[str, Any]] = field(default_factory=list)
    """Every configuration source looked at, in the order applied (see :func:`build_config`)."""
    notes: list[str] = field(default_factory=list)
    """What a reader of the report must know about the configuration (ignored files, clamps)."""

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the key for unknown ids or parameters,
        wrong types and values out of range."""
        from dataaudit.checks.registry import all_ids, ensure_loaded, param_problem

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
                problem = param_problem(check_id, key, value, known[check_id][key])
                if problem:
                    raise UsageError(problem)
        for key in _SOURCE_KEYS:
            problem = key_problem(key, getattr(self, key))
            if problem:
                raise UsageError(problem)
        shift = {**known.get("distribution_shift", {}), **self.params.get("distribution_shift", {})}
        min_samples = shift.get("min_samples", 0)
        if "distribution_shift" not in self.ignore and isinstance(min_samples, int) and self.sample_size < min_samples:
            raise UsageError(f"sample_size {self.sample_size} is below distribution_shift.min_samples "
                             f"({min_samples}): the shift tests would never run")

    def effective(self) -> dict[str, Any]:
        """The settings the scan runs with, for the report (never the token)."""
        out: dict[str, Any] = {
            "fail_on": self.fail_on.label,
            "ignore": sorted(self.ignore),
            "severity": {k: v.label for k, v in sorted(self.severity.items())},
            "checks": {k: dict(sorted(v.items())) for k, v in sorted(self.params.items()) if v},
            "sentinels": list(self.sentinels),
            "trust_dataset_config": self.trust_dataset_config,
        }
        for key in sorted(_SOURCE_KEYS):
            out[key] = getattr(self, key)
        return out


_SOURCE_KEYS = {
    "label", "split_column", "text_column", "format", "delimiter", "modality", "encoding",
    "config_name", "split", "max_rows", "revision", "sample_size", "workers", "max_examples",
    "baseline_tolerance", "timeout",
}  # fmt: skip

_INPUT_FORMATS = ("csv", "tsv", "txt", "parquet", "jsonl")
_MODALITIES = ("table", "text", "image")


def _text(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{key} must be a non-empty string, got {value!r}"
    return None


def _whole(key: str, value: Any, low: int, words: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        return f"{key} must be {words}, got {value!r}"
    return None


def _number(key: str, value: Any, words: str, ok: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        return f"{key} must be {words}, got {value!r}"
    return None


def _choice(options: tuple[str, ...]) -> Any:
    def check(key: str, value: Any) -> str | None:
        if value not in options:
            return f"{key} must be one of {', '.join(options)}, got {value!r}"
        return None

    return check


def _delimiter(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or len(value.encode()) != 1:
        return f"{key} must be a single byte character, got {value!r}"
    return None


def _encoding(key: str, value: Any) -> str | None:
    import codecs

    problem = _text(key, value)
    if problem:
        return problem
    try:
        codecs.lookup(value)
    except LookupError:
        return f"{key}: unknown text encoding {value!r} (e.g. utf-8, cp1252, latin-1)"
    return None


_KEY_RULES: dict[str, Any] = {
    "label": _text, "split_column": _text, "text_column": _text, "config_name": _text, "split": _text,
    "revision": _text, "encoding": _encoding, "delimiter": _delimiter,
    "format": _choice(_INPUT_FORMATS), "modality": _choice(_MODALITIES),
    "max_rows": lambda k, v: _whole(k, v, 1, "a whole number of 1 or more"),
    "sample_size": lambda k, v: _whole(k, v, 1, "a whole number of 1 or more"),
    "workers": lambda k, v: _whole(k, v, 1, "a whole number of 1 or more"),
    "max_examples": lambda k, v: _whole(k, v, 0, "a whole number of 0 or more"),
    "baseline_tolerance": lambda k, v: _number(k, v, "a number, 0 or more", lambda x: x >= 0),
    "timeout": lambda k, v: _number(k, v, "a positive number of seconds", lambda x: 0 < x < float("inf")),
}  # fmt: skip
"""How each plain key is checked; ``None`` (left to detection) is always allowed."""


def key_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is not valid for the plain configuration key ``key``, or ``None``.

    A key without a rule of its own must have the type of its default.
    """
    if value is None:
        return None
    rule = _KEY_RULES.get(key)
    if rule is not None:
        problem: str | None = rule(key, value)
        return problem
    default = {f.name: f.default for f in fields(Config)}.get(key)
    if default is not None and (type(value) is not type(default)
                                and not (isinstance(default, float) and type(value) is int)):
        return f"{key} must be a {type(default).__name__}, got {value!r}"
    return None


def dataset_config_file(source: str | None) -> Path | None:
    """The ``pyproject.toml`` with ``[tool.dataaudit]`` inside the dataset ``source``, if any."""
    if not source or "://" in source:
        return None
    src = Path(source)
    cand = (src if src.is_dir() else src.parent) / "pyproject.toml"
    return cand if cand.is_file() and _has_tool_section(cand) else None


def working_config_file() -> Path | None:
    """The working directory's ``pyproject.toml`` if it has ``[tool.dataaudit]``."""
    cand = Path.cwd() / "pyproject.toml"
    return cand if cand.is_file() and _has_tool_section(cand) else None


def find_config_file(source: str | None, explicit: str | None, trust_dataset_config: bool = False) -> Path | None:
    """The file to read ``[tool.dataaudit]`` from, or ``None``.

    ``explicit`` first, then (only when trusted) the dataset's own file, then the
    working directory's. :func:`build_config` layers them; this gives the one that wins.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"--config {explicit}: no such file")
        return path
    if trust_dataset_config:
        own = dataset_config_file(source)
        if own is not None:
            return own
    return working_config_file()


def _has_tool_section(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool", {})
    return isinstance(tool, dict) and "dataaudit" in tool


def read_table(path: Path) -> dict[str, Any]:
    """The ``[tool.dataaudit]`` table of ``path`` (or its top level if it has no ``tool``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path} is not valid TOML: {exc}") from None
    if "tool" in data:
        tool = data["tool"]
        table = tool.get("dataaudit", {}) if isinstance(tool, dict) else None
    else:
        table = data
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.dataaudit] must be a table")
    return table


def _check_ids(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} must be a list of check ids (strings), got {value!r}")
    return list(value)


def apply_table(cfg: Config, table: dict[str, Any], origin: str) -> None:
    """Merge one configuration table into ``cfg`` (later calls win).

    Every value is checked here, so an error names the file and the key.
    """
    for key, value in table.items():
        if key == "fail_on":
            cfg.fail_on = _severity(value, f"{origin}: fail_on")
        elif key == "ignore":
            cfg.ignore |= set(_check_ids(value, f"{origin}: ignore"))
        elif key == "severity":
            if not isinstance(value, dict):
                raise UsageError(f"{origin}: [severity] must map check ids to levels")
            for check_id, level in value.items():
                cfg.severity[check_id] = _level(level, f"{origin}: severity.{check_id}")
        elif key in ("checks", "thresholds"):
            if not isinstance(value, dict):
                raise UsageError(f"{origin}: [{key}] must be a table of check ids")
            for check_id, params in value.items():
                if not isinstance(params, dict):
                    raise UsageError(f"{origin}: [{key}.{check_id}] must be a table")
                params = dict(params)
                if "severity" in params:
                    cfg.severity[check_id] = _level(params.pop("severity"), f"{origin}: {key}.{check_id}.severity")
                enabled = params.pop("enabled", True)
                if not isinstance(enabled, bool):
                    raise UsageError(f"{origin}: {key}.{check_id}.enabled must be true or false, got {enabled!r}")
                if not enabled:
                    cfg.ignore.add(check_id)
                cfg.params.setdefault(check_id, {}).update(params)
        elif key == "sentinels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{origin}: sentinels must be a list of strings, got {value!r}")
            cfg.sentinels = tuple(value)
        elif key in _SOURCE_KEYS:
            problem = key_problem(key, value)
            if problem:
                raise UsageError(f"{origin}: {problem}")
            setattr(cfg, key, value)
        else:
            raise UsageError(f"{origin}: unknown key {key!r} in [tool.dataaudit]")
    try:
        cfg.validate()
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc.message}") from None


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
    if not isinstance(value, (str, Severity)):
        raise UsageError(f"{where} must be error, warning, info or never, got {value!r}")
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _level(value: Any, where: str) -> Severity:
    level = _severity(value, where)
    if level == Severity.NEVER:
        raise UsageError(f"{where} must be error, warning or info")
    return level


def build_config(source: str | None = None, config_file: str | None = None, *,
                 trust_dataset_config: bool = False, **overrides: Any) -> Config:
    """Defaults, then the configuration files, then keyword overrides (flags).

    The files, lowest first: the working directory's ``pyproject.toml`` (unless
    ``config_file`` is given), the dataset's own (only with
    ``trust_dataset_config``), ``config_file``. A dataset's file that is not
    trusted is not read at all; a note says so. ``Config.sources`` records each.
    """
    from dataaudit.resources import bounded_workers

    cfg = Config(trust_dataset_config=trust_dataset_config)
    own = dataset_config_file(source)
    work = None if config_file else working_config_file()
    explicit = find_config_file(source, config_file) if config_file else None
    if own is not None and work is not None and own.resolve() == work.resolve():
        own = None  # scanning the working directory itself: its file is the job's own
    layers: list[tuple[str, Path]] = []
    if work is not None:
        layers.append(("working directory", work))
    if own is not None and trust_dataset_config:
        layers.append(("dataset", own))
    if explicit is not None:
        layers.append(("--config", explicit))
    for origin, path in layers:
        table = read_table(path)
        apply_table(cfg, table, str(path))
        cfg.sources.append({"origin": origin, "path": str(path), "used": True, "keys": sorted(table)})
        cfg.config_path = str(path)
    if own is not None and not trust_dataset_config:
        try:
            unused = sorted(read_table(own))
        except UsageError:
            unused = []
        cfg.sources.append({"origin": "dataset", "path": str(own), "used": False, "keys": unused})
        cfg.notes.append(f"ignored the dataset's own configuration {own}: settings inside the data could weaken "
                         "the gate (pass --trust-dataset-config to use it, or name it with --config)")
    elif own is not None:
        cfg.notes.append(f"using the dataset's own configuration {own} (--trust-dataset-config)")
    names = {f.name for f in fields(Config)}
    given: list[str] = []
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in ("progress",):
            given.append(key)
        if key == "ignore":
            cfg.ignore |= set(_check_ids(list(value), "--ignore"))
        elif key == "severity":
            for check_id, level in dict(value).items():
                cfg.severity[check_id] = _level(level, f"--severity {check_id}")
        elif key == "params":
            for check_id, params in dict(value).items():
                cfg.params.setdefault(check_id, {}).update(params)
        elif key == "fail_on":
            cfg.fail_on = _severity(value, "--fail-on")
        elif key == "sentinels":
            cfg.sentinels = tuple(value)
        elif key in names and key not in ("sources", "notes", "config_path"):
            problem = key_problem(key, value)
            if problem:
                raise UsageError(f"--{key.replace('_', '-')}: {problem}")
            setattr(cfg, key, value)
        else:
            raise UsageError(f"unknown option {key!r}")
    if given:
        cfg.sources.append({"origin": "arguments", "path": None, "used": True,
                            "keys": sorted(k for k in given if k != "token")})
    cfg.validate()
    cfg.workers, clamp = bounded_workers(cfg.workers)
    if clamp:
        cfg.notes.append(clamp)
    return cfg
