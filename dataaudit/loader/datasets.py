"""torch ``Dataset`` classes over the decoded-image cache and over raw image files.

Both implement ``__getitems__`` so a ``DataLoader`` fetches a whole batch in one
call (one gather from the memory map, no per-item tensors, no
``default_collate``); pair them with :func:`keep_batch` as ``collate_fn``.
A batch is ``(images, labels)``: ``images`` uint8 ``(N, C, H, W)`` (or float32
when the dataset normalises), ``labels`` int64 ``(N,)``, ``-1`` for unlabelled.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xxhash
from torch.utils.data import Dataset, Sampler

from dataaudit.errors import UsageError
from dataaudit.loader.cache import DecodeSpec, ImageCache, decode_error, decode_image

Batch = tuple[torch.Tensor, torch.Tensor]


class Normalizer:
    """``(x * (1/255) - mean) / std`` per channel, from uint8, in the same float32
    operations as torchvision's ``ToDtype(float32, scale=True)`` + ``Normalize`` (the
    fitted eval transform), so results are bit-identical."""

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None) -> None:
        self.mean = None if mean is None else [float(m) for m in mean]
        self.std = None if std is None else [float(s) for s in std]
        self._consts: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "_consts": {}}

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        c = self._consts.get(device)
        if c is None:
            assert self.mean is not None and self.std is not None
            m = torch.tensor(self.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
            s = torch.tensor(self.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
            c = self._consts[device] = (m, s)
        return c

    def numpy(self, images: np.ndarray) -> np.ndarray:
        """The same on a NumPy uint8 batch, single-threaded (for decoding threads): float32
        IEEE operations in the same order, so the bits equal the torch result."""
        x = images.astype(np.float32)
        np.multiply(x, np.float32(1.0 / 255), out=x)
        if self.mean is not None and self.std is not None:
            shape = (1, -1, 1, 1)
            np.subtract(x, np.asarray(self.mean, dtype=np.float32).reshape(shape), out=x)
            np.divide(x, np.asarray(self.std, dtype=np.float32).reshape(shape), out=x)
        return x

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Float32 normalised copy of a uint8 ``(N, C, H, W)`` batch, on its own device."""
        x = images.to(torch.float32).mul_(1.0 / 255)
        if self.mean is None:
            return x
        m, s = self._on(x.device)
        return x.sub_(m).div_(s)


def keep_batch(batch: Batch) -> Batch:
    """``collate_fn`` for datasets with ``__getitems__``: the batch is already collated."""
    return batch


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and NumPy's generators from torch's per-worker seed,
    which the loader's seeded generator makes reproducible."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class SeededSampler(Sampler[Any]):
    """Sequential order, or a permutation that is a pure function of ``(seed, epoch)``;
    with ``world_size > 1``, this rank's share of it.

    Epoch ``e`` is ``torch.randperm(n, generator=torch.Generator().manual_seed(seed + e))``:
    the same whatever the worker count, persistence or tuning runs in between,
    so a run can resume at any epoch. Epoch 0 equals the first epoch of
    ``RandomSampler(ds, generator=torch.Generator().manual_seed(seed))``.
    Rank ``r`` of ``w`` gets positions ``r, r + w, r + 2w, ...`` of that order: the
    ranks' shares are disjoint and cover every item exactly once per epoch (unlike
    ``DistributedSampler``, nothing is repeated to even them out, so shares may
    differ by one item). With ``keyed=True`` it yields ``(index, epoch)`` pairs,
    so datasets in worker processes know the epoch (for seeded augmentation).
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1,
                 keyed: bool = False) -> None:  # fmt: skip
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank {rank} of {world_size}")
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.keyed = keyed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def full_order(self) -> list[int]:
        """Every index of the current epoch, all ranks together."""
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return list(torch.randperm(self.n, generator=g).tolist())

    def order(self) -> list[int]:
        """This rank's indices of the current epoch."""
        full = self.full_order()
        return full if self.world_size == 1 else full[self.rank :: self.world_size]

    def __iter__(self) -> Any:
        if self.keyed:
            epoch = self.epoch
            return iter([(i, epoch) for i in self.order()])
        return iter(self.order())

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of item ``index``'s augmentation in ``epoch``: a hash, so it does not depend
    on the worker, the batch or the order the item came in."""
    return xxhash.xxh3_64_intdigest(f"{seed}:{epoch}:{index}".encode()) & (2**63 - 1)


class Augmenter:
    """Random transforms applied after the cache, each item seeded by ``(seed, epoch, index)``.

    ``transform`` takes a uint8 ``(C, H, W)`` image (a torchvision ``tv_tensors.Image``)
    and returns one of the same shape and dtype (torchvision v2 transforms on uint8
    images do). Before each item torch's and Python's global generators are seeded
    with :func:`sample_seed`; the caller's generator states are restored after the
    batch, so augmenting changes no other random stream.
    """

    def __init__(self, transform: Callable[[Any], Any], seed: int) -> None:
        self.transform = transform
        self.seed = seed

    def __call__(self, images: torch.Tensor, indices: Sequence[int], epoch: int) -> torch.Tensor:
        from torchvision import tv_tensors

        state, py_state = torch.get_rng_state(), random.getstate()
        out = torch.empty_like(images)
        try:
            for j, i in enumerate(indices):
                s = sample_seed(self.seed, epoch, int(i))
                torch.manual_seed(s)
                random.seed(s)
                y = self.transform(tv_tensors.Image(images[j]))
                if not isinstance(y, torch.Tensor) or y.dtype != torch.uint8 or tuple(y.shape) != tuple(images.shape[1:]):
                    got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, torch.Tensor) else type(y).__name__
                    raise UsageError(
                        f"augment must return a uint8 image of shape {tuple(images.shape[1:])} (it runs on the "
                        f"cached, resized pixels before normalisation), got {got}"
                    )
                out[j] = y.as_subclass(torch.Tensor)
        finally:
            torch.set_rng_state(state)
            random.setstate(py_state)
        return out


def split_keys(keys: Sequence[Any]) -> tuple[list[int], int | None]:
    """Indices and epoch from a batch of sampler keys (``(index, epoch)`` pairs or plain indices)."""
    if keys and isinstance(keys[0], tuple):
        return [int(k[0]) for k in keys], int(keys[0][1])
    return [int(k) for k in keys], None


class CachedImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Items of a complete :class:`ImageCache` (memory-mapped; no decoding).

    ``label_map`` maps the cache's label codes to class indices (``label_map[-1]``
    must be ``-1``, the code of unlabelled items). With ``augment`` the random
    transforms run on each item (keys from a ``keyed`` :class:`SeededSampler`
    carry the epoch); with ``normalizer`` the images come out normalised float32
    (normalising in the worker processes).
    """

    def __init__(self, cache: ImageCache, label_map: np.ndarray, normalizer: Normalizer | None = None,
                 augment: Augmenter | None = None) -> None:  # fmt: skip
        self.cache = cache
        self.labels = label_map[cache.labels]
        self.normalizer = normalizer
        self.augment = augment

    def __len__(self) -> int:
        return self.cache.count

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, int]:
        images, labels = self.__getitems__([key])
        return images[0], int(labels[0])

    def __getitems__(self, keys: list[Any]) -> Batch:
        indices, epoch = split_keys(keys)
        images = torch.from_numpy(self.cache.gather(indices))
        if self.augment is not None:
            images = self.augment(images, indices, epoch or 0)
        if self.normalizer is not None:
            images = self.normalizer(images)
        return images, torch.from_numpy(self.labels[np.asarray(indices, dtype=np.int64)])


class PerSample(Dataset[tuple[torch.Tensor, int]]):
    """``dataset`` without ``__getitems__``: the ``DataLoader`` fetches item by item and
    collates with :func:`stack_items` (the tuner's "sample-level" loading)."""

    def __init__(self, dataset: CachedImageDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, int]:
        return self.dataset[key]


def stack_items(items: list[tuple[torch.Tensor, int]]) -> Batch:
    """``collate_fn`` for :class:`PerSample`: stack images, labels as int64."""
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items], dtype=torch.int64)


class RawImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images decoded from files on every access (what the cache saves you from).

    ``names`` are paths relative to ``root``; ``labels`` class indices (``-1``:
    none). A file that does not decode raises
    :class:`~dataaudit.errors.SourceError` naming it.
    """

    def __init__(
        self, root: Path, names: Sequence[str], labels: Sequence[int] | np.ndarray, spec: DecodeSpec,
        normalizer: Normalizer | None = None,
    ) -> None:  # fmt: skip
        self.root = Path(root)
        self.names = list(names)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.spec = spec
        self.normalizer = normalizer

    def __len__(self) -> int:
        return len(self.names)

    def decode(self, i: int) -> np.ndarray:
        try:
            return decode_image(self.root / self.names[i], self.spec)
        except Exception as exc:  # PIL raises many types for bad files
            raise decode_error(self.names[i], exc) from None

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.decode(i)), int(self.labels[i])

    def __getitems__(self, indices: list[int]) -> Batch:
        out = np.empty((len(indices), *self.spec.item_shape), dtype=np.uint8)
        for j, i in enumerate(indices):
            out[j] = self.decode(i)
        images = torch.from_numpy(out)
        if self.normalizer is not None:
            images = self.normalizer(images)
        return images, torch.from_numpy(self.labels[np.asarray(indices, dtype=np.int64)])
