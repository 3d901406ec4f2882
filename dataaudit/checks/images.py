"""``image_properties``: odd sizes and aspect ratios, unexpected modes, blank images.

Everything is judged against the bulk of the same split, from the per-image
arrays of :class:`~dataaudit.profile.images.ImageSplitStats` (``extra``):

* **size**: when at least ``uniform_share`` of a split's images share one exact
  size (a fixed-size dataset such as CIFAR), every image of another size is odd.
  Otherwise an image is odd when its width, height or aspect ratio is at least
  ``size_factor`` times off the split's median *and* its robust z-score
  (log-scale distance to the median over 1.4826 x MAD) is at least ``size_z``,
  so naturally varied photo sizes are not flagged. Images with a side under
  ``min_side`` pixels are always odd. Needs ``min_images`` decoded images.
* **mode**: images whose mode differs from the split's most common mode; a
  warning when the channel count differs too (grey among colour, RGBA among
  RGB), info when only the encoding differs (palette among RGB).
* **near-constant**: images whose every channel has a standard deviation (0-255
  scale) under ``blank_std``: blank, single-colour or failed captures.

Splits that disagree with each other (mode, typical size) are ``schema_mismatch``,
not this check.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from dataaudit.checks.registry import CheckContext, register_check
from dataaudit.report.model import Finding, Severity

if TYPE_CHECKING:
    from dataaudit.profile.dataset import DatasetStats
    from dataaudit.profile.split import SplitStats

DEFAULTS: dict[str, Any] = {
    "size_factor": 1.5,
    "size_z": 5.0,
    "uniform_share": 0.9,
    "min_side": 8,
    "min_images": 8,
    "blank_std": 2.0,
}

_MAD_SCALE = 1.4826


@register_check({"image_properties": DEFAULTS})
def image_properties(stats: DatasetStats, ctx: CheckContext) -> Iterator[Finding]:
    """Odd sizes/aspect ratios, minority modes and near-constant images, per split."""
    if stats.modality != "image":
        return
    params = ctx.params("image_properties")
    for split in stats.ordered:
        extra = split.extra
        if split.kind != "image" or "decoded" not in extra:
            continue
        decoded = np.asarray(extra["decoded"], dtype=bool)
        if not decoded.any():
            continue
        yield from _odd_sizes(split, decoded, params, ctx)
        yield from _odd_modes(split, decoded, ctx)
        yield from _near_constant(split, decoded, params, ctx)


def _item(split: SplitStats, pos: int, **figures: Any) -> dict[str, Any]:
    out = split.item(int(split.extra["index"][pos]))
    out.update(figures)
    return out


def _robust(x: np.ndarray) -> tuple[float, float]:
    med = float(np.median(x))
    return med, float(np.median(np.abs(x - med)))


def _odd_sizes(split: SplitStats, decoded: np.ndarray, params: dict[str, Any], ctx: CheckContext) -> Iterator[Finding]:
    extra = split.extra
    pos = np.flatnonzero(decoded)
    w = np.asarray(extra["width"], dtype=np.float64)[pos]
    h = np.asarray(extra["height"], dtype=np.float64)[pos]
    n = len(pos)
    min_side = float(params["min_side"])
    tiny = np.minimum(w, h) < min_side
    reasons: dict[int, str] = {int(k): f"smaller than {int(min_side)} px" for k in np.flatnonzero(tiny)}
    details: dict[str, Any] = {"property": "size", "images": n, "min_side": min_side}
    if n >= int(params["min_images"]):
        sizes = Counter(zip(w.astype(int).tolist(), h.astype(int).tolist()))
        (top_w, top_h), top_n = sizes.most_common(1)[0]
        share = top_n / n
        details.update({
            "median_width": float(np.median(w)), "median_height": float(np.median(h)),
            "median_aspect": float(np.median(w / h)), "most_common_size": f"{top_w}x{top_h}",
            "most_common_share": round(share, 4),
        })  # fmt: skip
        if share >= float(params["uniform_share"]):
            details["rule"] = f"{share:.0%} of images are {top_w}x{top_h} (uniform_share {params['uniform_share']})"
            for k in np.flatnonzero((w != top_w) | (h != top_h)).tolist():
                reasons.setdefault(k, f"{int(w[k])}x{int(h[k])} where {share:.0%} of the split is {top_w}x{top_h}")
        else:
            factor = math.log(float(params["size_factor"]))
            z_min = float(params["size_z"])
            details["rule"] = f"at least {params['size_factor']}x off the median and robust z >= {z_min}"
            for name, values in (("width", w), ("height", h), ("aspect", w / h)):
                logs = np.log(values)
                med, mad = _robust(logs)
                dev = np.abs(logs - med)
                z = dev / (_MAD_SCALE * mad) if mad > 0 else np.where(dev > 0, np.inf, 0.0)
                details[f"mad_log_{name}"] = mad
                for k in np.flatnonzero((dev >= factor) & (z >= z_min)).tolist():
                    reasons.setdefault(
                        k, f"{name} {values[k]:.4g} is {math.exp(dev[k]):.2f}x off the median {math.exp(med):.4g}"
                    )
    if not reasons:
        return
    ks = sorted(reasons)
    examples = [
        _item(split, int(pos[k]), width=int(w[k]), height=int(h[k]), aspect=round(float(w[k] / h[k]), 4), reason=reasons[k])
        for k in ks[: ctx.example_cap]
    ]
    count = len(ks)
    yield Finding(
        check="image_properties",
        severity=Severity.WARNING,
        message=f"{count} {split.name} image(s) have an odd size or aspect ratio for this split"
        + (f" (typical {details['most_common_size']})" if "most_common_size" in details else ""),
        split=split.name,
        column=None,
        count=count,
        fraction=count / n,
        examples=examples,
        details=details,
    )


def _odd_modes(split: SplitStats, decoded: np.ndarray, ctx: CheckContext) -> Iterator[Finding]:
    extra = split.extra
    pos = np.flatnonzero(decoded)
    modes = [extra["mode_of"][int(p)] for p in pos]
    channels = np.asarray(extra["channels"], dtype=np.int64)[pos]
    counts = Counter(modes)
    if len(counts) < 2:
        return
    top, top_n = counts.most_common(1)[0]
    top_channels = int(Counter(channels[[m == top for m in modes]].tolist()).most_common(1)[0][0])
    n = len(pos)
    for severity, same_channels in ((Severity.WARNING, False), (Severity.INFO, True)):
        ks = [
            k for k, m in enumerate(modes)
            if m != top and (int(channels[k]) == top_channels) == same_channels
        ]  # fmt: skip
        if not ks:
            continue
        found = Counter(modes[k] for k in ks)
        what = "channel count" if not same_channels else "encoding"
        yield Finding(
            check="image_properties",
            severity=severity,
            message=(
                f"{len(ks)} {split.name} image(s) are not {top} like {top_n / n:.0%} of the split "
                f"({', '.join(f'{m}: {c}' for m, c in found.most_common())}; different {what})"
            ),
            split=split.name,
            column=None,
            count=len(ks),
            fraction=len(ks) / n,
            examples=[
                _item(split, int(pos[k]), mode=modes[k], channels=int(channels[k])) for k in ks[: ctx.example_cap]
            ],
            details={
                "property": "mode",
                "expected_mode": top,
                "expected_channels": top_channels,
                "modes": dict(counts.most_common()),
                "images": n,
            },
        )


def _near_constant(split: SplitStats, decoded: np.ndarray, params: dict[str, Any], ctx: CheckContext) -> Iterator[Finding]:
    extra = split.extra
    pixel_std = np.asarray(extra["pixel_std"], dtype=np.float64)
    limit = float(params["blank_std"])
    ks = np.flatnonzero(decoded & (pixel_std < limit)).tolist()
    if not ks:
        return
    n = int(decoded.sum())
    brightness = np.asarray(extra["brightness"], dtype=np.float64)
    yield Finding(
        check="image_properties",
        severity=Severity.WARNING,
        message=f"{len(ks)} {split.name} image(s) are blank or near-constant (every channel's std < {limit:g} on 0-255)",
        split=split.name,
        column=None,
        count=len(ks),
        fraction=len(ks) / n,
        examples=[
            _item(split, k, pixel_std=round(float(pixel_std[k]), 3), brightness=round(float(brightness[k]), 2))
            for k in ks[: ctx.example_cap]
        ],
        details={
            "property": "near_constant", "blank_std": limit, "images": n,
            "median_pixel_std": float(np.nanmedian(pixel_std[decoded])),
        },
    )
