"""Moment tests: Jarque-Bera."""

from __future__ import annotations

from sketchtest._univariate import run_univariate
from sketchtest._validation import check_choice, check_method

__all__ = ["jarque_bera"]


def jarque_bera(
    x, /, *, axis=0, null="normal", method="asymptotic", n_resamples=9999, seed=None,
    nan_policy="propagate", keepdims=False,
):
    r"""Jarque-Bera test of normality from sample skewness and kurtosis.

    .. math::

        JB = \frac{n}{6}\left(S^2 + \frac{(K - 3)^2}{4}\right),
        \qquad S = \frac{m_3}{m_2^{3/2}}, \quad K = \frac{m_4}{m_2^2},

    with :math:`m_k = \frac1n \sum_i (x_i - \bar x)^k` (biased central moments,
    as :func:`scipy.stats.jarque_bera`). For ``null="standard"`` mean 0 and
    variance 1 are known, the moments are raw, :math:`S = m'_3` and
    :math:`K = m'_4`, and their exact null variances give
    :math:`JB_0 = n\,(m_3'^2 / 15 + (m_4' - 3)^2 / 96)`.
    Both are asymptotically :math:`\chi^2_2` under their null, so
    :math:`p = e^{-JB/2}`.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 2 samples.
    axis : int, default 0
        Axis holding the samples.
    null : {"normal", "standard"}, default "normal"
        ``"normal"``: H0 is N(mu, sigma^2) with both unknown (SciPy's test).
        ``"standard"``: H0 is N(0, 1) exactly.
    method : {"asymptotic", "monte_carlo"}, default "asymptotic"
        ``"asymptotic"``: the chi-square(2) limit (SciPy's p-value; it is
        conservative for n below a few hundred). ``"monte_carlo"``: the
        null simulated at this n with `n_resamples` draws from `seed`.
    n_resamples : int, default 9999
        Null replicates for ``method="monte_carlo"``.
    seed : int or numpy.random.Generator, optional
        Seed of the Monte Carlo null.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What to do with NaNs: NaN results for the affected batch elements,
        raise ``ValueError``, or drop them per batch element (eager only).
    keepdims : bool, default False
        Keep the sample axis in the results, with length 1.

    Returns
    -------
    NormalityResult
        ``statistic`` and ``pvalue`` in the input's namespace and device.

    References
    ----------
    .. [1] C. M. Jarque and A. K. Bera, "A test for normality of observations
       and regression residuals", International Statistical Review 55(2),
       163-172, 1987.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> result = st.jarque_bera(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    check_choice(null, name="null", choices=("normal", "standard"))
    check_method(method, choices=("asymptotic", "monte_carlo"))

    def compute(y, *, xp):
        n = y.shape[-1]
        if null == "normal":
            centered = y - xp.mean(y, axis=-1, keepdims=True)
            m2 = xp.mean(centered**2, axis=-1)
            skewness = xp.mean(centered**3, axis=-1) / m2**1.5
            kurtosis = xp.mean(centered**4, axis=-1) / m2**2
            statistic = n / 6.0 * (skewness**2 + (kurtosis - 3.0) ** 2 / 4.0)
        else:
            skewness = xp.mean(y**3, axis=-1)
            kurtosis = xp.mean(y**4, axis=-1)
            statistic = n * (skewness**2 / 15.0 + (kurtosis - 3.0) ** 2 / 96.0)
        return statistic, xp.exp(-statistic / 2.0)

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=2, test="jarque_bera", null=null, method=method,
        n_resamples=n_resamples, seed=seed,
    )
