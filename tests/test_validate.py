"""``dataaudit validate``: serving skew against a fitted artefact, in the scan report format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dataaudit.cli import main
from dataaudit.fit import fit
from dataaudit.fit.validate import validate
from dataaudit.report.model import Severity


@pytest.fixture(autouse=True)
def _hf_isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No telemetry, no download counts, caches in tmp (nothing here should reach the Hub)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")


from dataaudit.report.model import SCHEMA_PATH as SCHEMA  # noqa: E402  (the packaged schema)


def draw(rng: np.random.Generator, n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "income": rng.normal(50_000, 12_000, n).round(2),
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "label": rng.choice(["no", "yes"], n),
    })  # fmt: skip


@pytest.fixture
def artefact(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    (tmp_path / "ds").mkdir()
    draw(rng, 2000).write_csv(tmp_path / "ds" / "train.csv")
    out = tmp_path / "preprocess.json"
    fit(tmp_path / "ds", out)
    return out


def new_data(tmp_path: Path, df: pl.DataFrame, name: str = "new.csv") -> Path:
    path = tmp_path / name
    df.write_csv(path)
    return path


def like_train(n: int = 300, seed: int = 6) -> pl.DataFrame:
    return draw(np.random.default_rng(seed), n)


@pytest.mark.parametrize("with_label", [True, False], ids=["with the label column", "without the label column"])
def test_data_drawn_like_train_is_quiet(tmp_path: Path, artefact: Path, with_label: bool) -> None:
    df = like_train()
    if not with_label:
        df = df.drop("label")
    report = validate(new_data(tmp_path, df), artefact)
    assert report.findings == []
    assert report.passed


def test_unseen_categories_are_flagged_with_rows(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_row_index("i").with_columns(
        pl.when(pl.col("i") % 10 == 3).then(pl.lit("magenta")).otherwise(pl.col("color")).alias("color")
    ).drop("i")
    report = validate(new_data(tmp_path, df), artefact)
    [f] = report.by_check("serving_skew")
    assert f.column == "color" and f.split == "new" and f.severity == Severity.WARNING
    assert f.count == 30
    assert f.details["kind"] == "unseen_categories" and f.details["unseen"] == {"magenta": 30}
    assert f.examples[0] == {"split": "new", "row": 3, "value": "magenta"}


def test_missing_column_is_a_schema_mismatch_error(tmp_path: Path, artefact: Path) -> None:
    report = validate(new_data(tmp_path, like_train().drop("income")), artefact)
    [f] = report.by_check("schema_mismatch")
    assert f.severity == Severity.ERROR and f.details["missing"] == ["income"]
    assert not report.passed


def test_text_in_a_numeric_column_is_a_schema_mismatch(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_columns(pl.lit("forty").alias("age"))
    [f] = validate(new_data(tmp_path, df), artefact).by_check("schema_mismatch")
    assert f.column == "age" and f.details["kind"] == "non_numeric" and f.count == 300
    assert f.examples[0] == {"split": "new", "row": 0, "value": "forty"}


def test_values_far_outside_the_train_range_are_flagged(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_row_index("i").with_columns(
        pl.when(pl.col("i") == 17).then(pl.lit(1e7)).otherwise(pl.col("income")).alias("income")
    ).drop("i")
    [f] = validate(new_data(tmp_path, df), artefact).by_check("serving_skew")
    assert (f.column, f.count, f.details["kind"]) == ("income", 1, "out_of_range")
    assert f.examples == [{"split": "new", "row": 17, "value": 1e7}]


def test_a_shifted_column_is_a_distribution_shift(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_columns((pl.col("income") + 15_000).alias("income"))
    found = validate(new_data(tmp_path, df), artefact).by_check("distribution_shift")
    assert [f.column for f in found] == ["income"]
    assert found[0].details["value"] > 1.0


def test_many_more_missing_values_are_flagged(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_row_index("i").with_columns(
        pl.when(pl.col("i") % 2 == 0).then(None).otherwise(pl.col("age")).alias("age")
    ).drop("i")
    [f] = validate(new_data(tmp_path, df), artefact).by_check("serving_skew")
    assert (f.column, f.details["kind"], f.count) == ("age", "missing_rate", 150)


def test_labels_outside_the_class_map_are_flagged(tmp_path: Path, artefact: Path) -> None:
    df = like_train().with_row_index("i").with_columns(
        pl.when(pl.col("i") == 5).then(pl.lit("perhaps")).otherwise(pl.col("label")).alias("label")
    ).drop("i")
    [f] = validate(new_data(tmp_path, df), artefact).by_check("label_set_mismatch")
    assert f.examples == [{"split": "new", "row": 5, "value": "perhaps"}]


def test_validate_command_exit_codes_and_json_report(tmp_path: Path, artefact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = new_data(tmp_path, like_train(), "clean.csv")
    broken = new_data(tmp_path, like_train().drop("income"), "broken.csv")
    assert main(["validate", "--artefact", str(artefact), str(clean), "-q"]) == 0
    capsys.readouterr()
    assert main(["validate", "--artefact", str(artefact), str(broken), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["passed"] is False
    assert [f["check"] for f in doc["findings"]] == ["schema_mismatch"]
    if SCHEMA.exists():
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert main(["validate", "--artefact", str(tmp_path / "nope.json"), str(clean)]) == 2


def test_fail_on_warning_turns_skew_into_a_failure(tmp_path: Path, artefact: Path) -> None:
    # a tenth of the colours unseen: a warning (all of them would be an error, see unknown_error)
    df = like_train().with_row_index("i").with_columns(
        pl.when(pl.col("i") % 10 == 3).then(pl.lit("magenta")).otherwise(pl.col("color")).alias("color")
    ).drop("i")
    path = new_data(tmp_path, df)
    assert main(["validate", "--artefact", str(artefact), str(path), "-q"]) == 0
    assert main(["validate", "--artefact", str(artefact), str(path), "-q", "--fail-on", "warning"]) == 1


# -- images -------------------------------------------------------------------------------------
def write_images(root: Path, n: int, mode: str = "RGB", size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / ("cat" if i % 2 else "dog")
        folder.mkdir(parents=True, exist_ok=True)
        arr = np.clip(rng.normal(120, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).convert(mode).save(folder / f"{i}.png")
    return root


@pytest.fixture
def image_artefact(tmp_path: Path) -> Path:
    write_images(tmp_path / "imgs" / "train", 8)
    out = tmp_path / "img.json"
    fit(tmp_path / "imgs", out)
    return out


def test_images_drawn_like_train_are_quiet(tmp_path: Path, image_artefact: Path) -> None:
    report = validate(write_images(tmp_path / "new", 6, seed=1), image_artefact)
    assert report.findings == [] and report.modality == "image"


def test_grayscale_and_corrupt_images_are_flagged(tmp_path: Path, image_artefact: Path) -> None:
    root = write_images(tmp_path / "new", 4, mode="L", seed=2)
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    report = validate(root, image_artefact)
    [mode] = report.by_check("serving_skew")
    assert mode.details["kind"] == "image_mode" and mode.count == 4 and mode.details["modes"] == {"L": 4}
    [bad] = report.by_check("corrupt_file")
    assert bad.examples[0]["path"].endswith("broken.png")


def test_images_of_another_shape_are_flagged(tmp_path: Path, image_artefact: Path) -> None:
    root = write_images(tmp_path / "new", 3, size=(20, 60), seed=3)
    kinds = sorted(f.details["kind"] for f in validate(root, image_artefact).by_check("serving_skew"))
    assert kinds == ["image_aspect", "image_size"]
