r"""Asymptotic null of the Epps-Pulley quadrature statistic on one slice.

Under H0 the statistic :math:`T = n \sum_j w_j [(\bar c_j - \varphi_j)^2
+ \bar s_j^2]` is a quadratic form in the asymptotically Gaussian vector
:math:`\sqrt n(\bar c - \varphi, \bar s)`, so its limit is
:math:`\sum_i \lambda_i \chi^2_{1,i}` with :math:`\lambda_i` the eigenvalues
of :math:`W^{1/2} \Sigma W^{1/2}`. For ``null="standard"`` (X ~ N(0, 1)):

.. math::

    \Sigma^{c}_{ts} = \tfrac12(\varphi(t-s) + \varphi(t+s)) - \varphi(t)\varphi(s),
    \quad \Sigma^{s}_{ts} = \tfrac12(\varphi(t-s) - \varphi(t+s)).

For ``null="normal"`` (standardized by the sample mean and deviation) the
estimation adds :math:`-\tfrac12 t^2 s^2 \varphi(t)\varphi(s)` to the cosine
part and :math:`-t s \varphi(t)\varphi(s)` to the sine part (Henze & Wagner
1997). The survival function is tabulated once on the host (Imhof's formula,
a saddlepoint approximation in the far tail) and read on the caller's device
by interpolating :math:`\log p` and :math:`\log(1 - p)` linearly on a grid
uniform in :math:`\sqrt T`.
"""

from __future__ import annotations

import math

import numpy as np

from sketchtest._compat import device, index_dtype, host_constant

__all__ = ["epps_pulley_null_eigenvalues", "epps_pulley_asymptotic_pvalue"]

_GRID_POINTS = 512
_IMHOF_FLOOR = 1e-6


def epps_pulley_null_eigenvalues(t_max: float, n_points: int, null: str) -> np.ndarray:
    """Positive eigenvalues of the limiting quadratic form (float64, host)."""
    t = np.linspace(0.0, t_max, n_points)
    phi = lambda u: np.exp(-u * u / 2.0)  # noqa: E731
    ends = np.ones(n_points)
    ends[[0, -1]] = 0.5
    weights = 2.0 * (t_max / (n_points - 1)) * ends * phi(t)
    diff, total = t[:, None] - t[None, :], t[:, None] + t[None, :]
    outer = phi(t)[:, None] * phi(t)[None, :]
    cosine = 0.5 * (phi(diff) + phi(total)) - outer
    sine = 0.5 * (phi(diff) - phi(total))
    if null == "normal":
        cosine -= 0.5 * (t[:, None] * t[None, :]) ** 2 * outer
        sine -= t[:, None] * t[None, :] * outer
    root = np.sqrt(weights)
    values = [np.linalg.eigvalsh(root[:, None] * part * root[None, :]) for part in (cosine, sine)]
    values = np.concatenate(values)
    return np.sort(values[values > 1e-14 * values.max()])[::-1]


def _imhof_sf(grid: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """Imhof's P(sum lambda_i chi2_1 > q) for every q in `grid` (Simpson's rule in u)."""
    from scipy.integrate import simpson

    log_rho = lambda u: 0.25 * np.sum(np.log1p((eigenvalues[:, None] * u) ** 2), axis=0)  # noqa: E731
    upper = 1.0
    while log_rho(np.asarray([upper]))[0] < 14.0:  # |integrand| < 1e-6 / u beyond
        upper *= 1.5
    step = max(upper / 200_000, min(0.02, math.pi / (8.0 * max(grid.max(), 1.0))))
    u = np.linspace(0.0, upper, int(upper / step) + 1)[1:]
    half_arctan = 0.5 * np.sum(np.arctan(eigenvalues[:, None] * u), axis=0)
    damping = np.exp(-log_rho(u)) / u
    values = np.empty_like(grid)
    for i, q in enumerate(grid):
        integrand = np.sin(half_arctan - 0.5 * q * u) * damping
        start = 0.5 * (eigenvalues.sum() - q)  # the integrand's limit at u = 0
        values[i] = simpson(np.concatenate([[start], integrand]), x=np.concatenate([[0.0], u]))
    return 0.5 + values / math.pi


def _saddlepoint(q: float, eigenvalues: np.ndarray, *, upper: bool) -> float:
    """Lugannani-Rice approximation of P(sum lambda_i chi2_1 > q) (`upper`) or < q."""
    from scipy.optimize import brentq
    from scipy.special import ndtr

    slope = lambda s: np.sum(eigenvalues / (1.0 - 2.0 * s * eigenvalues)) - q  # noqa: E731
    if upper:
        s_hat = brentq(slope, 0.0, 0.5 / eigenvalues.max() * (1.0 - 1e-12))
    else:
        s_hat = brentq(slope, -1e12, 0.0)
    cumulant = -0.5 * np.sum(np.log1p(-2.0 * s_hat * eigenvalues))
    curvature = np.sum(2.0 * eigenvalues**2 / (1.0 - 2.0 * s_hat * eigenvalues) ** 2)
    w = math.copysign(math.sqrt(max(2.0 * (s_hat * q - cumulant), 0.0)), s_hat)
    u = s_hat * math.sqrt(curvature)
    density = math.exp(-0.5 * w * w) / math.sqrt(2.0 * math.pi)
    correction = density * (1.0 / u - 1.0 / w)
    return float(ndtr(-w) + correction) if upper else float(ndtr(w) - correction)


@host_constant(maxsize=16)
def _log_tables(t_max: float, n_points: int, null: str):
    r"""``(root_spacing, log_sf, log_cdf, tail_slope)`` on the grid ``q_i = (i h)^2``.

    The grid is uniform in :math:`\sqrt q`, fine near 0, where the Cauchy
    combination needs :math:`1 - p` accurately; both tails are tabulated in
    logarithms. Beyond the grid :math:`\log p` falls with the slope
    :math:`-1/(2\lambda_{max})` of the exact exponential tail.
    """
    eigenvalues = epps_pulley_null_eigenvalues(t_max, n_points, null)
    mean, largest = eigenvalues.sum(), eigenvalues.max()
    top = mean + 2.0 * largest * 40.0  # sf near 1e-17
    grid = np.linspace(0.0, math.sqrt(top), _GRID_POINTS) ** 2
    body = grid <= mean + 30.0 * largest
    imhof = np.zeros_like(grid)
    imhof[body] = _imhof_sf(grid[body], eigenvalues)
    log_sf, log_cdf = np.zeros(_GRID_POINTS), np.full(_GRID_POINTS, -700.0)
    for i, q in enumerate(grid[1:], start=1):
        upper_tail = q > mean and (not body[i] or imhof[i] < _IMHOF_FLOOR)
        lower_tail = q < mean and 1.0 - imhof[i] < _IMHOF_FLOOR
        sf = _saddlepoint(q, eigenvalues, upper=True) if upper_tail else imhof[i]
        cdf = _saddlepoint(q, eigenvalues, upper=False) if lower_tail else 1.0 - imhof[i]
        log_sf[i] = math.log(min(max(sf, 1e-300), 1.0))
        log_cdf[i] = math.log(min(max(cdf, 1e-300), 1.0))
    log_sf = tuple(np.minimum.accumulate(log_sf).tolist())  # Python constants for tracers
    log_cdf = tuple(np.maximum.accumulate(log_cdf).tolist())
    return float(grid[1] ** 0.5), log_sf, log_cdf, float(-0.5 / largest)


def _interpolate(table, position, index, fraction, *, xp, dtype, dev):
    values = xp.asarray(table, dtype=dtype, device=dev)
    flat = xp.reshape(index, (-1,))
    low = xp.reshape(xp.take(values, flat), index.shape)
    high = xp.reshape(xp.take(values, flat + 1), index.shape)
    return low + (high - low) * fraction


def epps_pulley_asymptotic_pvalue(statistic, *, t_max, n_points, null, xp):
    """Asymptotic p-value of Epps-Pulley statistics, on their device and dtype (NaN for NaN)."""
    spacing, log_sf, log_cdf, tail_slope = _log_tables(float(t_max), int(n_points), null)
    dev, dtype = device(statistic), statistic.dtype
    last = _GRID_POINTS - 1
    missing = xp.isnan(statistic)
    statistic = xp.where(missing, xp.zeros_like(statistic), statistic)  # a NaN index is out of bounds
    position = xp.clip(xp.sqrt(xp.clip(statistic, 0.0, None)) / spacing, 0.0, float(last))
    index = xp.astype(xp.clip(xp.floor(position), 0.0, float(last - 1)), index_dtype(xp, dev))
    fraction = position - xp.astype(index, dtype)
    upper = _interpolate(log_sf, position, index, fraction, xp=xp, dtype=dtype, dev=dev)
    lower = _interpolate(log_cdf, position, index, fraction, xp=xp, dtype=dtype, dev=dev)
    beyond = xp.clip(statistic - (last * spacing) ** 2, 0.0, None)
    upper = xp.clip(upper + tail_slope * beyond, None, 0.0)
    sf = xp.exp(upper)
    pvalue = xp.where(sf <= 0.5, sf, 1.0 - xp.exp(xp.clip(lower, None, 0.0)))
    return xp.where(missing, xp.full_like(pvalue, float("nan")), pvalue)
