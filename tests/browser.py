"""Find and drive a real headless Chromium for the HTML report tests.

Tests use :func:`chromium` to get the binary (or skip with a clear reason) and
:func:`dump_dom` / :func:`screenshot` to load a page the way a person would.
Flags keep Chromium offline and quiet as root in a container: no sandbox, no GPU,
no QUIC, no background networking, a fresh profile per run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary: ``$CHROMIUM`` first, then the usual names on ``PATH``."""
    env = os.environ.get("CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium() -> str:
    """The binary, or skip the test saying how to get one."""
    found = find_chromium()
    if found is None:
        pytest.skip("no headless chromium found (apt-get install -y chromium, or set CHROMIUM=/path/to/chrome)")
    return found


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="dataaudit-chromium-") as profile:
        cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after Chromium loaded and laid it out (``--dump-dom``)."""
    proc = _run(["--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri()])
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise AssertionError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2400) -> Path:
    """Render ``page`` to the PNG ``out`` (``--screenshot``) and return ``out``."""
    proc = _run([f"--screenshot={out}", f"--window-size={width},{height}", "--virtual-time-budget=2000",
                 page.resolve().as_uri()])
    if proc.returncode != 0 or not out.is_file():
        raise AssertionError(f"chromium --screenshot failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return out
