"""``dataaudit.fit(source, ...)``: open the train split only and fit its preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataaudit.errors import SourceError, UsageError
from dataaudit.fit.artefact import MAX_IMAGE_SIDE, Artefact

if TYPE_CHECKING:
    from dataaudit.config import Config

_SOURCE_OPTIONS = (
    "label", "split_column", "text_column", "format", "delimiter", "modality", "encoding",
    "config_name", "revision", "token", "max_rows", "sentinels",
)  # fmt: skip


def fit(
    source: str | Path,
    output: str | Path | None = None,
    *,
    config: str | Path | Config | None = None,
    robust: bool = False,
    scaling: str | None = None,
    impute: str | None = None,
    categories: str | None = None,
    max_categories: int | None = None,
    min_frequency: int | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
    task: str = "auto",
    image_size: tuple[int, int] | str | None = None,
    tensors: bool = False,
    **source_options: Any,
) -> Artefact:
    """Fit preprocessing on the train split of ``source`` and return the artefact.

    Only the train split is opened (``open_source(..., splits=["train"])``), so
    val and test can never influence the parameters. With ``output`` the artefact
    is written there (JSON; with ``tensors`` also a ``.safetensors`` file beside it).

    Table options: ``scaling`` (``standard`` mean/std, ``robust`` median/IQR,
    ``none``; ``robust=True`` is shorthand), ``impute`` (``median``, the default, or
    ``mean`` for numeric columns; categorical columns take their most frequent
    value), ``categories`` (``onehot``, the default, or ``index``),
    ``max_categories`` (default 100) and ``min_frequency`` (default 1: a value seen
    at least this often in train gets its own slot; vocabulary by train frequency,
    the rest map to the unknown bucket), ``categorical``/``numeric``/``drop``
    (override column kinds), ``task`` (``auto``, ``classification`` or
    ``regression`` for the label). Image options: ``image_size`` (``(width,
    height)`` or ``"WxH"``; default the median train size). An option of the other
    modality is refused (:class:`~dataaudit.errors.UsageError`) before any data is
    read, so nothing is written. Source options (``label``, ``format``, ``delimiter``,
    ``split_column``, ``modality``, ...) are those of ``dataaudit scan``;
    ``config`` is a ``[tool.dataaudit]`` TOML file or a ready
    :class:`~dataaudit.config.Config` (then source options override its fields).
    """
    from dataaudit.config import Config, build_config
    from dataaudit.sources import open_source

    unknown = sorted(set(source_options) - set(_SOURCE_OPTIONS))
    if unknown:
        raise UsageError(f"unknown fit option(s): {', '.join(unknown)}")
    if robust and scaling not in (None, "robust"):
        raise UsageError("robust=True contradicts scaling=" + repr(scaling))
    table_given = [name for name, given in (
        ("--robust", robust), ("--scaling", scaling is not None), ("--impute", impute is not None),
        ("--categories", categories is not None), ("--max-categories", max_categories is not None),
        ("--min-frequency", min_frequency is not None), ("--categorical", bool(categorical)),
        ("--numeric", bool(numeric)), ("--drop", bool(drop)),
    ) if given]  # fmt: skip
    scaling = "robust" if robust else (scaling or "standard")
    impute = impute or "median"
    categories = categories or "onehot"
    max_categories = 100 if max_categories is None else max_categories
    min_frequency = 1 if min_frequency is None else min_frequency
    _choice("scaling", scaling, ("standard", "robust", "none"))
    _choice("impute", impute, ("median", "mean"))
    _choice("categories", categories, ("onehot", "index"))
    _choice("task", task, ("auto", "classification", "regression"))
    if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 1:
        raise UsageError(f"max_categories must be an integer of at least 1, got {max_categories!r}")
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) or min_frequency < 1:
        raise UsageError(f"min_frequency must be an integer of at least 1, got {min_frequency!r}")
    size = parse_size(image_size) if image_size is not None else None
    sentinels = source_options.pop("sentinels", None)
    if isinstance(config, Config):
        cfg = config
        for key, value in source_options.items():
            if value is not None:
                setattr(cfg, key, value)
    else:
        cfg = build_config(str(source), str(config) if config else None, progress=False, **source_options)
    if sentinels is not None:
        cfg.sentinels = tuple(str(s) for s in sentinels)
    dataset = open_source(source, cfg, splits=["train"])
    if dataset.splits and "train" not in dataset.splits:
        raise SourceError(
            "no train split found (fitting reads the train split only); name it train/ or train.csv, "
            "or use --split-column", str(source)
        )
    if dataset.modality == "image" and table_given:
        raise UsageError(
            f"{', '.join(table_given)}: table option(s), but {source} holds images "
            "(images take --image-size; nothing was written)"
        )
    if dataset.modality == "image" and task == "regression":
        raise UsageError(f"--task regression: {source} holds images whose labels are classes (nothing was written)")
    if dataset.modality != "image" and size is not None:
        raise UsageError(f"--image-size: an image option, but {source} holds a table (nothing was written)")
    options: dict[str, Any] = {"task": task}
    if dataset.modality == "image":
        from dataaudit.fit.images import fit_images

        options["image_size"] = None if size is None else list(size)
        art = fit_images(dataset, cfg, size=size, options=options)
    else:
        from dataaudit.fit.tables import fit_table

        options.update({
            "scaling": scaling, "impute": impute, "categories": categories,
            "max_categories": max_categories, "min_frequency": min_frequency,
            "categorical": list(categorical), "numeric": list(numeric), "drop": list(drop),
        })  # fmt: skip
        art = fit_table(dataset, cfg, options)
    if output is not None:
        art.save(output, tensors=tensors)
    return art


def parse_size(value: tuple[int, int] | str) -> tuple[int, int]:
    """``"224x160"`` or ``(224, 160)`` -> ``(width, height)``; ``"224"`` means square."""
    if isinstance(value, str):
        text = value.lower().replace(" ", "")
        parts = text.split("x") if "x" in text else [text, text]
        try:
            w, h = (int(p) for p in parts)
        except ValueError:
            raise UsageError(f"--image-size {value!r}: expected WIDTHxHEIGHT, e.g. 224x224") from None
    else:
        w, h = (int(v) for v in value)
    if w < 1 or h < 1 or w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
        raise UsageError(f"image size {w}x{h} is out of range (1..{MAX_IMAGE_SIDE})")
    return w, h


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
