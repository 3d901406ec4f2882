"""Baselines: known findings stop failing the gate, new ones still fail it."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dataaudit.baseline import apply_baseline, fingerprint, read_baseline, write_baseline
from dataaudit.errors import UsageError
from dataaudit.report.model import Finding, Report, Severity

from dataaudit.report.model import SCHEMA_PATH as SCHEMA  # noqa: E402  (the packaged schema)


def _finding(check: str = "missing_values", split: str | None = "test", column: str | None = "income",
             count: int = 40, **details: Any) -> Finding:
    return Finding(check, Severity.ERROR, f"column '{column}' in {split}: {count} values missing",
                   split=split, column=column, count=count, fraction=count / 100,
                   details={"nulls": count, "warning_fraction": 0.01, **details})


def _report(*findings: Finding) -> Report:
    return Report(source="data", modality="table", splits={"train": {"rows": 100}, "test": {"rows": 100}},
                  findings=list(findings))


@pytest.mark.parametrize(
    "changed",
    [_finding(count=42), _finding(count=40, warning_fraction=0.5)],
    ids=["a count that drifts keeps the fingerprint", "a figure in details keeps the fingerprint"],
)
def test_fingerprints_ignore_figures(changed: Finding) -> None:
    assert fingerprint(changed) == fingerprint(_finding())


@pytest.mark.parametrize(
    "other",
    [_finding(split="val"), _finding(column="age"), _finding(check="constant_column"),
     _finding(kind="sentinel"), _finding(classes=["Emperor"])],
    ids=["another split is another finding", "another column is another finding",
         "another check is another finding", "another kind in details is another finding",
         "other classes are another finding"],
)
def test_fingerprints_keep_what_the_finding_is_about(other: Finding) -> None:
    assert fingerprint(other) != fingerprint(_finding())


def test_expectation_fingerprints_follow_the_rule_not_the_values() -> None:
    def exp(value_set: list[str], seen: str, count: int) -> Finding:
        return Finding("expectation", Severity.WARNING, f"{count} rows outside the set (e.g. {seen!r})",
                       split="test", column="island", count=count,
                       details={"expectation": "expect_column_values_to_be_in_set", "suite": "s",
                                "kwargs": {"column": "island", "value_set": value_set}})

    assert fingerprint(exp(["a", "b"], "x", 1)) == fingerprint(exp(["a", "b"], "y", 3))
    assert fingerprint(exp(["a", "b"], "x", 1)) != fingerprint(exp(["a", "b", "c"], "x", 1))


def test_a_baselined_finding_no_longer_fails_the_gate_and_a_new_one_does(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    write_baseline(_report(_finding()), base)

    again = apply_baseline(_report(_finding(count=37)), base)
    assert again.passed and again.findings == []
    (accepted,) = again.detected["baseline"]["accepted"]
    assert (accepted["check"], accepted["split"], accepted["column"]) == ("missing_values", "test", "income")
    assert (accepted["count"], accepted["baseline_count"]) == (37, 40)
    assert any("1 known finding(s) accepted" in n for n in again.notes)

    new = _finding(column="age")
    mixed = apply_baseline(_report(_finding(), new), base)
    assert not mixed.passed
    assert mixed.findings == [new]
    assert mixed.detected["baseline"]["new"] == 1


def test_equal_fingerprints_are_matched_one_for_one(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    write_baseline(_report(_finding()), base)
    twice = apply_baseline(_report(_finding(), _finding(count=7)), base)
    assert len(twice.findings) == 1 and not twice.passed


def test_findings_that_went_away_are_listed_as_resolved(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    write_baseline(_report(_finding(), _finding(column="age")), base)
    out = apply_baseline(_report(_finding()), base)
    assert [r["column"] for r in out.detected["baseline"]["resolved"]] == ["age"]


def test_the_baseline_file_is_stable_and_readable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_baseline(_report(_finding(), _finding(column="age")), a)
    write_baseline(_report(_finding(column="age"), _finding()), b)
    assert a.read_text() == b.read_text(), "order of findings does not matter"
    entries = read_baseline(a)
    assert {e["column"] for e in entries} == {"income", "age"}
    assert all(len(e["fingerprint"]) == 16 for e in entries)


def test_an_applied_report_still_matches_the_contract(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    write_baseline(_report(_finding()), base)
    doc = json.loads(apply_baseline(_report(_finding(), _finding(column="age")), base).to_json())
    if SCHEMA.is_file():
        jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["summary"]["errors"] == 1 and doc["detected"]["baseline"]["accepted"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), ("{", "not valid JSON"), ('{"findings": []}', "not a dataaudit baseline"),
     ('{"format": "dataaudit-baseline", "version": 99, "findings": []}', "version")],
    ids=["a missing file is a usage error", "malformed JSON is a usage error",
         "a foreign file is a usage error", "an unknown version is a usage error"],
)
def test_a_bad_baseline_is_a_usage_error(tmp_path: Path, content: str | None, needle: str) -> None:
    p = tmp_path / "b.json"
    if content is not None:
        p.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=needle):
        apply_baseline(_report(_finding()), p)


# -- end to end through the command line ------------------------------------------------
def _tables(root: Path, blanks: dict[str, range] | None = None) -> Path:
    """train.csv and test.csv; ``blanks`` empties those test rows of those columns."""
    root.mkdir(parents=True, exist_ok=True)
    columns = ["age", "income", "height", "label"]
    for split, n, start in (("train", 120, 0), ("test", 40, 1000)):
        with open(root / f"{split}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for i in range(n):
                rng = random.Random(start + i)
                row: list[Any] = [rng.randint(18, 80), rng.randint(20_000, 90_000),
                                  round(rng.uniform(150, 200), 1), rng.choice(["a", "b"])]
                for col, rows in (blanks or {}).items():
                    if split == "test" and i in rows:
                        row[columns.index(col)] = ""
                w.writerow(row)
    return root


def test_the_gate_fails_only_on_new_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    data = _tables(tmp_path / "d", {"income": range(8)})
    base = tmp_path / "dataaudit-baseline.json"
    gate = ["--fail-on", "warning", "-q"]
    assert main(["scan", str(data), *gate]) == 1, "the known problem fails the gate"
    assert main(["baseline", str(data), "-o", str(base), *gate]) == 0
    assert "wrote a baseline of" in capsys.readouterr().err
    assert main(["scan", str(data), "--baseline", str(base), *gate]) == 0

    _tables(tmp_path / "d", {"income": range(7)})  # the same problem, one row better
    assert main(["scan", str(data), "--baseline", str(base), *gate]) == 0
    _tables(tmp_path / "d", {"income": range(9)})  # one row worse: the baseline is a ratchet
    assert main(["scan", str(data), "--baseline", str(base), *gate]) == 1
    assert main(["scan", str(data), "--baseline", str(base), "--baseline-tolerance", "0.2", *gate]) == 0

    _tables(tmp_path / "d", {"income": range(8), "height": range(8)})  # as recorded, and a new one
    report = tmp_path / "r.json"
    assert main(["scan", str(data), "--baseline", str(base), "-o", str(report), *gate]) == 1
    doc = json.loads(report.read_text())
    assert [(f["check"], f["column"]) for f in doc["findings"]] == [
        ("missing_values", "height")
    ]
    assert [(a["check"], a["column"]) for a in doc["detected"]["baseline"]["accepted"]] == [
        ("missing_values", "income")
    ]


def test_a_bad_baseline_exits_2_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit.cli import main

    data = _tables(tmp_path / "d")
    assert main(["scan", str(data), "--baseline", str(tmp_path / "missing.json"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err


def test_the_baseline_file_is_readable_by_others(tmp_path: Path) -> None:
    import os
    import stat

    base = tmp_path / "baseline.json"
    write_baseline(_report(_finding()), base)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(base.stat().st_mode) == 0o666 & ~mask
    assert not list(tmp_path.glob(".baseline.json.*")), "no temporary file left behind"


# -- the CI integrations shipped with the repository -------------------------------------
REPO = Path(__file__).resolve().parent.parent


def test_the_example_workflow_gates_datasets_that_exist() -> None:
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "dataaudit-gate.yml").read_text())
    job = wf["jobs"]["gate"]
    entries = job["strategy"]["matrix"]["include"]
    assert {e["expect"] for e in entries} <= {"pass", "fail"}
    for e in entries:
        if (REPO / "sample_data").is_dir():
            assert (REPO / e["path"]).exists(), e["path"]
        if e["suite"]:
            assert (REPO / e["suite"]).is_file(), e["suite"]
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "dataaudit scan" in script and "--baseline" in script and "--expectations" in script


def test_the_pre_commit_hook_runs_the_scan_command(tmp_path: Path) -> None:
    import re
    import shlex

    from dataaudit.cli import main

    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "dataaudit" and hook["pass_filenames"] is False
    assert re.search(hook["files"], "data/train.csv") and not re.search(hook["files"], "src/model.py")
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["dataaudit", "scan"]
    data = _tables(tmp_path / "d")
    assert main([*entry[1:], str(data)]) == 0
    _tables(tmp_path / "d", {"income": range(30)})
    assert main([*entry[1:], str(data)]) == 1


def test_findings_sharing_a_fingerprint_are_paired_with_their_own_record(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    skew = Finding("class_imbalance", Severity.WARNING, "train labels are skewed", split="train", column="y", count=1)
    few = Finding("class_imbalance", Severity.WARNING, "2 classes have few items", split="train", column="y", count=2)
    write_baseline(_report(skew, few), base)
    out = apply_baseline(_report(few, skew), base)
    pairs = {a["message"]: (a["baseline_count"], a["count"]) for a in out.detected["baseline"]["accepted"]}
    assert pairs == {"train labels are skewed": (1, 1), "2 classes have few items": (2, 2)}
