"""Combination of dependent p-values: the Cauchy combination test."""

from __future__ import annotations

import math

from sketchtest._nulls.tails import cauchy_term

__all__ = ["cauchy_combination", "cauchy_pvalue", "cauchy_statistic"]


def cauchy_combination(pvalues, /, *, axis=-1, xp):
    r"""Combine p-values along `axis` with the Cauchy combination test.

    .. math::

        T = \frac1K \sum_{k=1}^K \tan\!\big((\tfrac12 - p_k)\pi\big),
        \qquad p = \tfrac12 - \frac{\arctan T}{\pi}.

    Each term is standard Cauchy under its null; a mean of standard Cauchy
    variables is standard Cauchy under independence, and Liu & Xie (2020)
    show that its tail stays that of a standard Cauchy under arbitrary
    dependence (bivariate normal copulas), so the combined p-value is valid
    for small significance levels whatever the dependence between slices.
    Each term is computed by :func:`sketchtest._nulls.tails.cauchy_term`, accurate
    in float32 for every p (p = 1 gives a large negative term, p = 1/2 gives
    0), and the final p-value as :math:`\operatorname{atan2}(1, T)/\pi`,
    accurate for large T.

    Parameters
    ----------
    pvalues : array
        p-values in [0, 1].
    axis : int, default -1
        Axis to combine over.
    xp : namespace
        Array namespace of `pvalues`.

    Returns
    -------
    array
        The combined p-value, with `axis` removed.

    References
    ----------
    .. [1] Y. Liu and J. Xie, "Cauchy combination test: a powerful test with
       analytic p-value calculation under arbitrary dependency structures",
       Journal of the American Statistical Association 115(529), 393-402, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchtest._nulls.combine import cauchy_combination
    >>> float(cauchy_combination(np.asarray([0.5, 0.5]), xp=np))
    0.5
    """
    statistic = cauchy_statistic(pvalues, axis=axis, xp=xp)
    return cauchy_pvalue(statistic, xp=xp)


def cauchy_statistic(pvalues, /, *, axis=-1, xp):
    r"""The Cauchy combination statistic :math:`T` of `pvalues` along `axis`.

    p-values are first clipped to the dtype's ``[smallest_normal, 1 - eps/2]``,
    so a slice whose p-value underflowed to 0 gives a large finite positive
    term, and one rounded to exactly 1 a large finite negative term (no
    division by zero, no infinity).
    """
    return xp.mean(cauchy_term(pvalues, xp=xp), axis=axis)


def cauchy_pvalue(statistic, /, *, xp):
    r"""Upper-tail p-value of a standard Cauchy statistic, :math:`\operatorname{atan2}(1, T)/\pi`."""
    return xp.atan2(xp.ones_like(statistic), statistic) / math.pi
