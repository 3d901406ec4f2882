"""``dataaudit checks`` (every check id, its parameters and defaults) and ``dataaudit explain ID``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``checks`` and ``explain`` subcommands."""
    checks = subparsers.add_parser(
        "checks",
        help="list every check id with its parameters and defaults",
        description="List every check id with a one-line description, its parameters and their defaults "
                    "(set them with --set ID.PARAM=VALUE or [tool.dataaudit.checks.ID]).",
    )
    checks.add_argument("--format", choices=("text", "json"), default="text")
    checks.set_defaults(run=run_checks)
    explain = subparsers.add_parser(
        "explain",
        help="what a finding of a check id means and how to fix it",
        description="Say what a finding of check ID means, how to fix it, and the parameters that tune it.",
    )
    explain.add_argument("check_id", metavar="ID", help="a check id, as in a report (e.g. split_overlap)")
    explain.set_defaults(run=run_explain)


def _entries() -> dict[str, dict[str, Any]]:
    from dataaudit.checks.catalog import CATALOG
    from dataaudit.checks.registry import all_ids, ensure_loaded

    ensure_loaded()
    out: dict[str, dict[str, Any]] = {}
    for check_id, defaults in sorted(all_ids().items()):
        doc = CATALOG.get(check_id)
        out[check_id] = {
            "summary": doc.summary if doc else "",
            "meaning": doc.meaning if doc else "",
            "fix": doc.fix if doc else "",
            "parameters": {name: {"default": value, "description": (doc.params.get(name, "") if doc else "")}
                           for name, value in defaults.items()},
        }
    return out


def run_checks(args: argparse.Namespace) -> int:
    entries = _entries()
    if args.format == "json":
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    width = max(len(k) for k in entries)
    for check_id, e in entries.items():
        sys.stdout.write(f"{check_id:<{width}}  {e['summary']}\n")
        for name, p in e["parameters"].items():
            sys.stdout.write(f"{'':<{width}}    {check_id}.{name} = {p['default']!r}  {p['description']}\n")
    sys.stdout.write("\nMore on one check: dataaudit explain ID\n")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    import difflib

    from dataaudit.errors import UsageError

    entries = _entries()
    e = entries.get(args.check_id)
    if e is None:
        close = difflib.get_close_matches(args.check_id, list(entries), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; `dataaudit checks` lists them"
        raise UsageError(f"unknown check id {args.check_id!r}{hint}")
    out = [f"{args.check_id}: {e['summary']}", "", f"What it means: {e['meaning']}", "", f"What to do: {e['fix']}"]
    if e["parameters"]:
        out += ["", "Parameters (--set ID.PARAM=VALUE, or [tool.dataaudit.checks.ID]):"]
        out += [f"  {name} = {p['default']!r}  {p['description']}" for name, p in e["parameters"].items()]
    out += ["", f"Silence it with --ignore {args.check_id}, or change its severity with "
                f"--severity {args.check_id}=info."]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
