"""Baseline fingerprints and pairing, and the external check ids: behaviours that mutation testing
(tools/mutation.py) showed no test pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dataaudit.baseline import apply_baseline, fingerprint, subject, write_baseline
from dataaudit.report.model import Finding, Report, Severity


def _finding(count: int = 3, message: str = "m", **details: Any) -> Finding:
    return Finding(check="missing_values", severity=Severity.ERROR, message=message, split="train", column="age",
                   count=count, details=details)


def _report(*findings: Finding) -> Report:
    return Report(source="data", modality="table", splits={"train": {"rows": 100}}, findings=list(findings))


@pytest.mark.parametrize(("details", "kept"), [
    pytest.param({"kind": "null", "strict": True, "classes": ["b", "a"]}, {"kind": "null", "strict": True,
                                                                           "classes": ["a", "b"]},
                 id="strings, booleans and lists of strings (sorted) describe the finding"),
    pytest.param({"values": ["a", 1], "empty": [], "ratio": 0.5, "n": 3}, {}, id="mixed or empty lists and figures do not"),
])
def test_the_subject_keeps_only_descriptive_details(details: dict[str, Any], kept: dict[str, Any]) -> None:
    assert subject(_finding(**details)) == kept


def test_a_list_with_a_figure_in_it_does_not_change_the_fingerprint() -> None:
    assert fingerprint(_finding(kind="null", values=["a", 1])) == fingerprint(_finding(kind="null", values=["a", 2]))
    assert fingerprint(_finding(kind="null")) != fingerprint(_finding(kind="nan"))


def test_findings_sharing_a_fingerprint_pair_with_the_closest_recorded_count(tmp_path: Path) -> None:
    # three recorded findings with one fingerprint and one message; today two of them, shrunk a
    # little (a finding that grew is no longer accepted: baselines ratchet)
    then = _report(_finding(10), _finding(50), _finding(200))
    write_baseline(then, tmp_path / "b.json")
    now = apply_baseline(_report(_finding(48), _finding(9)), tmp_path / "b.json")
    accepted = now.detected["baseline"]["accepted"]
    assert sorted((a["count"], a["baseline_count"]) for a in accepted) == [(9, 10), (48, 50)]
    assert [r["fingerprint"] for r in now.detected["baseline"]["resolved"]] == [fingerprint(_finding())]
    assert now.findings == [] and now.passed


def test_a_matching_message_wins_over_a_closer_count(tmp_path: Path) -> None:
    write_baseline(_report(_finding(10, "ten missing"), _finding(40, "forty missing")), tmp_path / "b.json")
    now = apply_baseline(_report(_finding(12, "forty missing")), tmp_path / "b.json")
    [a] = now.detected["baseline"]["accepted"]
    assert a["baseline_count"] == 40


def test_external_check_ids_are_known_so_a_config_may_name_them(tmp_path: Path) -> None:
    from dataaudit.checks.registry import all_ids, ensure_loaded
    from dataaudit.config import build_config

    ensure_loaded()
    assert {"expectation", "serving_skew"} <= set(all_ids())
    cfg = build_config(str(tmp_path), None, ignore=["expectation", "serving_skew"])
    assert {"expectation", "serving_skew"} <= set(cfg.ignore)
