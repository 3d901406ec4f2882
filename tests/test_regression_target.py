"""A numeric regression target is not a set of classes: no class checks on it, whether its values
are fractional or whole numbers that rarely repeat (sklearn's diabetes progression score)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits

import dataaudit
from dataaudit.checks.labels import is_regression_target

CLASS_CHECKS = {"class_imbalance", "label_set_mismatch", "label_shift", "label_corruption", "conflicting_labels"}


def _splits(root: Path, frame: object, seed: int = 0) -> Path:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    order = np.random.default_rng(seed).permutation(len(frame))
    n = len(frame)
    frame.iloc[order[: int(0.7 * n)]].to_csv(root / "train.csv", index=False)
    frame.iloc[order[int(0.7 * n): int(0.85 * n)]].to_csv(root / "val.csv", index=False)
    frame.iloc[order[int(0.85 * n):]].to_csv(root / "test.csv", index=False)
    return root


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_split_of_the_diabetes_regression_table_passes(tmp_path: Path, seed: int) -> None:
    report = dataaudit.scan(_splits(tmp_path, load_diabetes(as_frame=True).frame, seed))
    loud = [(f.check, f.split) for f in report.findings if f.check in CLASS_CHECKS]
    assert loud == []
    assert report.passed


def test_digits_keep_their_ten_classes_and_a_planted_unseen_class_is_found(tmp_path: Path) -> None:
    frame = load_digits(as_frame=True).frame
    _splits(tmp_path, frame)
    test = (tmp_path / "test.csv").read_text().splitlines()
    test[1] = test[1].rsplit(",", 1)[0] + ",11"
    (tmp_path / "test.csv").write_text("\n".join(test) + "\n")
    report = dataaudit.scan(tmp_path)
    assert [f.split for f in report.findings if f.check == "label_set_mismatch" and "never occur" in f.message] == ["test"]


@pytest.mark.parametrize("counts, regression", [
    pytest.param(Counter({str(v): 2 for v in range(25, 346, 1)}), True, id="whole numbers that rarely repeat"),
    pytest.param(Counter({f"{v / 7:.3f}": 1 for v in range(200)}), True, id="fractional values"),
    pytest.param(Counter({str(v): 40 for v in range(100)}), False, id="100 classes of 40 rows"),
    pytest.param(Counter({str(v): 5 for v in range(100)}), False, id="100 classes of 5 rows (few-shot)"),
    pytest.param(Counter({"0": 500, "1": 300}), False, id="binary"),
])
def test_regression_or_classes(counts: Counter[str], regression: bool) -> None:
    assert is_regression_target(counts) is regression
