"""Fast start: without torch, datasets, huggingface_hub and great_expectations installed,
``import dataaudit``, ``dataaudit --help`` and a table scan still work (and never import them)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ("torch", "torchvision", "datasets", "huggingface_hub", "great_expectations", "pandas")

BLOCKER = textwrap.dedent(
    f"""
    import sys
    for name in {HEAVY!r}:
        sys.modules[name] = None  # what an absent package looks like to import and find_spec
    """
)


def run(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + code, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_import_and_help_without_heavy_libraries() -> None:
    proc = run(
        "import sys, dataaudit\n"
        "from dataaudit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        f"print(sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {HEAVY!r}))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "scan" in proc.stdout


def test_table_scan_without_heavy_libraries(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("x,label\n" + "".join(f"{i % 7},{'ab'[i % 2]}\n" for i in range(60)))
    (tmp_path / "test.csv").write_text("x,label\n" + "".join(f"{i % 5},{'ab'[i % 2]}\n" for i in range(20)))
    out = tmp_path / "report.json"
    proc = run(
        "import sys\nfrom dataaudit.cli import main\n"
        "code = main(['scan', sys.argv[1], '--format', 'json', '--output', sys.argv[2], '--quiet'])\n"
        f"loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {HEAVY!r})\n"
        "print(code, loaded)\n",
        str(tmp_path), str(out),
    )
    assert proc.returncode == 0, proc.stderr
    code, loaded = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code in ("0", "1") and loaded == "[]"
    assert json.loads(out.read_text())["splits"]["test"]["rows"] == 20


def test_a_missing_extra_is_a_clear_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("x,label\n1,a\n2,b\n")
    # a regex expectation is answered by Great Expectations only
    (tmp_path / "suite.json").write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "label", "regex": "^[ab]$"}}]}))
    proc = run(
        "import sys\nfrom dataaudit.cli import main\n"
        "sys.exit(main(['scan', sys.argv[1], '--expectations', sys.argv[2]]))\n",
        str(tmp_path), str(tmp_path / "suite.json"),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "pip install 'dataaudit[gx]'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _allocator_settings(env: dict[str, str]) -> list[str]:
    import os

    clean = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "OPENBLAS_NUM_THREADS")}
    proc = subprocess.run(
        [sys.executable, "-c", "import os, dataaudit.cli, polars\n"
                               "print(os.environ['_RJEM_MALLOC_CONF'], os.environ['OPENBLAS_NUM_THREADS'])"],
        capture_output=True, text=True, timeout=120, env={**clean, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_cli_keeps_freed_memory_for_reuse_unless_the_user_says_otherwise() -> None:
    # polars puts its own (short) decay first; jemalloc lets the last setting of an option win
    conf, blas = _allocator_settings({})
    assert conf.split(",")[-2:] == ["dirty_decay_ms:10000", "muzzy_decay_ms:10000"] and blas == "1"
    conf, blas = _allocator_settings({"_RJEM_MALLOC_CONF": "narenas:2", "OPENBLAS_NUM_THREADS": "4"})
    assert conf.split(",")[-1] == "narenas:2" and "dirty_decay_ms:10000" not in conf and blas == "4"


def test_a_suite_of_native_expectations_gates_without_great_expectations(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("x,label\n" + "".join(f"{i % 7},{'ab'[i % 2]}\n" for i in range(60)))
    (tmp_path / "test.csv").write_text("x,label\n" + "".join(f"{i % 9},{'abc'[i % 3]}\n" for i in range(30)))
    (tmp_path / "suite.json").write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "label", "value_set": ["a", "b"]}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "max_value": 6}},
    ]}))
    out = tmp_path / "report.json"
    proc = run(
        "import sys\nfrom dataaudit.cli import main\n"
        "code = main(['scan', sys.argv[1], '--expectations', sys.argv[2], '-o', sys.argv[3], '-q'])\n"
        f"loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {HEAVY!r})\n"
        "print(code, loaded)\n",
        str(tmp_path), str(tmp_path / "suite.json"), str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 []"
    found = [(f["split"], f["count"]) for f in json.loads(out.read_text())["findings"] if f["check"] == "expectation"]
    assert sorted(found) == [("test", 6), ("test", 10)]
