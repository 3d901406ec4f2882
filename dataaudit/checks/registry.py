"""The explicit, loud registry of checks.

A check is a pure function from :class:`~dataaudit.profile.DatasetStats` and a
:class:`CheckContext` to findings. It is registered with :func:`register_check`,
which declares the contract ids it emits and their default parameters. Two
functions claiming the same id is a programming error and raises at import.
"""

from __future__ import annotations

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
