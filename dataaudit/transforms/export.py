"""The inference preprocessing as one TorchScript module, normalisation included.

Production loads it with ``torch.jit.load(path)`` alone (no dataaudit, no
torchvision) and cannot reimplement the preprocessing differently.

Images: ``forward(x)`` takes a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``
(decode files with ``torchvision.io.decode_image(path, mode=ImageReadMode.RGB)``;
a 1-channel input is repeated for an RGB artefact, the alpha channel of a
4-channel input is dropped), resizes it to the fitted size with antialiased
bilinear interpolation, scales to [0, 1] and normalises: bit for bit what the
eager ``load_transforms(path)`` pipeline returns for the same tensor.

Tables: ``forward(numeric, categorical)`` takes ``numeric: Dict[str, Tensor]``
(1-D float64 per numeric column, NaN for missing) and ``categorical: Dict[str,
List[Optional[str]]]`` (``None`` for missing) and returns the ``(rows, features)``
float32 matrix of the eager table transform. The module's ``features``,
``numeric_columns`` and ``categorical_columns`` attributes say what it expects.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dataaudit.errors import ArtefactError, require
from dataaudit.fit.artefact import Artefact, NumericColumn, load_artefact
from dataaudit.fit.tables import numeric_sentinels


def export_torchscript(artefact_path: str | Path | Artefact, out_path: str | Path) -> Path:
    """Script the inference preprocessing of an artefact and save it to ``out_path``."""
    require("torch", "torch")
    import torch

    art = artefact_path if isinstance(artefact_path, Artefact) else load_artefact(artefact_path)
    return save_module(scripted_module(art), out_path)


def save_module(module: Any, out_path: str | Path) -> Path:
    """Save a scripted module atomically: a temp file beside ``out_path``, then a rename.

    Temp files that a killed run left in that folder are removed first.
    """
    import warnings

    import torch

    from dataaudit.fit.artefact import atomic_write_with

    out = Path(out_path)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(module, str(tmp))

    atomic_write_with(out, write)
    return out


def scripted_module(art: Artefact) -> Any:
    """The ``torch.jit.ScriptModule`` for ``art`` (not saved)."""
    import warnings

    import torch

    from dataaudit.transforms import _scripted

    if art.image is not None:
        p = art.image
        eager: torch.nn.Module = _scripted.ImagePreprocess(p.height, p.width, list(p.mean), list(p.std))
    elif art.table is not None:
        t = art.table
        nums = [c for c in t.columns if isinstance(c, NumericColumn)]
        cats = [c for c in t.columns if not isinstance(c, NumericColumn)]
        slots: list[list[int]] = []
        pos = 0
        for col in t.columns:
            width = 1 if isinstance(col, NumericColumn) or t.encoding == "index" else len(col.vocabulary) + 1
            slots.append([pos, width])
            pos += width
        num_slot = [slots[i][0] for i, c in enumerate(t.columns) if isinstance(c, NumericColumn)]
        cat_slot = [slots[i][0] for i, c in enumerate(t.columns) if not isinstance(c, NumericColumn)]
        eager = _scripted.TablePreprocess(
            [c.name for c in nums], [c.fill for c in nums], [c.center for c in nums], [c.scale for c in nums],
            num_slot,
            [c.name for c in cats], [c.fill for c in cats], [list(c.vocabulary) for c in cats],
            cat_slot,
            t.encoding == "onehot", pos, list(t.sentinels),
            [v for v in numeric_sentinels(list(t.sentinels)) if math.isfinite(v)],
            list(t.features),
        )
    else:  # pragma: no cover - Artefact.__post_init__ forbids it
        raise ArtefactError("artefact has neither a table nor an image plan")
    with warnings.catch_warnings():
        # torch.jit.script is deprecated in favour of torch.export, which cannot carry
        # string inputs (vocabularies); TorchScript is still the portable format here.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return torch.jit.script(eager)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ArtefactError(f"cannot export this artefact as TorchScript: {first}") from None
