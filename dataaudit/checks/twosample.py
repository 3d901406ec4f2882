"""Two-sample statistics used by the shift checks: effect sizes first, p-values second."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic ``D`` and its asymptotic two-sided p-value."""
    a = np.sort(a)
    b = np.sort(b)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 0.0, 1.0
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / n
    cdf_b = np.searchsorted(b, grid, side="right") / m
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = math.sqrt(n * m / (n + m))
    return d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d)


def kolmogorov_sf(x: float) -> float:
    """Survival function of the Kolmogorov distribution (Numerical Recipes' Q_KS)."""
    if x <= 0:
        return 1.0
    if x < 1.18:
        y = math.exp(-(math.pi**2) / (8 * x * x))
        s = math.sqrt(2 * math.pi) / x * (y + y**9 + y**25 + y**49)
        return float(min(1.0, max(0.0, 1.0 - s)))
    total = 0.0
    for k in range(1, 101):
        term = (-1) ** (k - 1) * math.exp(-2 * k * k * x * x)
        total += term
        if abs(term) < 1e-12:
            break
    return float(min(1.0, max(0.0, 2 * total)))


def wasserstein_1(a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two samples (in the data's units)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    qs = np.linspace(0.0, 1.0, 201)
    return float(np.mean(np.abs(np.quantile(a, qs) - np.quantile(b, qs))))


def categorical_shift(ref: Mapping[str, int], other: Mapping[str, int]) -> tuple[float, float, float]:
    """Total variation distance, chi-square p-value and Cramér's V of two count tables."""
    keys = sorted(set(ref) | set(other))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    o = np.array([other.get(k, 0) for k in keys], dtype=np.float64)
    nr, no = r.sum(), o.sum()
    if nr == 0 or no == 0 or len(keys) < 2:
        return 0.0, 1.0, 0.0
    tvd = 0.5 * float(np.abs(r / nr - o / no).sum())
    table = np.vstack([r, o])
    expected = table.sum(axis=0, keepdims=True) * table.sum(axis=1, keepdims=True) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.nansum(np.where(expected > 0, (table - expected) ** 2 / expected, 0.0)))
    dof = max(len(keys) - 1, 1)
    p = chi2_sf(chi2, dof)
    v = math.sqrt(chi2 / (table.sum() * 1)) if table.sum() else 0.0
    return tvd, p, min(v, 1.0)


def psi(ref: np.ndarray, other: np.ndarray, bins: int = 10) -> float:
    """Population stability index over quantile bins of the reference sample."""
    if len(ref) < bins or len(other) == 0:
        return 0.0
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return 0.0
    r = np.histogram(np.clip(ref, edges[0], edges[-1]), edges)[0] / len(ref)
    o = np.histogram(np.clip(other, edges[0], edges[-1]), edges)[0] / len(other)
    r, o = np.clip(r, 1e-4, None), np.clip(o, 1e-4, None)
    return float(np.sum((o - r) * np.log(o / r)))


def chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-square distribution: Q(dof/2, x/2), the regularised upper gamma."""
    return regularized_gamma_q(dof / 2.0, x / 2.0)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) by its series (x < a + 1) or continued fraction (Numerical Recipes, gammq)."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return float(min(1.0, max(0.0, 1.0 - total * math.exp(log_prefix))))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return float(min(1.0, max(0.0, math.exp(log_prefix) * h)))


def scale_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Robust scale ratio of ``b`` to ``a`` and the Brown-Forsythe p-value of equal spread.

    Each sample's absolute deviations from its own median are compared: their
    mean ratio is the effect size (1.5 when ``b`` is spread 1.5 times as wide,
    whatever the distribution's shape), and a Welch t-test on them is the
    Brown-Forsythe (median-centred Levene) test for two groups, which keeps its
    size on skewed and heavy-tailed data where the variance-ratio F-test does not.
    """
    if len(a) < 3 or len(b) < 3:
        return 1.0, 1.0
    da = np.abs(a - np.median(a))
    db = np.abs(b - np.median(b))
    ma, mb = float(np.mean(da)), float(np.mean(db))
    if ma == 0.0 and mb == 0.0:
        return 1.0, 1.0
    ratio = mb / ma if ma > 0 else math.inf
    return ratio, welch_t_p(da, db)


def welch_t_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's t-test for equal means."""
    n, m = len(a), len(b)
    va, vb = float(np.var(a, ddof=1)) / n, float(np.var(b, ddof=1)) / m
    diff = float(np.mean(b)) - float(np.mean(a))
    if va + vb == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va * va / (n - 1) if va else 0.0) + (vb * vb / (m - 1) if vb else 0.0))
    return student_t_two_sided(t, df)


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    return regularized_beta(df / (df + t * t), df / 2.0, 0.5)


def tail_test(a: np.ndarray, b: np.ndarray, q: float = 0.01) -> tuple[float, float, float, float]:
    """Outer-tail mass of each sample beyond the pooled ``q`` and ``1 - q`` quantiles.

    Returns ``(ratio, p_value, share_a, share_b)``: the share of ``b`` in the pooled
    tails over the share of ``a`` (above 1 when ``b`` has the heavier tails) and the
    two-sided p-value of the two-proportion z-test. Tails are the pooled sample's, so
    the test reads the same in both directions.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 1.0, 1.0, 0.0, 0.0
    pooled = np.concatenate([a, b])
    lo, hi = np.quantile(pooled, [q, 1.0 - q])
    if lo == hi:
        return 1.0, 1.0, 0.0, 0.0
    ka = int(np.count_nonzero((a < lo) | (a > hi)))
    kb = int(np.count_nonzero((b < lo) | (b > hi)))
    sa, sb = ka / n, kb / m
    share = (ka + kb) / (n + m)
    if share in (0.0, 1.0):
        return 1.0, 1.0, sa, sb
    z = (sb - sa) / math.sqrt(share * (1 - share) * (1 / n + 1 / m))
    ratio = sb / sa if sa > 0 else math.inf
    return ratio, math.erfc(abs(z) / math.sqrt(2)), sa, sb


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (Numerical Recipes, betai)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return float(min(1.0, max(0.0, front * _beta_cf(x, a, b) / a)))
    return float(min(1.0, max(0.0, 1.0 - front * _beta_cf(1.0 - x, b, a) / b)))


def _beta_cf(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (tiny if abs(d) < tiny else d)
    h = d
    for k in range(1, 10_000):
        k2 = 2 * k
        num = k * (b - k) * x / ((a + k2 - 1) * (a + k2))
        d = 1.0 + num * d
        d = 1.0 / (tiny if abs(d) < tiny else d)
        c = 1.0 + num / c
        c = tiny if abs(c) < tiny else c
        h *= d * c
        num = -(a + k) * (a + b + k) * x / ((a + k2) * (a + k2 + 1))
        d = 1.0 + num * d
        d = 1.0 / (tiny if abs(d) < tiny else d)
        c = 1.0 + num / c
        c = tiny if abs(c) < tiny else c
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h
