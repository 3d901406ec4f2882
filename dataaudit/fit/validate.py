"""``dataaudit validate``: new data checked against what an artefact was fitted on.

Serving skew is data that the fitted preprocessing will silently mangle: a
column gone (the transform cannot run), text where numbers were fitted (imputed
to the median), categories never seen (all in the unknown bucket), values far
outside the train range, many more missing values, or images of another mode or
shape. The result is a :class:`~dataaudit.report.Report` in the scan format.

Finding ids (``check``):

``schema_mismatch`` (error)
    a fitted input column is missing; a numeric column is mostly non-numeric;
    (info) columns the artefact does not use.
``serving_skew`` (warning; ``out_of_range`` an error past ``range_error``)
    ``unseen_categories``: the share of values falling in the unknown bucket
    exceeds the train share (by more than ``unknown_margin`` when train had some);
    ``out_of_range``: numeric values beyond the train range widened by
    ``range_margin`` of its width on each side, an error when they are at least
    ``range_error`` of the column's values (and at least ``min_error_count``
    values): the model never saw such inputs; ``missing_rate``: the imputed
    share exceeds the train share by more than ``missing_margin`` and by more than
    three standard errors (so small samples do not raise it by chance), an error
    when it rose by ``missing_error`` or more; unseen categories are an error when
    their share rose by ``unknown_error`` or more;
    ``non_numeric``: a few unparseable values in a numeric column (imputed);
    images: a mode not seen in train, an aspect ratio far from the target's
    (distorted by the resize), or images much smaller than the target (upsampled).
    ``details.kind`` says which.
``distribution_shift`` (warning; an error past ``shift_error``)
    a numeric column (or image channel) whose mean moved by more than
    ``shift_threshold`` train standard deviations (with at least 30 values); an
    error from ``shift_error`` standard deviations on.

Data without split information (one table, shards of one, a folder of class
folders) is reported as split ``new``, not ``train``: it is not what was fitted.
An artefact fitted on the other modality or on other columns is refused before
reading (:func:`dataaudit.fit.compat.check_artefact_matches`).
``label_set_mismatch`` (error)
    labels that are not classes of the artefact's class map.
``corrupt_file`` (error)
    images that do not decode.
"""

from __future__ import annotations

import io
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from dataaudit.errors import UsageError
from dataaudit.fit.artefact import Artefact, CategoricalColumn, NumericColumn, load_artefact
from dataaudit.fit.compat import check_artefact_matches
from dataaudit.fit.tables import is_text, numeric_sentinels, text_missing
from dataaudit.profile.moments import Moments
from dataaudit.report.model import Finding, Report, Severity
from dataaudit.sources.base import ROW, Batch, Dataset, split_order

if TYPE_CHECKING:
    from dataaudit.config import Config

DEFAULTS: dict[str, float] = {
    "range_margin": 0.1,
    "unknown_margin": 0.01,
    "missing_margin": 0.05,
    "shift_threshold": 0.5,
    "shift_error": 1.0,
    "range_error": 0.05,
    "missing_error": 0.25,
    "unknown_error": 0.25,
    "min_error_count": 5,
    "min_shift_count": 30,
    "aspect_tolerance": 0.25,
    "min_scale": 0.5,
}
"""Thresholds of the validate checks (override with keyword arguments or flags)."""
EXAMPLE_CAP = 50
NEW_SPLIT = "new"
"""Name of the data's split when it has no split information of its own."""
_IMPLICIT_TRAIN = frozenset({"single_file", "shards", "class_folders", "flat"})
"""Layouts whose one split the sources name ``train`` by default."""


@dataclass
class _Col:
    count: int = 0
    missing: int = 0
    non_numeric: int = 0
    non_numeric_examples: list[dict[str, Any]] = field(default_factory=list)
    out_of_range: int = 0
    range_examples: list[dict[str, Any]] = field(default_factory=list)
    bounds: tuple[float, float] = (-math.inf, math.inf)
    unknown: int = 0
    unseen: Counter[str] = field(default_factory=Counter)
    unseen_examples: list[dict[str, Any]] = field(default_factory=list)
    moments: Moments = field(default_factory=Moments)


@dataclass
class _Split:
    name: str
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    cols: dict[str, _Col] = field(default_factory=dict)
    bad_labels: Counter[str] = field(default_factory=Counter)
    label_examples: list[dict[str, Any]] = field(default_factory=list)
    # images
    modes: Counter[str] = field(default_factory=Counter)
    mode_examples: list[dict[str, Any]] = field(default_factory=list)
    aspect_off: int = 0
    aspect_examples: list[dict[str, Any]] = field(default_factory=list)
    small: int = 0
    small_examples: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    channels: list[Moments] = field(default_factory=list)


def validate(
    source: str | Path,
    artefact: str | Path | Artefact,
    config: Config | None = None,
    fail_on: Severity | str = Severity.ERROR,
    **thresholds: float,
) -> Report:
    """Check ``source`` against ``artefact`` and return a scan-format report."""
    from dataaudit.config import build_config
    from dataaudit.sources import open_source

    start = time.perf_counter()
    art = artefact if isinstance(artefact, Artefact) else load_artefact(artefact)
    unknown = sorted(set(thresholds) - set(DEFAULTS))
    if unknown:
        raise UsageError(f"unknown validate threshold(s): {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    params = {**DEFAULTS, **{k: float(v) for k, v in thresholds.items()}}
    cfg = config if config is not None else build_config(str(source), progress=False)
    dataset = open_source(source, cfg)
    check_artefact_matches(art, dataset)
    notes = _notes(dataset, art)
    if dataset.detected.get("layout") in _IMPLICIT_TRAIN:
        dataset = _renamed(dataset)
    if art.image is not None:
        splits = _read_images(dataset, art, params)
    else:
        splits = _read_tables(dataset, art, params)
    findings: list[Finding] = []
    for sp in sorted(splits.values(), key=lambda s: split_order(s.name)):
        if art.image is not None:
            findings += _image_findings(sp, art, params)
        else:
            findings += _table_findings(sp, art, params)
        findings += _label_findings(sp, art)
    return Report(
        source=str(source),
        modality="image" if art.image is not None else art.modality,
        splits={s.name: {"rows": s.rows} for s in splits.values()} or {"train": {"rows": 0}},
        findings=findings,
        label_column=_label_column(art),
        fail_on=Severity.parse(fail_on),
        duration_s=time.perf_counter() - start,
        detected={**dataset.detected, "artefact": str(art.path) if art.path else None,
                  "artefact_fingerprint": art.fingerprint},
        notes=notes,
        max_examples=cfg.max_examples,
    )


def _notes(dataset: Dataset, art: Artefact) -> list[str]:
    """The source's notes, with those about label detection and default split names
    replaced by what validate does: the label is the artefact's, the split is ``new``."""
    out: list[str] = []
    for note in dataset.notes:
        if note.startswith("no label column found") and _label_column(art) is not None:
            continue
        if note.endswith("split, train") and dataset.detected.get("layout") in _IMPLICIT_TRAIN:
            out.append(f"no split information: the data is reported as split {NEW_SPLIT!r}")
            continue
        out.append(note)
    return out


def _label_column(art: Artefact) -> str | None:
    """The label the artefact was fitted with: its class map's column, or a regression target."""
    if art.label is not None:
        return art.label.column
    name = art.options.get("label_column")
    return name if isinstance(name, str) else None


def _renamed(dataset: Dataset) -> Dataset:
    """``dataset`` with its default ``train`` split called :data:`NEW_SPLIT`."""
    from dataclasses import replace

    read = dataset.read

    def batches() -> Iterator[Batch]:
        for batch in read():
            if batch.split == "train":
                batch = replace(batch, split=NEW_SPLIT)
                batch.files = [replace(f, split=NEW_SPLIT) if getattr(f, "split", None) == "train" else f
                               for f in batch.files]  # fmt: skip
            yield batch

    splits = {NEW_SPLIT if k == "train" else k: v for k, v in dataset.splits.items()}
    return replace(dataset, read=batches, splits=splits)


# --------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------
def _read_tables(dataset: Dataset, art: Artefact, params: dict[str, float]) -> dict[str, _Split]:
    plan = art.table
    assert plan is not None
    if dataset.modality == "image":
        raise UsageError(f"{dataset.source}: the artefact was fitted on a table but this source holds images")
    sentinels = list(plan.sentinels)
    num_sent = numeric_sentinels(sentinels)
    label = art.label.column if art.label else None
    classes = set(art.label.classes) if art.label else set()
    splits: dict[str, _Split] = {}
    exclude = set(dataset.exclude_columns) | {ROW}
    for batch in dataset.batches():
        sp = splits.get(batch.split)
        if sp is None:
            sp = splits[batch.split] = _Split(batch.split)
        df = batch.frame
        if df is None:
            continue
        for c in df.columns:
            if c not in exclude and c not in sp.columns:
                sp.columns.append(c)
        sp.rows += df.height
        for col in plan.columns:
            if col.name not in df.columns:
                continue
            st = sp.cols.get(col.name)
            if st is None:
                st = sp.cols[col.name] = _Col()
                if isinstance(col, NumericColumn):
                    st.bounds = _bounds(col, params["range_margin"])
            _table_column(st, df, col, sentinels, num_sent, batch.split)
        if label and label in df.columns and classes:
            y = df.select(ROW, pl.col(label).cast(pl.String).alias("y")).filter(
                pl.col("y").is_not_null() & (pl.col("y").str.strip_chars() != "") & ~pl.col("y").is_in(list(classes))
            )
            if y.height:
                sp.bad_labels.update({str(v): int(n) for v, n in y.get_column("y").value_counts().iter_rows()})
                for r, v in y.head(EXAMPLE_CAP).iter_rows():
                    if len(sp.label_examples) < EXAMPLE_CAP:
                        sp.label_examples.append({"split": batch.split, "row": int(r), "value": v})
    return splits


def _table_column(
    st: _Col, df: pl.DataFrame, col: NumericColumn | CategoricalColumn, sentinels: list[str], num_sent: list[float], split: str
) -> None:
    s = df.get_column(col.name)
    st.count += df.height
    rows = df.get_column(ROW)
    if isinstance(col, NumericColumn):
        if is_text(s.dtype):
            txt = s.cast(pl.String).str.strip_chars()
            num = txt.cast(pl.Float64, strict=False)
            missing = text_missing(txt, num, sentinels, num_sent)
            bad = ~missing & num.is_null()
            st.non_numeric += int(bad.sum())
            if len(st.non_numeric_examples) < EXAMPLE_CAP:
                for r, v in zip(rows.filter(bad).head(EXAMPLE_CAP), txt.filter(bad).head(EXAMPLE_CAP)):
                    st.non_numeric_examples.append({"split": split, "row": int(r), "value": v})
        elif s.dtype.is_numeric() or s.dtype == pl.Boolean:
            num = s.cast(pl.Float64)
            missing = num.is_null() | num.is_nan().fill_null(False)
            if num_sent and s.dtype != pl.Boolean:
                missing = missing | num.is_in(num_sent).fill_null(False)
        else:
            st.non_numeric += df.height
            return
        st.missing += int(missing.sum())
        values = num.filter(~missing & num.is_not_null())
        arr = values.to_numpy()
        finite = arr[np.isfinite(arr)]
        st.missing += int(arr.size - finite.size)  # infinities are imputed too
        if finite.size:
            st.moments.add_summary(int(finite.size), float(finite.mean()), float(finite.var()),
                                   float(finite.min()), float(finite.max()))  # fmt: skip
        lo, hi = st.bounds
        keep = ~missing & num.is_not_null() & num.is_finite()
        outside = (keep & ((num < lo) | (num > hi))).fill_null(False)
        k = int(outside.sum())
        if k:
            st.out_of_range += k
            if len(st.range_examples) < EXAMPLE_CAP:
                for r, v in zip(rows.filter(outside).head(EXAMPLE_CAP), num.filter(outside).head(EXAMPLE_CAP)):
                    st.range_examples.append({"split": split, "row": int(r), "value": float(v)})
    else:
        txt = s.cast(pl.String).str.strip_chars()
        missing = text_missing(txt, txt.cast(pl.Float64, strict=False), sentinels, num_sent)
        st.missing += int(missing.sum())
        unseen = ~missing & ~txt.is_in(col.vocabulary)
        st.unknown += int(unseen.sum())
        if int(unseen.sum()):
            vals = txt.filter(unseen)
            st.unseen.update({str(v): int(n) for v, n in vals.value_counts().iter_rows()})
            if len(st.unseen) > 10_000:
                st.unseen = Counter(dict(st.unseen.most_common(1_000)))
            if len(st.unseen_examples) < EXAMPLE_CAP:
                for r, v in zip(rows.filter(unseen).head(EXAMPLE_CAP), vals.head(EXAMPLE_CAP)):
                    st.unseen_examples.append({"split": split, "row": int(r), "value": v})


def _bounds(col: NumericColumn, margin: float) -> tuple[float, float]:
    width = col.max - col.min
    pad = margin * (width if width > 0 else max(abs(col.min), 1.0))
    return col.min - pad, col.max + pad


def _table_findings(sp: _Split, art: Artefact, p: dict[str, float]) -> list[Finding]:
    plan = art.table
    assert plan is not None
    out: list[Finding] = []
    fitted = [c.name for c in plan.columns]
    missing_cols = [c for c in fitted if c not in sp.columns]
    if missing_cols:
        out.append(Finding(
            check="schema_mismatch", severity=Severity.ERROR, split=sp.name, count=len(missing_cols),
            fraction=len(missing_cols) / len(fitted),
            message=f"{len(missing_cols)} column(s) the artefact was fitted with are missing: "
                    f"{', '.join(missing_cols[:10])} (the transform cannot run)",
            examples=[{"split": sp.name, "column": c} for c in missing_cols],
            details={"kind": "missing_columns", "missing": missing_cols, "expected": fitted},
        ))  # fmt: skip
    known = set(plan.input_columns) | ({art.label.column} if art.label and art.label.column else set())
    extra = [c for c in sp.columns if c not in known]
    if extra:
        out.append(Finding(
            check="schema_mismatch", severity=Severity.INFO, split=sp.name, count=len(extra),
            fraction=len(extra) / max(len(sp.columns), 1),
            message=f"{len(extra)} column(s) not seen in train are ignored by the transform: {', '.join(extra[:10])}",
            examples=[{"split": sp.name, "column": c} for c in extra], details={"kind": "extra_columns", "extra": extra},
        ))  # fmt: skip
    for col in plan.columns:
        st = sp.cols.get(col.name)
        if st is None or st.count == 0:
            continue
        if isinstance(col, NumericColumn):
            out += _numeric_findings(sp.name, col, st, p)
        else:
            out += _categorical_findings(sp.name, col, st, p)
    return out


def _numeric_findings(split: str, col: NumericColumn, st: _Col, p: dict[str, float]) -> list[Finding]:
    out: list[Finding] = []
    present = st.count - st.missing
    if st.non_numeric:
        share = st.non_numeric / max(present, 1)
        error = share > 0.05
        out.append(Finding(
            check="schema_mismatch" if error else "serving_skew",
            severity=Severity.ERROR if error else Severity.WARNING, split=split, column=col.name,
            count=st.non_numeric, fraction=st.non_numeric / st.count,
            message=f"column {col.name!r} was numeric in train but {st.non_numeric} value(s) "
                    f"({share:.1%} of present) are not numbers; the transform imputes them with {col.fill:g}",
            examples=st.non_numeric_examples, details={"kind": "non_numeric", "share_of_present": share},
        ))  # fmt: skip
    lo, hi = st.bounds
    if st.out_of_range:
        share = st.out_of_range / st.count
        error = share >= p["range_error"] and st.out_of_range >= p["min_error_count"]
        out.append(Finding(
            check="serving_skew", severity=Severity.ERROR if error else Severity.WARNING, split=split,
            column=col.name, count=st.out_of_range, fraction=share,
            message=f"{st.out_of_range} value(s) of {col.name!r} ({share:.1%}) fall outside the train range "
                    f"[{col.min:g}, {col.max:g}] widened by {p['range_margin']:.0%} ([{lo:g}, {hi:g}])"
                    + (f"; {p['range_error']:.0%} or more is an error" if error else ""),
            examples=st.range_examples,
            details={"kind": "out_of_range", "train_min": col.min, "train_max": col.max, "low": lo, "high": hi,
                     "error_fraction": p["range_error"],
                     "new_min": st.moments.min if st.moments.count else None,
                     "new_max": st.moments.max if st.moments.count else None},
        ))  # fmt: skip
    imputed = (st.missing + st.non_numeric) / st.count
    if _rate_rose(imputed, col.missing_fraction, st.count, p["missing_margin"]):
        out.append(_missing_finding(split, col.name, st, imputed, col.missing_fraction, p))
    m = st.moments
    if m.count >= p["min_shift_count"] and col.std > 0:
        d = abs(m.mean - col.mean) / col.std
        if d > p["shift_threshold"]:
            out.append(Finding(
                check="distribution_shift", severity=_shift_severity(d, p), split=split, column=col.name,
                count=m.count, fraction=m.count / st.count,
                message=f"mean of {col.name!r} moved by {d:.2f} train standard deviations "
                        f"({col.mean:.4g} in train, {m.mean:.4g} here)",
                details={"statistic": "standardised_mean_difference", "value": d, "threshold": p["shift_threshold"],
                         "error_threshold": p["shift_error"], "train_mean": col.mean, "train_std": col.std, "new_mean": m.mean, "new_std": m.std()},
            ))  # fmt: skip
    return out


def _shift_severity(d: float, p: dict[str, float]) -> Severity:
    return Severity.ERROR if d >= p["shift_error"] else Severity.WARNING


def _rate_rose(new: float, train: float, n: int, margin: float) -> bool:
    """The new rate exceeds train's by more than ``margin`` and by more than 3 standard
    errors of a rate measured on ``n`` values (small samples are noisy)."""
    if new <= train + margin:
        return False
    se = math.sqrt(max(train * (1 - train), 1e-12) / max(n, 1))
    return train == 0.0 or (new - train) / se > 3.0


def _missing_finding(split: str, name: str, st: _Col, share: float, train: float, p: dict[str, float]) -> Finding:
    error = share - train >= p["missing_error"]
    return Finding(
        check="serving_skew", severity=Severity.ERROR if error else Severity.WARNING, split=split, column=name,
        count=st.missing + st.non_numeric, fraction=share,
        message=f"{share:.1%} of {name!r} will be imputed (missing or unusable), {train:.1%} in train"
                + (f"; a rise of {p['missing_error']:.0%} or more is an error" if error else ""),
        details={"kind": "missing_rate", "new": share, "train": train, "margin": p["missing_margin"],
                 "error_rise": p["missing_error"]},
    )  # fmt: skip


def _categorical_findings(split: str, col: CategoricalColumn, st: _Col, p: dict[str, float]) -> list[Finding]:
    out: list[Finding] = []
    present = st.count - st.missing
    if present and st.unknown:
        share = st.unknown / present
        limit = col.unknown_fraction + (p["unknown_margin"] if col.unknown_fraction > 0 else 0.0)
        if share > limit:
            top = st.unseen.most_common(20)
            error = share - col.unknown_fraction >= p["unknown_error"]
            out.append(Finding(
                check="serving_skew", severity=Severity.ERROR if error else Severity.WARNING, split=split,
                column=col.name,
                count=st.unknown, fraction=st.unknown / st.count,
                message=f"{st.unknown} value(s) of {col.name!r} ({share:.1%}) are not in the fitted vocabulary "
                        f"and map to the unknown bucket ({col.unknown_fraction:.1%} in train), e.g. "
                        + ", ".join(repr(v) for v, _ in top[:5]),
                examples=st.unseen_examples,
                details={"kind": "unseen_categories", "share": share, "train_share": col.unknown_fraction,
                         "error_rise": p["unknown_error"],
                         "unseen": dict(top), "vocabulary_size": len(col.vocabulary)},
            ))  # fmt: skip
    share_missing = st.missing / st.count
    if _rate_rose(share_missing, col.missing_fraction, st.count, p["missing_margin"]):
        out.append(_missing_finding(split, col.name, st, share_missing, col.missing_fraction, p))
    return out


def _label_findings(sp: _Split, art: Artefact) -> list[Finding]:
    if not sp.bad_labels or art.label is None:
        return []
    n = sum(sp.bad_labels.values())
    return [Finding(
        check="label_set_mismatch", severity=Severity.ERROR, split=sp.name, column=art.label.column,
        count=n, fraction=n / max(sp.rows, 1),
        message=f"{n} label(s) are not classes of the artefact ({len(art.label.classes)} classes), e.g. "
                + ", ".join(repr(v) for v, _ in sp.bad_labels.most_common(5)),
        examples=sp.label_examples,
        details={"unknown_labels": dict(sp.bad_labels.most_common(20)), "classes": art.label.classes},
    )]  # fmt: skip


# --------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------
def _read_images(dataset: Dataset, art: Artefact, params: dict[str, float]) -> dict[str, _Split]:
    from PIL import Image

    from dataaudit.fit.images import model_pixels, resize_backend
    from dataaudit.sources.images import read_image_bytes

    plan = art.image
    assert plan is not None
    if dataset.modality != "image":
        raise UsageError(f"{dataset.source}: the artefact was fitted on images but this source holds tables")
    backend = resize_backend()
    target_aspect = plan.width / plan.height
    classes = set(art.label.classes) if art.label else set()
    train_modes = set(plan.modes) or {plan.mode}
    splits: dict[str, _Split] = {}
    for batch in dataset.batches():
        sp = splits.get(batch.split)
        if sp is None:
            sp = splits[batch.split] = _Split(batch.split, channels=[Moments() for _ in range(plan.channels)])
        for prob in batch.files:
            sp.corrupt.append({"split": batch.split, "path": prob.path, "kind": prob.kind})
        for rec in batch.payload or []:
            sp.rows += 1
            where: dict[str, Any] = {"split": batch.split}
            if rec.path is not None:
                where["path"] = rec.path
            else:
                where["row"] = rec.index
            if classes and rec.label is not None and rec.label not in classes:
                sp.bad_labels[rec.label] += 1
                if len(sp.label_examples) < EXAMPLE_CAP:
                    sp.label_examples.append({**where, "label": rec.label})
            try:
                with Image.open(io.BytesIO(read_image_bytes(rec, dataset.root))) as img:
                    img.load()
                    mode, w, h = img.mode, img.width, img.height
                    px = model_pixels(img, plan.mode, plan.width, plan.height, backend)
            except Exception as exc:  # noqa: BLE001 - undecodable files are findings
                sp.corrupt.append({**where, "error": type(exc).__name__})
                continue
            sp.modes[mode] += 1
            if mode not in train_modes and len(sp.mode_examples) < EXAMPLE_CAP:
                sp.mode_examples.append({**where, "mode": mode})
            aspect = w / h
            if abs(math.log(aspect / target_aspect)) > math.log1p(params["aspect_tolerance"]):
                sp.aspect_off += 1
                if len(sp.aspect_examples) < EXAMPLE_CAP:
                    sp.aspect_examples.append({**where, "width": w, "height": h})
            if w < params["min_scale"] * plan.width or h < params["min_scale"] * plan.height:
                sp.small += 1
                if len(sp.small_examples) < EXAMPLE_CAP:
                    sp.small_examples.append({**where, "width": w, "height": h})
            flat = px.reshape(plan.channels, -1)
            for c in range(plan.channels):
                v = flat[c]
                sp.channels[c].add_summary(int(v.size), float(v.mean()), float(v.var()), float(v.min()), float(v.max()))
    return splits


def _image_findings(sp: _Split, art: Artefact, p: dict[str, float]) -> list[Finding]:
    plan = art.image
    assert plan is not None
    out: list[Finding] = []
    n = max(sp.rows, 1)
    if sp.corrupt:
        out.append(Finding(
            check="corrupt_file", severity=Severity.ERROR, split=sp.name, count=len(sp.corrupt),
            fraction=len(sp.corrupt) / n, message=f"{len(sp.corrupt)} image(s) cannot be decoded",
            examples=sp.corrupt[:EXAMPLE_CAP],
        ))  # fmt: skip
    train_modes = set(plan.modes) or {plan.mode}
    odd = {m: k for m, k in sp.modes.items() if m not in train_modes}
    if odd:
        k = sum(odd.values())
        out.append(Finding(
            check="serving_skew", severity=Severity.WARNING, split=sp.name, count=k, fraction=k / n,
            message=f"{k} image(s) have a mode never seen in train ({', '.join(sorted(odd))}; train: "
                    f"{', '.join(sorted(train_modes))}); they are converted to {plan.mode}",
            examples=sp.mode_examples, details={"kind": "image_mode", "modes": odd, "train_modes": plan.modes},
        ))  # fmt: skip
    if sp.aspect_off:
        out.append(Finding(
            check="serving_skew", severity=Severity.WARNING, split=sp.name, count=sp.aspect_off,
            fraction=sp.aspect_off / n,
            message=f"{sp.aspect_off} image(s) have an aspect ratio more than {p['aspect_tolerance']:.0%} away from "
                    f"the fitted {plan.width}x{plan.height}: the resize distorts them",
            examples=sp.aspect_examples, details={"kind": "image_aspect", "target": [plan.width, plan.height]},
        ))  # fmt: skip
    if sp.small:
        out.append(Finding(
            check="serving_skew", severity=Severity.WARNING, split=sp.name, count=sp.small, fraction=sp.small / n,
            message=f"{sp.small} image(s) are smaller than {p['min_scale']:.0%} of the fitted size "
                    f"{plan.width}x{plan.height}: they are upsampled (blurred)",
            examples=sp.small_examples, details={"kind": "image_size", "target": [plan.width, plan.height]},
        ))  # fmt: skip
    images = sum(sp.modes.values())
    if images >= p["min_shift_count"]:
        for c, m in enumerate(sp.channels):
            if not m.count:
                continue
            d = abs(m.mean - plan.mean[c]) / plan.std[c]
            if d > p["shift_threshold"]:
                out.append(Finding(
                    check="distribution_shift", severity=_shift_severity(d, p), split=sp.name, column=f"channel_{c}",
                    count=images, fraction=images / n,
                    message=f"mean of channel {c} moved by {d:.2f} train standard deviations "
                            f"({plan.mean[c]:.4f} in train, {m.mean:.4f} here)",
                    details={"statistic": "standardised_mean_difference", "value": d,
                             "threshold": p["shift_threshold"], "error_threshold": p["shift_error"],
                             "train_mean": plan.mean[c],
                             "train_std": plan.std[c], "new_mean": m.mean},
                ))  # fmt: skip
    return out
