"""``delimiter_corruption``: malformed records in the raw text of delimited files."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.report.model import Finding, Severity
from dataaudit.sources.base import RecordProblem

KIND_WORDS = {
    "field_count": "a wrong number of fields",
    "other_delimiter": "another delimiter",
    "unbalanced_quote": "an unbalanced quote",
    "bad_json": "invalid JSON",
    "invalid_utf8": "bytes that are not valid UTF-8",
    "invalid_encoding": "bytes the --encoding given cannot decode",
}
TEXT_KINDS = ("invalid_utf8", "invalid_encoding")


@register_check({"delimiter_corruption": {"warning_fraction": 0.0, "error_fraction": 0.0}})
def delimiter_corruption(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Per split: records with the wrong field count, another delimiter or open quotes."""
    p = ctx.params("delimiter_corruption")
    groups: dict[str | None, list[RecordProblem]] = defaultdict(list)
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for split in stats.ordered:
        for prob in split.record_problems:
            groups[prob.split].append(prob)
        key = split.record_problems[0].split if split.record_problems else split.name
        counts[key].update(split.record_problem_counts)
    for split_name, probs in groups.items():
        kinds = counts[split_name]
        total = sum(kinds.values())
        known = stats.splits.get(split_name) if split_name else None
        rows = (known.rows + total) if known is not None else sum(s.rows for s in stats.ordered) + total
        frac = total / rows if rows else None
        severity = Severity.ERROR if frac is not None and frac > p["error_fraction"] else Severity.WARNING
        if frac is not None and frac <= p["warning_fraction"]:
            severity = Severity.INFO
        expected = probs[0].expected
        what = ", ".join(f"{n} with {KIND_WORDS.get(k, k)}" for k, n in kinds.most_common())
        where = f"in {split_name}" if split_name else f"in {probs[0].path}"
        columns = sorted({pr.column for pr in probs if pr.kind in TEXT_KINDS and pr.column is not None})
        details: dict[str, object] = {"kinds": dict(kinds), "expected_fields": expected,
                                      "files": sorted({pr.path for pr in probs})}
        hint = ""
        if columns:
            details["columns"] = columns
            hint = (f"; bytes that are not text in column(s) {', '.join(columns)} (nothing is re-read in a "
                    "guessed encoding: if the file is in another one, pass --encoding, e.g. cp1252)")
        only_text = all(k in TEXT_KINDS for k in kinds)
        yield Finding(
            check="delimiter_corruption",
            severity=severity,
            split=split_name,
            column=columns[0] if only_text and len(columns) == 1 else None,
            count=total,
            fraction=frac,
            message=(f"{total} malformed record(s) {where} ({what}; the header has {expected} fields); "
                     f"they were left out of every other check{hint}"),
            examples=[pr.item() for pr in sorted(probs, key=lambda q: (q.path, q.line))[: ctx.example_cap]],
            details=details,
        )
