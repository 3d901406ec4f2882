"""``distribution_shift`` sees spread and tails, not only location (issue 13, item 3).

A test split whose feature is 1.5 times as spread out as train at the same centre
has a KS statistic near 0.1 however many rows there are: the KS rule alone passes
it. The spread test (Brown-Forsythe on absolute deviations from the median) and the
tail test (share of values beyond the pooled 1%/99% quantiles) find it, in either
direction, while clean random splits of real tables stay quiet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dataaudit.checks.twosample import regularized_beta, scale_test, student_t_two_sided, tail_test
from dataaudit.report.model import Severity
from dataaudit.scanner import scan

sklearn_datasets = pytest.importorskip("sklearn.datasets")
stats = pytest.importorskip("scipy.stats")


def write(root: Path, train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(train).write_csv(root / "train.csv")
    pl.DataFrame(test).write_csv(root / "test.csv")
    return root


def normal_scores(n: int, mean: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` evenly spread normal quantiles in random order: a normal sample without sampling noise."""
    return rng.permutation(mean + sd * stats.norm.ppf((np.arange(n) + 0.5) / n))


def one_feature(n_train: int, n_test: int, seed: int, make_test: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    label = ["a", "b"]
    if make_test in ("wider", "narrower"):
        # the case: the same mean, 1.5x the standard deviation, KS D just under 0.1
        train = {"x": normal_scores(n_train, 50.0, 10.0, rng), "label": rng.choice(label, n_train)}
        x = normal_scores(n_test, 50.0, 15.0 if make_test == "wider" else 10.0 / 1.5, rng)
        return train, {"x": x, "label": rng.choice(label, n_test)}
    train = {"x": rng.normal(50.0, 10.0, n_train), "label": rng.choice(label, n_train)}
    if make_test == "heavier tails":
        # Student t with 2.5 degrees of freedom, scaled to train's mean absolute deviation: the same centre
        # and the same typical spread, but a narrower middle and far more values beyond train's extremes
        t = rng.standard_t(2.5, n_test)
        x = 50.0 + t * (10.0 * np.sqrt(2 / np.pi)) / np.mean(np.abs(t - np.median(t)))
    else:
        x = rng.normal(50.0, 10.0, n_test)
    return train, {"x": x, "label": rng.choice(label, n_test)}


def shift_of(report_root: Path, column: str = "x") -> list:  # type: ignore[type-arg]
    return [f for f in scan(report_root).by_check("distribution_shift") if f.column == column]


# -- the statistics against scipy's ----------------------------------------------------------------------------
@pytest.mark.parametrize(("t", "df"), [(0.5, 3.0), (2.1, 10.0), (5.0, 100.0), (30.0, 4000.0)],
                         ids=["small t", "moderate t", "large t", "p near 1e-178"])
def test_student_t_tail_matches_scipy(t: float, df: float) -> None:
    assert student_t_two_sided(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-8)


def test_incomplete_beta_matches_scipy() -> None:
    from scipy.special import betainc

    for x, a, b in [(0.1, 2.0, 3.0), (0.7, 0.5, 8.0), (0.999, 40.0, 0.5)]:
        assert regularized_beta(x, a, b) == pytest.approx(betainc(a, b, x), rel=1e-9)


def test_scale_test_agrees_with_brown_forsythe_in_both_directions() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 3000), rng.normal(0, 1.5, 2000)
    ratio, p = scale_test(a, b)
    back, p_back = scale_test(b, a)
    assert ratio == pytest.approx(1.5, rel=0.05) and back == pytest.approx(1 / ratio)
    assert p == p_back < 1e-50
    assert stats.levene(a, b, center="median").pvalue < 1e-50


# -- the case and its controls ------------------------------------------------------------------------
@pytest.mark.parametrize("make_test", ["wider", "narrower"],
                         ids=["test spread 1.5x wider than train", "test spread 1.5x narrower than train"])
def test_a_change_of_spread_at_the_same_mean_is_found(tmp_path: Path, make_test: str) -> None:
    train, test = one_feature(3000, 2000, 13, make_test)
    found = shift_of(write(tmp_path, train, test))
    assert len(found) == 1
    f = found[0]
    d = f.details
    assert d["ks_statistic"] < 0.1, "the case is one that KS alone passes"
    assert d["found"] == {"location": False, "scale": True, "tails": True} and d["test"] == "brown_forsythe"
    expected = 1.5 if make_test == "wider" else 1 / 1.5
    assert d["scale_ratio"] == pytest.approx(expected, rel=0.06)
    assert d["sd_ratio"] == pytest.approx(expected, rel=0.06)
    assert d["log_variance_ratio"] == pytest.approx(2 * np.log(expected), abs=0.12)
    assert d["p_value"] < 1e-30 and d["p_value"] < d["alpha_per_test"]
    assert f.severity == Severity.WARNING
    assert ("wider" if make_test == "wider" else "narrower") in f.message and "spread" in f.message


def test_a_doubled_spread_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    train = {"x": rng.normal(0, 1, 2000)}
    test = {"x": rng.normal(0, 2.2, 1000)}
    (f,) = shift_of(write(tmp_path, train, test))
    assert f.severity == Severity.ERROR and f.details["scale_ratio"] > 2


def test_heavier_tails_with_the_same_middle_are_found(tmp_path: Path) -> None:
    train, test = one_feature(3000, 3000, 21, "heavier tails")
    (f,) = shift_of(write(tmp_path, train, test))
    d = f.details
    assert d["found"]["tails"] and d["test"] == "tail_share"
    assert d["tail_share_ratio"] > 4 and d["tail_p_value"] < d["alpha_per_test"]
    assert "heavier tails" in f.message


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"clean normal split, seed {s}")
def test_the_same_distribution_in_both_splits_stays_quiet(tmp_path: Path, seed: int) -> None:
    train, test = one_feature(3000, 2000, seed, "same")
    assert shift_of(write(tmp_path, train, test)) == []


@pytest.mark.parametrize("draw", ["standard_t", "lognormal", "pareto"],
                         ids=["both splits Student t with 2 df", "both splits lognormal", "both splits Pareto"])
def test_heavy_tailed_data_split_at_random_stays_quiet(tmp_path: Path, draw: str) -> None:
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        sample = {"standard_t": lambda n: rng.standard_t(2, n), "lognormal": lambda n: rng.lognormal(0, 1.5, n),
                  "pareto": lambda n: rng.pareto(1.5, n)}[draw]
        x = sample(5000)
        root = write(tmp_path / str(seed), {"x": x[:3500]}, {"x": x[3500:]})
        assert shift_of(root) == [], seed


def test_a_flag_is_judged_by_ks_alone(tmp_path: Path) -> None:
    # a 0/1.5 flag set in 10% of train rows and 15% of test rows: KS D 0.05, under its threshold; its
    # "spread" (mean distance from the median 0) would read 1.5x and be flagged if it were tested
    rng = np.random.default_rng(8)
    train = {"x": rng.choice(2, 4000, p=[0.9, 0.1]) * 1.5, "z": rng.normal(size=4000)}
    test = {"x": rng.choice(2, 4000, p=[0.85, 0.15]) * 1.5, "z": rng.normal(size=4000)}
    root = write(tmp_path, train, test)
    assert shift_of(root) == []
    unguarded = scan(root, params={"distribution_shift": {"min_distinct_for_spread": 0}})
    assert [f.details["test"] for f in unguarded.by_check("distribution_shift")] == ["brown_forsythe"]


# -- real tables -------------------------------------------------------------------------------------------
def real_table(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    cols = [f"f{i}" for i in range(X.shape[1])]
    return X, y, cols


def write_real(root: Path, X: np.ndarray, y: np.ndarray, cols: list[str], train: np.ndarray,
               test: np.ndarray) -> Path:
    def frame(ii: np.ndarray) -> dict[str, np.ndarray]:
        return {**{c: X[ii, j] for j, c in enumerate(cols)}, "label": y[ii]}

    return write(root, frame(train), frame(test))


@pytest.mark.parametrize("name", ["wine", "breast_cancer", "digits"])
def test_random_splits_of_real_tables_stay_quiet(tmp_path: Path, name: str) -> None:
    X, y, cols = real_table(name)
    for seed in range(4):
        idx = np.random.default_rng(seed).permutation(len(X))
        for frac in (0.2, 0.5):  # a small test split, and one as large as train (each direction is tested)
            cut = int(len(X) * (1 - frac))
            root = write_real(tmp_path / f"{seed}-{frac}", X, y, cols, idx[:cut], idx[cut:])
            assert scan(root).by_check("distribution_shift") == [], (seed, frac)


@pytest.mark.parametrize("factor", [1.5, 1 / 1.5], ids=["real feature spread 1.5x in test",
                                                        "real feature spread 1.5x in train"])
@pytest.mark.parametrize(("name", "j"), [("breast_cancer", 27), ("digits", 2)],
                         ids=["breast cancer worst concave points", "digits pixel 2"])
def test_a_rescaled_feature_of_a_real_table_is_found(tmp_path: Path, name: str, j: int, factor: float) -> None:
    # Half of the rows in each split: with 284 rows a side, the natural spread of a split of the skewed
    # breast-cancer features already differs by up to 1.3x between halves, so columns whose halves
    # happen to agree are the ones where a planted 1.5x is the whole difference.
    X, y, cols = real_table(name)
    X = X.copy()
    idx = np.random.default_rng(7).permutation(len(X))
    cut = len(X) // 2
    train, test = idx[:cut], idx[cut:]
    med = np.median(X[:, j])
    X[test, j] = med + (X[test, j] - med) * factor
    found = scan(write_real(tmp_path, X, y, cols, train, test)).by_check("distribution_shift")
    assert [f.column for f in found] == [cols[j]]
    assert found[0].details["scale_ratio"] == pytest.approx(factor, rel=0.15)


def test_a_location_shift_keeps_the_baseline_fingerprint_it_had_before(tmp_path: Path) -> None:
    # baselines fingerprint the text entries of details: the spread and tail figures added beside KS
    # must not turn a recorded KS finding into a new one after an upgrade
    from dataaudit.baseline import subject

    rng = np.random.default_rng(2)
    (f,) = shift_of(write(tmp_path, {"x": rng.normal(0, 1, 800)}, {"x": rng.normal(1.0, 1, 400)}))
    assert f.details["test"] == "ks_2samp"
    assert subject(f) == {"reference": "train", "test": "ks_2samp"}
