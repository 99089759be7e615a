"""Quadrature of the Epps-Pulley integral, shared by the test and SIGReg.

LeJEPA's convention: knots :math:`t_j` = ``linspace(0, t_max, n_points)``,
trapezoid weights doubled for the half line (the integrand is even in t),
times the weight function :math:`e^{-t_j^2/2}`:

.. math::

    T = n \\sum_j w_j \\left[(\\overline{\\cos t_j x} - e^{-t_j^2/2})^2
        + (\\overline{\\sin t_j x})^2\\right],
    \\qquad w_j = 2\\,\\Delta_j\\, e^{-t_j^2/2},

with :math:`\\Delta_j` the trapezoid weights on :math:`[0, t_{max}]`.
"""

from __future__ import annotations

__all__ = ["epps_pulley_knots", "quadrature_statistic"]


def epps_pulley_knots(t_max: float, n_points: int, *, xp, dtype, device):
    """Return ``(t, phi, weights)``: knots, :math:`e^{-t^2/2}` and quadrature weights.

    All three are arrays of length `n_points` in `dtype` on `device`.
    """
    t = xp.linspace(0.0, float(t_max), n_points, dtype=dtype, device=device)
    spacing = float(t_max) / (n_points - 1)
    trapezoid = xp.full((n_points,), spacing, dtype=dtype, device=device)
    ends = xp.asarray([0.5] + [1.0] * (n_points - 2) + [0.5], dtype=dtype, device=device)
    phi = xp.exp(-(t * t) / 2.0)
    weights = 2.0 * trapezoid * ends * phi
    return t, phi, weights


def quadrature_statistic(y, t, phi, weights, *, xp):
    """Epps-Pulley quadrature statistic of `y` along its last axis.

    Materializes the ``(..., n, T)`` angles: fine for tests of moderate size;
    the SIGReg losses use memory-lean kernels with the same formula.
    """
    n = y.shape[-1]
    angles = y[..., :, None] * t
    cos_mean = xp.mean(xp.cos(angles), axis=-2)
    sin_mean = xp.mean(xp.sin(angles), axis=-2)
    error = (cos_mean - phi) ** 2 + sin_mean**2
    return float(n) * xp.sum(error * weights, axis=-1)
