"""The tuned loader on a Hub dataset (a loopback Hub): streamed once into the local cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("datasets")

from PIL import Image  # noqa: E402

try:
    from tests.fake_hub import FakeHub, forget_filesystems, point_libraries_at
except ImportError:  # pragma: no cover - run from inside tests/
    from fake_hub import FakeHub, forget_filesystems, point_libraries_at  # type: ignore[no-redef]

from dataaudit.loader import build_loader  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.hub]

SIZE = (8, 8)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATAAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")
    yield


def _png(rng: np.random.Generator) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    rng = np.random.default_rng(3)
    files = {f"train/{c}/{i}.png": _png(rng) for c in ("cat", "dog") for i in range(5)}
    with FakeHub() as fake:
        fake.add_dataset("alice/pets", files)
        point_libraries_at(monkeypatch, fake.url, tmp_path / "hf_home")
        fake.files = files
        yield fake
        forget_filesystems()


def test_a_hub_dataset_is_streamed_once_into_the_cache_then_read_locally(hub: Any, tmp_path: Path) -> None:
    from dataaudit.loader.cache import DecodeSpec, decode_image
    from dataaudit.loader.datasets import Normalizer

    loader = build_loader("hf://alice/pets", size=SIZE, batch_size=4, shuffle=False, tune=False, tune_seconds=0.02)
    assert loader.cached  # materialised while building
    served = hub.bytes_served()
    assert served >= sum(len(b) for b in hub.files.values())
    x, y = (torch.cat(t) for t in zip(*list(loader)))
    want = [hub.files[f"train/{c}/{i}.png"] for c in ("cat", "dog") for i in range(5)]
    norm = Normalizer(None, None)
    expected = norm(torch.from_numpy(np.stack([decode_image(b, DecodeSpec(*SIZE)) for b in want])))
    assert sorted(map(bytes, x.numpy())) == sorted(map(bytes, expected.numpy()))  # every image, exactly
    assert y.tolist().count(0) == 5 and y.tolist().count(1) == 5

    again = build_loader("hf://alice/pets", size=SIZE, batch_size=4, shuffle=False, tune=False)
    assert again.cached and again.cache_path == loader.cache_path
    assert hub.bytes_served() == served  # no image bytes fetched a second time
    x2, _ = (torch.cat(t) for t in zip(*list(again)))
    assert torch.equal(x2, x)
