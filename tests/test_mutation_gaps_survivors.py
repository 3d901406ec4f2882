"""Behaviours that surviving mutants of tools/mutation.py showed no test pinned: each test here
fails on at least one of them (named in the test's docstring)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import write_table

from dataaudit.report.model import Finding, Report, Severity


def test_psi_of_a_sample_piled_into_one_decile_has_its_closed_form() -> None:
    """``psi``: the reference's deciles are the bins (``bins + 1`` edges)."""
    from dataaudit.checks.twosample import psi

    ref = np.arange(1000, dtype=float)
    other = np.full(200, 10.0)  # every value in the first decile of ref
    want = (1 - 0.1) * math.log(1 / 0.1) + 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)  # empty bins count 1e-4
    assert psi(ref, other) == pytest.approx(want, rel=1e-9)
    assert psi(ref, ref) == 0.0
    assert psi(ref, np.arange(0, 1000, 2, dtype=float)) == pytest.approx(0.0, abs=1e-3)  # same spread, half the rows


@pytest.mark.parametrize(("ref", "other"), [
    pytest.param(np.arange(5.0), np.arange(5.0), id="fewer reference values than bins"),
    pytest.param(np.arange(100.0), np.zeros(0), id="an empty other sample"),
    pytest.param(np.r_[np.zeros(95), np.ones(5)], np.ones(50), id="a reference with two distinct values"),
])
def test_psi_is_zero_where_it_cannot_be_measured(ref: np.ndarray, other: np.ndarray) -> None:
    from dataaudit.checks.twosample import psi

    assert psi(ref, other) == 0.0


def test_min_frequency_above_every_count_keeps_the_most_frequent_category(tmp_path: Path) -> None:
    """``fit``: a vocabulary never ends up empty; its one entry is the top category."""
    from dataaudit.fit import CategoricalColumn, fit

    rng = np.random.default_rng(0)
    colours = ["red"] * 6 + ["blue"] * 9 + ["green"] * 3
    rows = [{"colour": c, "x": float(rng.normal()), "label": "a" if i % 2 else "b"} for i, c in enumerate(colours)]
    write_table(tmp_path, "train.csv", rows)
    art = fit(tmp_path, min_frequency=50, categorical=["colour"])
    assert art.table is not None
    col = art.table.column("colour")
    assert isinstance(col, CategoricalColumn)
    assert col.vocabulary == ["blue"] and col.fill == "blue"
    assert col.unknown_fraction == pytest.approx(1 - 9 / 18)


def test_an_artefact_with_a_repeated_category_is_refused(tmp_path: Path) -> None:
    """``load_artefact``: vocabularies (and the other name lists) must not repeat an entry."""
    from dataaudit.errors import ArtefactError
    from dataaudit.fit import fit, load_artefact
    from dataaudit.fit.artefact import integrity_hash

    rows = [{"colour": c, "x": float(i), "label": "a" if i % 2 else "b"} for i, c in enumerate(["red", "blue"] * 10)]
    write_table(tmp_path / "ds", "train.csv", rows)
    path = tmp_path / "p.json"
    fit(tmp_path / "ds", path, categorical=["colour"])
    load_artefact(path)  # control: the fitted artefact loads
    doc = json.loads(path.read_text())
    [col] = [c for c in doc["table"]["columns"] if c.get("name") == "colour"]
    col["vocabulary"] = [col["vocabulary"][0]] * 2
    doc["integrity"] = integrity_hash(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ArtefactError, match="unique"):
        load_artefact(path)


def test_a_baseline_records_findings_with_and_without_a_split(tmp_path: Path) -> None:
    """``write_baseline`` sorts entries whose split or column is ``None`` beside named ones."""
    from dataaudit.baseline import read_baseline, write_baseline

    findings = [Finding(check="normalization_leak", severity=Severity.ERROR, message="m", split=s, column=c, count=1,
                        details={"kind": k})
                for s, c, k in [("train", "x", "a"), (None, None, "b"), ("val", None, "c"), (None, "y", "d")]]
    report = Report(source="data", modality="table", splits={"train": {"rows": 1}}, findings=findings)
    write_baseline(report, tmp_path / "b.json")
    got = [(e["split"], e["column"]) for e in read_baseline(tmp_path / "b.json")]
    assert got == [(None, None), (None, "y"), ("train", "x"), ("val", None)]


@pytest.mark.parametrize(("ref", "other", "tvd"), [
    pytest.param({"a": 1}, {"b": 40}, 1.0, id="a one-item reference against a disjoint split"),
    pytest.param({"a": 30, "b": 10}, {"a": 1}, 0.25, id="a one-item other split"),
    pytest.param({"a": 30, "b": 10}, {"a": 15, "b": 5}, 0.0, id="the same shares"),
])
def test_categorical_shift_total_variation(ref: dict[str, int], other: dict[str, int], tvd: float) -> None:
    """``categorical_shift`` measures every pair of non-empty tables, a single item included."""
    from dataaudit.checks.twosample import categorical_shift

    got, p, v = categorical_shift(ref, other)
    assert got == pytest.approx(tvd) and 0.0 <= p <= 1.0 and 0.0 <= v <= 1.0
    assert (p < 1.0) == (tvd > 0)


@pytest.mark.parametrize(("ref", "other"), [
    pytest.param({}, {"a": 3}, id="an empty reference"),
    pytest.param({"a": 3}, {}, id="an empty other split"),
    pytest.param({"a": 3}, {"a": 9}, id="a single class"),
])
def test_categorical_shift_is_none_where_it_cannot_be_measured(ref: dict[str, int], other: dict[str, int]) -> None:
    from dataaudit.checks.twosample import categorical_shift

    assert categorical_shift(ref, other) == (0.0, 1.0, 0.0)
