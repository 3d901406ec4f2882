"""Table scan benchmark: scan time vs plain ``polars.read_csv``, peak memory, rows/s.

    python benchmarks/bench_scan_tables.py --size-gb 1.0

Generates (once, cached in benchmarks/_data/) a three-split CSV dataset of about
``--size-gb`` with a few injected faults, then measures in this one run:

- ``polars.read_csv`` of every split file (the baseline: parse only, all cores),
- ``dataaudit scan`` of the folder (every check), in a child process so its
  peak RSS is its own,

alternating the two ``--repeat`` times (the fastest of each is compared), and
prints the ratio scan/read (target <= 2.0), the scan's peak RSS (target < 2 GB),
rows/s and the CPU time of each. Timings on a shared machine are noisy: compare
ratios from the same run, not absolute times across runs, and run it when the
machine is otherwise idle (``read_csv`` uses every core, so contention skews it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
COLUMNS = ["id", "age", "income", "score", "ratio", "city", "device", "segment", "clicks", "text", "label"]


def generate(folder: Path, size_gb: float, seed: int = 0) -> None:
    """Write train/val/test CSVs (80/10/10) of about ``size_gb`` with planted faults."""
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bytes_per_row = 95
    total = int(size_gb * 1e9 / bytes_per_row)
    cities = np.array(["london", "paris", "berlin", "madrid", "rome", "oslo", "vienna", "lisbon"])
    devices = np.array(["ios", "android", "web"])
    labels = np.array(["churn", "stay", "upgrade"])
    words = np.array(("great slow app price support fast bug love hate ok crash login screen update battery "
                      "design pay refund order late cheap easy hard broken perfect awful useful button sync "
                      "account password photo video music share friend chat search menu dark mode font size "
                      "ads free trial cancel notify map route").split())
    chunk = 1_000_000
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        n = int(total * frac)
        path = folder / f"{name}.csv"
        with path.open("wb") as fh:
            written = 0
            first = True
            while written < n:
                m = min(chunk, n - written)
                df = pl.DataFrame({
                    "id": np.arange(written, written + m) + (0 if name == "train" else 10**9 * (1 + (name == "test"))),
                    "age": rng.integers(18, 90, m),
                    "income": np.round(rng.lognormal(10, 0.6, m), 2) * (1.3 if name == "test" else 1.0),
                    "score": np.round(rng.normal(0, 1, m), 5),
                    "ratio": np.round(rng.uniform(0, 1, m), 4),
                    "city": cities[rng.integers(0, len(cities), m)],
                    "device": devices[rng.integers(0, len(devices), m)],
                    "segment": rng.choice(np.array(["a", "b", "c", "d"]), m),
                    "clicks": rng.poisson(3, m),
                    "text": [" ".join(w) for w in words[rng.integers(0, len(words), (m, 6))]],
                    "label": labels[rng.integers(0, 3, m)],
                })
                buf = df.write_csv(include_header=first)
                fh.write(buf.encode())
                if first and name == "train":
                    fh.write(b"1,2,3;4;5\n")  # a malformed row early on
                first = False
                written += m


MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'wall': wall, 'cpu': u.ru_utime + u.ru_stime, 'rss': u.ru_maxrss * 1024,\n"
    "                  'out': p.stdout + p.stderr}))\n"
)


def measure(cmd: list[str]) -> dict[str, Any]:
    """Wall time, CPU time (user + system) and peak RSS of ``cmd`` alone (measured by a fresh parent)."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--data", type=Path, default=HERE / "_data" / "tables")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternate read and scan this many times; the fastest of each is compared")
    args = ap.parse_args()
    folder = args.data / f"{args.size_gb:g}gb"
    if not (folder / "test.csv").exists():
        print(f"generating ~{args.size_gb:g} GB of CSV in {folder} ...", flush=True)
        generate(folder, args.size_gb)
    files = sorted(folder.glob("*.csv"))
    size = sum(f.stat().st_size for f in files)

    read_code = (
        "import polars as pl, sys; n=0\n"
        "for f in sys.argv[1:]:\n    n += pl.read_csv(f, ignore_errors=True, truncate_ragged_lines=True).height\n"
        "print(n)"
    )
    # Bytecode for the package, as pip writes it for an installed one (polars has its own): with
    # PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise be compiled on every start.
    import compileall

    compileall.compile_dir(str(HERE.parent / "dataaudit"), quiet=1)
    # Warm the page cache once so both contenders read from memory.
    for f in files:
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    out_json = folder.parent / "report.json"
    scan_cmd = [sys.executable, "-m", "dataaudit", "scan", str(folder), "--quiet", "--output", str(out_json)]
    reads, scans = [], []
    for _ in range(max(1, args.repeat)):
        reads.append(measure([sys.executable, "-c", read_code, *map(str, files)]))
        scans.append(measure(scan_cmd))
    read, scan = min(reads, key=lambda r: r["wall"]), min(scans, key=lambda r: r["wall"])
    rows = int(read["out"].strip().splitlines()[-1])
    report = json.loads(out_json.read_text())
    found = sorted({f["check"] for f in report["findings"]})
    peak = max(s["rss"] for s in scans)
    print(f"data: {size / 1e9:.2f} GB, {rows:,} rows in {len(files)} files ({folder}); {os.cpu_count()} cores")
    print(f"fastest of {len(scans)} alternating runs each (wall, CPU = user + system):")
    print(f"polars.read_csv : {read['wall']:7.2f} s   CPU {read['cpu']:6.2f} s")
    print(f"dataaudit scan  : {scan['wall']:7.2f} s   CPU {scan['cpu']:6.2f} s   peak RSS {peak / 2**30:5.2f} GiB "
          f"(target < 2 GiB)")
    print(f"ratio scan/read : {scan['wall'] / read['wall']:7.2f}   (target <= 2.0); CPU ratio {scan['cpu'] / read['cpu']:.2f}")
    print(f"scan throughput : {rows / scan['wall']:,.0f} rows/s, {size / scan['wall'] / 1e6:,.0f} MB/s")
    print(f"findings        : {', '.join(found)}")


if __name__ == "__main__":
    main()
