"""``schema_mismatch``, ``constant_column`` and ``empty_split``: the shape of each split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity
from dataaudit.sources.base import ROW


@register_check({"empty_split": {}})
def empty_split(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """A split with no usable rows or images cannot be trained or evaluated on."""
    for split in stats.ordered:
        if split.rows == 0:
            why = "every file is unreadable" if split.file_problems and not split.record_problems else (
                "every record is malformed" if split.record_problems else "it holds no data rows")
            yield Finding(
                check="empty_split", severity=Severity.ERROR, split=split.name, count=0, fraction=None,
                message=f"split {split.name} has 0 usable {'images' if split.kind == 'image' else 'rows'}: {why}",
                examples=[{"split": split.name, "path": f} for f in split.files[: ctx.example_cap]],
                details={"files": split.files},
            )


def _header_findings(split: SplitStats, ctx: CheckContext) -> Iterator[Finding]:
    headers = {path: cols for path, cols in split.file_columns.items() if cols}
    for path, cols in headers.items():
        dups = [c for c, n in Counter(cols).items() if n > 1]
        if dups:
            yield Finding(
                check="schema_mismatch", severity=Severity.WARNING, split=split.name, column=dups[0],
                count=len(dups), fraction=None,
                message=f"{path}: duplicate column name(s) {', '.join(map(repr, dups))}; "
                        "later copies were renamed with a suffix (_2, _3...)",
                examples=[{"split": split.name, "path": path, "column": d} for d in dups],
                details={"kind": "duplicate_column_names", "header": cols},
            )
    distinct = {tuple(c) for c in headers.values()}
    if len(distinct) > 1:
        first_path, first = next(iter(headers.items()))
        odd = [p for p, c in headers.items() if c != first]
        yield Finding(
            check="schema_mismatch", severity=Severity.WARNING, split=split.name, count=len(odd), fraction=None,
            message=f"{len(odd)} file(s) of {split.name} have a different header than {first_path}",
            examples=[{"split": split.name, "path": p} for p in odd[: ctx.example_cap]],
            details={"kind": "shard_headers", "reference": first,
                     "headers": {p: headers[p] for p in odd[: ctx.example_cap]}},
        )


@register_check({"schema_mismatch": {"image_size_tolerance": 0.25}})
def schema_mismatch(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Columns, column kinds or image modes/sizes that differ between splits."""
    for split in stats.ordered:
        yield from _header_findings(split, ctx)
    ref = stats.reference
    if ref is None or ref.rows == 0:
        return
    if ref.kind == "image":
        yield from _image_schema(stats, ref, ctx)
        return
    ref_cols = list(ref.columns)
    for other in stats.others:
        if other.rows == 0:
            continue
        missing = [c for c in ref_cols if c not in other.columns]
        extra = [c for c in other.columns if c not in ref.columns]
        if missing or extra:
            label_missing = stats.label_column in missing
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"extra {', '.join(map(repr, extra))}")
            yield Finding(
                check="schema_mismatch",
                severity=Severity.ERROR if label_missing else Severity.WARNING,
                split=other.name, column=(missing or extra)[0] if len(missing) + len(extra) == 1 else None,
                count=len(missing) + len(extra), fraction=None,
                message=f"{other.name} columns differ from {ref.name}: {'; '.join(parts)}",
                examples=[{"split": other.name, "column": c, "status": "missing"} for c in missing]
                + [{"split": other.name, "column": c, "status": "extra"} for c in extra],
                details={"kind": "columns", "missing": missing, "extra": extra, "reference": ref.name},
            )
        for name in ref_cols:
            if name not in other.columns:
                continue
            a, b = ref.columns[name].kind, other.columns[name].kind
            if "empty" in (a, b) or a == b or {a, b} == {"categorical", "text"}:
                continue
            yield Finding(
                check="schema_mismatch", severity=Severity.WARNING, split=other.name, column=name, count=1,
                fraction=None,
                message=f"column {name!r} is {a} in {ref.name} but {b} in {other.name}",
                examples=[{"split": other.name, "column": name, "kind": b,
                           "non_numeric_examples": [v for _, v in other.columns[name].non_numeric_examples[:5]]}],
                details={"kind": "column_kind", "reference_kind": a, "kind_in_split": b,
                         "dtypes": {ref.name: sorted(ref.columns[name].dtypes),
                                    other.name: sorted(other.columns[name].dtypes)}},
            )


def _median(split: SplitStats, column: str) -> float | None:
    rows = split.sample.rows()
    if column not in rows.columns or rows.height == 0:
        return None
    vals = rows.get_column(column).drop_nulls().to_numpy()
    return float(np.median(vals)) if len(vals) else None


def _image_schema(stats: DatasetStats, ref: SplitStats, ctx: CheckContext) -> Iterator[Finding]:
    tol = ctx.params("schema_mismatch")["image_size_tolerance"]
    ref_modes: Counter[str] = ref.extra.get("modes", Counter())
    ref_mode = ref_modes.most_common(1)[0][0] if ref_modes else None
    ref_w, ref_h = _median(ref, "width"), _median(ref, "height")
    for other in stats.others:
        if other.rows == 0:
            continue
        modes: Counter[str] = other.extra.get("modes", Counter())
        mode = modes.most_common(1)[0][0] if modes else None
        if ref_mode and mode and mode != ref_mode:
            yield Finding(
                check="schema_mismatch", severity=Severity.WARNING, split=other.name, count=modes[mode],
                fraction=modes[mode] / max(other.rows, 1),
                message=f"images in {other.name} are mostly {mode} but {ref.name} is mostly {ref_mode}",
                examples=[], details={"kind": "image_mode", "modes": {ref.name: dict(ref_modes), other.name: dict(modes)}},
            )
        w, h = _median(other, "width"), _median(other, "height")
        if None in (ref_w, ref_h, w, h):
            continue
        assert ref_w and ref_h and w and h
        rel = max(abs(w - ref_w) / ref_w, abs(h - ref_h) / ref_h)
        if rel > tol:
            yield Finding(
                check="schema_mismatch", severity=Severity.WARNING, split=other.name, count=other.rows, fraction=1.0,
                message=f"typical image size in {other.name} is {w:.0f}x{h:.0f}, in {ref.name} {ref_w:.0f}x{ref_h:.0f}",
                examples=[], details={"kind": "image_size", "median_size": {ref.name: [ref_w, ref_h], other.name: [w, h]},
                                      "relative_difference": rel, "tolerance": tol},
            )


@register_check({"constant_column": {"min_rows": 2}})
def constant_column(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Columns with one value (or only missing values) in a split carry no information there."""
    min_rows = ctx.params("constant_column")["min_rows"]
    ref = stats.reference
    for split in stats.ordered:
        if split.kind != "table" or split.rows < min_rows:
            continue
        for name, col in split.columns.items():
            if name == ROW or not col.is_constant:
                continue
            in_ref = split is ref
            if not in_ref and ref is not None and name in ref.columns and ref.columns[name].is_constant:
                continue  # reported once, for the reference split
            value = next(iter(col.values), None) if col.values else None
            if col.present == 0:
                msg = f"column {name!r} in {split.name} has only missing values"
            else:
                msg = f"column {name!r} in {split.name} has a single value: {value!r}"
            yield Finding(
                check="constant_column",
                severity=Severity.WARNING if in_ref else Severity.INFO,
                split=split.name, column=name, count=col.count, fraction=1.0,
                message=msg,
                examples=[{"split": split.name, "column": name, "value": value}],
                details={"value": value, "missing": col.missing, "rows": col.count},
            )
