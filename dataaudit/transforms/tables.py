"""The fitted table transform: rows in, a float32 matrix in the fitted column order out.

Per output column, in :attr:`TablePlan.features` order:

* numeric ``c``: the value as a float (text is stripped and parsed); nulls, empty
  strings, sentinel tokens, NaN, infinities and unparseable text become the fitted
  ``fill``; then ``(x - center) / scale``, computed in float64 and cast to float32.
* categorical ``c`` (text stripped; missing values take the fitted ``fill``):
  ``onehot`` gives one column per vocabulary value (``c=value``) and a last
  ``c=__unknown__`` column for unseen values and values past the vocabulary cap;
  ``index`` gives one column holding ``0`` for unknown and ``1..K`` for the
  vocabulary in order (as float32; cast to ``long`` for an embedding).

Needs only polars and numpy; ``as_tensor=True`` returns a torch tensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from dataaudit.errors import ArtefactError, UsageError
from dataaudit.fit.artefact import Artefact, CategoricalColumn, NumericColumn, TablePlan
from dataaudit.fit.tables import is_text, numeric_sentinels, text_missing

if TYPE_CHECKING:
    import torch


class TableTransform:
    """Callable applying a fitted :class:`TablePlan` (see the module docstring)."""

    def __init__(self, artefact: Artefact) -> None:
        if artefact.table is None:
            raise ArtefactError("this artefact was fitted on images, not a table")
        self.artefact = artefact
        self.plan: TablePlan = artefact.table
        self.sentinels = list(self.plan.sentinels)
        self.numeric_sentinels = numeric_sentinels(self.sentinels)
        self.classes: list[str] = list(artefact.label.classes) if artefact.label else []
        self.label_column = artefact.label.column if artefact.label else artefact.options.get("label_column")

    @property
    def features(self) -> list[str]:
        """Names of the output columns, in order."""
        return self.plan.features

    @property
    def input_columns(self) -> list[str]:
        """The columns the transform reads."""
        return [c.name for c in self.plan.columns]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        return f"TableTransform({len(self.input_columns)} columns -> {len(self.features)} features)"

    # -- the transform ----------------------------------------------------------------
    def __call__(self, data: Any, *, as_tensor: bool = False) -> np.ndarray | torch.Tensor:
        """Transform ``data`` (polars/pandas DataFrame, list of dict rows, or a mapping of
        column -> values) into a ``(rows, features)`` float32 array (or tensor)."""
        df = to_frame(data, self.input_columns)
        missing = [c for c in self.input_columns if c not in df.columns]
        if missing:
            raise UsageError(
                f"input lacks column(s) the artefact was fitted with: {', '.join(missing)} "
                f"(expected {', '.join(self.input_columns)})"
            )
        # one polars pass: numeric outputs and category indices; one-hot is then a
        # scatter in numpy (an expression per vocabulary value would redo the lookup)
        exprs = [self.column_expression(col, df.schema[col.name]).alias(f"{i}") for i, col in enumerate(self.plan.columns)]
        n = df.height
        out = np.zeros((n, len(self.features)), dtype=np.float32)
        if exprs:
            computed = df.select(exprs)
            pos = 0
            rows = np.arange(n)
            for i, col in enumerate(self.plan.columns):
                values = computed.get_column(f"{i}").to_numpy()
                if isinstance(col, NumericColumn) or self.plan.encoding == "index":
                    out[:, pos] = values
                    pos += 1
                else:
                    k = len(col.vocabulary)
                    idx = values.astype(np.int64)
                    out[rows, pos + np.where(idx > 0, idx - 1, k)] = 1.0
                    pos += k + 1
        if as_tensor:
            import torch

            return torch.from_numpy(out)
        return out

    def column_expression(self, col: NumericColumn | CategoricalColumn, dtype: pl.DataType) -> pl.Expr:
        """Numeric: the scaled float32 value; categorical: the Int32 index (0 = unknown, 1.. = vocabulary)."""
        if isinstance(col, NumericColumn):
            return self._numeric(col, dtype)
        return self._index(col)

    def _numeric(self, col: NumericColumn, dtype: pl.DataType) -> pl.Expr:
        ok, num = self._parsed(col, dtype)
        value = pl.when(ok).then(num).otherwise(pl.lit(col.fill, dtype=pl.Float64))
        return ((value - col.center) / col.scale).cast(pl.Float32).alias(col.name)

    def _parsed(self, col: NumericColumn, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
        """``(usable, value)``: whether each value is a usable number, and the number."""
        raw = pl.col(col.name)
        if is_text(dtype):
            st = raw.cast(pl.String).str.strip_chars()
            num = st.cast(pl.Float64, strict=False)
            ok = num.is_finite() & ~text_missing(st, num, self.sentinels, self.numeric_sentinels)
        elif dtype.is_numeric() or dtype == pl.Boolean:
            num = raw.cast(pl.Float64)
            ok = num.is_finite()
            if self.numeric_sentinels and dtype != pl.Boolean:
                ok = ok & ~num.is_in(self.numeric_sentinels)
        elif dtype == pl.Null:
            num = raw.cast(pl.Float64)
            ok = pl.lit(False)
        else:
            raise UsageError(f"column {col.name!r} has type {dtype}; the artefact expects numbers")
        return ok, num

    def _index(self, col: CategoricalColumn) -> pl.Expr:
        st = pl.col(col.name).cast(pl.String).str.strip_chars()
        missing = text_missing(st, st.cast(pl.Float64, strict=False), self.sentinels, self.numeric_sentinels)
        value = pl.when(missing).then(pl.lit(col.fill)).otherwise(st)
        return value.replace_strict(
            col.vocabulary, list(range(1, len(col.vocabulary) + 1)), default=0, return_dtype=pl.Int32
        )

    def script_inputs(self, data: Any) -> tuple[dict[str, Any], dict[str, list[str | None]]]:
        """``(numeric, categorical)`` for the exported TorchScript module's ``forward``:
        numeric columns parsed as this transform parses them (float64 tensors, NaN where
        the value will be imputed), categorical columns as lists of strings (``None`` for
        nulls)."""
        import torch

        df = to_frame(data, self.input_columns)
        numeric: dict[str, Any] = {}
        categorical: dict[str, list[str | None]] = {}
        for col in self.plan.columns:
            if col.name not in df.columns:
                raise UsageError(f"input lacks column {col.name!r} the artefact was fitted with")
            if isinstance(col, NumericColumn):
                ok, num = self._parsed(col, df.schema[col.name])
                values = df.select(pl.when(ok).then(num).otherwise(float("nan"))).to_series().to_numpy()
                numeric[col.name] = torch.from_numpy(np.array(values, dtype=np.float64))  # a writable copy
            else:
                categorical[col.name] = df.get_column(col.name).cast(pl.String).to_list()
        return numeric, categorical

    # -- labels -----------------------------------------------------------------------
    def encode_labels(self, labels: Iterable[Any]) -> np.ndarray:
        """Class names -> int64 indices (the fitted, sorted class map). Raises
        :class:`~dataaudit.errors.UsageError` for a label that was not a train class."""
        if not self.classes:
            raise UsageError("this artefact has no class map (no label column, or a regression target)")
        index = self.class_to_idx
        keys = [_label_key(v, index) for v in labels]
        unknown = sorted({k for k in keys if k not in index})
        if unknown:
            raise UsageError(f"label(s) not among the fitted classes: {', '.join(unknown[:10])}")
        return np.asarray([index[k] for k in keys], dtype=np.int64)

    def decode_labels(self, indices: Iterable[int]) -> list[str]:
        """Indices -> class names."""
        return [self.classes[int(i)] for i in indices]


def _label_key(value: Any, index: Mapping[str, int]) -> str:
    text = str(value)
    if text not in index and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text


def to_frame(data: Any, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A polars DataFrame from a DataFrame (polars or pandas), dict rows or a column mapping.

    Python values are typed per column: all numbers (or ``None``) -> Float64 (ints
    that fit stay Int64), anything else -> String (``str(value)``), so mixed
    rows never fail schema inference.
    """
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    if isinstance(data, Mapping):
        cols = {str(k): list(v) for k, v in data.items()}
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        rows = list(data)
        names: list[str] = list(columns or [])
        for row in rows:
            if not isinstance(row, Mapping):
                raise UsageError("rows must be mappings of column name -> value")
            for k in row:
                if k not in names:
                    names.append(str(k))
        cols = {n: [row.get(n) for row in rows] for n in names if any(n in row for row in rows)}
    else:
        raise UsageError(f"cannot transform a {type(data).__name__}: pass a DataFrame, dict rows or columns")
    return pl.DataFrame([_series(name, values) for name, values in cols.items()])


def _series(name: str, values: list[Any]) -> pl.Series:
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present) and present:
        return pl.Series(name, values, dtype=pl.Boolean)
    if all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63 for v in present):
        return pl.Series(name, values, dtype=pl.Int64 if present else pl.Null)
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in present):
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)

