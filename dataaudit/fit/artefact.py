"""The fitted preprocessing artefact: one JSON file, validated strictly on load.

Layout of ``preprocess.json`` (``schema_version`` 1)::

    {
      "format": "dataaudit.preprocess",
      "schema_version": 1,
      "dataaudit_version": "0.1.0",
      "created": "2026-11-25T14:55:00Z",
      "source": "data/penguins",
      "modality": "table",                      # or "image"
      "fitted_on": {"split": "train", "items": 240, "fingerprint": "xxh3_128:..."},
      "label": {"column": "species", "classes": ["Adelie", ...]} | null,
      "table": {...} | null,                    # TablePlan.to_dict()
      "image": {...} | null,                    # ImagePlan.to_dict()
      "options": {...},                         # how it was fitted
      "tensors": {"file": "preprocess.safetensors", "sha256": "..."} | null,
      "integrity": "sha256:..."
    }

``integrity`` is the SHA-256 of the canonical JSON (sorted keys, no spaces) of
every other key. It catches edits and truncation; it is not a signature (anyone
can recompute it), so keep artefacts where only trusted people can write them.

The optional ``.safetensors`` file beside the JSON holds the same numbers as
float64 tensors for consumers outside Python. It is written and read here with
plain ``struct``/``json``/``numpy`` (the format is an 8-byte header length, a JSON
header and raw little-endian bytes), so no code is ever executed while loading.
Pickle in any form (``.pt``, ``.pkl``, pickle opcodes, torch zip archives) is
refused with :class:`~dataaudit.errors.ArtefactError`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import struct
import sys
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataaudit._version import __version__
from dataaudit.errors import ArtefactError

FORMAT = "dataaudit.preprocess"
SCHEMA_VERSION = 1
UNKNOWN = "__unknown__"
"""Name of the unknown-category bucket in one-hot feature names."""

PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".joblib", ".ckpt", ".bin", ".npy", ".npz"})
_MAX_JSON_BYTES = 256 * 1024 * 1024
_MAX_SAFETENSORS_HEADER = 16 * 1024 * 1024
MAX_IMAGE_SIDE = 16384
"""Largest fitted image width or height (a 16384x16384 RGB image is 768 MiB as uint8)."""
MAX_INT = 2**63 - 1
"""Largest integer an artefact field may hold (counts are int64 everywhere else)."""
MAX_DEPTH = 32
"""Deepest nesting of JSON values accepted (the real documents nest at most 5 levels)."""
_F32_MAX = float(np.finfo(np.float32).max)
MIN_IMAGE_STD = 1e-12
"""Smallest per-channel image std: below it a normalised pixel (at most 1/std) is not a usable number."""


# --------------------------------------------------------------------------------------
# strict reading helpers
# --------------------------------------------------------------------------------------
def _fail(where: str, message: str) -> ArtefactError:
    return ArtefactError(f"invalid artefact: {where}: {message}")


def _show(value: Any) -> str:
    """``repr`` for a message, short even for a 5,000-digit integer (whose ``str`` raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return f"an integer of about {value.bit_length() * 0.30103:.0f} digits"
    try:
        text = repr(value)
    except ValueError:  # a huge integer nested in a list
        return "a value too large to print"
    return text if len(text) <= 80 else text[:77] + "..."


def check_depth(doc: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int, str]] = [(doc, 1, "document")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if depth > limit:
            raise _fail(where, f"nested deeper than {limit} levels")
        for k, v in items:
            if isinstance(v, (dict, list)):
                stack.append((v, depth + 1, f"{where}[{k}]" if isinstance(k, int) else f"{where}.{k}"))


def _obj(value: Any, where: str, required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise _fail(where, f"missing key(s) {', '.join(missing)}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}")
    return value


def _str(value: Any, where: str, choices: Sequence[str] | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {type(value).__name__}")
    if choices is not None and value not in choices:
        raise _fail(where, f"{_show(value)} is not one of {', '.join(choices)}")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _int(value: Any, where: str, minimum: int | None = 0, maximum: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise _fail(where, f"expected an integer >= {minimum}, got {_show(value)}")
    if value > maximum:
        raise _fail(where, f"expected an integer <= {maximum}, got {_show(value)}")
    return value


def _float(value: Any, where: str, positive: bool = False, unit: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"expected a number, got {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise _fail(where, f"expected a finite number, got {_show(value)}")
    if positive and out <= 0:
        raise _fail(where, f"expected a positive number, got {value!r}")
    if unit and not 0.0 <= out <= 1.0:
        raise _fail(where, f"expected a fraction in [0, 1], got {value!r}")
    return out


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _str_list(value: Any, where: str, unique: bool = True) -> list[str]:
    out = [_str(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where))]
    if unique and len(set(out)) != len(out):
        raise _fail(where, "entries must be unique")
    return out


def _pixel_list(value: Any, where: str) -> list[float]:
    out = _float_list(value, where)
    for i, v in enumerate(out):
        if not 0.0 <= v <= 1.0:
            raise _fail(f"{where}[{i}]", f"{v!r} is not a pixel statistic in [0, 1]")
    return out


def _float_list(value: Any, where: str, positive: bool = False) -> list[float]:
    return [_float(v, f"{where}[{i}]", positive=positive) for i, v in enumerate(_list(value, where))]


def _json_value(value: Any, where: str) -> Any:
    """Plain JSON data only (for free-form ``options``), finite numbers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return _int(value, where, minimum=-MAX_INT)
    if isinstance(value, float):
        return _float(value, where)
    if isinstance(value, list):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_str(k, where): _json_value(v, f"{where}.{k}") for k, v in value.items()}
    raise _fail(where, f"unsupported value of type {type(value).__name__}")


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
@dataclass
class NumericColumn:
    """A numeric feature: impute ``fill``, then ``(x - center) / scale`` (one output)."""

    name: str
    fill: float
    """Imputation value in raw units (used for nulls, NaN, infinities, unparseable text)."""
    center: float
    scale: float
    """Never zero: a constant column gets ``1.0`` so it maps to ``0``."""
    count: int
    """Present (non-missing, finite) train values the statistics come from."""
    missing_fraction: float
    mean: float
    std: float
    """Population standard deviation (ddof=0), as used for standard scaling."""
    median: float
    q25: float
    q75: float
    min: float
    max: float
    quantiles_exact: bool = True
    """False when the quantiles come from the compactor sketch (see :mod:`dataaudit.fit.sketch`)."""
    kind: str = "numeric"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": "numeric", "fill": self.fill, "center": self.center,
            "scale": self.scale, "count": self.count, "missing_fraction": self.missing_fraction,
            "mean": self.mean, "std": self.std, "median": self.median, "q25": self.q25,
            "q75": self.q75, "min": self.min, "max": self.max,
            "quantiles_exact": self.quantiles_exact,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any, where: str) -> NumericColumn:
        keys = ["name", "kind", "fill", "center", "scale", "count", "missing_fraction", "mean",
                "std", "median", "q25", "q75", "min", "max", "quantiles_exact"]  # fmt: skip
        d = _obj(d, where, keys)
        if not isinstance(d["quantiles_exact"], bool):
            raise _fail(f"{where}.quantiles_exact", "expected true or false")
        col = cls(
            name=_str(d["name"], f"{where}.name"),
            fill=_float(d["fill"], f"{where}.fill"),
            center=_float(d["center"], f"{where}.center"),
            scale=_float(d["scale"], f"{where}.scale", positive=True),
            count=_int(d["count"], f"{where}.count"),
            missing_fraction=_float(d["missing_fraction"], f"{where}.missing_fraction", unit=True),
            mean=_float(d["mean"], f"{where}.mean"),
            std=_float(d["std"], f"{where}.std"),
            median=_float(d["median"], f"{where}.median"),
            q25=_float(d["q25"], f"{where}.q25"),
            q75=_float(d["q75"], f"{where}.q75"),
            min=_float(d["min"], f"{where}.min"),
            max=_float(d["max"], f"{where}.max"),
            quantiles_exact=d["quantiles_exact"],
        )
        if col.std < 0:
            raise _fail(f"{where}.std", "must not be negative")
        if col.min > col.max:
            raise _fail(where, "min is greater than max")
        if not col.min <= col.q25 <= col.median <= col.q75 <= col.max:
            raise _fail(where, "quantiles out of order (need min <= q25 <= median <= q75 <= max)")
        spread = col.max - col.min
        slack = 1e-9 * max(abs(col.min), abs(col.max), 1e-300)
        if not col.min - slack <= col.mean <= col.max + slack:
            raise _fail(f"{where}.mean", f"{col.mean!r} lies outside [min, max]")
        if col.std > 0.5 * spread * (1 + 1e-9) + slack:
            raise _fail(f"{where}.std", f"{col.std!r} is larger than half the range, impossible for its values")
        if col.scale < sys.float_info.min:
            raise _fail(f"{where}.scale", f"{col.scale!r} is too small to divide by")
        reach = max(abs(col.min - col.center), abs(col.max - col.center), abs(col.fill - col.center))
        if not math.isfinite(reach) or reach / col.scale > _F32_MAX:
            raise _fail(where, f"center {col.center!r} and scale {col.scale!r} map train values to infinite features")
        return col

    def check_plan(self, scaling: str, impute: str, where: str) -> None:
        """The fitted numbers must be those fitting derives from the statistics."""
        if scaling == "standard":
            center, scale = self.mean, self.std
        elif scaling == "robust":
            center, scale = self.median, self.q75 - self.q25
        else:
            center, scale = 0.0, 1.0
        if not scale > 0:
            scale = 1.0
        if self.center != center:
            raise _fail(f"{where}.center", f"{self.center!r} is not what {scaling} scaling gives ({center!r})")
        if self.scale != scale:
            raise _fail(f"{where}.scale", f"{self.scale!r} is not what {scaling} scaling gives ({scale!r})")
        fill = self.median if impute == "median" else self.mean
        if self.fill != fill:
            raise _fail(f"{where}.fill", f"{self.fill!r} is not the train {impute} ({fill!r})")


@dataclass
class CategoricalColumn:
    """A categorical feature: impute ``fill``; vocabulary values map to their slot,
    anything else (unseen, or past the vocabulary cap) to the unknown bucket."""

    name: str
    fill: str
    """Imputation value for missing entries (the most frequent train value)."""
    vocabulary: list[str]
    """By decreasing train frequency (ties by value)."""
    count: int
    missing_fraction: float
    unknown_fraction: float
    """Fraction of present train values that fall in the unknown bucket (cap / rarity)."""
    distinct: int
    """Distinct present train values (a lower bound when ``exact_counts`` is false)."""
    exact_counts: bool = True
    kind: str = "categorical"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": "categorical", "fill": self.fill,
            "vocabulary": list(self.vocabulary), "count": self.count,
            "missing_fraction": self.missing_fraction, "unknown_fraction": self.unknown_fraction,
            "distinct": self.distinct, "exact_counts": self.exact_counts,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any, where: str) -> CategoricalColumn:
        keys = ["name", "kind", "fill", "vocabulary", "count", "missing_fraction",
                "unknown_fraction", "distinct", "exact_counts"]  # fmt: skip
        d = _obj(d, where, keys)
        if not isinstance(d["exact_counts"], bool):
            raise _fail(f"{where}.exact_counts", "expected true or false")
        return cls(
            name=_str(d["name"], f"{where}.name"),
            fill=_str(d["fill"], f"{where}.fill"),
            vocabulary=_str_list(d["vocabulary"], f"{where}.vocabulary"),
            count=_int(d["count"], f"{where}.count"),
            missing_fraction=_float(d["missing_fraction"], f"{where}.missing_fraction", unit=True),
            unknown_fraction=_float(d["unknown_fraction"], f"{where}.unknown_fraction", unit=True),
            distinct=_int(d["distinct"], f"{where}.distinct"),
            exact_counts=d["exact_counts"],
        )


Column = NumericColumn | CategoricalColumn


@dataclass
class TablePlan:
    """Fitted preprocessing of a table, columns in output order."""

    columns: list[Column]
    scaling: str = "standard"
    """``standard`` (mean/std), ``robust`` (median/IQR) or ``none``."""
    impute: str = "median"
    """Numeric imputation: ``median`` or ``mean``."""
    encoding: str = "onehot"
    """``onehot`` (vocabulary slots then the unknown slot) or ``index`` (0 = unknown, 1.. = vocabulary)."""
    sentinels: list[str] = field(default_factory=list)
    """Strings read as missing (after stripping whitespace)."""
    dropped: dict[str, str] = field(default_factory=dict)
    """Train columns that are not features, with the reason."""
    input_columns: list[str] = field(default_factory=list)
    """Every column of the train split as read (features, label, ids, dropped)."""

    @property
    def features(self) -> list[str]:
        """Names of the output columns, in order."""
        out: list[str] = []
        for col in self.columns:
            if isinstance(col, NumericColumn) or self.encoding == "index":
                out.append(col.name)
            else:
                out.extend(f"{col.name}={v}" for v in col.vocabulary)
                out.append(f"{col.name}={UNKNOWN}")
        return out

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scaling": self.scaling,
            "impute": self.impute,
            "encoding": self.encoding,
            "sentinels": list(self.sentinels),
            "columns": [c.to_dict() for c in self.columns],
            "dropped": dict(self.dropped),
            "input_columns": list(self.input_columns),
            "features": self.features,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "table") -> TablePlan:
        d = _obj(d, where, ["scaling", "impute", "encoding", "sentinels", "columns", "dropped",
                            "input_columns", "features"])  # fmt: skip
        cols: list[Column] = []
        for i, c in enumerate(_list(d["columns"], f"{where}.columns")):
            w = f"{where}.columns[{i}]"
            if not isinstance(c, dict):
                raise _fail(w, "expected an object")
            kind = _str(c.get("kind"), f"{w}.kind", ("numeric", "categorical"))
            cols.append(NumericColumn.from_dict(c, w) if kind == "numeric" else CategoricalColumn.from_dict(c, w))
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise _fail(f"{where}.columns", "column names must be unique")
        dropped_raw = d["dropped"]
        if not isinstance(dropped_raw, dict):
            raise _fail(f"{where}.dropped", "expected an object")
        plan = cls(
            columns=cols,
            scaling=_str(d["scaling"], f"{where}.scaling", ("standard", "robust", "none")),
            impute=_str(d["impute"], f"{where}.impute", ("median", "mean")),
            encoding=_str(d["encoding"], f"{where}.encoding", ("onehot", "index")),
            sentinels=_str_list(d["sentinels"], f"{where}.sentinels"),
            dropped={_str(k, f"{where}.dropped"): _str(v, f"{where}.dropped.{k}") for k, v in dropped_raw.items()},
            input_columns=_str_list(d["input_columns"], f"{where}.input_columns"),
        )
        if _str_list(d["features"], f"{where}.features", unique=False) != plan.features:
            raise _fail(f"{where}.features", "does not match the columns and encoding")
        for i, col in enumerate(plan.columns):
            if isinstance(col, NumericColumn):
                col.check_plan(plan.scaling, plan.impute, f"{where}.columns[{i}]")
            elif col.vocabulary and col.fill not in col.vocabulary:
                raise _fail(f"{where}.columns[{i}].fill", f"{_show(col.fill)} is not in the vocabulary")
        return plan


@dataclass
class ImagePlan:
    """Fitted preprocessing of images: resize to ``(height, width)``, scale to [0, 1], normalise."""

    height: int
    width: int
    mode: str
    """``RGB`` or ``L``: what every image is converted to before anything else."""
    mean: list[float]
    std: list[float]
    """Per-channel statistics of the resized train pixels in [0, 1] (population std)."""
    pixels: int
    """Pixels per channel the statistics come from."""
    source_mean: list[float]
    source_std: list[float]
    """Per-channel statistics of the train pixels at their stored resolution (before the
    resize): what a profile of the raw images measures (the resize shrinks the std)."""
    images: int
    """Train images that decoded and contributed."""
    interpolation: str = "bilinear"
    antialias: bool = True
    size_stats: dict[str, float] = field(default_factory=dict)
    """Train size distribution (median/min/max width and height) the size was chosen from."""
    modes: dict[str, int] = field(default_factory=dict)
    """Train image modes as stored (e.g. ``{"RGB": 950, "L": 50}``)."""

    @property
    def channels(self) -> int:
        return len(self.mean)

    def to_dict(self) -> dict[str, Any]:
        return {
            "height": self.height, "width": self.width, "mode": self.mode,
            "mean": list(self.mean), "std": list(self.std), "pixels": self.pixels,
            "source_mean": list(self.source_mean), "source_std": list(self.source_std),
            "images": self.images, "interpolation": self.interpolation,
            "antialias": self.antialias, "size_stats": dict(self.size_stats),
            "modes": dict(self.modes),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any, where: str = "image") -> ImagePlan:
        keys = ["height", "width", "mode", "mean", "std", "pixels", "source_mean", "source_std", "images",
                "interpolation", "antialias", "size_stats", "modes"]  # fmt: skip
        d = _obj(d, where, keys)
        if not isinstance(d["antialias"], bool):
            raise _fail(f"{where}.antialias", "expected true or false")
        if not isinstance(d["size_stats"], dict) or not isinstance(d["modes"], dict):
            raise _fail(where, "size_stats and modes must be objects")
        plan = cls(
            height=_int(d["height"], f"{where}.height", minimum=1, maximum=MAX_IMAGE_SIDE),
            width=_int(d["width"], f"{where}.width", minimum=1, maximum=MAX_IMAGE_SIDE),
            mode=_str(d["mode"], f"{where}.mode", ("RGB", "L")),
            mean=_pixel_list(d["mean"], f"{where}.mean"),
            std=_float_list(d["std"], f"{where}.std", positive=True),
            pixels=_int(d["pixels"], f"{where}.pixels"),
            source_mean=_pixel_list(d["source_mean"], f"{where}.source_mean"),
            source_std=_pixel_list(d["source_std"], f"{where}.source_std"),
            images=_int(d["images"], f"{where}.images"),
            interpolation=_str(d["interpolation"], f"{where}.interpolation", ("bilinear",)),
            antialias=d["antialias"],
            size_stats={_str(k, where): _float(v, f"{where}.size_stats.{k}") for k, v in d["size_stats"].items()},
            modes={_str(k, where): _int(v, f"{where}.modes.{k}") for k, v in d["modes"].items()},
        )
        want = 3 if plan.mode == "RGB" else 1
        if any(len(v) != want for v in (plan.mean, plan.std, plan.source_mean, plan.source_std)):
            raise _fail(where, f"mode {plan.mode} needs {want} mean and std values")
        for c, v in enumerate(plan.std):
            # pixels are in [0, 1]: their std is at most 0.5, or 1.0 for a constant channel
            if not (MIN_IMAGE_STD <= v <= 0.5 or v == 1.0):
                raise _fail(f"{where}.std[{c}]", f"{v!r} is not a std of pixels in [0, 1]")
        return plan


@dataclass
class LabelMap:
    """The label column and its classes; index ``i`` is ``classes[i]``."""

    column: str | None
    classes: list[str]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, d: Any, where: str = "label") -> LabelMap:
        d = _obj(d, where, ["column", "classes"])
        return cls(_opt_str(d["column"], f"{where}.column"), _str_list(d["classes"], f"{where}.classes"))


@dataclass
class Artefact:
    """A fitted preprocessing artefact (see the module docstring for the file layout)."""

    modality: str
    source: str
    fingerprint: str
    items: int
    """Train items (rows or images) the parameters were fitted on."""
    table: TablePlan | None = None
    image: ImagePlan | None = None
    label: LabelMap | None = None
    options: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    dataaudit_version: str = __version__
    split: str = "train"
    schema_version: int = SCHEMA_VERSION
    path: Path | None = field(default=None, compare=False)
    """Where the artefact was loaded from or saved to."""
    tensors_file: str | None = field(default=None, compare=False)
    """Name of the safetensors file beside the JSON, if one was written."""
    tensors_sha256: str | None = field(default=None, compare=False)
    """SHA-256 of that file's bytes (what the JSON records)."""

    def __post_init__(self) -> None:
        if (self.modality == "image") != (self.image is not None) or (self.modality != "image") != (self.table is not None):
            raise ArtefactError(f"invalid artefact: modality {self.modality!r} needs exactly its own plan")

    # -- serialisation ---------------------------------------------------------------
    def body(self) -> dict[str, Any]:
        """Every key of the JSON file except ``tensors`` and ``integrity``."""
        return {
            "format": FORMAT,
            "schema_version": self.schema_version,
            "dataaudit_version": self.dataaudit_version,
            "created": self.created,
            "source": self.source,
            "modality": self.modality,
            "fitted_on": {"split": self.split, "items": self.items, "fingerprint": self.fingerprint},
            "label": None if self.label is None else self.label.to_dict(),
            "table": None if self.table is None else self.table.to_dict(),
            "image": None if self.image is None else self.image.to_dict(),
            "options": self.options,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, integrity hash included."""
        doc = self.body()
        doc["tensors"] = None
        if self.tensors_file is not None and self.path is not None:
            sha = self.tensors_sha256 or _sha256_file(self.path.parent / self.tensors_file)
            doc["tensors"] = {"file": self.tensors_file, "sha256": sha}
        doc["integrity"] = integrity_hash(doc)
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def save(self, path: str | Path, tensors: bool = False) -> Path:
        """Write the JSON (and, with ``tensors``, ``<stem>.safetensors`` beside it) atomically.

        The pair is replaced as a pair: the new tensors are first written to a staged
        file named by their hash, then the JSON is renamed into place (the one commit
        point), then the staged file is renamed over ``<stem>.safetensors``. A run
        killed before the commit leaves the old pair intact; one killed after it
        leaves a JSON whose tensors :func:`load_artefact` finds in the staged file.
        Temp and staged files of killed runs are removed by the next save.
        """
        path = Path(path)
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise ArtefactError(f"{path}: artefacts are JSON; use a .json file name")
        if tensors and path.suffix.lower() == ".safetensors":
            raise ArtefactError(f"{path}: the JSON artefact needs another name than its .safetensors file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtefactError(f"{path.parent}: cannot create the folder: {exc.strerror or exc}") from None
        self.path = path
        self.tensors_file = None
        self.tensors_sha256 = None
        staged: Path | None = None
        tpath = path.with_suffix(".safetensors")
        if tensors:
            data = encode_safetensors(self.tensor_dict(), {"format": FORMAT})
            sha = hashlib.sha256(data).hexdigest()
            clean_stale_temps(path.parent, tpath.name)
            staged = path.parent / f".{tpath.name}.{sha}.{owner_tag()}{_STAGED}"
            _write_durably(staged, lambda tmp: tmp.write_bytes(data))
            self.tensors_file, self.tensors_sha256 = tpath.name, sha
        try:
            atomic_write_with(path, lambda tmp: tmp.write_bytes(self.to_json().encode("utf-8")))
        except BaseException:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
        if staged is not None:
            try:
                os.replace(staged, tpath)
            except OSError as exc:
                raise ArtefactError(
                    f"{tpath}: cannot move the tensors into place ({exc.strerror or exc}); "
                    f"{path} reads them from {staged.name} until the next save"
                ) from None
        return path

    def tensor_dict(self) -> dict[str, np.ndarray]:
        """The fitted numbers as float64 arrays (what the safetensors file holds)."""
        if self.image is not None:
            return {
                "image.mean": np.asarray(self.image.mean, dtype=np.float64),
                "image.std": np.asarray(self.image.std, dtype=np.float64),
            }
        assert self.table is not None
        nums = [c for c in self.table.columns if isinstance(c, NumericColumn)]
        return {
            "numeric.fill": np.asarray([c.fill for c in nums], dtype=np.float64),
            "numeric.center": np.asarray([c.center for c in nums], dtype=np.float64),
            "numeric.scale": np.asarray([c.scale for c in nums], dtype=np.float64),
        }

    # -- construction from a document --------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any, base: Path | None = None) -> Artefact:
        """Validate ``doc`` strictly (keys, types, finite numbers, integrity) and build it."""
        keys = ["format", "schema_version", "dataaudit_version", "created", "source", "modality",
                "fitted_on", "label", "table", "image", "options", "tensors", "integrity"]  # fmt: skip
        if not isinstance(doc, dict):
            raise _fail("document", "expected a JSON object")
        check_depth(doc)
        if doc.get("format") != FORMAT:
            raise _fail("format", f"not a dataaudit preprocessing artefact (format {_show(doc.get('format'))})")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ArtefactError(
                f"artefact schema_version {_show(version)} is not supported by dataaudit {__version__} "
                f"(expects {SCHEMA_VERSION}); refit it with this version"
            )
        doc = _obj(doc, "document", keys)
        stored = _str(doc["integrity"], "integrity")
        if stored != integrity_hash(doc):
            raise ArtefactError(
                "artefact integrity check failed: its content was edited or damaged after it was "
                "written (refit it rather than editing numbers by hand)"
            )
        fitted = _obj(doc["fitted_on"], "fitted_on", ["split", "items", "fingerprint"])
        modality = _str(doc["modality"], "modality", ("table", "text", "image"))
        created = _str(doc["created"], "created")
        try:
            _dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise _fail("created", f"expected an ISO 8601 UTC time, got {_show(created)}") from None
        fingerprint = _str(fitted["fingerprint"], "fitted_on.fingerprint")
        if not fingerprint.startswith("xxh3_128:") or len(fingerprint) != len("xxh3_128:") + 32:
            raise _fail("fitted_on.fingerprint", f"unexpected fingerprint {_show(fingerprint)}")
        options = doc["options"]
        if not isinstance(options, dict):
            raise _fail("options", "expected an object")
        art = cls(
            modality=modality,
            source=_str(doc["source"], "source"),
            fingerprint=fingerprint,
            items=_int(fitted["items"], "fitted_on.items"),
            table=None if doc["table"] is None else TablePlan.from_dict(doc["table"]),
            image=None if doc["image"] is None else ImagePlan.from_dict(doc["image"]),
            label=None if doc["label"] is None else LabelMap.from_dict(doc["label"]),
            options=_json_value(options, "options"),
            created=created,
            dataaudit_version=_str(doc["dataaudit_version"], "dataaudit_version"),
            split=_str(fitted["split"], "fitted_on.split"),
            schema_version=SCHEMA_VERSION,
        )
        tensors = doc["tensors"]
        if tensors is not None:
            t = _obj(tensors, "tensors", ["file", "sha256"])
            name = _str(t["file"], "tensors.file")
            if Path(name).name != name or not name.endswith(".safetensors"):
                raise _fail("tensors.file", f"must be a .safetensors file name beside the JSON, got {_show(name)}")
            if base is None:
                raise _fail("tensors", "a safetensors file is referenced but the artefact has no location")
            sha = _str(t["sha256"], "tensors.sha256")
            if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
                raise _fail("tensors.sha256", "expected 64 lowercase hex digits")
            tpath = _tensors_file(base, name, sha)
            arrays, _meta = decode_safetensors(tpath.read_bytes(), str(tpath))
            expected = art.tensor_dict()
            if set(arrays) != set(expected) or any(
                arrays[k].shape != v.shape or not np.array_equal(arrays[k], v) for k, v in expected.items()
            ):
                raise ArtefactError(f"{tpath}: tensors disagree with the numbers in the JSON artefact")
            art.tensors_file = name
            art.tensors_sha256 = sha
        return art


def integrity_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``doc`` without its ``integrity`` key."""
    body = {k: v for k, v in doc.items() if k != "integrity"}
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise _fail("document", "contains a non-finite number") from None
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_fingerprint(stats: Any) -> str:
    """``xxh3_128:<hex>`` of the canonical JSON of ``stats`` (floats to 12 significant digits,
    so merge order within a pass cannot change it)."""
    import xxhash

    def canon(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): canon(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        if isinstance(v, bool) or v is None or isinstance(v, (str, int)):
            return v
        if isinstance(v, float):
            return float(f"{v:.12g}") if math.isfinite(v) else str(v)
        item = getattr(v, "item", None)
        if callable(item):
            return canon(item())
        return str(v)

    text = json.dumps(canon(stats), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "xxh3_128:" + xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise _fail("document", f"non-finite number {name} is not allowed")


def _looks_like_pickle(raw: bytes) -> bool:
    # Protocol 2+ pickles start with PROTO (0x80) and a version byte; torch.save writes a
    # zip archive holding a pickle; protocol 0/1 pickles start with an opcode and always
    # end with the STOP opcode '.'.
    if raw[:1] == b"\x80" and len(raw) > 1 and 0 < raw[1] <= 5:
        return True
    if raw.startswith(b"PK\x03\x04"):
        return True
    body = raw.strip()
    return bool(body) and body[:1] != b"{" and body.endswith(b".")


def load_artefact(path: str | Path) -> Artefact:
    """Read and strictly validate an artefact; never executes code.

    Raises :class:`~dataaudit.errors.ArtefactError` for a missing file, a pickle
    or torch file, malformed JSON, non-finite numbers, an unknown schema version,
    missing or unknown keys, wrong types, a failed integrity check, or a
    safetensors file whose header or content is wrong.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ArtefactError(
            f"{path}: refusing to load a {path.suffix} file: artefacts are JSON (pickle can run code)"
        )
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise ArtefactError(f"{path}: {size} bytes is too large for a preprocessing artefact")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArtefactError(f"{path}: no such artefact file") from None
    except IsADirectoryError:
        raise ArtefactError(f"{path}: is a folder, expected the artefact's .json file") from None
    except OSError as exc:
        raise ArtefactError(f"{path}: cannot read artefact: {exc.strerror or exc}") from None
    if _looks_like_pickle(raw):
        raise ArtefactError(f"{path}: refusing to load: the file holds pickle data (pickle can run code)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArtefactError(f"{path}: not a JSON artefact (not UTF-8 text)") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ArtefactError as exc:
        raise ArtefactError(f"{path}: {exc.message}") from None
    except json.JSONDecodeError as exc:
        raise ArtefactError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ArtefactError(f"{path}: invalid artefact: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ArtefactError(f"{path}: not a usable JSON artefact ({str(exc).splitlines()[0][:120]})") from None
    try:
        art = Artefact.from_dict(doc, base=path.parent)
    except ArtefactError as exc:
        raise ArtefactError(f"{path}: {exc.message}") from None
    except RecursionError:
        raise ArtefactError(f"{path}: invalid artefact: JSON nested too deeply") from None
    art.path = path
    return art


# --------------------------------------------------------------------------------------
# safetensors without the library (and without executing anything)
# --------------------------------------------------------------------------------------
_DTYPES: dict[str, np.dtype[Any]] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "I64": np.dtype("<i8")}


def encode_safetensors(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Bytes of a safetensors file holding ``arrays`` (float64/float32/int64)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        code = next((c for c, dt in _DTYPES.items() if dt == arr.dtype.newbyteorder("<")), None)
        if code is None:
            raise ArtefactError(f"cannot store dtype {arr.dtype} for tensor {name!r}")
        data = arr.astype(_DTYPES[code], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def decode_safetensors(raw: bytes, where: str = "safetensors") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse and sanity-check a safetensors file: header length, JSON header, dtypes,
    shapes, offsets contiguous and inside the file, finite values."""
    if len(raw) < 8:
        raise ArtefactError(f"{where}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n == 0 or n > _MAX_SAFETENSORS_HEADER or 8 + n > len(raw):
        raise ArtefactError(f"{where}: safetensors header length {n} is not sane for a {len(raw)}-byte file")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError, ArtefactError):
        raise ArtefactError(f"{where}: safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ArtefactError(f"{where}: safetensors header is not an object")
    meta_raw = header.pop("__metadata__", {})
    if not isinstance(meta_raw, dict) or not all(isinstance(v, str) for v in meta_raw.values()):
        raise ArtefactError(f"{where}: safetensors __metadata__ must map strings to strings")
    data = raw[8 + n :]
    arrays: dict[str, np.ndarray] = {}
    spans: list[tuple[int, int]] = []
    for name, info in header.items():
        w = f"{where}: tensor {_show(name)}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ArtefactError(f"{w}: entry must have exactly dtype, shape and data_offsets")
        dtype: np.dtype[Any] | None = _DTYPES.get(info["dtype"]) if isinstance(info["dtype"], str) else None
        if dtype is None:
            raise ArtefactError(f"{w}: dtype {_show(info['dtype'])} is not allowed (F64, F32, I64)")
        shape, offs = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise ArtefactError(f"{w}: bad shape {_show(shape)}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise ArtefactError(f"{w}: bad data_offsets {_show(offs)}")
        start, end = offs
        count = math.prod(shape)  # Python integers: np.prod would wrap around for huge shapes
        if not 0 <= start <= end <= len(data) or end - start != count * dtype.itemsize:
            raise ArtefactError(f"{w}: data_offsets {_show(offs)} do not fit shape {_show(shape)} and the file size")
        arr = np.frombuffer(data[start:end], dtype=dtype).reshape(shape)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ArtefactError(f"{w}: holds non-finite values")
        arrays[name] = arr.astype(arr.dtype.newbyteorder("="))
        spans.append((start, end))
    pos = 0
    for start, end in sorted(spans):
        if start != pos:
            raise ArtefactError(f"{where}: tensor data is not contiguous (gap or overlap at byte {start})")
        pos = end
    if pos != len(data):
        raise ArtefactError(f"{where}: {len(data) - pos} trailing bytes after the tensor data")
    return arrays, {str(k): str(v) for k, v in meta_raw.items()}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_TMP = ".tmp"
_STAGED = ".staged"


def _host() -> str:
    # hashed: a host name may hold dots and dashes, which the file-name parsing splits on
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def owner_tag() -> str:
    """``HOST-PID-RANDOM``: lets a later run tell whether the writer of a temp file still runs."""
    return f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def owner_alive(tag: str) -> bool:
    """Whether the writer named by an :func:`owner_tag` may still run (unparseable: no)."""
    try:
        host, pid, _ = tag.split("-")
        if host != _host():
            return True  # another machine's writer (shared folder): leave its files alone
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: Path, name: str) -> list[Path]:
    """Remove the temp and staged files of ``folder/name`` whose writer no longer runs.

    Writers name them ``.NAME.[HASH.]HOST-PID-RAND.tmp`` (or ``.staged``); a killed
    run leaves them behind, and the next write of the same file removes them.
    Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    prefix = f".{name}."
    for p in entries:
        if not p.name.startswith(prefix) or not p.name.endswith((_TMP, _STAGED)):
            continue
        stem = p.name[len(prefix) :].rsplit(".", 1)[0]
        tag = stem.rsplit(".", 1)[-1]
        if not owner_alive(tag):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def _write_durably(tmp: Path, write: Any) -> None:
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ArtefactError(f"{tmp.parent}: cannot write {tmp.name}: {exc.strerror or exc}") from None
        raise


def atomic_write_with(path: Path, write: Any) -> None:
    """Replace ``path`` atomically with what ``write(tmp_path)`` writes.

    The temp file sits beside ``path`` under a name that carries this process's id,
    so :func:`clean_stale_temps` (called first) removes those of killed runs. A full
    disk or any other ``OSError`` is an :class:`~dataaudit.errors.ArtefactError`
    naming the folder, and nothing is left behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtefactError(f"{path.parent}: cannot create the folder: {exc.strerror or exc}") from None
    clean_stale_temps(path.parent, path.name)
    tmp = path.with_name(f".{path.name}.{owner_tag()}{_TMP}")
    _write_durably(tmp, write)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtefactError(f"{path}: cannot replace it: {exc.strerror or exc}") from None


def _tensors_file(base: Path, name: str, sha: str) -> Path:
    """The file holding the tensors the JSON names: ``name``, or the staged copy a save
    killed between its commit and its last rename left behind."""
    tpath = base / name
    if tpath.is_file() and _sha256_file(tpath) == sha:
        return tpath
    try:
        staged = sorted(base.glob(f".{name}.{sha}.*{_STAGED}"))
    except OSError:
        staged = []
    for cand in staged:
        if cand.is_file() and _sha256_file(cand) == sha:
            return cand
    if not tpath.is_file():
        raise ArtefactError(f"{tpath}: safetensors file named by the artefact is missing")
    raise ArtefactError(f"{tpath}: safetensors file does not match the artefact (hash differs)")


# --------------------------------------------------------------------------------------
# what the scan's normalization_leak check reads
# --------------------------------------------------------------------------------------
def supplied_normalization(artefact: Artefact) -> dict[str, Any]:
    """The normalisation this artefact applies, in the shape ``normalization_leak`` reads::

        {"columns": {name: {"kind": "standard", "mean": m, "std": s}}, "image": {"mean": [...], "std": [...]}}

    With standard scaling every numeric column appears with the mean and std it is
    standardised with. Robust scaling (median/IQR) cannot be compared with the
    scan's moments, so those columns go under ``"robust"`` instead
    (``{name: {"median", "iqr", "mean", "std"}}``, the train mean/std for reference)
    and ``"columns"`` stays empty. ``image`` is absent for tables; for images it
    also gives ``size`` (the statistics are of pixels resized to it, which lowers the
    std) and ``source_mean``/``source_std``, the same train pixels before the
    resize, which is what a profile of the raw images compares with.
    """
    out: dict[str, Any] = {"columns": {}}
    if artefact.table is not None and artefact.table.scaling != "none":
        for col in artefact.table.columns:
            if not isinstance(col, NumericColumn):
                continue
            if artefact.table.scaling == "standard":
                if col.std == 0:
                    continue  # constant in train: scaled by 1.0, nothing to compare
                out["columns"][col.name] = {"kind": "standard", "mean": col.center, "std": col.scale}
            else:
                out.setdefault("robust", {})[col.name] = {
                    "median": col.center, "iqr": col.scale, "mean": col.mean, "std": col.std,
                }
    if artefact.image is not None:
        im = artefact.image
        out["image"] = {
            "mean": list(im.mean), "std": list(im.std), "size": [im.width, im.height],
            "source_mean": list(im.source_mean), "source_std": list(im.source_std),
        }
    return out
