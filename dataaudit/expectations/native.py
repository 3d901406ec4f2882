"""The expectations dataaudit generates, evaluated on polars frames without Great Expectations.

Importing GX costs about three seconds and each GX validation has a fixed cost of
its own, which made ``--expectations`` several times the cost of the scan it
rides on. The expectation types that ``dataaudit expectations generate`` writes
(and that hand-written suites use most) are simple enough to evaluate directly,
so they are answered here, with GX's pandas semantics (nulls and NaN are
missing; set membership without coercion between text and numbers; a column's
pandas dtype for type lists), and only other types, or unusual keyword
arguments, go to GX. ``tests/test_expectations_native.py`` holds every answer
here to GX's own on the same frames.

Each function returns what GX's ``SUMMARY`` result would hold, as a plain dict,
or ``None`` when the frame's column is of a kind only GX should judge.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import polars as pl

from dataaudit.sources.base import ROW

MAP_TYPES: dict[str, frozenset[str]] = {
    "expect_column_values_to_not_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_in_set": frozenset({"column", "value_set", "mostly"}),
    "expect_column_values_to_not_be_in_set": frozenset({"column", "value_set", "mostly"}),
    "expect_column_values_to_be_between": frozenset(
        {"column", "min_value", "max_value", "strict_min", "strict_max", "mostly"}),
    "expect_column_values_to_be_in_type_list": frozenset({"column", "type_list", "mostly"}),
}
"""Column map expectations answered here, with the keyword arguments understood."""

SCHEMA_TYPES: dict[str, frozenset[str]] = {
    "expect_table_columns_to_match_set": frozenset({"column_set", "exact_match"}),
    "expect_column_to_exist": frozenset({"column"}),
    "expect_table_column_count_to_equal": frozenset({"value"}),
    "expect_table_column_count_to_be_between": frozenset({"min_value", "max_value", "strict_min", "strict_max"}),
}
"""Table-shape expectations answered here."""

ROW_COUNT_TYPES: dict[str, frozenset[str]] = {
    "expect_table_row_count_to_be_between": frozenset({"min_value", "max_value", "strict_min", "strict_max"}),
    "expect_table_row_count_to_equal": frozenset({"value"}),
}
"""Row counts: checked by the validator against each split's total."""

_NULL_TYPES = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"})
_STR_NAMES = frozenset({"str", "string_types"})
"""Type names that GX maps to Python's ``str`` for values of ``object`` columns."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def supported(etype: str, kwargs: dict[str, Any]) -> bool:
    """Whether an expectation of ``etype`` with ``kwargs`` is evaluated here rather than by GX."""
    allowed = MAP_TYPES.get(etype) or SCHEMA_TYPES.get(etype) or ROW_COUNT_TYPES.get(etype)
    if allowed is None or not set(kwargs) <= allowed:
        return False
    mostly = kwargs.get("mostly")
    if mostly is not None and not (_number(mostly) and 0 <= mostly <= 1):
        return False
    if etype in MAP_TYPES and not isinstance(kwargs.get("column"), str):
        return False
    if etype.endswith("_in_set"):
        values = kwargs.get("value_set")
        return isinstance(values, list) and all(v is None or isinstance(v, (str, int, float)) for v in values)
    if etype.endswith("_to_be_between"):
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if not all(b is None or _number(b) for b in (lo, hi)) or (lo is None and hi is None):
            return False
        if lo is not None and hi is not None and lo > hi:
            return False  # GX reports this as an error of its own
        return all(isinstance(kwargs.get(k, False), bool) for k in ("strict_min", "strict_max"))
    if etype == "expect_column_values_to_be_in_type_list":
        types = kwargs.get("type_list")
        return isinstance(types, list) and bool(types) and all(isinstance(t, str) for t in types)
    if etype == "expect_table_columns_to_match_set":
        cols = kwargs.get("column_set")
        return isinstance(cols, list) and all(isinstance(c, str) for c in cols) and isinstance(
            kwargs.get("exact_match", True), bool)
    if etype.endswith("_count_to_equal"):
        return isinstance(kwargs.get("value"), int) and not isinstance(kwargs.get("value"), bool)
    return True


def _pandas_dtype(s: pl.Series) -> np.dtype[Any] | None:
    """The numpy dtype ``to_pandas()`` gives this column, or None where it is not a plain numpy one."""
    dt = s.dtype
    if dt.is_float():
        return np.dtype("float32" if dt == pl.Float32 else "float64")
    if dt.is_integer():
        if s.null_count():
            return np.dtype("float64")
        return np.dtype(str(dt).lower())
    if dt == pl.Boolean and not s.null_count():
        return np.dtype("bool")
    return None


def _dtypes(type_list: list[str]) -> list[np.dtype[Any]]:
    out = []
    for name in type_list:
        try:
            out.append(np.dtype(name))
        except TypeError:
            continue
    return out


def map_result(etype: str, kwargs: dict[str, Any], frame: pl.DataFrame, cap: int,
               cache: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None) -> dict[str, Any] | None:
    """GX's ``SUMMARY`` result of a column map expectation on ``frame`` (which has :data:`ROW`).

    Masks are numpy arrays (one vectorised pass each); ``cache`` keeps each column's missing mask
    and float values across the expectations of one frame.
    """
    column = str(kwargs["column"])
    s = frame.get_column(column)
    dt = s.dtype
    textual = dt in (pl.String, pl.Categorical, pl.Enum)
    if not (textual or dt.is_numeric() or dt == pl.Null):
        return None
    cached = cache.get(column) if cache is not None else None
    if cached is None:
        if textual or dt == pl.Null:
            cached = (s.is_null().to_numpy(), None)
        else:
            floats = s.cast(pl.Float64).to_numpy()  # nulls become NaN
            cached = (np.isnan(floats), floats)
        if cache is not None:
            cache[column] = cached
    missing, x = cached
    present: np.ndarray = ~missing
    null_type = False
    if etype == "expect_column_values_to_be_in_type_list":
        types = [str(t) for t in kwargs["type_list"]]
        if not textual:
            actual = _pandas_dtype(s) if dt != pl.Null else None
            if actual is None:
                return None
            ok = actual in _dtypes(types)
            return {"success": ok, "result": {"observed_value": actual.type.__name__}}
        # object columns: each present value is a str
        if not _dtypes(types) and not any(t.lower() in _STR_NAMES for t in types):
            return None  # GX raises "no recognized type"; let it say so
        ok = any(t.lower() in _STR_NAMES for t in types)
        unexpected = present if not ok else np.zeros(len(missing), dtype=bool)
    elif etype in _NULL_TYPES:
        unexpected = missing if etype == "expect_column_values_to_not_be_null" else present
        null_type = True
    elif etype.endswith("_in_set"):
        values = kwargs["value_set"]
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if textual:
            text = s.cast(pl.String)
            members = [v for v in values if isinstance(v, str)]
            inside = text.is_in(pl.Series(members, dtype=pl.String).implode()).fill_null(False).to_numpy()
            if numbers:
                # Text read from a CSV matches a number of the set by value ("3" is 3), as pandas reads it.
                parsed = text.str.strip_chars().cast(pl.Float64, strict=False).to_numpy()
                inside = inside | np.isin(parsed, numbers)
        elif x is None:
            inside = np.zeros(len(missing), dtype=bool)
        else:
            inside = np.isin(x, numbers)
        unexpected = present & (~inside if etype == "expect_column_values_to_be_in_set" else inside)
    else:  # between
        if x is None:
            return None  # GX compares text with numbers and raises: its message is the finding
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        bad = np.zeros(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                bad |= (x <= lo) if kwargs.get("strict_min") else (x < lo)
            if hi is not None:
                bad |= (x >= hi) if kwargs.get("strict_max") else (x > hi)
        unexpected = present & bad
    n = s.len()
    n_missing = 0 if null_type else int(missing.sum())
    idx = np.flatnonzero(unexpected)
    first = pl.Series(idx[:cap], dtype=pl.UInt32)
    rows = frame.get_column(ROW).gather(first).to_list() if len(first) else []
    vals = [_value(v) for v in s.gather(first).to_list()] if len(first) else []
    counts = Counter(repr(v) for v in vals)
    shown = {repr(v): v for v in vals}
    result = {
        "element_count": n,
        "missing_count": n_missing,
        "unexpected_count": int(len(idx)),
        "partial_unexpected_counts": _by_count(counts, shown),
        "partial_unexpected_index_list": [{ROW: r, column: v} for r, v in zip(rows, vals)],
    }
    return {"success": len(idx) == 0, "result": result}


def _by_count(counts: Counter[str], shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Values by count, ties by value (as GX orders them; by text where values do not compare)."""
    items = [(shown[k], c) for k, c in counts.items()]
    try:
        items.sort(key=lambda vc: (-vc[1], vc[0]))
    except TypeError:
        items.sort(key=lambda vc: (-vc[1], str(vc[0])))
    return [{"value": v, "count": c} for v, c in items]


def _value(v: Any) -> Any:
    """A value as GX shows it: NaN and null are both missing (None)."""
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def schema_result(etype: str, kwargs: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """GX's result of a table-shape expectation for a frame with ``columns``."""
    if etype == "expect_table_columns_to_match_set":
        actual, wanted = set(columns), {str(c) for c in kwargs["column_set"]}
        observed = sorted(actual)
        unexpected, missing = sorted(actual - wanted), sorted(wanted - actual)
        if not unexpected and not missing:
            return {"success": True, "result": {"observed_value": observed}}
        mismatched: dict[str, list[str]] = {}
        if unexpected:
            mismatched["unexpected"] = unexpected
        if missing:
            mismatched["missing"] = missing
        ok = not missing and not kwargs.get("exact_match", True)
        return {"success": ok, "result": {"observed_value": observed, "details": {"mismatched": mismatched}}}
    if etype == "expect_column_to_exist":
        return {"success": kwargs["column"] in columns, "result": {}}
    n = len(columns)
    if etype.endswith("_count_to_equal"):
        return {"success": n == kwargs["value"], "result": {"observed_value": n}}
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    ok = (lo is None or (n > lo if kwargs.get("strict_min") else n >= lo)) and (
        hi is None or (n < hi if kwargs.get("strict_max") else n <= hi))
    return {"success": ok, "result": {"observed_value": n}}
