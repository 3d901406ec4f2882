"""Training and serving agree (issue 13, item 6): fitted transforms read text input as the
fit read train (sentinels, numbers written as text); ``validate`` blocks on what a careful
engineer would block on, names the new data's split ``new`` and the label it uses; both
``validate`` and ``scan --artefact`` refuse an artefact of another modality or dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn import datasets as skd

from dataaudit.cli import main
from dataaudit.fit import fit
from dataaudit.fit.validate import validate
from dataaudit.report.model import Severity
from dataaudit.transforms import load_transforms

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"


def real_table(name: str) -> pl.DataFrame:
    """A bundled scikit-learn dataset as a frame with a class-name label column ``target``."""
    loader = {"wine": skd.load_wine, "breast_cancer": skd.load_breast_cancer, "iris": skd.load_iris,
              "digits": skd.load_digits}[name]  # fmt: skip
    bunch = loader(as_frame=True)
    frame = pl.from_pandas(bunch.frame.drop(columns=["target"]))
    frame = frame.rename({c: c.replace("/", "_").replace(" ", "_").replace("(", "").replace(")", "") for c in frame.columns})
    names = [str(bunch.target_names[i]) for i in bunch.target]
    return frame.with_columns(pl.Series("target", [f"class_{n}" for n in names]))


def random_split(df: pl.DataFrame, seed: int, share: float = 0.3) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    test = rng.random(df.height) < share
    return df.filter(pl.Series(~test)), df.filter(pl.Series(test))


@pytest.fixture
def wine_with_sentinels(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """Real wine data whose ``alcohol`` column holds the sentinel -999 (a number) in 10 % of train."""
    df = real_table("wine")
    rng = np.random.default_rng(3)
    hole = pl.Series(rng.random(df.height) < 0.1)
    train = df.with_columns(pl.when(hole).then(-999.0).otherwise(pl.col("alcohol")).alias("alcohol"))
    (tmp_path / "ds").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    return tmp_path / "p.json", df


# -- the transform reads text as the fit read train --------------------------------------------------------
SENTINEL_FORMS: list[Any] = [-999, -999.0, "-999", "-999.000000", " -999.0 ", "-9.99e2"]


@pytest.mark.parametrize("form", SENTINEL_FORMS, ids=[
    "the integer -999", "the float -999.0", "the text -999", "the text -999.000000", "padded text -999.0",
    "the text -9.99e2"])  # fmt: skip
def test_a_sentinel_in_any_form_is_imputed_like_a_missing_value(wine_with_sentinels: tuple[Path, pl.DataFrame], form: Any) -> None:
    artefact, df = wine_with_sentinels
    tf = load_transforms(artefact)
    row = {c: df[c][0] for c in df.columns if c != "target"}
    missing = tf([{**row, "alcohol": None}])
    sent = tf([{**row, "alcohol": form}])
    assert np.array_equal(sent, missing)
    assert abs(float(sent[0, tf.features.index("alcohol")])) < 3  # the fill (train median), not -999 scaled


@pytest.mark.parametrize("value, text", [(13.2, "13.2"), (-998.0, "-998.000000"), (0.0, "0")],
                         ids=["an ordinary number", "a number next to the sentinel", "zero"])
def test_control_a_number_written_as_text_gives_the_same_features_as_the_number(
    wine_with_sentinels: tuple[Path, pl.DataFrame], value: float, text: str
) -> None:
    artefact, df = wine_with_sentinels
    tf = load_transforms(artefact)
    row = {c: df[c][0] for c in df.columns if c != "target"}
    assert np.array_equal(tf([{**row, "alcohol": value}]), tf([{**row, "alcohol": text}]))
    missing = tf([{**row, "alcohol": None}])
    assert not np.array_equal(tf([{**row, "alcohol": value}]), missing)


def test_fitting_reads_sentinels_written_as_text_as_missing(tmp_path: Path) -> None:
    """Train written with a float format: ``-999.000000`` must not enter the statistics."""
    df = real_table("wine").select("alcohol", "target")
    rng = np.random.default_rng(4)
    hole = rng.random(df.height) < 0.15
    texts = [("-999.000000" if h else f"{v:.6f}") for v, h in zip(df["alcohol"].to_list(), hole)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    df.with_columns(pl.Series("alcohol", texts)).write_csv(tmp_path / "a" / "train.csv")
    df.with_columns(pl.Series("alcohol", [None if h else v for v, h in zip(df["alcohol"].to_list(), hole)])) \
        .write_csv(tmp_path / "b" / "train.csv")  # fmt: skip
    as_text = fit(tmp_path / "a").table
    as_null = fit(tmp_path / "b").table
    assert as_text is not None and as_null is not None
    a, b = as_text.column("alcohol"), as_null.column("alcohol")
    assert (a.mean, a.median, a.min, a.count, a.missing_fraction) == pytest.approx(  # type: ignore[union-attr]
        (b.mean, b.median, b.min, b.count, b.missing_fraction))  # type: ignore[union-attr]
    assert a.min > 10  # type: ignore[union-attr]


def test_a_numeric_sentinel_in_a_categorical_column_is_missing_in_eager_and_torchscript(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from dataaudit.transforms import export_torchscript

    rng = np.random.default_rng(5)
    codes = rng.choice(["1", "2", "3", "-999"], 300, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    pl.DataFrame({"grade": codes, "x": rng.normal(0, 1, 300), "target": rng.choice(["a", "b"], 300)}) \
        .write_csv(tmp_path / "train.csv")  # fmt: skip
    fit(tmp_path, tmp_path / "p.json", categorical=["grade"])
    tf = load_transforms(tmp_path / "p.json")
    assert "grade=-999" not in tf.features
    export_torchscript(tmp_path / "p.json", tmp_path / "p.pt")
    module = torch.jit.load(str(tmp_path / "p.pt"))
    rows = pl.DataFrame({"grade": ["-999.0", "-999", None, "2", "2.0", "7", "-9.99e2", "1e", "--1"], "x": [0.5] * 9})
    eager = tf(rows)
    assert np.array_equal(eager[0], eager[2]) and np.array_equal(eager[1], eager[2]) and np.array_equal(eager[6], eager[2])
    assert not np.array_equal(eager[3], eager[2])
    numeric, categorical = tf.script_inputs(rows)
    assert torch.equal(module(numeric, categorical), torch.from_numpy(eager))


# -- validate: severities, split names, the label ---------------------------------------------------------
def _issue_case(tmp_path: Path) -> tuple[Path, Path]:
    """Train on real wine; new data with a 9-sd mean shift in one column and 22 % of another out of range."""
    df = real_table("wine")
    (tmp_path / "ds").mkdir()
    df.write_csv(tmp_path / "ds" / "train.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    rng = np.random.default_rng(0)
    proline = df["proline"].to_numpy().copy()
    proline[rng.choice(df.height, int(0.22 * df.height), replace=False)] = 5000
    new = df.with_columns(pl.col("alcohol") + 9 * df["alcohol"].std(ddof=0), pl.Series("proline", proline))
    new.write_csv(tmp_path / "new.csv")
    return tmp_path / "p.json", tmp_path / "new.csv"


def test_large_out_of_range_fractions_and_mean_shifts_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artefact, new = _issue_case(tmp_path)
    assert main(["validate", str(new), "--artefact", str(artefact), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    errors = {(f["check"], f["column"]) for f in report["findings"] if f["severity"] == "error"}
    assert ("distribution_shift", "alcohol") in errors
    assert ("serving_skew", "proline") in errors and ("serving_skew", "alcohol") in errors
    assert set(report["splits"]) == {"new"}
    assert all(f["split"] == "new" for f in report["findings"])
    assert report["label_column"] == "target"
    assert not [n for n in report.get("notes", []) if "no label column found" in n]


def test_the_console_names_the_new_data_new_and_not_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artefact, new = _issue_case(tmp_path)
    main(["validate", str(new), "--artefact", str(artefact)])
    out = capsys.readouterr().out
    assert "splits: new 178" in out and "label 'target'" in out
    assert "no label column found" not in out and "train row" not in out


def test_thresholds_of_the_error_severities_can_be_raised(tmp_path: Path) -> None:
    artefact, new = _issue_case(tmp_path)
    report = validate(new, artefact, shift_error=50.0, range_error=1.01)
    assert report.passed and len([f for f in report.findings if f.severity == Severity.WARNING]) >= 3


@pytest.mark.parametrize("name", ["wine", "breast_cancer", "iris", "digits"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_control_a_random_split_of_real_data_has_no_error(tmp_path: Path, name: str, seed: int) -> None:
    train, test = random_split(real_table(name), seed)
    (tmp_path / "ds").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    test.write_csv(tmp_path / "test.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    report = validate(tmp_path / "test.csv", tmp_path / "p.json")
    assert [f for f in report.findings if f.severity >= Severity.ERROR] == []
    assert report.passed


def test_control_a_planted_outlier_in_a_random_split_stays_a_warning(tmp_path: Path) -> None:
    train, test = random_split(real_table("breast_cancer"), 0)
    (tmp_path / "ds").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    test.with_row_index("i").with_columns(
        pl.when(pl.col("i") == 3).then(1e6).otherwise(pl.col("mean_area")).alias("mean_area")
    ).drop("i").write_csv(tmp_path / "test.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    [f] = [f for f in validate(tmp_path / "test.csv", tmp_path / "p.json").findings
           if f.column == "mean_area" and f.details.get("kind") == "out_of_range"]
    assert f.severity == Severity.WARNING and f.details["new_max"] == 1e6 and f.fraction < 0.05


def test_control_named_splits_keep_their_names(tmp_path: Path) -> None:
    train, test = random_split(real_table("wine"), 0)
    (tmp_path / "ds").mkdir()
    (tmp_path / "new").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    test.write_csv(tmp_path / "new" / "test.csv")
    train.write_csv(tmp_path / "new" / "train.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    assert set(validate(tmp_path / "new", tmp_path / "p.json").splits) == {"train", "test"}


# -- an artefact of another modality or dataset is refused -------------------------------------------------
@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("artefacts")
    out = {}
    for name in ("images_clean", "wine_uci", "breast_cancer_uci"):
        fit(SAMPLES / name, root / f"{name}.json")
        out[name] = root / f"{name}.json"
    return out


MISMATCHES = [
    ("images_clean", "tables_clean", "fitted on images"),
    ("wine_uci", "images_clean", "fitted on a table"),
    ("breast_cancer_uci", "tables_faulty", "fitted on another dataset"),
    ("wine_uci", "tables_clean", "fitted on another dataset"),
]


@pytest.mark.parametrize("command", ["validate", "scan"])
@pytest.mark.parametrize("artefact, data, why", MISMATCHES, ids=[
    "an image artefact on a table", "a table artefact on images", "breast cancer columns on wine",
    "wine columns on breast cancer"])  # fmt: skip
def test_an_artefact_of_another_modality_or_dataset_is_refused_in_one_line(
    artefacts: dict[str, Path], capsys: pytest.CaptureFixture[str], command: str, artefact: str, data: str, why: str
) -> None:
    rc = main([command, str(SAMPLES / data), "--artefact", str(artefacts[artefact]), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and why in err, err


@pytest.mark.parametrize("command", ["validate", "scan"])
@pytest.mark.parametrize("artefact, data", [
    ("wine_uci", "tables_faulty"), ("wine_uci", "wine_uci"), ("breast_cancer_uci", "tables_clean"),
    ("images_clean", "images_faulty"),
], ids=["wine on the faulty wine splits", "wine on itself", "breast cancer on its splits", "images on their faulty copy"])
def test_control_the_artefact_of_the_same_dataset_is_used(
    artefacts: dict[str, Path], capsys: pytest.CaptureFixture[str], command: str, artefact: str, data: str
) -> None:
    rc = main([command, str(SAMPLES / data), "--artefact", str(artefacts[artefact]), "-q"])
    assert rc in (0, 1), capsys.readouterr().err
    assert "error:" not in capsys.readouterr().err


def test_control_a_few_missing_columns_are_findings_not_a_refusal(tmp_path: Path, artefacts: dict[str, Path]) -> None:
    pl.read_csv(SAMPLES / "wine_uci" / "wine.csv").drop("alcohol", "ash").write_csv(tmp_path / "new.csv")
    report = validate(tmp_path / "new.csv", artefacts["wine_uci"])
    [f] = [f for f in report.findings if f.check == "schema_mismatch" and f.severity == Severity.ERROR]
    assert f.details["missing"] == ["alcohol", "ash"]


@pytest.mark.parametrize("every, severity", [(2, Severity.ERROR), (12, Severity.WARNING)],
                         ids=["half of a column missing is an error", "a twelfth missing stays a warning"])
def test_a_large_rise_of_missing_values_is_an_error(tmp_path: Path, every: int, severity: Severity) -> None:
    train, test = random_split(real_table("wine"), 1)
    (tmp_path / "ds").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    test.with_row_index("i").with_columns(
        pl.when(pl.col("i") % every == 0).then(None).otherwise(pl.col("magnesium")).alias("magnesium")
    ).drop("i").write_csv(tmp_path / "test.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="target")
    [f] = [f for f in validate(tmp_path / "test.csv", tmp_path / "p.json").findings
           if f.details.get("kind") == "missing_rate"]  # fmt: skip
    assert (f.column, f.severity) == ("magnesium", severity)


@pytest.mark.parametrize("every, severity", [(2, Severity.ERROR), (10, Severity.WARNING)],
                         ids=["half of the values unseen in train is an error", "a tenth unseen stays a warning"])
def test_a_large_share_of_unseen_categories_is_an_error(tmp_path: Path, every: int, severity: Severity) -> None:
    df = real_table("iris")
    train, test = random_split(df, 2)
    (tmp_path / "ds").mkdir()
    train.write_csv(tmp_path / "ds" / "train.csv")
    test.with_row_index("i").with_columns(
        pl.when(pl.col("i") % every == 0).then(pl.lit("class_unknown")).otherwise(pl.col("target")).alias("target")
    ).drop("i").write_csv(tmp_path / "test.csv")
    fit(tmp_path / "ds", tmp_path / "p.json", label="sepal_length_cm", categorical=["target"], task="regression")
    [f] = [f for f in validate(tmp_path / "test.csv", tmp_path / "p.json").findings
           if f.details.get("kind") == "unseen_categories"]  # fmt: skip
    assert (f.column, f.severity) == ("target", severity)
