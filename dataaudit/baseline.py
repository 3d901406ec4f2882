"""Baselines: accept the findings a team already knows about, so the gate fails only on new ones.

``dataaudit baseline SOURCE -o FILE`` records the findings of a scan;
``dataaudit scan SOURCE --baseline FILE`` then takes every finding recorded
there out of the gate decision. Accepted findings are not hidden: they are listed
in the report (``detected.baseline.accepted`` in JSON, a section of the HTML
report, a note on the console) with the count the baseline recorded next to
today's.

What makes two findings "the same" is a fingerprint that ignores what drifts
from one run to the next and keeps what the finding is about:

* the check id, the split and the column;
* the *subject*: the finding's descriptive details, i.e. the top-level entries
  of ``details`` whose values are strings, booleans or lists of strings (the
  statistical test used, the kind of problem, the classes concerned...); for ``expectation``
  findings, the expectation type and its arguments (so an edited rule is a new
  finding).

Counts, fractions, statistics, p-values, examples and the message text are left
out of the fingerprint: 40 missing values becoming 42 is the same known problem,
and a reworded message after an upgrade must not fail a build. Findings with equal
fingerprints are matched as a multiset: a baseline holding one such finding
accepts one.

The baseline is a ratchet, not a licence: a known finding that has *grown* fails
the gate again. It has grown when its fraction (the share of what was examined;
its count when it has no fraction) is larger than the baseline's by more than
the tolerance (``baseline_tolerance``, a share of the recorded value, default 0:
strict), or when its severity rose. The fraction is compared when both runs have
one, so a dataset that doubles with the same share of missing values does not
fail; 3 test rows leaked from train (7.9%) becoming 34 (49%) does. A grown
finding stays in the report with ``details["baseline"]`` holding the recorded
figures, and the console shows them beside today's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from dataaudit._version import __version__
from dataaudit.errors import UsageError
from dataaudit.report.model import Finding, Report, Severity, _jsonable

BASELINE_VERSION = 1
_FORMAT = "dataaudit-baseline"


def subject(finding: Finding) -> dict[str, Any]:
    """The canonical description of what ``finding`` is about (no counts, no figures)."""
    details = finding.details or {}
    if finding.check == "expectation":
        return _jsonable({"expectation": details.get("expectation"), "kwargs": details.get("kwargs")})  # type: ignore[no-any-return]
    out: dict[str, Any] = {}
    for k, v in sorted(details.items()):
        if isinstance(v, (str, bool)):
            out[str(k)] = v
        elif isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            out[str(k)] = sorted(v)
    return out


def fingerprint(finding: Finding) -> str:
    """A stable 16-hex-digit id of a finding: check, split, column and :func:`subject`."""
    key = [finding.check, finding.split, finding.column, subject(finding)]
    text = json.dumps(key, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _entry(f: Finding) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(f),
        "check": f.check,
        "severity": f.severity.label,
        "split": f.split,
        "column": f.column,
        "count": int(f.count),
        "fraction": f.fraction,
        "subject": subject(f),
        "message": f.message,
    }


def write_baseline(report: Report, path: str | Path) -> None:
    """Record every finding of ``report`` in the baseline file ``path`` (JSON, written atomically)."""
    entries = sorted((_entry(f) for f in report.findings), key=lambda e: (e["check"], e["split"] or "", e["column"] or "", e["fingerprint"]))
    doc = {
        "format": _FORMAT,
        "version": BASELINE_VERSION,
        "tool": {"name": "dataaudit", "version": __version__},
        "source": report.source,
        "fingerprint": "sha256 of [check, split, column, subject] (see dataaudit.baseline)",
        "findings": entries,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(Path(path), text, what="baseline")


def write_text_atomic(target: Path, text: str, what: str = "file") -> None:
    """Write ``text`` to ``target`` as ``--output`` writes a report (:func:`dataaudit.report.output.write_report`):
    a regular file or a new name is replaced atomically with the usual permissions (0666 less the
    umask; baselines and suites are committed and shared), a link or a FIFO is written through."""
    from dataaudit.report.output import write_report

    write_report(target, text, what=what)


def read_baseline(path: str | Path) -> list[dict[str, Any]]:
    """The recorded findings of a baseline file; a missing or malformed file is a :class:`UsageError`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--baseline {p}: no such file (write one with `dataaudit baseline SOURCE -o {p}`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--baseline {p}: cannot read: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--baseline {p}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("findings"), list):
        raise UsageError(f"--baseline {p}: not a dataaudit baseline (write one with `dataaudit baseline`)")
    if doc.get("version") != BASELINE_VERSION:
        raise UsageError(f"--baseline {p}: baseline version {doc.get('version')!r} is not supported (expected {BASELINE_VERSION})")
    entries = []
    for e in doc["findings"]:
        if not isinstance(e, dict) or not isinstance(e.get("fingerprint"), str):
            raise UsageError(f"--baseline {p}: every finding needs a 'fingerprint'")
        entries.append(e)
    return entries


SIZE_COUNTS = frozenset({"distribution_shift", "label_shift", "label_missing"})
"""Checks whose ``count`` is how many values (or columns) were examined, not how many are at fault: a larger split
makes it larger without anything growing worse, so only their severity is ratcheted."""
_EPS = 1e-9  # fractions are floats computed afresh each run: equal shares must compare equal


def growth(finding: Finding, entry: dict[str, Any], tolerance: float) -> list[str]:
    """What grew beyond ``tolerance`` since the baseline ``entry``: ``fraction``, ``count``, ``severity``."""
    grew = []
    then_sev = entry.get("severity")
    try:
        if isinstance(then_sev, str) and finding.severity > Severity.parse(then_sev):
            grew.append("severity")
    except ValueError:
        pass
    then_fraction, then_count = entry.get("fraction"), entry.get("count")
    if isinstance(then_fraction, (int, float)) and finding.fraction is not None:
        if finding.fraction > then_fraction * (1 + tolerance) + _EPS:
            grew.append("fraction")
    elif isinstance(then_count, int) and finding.check not in SIZE_COUNTS:
        if finding.count > then_count * (1 + tolerance) + _EPS:
            grew.append("count")
    return grew


def apply_baseline(report: Report, path: str | Path, tolerance: float = 0.0) -> Report:
    """A copy of ``report`` without the findings recorded in the baseline ``path``.

    The accepted findings move to ``detected["baseline"]["accepted"]`` (with the
    count and fraction the baseline recorded), baseline entries no longer found are
    listed as ``resolved``, and a note says how many were accepted, so the gate
    (``report.passed``) depends on new findings and on known ones that grew beyond
    ``tolerance`` (a share of the recorded fraction or count; 0 is strict). A grown
    finding stays among the findings with ``details["baseline"]`` holding the
    recorded figures, and is listed in ``detected["baseline"]["grown"]``.
    """
    if not tolerance >= 0:
        raise UsageError(f"baseline_tolerance must be 0 or more, got {tolerance!r}")
    entries = read_baseline(path)
    pending: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        pending.setdefault(e["fingerprint"], []).append(e)
    kept: list[Finding] = []
    accepted: list[dict[str, Any]] = []
    grown: list[dict[str, Any]] = []
    for f in report.findings:
        fp = fingerprint(f)
        candidates = pending.get(fp)
        if candidates:
            # Several findings can share a fingerprint: pair each with the recorded one that
            # reads the same, else the closest count, so "then" and "now" are comparable.
            best = min(range(len(candidates)), key=lambda i: (
                candidates[i].get("message") != f.message, abs(int(candidates[i].get("count") or 0) - f.count)))
            entry = candidates.pop(best)
            grew = growth(f, entry, tolerance)
            if grew:
                then = {"count": entry.get("count"), "fraction": entry.get("fraction"),
                        "severity": entry.get("severity"), "grew": grew, "tolerance": tolerance}
                f = dataclasses.replace(f, details={**f.details, "baseline": then})
                kept.append(f)
                grown.append({"fingerprint": fp, "check": f.check, "split": f.split, "column": f.column,
                              "severity": f.severity.label, "count": f.count, "fraction": f.fraction,
                              "baseline": then})
                continue
            item = f.to_dict(report.max_examples)
            item["fingerprint"] = fp
            item["baseline_count"] = entry.get("count")
            item["baseline_fraction"] = entry.get("fraction")
            accepted.append(item)
        else:
            kept.append(f)
    resolved = [
        {k: e.get(k) for k in ("fingerprint", "check", "severity", "split", "column", "message")}
        for fp in sorted(pending)
        for e in pending[fp]
    ]
    detected = dict(report.detected)
    detected["baseline"] = {
        "path": str(path),
        "tolerance": tolerance,
        "accepted": accepted,
        "grown": grown,
        "new": len(kept) - len(grown),
        "resolved": resolved,
    }
    notes = list(report.notes)
    notes.append(
        f"baseline {path}: {len(accepted)} known finding(s) accepted, {len(grown)} grown beyond the baseline "
        f"(tolerance {tolerance:g}; these fail), {len(kept) - len(grown)} new, {len(resolved)} no longer found"
    )
    return dataclasses.replace(report, findings=kept, detected=detected, notes=notes)
