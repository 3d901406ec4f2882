"""Great Expectations suites: inferred from train, validated on every split during the scan."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dataaudit.config import Config
from dataaudit.errors import UsageError
from dataaudit.sources.base import ROW, Batch, Dataset, SplitInfo

gx = pytest.importorskip("great_expectations", reason="needs the [gx] extra (great_expectations)")
pytestmark = pytest.mark.gx

COLUMNS = ["id", "island", "bill_length_mm", "body_mass_g", "sex", "species"]
ISLANDS = ["Biscoe", "Dream", "Torgersen"]
SPECIES = ["Adelie", "Gentoo", "Chinstrap"]


def _row(i: int) -> dict[str, Any]:
    """Row ``i``: every split draws from the same distribution (no shift), seeded per row."""
    rng = random.Random(i)
    return {
        "id": i,
        "island": rng.choice(ISLANDS),
        "bill_length_mm": round(rng.uniform(35.0, 55.0), 1),
        "body_mass_g": rng.randint(3000, 5500),
        "sex": rng.choice(["male", "female"]),
        "species": SPECIES[i % 3],
    }


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in COLUMNS})


def make_tables(root: Path, plant: str | None = None) -> Path:
    """train/val/test CSVs of penguin-like rows; ``plant`` puts one defect in test row 4."""
    root.mkdir(parents=True, exist_ok=True)
    train = [_row(i) for i in range(90)]
    val = [_row(i) for i in range(100, 120)]
    test = [_row(i) for i in range(200, 220)]
    if plant == "unseen category":
        test[4]["island"] = "Atlantis"
    elif plant == "out-of-range value":
        test[4]["body_mass_g"] = 25000
    elif plant == "null where train had none":
        test[4]["bill_length_mm"] = None
    elif plant == "unseen class":
        test[4]["species"] = "Emperor"
    elif plant == "non-number in a numeric column":
        test[4]["body_mass_g"] = "heavy"
    _write_csv(root / "train.csv", train)
    _write_csv(root / "val.csv", val)
    _write_csv(root / "test.csv", test)
    return root


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dataaudit.expectations.generate import generate_suite

    root = make_tables(tmp_path_factory.mktemp("suite") / "clean")
    suite = generate_suite(root, Config(), "penguins")
    path = root.parent / "penguins.json"
    path.write_text(json.dumps(suite, indent=2), encoding="utf-8")
    return path


def _by_type(suite: dict[str, Any], etype: str) -> list[dict[str, Any]]:
    """The suite's expectations of ``etype``: the portable ones and the dataaudit-only ones."""
    own = suite.get("meta", {}).get("dataaudit", {}).get("expectations", [])
    return [e for e in [*suite["expectations"], *own] if e["type"] == etype]


def validate(source: Path, suite: Path, config: Config | None = None) -> list[Any]:
    from dataaudit.expectations.validate import SuiteValidator
    from dataaudit.sources import open_source

    cfg = config or Config()
    ds = open_source(source, cfg)
    v = SuiteValidator(suite, ds, cfg)
    for batch in ds.batches():
        v.update(batch)
    return v.findings()


# -- generation ----------------------------------------------------------------------
def test_generated_suite_describes_train(suite_file: Path) -> None:
    suite = json.loads(suite_file.read_text())
    assert suite["name"] == "penguins"
    (cols,) = _by_type(suite, "expect_table_columns_to_match_set")
    assert cols["kwargs"]["column_set"] == COLUMNS
    assert cols["kwargs"].get("exact_match", True) is True
    not_null = {e["kwargs"]["column"] for e in _by_type(suite, "expect_column_values_to_not_be_null")}
    assert not_null == set(COLUMNS)
    sets = {e["kwargs"]["column"]: e for e in _by_type(suite, "expect_column_values_to_be_in_set")}
    assert sorted(sets["island"]["kwargs"]["value_set"]) == sorted(ISLANDS)
    assert sorted(sets["species"]["kwargs"]["value_set"]) == sorted(SPECIES)
    assert sets["species"]["meta"]["severity"] == "error", "an unseen class is an error"
    assert sets["island"]["meta"]["severity"] == "warning"
    ranges = {e["kwargs"]["column"]: e["kwargs"] for e in _by_type(suite, "expect_column_values_to_be_between")}
    train_mass = [_row(i)["body_mass_g"] for i in range(90)]
    lo, hi = min(train_mass), max(train_mass)
    assert ranges["body_mass_g"]["min_value"] < lo and ranges["body_mass_g"]["max_value"] > hi
    assert ranges["body_mass_g"]["max_value"] <= hi + 0.26 * (hi - lo) + 1, "margin is 25% of the span"
    assert "id" not in ranges, "id columns get no range: they grow"
    rows = _by_type(suite, "expect_table_row_count_to_be_between")
    assert {"min_value": 1} in [r["kwargs"] for r in rows]
    train_only = [r for r in rows if r["meta"].get("dataaudit", {}).get("splits") == ["train"]]
    assert train_only and train_only[0]["kwargs"]["min_value"] <= 90 <= train_only[0]["kwargs"]["max_value"]
    assert suite["meta"]["dataaudit"]["columns"]["body_mass_g"] == "integer"
    assert suite["meta"]["dataaudit"]["columns"]["island"] == "categorical"


def test_suite_json_round_trips_through_gx(suite_file: Path) -> None:
    d = json.loads(suite_file.read_text())
    suite = gx.ExpectationSuite(**d)
    again = suite.to_json_dict()
    assert [e["type"] for e in again["expectations"]] == [e["type"] for e in d["expectations"]]
    assert [e["kwargs"] for e in again["expectations"]] == [e["kwargs"] for e in d["expectations"]]


def test_generation_reads_only_train(tmp_path: Path) -> None:
    from dataaudit.expectations.generate import generate_suite

    root = make_tables(tmp_path / "t", plant="unseen category")
    suite = generate_suite(root, Config())
    (island,) = [e for e in _by_type(suite, "expect_column_values_to_be_in_set") if e["kwargs"]["column"] == "island"]
    assert "Atlantis" not in island["kwargs"]["value_set"]


def test_generated_suite_keeps_nullable_columns_nullable(tmp_path: Path) -> None:
    from dataaudit.expectations.generate import generate_suite

    root = tmp_path / "n"
    root.mkdir()
    rows = [_row(i) for i in range(30)]
    rows[3]["sex"] = None
    _write_csv(root / "train.csv", rows)
    suite = generate_suite(root, Config())
    not_null = {e["kwargs"]["column"] for e in _by_type(suite, "expect_column_values_to_not_be_null")}
    assert "sex" not in not_null and "island" in not_null


# -- validation ----------------------------------------------------------------------
def test_clean_val_and_test_produce_no_findings(suite_file: Path) -> None:
    assert validate(suite_file.parent / "clean", suite_file) == []


@pytest.mark.parametrize(
    ("plant", "etype", "column", "value"),
    [
        ("unseen category", "expect_column_values_to_be_in_set", "island", "Atlantis"),
        ("out-of-range value", "expect_column_values_to_be_between", "body_mass_g", 25000.0),
        ("null where train had none", "expect_column_values_to_not_be_null", "bill_length_mm", None),
        ("unseen class", "expect_column_values_to_be_in_set", "species", "Emperor"),
        ("non-number in a numeric column", "expect_column_values_to_not_be_null", "body_mass_g", None),
    ],
    ids=lambda v: str(v) if isinstance(v, str) and " " in v else "",
)
def test_a_planted_violation_in_test_is_reported_with_its_row(
    tmp_path: Path, suite_file: Path, plant: str, etype: str, column: str, value: Any
) -> None:
    root = make_tables(tmp_path / "faulty", plant=plant)
    findings = validate(root, suite_file)
    assert len(findings) == 1, [f.message for f in findings]
    (f,) = findings
    assert f.check == "expectation"
    assert (f.split, f.column, f.count) == ("test", column, 1)
    assert f.details["expectation"] == etype
    assert f.details["kwargs"]["column"] == column
    assert f.examples == [{"split": "test", "row": 4, "column": column, "value": value}]
    assert f.fraction == pytest.approx(1 / 20)
    assert etype in f.message and "test" in f.message


def test_severity_comes_from_the_expectation_meta(tmp_path: Path, suite_file: Path) -> None:
    from dataaudit.report.model import Severity

    warn = validate(make_tables(tmp_path / "a", plant="unseen category"), suite_file)
    err = validate(make_tables(tmp_path / "b", plant="unseen class"), suite_file)
    assert warn[0].severity == Severity.WARNING
    assert err[0].severity == Severity.ERROR


def _dataset(batches: list[Batch], splits: tuple[str, ...] = ("train", "test"), fmt: str = "parquet") -> Dataset:
    return Dataset(
        source="mem", root=None, modality="table",
        splits={s: SplitInfo(s, format=fmt) for s in splits}, label_column=None,
        read=lambda: iter(batches),
    )


def _batch(split: str, start: int, **cols: list[Any]) -> Batch:
    n = len(next(iter(cols.values())))
    return Batch(split, f"{split}.parquet", frame=pl.DataFrame({ROW: list(range(start, start + n)), **cols}))


def _suite(tmp_path: Path, *expectations: dict[str, Any]) -> Path:
    p = tmp_path / "suite.json"
    p.write_text(json.dumps({"name": "hand", "expectations": list(expectations)}), encoding="utf-8")
    return p


def _run(suite: Path, batches: list[Batch], **kw: Any) -> list[Any]:
    from dataaudit.expectations.validate import SuiteValidator

    ds = _dataset(batches, **kw)
    v = SuiteValidator(suite, ds, Config())
    for b in ds.batches():
        v.update(b)
    return v.findings()


def test_counts_and_examples_add_up_over_batches(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_column_values_to_be_between",
                              "kwargs": {"column": "x", "min_value": 0, "max_value": 10}})
    batches = [_batch("test", 0, x=[1, 50, 3]), _batch("test", 3, x=[4, 5, 99, 100])]
    (f,) = _run(suite, batches)
    assert f.count == 3 and f.details["element_count"] == 7
    assert [e["row"] for e in f.examples] == [1, 5, 6]


def test_mostly_is_applied_to_the_whole_split(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_column_values_to_be_between",
                              "kwargs": {"column": "x", "min_value": 0, "max_value": 10, "mostly": 0.8}})
    # 1 bad value in a batch of 2 is 50%, but 1 in the split's 10 is 10%: within mostly=0.8.
    batches = [_batch("test", 0, x=[1, 50]), _batch("test", 2, x=[1] * 8)]
    assert _run(suite, batches) == []
    batches = [_batch("test", 0, x=[1, 50]), _batch("test", 2, x=[1, 60, 70, 1])]
    (f,) = _run(suite, batches)
    assert f.count == 3


def test_whole_split_expectations_see_the_whole_split(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "k"}},
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "x", "max_value": 10}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 5}},
    )
    # Each batch alone is unique, has max <= 10 and at most 5 rows; the split is not.
    batches = [_batch("test", 0, k=["a", "b", "c"], x=[1, 2, 3]), _batch("test", 3, k=["c", "d", "e"], x=[4, 5, 11])]
    found = {f.details["expectation"]: f for f in _run(suite, batches, splits=("test",))}
    assert set(found) == {"expect_column_values_to_be_unique", "expect_column_max_to_be_between",
                          "expect_table_row_count_to_be_between"}
    assert sorted(e["row"] for e in found["expect_column_values_to_be_unique"].examples) == [2, 3]
    assert found["expect_column_max_to_be_between"].details["observed"][0]["observed_value"] == 11
    assert found["expect_table_row_count_to_be_between"].count == 6


def test_an_empty_split_breaks_the_row_count(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}})
    (f,) = _run(suite, [_batch("train", 0, x=[1, 2])], splits=("train", "test"))
    assert (f.split, f.count) == ("test", 0)


def test_meta_splits_limit_an_expectation_to_some_splits(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3},
                              "meta": {"dataaudit": {"splits": ["train"]}}})
    assert _run(suite, [_batch("train", 0, x=[1, 2, 3]), _batch("test", 0, x=[1])]) == []


def test_a_type_drift_in_a_typed_source_is_reported(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_column_values_to_be_in_type_list",
                              "kwargs": {"column": "x", "type_list": ["int64", "float64"]}})
    found = _run(suite, [_batch("train", 0, x=[1, 2]), _batch("test", 0, x=["1", "two"])])
    assert [(f.split, f.column) for f in found] == [("test", "x")]


def test_a_missing_column_is_reported_not_raised(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "gone"}})
    (f,) = _run(suite, [_batch("test", 0, x=[1])], splits=("test",))
    assert f.details["missing_columns"] == ["gone"] and f.split == "test"


def test_schema_expectations_name_the_file_and_the_columns(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"type": "expect_table_columns_to_match_set",
                              "kwargs": {"column_set": ["x", "y"], "exact_match": True}})
    (f,) = _run(suite, [_batch("train", 0, x=[1], y=[2]), _batch("test", 0, x=[1], z=[2])])
    assert f.split == "test" and f.examples == [{"split": "test", "path": "test.parquet"}]
    assert "'y'" in f.message and "'z'" in f.message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"name": "s"}', "not an ExpectationSuite"),
        ('{"name": "s", "expectations": [{"type": "expect_nonsense", "kwargs": {}}]}', "invalid expectation suite"),
        ('{"name": "s", "expectations": [{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "a"}}]}',
         "invalid expectation suite"),
        ('{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"},'
         ' "meta": {"severity": "fatal"}}]}', "meta.severity"),
    ],
    ids=["malformed JSON is a usage error", "a dict without expectations is a usage error",
         "an unknown expectation type is a usage error", "missing arguments are a usage error",
         "an unknown severity is a usage error"],
)
def test_a_bad_suite_is_a_usage_error(tmp_path: Path, content: str, needle: str) -> None:
    from dataaudit.expectations.validate import SuiteValidator

    p = tmp_path / "bad.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=needle):
        SuiteValidator(p, _dataset([]), Config())


def test_a_missing_suite_file_is_a_usage_error(tmp_path: Path) -> None:
    from dataaudit.expectations.validate import SuiteValidator

    with pytest.raises(UsageError, match="no such file"):
        SuiteValidator(tmp_path / "nope.json", _dataset([]), Config())


def test_gx_runs_offline_with_analytics_off(tmp_path: Path) -> None:
    from dataaudit.expectations.validate import SuiteValidator

    suite = _suite(tmp_path, {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "x", "regex": "^a"}})
    v = SuiteValidator(suite, _dataset([]), Config())
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"
    v._gx_batch_definition()
    assert v._context.config.analytics_enabled is False


def test_importing_the_package_does_not_import_gx() -> None:
    code = "import sys, dataaudit.expectations, dataaudit.commands.expectations; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- command line ----------------------------------------------------------------------
def test_cli_generates_a_suite_and_the_scan_gates_on_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    clean = make_tables(tmp_path / "clean")
    faulty = make_tables(tmp_path / "faulty", plant="null where train had none")
    suite = tmp_path / "expectations" / "penguins.json"
    assert main(["expectations", "generate", str(clean), "-o", str(suite)]) == 0
    assert "expectations on 6 columns" in capsys.readouterr().err
    gx.ExpectationSuite(**json.loads(suite.read_text()))
    assert main(["scan", str(clean), "--expectations", str(suite), "-q"]) == 0
    report = tmp_path / "r.json"
    assert main(["scan", str(faulty), "--expectations", str(suite), "-o", str(report), "-q"]) == 1
    findings = [f for f in json.loads(report.read_text())["findings"] if f["check"] == "expectation"]
    assert [(f["split"], f["column"], f["examples"][0]["row"]) for f in findings] == [("test", "bill_length_mm", 4)]


def test_cli_reports_a_bad_suite_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    clean = make_tables(tmp_path / "clean")
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    assert main(["scan", str(clean), "--expectations", str(bad), "-q"]) == 2
    err = capsys.readouterr().err
    assert "not an ExpectationSuite" in err and "Traceback" not in err


def test_text_sources_are_compared_in_one_representation_whatever_the_reader_inferred(tmp_path: Path) -> None:
    p = tmp_path / "suite.json"
    p.write_text(json.dumps({
        "name": "csv",
        "meta": {"dataaudit": {"columns": {"x": "numeric", "y": "categorical"}}},
        "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "max_value": 10}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "y", "value_set": ["a", "5"]}},
            {"type": "expect_column_values_to_be_in_type_list",
             "kwargs": {"column": "x", "type_list": ["float64", "int64"]}},
        ],
    }), encoding="utf-8")
    # One chunk read as text, the next with types inferred: the same values either way.
    batches = [_batch("test", 0, x=["1", " 2 "], y=["a", "a"]), _batch("test", 2, x=[3, 4], y=[5, 5])]
    assert _run(p, batches, splits=("test",), fmt="csv") == []
    batches.append(_batch("test", 4, x=["11"], y=["b"]))
    found = {f.details["expectation"]: f.examples for f in _run(p, batches, splits=("test",), fmt="csv")}
    assert found == {
        "expect_column_values_to_be_between": [{"split": "test", "row": 4, "column": "x", "value": 11.0}],
        "expect_column_values_to_be_in_set": [{"split": "test", "row": 4, "column": "y", "value": "b"}],
    }


def test_typed_sources_keep_their_types(tmp_path: Path) -> None:
    from dataaudit.expectations.generate import generate_suite

    root = tmp_path / "pq"
    root.mkdir()
    rng = random.Random(0)
    n = 60
    pl.DataFrame({"x": [rng.uniform(0, 1) for _ in range(n)], "label": [i % 3 for i in range(n)],
                  "blob": [bytes([i % 256]) * 4 for i in range(n)]}).write_parquet(root / "train.parquet")
    pl.DataFrame({"x": [0.5, 0.2, 0.7], "label": [0, 1, 7], "blob": [b"a", b"b", b"c"]}).write_parquet(root / "test.parquet")
    suite = generate_suite(root, Config(label="label"))
    (labels,) = [e for e in _by_type(suite, "expect_column_values_to_be_in_set") if e["kwargs"]["column"] == "label"]
    assert labels["kwargs"]["value_set"] == [0, 1, 2], "integer classes stay integers"
    assert not [e for e in suite["expectations"] if e["kwargs"].get("column") == "blob"
                and e["type"] != "expect_column_values_to_not_be_null"], "opaque columns get no value rules"
    path = tmp_path / "pq.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    (f,) = validate(root, path, Config(label="label"))
    assert (f.split, f.column, f.examples) == ("test", "label", [{"split": "test", "row": 2, "column": "label", "value": 7}])


def test_generating_twice_writes_the_same_file(tmp_path: Path) -> None:
    from dataaudit.expectations.generate import generate_suite

    root = make_tables(tmp_path / "t")
    first, second = (json.dumps(generate_suite(root, Config())) for _ in range(2))
    assert first == second


def test_small_batches_are_validated_in_chunks_without_mixing_schemas(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "max_value": 10}},
    )
    batches = [_batch("test", 10 * i, x=[1] * 9 + [99 if i % 10 == 0 else 2]) for i in range(50)]
    # A later file stores x as floats: validated apart, never concatenated with the integers.
    batches += [_batch("test", 500, x=[1.5, None])]
    found = {f.details["expectation"]: f for f in _run(suite, batches, splits=("test",))}
    assert found["expect_column_values_to_be_between"].count == 5
    assert [e["row"] for e in found["expect_column_values_to_be_between"].examples] == [9, 109, 209, 309, 409]
    assert found["expect_column_values_to_not_be_null"].examples == [{"split": "test", "row": 501, "column": "x", "value": None}]


def test_fifty_small_batches_cost_one_native_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit.expectations import native

    suite = _suite(tmp_path, {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}})
    calls: list[int] = []
    original = native.map_result

    def counting(etype: str, kwargs: dict[str, Any], frame: Any, cap: int, *rest: Any) -> Any:
        calls.append(frame.height)
        return original(etype, kwargs, frame, cap, *rest)

    monkeypatch.setattr(native, "map_result", counting)
    assert _run(suite, [_batch("test", 10 * i, x=[1] * 10) for i in range(50)], splits=("test",)) == []
    assert calls == [500]


def test_fifty_small_batches_cost_one_gx_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit.expectations import native
    from dataaudit.expectations.validate import SuiteValidator

    monkeypatch.setattr(native, "supported", lambda etype, kwargs: False)  # the GX path
    suite = _suite(tmp_path, {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}})
    calls: list[int] = []
    original = SuiteValidator._validate

    def counting(self: SuiteValidator, split: str, entries: list[Any], pdf: Any, path: str | None) -> None:
        calls.append(len(pdf))
        original(self, split, entries, pdf, path)

    monkeypatch.setattr(SuiteValidator, "_validate", counting)
    assert _run(suite, [_batch("test", 10 * i, x=[1] * 10) for i in range(50)], splits=("test",)) == []
    assert calls == [500]
