"""``dataaudit baseline SOURCE -o FILE``: record today's findings as accepted."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the ``baseline`` subcommand."""
    p = sub.add_parser(
        "baseline",
        help="record the current findings so the gate fails only on new ones",
        description="Scan SOURCE and record every finding in a baseline file. "
        "`dataaudit scan SOURCE --baseline FILE` then accepts those findings (they are still listed "
        "in the report) and fails only on new ones. Use the same options as the gated scan "
        "(--expectations, --label, thresholds...) so the same findings are produced.",
    )
    p.add_argument("source", help="dataset folder, table file, or hf://NAMESPACE/NAME[@REVISION]")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="baseline file to write (JSON)")
    p.add_argument("--expectations", metavar="SUITE.json", help="also record the findings of this suite")
    p.add_argument("--artefact", metavar="preprocess.json", help="as for scan: check this fitted normalisation")
    p.add_argument("--mean", metavar="M1,M2,M3", help="as for scan: image normalisation mean (with --std)")
    p.add_argument("--std", metavar="S1,S2,S3", help="as for scan: image normalisation std (with --mean)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress")
    from dataaudit.commands.scan import add_check_arguments, add_source_arguments

    add_source_arguments(p)
    add_check_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from collections import Counter

    from dataaudit.baseline import write_baseline
    from dataaudit.commands.scan import config_from_args
    from dataaudit.scanner import scan

    cfg = config_from_args(args, args.source)
    report = scan(args.source, config=cfg, expectations=args.expectations,
                  artefact=args.artefact, mean=args.mean, std=args.std)
    write_baseline(report, args.output)
    by_sev = Counter(f.severity.label for f in report.findings)
    parts = ", ".join(f"{by_sev[s]} {s}" for s in ("error", "warning", "info") if by_sev[s]) or "no findings"
    sys.stderr.write(f"wrote a baseline of {len(report.findings)} finding(s) ({parts}) to {args.output}\n")
    return 0
