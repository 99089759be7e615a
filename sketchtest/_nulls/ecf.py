r"""Null distributions of the Epps-Pulley statistic: eigenvalues and tails.

Under H0 the statistic converges to :math:`Q = \sum_k \lambda_k \chi^2_{1,k}`
(independent chi-squares), the :math:`\lambda_k` being the eigenvalues of the
covariance operator of the limiting empirical characteristic function
process :math:`Z(t)`, weighted by :math:`e^{-t^2/2}`:

.. math::

    K(s, t) = e^{-(s-t)^2/2} - e^{-(s^2+t^2)/2}
        \left[1 + \delta\left(st + \tfrac{s^2t^2}{2}\right)\right],

with :math:`\delta = 0` for the standard null and :math:`\delta = 1` for the
composite null (data standardized by the sample mean and the MLE standard
deviation; the estimated-parameter kernel of Henze & Wagner, 1997, in one
dimension). Its real part (cosines) is even and its imaginary part (sines)
odd, so :math:`K = K_{\cos} + K_{\sin}` with

.. math::

    K_{\cos}(s, t) = \tfrac12\left(e^{-(s-t)^2/2} + e^{-(s+t)^2/2}\right)
        - e^{-(s^2+t^2)/2}\left(1 + \delta\tfrac{s^2t^2}{2}\right), \qquad
    K_{\sin}(s, t) = \tfrac12\left(e^{-(s-t)^2/2} - e^{-(s+t)^2/2}\right)
        - \delta\, st\, e^{-(s^2+t^2)/2}.

Everything here runs once on the host with NumPy and is cached; only the
final interpolation (:func:`asymptotic_pvalue`) runs on the caller's device.

The tail :math:`P(Q > q)` is the inversion integral of Imhof (1961) taken
along a contour through the saddle point of :math:`K_Q(s) - sq`
(:math:`K_Q` the cumulant generating function of :math:`Q`) that bends
towards :math:`\operatorname{Re} s \to +\infty`: the integrand then has no
cancellation, so the result keeps its relative accuracy far in the tail
(:math:`10^{-80}` and below), where Imhof's real-line integral has none.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sketchtest._compat import device, host_constant

__all__ = [
    "ecf_kernels",
    "null_eigenvalues",
    "mixture_log_sf",
    "asymptotic_pvalue",
]

_HERMITE_NODES = 96  # Gauss-Hermite nodes of the exact form: converged from 40 on
_RELATIVE_CUTOFF = 1e-14  # eigenvalues below this fraction of the largest are dropped
_CONTOUR_NODES = 256  # trapezoid nodes on the inversion contour
_CONTOUR_DECAY = 40.0  # the contour ends where its Gaussian factor is e^-40
_TABLE_POINTS = 512  # interpolation nodes, uniform in sqrt(q / lambda_1)
_TABLE_END = 200.0  # last node at q = 200 lambda_1, where P(Q > q) ~ 1e-44


def ecf_kernels(s, t, *, null: str):
    """Covariance kernels ``(K_cos, K_sin)`` of the limiting ECF process, on the host.

    `s` and `t` are NumPy arrays that broadcast against each other.
    """
    composite = 1.0 if null == "normal" else 0.0
    s, t = np.asarray(s, dtype=np.float64), np.asarray(t, dtype=np.float64)
    near = np.exp(-((s - t) ** 2) / 2.0)
    far = np.exp(-((s + t) ** 2) / 2.0)
    product = np.exp(-(s * s + t * t) / 2.0)
    cos_kernel = (near + far) / 2.0 - product * (1.0 + composite * (s * t) ** 2 / 2.0)
    sin_kernel = (near - far) / 2.0 - composite * s * t * product
    return cos_kernel, sin_kernel


def _weighted_eigenvalues(kernel, weights):
    """Eigenvalues of ``W^(1/2) K W^(1/2)`` (the Nystrom discretization)."""
    root = np.sqrt(weights)
    return np.linalg.eigvalsh(root[:, None] * kernel * root[None, :])


def _quadrature_eigenvalues(t_max: float, n_points: int, null: str):
    """Eigenvalues of the quadrature form: the exact 2T x 2T problem of its knots."""
    t = np.linspace(0.0, t_max, n_points)
    trapezoid = np.full(n_points, t_max / (n_points - 1))
    trapezoid[[0, -1]] /= 2.0
    weights = 2.0 * trapezoid * np.exp(-(t * t) / 2.0)
    cos_kernel, sin_kernel = ecf_kernels(t[:, None], t[None, :], null=null)
    return np.concatenate(
        [_weighted_eigenvalues(cos_kernel, weights), _weighted_eigenvalues(sin_kernel, weights)]
    )


def _exact_eigenvalues(null: str):
    """Eigenvalues of the integral operator on the whole line, by Gauss-Hermite."""
    t, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)  # weight e^{-t^2/2}
    cos_kernel, sin_kernel = ecf_kernels(t[:, None], t[None, :], null=null)
    return _weighted_eigenvalues(cos_kernel + sin_kernel, weights)


@lru_cache(maxsize=64)
def null_eigenvalues(form: str, null: str, t_max: float = 3.0, n_points: int = 17):
    """Weights :math:`\\lambda_k` of the chi-square mixture limit, largest first.

    `t_max` and `n_points` matter only for ``form="quadrature"``. The array
    is read-only (it is cached).
    """
    if form == "exact":
        values = _exact_eigenvalues(null)
    else:
        values = _quadrature_eigenvalues(float(t_max), int(n_points), null)
    values = np.sort(values)[::-1]
    values = values[values > _RELATIVE_CUTOFF * values[0]].copy()
    values.flags.writeable = False
    return values


def _saddle_point(q, weights):
    """Root of :math:`K_Q'(s) = q` on :math:`(-\\infty, 1/(2\\lambda_1))`, by bisection."""
    upper = np.full(q.shape, 0.5 / weights[0])
    lower = -(weights.size / (2.0 * q) + 1.0)  # there K_Q'(s) < q
    for _ in range(120):
        middle = (lower + upper) / 2.0
        slope = np.sum(weights / (1.0 - 2.0 * weights * middle[:, None]), axis=1)
        above = slope > q
        upper = np.where(above, middle, upper)
        lower = np.where(above, lower, middle)
    return (lower + upper) / 2.0


def _contour_log_sf(q, weights):
    """log P(Q > q) for positive `q` (1-D), by the saddle-point contour inversion."""
    edge = 0.5 / weights[0]
    upper_tail = q >= np.sum(weights)
    saddle = _saddle_point(q, weights)
    # Keep the contour away from the pole at s = 0 near the mean.
    center = np.where(upper_tail, np.maximum(saddle, 0.2 * edge), np.minimum(saddle, -0.2 * edge))
    cgf_center = -0.5 * np.sum(np.log1p(-2.0 * weights * center[:, None]), axis=1)
    curvature = np.sum(2.0 * weights**2 / (1.0 - 2.0 * weights * center[:, None]) ** 2, axis=1)
    scale = 1.0 / np.sqrt(curvature)
    # s(u) = c + scale (u^2 + i u): the factor e^{-sq} decays like exp(-scale q u^2).
    end = np.sqrt(_CONTOUR_DECAY / (scale * q))
    u = np.linspace(0.0, 1.0, _CONTOUR_NODES + 1)[None, :] * end[:, None]
    s = center[:, None] + scale[:, None] * (u * u + 1j * u)
    ds_du = scale[:, None] * (2.0 * u + 1j)
    cgf = -0.5 * np.sum(np.log1p(-2.0 * weights * s[..., None]), axis=-1)
    exponent = cgf - cgf_center[:, None] - (s - center[:, None]) * q[:, None]
    integrand = np.imag(np.exp(exponent) / s * ds_du)
    trapezoid = np.full(_CONTOUR_NODES + 1, 1.0)
    trapezoid[[0, -1]] = 0.5
    integral = np.sum(integrand * trapezoid, axis=1) * (end / _CONTOUR_NODES) / np.pi
    log_scale = cgf_center - center * q
    with np.errstate(invalid="ignore", divide="ignore"):
        log_upper = log_scale + np.log(integral)
        log_lower = np.log1p(np.exp(log_scale) * integral)  # P(Q <= q) = -scale * integral
    return np.where(upper_tail, log_upper, log_lower)


def mixture_log_sf(q, weights, *, chunk: int = 64):
    """Natural log of :math:`P(\\sum_k \\lambda_k \\chi^2_{1,k} > q)`, on the host.

    Parameters
    ----------
    q : array_like
        Points (any shape); ``q <= 0`` gives 0 (probability 1).
    weights : array_like
        The positive weights :math:`\\lambda_k`, largest first.
    chunk : int
        Points evaluated together (bounds the host memory).
    """
    q = np.asarray(q, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    flat = q.reshape(-1)
    result = np.zeros(flat.shape)
    positive = np.flatnonzero(flat > 0)
    for start in range(0, positive.size, chunk):
        index = positive[start : start + chunk]
        result[index] = _contour_log_sf(flat[index], weights)
    return result.reshape(q.shape)


def _tail_reference(x):
    """The leading tail shape in units of the largest weight, ``x = q / lambda_1``."""
    return -x / 2.0 - 0.5 * np.log1p(x)


@host_constant
def _tail_table(form: str, null: str, t_max: float, n_points: int):
    """``(lambda_1, step, residual)``: ``log P(Q > q) - reference`` on a grid in sqrt(q / lambda_1)."""
    weights = null_eigenvalues(form, null, t_max, n_points)
    root = np.linspace(0.0, np.sqrt(_TABLE_END), _TABLE_POINTS)
    x = root * root
    residual = mixture_log_sf(x * weights[0], weights) - _tail_reference(x)
    return (
        float(weights[0]), float(root[1]),
        {"float64": tuple(residual.tolist()), "float32": tuple(residual.astype(np.float32).tolist())},
    )


def asymptotic_pvalue(statistic, *, xp, form: str, null: str, t_max: float, n_points: int):
    r"""P(Q > statistic) on the statistic's device, by a cached host table.

    The table holds :math:`r(q) = \log P(Q > q) + x/2 + \tfrac12\log(1 + x)`
    (:math:`x = q / \lambda_1`), a smooth bounded function, at 512 nodes
    uniform in :math:`\sqrt{x} \in [0, \sqrt{200}]`; it is interpolated by
    4-point Lagrange polynomials (relative error of the p-value below 1e-6)
    and held constant beyond the last node (relative error below 2e-3 there,
    where the p-value is below 1e-44).
    """
    key = (form, null, float(t_max), int(n_points)) if form == "quadrature" else (form, null, 3.0, 17)
    largest, step, residuals = _tail_table(*key)
    dtype = statistic.dtype
    residual = residuals["float32" if dtype == xp.float32 else "float64"]
    table = xp.asarray(residual, dtype=dtype, device=device(statistic))
    x = xp.clip(statistic, min=0.0) / largest
    safe = xp.where(xp.isnan(x), xp.zeros_like(x), x)
    root = xp.sqrt(xp.clip(safe, max=_TABLE_END))
    interpolated = _lagrange4(xp.reshape(root / step, (-1,)), table, xp=xp)
    log_sf = xp.reshape(interpolated, x.shape) - x / 2.0 - 0.5 * xp.log1p(x)
    return xp.clip(xp.exp(log_sf), max=1.0)


def _lagrange4(position, table, *, xp):
    """Cubic interpolation of `table` (unit spacing) at `position` (1-D, in range)."""
    last_start = table.shape[0] - 4
    start = xp.clip(xp.floor(position) - 1.0, min=0.0, max=float(last_start))
    t = position - start
    index = xp.astype(start, xp.int32)
    nodes = [xp.take(table, index + k) for k in range(4)]
    return (
        -nodes[0] * (t - 1.0) * (t - 2.0) * (t - 3.0) / 6.0
        + nodes[1] * t * (t - 2.0) * (t - 3.0) / 2.0
        - nodes[2] * t * (t - 1.0) * (t - 3.0) / 2.0
        + nodes[3] * t * (t - 1.0) * (t - 2.0) / 6.0
    )
