"""Probes of issue 14 on the command line: the gate cannot be switched off by the data it
checks, a closed pipe keeps the verdict, workers and memory are bounded, terminal controls
are escaped, ``--output`` writes through what is at the path, and bad configuration values
are exit 2 naming the key. Each probe failed before the fix; each has a quiet control."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_table

from dataaudit.cli import main
from dataaudit.report.model import SCHEMA_PATH

REPO = Path(__file__).resolve().parents[1]
Rows = list[dict[str, Any]]


def wine_splits(seed: int = 0) -> dict[str, Rows]:
    """The real wine data (sklearn, offline), split 70/15/15 without overlap; label column ``label``."""
    import numpy as np
    from sklearn.datasets import load_wine

    data = load_wine()
    rows = [{**{name: float(v) for name, v in zip(data.feature_names, x)}, "label": f"cultivar_{int(y)}"}
            for x, y in zip(data.data, data.target)]
    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    a, b = int(len(rows) * 0.7), int(len(rows) * 0.85)
    return {"train": rows[:a], "val": rows[a:b], "test": rows[b:]}


def write_splits(root: Path, splits: dict[str, Rows]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        write_table(root, f"{name}.csv", rows)
    return root


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return write_splits(tmp_path / "clean", wine_splits())


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """Five train rows copied into test: split_overlap at error severity, nothing else loud."""
    sp = wine_splits()
    sp["test"] += [dict(r) for r in sp["train"][:5]]
    return write_splits(tmp_path / "leaky", sp)


def cli(*argv: str, cwd: Path | None = None, prefix: tuple[str, ...] = (), timeout: float = 300,
        **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The real console script (``python -m dataaudit``) with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("DATAAUDIT_DEBUG", None)
    return subprocess.run([*prefix, sys.executable, "-m", "dataaudit", *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, **kwargs)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("dataaudit:")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("dataaudit: error:"), stderr
    return lines[0]


# --- 1. trust boundary ---------------------------------------------------------------------

WEAKENING = {
    "fail_on never": 'fail_on = "never"\n',
    "every check ignored": "ignore = [" + ", ".join(f'"{c}"' for c in (
        "split_overlap", "duplicates", "missing_values", "distribution_shift", "label_shift")) + "]\n",
    "severity lowered to info": '[severity]\nsplit_overlap = "info"\n',
    "check disabled in its table": "[checks.split_overlap]\nenabled = false\n",
    "threshold raised": "[checks.split_overlap]\nerror_fraction = 1.0\nerror_min_count = 100000\n",
    "severity set in a check table": '[checks.split_overlap]\nseverity = "info"\n',
}


@pytest.mark.parametrize("table", list(WEAKENING.values()), ids=[f"a dataset config with {k} cannot pass "
                                                                 "a leaky dataset" for k in WEAKENING])
def test_a_config_inside_the_dataset_cannot_weaken_the_gate(leaky: Path, tmp_path: Path, table: str) -> None:
    (leaky / "pyproject.toml").write_text(_table(table.rstrip("\n")))
    work = tmp_path / "ci"
    work.mkdir()
    proc = cli("scan", str(leaky), "--fail-on", "error", "--format", "json", cwd=work)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert any(f["check"] == "split_overlap" and f["severity"] == "error" for f in doc["findings"])
    assert any("ignored the dataset's own configuration" in n for n in doc["notes"])
    assert "ignored the dataset's own configuration" in proc.stderr and "--trust-dataset-config" in proc.stderr
    own = [s for s in doc["config"]["sources"] if s["origin"] == "dataset"]
    assert own and own[0]["used"] is False and own[0]["keys"]
    # trusted explicitly, it applies, and says so
    trusted = cli("scan", str(leaky), "--trust-dataset-config", "--format", "json", cwd=work)
    assert trusted.returncode == 0, trusted.stderr
    assert any("using the dataset's own configuration" in n for n in json.loads(trusted.stdout)["notes"])


def test_the_console_report_shows_the_ignored_dataset_config(leaky: Path, tmp_path: Path) -> None:
    (leaky / "pyproject.toml").write_text('[tool.dataaudit]\nfail_on = "never"\n')
    proc = cli("scan", str(leaky), cwd=tmp_path)
    assert proc.returncode == 1
    assert "note: ignored the dataset's own configuration" in proc.stdout


def test_a_dataset_config_cannot_ask_for_ten_thousand_workers(leaky: Path, tmp_path: Path) -> None:
    (leaky / "pyproject.toml").write_text("[tool.dataaudit]\nworkers = 10000\n")
    doc = json.loads(cli("scan", str(leaky), "--format", "json", cwd=tmp_path).stdout)
    assert doc["config"]["effective"]["workers"] <= (os.cpu_count() or 1)
    trusted = json.loads(cli("scan", str(leaky), "--format", "json", "--trust-dataset-config", cwd=tmp_path).stdout)
    assert trusted["config"]["effective"]["workers"] <= (os.cpu_count() or 1)
    assert any("--workers 10000 lowered to" in n for n in trusted["notes"])


def test_the_working_directory_config_and_an_explicit_config_still_apply(leaky: Path, tmp_path: Path) -> None:
    work = tmp_path / "ci"
    work.mkdir()
    (work / "pyproject.toml").write_text('[tool.dataaudit]\n[tool.dataaudit.severity]\nsplit_overlap = "warning"\n')
    proc = cli("scan", str(leaky), "--format", "json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["config"]["sources"][0] == {"origin": "working directory", "path": str(work / "pyproject.toml"),
                                           "used": True, "keys": ["severity"]}
    assert doc["config"]["effective"]["severity"] == {"split_overlap": "warning"}
    explicit = tmp_path / "gate.toml"
    explicit.write_text('[tool.dataaudit]\nfail_on = "never"\n')
    proc = cli("scan", str(leaky), "--config", str(explicit), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0
    assert [s["origin"] for s in json.loads(proc.stdout)["config"]["sources"]] == ["--config"]


def test_a_clean_dataset_without_config_passes_without_a_config_note(clean: Path, tmp_path: Path) -> None:
    proc = cli("scan", str(clean), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert not [n for n in doc["notes"] if "configuration" in n]
    assert doc["config"]["sources"] == []
    assert "token" not in doc["config"]["effective"]


def test_the_report_records_the_effective_settings_and_validates(leaky: Path, tmp_path: Path) -> None:
    import jsonschema

    (leaky / "pyproject.toml").write_text('[tool.dataaudit]\nfail_on = "never"\n')
    proc = cli("scan", str(leaky), "--format", "json", "--ignore", "constant_column", "--set",
               "distribution_shift.alpha=0.01", "--token", "hf_SECRETSECRETSECRET12345", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    eff = doc["config"]["effective"]
    assert eff["fail_on"] == "error" and eff["ignore"] == ["constant_column"]
    assert eff["checks"] == {"distribution_shift": {"alpha": 0.01}} and eff["trust_dataset_config"] is False
    assert "SECRET" not in proc.stdout + proc.stderr


# --- the packaged schema -------------------------------------------------------------------

def test_dataaudit_schema_prints_the_packaged_schema_which_existing_reports_still_satisfy() -> None:
    import jsonschema

    proc = cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema == json.loads(SCHEMA_PATH.read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    # the example in the contract, written before the config fields existed, still validates
    contract = (REPO / "docs" / "report-contract.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", contract, re.S).group(1))  # type: ignore[union-attr]
    jsonschema.validate(example, schema)
    assert "config" not in example


# --- 2. broken pipe ------------------------------------------------------------------------

@pytest.mark.parametrize(("fixture", "verdict"), [("leaky", 1), ("clean", 0)],
                         ids=["a failed verdict stays 1 when the reader closes the pipe",
                              "a passed verdict stays 0 when the reader closes the pipe"])
def test_a_closed_pipe_never_changes_the_verdict(request: pytest.FixtureRequest, fixture: str, verdict: int) -> None:
    data: Path = request.getfixturevalue(fixture)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "dataaudit", "scan", str(data), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -c 0`: the reader is gone before the report is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == verdict, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_head_c_10_on_a_failed_scan_still_reports_1_through_pipestatus(leaky: Path) -> None:
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m dataaudit scan {leaky} "
                           "--format json --max-examples 1000 | head -c 10 > /dev/null; echo \"${PIPESTATUS[0]}\""],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.strip() == "1", proc.stderr


# --- 3. workers ----------------------------------------------------------------------------

def test_ten_thousand_workers_are_lowered_to_what_the_machine_has(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from imagedata import class_folders

    root = class_folders(tmp_path / "imgs", count=6)
    assert main(["scan", str(root), "--workers", "10000", "--format", "json"]) in (0, 1)
    doc = json.loads(capsys.readouterr().out)
    from dataaudit.resources import cpu_count

    assert doc["config"]["effective"]["workers"] <= cpu_count()
    assert any(n.startswith("--workers 10000 lowered to") for n in doc["notes"])
    assert main(["scan", str(root), "--workers", "1", "--format", "json"]) in (0, 1)
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["effective"]["workers"] == 1 and not any("lowered" in n for n in doc["notes"])


def test_workers_are_bounded_by_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit import resources

    monkeypatch.setattr(resources, "cpu_count", lambda: 64)
    monkeypatch.setattr(resources, "available_memory",
                        lambda: resources.UNKNOWN_SIZE_HEADROOM + 2 * resources.WORKER_BYTES + 1)
    n, note = resources.bounded_workers(32)
    assert n == 3 and note is not None and "available memory" in note
    assert resources.bounded_workers(2) == (2, None)
    assert resources.bounded_workers(None) == (3, None)


# --- 4. memory -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 20 MB table with a train/test split (the wine columns, resampled)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(3)
    n = 300_000
    root = tmp_path_factory.mktemp("big")
    frame = pl.DataFrame({"alcohol": rng.normal(13, 0.8, n), "ash": rng.normal(2.4, 0.3, n),
                          "proline": rng.integers(278, 1680, n), "label": rng.choice(["a", "b", "c"], n)})
    frame.head(240_000).write_csv(root / "train.csv")
    frame.tail(60_000).write_csv(root / "test.csv")
    return root


def _limited(limit: int) -> tuple[str, ...]:
    """``prlimit --as`` (util-linux) as the issue's probe used it."""
    import shutil

    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    return ("prlimit", f"--as={limit}")


@pytest.mark.parametrize("limit_mb", [500, 700, 1100],
                         ids=["under a 500 MB address-space limit", "under 700 MB", "under 1.1 GB"])
def test_running_out_of_memory_is_exit_2_with_the_figure_never_a_signal(big_table: Path, limit_mb: int) -> None:
    proc = cli("scan", str(big_table), "-q", prefix=_limited(limit_mb << 20), timeout=120)
    if limit_mb >= 1024 and proc.returncode in (0, 1):
        return  # above the start-up floor the scan may fit, depending on the process's threads: never a signal
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    # (native libraries print lines of their own as they fail; dataaudit says one thing)
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("dataaudit:")]
    assert line.startswith("dataaudit: error:") and "memory" in line and re.search(r"\d+(\.\d)? (MiB|GiB)", line), line
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_the_same_scan_runs_with_room_to_spare(big_table: Path) -> None:
    proc = cli("scan", str(big_table), "-q", prefix=_limited(16 << 30), timeout=120)
    assert proc.returncode in (0, 1), proc.stderr


def test_a_memory_error_during_a_scan_is_exit_2_with_the_estimate(big_table: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from dataaudit import scanner

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("Unable to allocate 7.65 GiB for an array")

    monkeypatch.setattr(scanner, "run_checks", explode)
    assert main(["scan", str(big_table), "-q"]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "expected to need about" in err and "7.65 GiB" in err
    assert "internal error" not in err


def test_the_memory_check_refuses_before_reading_when_the_limit_is_too_low(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit import resources

    monkeypatch.setattr(resources, "address_space_limit", lambda: 64 << 20)
    with pytest.raises(resources.OutOfMemoryError, match=r"needs about .* the limit .* is 64 MiB"):
        resources.check_memory(10 << 20)
    monkeypatch.setattr(resources, "address_space_limit", lambda: None)
    resources.check_memory(10 << 20)  # no limit, memory to spare: no objection


# --- 5. terminal control characters ---------------------------------------------------------

HOSTILE = "\x1b[2J\x1b]0;owned\x07col\x08\x9b31m\u202eevil"


def test_terminal_controls_in_names_and_values_are_escaped_on_the_console(tmp_path: Path) -> None:
    sp = wine_splits()
    for rows in sp.values():
        for r in rows:
            r[HOSTILE] = "\x1b[31mred"  # a constant column: its name appears in a finding
    root = write_splits(tmp_path / ("data\x1b[31m"), sp)
    proc = cli("scan", str(root))
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and "constant_column" in out
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", out), repr(out[:500])
    assert "\\x1b[2J" in out and "\\u202e" in out
    quiet = cli("scan", str(root), "-q")
    assert "\x1b" not in quiet.stdout and "data\\x1b[31m" in quiet.stdout


def test_plain_names_are_printed_unchanged(clean: Path) -> None:
    proc = cli("scan", str(clean))
    assert proc.returncode == 0 and "\\x" not in proc.stdout and str(clean) in proc.stdout


def test_controls_in_json_and_markup_in_html_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sp = wine_splits()
    for rows in sp.values():
        for r in rows:
            r["<script>alert(1)</script>\x7f\x9b"] = "x"
    root = write_splits(tmp_path / "d", sp)
    main(["scan", str(root), "--format", "json"])
    out = capsys.readouterr().out
    assert not re.search("[\x00-\x1f\x7f-\x9f]", out.replace("\n", "")), "raw controls in the JSON"
    assert any(f["column"] == "<script>alert(1)</script>\x7f\x9b" for f in json.loads(out)["findings"])
    html_path = tmp_path / "r.html"
    main(["scan", str(root), "-o", str(html_path), "-q"])
    page = html_path.read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


# --- 6. --output ---------------------------------------------------------------------------

def test_output_through_a_symlink_keeps_the_link_and_fills_its_target(clean: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    assert main(["scan", str(clean), "-o", str(link), "-q"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["summary"]["passed"] is True


def test_output_into_a_fifo_writes_through_it(clean: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader waits, so the writer's open succeeds
    try:
        assert main(["scan", str(clean), "-o", str(fifo), "-q", "--max-examples", "2"]) == 0
        chunks = []
        while True:
            try:
                chunk = os.read(reader, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert json.loads(b"".join(chunks))["summary"]["passed"] is True


# The targets are symlinks in tmp_path to /proc/self/fd/1 (what /dev/stdout is) and /dev/null:
# code that replaces what is at the path then replaces only the links in tmp_path. Naming
# /dev/stdout or /dev/null itself here would let a regression (or this probe run against
# the old code) replace the machine's /dev/null with a regular file.
@pytest.mark.parametrize("target", ["/proc/self/fd/1", "/dev/null"],
                         ids=["--output through a link to stdout reaches stdout",
                              "--output through a link to /dev/null leaves the link and the device"])
def test_output_to_a_device_writes_through_it(clean: Path, tmp_path: Path, target: str) -> None:
    link = tmp_path / "out.json"
    link.symlink_to(target)
    before = os.stat("/dev/null")
    proc = cli("scan", str(clean), "-o", str(link), "--format", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == target
    if target.startswith("/proc"):
        assert json.loads(proc.stdout)["summary"]["passed"] is True
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_output_to_a_regular_file_is_replaced_atomically(clean: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    out.write_text("old")
    inode = out.stat().st_ino
    assert main(["scan", str(clean), "-o", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["summary"]["passed"] is True
    assert out.stat().st_ino != inode and not list(tmp_path.glob(".r.json.*"))


# --- 7. configuration values ---------------------------------------------------------------

BAD_FILE_VALUES = {
    'max_rows = "abc"': "max_rows",
    "label = 5": "label",
    "sample_size = 0": "sample_size",
    "sample_size = 5": "sample_size",
    'workers = "many"': "workers",
    "workers = 0": "workers",
    "max_examples = -3": "max_examples",
    'encoding = "utf-9"': "encoding",
    'delimiter = ",,"': "delimiter",
    'format = "xlsx"': "format",
    'ignore = "split_overlap"': "ignore",
    "ignore = [1]": "ignore",
    "fail_on = 3": "fail_on",
    "sentinels = [1, 2]": "sentinels",
    "[checks.distribution_shift]\nalpha = -1": "distribution_shift.alpha",
    "[checks.label_shift]\nalpha = 0": "label_shift.alpha",
    "[checks.duplicates]\nerror_fraction = 7": "duplicates.error_fraction",
    '[checks.duplicates]\nerror_fraction = "high"': "duplicates.error_fraction",
    "[checks.near_duplicates]\nhamming_radius = 2.5": "near_duplicates.hamming_radius",
    "[checks.near_duplicates]\nhamming_radius = 65": "near_duplicates.hamming_radius",
    "[checks.class_imbalance]\nratio_warning = 0.5": "class_imbalance.ratio_warning",
    "[checks.distribution_shift]\nks_warning = nan": "distribution_shift.ks_warning",
    '[checks.split_overlap]\nenabled = "no"': "split_overlap.enabled",
    "[severity]\nsplit_overlap = 1": "severity.split_overlap",
}


def _table(line: str) -> str:
    if line.startswith("["):
        head, rest = line.split("\n", 1)
        return f"[tool.dataaudit.{head[1:-1]}]\n{rest}\n"
    return f"[tool.dataaudit]\n{line}\n"


@pytest.mark.parametrize(("line", "key"), list(BAD_FILE_VALUES.items()),
                         ids=[f"{k.replace(chr(10), ' ')} is exit 2 naming {v}" for k, v in BAD_FILE_VALUES.items()])
def test_a_wrong_config_value_is_exit_2_naming_the_key(clean: Path, tmp_path: Path, line: str, key: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gate.toml"
    cfg.write_text(_table(line))
    assert main(["scan", str(clean), "--config", str(cfg), "-q"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert key in err and "internal error" not in err


@pytest.mark.parametrize(("argv", "key"), [
    (["--sample-size", "0"], "sample-size"),
    (["--set", "distribution_shift.alpha=-1"], "distribution_shift.alpha"),
    (["--set", "distribution_shift.min_samples=2.5"], "distribution_shift.min_samples"),
    (["--set", "missing_values.warning_fraction=inf"], "missing_values.warning_fraction"),
    (["--workers", "-4"], "workers"),
    (["--max-rows", "0"], "max-rows"),
    (["--encoding", "no-such-codec"], "encoding"),
    (["--label", ""], "label"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_nonsensical_flag_is_exit_2_naming_it(clean: Path, argv: list[str], key: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(clean), *argv, "-q"]) == 2
    assert key in one_error_line(capsys.readouterr().err)


def test_wrong_types_in_the_working_directory_config_through_the_real_cli(clean: Path, tmp_path: Path) -> None:
    for line, key in (('max_rows = "abc"', "max_rows"), ("label = 5", "label")):
        (tmp_path / "pyproject.toml").write_text(_table(line))
        proc = cli("scan", str(clean), cwd=tmp_path)
        assert proc.returncode == 2
        assert key in one_error_line(proc.stderr) and str(tmp_path / "pyproject.toml") in proc.stderr


@pytest.mark.parametrize("line", ["sample_size = 500", "workers = 1", 'encoding = "utf-8"', "max_examples = 0",
                                  "[checks.distribution_shift]\nalpha = 0.01\nmin_samples = 30",
                                  "[checks.near_duplicates]\nhamming_radius = 0",
                                  "[checks.duplicates]\nerror_fraction = 1", '[severity]\nduplicates = "warning"'],
                         ids=lambda s: f"{s.replace(chr(10), ' ')} is accepted")
def test_sensible_config_values_are_accepted(clean: Path, tmp_path: Path, line: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gate.toml"
    cfg.write_text(_table(line))
    assert main(["scan", str(clean), "--config", str(cfg), "-q"]) == 0, capsys.readouterr().err


def test_every_check_parameter_has_a_range_and_its_default_is_in_it() -> None:
    from dataaudit.checks.registry import all_ids, ensure_loaded, param_problem, param_rule

    ensure_loaded()
    for check_id, params in all_ids().items():
        for key, default in params.items():
            assert param_rule(key) is not None, f"{check_id}.{key} has no range rule"
            assert param_problem(check_id, key, default, default) is None


def test_console_printable_leaves_ordinary_text_alone() -> None:
    from dataaudit.report.console import printable

    text = "café, 東京, tab-free ascii — and emoji 🐧"
    assert printable(text) == text
    buf = io.StringIO()
    buf.write(printable("\x1b[31m"))
    assert buf.getvalue() == "\\x1b[31m"


def test_the_shipped_workflow_never_trusts_a_dataset_config_and_checks_the_exit_contract() -> None:
    text = (REPO / ".github" / "workflows" / "dataaudit-gate.yml").read_text()
    script = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "--trust-dataset-config" not in script
    assert "--fail-on error" in script and "outside its 0/1/2 contract" in script


def test_a_scan_killed_by_the_oom_killer_is_exit_2_with_a_message(big_table: Path) -> None:
    """SIGKILL (what the kernel's out-of-memory killer sends) of the process doing the scan."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "dataaudit", "scan", str(big_table), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if not children.exists():
        proc.kill()
        pytest.skip("no /proc children list on this kernel")
    deadline = time.monotonic() + 60
    worker = ""
    while not worker and time.monotonic() < deadline and proc.poll() is None:
        worker = children.read_text().strip()
        time.sleep(0.01)
    assert worker, "the command did not run in a supervised child"
    os.kill(int(worker.split()[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "killed by SIGKILL" in err and "out of memory" in err and "Traceback" not in err


def test_calling_entry_in_process_never_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    pid = os.getpid()
    assert cli.entry() == 3 and os.getpid() == pid
