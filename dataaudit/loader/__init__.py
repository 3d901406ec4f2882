"""A tuned PyTorch input pipeline with a local cache of decoded images.

``build_loader(source, split, artefact=...)`` returns a ``torch.utils.data.DataLoader``
(a :class:`~dataaudit.loader.pipeline.TunedLoader`) of ``(images, labels)``
batches: the first epoch decodes each image once into memory-mapped uint8
shards under the cache folder, later epochs read them with ``DataLoader``
settings chosen by measurement on this machine. Random augmentation runs after
the cache, seeded per epoch and item; under ``torch.distributed`` each rank
gets a disjoint seeded share of every epoch. With a table
artefact it yields ``(features, targets)`` float32 rows in the fitted feature
order from a cached, transformed matrix. See :mod:`dataaudit.loader.pipeline`,
:mod:`dataaudit.loader.cache`, :mod:`dataaudit.loader.tuning` and
:mod:`dataaudit.loader.tables`.

Importing this package does not import torch; :func:`build_loader` does (and
raises :class:`~dataaudit.errors.MissingExtraError` when it is missing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataaudit.loader.cache import DecodeSpec, default_cache_root
from dataaudit.loader.tuning import LoaderSettings

if TYPE_CHECKING:
    from dataaudit.loader.datasets import Augmenter, CachedImageDataset, RawImageDataset, SeededSampler
    from dataaudit.loader.pipeline import TunedLoader, build_loader
    from dataaudit.loader.tables import TableLoader

__all__ = [
    "Augmenter", "CachedImageDataset", "DecodeSpec", "LoaderSettings", "RawImageDataset", "SeededSampler",
    "TableLoader", "TunedLoader", "build_loader", "default_cache_root",
]  # fmt: skip

_LAZY = {
    "build_loader": "dataaudit.loader.pipeline",
    "TunedLoader": "dataaudit.loader.pipeline",
    "TableLoader": "dataaudit.loader.tables",
    "CachedImageDataset": "dataaudit.loader.datasets",
    "RawImageDataset": "dataaudit.loader.datasets",
    "SeededSampler": "dataaudit.loader.datasets",
    "Augmenter": "dataaudit.loader.datasets",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dataaudit.loader' has no attribute {name!r}")
    import importlib

    if module in ("dataaudit.loader.datasets", "dataaudit.loader.pipeline", "dataaudit.loader.tables"):
        from dataaudit.errors import require

        require("torch", "torch")
    return getattr(importlib.import_module(module), name)
