"""What the scan prints: colour as NO_COLOR/--no-color/FORCE_COLOR say, -q exactly the verdict line,
--max-examples on the console, a hint per finding, no library warnings, no pointer to a JSON
report that was not written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAULTY = Path(__file__).resolve().parents[1] / "sample_data" / "tables_faulty"
ANSI = "\x1b["


def _scan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return subprocess.run([sys.executable, "-m", "dataaudit", "scan", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=300)


@pytest.mark.parametrize("env, flags, coloured", [
    pytest.param({"FORCE_COLOR": "1"}, [], True, id="FORCE_COLOR colours a pipe"),
    pytest.param({}, [], False, id="a pipe is plain by default"),
    pytest.param({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False, id="NO_COLOR wins over FORCE_COLOR"),
    pytest.param({"FORCE_COLOR": "1"}, ["--no-color"], False, id="--no-color wins over FORCE_COLOR"),
])
def test_colour_follows_the_environment_and_the_flag(env: dict[str, str], flags: list[str], coloured: bool) -> None:
    proc = _scan(str(FAULTY), *flags, env=env)
    assert proc.returncode == 1, proc.stderr
    assert (ANSI in proc.stdout) is coloured


def test_quiet_with_an_output_file_prints_exactly_the_verdict_line(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = _scan(str(FAULTY), "-q", "--output", str(out))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"FAILED: {json.loads(out.read_text())['summary']['errors']} error(s), "
                                        f"{json.loads(out.read_text())['summary']['warnings']} warning(s), "
                                        f"{json.loads(out.read_text())['summary']['infos']} info in {FAULTY}"]
    assert proc.stderr == ""


def test_quiet_json_on_stdout_keeps_stdout_json_and_says_the_verdict_on_stderr() -> None:
    proc = _scan(str(FAULTY), "-q", "--format", "json")
    assert json.loads(proc.stdout)["summary"]["errors"] >= 1
    assert proc.stderr.startswith("FAILED:") and len(proc.stderr.splitlines()) == 1


def test_quiet_on_the_console_is_one_line() -> None:
    proc = _scan(str(FAULTY), "-q")
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.startswith("FAILED:")


def test_max_examples_applies_to_the_console_and_no_json_report_is_promised() -> None:
    one = _scan(str(FAULTY), "--max-examples", "1").stdout
    five = _scan(str(FAULTY), "--max-examples", "5").stdout
    default = _scan(str(FAULTY)).stdout
    assert one.count("\n      - ") < default.count("\n      - ") < five.count("\n      - ")
    assert "in the JSON report" not in default
    assert "more example(s) (--max-examples N shows more" in default


def test_each_warning_or_error_carries_a_hint_that_names_explain() -> None:
    out = _scan(str(FAULTY)).stdout
    assert "hint: Fix or drop the records at the lines given" in out
    assert "(dataaudit explain delimiter_corruption)" in out


def test_broken_csvs_print_no_library_warning(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text('a,b,label\n1,2,x\n3,4,y,5\n"5,6,x\n7;8;y\n9,10\n11,"12",x\n')
    (tmp_path / "test.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    proc = subprocess.run([sys.executable, "-W", "always", "-m", "dataaudit", "scan", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Warning" not in proc.stderr and proc.stderr.strip() == "", proc.stderr


def test_a_csv_polars_calls_malformed_prints_no_warning(tmp_path: Path) -> None:
    (tmp_path / "test.csv").write_text('a,b\n1,2\n3\n4,"5\n')
    (tmp_path / "val.csv").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-W", "always", "-m", "dataaudit", "scan", str(tmp_path), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr == "", proc.stderr
