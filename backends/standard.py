"""Pure array API adapter, for libraries without a dedicated module.

The normal-CDF family is written with array API standard functions only
(no ``erf`` exists there), elementwise with ``where`` instead of branches, so
it runs on any conforming library and device, under ``jax.jit`` and
``torch.compile``, in float32 and float64:

``ndtr``, ``log_ndtr``
    W. J. Cody's rational Chebyshev approximations of the normal CDF (ANORM,
    ACM TOMS Algorithm 715, 1993; the algorithm of R's ``pnorm``), in three
    ranges of :math:`|x|`: below 0.67449, up to :math:`\\sqrt{32}`, and beyond
    (in :math:`1/x^2`). The factor :math:`e^{-x^2/2}` is evaluated as
    :math:`e^{-h^2/2} e^{-(x-h)(x+h)/2}` with :math:`h = \\lfloor 16x\\rfloor/16`,
    so that the rounding of :math:`x^2` does not cost relative accuracy in the
    tail; ``log_ndtr`` adds the logarithms of those factors instead of
    multiplying them, so it stays finite far below the underflow of ``ndtr``.
``ndtri``
    M. J. Wichura's algorithm AS 241 (PPND16, 1988), three rational
    approximations in :math:`p - 1/2` and :math:`\\sqrt{-\\ln \\min(p, 1-p)}`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum"]

# Cody (1993), ANORM: numerators ascending from the constant term.
_CENTRAL_LIMIT = 0.67448975  # about Phi^-1(3/4)
_CENTRAL_NUM = (18154.981253343561249, 1067.6894854603709582, 161.02823106855587881,
                2.2352520354606839287, 0.065682337918207449113)
_CENTRAL_DEN = (45507.789335026729956, 10260.932208618978205, 976.09855173777669322,
                47.20258190468824187, 1.0)
_MIDDLE_LIMIT = math.sqrt(32.0)
_MIDDLE_NUM = (9842.7148383839780218, 11602.651437647350124, 6848.1904505362823326,
               2494.5375852903726711, 597.27027639480026226, 93.506656132177855979,
               8.8831497943883759412, 0.39894151208813466764, 1.0765576773720192317e-8)
_MIDDLE_DEN = (19685.429676859990727, 38912.003286093271411, 34900.952721145977266,
               18615.571640885098091, 6485.558298266760755, 1519.377599407554805,
               235.38790178262499861, 22.266688044328115691, 1.0)
_TAIL_NUM = (2.9112874951168792e-5, 0.001421619193227893466, 0.022235277870649807,
             0.1274011611602473639, 0.21589853405795699, 0.02307344176494017303)
_TAIL_DEN = (7.29751555083966205e-5, 0.00378239633202758244, 0.0659881378689285515,
             0.468238212480865118, 1.28426009614491121, 1.0)
_INV_SQRT_2PI = 0.398942280401432677939946059934

# Wichura (1988), AS 241 (PPND16): ascending powers.
_PPND_CENTRAL_NUM = (3.3871328727963666080, 1.3314166789178437745e2, 1.9715909503065514427e3,
                     1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
                     3.3430575583588128105e4, 2.5090809287301226727e3)
_PPND_CENTRAL_DEN = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2,
                     5.3941960214247511077e3, 2.1213794301586595867e4, 3.9307895800092710610e4,
                     2.8729085735721942674e4, 5.2264952788528545610e3)
_PPND_NEAR_NUM = (1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550,
                  3.64784832476320460504, 1.27045825245236838258, 2.41780725177450611770e-1,
                  2.27238449892691845833e-2, 7.74545014278341407640e-4)
_PPND_NEAR_DEN = (1.0, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
                  1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                  1.05075007164441684324e-9)
_PPND_FAR_NUM = (6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580,
                 2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_PPND_FAR_DEN = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
                 1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
                 1.42151175831644588870e-7, 2.04426310338993978564e-15)


def _namespace(x):
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _horner(coefficients, x):
    """``sum_k coefficients[k] * x**k`` (ascending powers) by Horner's rule."""
    result = coefficients[-1] * x + coefficients[-2]
    for coefficient in reversed(coefficients[:-2]):
        result = result * x + coefficient
    return result


def _huge(y, *, xp) -> float:
    """Half the square root of the dtype's largest value: beyond it ``y**2`` overflows,
    ``Phi(-y)`` is 0 and its logarithm is taken as -inf."""
    return 0.5 * math.sqrt(float(xp.finfo(y.dtype).max))


def _split_square_terms(y, *, xp):
    """``(h, d)`` with ``y**2 = h**2 + d``, ``h = trunc(16 y) / 16`` exact when squared."""
    high = xp.trunc(y * 16.0) / 16.0
    return high, (y - high) * (y + high)


def _lower_tail_parts(y, *, xp):
    """``Phi(-y) = exp(-h**2/2) * exp(-d/2) * r`` for ``y >= 0.674``: returns ``(h, d, r)``.

    Cody's middle range below sqrt(32), his asymptotic range in ``1/y**2``
    beyond. Arguments are clipped to each range so that no branch overflows.
    """
    middle = xp.clip(y, _CENTRAL_LIMIT, _MIDDLE_LIMIT)
    middle_ratio = _horner(_MIDDLE_NUM, middle) / _horner(_MIDDLE_DEN, middle)
    far = xp.clip(y, _MIDDLE_LIMIT, _huge(y, xp=xp))
    inverse_square = (1.0 / far) * (1.0 / far)
    correction = inverse_square * _horner(_TAIL_NUM, inverse_square) / _horner(_TAIL_DEN, inverse_square)
    far_ratio = (_INV_SQRT_2PI - correction) / far
    is_middle = y <= _MIDDLE_LIMIT
    ratio = xp.where(is_middle, middle_ratio, far_ratio)
    high, rest = _split_square_terms(xp.where(is_middle, middle, far), xp=xp)
    return high, rest, ratio


def _lower_tail(y, high, rest, ratio, *, xp):
    """``Phi(-y)`` from the parts of :func:`_lower_tail_parts`, 0 beyond the huge range."""
    quarter = xp.exp(-0.25 * high * high)  # two factors, so that none is subnormal before y > 53
    lower = quarter * (xp.exp(-0.5 * rest) * ratio) * quarter
    return xp.where(y > _huge(y, xp=xp), xp.zeros_like(y), lower)


def _central_offset(x, *, xp):
    """``Phi(x) - 1/2`` for ``|x| <= 0.674`` (x clipped into that range)."""
    central = xp.clip(x, -_CENTRAL_LIMIT, _CENTRAL_LIMIT)
    square = central * central
    return central * _horner(_CENTRAL_NUM, square) / _horner(_CENTRAL_DEN, square)


def ndtr(x):
    r"""Standard normal CDF :math:`\Phi(x)`, elementwise (Cody's ANORM)."""
    xp = _namespace(x)
    y = xp.abs(x)
    high, rest, ratio = _lower_tail_parts(y, xp=xp)
    lower = _lower_tail(y, high, rest, ratio, xp=xp)
    tail = xp.where(x > 0, 1.0 - lower, lower)
    return xp.where(y <= _CENTRAL_LIMIT, 0.5 + _central_offset(x, xp=xp), tail)


def log_ndtr(x):
    r"""Logarithm of the standard normal CDF, :math:`\ln \Phi(x)`, elementwise."""
    xp = _namespace(x)
    y = xp.abs(x)
    high, rest, ratio = _lower_tail_parts(y, xp=xp)
    log_lower = -0.5 * high * high - 0.5 * rest + xp.log(ratio)
    log_lower = xp.where(y > _huge(y, xp=xp), xp.full_like(y, -math.inf), log_lower)
    lower = _lower_tail(y, high, rest, ratio, xp=xp)
    tail = xp.where(x > 0, xp.log1p(-lower), log_lower)
    return xp.where(y <= _CENTRAL_LIMIT, xp.log(0.5 + _central_offset(x, xp=xp)), tail)


def ndtri(p):
    r"""Inverse of the standard normal CDF, :math:`\Phi^{-1}(p)`, elementwise (AS 241)."""
    xp = _namespace(p)
    q = p - 0.5
    central = xp.clip(q, -0.425, 0.425)
    r = 0.180625 - central * central
    central_value = central * _horner(_PPND_CENTRAL_NUM, r) / _horner(_PPND_CENTRAL_DEN, r)
    smaller = xp.minimum(p, 1.0 - p)
    smaller = xp.where(smaller > 0, xp.minimum(smaller, xp.full_like(p, 0.5)), xp.full_like(p, 0.5))
    r = xp.sqrt(-xp.log(smaller))
    near = r - 1.6
    near_value = _horner(_PPND_NEAR_NUM, near) / _horner(_PPND_NEAR_DEN, near)
    far = r - 5.0
    far_value = _horner(_PPND_FAR_NUM, far) / _horner(_PPND_FAR_DEN, far)
    tail_value = xp.where(r <= 5.0, near_value, far_value)
    tail_value = xp.where(q < 0, -tail_value, tail_value)
    value = xp.where(xp.abs(q) <= 0.425, central_value, tail_value)
    value = xp.where(p == 0, xp.full_like(p, -math.inf), value)
    value = xp.where(p == 1, xp.full_like(p, math.inf), value)
    outside = xp.isnan(p) | (p < 0) | (p > 1)
    return xp.where(outside, xp.full_like(p, math.nan), value)


def _dtype_name(dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def standard_normal(shape, *, seed, dtype, device=None, xp=None):
    """Standard normal draws from ``numpy.random.default_rng(seed)``, moved to `device`.

    With `xp` (the caller's namespace), an array of that namespace on `device`.
    Without it, a NumPy array of the NumPy dtype of the same name, which the
    caller converts with ``xp.asarray(draws, device=device)``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draws = rng.standard_normal(tuple(shape)).astype(_dtype_name(dtype), copy=False)
    if xp is None:
        return draws
    return xp.asarray(draws, dtype=dtype, device=device)


def all_reduce_sum(x):
    """No distributed runtime is known to the standard: the identity."""
    return x
