"""What suite generation and validation share: loading suites, column kinds, frames for GX.

A delimited file has no types: a CSV column of numbers may reach us as strings
or, chunk by chunk, as whatever a reader inferred. So for delimited sources every
column is brought to one representation before a batch is handed to Great
Expectations: the columns the suite treats as numbers are parsed as floats
(values that do not parse become nulls, and so break a not-null expectation where
train had no nulls), every other column is compared as text. Typed sources
(Parquet, JSON lines, the Hub) are left as they are, so a column whose type
drifted is still seen as such.

Nothing here imports Great Expectations at module level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dataaudit.errors import UsageError, require
from dataaudit.sources.base import ROW

if TYPE_CHECKING:
    import pandas as pd

META_KEY = "dataaudit"
"""Key of the suite (and expectation) ``meta`` that dataaudit reads and writes."""

TYPED_FORMATS = frozenset({"parquet", "jsonl", "ndjson", "json", "arrow", "hub"})
"""Formats whose readers return typed columns: never coerced."""
DELIMITED_FORMATS = frozenset({"csv", "tsv", "txt"})
"""Formats without types: always brought to the suite's representation."""

NUMERIC_KINDS = frozenset({"numeric", "integer"})

INT_DTYPES = [
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
]  # fmt: skip
FLOAT_DTYPES = ["float16", "float32", "float64", "Float32", "Float64"]
TYPE_LISTS: dict[str, list[str]] = {
    # Integers with nulls become float64 in pandas, so both families are one "number" type.
    "numeric": INT_DTYPES + FLOAT_DTYPES,
    "integer": INT_DTYPES + FLOAT_DTYPES,
    # String columns reach GX as object columns, checked value by value.
    "string": ["str", "string", "StringDtype"],
    "boolean": ["bool", "boolean", "BooleanDtype"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]", "date", "datetime", "Timestamp"],
}
"""pandas type names accepted by ``expect_column_values_to_be_in_type_list`` per family."""

_NUMERIC_BOUND_TYPES = frozenset({
    "expect_column_values_to_be_between", "expect_column_min_to_be_between",
    "expect_column_max_to_be_between", "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between", "expect_column_sum_to_be_between",
    "expect_column_stdev_to_be_between", "expect_column_quantile_values_to_be_between",
    "expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing",
})  # fmt: skip


def disable_gx_analytics() -> None:
    """Keep Great Expectations offline: no analytics, whatever the environment says."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"


def import_gx() -> Any:
    """Import ``great_expectations`` (analytics off) or raise ``MissingExtraError``."""
    disable_gx_analytics()
    require("pandas", "gx")
    return require("great_expectations", "gx")


def ephemeral_context() -> Any:
    """An in-memory GX data context with analytics and progress bars off."""
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    cfg = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    return gx.get_context(mode="ephemeral", project_config=cfg)


def read_suite_json(path: str | Path) -> dict[str, Any]:
    """Read a suite file as a dict; a missing or malformed file is a :class:`UsageError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--expectations {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--expectations {p}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--expectations {p}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise UsageError(
            f"--expectations {p}: not an ExpectationSuite (expected a JSON object with "
            "'name' and an 'expectations' list; write one with `dataaudit expectations generate`)"
        )
    data.setdefault("name", p.stem)
    return data


def own_expectations(data: dict[str, Any], origin: str) -> list[dict[str, Any]]:
    """The suite's dataaudit-only expectations (``meta.dataaudit.expectations``), which GX never sees."""
    meta = data.get("meta")
    own = (meta.get(META_KEY) or {}).get("expectations") if isinstance(meta, dict) and isinstance(
        meta.get(META_KEY), dict) else None
    if own is None:
        return []
    if not isinstance(own, list) or not all(isinstance(e, dict) for e in own):
        raise UsageError(f"{origin}: meta.{META_KEY}.expectations must be a list of expectations")
    return list(own)


GX_SEVERITY = {"error": "critical", "warning": "warning", "info": "info"}
"""dataaudit severity -> the ``severity`` field GX 1.x keeps on each expectation."""


@contextlib.contextmanager
def quiet_gx() -> Iterator[None]:
    """Silence GX's own logging (it logs tracebacks for errors we report ourselves)."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_suite(data: dict[str, Any], origin: str) -> Any:
    """``gx.ExpectationSuite(**data)``, with GX's complaints turned into a :class:`UsageError`."""
    gx = import_gx()
    try:
        with quiet_gx():
            suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # GX raises many kinds for unknown types and bad kwargs
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{origin}: invalid expectation suite: {msg}") from None
    wanted = data.get("expectations") or []
    if len(suite.expectations) != len(wanted):
        # GX logs and drops expectations it does not know instead of raising.
        from great_expectations.expectations.registry import get_expectation_impl

        for exp in wanted:
            etype = exp.get("type") if isinstance(exp, dict) else None
            try:
                get_expectation_impl(str(etype))
            except Exception:
                raise UsageError(
                    f"{origin}: invalid expectation suite: unknown expectation type {etype!r}"
                ) from None
        raise UsageError(f"{origin}: invalid expectation suite: {len(wanted) - len(suite.expectations)} "
                         "expectation(s) could not be read")
    return suite


def column_kinds(suite: dict[str, Any]) -> dict[str, str]:
    """Kind of each column the suite describes: ``numeric``, ``integer``, ``categorical``...

    Generated suites record it in ``meta.dataaudit.columns``; for hand-written
    suites a column bounded by numbers (``min_value``/``max_value``) is numeric.
    """
    meta = suite.get("meta") or {}
    declared = (meta.get(META_KEY) or {}).get("columns") or {}
    kinds: dict[str, str] = {str(k): str(v) for k, v in declared.items()}
    for exp in suite.get("expectations", []):
        kw = exp.get("kwargs") or {}
        col = kw.get("column")
        if not isinstance(col, str) or col in kinds:
            continue
        if exp.get("type") in _NUMERIC_BOUND_TYPES:
            bounds = [kw.get("min_value"), kw.get("max_value")]
            if any(_is_number(b) for b in bounds):
                kinds[col] = "numeric"
        elif exp.get("type") in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
            values = kw.get("value_set")
            if isinstance(values, list) and values and all(_is_number(v) for v in values):
                kinds[col] = "numeric"
    return kinds


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)



def is_textual(frame: pl.DataFrame, fmt: str | None) -> bool:
    """Whether ``frame`` comes from a source without types (delimited text).

    Known formats decide; otherwise a frame whose data columns are all strings
    was read as text.
    """
    if fmt is not None:
        if fmt.lower() in DELIMITED_FORMATS:
            return True
        if fmt.lower() in TYPED_FORMATS:
            return False
    data = [dt for name, dt in frame.schema.items() if name != ROW]
    return bool(data) and all(dt in (pl.String, pl.Null) for dt in data)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every data column of a text-sourced frame as strings (whatever a reader inferred)."""
    exprs = [pl.col(n).cast(pl.String) for n, dt in frame.schema.items() if n != ROW and dt != pl.String]
    return frame.with_columns(exprs) if exprs else frame


def coerce(frame: pl.DataFrame, kinds: dict[str, str], textual: bool) -> pl.DataFrame:
    """Bring a text-sourced frame to the suite's representation; typed frames are unchanged.

    Numeric columns become floats (unparseable values null), all others strings.
    """
    if not textual:
        return frame
    exprs = []
    for name, dt in frame.schema.items():
        if name == ROW:
            continue
        if kinds.get(name) in NUMERIC_KINDS:
            if dt == pl.String:
                exprs.append(pl.col(name).str.strip_chars().cast(pl.Float64, strict=False))
            elif dt != pl.Float64:
                exprs.append(pl.col(name).cast(pl.Float64, strict=False))
        elif dt != pl.String:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The frame as GX wants it: pandas (GX refuses polars), strings as ``object`` columns.

    pandas 3 turns strings into its ``str`` dtype, which GX 1.x's type
    expectations do not recognise; as ``object`` columns they are checked value
    by value, as GX intends.
    """
    pdf = frame.to_pandas()
    strings = [name for name, dt in frame.schema.items() if dt in (pl.String, pl.Categorical, pl.Enum)]
    for name in strings:
        pdf[name] = pdf[name].astype(object).where(pdf[name].notna(), None)
    return pdf


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a value GX returned (numpy scalars, NaN, timestamps)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return plain(item())
        except (TypeError, ValueError):
            pass
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return str(iso())
    return str(value)
