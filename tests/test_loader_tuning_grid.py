"""Tuning that holds up (a wider grid, repeated windows, the spread recorded, ties inside the
noise go to the simpler setting) and a bounded number of caches (LRU, replaced ones removed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402

from dataaudit.errors import UsageError  # noqa: E402
from dataaudit.loader import LoaderSettings, build_loader  # noqa: E402
from dataaudit.loader import tuning  # noqa: E402
from dataaudit.loader.cache import TUNING  # noqa: E402
from dataaudit.loader.tuning import Measurement, choose, measure, second_round, worker_counts  # noqa: E402

pytestmark = pytest.mark.torch

FAST = {"tune_seconds": 0.05, "threads": 2, "mean": [0.5] * 3, "std": [0.25] * 3, "batch_size": 4}


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    for cls in ("a", "b"):
        for i in range(6):
            path = root / "train" / cls / f"i{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (14, 18, 3), dtype=np.uint8)).save(path)
    return root


class Clock:
    """A fake ``time.perf_counter`` that the runner advances: timing without wall-clock noise."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(tuning.time, "perf_counter", c)
    return c


def _runner(clock: Clock, durations: Any) -> Any:
    def run(s: LoaderSettings) -> Iterator[int]:
        for d in durations():
            clock.now += d
            yield 4

    return run


def test_a_steady_measurement_stops_after_three_agreeing_windows(clock: Clock) -> None:
    def steady() -> Iterator[float]:
        while True:
            yield 0.01

    m = measure(LoaderSettings(), _runner(clock, steady), seconds=1.0, windows=10)
    assert m.ok and len(m.rates) == 3 and m.spread == pytest.approx(0.0)
    assert m.seconds == pytest.approx(0.3, abs=0.02)  # 3 windows of 0.1 s, not the whole budget
    assert m.batches_per_s == pytest.approx(100.0)


def test_a_noisy_measurement_runs_its_budget_and_records_the_spread(clock: Clock) -> None:
    def noisy() -> Iterator[float]:
        k = 0
        while True:  # every other window is twice as slow (another job on the machine)
            yield 0.01 if (k // 10) % 2 == 0 else 0.02
            k += 1

    m = measure(LoaderSettings(), _runner(clock, noisy), seconds=1.0, windows=10)
    assert m.seconds >= 1.0 and len(m.rates) >= 5
    assert m.spread > 0.3
    d = m.to_dict()
    assert d["repeats"] == len(m.rates) and d["spread"] == round(m.spread, 4) and len(d["rates"]) == len(m.rates)
    assert Measurement.from_dict(d).rates == pytest.approx(m.rates, rel=1e-3)


@pytest.mark.parametrize(
    ("spread", "winner"),
    [(0.0, LoaderSettings(2, 2)), (0.2, LoaderSettings(0))],
    ids=["a 10% lead with a steady measurement wins", "a 10% lead inside a 20% spread is a tie"],
)
def test_choose_treats_differences_inside_the_spread_as_ties(spread: float, winner: LoaderSettings) -> None:
    fast = Measurement(LoaderSettings(2, 2), batches=110, images=440, seconds=1.0,
                       rates=[110 * (1 - spread / 2), 110.0, 110 * (1 + spread / 2)])  # fmt: skip
    simple = Measurement(LoaderSettings(0), batches=100, images=400, seconds=1.0, rates=[100.0, 100.0, 100.0])
    assert choose([fast, simple]) == winner


def test_the_grid_has_up_to_eight_workers_prefetch_one_to_eight_and_sample_level_loading() -> None:
    assert worker_counts(2) == [0, 1, 2] and worker_counts(64) == list(range(9))
    extra = second_round(LoaderSettings(2, 2, "worker"))
    assert {s.prefetch_factor for s in extra if s.fetch == "batch"} == {1, 4, 8}
    assert LoaderSettings(2, 2, "worker", fetch="sample") in extra
    assert second_round(LoaderSettings(0)) == [LoaderSettings(0, fetch="sample")]
    with pytest.raises(UsageError, match="fetch"):
        LoaderSettings(fetch="rows")


def test_the_tuning_record_holds_every_candidates_repeats_and_spread(data: Path) -> None:
    loader = build_loader(data, size=(8, 8), **FAST)
    loader.prepare()
    chosen = loader.choose_settings()
    doc = json.loads((loader.cache_path / TUNING).read_text())
    (entry,) = doc["decisions"].values()
    ms = entry["measurements"]
    assert all({"repeats", "spread", "rates"} <= set(m) for m in ms)
    assert any(m["settings"]["fetch"] == "sample" for m in ms)
    assert {m["settings"]["num_workers"] for m in ms} == set(range(loader.decision.context["cores"] + 1))
    assert entry["context"]["pixels"]["identical_to_full_decode"] is True
    assert chosen in {LoaderSettings.from_dict(m["settings"]) for m in ms if m["error"] is None}


def test_sample_level_loading_gives_the_same_batches(data: Path) -> None:
    a = build_loader(data, size=(8, 8), tune=False, settings=LoaderSettings(0), seed=3, **FAST)
    a.prepare()
    b = build_loader(data, size=(8, 8), tune=False, settings=LoaderSettings(1, 1, fetch="sample"), seed=3, **FAST)
    for x, y in zip(a, b):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])


# -- at most N caches ------------------------------------------------------------------------


def _caches(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "loader").iterdir() if not p.name.startswith("."))


def test_at_most_n_caches_are_kept_and_the_least_recently_used_goes(data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    kw: dict[str, Any] = {"cache_dir": cache, "tune": False, "max_caches": 2, **FAST}
    a = build_loader(data, size=(8, 8), **kw).prepare()
    b = build_loader(data, size=(6, 6), **kw).prepare()
    assert _caches(cache) == sorted([a.cache_path.name, b.cache_path.name])
    again = build_loader(data, size=(8, 8), **kw)  # using a makes b the least recently used
    assert again.cached
    c = build_loader(data, size=(5, 5), **kw).prepare()
    assert _caches(cache) == sorted([a.cache_path.name, c.cache_path.name])
    assert not b.cache_path.exists()


def test_with_no_limit_every_cache_stays(data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    for side in (8, 7, 6):
        build_loader(data, size=(side, side), cache_dir=cache, tune=False, max_caches=None, **FAST).prepare()
    assert len(_caches(cache)) == 3


def test_a_cache_replaced_by_changed_files_is_deleted(data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    old = build_loader(data, size=(8, 8), cache_dir=cache, tune=False, **FAST).prepare()
    other_size = build_loader(data, size=(6, 6), cache_dir=cache, tune=False, **FAST).prepare()
    Image.new("RGB", (18, 14), (9, 9, 9)).save(data / "train" / "a" / "i0.png")
    new = build_loader(data, size=(8, 8), cache_dir=cache, tune=False, **FAST).prepare()
    assert new.cache_path != old.cache_path and not old.cache_path.exists()
    assert other_size.cache_path.exists()  # another size is another cache, not a replacement


def test_the_cache_limit_comes_from_the_environment(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAAUDIT_LOADER_MAX_CACHES", "1")
    cache = tmp_path / "c"
    build_loader(data, size=(8, 8), cache_dir=cache, tune=False, **FAST).prepare()
    last = build_loader(data, size=(6, 6), cache_dir=cache, tune=False, **FAST).prepare()
    assert _caches(cache) == [last.cache_path.name]
    monkeypatch.setenv("DATAAUDIT_LOADER_MAX_CACHES", "many")
    with pytest.raises(UsageError, match="DATAAUDIT_LOADER_MAX_CACHES"):
        build_loader(data, size=(8, 8), cache_dir=cache, tune=False, **FAST)
    with pytest.raises(UsageError, match="max_caches"):
        build_loader(data, size=(8, 8), cache_dir=cache, tune=False, max_caches=0, **FAST)
