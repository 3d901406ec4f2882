"""Id columns are recognised by name, and only real id names: a feature whose name merely ends in
"id" (the wine data's ``malic_acid``) stays a feature, so its shifts and copies are seen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine

import dataaudit
from dataaudit.sources.tables import ID_PATTERN


@pytest.mark.parametrize("name", ["id", "ID", "idx", "user_id", "USER_ID", "user-id", "userId", "userID", "row_id",
                                  "Unnamed: 0", "index", "uuid"])
def test_id_like_names_are_id_columns(name: str) -> None:
    assert ID_PATTERN.search(name)


@pytest.mark.parametrize("name", ["malic_acid", "acid", "paid", "VALID", "fluid", "Acid", "covid_cases", "grid",
                                  "humid", "android"])
def test_names_that_merely_end_in_id_are_features(name: str) -> None:
    assert not ID_PATTERN.search(name)


def _wine_splits(root: Path, scale_malic_acid_in_test: float = 1.0) -> Path:
    df = load_wine(as_frame=True).frame
    order = np.random.default_rng(3).permutation(len(df))
    parts = {"train": order[:120], "val": order[120:150], "test": order[150:]}
    for split, idx in parts.items():
        part = df.iloc[idx].copy()
        if split == "test":
            part["malic_acid"] = part["malic_acid"] * scale_malic_acid_in_test
        part.to_csv(root / f"{split}.csv", index=False)
    return root


def test_a_shift_in_malic_acid_is_reported(tmp_path: Path) -> None:
    report = dataaudit.scan(_wine_splits(tmp_path, scale_malic_acid_in_test=3.0))
    doc = json.loads(report.to_json())
    assert "malic_acid" not in doc["detected"].get("id_columns", [])
    shifted = [f for f in report.findings if f.check == "distribution_shift" and f.column == "malic_acid"]
    assert shifted and shifted[0].split == "test"


def test_the_clean_wine_split_has_no_id_column_and_no_shift_in_malic_acid(tmp_path: Path) -> None:
    report = dataaudit.scan(_wine_splits(tmp_path))
    doc = json.loads(report.to_json())
    assert doc["detected"].get("id_columns", []) == []
    assert not [f for f in report.findings if f.check == "distribution_shift" and f.column == "malic_acid"]


def test_a_real_id_column_is_still_excluded(tmp_path: Path) -> None:
    df = load_wine(as_frame=True).frame
    df.insert(0, "sample_id", range(len(df)))
    df.iloc[:120].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[120:].to_csv(tmp_path / "test.csv", index=False)
    doc = json.loads(dataaudit.scan(tmp_path).to_json())
    assert doc["detected"]["id_columns"] == ["sample_id"]
