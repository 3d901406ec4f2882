"""torchvision ``transforms.v2`` pipelines built from a fitted :class:`ImagePlan`.

Eval (and inference)::

    RGB() | Grayscale(1)          # the fitted mode (PIL inputs; 1-channel tensors are repeated)
    ToImage()                     # PIL / ndarray -> uint8 tensor image
    Resize((H, W), antialias=True)
    ToDtype(float32, scale=True)  # [0, 255] -> [0, 1]
    Normalize(mean, std)          # the fitted train statistics

Train with ``augment=True`` replaces the resize by ``RandomResizedCrop((H, W))`` and
adds ``RandomHorizontalFlip()``; ``Normalize`` always stays last, so augmentation
never sees normalised values and the model always sees the fitted scale.

The resize runs on the uint8 tensor (after ``ToImage``), the same kernel the
TorchScript export uses and the one fitting measured the statistics with.
"""

from __future__ import annotations

from typing import Any

from dataaudit.errors import ArtefactError, require
from dataaudit.fit.artefact import Artefact


def build_image_transform(artefact: Artefact, train: bool = False, augment: bool | None = None) -> Any:
    """The ``torchvision.transforms.v2.Compose`` for ``artefact`` (see the module docstring)."""
    require("torchvision", "torch")
    import torch
    from torchvision.transforms import v2

    plan = artefact.image
    if plan is None:
        raise ArtefactError("this artefact was fitted on a table, not images")
    if augment is None:
        augment = train
    size = [plan.height, plan.width]
    steps: list[Any] = [v2.RGB() if plan.mode == "RGB" else v2.Grayscale(num_output_channels=1), v2.ToImage()]
    if train and augment:
        steps += [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        steps.append(v2.Resize(size, antialias=True))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(plan.mean), std=list(plan.std))]
    return v2.Compose(steps)
