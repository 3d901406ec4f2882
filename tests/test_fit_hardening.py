"""Hardening of ``fit`` and its artefact: every option on every sample dataset works or is
refused before anything is written; the loader refuses out-of-range values (after the
hash) with one line naming the field and survives any bytes or JSON (hypothesis); the
JSON/safetensors pair is replaced as a pair; temp files of killed runs are removed by the
next run; a full disk is one clear line."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hst

from dataaudit.cli import main
from dataaudit.errors import ArtefactError, DataauditError
from dataaudit.fit import fit, load_artefact
from dataaudit.fit.artefact import integrity_hash

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
DATASETS = ["tables_clean", "tables_faulty", "wine_uci", "breast_cancer_uci", "images_clean", "images_faulty"]
A_COLUMN = {"tables_clean": "mean_radius", "tables_faulty": "lab_batch", "wine_uci": "alcohol",
            "breast_cancer_uci": "mean_radius", "images_clean": "x", "images_faulty": "x"}  # fmt: skip
OPTIONS: list[list[str]] = [
    [], ["--robust"], ["--scaling", "none"], ["--scaling", "robust"], ["--impute", "mean"],
    ["--categories", "index"], ["--max-categories", "1"], ["--min-frequency", "5"], ["--categorical", "COL"],
    ["--numeric", "COL"], ["--drop", "COL"], ["--task", "classification"], ["--task", "regression"],
    ["--image-size", "32x32"], ["--safetensors"], ["--torchscript", "TS"], ["--format", "json"], ["--quiet"],
]  # fmt: skip


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# -- every fit option on every sample dataset ------------------------------------------------------
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: " ".join(o) or "no option")
def test_every_fit_option_on_every_sample_dataset_works_or_refuses_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str, option: list[str]
) -> None:
    if "--torchscript" in option:
        pytest.importorskip("torch")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [A_COLUMN[dataset] if a == "COL" else str(out_dir / "m.pt") if a == "TS" else a for a in option]
    rc, _, err = _run(["fit", str(SAMPLES / dataset), "-o", str(out_dir / "a.json"), *args], capsys)
    written = sorted(p.name for p in out_dir.iterdir())
    if rc == 0:
        art = load_artefact(out_dir / "a.json")
        assert err == ""
        if "--torchscript" in option:
            assert "m.pt" in written
        if "--safetensors" in option:
            assert art.tensors_file == "a.safetensors"
    else:
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "internal error" not in err, err
        assert written == [], f"refused but wrote {written}"


def test_torchscript_export_of_an_all_numeric_real_table_matches_the_eager_transform(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from dataaudit.transforms import load_transforms

    art = fit(SAMPLES / "tables_clean", tmp_path / "p.json")
    assert art.table is not None and all(c.kind == "numeric" for c in art.table.columns)
    assert main(["fit", str(SAMPLES / "tables_clean"), "-o", str(tmp_path / "p.json"), "--torchscript",
                 str(tmp_path / "p.pt"), "-q"]) == 0  # fmt: skip
    module = torch.jit.load(str(tmp_path / "p.pt"))
    tf = load_transforms(tmp_path / "p.json")
    frame = pl.read_csv(SAMPLES / "tables_clean" / "test.csv")
    numeric, categorical = tf.script_inputs(frame)
    assert categorical == {}
    assert torch.equal(module(numeric, categorical), tf(frame, as_tensor=True))


@pytest.mark.parametrize("dataset, option", [
    ("images_clean", ["--robust"]), ("images_clean", ["--categorical", "x"]), ("images_faulty", ["--impute", "mean"]),
    ("images_clean", ["--task", "regression"]), ("tables_clean", ["--image-size", "32x32"]),
    ("wine_uci", ["--task", "regression"]), ("wine_uci", ["--numeric", "cultivar"]),
], ids=["robust scaling on images", "a categorical column of images", "imputation on images",
        "regression on image classes", "an image size for a table", "regression on class names",
        "the label as a numeric feature"])  # fmt: skip
def test_an_option_that_cannot_apply_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str, option: list[str]
) -> None:
    rc, _, err = _run(["fit", str(SAMPLES / dataset), "-o", str(tmp_path / "a.json"), *option], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert option[0] in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("width, size, refused", [(16400, None, True), (16400, "64x8", False), (64, None, False)],
                         ids=["train images wider than 16384", "the same with --image-size", "ordinary images"])
def test_a_fitted_image_size_beyond_what_loading_accepts_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], width: int, size: str | None, refused: bool
) -> None:
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "data" / "train" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (width, 2), color=40 * i).save(tmp_path / "data" / "train" / cls / f"{i}.png")
    extra = ["--image-size", size] if size else []
    rc, _, err = _run(["fit", str(tmp_path / "data"), "-o", str(tmp_path / "out" / "p.json"), "-q", *extra], capsys)
    if refused:
        assert rc == 2 and "--image-size" in err and not (tmp_path / "out").exists()
    else:
        assert rc == 0 and load_artefact(tmp_path / "out" / "p.json").image is not None


# -- min_frequency keeps categories seen exactly that often ------------------------------------------
@pytest.mark.parametrize("min_frequency, kept", [
    (1, ["a", "b", "c"]), (2, ["a", "b"]), (3, ["a"]),
], ids=["the default keeps a category seen once", "two keeps those seen twice", "three keeps only the common one"])
def test_min_frequency_keeps_categories_seen_at_least_that_often(tmp_path: Path, min_frequency: int, kept: list[str]) -> None:
    # a: 3 times, b: exactly 2, c: exactly once; `count > min_frequency` would drop b at 2 and c at 1
    pl.DataFrame({"colour": ["a", "a", "a", "b", "b", "c"], "x": [1.0, 2, 3, 4, 5, 6], "label": ["p", "q"] * 3}) \
        .write_csv(tmp_path / "train.csv")  # fmt: skip
    art = fit(tmp_path, min_frequency=min_frequency)
    assert art.table is not None
    assert art.table.column("colour").vocabulary == kept  # type: ignore[union-attr]


# -- artefact values are range-checked after the hash ---------------------------------------------------
@pytest.fixture(scope="module")
def table_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fitted")
    fit(SAMPLES / "wine_uci", root / "p.json")
    doc: dict[str, Any] = json.loads((root / "p.json").read_text())
    return doc


@pytest.fixture(scope="module")
def image_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fitted_images")
    fit(SAMPLES / "images_clean", root / "p.json")
    doc: dict[str, Any] = json.loads((root / "p.json").read_text())
    return doc


def _write_rehashed(path: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` with a recomputed integrity hash: what an editor who knows the format does."""
    doc = dict(doc)
    doc["integrity"] = integrity_hash(doc)
    path.write_text(json.dumps(doc))
    return path


def _numeric_col(doc: dict[str, Any], name: str = "alcohol") -> dict[str, Any]:
    return next(c for c in doc["table"]["columns"] if c["name"] == name)


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _tamper_scale(doc: dict[str, Any]) -> None:
    _numeric_col(doc)["scale"] = 5e-324


def _tamper_scale_and_std(doc: dict[str, Any]) -> None:
    col = _numeric_col(doc)
    col["scale"] = col["std"] = 5e-324


def _tamper_center(doc: dict[str, Any]) -> None:
    _numeric_col(doc)["center"] = 1e300


def _tamper_fill(doc: dict[str, Any]) -> None:
    _numeric_col(doc)["fill"] = -999.0


def _tamper_items(doc: dict[str, Any]) -> None:
    doc["fitted_on"]["items"] = 10**400


def _tamper_options_depth(doc: dict[str, Any]) -> None:
    doc["options"]["nested"] = _deep(200)


def _tamper_options_int(doc: dict[str, Any]) -> None:
    doc["options"]["huge"] = -(10**400)


def _tamper_size(doc: dict[str, Any]) -> None:
    doc["image"]["height"] = doc["image"]["width"] = 200_000


def _tamper_image_std(doc: dict[str, Any]) -> None:
    doc["image"]["std"][0] = 5e-324


def _tamper_image_mean(doc: dict[str, Any]) -> None:
    doc["image"]["mean"][1] = 1e30


TABLE_TAMPERING = [
    (_tamper_scale, "scale"), (_tamper_scale_and_std, "scale"), (_tamper_center, "center"),
    (_tamper_fill, "fill"), (_tamper_items, "fitted_on.items"), (_tamper_options_depth, "nested deeper"),
    (_tamper_options_int, "options.huge"),
]  # fmt: skip


@pytest.mark.parametrize("tamper, field", TABLE_TAMPERING, ids=[
    "scale 5e-324 (inf features)", "scale and std both 5e-324", "a center far from the train mean",
    "a fill that is not the train median", "a 401-digit item count", "options nested 200 deep",
    "a 401-digit integer in options"])  # fmt: skip
def test_a_rehashed_table_artefact_with_values_out_of_range_is_refused_naming_the_field(
    tmp_path: Path, table_doc: dict[str, Any], tamper: Any, field: str
) -> None:
    doc = copy.deepcopy(table_doc)
    tamper(doc)
    path = _write_rehashed(tmp_path / "p.json", doc)
    with pytest.raises(ArtefactError) as err:
        load_artefact(path)
    assert field in err.value.message and len(err.value.message.splitlines()) == 1
    assert len(err.value.message) < 400


@pytest.mark.parametrize("tamper, field", [
    (_tamper_size, "image.height"), (_tamper_image_std, "image.std[0]"), (_tamper_image_mean, "image.mean[1]"),
], ids=["a 200000x200000 image size", "a std of 5e-324", "a mean of 1e30 for pixels in [0, 1]"])
def test_a_rehashed_image_artefact_with_values_out_of_range_is_refused_naming_the_field(
    tmp_path: Path, image_doc: dict[str, Any], tamper: Any, field: str
) -> None:
    doc = copy.deepcopy(image_doc)
    tamper(doc)
    with pytest.raises(ArtefactError, match=r"invalid artefact: " + field.replace("[", r"\[").replace("]", r"\]")):
        load_artefact(_write_rehashed(tmp_path / "p.json", doc))


@pytest.mark.parametrize("dataset", ["wine_uci", "tables_faulty", "breast_cancer_uci", "images_clean"])
@pytest.mark.parametrize("scaling", ["standard", "robust", "none"])
def test_artefacts_fitted_on_real_data_pass_the_range_checks(tmp_path: Path, dataset: str, scaling: str) -> None:
    options: dict[str, Any] = {} if dataset.startswith("images") else {"scaling": scaling, "impute": "mean"}
    if dataset.startswith("images") and scaling != "standard":
        pytest.skip("images have one normalisation")
    art = fit(SAMPLES / dataset, tmp_path / "p.json", tensors=True, **options)
    again = load_artefact(tmp_path / "p.json")
    assert again.to_dict() == art.to_dict()


def test_a_json_of_a_5001_digit_integer_or_deep_nesting_is_one_line_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ds").mkdir()
    pl.DataFrame({"x": [1.0, 2.0, 3.0]}).write_csv(tmp_path / "ds" / "new.csv")
    for name, text in (("int.json", "{\"format\": " + "9" * 5001 + "}"), ("deep.json", "[" * 100_000 + "]" * 100_000)):
        (tmp_path / name).write_text(text)
        rc, _, err = _run(["validate", str(tmp_path / "ds"), "--artefact", str(tmp_path / name)], capsys)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "internal error" not in err, err


# -- property-based fuzz of the loader ----------------------------------------------------------------
_LEAVES = hst.one_of(
    hst.none(), hst.booleans(), hst.integers(-(10**30), 10**30), hst.integers(-(2**64), 2**64),
    hst.floats(allow_nan=False, allow_infinity=False), hst.sampled_from([0.0, -0.0, 5e-324, 1e308, -1e308, 1.0]),
    hst.text(max_size=20), hst.sampled_from(["standard", "robust", "numeric", "categorical", "RGB", "L", "train"]),
)  # fmt: skip
_JSON = hst.recursive(
    _LEAVES, lambda kids: hst.lists(kids, max_size=4) | hst.dictionaries(hst.text(max_size=10), kids, max_size=4),
    max_leaves=20,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def _loads_or_one_line(path: Path) -> Any:
    try:
        art = load_artefact(path)
    except ArtefactError as exc:
        assert exc.message and "\n" not in exc.message and len(exc.message) < 2000
        return None
    return art


def _check_loaded(art: Any) -> None:
    """A loaded artefact is usable: its table transform maps train-range inputs to finite features."""
    from dataaudit.transforms.tables import TableTransform

    if art is None or art.table is None or not art.table.columns:
        return
    tf = TableTransform(art)
    rows: dict[str, list[Any]] = {}
    for col in art.table.columns:
        if col.kind == "numeric":
            rows[col.name] = [col.min, col.max, col.fill, None]
        else:
            rows[col.name] = [col.fill, "never seen", None, ""]
    out = tf(rows)
    assert np.isfinite(out).all()


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(raw=hst.binary(max_size=300))
def test_any_bytes_load_or_give_one_line(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(raw)
    _loads_or_one_line(path)


@_FUZZ
@given(doc=_JSON)
def test_any_json_loads_or_gives_one_line(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    _loads_or_one_line(path)


@_FUZZ
@given(data=hst.data())
def test_any_edit_of_a_real_artefact_with_a_recomputed_hash_loads_usable_or_gives_one_line(
    tmp_path: Path, table_doc: dict[str, Any], image_doc: dict[str, Any], data: hst.DataObject
) -> None:
    doc = copy.deepcopy(data.draw(hst.sampled_from([table_doc, image_doc])))
    for _ in range(data.draw(hst.integers(1, 3))):
        paths = [p for p in _paths(doc) if p and p[0] != "integrity"]
        where = data.draw(hst.sampled_from(paths))
        doc = _set(doc, where, data.draw(_JSON))
    body = {k: v for k, v in doc.items() if k != "integrity"}
    try:
        doc["integrity"] = integrity_hash(body)
    except ArtefactError:
        pass
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    _check_loaded(_loads_or_one_line(path))


_INTS = hst.one_of(hst.integers(-4, 64), hst.integers(-(2**70), 2**70))


@_FUZZ
@given(raw=hst.binary(max_size=200), header=hst.dictionaries(
    hst.text(max_size=5),
    hst.fixed_dictionaries({"dtype": hst.sampled_from(["F64", "F32", "I64", "U8", 5]),
                            "shape": hst.lists(_INTS, max_size=3), "data_offsets": hst.lists(_INTS, max_size=3)}),
    max_size=3))  # fmt: skip
@example(raw=b"", header={"t": {"dtype": "F64", "shape": [2**32, 2**32], "data_offsets": [0, 0]}})  # int64 wraps to 0
def test_any_safetensors_bytes_or_header_decode_or_give_one_line(raw: bytes, header: dict[str, Any]) -> None:
    import struct

    from dataaudit.fit.artefact import decode_safetensors

    head = json.dumps(header).encode()
    for blob in (raw, struct.pack("<Q", len(head)) + head + raw):
        try:
            arrays, _ = decode_safetensors(blob)
        except ArtefactError as exc:
            assert "\n" not in exc.message and len(exc.message) < 2000
        else:
            assert all(np.isfinite(a).all() for a in arrays.values())


_EXTREME = hst.one_of(
    hst.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-300, 1e-30, 1e30, 1e300, -1e300, 1.7976931348623157e308, 1.0, -1.0]),
    hst.floats(allow_nan=False, allow_infinity=False), hst.integers(-(2**70), 2**70),
)  # fmt: skip


@_FUZZ
@given(data=hst.data())
def test_any_numbers_in_a_real_artefact_with_a_recomputed_hash_load_usable_or_give_one_line(
    tmp_path: Path, table_doc: dict[str, Any], image_doc: dict[str, Any], data: hst.DataObject
) -> None:
    doc = copy.deepcopy(data.draw(hst.sampled_from([table_doc, image_doc])))
    numbers = [p for p in _paths(doc) if p and p[0] in ("table", "image", "fitted_on")
               and isinstance(_get(doc, p), (int, float)) and not isinstance(_get(doc, p), bool)]  # fmt: skip
    for where in data.draw(hst.lists(hst.sampled_from(numbers), min_size=1, max_size=4)):
        doc = _set(doc, where, data.draw(_EXTREME))
    doc["integrity"] = integrity_hash({k: v for k, v in doc.items() if k != "integrity"})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    _check_loaded(_loads_or_one_line(path))


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


# -- the JSON/safetensors pair is replaced as a pair ---------------------------------------------------
_KILLED_SAVE = """
import os, signal, sys
from pathlib import Path
import dataaudit.fit.artefact as m
from dataaudit.fit import load_artefact
real = os.replace
def dying(src, dst):
    if Path(dst).name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
m.os.replace = dying
art = load_artefact(sys.argv[3])
art.save(sys.argv[1], tensors=True)
"""


def _fit_pair(root: Path, rows: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    data = root / f"data{seed}"
    data.mkdir()
    pl.DataFrame({"x": rng.normal(seed, 1 + seed, rows), "y": rng.normal(0, 1, rows), "label": ["a", "b"] * (rows // 2)}) \
        .write_csv(data / "train.csv")  # fmt: skip
    return fit(data)


@pytest.mark.parametrize("kill_at", ["preprocess.json", "preprocess.safetensors"],
                         ids=["killed at the JSON rename", "killed at the tensors rename"])
def test_a_save_killed_at_any_rename_leaves_a_consistent_pair(tmp_path: Path, kill_at: str) -> None:
    old, new = _fit_pair(tmp_path, 100, 1), _fit_pair(tmp_path, 100, 2)
    path = tmp_path / "out" / "preprocess.json"
    old.save(path, tensors=True)
    new.save(tmp_path / "new.json")
    proc = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path), kill_at, str(tmp_path / "new.json")],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    loaded = load_artefact(path)  # never "tensors disagree" or "hash differs"
    want = old if kill_at == "preprocess.json" else new
    assert loaded.table == want.table
    # the next save completes the pair and removes what the killed one left
    new.save(path, tensors=True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["preprocess.json", "preprocess.safetensors"]
    assert load_artefact(path).table == new.table


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_a_killed_save_are_removed_by_the_next_one(tmp_path: Path) -> None:
    """A real SIGKILL while the temp file of a 32 MB write is open."""
    from dataaudit.fit.artefact import clean_stale_temps, owner_tag

    path = tmp_path / "big.json"
    ready = tmp_path / "ready"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom dataaudit.fit.artefact import atomic_write_with\n"
        "def write(tmp):\n    tmp.write_bytes(b'x' * (32 << 20))\n    Path(sys.argv[2]).touch()\n    time.sleep(60)\n"
        "atomic_write_with(Path(sys.argv[1]), write)\n"
    )  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script, str(path), str(ready)], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].stat().st_size == 32 << 20
    live = tmp_path / f".big.json.{owner_tag()}.tmp"  # a concurrent writer that still runs
    live.write_bytes(b"in progress")
    art = _fit_pair(tmp_path, 10, 3)
    art.save(path)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == [live.name, "big.json", "ready"]
    assert clean_stale_temps(tmp_path, "big.json") == []


def test_stale_staged_tensors_of_a_dead_writer_are_removed(tmp_path: Path) -> None:
    from dataaudit.fit.artefact import owner_tag

    stale = tmp_path / f".p.safetensors.{'0' * 64}.{owner_tag().replace(str(os.getpid()), str(_dead_pid()))}.staged"
    stale.write_bytes(b"half")
    _fit_pair(tmp_path, 10, 4).save(tmp_path / "p.json", tensors=True)
    assert not stale.exists()
    assert load_artefact(tmp_path / "p.json").tensors_file == "p.safetensors"


# -- a full disk is one line ----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (needs root; skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill_up(folder: Path) -> None:
    """Write a filler file until the device is full."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_saving_an_artefact_on_a_full_disk_is_one_line_and_leaves_nothing(small_disk: Path) -> None:
    art = _fit_pair(small_disk.parent, 50, 5)
    fill_up(small_disk)
    with pytest.raises(ArtefactError, match="No space left on device") as err:
        art.save(small_disk / "p.json", tensors=True)
    assert len(err.value.message.splitlines()) == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_the_fit_command_on_a_full_disk_exits_2_with_one_line(small_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill_up(small_disk)
    rc, _, err = _run(["fit", str(SAMPLES / "wine_uci"), "-o", str(small_disk / "p.json"), "-q"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "internal error" not in err, err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_loader_cache_that_cannot_be_sealed_on_a_full_disk_is_one_line_and_removed(small_disk: Path) -> None:
    pytest.importorskip("torchvision")
    from dataaudit.loader.cache import CacheBuilder, CacheError, DecodeSpec

    spec = DecodeSpec(8, 10)
    b = CacheBuilder(small_disk / "cache", "k", spec, ["a"], 30, {})
    for i in range(30):
        b.write(i, np.full(spec.item_shape, i, np.uint8), 0)
    fill_up(small_disk)  # the shards were reserved up front; the labels and index do not fit
    with pytest.raises(CacheError, match="no space left") as err:
        b.finish()
    assert isinstance(err.value, DataauditError) and len(err.value.message.splitlines()) == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_full_disk_at_the_end_of_a_loader_epoch_is_one_line_and_the_next_epoch_works(small_disk: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from PIL import Image

    from dataaudit.loader import build_loader
    from dataaudit.loader.cache import CacheError

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        for i in range(6):
            (tmp_path / "data" / "train" / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)).save(tmp_path / "data" / "train" / cls / f"{i}.png")
    loader = build_loader(tmp_path / "data", size=(8, 10), mean=[0.5] * 3, std=[0.25] * 3, batch_size=4, tune=False,
                          shuffle=False, threads=1, cache_dir=small_disk)  # fmt: skip
    batches = iter(loader)
    next(batches)
    fill_up(small_disk)
    with pytest.raises(CacheError, match="no space left") as err:
        for _ in batches:
            pass
    assert len(err.value.message.splitlines()) == 1
    assert not [p for p in (small_disk / "loader").iterdir()]  # no half cache kept
    (small_disk / "filler").unlink()
    xs = torch.cat([x for x, _ in loader])
    assert xs.shape[0] == 12 and loader.cached


def test_partial_caches_and_temp_files_of_killed_runs_are_removed_when_a_cache_is_reused(tmp_path: Path) -> None:
    from dataaudit.fit.artefact import owner_tag
    from dataaudit.loader.cache import open_cache

    root = tmp_path / "loader"
    root.mkdir()
    pid = _dead_pid()
    partial = root / f".images-train-k.partial-{os.uname().nodename}-{pid}-abcd1234"
    (partial).mkdir()
    (partial / "shard-00000.u8").write_bytes(b"\0" * (1 << 20))
    inner = root / "images-train-k"  # a complete cache's folder (content does not matter here)
    inner.mkdir()
    tmp = inner / f".tuning.json.{owner_tag().replace(str(os.getpid()), str(pid))}.tmp"
    tmp.write_bytes(b"{")
    alive = inner / f".index.json.{owner_tag()}.tmp"
    alive.write_bytes(b"{")
    open_cache(root / "images-train-other", "other")
    assert not partial.exists() and not tmp.exists() and alive.exists()


def test_a_table_loader_cache_on_a_full_disk_is_one_line_and_leaves_nothing(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from dataaudit.loader import build_loader
    from dataaudit.loader.cache import CacheError

    art = tmp_path / "wine.json"
    fit(SAMPLES / "tables_faulty", art)
    fill_up(small_disk)
    with pytest.raises(CacheError) as err:
        build_loader(SAMPLES / "tables_faulty", artefact=art, batch_size=8, cache_dir=small_disk)
    assert len(err.value.message.splitlines()) == 1 and "DATAAUDIT_CACHE" in err.value.message
    left = [p for p in small_disk.rglob("*") if p.name != "filler" and p.is_file()]
    assert left == []
