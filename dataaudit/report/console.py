"""The readable console report (rich): what was found, grouped by severity."""

from __future__ import annotations

from typing import IO, Any

from dataaudit.report.model import Finding, Report, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
EXAMPLES_SHOWN = 3


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
    return text if len(text) <= 60 else text[:57] + "..."


def render_console(report: Report, file: IO[str] | None = None, max_examples: int = EXAMPLES_SHOWN,
                   color: bool | None = None) -> None:
    """Print the report: header, findings by severity with a few examples, summary line."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=file, highlight=False, soft_wrap=True, force_terminal=color, no_color=color is False)
    det = report.detected
    rows = ", ".join(f"{name} {info.get('rows', 0):,}" for name, info in report.splits.items())
    console.print(f"[bold]dataaudit[/] {escape(report.source)}  [dim]{report.modality}"
                  + (f", layout {det.get('layout')}" if det.get("layout") else "")
                  + (f", delimiter {det.get('delimiter')!r}" if det.get("delimiter") else "")
                  + (f", label {report.label_column!r}" if report.label_column else ", no label column")
                  + f"[/]\n  splits: {rows}")
    if report.label_column and det.get("label_reason"):  # an inferred label is said, with why and how to overrule it
        console.print(f"  label {escape(repr(report.label_column))} {escape(str(det['label_reason']))} "
                      "[dim](--label COL names another)[/]")
    for note in report.notes:
        console.print(f"  [dim]note: {escape(note)}[/]")
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        console.print(f"\n[{STYLE[severity]}]{severity.label.upper()}S ({len(group)})[/]")
        for f in group:
            _finding(console, f, max_examples)
    s = report.summary
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(f"\n{verdict}: {s['errors']} error(s), {s['warnings']} warning(s), {s['infos']} info "
                  f"[dim](fails on {report.fail_on.label}; {report.duration_s:.2f}s)[/]")


def _finding(console: Any, f: Finding, max_examples: int) -> None:
    from rich.markup import escape

    where = " ".join(x for x in (f.split or "", f"[{f.column}]" if f.column else "") if x)
    console.print(f"  [{STYLE[f.severity]}]{f.check}[/] {escape(where)}: {escape(f.message)}")
    then = f.details.get("baseline") if isinstance(f.details, dict) else None
    if isinstance(then, dict):  # a known finding that grew: show the recorded figures beside today's
        console.print(f"      [bold]grew since the baseline: {escape(_figures(then.get('count'), then.get('fraction'), then.get('severity')))}"
                      f" -> {escape(_figures(f.count, f.fraction, f.severity.label))}[/] "
                      f"[dim](tolerance {then.get('tolerance', 0):g})[/]")
    for ex in f.examples[:max_examples]:
        console.print(f"      [dim]- {escape(_where(ex))}[/]")
    if len(f.examples) > max_examples:
        console.print(f"      [dim]  ... {len(f.examples) - max_examples} more example(s) in the JSON report[/]")


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
              f"in {report.source}\n")
