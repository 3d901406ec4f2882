"""Shared fixtures: caches pointed at tmp, telemetry off, and a helper writing real table files."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

Rows = Sequence[dict[str, Any]]


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own HF/XDG/dataaudit caches, no telemetry or download counts, no ambient token."""
    base = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HF_HOME", str(base / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg"))
    monkeypatch.setenv("DATAAUDIT_CACHE", str(base / "dataaudit"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_UPDATE_DOWNLOAD_COUNTS", "0")
    monkeypatch.delenv("DATAAUDIT_DEBUG", raising=False)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):  # no ambient token reaches any test
        monkeypatch.delenv(name, raising=False)
    yield


def _columns(rows: Rows) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    return cols


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def table_bytes(rows: Rows, fmt: str, columns: list[str] | None = None, delimiter: str | None = None,
                lineterminator: str = "\n") -> bytes:
    """Serialise ``rows`` (dicts) as ``fmt``: csv, tsv, txt, jsonl or parquet (compression is the caller's)."""
    cols = columns or _columns(rows)
    if fmt in ("csv", "tsv", "txt"):
        buf = io.StringIO(newline="")
        delim = delimiter or {"csv": ",", "tsv": "\t", "txt": ";"}[fmt]
        w = csv.writer(buf, delimiter=delim, lineterminator=lineterminator)
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        return buf.getvalue().encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps({c: r.get(c) for c in cols}) + "\n" for r in rows).encode("utf-8")
    if fmt == "parquet":
        import polars as pl

        out = io.BytesIO()
        pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], infer_schema_length=None).write_parquet(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt}")


def write_table(root: Path, name: str, rows: Rows, fmt: str | None = None, **kwargs: Any) -> Path:
    """Write ``rows`` to ``root/name``; the format (and ``.gz``/``.zst``) follows the name unless given.

    ``write_table(tmp_path, "train.csv.gz", rows)``; ``kwargs`` go to :func:`table_bytes`
    (``columns``, ``delimiter``, ``lineterminator``).
    """
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lower = name.lower()
    comp = None
    for c in (".gz", ".zst"):
        if lower.endswith(c):
            comp, lower = c, lower[: -len(c)]
    if fmt is None:
        fmt = {".csv": "csv", ".tsv": "tsv", ".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".parquet": "parquet"}[Path(lower).suffix]
    data = table_bytes(rows, fmt, **kwargs)
    if comp == ".gz":
        data = gzip.compress(data)
    elif comp == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def write_table_fn() -> Callable[..., Path]:
    """The :func:`write_table` helper as a fixture (for tests that prefer fixtures to imports)."""
    return write_table


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (to prove a scan modified nothing)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
