"""Exact null distribution of the two-sided Kolmogorov-Smirnov statistic.

The exact survival function of :math:`D_n` has no closed form a device can
evaluate cheaply: SciPy (:func:`scipy.stats.kstwo`, after Simard & L'Ecuyer
2011) switches between the Durbin matrix algorithm, Pomeranz's recursion,
Pelz & Good's expansion and twice Smirnov's one-sided series depending on n
and d. Here the sample size n is static, so for each n a table is built once
on the host from :func:`scipy.stats.kstwo.sf`: a cubic spline of
:math:`\\log P(D_n > d)` in d, fitted separately on every interval where SciPy
uses one algorithm (so its switches are not smoothed over) and, for
n <= 140, between consecutive multiples of 1/(2n), where the exact
distribution changes polynomial; knots every 0.004 / sqrt(n) in d below
:math:`n d^2 = 2.2` and every 0.05 / sqrt(n) above, at least 24 (48 for
n <= 140) per segment. Building a table costs SciPy from 0.03 s (n = 200)
to 3 s (n = 140) and 5 s (n = 10000) of host time, once per n. The two ends of the support use their closed forms (Ruben & Gambino
1982): :math:`P(D_n \\le d) = n!/n^n\\,(2nd - 1)^n` for
:math:`1/(2n) \\le d \\le 1/n` and :math:`P(D_n > d) = 2(1 - d)^n` for
:math:`d \\ge 1 - 1/n`. For 140 < n <= 1000, where SciPy uses Pelz & Good's expansion (off by up
to 3.1e-6), the knots with p > 1e-6 come from the exact matrix algorithm of
Marsaglia, Tsang & Wang (:func:`exact_cdf`, as R's ``ks.test(exact =
TRUE)``): the table then agrees with R to 1.1e-9 (tests/test_ks_exact_r.py),
and takes 1 to 4 s to build. On the device a call costs one ``searchsorted``, four
``take`` and a cubic. Tables are cached per (n, dtype, device).
"""

from __future__ import annotations

import math

import numpy as np

from sketchtest._compat import device_table, host_constant

__all__ = ["kolmogorov_smirnov_exact_sf"]

_CORE_STEP = 0.004      # knot spacing in sqrt(n) d where the distribution has its mass
_TAIL_STEP = 0.05       # knot spacing in sqrt(n) d in the smooth log-linear tail
_LOG_TINY = math.log(1e-300)
_KINKED_N = 140         # up to this n, segments also end at every multiple of 1/(2n)
_MIN_KNOTS = 24


def _switch_points(n: int) -> list[float]:
    """Values of d where :func:`scipy.stats.kstwo.sf` changes algorithm."""
    if n <= 140:
        points = [math.sqrt(0.754693 / n), math.sqrt(4.0 / n)]
    else:
        points = [(1.4 / n) ** (2.0 / 3.0), math.sqrt(2.2 / n), math.sqrt(370.0 / n)]
    if n <= _KINKED_N:  # the exact sf is a different polynomial between multiples of 1/(2n)
        points += [j / (2.0 * n) for j in range(3, 2 * n - 2)]
    points = sorted(set(p for p in points + [0.5] if 1.0 / n < p < 1.0 - 1.0 / n))
    return [p for i, p in enumerate(points) if i == 0 or p - points[i - 1] > 1e-9]


def _segment_knots(low: float, high: float, n: int) -> np.ndarray:
    root = math.sqrt(n)
    step = _CORE_STEP if root * high <= math.sqrt(2.2) + 1e-9 else _TAIL_STEP
    minimum = _MIN_KNOTS * (2 if n <= _KINKED_N else 1)
    count = max(minimum, int(math.ceil(root * (high - low) / step)) + 1)
    knots = np.linspace(low, high, count)
    # stay clear of the switch points, where rounding could pick the other algorithm
    knots[0] = low * (1.0 + 1e-9)
    knots[-1] = high * (1.0 - 1e-9)
    return knots


_EXACT_MAX_N = 1000     # up to this n the body comes from the exact matrix algorithm below
_EXACT_MIN_SF = 1e-6    # ... where 1 - cdf keeps 8 digits; below, SciPy's (exact) Smirnov series


def _matrix_power_scaled(matrix, power: int):
    """``(M^power / 2^e, e)``: repeated squaring, renormalized by powers of 2 (no overflow)."""
    result, result_exponent = np.eye(matrix.shape[0]), 0
    base, base_exponent = matrix, 0
    while power:
        if power & 1:
            result, result_exponent = result @ base, result_exponent + base_exponent
            _, shift = np.frexp(np.max(np.abs(result)))
            result, result_exponent = np.ldexp(result, -shift), result_exponent + int(shift)
        power >>= 1
        if power:
            base, base_exponent = base @ base, 2 * base_exponent
            _, shift = np.frexp(np.max(np.abs(base)))
            base, base_exponent = np.ldexp(base, -shift), base_exponent + int(shift)
    return result, result_exponent


def exact_cdf(d: float, n: int) -> float:
    r""":math:`P(D_n < d)` by Marsaglia, Tsang & Wang (2003): a power of a (2k-1)-square matrix.

    With :math:`k = \lfloor nd \rfloor + 1`, :math:`h = k - nd`, the matrix H
    of their paper (ones on and below the first superdiagonal, corrected by
    powers of h in the first column and last row, divided by factorials),
    :math:`P(D_n < d) = \frac{n!}{n^n} (H^n)_{kk}`; float64 with the binary
    exponent carried separately (R's ``ks.test(exact = TRUE)`` uses the
    same algorithm).
    """
    k = int(math.floor(n * d)) + 1
    m = 2 * k - 1
    h = k - n * d
    i, j = np.indices((m, m))
    matrix = (i - j + 1 >= 0).astype(np.float64)
    powers = h ** np.arange(1, m + 1, dtype=np.float64)
    matrix[:, 0] -= powers
    matrix[m - 1, :] -= powers[::-1]
    if 2.0 * h - 1.0 > 0.0:
        matrix[m - 1, 0] += (2.0 * h - 1.0) ** m
    lags = np.maximum(i - j + 1, 0)
    log_factorials = np.array([math.lgamma(v + 1.0) for v in range(m + 1)])
    matrix = matrix * np.exp(-log_factorials[lags])
    power, exponent = _matrix_power_scaled(matrix, n)
    value = power[k - 1, k - 1]
    if value <= 0.0:
        return 0.0
    log_cdf = math.log(value) + exponent * math.log(2.0) + math.lgamma(n + 1.0) - n * math.log(n)
    return math.exp(log_cdf)


def _exact_body(knots, log_sf, n: int):
    """`log_sf` with the knots where p > 1e-6 recomputed by :func:`exact_cdf` (n up to 1000).

    SciPy's ``kstwo`` uses Pelz & Good's expansion there for n > 140, off by up to 9.3e-7.
    """
    if not _KINKED_N < n <= _EXACT_MAX_N:
        return log_sf
    log_sf = np.array(log_sf)
    for index in np.flatnonzero(log_sf > math.log(_EXACT_MIN_SF)):
        log_sf[index] = math.log1p(-exact_cdf(float(knots[index]), n))
    return log_sf


@host_constant(maxsize=32)
def _host_table(n: int):
    """Breakpoints and cubic coefficients of log sf on ``(1/n, 1 - 1/n)`` (NumPy, float64)."""
    from scipy.interpolate import CubicSpline
    from scipy.stats import kstwo

    edges = [1.0 / n, *_switch_points(n), 1.0 - 1.0 / n]
    breaks, coefficients = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        knots = _segment_knots(low, high, n)
        with np.errstate(divide="ignore"):
            log_sf = _exact_body(knots, np.log(kstwo.sf(knots, n)), n)
        keep = log_sf > _LOG_TINY
        if keep.sum() < 4:
            continue
        spline = CubicSpline(knots[keep], log_sf[keep])
        breaks.append(knots[keep] if not breaks else knots[keep][1:])
        coefficients.append(spline.c)
    if not breaks:
        return None
    table_breaks = np.concatenate(breaks)
    table_coefficients = np.concatenate(coefficients, axis=1)
    # a segment after the first drops its first knot (within 2e-9 relative of the previous
    # segment's last): the interval between them takes the later segment's first cubic
    return table_breaks, table_coefficients


_DEVICE_TABLES: dict = {}


def _device_table(n: int, *, like, xp):
    """The (breaks, coefficients) of :func:`_host_table` on `like`'s device, or None."""
    return device_table(_DEVICE_TABLES, n, lambda: _host_table(n), like=like, xp=xp)


def kolmogorov_smirnov_exact_sf(statistic, n: int, *, xp):
    """:math:`P(D_n > d)` for the two-sided statistic: :func:`scipy.stats.kstwo.sf`, exact in the body (module docstring)."""
    d = statistic
    t = n * d
    info = xp.finfo(d.dtype)  # clip bounds the dtype holds: no log(0) in float32
    log_factorial_ratio = math.lgamma(n + 1.0) - n * math.log(n)
    # Ruben & Gambino: 1/(2n) <= d <= 1/n
    low_cdf = xp.exp(log_factorial_ratio + n * xp.log(xp.clip(2.0 * t - 1.0, float(info.smallest_normal), 1.0)))
    low = xp.where(t <= 0.5, 1.0, 1.0 - low_cdf)
    # Ruben & Gambino: d >= 1 - 1/n
    high = 2.0 * xp.exp(n * xp.log1p(-xp.clip(d, 0.0, 1.0 - float(info.eps))))
    sf = xp.where(t <= 1.0, low, high)
    table = _device_table(n, like=d, xp=xp) if n >= 3 else None
    if table is not None:
        breaks, coefficients = table
        flat = xp.reshape(d, (-1,))
        index = xp.searchsorted(breaks, flat, side="right") - 1
        index = xp.clip(index, 0, breaks.shape[0] - 2)
        offset = flat - xp.take(breaks, index)
        log_sf = xp.take(coefficients[0, :], index)
        for row in range(1, 4):
            log_sf = log_sf * offset + xp.take(coefficients[row, :], index)
        middle = xp.where(flat > breaks[-1], 0.0, xp.exp(log_sf))
        middle = xp.reshape(middle, d.shape)
        sf = xp.where((t > 1.0) & (t < n - 1.0), middle, sf)
    return xp.clip(xp.where(d >= 1.0, 0.0, sf), 0.0, 1.0)
