"""The single pass over a table split: batches in, :class:`SplitStats` out.

Per batch, one polars ``select`` computes every column's aggregates at once (so
polars parallelises across columns); value counts, examples and hashes follow.
Delimited files arrive as text: each column's numeric view is what parses as a
number, and what does not parse is counted (and shown) rather than coerced.
"""

from __future__ import annotations

import math
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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


def normalised_text(series: pl.Series) -> pl.Series:
    """Case-folded, NFKC, whitespace-collapsed text: what near-duplicate text compares.

    Collapsing whitespace runs is a regex replace, so it is applied only to the
    values that hold a run or a whitespace character other than a space.
    :func:`normalised_hash` calls this only for the values not already in normal form.
    """
    low = series.cast(pl.String).str.normalize("NFKC").str.to_lowercase()
    odd = low.str.contains(r"\s\s|[^\S ]")
    if odd.any():
        where = odd.arg_true()
        low = low.scatter(where, low.gather(where).str.replace_all(r"\s+", " "))
    return low.str.strip_chars()


NEEDS_NORMALISING = r"[A-Z\t\n\x0b\x0c\r\x{80}-\x{10FFFF}]|  |^ | $"
"""Text that :func:`normalised_text` could change: capitals, whitespace other than single inner
spaces, anything outside ASCII (NFKC, Unicode case). Other text is its own normal form."""


@dataclass(frozen=True)
class TextShape:
    """What one scan over all of a text column's bytes proves about every value in it.

    Each flag is a guarantee when true and merely unknown when false, so a
    caller may skip work on true and must do it on false.
    """

    ascii: bool = False
    """No value holds a non-ASCII character: length in characters is length in bytes."""
    trimmed: bool = False
    """No value starts or ends with whitespace: ``str.strip_chars()`` is the identity."""
    normal: bool = False
    """Every value is its own :func:`normalised_text`."""
    no_numbers: bool = False
    """No value parses as a number: none starts the way one must (sign, digit, point, inf, nan)."""


def text_shape(text: pl.Series) -> TextShape:
    """:class:`TextShape` of a text column, from a few vectorised passes over its values' bytes.

    Per-value string kernels cost a fixed ~10-50 ns a value (a regex several
    times that); whole-buffer passes cost a fraction of that for short text. The
    column is exported to Arrow (its values' bytes back to back, and their
    offsets): reductions over the bytes show it ASCII with no control character,
    a gather of each value's first and last byte shows no edge space, and a pass
    over neighbouring bytes shows no double space. A double space across two
    values (one ending, the next starting with a space) is already an edge
    space; stray bytes between values could only make an answer conservative,
    never wrong.
    """
    import pyarrow as pa

    arr = text.cast(pl.String).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
        return _text_shape_joined(text)  # another layout (string views): the joined-bytes scan
    _, offsets_buf, data_buf = arr.buffers()
    if len(arr) == 0 or offsets_buf is None or data_buf is None:
        return TextShape(ascii=True, trimmed=True, normal=True)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[arr.offset: arr.offset + len(arr) + 1].astype(np.int64)
    low = int(offsets[0])
    raw = np.frombuffer(data_buf, dtype=np.uint8)[low: int(offsets[-1])]
    return _shape_of_bytes(raw, offsets - low)


NUMBER_START = np.zeros(256, dtype=bool)
NUMBER_START[np.frombuffer(b"+-.0123456789", dtype=np.uint8)] = True
"""First bytes of text that polars may read as a float ("1", "-.5", "+inf"), besides those of the
unsigned words it reads as one: "nan", "inf" and "infinity" in any case (3 or 8 bytes)."""


def _shape_of_bytes(raw: np.ndarray, offsets: np.ndarray, starts: bool = True) -> TextShape:
    """:class:`TextShape` of values stored back to back in ``raw`` (value ``i`` is ``raw[offsets[i]:offsets[i + 1]]``).

    ``starts=False``: the offsets do not give every value's start (``no_numbers`` is not claimed).
    """
    if not len(raw):
        return TextShape(ascii=True, trimmed=True, normal=True)
    if int(raw.max()) >= 128:
        return TextShape()
    if int(raw.min()) < 32:  # whitespace other than spaces (and any other control character)
        return TextShape(ascii=True)
    first, end = offsets[:-1], offsets[1:]
    filled = end > first
    if not bool(filled.all()):  # empty values (and nulls) have no edges
        first, end = first[filled], end[filled]
    space, firsts = np.uint8(32), np.take(raw, first)
    if bool((firsts == space).any()) or bool((np.take(raw, end - 1) == space).any()):
        return TextShape(ascii=True)
    # every byte is >= 32 here, so the larger of two neighbours is 32 only where both are spaces
    if len(raw) > 1 and int(np.maximum(raw[:-1], raw[1:]).min()) == 32:
        return TextShape(ascii=True)
    upper = int(np.subtract(raw, np.uint8(65)).min()) < 26  # "A".."Z" wrap to 0..25
    numbers = not starts or _may_be_numbers(firsts, end - first)
    return TextShape(ascii=True, trimmed=True, normal=not upper, no_numbers=not numbers)


def _may_be_numbers(firsts: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether any trimmed ASCII value, given its first byte and length, might parse as a float."""
    # "+" (43) to "9" (57) hold every sign, point and digit: most text starts outside that range
    if int(np.subtract(firsts, np.uint8(43)).min()) < 15 and bool(NUMBER_START[firsts].any()):
        return True
    folded = firsts | np.uint8(32)  # "I" -> "i", "N" -> "n"
    word = (folded == np.uint8(ord("i"))) | (folded == np.uint8(ord("n")))
    return bool(word.any()) and bool((word & ((lengths == 3) | (lengths == 8))).any())


def _text_shape_joined(text: pl.Series) -> TextShape:
    """:func:`text_shape` from the values joined with single spaces (a value with an edge space,
    or an empty one, then shows up as a double space: a conservative answer, never a wrong one)."""
    raw = np.frombuffer(text.cast(pl.String).str.join(" ").cast(pl.Binary).item(), dtype=np.uint8)
    return _shape_of_bytes(raw, np.array([0, len(raw)], dtype=np.int64), starts=False)


def normalised_hash(text: pl.Series, raw_hash: np.ndarray, shape: TextShape | None = None) -> np.ndarray:
    """Hash of each value's :func:`normalised_text`, given the hash of the value itself.

    Most text is already in normal form (lower case, single spaces, ASCII), and
    there the two hashes are equal: when ``shape`` shows the whole column is,
    that is all; otherwise one scan finds the values that are not, and only
    those are normalised and hashed again.
    """
    if shape is not None and shape.normal:
        return raw_hash
    needs = text.str.contains(NEEDS_NORMALISING)
    if not needs.any():
        return raw_hash
    where = needs.arg_true()
    out = raw_hash.copy()
    out[where.to_numpy()] = normalised_text(text.gather(where)).hash(HASH_SEED).to_numpy()
    return out


def hash_columns(df: pl.DataFrame, columns: list[str], numeric_like: set[str] | frozenset[str] = frozenset(),
                 hashed: dict[str, pl.Series] | None = None) -> np.ndarray:
    """Content hash of each row over ``columns`` with types made comparable across splits.

    A number hashes as its Float64 value whether it was read typed or as text
    (for the columns in ``numeric_like``, which were typed in some batch), so
    ``5`` in a typed chunk and ``"5"`` in a chunk read as text are the same
    content. In a chunk read as text, such a column's values that are not
    numbers are mixed into their row's hash afterwards, so a row whose values
    are all numbers hashes as it would have typed. A column in ``hashed`` enters,
    after the others, as the hashes given for it (the free-text column, hashed
    once for this and for its own key): a caller passes it for every batch of a
    dataset or for none.
    """
    schema = df.schema  # polars builds it anew on every access: once per batch here and below
    exprs: list[pl.Expr] = []
    residual: list[pl.Expr] = []
    given = [hashed[c].alias(f"h{i}") for i, c in enumerate(columns) if hashed is not None and c in hashed]
    for i, c in enumerate(columns):
        dt = schema[c]
        if hashed is not None and c in hashed:
            continue
        if _is_text(dt) and c in numeric_like:
            text = pl.col(c).cast(pl.String)
            num = text.str.strip_chars().cast(pl.Float64, strict=False)
            exprs.append(num.alias(f"n{i}"))
            residual.append(pl.when(num.is_null()).then(text).alias(f"r{i}"))
        elif _is_numeric(dt):
            exprs.append(pl.col(c).cast(pl.Float64).alias(f"n{i}"))
        elif dt.is_nested():
            exprs.append(pl.col(c).alias(f"s{i}"))
        else:
            exprs.append(pl.col(c).cast(pl.String).alias(f"s{i}"))
    rows = df.select(exprs + residual)
    # hashes given are added as columns, not literals (a literal series is copied into the query)
    keys = pl.DataFrame([*rows.get_columns()[:len(exprs)], *given])
    base = keys.hash_rows(seed=HASH_SEED)
    if residual:
        rest = rows.select(rows.columns[len(exprs):])
        some = rest.select(pl.any_horizontal(pl.all().is_not_null())).to_series()
        if some.any():
            mixed = rest.insert_column(0, base.alias("__base__")).hash_rows(seed=HASH_SEED)
            base = pl.select(pl.when(some).then(mixed).otherwise(base)).to_series()
    return base.to_numpy()


NULL_HASH = int(pl.Series([None], dtype=pl.String).hash(HASH_SEED)[0])
"""The hash polars gives a missing text value."""


def row_index(df: pl.DataFrame) -> np.ndarray | range:
    """The batch's row numbers: a ``range`` when they are contiguous (no malformed rows left out)."""
    rows = df.get_column(ROW)
    n = rows.len()
    if n:
        first, last = rows[0], rows[-1]
        if last - first == n - 1 and rows.is_sorted():
            return range(int(first), int(last) + 1)
    return rows.to_numpy()


PARALLEL_ROWS = 50_000
"""Batches at least this long have their hashes computed in a helper thread."""

_HELPER: ThreadPoolExecutor | None = None


def _helper() -> ThreadPoolExecutor:
    global _HELPER
    if _HELPER is None:
        _HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataaudit-profile")
    return _HELPER


SMALL_RANGE = 1 << 16
"""Integer columns spanning at most this many values are counted with ``numpy.bincount``."""


def _small_int_counts(values: pl.Series) -> pl.DataFrame | None:
    """Value counts of an integer column without nulls whose values span a small range, else ``None``.

    A count per value of the range (``numpy.bincount``) is a few times cheaper
    than polars' hash grouping, and ages, counts, ratings and encoded classes are
    such columns. Same frame as :meth:`TableSplitProfiler._value_counts`.
    """
    if not values.dtype.is_integer() or values.dtype == pl.UInt64 or values.null_count() or not len(values):
        return None
    x = values.to_numpy().astype(np.int64, copy=False)
    low, high = int(x.min()), int(x.max())
    if high - low >= SMALL_RANGE:
        return None
    counts = np.bincount(x - low if low else x)
    seen = np.flatnonzero(counts)
    return pl.DataFrame({values.name: pl.Series(values.name, seen + low, dtype=values.dtype),
                         "__n__": pl.Series("__n__", counts[seen], dtype=pl.UInt32)})


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
        self.shared = None if dataset.shared_columns is None else frozenset(dataset.shared_columns)
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
        self._named: set[str] = set()
        self._batch_counts: dict[str, pl.DataFrame] = {}
        """This batch's value counts per column (those still counted), shared with the label statistics."""
        self._shape: TextShape | Future[TextShape] | None = None
        """This batch's :class:`TextShape` of the free-text column (computed beside the column statistics)."""
        self._sentinel_bytes = max((len(t.encode()) for t in self.sentinels), default=0)
        self._hash_names: dict[str, dict[int, str | None]] = {}
        """Per counted text column: the value behind each hash seen (value counts group by hash)."""
        self._shape_misses = 0
        self._files: set[str] = set()
        """Batches in a row whose free text was not all in normal form (two, and the shape is no longer worth its scan)."""

    # -- public ----------------------------------------------------------------------
    def update(self, batch: Batch) -> None:
        s = self.stats
        if batch.path and batch.path not in self._files:  # a set: a list lookup per batch is quadratic in shards
            self._files.add(batch.path)
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
        # The text shape and the hashes touch other state than the column statistics, the
        # labels and the sample: on large batches they are computed in a helper thread beside
        # those (polars releases the GIL); the sample is on this side to even out the two.
        self._shape = None
        if self.text and self.text in df.columns and _is_text(df.schema[self.text]) and self._shape_misses < 2:
            text = df.get_column(self.text)
            self._shape = _helper().submit(text_shape, text) if df.height >= PARALLEL_ROWS else text_shape(text)
        side = _helper().submit(self._hashes, df) if df.height >= PARALLEL_ROWS else None
        self._columns(df)
        if self.label and self.label in df.columns and s.labels is not None:
            self._labels(df)
        s.sample.update(df)
        if side is None:
            self._hashes(df)
        else:
            side.result()
        shape = self._text_shape()
        if shape is not None:  # text that is not in normal form seldom becomes so: stop scanning it
            self._shape_misses = 0 if shape.normal else self._shape_misses + 1

    def _text_shape(self) -> TextShape | None:
        shape = self._shape
        if isinstance(shape, Future):
            shape = self._shape = shape.result()
        return shape

    def result(self) -> SplitStats:
        return self.stats

    # -- columns -----------------------------------------------------------------------
    def _column(self, name: str) -> ColumnStats:
        col = self.stats.columns.get(name)
        if col is None:
            col = self.stats.columns[name] = ColumnStats(name, example_cap=self.cap)
        return col

    def _aggregates(self, df: pl.DataFrame, cols: list[str]) -> dict[str, Any]:
        """Every column's aggregates, keyed ``"{position}_{name}"``; see :meth:`_numeric_aggregates`."""
        schema = df.schema
        text = [(i, c) for i, c in enumerate(cols) if _is_text(schema[c])]
        numeric = [(i, c) for i, c in enumerate(cols) if _is_numeric(schema[c])]
        other = [(i, c) for i, c in enumerate(cols) if not _is_text(schema[c]) and not _is_numeric(schema[c])]
        out: dict[str, Any] = {}
        if numeric:
            out.update(self._numeric_aggregates(df, numeric))
        if text:
            out.update(self._text_aggregates(df, text))
        if other:
            out.update(df.select(pl.col(c).null_count().alias(f"{i}_nulls") for i, c in other).row(0, named=True))
        return out

    def _sentinels_for(self, dt: pl.DataType) -> pl.Series:
        if dt.is_integer():
            return pl.Series([int(v) for v in self.numeric_sentinels if float(v).is_integer()], dtype=dt)
        return pl.Series(self.numeric_sentinels, dtype=dt)

    def _numeric_aggregates(self, df: pl.DataFrame, cols: list[tuple[int, str]]) -> dict[str, Any]:
        """Aggregates of typed numeric columns.

        The moments are of the finite, non-sentinel values. In one select we count
        NaN and infinities and take the plain moments and range; sentinels are
        counted only in a column whose range holds one, and only a column that
        has any of those (rare) is aggregated again over its filtered values.
        """
        schema = df.schema
        exprs: list[pl.Expr] = []
        out: dict[str, Any] = {}
        for i, c in cols:
            dt, x, k = schema[c], pl.col(c), f"{i}_"
            nulls = df.get_column(c).null_count()
            out.update({k + "nulls": nulls, k + "n": df.height - nulls, k + "nan": 0, k + "inf": 0,
                        k + "empty": 0, k + "nonnum": 0, k + "int": not dt.is_float()})
            exprs += [x.mean().alias(k + "mean"), x.var(ddof=0).alias(k + "var"),
                      x.min().cast(pl.Float64).alias(k + "min"), x.max().cast(pl.Float64).alias(k + "max")]
            if dt.is_float() and self._column(c).integral:  # a column known to hold fractions is not tested again
                exprs.append((x == x.floor()).all().alias(k + "int"))
        out.update(df.select(exprs).row(0, named=True))
        # NaN or an infinity makes the mean NaN or infinite: only then are they counted
        odd_floats = [(i, c) for i, c in cols if schema[c].is_float() and out[f"{i}_mean"] is not None
                      and not math.isfinite(out[f"{i}_mean"])]
        if odd_floats:
            out.update(df.select(e for i, c in odd_floats for e in (
                pl.col(c).is_nan().sum().alias(f"{i}_nan"), pl.col(c).is_infinite().sum().alias(f"{i}_inf"))
            ).row(0, named=True))
        # sentinels are looked up only in the columns whose range holds one
        plain = [v for v in self.numeric_sentinels if math.isfinite(v)]
        odd = len(plain) < len(self.numeric_sentinels)  # "nan"/"inf" tokens: looked up wherever NaN/inf occur
        for i, _ in cols:
            out[f"{i}_sent"] = 0
        covering = [(i, c) for i, c in cols
                    if (odd and (out[f"{i}_nan"] or out[f"{i}_inf"])) or (
                        plain and out[f"{i}_min"] is not None
                        and out[f"{i}_min"] <= max(plain) and out[f"{i}_max"] >= min(plain))]
        if covering:
            out.update(df.select(pl.col(c).is_in(self._sentinels_for(schema[c]).implode()).sum().alias(f"{i}_sent")
                                 for i, c in covering).row(0, named=True))
        special = [(i, c) for i, c in cols if out[f"{i}_nan"] or out[f"{i}_inf"] or out[f"{i}_sent"]]
        if special:
            again: list[pl.Expr] = []
            for i, c in special:
                x, k = pl.col(c).cast(pl.Float64), f"{i}_"
                finite = x.filter(x.is_finite() & ~x.is_in(self.numeric_sentinels))
                again += [finite.len().alias(k + "n"), finite.mean().alias(k + "mean"),
                          finite.var(ddof=0).alias(k + "var"), finite.min().alias(k + "min"),
                          finite.max().alias(k + "max"), (finite == finite.floor()).all().alias(k + "int")]
            out.update(df.select(again).row(0, named=True))
        return out

    def _text_aggregates(self, df: pl.DataFrame, cols: list[tuple[int, str]]) -> dict[str, Any]:
        """Aggregates of text columns: missing tokens, the numeric view of what parses, lengths.

        The stripped text, its numeric parse and the sentinel flags are
        materialised first: aggregating plain columns is much faster than letting
        each aggregate re-derive them. Where the free-text column's
        :class:`TextShape` shows it, stripping is skipped (no value has an edge
        space) and lengths are counted in bytes (ASCII); a column with no value
        as short as the longest missing-value token has no such token; a column
        where no value starts like a number is not parsed as numbers.
        """
        shape = self._text_shape() if any(c == self.text for _, c in cols) else None
        shapes = {c: shape if c == self.text and shape is not None else TextShape() for _, c in cols}
        d = df.select((pl.col(c).cast(pl.String) if shapes[c].trimmed
                       else pl.col(c).cast(pl.String).str.strip_chars()).alias(f"s{i}") for i, c in cols)
        derived: list[pl.Expr] = []
        for i, c in cols:
            st = pl.col(f"s{i}")
            short = d.get_column(f"s{i}").str.len_bytes() <= self._sentinel_bytes
            derived += [
                (st.is_in(self.sentinels) if short.any() else pl.lit(False)).alias(f"t{i}"),
                (st.str.len_bytes() if shapes[c].ascii else st.str.len_chars()).cast(pl.Float64).alias(f"l{i}"),
            ]
            if not shapes[c].no_numbers:
                derived.append(st.cast(pl.Float64, strict=False).alias(f"n{i}"))
        d = d.with_columns(derived)
        exprs: list[pl.Expr] = []
        out: dict[str, Any] = {}
        for i, c in cols:
            k = f"{i}_"
            st, sent, length = pl.col(f"s{i}"), pl.col(f"t{i}"), pl.col(f"l{i}")
            exprs += [
                st.null_count().alias(k + "nulls"),
                sent.sum().alias(k + "sent"),
                (length == 0).sum().alias(k + "empty"),  # lengths: no second pass over the strings
                length.count().alias(k + "ln"),
                length.mean().alias(k + "lmean"),
                length.var(ddof=0).alias(k + "lvar"),
                length.min().alias(k + "lmin"),
                length.max().alias(k + "lmax"),
            ]
            out[k + "nan"] = 0
            if shapes[c].no_numbers:  # nothing parses: every filled non-token value is not a number
                out.update({k + "n": 0, k + "mean": None, k + "var": None, k + "min": None, k + "max": None,
                            k + "int": True, k + "inf": 0})
                exprs.append(((length > 0) & ~sent).sum().alias(k + "nonnum"))
                continue
            num = pl.col(f"n{i}")
            finite = num.filter(num.is_finite() & ~sent)
            exprs += [
                finite.len().alias(k + "n"),
                finite.mean().alias(k + "mean"),
                finite.var(ddof=0).alias(k + "var"),
                finite.min().alias(k + "min"),
                finite.max().alias(k + "max"),
                (finite == finite.floor()).all().alias(k + "int"),
                (num.is_infinite() & ~sent).sum().alias(k + "inf"),
                ((length > 0) & ~sent & num.is_null()).sum().alias(k + "nonnum"),
            ]
        out.update(d.select(exprs).row(0, named=True))
        return out

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

    def _value_counts(self, df: pl.DataFrame, cols: list[str]) -> dict[str, pl.DataFrame]:
        """Value counts of the columns still counted exactly (few distinct values so far), in parallel.

        Each frame has the column's values (nulls included; NaN as null for floats)
        and a ``__n__`` count column.
        """
        schema = df.schema
        out: dict[str, pl.DataFrame] = {}
        lazy, named = [], []
        for c in cols:
            if _is_text(schema[c]):
                out[c] = self._counts_by_hash(c, df.get_column(c))
                continue
            small = _small_int_counts(df.get_column(c))
            if small is not None:
                out[c] = small
                continue
            e = pl.col(c)
            if schema[c].is_float():
                # one key for zero (value counts group -0.0 with 0.0 under whichever they meet first)
                e = pl.when(e == 0).then(0.0).otherwise(e.fill_nan(None)).alias(c)
            elif schema[c].is_nested():
                e = e.cast(pl.String, strict=False)
            lazy.append(df.lazy().select(e.value_counts(name="__n__")).unnest(c))
            named.append(c)
        if lazy:
            out.update(zip(named, pl.collect_all(lazy)))
        return out

    def _counts_by_hash(self, c: str, values: pl.Series) -> pl.DataFrame:
        """:meth:`_value_counts` of a text column, grouped by its values' 64-bit hashes.

        Hashing the strings and grouping the hashes costs about half of grouping
        the strings; the value behind each hash is looked up once per column and
        remembered while the column is counted. (Two values of one column with
        equal 64-bit hashes would be counted as one.) Past the cap of distinct
        values the hashes stand in for the values: only their number is read then.
        """
        text = values.cast(pl.String)
        hashes = text.hash(HASH_SEED)
        vc = hashes.value_counts(name="__n__")
        keys = vc.get_column(hashes.name)
        if vc.height > (LABEL_CAP if c == self.label else VALUE_CAP):
            self._hash_names.pop(c, None)
            return vc.select(pl.when(keys != NULL_HASH).then(keys).alias(c), pl.col("__n__"))
        names = self._hash_names.setdefault(c, {})
        order = keys.to_list()
        new = [k for k in order if k not in names]
        if new:
            seen = (pl.DataFrame({"h": hashes, "v": text}).filter(pl.col("h").is_in(new))
                    .unique("h", keep="any"))
            names.update(zip(seen.get_column("h").to_list(), seen.get_column("v").to_list()))
        return pl.DataFrame({c: pl.Series(c, [names[k] for k in order], dtype=pl.String),
                             "__n__": vc.get_column("__n__")})

    HEAD_ROWS = 8192

    def _still_few(self, counting: list[str], df: pl.DataFrame) -> list[str]:
        """The columns of ``counting`` whose first rows of this batch leave them countable.

        A column not counted yet with more than :data:`VALUE_CAP` distinct values
        in its first :attr:`HEAD_ROWS` rows has more in the batch, so it stops
        being counted now, without counting the whole batch (ids, measurements
        and free text in the first batch of every split).
        """
        fresh = [c for c in counting if not self._column(c).values]  # columns already counted keep few values
        if df.height <= self.HEAD_ROWS or not fresh:
            return counting
        heads = dict(zip(fresh, df.select(pl.col(c).head(self.HEAD_ROWS).n_unique() for c in fresh).row(0)))
        for c, distinct in heads.items():
            if distinct > VALUE_CAP:
                col = self._column(c)
                col.values = None
                col.distinct_lower_bound = max(col.distinct_lower_bound, int(distinct) - 1)  # a null counts as one
        return [c for c in counting if heads.get(c, 0) <= VALUE_CAP]

    def _columns(self, df: pl.DataFrame) -> None:
        schema = df.schema
        cols = [c for c in df.columns if c != ROW]
        counting = self._still_few([c for c in cols if self._column(c).values is not None], df)
        vcs = self._value_counts(df, counting)
        self._batch_counts = vcs
        low = {c for c in counting if _is_text(schema[c]) and vcs[c].height <= VALUE_CAP}
        rest = [c for c in cols if c not in low]
        agg: dict[int, dict[str, Any]] = {}
        for key, v in (self._aggregates(df, rest) if rest else {}).items():
            at, _, name = key.partition("_")
            agg.setdefault(int(at), {})[name] = v
        n = df.height
        for c in cols:
            col = self._column(c)
            dt = schema[c]
            col.dtypes.add(str(dt))
            col.count += n
            sentinels: Counter[str] | None = None
            non_numeric_values: list[str] | None = None
            vc = vcs.get(c)
            values: list[Any] = []
            counts: list[int] = []
            if vc is not None:
                values, counts = vc.get_column(c).to_list(), vc.get_column("__n__").to_list()
            if c in low:
                a, sentinels, non_numeric_values = self._from_counts(values, counts)
            else:
                a = agg.get(rest.index(c), {})
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
            missing_here = int(a.get("nulls") or 0) + int(a.get("empty") or 0) + int(a.get("nan") or 0) + sent
            if missing_here and len(col.missing_rows) < col.example_cap:
                rows = df.filter(self._missing_expr(c, dt)).get_column(ROW).head(col.example_cap).to_list()
                col.missing_rows = sorted(set(col.missing_rows) | set(rows))[: col.example_cap]
            if sentinels is not None:
                col.sentinels.update(sentinels)
            elif sent:
                if is_text:
                    svc = df.select(st.alias("v")).filter(pl.col("v").is_in(self.sentinels))["v"].value_counts()
                else:
                    svc = df.select(pl.col(c).cast(pl.Float64).alias("v")).filter(
                        pl.col("v").is_in(self.numeric_sentinels))["v"].value_counts()
                for v, count in svc.iter_rows():
                    col.sentinels[_fmt(v)] += int(count)
            if is_text and int(a.get("nonnum") or 0) and len(col.non_numeric_examples) < col.example_cap:
                if non_numeric_values is not None:
                    bad_rows = pl.col(c).is_in(non_numeric_values)  # the earliest rows, whichever values they hold
                else:
                    bad_rows = (st.is_not_null() & (st != "") & ~st.is_in(self.sentinels)
                                & st.cast(pl.Float64, strict=False).is_null())
                bad = df.filter(bad_rows).select(ROW, pl.col(c).cast(pl.String)).head(col.example_cap)
                have = dict(col.non_numeric_examples)
                for r, v in bad.iter_rows():
                    have.setdefault(int(r), str(v))
                col.non_numeric_examples = sorted(have.items())[: col.example_cap]
            if vc is not None:
                self._add_values(col, vc, c, is_text)
                if col.values is None and c != self.label:
                    self._hash_names.pop(c, None)

    def _add_values(self, col: ColumnStats, vc: pl.DataFrame, c: str, is_text: bool) -> None:
        """Add a batch's value counts (missing tokens left out) while the column has few distinct values."""
        assert col.values is not None
        col.distinct_lower_bound = max(col.distinct_lower_bound, vc.height - int(vc.get_column(c).null_count()))
        if vc.height > VALUE_CAP:
            col.values = None
            return
        keys = vc.get_column(c)
        if not is_text:
            keys = keys.cast(pl.String)
        skip = set(self.sentinels)
        for v, n in zip(keys.to_list(), vc.get_column("__n__").to_list()):
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

    # -- hashes and labels ----------------------------------------------------------------
    def _hashes(self, df: pl.DataFrame) -> None:
        # by name, not file order: a row hashes the same whatever order its file writes the columns in
        features = sorted(c for c in df.columns if c not in (ROW, self.label) and c not in self.id_columns
                          and (self.shared is None or c in self.shared))
        if not features:
            return
        label = None
        if self.label and self.label in df.columns:
            label = df.get_column(self.label).cast(pl.String).hash(HASH_SEED).to_numpy()
        index = row_index(df)
        if self.text and self.text in df.columns:
            text = df.get_column(self.text).cast(pl.String)
            raw_hash = text.hash(HASH_SEED)
            content = hash_columns(df, features, self.typed, {self.text: raw_hash})
            raw = raw_hash.to_numpy()
            self.stats.hashes.add(index, content, label, normalised_hash(text, raw, self._text_shape()), raw)
            return
        content = hash_columns(df, features, self.typed)
        self.stats.hashes.add(index, content, label)

    def _labels(self, df: pl.DataFrame) -> None:
        labels = self.stats.labels
        assert labels is not None and self.label is not None
        col = df.get_column(self.label).cast(pl.String)
        vc = self._batch_counts.get(self.label)
        if vc is None or vc.schema[self.label] != pl.String:
            vc = col.value_counts(name="__n__")
        values: list[str | None] = vc.get_column(self.label).to_list()
        counts: list[int] = vc.get_column("__n__").to_list()
        missing_values = [v for v in values if v is None or not v.strip()]
        miss = sum(n for v, n in zip(values, counts) if v is None or not v.strip())
        if miss:
            labels.missing += miss
            if len(labels.missing_rows) < labels.example_cap:
                blank = col.is_null() | col.is_in([v for v in missing_values if v is not None])
                rows = df.get_column(ROW).filter(blank).head(labels.example_cap)
                labels.missing_rows = sorted(set(labels.missing_rows) | set(rows.to_list()))[: labels.example_cap]
        if labels.counts is None:
            return
        present = {v: n for v, n in zip(values, counts) if v is not None and v.strip()}
        if len(present) > LABEL_CAP:
            labels.counts = None
            return
        # first rows per label: only for labels that still lack examples
        wanted = [v for v in present if len(labels.first_rows.get(v, ())) < labels.example_cap]
        first: dict[str, list[int]] = {}
        if wanted:
            grouped = (df.select(ROW, col.alias("y")).filter(pl.col("y").is_in(wanted))
                       .group_by("y").agg(pl.col(ROW).head(labels.example_cap)))
            first = {v: list(rows) for v, rows in grouped.iter_rows()}
        labels.add_counts(Counter(present), first)
        names: dict[int, str] = self.stats.extra.setdefault("label_names", {})
        if len(names) < 10_000:
            fresh = pl.Series([v for v in present if v not in self._named], dtype=pl.String)
            for h, v in zip(fresh.hash(HASH_SEED).to_list(), fresh.to_list()):
                names[int(h)] = v
                self._named.add(v)


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
