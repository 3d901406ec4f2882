"""The scan command as a CI gate: exit codes, one-line errors, report files and configuration."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_table
from tabledata import clean_splits

from dataaudit.cli import main

Splits = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def base() -> Splits:
    return clean_splits(500, seed=2)


def write(root: Path, splits: Splits) -> Path:
    for name, rows in splits.items():
        write_table(root, f"{name}.csv", rows)
    return root


@pytest.fixture
def clean(tmp_path: Path, base: Splits) -> Path:
    return write(tmp_path / "clean", copy.deepcopy(base))


@pytest.fixture
def faulty(tmp_path: Path, base: Splits) -> Path:
    """One leaked test row (error), one constant column (warning)."""
    sp = copy.deepcopy(base)
    sp["test"].insert(1, dict(sp["train"][0]))
    for rows in sp.values():
        for r in rows:
            r["colony"] = "Palmer"
    return write(tmp_path / "faulty", sp)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["scan", *argv, "--quiet"] if "--format" not in argv and "--output" not in argv and "-o" not in argv
                else ["scan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("usage:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("dataaudit: error:"), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], err


def test_clean_data_exits_0(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(clean)], capsys)
    assert code == 0, out + err


def test_faulty_data_exits_1(faulty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(faulty)], capsys)
    assert code == 1
    assert "Traceback" not in out + err


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on_sets_the_gate(faulty: Path, capsys: pytest.CaptureFixture[str], fail_on: str, expected: int) -> None:
    assert run([str(faulty), "--fail-on", fail_on], capsys)[0] == expected


def test_fail_on_warning_fails_on_a_warning_only(tmp_path: Path, base: Splits, capsys: pytest.CaptureFixture[str]) -> None:
    sp = copy.deepcopy(base)
    for rows in sp.values():
        for r in rows:
            r["colony"] = "Palmer"  # constant column: a warning
    root = write(tmp_path, sp)
    assert run([str(root)], capsys)[0] == 0
    assert run([str(root), "--fail-on", "warning"], capsys)[0] == 1


def test_ignore_and_severity_change_the_verdict(faulty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(faulty), "--ignore", "split_overlap"], capsys)[0] == 0
    assert run([str(faulty), "--severity", "split_overlap=info"], capsys)[0] == 0
    assert run([str(faulty), "--severity", "constant_column=error", "--ignore", "split_overlap"], capsys)[0] == 1


def test_json_report_on_stdout(faulty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(faulty), "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["passed"] is False
    leak = [f for f in doc["findings"] if f["check"] == "split_overlap"]
    assert leak[0]["examples"][0] == {"split": "test", "row": 1, "duplicate_of": {"split": "train", "row": 0}}
    assert doc["detected"]["layout"] == "split_files" and doc["label_column"] == "species"


def test_output_writes_json_and_max_examples_caps_examples(faulty: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "reports" / "scan.json"
    code, out, err = run([str(faulty), "--output", str(out_path), "--max-examples", "1", "--quiet"], capsys)
    assert code == 1 and out_path.is_file()
    doc = json.loads(out_path.read_text())
    assert all(len(f["examples"]) <= 1 for f in doc["findings"])
    code, _, _ = run([str(faulty), "--output", str(out_path), "--max-examples", "0", "--quiet"], capsys)
    assert all(f["examples"] == [] for f in json.loads(out_path.read_text())["findings"])


def test_set_overrides_a_threshold(tmp_path: Path, base: Splits, capsys: pytest.CaptureFixture[str]) -> None:
    sp = copy.deepcopy(base)
    for r in sp["test"]:
        r["flipper_length_mm"] = round(r["flipper_length_mm"] + 15, 1)
    root = write(tmp_path, sp)
    out_path = tmp_path / "r.json"
    run([str(root), "-o", str(out_path), "-q"], capsys)
    assert [f["column"] for f in json.loads(out_path.read_text())["findings"]
            if f["check"] == "distribution_shift"] == ["flipper_length_mm"]
    run([str(root), "-o", str(out_path), "-q", "--set", "distribution_shift.ks_warning=0.95"], capsys)
    assert not [f for f in json.loads(out_path.read_text())["findings"] if f["check"] == "distribution_shift"]


def test_pyproject_of_the_dataset_configures_the_scan_when_trusted(faulty: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (faulty / "pyproject.toml").write_text(
        '[tool.dataaudit]\nignore = ["split_overlap"]\n[tool.dataaudit.severity]\nconstant_column = "error"\n')
    code, out, _ = run([str(faulty), "--format", "json", "--trust-dataset-config"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert {f["check"] for f in doc["findings"]} == {"constant_column"}
    assert doc["findings"][0]["severity"] == "error"


def test_config_file_option(faulty: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[tool.dataaudit]\nfail_on = "never"\n')
    assert run([str(faulty), "--config", str(cfg)], capsys)[0] == 0
    cfg.write_text('[tool.dataaudit.checks.split_overlap]\nenabled = false\n')
    assert run([str(faulty), "--config", str(cfg)], capsys)[0] == 0


@pytest.mark.parametrize(("argv", "needles"), [
    (["--ignore", "no_such_check"], ["unknown check id 'no_such_check'"]),
    (["--severity", "no_such_check=error"], ["unknown check id"]),
    (["--set", "duplicates.nope=1"], ["unknown parameter duplicates.nope"]),
    (["--set", "nope.x=1"], ["unknown check id 'nope'"]),
    (["--set", "duplicates.warning_fraction=abc"], ["must be a number"]),
    (["--set", "garbage"], ["expected CHECK.PARAM=VALUE"]),
    (["--severity", "duplicates=fatal"], ["unknown severity"]),
    (["--label", "nope"], ["--label 'nope' not found"]),
    (["--config", "missing.toml"], ["no such file"]),
    (["--max-examples", "-1"], ["--max-examples"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("-") else "")
def test_bad_arguments_exit_2_with_one_line(clean: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                           needles: list[str]) -> None:
    code, out, err = run([str(clean), *argv], capsys)
    assert code == 2
    assert_one_line_error(err, *needles)


def test_bad_config_file_exits_2(clean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[tool.dataaudit\nfail_on = ")
    code, _, err = run([str(clean), "--config", str(cfg)], capsys)
    assert code == 2 and "not valid TOML" in err
    cfg.write_text('[tool.dataaudit]\ntypo_key = 1\n')
    code, _, err = run([str(clean), "--config", str(cfg)], capsys)
    assert code == 2
    assert_one_line_error(err, "unknown key 'typo_key'")


def test_nonexistent_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(tmp_path / "nope")], capsys)
    assert code == 2
    assert_one_line_error(err, "no such file or folder")


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["scan", ".", "--fail-on", "sometimes"])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bad_data_never_tracebacks_through_the_real_entry_point(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_bytes(bytes(range(256)) * 50)
    (tmp_path / "test.csv").write_bytes(b"")
    (tmp_path / "val.csv").write_bytes("a,b\n1,2\n3,\"4\n5;6\n".encode("latin-1"))
    proc = subprocess.run([sys.executable, "-m", "dataaudit", "scan", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert {"corrupt_file", "empty_split", "delimiter_corruption"} <= {f["check"] for f in doc["findings"]}
    missing = subprocess.run([sys.executable, "-m", "dataaudit", "scan", str(tmp_path / "absent")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_pyproject_of_the_working_directory_configures_the_scan(faulty: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.dataaudit]\nfail_on = "never"\n')
    monkeypatch.chdir(work)
    assert run([str(faulty)], capsys)[0] == 0
    # the dataset's own pyproject.toml is read only when trusted, and then wins over the working directory's
    (faulty / "pyproject.toml").write_text('[tool.dataaudit]\nfail_on = "error"\n')
    assert run([str(faulty)], capsys)[0] == 0
    assert run([str(faulty), "--trust-dataset-config"], capsys)[0] == 1


def test_the_console_script_returns_mains_exit_code_and_spares_the_exit_a_collection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from dataaudit import cli

    frozen: list[bool] = []
    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    assert cli.entry() == 3 and frozen == [True]
