"""The loader in a training job: a real DataLoader, seeded augmentation after the cache,
and disjoint seeded shards per rank (two gloo processes on the CPU). Tiny images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, RandomSampler, Subset  # noqa: E402
from torchvision import datasets  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dataaudit.errors import UsageError  # noqa: E402
from dataaudit.loader import LoaderSettings, build_loader  # noqa: E402
from dataaudit.loader.cache import CacheError  # noqa: E402
from dataaudit.loader.datasets import SeededSampler  # noqa: E402

pytestmark = pytest.mark.torch

SIZE = (8, 10)
MEAN = [0.5, 0.45, 0.4]
STD = [0.25, 0.2, 0.3]
FAST = {"tune_seconds": 0.02, "threads": 2}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """ImageFolder tree: train/{bird,cat,dog} x 7 (PNG and JPEG), val/{bird,cat,dog} x 2."""
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    for split, n in (("train", 7), ("val", 2)):
        for cls in ("bird", "cat", "dog"):
            for i in range(n):
                w, h = int(rng.integers(12, 30)), int(rng.integers(10, 24))
                path = root / split / cls / f"i{i:02d}.{'jpg' if i % 2 else 'png'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return root


def _loader(root: Path, **kw: Any) -> Any:
    opts: dict[str, Any] = {"size": SIZE, "mean": MEAN, "std": STD, "batch_size": 4, "tune": False, **FAST}
    opts.update(kw)
    return build_loader(root, **opts)


def _eval_tf() -> Any:
    return v2.Compose([v2.RGB(), v2.ToImage(), v2.Resize(list(SIZE), antialias=True),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])  # fmt: skip


def _batches(loader: Any) -> list[tuple[Any, Any]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def _same(a: list[tuple[Any, Any]], b: list[tuple[Any, Any]]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b))


# -- 1. a DataLoader ---------------------------------------------------------------------


def test_build_loader_returns_a_dataloader_that_code_checking_for_one_accepts(data: Path) -> None:
    loader = _loader(data)
    assert isinstance(loader, DataLoader)
    assert loader.batch_size == 4 and not loader.drop_last and len(loader) == 6  # 21 items
    assert len(loader.dataset) == 21 and len(loader.sampler) == 21
    assert loader.num_workers == 0  # the outer loader's; the cached epochs use the tuned inner one


def test_its_batches_are_those_of_imagefolder_batch_for_batch_in_both_epochs(data: Path) -> None:
    """Same order and pixels as the loader gave before it became a DataLoader: ImageFolder with a
    seeded RandomSampler for epoch 0, the seeded permutation of epoch 1 after that."""
    ds = datasets.ImageFolder(str(data / "train"), transform=_eval_tf())
    want0 = _batches(DataLoader(ds, batch_size=4, sampler=RandomSampler(ds, generator=torch.Generator().manual_seed(9))))
    perm1 = torch.randperm(21, generator=torch.Generator().manual_seed(10)).tolist()
    want1 = _batches(DataLoader(Subset(ds, perm1), batch_size=4))
    loader = _loader(data, seed=9)
    got0 = _batches(loader)  # decoded into the cache
    got1 = _batches(loader)  # read from the cache
    assert loader.cached
    assert _same(got0, want0) and _same(got1, want1)


def test_the_dataset_items_equal_the_eval_transform_before_and_after_caching(data: Path) -> None:
    ds = datasets.ImageFolder(str(data / "train"), transform=_eval_tf())
    loader = _loader(data, shuffle=False)
    before = [loader.dataset[i] for i in (0, 8, 20)]
    loader.prepare()
    after = [loader.dataset[i] for i in (0, 8, 20)]
    for (x, y), (u, v), i in zip(before, after, (0, 8, 20)):
        assert torch.equal(x, ds[i][0]) and torch.equal(u, ds[i][0]) and y == v == ds[i][1]


def test_setting_the_epoch_on_the_sampler_as_lightning_does_equals_set_epoch(data: Path, tmp_path: Path) -> None:
    a = _loader(data, seed=2)
    a.prepare()
    a.set_epoch(3)
    via_loader = _batches(a)
    b = _loader(data, seed=2)
    b.sampler.set_epoch(3)
    assert _same(_batches(b), via_loader)
    assert not _same(_batches(b), via_loader)  # and it moves on to epoch 4 by itself


# -- 2. augmentation ----------------------------------------------------------------------

AUG = v2.Compose([v2.RandomResizedCrop(list(SIZE), scale=(0.3, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                  v2.ColorJitter(brightness=0.4)])  # fmt: skip


def _epochs(loader: Any, n: int = 2) -> list[list[tuple[Any, Any]]]:
    out = []
    for e in range(n):
        loader.set_epoch(e)
        out.append(_batches(loader))
    return out


def test_augmentation_is_the_same_across_runs_and_worker_counts_and_differs_between_epochs(
    data: Path, tmp_path: Path
) -> None:
    first = _loader(data, augment=AUG, seed=4)
    run1 = _epochs(first)  # epoch 0 augments while decoding into the cache, epoch 1 reads it
    run2 = _epochs(_loader(data, augment=AUG, seed=4, cache_dir=tmp_path / "fresh"))
    workers = _epochs(_loader(data, augment=AUG, seed=4, settings=LoaderSettings(2, 2, "worker")))
    persistent = _loader(data, augment=AUG, seed=4, settings=LoaderSettings(1, 1, "main"))
    _epochs(persistent)
    again = _epochs(persistent)  # the same worker process, epochs told again
    sample_level = _epochs(_loader(data, augment=AUG, seed=4, settings=LoaderSettings(0, fetch="sample")))
    for other in (run2, workers, again, sample_level):
        assert _same(other[0], run1[0]) and _same(other[1], run1[1])
    assert not _same(run1[0], run1[1])
    plain = _loader(data, seed=4, cache_dir=tmp_path / "plain")
    plain_epochs = _epochs(plain)
    flat0 = torch.cat([x for x, _ in run1[0]])
    assert not torch.equal(flat0, torch.cat([x for x, _ in plain_epochs[0]]))  # it did augment
    assert [y.tolist() for _, y in run1[0]] == [y.tolist() for _, y in plain_epochs[0]]  # order unchanged
    assert not _same(_epochs(_loader(data, augment=AUG, seed=5), 1)[0], run1[0])


def test_without_augmentation_every_epoch_has_the_same_pixels(data: Path) -> None:
    loader = _loader(data, shuffle=False)
    e0, e1 = _epochs(loader)
    assert _same(e0, e1)


def test_augment_true_uses_the_artefacts_train_steps(data: Path, tmp_path: Path) -> None:
    from dataaudit.fit import fit

    art = tmp_path / "preprocess.json"
    fit(data, art, image_size=(SIZE[1], SIZE[0]))
    from dataaudit.loader.pipeline import train_steps
    from dataaudit.fit import load_artefact

    steps = [type(t).__name__ for t in train_steps(load_artefact(art)).transforms]
    assert steps == ["RandomResizedCrop", "RandomHorizontalFlip"]
    a = build_loader(data, artefact=art, batch_size=4, tune=False, augment=True, seed=1, **FAST)
    b = build_loader(data, artefact=art, batch_size=4, tune=False, augment=False, seed=1, **FAST)
    ea, eb = _epochs(a, 1)[0], _epochs(b, 1)[0]
    assert ea[0][0].shape == eb[0][0].shape and not _same(ea, eb)
    assert _same(_epochs(a, 1)[0], ea)


def test_augmentation_leaves_the_callers_random_streams_alone(data: Path) -> None:
    loader = _loader(data, augment=AUG)
    torch.manual_seed(0)
    _batches(loader)
    _batches(loader)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))


@pytest.mark.parametrize(
    ("augment", "match"),
    [(True, "artefact"), ("flip", "callable"), (v2.Compose([v2.ToDtype(torch.float32, scale=True)]), "uint8 image")],
    ids=["augment=True without an artefact", "a string instead of a transform", "a transform returning float"],
)
def test_a_wrong_augmentation_is_a_usage_error(data: Path, augment: Any, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        _batches(_loader(data, augment=augment))


# -- 3. distributed ------------------------------------------------------------------------


def test_rank_shares_are_disjoint_and_cover_every_item_once_per_epoch() -> None:
    for n, w in ((21, 2), (20, 3), (5, 8)):
        for epoch in (0, 1):
            shares = []
            for r in range(w):
                s = SeededSampler(n, seed=3, rank=r, world_size=w)
                s.set_epoch(epoch)
                shares.append(list(s))
                assert len(s) == len(shares[-1])
            flat = [i for share in shares for i in share]
            assert sorted(flat) == list(range(n))
    single = SeededSampler(21, seed=3)
    assert list(single) == list(RandomSampler(range(21), generator=torch.Generator().manual_seed(3)))


RANK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch.distributed as dist
    import xxhash
    from dataaudit.loader import build_loader

    rank, data, cache, rdv, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    dist.init_process_group("gloo", init_method="file://" + rdv, rank=rank, world_size=2)
    logs = []
    loader = build_loader(data, size=(8, 10), batch_size=4, seed=5, output="uint8", cache_dir=cache, tune=False,
                          threads=2, log=logs.append)
    cached_at_start = loader.cached
    epochs = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        epochs.append([xxhash.xxh3_64_hexdigest(x.numpy().tobytes()) for xb, _ in loader for x in xb])
    dist.barrier()
    json.dump({"rank": loader.rank, "world": loader.world_size, "epochs": epochs, "logs": logs,
               "cached_at_start": cached_at_start, "len": len(loader.sampler)}, open(out, "w"))
    dist.destroy_process_group()
    """
)


def test_two_gloo_processes_get_disjoint_seeded_shards_and_one_cache(data: Path, tmp_path: Path) -> None:
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(r), str(data), str(cache), str(tmp_path / "rdv"),
                          str(tmp_path / f"out{r}.json")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for r in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    r0, r1 = (json.loads((tmp_path / f"out{r}.json").read_text()) for r in range(2))
    assert (r0["rank"], r1["rank"], r0["world"]) == (0, 1, 2)
    assert r0["cached_at_start"] and r1["cached_at_start"]  # rank 0 built it in build_loader
    assert any("waiting" in line for line in r1["logs"]) or r1["logs"] == []
    assert not any("waiting" in line for line in r0["logs"])
    whole = build_loader(data, size=SIZE, batch_size=4, output="uint8", cache_dir=cache, tune=False, shuffle=False)
    assert whole.cached  # the cache the ranks shared, not a new one
    everything = sorted(xxhash.xxh3_64_hexdigest(x.numpy().tobytes()) for xb, _ in whole for x in xb)
    assert len(set(everything)) == 21
    for epoch in range(2):
        a, b = r0["epochs"][epoch], r1["epochs"][epoch]
        assert not set(a) & set(b)
        assert sorted(a + b) == everything
        assert (len(a), len(b)) == (r0["len"], r1["len"]) == (11, 10)
    assert r0["epochs"][0] != r0["epochs"][1]
    assert len([p for p in (cache / "loader").iterdir() if not p.name.startswith(".")]) == 1


def test_a_rank_waiting_for_a_cache_that_never_comes_gives_a_clear_error(data: Path) -> None:
    with pytest.raises(CacheError, match=r"rank 1 of 2: rank 0 did not finish the cache .* within 0.3s"):
        _loader(data, rank=1, world_size=2, cache_timeout=0.3)


def test_rank_zero_of_two_builds_the_cache_in_build_loader_and_takes_its_share(data: Path) -> None:
    loader = _loader(data, rank=0, world_size=2, seed=1, shuffle=False)
    assert loader.cached and len(loader.sampler) == 11
    _, y = zip(*_batches(loader))
    assert torch.cat(y).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]  # items 0, 2, ..., 20


@pytest.mark.parametrize(
    "kw",
    [{"rank": 1}, {"rank": 2, "world_size": 2}, {"rank": -1, "world_size": 2}],
    ids=["a rank without a world size", "a rank past the world size", "a negative rank"],
)
def test_bad_ranks_are_usage_errors(data: Path, kw: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="rank"):
        _loader(data, **kw)


def test_the_table_loader_is_a_dataloader_too(tmp_path: Path) -> None:
    import polars as pl

    from dataaudit.fit import fit

    root = tmp_path / "tab"
    root.mkdir()
    pl.DataFrame({"x": [float(i % 7) for i in range(30)], "c": [["u", "v"][i % 2] for i in range(30)],
                  "y": [["a", "b", "c"][i % 3] for i in range(30)]}).write_csv(root / "train.csv")  # fmt: skip
    fit(root, tmp_path / "t.json", label="y")
    loader = build_loader(root, artefact=tmp_path / "t.json", batch_size=8, seed=2)
    assert isinstance(loader, DataLoader) and len(loader) == 4 and len(loader.dataset) == 30
    first = [(x.clone(), y.clone()) for x, y in loader]
    loader.sampler.set_epoch(0)
    assert _same([(x, y) for x, y in loader], first)
    x0, y0 = loader.dataset[0]
    assert x0.shape == first[0][0].shape[1:] and y0.dim() == 0
