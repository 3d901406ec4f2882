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
