"""Figures the suite did not pin: each test here fails on a small planted bug that the rest of
the suite missed (issue #14, item 6), and comes with a clean control.

- ``label_set_mismatch``: an absent class's expected count is its reference count scaled by
  the other split's size over the reference's (not the inverse), and ``min_expected`` is a
  ``>=`` bound;
- ``normalization_leak``: a standardisation with the sample standard deviation (``ddof=1``,
  what pandas' ``.std()`` gives) is recognised like one with ``ddof=0``;
- ``delimiter_corruption``: the fraction is malformed records over the records examined in
  that split (good rows plus malformed ones), and the thresholds are strict/inclusive as
  documented;
- the loader cache verifies the checksum of its labels file, in both verify modes;
- ``fit``'s ``min_frequency`` keeps categories seen exactly that often.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_table
from tabledata import clean_splits

import dataaudit
from dataaudit.report.model import Finding, Report, Severity

Rows = list[dict[str, Any]]


def scan(root: Path, **options: Any) -> Report:
    options.setdefault("progress", False)
    return dataaudit.scan(root, **options)


def findings(report: Report, check: str, split: str | None = None) -> list[Finding]:
    return [f for f in report.by_check(check) if split is None or f.split == split]


# -- label_set_mismatch: the expected count of an absent class ------------------------------------------
def _iris_rows() -> tuple[Rows, list[str]]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    cols = [n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names]
    rows = [{**{c: float(v) for c, v in zip(cols, x)}, "species": str(iris.target_names[t])}
            for x, t in zip(iris.data, iris.target)]
    return rows, cols


def test_absent_class_expected_count_scales_by_the_other_split_over_the_reference(tmp_path: Path) -> None:
    rows, _ = _iris_rows()
    train = [r for i, r in enumerate(rows) if i % 3]  # 100 rows, every species
    val = [r for i, r in enumerate(rows) if i % 3 == 0 and r["species"] != "virginica"]  # 33 rows
    write_table(tmp_path, "train.csv", train)
    write_table(tmp_path, "val.csv", val)
    [f] = [f for f in findings(scan(tmp_path), "label_set_mismatch", "val") if "absent" in f.details]
    n_train = sum(r["species"] == "virginica" for r in train)
    expected = n_train * len(val) / len(train)  # 33 * 33 / 100 = 10.89: the share of val it would hold
    assert len(train) != len(val)  # with equal totals a swapped ratio would go unseen
    assert f.details["absent"] == {"virginica": round(expected, 2)}
    assert f.examples == [{"split": "val", "column": "species", "label": "virginica",
                           "expected_count": round(expected, 1)}]
    assert f.severity == Severity.WARNING and f.count == 1 and f.fraction == pytest.approx(1 / 3)


def _labelled(counts: dict[str, int], seed: int) -> Rows:
    rng = np.random.default_rng(seed)
    out: Rows = []
    for label, n in counts.items():
        out += [{"x": float(rng.normal()), "y": float(rng.normal()), "label": label} for _ in range(n)]
    return out


@pytest.mark.parametrize(("val_size", "severity"), [
    pytest.param(60, Severity.WARNING, id="expected exactly min_expected (5 of 60) is a warning"),
    pytest.param(54, Severity.INFO, id="expected just under min_expected (4.5 of 54) is info"),
    pytest.param(240, Severity.WARNING, id="a val split larger than train expects more (20 of 240)"),
])
def test_absent_class_severity_follows_the_expected_count(tmp_path: Path, val_size: int, severity: Severity) -> None:
    # train: 60 a, 50 b, 10 c (120 rows); val holds a and b only, so c is expected 10 * val_size / 120 times
    write_table(tmp_path, "train.csv", _labelled({"a": 60, "b": 50, "c": 10}, seed=1))
    write_table(tmp_path, "val.csv", _labelled({"a": val_size // 2, "b": val_size - val_size // 2}, seed=2))
    [f] = findings(scan(tmp_path, label="label"), "label_set_mismatch", "val")
    assert f.details["absent"] == {"c": round(10 * val_size / 120, 2)}
    assert f.severity == severity


def test_every_class_present_in_every_split_is_not_a_mismatch(tmp_path: Path) -> None:
    rows, _ = _iris_rows()
    write_table(tmp_path, "train.csv", [r for i, r in enumerate(rows) if i % 3])
    write_table(tmp_path, "val.csv", [r for i, r in enumerate(rows) if i % 3 == 0])
    assert not findings(scan(tmp_path), "label_set_mismatch")


# -- normalization_leak with the sample standard deviation (ddof=1, pandas' default) ------------------
def _wine_splits() -> tuple[dict[str, Rows], list[str]]:
    from sklearn.datasets import load_wine

    wine = load_wine()
    cols = list(wine.feature_names)
    rows = [{**{c: float(v) for c, v in zip(cols, x)}, "label": f"cultivar_{t}"} for x, t in zip(wine.data, wine.target)]
    order = np.random.default_rng(0).permutation(len(rows))
    train, val, test = np.split(order, [108, 143])  # 108 / 35 / 35 rows
    return {"train": [rows[i] for i in train], "val": [rows[i] for i in val], "test": [rows[i] for i in test]}, cols


def _standardise(splits: dict[str, Rows], cols: list[str], using: str, ddof: int) -> None:
    for c in cols:
        groups = list(splits.values()) if using == "each" else [[r for rows in splits.values() for r in rows]]
        for rows in groups:
            base = splits["train"] if using == "train" else rows
            x = np.array([r[c] for r in base])
            m, s = x.mean(), x.std(ddof=ddof)
            for r in rows:
                r[c] = float((r[c] - m) / s)


@pytest.mark.parametrize("ddof", [1, 0], ids=["sample std (ddof=1, pandas)", "population std (ddof=0, numpy)"])
@pytest.mark.parametrize(("using", "kind"), [
    pytest.param("all", "all_splits", id="standardised over all splits"),
    pytest.param("each", "per_split", id="standardised per split"),
])
def test_standardisation_with_either_std_is_recognised(tmp_path: Path, ddof: int, using: str, kind: str) -> None:
    splits, cols = _wine_splits()
    _standardise(splits, cols, using, ddof)
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.csv", rows)
    report = scan(tmp_path)
    [f] = findings(report, "normalization_leak")
    assert f.details["kind"] == kind and f.severity == Severity.ERROR
    # ``malic_acid`` is taken for an id column today (the id-name pattern matches any name ending in "id")
    features = set(cols) - set(report.stats.id_columns)
    assert len(features) >= 12 and set(f.details["columns"]) == features


@pytest.mark.parametrize("ddof", [1, 0], ids=["sample std (ddof=1, pandas)", "population std (ddof=0, numpy)"])
def test_train_only_standardisation_with_either_std_is_no_leak(tmp_path: Path, ddof: int) -> None:
    splits, cols = _wine_splits()
    _standardise(splits, cols, "train", ddof)
    for name, rows in splits.items():
        write_table(tmp_path, f"{name}.csv", rows)
    assert not findings(scan(tmp_path), "normalization_leak")


# -- delimiter_corruption: count over what was examined ------------------------------------------------
HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"


def _write_csv(path: Path, rows: Rows, bad: dict[int, str]) -> None:
    lines = [",".join(str(r[c]) for c in HEADER.split(",")) for r in rows]
    for at in sorted(bad):
        lines.insert(at, bad[at])
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def penguin_splits() -> dict[str, Rows]:
    return clean_splits(1200, seed=4)


def test_delimiter_corruption_fraction_is_over_the_records_of_its_split(tmp_path: Path,
                                                                         penguin_splits: dict[str, Rows]) -> None:
    train, test = penguin_splits["train"], penguin_splits["test"][:98]
    _write_csv(tmp_path / "train.csv", train, {})
    _write_csv(tmp_path / "test.csv", test, {10: "Adelie,Dream,39.1", 50: "Adelie;Dream;39.1;18.7;181;3750;male"})
    report = scan(tmp_path)
    [f] = findings(report, "delimiter_corruption")
    assert report.stats.splits["test"].rows == 98
    # 2 malformed among the 100 records of test.csv; train's rows are not part of what was examined
    assert (f.split, f.count, f.fraction) == ("test", 2, 2 / 100)


def test_delimiter_corruption_fraction_of_a_single_file(tmp_path: Path, penguin_splits: dict[str, Rows]) -> None:
    _write_csv(tmp_path / "data.csv", penguin_splits["train"][:199], {120: "Gentoo,Biscoe,47.5,15.0,217,5076,male,x"})
    report = scan(tmp_path / "data.csv")
    [f] = findings(report, "delimiter_corruption")
    assert (f.count, f.fraction) == (1, 1 / 200)


@pytest.mark.parametrize(("params", "severity"), [
    pytest.param({}, Severity.ERROR, id="by default any malformed record is an error"),
    pytest.param({"error_fraction": 0.02}, Severity.WARNING, id="a fraction equal to error_fraction is a warning"),
    pytest.param({"error_fraction": 0.019}, Severity.ERROR, id="a fraction just above error_fraction is an error"),
    pytest.param({"warning_fraction": 0.02, "error_fraction": 0.5}, Severity.INFO,
                 id="a fraction equal to warning_fraction is info"),
    pytest.param({"warning_fraction": 0.019, "error_fraction": 0.5}, Severity.WARNING,
                 id="a fraction just above warning_fraction is a warning"),
])
def test_delimiter_corruption_thresholds_apply_to_that_fraction(tmp_path: Path, penguin_splits: dict[str, Rows],
                                                                params: dict[str, float], severity: Severity) -> None:
    _write_csv(tmp_path / "train.csv", penguin_splits["train"][:98], {5: "Adelie,Dream", 60: "Adelie,Dream,1,2,3,4,male,9"})
    [f] = findings(scan(tmp_path, params={"delimiter_corruption": params}), "delimiter_corruption")
    assert f.fraction == 2 / 100 and f.severity == severity


def test_well_formed_records_are_not_delimiter_corruption(tmp_path: Path, penguin_splits: dict[str, Rows]) -> None:
    _write_csv(tmp_path / "train.csv", penguin_splits["train"], {})
    _write_csv(tmp_path / "test.csv", penguin_splits["test"], {})
    assert not findings(scan(tmp_path), "delimiter_corruption")


# -- the loader cache checks its labels file ------------------------------------------------------------
def _build_cache(root: Path) -> tuple[Path, str, np.ndarray, np.ndarray]:
    from skimage import data

    from dataaudit.loader.cache import CacheBuilder, DecodeSpec, cache_key

    spec = DecodeSpec(16, 16)
    key = cache_key("xxh3_128:astronaut-tiles", "train", spec)
    img = data.astronaut()  # 512 x 512 x 3
    items = np.stack([img[y:y + 16, x:x + 16].transpose(2, 0, 1) for y in (0, 200, 400) for x in (0, 300)])
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
    builder = CacheBuilder(root / key, key, spec, ["face", "rocket", "flag"], len(items), {})
    for i, (item, lab) in enumerate(zip(items, labels)):
        builder.write(i, item, int(lab))
    builder.finish()
    return root / key, key, items, labels


def _relabel_first_item(path: Path) -> None:
    """Edit the labels file in place: same size, every value still a valid class."""
    from dataaudit.loader.cache import LABELS

    p = path / LABELS
    lab = np.fromfile(p, dtype="<i8")
    lab[0] = (lab[0] + 1) % 3
    lab.astype("<i8").tofile(p)


@pytest.mark.parametrize("verify", ["full", "sizes"], ids=["full verification", "sizes-only verification"])
def test_an_edited_labels_file_invalidates_the_cache(tmp_path: Path, verify: Any) -> None:
    from dataaudit.loader.cache import ImageCache, open_cache

    path, key, items, labels = _build_cache(tmp_path)
    good = ImageCache.open(path, key, verify)  # control: the intact cache opens with its labels
    assert np.array_equal(good.labels, labels) and np.array_equal(good.gather(range(len(items))), items)
    del good
    _relabel_first_item(path)
    cache, why = open_cache(path, key, verify)
    assert cache is None and why is not None and "labels checksum" in why
    assert not path.exists()  # removed, to be rebuilt


def test_the_labels_checksum_is_recorded_in_the_index(tmp_path: Path) -> None:
    import xxhash

    from dataaudit.loader.cache import INDEX, LABELS

    path, _, _, labels = _build_cache(tmp_path)
    index = json.loads((path / INDEX).read_text())
    assert index["labels"]["xxh3_128"] == xxhash.xxh3_128_hexdigest(labels.astype("<i8").tobytes())


# -- fit: min_frequency keeps categories seen exactly that often ------------------------------------------
@pytest.mark.parametrize(("min_frequency", "kept"), [
    pytest.param(1, ["Adelie", "Gentoo", "Chinstrap", "Emperor", "Macaroni"], id="default 1 keeps a category seen once"),
    pytest.param(2, ["Adelie", "Gentoo", "Chinstrap", "Emperor"], id="2 keeps a category seen twice, drops one seen once"),
    pytest.param(3, ["Adelie", "Gentoo", "Chinstrap"], id="3 drops a category seen twice"),
])
def test_min_frequency_keeps_categories_seen_exactly_that_often(tmp_path: Path, penguin_splits: dict[str, Rows],
                                                                min_frequency: int, kept: list[str]) -> None:
    from dataaudit.fit import CategoricalColumn, fit

    rows = [dict(r) for r in penguin_splits["train"]]
    for r, name in zip(rows[:3], ["Emperor", "Emperor", "Macaroni"]):
        r["breed"] = name
    for r in rows[3:]:
        r["breed"] = r["species"]
    write_table(tmp_path, "train.csv", rows)
    art = fit(tmp_path, min_frequency=min_frequency, categorical=["breed"])
    assert art.table is not None
    col = art.table.column("breed")
    assert isinstance(col, CategoricalColumn)
    assert col.vocabulary == kept
