"""Preprocessing fitted on the train split only, saved as one strictly validated artefact.

>>> from dataaudit.fit import fit, load_artefact
>>> art = fit("data/penguins", "preprocess.json", label="species")   # doctest: +SKIP
>>> load_artefact("preprocess.json").table.features                  # doctest: +SKIP

Only the train split is opened (``open_source(..., splits=["train"])``): val and
test files are never read, so nothing about them can leak into the parameters.
"""

from __future__ import annotations

from dataaudit.fit.artefact import (
    SCHEMA_VERSION,
    UNKNOWN,
    Artefact,
    CategoricalColumn,
    ImagePlan,
    LabelMap,
    NumericColumn,
    TablePlan,
    load_artefact,
    supplied_normalization,
)
from dataaudit.fit.core import fit

__all__ = [
    "SCHEMA_VERSION",
    "UNKNOWN",
    "Artefact",
    "CategoricalColumn",
    "ImagePlan",
    "LabelMap",
    "NumericColumn",
    "TablePlan",
    "fit",
    "load_artefact",
    "supplied_normalization",
]
