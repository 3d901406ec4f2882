"""The explicit, loud registry of checks.

A check is a pure function from :class:`~dataaudit.profile.DatasetStats` and a
:class:`CheckContext` to findings. It is registered with :func:`register_check`,
which declares the contract ids it emits and their default parameters. Two
functions claiming the same id is a programming error and raises at import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataaudit.config import Config
    from dataaudit.profile.dataset import DatasetStats
    from dataaudit.report.model import Finding

CheckFunc = Callable[["DatasetStats", "CheckContext"], Iterable["Finding"]]


@dataclass(frozen=True)
class CheckSpec:
    """A registered check function and the ids and defaults it declares."""

    name: str
    func: CheckFunc
    defaults: Mapping[str, Mapping[str, Any]]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.defaults)


CHECKS: dict[str, CheckSpec] = {}
"""Registered check functions by function name, in registration order."""

ID_OWNER: dict[str, CheckSpec] = {}
"""Which registered function emits each contract id."""

EXTERNAL_IDS: dict[str, Mapping[str, Any]] = {}
"""Ids emitted outside the statistics pipeline (e.g. ``expectation``) and their defaults."""


def register_check(defaults: Mapping[str, Mapping[str, Any]]) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check function emitting the ids keyed in ``defaults``.

    ``defaults`` maps each id to its default parameters (thresholds); users
    override them under ``[tool.dataaudit.checks.<id>]`` or ``--set id.key=value``.
    """

    def decorate(func: CheckFunc) -> CheckFunc:
        spec = CheckSpec(func.__name__, func, {k: dict(v) for k, v in defaults.items()})
        if spec.name in CHECKS:
            raise RuntimeError(f"check function {spec.name!r} registered twice")
        for check_id in spec.ids:
            if check_id in ID_OWNER or check_id in EXTERNAL_IDS:
                raise RuntimeError(f"check id {check_id!r} registered twice")
        CHECKS[spec.name] = spec
        for check_id in spec.ids:
            ID_OWNER[check_id] = spec
        return func

    return decorate


def register_external_id(check_id: str, defaults: Mapping[str, Any]) -> None:
    """Declare an id whose findings are produced outside the check functions."""
    if check_id in ID_OWNER or check_id in EXTERNAL_IDS:
        raise RuntimeError(f"check id {check_id!r} registered twice")
    EXTERNAL_IDS[check_id] = dict(defaults)


def all_ids() -> dict[str, Mapping[str, Any]]:
    """Every known id with its default parameters."""
    out: dict[str, Mapping[str, Any]] = {}
    for spec in CHECKS.values():
        out.update(spec.defaults)
    out.update(EXTERNAL_IDS)
    return out


# Ranges of check parameters, matched on the parameter's name (first rule that matches wins).
# A value outside its range is a usage error: ``alpha = -1`` or ``error_fraction = 7`` would
# otherwise switch a check off without a word. (low, high, low inclusive, high inclusive).
_PARAM_RANGES: tuple[tuple[Callable[[str], bool], tuple[float, float, bool, bool], str], ...] = (
    (lambda k: k == "alpha", (0.0, 1.0, False, True), "a significance level in (0, 1]"),
    (lambda k: k == "hamming_radius", (0, 64, True, True), "a Hamming distance between 0 and 64 bits"),
    (lambda k: k.endswith("_fraction") or k.endswith("_share") or k.endswith("_ratio")
     or k.startswith(("tvd_", "ks_")), (0.0, 1.0, True, True), "a fraction between 0 and 1"),
    (lambda k: k.startswith(("ratio_", "scale_", "tail_")) or k == "size_factor", (1.0, math.inf, True, False),
     "a ratio of 1 or more"),
    (lambda k: k.endswith("tolerance") or k in ("blank_std", "min_expected"),
     (0.0, math.inf, True, False), "0 or more"),
    (lambda k: k in ("size_z", "pixel_scale_max"), (0.0, math.inf, False, False), "more than 0"),
    (lambda k: k.startswith("min_") or k.endswith("_count"), (0, math.inf, True, False), "0 or more"),
)


def param_rule(key: str) -> tuple[tuple[float, float, bool, bool], str] | None:
    """The allowed range of parameter ``key`` and how to say it, or ``None`` if unconstrained."""
    for match, bounds, words in _PARAM_RANGES:
        if match(key):
            return bounds, words
    return None


def param_problem(check_id: str, key: str, value: Any, default: Any) -> str | None:
    """Why ``value`` is not a valid ``check_id.key`` (whose default is ``default``), or ``None``.

    The type follows the default (a whole number where the default is one, any finite
    number where it is a float, a boolean or a string likewise); numbers must lie in the
    range :func:`param_rule` gives the name.
    """
    name = f"{check_id}.{key}"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"{name} must be true or false, got {value!r}"
    if isinstance(default, str):
        return None if isinstance(value, str) else f"{name} must be a string, got {value!r}"
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be a whole number, got {value!r}"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name} must be a number, got {value!r}"
    else:
        return None
    if not math.isfinite(value):
        return f"{name} must be a finite number, got {value!r}"
    rule = param_rule(key)
    if rule is None:
        return None
    (low, high, low_in, high_in), words = rule
    too_low = value < low if low_in else value <= low
    too_high = value > high if high_in else value >= high
    if too_low or too_high:
        return f"{name} must be {words}, got {value!r}"
    return None


@dataclass
class CheckContext:
    """What a check may read besides the statistics: parameters and options."""

    config: Config
    extras: dict[str, Any] = field(default_factory=dict)
    """Optional inputs such as a supplied normalisation (``"normalization"``)."""

    def params(self, check_id: str) -> dict[str, Any]:
        """Default parameters of ``check_id`` overridden by the user's configuration."""
        base = dict(all_ids()[check_id])
        base.update(self.config.params.get(check_id, {}))
        return base

    def enabled(self, check_id: str) -> bool:
        return check_id not in self.config.ignore

    @property
    def max_examples(self) -> int:
        return self.config.max_examples

    @property
    def example_cap(self) -> int:
        """How many examples a check should collect (at least the report's cap)."""
        return max(self.config.max_examples, 1)


def ensure_loaded() -> None:
    """Import every check module (by name, explicitly) so the registry is complete."""
    import dataaudit.checks  # noqa: F401  (the package imports its modules)


def iter_specs() -> Iterable[CheckSpec]:
    ensure_loaded()
    return list(CHECKS.values())


def ranked(counts: Mapping[Any, int]) -> list[tuple[Any, int]]:
    """``counts`` most first, ties in order of the value: reports do not depend on the order
    in which values were counted (which follows the grouping order of each batch)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
