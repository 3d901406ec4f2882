"""Validate every split against an ExpectationSuite during the scan's single pass.

Great Expectations validates one in-memory frame at a time, and a scan streams
each split in batches, so the suite's expectations are sorted by what they need:

* **row-wise** expectations (column map, column pair map, multicolumn map:
  value sets, ranges, not-null, regexes, types of object columns...) are
  validated on every batch (small batches, such as a Hub stream's, gathered into
  chunks of :data:`CHUNK_ROWS` rows of one schema, since each GX validation has
  a fixed cost); their unexpected counts, element counts and the rows that broke
  them add up exactly over a split, and ``mostly`` is applied to the split's
  totals;
* **schema** expectations (the set or order of columns, a column's existence,
  the column count) are validated once per distinct header of a split;
* **row counts** (``expect_table_row_count_to_be_between`` / ``_to_equal``) are
  checked at the end against the split's total row count;
* everything else describes a whole split (min, max, mean, quantiles, distinct
  values, uniqueness...): the columns those expectations name are kept for the
  split and validated once at the end, so their answer is the split's, not a
  batch's.

One GX ephemeral context is built per validator (analytics and progress bars
off); batches are handed over as pandas frames, since GX refuses polars.
Each failed expectation becomes one finding per split, check id ``expectation``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from dataaudit.errors import UsageError
from dataaudit.expectations import native
from dataaudit.expectations.suite import (
    META_KEY,
    TYPED_FORMATS,
    build_suite,
    coerce,
    column_kinds,
    ephemeral_context,
    is_textual,
    own_expectations,
    plain,
    quiet_gx,
    read_suite_json,
    to_pandas,
)
from dataaudit.report.model import Finding, Severity
from dataaudit.sources.base import ROW, split_order

if TYPE_CHECKING:
    from dataaudit.config import Config
    from dataaudit.sources.base import Batch, Dataset

CHECK_ID = "expectation"
_INDEX = "__dataaudit_index__"
"""Meta key tagging each expectation handed to GX, to map results back (GX reorders them)."""

ROW_COUNT_TYPES = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
SCHEMA_TYPES = frozenset({
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist", "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
})  # fmt: skip
WHOLE_SPLIT_MAP_TYPES = frozenset({
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
    "expect_multicolumn_values_to_be_unique", "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
})  # fmt: skip
"""Map expectations whose answer for a row depends on other batches' rows."""
_NULL_TYPES = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"})
_GX_SEVERITY = {"critical": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
_TOP_VALUES = 10
CHUNK_ROWS = 100_000
"""Row-wise expectations are validated on chunks of at least this many rows (or a whole batch)."""


@dataclass
class _Entry:
    """One expectation of the suite and how it is evaluated."""

    index: int
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    severity: Severity
    group: str
    """``row``, ``schema``, ``rows`` or ``split``."""
    columns: list[str]
    splits: set[str] | None
    config: dict[str, Any]
    native: bool = False
    """Answered by :mod:`dataaudit.expectations.native` (GX only where it declines a frame)."""

    def applies_to(self, split: str) -> bool:
        return self.splits is None or split in self.splits

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return col if isinstance(col, str) else None


@dataclass
class _Outcome:
    """What one expectation met in one split, summed over its batches."""

    element_count: int = 0
    missing_count: int = 0
    unexpected_count: int = 0
    values: Counter[str] = field(default_factory=Counter)
    shown: dict[str, Any] = field(default_factory=dict)
    examples: list[tuple[int, Any]] = field(default_factory=list)
    failed: bool = False
    observed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    missing_columns: set[str] = field(default_factory=set)


class SuiteValidator:
    """Validates the batches of every split against a suite; see the module docstring."""

    def __init__(self, suite_path: str | Path, dataset: Dataset, config: Config) -> None:
        self.path = Path(suite_path)
        data = read_suite_json(self.path)
        origin = f"--expectations {self.path}"
        raw = list(data["expectations"]) + own_expectations(data, origin)
        if all(isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("kwargs") or {}, dict)
               and native.supported(e["type"], dict(e.get("kwargs") or {})) for e in raw):
            # Everything is answered natively: Great Expectations is not imported at all.
            expectations = [dict(e) for e in raw]
        else:
            # GX validates types and kwargs up front and answers what native.py does not.
            expectations = build_suite({**data, "expectations": raw}, origin).to_json_dict()["expectations"]
        self.name = str(data.get("name") or self.path.stem)
        self.dataset = dataset
        self.config = config
        self.kinds = column_kinds(data)
        self.entries = [self._entry(i, e, origin) for i, e in enumerate(expectations)]
        self._drop = [c for c in dataset.exclude_columns if c != ROW]
        self._outcomes: dict[tuple[str, int], _Outcome] = {}
        self._rows: dict[str, int] = {}
        self._seen_headers: dict[str, set[tuple[str, ...]]] = {}
        self._buffers: dict[str, list[pl.DataFrame]] = {}
        self._gx_suites: dict[tuple[int, ...], Any] = {}
        self._example_cap = max(config.max_examples, 1)
        self._pending: dict[str, tuple[tuple[tuple[str, str], ...], list[pl.DataFrame], int]] = {}
        rowwise = [e for e in self.entries if e.group == "row"]
        self._row_whole = any(not e.columns or e.kwargs.get("row_condition") for e in rowwise)
        self._row_columns = {c for e in rowwise for c in e.columns}
        need = {c for e in self.entries if e.group == "split" for c in e.columns}
        self._whole_frame = any(e.group == "split" and not e.columns for e in self.entries)
        self._split_columns = sorted(need)
        self._batch_definition: Any = None
        self._context: Any = None

    def _gx_batch_definition(self) -> Any:
        """The GX context's batch definition, made when GX is first needed."""
        if self._batch_definition is None:
            with quiet_gx():
                self._context = ephemeral_context()
                source = self._context.data_sources.add_pandas(name="dataaudit")
                asset = source.add_dataframe_asset(name="batches")
                self._batch_definition = asset.add_batch_definition_whole_dataframe("batch")
        return self._batch_definition

    # -- set-up --------------------------------------------------------------------
    def _entry(self, index: int, exp: dict[str, Any], origin: str) -> _Entry:
        etype = str(exp["type"])
        kwargs = dict(exp.get("kwargs") or {})
        meta = dict(exp.get("meta") or {})
        severity = self._severity(meta, exp.get("severity"), origin, etype)
        scope = (meta.get(META_KEY) or {}).get("splits") if isinstance(meta.get(META_KEY), dict) else None
        splits = None
        if scope is not None:
            if not isinstance(scope, list):
                raise UsageError(f"{origin}: {etype}: meta.{META_KEY}.splits must be a list of split names")
            from dataaudit.sources.base import canonical_split

            splits = {canonical_split(str(s)) or str(s) for s in scope}
        columns: list[str] = []
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                columns.append(kwargs[key])
        for key in ("column_list",):
            if isinstance(kwargs.get(key), list):
                columns += [str(c) for c in kwargs[key]]
        is_native = native.supported(etype, kwargs)
        if etype in ROW_COUNT_TYPES:
            group = "rows"
        elif etype in SCHEMA_TYPES:
            group = "schema"
        elif etype in native.MAP_TYPES or (etype not in WHOLE_SPLIT_MAP_TYPES and self._is_map(exp)):
            group = "row"
        else:
            group = "split"
        config = {k: v for k, v in exp.items() if k in ("type", "kwargs", "severity")}
        config["meta"] = {**meta, _INDEX: index}
        return _Entry(index, etype, kwargs, meta, severity, group, columns, splits, config, is_native)

    def _is_map(self, exp: dict[str, Any]) -> bool:
        from great_expectations.expectations.expectation import (
            ColumnMapExpectation,
            ColumnPairMapExpectation,
            MulticolumnMapExpectation,
        )
        from great_expectations.expectations.registry import get_expectation_impl

        try:
            impl = get_expectation_impl(exp["type"])
        except Exception:
            return False
        return issubclass(impl, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))

    @staticmethod
    def _severity(meta: dict[str, Any], native: Any, origin: str, etype: str) -> Severity:
        value = meta.get("severity")
        if value is not None:
            try:
                sev = Severity.parse(str(value))
            except ValueError:
                sev = Severity.NEVER
            if sev == Severity.NEVER:
                raise UsageError(f"{origin}: {etype}: meta.severity must be error, warning or info, got {value!r}")
            return sev
        return _GX_SEVERITY.get(str(native).lower(), Severity.ERROR) if native else Severity.ERROR

    def _gx_suite(self, entries: list[_Entry]) -> Any:
        key = tuple(e.index for e in entries)
        suite = self._gx_suites.get(key)
        if suite is None:
            suite = build_suite(
                {"name": f"{self.name}-{len(self._gx_suites)}", "expectations": [e.config for e in entries]},
                f"--expectations {self.path}",
            )
            self._gx_suites[key] = suite
        return suite

    # -- the pass ------------------------------------------------------------------
    def update(self, batch: Batch) -> None:
        """Validate one batch (row-wise and schema expectations) and keep what the end needs."""
        frame = batch.frame
        if frame is None:
            return
        split = batch.split
        self._rows[split] = self._rows.get(split, 0) + frame.height
        if self._drop:
            frame = frame.drop([c for c in self._drop if c in frame.columns])
        info = self.dataset.splits.get(split)
        frame = coerce(frame, self.kinds, is_textual(frame, info.format if info else None))
        present = set(frame.columns)
        applicable = [e for e in self.entries if e.applies_to(split)]
        header = tuple(c for c in frame.columns if c != ROW)
        headers = self._seen_headers.setdefault(split, set())
        schema = [e for e in applicable if e.group == "schema"] if header not in headers else []
        headers.add(header)
        if frame.height and any(e.group == "row" for e in applicable):
            # Only the columns the expectations read are kept (wide tables, image columns).
            part = frame if self._row_whole else frame.select(
                [c for c in frame.columns if c == ROW or c in self._row_columns])
            self._queue(split, part)
        if frame.height and schema:
            names = [c for c in frame.columns if c != ROW]
            for e in schema:
                if e.native:
                    self._absorb_result(split, e, native.schema_result(e.type, e.kwargs, names), None, batch.path)
            others = [e for e in schema if not e.native]
            if others:
                # Schema expectations read names and types only: one row is enough.
                self._validate(split, others, to_pandas(frame.head(1).drop(ROW)), batch.path)
        if any(e.group == "split" for e in applicable) and frame.height:
            keep = frame if self._whole_frame else frame.select([c for c in [ROW, *self._split_columns] if c in present])
            self._buffers.setdefault(split, []).append(keep)

    def _queue(self, split: str, frame: pl.DataFrame) -> None:
        """Gather small batches (a Hub stream's) into chunks: GX costs a fixed time per validation."""
        key = tuple((name, str(dt)) for name, dt in frame.schema.items())
        pending = self._pending.get(split)
        if pending is not None and pending[0] != key:
            self._flush(split)  # another schema: never mix it into one frame
            pending = None
        if pending is None:
            pending = (key, [], 0)
        pending[1].append(frame)
        self._pending[split] = (key, pending[1], pending[2] + frame.height)
        if self._pending[split][2] >= CHUNK_ROWS:
            self._flush(split)

    def _flush(self, split: str) -> None:
        pending = self._pending.pop(split, None)
        if pending is None:
            return
        frames = pending[1]
        frame = pl.concat(frames) if len(frames) > 1 else frames[0]
        present = set(frame.columns)
        row = []
        for e in self.entries:
            if e.group != "row" or not e.applies_to(split):
                continue
            missing = [c for c in e.columns if c not in present]
            if missing:
                self._outcome(split, e).missing_columns.update(missing)
            else:
                row.append(e)
        gx_row = []
        cache: dict[str, Any] = {}
        for e in row:
            res = native.map_result(e.type, e.kwargs, frame, self._example_cap, cache) if e.native else None
            if res is None:
                gx_row.append(e)
            else:
                self._absorb_result(split, e, res, None, None)
        if gx_row:
            self._validate(split, gx_row, to_pandas(frame), None)

    def _outcome(self, split: str, entry: _Entry) -> _Outcome:
        key = (split, entry.index)
        out = self._outcomes.get(key)
        if out is None:
            out = self._outcomes[key] = _Outcome()
        return out

    def _validate(self, split: str, entries: list[_Entry], pdf: Any, path: str | None) -> None:
        suite = self._gx_suite(entries)
        fmt = {
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [ROW],
            "partial_unexpected_count": self._example_cap,
        }
        with quiet_gx():
            batch = self._gx_batch_definition().get_batch(batch_parameters={"dataframe": pdf})
            result = batch.validate(suite, result_format=fmt)
        by_index = {e.index: e for e in entries}
        for res in result.results:
            meta = res.expectation_config.meta or {}
            entry = by_index.get(int(meta.get(_INDEX, -1)))
            if entry is None:
                continue
            self._absorb(split, entry, res, path)

    def _absorb(self, split: str, entry: _Entry, res: Any, path: str | None) -> None:
        self._absorb_result(split, entry, {"success": res.success, "result": res.result},
                            _exception(res.exception_info), path)

    def _absorb_result(self, split: str, entry: _Entry, res: dict[str, Any], error: str | None,
                       path: str | None) -> None:
        """Add one evaluation (GX's or native.py's: ``success`` and ``result``) to the split's outcome."""
        out = self._outcome(split, entry)
        if error is not None:
            out.failed = True
            out.error = out.error or error
            return
        r = dict(res.get("result") or {})
        if "unexpected_count" in r and "element_count" in r:
            out.element_count += int(r.get("element_count") or 0)
            out.missing_count += int(r.get("missing_count") or 0)
            out.unexpected_count += int(r.get("unexpected_count") or 0)
            for vc in r.get("partial_unexpected_counts") or []:
                shown = plain(vc.get("value"))
                key = repr(shown)
                out.values[key] += int(vc.get("count") or 0)
                out.shown.setdefault(key, shown)
            for item in r.get("partial_unexpected_index_list") or []:
                if isinstance(item, dict) and ROW in item:
                    values = {k: plain(v) for k, v in item.items() if k != ROW}
                    value = next(iter(values.values())) if len(values) == 1 else values
                    out.examples.append((int(item[ROW]), value))
            if len(out.examples) > 4 * self._example_cap:
                out.examples = sorted(out.examples, key=lambda x: x[0])[: self._example_cap]
        elif not res.get("success"):
            out.failed = True
            if len(out.observed) < 5:
                seen: dict[str, Any] = {"observed_value": plain(r.get("observed_value"))}
                if r.get("details"):
                    seen["details"] = plain(r["details"])
                if path is not None:
                    seen["path"] = path
                out.observed.append(seen)

    # -- the end -------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        """One finding per failed expectation and split (check id ``expectation``)."""
        for split in list(self._pending):
            self._flush(split)
        self._validate_whole_splits()
        splits = sorted(set(self.dataset.splits) | set(self._rows), key=split_order)
        found: list[Finding] = []
        for split in splits:
            for entry in self.entries:
                if not entry.applies_to(split):
                    continue
                finding = self._finding(split, entry)
                if finding is not None:
                    found.append(finding)
        return found

    def _validate_whole_splits(self) -> None:
        buffers, self._buffers = self._buffers, {}
        for split, parts in buffers.items():
            entries = [e for e in self.entries if e.group == "split" and e.applies_to(split)]
            frame = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
            ready = []
            for e in entries:
                missing = [c for c in e.columns if c not in frame.columns]
                if missing:
                    self._outcome(split, e).missing_columns.update(missing)
                else:
                    ready.append(e)
            if ready:
                self._validate(split, ready, to_pandas(frame), None)

    def _finding(self, split: str, entry: _Entry) -> Finding | None:
        if entry.group == "rows":
            return self._row_count_finding(split, entry)
        out = self._outcomes.get((split, entry.index))
        if out is None:
            return None
        details: dict[str, Any] = {
            "expectation": entry.type,
            "kwargs": _short_kwargs(entry.kwargs),
            "suite": self.name,
        }
        if isinstance(entry.meta.get(META_KEY), dict):
            details["train"] = {k: v for k, v in entry.meta[META_KEY].items() if k != "splits"}
        where = f"'{entry.column}'" if entry.column else ", ".join(f"'{c}'" for c in entry.columns) or "the table"
        if out.missing_columns:
            cols = sorted(out.missing_columns)
            details["missing_columns"] = cols
            return Finding(
                check=CHECK_ID, severity=entry.severity, split=split, column=entry.column, count=len(cols),
                message=f"{entry.type} cannot be evaluated on {split}: column {', '.join(map(repr, cols))} "
                f"is missing",
                details=details,
            )
        if out.error is not None:
            details["error"] = out.error
            return Finding(
                check=CHECK_ID, severity=entry.severity, split=split, column=entry.column, count=0,
                message=f"{entry.type} on {where} could not be evaluated on {split}: {out.error}",
                details=details,
            )
        if out.unexpected_count or out.element_count:
            return self._map_finding(split, entry, out, details, where)
        if out.failed:
            observed = out.observed[0] if out.observed else {}
            details["observed"] = out.observed
            examples = [{"split": split, "path": o["path"]} for o in out.observed if "path" in o]
            mismatch = (observed.get("details") or {}).get("mismatched") if isinstance(observed.get("details"), dict) else None
            count = 1
            text = f"observed {_fmt(observed.get('observed_value'))}"
            if isinstance(mismatch, dict):
                missing = list(mismatch.get("missing") or [])
                unexpected = list(mismatch.get("unexpected") or [])
                count = max(1, len(missing) + len(unexpected))
                parts = []
                if missing:
                    parts.append("missing " + ", ".join(map(repr, missing)))
                if unexpected:
                    parts.append("unexpected " + ", ".join(map(repr, unexpected)))
                text = "; ".join(parts) or text
            return Finding(
                check=CHECK_ID, severity=entry.severity, split=split, column=entry.column, count=count,
                message=f"{entry.type} failed on {split} for {where}: {text}",
                examples=examples, details=details,
            )
        return None

    def _map_finding(self, split: str, entry: _Entry, out: _Outcome, details: dict[str, Any], where: str) -> Finding | None:
        denom = out.element_count if entry.type in _NULL_TYPES else out.element_count - out.missing_count
        mostly = entry.kwargs.get("mostly")
        mostly = float(mostly) if isinstance(mostly, (int, float)) else 1.0
        if out.unexpected_count == 0:
            return None
        share = out.unexpected_count / denom if denom > 0 else 1.0
        if 1.0 - share >= mostly - 1e-12:
            return None
        top = [{"value": out.shown[k], "count": n} for k, n in out.values.most_common(_TOP_VALUES)]
        details.update({
            "element_count": out.element_count,
            "missing_count": out.missing_count,
            "unexpected_count": out.unexpected_count,
            "unexpected_fraction": round(share, 6),
            "mostly": mostly,
            "unexpected_values": top,
        })  # fmt: skip
        examples: list[dict[str, Any]] = []
        for row, value in sorted(out.examples, key=lambda x: x[0])[: self._example_cap]:
            item: dict[str, Any] = {"split": split, "row": row}
            if entry.column:
                item["column"] = entry.column
            item["value"] = value
            examples.append(item)
        shown = ", ".join(_fmt(t["value"]) for t in top[:5])
        return Finding(
            check=CHECK_ID, severity=entry.severity, split=split, column=entry.column,
            count=out.unexpected_count, fraction=share if denom > 0 else None,
            message=f"{entry.type}: {out.unexpected_count} of {denom} {split} rows {_what(entry, self._numeric(split, entry))}"
            + (f" (e.g. {shown})" if shown and entry.type not in _NULL_TYPES else ""),
            examples=examples, details=details,
        )

    def _numeric(self, split: str, entry: _Entry) -> bool:
        """Whether ``entry``'s column is parsed from text as a number in ``split``."""
        info = self.dataset.splits.get(split)
        fmt = (info.format or "").lower() if info else ""
        return self.kinds.get(entry.column or "") in ("numeric", "integer") and fmt not in TYPED_FORMATS

    def _row_count_finding(self, split: str, entry: _Entry) -> Finding | None:
        rows = self._rows.get(split, 0)
        kw = entry.kwargs
        if entry.type == "expect_table_row_count_to_equal":
            ok = rows == kw.get("value")
            wanted = f"exactly {kw.get('value')}"
        else:
            lo, hi = kw.get("min_value"), kw.get("max_value")
            ok = True
            if lo is not None:
                ok = ok and (rows > lo if kw.get("strict_min") else rows >= lo)
            if hi is not None:
                ok = ok and (rows < hi if kw.get("strict_max") else rows <= hi)
            wanted = (
                f"between {lo} and {hi}" if lo is not None and hi is not None
                else f"at least {lo}" if lo is not None else f"at most {hi}"
            )
        if ok:
            return None
        details: dict[str, Any] = {"expectation": entry.type, "kwargs": dict(kw), "suite": self.name,
                                   "observed_value": rows}
        if isinstance(entry.meta.get(META_KEY), dict):
            details["train"] = {k: v for k, v in entry.meta[META_KEY].items() if k != "splits"}
        if self.dataset.partial:
            details["partial"] = True
        return Finding(
            check=CHECK_ID, severity=entry.severity, split=split, column=None, count=rows,
            message=f"{entry.type}: {split} has {rows} rows; the suite expects {wanted}",
            details=details,
        )


def _exception(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating, if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")[:300]
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "error")[:300]
    return None


def _what(entry: _Entry, numeric_text: bool = False) -> str:
    kw = entry.kwargs
    col = f"'{entry.column}'" if entry.column else ", ".join(f"'{c}'" for c in entry.columns)
    t = entry.type
    if t == "expect_column_values_to_be_in_set":
        return f"have a value of {col} outside the expected set"
    if t == "expect_column_values_to_not_be_in_set":
        return f"have a forbidden value of {col}"
    if t == "expect_column_values_to_not_be_null":
        if numeric_text:
            return f"have no number in {col} (missing, or text that is not a number), which the suite requires"
        return f"have no value in {col}, which the suite requires"
    if t == "expect_column_values_to_be_between":
        return f"have {col} outside [{kw.get('min_value')}, {kw.get('max_value')}]"
    if t == "expect_column_values_to_be_in_type_list":
        return f"have a value of {col} not of type {', '.join(map(str, kw.get('type_list') or []))}"
    if t == "expect_column_values_to_be_unique":
        return f"have a value of {col} that occurs more than once"
    if t in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        return f"have {col} failing the pattern {kw.get('regex')!r}"
    return f"break it on {col or 'the row'}"


def _fmt(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    for key in ("value_set", "column_set", "column_list", "type_list"):
        value = out.get(key)
        if isinstance(value, list) and len(value) > 50:
            out[key] = value[:50] + [f"... {len(value) - 50} more"]
    return plain(out)  # type: ignore[no-any-return]
