"""The readable console report (rich): what was found, grouped by severity."""

from __future__ import annotations

import re
from typing import IO, Any

from dataaudit.report.model import Finding, Report, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
EXAMPLES_SHOWN = 3


# C0 controls (ESC starts CSI/OSC sequences; CR and BS overwrite what was printed), DEL,
# C1 controls (0x9b is a one-byte CSI) and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with every terminal control character written as a visible escape
    (``\\x1b``, ``\\n``, ``\\u202e``): data reaches the terminal as data, never as commands."""
    return _CONTROL.sub(_escape_one, str(text))


def _escape_one(match: re.Match[str]) -> str:
    ch = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def _safe(text: object) -> str:
    """Printable and free of rich markup."""
    from rich.markup import escape

    return escape(printable(text))


def _where(item: dict[str, Any]) -> str:
    parts = []
    if item.get("split"):
        parts.append(str(item["split"]))
    if "path" in item:
        parts.append(str(item["path"]))
    if "line" in item:
        parts.append(f"line {item['line']}")
    if "row" in item:
        parts.append(f"row {item['row']}")
    if "column" in item and "row" not in item:
        parts.append(f"column {item['column']}")
    text = " ".join(parts)
    extra = {k: v for k, v in item.items() if k not in ("split", "path", "row", "line", "column", "duplicate_of")}
    if item.get("duplicate_of"):
        text += f" = {_where(item['duplicate_of'])}"
    if extra:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in list(extra.items())[:4])
        text += f" ({shown})"
    return text


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, float):
        text = f"{value:.4g}"
    text = printable(text)
    return text if len(text) <= 60 else text[:57] + "..."


def color_choice(no_color_flag: bool = False) -> bool | None:
    """Colour on the console: ``--no-color`` or a non-empty ``NO_COLOR`` turn it off, a non-empty
    ``FORCE_COLOR`` turns it on (even into a pipe); otherwise ``None``: on for a terminal."""
    import os

    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


def render_console(report: Report, file: IO[str] | None = None, max_examples: int = EXAMPLES_SHOWN,
                   color: bool | None = None, json_written: bool = False) -> None:
    """Print the report: header, findings by severity with a few examples and a hint, summary line.

    ``color`` None follows the terminal and the environment (:func:`color_choice`);
    ``json_written`` says whether examples left out here can be found in a JSON report.
    """
    from rich.console import Console

    if color is None:
        color = color_choice()
    console = Console(file=file, highlight=False, soft_wrap=True, force_terminal=color,
                      no_color=True if color is False else None)
    det = report.detected
    rows = ", ".join(f"{name} {info.get('rows', 0):,}" for name, info in report.splits.items())
    console.print(f"[bold]dataaudit[/] {_safe(report.source)}  [dim]{_safe(report.modality)}"
                  + (f", layout {_safe(det.get('layout'))}" if det.get("layout") else "")
                  + (f", delimiter {_safe(repr(det.get('delimiter')))}" if det.get("delimiter") else "")
                  + (f", label {_safe(repr(report.label_column))}" if report.label_column else ", no label column")
                  + f"[/]\n  splits: {_safe(rows)}")
    if report.label_column and det.get("label_reason"):  # an inferred label is said, with why and how to overrule it
        console.print(f"  label {_safe(repr(report.label_column))} {_safe(str(det['label_reason']))} "
                      "[dim](--label COL names another)[/]")
    for note in report.notes:
        console.print(f"  [dim]note: {_safe(note)}[/]")
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        console.print(f"\n[{STYLE[severity]}]{severity.label.upper()}S ({len(group)})[/]")
        for f in group:
            _finding(console, f, max_examples, json_written)
    s = report.summary
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(f"\n{verdict}: {s['errors']} error(s), {s['warnings']} warning(s), {s['infos']} info "
                  f"[dim](fails on {report.fail_on.label}; {report.duration_s:.2f}s)[/]")


def _finding(console: Any, f: Finding, max_examples: int, json_written: bool = False) -> None:
    where = " ".join(x for x in (f.split or "", f"[{f.column}]" if f.column else "") if x)
    console.print(f"  [{STYLE[f.severity]}]{_safe(f.check)}[/] {_safe(where)}: {_safe(f.message)}")
    then = f.details.get("baseline") if isinstance(f.details, dict) else None
    if isinstance(then, dict):  # a known finding that grew: show the recorded figures beside today's
        console.print(f"      [bold]grew since the baseline: {_safe(_figures(then.get('count'), then.get('fraction'), then.get('severity')))}"
                      f" -> {_safe(_figures(f.count, f.fraction, f.severity.label))}[/] "
                      f"[dim](tolerance {then.get('tolerance', 0):g})[/]")
    for ex in f.examples[:max_examples]:
        console.print(f"      [dim]- {_safe(_where(ex))}[/]")
    if len(f.examples) > max_examples:
        where = "in the JSON report" if json_written else "(--max-examples N shows more; --output FILE.json has all)"
        console.print(f"      [dim]  ... {len(f.examples) - max_examples} more example(s) {where}[/]")
    hint = _hint(f.check)
    if hint and f.severity != Severity.INFO:
        console.print(f"      [dim]hint: {_safe(hint)} (dataaudit explain {_safe(f.check)})[/]")


def _hint(check_id: str) -> str | None:
    from dataaudit.checks.catalog import CATALOG

    doc = CATALOG.get(check_id)
    return doc.hint if doc else None


def _figures(count: Any, fraction: Any, severity: Any) -> str:
    text = f"{count}" if count is not None else "?"
    if isinstance(fraction, (int, float)):
        text += f" ({fraction:.1%})"
    return text + (f" {severity}" if severity else "")


def render_summary(report: Report, file: IO[str] | None = None) -> None:
    """One line: the verdict and counts (for ``--quiet``)."""
    import sys

    s = report.summary
    out = file or sys.stdout
    verdict = "PASSED" if report.passed else "FAILED"
    out.write(f"{verdict}: {s['errors']} error(s), {s['warnings']} warning(s), {s['infos']} info "
              f"in {printable(report.source)}\n")
