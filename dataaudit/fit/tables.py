"""Fitting a table's preprocessing from the streamed batches of its train split.

One pass, bounded memory. Values are read the way the profiler reads them
(:mod:`dataaudit.profile.table`): text is stripped; nulls, empty strings and
sentinel tokens (``NA``, ``?``, ``-999``, ...) are missing; in text columns what
parses as a number is the numeric view. Per column we keep exact moments (for
mean/std), a quantile sketch (for the median and IQR; exact up to 32,768 values,
see :mod:`dataaudit.fit.sketch`) and value counts (exact up to
:data:`COUNT_CAP` distinct values, then pruned to the most frequent).

Column kinds (overridable with ``categorical``/``numeric``/``drop``):

* numeric: at least 95 % of the present values parse as numbers (as the
  profiler decides); NaN, infinities and unparseable text are imputed;
* categorical: the rest, and boolean columns;
* dropped, with the reason written in the artefact: the label, id columns, the
  text column of a text dataset, temporal/nested/binary columns, columns with no
  present value, and high-cardinality strings (more distinct values than the
  vocabulary cap and at least half of the rows distinct: ids or free text).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl
import xxhash

from dataaudit.errors import SourceError, UsageError
from dataaudit.fit.artefact import (
    Artefact,
    CategoricalColumn,
    Column,
    LabelMap,
    NumericColumn,
    TablePlan,
    canonical_fingerprint,
)
from dataaudit.fit.sketch import QuantileSketch
from dataaudit.profile.moments import Moments
from dataaudit.sources.base import ROW, Dataset

if TYPE_CHECKING:
    from dataaudit.config import Config

COUNT_CAP = 100_000
"""Distinct values counted exactly per column; past it the counts keep the most frequent half."""
LABEL_CAP = 50_000
NUMERIC_SHARE = 0.95
REGRESSION_MIN_DISTINCT = 200
"""``task="auto"``: a numeric label with more distinct values than this (or non-integers) is a regression target."""


def is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum)


def numeric_sentinels(sentinels: list[str]) -> list[float]:
    """The sentinel tokens that are numbers (``-999``): missing in numeric-typed columns."""
    out: list[float] = []
    for tok in sentinels:
        try:
            value = float(tok)
        except ValueError:
            continue
        if np.isfinite(value) and value not in out:
            out.append(value)
    return out


_Col = TypeVar("_Col", pl.Series, pl.Expr)


def text_missing(st: _Col, num: _Col, sentinels: list[str], num_sentinels: list[float]) -> _Col:
    """Which stripped text values ``st`` (parsed as ``num``, null where not a number) are missing.

    Null, empty, a sentinel token, NaN, or a number equal to a numeric sentinel: the
    text ``"-999.000000"`` is the sentinel ``-999`` written another way, and fitting,
    the transforms and ``validate`` must all read it as missing, as they read the
    number ``-999``.
    """
    missing = st.is_null() | (st == "") | st.is_in(sentinels) | num.is_nan().fill_null(False)
    if num_sentinels:
        missing = missing | num.is_in(num_sentinels).fill_null(False)
    return missing


@dataclass
class _ColumnState:
    name: str
    dtypes: set[str] = field(default_factory=set)
    count: int = 0
    missing: int = 0
    infinite: int = 0
    non_numeric: int = 0
    moments: Moments = field(default_factory=Moments)
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    counts: Counter[str] = field(default_factory=Counter)
    exact_counts: bool = True
    forced_categorical: bool = False
    counting: bool = True
    """False once a mostly-numeric text column passed COUNT_CAP distinct values: its
    strings are no vocabulary, and counting them would only cost time and memory."""
    distinct_lower_bound: int = 0
    text: bool = False
    boolean: bool = False
    unsupported: str | None = None

    @property
    def present(self) -> int:
        return self.count - self.missing

    def add_counts(self, values: pl.Series) -> None:
        if not self.counting:
            self.distinct_lower_bound = max(self.distinct_lower_bound, values.n_unique())
            return
        vc = values.value_counts()
        self.counts.update({str(v): int(n) for v, n in vc.iter_rows()})
        self.distinct_lower_bound = max(self.distinct_lower_bound, len(self.counts))
        if len(self.counts) > COUNT_CAP:
            # Space-bounded: keep the most frequent half. Vocabularies are capped far
            # below this, so the kept counts still rank the vocabulary correctly unless
            # the column is high-cardinality, which drops it anyway.
            self.counts = Counter(dict(self.counts.most_common(COUNT_CAP // 2)))
            self.exact_counts = False
            numeric = self.moments.count + self.infinite >= NUMERIC_SHARE * max(self.present, 1)
            if numeric and not self.forced_categorical:
                self.counting = False
                self.counts = Counter()


class TableFitter:
    """Consumes the train batches of a table and builds its :class:`TablePlan`."""

    def __init__(self, dataset: Dataset, config: Config, options: dict[str, Any]) -> None:
        self.dataset = dataset
        self.options = options
        self.sentinels = list(config.sentinels)
        self.num_sentinels = numeric_sentinels(self.sentinels)
        self.label = dataset.label_column
        self.skip = set(dataset.exclude_columns) | {ROW}
        self.forced_cat = set(options.get("categorical", []))
        self.forced_num = set(options.get("numeric", []))
        both = self.forced_cat & self.forced_num
        if both:
            raise UsageError(f"column(s) {', '.join(sorted(both))} cannot be both categorical and numeric")
        self.columns: dict[str, _ColumnState] = {}
        self.rows = 0
        self.batches = 0
        self.malformed = 0
        self.bad_files: list[str] = []
        self.label_counts: Counter[str] | None = Counter()
        self.label_missing = 0

    # -- streaming -------------------------------------------------------------------
    def update(self, df: pl.DataFrame) -> None:
        df = df.drop([c for c in df.columns if c in self.skip])
        if df.height == 0 and not df.columns:
            return
        self.rows += df.height
        self.batches += 1
        for name in df.columns:
            state = self.columns.get(name)
            if state is None:
                state = self.columns[name] = _ColumnState(name, forced_categorical=name in self.forced_cat)
            if name == self.label:
                state.count += df.height
                self._label(df.get_column(name))
                continue
            self._column(state, df.get_column(name))

    def _column(self, state: _ColumnState, s: pl.Series) -> None:
        dt = s.dtype
        state.dtypes.add(str(dt))
        state.count += s.len()
        if is_text(dt):
            state.text = True
            st = s.cast(pl.String).str.strip_chars()
            num = st.cast(pl.Float64, strict=False)
            missing = text_missing(st, num, self.sentinels, self.num_sentinels)
            present_num = num.filter(~missing & num.is_not_null())
            state.non_numeric += int((~missing & num.is_null()).sum())
            state.missing += int(missing.sum())
            self._numeric(state, present_num)
            state.add_counts(st.filter(~missing))
        elif dt == pl.Boolean:
            state.boolean = True
            missing = s.is_null()
            state.missing += int(missing.sum())
            state.add_counts(s.filter(~missing).cast(pl.String))
        elif dt.is_numeric():
            num = s.cast(pl.Float64)
            missing = num.is_null() | num.is_nan().fill_null(False)
            if self.num_sentinels:
                missing = missing | num.is_in(self.num_sentinels).fill_null(False)
            state.missing += int(missing.sum())
            self._numeric(state, num.filter(~missing))
            if state.name in self.forced_cat:
                state.add_counts(s.filter(~missing).cast(pl.String))
        else:
            state.unsupported = str(dt)
            state.missing += int(s.null_count())

    def _numeric(self, state: _ColumnState, num: pl.Series) -> None:
        arr = num.to_numpy()
        finite = arr[np.isfinite(arr)]
        state.infinite += int(arr.size - finite.size)
        if finite.size:
            state.moments.add_summary(
                int(finite.size), float(finite.mean()), float(finite.var()), float(finite.min()), float(finite.max())
            )
            state.sketch.update(finite)

    def _label(self, s: pl.Series) -> None:
        st = s.cast(pl.String)
        missing = st.is_null() | (st.str.strip_chars() == "")
        self.label_missing += int(missing.sum())
        if self.label_counts is None:
            return
        vc = st.filter(~missing).value_counts()
        self.label_counts.update({str(v): int(n) for v, n in vc.iter_rows()})
        if len(self.label_counts) > LABEL_CAP:
            self.label_counts = None

    # -- result ----------------------------------------------------------------------
    def plan(self) -> tuple[TablePlan, LabelMap | None, dict[str, Any]]:
        opts = self.options
        known = set(self.columns)
        for flag in ("categorical", "numeric", "drop"):
            if self.label is not None and self.label in opts.get(flag, []):
                raise UsageError(f"--{flag} names the label column {self.label!r}; the label is never a feature")
            missing = sorted(set(opts.get(flag, [])) - known)
            if missing:
                raise UsageError(
                    f"--{flag} names column(s) not in the train split: {', '.join(missing)}; "
                    f"columns: {', '.join(self.columns)}"
                )
        ids = set(self.dataset.id_columns)
        columns: list[Column] = []
        dropped: dict[str, str] = {}
        for name, st in self.columns.items():
            reason = self._drop_reason(name, st, ids)
            if reason is not None:
                dropped[name] = reason
                continue
            numeric = name in self.forced_num or (
                name not in self.forced_cat
                and not st.boolean
                and st.moments.count > 0
                and st.moments.count + st.infinite >= NUMERIC_SHARE * st.present
            )
            if numeric:
                if st.moments.count == 0:
                    dropped[name] = "no finite numeric value in train"
                    continue
                columns.append(self._numeric_column(st))
            else:
                distinct = len(st.counts) if st.exact_counts else st.distinct_lower_bound
                if not st.counting:
                    dropped[name] = (
                        f"high cardinality: more than {COUNT_CAP} distinct values, mostly but not "
                        f"{NUMERIC_SHARE:.0%} numeric (use --numeric to keep it as a number)"
                    )
                    continue
                if (
                    name not in self.forced_cat
                    and distinct > int(opts["max_categories"])
                    and distinct >= 0.5 * st.present
                ):
                    dropped[name] = (
                        f"high cardinality: {distinct} distinct values in {st.present} present rows "
                        "(an id or free text; use --categorical to keep it)"
                    )
                    continue
                columns.append(self._categorical_column(st))
        plan = TablePlan(
            columns=columns,
            scaling=opts["scaling"],
            impute=opts["impute"],
            encoding=opts["categories"],
            sentinels=list(self.sentinels),
            dropped=dropped,
            input_columns=list(self.columns),
        )
        return plan, self._label_map(), self._fingerprint_stats()

    def _drop_reason(self, name: str, st: _ColumnState, ids: set[str]) -> str | None:
        if name == self.label:
            return "label"
        if name in set(self.options.get("drop", [])):
            return "dropped on request (--drop)"
        if name in self.forced_cat or name in self.forced_num:
            if st.unsupported:
                raise UsageError(f"column {name!r} has type {st.unsupported}, which cannot be encoded")
            return None
        if name in ids:
            return "id column (row identifiers carry no signal; --numeric/--categorical keeps it)"
        if name == self.dataset.text_column:
            return "text column (free text needs a tokenizer, not this transform)"
        if st.unsupported:
            return f"type {st.unsupported} is not encoded (cast it to a number or a string first)"
        if st.present <= 0:
            return "every train value is missing"
        return None

    def _numeric_column(self, st: _ColumnState) -> NumericColumn:
        opts = self.options
        q25, median, q75 = st.sketch.quantiles([0.25, 0.5, 0.75])
        mean, std = st.moments.mean, st.moments.std()
        if opts["scaling"] == "standard":
            center, scale = mean, std
        elif opts["scaling"] == "robust":
            center, scale = median, q75 - q25
        else:
            center, scale = 0.0, 1.0
        if not np.isfinite(scale) or scale <= 0:
            # a constant column maps to 0 rather than dividing by zero (as scikit-learn does)
            scale = 1.0
        fill = median if opts["impute"] == "median" else mean
        imputed = st.missing + st.infinite + st.non_numeric
        return NumericColumn(
            name=st.name, fill=float(fill), center=float(center), scale=float(scale),
            count=st.moments.count, missing_fraction=imputed / st.count if st.count else 0.0,
            mean=float(mean), std=float(std), median=float(median), q25=float(q25), q75=float(q75),
            min=float(st.moments.min), max=float(st.moments.max), quantiles_exact=st.sketch.exact,
        )  # fmt: skip

    def _categorical_column(self, st: _ColumnState) -> CategoricalColumn:
        opts = self.options
        ranked = sorted(st.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        vocab = [v for v, n in ranked if n >= int(opts["min_frequency"])][: int(opts["max_categories"])]
        if not vocab and ranked:
            vocab = [ranked[0][0]]
        present = st.present
        kept = sum(st.counts[v] for v in vocab)
        return CategoricalColumn(
            name=st.name,
            fill=vocab[0] if vocab else "",
            vocabulary=vocab,
            count=present,
            missing_fraction=st.missing / st.count if st.count else 0.0,
            unknown_fraction=max(0.0, 1.0 - kept / present) if present else 0.0,
            distinct=len(st.counts) if st.exact_counts else st.distinct_lower_bound,
            exact_counts=st.exact_counts,
        )

    def _label_map(self) -> LabelMap | None:
        if self.label is None:
            return None
        task = self.options.get("task", "auto")
        counts = self.label_counts
        if counts is None:
            if task == "classification":
                raise UsageError(f"label {self.label!r} has more than {LABEL_CAP} distinct values")
            self.options["task"] = "regression"
            return None
        numbers = _as_numbers(list(counts))
        if task == "auto":
            regression = numbers is not None and (
                any(not float(x).is_integer() for x in numbers) or len(counts) > REGRESSION_MIN_DISTINCT
            )
            task = "regression" if regression else "classification"
        self.options["task"] = task
        self.options["label_column"] = self.label
        if task == "regression":
            if numbers is None:
                bad = next(iter(v for v in counts if _as_numbers([v]) is None), "")
                raise UsageError(
                    f"--task regression: label {self.label!r} holds values that are not finite numbers "
                    f"(e.g. {bad!r}); use --task classification"
                )
            return None
        return LabelMap(self.label, sort_classes(list(counts)))

    def _fingerprint_stats(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for name, st in self.columns.items():
            digest = xxhash.xxh3_64_hexdigest(
                "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(st.counts.items())).encode("utf-8")
            )
            m = st.moments
            cols[name] = {
                "dtypes": sorted(st.dtypes), "count": st.count, "missing": st.missing,
                "infinite": st.infinite, "non_numeric": st.non_numeric,
                "moments": [m.count, m.mean, m.m2, m.min, m.max] if m.count else None,
                "values": digest, "distinct": st.distinct_lower_bound,
            }  # fmt: skip
        labels = None if self.label_counts is None else sorted(self.label_counts.items())
        return {"rows": self.rows, "columns": cols, "labels": labels, "label_missing": self.label_missing}


def _as_numbers(values: list[str]) -> list[float] | None:
    out: list[float] = []
    for v in values:
        try:
            f = float(v)
        except ValueError:
            return None
        if not np.isfinite(f):
            return None
        out.append(f)
    return out


def sort_classes(names: list[str]) -> list[str]:
    """Class names in index order: numerically when every name is an integer
    (so ``"2" < "10"`` and class ``k`` gets index ``k`` for ``0..K-1``), else as strings."""
    numbers = _as_numbers(names)
    if numbers is not None and all(float(x).is_integer() for x in numbers):
        return [n for _, n in sorted(zip(numbers, names))]
    return sorted(names)


def fit_table(dataset: Dataset, config: Config, options: dict[str, Any]) -> Artefact:
    """Stream the train split of ``dataset`` and return its fitted artefact."""
    fitter = TableFitter(dataset, config, options)
    seen_train = False
    for batch in dataset.batches():
        if batch.split != "train":
            # open_source(splits=["train"]) already filters; this guards the contract
            continue
        seen_train = True
        fitter.malformed += len(batch.records)
        fitter.bad_files += [f.path for f in batch.files]
        if batch.frame is not None:
            fitter.update(batch.frame)
    if not seen_train or not fitter.columns:
        raise SourceError("the train split has no readable rows to fit on", dataset.source)
    plan, label, stats = fitter.plan()
    if fitter.malformed:
        options["malformed_rows_skipped"] = fitter.malformed
    if fitter.bad_files:
        options["unreadable_files"] = sorted(fitter.bad_files)[:20]
    return Artefact(
        modality=dataset.modality if dataset.modality in ("table", "text") else "table",
        source=dataset.source,
        fingerprint=canonical_fingerprint(stats),
        items=fitter.rows,
        table=plan,
        label=label,
        options=options,
    )
