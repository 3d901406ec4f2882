"""``dataaudit loader-bench SOURCE``: naive loader vs the tuned, cached one, in images/s."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``loader-bench`` subcommand."""
    p = subparsers.add_parser(
        "loader-bench",
        help="compare a naive PyTorch loader with the tuned, cached one (images/s)",
        description=(
            "Time one epoch of a naive loader (torchvision ImageFolder with the fitted eval transform "
            "applied per image, num_workers=0), the "
            "tuned loader's first epoch (decoding into a fresh cache) and its cached epochs, print "
            "images/s, the settings the tuner chose, and whether both loaders delivered the same "
            "samples in the same order."
        ),
    )
    p.add_argument("source", help="image dataset folder (or a table, with a table --artefact: rows/s)")
    p.add_argument("--split", default="train", help="split to load (default: train)")
    p.add_argument("--artefact", metavar="FILE", help="preprocess.json from `dataaudit fit` (size, mean/std, classes)")
    p.add_argument("--size", type=int, nargs="+", metavar="N", help="image size: N or HEIGHT WIDTH (without --artefact)")
    p.add_argument("--mean", type=float, nargs="+", help="per-channel mean (without --artefact)")
    p.add_argument("--std", type=float, nargs="+", help="per-channel std (without --artefact)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--epochs", type=int, default=3, help="cached epochs to time (default: 3)")
    p.add_argument("--rounds", type=int, default=1,
                   help="naive and first epochs to interleave; medians are reported (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default: 0)")
    p.add_argument("--no-shuffle", action="store_true", help="sequential order")
    p.add_argument("--tune-seconds", type=float, default=0.75, help="measuring window per setting (default: 0.75)")
    p.add_argument(
        "--cache-dir", metavar="DIR",
        help="cache root to use (default: a temporary one, removed afterwards, so the first epoch is uncached)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print it; exit 1 when the loaders disagree."""
    import json
    import sys

    from dataaudit.errors import UsageError, require

    require("torch", "torch")
    from dataaudit.loader.bench import run_bench, run_table_bench, table_lines

    size: int | list[int] | None = None
    if args.size:
        if len(args.size) > 2:
            raise UsageError("--size takes N or HEIGHT WIDTH")
        size = args.size[0] if len(args.size) == 1 else list(args.size)
    if args.artefact is None and size is None:
        raise UsageError("give --artefact FILE (from `dataaudit fit`) or --size N")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    if args.artefact is not None and size is None:
        from dataaudit.fit.artefact import load_artefact

        art = load_artefact(args.artefact)
        if art.table is not None:
            doc = run_table_bench(args.source, art, split=args.split, batch_size=args.batch_size,
                                  epochs=args.epochs, seed=args.seed, shuffle=not args.no_shuffle,
                                  cache_dir=args.cache_dir, log=log)  # fmt: skip
            print(json.dumps(doc, indent=2) if args.json else "\n".join(table_lines(doc)))
            return 0 if doc["same_rows_and_order"] else 1
    result = run_bench(
        args.source, split=args.split, artefact=args.artefact, size=size, mean=args.mean, std=args.std,
        batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, shuffle=not args.no_shuffle,
        cache_dir=args.cache_dir, tune_seconds=args.tune_seconds, rounds=args.rounds, log=log,
    )  # fmt: skip
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print("\n".join(result.lines()))
    return 0 if result.same_samples and result.same_order else 1
