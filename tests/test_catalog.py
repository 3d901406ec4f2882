"""``dataaudit checks`` and ``dataaudit explain``: every registered check id and parameter is documented."""

from __future__ import annotations

import json

import pytest

from dataaudit.checks.catalog import CATALOG
from dataaudit.checks.registry import all_ids, ensure_loaded
from dataaudit.cli import main


def _registered() -> dict[str, dict[str, object]]:
    ensure_loaded()
    return {k: dict(v) for k, v in all_ids().items()}


def test_every_registered_check_id_is_documented_and_nothing_else() -> None:
    assert set(CATALOG) == set(_registered())


@pytest.mark.parametrize("check_id", sorted(CATALOG))
def test_every_parameter_of_a_check_is_documented(check_id: str) -> None:
    params = _registered()[check_id]
    doc = CATALOG[check_id]
    assert set(doc.params) == set(params), f"document {set(params) ^ set(doc.params)} of {check_id}"
    assert doc.summary and doc.meaning and doc.fix and doc.hint.endswith(".")


def test_checks_lists_every_id_with_its_defaults_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    registered = _registered()
    assert set(listed) == set(registered)
    for check_id, defaults in registered.items():
        assert {k: v["default"] for k, v in listed[check_id]["parameters"].items()} == defaults


def test_checks_as_text_names_each_parameter_with_its_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks"]) == 0
    out = capsys.readouterr().out
    assert "distribution_shift.ks_warning = 0.1" in out
    assert "split_overlap" in out


def test_explain_says_what_a_finding_means_and_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "split_overlap"]) == 0
    out = capsys.readouterr().out
    assert "What it means:" in out and "What to do:" in out and "error_min_count = 1" in out


def test_explain_of_an_unknown_id_is_one_line_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "split_overlp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'split_overlap'" in err[0]
