"""``normalization_leak`` and ``unnormalized_inputs``.

Exact moments per split make normalisation errors visible without any extra
pass. Standardised with train-only statistics, train has mean 0 and standard
deviation 1 exactly while the other splits do not; standardised over all splits,
the *union* is exact and train is not; standardised per split, every split is
exact. The same holds for min-max scaling to [0, 1]. A supplied normalisation
(``--artefact`` or ``--mean/--std``) is compared with train-only statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.profile.dataset import DatasetStats
from dataaudit.profile.moments import Moments
from dataaudit.profile.split import SplitStats
from dataaudit.report.model import Finding, Severity

DEFAULTS = {"tolerance": 1e-4, "rounding_tolerance": 0.01, "supplied_tolerance": 0.02}
"""``tolerance`` is the exactness demanded of mean 0 / std 1 / min 0 / max 1 for full-precision
values. Values written to text with few decimals carry rounding noise: with ``d``
decimals the mean of ``n`` values moves by about ``10**-d / sqrt(12 n)`` (and the
standard deviation by a similar amount), so standardised columns saved with 2
decimals missed a 1e-4 tolerance from a few hundred rows on. The mean/std test
therefore allows ``max(tolerance, rounding_tolerance / sqrt(n))``: 0.01 covers
2-decimal data at about 3.5 standard deviations. That stays far below what chance
produces in unscaled or train-scaled splits (the mean of a val split scaled with
train statistics wanders by about ``1 / sqrt(n_val)``), so it adds no false alarms."""


def _is_standard(m: Moments, tol: float, rounding: float = 0.0) -> bool:
    if m.count < 3:
        return False
    tol = max(tol, rounding / math.sqrt(m.count))
    return abs(m.mean) <= tol and (abs(m.std(0) - 1) <= tol or abs(m.std(1) - 1) <= tol)


def _is_minmax(m: Moments, tol: float) -> bool:
    return m.count >= 3 and abs(m.min) <= tol and abs(m.max - 1) <= tol


def _union(splits: list[SplitStats], column: str) -> Moments:
    u = Moments()
    for s in splits:
        u.merge(Moments(**vars(s.columns[column].numeric)))
    return u


def _stats_item(split: str, column: str, m: Moments) -> dict[str, Any]:
    return {"split": split, "column": column, "mean": m.mean, "std": m.std(0), "min": m.min, "max": m.max}


@register_check({"normalization_leak": DEFAULTS, "unnormalized_inputs": {"pixel_scale_max": 1.5}})
def normalization_leak(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Normalisation statistics computed over val/test, per split, or supplied and wrong."""
    p = ctx.params("normalization_leak")
    tol = p["tolerance"]
    rounding = p["rounding_tolerance"]
    ref = stats.reference
    splits = [s for s in stats.ordered if s.rows > 0]
    if ref is None or ref.rows == 0:
        return
    kinds: dict[str, list[dict[str, Any]]] = {"all_splits": [], "per_split": [], "all_splits_minmax": [],
                                               "per_split_minmax": []}
    if len(splits) >= 2 and ref.kind == "table":
        skip = {stats.label_column, *stats.id_columns}
        for name, col in ref.columns.items():
            if name in skip or col.kind != "numeric" or col.integral:
                continue
            if not all(name in s.columns and s.columns[name].numeric.count for s in splits):
                continue
            union = _union(splits, name)
            ms = {s.name: s.columns[name].numeric for s in splits}
            item = {"column": name, "union": _stats_item("*", name, union),
                    "splits": {k: _stats_item(k, name, m) for k, m in ms.items()}}
            if all(_is_standard(m, tol, rounding) for m in ms.values()):
                kinds["per_split"].append(item)
            elif _is_standard(union, tol, rounding) and not _is_standard(ref.columns[name].numeric, tol, rounding):
                kinds["all_splits"].append(item)
            elif all(_is_minmax(m, tol) for m in ms.values()):
                kinds["per_split_minmax"].append(item)
            elif _is_minmax(union, tol) and not _is_minmax(ref.columns[name].numeric, tol):
                kinds["all_splits_minmax"].append(item)
    texts = {
        "all_splits": ("standardised with mean and std computed over all splits (the union has mean 0 and std 1 "
                       f"exactly, {ref.name} does not): val/test statistics leaked into the inputs", Severity.ERROR),
        "per_split": ("standardised separately in every split (each split has mean 0 and std 1 exactly): "
                      f"val/test must be scaled with {ref.name}'s statistics", Severity.ERROR),
        "all_splits_minmax": ("min-max scaled with the minimum and maximum of all splits (the union spans [0, 1] "
                              f"exactly, {ref.name} does not)", Severity.ERROR),
        # info only: a natural [0, 1] feature holding both bounds in every split looks the same
        "per_split_minmax": ("min-max scaled separately in every split (each split spans [0, 1] exactly; "
                             "or a naturally bounded feature)", Severity.INFO),
    }
    for kind, items in kinds.items():
        if not items:
            continue
        text, sev = texts[kind]
        cols = [i["column"] for i in items]
        yield Finding(
            check="normalization_leak", severity=sev, split=None, column=cols[0] if len(cols) == 1 else None,
            count=len(cols), fraction=len(cols) / max(len(ref.columns), 1),
            message=f"{len(cols)} column(s) {text}: " + ", ".join(map(repr, cols[:8])) + ("..." if len(cols) > 8 else ""),
            examples=[ex for i in items[: ctx.example_cap] for ex in i["splits"].values()][: ctx.example_cap],
            details={"kind": kind, "tolerance": tol, "rounding_tolerance": rounding, "columns": {i["column"]: i for i in items}},
        )
    supplied = ctx.extras.get("normalization")
    if supplied:
        yield from _supplied(stats, splits, ref, supplied, ctx)


def _close(a: float, b: float, scale: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(abs(scale), 1e-12)


def _supplied(stats: DatasetStats, splits: list[SplitStats], ref: SplitStats, supplied: dict[str, Any],
              ctx: CheckContext) -> Iterator[Finding]:
    rel = ctx.params("normalization_leak")["supplied_tolerance"]
    leaked: list[dict[str, Any]] = []
    wrong: list[dict[str, Any]] = []
    for name, spec in (supplied.get("columns") or {}).items():
        if name not in ref.columns or not ref.columns[name].numeric.count:
            continue
        train = ref.columns[name].numeric
        union = _union([s for s in splits if name in s.columns], name)
        kind = spec.get("kind", "standard")
        if kind == "standard":
            mean, std = float(spec["mean"]), float(spec["std"])
            scale = train.std(0) or 1.0
            ok_train, ok_union = (
                _close(mean, m.mean, scale, rel) and (_close(std, m.std(0), scale, rel) or _close(std, m.std(1), scale, rel))
                for m in (train, union))
            figures = {"supplied": {"mean": mean, "std": std}, "train": {"mean": train.mean, "std": train.std(0)},
                       "all_splits": {"mean": union.mean, "std": union.std(0)}}
        else:
            lo, hi = float(spec["min"]), float(spec["max"])
            scale = (train.max - train.min) or 1.0
            ok_train, ok_union = (_close(lo, m.min, scale, rel) and _close(hi, m.max, scale, rel)
                                  for m in (train, union))
            figures = {"supplied": {"min": lo, "max": hi}, "train": {"min": train.min, "max": train.max},
                       "all_splits": {"min": union.min, "max": union.max}}
        if ok_train:
            continue
        (leaked if len(splits) > 1 and ok_union else wrong).append({"column": name, **figures})
    image = supplied.get("image")
    if image and ref.kind == "image":
        yield from _supplied_image(ref, image, ctx)
    if leaked:
        yield Finding(
            check="normalization_leak", severity=Severity.ERROR, split=None,
            column=leaked[0]["column"] if len(leaked) == 1 else None, count=len(leaked), fraction=None,
            message=f"the supplied normalisation of {len(leaked)} column(s) matches statistics over all splits, "
                    f"not {ref.name} alone: " + ", ".join(repr(i["column"]) for i in leaked[:8]),
            examples=[{"split": None, **i} for i in leaked[: ctx.example_cap]],
            details={"kind": "supplied_all_splits", "tolerance": rel},
        )
    if wrong:
        yield Finding(
            check="normalization_leak", severity=Severity.WARNING, split=None,
            column=wrong[0]["column"] if len(wrong) == 1 else None, count=len(wrong), fraction=None,
            message=f"the supplied normalisation of {len(wrong)} column(s) does not match {ref.name} statistics: "
                    + ", ".join(repr(i["column"]) for i in wrong[:8]),
            examples=[{"split": None, **i} for i in wrong[: ctx.example_cap]],
            details={"kind": "supplied_mismatch", "tolerance": rel},
        )


def channel_stats(split: SplitStats) -> tuple[list[float], list[float]] | None:
    """Per-channel pixel mean and std on a 0-1 scale from per-image means and stds."""
    names = [c for c in split.columns if c.startswith("mean_")]
    if not names:
        return None
    means, stds = [], []
    for name in names:
        m = split.columns[name].numeric
        s_name = "std_" + name[len("mean_"):]
        if s_name not in split.columns or not m.count:
            return None
        s = split.columns[s_name].numeric
        second = (s.var + s.mean**2) + (m.var + m.mean**2)  # E[x^2] over pixels, equal-size images
        means.append(m.mean)
        stds.append(math.sqrt(max(second - m.mean**2, 0.0)))
    scale = 255.0 if max(means) > 1.5 else 1.0
    return [x / scale for x in means], [x / scale for x in stds]


def _supplied_image(ref: SplitStats, image: dict[str, Any], ctx: CheckContext) -> Iterator[Finding]:
    mean, std = [float(x) for x in image.get("mean", [])], [float(x) for x in image.get("std", [])]
    if not mean:
        return
    pixel_max = ctx.params("unnormalized_inputs")["pixel_scale_max"]
    if max(mean) > pixel_max or (std and max(std) > pixel_max):
        yield Finding(
            check="unnormalized_inputs", severity=Severity.ERROR, split=None, count=len(mean), fraction=None,
            message=f"the supplied mean {mean} / std {std} are on the 0-255 pixel scale, but the transforms feed "
                    "the model floats in [0, 1]: divide them by 255",
            examples=[], details={"mean": mean, "std": std, "pixel_scale_max": pixel_max},
        )
        return
    found = channel_stats(ref)
    if found is None:
        return
    # An artefact states what the model sees (after resizing, which lowers the std) and, beside it,
    # the same train pixels at their stored resolution: compare like with like.
    if image.get("source_mean"):
        mean = [float(x) for x in image["source_mean"]]
        std = [float(x) for x in image.get("source_std", std)]
    tm, ts = found
    rel = max(ctx.params("normalization_leak")["supplied_tolerance"], 0.05)
    n = min(len(mean), len(tm))
    off = [i for i in range(n) if abs(mean[i] - tm[i]) > rel or (i < len(std) and abs(std[i] - ts[i]) > rel)]
    if off:
        yield Finding(
            check="normalization_leak", severity=Severity.WARNING, split=None, count=len(off), fraction=None,
            message=f"the supplied per-channel mean/std {mean}/{std} differ from {ref.name}'s pixel statistics "
                    f"{[round(x, 4) for x in tm]}/{[round(x, 4) for x in ts]}",
            examples=[], details={"kind": "supplied_image_mismatch", "supplied": {"mean": mean, "std": std},
                                  "train": {"mean": tm, "std": ts}, "tolerance": rel},
        )
