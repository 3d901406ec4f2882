"""``dataaudit scan``: audit a dataset, print and write the report, exit 0/1/2.

Also exports :func:`add_source_arguments` and :func:`config_from_args` so other
commands that read a dataset (``baseline``, ``expectations``, ``fit``) take the
same options.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

INPUT_FORMATS = ("csv", "tsv", "txt", "parquet", "jsonl")
REPORT_FORMATS = ("console", "text", "json", "html")


def _kv(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected ID=LEVEL, got {text!r}")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Options that say how to read a dataset (shared by every command that reads one)."""
    g = p.add_argument_group("source")
    g.add_argument("--label", metavar="COL", help="label column (default: detected)")
    g.add_argument("--split-column", metavar="COL", help="column holding split names (default: 'split' if present)")
    g.add_argument("--text-column", metavar="COL", help="text column (makes the dataset a text dataset)")
    g.add_argument("--input-format", choices=INPUT_FORMATS, help="read files as this format")
    g.add_argument("--delimiter", metavar="CHAR", help="field delimiter of delimited text (default: sniffed)")
    g.add_argument("--encoding", help="text encoding (default: detected: utf-8, else cp1252/latin-1)")
    g.add_argument("--modality", choices=("table", "text", "image"), help="override the detected modality")
    g.add_argument("--config", dest="config", metavar="FILE|NAME",
                   help="a TOML file with [tool.dataaudit] (default: the working directory's pyproject.toml); "
                        "for a Hub dataset, a dataset config name")
    g.add_argument("--config-file", metavar="FILE", help="TOML file with [tool.dataaudit] (unambiguous form)")
    g.add_argument("--trust-dataset-config", action="store_true",
                   help="also read the pyproject.toml inside the dataset folder (ignored by default: the data "
                        "under audit must not be able to weaken its own gate)")
    g.add_argument("--hf-config", "--subset", dest="hf_config", metavar="NAME", help="Hub dataset config name")
    g.add_argument("--split", metavar="NAME", help="Hub: read only this split")
    g.add_argument("--max-rows", type=int, metavar="N", help="Hub: read at most N rows of each split")
    g.add_argument("--revision", metavar="REV", help="Hub: dataset revision (or hf://ns/name@REV)")
    g.add_argument("--token", metavar="TOKEN", help="Hub token (default: HF_TOKEN, then the stored login)")
    g.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="Hub: give up a network scan after this many seconds in all (default 3600)")
    g.add_argument("--verbose", "-v", action="store_true", help="log each network retry on stderr, one line each")
    g.add_argument("--workers", type=int, metavar="N", help="decode worker processes for images (default: all cores)")
    g.add_argument("--sample-size", type=int, metavar="N", help="rows sampled per split for shift tests (default 20000)")


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("checks and gate")
    g.add_argument("--fail-on", choices=("error", "warning", "info", "never"),
                   help="lowest severity that fails the scan (default: error)")
    g.add_argument("--ignore", action="append", default=[], metavar="ID", help="skip a check id (repeatable)")
    g.add_argument("--severity", action="append", default=[], type=_kv, metavar="ID=LEVEL",
                   help="override the severity of a check id (repeatable)")
    g.add_argument("--set", action="append", default=[], metavar="ID.PARAM=VALUE",
                   help="override a threshold, e.g. distribution_shift.ks_warning=0.2 (repeatable)")
    g.add_argument("--max-examples", type=int, metavar="N", help="examples per finding in reports (default 20)")


def _looks_like_file(value: str) -> bool:
    return value.endswith(".toml") or Path(value).is_file()


def config_from_args(args: argparse.Namespace, source: str) -> Any:
    """Build the :class:`~dataaudit.config.Config` from parsed arguments."""
    from dataaudit.config import build_config, parse_assignment
    from dataaudit.errors import UsageError

    config_file = getattr(args, "config_file", None)
    hf_config = getattr(args, "hf_config", None)
    cfg_arg = getattr(args, "config", None)
    if cfg_arg:
        if _looks_like_file(cfg_arg):
            config_file = config_file or cfg_arg
        elif source.startswith("hf://") or not Path(source).is_dir() or (Path(source) / "dataset_dict.json").exists() \
                or (Path(source) / "README.md").exists():
            hf_config = hf_config or cfg_arg
        else:
            raise UsageError(f"--config {cfg_arg}: no such file")
    params: dict[str, dict[str, Any]] = {}
    for text in getattr(args, "set", []) or []:
        check_id, param, value = parse_assignment(text)
        params.setdefault(check_id, {})[param] = value
    input_format = getattr(args, "input_format", None)
    return build_config(
        source, config_file, trust_dataset_config=bool(getattr(args, "trust_dataset_config", False)),
        label=args.label, split_column=args.split_column, text_column=args.text_column,
        format=input_format, delimiter=args.delimiter, encoding=args.encoding, modality=args.modality,
        config_name=hf_config, split=args.split, max_rows=args.max_rows, revision=args.revision,
        token=args.token, timeout=getattr(args, "timeout", None), workers=args.workers, sample_size=args.sample_size,
        fail_on=getattr(args, "fail_on", None), ignore=getattr(args, "ignore", None) or None,
        severity=dict(getattr(args, "severity", []) or []) or None, params=params or None,
        max_examples=getattr(args, "max_examples", None),
        baseline_tolerance=getattr(args, "baseline_tolerance", None),
        progress=not getattr(args, "quiet", False),
    )


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scan", help="audit a dataset and gate on the findings",
        description="Audit a dataset (a folder, a table file or hf://NAMESPACE/NAME). Exit 0: passed; "
                    "1: findings at or above --fail-on; 2: the scan could not run.",
    )
    p.add_argument("source", help="dataset folder, table file, or hf://NAMESPACE/NAME[@REVISION]")
    add_source_arguments(p)
    add_check_arguments(p)
    g = p.add_argument_group("output")
    g.add_argument("--format", dest="formats", action="append", default=[], metavar="FORMAT",
                   choices=REPORT_FORMATS + INPUT_FORMATS,
                   help="report format: console (default), json or html; an input format "
                        "(csv, tsv, txt, parquet, jsonl) overrides how files are read")
    g.add_argument("--output", "-o", metavar="PATH", help="write the report here (json, or html with --format html)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress and only the one-line verdict")
    g.add_argument("--no-color", action="store_true",
                   help="no colour on the console (also NO_COLOR=1; FORCE_COLOR=1 forces it into a pipe)")
    g.add_argument("--expectations", metavar="SUITE.json", help="also validate each split with a Great Expectations suite")
    g.add_argument("--baseline", metavar="FILE", help="accept the findings recorded in this baseline")
    g.add_argument("--baseline-tolerance", type=float, metavar="SHARE",
                   help="how much an accepted finding's fraction (or count) may grow over the baseline's, "
                        "as a share of it (default 0: any growth fails)")
    g.add_argument("--artefact", metavar="preprocess.json", help="check this fitted normalisation against train")
    g.add_argument("--mean", metavar="M1,M2,M3", help="image normalisation mean to check (with --std)")
    g.add_argument("--std", metavar="S1,S2,S3", help="image normalisation std to check (with --mean)")
    p.set_defaults(run=run)


def split_formats(formats: list[str]) -> tuple[str | None, str | None]:
    """``--format`` values: (report format, input format)."""
    from dataaudit.errors import UsageError

    report = [f for f in formats if f in REPORT_FORMATS]
    inputs = [f for f in formats if f in INPUT_FORMATS]
    if len(report) > 1 or len(inputs) > 1:
        raise UsageError("--format given twice for the same purpose")
    return (report[0] if report else None), (inputs[0] if inputs else None)


def run(args: argparse.Namespace) -> int:
    from dataaudit.report.console import EXAMPLES_SHOWN, color_choice, printable, render_console, render_summary
    from dataaudit.scanner import scan

    report_format, input_format = split_formats(args.formats)
    if input_format:
        args.input_format = args.input_format or input_format
    cfg = config_from_args(args, args.source)
    report = scan(args.source, config=cfg, expectations=args.expectations, baseline=args.baseline,
                  artefact=args.artefact, mean=args.mean, std=args.std)
    verdict = 0 if report.passed else 1
    fmt = report_format
    if fmt is None and args.output:
        fmt = "html" if args.output.lower().endswith((".html", ".htm")) else "json"
    try:
        if fmt in (None, "console", "text"):
            if args.quiet:
                render_summary(report)
            else:
                shown = args.max_examples if args.max_examples is not None else EXAMPLES_SHOWN
                render_console(report, max_examples=shown, color=color_choice(args.no_color))
        else:
            if not args.quiet:  # the console report, which shows the notes, is not printed
                for note in cfg.notes:
                    sys.stderr.write(f"dataaudit: note: {printable(note)}\n")
            if args.output is None:
                sys.stdout.write(_render(report, fmt))
                if fmt == "json":
                    sys.stdout.write("\n")
        if args.output:
            _write(Path(args.output), _render(report, fmt or "json"))
            if fmt in ("json", "html"):
                # the verdict line: stdout is free when the report went to a file (-q prints only it)
                free = args.quiet and not _is_stdout(Path(args.output))
                render_summary(report, sys.stdout if free else sys.stderr)
        elif args.quiet and fmt in ("json", "html"):
            render_summary(report, sys.stderr)  # the report is on stdout: the verdict goes beside it
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): the report is cut short, the verdict is not.
        from dataaudit.cli import discard_stdout

        discard_stdout()
    return verdict


def _render(report: Any, fmt: str | None) -> str:
    if fmt == "html":
        from dataaudit.report.html import render_html

        return str(render_html(report))
    if fmt in ("console", "text"):
        import io

        from dataaudit.report.console import render_console

        buf = io.StringIO()
        render_console(report, file=buf, color=False)
        return buf.getvalue()
    return str(report.to_json())


def _is_stdout(path: Path) -> bool:
    """Whether ``path`` is (a link to) the file standard output writes to."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _write(path: Path, text: str) -> None:
    from dataaudit.report.output import write_report

    write_report(path, text)
