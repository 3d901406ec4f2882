"""Findings, reports and their renderers (console, JSON, HTML)."""

from dataaudit.report.model import SCHEMA_VERSION, Finding, Item, Report, Severity

__all__ = ["SCHEMA_VERSION", "Finding", "Item", "Report", "Severity"]
