"""Table scans on every shape of data: scan time vs a plain polars read of the same files, peak RSS.

    python benchmarks/bench_table_matrix.py                 # the matrix at 1 GB a shape
    python benchmarks/bench_table_matrix.py --five-gb       # + RSS of the 5 GB duplicate-heavy and low-cardinality shapes
    python benchmarks/bench_table_matrix.py --tiny-shards 200000   # + cost per shard of one-row CSV shards

Generates each shape once (cached in benchmarks/_data/matrix/; the 5 GB and tiny-shard data are
deleted after measuring) as three splits, 80/10/10:

- ``distinct``: every row different (an id column; numbers, categories, six-word text, label),
- ``duplicates``: the same columns without the id, rows drawn from 1,000 distinct rows,
- ``lowcard_text``: nine columns, the text column holding 4 distinct values,
- ``free_text``: high-cardinality free text (8-30 words of a 5,000-word vocabulary) and a label,
- ``long_text``: text values of about 1 KB,
- ``wide_numeric``: 200 float columns and a label,
- ``shards``: ``distinct``'s data in 10,000 CSV shards (split folders),
- ``parquet``: ``distinct``'s data as Parquet (compared with ``polars.read_parquet``).

For each shape, alternating ``--repeat`` times (the fastest of each is compared): a plain polars
read of every file (``read_csv``/``read_parquet`` one file after the other), and ``dataaudit scan``
of the folder with every check, each in a child process whose peak RSS is its own. Prints the
whole matrix, the worst ratio by name, and the targets (ratio <= 2.0; peak RSS < 2 GiB at 5 GB).
Timings on a shared machine are noisy: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))
CHUNK = 200_000

CITIES = ["london", "paris", "berlin", "madrid", "rome", "oslo", "vienna", "lisbon"]
DEVICES = ["ios", "android", "web"]
LABELS = ["churn", "stay", "upgrade"]
WORDS = ("great slow app price support fast bug love hate ok crash login screen update battery design pay "
         "refund order late cheap easy hard broken perfect awful useful button sync account password photo "
         "video music share friend chat search menu dark mode font size ads free trial cancel notify map "
         "route").split()
LOWCARD_TEXTS = ["works as expected", "crashes on start", "too expensive", "would recommend"]


def vocabulary(n: int = 5000, seed: int = 1) -> np.ndarray:
    """``n`` distinct pseudo-words of 3-9 letters."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(letters[rng.integers(0, 26, int(rng.integers(3, 10)))]))
    return np.array(sorted(out))


VOCAB = vocabulary()


def _standard(rng: np.random.Generator, m: int, start: int, with_id: bool) -> Any:
    """The columns of ``bench_scan_tables.py`` (id optional)."""
    import polars as pl

    words = np.array(WORDS)
    cols: dict[str, Any] = {}
    if with_id:
        cols["id"] = np.arange(start, start + m)
    cols.update({
        "age": rng.integers(18, 90, m),
        "income": np.round(rng.lognormal(10, 0.6, m), 2),
        "score": np.round(rng.normal(0, 1, m), 5),
        "ratio": np.round(rng.uniform(0, 1, m), 4),
        "city": np.array(CITIES)[rng.integers(0, len(CITIES), m)],
        "device": np.array(DEVICES)[rng.integers(0, len(DEVICES), m)],
        "segment": np.array(["a", "b", "c", "d"])[rng.integers(0, 4, m)],
        "clicks": rng.poisson(3, m),
    })
    frame = pl.DataFrame(cols)
    text = pl.DataFrame({f"w{k}": words[rng.integers(0, len(words), m)] for k in range(6)})
    return frame.with_columns(text.select(pl.concat_str(pl.all(), separator=" ").alias("text")).to_series(),
                              pl.Series("label", np.array(LABELS)[rng.integers(0, 3, m)]))


def _words(rng: np.random.Generator, vocab: np.ndarray, m: int, low: int, high: int) -> Any:
    """A text column of ``low``-``high`` words per value, drawn from ``vocab``."""
    import polars as pl

    words = pl.Series("v", vocab)
    frame = pl.DataFrame({"n": rng.integers(low, high + 1, m),
                          **{f"w{k}": words.gather(rng.integers(0, len(vocab), m)) for k in range(high)}})
    return frame.select(pl.concat_str([pl.when(pl.col("n") > k).then(pl.col(f"w{k}")) for k in range(high)],
                                      separator=" ", ignore_nulls=True).alias("text")).to_series()


def frame_of(shape: str, rng: np.random.Generator, m: int, start: int) -> Any:
    """``m`` rows of ``shape`` (rows ``start`` on; the distinct pool of ``duplicates`` is fixed)."""
    import polars as pl

    if shape in ("distinct", "shards", "parquet"):
        return _standard(rng, m, start, with_id=True)
    if shape == "duplicates":
        pool = _standard(np.random.default_rng(12345), 1000, 0, with_id=False)
        return pool[rng.integers(0, 1000, m)]
    if shape == "lowcard_text":
        return pl.DataFrame({
            "age": rng.integers(18, 90, m), "income": np.round(rng.lognormal(10, 0.6, m), 2),
            "score": np.round(rng.normal(0, 1, m), 5), "ratio": np.round(rng.uniform(0, 1, m), 4),
            "city": np.array(CITIES)[rng.integers(0, len(CITIES), m)],
            "device": np.array(DEVICES)[rng.integers(0, len(DEVICES), m)],
            "clicks": rng.poisson(3, m), "text": np.array(LOWCARD_TEXTS)[rng.integers(0, 4, m)],
            "label": np.array(LABELS)[rng.integers(0, 3, m)],
        })
    if shape == "free_text":
        return pl.DataFrame({"text": _words(rng, VOCAB, m, 8, 30),
                             "label": np.array(["pos", "neg"])[rng.integers(0, 2, m)]})
    if shape == "long_text":
        return pl.DataFrame({"text": _words(rng, VOCAB, m, 130, 160),
                             "label": np.array(["pos", "neg"])[rng.integers(0, 2, m)]})
    if shape == "wide_numeric":
        x = np.round(rng.normal(0, 1, (m, 200)), 5)
        return pl.DataFrame({f"f{k}": x[:, k] for k in range(200)}).with_columns(
            pl.Series("label", np.array(LABELS)[rng.integers(0, 3, m)]))
    raise ValueError(shape)


BYTES_PER_ROW = {"distinct": 90, "duplicates": 85, "lowcard_text": 63, "free_text": 138, "long_text": 1024,
                 "wide_numeric": 1684, "shards": 90, "parquet": 90}
"""CSV bytes a row of each shape takes (``parquet`` holds as many rows as ``distinct``'s CSV)."""
SHAPES = list(BYTES_PER_ROW)


def generate(shape: str, folder: Path, rows: int, seed: int = 0, shards: int = 0) -> None:
    """Write ``rows`` rows of ``shape`` into ``folder`` as train/val/test (``shards`` files in split folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = 0
    for name, frac in SPLITS:
        n = int(rows * frac)
        if shards:
            files = max(1, int(shards * frac))
            sub = folder / name
            sub.mkdir(exist_ok=True)
            per = -(-n // files)
            for k in range(files):
                m = min(per, n - k * per)
                if m <= 0:
                    break
                frame_of(shape, rng, m, start).write_csv(sub / f"part-{k:06d}.csv")
                start += m
            continue
        if shape == "parquet":
            import pyarrow.parquet as pq

            writer = None
            for a in range(0, n, CHUNK):
                table = frame_of(shape, rng, min(CHUNK, n - a), start).to_arrow()
                start += table.num_rows
                if writer is None:
                    writer = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
            continue
        with (folder / f"{name}.csv").open("wb") as fh:
            for a in range(0, n, CHUNK):
                frame = frame_of(shape, rng, min(CHUNK, n - a), start)
                start += frame.height
                fh.write(frame.write_csv(include_header=a == 0).encode())


MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'wall': wall, 'cpu': u.ru_utime + u.ru_stime, 'rss': u.ru_maxrss * 1024,\n"
    "                  'rc': p.returncode, 'out': (p.stdout + p.stderr)[-2000:]}))\n"
)

READ = (
    "import polars as pl, sys; n = 0\n"
    "for f in sys.argv[1:]:\n"
    "    n += (pl.read_parquet(f) if f.endswith('.parquet') else\n"
    "          pl.read_csv(f, ignore_errors=True, truncate_ragged_lines=True)).height\n"
    "print(n)"
)


def measure(cmd: list[str]) -> dict[str, Any]:
    """Wall time, CPU time and peak RSS of ``cmd`` alone (measured by a fresh parent)."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".csv", ".parquet"))


def warm(files: list[Path]) -> None:
    for f in files:
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass


def bench(folder: Path, repeat: int, read: bool = True) -> dict[str, Any]:
    """Alternate a polars read and a scan of ``folder``; the fastest of each, and the scan's findings."""
    files = files_of(folder)
    warm(files)
    out_json = folder.parent / f"{folder.name}.report.json"
    scan_cmd = [sys.executable, "-m", "dataaudit", "scan", str(folder), "--quiet", "--output", str(out_json)]
    list_file = folder.parent / f"{folder.name}.files"
    list_file.write_text("\n".join(map(str, files)))
    read_cmd = [sys.executable, "-c", READ.replace("sys.argv[1:]", f"open({str(list_file)!r}).read().split()")]
    reads, scans = [], []
    for _ in range(max(1, repeat)):
        if read:
            reads.append(measure(read_cmd))
        scans.append(measure(scan_cmd))
    scan = min(scans, key=lambda r: r["wall"])
    if scan["rc"] not in (0, 1):
        raise SystemExit(f"scan of {folder} failed (exit {scan['rc']}): {scan['out']}")
    report = json.loads(out_json.read_text())
    result = {"files": len(files), "bytes": sum(f.stat().st_size for f in files), "scan": scan,
              "rss": max(s["rss"] for s in scans), "rows": sum(int(s.get("rows") or 0) for s in report["splits"].values()),
              "findings": sorted({f["check"] for f in report["findings"]})}
    if read:
        result["read"] = min(reads, key=lambda r: r["wall"])
    return result


def ensure(shape: str, root: Path, size_gb: float, shards: int = 0, tag: str = "") -> Path:
    folder = root / f"{shape}{tag}-{size_gb:g}gb"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        rows = int(size_gb * 1e9 / BYTES_PER_ROW[shape])
        t = time.perf_counter()
        print(f"  generating {shape} ({size_gb:g} GB, {rows:,} rows) ...", file=sys.stderr, flush=True)
        generate(shape, folder, rows, shards=shards)
        done.write_text("")
        print(f"  ... {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return folder


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--data", type=Path, default=HERE / "_data" / "matrix")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated subset of " + ", ".join(SHAPES))
    ap.add_argument("--five-gb", action="store_true", help="also the 5 GB duplicate-heavy and low-cardinality shapes")
    ap.add_argument("--tiny-shards", type=int, default=0, help="also this many one-row CSV shards")
    args = ap.parse_args()
    import compileall

    compileall.compile_dir(str(HERE.parent / "dataaudit"), quiet=1)  # as pip does for an installed package
    print(f"table scan matrix, {load()} at the start")
    rows_out: list[tuple[str, dict[str, Any]]] = []
    for shape in [s for s in args.shapes.split(",") if s]:
        folder = ensure(shape, args.data, args.size_gb, shards=10_000 if shape == "shards" else 0)
        r = bench(folder, args.repeat)
        rows_out.append((shape, r))
        ratio = r["scan"]["wall"] / r["read"]["wall"]
        print(f"  {shape:13s} scan {r['scan']['wall']:6.2f} s, read {r['read']['wall']:6.2f} s: ratio {ratio:.2f}, "
              f"RSS {r['rss'] / 2**30:.2f} GiB ({load()})", file=sys.stderr, flush=True)
    if rows_out:
        print()
        print("| shape | files | size | rows | polars read | scan | ratio | CPU ratio | peak RSS | findings |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    worst = ("", 0.0)
    for shape, r in rows_out:
        ratio = r["scan"]["wall"] / r["read"]["wall"]
        if ratio > worst[1]:
            worst = (shape, ratio)
        print(f"| {shape} | {r['files']:,} | {r['bytes'] / 1e9:.2f} GB | {r['rows']:,} | {r['read']['wall']:.2f} s | "
              f"{r['scan']['wall']:.2f} s | **{ratio:.2f}** | {r['scan']['cpu'] / r['read']['cpu']:.2f} | "
              f"{r['rss'] / 2**30:.2f} GiB | {', '.join(r['findings'])} |")
    if worst[0]:
        print(f"\nworst shape: {worst[0]}, ratio {worst[1]:.2f} (target <= 2.0, aim 1.5); {load()} at the end")
    if args.five_gb:
        print("\n| shape at 5 GB | rows | scan | peak RSS (target < 2 GiB) |\n| --- | --- | --- | --- |")
        for shape in ("duplicates", "lowcard_text"):
            folder = ensure(shape, args.data, 5.0, tag="-big")
            r = bench(folder, 1, read=False)
            print(f"| {shape} | {r['rows']:,} | {r['scan']['wall']:.1f} s | **{r['rss'] / 2**30:.2f} GiB** |", flush=True)
            shutil.rmtree(folder)
    if args.tiny_shards:
        tiny = args.data / f"tiny-{args.tiny_shards}"
        if not (tiny / ".complete").exists():
            shutil.rmtree(tiny, ignore_errors=True)
            (tiny / "train").mkdir(parents=True)
            line = "age,city,score,label\n"
            for k in range(args.tiny_shards):
                (tiny / "train" / f"part-{k:07d}.csv").write_text(f"{line}{k % 90},paris,{k * 0.001:.3f},a\n")
            (tiny / ".complete").write_text("")
        r = bench(tiny, 1, read=False)
        per = r["scan"]["wall"] / args.tiny_shards * 1e3
        print(f"\n{args.tiny_shards:,} one-row CSV shards: scan {r['scan']['wall']:.1f} s, **{per:.3f} ms per shard** "
              f"(target well under 0.5 ms), peak RSS {r['rss'] / 2**30:.2f} GiB")
        shutil.rmtree(tiny)


if __name__ == "__main__":
    main()
