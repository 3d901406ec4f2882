"""The single pass over a table split: batches in, :class:`SplitStats` out.

Per batch, one polars ``select`` computes every column's aggregates at once (so
polars parallelises across columns); value counts, examples and hashes follow.
Delimited files arrive as text: each column's numeric view is what parses as a
number, and what does not parse is counted (and shown) rather than coerced.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from dataaudit.profile.columns import VALUE_CAP, ColumnStats
from dataaudit.profile.labels import LABEL_CAP, LabelStats
from dataaudit.profile.sample import RowSample
from dataaudit.profile.split import SplitStats
from dataaudit.sources.base import ROW, Batch, Dataset

if TYPE_CHECKING:
    from dataaudit.config import Config

HASH_SEED = 0x0DA7A
NUMERIC_SENTINELS = (-999.0, -9999.0, -99999.0)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum)


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def normalised_text(expr: pl.Expr) -> pl.Expr:
    """Case-folded, NFKC, whitespace-collapsed text: what near-duplicate text compares."""
    return (
        expr.cast(pl.String)
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def hash_columns(df: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Content hash of each row over ``columns`` with types made comparable across splits."""
    exprs = []
    for c in columns:
        dt = df.schema[c]
        if _is_text(dt):
            exprs.append(pl.col(c).cast(pl.String))
        elif _is_numeric(dt):
            exprs.append(pl.col(c).cast(pl.Float64).cast(pl.String))
        elif dt.is_nested():
            exprs.append(pl.col(c))
        else:
            exprs.append(pl.col(c).cast(pl.String))
    return df.select(exprs).hash_rows(seed=HASH_SEED).to_numpy()


class TableSplitProfiler:
    """Consumes the batches of one table split."""

    def __init__(self, split: str, dataset: Dataset, config: Config) -> None:
        self.cap = max(50, config.max_examples)
        self.stats = SplitStats(name=split, kind="table", sample=RowSample(k=config.sample_size))
        self.label = dataset.label_column
        self.text = dataset.text_column
        self.id_columns = set(dataset.id_columns)
        self.exclude = set(dataset.exclude_columns)
        self.sentinels = list(config.sentinels)
        numeric_sentinels = []
        for tok in config.sentinels:
            try:
                numeric_sentinels.append(float(tok))
            except ValueError:
                pass
        self.numeric_sentinels = numeric_sentinels or list(NUMERIC_SENTINELS)
        if self.label:
            self.stats.labels = LabelStats(example_cap=self.cap)

    # -- public ----------------------------------------------------------------------
    def update(self, batch: Batch) -> None:
        s = self.stats
        if batch.path and batch.path not in s.files:
            s.files.append(batch.path)
        if batch.columns is not None:
            s.file_columns[batch.path] = list(batch.columns)
        if batch.records:
            s.add_record_problems(batch.records)
        s.file_problems += batch.files
        s.bytes_read += batch.nbytes
        df = batch.frame
        if df is None or df.height == 0:
            return
        drop = [c for c in self.exclude if c in df.columns]
        if drop:
            df = df.drop(drop)
        s.rows += df.height
        self._columns(df)
        self._hashes(df)
        if self.label and self.label in df.columns and s.labels is not None:
            self._labels(df)
        s.sample.update(df)

    def result(self) -> SplitStats:
        return self.stats

    # -- columns -----------------------------------------------------------------------
    def _column(self, name: str) -> ColumnStats:
        col = self.stats.columns.get(name)
        if col is None:
            col = self.stats.columns[name] = ColumnStats(name, example_cap=self.cap)
        return col

    def _aggregates(self, df: pl.DataFrame, cols: list[str]) -> dict[str, Any]:
        exprs: list[pl.Expr] = []
        for i, c in enumerate(cols):
            dt = df.schema[c]
            raw = pl.col(c)
            k = f"{i}_"
            if _is_text(dt):
                st = raw.cast(pl.String).str.strip_chars()
                sent = st.is_in(self.sentinels)
                num = st.cast(pl.Float64, strict=False)
                valid = num.is_not_null() & ~sent
                finite = num.filter(valid & num.is_finite())
                length = raw.cast(pl.String).str.len_chars()
                exprs += [
                    raw.null_count().alias(k + "nulls"),
                    (st == "").sum().alias(k + "empty"),
                    sent.sum().alias(k + "sent"),
                    pl.lit(0).alias(k + "nan"),
                    (valid & ~num.is_finite() & ~num.is_nan()).sum().alias(k + "inf"),
                    (st.is_not_null() & (st != "") & ~sent & num.is_null()).sum().alias(k + "nonnum"),
                    finite.len().alias(k + "n"),
                    finite.mean().alias(k + "mean"),
                    finite.var(ddof=0).alias(k + "var"),
                    finite.min().alias(k + "min"),
                    finite.max().alias(k + "max"),
                    (finite == finite.floor()).all().alias(k + "int"),
                    length.len().alias(k + "ln"),
                    length.cast(pl.Float64).mean().alias(k + "lmean"),
                    length.cast(pl.Float64).var(ddof=0).alias(k + "lvar"),
                    length.min().cast(pl.Float64).alias(k + "lmin"),
                    length.max().cast(pl.Float64).alias(k + "lmax"),
                    raw.n_unique().alias(k + "nuniq"),
                ]
            elif _is_numeric(dt):
                num = raw.cast(pl.Float64)
                sent = num.is_in(self.numeric_sentinels)
                finite = num.filter(num.is_finite() & ~sent)
                exprs += [
                    raw.null_count().alias(k + "nulls"),
                    pl.lit(0).alias(k + "empty"),
                    sent.sum().alias(k + "sent"),
                    num.is_nan().sum().alias(k + "nan"),
                    num.is_infinite().sum().alias(k + "inf"),
                    pl.lit(0).alias(k + "nonnum"),
                    finite.len().alias(k + "n"),
                    finite.mean().alias(k + "mean"),
                    finite.var(ddof=0).alias(k + "var"),
                    finite.min().alias(k + "min"),
                    finite.max().alias(k + "max"),
                    (finite == finite.floor()).all().alias(k + "int"),
                    raw.n_unique().alias(k + "nuniq"),
                ]
            else:
                exprs += [
                    raw.null_count().alias(k + "nulls"),
                    raw.n_unique().alias(k + "nuniq"),
                ]
        row = df.select(exprs).row(0, named=True)
        return row

    def _columns(self, df: pl.DataFrame) -> None:
        cols = [c for c in df.columns if c != ROW]
        agg = self._aggregates(df, cols)
        n = df.height
        for i, c in enumerate(cols):
            k = f"{i}_"
            col = self._column(c)
            dt = df.schema[c]
            col.dtypes.add(str(dt))
            col.count += n
            col.nulls += int(agg[k + "nulls"] or 0)
            col.empty += int(agg.get(k + "empty") or 0)
            col.nan += int(agg.get(k + "nan") or 0)
            col.infinite += int(agg.get(k + "inf") or 0)
            col.non_numeric += int(agg.get(k + "nonnum") or 0)
            sent = int(agg.get(k + "sent") or 0)
            cnt = int(agg.get(k + "n") or 0)
            if cnt:
                col.numeric.add_summary(cnt, float(agg[k + "mean"]), float(agg[k + "var"] or 0.0),
                                        float(agg[k + "min"]), float(agg[k + "max"]))
                if agg.get(k + "int") is False:
                    col.integral = False
            if agg.get(k + "ln"):
                col.text_len.add_summary(int(agg[k + "ln"]), float(agg[k + "lmean"]), float(agg[k + "lvar"] or 0.0),
                                         float(agg[k + "lmin"]), float(agg[k + "lmax"]))
            is_text = _is_text(dt)
            st = pl.col(c).cast(pl.String).str.strip_chars() if is_text else pl.col(c)
            missing_expr = self._missing_expr(c, dt)
            missing_here = int(agg[k + "nulls"] or 0) + int(agg.get(k + "empty") or 0) + int(agg.get(k + "nan") or 0) + sent
            if missing_here and len(col.missing_rows) < col.example_cap:
                rows = df.filter(missing_expr).get_column(ROW).head(col.example_cap).to_list()
                col.missing_rows = sorted(set(col.missing_rows) | set(rows))[: col.example_cap]
            if sent:
                if is_text:
                    vc = df.select(st.alias("v")).filter(pl.col("v").is_in(self.sentinels))["v"].value_counts()
                else:
                    vc = df.select(pl.col(c).cast(pl.Float64).alias("v")).filter(
                        pl.col("v").is_in(self.numeric_sentinels))["v"].value_counts()
                for v, count in vc.iter_rows():
                    col.sentinels[_fmt(v)] += int(count)
            if is_text and int(agg.get(k + "nonnum") or 0) and len(col.non_numeric_examples) < col.example_cap:
                bad = df.filter(
                    st.is_not_null() & (st != "") & ~st.is_in(self.sentinels)
                    & st.cast(pl.Float64, strict=False).is_null()
                ).select(ROW, pl.col(c).cast(pl.String)).head(col.example_cap)
                have = dict(col.non_numeric_examples)
                for r, v in bad.iter_rows():
                    have.setdefault(int(r), str(v))
                col.non_numeric_examples = sorted(have.items())[: col.example_cap]
            self._values(df, c, col, int(agg[k + "nuniq"] or 0), missing_expr)

    def _missing_expr(self, c: str, dt: pl.DataType) -> pl.Expr:
        raw = pl.col(c)
        if _is_text(dt):
            st = raw.cast(pl.String).str.strip_chars()
            return raw.is_null() | (st == "") | st.is_in(self.sentinels)
        if _is_numeric(dt):
            num = raw.cast(pl.Float64)
            return raw.is_null() | num.is_nan() | num.is_in(self.numeric_sentinels)
        return raw.is_null()

    def _values(self, df: pl.DataFrame, c: str, col: ColumnStats, n_unique: int, missing: pl.Expr) -> None:
        col.distinct_lower_bound = max(col.distinct_lower_bound, n_unique - 1)
        if col.values is None:
            return
        if n_unique > VALUE_CAP or len(col.values) + n_unique > 4 * VALUE_CAP:
            col.values = None
            return
        vc = df.filter(~missing).get_column(c)
        if not _is_text(df.schema[c]):
            vc = vc.cast(pl.String) if not df.schema[c].is_nested() else vc.cast(pl.String, strict=False)
        counts = vc.value_counts()
        col.values.update({str(v): int(n) for v, n in counts.iter_rows()})
        if len(col.values) > VALUE_CAP:
            col.values = None
        else:
            col.distinct_lower_bound = len(col.values)

    # -- hashes and labels ----------------------------------------------------------------
    def _hashes(self, df: pl.DataFrame) -> None:
        features = [c for c in df.columns if c not in (ROW, self.label) and c not in self.id_columns]
        if not features:
            return
        content = hash_columns(df, features)
        label = None
        if self.label and self.label in df.columns:
            label = df.get_column(self.label).cast(pl.String).hash(HASH_SEED).to_numpy()
        norm = None
        if self.text and self.text in df.columns:
            norm = df.select(normalised_text(pl.col(self.text)).hash(HASH_SEED)).to_series().to_numpy()
        self.stats.hashes.add(df.get_column(ROW).to_numpy(), content, label, norm)

    def _labels(self, df: pl.DataFrame) -> None:
        labels = self.stats.labels
        assert labels is not None and self.label is not None
        col = df.get_column(self.label).cast(pl.String)
        present = df.select(ROW, col.alias("y")).filter(pl.col("y").is_not_null() & (pl.col("y").str.strip_chars() != ""))
        miss = df.height - present.height
        if miss:
            labels.missing += miss
            if len(labels.missing_rows) < labels.example_cap:
                rows = df.filter(col.is_null() | (col.str.strip_chars() == "")).get_column(ROW).head(labels.example_cap)
                labels.missing_rows = sorted(set(labels.missing_rows) | set(rows.to_list()))[: labels.example_cap]
        if labels.counts is None:
            return
        if present.get_column("y").n_unique() > LABEL_CAP:
            labels.counts = None
            return
        grouped = present.group_by("y", maintain_order=True).agg(
            pl.len().alias("n"), pl.col(ROW).head(labels.example_cap).alias("rows"))
        counts: dict[str, int] = {}
        first: dict[str, list[int]] = {}
        for value, n, rows in grouped.iter_rows():
            counts[value] = int(n)
            first[value] = list(rows)
        labels.add_counts(Counter(counts), first)
        names: dict[int, str] = self.stats.extra.setdefault("label_names", {})
        if len(names) < 10_000:
            values = grouped.get_column("y")
            for h, v in zip(values.hash(HASH_SEED).to_list(), values.to_list()):
                names[int(h)] = v


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
