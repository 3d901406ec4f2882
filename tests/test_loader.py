"""The tuned loader: same samples and order as torchvision, a verified cache, a tuner that
never picks a failing setting. Real PNG/JPEG trees in tmp_path; tiny images, short tuning."""

from __future__ import annotations

import os

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, RandomSampler  # noqa: E402
from torchvision import datasets  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dataaudit.errors import SourceError, UsageError  # noqa: E402
from dataaudit.loader import LoaderSettings, build_loader, default_cache_root  # noqa: E402
from dataaudit.loader.cache import INDEX, MARKER, TUNING, CacheBuilder, DecodeSpec, cache_key  # noqa: E402
from dataaudit.loader.datasets import CachedImageDataset, Normalizer, SeededSampler, keep_batch  # noqa: E402
from dataaudit.loader.tuning import Measurement, choose, load_decision, save_decision, tune  # noqa: E402

pytestmark = pytest.mark.torch

SIZE = (8, 10)
MEAN = [0.5, 0.45, 0.4]
STD = [0.25, 0.2, 0.3]
FAST = {"tune_seconds": 0.02, "threads": 2}


def _image(rng: np.random.Generator, path: Path) -> None:
    w, h = int(rng.integers(12, 30)), int(rng.integers(10, 24))
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        Image.fromarray(arr).save(path, quality=90)
    elif path.name.startswith("g"):
        Image.fromarray(arr[:, :, 0]).save(path)  # grayscale: converted to RGB like ImageFolder does
    else:
        Image.fromarray(arr).save(path)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """ImageFolder tree: train/{bird,cat,dog} (PNG, JPEG, one grayscale PNG), val/{bird,cat,dog}."""
    rng = np.random.default_rng(7)
    root = tmp_path / "data"
    for split, n in (("train", 9), ("val", 3)):
        for cls in ("bird", "cat", "dog"):
            for i in range(n):
                name = f"{'g' if i == 0 else 'i'}{i:02d}.{'jpg' if i % 3 == 1 else 'png'}"
                _image(rng, root / split / cls / name)
    return root


def _tf(mean: list[float] | None = MEAN, std: list[float] | None = STD, scale: bool = True) -> Any:
    steps: list[Any] = [v2.RGB(), v2.ToImage(), v2.Resize(list(SIZE), antialias=True)]
    if scale:
        steps.append(v2.ToDtype(torch.float32, scale=True))
    if mean is not None:
        steps.append(v2.Normalize(mean, std))
    return v2.Compose(steps)


def _naive(root: Path, split: str = "train", shuffle: bool = True, seed: int = 0, bs: int = 5) -> DataLoader[Any]:
    tf = _tf()
    ds = datasets.ImageFolder(str(root / split), transform=tf)
    sampler = RandomSampler(ds, generator=torch.Generator().manual_seed(seed)) if shuffle else None
    return DataLoader(ds, batch_size=bs, sampler=sampler, num_workers=0)


def _all(batches: Any) -> tuple[Any, Any]:
    xs, ys = zip(*list(batches))
    return torch.cat(xs), torch.cat(ys)


def _loader(root: Path, **kw: Any) -> Any:
    # tuning starts worker processes: only the tests about tuning pay for it
    opts: dict[str, Any] = {"size": SIZE, "mean": MEAN, "std": STD, "batch_size": 5, "tune": False, **FAST}
    opts.update(kw)
    return build_loader(root, **opts)


# -- equivalence with torchvision -------------------------------------------------------


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled with a seed", "in sequential order"])
def test_first_and_cached_epochs_equal_imagefolder_exactly(data: Path, shuffle: bool) -> None:
    want_x, want_y = _all(_naive(data, shuffle=shuffle, seed=3))
    loader = _loader(data, shuffle=shuffle, seed=3)
    assert not loader.cached
    first_x, first_y = _all(loader)
    assert loader.cached
    loader.set_epoch(0)
    cached_x, cached_y = _all(loader)
    assert first_x.dtype == torch.float32 and first_x.shape == (27, 3, *SIZE)
    assert torch.equal(first_x, want_x) and torch.equal(first_y, want_y)
    assert torch.equal(cached_x, want_x) and torch.equal(cached_y, want_y)


def test_val_split_is_not_shuffled_and_uses_the_shared_class_map(data: Path) -> None:
    loader = _loader(data, split="val")
    want_x, want_y = _all(_naive(data, split="val", shuffle=False))
    got_x, got_y = _all(loader)
    assert not loader.shuffle
    assert torch.equal(got_x, want_x) and torch.equal(got_y, want_y)


@pytest.mark.parametrize(
    "settings",
    [LoaderSettings(1, 2, "main"), LoaderSettings(2, 2, "worker"), LoaderSettings(2, 4, "main")],
    ids=["one worker", "two workers normalising", "two workers prefetching four"],
)
def test_worker_processes_work_on_cpu_and_change_nothing(data: Path, settings: LoaderSettings) -> None:
    ref = _loader(data, settings=LoaderSettings())
    ref.prepare()
    ref.set_epoch(1)
    want_x, want_y = _all(ref)
    loader = _loader(data, settings=settings)
    assert loader.cached
    loader.set_epoch(1)
    got_x, got_y = _all(loader)
    assert loader.dataloader.num_workers == settings.num_workers
    assert torch.equal(got_x, want_x) and torch.equal(got_y, want_y)


def test_with_a_fitted_artefact_the_loader_equals_its_eval_transform(data: Path, tmp_path: Path) -> None:
    from dataaudit.fit import fit
    from dataaudit.transforms.images import build_image_transform

    art_path = tmp_path / "preprocess.json"
    art = fit(data, art_path, image_size=(SIZE[1], SIZE[0]))
    assert art.image is not None and art.label is not None
    loader = build_loader(data, split="val", artefact=art_path, batch_size=4, tune=False, **FAST)
    x, y = _all(loader)
    assert x.shape == (9, 3, art.image.height, art.image.width)
    ds = datasets.ImageFolder(str(data / "val"), transform=build_image_transform(art))
    want_x, want_y = _all(DataLoader(ds, batch_size=4))
    assert torch.equal(x, want_x)
    assert [art.label.classes[i] for i in y] == [ds.classes[i] for i in want_y]


# -- order -----------------------------------------------------------------------------


def _order(loader: Any) -> list[tuple[int, float]]:
    # label + first pixel identify an item well enough to see the order
    return [(int(y), float(x[0, 0, 0])) for xb, yb in loader for x, y in zip(xb, yb)]


def test_order_is_reproducible_with_a_seed_and_differs_between_epochs(data: Path, tmp_path: Path) -> None:
    a = _loader(data, seed=11)
    a_epochs = [_order(a), _order(a), _order(a)]  # uncached, then cached
    b = _loader(data, seed=11, cache_dir=tmp_path / "other-cache")
    b_epochs = [_order(b), _order(b), _order(b)]
    assert a_epochs == b_epochs
    assert a_epochs[0] != a_epochs[1] != a_epochs[2]
    c = _loader(data, seed=12)
    assert _order(c) != a_epochs[0]
    assert sorted(a_epochs[0]) == sorted(a_epochs[1])


def test_seeded_sampler_epoch_zero_equals_a_seeded_random_sampler() -> None:
    sampler = SeededSampler(50, seed=5)
    assert list(sampler) == list(RandomSampler(range(50), generator=torch.Generator().manual_seed(5)))
    sampler.set_epoch(1)
    assert list(sampler) != list(RandomSampler(range(50), generator=torch.Generator().manual_seed(5)))
    assert list(SeededSampler(7, shuffle=False)) == list(range(7))


def test_drop_last_gives_full_batches_and_still_caches_everything(data: Path) -> None:
    loader = _loader(data, batch_size=4, drop_last=True)
    sizes = [int(y.shape[0]) for _, y in loader]
    assert sizes == [4] * 6 and len(loader) == 6
    assert loader.cached and loader.cache.count == 27


def test_decoding_threads_leave_the_callers_torch_thread_count_alone(data: Path) -> None:
    before = torch.get_num_threads()
    _all(_loader(data))
    assert torch.get_num_threads() == before


def test_an_interrupted_first_epoch_is_resumed_by_the_next(data: Path) -> None:
    loader = _loader(data, shuffle=False)
    for _ in loader:
        break
    assert not loader.cached
    assert not loader.cache_path.exists()
    x, y = _all(loader)
    assert loader.cached
    want_x, want_y = _all(_naive(data, shuffle=False))
    assert torch.equal(x, want_x) and torch.equal(y, want_y)


# -- the cache -------------------------------------------------------------------------


def test_second_run_reads_the_cache_and_reuses_the_tuning_decision(data: Path) -> None:
    first = _loader(data, tune=True)
    _all(first)
    _all(first)  # tunes on the cached epoch
    assert first.decision is not None and not first.decision.reused
    record = json.loads((first.cache_path / TUNING).read_text())
    (entry,) = record["decisions"].values()
    assert {m["settings"]["num_workers"] for m in entry["measurements"]} >= {0, 1}
    second = _loader(data, tune=True)
    assert second.cached and second.cache_path == first.cache_path
    second.set_epoch(0)
    x, _ = _all(second)
    assert second.decision is not None and second.decision.reused
    assert second.settings == first.settings
    first.set_epoch(0)
    assert torch.equal(x, _all(first)[0])


def _replace_image(path: Path, color: tuple[int, int, int]) -> None:
    Image.new("RGB", (17, 13), color).save(path)


def test_cache_is_rebuilt_when_a_source_file_changes(data: Path) -> None:
    old = _loader(data, shuffle=False)
    _all(old)
    target = data / "train" / "cat" / "i04.png"
    _replace_image(target, (255, 0, 0))
    new = _loader(data, shuffle=False)
    assert new.cache_path != old.cache_path and not new.cached
    x, _ = _all(new)
    names = sorted(p.relative_to(data / "train").as_posix() for p in (data / "train").rglob("*.*"))
    i = names.index("cat/i04.png")
    red = (torch.tensor([1.0, 0.0, 0.0]) - torch.tensor(MEAN)) / torch.tensor(STD)
    assert torch.allclose(x[i, :, 0, 0], red)
    assert torch.equal(x, _all(_naive(data, shuffle=False))[0])


def test_new_mean_and_std_reuse_the_pixels_but_a_new_size_does_not(data: Path) -> None:
    base = _loader(data)
    base.prepare()
    renorm = _loader(data, mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], shuffle=False)
    assert renorm.cached and renorm.cache_path == base.cache_path
    x, _ = _all(renorm)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    resized = _loader(data, size=(6, 6))
    assert not resized.cached and resized.cache_path != base.cache_path


def _shard(loader: Any) -> Path:
    return loader.cache_path / "shard-00000.u8"


def _truncate(p: Path) -> None:
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size - 7)


def _flip_byte(p: Path) -> None:
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p.write_bytes(bytes(raw))


def _drop_marker(p: Path) -> None:
    (p.parent / MARKER).unlink()


def _edit_index(p: Path) -> None:
    index = p.parent / INDEX
    doc = json.loads(index.read_text())
    doc["count"] = 3
    index.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("damage", "why"),
    [(_truncate, "bytes"), (_flip_byte, "checksum"), (_drop_marker, "marker"), (_edit_index, "marker")],
    ids=["a truncated shard", "a flipped byte in a shard", "a missing completion marker", "an edited index"],
)
def test_a_damaged_cache_is_detected_and_rebuilt(data: Path, damage: Any, why: str) -> None:
    good = _loader(data, shuffle=False)
    want_x, want_y = _all(good)
    damage(_shard(good))
    again = _loader(data, shuffle=False)
    assert not again.cached and again.rebuilt_because is not None and why in again.rebuilt_because
    x, y = _all(again)
    assert again.cached
    assert torch.equal(x, want_x) and torch.equal(y, want_y)


def test_a_half_written_cache_is_never_used(data: Path) -> None:
    good = _loader(data, shuffle=False)
    key, final = good.key, good.cache_path
    spec = DecodeSpec(*SIZE)
    # a build that stopped half way: written items, no index, no marker, a private name
    builder = CacheBuilder(final, key, spec, ["bird"], 27, {})
    builder.write(0, np.zeros(spec.item_shape, np.uint8), 0)
    assert builder.dir.exists() and not final.exists()
    loader = _loader(data, shuffle=False)
    assert not loader.cached
    x, _ = _all(loader)
    assert torch.equal(x, _all(_naive(data, shuffle=False))[0])
    builder.abort()
    assert not builder.dir.exists() and final.is_dir()


def test_the_cache_key_depends_on_what_shapes_the_bytes() -> None:
    spec = DecodeSpec(8, 8)
    assert cache_key("fp", "train", spec) == cache_key("fp", "train", DecodeSpec(8, 8))
    assert len({cache_key("fp", "train", spec), cache_key("fp2", "train", spec), cache_key("fp", "val", spec),
                cache_key("fp", "train", DecodeSpec(8, 9)), cache_key("fp", "train", DecodeSpec(8, 8, "L"))}) == 5


def test_default_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATAAUDIT_CACHE", str(tmp_path / "mine"))
    assert default_cache_root() == tmp_path / "mine"
    monkeypatch.delenv("DATAAUDIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "dataaudit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_root() == Path.home() / ".cache" / "dataaudit"


def test_default_cache_dir_is_used_when_none_is_given(data: Path) -> None:
    loader = _loader(data)  # conftest points DATAAUDIT_CACHE at a per-test folder
    assert loader.cache_path.parent == Path(os.environ["DATAAUDIT_CACHE"]) / "loader"


# -- tuning ----------------------------------------------------------------------------


class FailsInWorkers(CachedImageDataset):
    """Fine in the main process; raises in worker processes (like a missing /dev/shm)."""

    def __getitems__(self, indices: list[int]) -> Any:
        if torch.utils.data.get_worker_info() is not None:
            raise OSError("no space left on /dev/shm")
        return super().__getitems__(indices)


def test_the_tuner_never_picks_a_setting_that_failed(data: Path) -> None:
    loader = _loader(data, tune=False)
    loader.prepare()
    assert loader.cache is not None
    ds = FailsInWorkers(loader.cache, loader.label_map)

    def run(s: LoaderSettings) -> Iterator[int]:
        dl = DataLoader(ds, batch_size=5, num_workers=s.num_workers, prefetch_factor=s.prefetch_factor,
                        collate_fn=keep_batch)  # fmt: skip
        while True:
            for _, y in dl:
                yield int(y.shape[0])

    candidates = [LoaderSettings(2, 2), LoaderSettings(0), LoaderSettings(1, 2)]
    decision = tune(run, {"cores": 2}, seconds=0.02, candidates=candidates)
    assert decision.chosen == LoaderSettings(0)
    failed = {m.settings: m.error for m in decision.measurements if not m.ok}
    assert set(failed) == {LoaderSettings(2, 2), LoaderSettings(1, 2)}
    assert all("no space left on /dev/shm" in str(e) for e in failed.values())
    # recorded with its failures; a record whose choice failed is not trusted
    path = loader.cache_path / TUNING
    save_decision(path, decision)
    assert load_decision(path, {"cores": 2}) is not None
    decision.chosen = LoaderSettings(2, 2)
    save_decision(path, decision)
    assert load_decision(path, {"cores": 2}) is None


def test_every_setting_failing_is_an_error() -> None:
    def run(s: LoaderSettings) -> Iterator[int]:
        raise RuntimeError("broken")
        yield 0

    with pytest.raises(RuntimeError, match="every loader setting failed"):
        tune(run, {"cores": 1}, seconds=0.01, candidates=[LoaderSettings(0)])


def test_choose_prefers_the_fastest_working_setting() -> None:
    fast_but_failed = Measurement(LoaderSettings(2, 2), batches=1000, images=1000, seconds=1.0, error="boom")
    slow = Measurement(LoaderSettings(0), batches=10, images=100, seconds=1.0)
    fast = Measurement(LoaderSettings(1, 2), batches=50, images=500, seconds=1.0)
    assert choose([fast_but_failed, slow, fast]) == LoaderSettings(1, 2)
    assert choose([fast_but_failed]) is None


def test_tuning_tries_every_worker_count_up_to_the_cores(data: Path) -> None:
    loader = _loader(data, tune=True)
    loader.prepare()
    chosen = loader.choose_settings()
    assert loader.decision is not None
    tried = {m.settings.num_workers for m in loader.decision.measurements}
    assert tried == set(range(0, loader.decision.context["cores"] + 1))
    assert chosen in {m.settings for m in loader.decision.measurements if m.ok}


# -- labels, outputs, errors -------------------------------------------------------------


def test_an_explicit_class_map_sets_the_label_indices(data: Path) -> None:
    loader = _loader(data, shuffle=False, classes=["dog", "cat", "bird"])
    _, y = _all(loader)
    assert y.tolist() == [2] * 9 + [1] * 9 + [0] * 9


def test_a_label_missing_from_the_class_map_is_a_clear_error(data: Path) -> None:
    with pytest.raises(SourceError, match="dog"):
        _loader(data, classes=["bird", "cat"])


def test_uint8_output_skips_normalisation(data: Path) -> None:
    x, _ = _all(_loader(data, output="uint8", shuffle=False))
    assert x.dtype == torch.uint8
    img = datasets.ImageFolder(str(data / "train"), transform=_tf(None, None, scale=False))[0][0]
    assert torch.equal(x[0], img)


def test_without_mean_and_std_images_are_scaled_to_unit_range(data: Path) -> None:
    x, _ = _all(_loader(data, mean=None, std=None, shuffle=False))
    assert torch.equal(x[0], datasets.ImageFolder(str(data / "train"), transform=_tf(None, None))[0][0])


def test_an_image_that_does_not_decode_names_the_file(data: Path) -> None:
    (data / "train" / "cat" / "i05.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    loader = _loader(data)
    with pytest.raises(SourceError, match=r"train/cat/i05\.png.*cannot decode"):
        _all(loader)
    assert not loader.cached


@pytest.mark.parametrize(
    "kwargs",
    [{"size": None}, {"batch_size": 0}, {"mean": [0.5], "std": [0.2]}, {"mean": MEAN, "std": None},
     {"output": "half"}],
    ids=["no size and no artefact", "a zero batch size", "one mean for three channels", "a mean without std",
         "an unknown output"],
)  # fmt: skip
def test_bad_arguments_are_usage_errors(data: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        _loader(data, **kwargs)


def test_an_unknown_split_is_a_source_error(data: Path) -> None:
    with pytest.raises(SourceError, match="test"):
        _loader(data, split="test")


def test_streamed_records_are_materialised_into_the_cache(data: Path) -> None:
    """A source without files (like a Hub stream): encoded bytes read once, in stream order."""
    from dataaudit.sources.base import Batch, Dataset, SplitInfo
    from dataaudit.sources.images import ImageRecord

    files = sorted((data / "train").rglob("*.*"))
    reads: list[int] = []

    def read() -> Iterator[Batch]:
        reads.append(1)
        recs = [ImageRecord(i, None, p.read_bytes(), p.parent.name) for i, p in enumerate(files)]
        yield Batch(split="train", path="", payload=recs[:10])
        yield Batch(split="train", path="", payload=recs[10:])

    ds = Dataset(source="hf://org/pets", root=None, modality="image", splits={"train": SplitInfo("train")},
                 label_column="label", read=read, detected={"revision": "abc123"},
                 class_names=["bird", "cat", "dog"])  # fmt: skip
    loader = build_loader(ds, size=SIZE, mean=MEAN, std=STD, batch_size=5, shuffle=False, **FAST)
    assert loader.cached and reads == [1]
    x, y = _all(loader)
    want_x, want_y = _all(_naive(data, shuffle=False))
    assert torch.equal(x, want_x) and torch.equal(y, want_y)
    again = build_loader(ds, size=SIZE, mean=MEAN, std=STD, batch_size=5, shuffle=False, **FAST)
    assert again.cached and reads == [1]


def test_numpy_and_torch_normalisation_agree_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 3, 5, 6), dtype=np.uint8)
    norm = Normalizer(MEAN, STD)
    assert torch.equal(torch.from_numpy(norm.numpy(u8)), norm(torch.from_numpy(u8)))


def test_importing_the_loader_package_does_not_import_torch() -> None:
    code = "import sys, dataaudit.loader, dataaudit.commands.loader_bench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- loader-bench ------------------------------------------------------------------------


def test_loader_bench_prints_throughput_and_agreement(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    code = main(["loader-bench", str(data), "--size", "8", "10", "--mean", *map(str, MEAN), "--std",
                 *map(str, STD), "--batch-size", "5", "--epochs", "1", "--tune-seconds", "0.02", "-q"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    for what in ("naive", "first epoch", "cached epochs", "images/s", "chosen settings", "workers"):
        assert what in out
    assert "same samples as naive: yes; same order (seed 0): yes" in out


def test_loader_bench_without_a_size_is_a_usage_error(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    assert main(["loader-bench", str(data)]) == 2
    assert "--size" in capsys.readouterr().err


def test_an_unwritable_cache_folder_is_a_clear_error(data: Path, tmp_path: Path) -> None:
    from dataaudit.loader.cache import CacheError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    loader = _loader(data, cache_dir=blocker)
    with pytest.raises(CacheError, match="cannot create the cache folder"):
        _all(loader)


def test_a_file_changed_during_the_first_epoch_keeps_the_cache_from_being_sealed(data: Path) -> None:
    loader = _loader(data, shuffle=False)
    for i, _ in enumerate(loader):
        if i == 0:
            _replace_image(data / "train" / "dog" / "i08.png", (0, 0, 255))
    assert not loader.cached and not loader.cache_path.exists()
    fresh = _loader(data, shuffle=False)
    assert fresh.cache_path != loader.cache_path
    x, _ = _all(fresh)
    assert torch.equal(x, _all(_naive(data, shuffle=False))[0])


def test_loader_bench_with_an_artefact_compares_against_its_eval_transform(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataaudit.cli import main
    from dataaudit.fit import fit

    fit(data, tmp_path / "preprocess.json", image_size=(10, 8))
    code = main(["loader-bench", str(data), "--artefact", str(tmp_path / "preprocess.json"), "--batch-size", "4",
                 "--epochs", "1", "--tune-seconds", "0.02", "--json", "-q"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["same_samples"] and doc["same_order"]
    assert doc["loader"]["image"] == {"height": 8, "width": 10, "mode": "RGB"}
    assert doc["naive"]["items"] == doc["first_epoch"]["items"] == 27


def test_fewer_items_than_a_batch_with_drop_last_yields_nothing_and_needs_no_tuning(data: Path) -> None:
    loader = _loader(data, split="val", batch_size=64, drop_last=True, tune=True)
    assert list(loader) == [] and len(loader) == 0
    assert loader.cached
    assert list(loader) == [] and loader.settings == LoaderSettings()
