"""Entropy test of normality: Vasicek's (1976) sample-entropy statistic."""

from __future__ import annotations

import math

import array_api_compat.numpy as numpy_namespace
import numpy as np

from sketchtest._compat import device, host_constant
from sketchtest._nulls.montecarlo import rank_pvalue
from sketchtest._univariate.base import run_univariate, sample_count, shared_docs, standardize
from sketchtest._validation import check_choice, check_int, check_method
from typing import Literal
from sketchtest._typing import Array, NanPolicy, Null, Seed
from sketchtest._result import NormalityResult

__all__ = ["vasicek"]

#: Null replicates of the tabulated null that ``method="auto"`` uses.
TABLE_RESAMPLES = 9999
#: Seed of the tabulated null (fixed: ``method="auto"`` is deterministic).
TABLE_SEED = 19760101
#: Rows simulated at once when building a table (bounds host memory).
_TABLE_DRAWS_PER_BATCH = 1 << 22
#: :math:`\sqrt{2\pi e}`, the largest value of the statistic's limit (the normal's).
MAX_ENTROPY_RATIO = math.sqrt(2.0 * math.pi * math.e)


def default_window(n: int) -> int:
    r"""The spacing window m for n samples: :math:`\lfloor\sqrt n + \tfrac12\rfloor`, kept in ``[1, (n-1)/2]``.

    The rule of :func:`scipy.stats.differential_entropy`; the window must stay
    below n/2 so that the spacings span fewer than all samples.
    """
    return max(1, min(int(math.floor(math.sqrt(n) + 0.5)), (n - 1) // 2))


def vasicek_entropy(sorted_samples, window: int, *, xp):
    r"""Vasicek's spacing estimate of the entropy of each sorted batch element (samples on the last axis).

    :math:`H_{mn} = \frac1n \sum_i \log\big(\frac{n}{2m}(X_{(i+m)} - X_{(i-m)})\big)`
    with :math:`X_{(j)} = X_{(1)}` below 1 and :math:`X_{(n)}` above n: the
    sorted samples are padded with `window` copies of their ends, so the
    spacings are plain slices (compile-safe and differentiable).
    """
    n = sorted_samples.shape[-1]
    pad_shape = (*sorted_samples.shape[:-1], window)
    first = xp.broadcast_to(sorted_samples[..., :1], pad_shape)
    last = xp.broadcast_to(sorted_samples[..., -1:], pad_shape)
    padded = xp.concat([first, sorted_samples, last], axis=-1)
    spacings = padded[..., 2 * window:] - padded[..., :n]
    return xp.mean(xp.log(spacings * (n / (2.0 * window))), axis=-1)


def log_vasicek_statistic(y, *, xp, window, null):
    r""":math:`\log K_{mn}` (``null="normal"``) or its N(0, 1) analogue, per batch element (samples on the last axis)."""
    n = y.shape[-1]
    m = default_window(n) if window is None else window
    if null == "normal":
        standardized = standardize(y, xp=xp, ddof=0)  # log K = H(x / s); NaN if degenerate
        return vasicek_entropy(xp.sort(standardized, axis=-1), m, xp=xp)
    return vasicek_entropy(xp.sort(y, axis=-1), m, xp=xp) + 0.5 * (1.0 - xp.mean(y * y, axis=-1))


def vasicek_statistic(y, *, xp, window, null):
    r"""Vasicek's :math:`K_{mn}` (``null="normal"``) or its N(0, 1) analogue per batch element."""
    return xp.exp(log_vasicek_statistic(y, xp=xp, window=window, null=null))


def vasicek_divergence(y, *, xp, window, null):
    r"""The loss form :math:`\log(\sqrt{2\pi e} / K)`: the spacing estimate of the Kullback-Leibler divergence.

    From the fitted normal under ``null="normal"``
    (:math:`-H_{mn} + \log s + \tfrac12\log(2\pi e)`), from N(0, 1) under
    ``null="standard"`` (:math:`-H_{mn} + \tfrac12\log 2\pi + \tfrac12\overline{x^2}`);
    near 0 for normal samples (slightly below 0 is possible: the estimate is
    biased), larger the less normal they are.
    """
    return math.log(MAX_ENTROPY_RATIO) - log_vasicek_statistic(y, xp=xp, window=window, null=null)


@host_constant(maxsize=64)
def tabulated_null(n: int, window, null: str):
    """Sorted statistics of :data:`TABLE_RESAMPLES` N(0, 1) samples of size `n` (host, float64, fixed seed)."""
    rng = np.random.default_rng([TABLE_SEED, n, 0 if window is None else window, null == "normal"])
    rows_per_batch = max(1, _TABLE_DRAWS_PER_BATCH // n)
    pieces = []
    for start in range(0, TABLE_RESAMPLES, rows_per_batch):
        draws = rng.standard_normal((min(rows_per_batch, TABLE_RESAMPLES - start), n))
        pieces.append(vasicek_statistic(draws, xp=numpy_namespace, window=window, null=null))
    return np.sort(np.concatenate(pieces))


def _check_window(window, x, axis):
    """`window` as an int (or None) below half the sample count, checked before any computation."""
    if window is None:
        return None
    window = check_int(window, name="window", minimum=1)
    n = sample_count(x, axis=axis)
    if n is not None and 2 * window >= n:
        raise ValueError(f"`window` must be below half the sample count ({n}); got {window}")
    return window


@shared_docs
def vasicek(
    x: Array, /, *, axis: int = 0, window: int | None = None, null: Null = "normal",
    method: Literal["auto", "tabulated", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Vasicek's sample-entropy test of normality.

    With the ordered sample :math:`X_{(1)} \le \dots \le X_{(n)}` and a
    window :math:`1 \le m < n/2`, Vasicek's estimate of the entropy is

    .. math::

        H_{mn} = \frac1n \sum_{i=1}^n \log\Big(\frac{n}{2m}\big(X_{(i+m)} - X_{(i-m)}\big)\Big),

    with :math:`X_{(j)} = X_{(1)}` for :math:`j < 1` and :math:`X_{(n)}` for
    :math:`j > n`. Among densities of variance :math:`\sigma^2` the normal has
    the largest entropy, :math:`\log(\sigma\sqrt{2\pi e})`, so for
    ``null="normal"`` the statistic is

    .. math::

        K_{mn} = \frac{e^{H_{mn}}}{s}, \qquad s^2 = \frac1n\sum_i (x_i - \bar x)^2,

    invariant to location and scale, at most about
    :math:`\sqrt{2\pi e} \approx 4.133` in the limit, and the test rejects for
    small values. For ``null="standard"`` (H0: N(0, 1) exactly) the statistic
    is :math:`\sqrt{2\pi e}\, e^{-\hat I}` with :math:`\hat I = -H_{mn} +
    \frac12\log(2\pi) + \frac1{2n}\sum_i x_i^2`, the spacing estimate of the
    Kullback-Leibler divergence from N(0, 1) (Song, 2002):
    :math:`e^{H_{mn} + (1 - \overline{x^2})/2}`; it equals :math:`K_{mn}`
    when the sample has mean 0 and :math:`s = 1`, is at most
    :math:`\sqrt{2\pi e}` in the limit as well, and also rejects a wrong mean
    or scale. Tied samples can make a spacing 0: the statistic is then 0, the
    smallest value, as for a sample with an atom.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 3 samples
        (and more than twice `window`).
    axis : int, default 0
        Axis holding the samples.
    window : int, optional
        The spacing half-width m, an integer in ``[1, n/2)``. Default
        :math:`\lfloor\sqrt n + \tfrac12\rfloor` (the rule of
        :func:`scipy.stats.differential_entropy`), at most ``(n - 1) // 2``.
    null : {"normal", "standard"}, default "normal"
        ``"normal"`` (the default): any Gaussian, as SciPy's normality tests;
        H0 is N(mu, sigma^2) with both unknown (Vasicek's test).
        ``"standard"``: H0 is N(0, 1) exactly.
    method : {"auto", "tabulated", "monte_carlo"}, default "auto"
        Both compare the statistic with its null simulated at this n and
        window; there is no usable limit law (the spacing estimate's bias
        decays like :math:`m/n`). ``"tabulated"`` (what ``"auto"`` uses): a
        table of 9999 null statistics simulated once per (n, window, null) on
        the host with NumPy from a fixed seed (2 s at n = 1,000, 10 s at
        n = 10,000 on one CPU core; then cached), the same on every backend
        and usable inside ``jax.jit`` and ``torch.compile``; p-values are
        multiples of 1/10000.
        ``"monte_carlo"``: the null simulated on the input's backend and
        device with `n_resamples` draws from `seed`.
    {shared_parameters}

    References
    ----------
    .. [1] O. Vasicek, "A test for normality based on sample entropy",
       Journal of the Royal Statistical Society B 38(1), 54-59, 1976.
    .. [2] K.-S. Song, "Goodness-of-fit tests based on Kullback-Leibler
       discrimination information", IEEE Transactions on Information Theory
       48(5), 1103-1117, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> result = st.vasicek(x)
    >>> bool(result.pvalue > 0.01), bool(result.statistic < 4.14)
    (True, True)
    """
    check_choice(null, name="null", choices=("normal", "standard"))
    check_method(method, choices=("auto", "tabulated", "monte_carlo"))
    window = _check_window(window, x, axis)
    if method == "auto":
        method = "tabulated"

    def compute(y, *, xp):
        statistic = vasicek_statistic(y, xp=xp, window=window, null=null)
        if method == "monte_carlo":  # the runner replaces the p-value
            return statistic, statistic
        table = xp.asarray(tabulated_null(y.shape[-1], window, null), dtype=statistic.dtype,
                           device=device(statistic))
        return statistic, rank_pvalue(statistic, table, xp=xp, larger_is_extreme=False)

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=3 if window is None else 2 * window + 1, test="vasicek", null=null,
        method=method, n_resamples=n_resamples, seed=seed, options=(window,),
        larger_is_extreme=False,
    )
