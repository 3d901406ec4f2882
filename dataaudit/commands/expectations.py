"""``dataaudit expectations generate``: infer a Great Expectations suite from train."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``expectations`` with its ``generate`` subcommand."""
    p = sub.add_parser(
        "expectations",
        help="Great Expectations suites: infer one from train",
        description="Work with Great Expectations suites. A suite is validated during a scan with "
        "`dataaudit scan SOURCE --expectations SUITE.json`.",
    )
    inner = p.add_subparsers(dest="expectations_command", metavar="SUBCOMMAND")
    g = inner.add_parser(
        "generate",
        help="infer a suite from the train split",
        description="Infer an ExpectationSuite from the train split of SOURCE: the columns and their "
        "types, not-null where train has no missing value, value sets for categorical columns and the "
        "label, numeric ranges widened by a margin, and row-count bounds. Each expectation's "
        "meta.severity says what a violation costs in the gate; edit the file freely.",
    )
    g.add_argument("source", help="dataset folder, table file, or hf://NAMESPACE/NAME[@REVISION]")
    g.add_argument("-o", "--output", metavar="SUITE.json", help="write the suite here (default: standard output)")
    g.add_argument("--name", help="suite name (default: the dataset's folder or file name)")
    g.add_argument("--margin", type=float, default=0.25, metavar="FRACTION",
                   help="widen numeric ranges by this fraction of train's span (default 0.25)")
    g.add_argument("--max-categories", type=int, default=50, metavar="N",
                   help="string columns with at most N distinct values get a value set (default 50)")
    g.add_argument("--row-tolerance", type=float, default=0.5, metavar="FRACTION",
                   help="train's row count may vary by this fraction (default 0.5)")
    from dataaudit.commands.scan import add_source_arguments

    add_source_arguments(g)
    g.set_defaults(run=run_generate)
    p.set_defaults(run=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_generate(args: argparse.Namespace) -> int:
    import json

    from dataaudit.baseline import write_text_atomic
    from dataaudit.commands.scan import config_from_args
    from dataaudit.errors import UsageError
    from dataaudit.expectations.generate import generate_suite

    if args.margin < 0:
        raise UsageError("--margin must be 0 or more")
    if args.max_categories < 1:
        raise UsageError("--max-categories must be at least 1")
    if not 0 <= args.row_tolerance < 1:
        raise UsageError("--row-tolerance must be at least 0 and below 1")
    args.quiet = True
    cfg = config_from_args(args, args.source)
    suite = generate_suite(args.source, cfg, args.name, margin=args.margin,
                           max_categories=args.max_categories, row_tolerance=args.row_tolerance)
    text = json.dumps(suite, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        from pathlib import Path

        write_text_atomic(Path(args.output), text, what="suite")
        columns = len((suite.get("meta") or {}).get("dataaudit", {}).get("columns", {}))
        sys.stderr.write(f"wrote {len(suite['expectations'])} expectations on {columns} columns to {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0
