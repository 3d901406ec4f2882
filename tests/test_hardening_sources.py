"""Hostile and unlucky local sources (issue 14): nothing missing passes, walks stay inside the
dataset and never block, text is never silently transcoded, records of any length parse.

Each probe runs a real scan over real files in ``tmp_path`` (links, FIFOs, invalid bytes);
a paired clean control must stay quiet. Scans that could hang run in a child process with a
timeout, so a regression fails the test instead of blocking the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from imagedata import class_folders, encode, imagefolder, textured, write

import dataaudit
from dataaudit.errors import DataauditError
from dataaudit.report.model import Finding, Report, Severity

REPO = Path(dataaudit.__file__).resolve().parents[1]  # the code under test, also in child processes
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")


def scan(path: Path, **options: Any) -> Report:
    options.setdefault("progress", False)
    options.setdefault("workers", 1)
    return dataaudit.scan(path, **options)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m dataaudit ...`` in a child process, this worktree's code first on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "dataaudit", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def scan_json(path: Path, *args: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """Scan in a child process (a hang fails the test at ``timeout``) and parse its JSON report."""
    proc = cli("scan", str(path), "--format", "json", "--workers", "1", *args, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def corrupt(report: Report) -> list[Finding]:
    return report.by_check("corrupt_file")


def problem_paths(report: Report) -> dict[str, str]:
    """``path -> kind`` over every corrupt_file example."""
    return {e["path"]: e["kind"] for f in corrupt(report) for e in f.examples}


def small_imagefolder(root: Path) -> Path:
    """24 images: train 2 classes x 8, val 2 x 2, test 2 x 2."""
    return imagefolder(root, {"train": {"cat": 8, "dog": 8}, "val": {"cat": 2, "dog": 2},
                              "test": {"cat": 2, "dog": 2}})


def table_splits(root: Path, splits: tuple[str, ...] = ("train", "val", "test"), rows: int = 60) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, split in enumerate(splits):
        lines = ["x,colour,label"] + [f"{i + 1000 * k},{('red', 'green', 'blue')[i % 3]},{'ab'[i % 2]}"
                                      for i in range(rows)]
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


# -- 1. nothing missing passes ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dangling link", "FIFO"], ids=["val and test as dangling links (data not pulled)",
                                                                  "val and test as FIFOs"])
def test_a_split_file_that_cannot_be_read_fails_the_gate(tmp_path: Path, kind: str) -> None:
    if kind == "FIFO" and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs need a POSIX system")
    root = table_splits(tmp_path / "data", ("train",))
    for split in ("val", "test"):
        if kind == "FIFO":
            os.mkfifo(root / f"{split}.csv")
        else:
            (root / f"{split}.csv").symlink_to(tmp_path / "cache" / f"{split}-md5")
    code, doc = scan_json(root, timeout=60)
    assert code == 1 and not doc["summary"]["passed"]
    found = [f for f in doc["findings"] if f["check"] == "corrupt_file"]
    assert {f["split"] for f in found} == {"val", "test"}
    assert all(f["severity"] == "error" for f in found)
    assert {e["path"] for f in found for e in f["examples"]} == {"val.csv", "test.csv"}
    assert set(doc["splits"]) == {"train", "val", "test"}


def test_a_shard_that_is_a_dangling_link_is_a_finding_and_the_other_shards_are_read(tmp_path: Path) -> None:
    root = tmp_path / "data"
    table_splits(root / "train", ("part-0", "part-1"))
    os.rename(root / "train" / "part-1.csv", tmp_path / "elsewhere.csv")
    (root / "train" / "part-1.csv").symlink_to(root / "train" / "gone.csv")
    (root / "val").mkdir()
    (root / "val" / "part-0.csv").write_text("x,colour,label\n1,red,a\n2,blue,b\n")
    report = scan(root)
    assert problem_paths(report) == {"train/part-1.csv": "missing"}
    assert report.stats.splits["train"].rows == 60


def test_a_split_folder_that_is_a_dangling_link_is_a_finding(tmp_path: Path) -> None:
    root = small_imagefolder(tmp_path / "imgs")
    os.rename(root / "val", tmp_path / "moved")
    (root / "val").symlink_to(tmp_path / "not-pulled")
    report = scan(root)
    assert problem_paths(report) == {"val": "missing"}
    assert not report.passed


@pytest.mark.parametrize("where", ["class folder", "dataset root"], ids=["an unreadable class folder is a finding",
                                                                         "an unreadable root is exit 2"])
def test_permission_denied_is_a_finding_or_exit_2(tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = small_imagefolder(tmp_path / "imgs")
    locked = root / "train" / "dog" if where == "class folder" else root
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        # root bypasses file modes: deny the listing the way EACCES does for everyone else
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    locked.chmod(0)
    try:
        monkeypatch.setattr(os, "scandir", scandir)
        if where == "dataset root":
            with pytest.raises(DataauditError, match="permission denied|Permission denied"):
                scan(root)
        else:
            report = scan(root)
            assert problem_paths(report) == {"train/dog": "unreadable"}
            assert not report.passed
    finally:
        locked.chmod(0o755)


def test_an_unreadable_root_is_one_line_exit_2_from_the_cli(tmp_path: Path) -> None:
    root = small_imagefolder(tmp_path / "imgs")
    inner = root / "train"
    root.chmod(0)
    try:
        if os.access(inner, os.R_OK):
            pytest.skip("running as root: file modes do not deny access")
        proc = cli("scan", str(inner))
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
        assert "internal error" not in proc.stderr
    finally:
        root.chmod(0o755)


# -- 2. walks ------------------------------------------------------------------------------------------------
def test_one_symlink_loop_counts_each_image_once(tmp_path: Path) -> None:
    root = small_imagefolder(tmp_path / "imgs")
    (root / "train" / "cat" / "again").symlink_to(root / "train")
    report = scan(root)
    assert sum(s.rows for s in report.stats.splits.values()) == 24
    assert report.stats.splits["train"].rows == 16
    assert not report.by_check("duplicates") and not report.by_check("conflicting_labels")
    assert any("again" in n and "loop" in n for n in report.notes)


def test_two_symlink_loops_end_the_walk(tmp_path: Path) -> None:
    root = class_folders(tmp_path / "imgs")
    (root / "cat" / "to_dog").symlink_to(root / "dog")
    (root / "dog" / "to_cat").symlink_to(root / "cat")
    (root / "dog" / "up").symlink_to(root)
    code, doc = scan_json(root, timeout=60)
    assert doc["splits"]["train"]["rows"] == 10


def test_a_link_that_points_to_itself_is_a_finding(tmp_path: Path) -> None:
    root = class_folders(tmp_path / "imgs")
    (root / "cat" / "self.jpg").symlink_to(root / "cat" / "self.jpg")
    report = scan(root)
    assert problem_paths(report) == {"cat/self.jpg": "link_loop"}
    assert report.stats.splits["train"].rows == 10


@needs_fifo
@pytest.mark.parametrize("name", ["README", "pipe.jpg", "cat/pipe.jpg"],
                         ids=["a FIFO named README", "a FIFO named pipe.jpg", "a FIFO inside a class folder"])
def test_a_fifo_never_blocks_the_walk_and_is_named(tmp_path: Path, name: str) -> None:
    root = class_folders(tmp_path / "imgs")
    os.mkfifo(root / name)
    code, doc = scan_json(root, timeout=60)
    examples = {e["path"]: e for f in doc["findings"] if f["check"] == "corrupt_file" for e in f["examples"]}
    assert examples[name]["kind"] == "not_regular" and "FIFO" in examples[name]["reason"]
    assert code == 1 and doc["splits"]["train"]["rows"] == 10


@pytest.mark.parametrize("layout", ["class folders", "table"], ids=["an image beside class folders",
                                                                    "a table file"])
def test_links_out_of_the_dataset_are_not_followed_and_leak_nothing(tmp_path: Path, layout: str) -> None:
    secret = tmp_path / "outside" / ".env"
    secret.parent.mkdir()
    secret.write_text("x,colour,label\nAWS_SECRET=hunter2-top-secret,red,a\n")
    write(tmp_path / "outside" / "photo.png", encode(textured(99), "PNG"))
    if layout == "table":
        root = table_splits(tmp_path / "data", ("train",))
        (root / "test.csv").symlink_to(secret)
        leak = "test.csv"
    else:
        root = class_folders(tmp_path / "data")
        (root / "cat" / "stolen.png").symlink_to(tmp_path / "outside" / "photo.png")
        (root / "dog" / "env.jpg").symlink_to(secret)
        leak = "cat/stolen.png"
    html = tmp_path / "report.html"
    proc = cli("scan", str(root), "--format", "json", "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    assert cli("scan", str(root), "--format", "html", "--output", str(html), "--workers", "1").returncode == 1
    doc = json.loads(proc.stdout)
    assert "hunter2" not in proc.stdout and "hunter2" not in html.read_text(encoding="utf-8")
    assert str(tmp_path / "outside") not in proc.stdout
    kinds = {e["path"]: e["kind"] for f in doc["findings"] if f["check"] == "corrupt_file" for e in f["examples"]}
    assert kinds[leak] == "outside"


def test_a_link_inside_the_dataset_is_followed_once(tmp_path: Path) -> None:
    """Clean control: in-root links are part of the dataset; each real file counts once per split."""
    root = class_folders(tmp_path / "imgs", count=6)
    (root / "bird").mkdir()
    extra = tmp_path / "imgs" / "bird" / "0.png"
    write(extra, encode(textured(4242), "PNG"))
    (root / "cat" / "same-as-0.png").symlink_to(root / "cat" / "0.png")  # a second name: not counted again
    (root / "fish").symlink_to(root / "bird")  # a folder already walked: not walked twice
    report = scan(root)
    assert report.stats.splits["train"].rows == 13
    assert not corrupt(report) and not report.by_check("duplicates")
    assert report.passed


def test_a_clean_image_folder_with_an_in_root_link_is_quiet(tmp_path: Path) -> None:
    """Clean control: a class folder that is a link to a folder elsewhere in the dataset."""
    root = small_imagefolder(tmp_path / "imgs")
    store = root / "store" / "bird"
    for i in range(8):
        write(store / f"b{i}.jpg", encode(textured(9000 + i)))
    (root / "train" / "bird").symlink_to(store)
    report = scan(root)
    assert report.stats.splits["train"].rows == 24
    assert not corrupt(report)
    assert not [f for f in report.findings if f.severity >= Severity.ERROR]


# -- 3. no silent wrong results ------------------------------------------------------------------------------
def penguins_utf8(root: Path, rows: int = 60) -> bytes:
    """A UTF-8 table with accented labels and text (the clean form of the probes below)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["id,island,note,label"] + [
        f"{i},{('Biscoe', 'Dream', 'Torgersen')[i % 3]},{'née à Dréam' if i % 2 else 'Zoë Ł'},"
        f"{('Adélie', 'Gentoo', 'Chinstrap')[i % 3]}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_one_invalid_byte_in_a_utf8_file_is_a_finding_not_cp1252(tmp_path: Path) -> None:
    raw = penguins_utf8(tmp_path)
    raw = raw.replace("\n7,Dream,née".encode(), "\n7,Dream,n\xe9e".encode("latin-1"), 1)
    (tmp_path / "train.csv").write_bytes(raw)
    report = scan(tmp_path)
    found = report.by_check("delimiter_corruption")
    assert len(found) == 1 and found[0].severity == Severity.ERROR and found[0].column == "note"
    assert [(e["row"], e["column"], e["kind"]) for e in found[0].examples] == [(7, "note", "invalid_utf8")]
    assert "--encoding" in found[0].message
    assert found[0].count == 1 and found[0].fraction == pytest.approx(1 / 60)
    assert set(report.stats.splits["train"].labels.counts) == {"Adélie", "Gentoo", "Chinstrap"}  # no mojibake
    assert report.detected["encoding"] == "utf-8" and not report.passed


def test_fit_leaves_the_undecodable_row_out_and_stores_no_mojibake(tmp_path: Path) -> None:
    from dataaudit.fit import fit

    raw = penguins_utf8(tmp_path / "data")
    raw = raw.replace("\n4,Dream,Zoë".encode(), "\n4,Dream,Zo\xeb".encode("latin-1"), 1)
    (tmp_path / "data" / "train.csv").write_bytes(raw)
    art = fit(tmp_path / "data", tmp_path / "p.json", label="label")
    text = (tmp_path / "p.json").read_text(encoding="utf-8")
    assert art.label is not None and sorted(art.label.classes) == ["Adélie", "Chinstrap", "Gentoo"]
    assert "Ã" not in text and "\ufffd" not in text and "Zo\u00eb," not in text
    assert art.items == 59 and art.options["malformed_rows_skipped"] == 1


@pytest.mark.parametrize("where", ["header", "quoted field"], ids=["an invalid byte in the header",
                                                                    "an invalid byte inside a quoted field"])
def test_invalid_utf8_is_located_in_header_and_quoted_fields(tmp_path: Path, where: str) -> None:
    raw = penguins_utf8(tmp_path)
    if where == "header":
        raw = raw.replace(b"note", b"n\xf6te", 1)
    else:
        raw = raw.replace("\n9,Biscoe,née à Dréam,".encode(), b'\n9,Biscoe,"n\xe9e, \xe0 Dr\xe9am",', 1)
    (tmp_path / "train.csv").write_bytes(raw)
    found = scan(tmp_path).by_check("delimiter_corruption")
    assert len(found) == 1
    (example,) = found[0].examples
    assert example["kind"] == "invalid_utf8"
    if where == "header":
        assert example["line"] == 1 and "row" not in example and example["column"] == "n\ufffdte"
    else:
        assert (example["row"], example["column"]) == (9, "note")


def test_a_legacy_encoding_is_read_when_named_and_reported_when_not(tmp_path: Path) -> None:
    text = penguins_utf8(tmp_path).decode("utf-8").replace("Ł", "L")
    (tmp_path / "train.csv").write_bytes(text.encode("cp1252"))
    named = scan(tmp_path, encoding="cp1252")
    assert not named.by_check("delimiter_corruption")
    assert set(named.stats.splits["train"].labels.counts) == {"Adélie", "Gentoo", "Chinstrap"}
    guessed = scan(tmp_path)
    (found,) = guessed.by_check("delimiter_corruption")
    assert found.count == 60 and "--encoding" in found.message  # every row has an accented label


def test_bytes_the_named_encoding_cannot_decode_are_a_finding(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_bytes(b"id,label\n1,caf\xe9\n2,bad\x81byte\n3,ok\n")
    (found,) = scan(tmp_path, encoding="cp1252").by_check("delimiter_corruption")
    assert [(e["row"], e["column"], e["kind"]) for e in found.examples] == [(1, "label", "invalid_encoding")]


def test_a_clean_utf8_csv_with_non_ascii_text_is_quiet(tmp_path: Path) -> None:
    """Clean control on real data: the wine data set with accented region names and labels."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    regions = ("Piémont", "Vallée d'Aoste", "Lombardía", "Émilie-Romagne")
    names = ("Barolo — nebbiolo", "Grignolino ☀", "Barberà")
    lines = ["alcohol,malic_acid,colour_intensity,region,label"] + [
        f"{x[0]},{x[1]},{x[9]},{regions[i % 4]},{names[t]}" for i, (x, t) in enumerate(zip(wine.data, wine.target))]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = scan(tmp_path)
    assert not report.by_check("delimiter_corruption") and not report.by_check("corrupt_file")
    assert set(report.stats.splits["train"].labels.counts) == set(names)
    assert report.stats.splits["train"].rows == len(wine.target)


@pytest.mark.parametrize("option", ["utf-9", "rot13"], ids=["a mistyped encoding", "a codec that is not text"])
def test_an_unknown_encoding_is_exit_2_naming_the_option(tmp_path: Path, option: str) -> None:
    table_splits(tmp_path, ("train",))
    proc = cli("scan", str(tmp_path), "--encoding", option)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "--encoding" in proc.stderr and option in proc.stderr


@pytest.mark.parametrize("compressed", [False, True], ids=["a plain file", "a gzip file"])
@pytest.mark.parametrize("quoted", [False, True], ids=["without quotes", "in quotes with newlines"])
def test_records_of_any_length_parse(tmp_path: Path, quoted: bool, compressed: bool) -> None:
    """A field longer than a chunk (16 MiB), with or without quotes."""
    import csv
    import gzip
    import io

    size = 20 * 1024 * 1024
    big = ("ab\ncd " if quoted else "abcd ") * (size // (6 if quoted else 5))
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "text", "label"])
    w.writerows([[0, "short", "a"], [1, big, "b"], [2, "after", "a"]])
    raw = buf.getvalue().encode()
    path = tmp_path / ("train.csv.gz" if compressed else "train.csv")
    path.write_bytes(gzip.compress(raw, compresslevel=1) if compressed else raw)
    report = scan(tmp_path)
    assert not report.by_check("delimiter_corruption")
    st = report.stats.splits["train"]
    assert st.rows == 3 and dict(st.labels.counts) == {"a": 2, "b": 1}
    from dataaudit.config import build_config
    from dataaudit.sources import open_source

    ds = open_source(tmp_path, build_config(source=str(tmp_path), progress=False))
    assert [v for b in ds.batches() if b.frame is not None for v in b.frame["text"].to_list()] == ["short", big, "after"]


# -- 4. fractions are counts over what was examined ----------------------------------------------------------
@pytest.mark.parametrize("dangling", [0, 1], ids=["3 unreadable among 5 listed images is 3/5",
                                                  "and a dangling link beside them is 4/6"])
def test_corrupt_file_fraction_is_over_the_files_examined(tmp_path: Path, dangling: int) -> None:
    root = class_folders(tmp_path / "imgs", classes=("cat", "dog"), count=3)
    (root / "dog" / "2.png").unlink()  # 5 images
    for name in ("cat/0.png", "cat/1.png", "dog/0.png"):
        (root / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing
    if dangling:
        (root / "dog" / "9.png").symlink_to(tmp_path / "never-pulled.png")
    (found,) = corrupt(scan(root))
    assert found.count == 3 + dangling
    assert found.fraction == pytest.approx((3 + dangling) / (5 + dangling))


def test_corrupt_file_fraction_of_a_table_split_is_over_its_files(tmp_path: Path) -> None:
    root = tmp_path / "data"
    table_splits(root / "train", ("a", "b", "c", "d"))
    (root / "train" / "c.csv").write_bytes(b"")
    (found,) = corrupt(scan(root))
    assert (found.split, found.count, found.fraction) == ("train", 1, pytest.approx(1 / 4))


@pytest.mark.parametrize("shards", [1, 2], ids=["in one file", "across two shards"])
def test_delimiter_corruption_fraction_is_over_the_records_examined(tmp_path: Path, shards: int) -> None:
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    lines = [f"{i},{i % 7},{'ab'[i % 2]}" for i in range(100)]
    for i in (3, 40, 41, 97):
        lines[i] = f"{i};{i % 7};x" if i % 2 else f"{i},1,2,3"
    per = 100 // shards
    for k in range(shards):
        body = "\n".join(lines[k * per:(k + 1) * per])
        (root / "train" / f"part-{k}.csv").write_text("x,y,label\n" + body + "\n")
    (found,) = scan(root).by_check("delimiter_corruption")
    assert (found.count, found.fraction) == (4, pytest.approx(4 / 100))
    assert [e["row"] for e in found.examples] == [3, 40, 41, 97]


@needs_fifo
def test_image_metadata_never_names_its_way_out_of_the_dataset(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write(root / "train" / "a.png", encode(textured(1), "PNG"))
    write(tmp_path / "secret.png", encode(textured(2), "PNG"))
    (root / "train" / "link.png").symlink_to(tmp_path / "secret.png")
    os.mkfifo(root / "train" / "pipe.png")
    os.mkfifo(root / "train" / "noext")
    (root / "train" / "metadata.csv").write_text(
        "file_name,label\na.png,x\n../../secret.png,y\nlink.png,y\npipe.png,x\nnoext,x\n")
    code, doc = scan_json(root)
    kinds = {(e["path"], e["kind"]) for f in doc["findings"] if f["check"] == "corrupt_file" for e in f["examples"]}
    assert kinds == {("train/metadata.csv", "outside"), ("train/link.png", "outside"),
                     ("train/pipe.png", "not_regular"), ("train/noext", "not_regular")}
    assert doc["splits"]["train"]["rows"] == 1 and code == 1


def test_invalid_utf8_in_a_json_lines_file_names_row_and_key(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "note": "Zoë", "label": "ab"[i % 2]}).encode() for i in range(20)]
    lines[6] = b'{"id": 6, "note": "Zo\xeb", "label": "a"}'
    (tmp_path / "train.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (found,) = scan(tmp_path).by_check("delimiter_corruption")
    assert [(e["row"], e["column"], e["kind"]) for e in found.examples] == [(6, "note", "invalid_utf8")]


@pytest.mark.parametrize("target", ["outside", "missing"], ids=["a split folder linked out of the dataset",
                                                                "a split folder linked to nothing"])
def test_a_table_split_folder_that_cannot_be_followed_is_a_finding(tmp_path: Path, target: str) -> None:
    root = tmp_path / "data"
    table_splits(root / "train", ("part-0",))
    table_splits(tmp_path / "elsewhere", ("part-0",))
    (root / "val").symlink_to(tmp_path / ("elsewhere" if target == "outside" else "gone"))
    report = scan(root)
    assert problem_paths(report) == {"val": target}
    assert report.stats.splits["train"].rows == 60 and not report.passed
