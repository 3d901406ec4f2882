"""A baseline is a ratchet: a known finding that grows fails the gate again (issue 13, item 5).

The case from the issue: a baseline recorded while 3 test rows (7.9%) were copies of train rows
accepted the same check when 34 rows (49%) were, and the scan exited 0.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

from dataaudit.baseline import apply_baseline, write_baseline
from dataaudit.cli import main
from dataaudit.report.model import Finding, Report, Severity


def _rows(n: int, start: int) -> list[list[Any]]:
    out = []
    for i in range(n):
        rng = random.Random(start + i)
        out.append([rng.randint(18, 80), rng.randint(20_000, 90_000), round(rng.uniform(150, 200), 1),
                    rng.choice(["a", "b"])])
    return out


def leaky(root: Path, leaked: int, test_rows: int) -> Path:
    """120 train rows; a test split of ``test_rows`` rows, ``leaked`` of them copied from train."""
    root.mkdir(parents=True, exist_ok=True)
    train = _rows(120, 0)
    test = train[:leaked] + _rows(test_rows - leaked, 5000)
    for name, rows in (("train", train), ("test", test)):
        with open(root / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["age", "income", "height", "label"])
            w.writerows(rows)
    return root


def scan_json(data: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["scan", str(data), "-o", str(out), "-q", *args])
    return code, json.loads(out.read_text())


def test_a_leak_that_grows_from_3_to_34_rows_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, base = leaky(tmp_path / "d", 3, 38), tmp_path / "baseline.json"
    assert main(["baseline", str(data), "-o", str(base), "-q"]) == 0
    assert main(["scan", str(data), "--baseline", str(base), "-q"]) == 0, "the recorded leak is accepted"

    leaky(tmp_path / "d", 34, 69)
    code, doc = scan_json(data, tmp_path / "r.json", "--baseline", str(base))
    assert code == 1
    (f,) = [f for f in doc["findings"] if f["check"] == "split_overlap"]
    assert (f["count"], round(f["fraction"], 3)) == (34, 0.493)
    then = f["details"]["baseline"]
    assert (then["count"], round(then["fraction"], 3), then["grew"]) == (3, 0.079, ["fraction"])
    assert [g["check"] for g in doc["detected"]["baseline"]["grown"]] == ["split_overlap"]
    assert doc["detected"]["baseline"]["new"] == 0

    capsys.readouterr()
    assert main(["scan", str(data), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "grew since the baseline: 3 (7.9%) error -> 34 (49.3%) error" in out
    assert "1 grown beyond the baseline" in out


def test_the_same_leak_and_a_smaller_one_stay_accepted(tmp_path: Path) -> None:
    data, base = leaky(tmp_path / "d", 3, 38), tmp_path / "baseline.json"
    assert main(["baseline", str(data), "-o", str(base), "-q"]) == 0
    for leaked in (3, 2):
        leaky(tmp_path / "d", leaked, 38)
        code, doc = scan_json(data, tmp_path / "r.json", "--baseline", str(base))
        assert code == 0 and doc["detected"]["baseline"]["grown"] == [], leaked


def test_a_dataset_that_doubles_with_the_same_share_is_not_growth(tmp_path: Path) -> None:
    data, base = leaky(tmp_path / "d", 3, 38), tmp_path / "baseline.json"
    assert main(["baseline", str(data), "-o", str(base), "-q"]) == 0
    leaky(tmp_path / "d", 6, 76)  # twice the rows, twice the copies: 7.9% still
    code, doc = scan_json(data, tmp_path / "r.json", "--baseline", str(base))
    assert code == 0
    (a,) = doc["detected"]["baseline"]["accepted"]
    assert (a["baseline_count"], a["count"]) == (3, 6)


@pytest.mark.parametrize(("how", "expect"), [
    (["--baseline-tolerance", "0.5"], 0), (["--baseline-tolerance", "0.1"], 1), ([], 1),
], ids=["growth within a 50% tolerance passes", "growth beyond a 10% tolerance fails",
        "the default tolerance is strict"])
def test_the_tolerance_is_a_flag(tmp_path: Path, how: list[str], expect: int) -> None:
    data, base = leaky(tmp_path / "d", 3, 38), tmp_path / "baseline.json"
    assert main(["baseline", str(data), "-o", str(base), "-q"]) == 0
    leaky(tmp_path / "d", 4, 38)  # 7.9% -> 10.5%: a third more
    assert main(["scan", str(data), "--baseline", str(base), "-q", *how]) == expect


def test_the_tolerance_is_a_configuration_setting(tmp_path: Path) -> None:
    data, base = leaky(tmp_path / "d", 3, 38), tmp_path / "baseline.json"
    assert main(["baseline", str(data), "-o", str(base), "-q"]) == 0
    leaky(tmp_path / "d", 4, 38)
    cfg = tmp_path / "dataaudit.toml"
    cfg.write_text("[tool.dataaudit]\nbaseline_tolerance = 0.5\n", encoding="utf-8")
    assert main(["scan", str(data), "--baseline", str(base), "--config", str(cfg), "-q"]) == 0
    cfg.write_text('[tool.dataaudit]\nbaseline_tolerance = "lots"\n', encoding="utf-8")
    assert main(["scan", str(data), "--baseline", str(base), "--config", str(cfg), "-q"]) == 2
    assert main(["scan", str(data), "--baseline", str(base), "--baseline-tolerance", "-1", "-q"]) == 2


# -- the rule itself, on findings --------------------------------------------------------------------------
def _report(*findings: Finding) -> Report:
    return Report(source="data", modality="table", splits={"test": {"rows": 100}}, findings=list(findings))


def test_a_severity_that_rises_is_growth(tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    warn = Finding("class_imbalance", Severity.WARNING, "skewed", split="train", column="y", count=1)
    write_baseline(_report(warn), base)
    out = apply_baseline(_report(Finding("class_imbalance", Severity.ERROR, "skewed", split="train", column="y",
                                         count=1)), base)
    assert not out.passed and out.findings[0].details["baseline"]["grew"] == ["severity"]
    assert apply_baseline(_report(warn), base).passed


def test_a_shift_measured_on_more_rows_is_not_growth(tmp_path: Path) -> None:
    # distribution_shift counts the values compared: a larger test split is not a larger problem
    base = tmp_path / "b.json"

    def shift(n: int) -> Finding:
        return Finding("distribution_shift", Severity.WARNING, "x moved", split="test", column="x", count=n,
                       details={"test": "ks_2samp"})

    write_baseline(_report(shift(100)), base)
    assert apply_baseline(_report(shift(400)), base).passed


def test_a_baseline_without_fractions_compares_counts(tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    f = Finding("missing_values", Severity.ERROR, "m", split="test", column="c", count=40, fraction=0.4)
    write_baseline(_report(f), base)
    doc = json.loads(base.read_text())
    for e in doc["findings"]:
        del e["fraction"]  # written by a version that did not record fractions
    base.write_text(json.dumps(doc), encoding="utf-8")
    assert apply_baseline(_report(f), base).passed
    more = Finding("missing_values", Severity.ERROR, "m", split="test", column="c", count=41, fraction=0.41)
    assert apply_baseline(_report(more), base).findings[0].details["baseline"]["grew"] == ["count"]
