"""Transforms from a fitted artefact: tables (numpy), images (torchvision v2) and the TorchScript export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dataaudit.errors import UsageError
from dataaudit.fit import CategoricalColumn, NumericColumn, fit, supplied_normalization
from dataaudit.transforms import load_transforms
from dataaudit.transforms.tables import TableTransform


@pytest.fixture(autouse=True)
def _hf_isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No telemetry, no download counts, caches in tmp (nothing here should reach the Hub)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")


@pytest.fixture
def table_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    for name, n in (("train", 300), ("val", 80)):
        df = pl.DataFrame({
            "age": rng.integers(18, 90, n).astype(float),
            "income": rng.normal(50_000, 12_000, n).round(2),
            "color": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
            "label": rng.choice(["no", "yes"], n),
        })  # fmt: skip
        df = df.with_columns(
            pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise(pl.col("age")).alias("age"),
            pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise(pl.col("color")).alias("color"),
        )
        df.write_csv(tmp_path / f"{name}.csv", null_value="")
    return tmp_path


def expected_matrix(tf: TableTransform, df: pl.DataFrame) -> np.ndarray:
    """The documented transform, computed independently with numpy."""
    cols = []
    for col in tf.plan.columns:
        values = df.get_column(col.name).to_list()
        if isinstance(col, NumericColumn):
            x = np.array([col.fill if v is None else float(v) for v in values], dtype=np.float64)
            cols.append(((x - col.center) / col.scale).astype(np.float32)[:, None])
        else:
            assert isinstance(col, CategoricalColumn)
            filled = [col.fill if v is None or str(v).strip() == "" else str(v).strip() for v in values]
            idx = [col.vocabulary.index(v) + 1 if v in col.vocabulary else 0 for v in filled]
            if tf.plan.encoding == "index":
                cols.append(np.array(idx, dtype=np.float32)[:, None])
            else:
                onehot = np.zeros((len(idx), len(col.vocabulary) + 1), dtype=np.float32)
                for r, k in enumerate(idx):
                    onehot[r, k - 1 if k else len(col.vocabulary)] = 1.0
                cols.append(onehot)
    return np.hstack(cols)


@pytest.mark.parametrize("categories", ["onehot", "index"], ids=["one-hot encoding", "index encoding"])
def test_table_transform_matches_the_documented_computation(table_root: Path, categories: str) -> None:
    art = fit(table_root, table_root / "p.json", categories=categories)
    tf = load_transforms(table_root / "p.json")
    assert isinstance(tf, TableTransform)
    val = pl.read_csv(table_root / "val.csv")
    out = tf(val)
    assert out.dtype == np.float32 and out.shape == (80, len(art.table.features))  # type: ignore[union-attr]
    np.testing.assert_array_equal(out, expected_matrix(tf, val))


def test_missing_values_take_the_fill_and_unseen_categories_the_unknown_slot(table_root: Path) -> None:
    art = fit(table_root)
    tf = load_transforms(art)
    rows = [
        {"age": None, "income": "NA", "color": "purple"},
        {"age": 40, "income": 1000.5, "color": None},
        {"age": "  41 ", "income": float("inf"), "color": " red "},
    ]
    out = tf(rows)
    age, income = tf.plan.column("age"), tf.plan.column("income")
    color = tf.plan.column("color")
    assert isinstance(age, NumericColumn) and isinstance(income, NumericColumn) and isinstance(color, CategoricalColumn)
    feats = tf.features
    assert out[0, feats.index("age")] == np.float32((age.fill - age.center) / age.scale)
    assert out[0, feats.index("income")] == np.float32((income.fill - income.center) / income.scale)
    assert out[2, feats.index("income")] == out[0, feats.index("income")]
    assert out[0, feats.index("color=__unknown__")] == 1.0 and out[0].sum() != 0
    assert out[1, feats.index(f"color={color.fill}")] == 1.0
    assert out[2, feats.index("color=red")] == 1.0
    assert out[2, feats.index("age")] == np.float32((41.0 - age.center) / age.scale)


def test_dict_rows_and_frames_give_the_same_output(table_root: Path) -> None:
    tf = load_transforms(fit(table_root))
    val = pl.read_csv(table_root / "val.csv")
    np.testing.assert_array_equal(tf(val.to_dicts()), tf(val))
    np.testing.assert_array_equal(tf({c: val.get_column(c).to_list() for c in val.columns}), tf(val))


def test_outputs_are_identical_before_and_after_save_and_load(table_root: Path) -> None:
    art = fit(table_root, table_root / "p.json")
    val = pl.read_csv(table_root / "val.csv", infer_schema=False)
    np.testing.assert_array_equal(TableTransform(art)(val), load_transforms(table_root / "p.json")(val))


def test_missing_input_column_is_a_clear_error(table_root: Path) -> None:
    tf = load_transforms(fit(table_root))
    with pytest.raises(UsageError, match="lacks column.*income"):
        tf(pl.DataFrame({"age": [1.0], "color": ["red"]}))


def test_labels_encode_with_the_fitted_class_map(table_root: Path) -> None:
    tf = load_transforms(fit(table_root))
    assert tf.classes == ["no", "yes"]
    np.testing.assert_array_equal(tf.encode_labels(["yes", "no", "yes"]), [1, 0, 1])
    assert tf.decode_labels([1, 0]) == ["yes", "no"]
    with pytest.raises(UsageError, match="maybe"):
        tf.encode_labels(["maybe"])


@pytest.mark.torch
@pytest.mark.parametrize("typed", [True, False], ids=["typed columns", "text columns as read from CSV"])
def test_table_torchscript_export_matches_the_eager_transform(table_root: Path, typed: bool) -> None:
    torch = pytest.importorskip("torch")
    from dataaudit.transforms import export_torchscript

    fit(table_root, table_root / "p.json", categories="onehot")
    export_torchscript(table_root / "p.json", table_root / "p.pt")
    module = torch.jit.load(str(table_root / "p.pt"))
    tf = load_transforms(table_root / "p.json")
    val = pl.read_csv(table_root / "val.csv", infer_schema=typed)
    odd = pl.DataFrame({"age": [None, " 41 "], "income": ["-999", "oops"], "color": ["mauve", " NA "],
                        "label": ["no", "yes"]})  # fmt: skip
    val = pl.concat([val.cast(pl.String), odd], how="vertical_relaxed") if not typed else val
    numeric, categorical = tf.script_inputs(val)
    assert set(numeric) == set(module.numeric_columns) and set(categorical) == set(module.categorical_columns)
    torch.testing.assert_close(module(numeric, categorical), tf(val, as_tensor=True), rtol=0, atol=0)
    assert list(module.features) == tf.features


@pytest.mark.torch
@pytest.mark.parametrize("categories", ["onehot", "index"], ids=["one-hot export", "index export"])
def test_table_torchscript_export_handles_missing_and_unseen_values(table_root: Path, categories: str) -> None:
    torch = pytest.importorskip("torch")
    from dataaudit.transforms.export import scripted_module

    art = fit(table_root, categories=categories)
    module = scripted_module(art)
    tf = load_transforms(art)
    rows = [{"age": None, "income": -999.0, "color": "mauve"}, {"age": 30.0, "income": 1.5, "color": None},
            {"age": float("nan"), "income": float("inf"), "color": "  red"}]  # fmt: skip
    numeric, categorical = tf.script_inputs(rows)
    torch.testing.assert_close(module(numeric, categorical), tf(rows, as_tensor=True), rtol=0, atol=0)


# -- images -----------------------------------------------------------------------------------
def write_images(root: Path, sizes: dict[str, list[tuple[int, int]]], mode: str = "RGB", seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, dims in sizes.items():
        for i, (w, h) in enumerate(dims):
            cls = "cat" if i % 2 else "dog"
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            base = 40 if split == "train" else 200
            arr = np.clip(rng.normal(base, 30, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).convert(mode).save(folder / f"{i}.png")
    return root


TRAIN_SIZES = [(64, 48), (72, 50), (60, 40), (90, 70), (64, 48), (66, 47)]


@pytest.mark.torch
def test_image_statistics_are_those_of_the_resized_train_pixels(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from PIL import Image
    from torchvision.transforms.v2 import functional as F

    root = write_images(tmp_path, {"train": TRAIN_SIZES, "val": [(64, 48)] * 4})
    art = fit(root, tmp_path / "p.json")
    plan = art.image
    assert plan is not None
    assert (plan.width, plan.height) == (64, 48)  # medians 65 x 48, to multiples of 8
    pixels, raw = [], []
    for path in sorted((root / "train").rglob("*.png")):
        t = F.pil_to_tensor(Image.open(path).convert("RGB"))
        pixels.append(F.resize(t, [48, 64], antialias=True).to(torch.float64).div(255).reshape(3, -1).numpy())
        raw.append(t.to(torch.float64).div(255).reshape(3, -1).numpy())
    x = np.concatenate(pixels, axis=1)
    np.testing.assert_allclose(plan.mean, x.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(plan.std, x.std(axis=1), rtol=1e-5)
    r = np.concatenate(raw, axis=1)
    np.testing.assert_allclose(plan.source_mean, r.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(plan.source_std, r.std(axis=1), rtol=1e-9)
    assert supplied_normalization(art)["image"] == {
        "mean": plan.mean, "std": plan.std, "size": [64, 48],
        "source_mean": plan.source_mean, "source_std": plan.source_std,
    }
    assert plan.images == 6 and plan.pixels == 6 * 48 * 64
    assert art.label is not None and art.label.classes == ["cat", "dog"]
    # the val images (much brighter) are not in the statistics
    assert max(plan.mean) < 0.3


@pytest.mark.torch
def test_image_size_override_and_grayscale_mode(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = write_images(tmp_path, {"train": TRAIN_SIZES}, mode="L")
    art = fit(root, image_size="32x24")
    assert art.image is not None
    assert (art.image.width, art.image.height, art.image.mode) == (32, 24, "L")
    assert len(art.image.mean) == 1
    tf = load_transforms(art)
    from PIL import Image

    out = tf(Image.open(next((root / "train").rglob("*.png"))))
    assert tuple(out.shape) == (1, 24, 32)


@pytest.mark.torch
def test_image_pipelines_keep_normalize_last(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torchvision.transforms import v2

    root = write_images(tmp_path, {"train": TRAIN_SIZES})
    fit(root, tmp_path / "p.json")
    eval_tf = load_transforms(tmp_path / "p.json")
    train_tf = load_transforms(tmp_path / "p.json", train=True)
    plain_train = load_transforms(tmp_path / "p.json", train=True, augment=False)
    assert isinstance(eval_tf, v2.Compose)
    for tf in (eval_tf, train_tf, plain_train):
        assert isinstance(tf.transforms[-1], v2.Normalize)
    assert any(isinstance(t, v2.RandomResizedCrop) for t in train_tf.transforms)
    assert any(isinstance(t, v2.RandomHorizontalFlip) for t in train_tf.transforms)
    assert not any(isinstance(t, v2.RandomResizedCrop) for t in eval_tf.transforms + plain_train.transforms)
    from PIL import Image

    img = Image.open(next((root / "train").rglob("*.png")))
    assert tuple(train_tf(img).shape) == tuple(eval_tf(img).shape) == (3, 48, 64)


@pytest.mark.torch
def test_normalised_train_pixels_have_zero_mean_and_unit_std(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from PIL import Image

    root = write_images(tmp_path, {"train": TRAIN_SIZES})
    tf = load_transforms(fit(root))
    out = torch.stack([tf(Image.open(p)) for p in sorted((root / "train").rglob("*.png"))]).double()
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(0, 2, 3), unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0)


@pytest.mark.torch
def test_image_torchscript_export_matches_the_eager_pipeline(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from PIL import Image
    from torchvision.transforms.v2 import functional as F

    from dataaudit.transforms import export_torchscript

    root = write_images(tmp_path, {"train": TRAIN_SIZES})
    art = fit(root, tmp_path / "p.json")
    export_torchscript(tmp_path / "p.json", tmp_path / "p.pt")
    module = torch.jit.load(str(tmp_path / "p.pt"))
    eager = load_transforms(art)  # the in-memory artefact, before any save/load
    paths = sorted((root / "train").rglob("*.png"))
    for path in paths:
        img = Image.open(path)
        torch.testing.assert_close(module(F.pil_to_tensor(img.convert("RGB"))), eager(img), rtol=0, atol=0)
    # a batch of equally sized images, and a reloaded artefact, give the same
    same = [F.pil_to_tensor(Image.open(p).convert("RGB")) for p in paths if Image.open(p).size == (64, 48)]
    batch = module(torch.stack(same))
    again = load_transforms(tmp_path / "p.json")
    torch.testing.assert_close(batch, torch.stack([again(t) for t in same]), rtol=0, atol=0)
