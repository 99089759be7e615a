"""Characteristic-function tests: Epps-Pulley."""

from __future__ import annotations

import math

from sketchtest._compat import device
from sketchtest._nulls.ecf import asymptotic_pvalue
from sketchtest._univariate.quadrature import quadrature_statistic
from sketchtest._univariate.base import resolve_auto_method, run_univariate, shared_docs, standardize
from sketchtest._validation import (
    check_choice, check_int, check_method, check_real,
)
from typing import Literal
from sketchtest._typing import Array, EppsPulleyForm, NanPolicy, Null, Seed
from sketchtest._result import NormalityResult

__all__ = ["epps_pulley"]

#: Below this many samples ``method="auto"`` uses Monte Carlo (see the docstring).
AUTO_MONTE_CARLO_BELOW = {"standard": 0, "normal": 25}
#: Widest knot spacing t_max / (n_points - 1) accepted: beyond, every knot but t = 0 has a
#: weight below exp(-12.5) and the null's eigenvalues vanish (t_max = 1000 with 17 knots raised
#: IndexError, 1e300 LinAlgError); the sliced tests' SIGReg bound is the same.
MAX_KNOT_SPACING = 5.0
_EXACT_BLOCK = 1 << 22  # kernel entries evaluated at once, over the whole batch


@shared_docs
def epps_pulley(
    x: Array, /, *, axis: int = 0, null: Null = "normal", form: EppsPulleyForm = "quadrature", t_max: float = 3.0,
    n_points: int = 17, method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999,
    seed: Seed = None, nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Epps-Pulley test of normality from the empirical characteristic function.

    The statistic, in the convention of LeJEPA (and of SIGReg per slice), is

    .. math::

        T = n \int_{-\infty}^{\infty} \left|\psi_n(t) - e^{-t^2/2}\right|^2
            e^{-t^2/2}\, dt,
        \qquad \psi_n(t) = \frac1n \sum_{j=1}^n e^{i t x_j}.

    ``form="quadrature"`` (the default, O(n T)) evaluates it as LeJEPA does,
    with knots :math:`t_j` = ``linspace(0, t_max, n_points)`` and trapezoid
    weights doubled for the half line (the integrand is even):

    .. math::

        T_q = n \sum_j w_j \left[(\overline{\cos t_j x} - e^{-t_j^2/2})^2
            + (\overline{\sin t_j x})^2\right],
        \qquad w_j = 2\,\Delta_j\, e^{-t_j^2/2}.

    ``form="exact"`` (O(n^2) time, O(n) memory per batch element) is the
    closed form of the integral over the whole line (summed as a degenerate
    V-statistic to limit cancellation; in float32 its relative error still
    grows like n times the float32 epsilon, about 3e-4 at n = 5000):

    .. math::

        T = \frac{\sqrt{2\pi}}{n} \sum_{j,k} e^{-(x_j - x_k)^2/2}
            - 2\sqrt{\pi} \sum_j e^{-x_j^2/4} + n\sqrt{2\pi/3}.

    Under the standard null the expected value is, for every n,
    :math:`E[T_q] = \sum_j w_j (1 - e^{-t_j^2}) = 1.0525` (defaults) and
    :math:`E[T] = \sqrt{2\pi} - \sqrt{2\pi/3} = 1.0594`.

    With ``null="normal"`` the statistic is computed on
    :math:`y_j = (x_j - \bar x) / s`, :math:`s^2 = \frac1n \sum_j (x_j -
    \bar x)^2` (the MLE, ``ddof=0``, as in the BHEP literature). In that
    literature (Epps & Pulley, 1983; BHEP of Henze & Zirkler, 1990, with
    smoothing :math:`\beta = 1`) the same integral is taken against the
    density :math:`e^{-t^2/2}/\sqrt{2\pi}`: their statistic is

    .. math::

        \frac{T}{\sqrt{2\pi}} = 1 + \frac{n}{\sqrt3}
            + \frac2n \sum_{j<k} e^{-(y_j - y_k)^2/2}
            - \sqrt2 \sum_j e^{-y_j^2/4}.

    Its limiting mean under the composite null is
    :math:`\sqrt{2\pi} - \tfrac32\sqrt{2\pi/3} = 0.3358` (exact form).

    p-values (``method="asymptotic"``): under H0, :math:`T \to \sum_k
    \lambda_k \chi^2_{1,k}`, the :math:`\lambda_k` being the eigenvalues of
    the covariance operator of :math:`\sqrt n(\psi_n - e^{-t^2/2})` weighted
    by :math:`e^{-t^2/2}` (the estimated-parameter kernel of Henze & Wagner,
    1997, for ``null="normal"``): a 2T x 2T matrix for the quadrature form,
    a Gauss-Hermite discretization for the exact form. The tail of that
    mixture is tabulated once on the host (Imhof's inversion integral on a
    saddle-point contour) and interpolated on the device, so the p-value is
    jit-safe. Measured over 10000 null replicates per n, its rejection
    rates at the 1, 5 and 10% levels are within binomial noise of nominal
    from n = 5 on for the standard null; for the composite null they are
    conservative at small n (0.8, 4.4 and 8.7% at n = 10; 0.7, 4.4 and 8.8%
    at n = 15) and within noise from n = 20 on.
    ``method="auto"`` therefore uses Monte Carlo for ``null="normal"`` with
    n < 25 on concrete arrays, and the asymptotic p-value otherwise
    (including inside ``jax.jit`` and ``torch.compile``, where Monte Carlo
    cannot run).

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 2 samples
        (3 for ``null="normal"``).
    axis : int, default 0
        Axis holding the samples.
    null : {"normal", "standard"}, default "normal"
        ``"normal"`` (the default): any Gaussian, as SciPy's normality tests;
        H0 is N(mu, sigma^2) with both estimated. ``"standard"``: H0 is
        N(0, 1) exactly (what SIGReg enforces on every slice).
    form : {"quadrature", "exact"}, default "quadrature"
        The trapezoid rule on ``[0, t_max]`` or the closed-form integral.
    t_max : float, default 3.0
        Last quadrature knot (``form="quadrature"`` only), at most
        ``5 * (n_points - 1)`` (wider knots carry no weight).
    n_points : int, default 17
        Number of quadrature knots, at least 2 (``form="quadrature"`` only).
    method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        ``"asymptotic"``: the chi-square mixture limit. ``"monte_carlo"``: the
        null simulated at this n with `n_resamples` draws from `seed` (eager
        only). ``"auto"``: Monte Carlo for ``null="normal"`` below 25
        samples (eager inputs), the asymptotic p-value otherwise.
    {shared_parameters}

    References
    ----------
    .. [1] T. W. Epps and L. B. Pulley, "A test for normality based on the
       empirical characteristic function", Biometrika 70(3), 723-726, 1983.
    .. [2] N. Henze and B. Zirkler, "A class of invariant consistent tests
       for multivariate normality", Communications in Statistics - Theory and
       Methods 19(10), 3595-3617, 1990.
    .. [3] N. Henze and T. Wagner, "A new approach to the BHEP tests for
       multivariate normality", Journal of Multivariate Analysis 62(1), 1-23,
       1997.
    .. [4] J. P. Imhof, "Computing the distribution of quadratic forms in
       normal variables", Biometrika 48(3/4), 419-426, 1961.
    .. [5] R. Balestriero and Y. LeCun, "LeJEPA: Provable and scalable
       self-supervised learning without the heuristics", arXiv:2511.08544, 2025.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> result = st.epps_pulley(x)  # any Gaussian (null="normal")
    >>> bool(result.pvalue > 0.01)
    True
    >>> bool(st.epps_pulley(x + 1.0, null="standard").pvalue < 1e-6)  # N(1, 1) is not N(0, 1)
    True
    >>> skewed = np.random.default_rng(0).exponential(size=500)
    >>> bool(st.epps_pulley(skewed, form="exact").pvalue < 1e-6)
    True
    """
    check_choice(null, name="null", choices=("standard", "normal"))
    check_choice(form, name="form", choices=("quadrature", "exact"))
    check_method(method, choices=("auto", "asymptotic", "monte_carlo"))
    n_points = check_int(n_points, name="n_points", minimum=2)
    t_max = check_real(t_max, name="t_max", positive=True, maximum=MAX_KNOT_SPACING * (n_points - 1))
    if method == "auto":
        method = resolve_auto_method(x, axis=axis, monte_carlo_below=AUTO_MONTE_CARLO_BELOW[null])

    def compute(y, *, xp):
        if null == "normal":
            y = standardize(y, xp=xp, ddof=0)
        if form == "exact":
            statistic = _exact_statistic(y, xp=xp)
        else:
            statistic = quadrature_statistic(y, t_max=t_max, n_points=n_points, xp=xp)
        pvalue = asymptotic_pvalue(statistic, xp=xp, form=form, null=null, t_max=t_max, n_points=n_points)
        return statistic, pvalue

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=3 if null == "normal" else 2, test="epps_pulley", null=null,
        method=method, n_resamples=n_resamples, seed=seed, options=(form, t_max, n_points),
    )


def _exact_statistic(y, *, xp):
    r"""Closed-form statistic as the V-statistic :math:`\frac1n\sum_{j,k} h(x_j, x_k)`.

    :math:`h(a, b) = \sqrt{2\pi} e^{-(a-b)^2/2} - \sqrt\pi (e^{-a^2/4} +
    e^{-b^2/4}) + \sqrt{2\pi/3}` has mean zero in either argument under
    N(0, 1), so the sums stay O(n) instead of cancelling O(n^2) terms. Rows
    are taken in chunks of at most 256 (fewer for large batches), so memory
    stays O(n * chunk) per batch element.
    """
    n = y.shape[-1]
    batch = math.prod(y.shape[:-1])
    chunk = max(1, min(256, _EXACT_BLOCK // max(1, batch * n)))
    half = math.sqrt(math.pi) * xp.exp(-(y * y) / 4.0)
    constant = math.sqrt(2.0 * math.pi / 3.0)
    total = xp.zeros(y.shape[:-1], dtype=y.dtype, device=device(y))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        difference = y[..., start:stop, None] - y[..., None, :]
        kernel = math.sqrt(2.0 * math.pi) * xp.exp(-(difference * difference) / 2.0)
        kernel = kernel - half[..., None, :] - half[..., start:stop, None] + constant
        total = total + xp.sum(kernel, axis=(-2, -1))
    return total / float(n)
