"""``dataaudit schema``: print the JSON Schema of the scan report."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schema", help="print the JSON Schema of the scan report",
        description="Print the JSON Schema (draft 2020-12) that every `dataaudit scan --format json` report "
                    "validates against, e.g. to validate reports in a CI job or a dashboard.",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataaudit.report.model import report_schema_text

    sys.stdout.write(report_schema_text())
    return 0
