"""The single pass over a table split: batches in, :class:`SplitStats` out.

Per batch, one polars ``select`` computes every column's aggregates at once (so
polars parallelises across columns); value counts, examples and hashes follow.
Delimited files arrive as text: each column's numeric view is what parses as a
number, and what does not parse is counted (and shown) rather than coerced.
"""

from __future__ import annotations

import math
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


def normalised_text(expr: pl.Expr, unicode: bool = True) -> pl.Expr:
    """Case-folded, NFKC, whitespace-collapsed text: what near-duplicate text compares.

    ``unicode=False`` skips NFKC, which is the identity on ASCII text (the
    profiler checks each batch for non-ASCII characters first).
    """
    text = expr.cast(pl.String)
    if unicode:
        text = text.str.normalize("NFKC")
    return text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def hash_columns(df: pl.DataFrame, columns: list[str], numeric_like: set[str] | frozenset[str] = frozenset()) -> np.ndarray:
    """Content hash of each row over ``columns`` with types made comparable across splits.

    Numbers hash as their Float64 text, whether read typed or as text (for the
    columns in ``numeric_like``, which were typed in some batch), so ``5`` in a
    typed chunk and ``"5"`` in a chunk read as text are the same content.
    """
    exprs = []
    for c in columns:
        dt = df.schema[c]
        if _is_text(dt) and c in numeric_like:
            text = pl.col(c).cast(pl.String)
            exprs.append(pl.coalesce(text.str.strip_chars().cast(pl.Float64, strict=False).cast(pl.String), text))
        elif _is_text(dt):
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
        self.typed = frozenset(dataset.typed_columns)
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
        """Every column's aggregates in one select over columns derived once.

        The stripped text, its numeric parse and the sentinel flags are
        materialised first: aggregating plain columns is about 20x faster than
        letting each aggregate re-derive them.
        """
        derive: list[pl.Expr] = []
        for i, c in enumerate(cols):
            dt = df.schema[c]
            if _is_text(dt):
                st = pl.col(c).cast(pl.String).str.strip_chars()
                derive += [st.alias(f"s{i}")]
            elif _is_numeric(dt):
                derive += [pl.col(c).cast(pl.Float64).alias(f"n{i}")]
        d = df.select(derive) if derive else pl.DataFrame()
        flags: list[pl.Expr] = []
        for i, c in enumerate(cols):
            dt = df.schema[c]
            if _is_text(dt):
                flags += [pl.col(f"s{i}").is_in(self.sentinels).alias(f"t{i}"),
                          pl.col(f"s{i}").cast(pl.Float64, strict=False).alias(f"n{i}"),
                          pl.col(f"s{i}").str.len_chars().cast(pl.Float64).alias(f"l{i}")]
            elif _is_numeric(dt):
                flags += [pl.col(f"n{i}").is_in(self.numeric_sentinels).alias(f"t{i}")]
        if flags:
            d = d.with_columns(flags)
        d = pl.concat([d, df.select(cols).rename({c: f"r{i}" for i, c in enumerate(cols)})], how="horizontal")
        exprs: list[pl.Expr] = []
        for i, c in enumerate(cols):
            dt = df.schema[c]
            raw = pl.col(f"r{i}")
            k = f"{i}_"
            if _is_text(dt) or _is_numeric(dt):
                num, sent = pl.col(f"n{i}"), pl.col(f"t{i}")
                finite = num.filter(num.is_finite() & ~sent)
                exprs += [
                    raw.null_count().alias(k + "nulls"),
                    sent.sum().alias(k + "sent"),
                    finite.len().alias(k + "n"),
                    finite.mean().alias(k + "mean"),
                    finite.var(ddof=0).alias(k + "var"),
                    finite.min().alias(k + "min"),
                    finite.max().alias(k + "max"),
                    (finite == finite.floor()).all().alias(k + "int"),
                    raw.n_unique().alias(k + "nuniq"),
                ]
            if _is_text(dt):
                st, num, sent, length = pl.col(f"s{i}"), pl.col(f"n{i}"), pl.col(f"t{i}"), pl.col(f"l{i}")
                exprs += [
                    (st == "").sum().alias(k + "empty"),
                    pl.lit(0).alias(k + "nan"),
                    (num.is_infinite() & ~sent).sum().alias(k + "inf"),
                    (st.is_not_null() & (st != "") & ~sent & num.is_null()).sum().alias(k + "nonnum"),
                    length.count().alias(k + "ln"),
                    length.mean().alias(k + "lmean"),
                    length.var(ddof=0).alias(k + "lvar"),
                    length.min().alias(k + "lmin"),
                    length.max().alias(k + "lmax"),
                ]
            elif _is_numeric(dt):
                num = pl.col(f"n{i}")
                exprs += [
                    pl.lit(0).alias(k + "empty"),
                    num.is_nan().sum().alias(k + "nan"),
                    num.is_infinite().sum().alias(k + "inf"),
                    pl.lit(0).alias(k + "nonnum"),
                ]
            else:
                exprs += [raw.null_count().alias(k + "nulls"), raw.n_unique().alias(k + "nuniq")]
        return d.select(exprs).row(0, named=True)

    def _from_counts(self, values: list[Any], counts: list[int]) -> tuple[dict[str, Any], Counter[str], list[str]]:
        """The aggregates of a low-cardinality text column, computed once per distinct value.

        Returns the aggregates (same keys as :meth:`_aggregates`, prefix-free),
        the sentinel counts and the distinct values that are not numbers.
        """
        sentinel_set = set(self.sentinels)
        out: dict[str, Any] = {"nulls": 0, "empty": 0, "sent": 0, "nan": 0, "inf": 0, "nonnum": 0,
                               "nuniq": len(values)}
        sentinels: Counter[str] = Counter()
        non_numeric: list[str] = []
        xs: list[float] = []
        ws: list[int] = []
        lens: list[int] = []
        lws: list[int] = []
        for v, n in zip(values, counts):
            if v is None:
                out["nulls"] += n
                continue
            lens.append(len(v))
            lws.append(n)
            st = v.strip()
            if not st:
                out["empty"] += n
            elif st in sentinel_set:
                out["sent"] += n
                sentinels[st] += n
            else:
                try:
                    x = float(st) if "_" not in st else float("x")
                except ValueError:
                    out["nonnum"] += n
                    non_numeric.append(v)
                    continue
                if math.isinf(x):
                    out["inf"] += n
                elif not math.isnan(x):
                    xs.append(x)
                    ws.append(n)
        if ws:
            xa = np.asarray(xs, dtype=np.float64)
            w = np.asarray(ws, dtype=np.float64)
            mean = float(np.average(xa, weights=w))
            out.update(n=int(w.sum()), mean=mean, var=float(np.average((xa - mean) ** 2, weights=w)),
                       min=float(xa.min()), max=float(xa.max()), int=bool(np.all(xa == np.floor(xa))))
        if lws:
            ln = np.asarray(lens, dtype=np.float64)
            lw = np.asarray(lws, dtype=np.float64)
            lmean = float(np.average(ln, weights=lw))
            out.update(ln=int(lw.sum()), lmean=lmean, lvar=float(np.average((ln - lmean) ** 2, weights=lw)),
                       lmin=float(ln.min()), lmax=float(ln.max()))
        return out, sentinels, non_numeric

    def _columns(self, df: pl.DataFrame) -> None:
        cols = [c for c in df.columns if c != ROW]
        text_cols = [c for c in cols if _is_text(df.schema[c])]
        nuniq = df.select(pl.col(c).n_unique() for c in text_cols).row(0) if text_cols else ()
        low = {c for c, u in zip(text_cols, nuniq) if u <= VALUE_CAP}
        rest = [c for c in cols if c not in low]
        agg = self._aggregates(df, rest) if rest else {}
        n = df.height
        for c in cols:
            col = self._column(c)
            dt = df.schema[c]
            col.dtypes.add(str(dt))
            col.count += n
            sentinels: Counter[str] | None = None
            non_numeric_values: list[str] | None = None
            if c in low:
                vc = df.get_column(c).value_counts()
                values, counts = vc.get_column(c).to_list(), vc.get_column(vc.columns[1]).to_list()
                a, sentinels, non_numeric_values = self._from_counts(values, counts)
            else:
                i = rest.index(c)
                a = {key[len(f"{i}_"):]: v for key, v in agg.items() if key.startswith(f"{i}_")}
            col.nulls += int(a.get("nulls") or 0)
            col.empty += int(a.get("empty") or 0)
            col.nan += int(a.get("nan") or 0)
            col.infinite += int(a.get("inf") or 0)
            col.non_numeric += int(a.get("nonnum") or 0)
            sent = int(a.get("sent") or 0)
            if a.get("n"):
                col.numeric.add_summary(int(a["n"]), float(a["mean"]), float(a["var"] or 0.0),
                                        float(a["min"]), float(a["max"]))
                if a.get("int") is False:
                    col.integral = False
            if a.get("ln"):
                col.text_len.add_summary(int(a["ln"]), float(a["lmean"]), float(a["lvar"] or 0.0),
                                         float(a["lmin"]), float(a["lmax"]))
            is_text = _is_text(dt)
            st = pl.col(c).cast(pl.String).str.strip_chars() if is_text else pl.col(c)
            missing_expr = self._missing_expr(c, dt)
            missing_here = int(a.get("nulls") or 0) + int(a.get("empty") or 0) + int(a.get("nan") or 0) + sent
            if missing_here and len(col.missing_rows) < col.example_cap:
                rows = df.filter(missing_expr).get_column(ROW).head(col.example_cap).to_list()
                col.missing_rows = sorted(set(col.missing_rows) | set(rows))[: col.example_cap]
            if sentinels is not None:
                col.sentinels.update(sentinels)
            elif sent:
                if is_text:
                    vc = df.select(st.alias("v")).filter(pl.col("v").is_in(self.sentinels))["v"].value_counts()
                else:
                    vc = df.select(pl.col(c).cast(pl.Float64).alias("v")).filter(
                        pl.col("v").is_in(self.numeric_sentinels))["v"].value_counts()
                for v, count in vc.iter_rows():
                    col.sentinels[_fmt(v)] += int(count)
            if is_text and int(a.get("nonnum") or 0) and len(col.non_numeric_examples) < col.example_cap:
                if non_numeric_values is not None:
                    bad_rows = pl.col(c).is_in(non_numeric_values[: col.example_cap])
                else:
                    bad_rows = (st.is_not_null() & (st != "") & ~st.is_in(self.sentinels)
                                & st.cast(pl.Float64, strict=False).is_null())
                bad = df.filter(bad_rows).select(ROW, pl.col(c).cast(pl.String)).head(col.example_cap)
                have = dict(col.non_numeric_examples)
                for r, v in bad.iter_rows():
                    have.setdefault(int(r), str(v))
                col.non_numeric_examples = sorted(have.items())[: col.example_cap]
            if c in low and col.values is not None:
                self._add_values(col, values, counts)
            else:
                self._values(df, c, col, int(a.get("nuniq") or 0), missing_expr)

    def _add_values(self, col: ColumnStats, values: list[Any], counts: list[int]) -> None:
        assert col.values is not None
        skip = set(self.sentinels)
        for v, n in zip(values, counts):
            if v is None:
                continue
            key = str(v)
            stripped = key.strip()
            if stripped and stripped not in skip:
                col.values[key] += int(n)
        if len(col.values) > VALUE_CAP:
            col.values = None
        else:
            col.distinct_lower_bound = max(col.distinct_lower_bound, len(col.values))

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
        """Exact value counts while the column has few distinct values (missing tokens left out)."""
        col.distinct_lower_bound = max(col.distinct_lower_bound, n_unique - 1)
        if col.values is None:
            return
        if n_unique > VALUE_CAP or len(col.values) + n_unique > 4 * VALUE_CAP:
            col.values = None
            return
        series = df.get_column(c)
        dt = df.schema[c]
        if dt.is_nested():
            series = series.cast(pl.String, strict=False)
        elif not _is_text(dt):
            if dt.is_float():
                series = series.fill_nan(None)
            series = series.cast(pl.String)
        skip = set(self.sentinels)
        for v, n in series.value_counts().iter_rows():
            if v is None:
                continue
            key = str(v)
            stripped = key.strip()
            if not stripped or stripped in skip:
                continue
            col.values[key] += int(n)
        if len(col.values) > VALUE_CAP:
            col.values = None
        else:
            col.distinct_lower_bound = len(col.values)

    # -- hashes and labels ----------------------------------------------------------------
    def _hashes(self, df: pl.DataFrame) -> None:
        features = [c for c in df.columns if c not in (ROW, self.label) and c not in self.id_columns]
        if not features:
            return
        content = hash_columns(df, features, self.typed)
        label = None
        if self.label and self.label in df.columns:
            label = df.get_column(self.label).cast(pl.String).hash(HASH_SEED).to_numpy()
        norm = None
        if self.text and self.text in df.columns:
            text = pl.col(self.text)
            as_text = text.cast(pl.String)
            unicode = bool(df.select((as_text.str.len_bytes() != as_text.str.len_chars()).any()).item())
            norm, raw = df.select(normalised_text(text, unicode).hash(HASH_SEED).alias("n"),
                                  text.cast(pl.String).hash(HASH_SEED).alias("r")).get_columns()
            self.stats.hashes.add(df.get_column(ROW).to_numpy(), content, label, norm.to_numpy(), raw.to_numpy())
            return
        self.stats.hashes.add(df.get_column(ROW).to_numpy(), content, label)

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
