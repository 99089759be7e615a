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

import math

from sketchtest._compat import device, is_numpy_namespace
from sketchtest._validation import check_int, check_real

__all__ = ["MAX_KNOT_SPACING", "check_sigreg_options", "ecf_sums", "epps_pulley_from_sums", "epps_pulley_knots",
           "quadrature_statistic"]

_ELEMENTS_PER_CHUNK = 1 << 22
_HOST_ELEMENTS_PER_CHUNK = 1 << 15  # NumPy: chunks that stay in the CPU cache


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


def quadrature_statistic(y, *, t_max: float, n_points: int, xp):
    """Epps-Pulley quadrature statistic of `y` along its last axis.

    Computed from the sums of :func:`ecf_sums` (one cosine and one sine per
    sample, the other knots by recurrence, in bounded chunks).
    """
    n = y.shape[-1]
    cos_sum, sin_sum = ecf_sums(y[..., :, None], t_max, n_points, xp=xp)
    _, phi, weights = epps_pulley_knots(t_max, n_points, xp=xp, dtype=y.dtype, device=device(y))
    return epps_pulley_from_sums(cos_sum[..., 0, :], sin_sum[..., 0, :], float(n), phi, weights, xp=xp)


def ecf_sums(projections, t_max, n_points, *, xp, column_scale=None):
    r"""Sums over samples of :math:`\cos(t_j p)` and :math:`\sin(t_j p)`: two ``(..., K, T)`` arrays.

    `projections` has shape ``(..., n, K)`` and the knots are
    :math:`t_j = j h`, :math:`h = t_{max} / (T - 1)`. Only
    :math:`\cos(hp)` and :math:`\sin(hp)` are evaluated; the other knots
    follow by the angle-addition recurrence (a rotation, so the error grows
    linearly in j, about T machine epsilons at the last knot). Samples are
    processed a chunk at a time, so memory stays bounded. A `column_scale`
    ``(..., K)`` multiplies each column first (no scaled copy is made).
    """
    n, num_slices = projections.shape[-2], projections.shape[-1]
    batch = math.prod(projections.shape[:-2])
    elements = _HOST_ELEMENTS_PER_CHUNK if is_numpy_namespace(xp) else _ELEMENTS_PER_CHUNK
    rows = max(1, elements // max(1, batch * num_slices))
    spacing = float(t_max) / (n_points - 1)
    step = spacing if column_scale is None else (spacing * column_scale)[..., None, :]
    cos_sum = sin_sum = None
    for start in range(0, n, rows):
        angle = projections[..., start:min(start + rows, n), :] * step
        cos_step, sin_step = xp.cos(angle), xp.sin(angle)
        cos_j, sin_j = xp.ones_like(angle), xp.zeros_like(angle)
        cos_terms, sin_terms = [], []
        for _ in range(n_points):
            cos_terms.append(xp.sum(cos_j, axis=-2))
            sin_terms.append(xp.sum(sin_j, axis=-2))
            cos_j, sin_j = cos_j * cos_step - sin_j * sin_step, sin_j * cos_step + cos_j * sin_step
        cos_part, sin_part = xp.stack(cos_terms, axis=-1), xp.stack(sin_terms, axis=-1)
        cos_sum = cos_part if cos_sum is None else cos_sum + cos_part
        sin_sum = sin_part if sin_sum is None else sin_sum + sin_part
    return cos_sum, sin_sum


def epps_pulley_from_sums(cos_sum, sin_sum, count, phi, weights, *, xp):
    r"""Slice statistics :math:`n \sum_j w_j [(C_j/n - \varphi_j)^2 + (S_j/n)^2]`."""
    cos_mean, sin_mean = cos_sum / count, sin_sum / count
    error = (cos_mean - phi) ** 2 + sin_mean**2
    return count * xp.sum(error * weights, axis=-1)


#: SIGReg's knots: beyond a spacing of MAX_KNOT_SPACING every knot but t = 0 has a weight
#: below exp(-12.5) ~ 4e-6 and the loss vanishes whatever the data.
MAX_KNOT_SPACING = 5.0


def check_sigreg_options(*, t_max, n_points, num_slices):
    """Return ``(t_max, n_points, num_slices)`` checked, or raise naming the argument.

    `t_max` is positive with a knot spacing ``t_max / (n_points - 1)`` of at
    most :data:`MAX_KNOT_SPACING` (5): beyond it every knot
    but t = 0 weighs less than exp(-12.5) and the loss vanishes whatever the
    data (and in float32 the knots overflow). `num_slices` is checked even
    where `directions` overrides it, so a typo never waits for the day
    directions are dropped.
    """
    n_points = check_int(n_points, name="n_points", minimum=2)
    t_max = check_real(t_max, name="t_max", positive=True, maximum=MAX_KNOT_SPACING * (n_points - 1))
    return t_max, n_points, check_int(num_slices, name="num_slices", minimum=1)
