"""End to end: ``dataaudit scan hf://...`` against the loopback Hub, in process and through the CLI."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datasets")

try:
    from tests.fake_hub import FakeHub, dataset_card, forget_filesystems, parquet_bytes, point_libraries_at
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from fake_hub import FakeHub, dataset_card, forget_filesystems, parquet_bytes, point_libraries_at

import dataaudit
from dataaudit.sources import hub as hub_source
from dataaudit.sources.network import NetworkPolicy

ALICE = "hf_AliceReadsEverything0123456789ab"
REVOKED = "hf_ThisTokenWasRevokedLastWeek01234567"
DATAAUDIT = str(Path(sys.executable).with_name("dataaudit"))


def _split(start: int, n: int, *, duplicate: tuple[int, int] | None = None, missing: int | None = None) -> dict[str, Any]:
    ids = list(range(start, start + n))
    rows = {
        "x": [i + 0.25 for i in ids],
        "colour": ["red" if i % 3 else "blue" for i in ids],
        "label": ["cat" if i % 2 else "dog" for i in ids],
    }
    if duplicate is not None:
        src, dst = duplicate
        for col in rows:
            rows[col][dst] = rows[col][src]
    if missing is not None:
        rows["x"][missing] = None
    return rows


def planted_splits() -> dict[str, dict[str, Any]]:
    """train (two shards): a duplicate row and a missing value; test: two rows leaked from train."""
    train_a = _split(0, 30, duplicate=(3, 17), missing=9)
    train_b = _split(30, 30)
    test = _split(500, 20)
    for dst, src in ((4, 12), (11, 25)):  # test rows copied from train rows
        for col in test:
            test[col][dst] = train_a[col][src]
    return {"train-00000": train_a, "train-00001": train_b, "test-00000": test}


def hub_files(splits: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    counts = {"train": 2, "test": 1}
    files = {}
    for key, cols in splits.items():
        split, shard = key.split("-")
        files[f"data/{split}-{shard}-of-{counts[split]:05d}.parquet"] = parquet_bytes(cols, row_group_size=8)
    return files


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with FakeHub() as fake:
        fake.add_user(ALICE, "alice")
        fake.add_dataset("alice/pets", hub_files(planted_splits()), private=True, members={"alice"})
        point_libraries_at(monkeypatch, fake.url, tmp_path / "hf_home")
        monkeypatch.setattr(hub_source, "POLICY", NetworkPolicy(retries=1, first_delay=0.01))
        yield fake
        forget_filesystems()


def _comparable(report: Any) -> list[dict[str, Any]]:
    out = []
    for finding in report.to_dict()["findings"]:
        finding = dict(finding)
        finding["message"] = finding["message"].replace("hf://alice/pets", "SOURCE")
        out.append(finding)
    return out


def test_findings_on_the_served_dataset_equal_those_on_the_same_local_files(hub: FakeHub, tmp_path: Path) -> None:
    local = tmp_path / "pets"
    for key, cols in planted_splits().items():
        split, shard = key.split("-")
        (local / split).mkdir(parents=True, exist_ok=True)
        (local / split / f"part-{shard}.parquet").write_bytes(parquet_bytes(cols, row_group_size=8))

    served = dataaudit.scan("hf://alice/pets", token=ALICE, progress=False)
    on_disk = dataaudit.scan(str(local), progress=False)

    checks = {f.check for f in served.findings}
    assert {"duplicates", "split_overlap", "missing_values"} <= checks
    overlap = next(f for f in served.findings if f.check == "split_overlap")
    assert overlap.split == "test" and overlap.count == 2
    assert _comparable(served) == _comparable(on_disk)
    assert served.to_dict()["splits"]["train"]["rows"] == on_disk.to_dict()["splits"]["train"]["rows"] == 60


def test_image_dataset_on_the_hub_goes_through_the_image_checks(hub: FakeHub) -> None:
    from PIL import Image

    def png(colour: tuple[int, int, int]) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), colour).save(buf, format="PNG")
        return buf.getvalue()

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 0)]  # the last repeats the first
    features = (
        "  - name: image\n    dtype: image\n  - name: label\n    dtype:\n      class_label:\n"
        "        names:\n          '0': warm\n          '1': cool\n"
    )
    hub.add_dataset(
        "alice/swatches",
        {
            "README.md": dataset_card(features),
            "data/train-00000-of-00001.parquet": parquet_bytes(
                {"image": [{"bytes": png(c), "path": None} for c in colours], "label": [0, 1, 1, 0, 0]}
            ),
        },
    )
    report = dataaudit.scan("hf://alice/swatches", token=ALICE, progress=False)

    assert report.modality == "image"
    duplicates = [f for f in report.findings if f.check == "duplicates"]
    assert duplicates and duplicates[0].split == "train"
    rows = {e.get("row") for e in duplicates[0].examples} | {
        e.get("duplicate_of", {}).get("row") for e in duplicates[0].examples
    }
    assert {0, 4} <= rows


def test_the_token_reaches_no_log_even_at_debug(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    names = ["", "dataaudit", "datasets", "huggingface_hub", "httpx2", "httpcore2", "httpx", "httpcore", "fsspec"]
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level) for lg in loggers]
    logging.getLogger().addHandler(handler)
    try:
        for lg in loggers:
            lg.setLevel(logging.DEBUG)
        dataaudit.scan("hf://alice/pets", token=ALICE, progress=False)
        with pytest.raises(dataaudit.DataauditError):
            dataaudit.scan("hf://alice/pets", token=REVOKED, progress=False)
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in saved:
            lg.setLevel(level)
    logs = stream.getvalue()
    captured = capsys.readouterr()
    assert "/datasets/alice/pets/resolve/" in logs  # the DEBUG chatter really was captured
    for secret in (ALICE, REVOKED):
        assert secret not in logs
        assert secret not in captured.out + captured.err


# --------------------------------------------------------------------------- through the CLI
def _cli(hub: FakeHub, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environ.update(
        HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_UPDATE_DOWNLOAD_COUNTS="0", **env
    )
    return subprocess.run(
        [DATAAUDIT, *args], env=environ, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _tree_text(root: Path) -> str:
    """Every path under ``root`` and the content of every file but the token store."""
    parts = []
    for path in sorted(root.rglob("*")):
        parts.append(str(path))
        if path.is_file() and path.name not in ("token", "stored_tokens"):
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_cli_partial_scan_sends_the_token_reads_less_and_writes_the_token_nowhere(
    hub: FakeHub, tmp_path: Path
) -> None:
    home = tmp_path / "cli_home"
    report_path = tmp_path / "report.json"
    total = sum(len(v) for v in hub.repos["alice/pets"].revisions["main"].values())

    result = _cli(
        hub, home, "scan", "hf://alice/pets", "--max-rows", "10", "--format", "json", "--output", str(report_path),
        HF_TOKEN=ALICE,
    )  # fmt: skip

    assert result.returncode in (0, 1), result.stderr
    report = json.loads(report_path.read_text())
    assert report["source"] == "hf://alice/pets"
    assert report["partial"] is True
    assert any("partial scan" in n for n in report["notes"])
    assert report["splits"]["train"]["rows"] == 10 and report["splits"]["test"]["rows"] == 10
    served = hub.bytes_served(".parquet")
    assert 0 < served < total
    sent = {r.headers.get("authorization") for r in hub.log() if r.path.startswith(("/api/datasets", "/datasets"))}
    assert sent == {f"Bearer {ALICE}"}
    assert hub.unhandled() == []  # the fake speaks every endpoint the client used
    for text in (result.stdout, result.stderr, report_path.read_text(), _tree_text(home)):
        assert ALICE not in text


def test_cli_scan_with_a_revoked_token_exits_2_with_the_access_error(hub: FakeHub, tmp_path: Path) -> None:
    result = _cli(hub, tmp_path / "cli_home", "scan", "hf://alice/pets", "--token", REVOKED)

    assert result.returncode == 2
    assert "the Hub rejected the token from --token (401 Unauthorized)" in result.stderr
    assert "Traceback" not in result.stderr
    assert REVOKED not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_scan_of_a_save_to_disk_folder_finds_what_is_planted(hub: FakeHub, tmp_path: Path) -> None:
    import datasets

    features = datasets.Features({"x": datasets.Value("float64"), "label": datasets.ClassLabel(names=["ham", "spam"])})
    train = {"x": [0.5, 1.5, 2.5, 1.5, 4.5, 5.5], "label": [0, 1, 0, 1, 1, 0]}  # row 3 repeats row 1
    valid = {"x": [10.5, 11.5], "label": [0, 1]}
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(train, features=features),
            "validation": datasets.Dataset.from_dict(valid, features=features),
        }
    ).save_to_disk(str(tmp_path / "saved"))

    report = dataaudit.scan(str(tmp_path / "saved"), progress=False)

    assert report.detected["layout"] == "save_to_disk"
    assert report.label_column == "label"
    assert set(report.splits) == {"train", "val"}
    duplicates = next(f for f in report.findings if f.check == "duplicates")
    assert duplicates.split == "train" and duplicates.count == 1
    assert duplicates.examples[0]["row"] == 3 and duplicates.examples[0]["duplicate_of"]["row"] == 1
    assert hub.log() == []
