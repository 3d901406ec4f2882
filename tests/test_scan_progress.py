"""Progress covers the whole scan on a terminal: opening, reading, each check and the key stage.

The scan runs in a child process whose stderr is a pseudo-terminal, as a user's
would be; what rich draws there is read back and looked for each phase.
"""

from __future__ import annotations

import os
import re
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_on_terminal(args: list[str], timeout: float = 120.0) -> tuple[int, str]:
    """Run ``dataaudit`` with stderr on a pseudo-terminal; its exit code and all it drew there."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "dataaudit", *args], stdout=subprocess.DEVNULL,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    os.close(master)
    return rc, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))


def test_a_scan_on_a_terminal_shows_reading_each_check_and_the_key_stage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    base = pl.DataFrame({"a": rng.integers(0, 50, 500), "b": rng.normal(size=500).round(3),
                         "label": rng.choice(["x", "y"], 500)})
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        base[rng.integers(0, 500, int(n * frac))].write_csv(tmp_path / f"{name}.csv")
    rc, drawn = run_on_terminal(["scan", str(tmp_path), "--output", str(tmp_path / "r.json")])
    assert rc in (0, 1), drawn[-2000:]
    # rich redraws ten times a second: the phases that last that long are on the screen
    for phase in ("opening the dataset", "scanning", "checking 200,000 rows"):
        assert phase in drawn, f"{phase!r} never shown; drawn: {drawn[-1500:]!r}"
    assert "FAILED" in drawn.splitlines()[-1]  # the verdict line, once the bar is gone


def test_every_check_and_every_partition_of_the_key_stage_is_reported(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from dataaudit.checks.registry import iter_specs
    from dataaudit.config import build_config
    from dataaudit.profile import keys
    from dataaudit.profile.dataset import profile_dataset
    from dataaudit.scanner import run_checks
    from dataaudit.sources import open_source

    rng = np.random.default_rng(1)
    for name, n in (("train", 4000), ("test", 1000)):
        pl.DataFrame({"a": rng.integers(0, 30, n), "label": rng.choice(["x", "y"], n)}).write_csv(
            tmp_path / f"{name}.csv")
    cfg = build_config(str(tmp_path))
    stats = profile_dataset(open_source(str(tmp_path), cfg), cfg)
    said: list[str] = []
    monkeypatch.setattr(keys, "PARTITION_ITEMS", 1000)  # five thousand keys: eight partitions
    run_checks(stats, cfg, progress=said.append)
    assert {f"check {spec.ids[0]}" for spec in iter_specs()} <= set(said)
    assert [t for t in said if t.startswith("key stage: equal rows,")] == [
        f"key stage: equal rows, partition {k}/8" for k in range(1, 9)]


def test_without_a_terminal_nothing_is_drawn(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2, 3], "label": ["x", "y", "x"]}).write_csv(tmp_path / "train.csv")
    proc = subprocess.run([sys.executable, "-m", "dataaudit", "scan", str(tmp_path), "--output",
                           str(tmp_path / "r.json")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode in (0, 1)
    assert "scanning" not in proc.stderr and "check " not in proc.stderr
