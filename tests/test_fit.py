"""Fitting on train only: statistics, train-only by construction, artefact round trip and refusal."""

from __future__ import annotations

import json
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from dataaudit.cli import main
from dataaudit.config import Config
from dataaudit.errors import ArtefactError
from dataaudit.fit import (
    CategoricalColumn,
    NumericColumn,
    fit,
    load_artefact,
    supplied_normalization,
)
from dataaudit.fit.artefact import integrity_hash
from dataaudit.fit.sketch import QuantileSketch
from dataaudit.fit.tables import TableFitter
from dataaudit.sources.base import Dataset


@pytest.fixture(autouse=True)
def _hf_isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No telemetry, no download counts, caches in tmp (nothing here should reach the Hub)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")


COLORS = ["red", "green", "blue", "teal"]
COLOR_P = [0.5, 0.3, 0.15, 0.05]


def make_split(rng: np.random.Generator, n: int, shift: float = 0.0, start: int = 0) -> pl.DataFrame:
    age = rng.integers(18, 90, n).astype(float) + shift
    income = rng.normal(50_000 + 10_000 * shift, 12_000, n).round(2)
    color = rng.choice(COLORS, n, p=COLOR_P)
    label = rng.choice(["setosa", "versicolor", "virginica"], n)
    df = pl.DataFrame({"id": np.arange(start, start + n), "age": age, "income": income, "color": color, "label": label})
    age_missing = rng.random(n) < 0.1
    inc_missing = rng.random(n) < 0.05
    return df.with_columns(
        pl.when(pl.Series(age_missing)).then(None).otherwise(pl.col("age")).alias("age"),
        pl.when(pl.Series(inc_missing)).then(None).otherwise(pl.col("income")).alias("income"),
    )


def write(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.write_parquet(path)
    else:
        df.write_csv(path, null_value="NA")


@pytest.fixture
def splits() -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(7)
    return {
        "train": make_split(rng, 400),
        "val": make_split(rng, 120, shift=3.0, start=400),
        "test": make_split(rng, 120, shift=-3.0, start=520),
    }


def write_dataset(root: Path, splits: dict[str, pl.DataFrame], ext: str = "csv") -> Path:
    for name, df in splits.items():
        write(df, root / f"{name}.{ext}")
    return root


def present(df: pl.DataFrame, col: str) -> np.ndarray:
    return df.get_column(col).drop_nulls().to_numpy().astype(np.float64)


# -- statistics ---------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["csv", "parquet"], ids=["from CSV text", "from typed Parquet"])
def test_numeric_statistics_equal_numpy_on_train_alone(tmp_path: Path, splits: dict[str, pl.DataFrame], ext: str) -> None:
    art = fit(write_dataset(tmp_path, splits, ext))
    assert art.table is not None
    train = splits["train"]
    for name in ("age", "income"):
        col = art.table.column(name)
        assert isinstance(col, NumericColumn)
        x = present(train, name)
        assert col.count == x.size
        assert col.mean == pytest.approx(np.mean(x), rel=1e-12)
        assert col.std == pytest.approx(np.std(x), rel=1e-12)
        assert col.median == np.median(x)
        assert col.q25 == np.quantile(x, 0.25) and col.q75 == np.quantile(x, 0.75)
        assert (col.min, col.max) == (x.min(), x.max())
        assert col.fill == np.median(x)
        assert (col.center, col.scale) == (col.mean, col.std)
        assert col.missing_fraction == pytest.approx(train.get_column(name).null_count() / train.height)
        assert col.quantiles_exact


def test_robust_scaling_centres_on_the_median_and_divides_by_the_iqr(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    art = fit(write_dataset(tmp_path, splits), robust=True, impute="mean")
    assert art.table is not None
    col = art.table.column("income")
    assert isinstance(col, NumericColumn)
    x = present(splits["train"], "income")
    assert col.center == np.median(x)
    assert col.scale == pytest.approx(np.quantile(x, 0.75) - np.quantile(x, 0.25), rel=1e-12)
    assert col.fill == pytest.approx(np.mean(x), rel=1e-12)
    norm = supplied_normalization(art)
    assert norm["columns"] == {}
    assert norm["robust"]["income"] == {"median": col.center, "iqr": col.scale, "mean": col.mean, "std": col.std}


def test_categorical_vocabulary_is_capped_by_frequency_with_an_unknown_bucket(
    tmp_path: Path, splits: dict[str, pl.DataFrame]
) -> None:
    art = fit(write_dataset(tmp_path, splits), max_categories=2)
    assert art.table is not None
    col = art.table.column("color")
    assert isinstance(col, CategoricalColumn)
    counts = splits["train"].get_column("color").value_counts(sort=True)
    top = counts.get_column("color").to_list()[:2]
    assert col.vocabulary == top
    assert col.fill == top[0]
    kept = counts.filter(pl.col("color").is_in(top)).get_column("count").sum()
    assert col.unknown_fraction == pytest.approx(1 - kept / splits["train"].height)
    assert art.table.features[-3:] == [f"color={top[0]}", f"color={top[1]}", "color=__unknown__"]


def test_label_map_and_column_order(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    art = fit(write_dataset(tmp_path, splits))
    assert art.label is not None and art.table is not None
    assert art.label.column == "label"
    assert art.label.classes == sorted(set(splits["train"].get_column("label")))
    assert [c.name for c in art.table.columns] == ["age", "income", "color"]
    assert art.table.dropped["id"].startswith("id column")
    assert art.table.dropped["label"] == "label"
    assert art.table.input_columns == ["id", "age", "income", "color", "label"]


def test_integer_classes_sort_numerically(tmp_path: Path) -> None:
    df = pl.DataFrame({"x": [float(i) for i in range(30)], "label": [i % 12 for i in range(30)]})
    write(df, tmp_path / "train.csv")
    art = fit(tmp_path)
    assert art.label is not None
    assert art.label.classes == [str(i) for i in range(12)]


def test_many_valued_numeric_label_is_a_regression_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    df = pl.DataFrame({"x": rng.normal(size=300), "target": rng.normal(size=300)})
    write(df, tmp_path / "train.csv")
    art = fit(tmp_path)
    assert art.label is None
    assert art.options["task"] == "regression"
    assert art.table is not None and art.table.dropped["target"] == "label"


def test_sentinels_and_unparseable_text_are_missing_not_statistics(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("x,label\n1,a\n2,b\nNA,a\n-999,b\n3,a\n?,b\n4,a\n", encoding="utf-8")
    art = fit(tmp_path)
    assert art.table is not None
    col = art.table.column("x")
    assert isinstance(col, NumericColumn)
    assert (col.count, col.mean, col.median) == (4, 2.5, 2.5)
    assert col.missing_fraction == pytest.approx(3 / 7)


def test_high_cardinality_strings_are_dropped_with_a_reason(tmp_path: Path) -> None:
    df = pl.DataFrame({"name": [f"person {i}" for i in range(300)], "x": list(range(300)), "label": ["a", "b"] * 150})
    write(df, tmp_path / "train.csv")
    art = fit(tmp_path, max_categories=20)
    assert art.table is not None
    assert "high cardinality" in art.table.dropped["name"]
    kept = fit(tmp_path, max_categories=20, categorical=["name"])
    assert kept.table is not None and isinstance(kept.table.column("name"), CategoricalColumn)


# -- train only ---------------------------------------------------------------------------
def test_artefact_fitted_with_val_and_test_rows_in_train_is_different(
    tmp_path: Path, splits: dict[str, pl.DataFrame]
) -> None:
    clean = fit(write_dataset(tmp_path / "clean", splits))
    leaky_splits = dict(splits, train=pl.concat([splits["train"], splits["val"], splits["test"]]))
    leaky = fit(write_dataset(tmp_path / "leaky", leaky_splits))
    assert clean.fingerprint != leaky.fingerprint
    assert clean.items == 400 and leaky.items == 640
    assert clean.table is not None and leaky.table is not None
    assert clean.table.column("age") != leaky.table.column("age")
    both = pl.concat([splits["train"], splits["val"], splits["test"]])
    age = leaky.table.column("age")
    assert isinstance(age, NumericColumn)
    assert age.mean == pytest.approx(np.mean(present(both, "age")), rel=1e-12)


_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and args and isinstance(args[0], (str, bytes, Path)):
        _OPENED.append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode(errors="replace")))


sys.addaudithook(_audit)


def test_val_and_test_files_are_never_opened(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    global _OPENED
    root = write_dataset(tmp_path / "ds", splits)
    reference = fit(root)
    _OPENED = []
    try:
        again = fit(root)
    finally:
        opened, _OPENED = _OPENED, None
    assert any(p.endswith("train.csv") for p in opened)
    assert not [p for p in opened if p.endswith(("val.csv", "test.csv"))]
    assert again.fingerprint == reference.fingerprint


def test_corrupt_val_and_test_do_not_change_the_fit(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    root = write_dataset(tmp_path / "ds", splits)
    reference = fit(root)
    (root / "val.csv").write_bytes(b"\x00\xff\x13garbage" * 100)
    (root / "test.csv").write_text("totally,different\ncolumns,here\n", encoding="utf-8")
    again = fit(root)
    assert again.fingerprint == reference.fingerprint
    assert again.table == reference.table and again.label == reference.label


def test_split_column_layout_fits_the_train_rows_only(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    frames = [df.with_columns(pl.lit(name).alias("split")) for name, df in splits.items()]
    write(pl.concat(frames), tmp_path / "data.csv")
    art = fit(tmp_path / "data.csv")
    assert art.items == 400
    assert art.table is not None
    age = art.table.column("age")
    assert isinstance(age, NumericColumn)
    assert age.mean == pytest.approx(np.mean(present(splits["train"], "age")), rel=1e-12)
    assert "split" not in art.table.input_columns


# -- artefact file --------------------------------------------------------------------------
def test_save_load_round_trip_is_exact(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    art = fit(write_dataset(tmp_path / "ds", splits), tmp_path / "preprocess.json", tensors=True)
    loaded = load_artefact(tmp_path / "preprocess.json")
    assert loaded == art
    assert loaded.to_dict() == json.loads((tmp_path / "preprocess.json").read_text(encoding="utf-8"))
    assert loaded.tensors_file == "preprocess.safetensors"
    loaded.save(tmp_path / "again.json")
    first = json.loads((tmp_path / "preprocess.json").read_text(encoding="utf-8"))
    second = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    for doc in (first, second):
        doc.pop("integrity"), doc.pop("tensors")
    assert first == second


def test_artefact_records_provenance(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    art = fit(write_dataset(tmp_path / "ds", splits), tmp_path / "p.json")
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert doc["format"] == "dataaudit.preprocess" and doc["schema_version"] == 1
    assert doc["fitted_on"] == {"split": "train", "items": 400, "fingerprint": art.fingerprint}
    assert doc["source"] == str(tmp_path / "ds")
    assert doc["created"].endswith("Z") and doc["dataaudit_version"]


def test_fingerprint_is_deterministic(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    root = write_dataset(tmp_path, splits)
    assert fit(root).fingerprint == fit(root).fingerprint


def _fitted(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "preprocess.json"
    fit(write_dataset(tmp_path / "ds", splits), path)
    return path, json.loads(path.read_text(encoding="utf-8"))


def _rewrite(path: Path, doc: dict[str, Any], rehash: bool) -> None:
    if rehash:
        doc["integrity"] = integrity_hash(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _edit_number(doc: dict[str, Any]) -> None:
    doc["table"]["columns"][0]["center"] += 1.0


def _drop_key(doc: dict[str, Any]) -> None:
    del doc["table"]["columns"][0]["scale"]


def _wrong_type(doc: dict[str, Any]) -> None:
    doc["table"]["columns"][0]["scale"] = "1.0"


def _zero_scale(doc: dict[str, Any]) -> None:
    doc["table"]["columns"][0]["scale"] = 0.0


def _future_version(doc: dict[str, Any]) -> None:
    doc["schema_version"] = 99


def _unknown_key(doc: dict[str, Any]) -> None:
    doc["table"]["exec"] = "import os"


@pytest.mark.parametrize(
    ("edit", "rehash", "message"),
    [
        (_edit_number, False, "integrity check failed"),
        (_drop_key, True, "missing key(s) scale"),
        (_wrong_type, True, "expected a number"),
        (_zero_scale, True, "positive number"),
        (_future_version, True, "schema_version 99 is not supported"),
        (_unknown_key, True, "unknown key(s) exec"),
    ],
    ids=[
        "an edited number breaks the integrity hash",
        "a missing key is refused even with a recomputed hash",
        "a string where a number belongs is refused",
        "a zero scale is refused",
        "a future schema version is refused",
        "an unknown key is refused",
    ],
)
def test_tampered_artefact_is_refused(
    tmp_path: Path, splits: dict[str, pl.DataFrame], edit: Any, rehash: bool, message: str
) -> None:
    path, doc = _fitted(tmp_path, splits)
    edit(doc)
    _rewrite(path, doc, rehash)
    with pytest.raises(ArtefactError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_artefact(path)


def test_non_finite_numbers_are_refused(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    path, _ = _fitted(tmp_path, splits)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"center": ', '"center": NaN, "x": ', 1), encoding="utf-8")
    with pytest.raises(ArtefactError, match="non-finite"):
        load_artefact(path)


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("pwned",))


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("preprocess.pkl", pickle.dumps({"mean": 1.0})),
        ("preprocess.json", pickle.dumps(_Boom())),
        ("preprocess.json", pickle.dumps({"mean": 1.0}, protocol=0)),
        ("preprocess.json", b"PK\x03\x04" + b"\x00" * 60),
    ],
    ids=[
        "a .pkl file is refused by name",
        "pickle bytes behind a .json name are refused",
        "a protocol 0 pickle is refused",
        "a zip archive (torch.save format) is refused",
    ],
)
def test_pickle_bearing_artefact_is_refused(tmp_path: Path, name: str, payload: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(ArtefactError, match="pickle|refusing"):
        load_artefact(path)
    assert "pwned" not in capsys.readouterr().out


@pytest.mark.torch
def test_torch_save_file_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "preprocess.pt"
    torch.save({"mean": torch.zeros(3)}, path)
    with pytest.raises(ArtefactError, match="refusing"):
        load_artefact(path)
    renamed = path.rename(tmp_path / "preprocess.json")
    with pytest.raises(ArtefactError, match="pickle"):
        load_artefact(renamed)


def test_safetensors_with_an_insane_header_is_refused(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    path = tmp_path / "preprocess.json"
    fit(write_dataset(tmp_path / "ds", splits), path, tensors=True)
    st = tmp_path / "preprocess.safetensors"
    raw = st.read_bytes()
    st.write_bytes(struct.pack("<Q", 10**12) + raw[8:])
    with pytest.raises(ArtefactError, match="does not match the artefact"):
        load_artefact(path)
    # even with the JSON re-pointed at the edited file, the header itself is refused
    doc = json.loads(path.read_text(encoding="utf-8"))
    import hashlib

    doc["tensors"]["sha256"] = hashlib.sha256(st.read_bytes()).hexdigest()
    _rewrite(path, doc, rehash=True)
    with pytest.raises(ArtefactError, match="header length"):
        load_artefact(path)


@pytest.mark.torch
def test_safetensors_file_is_readable_by_the_safetensors_library(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "preprocess.json"
    art = fit(write_dataset(tmp_path / "ds", splits), path, tensors=True)
    arrays = safetensors_numpy.load_file(str(tmp_path / "preprocess.safetensors"))
    assert art.table is not None
    nums = [c for c in art.table.columns if isinstance(c, NumericColumn)]
    np.testing.assert_array_equal(arrays["numeric.center"], [c.center for c in nums])
    np.testing.assert_array_equal(arrays["numeric.scale"], [c.scale for c in nums])


def test_supplied_normalization_has_the_shape_the_scan_reads(tmp_path: Path, splits: dict[str, pl.DataFrame]) -> None:
    art = fit(write_dataset(tmp_path, splits))
    norm = supplied_normalization(art)
    assert set(norm) == {"columns"}
    assert set(norm["columns"]) == {"age", "income"}
    x = present(splits["train"], "age")
    assert norm["columns"]["age"]["kind"] == "standard"
    assert norm["columns"]["age"]["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert norm["columns"]["age"]["std"] == pytest.approx(np.std(x), rel=1e-12)


# -- CLI ----------------------------------------------------------------------------------
def test_fit_command_writes_the_artefact(tmp_path: Path, splits: dict[str, pl.DataFrame], capsys: pytest.CaptureFixture[str]) -> None:
    root = write_dataset(tmp_path / "ds", splits)
    out = tmp_path / "preprocess.json"
    assert main(["fit", str(root), "-o", str(out), "--robust", "--max-categories", "3"]) == 0
    art = load_artefact(out)
    assert art.table is not None and art.table.scaling == "robust"
    text = capsys.readouterr().out
    assert "5 columns" not in text and "3 columns -> 6 features" in text and "wrote" in text


def test_fit_command_exits_2_with_one_line_on_a_pickle_artefact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data.csv").write_text("x,label\n1,a\n", encoding="utf-8")
    bad = tmp_path / "preprocess.json"
    bad.write_bytes(pickle.dumps({"a": 1}))
    assert main(["validate", "--artefact", str(bad), str(tmp_path / "data.csv")]) == 2
    err = capsys.readouterr().err
    assert "pickle" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_fit_without_a_train_split_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(pl.DataFrame({"x": [1.0, 2.0], "label": ["a", "b"]}), tmp_path / "val.csv")
    assert main(["fit", str(tmp_path), "-o", str(tmp_path / "p.json")]) == 2
    assert "train" in capsys.readouterr().err


# -- sketch -------------------------------------------------------------------------------
def test_quantile_sketch_is_exact_below_k_and_close_above() -> None:
    rng = np.random.default_rng(3)
    small = rng.normal(size=1000)
    s = QuantileSketch(k=2048)
    for chunk in np.array_split(small, 7):
        s.update(chunk)
    assert s.exact and s.quantiles([0.25, 0.5, 0.75]) == list(np.quantile(small, [0.25, 0.5, 0.75]))
    big = rng.lognormal(size=200_001)
    s = QuantileSketch(k=2048)
    for chunk in np.array_split(big, 50):
        s.update(chunk)
    assert not s.exact
    ordered = np.sort(big)
    for q, v in zip([0.1, 0.5, 0.9], s.quantiles([0.1, 0.5, 0.9])):
        rank = np.searchsorted(ordered, v) / big.size
        assert abs(rank - q) < 0.005
    assert s.nbytes < big.nbytes / 5


def test_quantile_sketch_merge_equals_one_stream() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=500), rng.normal(size=700)
    left, right, both = QuantileSketch(), QuantileSketch(), QuantileSketch()
    left.update(a)
    right.update(b)
    both.update(np.concatenate([a, b]))
    assert left.merge(right).quantiles([0.5]) == both.quantiles([0.5])


# -- closing the loop with the scan --------------------------------------------------------
@pytest.mark.parametrize("leaky", [False, True], ids=["a train-only artefact passes", "an all-splits artefact is a leak"])
def test_scan_checks_the_artefact_normalisation_against_train(
    tmp_path: Path, splits: dict[str, pl.DataFrame], leaky: bool
) -> None:
    from dataaudit import scan

    root = write_dataset(tmp_path / "ds", splits)
    fit_on = splits if not leaky else dict(splits, train=pl.concat(list(splits.values())))
    fit(write_dataset(tmp_path / "fit_on", fit_on), tmp_path / "p.json")
    found = scan(root, artefact=tmp_path / "p.json").by_check("normalization_leak")
    if not leaky:
        assert found == []
    else:
        [f] = found
        assert f.details["kind"] == "supplied_all_splits"
        assert {e["column"] for e in f.examples} == {"age", "income"}


# -- mergeable fitting: the plan does not depend on how the train split is batched -----------------
_OPTIONS = {"scaling": "standard", "impute": "median", "categories": "onehot", "max_categories": 3,
            "min_frequency": 1, "categorical": [], "numeric": [], "drop": [], "task": "auto"}  # fmt: skip


def _plan(frames: list[pl.DataFrame]) -> Any:
    ds = Dataset(source="mem", root=None, modality="table", splits={}, label_column="y", read=lambda: iter([]))
    fitter = TableFitter(ds, Config(), dict(_OPTIONS))
    for f in frames:
        fitter.update(f)
    return fitter.plan()


@settings(max_examples=40, deadline=None)
@given(
    xs=hst.lists(hst.one_of(hst.none(), hst.floats(-1e6, 1e6, allow_nan=False)), min_size=2, max_size=60),
    cats=hst.lists(hst.sampled_from(["a", "b", "c", "d", "", "NA"]), min_size=60, max_size=60),
    cuts=hst.lists(hst.integers(1, 59), max_size=4),
)
def test_fitting_is_independent_of_batch_boundaries(xs: list[float | None], cats: list[str], cuts: list[int]) -> None:
    n = len(xs)
    df = pl.DataFrame({"x": xs, "c": cats[:n], "y": (["p", "q"] * n)[:n]}, schema={"x": pl.Float64, "c": pl.String, "y": pl.String})
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    chunks = [df.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]
    whole, _, _ = _plan([df])
    parts, _, _ = _plan(chunks)
    assert [c.name for c in whole.columns] == [c.name for c in parts.columns]
    assert whole.dropped == parts.dropped
    for a, b in zip(whole.columns, parts.columns):
        if isinstance(a, NumericColumn):
            assert isinstance(b, NumericColumn)
            assert (a.median, a.q25, a.q75, a.min, a.max, a.count) == (b.median, b.q25, b.q75, b.min, b.max, b.count)
            assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-6)
            assert a.std == pytest.approx(b.std, rel=1e-6, abs=1e-6)
        else:
            assert a == b


def test_counting_stops_for_many_valued_numeric_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataaudit.fit.tables as tables

    monkeypatch.setattr(tables, "COUNT_CAP", 50)
    n = 400
    mostly = [f"{i * 0.5}" if i % 20 else "n/a?" for i in range(n)]  # 95 % numbers: numeric
    mixed = [f"{i * 0.5}" if i % 5 else f"code{i}" for i in range(n)]  # 80 %: neither
    pl.DataFrame({"mostly": mostly, "mixed": mixed, "label": ["a", "b"] * (n // 2)}).write_csv(tmp_path / "train.csv")
    art = fit(tmp_path)
    assert art.table is not None
    mostly_col = art.table.column("mostly")
    assert isinstance(mostly_col, NumericColumn) and mostly_col.count == n - n // 20
    assert "high cardinality" in art.table.dropped["mixed"]


def test_image_fit_never_opens_val_or_test_images(tmp_path: Path) -> None:
    global _OPENED
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 3), ("test", 3)):
        for i in range(n):
            folder = tmp_path / split / ("cat" if i % 2 else "dog")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    _OPENED = []
    try:
        art = fit(tmp_path)
    finally:
        opened, _OPENED = _OPENED, None
    assert art.image is not None and art.items == 6
    assert any("/train/" in p for p in opened)
    assert not [p for p in opened if "/val/" in p or "/test/" in p]
