"""How the image profiler cuts a dataset into worker tasks: large ones, small ones at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataaudit.config import Config
from dataaudit.profile import images as pimages
from dataaudit.profile.dataset import profile_dataset
from dataaudit.profile.images import ImageSplitProfiler
from dataaudit.sources.base import Batch
from dataaudit.sources.images import ImageRecord, detect_images
from tests.imagedata import encode, imagefolder, textured


def _sizes_of_tasks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    original = pimages.decode_task

    def counting(root: str | None, items: Any) -> Any:
        sizes.append(len(items))
        return original(root, items)

    monkeypatch.setattr(pimages, "decode_task", counting)
    return sizes


def test_the_last_images_of_a_dataset_go_in_small_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imagefolder(tmp_path, {"train": {"a": 30, "b": 30}, "test": {"a": 40}}, size=8)
    monkeypatch.setattr(pimages, "TASK_ITEMS", 16)
    monkeypatch.setattr(pimages, "TAIL_TASK_ITEMS", 4)
    sizes = _sizes_of_tasks(monkeypatch)
    cfg = Config(workers=1, progress=False)  # one worker: the tail is the last 16 images
    ds = detect_images(tmp_path, cfg)
    assert ds is not None
    stats = profile_dataset(ds, cfg)
    # train: 16, 16, 16, then the split's last 12; test: 16, 16 (24 left), then its last 8 in
    # tail tasks of 4 (without the tail rule they would be one task of 8)
    assert sizes == [16, 16, 16, 12, 16, 16, 4, 4]
    assert stats.splits["train"].rows == 60 and stats.splits["test"].rows == 40
    assert ImageSplitProfiler._sent == 0  # closing the pool starts the next dataset's count afresh


def test_records_that_carry_their_bytes_go_in_tasks_of_the_old_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pimages, "TASK_ITEMS", 64)
    monkeypatch.setattr(pimages, "DATA_TASK_ITEMS", 8)
    sizes = _sizes_of_tasks(monkeypatch)
    imagefolder(tmp_path, {"train": {"a": 1}}, size=8)
    ds = detect_images(tmp_path, Config(workers=1))
    assert ds is not None
    blob = encode(textured(3, 8))
    prof = ImageSplitProfiler("train", ds, Config(workers=1))
    prof.update(Batch(split="train", path="", payload=[ImageRecord(i, None, blob, None) for i in range(20)]))
    stats = prof.result()
    ImageSplitProfiler.close()
    assert sizes == [8, 8, 4]
    assert stats.extra["decoded"].all() and np.unique(stats.extra["byte_hash"]).size == 1
