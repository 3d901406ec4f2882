"""Infer a Great Expectations suite from the train split.

The suite states what train looks like, so that val, test and every later
delivery of the data can be held to it:

* the set of columns (exact) and each column's type family;
* not-null for every column with no missing value in train;
* the set of values of each categorical column and of the label;
* a range for each numeric column, widened by a margin (25 % of train's span by
  default, never below 0 for a column that is never negative in train);
* row counts: no split may be empty, and train's size stays within a tolerance.

Only train is read (one pass, bounded memory: value counts stop past a cap).
Each expectation carries ``meta.severity`` (what a violation costs in the gate)
and ``meta.dataaudit`` (the train figures it was derived from), so a reviewer can
see why a bound is where it is and edit it by hand.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dataaudit.errors import SourceError
from dataaudit.expectations.suite import GX_SEVERITY, META_KEY, TYPE_LISTS, as_text, build_suite, is_textual, plain
from dataaudit.sources.base import ROW, split_order

if TYPE_CHECKING:
    from dataaudit.config import Config
    from dataaudit.sources.base import Dataset

VALUE_CAP = 1_000
"""Distinct values counted per column; past this a column is not categorical."""


@dataclass
class _Column:
    """What one pass over train learns about one column."""

    name: str
    dtypes: set[str] = field(default_factory=set)
    textual: bool = True
    count: int = 0
    nulls: int = 0
    """Nulls (and NaN) as the column is read."""
    numeric_nulls: int = 0
    """Values that would be null once parsed as numbers (nulls, blanks, sentinels, non-numbers)."""
    parse_failures: int = 0
    """Present, non-sentinel strings that are not numbers."""
    parsed: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    integral: bool = True
    values: Counter[Any] | None = field(default_factory=Counter)

    def update(self, s: pl.Series, textual: bool, sentinels: list[str]) -> None:
        self.dtypes.add(str(s.dtype))
        self.textual = self.textual and textual
        n = s.len()
        self.count += n
        nulls = s.null_count()
        if s.dtype.is_float():
            nulls += int(s.is_nan().sum())
        self.nulls += nulls
        if s.dtype == pl.String:
            stripped = s.str.strip_chars()
            numbers = stripped.cast(pl.Float64, strict=False)
            blank = stripped.is_null() | stripped.is_in(sentinels)
            self.parse_failures += int((numbers.is_null() & ~blank).sum())
            self._numbers(numbers)
            self.numeric_nulls += n - int(numbers.is_not_null().sum())
        elif s.dtype.is_numeric():
            numbers = s.cast(pl.Float64)
            if not s.dtype.is_integer():
                numbers = numbers.fill_nan(None)
            self._numbers(numbers)
            self.numeric_nulls += n - int(numbers.is_not_null().sum())
        opaque = s.dtype in (pl.Object, pl.Binary) or s.dtype.is_nested()  # images, arrays, blobs
        if self.values is not None and not opaque:
            counts = s.drop_nulls()
            if s.dtype.is_float():
                counts = counts.drop_nans()
            for value, k in counts.value_counts().iter_rows():
                self.values[value] += int(k)
            if len(self.values) > VALUE_CAP:
                self.values = None
        elif opaque:
            self.values = None

    def _numbers(self, numbers: pl.Series) -> None:
        present = numbers.drop_nulls()
        present = present.filter(present.is_finite())
        if present.len() == 0:
            return
        self.parsed += present.len()
        self.lo = min(self.lo, float(present.min()))  # type: ignore[arg-type]
        self.hi = max(self.hi, float(present.max()))  # type: ignore[arg-type]
        if self.integral:
            self.integral = bool((present == present.floor()).all())

    def family(self, kind: str) -> str | None:
        """Type family of the column as GX will see it (after numeric parsing)."""
        if kind in ("numeric", "integer"):
            return "numeric"
        names = " ".join(sorted(self.dtypes))
        if "Int" in names or "UInt" in names or "Float" in names:
            return "numeric"
        if names == "Boolean":
            return "boolean"
        if "Date" in names or "Time" in names:
            return "datetime"
        if names == "String":
            return "string"
        return None


def _is_numeric_dtype(dtypes: set[str]) -> bool:
    return bool(dtypes) and all(d.startswith(("Int", "UInt", "Float", "Decimal")) for d in dtypes)


def _kind(col: _Column, *, is_label: bool, is_id: bool, max_categories: int) -> str:
    """``integer``, ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``string`` or ``other``."""
    present = col.count - col.nulls
    distinct = None if col.values is None else len(col.values)
    if is_label and distinct is not None:
        # A label with a bounded set of values is a class: hold later splits to that set.
        # A numeric target with many values is a regression target (a range): fractional, or
        # integral with values that rarely repeat (a score, a count), unlike 100 classes in 50,000 rows.
        regression = col.parsed > 0 and distinct > max_categories and (not col.integral or distinct > 0.2 * present)
        if not regression:
            return "categorical"
    if _is_numeric_dtype(col.dtypes):
        return "integer" if col.integral else "numeric"
    if col.dtypes == {"Boolean"}:
        return "boolean"
    if any(d.startswith(("Date", "Time")) for d in col.dtypes):
        return "datetime"
    if col.dtypes != {"String"}:
        return "other"
    # As the profiler does: a text column is numeric when at least 95% of its present values parse.
    if col.textual and col.parsed > 0 and col.parse_failures <= 0.05 * (col.parsed + col.parse_failures) and not is_id:
        return "integer" if col.integral else "numeric"
    if is_id:
        return "string"
    if distinct is not None and distinct <= max_categories and distinct <= max(2.0, 0.5 * present):
        return "categorical"
    return "string"


def _range(col: _Column, margin: float, integral: bool) -> tuple[float, float]:
    lo, hi = col.lo, col.hi
    span = hi - lo
    if span <= 0:
        span = abs(hi) if hi else 1.0
    lo2, hi2 = lo - margin * span, hi + margin * span
    if lo >= 0:
        lo2 = max(0.0, lo2)
    if integral:
        return float(math.floor(lo2)), float(math.ceil(hi2))
    # Round outward to a step a tenth of the margin, so bounds read like 30.1, not 30.19999.
    width = margin * span if margin > 0 else span
    ndigits = -math.floor(math.log10(width / 10)) if width > 0 else 6
    step = 10.0 ** (-ndigits)
    lo3 = round(math.floor(lo2 / step) * step, max(ndigits, 0))
    hi3 = round(math.ceil(hi2 / step) * step, max(ndigits, 0))
    return (max(lo3, 0.0) if lo >= 0 else lo3), hi3


_CANONICAL_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def _sorted_values(values: Counter[Any]) -> list[Any]:
    """The value set, sorted; text that is all plainly written numbers (classes 0..9 in a CSV) as numbers.

    pandas reads such a column as numbers, so only numbers let plain Great Expectations
    accept train; dataaudit matches them against the text of a CSV by value.
    """
    items = [plain(v) for v in values]
    if items and all(isinstance(v, str) and _CANONICAL_NUMBER.fullmatch(v) for v in items):
        items = [int(v) if "." not in v else float(v) for v in items]
    return sorted(items, key=lambda v: (str(type(v).__name__), str(v)))


def _top_counts(values: Counter[Any], n: int = 50) -> dict[str, int]:
    """The ``n`` most frequent values, ties in a fixed order, so regenerating gives the same file."""
    top = sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]
    return {str(plain(k)): int(v) for k, v in top}


def generate_suite(
    source: str | Path,
    config: Config,
    name: str | None = None,
    *,
    margin: float = 0.25,
    max_categories: int = 50,
    row_tolerance: float = 0.5,
) -> dict[str, Any]:
    """Infer an ExpectationSuite from the train split of ``source``; return ``suite.to_json_dict()``.

    ``margin`` widens numeric ranges by that fraction of train's span;
    ``max_categories`` is the most distinct values a string column may have to
    get a value set; ``row_tolerance`` bounds train's row count to
    ``rows * (1 ± row_tolerance)``.
    """
    from dataaudit.sources import open_source

    dataset = open_source(source, config, splits=["train"])
    if not dataset.splits:
        # No split called train: fall back to the reference split (the first one).
        dataset = open_source(source, config)
    if dataset.modality == "image":
        raise SourceError("expectation suites describe tables; this source holds images", str(source))
    reference = sorted(dataset.splits, key=split_order)[0] if "train" not in dataset.splits else "train"
    columns, rows, order = _scan(dataset, reference, config)
    if not order:
        raise SourceError(f"the {reference} split has no readable rows to infer a suite from", str(source))
    suite_name = name or _default_name(source)
    data = _suite_dict(suite_name, dataset, reference, columns, order, rows,
                       margin=margin, max_categories=max_categories, row_tolerance=row_tolerance)
    return dict(build_suite(data, str(source)).to_json_dict())


def _default_name(source: str | Path) -> str:
    text = str(source).rstrip("/")
    if text.startswith("hf://"):
        text = text[5:]
    stem = Path(text).name or "dataset"
    for suffix in (".gz", ".zst", ".csv", ".tsv", ".txt", ".parquet", ".jsonl"):
        stem = stem.removesuffix(suffix)
    return stem or "dataset"


def _scan(dataset: Dataset, reference: str, config: Config) -> tuple[dict[str, _Column], int, list[str]]:
    sentinels = ["", *config.sentinels]
    columns: dict[str, _Column] = {}
    order: list[str] = []
    rows = 0
    skip = set(dataset.exclude_columns) | {ROW}
    fmt = dataset.splits[reference].format if reference in dataset.splits else None
    for batch in dataset.batches():
        if batch.split != reference or batch.frame is None:
            continue
        frame = batch.frame.drop([c for c in skip if c != ROW and c in batch.frame.columns])
        rows += frame.height
        textual = is_textual(frame, fmt)
        if textual:
            frame = as_text(frame)
        for name in frame.columns:
            if name in skip:
                continue
            if name not in columns:
                columns[name] = _Column(name)
                order.append(name)
            columns[name].update(frame[name], textual, sentinels)
    return columns, rows, order


def _suite_dict(
    name: str,
    dataset: Dataset,
    reference: str,
    columns: dict[str, _Column],
    order: list[str],
    rows: int,
    *,
    margin: float,
    max_categories: int,
    row_tolerance: float,
) -> dict[str, Any]:
    label = dataset.label_column
    ids = set(dataset.id_columns)
    kinds = {
        c: _kind(columns[c], is_label=c == label, is_id=c in ids, max_categories=max_categories)
        for c in order
    }
    exps: list[dict[str, Any]] = []
    own: list[dict[str, Any]] = []
    """dataaudit-only rules: their meaning depends on dataaudit's reading of the data or on the split."""

    def add(etype: str, kwargs: dict[str, Any], severity: str, *, portable: bool = True, **figures: Any) -> None:
        meta: dict[str, Any] = {"severity": severity}
        if figures:
            meta[META_KEY] = plain(figures)
        (exps if portable else own).append(
            {"type": etype, "kwargs": kwargs, "meta": meta, "severity": GX_SEVERITY[severity]})

    add("expect_table_columns_to_match_set", {"column_set": list(order), "exact_match": True}, "error",
        rule="the columns of train, no more and no fewer")
    add("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": None}, "error",
        rule="no split is empty")
    lo_rows = max(1, math.floor(rows * (1 - row_tolerance)))
    hi_rows = math.ceil(rows * (1 + row_tolerance))
    add("expect_table_row_count_to_be_between", {"min_value": lo_rows, "max_value": hi_rows}, "warning",
        portable=False, rule=f"train keeps its size within {row_tolerance:.0%}", splits=[reference],
        train_rows=rows)
    for c in order:
        col, kind = columns[c], kinds[c]
        family = col.family(kind)
        if family is not None:
            # A type family is what dataaudit's reading gives (numbers parsed from text, sentinels
            # as missing); a plain pandas reader may type the same file otherwise.
            add("expect_column_values_to_be_in_type_list", {"column": c, "type_list": TYPE_LISTS[family]},
                "error", portable=False, rule=f"values are of the {family} family, as in train")
        nulls = col.numeric_nulls if kind in ("numeric", "integer") and col.dtypes == {"String"} else col.nulls
        if nulls == 0 and col.count > 0:
            add("expect_column_values_to_not_be_null", {"column": c}, "error",
                rule="train has no missing value here", train_rows=col.count)
        if kind == "categorical" and col.values is not None:
            is_label = c == label
            add("expect_column_values_to_be_in_set", {"column": c, "value_set": _sorted_values(col.values)},
                "error" if is_label else "warning",
                rule="the classes of train" if is_label else "the categories seen in train",
                train_counts=_top_counts(col.values))
        elif kind == "boolean" and col.values is not None:
            add("expect_column_values_to_be_in_set", {"column": c, "value_set": _sorted_values(col.values)},
                "warning", rule="the values seen in train")
        elif kind in ("numeric", "integer") and col.parsed and c not in ids:
            lo, hi = _range(col, margin, kind == "integer")
            add("expect_column_values_to_be_between", {"column": c, "min_value": lo, "max_value": hi}, "warning",
                rule=f"train's range widened by {margin:.0%} of its span", train_min=col.lo, train_max=col.hi)
    meta = {
        META_KEY: {
            "generated_by": "dataaudit expectations generate",
            "source": dataset.source,
            "reference_split": reference,
            "rows": rows,
            "label_column": label,
            "columns": kinds,
            "margin": margin,
            "max_categories": max_categories,
            "expectations": own,
        }
    }
    return {
        "name": name,
        "expectations": exps,
        "meta": meta,
        "notes": (
            f"Inferred by dataaudit from the {reference} split of {dataset.source}. "
            "Each expectation's meta.severity (error, warning, info) decides whether a violation fails "
            "the gate; meta.dataaudit.splits limits an expectation to some splits. `expectations` run in "
            "plain Great Expectations on any split; meta.dataaudit.expectations (type families as "
            "dataaudit reads the data, split-scoped row counts) only in dataaudit. Edit freely."
        ),
    }
