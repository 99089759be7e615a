r"""Null distribution of Lilliefors' statistic: Kolmogorov-Smirnov D with mean and variance estimated.

The statistic :math:`s = \sqrt n D` has no closed-form law, at finite n or
in the limit (the supremum of the composite Gaussian process of
:mod:`sketchtest._nulls.edf_limit_laws`). Its survival function is
tabulated from simulation (``benchmarks/lilliefors_null.py``: 7.1e8 seeded
samples, 1.3e10 normal draws; the table is
:mod:`sketchtest._nulls.lilliefors_table`) as :math:`\log P(s)` at the
nodes :math:`s_j = 0.002 j`:

- for :math:`4 \le n \le 16`, each n's own simulated table (5e7 samples);
- from n = 17 on, a limit-law table plus a finite-n correction,
  :math:`\log P(s) = c_0(s) + c_1(s)/\sqrt n + c_2(s)/n`, fitted node by
  node by weighted least squares to the simulated tables of n = 18 to 5000
  (5e6 samples each up to n = 100, 4e5 above; residual chi-square per
  degree of freedom 0.3 to 1.2); :math:`c_0` is the fitted limit. It is
  used for every n > 16, beyond 5000 included.

A node is kept while at least 400 simulated samples exceed it (for the
model: at least 8 sizes, up to n >= 100): down to p = 8e-6 for n <= 16
(2.7e-5 at n = 4) and to :math:`s = 1.344` from n = 17 on (p = 4.5e-5 at
n = 17, 1.5e-4 at 100, 2.7e-4 in the limit). Beyond the last node the tail
is the exponential form of Dallal & Wilkinson (1986),
:math:`\log P = a + b s + c s^2`, fitted to the table's last two decades
and continued through its last node; from n = 17 on, c is the limit law's
Gaussian decay :data:`LIMIT_TAIL_CURVATURE`, -1/(2 max Var Z) = -5.504.
Tested on simulated values beyond a cut it was not fitted to
(``lilliefors_null.py holdout``), it is within a factor 1.6 for n >= 9 over
the next 1.5 to 2 decades; for n <= 8, where the support's end bends the
tail down, it is above the simulated p (conservative) by up to a factor 5
(n = 4). Between nodes, :math:`\log P` is interpolated linearly (monotone).
"""

from __future__ import annotations

import math

import numpy as np

from sketchtest._compat import device, device_table, host_constant, index_dtype
from sketchtest._nulls.lilliefors_table import MODEL, MODEL_FROM, RAW, STEP

__all__ = ["lilliefors_sf", "lilliefors_log_sf_table", "SMALLEST_N"]

SMALLEST_N = min(RAW)  # the table starts at n = 4; below, the null is simulated
_TAIL_DECADES = 2.0    # the tail's exponential form is fitted on the table's last two decades
#: -1 / (2 max_u K(u, u)) = -5.50388: the Gaussian decay of the limit law's tail, from the
#: largest variance of the composite EDF process, K(u, u) = u(1 - u) - phi^2 - (x phi)^2 / 2
#: at u = 1/2 (0.0908451 = 1/4 - 1/(2 pi)); Piterbarg: log P(sup |Z| > s) = -s^2 / (2 max K) + O(log s)
LIMIT_TAIL_CURVATURE = -1.0 / (2.0 * (0.25 - 1.0 / (2.0 * math.pi)))


def _tabulated_log_sf(n: int) -> np.ndarray:
    """``log P(sqrt(n) D >= s_j)`` at the kept nodes j = 0, 1, ... (host, float64)."""
    if n < MODEL_FROM:
        start, values = RAW[n]
        values = np.asarray(values, dtype=np.float64)
    else:
        start, coefficients = MODEL
        values = sum(np.asarray(c, dtype=np.float64) * n ** (-k / 2.0) for k, c in enumerate(coefficients))
    log_sf = np.concatenate([np.zeros(start), np.minimum(values, 0.0)])
    return np.minimum.accumulate(log_sf)


def _tail_form(log_sf: np.ndarray, n: int) -> tuple:
    """``(a, b, c)`` of ``log P = a + b s + c s^2`` beyond the last node, through that node.

    Least squares on the nodes within :data:`_TAIL_DECADES` of the last. From
    n = 17 on, c is the limit law's :data:`LIMIT_TAIL_CURVATURE` and only a,
    b are fitted; below, where the support's end bends the tail down, all
    three (where that fit is not a decreasing concave tail, the Gaussian
    form ``a + c s^2``).
    """
    s = STEP * np.arange(log_sf.size)
    near = log_sf <= log_sf[-1] + _TAIL_DECADES * math.log(10.0)
    end = s[-1]
    if n >= MODEL_FROM:
        c = LIMIT_TAIL_CURVATURE
        b = float(np.polyfit(s[near], log_sf[near] - c * s[near] ** 2, 1)[0])
    else:
        c, b, _ = np.polyfit(s[near], log_sf[near], 2)
    if c >= 0.0 or b + 2.0 * c * end >= 0.0:
        c = float(np.polyfit(s[near] ** 2, log_sf[near], 1)[0])
        b = 0.0
    a = log_sf[-1] - b * end - c * end * end
    return float(a), float(b), float(c)


@host_constant
def lilliefors_log_sf_table(n: int) -> tuple:
    """``(log P at the nodes, (a, b, c) of the tail, s of the last node)`` for sample size n (host)."""
    if n < SMALLEST_N:
        raise ValueError(f"the Lilliefors table starts at n = {SMALLEST_N}, got n = {n}")
    log_sf = _tabulated_log_sf(n)
    return log_sf, _tail_form(log_sf, n), STEP * (log_sf.size - 1)


_DEVICE_TABLES: dict = {}


def lilliefors_sf(statistic, n: int, *, xp):
    r"""P-value of the Kolmogorov-Smirnov D with mean and variance estimated (Lilliefors' test).

    :math:`\log P(\sqrt n D \ge s)` interpolated linearly in the table of
    :func:`lilliefors_log_sf_table` (module docstring), and beyond its last
    node the fitted exponential tail :math:`a + b s + c s^2`. Monotone in D,
    in [0, 1], NaN for a NaN statistic; one ``take`` pair and an ``exp`` on
    the device. Below n = 4 there is no table and the p-value is NaN (the
    tests' default simulates the null there; a traced call keeps the NaN).
    """
    if n < SMALLEST_N:
        return statistic * math.nan
    _, (a, b, c), end = lilliefors_log_sf_table(n)
    table = device_table(_DEVICE_TABLES, n, lambda: lilliefors_log_sf_table(n)[0], like=statistic, xp=xp)
    s = math.sqrt(n) * statistic
    position = xp.clip(s / STEP, 0.0, float(table.shape[0] - 1))
    position = xp.where(xp.isnan(position), 0.0, position)
    index = xp.clip(xp.astype(xp.floor(position), index_dtype(xp, device(s))), 0, table.shape[0] - 2)
    fraction = position - xp.astype(index, s.dtype)
    flat_index, flat_fraction = xp.reshape(index, (-1,)), xp.reshape(fraction, (-1,))
    left = xp.take(table, flat_index)
    # left + f (right - left), not a weighted sum: monotone in f after rounding too
    inside = xp.reshape(left + flat_fraction * (xp.take(table, flat_index + 1) - left), s.shape)
    tail = a + s * (b + c * s)
    # beyond the last node `inside` holds the last node's value: the tail never rises above it
    log_sf = xp.where(s > end, xp.minimum(tail, inside), inside)
    return xp.where(xp.isnan(statistic), statistic, xp.exp(xp.clip(log_sf, None, 0.0)))
