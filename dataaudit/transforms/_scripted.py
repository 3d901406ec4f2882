"""TorchScript-compatible modules behind :func:`dataaudit.transforms.export_torchscript`.

Imported only when exporting (it imports torch at module level). Every operation
mirrors the eager transforms exactly (same kernels, same order of float
operations) so the exported module and the eager pipeline agree bit for bit.
"""

# No ``from __future__ import annotations`` here: TorchScript must see the class-level
# buffer annotations as real types, not strings.
from typing import Dict, List, Optional  # noqa: UP035 - TorchScript needs typing generics

import torch
import torch.nn.functional as F


class ImagePreprocess(torch.nn.Module):
    """uint8 image(s) -> resized, scaled, normalised float32 (see ``export.py``)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, height: int, width: int, mean: List[float], std: List[float]) -> None:  # noqa: UP006
        super().__init__()
        self.size: List[int] = [int(height), int(width)]  # noqa: UP006
        self.channels: int = len(mean)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batched = x.dim() == 4
        if x.dim() == 3:
            x = x.unsqueeze(0)
        elif x.dim() != 4:
            raise ValueError("expected an image (C, H, W) or a batch (N, C, H, W)")
        c = x.shape[1]
        if self.channels == 3 and c == 4:
            x = x[:, :3]
        elif self.channels == 1 and c == 2:
            x = x[:, :1]
        elif self.channels == 3 and c == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[1] != self.channels:
            raise ValueError("image has " + str(int(x.shape[1])) + " channels, expected " + str(self.channels))
        if x.dtype == torch.uint8:
            if x.shape[-2] != self.size[0] or x.shape[-1] != self.size[1]:
                if x.device.type == "cpu":
                    x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
                else:
                    y = F.interpolate(x.to(torch.float32), size=self.size, mode="bilinear",
                                      align_corners=False, antialias=True)  # fmt: skip
                    x = y.round_().clamp_(0, 255).to(torch.uint8)
            y = x.to(torch.float32).mul_(1.0 / 255)
        elif x.is_floating_point():
            y = x.to(torch.float32)
            if y.shape[-2] != self.size[0] or y.shape[-1] != self.size[1]:
                y = F.interpolate(y, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        else:
            raise ValueError("expected a uint8 image (0-255) or a float image (0-1)")
        y = y.sub(self.mean).div_(self.std)
        return y if batched else y.squeeze(0)


def _digit(c: str) -> bool:
    return c >= "0" and c <= "9"  # ASCII only, as polars parses numbers (str.isdigit takes any script)


def _plain_number(t: str) -> bool:
    """Whether ``t`` is a finite decimal number (``-999``, ``-999.000000``, ``1e3``), so that
    ``float(t)`` cannot raise (TorchScript has no try/except)."""
    n = len(t)
    i = 0
    if i < n and (t[i] == "+" or t[i] == "-"):
        i += 1
    digits = 0
    while i < n and _digit(t[i]):
        i += 1
        digits += 1
    if i < n and t[i] == ".":
        i += 1
        while i < n and _digit(t[i]):
            i += 1
            digits += 1
    if digits == 0:
        return False
    if i < n and (t[i] == "e" or t[i] == "E"):
        i += 1
        if i < n and (t[i] == "+" or t[i] == "-"):
            i += 1
        exp = 0
        while i < n and _digit(t[i]):
            i += 1
            exp += 1
        if exp == 0:
            return False
    return i == n


class TablePreprocess(torch.nn.Module):
    """Columns -> the fitted ``(rows, features)`` float32 matrix (see ``export.py``)."""

    # Declared here, not only in __init__: TorchScript cannot infer the type of an
    # empty list (an all-numeric table has no categorical columns, and the reverse).
    numeric_columns: List[str]  # noqa: UP006
    fills: List[float]  # noqa: UP006
    centers: List[float]  # noqa: UP006
    scales: List[float]  # noqa: UP006
    numeric_slots: List[int]  # noqa: UP006
    categorical_columns: List[str]  # noqa: UP006
    categorical_fills: List[str]  # noqa: UP006
    vocab_sizes: List[int]  # noqa: UP006
    vocabularies: List[Dict[str, int]]  # noqa: UP006
    categorical_slots: List[int]  # noqa: UP006
    sentinels: List[str]  # noqa: UP006
    numeric_sentinels: List[float]  # noqa: UP006
    features: List[str]  # noqa: UP006

    def __init__(
        self,
        numeric_columns: List[str],  # noqa: UP006
        fills: List[float],  # noqa: UP006
        centers: List[float],  # noqa: UP006
        scales: List[float],  # noqa: UP006
        numeric_slots: List[int],  # noqa: UP006
        categorical_columns: List[str],  # noqa: UP006
        categorical_fills: List[str],  # noqa: UP006
        vocabularies: List[List[str]],  # noqa: UP006
        categorical_slots: List[int],  # noqa: UP006
        onehot: bool,
        width: int,
        sentinels: List[str],  # noqa: UP006
        numeric_sentinels: List[float],  # noqa: UP006
        features: List[str],  # noqa: UP006
    ) -> None:
        super().__init__()
        self.numeric_columns: List[str] = numeric_columns  # noqa: UP006
        self.fills: List[float] = fills  # noqa: UP006
        self.centers: List[float] = centers  # noqa: UP006
        self.scales: List[float] = scales  # noqa: UP006
        self.numeric_slots: List[int] = numeric_slots  # noqa: UP006
        self.categorical_columns: List[str] = categorical_columns  # noqa: UP006
        self.categorical_fills: List[str] = categorical_fills  # noqa: UP006
        self.vocab_sizes: List[int] = [len(v) for v in vocabularies]  # noqa: UP006
        self.vocabularies: List[Dict[str, int]] = [  # noqa: UP006
            {value: i + 1 for i, value in enumerate(vocab)} for vocab in vocabularies
        ]
        self.categorical_slots: List[int] = categorical_slots  # noqa: UP006
        self.onehot: bool = onehot
        self.width: int = width
        self.sentinels: List[str] = sentinels  # noqa: UP006
        self.numeric_sentinels: List[float] = numeric_sentinels  # noqa: UP006
        self.features: List[str] = features  # noqa: UP006

    def _numeric_sentinel(self, t: str) -> bool:
        if len(self.numeric_sentinels) == 0 or not _plain_number(t):
            return False
        x = float(t)
        for sentinel in self.numeric_sentinels:
            if x == sentinel:
                return True
        return False

    def _rows(self, numeric: Dict[str, torch.Tensor], categorical: Dict[str, List[Optional[str]]]) -> int:  # noqa: UP006
        for name in self.numeric_columns:
            if name in numeric:
                return int(numeric[name].numel())
        for name in self.categorical_columns:
            if name in categorical:
                return len(categorical[name])
        return 0

    def forward(
        self,
        numeric: Dict[str, torch.Tensor],  # noqa: UP006
        categorical: Dict[str, List[Optional[str]]],  # noqa: UP006
    ) -> torch.Tensor:
        n = self._rows(numeric, categorical)
        out = torch.zeros(n, self.width, dtype=torch.float32)
        for i in range(len(self.numeric_columns)):
            name = self.numeric_columns[i]
            if name not in numeric:
                raise ValueError("missing numeric column " + name)
            x = numeric[name].to(torch.float64).reshape(-1)
            if int(x.numel()) != n:
                raise ValueError("column " + name + " has a different number of rows")
            ok = torch.isfinite(x)
            for sentinel in self.numeric_sentinels:
                ok = ok & (x != sentinel)
            x = torch.where(ok, x, torch.full_like(x, self.fills[i]))
            out[:, self.numeric_slots[i]] = ((x - self.centers[i]) / self.scales[i]).to(torch.float32)
        for j in range(len(self.categorical_columns)):
            name = self.categorical_columns[j]
            if name not in categorical:
                raise ValueError("missing categorical column " + name)
            values = categorical[name]
            if len(values) != n:
                raise ValueError("column " + name + " has a different number of rows")
            vocab = self.vocabularies[j]
            slot = self.categorical_slots[j]
            k = self.vocab_sizes[j]
            for r in range(n):
                raw = values[r]
                s = self.categorical_fills[j]
                if raw is not None:
                    t = raw.strip()
                    if t != "" and t not in self.sentinels and not self._numeric_sentinel(t):
                        s = t
                idx = vocab.get(s, 0)
                if self.onehot:
                    out[r, slot + (idx - 1 if idx > 0 else k)] = 1.0
                else:
                    out[r, slot] = float(idx)
        return out
