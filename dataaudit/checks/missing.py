"""``missing_values``: nulls, NaN, empty strings and sentinel tokens per column and split."""

from __future__ import annotations

from collections.abc import Iterator

from dataaudit.checks.registry import CheckContext, ranked, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.report.model import Finding, Severity


@register_check({"missing_values": {"warning_fraction": 0.05, "error_fraction": 0.5}})
def missing_values(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """A finding per (split, column) with missing values; missing labels are at least warnings."""
    p = ctx.params("missing_values")
    for split in stats.ordered:
        if split.kind != "table":
            continue
        for name, col in split.columns.items():
            missing = col.missing
            if missing == 0 or col.count == 0:
                continue
            frac = missing / col.count
            if frac >= p["error_fraction"]:
                sev = Severity.ERROR
            elif frac >= p["warning_fraction"] or name == stats.label_column:
                sev = Severity.WARNING
            else:
                sev = Severity.INFO
            parts = []
            if col.nulls:
                parts.append(f"{col.nulls} null")
            if col.empty:
                parts.append(f"{col.empty} empty")
            if col.nan:
                parts.append(f"{col.nan} NaN")
            for tok, n in ranked(col.sentinels):
                parts.append(f"{n} {tok!r}")
            what = "label" if name == stats.label_column else "column"
            yield Finding(
                check="missing_values",
                severity=sev,
                split=split.name,
                column=name,
                count=missing,
                fraction=frac,
                message=f"{what} {name!r} in {split.name}: {missing} of {col.count} values missing "
                        f"({frac:.1%}: {', '.join(parts)})",
                examples=[split.item(r) for r in col.missing_rows[: ctx.example_cap]],
                details={"nulls": col.nulls, "empty": col.empty, "nan": col.nan,
                         "sentinels": dict(col.sentinels), "warning_fraction": p["warning_fraction"],
                         "error_fraction": p["error_fraction"]},
            )
