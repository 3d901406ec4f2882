"""Transforms built from a fitted artefact, identical at training and at inference.

>>> from dataaudit.transforms import load_transforms
>>> tf = load_transforms("preprocess.json")                 # doctest: +SKIP
>>> x = tf(frame)          # table: float32 (rows, features) in the fitted order
>>> x = tf(pil_image)      # images: a torchvision.transforms.v2 pipeline

Tables need only polars/numpy; images need the ``[torch]`` extra. torch and
torchvision are imported only when an image pipeline or an export is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataaudit.fit.artefact import Artefact, load_artefact


def load_transforms(path: str | Path | Artefact, train: bool = False, augment: bool | None = None) -> Any:
    """The transform of a fitted artefact (``preprocess.json``).

    * images: a ``torchvision.transforms.v2.Compose`` (see
      :mod:`dataaudit.transforms.images`); ``train=True`` adds the standard
      augmentations (``RandomResizedCrop``, ``RandomHorizontalFlip``) unless
      ``augment=False``; ``Normalize`` is always last;
    * tables: a :class:`~dataaudit.transforms.tables.TableTransform`, a callable
      from a polars DataFrame (or dict rows) to a float32 array in the fitted
      column order (``as_tensor=True`` for a torch tensor); ``train`` and
      ``augment`` do not apply to tables.

    The artefact is validated strictly (:func:`~dataaudit.fit.load_artefact`).
    """
    art = path if isinstance(path, Artefact) else load_artefact(path)
    if art.image is not None:
        from dataaudit.transforms.images import build_image_transform

        return build_image_transform(art, train=train, augment=augment)
    from dataaudit.transforms.tables import TableTransform

    return TableTransform(art)


def export_torchscript(artefact_path: str | Path | Artefact, out_path: str | Path) -> Path:
    """Save the inference preprocessing of an artefact as one TorchScript module."""
    from dataaudit.transforms.export import export_torchscript as _export

    return _export(artefact_path, out_path)


__all__ = ["export_torchscript", "load_transforms"]
