"""The label checks: ``label_corruption``, ``class_imbalance``, ``label_set_mismatch``,
``label_shift`` and ``conflicting_labels``; and ``label_missing``, the warning that none
of them could run because no label column was named, found or inferred.

Labels that look corrupt (case/whitespace variants, near-miss typos of a frequent
class, numbers among categorical labels, values of another column) are found once
by :func:`suspect_labels` and left out of the class-count checks, so one typo is
reported once, as what it is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataaudit.checks.duplicates import key_answers
from dataaudit.checks.registry import CheckContext, ranked, register_check
from dataaudit.checks.twosample import categorical_shift
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.hashes import fold32
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity


@dataclass(frozen=True)
class Suspect:
    value: str
    reason: str
    """``case_or_whitespace``, ``typo``, ``numeric``, ``other_column``."""
    resembles: str | None
    explanation: str


def _key(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip().casefold()


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity")


def _digits_differ_only(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ and are the same once their digits are removed."""
    return a != b and re.sub(r"\d+", "#", a) == re.sub(r"\d+", "#", b)


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


REGRESSION_MIN_DISTINCT = 20
"""Numeric labels with more distinct values than this may be a regression target (see below)."""


REGRESSION_REPEAT_MIN = 50
"""Integer labels with more distinct values than this, averaging under ~3 rows each, are a target."""


def is_regression_target(counts: Counter[str]) -> bool:
    """Numeric labels that measure a quantity rather than name a class.

    Class ids are few, or integers that densely cover their range (``0..K-1``); a
    target such as a price or a body mass has many distinct values that are
    fractional or sparse over their range. Binary labels written as ``0.0``/``1.0``
    stay classes (two distinct values).
    """
    if len(counts) <= REGRESSION_MIN_DISTINCT:
        return False
    rows = sum(counts.values())
    values: list[float] = []
    numeric_rows = 0
    for v, n in counts.items():
        if _is_number(v):
            values.append(float(v))
            numeric_rows += n
    if numeric_rows < 0.95 * rows or len(values) <= REGRESSION_MIN_DISTINCT:
        return False
    if any(not x.is_integer() for x in values):
        return True
    span = max(values) - min(values) + 1
    # Sparse over the range (prices in whole units), or values that rarely repeat: a score or a
    # count such as sklearn's diabetes progression (214 values in 442 rows), not 100 classes.
    return len(values) < 0.5 * span or (len(values) > REGRESSION_REPEAT_MIN and len(values) > 0.3 * numeric_rows)


def label_counts(stats: DatasetStats) -> Counter[str] | None:
    """Label counts over every split, or ``None`` when labels are absent or not categorical
    (too many distinct values to count, or a numeric regression target)."""
    total: Counter[str] = Counter()
    seen = False
    for split in stats.ordered:
        if split.labels is None:
            continue
        if split.labels.counts is None:
            return None
        seen = True
        total.update(split.labels.counts)
    if not seen or (not stats.class_names and is_regression_target(total)):
        return None
    return total


def suspect_labels(stats: DatasetStats, p: dict[str, Any]) -> dict[str, Suspect]:
    """Label values that are probably not valid classes, with the reason."""
    counts = label_counts(stats)
    if counts is None or len(counts) < 2:
        return {}
    if stats.class_names:
        valid = set(stats.class_names)
        return {v: Suspect(v, "not_a_class", None, f"{v!r} is not one of the declared class names")
                for v in counts if v not in valid}
    rows = sum(counts.values())
    numeric_rows = sum(n for v, n in counts.items() if _is_number(v))
    numeric_column = numeric_rows >= 0.5 * rows
    by_count = ranked(counts)
    # Rarity is measured against the largest class: corrupt labels are themselves rare classes
    # and would drag a median down to their own count.
    largest = float(by_count[0][1])
    out: dict[str, Suspect] = {}
    by_key: dict[str, str] = {}
    for v, _ in by_count:  # most frequent spelling of each key wins
        by_key.setdefault(_key(v), v)
    for v, n in by_count:
        canon = by_key[_key(v)]
        if canon != v:
            out[v] = Suspect(v, "case_or_whitespace", canon,
                             f"{v!r} differs from the class {canon!r} only in case or whitespace")
    ratio = p["typo_max_ratio"]
    for v, n in by_count:
        if v in out:
            continue
        kv = _key(v)
        if not numeric_column and len(kv) >= 3 and not _is_number(v):
            for u, m in by_count:
                if u == v or u in out or n > ratio * m:
                    continue
                ku = _key(u)
                if _digits_differ_only(kv, ku):
                    continue  # "stage_4" vs "stage_3", "A1" vs "A2": numbered classes, not typos
                limit = 1 if len(ku) < 6 else 2
                if edit_distance(kv, ku, limit) <= limit:
                    out[v] = Suspect(v, "typo", u, f"{v!r} ({n} rows) is one or two edits from the class {u!r} ({m} rows)")
                    break
        if v in out:
            continue
        rare = n <= p["rare_ratio"] * largest
        if not numeric_column and _is_number(v) and rare:
            out[v] = Suspect(v, "numeric", None, f"{v!r} is a number among categorical labels")
        if rare:
            col = _other_column_with(stats, v)
            if col is not None:
                expl = f"{v!r} is a value of column {col!r}: the row may be shifted by a column"
                out[v] = Suspect(v, "other_column", col, expl)
    return out


def _other_column_with(stats: DatasetStats, value: str) -> str | None:
    """A feature column that holds ``value`` exactly, else a numeric one whose range holds it."""
    ref = stats.reference
    if ref is None:
        return None
    features = [(name, col) for name, col in ref.columns.items()
                if name != stats.label_column and name not in stats.id_columns]
    for name, col in features:
        if col.values is not None and col.values.get(value, 0) > 0:
            return name
    if _is_number(value) and not float(value).is_integer():
        x = float(value)
        for name, col in features:
            if col.kind == "numeric" and col.numeric.count and col.numeric.min <= x <= col.numeric.max:
                return name
    return None


LABEL_DEFAULTS = {"typo_max_ratio": 0.05, "rare_ratio": 0.05}


@register_check({"label_corruption": LABEL_DEFAULTS})
def label_corruption(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Labels that are not valid classes: typos, variants, numbers, shifted values."""
    suspects = suspect_labels(stats, ctx.params("label_corruption"))
    if not suspects:
        return
    for split in stats.ordered:
        if split.labels is None or split.labels.counts is None:
            continue
        here = [s for s in suspects.values() if split.labels.counts.get(s.value, 0)]
        if not here:
            continue
        count = sum(split.labels.counts[s.value] for s in here)
        examples = []
        for s in here:
            for r in split.labels.first_rows.get(s.value, [])[:5]:
                examples.append({**split.item(r), "label": s.value, "reason": s.reason,
                                 **({"resembles": s.resembles} if s.resembles else {})})
        examples.sort(key=lambda e: e.get("row", 0))
        yield Finding(
            check="label_corruption", severity=Severity.ERROR, split=split.name, column=stats.label_column,
            count=count, fraction=count / max(split.rows, 1),
            message=f"{count} {split.name} label(s) are not valid classes: "
                    + "; ".join(s.explanation for s in here[:5]) + ("; ..." if len(here) > 5 else ""),
            examples=examples[: ctx.example_cap],
            details={"suspects": {s.value: {"reason": s.reason, "resembles": s.resembles,
                                            "count": split.labels.counts[s.value]} for s in here}},
        )


def _valid_counts(split: SplitStats, suspects: dict[str, Suspect]) -> Counter[str] | None:
    if split.labels is None or split.labels.counts is None:
        return None
    return Counter({k: v for k, v in split.labels.counts.items() if k not in suspects})


@register_check({"class_imbalance": {"ratio_warning": 10.0, "ratio_error": 1000.0, "min_class_count": 10}})
def class_imbalance(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Skewed label distributions, and classes with too few training items."""
    if label_counts(stats) is None:
        return  # no labels, or a regression target: class checks do not apply
    p = ctx.params("class_imbalance")
    suspects = suspect_labels(stats, ctx.params("label_corruption"))
    ref = stats.reference
    for split in stats.ordered:
        counts = _valid_counts(split, suspects)
        if not counts or len(counts) < 2:
            continue
        order = ranked(counts)
        (top, n_top), (low, n_low) = order[0], order[-1]
        ratio = n_top / max(n_low, 1)
        details = {"counts": dict(order), "ratio": ratio, "ratio_warning": p["ratio_warning"],
                   "ratio_error": p["ratio_error"], "min_class_count": p["min_class_count"]}
        if ratio >= p["ratio_warning"]:
            yield Finding(
                check="class_imbalance",
                severity=Severity.ERROR if ratio >= p["ratio_error"] else Severity.WARNING,
                split=split.name, column=stats.label_column, count=n_low, fraction=n_low / sum(counts.values()),
                message=f"{split.name} labels are skewed: {top!r} has {n_top} items, {low!r} only {n_low} "
                        f"(ratio {ratio:.1f}, threshold {p['ratio_warning']:g})",
                examples=[{**split.item(r), "label": low} for r in (split.labels.first_rows.get(low, []) if split.labels else [])[:5]],
                details={**details, "kind": "skew"},
            )
        if split is ref:
            few = [(c, n) for c, n in counts.items() if n < p["min_class_count"]]
            if few:
                yield Finding(
                    check="class_imbalance", severity=Severity.WARNING, split=split.name, column=stats.label_column,
                    count=len(few), fraction=len(few) / len(counts),
                    message=f"{len(few)} class(es) have fewer than {p['min_class_count']} {split.name} items: "
                            + ", ".join(f"{c!r} ({n})" for c, n in sorted(few, key=lambda t: t[1])[:10]),
                    examples=[{"split": split.name, "column": stats.label_column, "label": c, "count": n} for c, n in few[: ctx.example_cap]],
                    details={**details, "kind": "few_items"},
                )


@register_check({"label_set_mismatch": {"min_expected": 5.0}})
def label_set_mismatch(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Classes present in one split and absent from another."""
    if label_counts(stats) is None:
        return  # no labels, or a regression target: class checks do not apply
    p = ctx.params("label_set_mismatch")
    suspects = suspect_labels(stats, ctx.params("label_corruption"))
    ref = stats.reference
    if ref is None:
        return
    ref_counts = _valid_counts(ref, suspects)
    if not ref_counts:
        return
    ref_total = sum(ref_counts.values())
    for other in stats.others:
        counts = _valid_counts(other, suspects)
        if not counts:
            continue  # no labels at all here (column absent or all missing): reported by other checks
        unseen = {c: n for c, n in counts.items() if c not in ref_counts}
        if unseen:
            n = sum(unseen.values())
            yield Finding(
                check="label_set_mismatch", severity=Severity.ERROR, split=other.name, column=stats.label_column,
                count=n, fraction=n / max(other.rows, 1),
                message=f"{len(unseen)} class(es) of {other.name} never occur in {ref.name}: "
                        + ", ".join(map(repr, list(unseen)[:10])) + f" ({n} items the model cannot learn)",
                examples=[{**other.item(r), "label": c} for c in unseen for r in
                          (other.labels.first_rows.get(c, [])[:3] if other.labels else [])][: ctx.example_cap],
                details={"classes": unseen, "reference": ref.name},
            )
        total = sum(counts.values())
        absent = {c: n * total / ref_total for c, n in ref_counts.items() if c not in counts}
        if absent:
            expected_many = {c: e for c, e in absent.items() if e >= p["min_expected"]}
            sev = Severity.WARNING if expected_many else Severity.INFO
            yield Finding(
                check="label_set_mismatch", severity=sev, split=other.name, column=stats.label_column,
                count=len(absent), fraction=len(absent) / len(ref_counts),
                message=f"{len(absent)} class(es) of {ref.name} are absent from {other.name}: "
                        + ", ".join(map(repr, list(absent)[:10]))
                        + (f" ({len(expected_many)} expected at least {p['min_expected']:g} times)" if expected_many else ""),
                examples=[{"split": other.name, "column": stats.label_column, "label": c,
                           "expected_count": round(e, 1)} for c, e in list(absent.items())[: ctx.example_cap]],
                details={"absent": {c: round(e, 2) for c, e in absent.items()}, "min_expected": p["min_expected"]},
            )


@register_check({"label_shift": {"tvd_warning": 0.1, "tvd_error": 0.3, "alpha": 0.001}})
def label_shift(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Label distributions that differ between the reference split and the others."""
    if label_counts(stats) is None:
        return  # no labels, or a regression target: class checks do not apply
    p = ctx.params("label_shift")
    suspects = suspect_labels(stats, ctx.params("label_corruption"))
    ref = stats.reference
    if ref is None:
        return
    ref_counts = _valid_counts(ref, suspects)
    if not ref_counts or len(ref_counts) < 2:
        return
    for other in stats.others:
        counts = _valid_counts(other, suspects)
        if not counts:
            continue
        tvd, pval, v = categorical_shift(ref_counts, counts)
        if tvd < p["tvd_warning"] or pval >= p["alpha"]:
            continue
        rt, ot = sum(ref_counts.values()), sum(counts.values())
        moved = sorted(ref_counts.keys() | counts.keys(),
                       key=lambda c: -abs(counts.get(c, 0) / ot - ref_counts.get(c, 0) / rt))
        yield Finding(
            check="label_shift", severity=Severity.ERROR if tvd >= p["tvd_error"] else Severity.WARNING,
            split=other.name, column=stats.label_column, count=ot, fraction=None,
            message=f"label distribution of {other.name} differs from {ref.name}: total variation {tvd:.3f} "
                    f"(threshold {p['tvd_warning']:g}, chi-square p={pval:.2g})",
            examples=[{"split": other.name, "column": stats.label_column, "label": c,
                       "share": round(counts.get(c, 0) / ot, 4), "reference_share": round(ref_counts.get(c, 0) / rt, 4)}
                      for c in moved[: min(ctx.example_cap, 10)]],
            details={"statistic": "total_variation_distance", "value": tvd, "p_value": pval, "cramers_v": v,
                     "threshold_warning": p["tvd_warning"], "threshold_error": p["tvd_error"], "alpha": p["alpha"],
                     "counts": {ref.name: dict(ref_counts), other.name: dict(counts)}},
        )


def _label_names(split: SplitStats) -> dict[int, str]:
    """Label per (32-bit folded) label hash, as far as the profiler recorded them."""
    names: dict[int, str] = split.extra.get("label_names", {})
    if not names:
        return {}
    return dict(zip(fold32(np.asarray(list(names), dtype=np.uint64)).tolist(), names.values()))


@register_check({"conflicting_labels": {"error_fraction": 0.05}})
def conflicting_labels(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """The same content under different labels, within a split or against the reference split."""
    if not stats.label_column and stats.modality != "image":
        return
    if stats.modality != "image" and label_counts(stats) is None:
        return  # a regression target: equal inputs with different measured values are noise, not conflicts
    p = ctx.params("conflicting_labels")
    ref = stats.reference
    ans = key_answers(stats, "content", ctx.example_cap)
    noun = "images" if stats.modality == "image" else "rows"
    for j, split in enumerate(stats.ordered):
        n_groups, involved = int(ans.conflict_groups[j]), int(ans.conflict_items[j])
        if not n_groups or len(split.hashes) < 2:
            continue
        names = _label_names(split)
        frac = involved / max(split.rows, 1)
        yield Finding(
            check="conflicting_labels",
            severity=Severity.ERROR if frac >= p["error_fraction"] else Severity.WARNING,
            split=split.name, column=stats.label_column, count=involved, fraction=frac,
            message=f"{n_groups} group(s) of identical {noun} in {split.name} carry different labels "
                    f"({involved} items)",
            examples=_conflict_examples(ans.conflict_examples[j].pairs()[: ctx.example_cap], split, split, names,
                                        names),
            details={"groups": n_groups, "error_fraction": p["error_fraction"]},
        )
    if ref is None:
        return
    r = stats.ordered.index(ref)
    for j, other in enumerate(stats.ordered):
        count = ans.cross_conflicts.get(j, 0) if j > r else 0
        if not count:
            continue
        yield Finding(
            check="conflicting_labels", severity=Severity.WARNING, split=other.name, column=stats.label_column,
            count=count, fraction=count / max(other.rows, 1),
            message=f"{count} {other.name} items also occur in {ref.name} with a different label",
            examples=_conflict_examples(ans.cross_conflict_examples[j].pairs()[: ctx.example_cap], other, ref,
                                        _label_names(other), _label_names(ref)),
            details={"other_split": ref.name},
        )


def _conflict_examples(pairs: list[tuple[int, int, int, int]], split: SplitStats, of: SplitStats,
                       names: dict[int, str], of_names: dict[int, str]) -> list[dict[str, Any]]:
    out = []
    for item, first, label, first_label in pairs:
        ex = {**split.item(item), "duplicate_of": of.item(first)}
        a, b = names.get(label), of_names.get(first_label)
        if a is not None and b is not None:
            ex["labels"] = [a, b]
        out.append(ex)
    return out



@register_check({"label_missing": {"min_columns": 2}})
def label_missing(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """A table of several columns in which no label was named, found or inferred.

    Every label check is then skipped, so saying it only in a note lets a dataset
    lose its label checks unseen (e.g. a folder copied without its configuration).
    """
    reason = stats.detected.get("label_reason")
    ref = stats.reference
    if stats.label_column is not None or not reason or ref is None or stats.modality not in ("table", "text"):
        return
    columns = list(ref.columns)
    if len(columns) < ctx.params("label_missing")["min_columns"]:
        return
    from dataaudit.sources.tables import LABEL_CANDIDATES

    yield Finding(
        check="label_missing", severity=Severity.WARNING, split=None, column=None, count=len(columns), fraction=None,
        message=f"no label column: none is named {', '.join(LABEL_CANDIDATES)}, and {reason}; the label checks "
                "(conflicting_labels, label_corruption, class_imbalance, label_set_mismatch, label_shift) did not run. "
                "Pass --label COL (or label = \"COL\" in [tool.dataaudit]); for a table without labels, "
                "--ignore label_missing",
        # the reason and the columns change with the data: kept out of the baseline fingerprint (in a dict)
        details={"looked_for": list(LABEL_CANDIDATES), "inference": {"reason": reason, "columns": columns[:100]}},
    )
