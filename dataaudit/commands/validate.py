"""``dataaudit validate --artefact preprocess.json NEW_DATA``: serving-skew report, exit 0/1/2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from dataaudit.commands.scan import add_source_arguments

    p = sub.add_parser(
        "validate", help="check new data against a fitted artefact (serving skew)",
        description="Check new data against what an artefact was fitted on: missing or extra columns, types, "
                    "unseen categories, values outside the train range, missing rates, image modes and sizes, "
                    "unknown labels. Same report format and exit codes as scan (0 passed, 1 findings at or "
                    "above --fail-on, 2 could not run).",
    )  # fmt: skip
    p.add_argument("source", help="the new data: folder, table file or hf://NAMESPACE/NAME")
    p.add_argument("--artefact", required=True, metavar="preprocess.json", help="the artefact written by fit")
    add_source_arguments(p)
    g = p.add_argument_group("thresholds")
    g.add_argument("--range-margin", type=float, metavar="F",
                   help="tolerated overshoot of the train range, as a share of its width (default 0.1)")
    g.add_argument("--unknown-margin", type=float, metavar="F",
                   help="tolerated rise of the unknown-category share over train's (default 0.01)")
    g.add_argument("--missing-margin", type=float, metavar="F",
                   help="tolerated rise of the missing share over train's (default 0.05)")
    g.add_argument("--shift-threshold", type=float, metavar="SD",
                   help="mean shift, in train standard deviations, reported as distribution_shift (default 0.5)")
    g.add_argument("--shift-error", type=float, metavar="SD",
                   help="mean shift from which distribution_shift is an error (default 1.0)")
    g.add_argument("--range-error", type=float, metavar="F",
                   help="share of a column's values outside the train range from which it is an error "
                        "(default 0.05)")
    g.add_argument("--missing-error", type=float, metavar="F",
                   help="rise of the missing share over train's from which it is an error (default 0.25)")
    g.add_argument("--unknown-error", type=float, metavar="F",
                   help="rise of the unseen-category share over train's from which it is an error (default 0.25)")
    g = p.add_argument_group("gate and output")
    g.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                   help="lowest severity that fails (default: error)")
    g.add_argument("--max-examples", type=int, metavar="N", help="examples per finding in reports (default 20)")
    g.add_argument("--format", dest="report_format", choices=("console", "json"), default=None,
                   help="report format (default: console; json when --output is given)")
    g.add_argument("--output", "-o", metavar="PATH", help="write the JSON report here")
    g.add_argument("--quiet", "-q", action="store_true", help="only the one-line verdict")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataaudit.commands.scan import _write, config_from_args
    from dataaudit.fit import load_artefact
    from dataaudit.fit.validate import validate
    from dataaudit.report.console import render_console, render_summary

    art = load_artefact(args.artefact)
    quiet = args.quiet
    args.quiet = True
    cfg = config_from_args(args, args.source)
    thresholds = {
        k: v for k, v in {
            "range_margin": args.range_margin, "unknown_margin": args.unknown_margin,
            "missing_margin": args.missing_margin, "shift_threshold": args.shift_threshold,
            "shift_error": args.shift_error, "range_error": args.range_error,
            "missing_error": args.missing_error, "unknown_error": args.unknown_error,
        }.items() if v is not None
    }  # fmt: skip
    report = validate(args.source, art, config=cfg, fail_on=args.fail_on, **thresholds)
    fmt = args.report_format or ("json" if args.output else "console")
    if fmt == "json" and not args.output:
        sys.stdout.write(report.to_json() + "\n")
    elif quiet:
        render_summary(report)
    else:
        render_console(report)
    if args.output:
        _write(Path(args.output), report.to_json())
    return 0 if report.passed else 1
