"""build_loader on tables: float32 rows in the fitted feature order, cached once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

torch = pytest.importorskip("torch")

from dataaudit.fit import fit, load_artefact  # noqa: E402
from dataaudit.loader import build_loader  # noqa: E402
from dataaudit.loader.datasets import SeededSampler  # noqa: E402
from dataaudit.transforms.tables import TableTransform  # noqa: E402

pytestmark = pytest.mark.torch


def _rows(n: int, offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame({
        "height": [150.0 + (i * 7 + offset) % 40 for i in range(n)],
        "colour": [["red", "green", "blue"][(i + offset) % 3] for i in range(n)],
        "age": [None if i % 11 == 0 else 20 + (i * 3) % 30 for i in range(n)],
        "species": [["a", "b"][(i * 5 + offset) % 2] for i in range(n)],
    })  # fmt: skip


@pytest.fixture()
def table(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "tab"
    root.mkdir()
    _rows(40).write_csv(root / "train.csv")
    _rows(13, offset=5).write_csv(root / "val.csv")
    art = tmp_path / "preprocess.json"
    fit(root, art, label="species")
    return root, art


def _all(loader: Any) -> tuple[Any, Any]:
    xs, ys = zip(*list(loader))
    return torch.cat(xs), torch.cat(ys)


def test_rows_come_out_in_the_fitted_feature_order_as_float32(table: tuple[Path, Path]) -> None:
    root, art_path = table
    loader = build_loader(root, split="val", artefact=art_path, batch_size=4)
    x, y = _all(loader)
    tf = TableTransform(load_artefact(art_path))
    frame = pl.read_csv(root / "val.csv")
    assert x.dtype == torch.float32 and x.shape == (13, len(tf.features))
    assert loader.feature_names == tf.features
    assert torch.equal(x, torch.from_numpy(tf(frame)))
    assert y.tolist() == tf.encode_labels(frame["species"].to_list()).tolist()


def test_train_rows_are_shuffled_reproducibly_and_cached_once(table: tuple[Path, Path]) -> None:
    root, art_path = table
    loader = build_loader(root, artefact=art_path, batch_size=8, seed=4)
    first, _ = _all(loader)
    second, _ = _all(loader)
    plain, _ = _all(build_loader(root, artefact=art_path, batch_size=8, shuffle=False))
    assert torch.equal(first, plain[SeededSampler(40, seed=4).order()])
    assert not torch.equal(first, second)  # a new order each epoch
    again = build_loader(root, artefact=art_path, batch_size=8, seed=4)
    assert again.cache_path == loader.cache_path
    assert torch.equal(_all(again)[0], first)


def test_a_changed_table_file_gives_a_new_cache(table: tuple[Path, Path]) -> None:
    root, art_path = table
    old = build_loader(root, split="val", artefact=art_path, shuffle=False)
    _rows(9, offset=1).write_csv(root / "val.csv")
    new = build_loader(root, split="val", artefact=art_path, shuffle=False)
    assert new.cache_path != old.cache_path and new.num_items == 9


def test_a_truncated_table_cache_is_rebuilt(table: tuple[Path, Path]) -> None:
    root, art_path = table
    old = build_loader(root, split="val", artefact=art_path, shuffle=False)
    want = _all(old)[0]
    feats = old.cache_path / "features.f32"
    with open(feats, "r+b") as fh:
        fh.truncate(feats.stat().st_size - 4)
    again = build_loader(root, split="val", artefact=art_path, shuffle=False)
    assert again.rebuilt_because is not None and "size" in again.rebuilt_because
    assert torch.equal(_all(again)[0], want)


def test_loader_bench_on_a_table_prints_rows_per_second(table: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    root, art_path = table
    code = main(["loader-bench", str(root), "--artefact", str(art_path), "--batch-size", "8", "--epochs", "1", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    assert "rows/s" in out and "same rows in the same order as naive: yes" in out
