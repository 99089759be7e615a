"""The shared path of every univariate test: validate, reshape, compute, wrap.

A test supplies ``compute(y, *, xp)``: `y` is a floating array with the
samples on its last axis (every other axis a batch), already in the compute
dtype; it returns ``(statistic, pvalue)`` of shape ``y.shape[:-1]``.
:func:`run_univariate` does everything around it, the same way for all tests.
"""

from __future__ import annotations

import sys

from sketchtest._typing import Function
from sketchtest._compat import as_array, device, is_numpy_namespace, is_traced
from sketchtest._result import NormalityResult
from sketchtest._nulls.montecarlo import monte_carlo_pvalue
from sketchtest._validation import (
    check_bool, check_int, check_nan_policy, check_seed, float_dtypes, normalize_axis,
)

__all__ = ["run_univariate", "prepare_samples", "resolve_auto_method", "sample_count", "shared_docs"]

#: The parameters and Returns section every univariate test shares, in numpydoc.
SHARED_PARAMETERS_DOC = """    n_resamples : int, default 9999
        Null replicates for ``method="monte_carlo"`` (and wherever ``"auto"``
        simulates the null).
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
        ``statistic`` and ``pvalue`` in the input's namespace and on its device.
        Tests of the composite null (any Gaussian) give NaN for a degenerate
        sample (constant, or spread only by rounding; see
        :func:`sketchtest._univariate.base.standardize`).
"""


def shared_docs(function: Function) -> Function:
    """Fill the ``{shared_parameters}`` line of `function`'s docstring with :data:`SHARED_PARAMETERS_DOC`."""
    function.__doc__ = function.__doc__.replace("    {shared_parameters}\n", SHARED_PARAMETERS_DOC)
    return function


def prepare_samples(x, *, axis, min_samples: int, name: str = "x"):
    """Validate `x` and return ``(y, xp, result_dtype, axis)``.

    `y` holds the samples on its last axis, in the compute dtype.
    """
    x, xp = as_array(x, name=name)
    if x.ndim == 0:
        raise ValueError(f"`{name}` must have at least one dimension; got a 0-d array")
    axis = normalize_axis(axis, x.ndim)
    compute_dtype, result_dtype = float_dtypes(x, xp=xp, name=name)
    n = x.shape[axis]
    if n is not None and n < min_samples:
        raise ValueError(
            f"`{name}` needs at least {min_samples} samples along axis {axis}; got {n}"
        )
    y = xp.astype(x, compute_dtype) if x.dtype != compute_dtype else x
    if axis != x.ndim - 1:
        y = xp.moveaxis(y, axis, -1)
        if is_numpy_namespace(xp):
            # NumPy sums a strided axis one by one (float32 error ~ n eps, 1e-3 at n = 1e4)
            # but a contiguous one pairwise, and sorts it faster: a C-ordered copy pays for
            # itself in the sorting tests (benchmarks/univariate.py)
            y = xp.reshape(y, y.shape, copy=True)
    return y, xp, result_dtype, axis


def resolve_auto_method(x, *, axis, monte_carlo_below: int, otherwise: str = "asymptotic") -> str:
    """The method ``"auto"`` stands for: Monte Carlo below `monte_carlo_below` samples, else `otherwise`.

    `otherwise` names what the test then really uses (``"asymptotic"``: the
    limiting distribution; ``"exact"``; ``"finite_n"``: a finite-sample
    approximation at this n; ``"royston"``), so that ``result.method`` says
    how the p-value was obtained. Monte Carlo needs concrete values, so
    traced inputs (``jax.jit``, ``torch.compile``) and inputs whose shape
    cannot be read keep `otherwise`.
    """
    n = sample_count(x, axis=axis)
    if n is None or n >= monte_carlo_below or is_traced(as_array(x)[0]) or torch_is_compiling():
        return otherwise
    return "monte_carlo"


def sample_count(x, *, axis):
    """The number of samples of `x` along `axis`; ``None`` when it cannot be read.

    Never raises: the runner reports a bad `x` or `axis` with its own message.
    """
    try:
        array, _ = as_array(x)
        return None if array.ndim == 0 else array.shape[normalize_axis(axis, array.ndim)]
    except (TypeError, ValueError):
        return None


def torch_is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing this call (never imports torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and bool(torch.compiler.is_compiling())


def run_univariate(
    x, compute, *, axis, keepdims, nan_policy, min_samples, test, null, method,
    n_resamples=9999, seed=None, options=(), larger_is_extreme=True,
):
    """Run a univariate test's `compute` on `x` under the shared conventions.

    ``method="monte_carlo"`` replaces `compute`'s p-value by one against the
    null simulated with `compute` itself (see :mod:`sketchtest._nulls.montecarlo`);
    `options` (hashable) completes the cache key of that simulation, and
    `larger_is_extreme` says which tail rejects.
    """
    check_bool(keepdims, name="keepdims")
    y, xp, result_dtype, axis = prepare_samples(x, axis=axis, min_samples=min_samples)
    check_nan_policy(nan_policy, y, xp=xp)
    if method == "monte_carlo":
        n_resamples = check_int(n_resamples, name="n_resamples", minimum=1)
        check_seed(seed)

    def evaluate(samples):
        statistic, pvalue = compute(samples, xp=xp)
        if method == "monte_carlo":
            pvalue = monte_carlo_pvalue(
                statistic, compute, xp=xp, n=samples.shape[-1], n_resamples=n_resamples,
                seed=seed, key=(test, null, options), larger_is_extreme=larger_is_extreme,
            )
        return statistic, pvalue

    if nan_policy == "omit" and bool(xp.any(xp.isnan(y))):
        statistic, pvalue = _compute_omitting_nan(y, evaluate, xp=xp, min_samples=min_samples)
    else:
        statistic, pvalue = _nan_where_missing(y, *evaluate(y), xp=xp)
    statistic = xp.astype(statistic, result_dtype)
    pvalue = xp.astype(pvalue, result_dtype)
    if keepdims:
        statistic = xp.expand_dims(statistic, axis=axis)
        pvalue = xp.expand_dims(pvalue, axis=axis)
    return NormalityResult(statistic, pvalue, test=test, null=null, method=method)


def _nan_where_missing(y, statistic, pvalue, *, xp):
    """NaN for every batch element whose samples contain a NaN."""
    missing = xp.any(xp.isnan(y), axis=-1)
    nan = xp.asarray(float("nan"), dtype=statistic.dtype, device=device(statistic))
    return xp.where(missing, nan, statistic), xp.where(missing, nan, pvalue)


def _compute_omitting_nan(y, evaluate, *, xp, min_samples):
    """Drop NaNs per batch element (eager only: each row gets its own n)."""
    batch_shape = y.shape[:-1]
    rows = xp.reshape(y, (-1, y.shape[-1]))
    statistics, pvalues = [], []
    for i in range(rows.shape[0]):
        row = rows[i, :]
        kept = row[~xp.isnan(row)]
        if kept.shape[0] < min_samples:
            nan = xp.asarray(float("nan"), dtype=y.dtype, device=device(y))
            statistics.append(nan)
            pvalues.append(nan)
            continue
        statistic, pvalue = evaluate(kept)
        statistics.append(statistic)
        pvalues.append(pvalue)
    statistic = xp.reshape(xp.stack(statistics), batch_shape)
    pvalue = xp.reshape(xp.stack(pvalues), batch_shape)
    return statistic, pvalue


#: A sample whose standard deviation is at most this many machine epsilons of its
#: largest magnitude is degenerate: its deviations are rounding noise of its mean.
DEGENERATE_SPREAD_EPS = 8.0


def standardize(y, *, xp, ddof: int = 1):
    """Center and scale each batch element by its mean and standard deviation.

    The composite null (``null="normal"``) computes every statistic on these
    values; ``ddof=1`` (the unbiased variance) is the convention of
    :func:`scipy.stats.anderson` and of D'Agostino & Stephens (1986).

    The samples are first divided by their largest magnitude, so the squares
    neither overflow nor underflow: the result is scale-invariant over the
    whole float range (x and c x + m standardize alike for 1e-300 <= |c| <= 1e300
    in float64). A degenerate batch element, whose standard deviation is at most
    :data:`DEGENERATE_SPREAD_EPS` machine epsilons of its largest magnitude
    (a constant sample, or one whose spread is the rounding of its mean), comes
    out all NaN, so every statistic and p-value computed from it is NaN.
    """
    magnitude = xp.max(xp.abs(y), axis=-1, keepdims=True)
    scaled = y / xp.where(magnitude == 0.0, 1.0, magnitude)  # all zeros: degenerate below
    centered = scaled - xp.mean(scaled, axis=-1, keepdims=True)
    n = y.shape[-1]
    spread = xp.sqrt(xp.sum(centered * centered, axis=-1, keepdims=True) / (n - ddof))
    degenerate = spread <= DEGENERATE_SPREAD_EPS * xp.finfo(y.dtype).eps
    return centered / xp.where(degenerate, xp.asarray(float("nan"), dtype=y.dtype, device=device(y)), spread)


def sample_index(n: int, *, like, xp):
    """The ranks ``1, 2, ..., n`` as an array of `like`'s dtype and device."""
    return xp.arange(1, n + 1, dtype=like.dtype, device=device(like))
