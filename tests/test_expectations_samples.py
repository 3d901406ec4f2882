"""The committed suites of ``expectations/`` against the sample data they were made for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

gx = pytest.importorskip("great_expectations", reason="needs the [gx] extra (great_expectations)")
pytestmark = pytest.mark.gx

REPO = Path(__file__).resolve().parent.parent
SUITES = REPO / "expectations"
DATA = REPO / "sample_data"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO)} is not in this checkout")
    return path


@pytest.mark.parametrize("name", ["tables_clean", "tables_faulty"])
def test_committed_suites_load_in_gx(name: str) -> None:
    d = json.loads(_need(SUITES / f"{name}.json").read_text(encoding="utf-8"))
    assert len(gx.ExpectationSuite(**d).expectations) == len(d["expectations"])


def test_the_clean_sample_passes_its_suite() -> None:
    import dataaudit

    report = dataaudit.scan(_need(DATA / "tables_clean"), expectations=_need(SUITES / "tables_clean.json"),
                            progress=False)
    assert [f for f in report.by_check("expectation") if f.severity.label == "error"] == []


def test_the_faulty_sample_breaks_its_suite_where_the_faults_are() -> None:
    import dataaudit

    report = dataaudit.scan(_need(DATA / "tables_faulty"), expectations=_need(SUITES / "tables_faulty.json"),
                            progress=False)
    found = {(f.split, f.column, f.details["expectation"]) for f in report.by_check("expectation")}
    assert ("test", "cultivar", "expect_column_values_to_be_in_set") in found, "an unseen class in test"
    assert ("test", "proline", "expect_column_values_to_not_be_null") in found, "text in a numeric column"
    assert not report.passed
