"""Behaviours that surviving mutants of tools/mutation.py showed no test pinned: each test here
fails on at least one of them (named in the test's docstring)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_table

from dataaudit.report.model import Finding, Report, Severity


def test_psi_of_a_sample_piled_into_one_decile_has_its_closed_form() -> None:
    """``psi``: the reference's deciles are the bins (``bins + 1`` edges)."""
    from dataaudit.checks.twosample import psi

    ref = np.arange(1000, dtype=float)
    other = np.full(200, 10.0)  # every value in the first decile of ref
    want = (1 - 0.1) * math.log(1 / 0.1) + 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)  # empty bins count 1e-4
    assert psi(ref, other) == pytest.approx(want, rel=1e-9)
    assert psi(ref, ref) == 0.0
    assert psi(ref, np.arange(0, 1000, 2, dtype=float)) == pytest.approx(0.0, abs=1e-3)  # same spread, half the rows


@pytest.mark.parametrize(("ref", "other"), [
    pytest.param(np.arange(5.0), np.arange(5.0), id="fewer reference values than bins"),
    pytest.param(np.arange(100.0), np.zeros(0), id="an empty other sample"),
    pytest.param(np.r_[np.zeros(95), np.ones(5)], np.ones(50), id="a reference with two distinct values"),
])
def test_psi_is_zero_where_it_cannot_be_measured(ref: np.ndarray, other: np.ndarray) -> None:
    from dataaudit.checks.twosample import psi

    assert psi(ref, other) == 0.0


def test_min_frequency_above_every_count_keeps_the_most_frequent_category(tmp_path: Path) -> None:
    """``fit``: a vocabulary never ends up empty; its one entry is the top category."""
    from dataaudit.fit import CategoricalColumn, fit

    rng = np.random.default_rng(0)
    colours = ["red"] * 6 + ["blue"] * 9 + ["green"] * 3
    rows = [{"colour": c, "x": float(rng.normal()), "label": "a" if i % 2 else "b"} for i, c in enumerate(colours)]
    write_table(tmp_path, "train.csv", rows)
    art = fit(tmp_path, min_frequency=50, categorical=["colour"])
    assert art.table is not None
    col = art.table.column("colour")
    assert isinstance(col, CategoricalColumn)
    assert col.vocabulary == ["blue"] and col.fill == "blue"
    assert col.unknown_fraction == pytest.approx(1 - 9 / 18)


def test_an_artefact_with_a_repeated_category_is_refused(tmp_path: Path) -> None:
    """``load_artefact``: vocabularies (and the other name lists) must not repeat an entry."""
    from dataaudit.errors import ArtefactError
    from dataaudit.fit import fit, load_artefact
    from dataaudit.fit.artefact import integrity_hash

    rows = [{"colour": c, "x": float(i), "label": "a" if i % 2 else "b"} for i, c in enumerate(["red", "blue"] * 10)]
    write_table(tmp_path / "ds", "train.csv", rows)
    path = tmp_path / "p.json"
    fit(tmp_path / "ds", path, categorical=["colour"])
    load_artefact(path)  # control: the fitted artefact loads
    doc = json.loads(path.read_text())
    [col] = [c for c in doc["table"]["columns"] if c.get("name") == "colour"]
    col["vocabulary"] = [col["vocabulary"][0]] * 2
    doc["integrity"] = integrity_hash(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ArtefactError, match="unique"):
        load_artefact(path)


def test_a_baseline_records_findings_with_and_without_a_split(tmp_path: Path) -> None:
    """``write_baseline`` sorts entries whose split or column is ``None`` beside named ones."""
    from dataaudit.baseline import read_baseline, write_baseline

    findings = [Finding(check="normalization_leak", severity=Severity.ERROR, message="m", split=s, column=c, count=1,
                        details={"kind": k})
                for s, c, k in [("train", "x", "a"), (None, None, "b"), ("val", None, "c"), (None, "y", "d")]]
    report = Report(source="data", modality="table", splits={"train": {"rows": 1}}, findings=findings)
    write_baseline(report, tmp_path / "b.json")
    got = [(e["split"], e["column"]) for e in read_baseline(tmp_path / "b.json")]
    assert got == [(None, None), (None, "y"), ("train", "x"), ("val", None)]


@pytest.mark.parametrize(("ref", "other", "tvd"), [
    pytest.param({"a": 1}, {"b": 40}, 1.0, id="a one-item reference against a disjoint split"),
    pytest.param({"a": 30, "b": 10}, {"a": 1}, 0.25, id="a one-item other split"),
    pytest.param({"a": 30, "b": 10}, {"a": 15, "b": 5}, 0.0, id="the same shares"),
])
def test_categorical_shift_total_variation(ref: dict[str, int], other: dict[str, int], tvd: float) -> None:
    """``categorical_shift`` measures every pair of non-empty tables, a single item included."""
    from dataaudit.checks.twosample import categorical_shift

    got, p, v = categorical_shift(ref, other)
    assert got == pytest.approx(tvd) and 0.0 <= p <= 1.0 and 0.0 <= v <= 1.0
    assert (p < 1.0) == (tvd > 0)


@pytest.mark.parametrize(("ref", "other"), [
    pytest.param({}, {"a": 3}, id="an empty reference"),
    pytest.param({"a": 3}, {}, id="an empty other split"),
    pytest.param({"a": 3}, {"a": 9}, id="a single class"),
])
def test_categorical_shift_is_none_where_it_cannot_be_measured(ref: dict[str, int], other: dict[str, int]) -> None:
    from dataaudit.checks.twosample import categorical_shift

    assert categorical_shift(ref, other) == (0.0, 1.0, 0.0)


def test_cramers_v_of_a_two_by_two_table() -> None:
    """``categorical_shift``'s V is sqrt(chi2 / n) for two rows: |ad - bc| / sqrt of the margins' product."""
    from dataaudit.checks.twosample import categorical_shift

    _, _, v = categorical_shift({"a": 30, "b": 10}, {"a": 10, "b": 30})
    assert v == pytest.approx(abs(30 * 30 - 10 * 10) / math.sqrt(40 * 40 * 40 * 40))


def test_a_typo_near_two_classes_resembles_the_more_frequent_one(tmp_path: Path) -> None:
    """``label_corruption``: the first (most frequent) class within reach is the one named."""
    import dataaudit

    rng = np.random.default_rng(3)
    labels = ["cat"] * 120 + ["car"] * 60 + ["cas"]
    rows = [{"x": float(rng.normal()), "y": float(rng.normal()), "label": lab} for lab in labels]
    write_table(tmp_path, "train.csv", rows)
    report = dataaudit.scan(tmp_path, label="label", progress=False)
    [f] = report.by_check("label_corruption")
    assert f.details["suspects"] == {"cas": {"reason": "typo", "resembles": "cat", "count": 1}}


# -- a supplied normalisation (--artefact, --mean/--std) is compared with train ---------------------------
def _wine_scan(tmp_path: Path) -> tuple[Any, list[str]]:
    import dataaudit
    from sklearn.datasets import load_wine

    wine = load_wine()
    cols = ["alcohol", "ash", "hue"]
    idx = [wine.feature_names.index(c) for c in cols]
    rows = [{**{c: float(x[i]) for c, i in zip(cols, idx)}, "label": f"c{t}"} for x, t in zip(wine.data, wine.target)]
    order = np.random.default_rng(1).permutation(len(rows))
    write_table(tmp_path, "train.csv", [rows[i] for i in order[:120]])
    write_table(tmp_path, "test.csv", [rows[i] for i in order[120:]])
    return dataaudit.scan(tmp_path, label="label", progress=False).stats, cols


def _leak_findings(stats: Any, columns: dict[str, dict[str, Any]]) -> list[Finding]:
    from dataaudit.checks.normalization import normalization_leak
    from dataaudit.checks.registry import CheckContext
    from dataaudit.config import Config

    return list(normalization_leak(stats, CheckContext(Config(), extras={"normalization": {"columns": columns}})))


@pytest.mark.parametrize("kind", ["standard", "minmax"])
@pytest.mark.parametrize(("over", "expected"), [
    pytest.param("train", None, id="train statistics pass"),
    pytest.param("all", "supplied_all_splits", id="all-split statistics are a leak"),
    pytest.param("off", "supplied_mismatch", id="statistics of neither are a mismatch"),
    pytest.param("upper", "supplied_mismatch", id="only the std or the maximum wrong is a mismatch"),
])
def test_a_supplied_column_normalisation_is_compared_with_train(tmp_path: Path, kind: str, over: str,
                                                               expected: str | None) -> None:
    stats, cols = _wine_scan(tmp_path)
    supplied: dict[str, dict[str, Any]] = {}
    for c in cols:
        train = stats.splits["train"].columns[c].numeric
        union = [s.columns[c].numeric for s in stats.ordered]
        if over == "train":
            lo, hi, mean, std = train.min, train.max, train.mean, train.std(1)  # pandas' std is accepted too
        elif over == "all":
            n = sum(u.count for u in union)
            mean = sum(u.count * u.mean for u in union) / n
            var = sum(u.count * (u.var + (u.mean - mean) ** 2) for u in union) / n
            lo, hi, std = min(u.min for u in union), max(u.max for u in union), math.sqrt(var)
        elif over == "upper":
            lo, hi, mean, std = train.min, train.max + 5, train.mean, train.std(0) * 2
        else:
            lo, hi, mean, std = train.min - 5, train.max + 5, train.mean + 3, train.std(0) * 2
        supplied[c] = {"kind": kind, "mean": mean, "std": std} if kind == "standard" else \
            {"kind": "minmax", "min": lo, "max": hi}
    if over == "all" and kind == "minmax":
        # a column whose extremes all lie in train is scaled the same either way: no leak to see
        leaky = {c for c in cols if (stats.splits["train"].columns[c].numeric.min, stats.splits["train"].columns[c].numeric.max)
                 != (supplied[c]["min"], supplied[c]["max"])}
        assert leaky, "the fixture must put an extreme outside train"
    else:
        leaky = set(cols)
    found = [f for f in _leak_findings(stats, supplied) if f.details.get("kind", "").startswith("supplied")]
    if expected is None:
        assert found == []
        return
    [f] = found
    assert f.details["kind"] == expected and f.count == len(leaky)
    assert {e["column"] for e in f.examples} == leaky
    assert f.severity == (Severity.ERROR if expected == "supplied_all_splits" else Severity.WARNING)


def test_a_supplied_normalisation_of_an_absent_column_is_ignored(tmp_path: Path) -> None:
    stats, _ = _wine_scan(tmp_path)
    assert _leak_findings(stats, {"no_such_column": {"kind": "standard", "mean": 5.0, "std": 2.0}}) == []


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float], list[float]]:
    """An image folder of skimage's pictures and the per-channel pixel mean/std of its train split."""
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("images")
    pictures = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    pixels = []
    for split, pics in (("train", pictures), ("val", pictures[:2])):
        for k, pic in enumerate(pics):
            for j, (y, x) in enumerate([(0, 0), (50, 60), (100, 20)]):
                tile = np.ascontiguousarray(pic[y:y + 64, x:x + 64, :3])
                path = root / split / f"class{k % 2}" / f"p{k}_{j}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(tile).save(path)
                if split == "train":
                    pixels.append(tile.reshape(-1, 3) / 255.0)
    allpix = np.concatenate(pixels)
    return root, allpix.mean(axis=0).tolist(), allpix.std(axis=0).tolist()


@pytest.mark.parametrize(("how", "check", "severity"), [
    pytest.param("train", None, None, id="the train pixel statistics pass"),
    pytest.param("0-255", "unnormalized_inputs", Severity.ERROR, id="statistics on the 0-255 scale"),
    pytest.param("std 0-255", "unnormalized_inputs", Severity.ERROR, id="a std on the 0-255 scale"),
    pytest.param("red 0-255", "unnormalized_inputs", Severity.ERROR, id="one channel's mean on the 0-255 scale"),
    pytest.param("off", "normalization_leak", Severity.WARNING, id="a mean far from train's"),
])
def test_a_supplied_image_normalisation_is_compared_with_the_train_pixels(
        image_root: tuple[Path, list[float], list[float]], how: str, check: str | None, severity: Severity | None) -> None:
    import dataaudit

    root, mean, std = image_root
    if how == "0-255":
        mean, std = [m * 255 for m in mean], [s * 255 for s in std]
    elif how == "red 0-255":
        mean = [mean[0] * 255, mean[1], mean[2]]
    elif how == "std 0-255":
        std = [s * 255 for s in std]
    elif how == "off":
        mean = [mean[0] + 0.2, mean[1], mean[2]]
    report = dataaudit.scan(root, mean=mean, std=std, progress=False)
    found = [f for f in report.findings if f.check == "unnormalized_inputs"
             or f.details.get("kind") == "supplied_image_mismatch"]
    if check is None:
        assert found == []
        return
    [f] = found
    assert (f.check, f.severity) == (check, severity)
    if check == "normalization_leak":
        assert f.count == 1 and f.details["train"]["mean"] == pytest.approx(image_root[1], abs=1e-3)


# -- the loader cache across shards, streams, and stale builds ------------------------------------------
def _tiles(n: int) -> np.ndarray:
    from skimage import data

    img = data.astronaut()
    return np.stack([img[(7 * i) % 480:(7 * i) % 480 + 8, (11 * i) % 500:(11 * i) % 500 + 8].transpose(2, 0, 1)
                     for i in range(n)])


@pytest.mark.parametrize("how", ["random access", "stream"])
def test_a_cache_of_several_shards_gathers_any_items_in_any_order(tmp_path: Path, how: str) -> None:
    from dataaudit.loader.cache import CacheBuilder, DecodeSpec

    spec = DecodeSpec(8, 8)
    items = _tiles(11)
    names = ["a", "b", "c"]
    labels = [names[i % 3] for i in range(11)]
    b = CacheBuilder(tmp_path / "k", "k", spec, names if how == "random access" else None,
                     11 if how == "random access" else None, {}, shard_bytes=4 * spec.item_bytes)
    for i, (item, lab) in enumerate(zip(items, labels)):
        if how == "random access":
            b.write(i, item, names.index(lab))
        else:
            b.append(item, lab)
    cache = b.finish()
    assert [s.count for s in cache.shards] == [4, 4, 3]
    order = np.array([10, 0, 4, 3, 7, 8, 1, 10, 5])
    assert np.array_equal(cache.gather(order), items[order])
    assert [cache.label_names[c] for c in cache.labels] == labels


def test_stale_partial_builds_and_trash_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import os
    import socket

    from dataaudit.loader.cache import clean_stale

    host = socket.gethostname()
    dead = 2**22 + 12345  # above the default pid_max: no such process
    folders = {
        f".k.partial-{host}-{dead}-abcd1234": False,   # its process is gone
        f".k.partial-{host}-{os.getpid()}-abcd1234": True,  # this process: still building
        ".k.partial-another-host-12-abcd1234": True,   # another machine's build: cannot tell, kept
        ".k.trash-0123abcd": False,
        "finished-cache": True,
    }
    for name in folders:
        (tmp_path / name).mkdir()
        (tmp_path / name / "shard-00000.u8").write_bytes(b"x")
    clean_stale(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {n for n, kept in folders.items() if kept}


def test_iter_chunks_yields_the_short_tail() -> None:
    from dataaudit.loader.cache import iter_chunks

    assert list(iter_chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(iter_chunks(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(iter_chunks([], 3)) == []


def _labels_scan(tmp_path: Path, counts: dict[str, int]) -> Any:
    import dataaudit

    rng = np.random.default_rng(5)
    rows = [{"x": float(rng.normal()), "y": float(rng.normal()), "label": lab}
            for lab, n in counts.items() for _ in range(n)]
    write_table(tmp_path, "train.csv", rows)
    return dataaudit.scan(tmp_path, label="label", progress=False)


def test_a_case_variant_does_not_stop_the_search_for_rarer_typos(tmp_path: Path) -> None:
    """``suspect_labels`` goes on past a label already found (the case variant) to the rarer ones."""
    report = _labels_scan(tmp_path, {"kitten": 100, "puppy": 100, "Kitten": 3, "pupy": 1})
    [f] = report.by_check("label_corruption")
    assert {k: v["reason"] for k, v in f.details["suspects"].items()} == {"Kitten": "case_or_whitespace",
                                                                          "pupy": "typo"}


@pytest.mark.parametrize(("rare", "typo"), [
    pytest.param("Chinstrapp", True, id="one edit from a long class is a typo"),
    pytest.param("Chintsrapp", True, id="two edits (a swap and an extra letter) from a long class are a typo"),
    pytest.param("Chimtsrapp", False, id="three edits from a long class are not"),
    pytest.param("Otterr", True, id="one edit from a short class (under 6 letters) is a typo"),
    pytest.param("Ottrs", False, id="two edits from a short class are not"),
])
def test_typos_are_one_edit_from_short_classes_and_two_from_long_ones(tmp_path: Path, rare: str, typo: bool) -> None:
    report = _labels_scan(tmp_path, {"Chinstrap": 100, "Otter": 100, rare: 1})
    suspects = {k: v["reason"] for f in report.by_check("label_corruption") for k, v in f.details["suspects"].items()}
    assert suspects == ({rare: "typo"} if typo else {})


def test_a_column_missing_from_one_split_is_left_out_of_normalization_leak(tmp_path: Path) -> None:
    """``normalization_leak`` only compares columns every split has (no KeyError on the others)."""
    import dataaudit

    rng = np.random.default_rng(2)
    for name, n in (("train", 120), ("val", 40)):
        x = rng.normal(size=n)
        z = rng.normal(3, 2, size=n)
        rows = [{"x": float((v - x.mean()) / x.std()), "label": "a" if i % 2 else "b"} for i, v in enumerate(x)]
        if name == "train":
            for r, v in zip(rows, z):
                r["extra"] = float(v)
        write_table(tmp_path, f"{name}.csv", rows)
    report = dataaudit.scan(tmp_path, label="label", progress=False)
    [f] = report.by_check("normalization_leak")
    assert f.details["kind"] == "per_split" and set(f.details["columns"]) == {"x"}


def test_categorical_shift_examples_start_with_the_category_that_moved_most(tmp_path: Path) -> None:
    """``distribution_shift`` on a categorical feature lists categories by how far their share moved."""
    import dataaudit

    rng = np.random.default_rng(8)

    def rows(shares: dict[str, float], n: int) -> list[dict[str, Any]]:
        cats = rng.choice(list(shares), size=n, p=list(shares.values()))
        return [{"colour": str(c), "x": float(rng.normal()), "label": "a" if i % 2 else "b"} for i, c in enumerate(cats)]

    write_table(tmp_path, "train.csv", rows({"red": 0.4, "green": 0.3, "blue": 0.2, "teal": 0.1}, 1000))
    write_table(tmp_path, "test.csv", rows({"red": 0.1, "green": 0.3, "blue": 0.35, "teal": 0.25}, 1000))
    report = dataaudit.scan(tmp_path, label="label", progress=False)
    [f] = [f for f in report.by_check("distribution_shift") if f.column == "colour"]
    moved = [abs(e["share"] - e["reference_share"]) for e in f.examples]
    assert f.examples[0]["value"] == "red" and moved == sorted(moved, reverse=True)


@pytest.mark.parametrize(("labels", "task", "classes"), [
    pytest.param(["0.5", "1.5", "2.5"], "classification", ["0.5", "1.5", "2.5"],
                 id="an explicit classification keeps fractional numeric labels as classes"),
    pytest.param(["0", "1", "2"], "regression", None, id="an explicit regression keeps integer labels as a target"),
    pytest.param(["0", "1", "2"], "auto", ["0", "1", "2"], id="auto takes a few integers for classes"),
    pytest.param(["0.5", "1.5", "2.5"], "auto", None, id="auto takes fractional values for a target"),
])
def test_an_explicit_task_wins_over_detection(tmp_path: Path, labels: list[str], task: str,
                                              classes: list[str] | None) -> None:
    from dataaudit.fit import fit

    rng = np.random.default_rng(4)
    rows = [{"x": float(rng.normal()), "label": labels[i % 3]} for i in range(60)]
    write_table(tmp_path, "train.csv", rows)
    art = fit(tmp_path, label="label", task=task)
    assert art.options["task"] == ("classification" if classes else "regression")
    assert (art.label.classes if art.label is not None else None) == classes


# -- p-values against scipy: the gate's alpha compares with these ---------------------------------------
@pytest.mark.parametrize("dof", [1, 2, 3, 7, 30])
def test_chi2_sf_equals_scipy_on_both_branches(dof: int) -> None:
    """``chi2_sf``: the series (x < a + 1) and the continued fraction (beyond) both match scipy."""
    from scipy import stats

    from dataaudit.checks.twosample import chi2_sf

    for x in [0.0, 0.01, 0.5, 1.0, dof / 2, dof, dof + 2.5, 2 * dof + 10, 80.0, 300.0]:
        assert chi2_sf(x, dof) == pytest.approx(float(stats.chi2.sf(x, dof)), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("shift", "n", "m"), [(0.0, 200, 150), (0.2, 300, 300), (0.5, 120, 80), (1.0, 50, 400)])
def test_ks_2samp_equals_scipy_asymptotics(shift: float, n: int, m: int) -> None:
    """``ks_2samp``: D exactly, and the p-value within the accuracy of its asymptotic formula."""
    from scipy import stats

    from dataaudit.checks.twosample import ks_2samp

    rng = np.random.default_rng(int(shift * 10) + n)
    a, b = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
    d, p = ks_2samp(a, b)
    want = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(want.statistic, abs=1e-12)
    assert p == pytest.approx(want.pvalue, rel=0.1, abs=1e-4)


def test_a_constant_train_column_does_not_hide_the_next_ones_from_the_supplied_normalisation(tmp_path: Path) -> None:
    """``supplied_normalization`` skips a column constant in train and goes on to the others."""
    from dataaudit.fit import fit, supplied_normalization

    rng = np.random.default_rng(6)
    rows = [{"flat": 1.5, "x": float(rng.normal(3, 2)), "y": float(rng.normal()), "label": "a" if i % 2 else "b"}
            for i in range(50)]
    write_table(tmp_path, "train.csv", rows)
    art = fit(tmp_path, label="label")
    assert set(supplied_normalization(art)["columns"]) == {"x", "y"}


def test_image_size_mismatch_is_a_schema_finding_over_the_whole_split(tmp_path: Path) -> None:
    import dataaudit
    from imagedata import imagefolder

    imagefolder(tmp_path, {"train": {"cat": 6, "dog": 6}}, seed=1, size=48)
    imagefolder(tmp_path, {"val": {"cat": 3, "dog": 3}}, seed=2, size=96)
    report = dataaudit.scan(tmp_path, progress=False)
    [f] = [f for f in report.by_check("schema_mismatch") if f.details.get("kind") == "image_size"]
    assert (f.split, f.count, f.fraction, f.severity) == ("val", 6, 1.0, Severity.WARNING)
    assert f.details["median_size"] == {"train": [48, 48], "val": [96, 96]}


def test_a_table_transform_refuses_an_image_artefact(tmp_path: Path) -> None:
    from imagedata import imagefolder

    from dataaudit.errors import ArtefactError
    from dataaudit.fit import fit
    from dataaudit.transforms.tables import TableTransform

    imagefolder(tmp_path / "img", {"train": {"cat": 4, "dog": 4}}, seed=3, size=32)
    art = fit(tmp_path / "img", image_size=(16, 16))
    with pytest.raises(ArtefactError, match="fitted on images"):
        TableTransform(art)


@pytest.mark.parametrize(("what", "expected"), [
    pytest.param("images", set(), id="images of one size (constant size columns) are left alone"),
    pytest.param(1, {("train", "c")}, id="a one-row split is below min_rows"),
    pytest.param(2, {("train", "c"), ("val", "k")}, id="a two-row split is at min_rows"),
])
def test_constant_column_looks_at_tables_of_at_least_min_rows(tmp_path: Path, what: Any,
                                                             expected: set[tuple[str, str]]) -> None:
    """``constant_column``: image splits and splits below ``min_rows`` (2) are left alone."""
    import dataaudit
    from imagedata import imagefolder

    if what == "images":
        imagefolder(tmp_path, {"train": {"cat": 5, "dog": 5}, "val": {"cat": 3, "dog": 3}}, seed=4, size=40)
    else:
        write_table(tmp_path, "train.csv", [{"x": float(i), "k": "uvw"[i % 3], "c": 1, "label": "ab"[i % 2]}
                                            for i in range(20)])
        write_table(tmp_path, "val.csv", [{"x": float(i), "k": "u", "c": 1, "label": "ab"[i % 2]} for i in range(what)])
    report = dataaudit.scan(tmp_path, progress=False)
    assert {(f.split, f.column) for f in report.by_check("constant_column")} == expected


def test_conflicting_label_examples_name_both_labels(tmp_path: Path) -> None:
    """``conflicting_labels`` examples carry the two labels by name (within a split and across splits)."""
    import dataaudit

    rng = np.random.default_rng(9)
    train = [{"x": round(float(rng.normal()), 6), "y": round(float(rng.normal()), 6), "label": "ab"[i % 2]}
             for i in range(60)]
    test = [{"x": round(float(rng.normal()), 6), "y": round(float(rng.normal()), 6), "label": "ab"[i % 2]}
            for i in range(30)]
    train.append({**train[4], "label": "b" if train[4]["label"] == "a" else "a"})
    test[7] = {**train[10], "label": "b" if train[10]["label"] == "a" else "a"}
    write_table(tmp_path, "train.csv", train)
    write_table(tmp_path, "test.csv", test)
    report = dataaudit.scan(tmp_path, label="label", progress=False)
    by_split = {f.split: f for f in report.by_check("conflicting_labels")}
    assert sorted(by_split["train"].examples[0]["labels"]) == ["a", "b"]
    assert sorted(by_split["test"].examples[0]["labels"]) == ["a", "b"]


@pytest.mark.parametrize(("val_rows", "flagged"), [
    pytest.param(12, False, id="a split under min_samples (20) is not tested"),
    pytest.param(40, True, id="a split of 40 rows is"),
])
def test_numeric_shift_needs_min_samples_in_both_splits(tmp_path: Path, val_rows: int, flagged: bool) -> None:
    import dataaudit

    rng = np.random.default_rng(12)
    write_table(tmp_path, "train.csv", [{"x": float(v), "label": "ab"[i % 2]} for i, v in enumerate(rng.normal(0, 1, 400))])
    write_table(tmp_path, "val.csv", [{"x": float(v), "label": "ab"[i % 2]} for i, v in enumerate(rng.normal(3, 1, val_rows))])
    report = dataaudit.scan(tmp_path, label="label", progress=False)
    assert bool([f for f in report.by_check("distribution_shift") if f.column == "x"]) == flagged


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("shape", [(3, 24, 40), (3, 30, 32), (3, 24, 32)], ids=["width differs", "height differs", "same size"])
def test_the_torchscript_image_module_resizes_when_either_side_differs(tmp_path: Path, dtype: str,
                                                                       shape: tuple[int, int, int]) -> None:
    torch = pytest.importorskip("torch")
    from imagedata import imagefolder

    from dataaudit.fit import fit
    from dataaudit.transforms import export_torchscript

    imagefolder(tmp_path / "img", {"train": {"cat": 3, "dog": 3}}, seed=5, size=36)
    fit(tmp_path / "img", tmp_path / "p.json", image_size=(32, 24))
    export_torchscript(tmp_path / "p.json", tmp_path / "p.pt")
    module = torch.jit.load(str(tmp_path / "p.pt"))
    x = torch.randint(0, 256, shape, dtype=torch.uint8)
    out = module(x if dtype == "uint8" else x.to(torch.float32) / 255)
    assert tuple(out.shape) == (3, 24, 32)
