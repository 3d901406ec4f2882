"""The published pre-commit hook works when used from another repository, as docs/ci-gate.md says.

A scratch git repository holds a dataset and a ``.pre-commit-config.yaml`` that names this
repository (at its HEAD commit: what a user pins) and the hook with the dataset as its argument;
real ``pre-commit run`` installs dataaudit into the hook's own environment (from the package
registry, as for a user) and runs it. A failing dataset must fail the commit *and show the
findings*; a clean one must pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _pre_commit() -> list[str]:
    exe = Path(sys.executable).with_name("pre-commit")
    if exe.exists():
        return [str(exe)]
    if shutil.which("pre-commit"):
        return ["pre-commit"]
    pytest.skip("pre-commit is not installed (pip install 'dataaudit[test]')")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _scratch_repo(tmp_path: Path, dataset: str) -> Path:
    repo = tmp_path / "user-repo"
    shutil.copytree(ROOT / "sample_data" / dataset, repo / "data")
    (repo / "data" / "pyproject.toml").unlink(missing_ok=True)
    rev = _git(ROOT, "rev-parse", "HEAD").strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: dataaudit\n        args: [data/]\n",
        encoding="utf-8")
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "data")
    return repo


def _run(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([*_pre_commit(), "run", "--all-files"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_hook_fails_a_faulty_dataset_and_shows_its_findings(tmp_path: Path, pre_commit_home: Path) -> None:
    proc = _run(_scratch_repo(tmp_path, "tables_faulty"), pre_commit_home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "dataaudit (training data gate)" in out and "Failed" in out
    assert "FAILED:" in out
    # the findings themselves, with where they are, not only the verdict line
    assert "delimiter_corruption" in out and "split_overlap" in out


def test_the_hook_passes_a_clean_dataset(tmp_path: Path, pre_commit_home: Path) -> None:
    proc = _run(_scratch_repo(tmp_path, "tables_clean"), pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
