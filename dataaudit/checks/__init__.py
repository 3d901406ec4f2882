"""Checks: one module per family, named after the contract ids it emits.

Modules are imported here by name, explicitly; each registers its functions with
:func:`~dataaudit.checks.registry.register_check`. Grep an id, land in its file.
"""

from dataaudit.checks import (  # noqa: F401  (imported for registration)
    duplicates,
    files,
    images,
    labels,
    missing,
    normalization,
    schema,
    shift,
    structure,
)
from dataaudit.checks.registry import register_external_id

register_external_id("expectation", {})  # produced by Great Expectations suites (dataaudit.expectations)
register_external_id("serving_skew", {})  # produced by ``dataaudit validate`` (dataaudit.fit.validate)

__all__ = ["duplicates", "files", "images", "labels", "missing", "normalization", "schema", "shift", "structure"]
