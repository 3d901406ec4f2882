"""Table scan benchmark: scan time vs plain ``polars.read_csv``, peak memory, rows/s.

    python benchmarks/bench_scan_tables.py --size-gb 1.0

Generates (once, cached in benchmarks/_data/) a three-split CSV dataset of about
``--size-gb`` with a few injected faults, then measures in this one run:

- ``polars.read_csv`` of every split file (the baseline: parse only, all cores),
- ``dataaudit scan`` of the folder (every check), in a child process so its
  peak RSS is its own,

and prints the ratio scan/read (target <= 2.0), the scan's peak RSS (target
< 2 GB) and rows/s. Timings on a shared machine are noisy: compare ratios from
the same run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

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


def peak_rss_of(cmd: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb * 1024, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--data", type=Path, default=HERE / "_data" / "tables")
    args = ap.parse_args()
    folder = args.data / f"{args.size_gb:g}gb"
    if not (folder / "test.csv").exists():
        print(f"generating ~{args.size_gb:g} GB of CSV in {folder} ...", flush=True)
        generate(folder, args.size_gb)
    files = sorted(folder.glob("*.csv"))
    size = sum(f.stat().st_size for f in files)

    read_code = (
        "import polars as pl, sys, time; t=time.perf_counter(); n=0\n"
        "for f in sys.argv[1:]:\n    n += pl.read_csv(f, ignore_errors=True, truncate_ragged_lines=True).height\n"
        "print(n)"
    )
    # Warm the page cache once so both contenders read from memory.
    for f in files:
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    out_json = folder.parent / "report.json"
    scan_cmd = [sys.executable, "-m", "dataaudit", "scan", str(folder), "--quiet", "--output", str(out_json)]
    scan_s, scan_rss, _ = peak_rss_of(scan_cmd)  # first, so the children's peak RSS is the scan's own
    read_s, read_rss, read_out = peak_rss_of([sys.executable, "-c", read_code, *map(str, files)])
    rows = int(read_out.strip().splitlines()[-1])
    report = json.loads(out_json.read_text())
    found = sorted({f["check"] for f in report["findings"]})
    print(f"data: {size / 1e9:.2f} GB, {rows:,} rows in {len(files)} files ({folder})")
    print(f"polars.read_csv : {read_s:7.2f} s")
    print(f"dataaudit scan  : {scan_s:7.2f} s   peak RSS {scan_rss / 2**30:5.2f} GiB (target < 2 GiB)")
    print(f"ratio scan/read : {scan_s / read_s:7.2f}   (target <= 2.0)")
    print(f"scan throughput : {rows / scan_s:,.0f} rows/s, {size / scan_s / 1e6:,.0f} MB/s")
    print(f"findings        : {', '.join(found)}")


if __name__ == "__main__":
    main()
