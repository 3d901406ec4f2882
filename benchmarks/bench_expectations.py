"""What ``--expectations`` adds to a scan: the suite generated from train, validated on every split.

Target (issue #18): the expectations pass costs under 20% of the scan it rides on, at 100k rows.
The data is sklearn's wine table resampled to ``--rows`` rows with 1% noise per value (13 numeric
features and a text label), split 80/10/10 into CSV files. Scans with and without the suite
alternate in one process (``--runs`` each, the fastest of each compared), and the same again with
Great Expectations answering every expectation (the path hand-written suites of other types
take), so both figures come from one run on this shared machine.

    python benchmarks/bench_expectations.py [--rows 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl


def make_data(root: Path, rows: int) -> Path:
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(x), rows)
    df = pl.from_pandas(x.iloc[idx].reset_index(drop=True))
    noise = [(pl.col(c) * (1 + 0.01 * pl.Series(rng.standard_normal(rows)))).round(4).alias(c) for c in df.columns]
    df = df.with_columns(noise).with_columns(pl.Series("cultivar", [f"class_{v}" for v in y.iloc[idx]]))
    order = rng.permutation(rows)
    cut = (int(0.8 * rows), int(0.9 * rows))
    df[order[: cut[0]]].write_csv(root / "train.csv")
    df[order[cut[0]: cut[1]]].write_csv(root / "val.csv")
    df[order[cut[1]:]].write_csv(root / "test.csv")
    return root


def timed(fn: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import dataaudit
    from dataaudit.config import Config
    from dataaudit.expectations import native
    from dataaudit.expectations.generate import generate_suite

    with tempfile.TemporaryDirectory() as tmp:
        root = make_data(Path(tmp), args.rows)
        suite_path = Path(tmp) / "suite.json"
        suite = generate_suite(root, Config(), "bench")
        suite_path.write_text(json.dumps(suite), encoding="utf-8")
        n_exp = len(suite["expectations"]) + len(suite["meta"]["dataaudit"]["expectations"])

        def scan(with_suite: bool) -> Any:
            return dataaudit.scan(root, expectations=suite_path if with_suite else None, progress=False)

        scan(True)  # warm caches and imports of the native path
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.runs):
            for name, with_suite in (("scan", False), ("scan + suite", True)):
                w, c = timed(lambda: scan(with_suite))
                prev = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(prev[0], w), min(prev[1], c))

        original = native.supported
        native.supported = lambda etype, kwargs: False  # type: ignore[assignment]
        try:
            scan(True)  # GX import and context, not counted
            for _ in range(max(2, args.runs // 2)):
                w, c = timed(lambda: scan(True))
                prev = best.get("scan + suite (all through GX)", (float("inf"), float("inf")))
                best["scan + suite (all through GX)"] = (min(prev[0], w), min(prev[1], c))
        finally:
            native.supported = original  # type: ignore[assignment]

    base_w, base_c = best["scan"]
    print(f"{args.rows:,} rows in 3 CSV splits, suite of {n_exp} expectations; fastest of {args.runs} runs each")
    print(f"{'':34} {'wall s':>8} {'cpu s':>8} {'added wall':>11} {'added cpu':>10}")
    for name, (w, c) in best.items():
        print(f"{name:34} {w:8.3f} {c:8.3f} {(w - base_w) / base_w:10.1%} {(c - base_c) / base_c:9.1%}")
    print("target: the suite adds < 20% to the scan (native path); the GX line excludes GX's ~3 s import")


if __name__ == "__main__":
    main()
