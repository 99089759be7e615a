"""Streaming sliced Epps-Pulley: one pass over data of any size, mergeable.

The sliced Epps-Pulley statistic depends on the samples only through the
sums of :math:`\\cos(t_j a_k^\\top x_i)` and :math:`\\sin(t_j a_k^\\top x_i)`
and their count, so batches can be folded in one at a time and partial sums
from several processes or machines added exactly.
"""

from __future__ import annotations


import numpy as np

from sketchtest._nulls.combine import cauchy_pvalue, cauchy_statistic
from sketchtest._compat import array_namespace, device
from sketchtest._multivariate.directions import check_directions, directions_for
from sketchtest._univariate.quadrature import ecf_sums, epps_pulley_from_sums, epps_pulley_knots
from sketchtest._validation import (
    NAN_POLICIES, check_bool, check_choice, check_int, check_nan_policy, check_seed,
)
from sketchtest._typing import Aggregate, Array, NanPolicy, Seed
from sketchtest._multivariate.sliced import SlicedResult

__all__ = ["SlicedEppsPulley"]


class SlicedEppsPulley:
    r"""Streaming sliced Epps-Pulley test of N(0, I) over batches of samples.

    Accumulates, for every direction :math:`a_k` and knot :math:`t_j`,

    .. math::

        C_{kj} = \sum_i \cos(t_j a_k^\top x_i), \qquad
        S_{kj} = \sum_i \sin(t_j a_k^\top x_i), \qquad n = \#\{x_i\},

    and reports :math:`T_k = n \sum_j w_j [(C_{kj}/n - e^{-t_j^2/2})^2 +
    (S_{kj}/n)^2]`, the statistic of :func:`sketchtest.sliced_test` with
    ``test="epps_pulley"`` on the concatenation of the batches. Memory is
    O(K T) whatever the number of samples. Sums are kept in float64 when the
    device has it (float32 otherwise), so merges are exact up to rounding.

    An accumulator pickles and deep-copies exactly (NumPy, array-api-strict,
    PyTorch and JAX arrays: the tested ones), so partial sums can be computed
    in other processes and merged:
    give every process the same `seed` (or `directions`). All its batches and
    merged accumulators must come from one array library (``TypeError``
    otherwise) and one device (``ValueError``).

    Parameters
    ----------
    num_slices : int, default 256
        Number K of directions (taken from `directions` when given).
    seed : int or numpy.random.Generator, default 0
        Seed of the directions (drawn on the host at the first batch, once D
        is known). Accumulators to be merged need the same seed.
    t_max : float, default 3.0
        Last quadrature knot, in ``[0.1, 2 (n_points - 1)]`` (see
        :func:`sketchtest.sliced_test`).
    n_points : int, default 17
        Number of knots, ``linspace(0, t_max, n_points)``, at least 3.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns instead of random ones.
        Validated, not normalized: a zero, non-unit (norm off 1 by more than
        sqrt(eps) of its dtype, 2 eps for 16-bit dtypes), NaN or infinite
        column raises ``ValueError``, a complex or non-numeric dtype
        ``TypeError``.
    orthogonal : bool, default False
        Draw orthonormal blocks of directions.
    aggregate : {"cauchy", "mean", "max"}, default "cauchy"
        Aggregation of :meth:`result`. From n = 500 samples on, ``"mean"``
        uses the asymptotic law of :func:`sketchtest.sigreg_pvalue` (as
        :func:`sketchtest.sliced_test` does); below, and for ``"max"``, the
        null is simulated at ``min(n, mc_max_samples)`` samples (exact up to
        that size, an asymptotic approximation beyond).
    n_resamples : int, default 999
        Null replicates of the ``"mean"`` and ``"max"`` aggregates.
    mc_max_samples : int, default 2048
        Largest sample size simulated for their null.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What :meth:`update` does with samples (rows) holding a NaN or an
        infinity: fold them in (the sums, and so every result, become NaN),
        raise ``ValueError``, or drop those rows.

    Attributes
    ----------
    count : int
        Number of samples seen.
    cos_sum, sin_sum : array or None
        The ``(K, T)`` sums, ``None`` before the first batch.
    directions : array or None
        The ``(D, K)`` directions, ``None`` before the first batch.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> rng = np.random.default_rng(0)
    >>> first, second = st.SlicedEppsPulley(64, seed=1), st.SlicedEppsPulley(64, seed=1)
    >>> for _ in range(3):
    ...     _ = first.update(rng.standard_normal((1000, 8)))
    >>> _ = second.update(rng.standard_normal((1000, 8)))
    >>> result = first.merge(second).result()
    >>> first.count, result.slice_statistics.shape
    (4000, (64,))
    >>> bool(result.pvalue > 0.01)
    True
    """

    def __init__(
        self, num_slices: int = 256, seed: Seed = 0, *, t_max: float = 3.0, n_points: int = 17,
        directions: Array | None = None, orthogonal: bool = False, aggregate: Aggregate = "cauchy",
        n_resamples: int = 999, mc_max_samples: int = 2048, nan_policy: NanPolicy = "propagate",
    ) -> None:
        from sketchtest._multivariate.sliced import check_knots

        self.num_slices = check_int(num_slices, name="num_slices", minimum=1)
        check_seed(seed)
        check_bool(orthogonal, name="orthogonal")
        check_choice(aggregate, name="aggregate", choices=("cauchy", "mean", "max"))
        check_choice(nan_policy, name="nan_policy", choices=NAN_POLICIES)
        self.seed, self.orthogonal, self.aggregate, self.nan_policy = seed, orthogonal, aggregate, nan_policy
        self.t_max, self.n_points = check_knots(t_max, n_points)
        self.n_resamples = check_int(n_resamples, name="n_resamples", minimum=1)
        self.mc_max_samples = check_int(mc_max_samples, name="mc_max_samples", minimum=2)
        if directions is not None:
            directions = check_directions(directions, getattr(directions, "shape", (None,))[0])
            self.num_slices = int(directions.shape[1])
        self._given_directions = directions
        self.directions = self._host_directions = self.cos_sum = self.sin_sum = None
        self.count = 0
        self._xp = None

    def __getstate__(self):
        """Everything but the array namespace (a module), which is found again from the sums."""
        state = dict(self.__dict__)
        state["_xp"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.cos_sum is not None:
            self._xp = array_namespace(self.cos_sum)

    @property
    def _sum_dtype(self):
        return self.cos_sum.dtype

    def update(self, batch: Array) -> SlicedEppsPulley:
        """Fold a batch of samples of shape ``(n_b, D)`` into the sums; returns self."""
        from sketchtest._multivariate.sliced import _prepare

        batch, xp, _ = _prepare(batch, name="batch", min_samples=1)
        batch = _without_autograd(batch)
        if batch.ndim != 2:
            raise ValueError(f"`batch` must have shape (n_b, D); got {batch.ndim} dimensions")
        check_nan_policy(self.nan_policy, batch, xp=xp, name="batch")
        if self.directions is None:
            self._start(batch, xp)
        else:
            self._check_compatible(batch, xp, name="batch")
            if batch.shape[-1] != self.directions.shape[0]:
                raise ValueError(
                    f"`batch` has D = {batch.shape[-1]} but earlier batches had D = {self.directions.shape[0]}")
        if self.nan_policy == "omit":
            batch = batch[xp.all(xp.isfinite(batch), axis=-1)]
            if batch.shape[0] == 0:
                return self
        projections = xp.matmul(batch, xp.astype(self.directions, batch.dtype))
        if batch.dtype != self._sum_dtype:  # the recurrence in the accumulation dtype
            projections = xp.astype(projections, self._sum_dtype)
        cos_part, sin_part = ecf_sums(projections, self.t_max, self.n_points, xp=xp)
        self.cos_sum = self.cos_sum + cos_part
        self.sin_sum = self.sin_sum + sin_part
        self.count += int(batch.shape[0])
        return self

    def _start(self, batch, xp):
        info = xp.__array_namespace_info__()
        has_float64 = xp.float64 in info.dtypes(device=device(batch)).values()
        sum_dtype = xp.float64 if has_float64 else xp.float32
        self._xp = xp
        self.directions, self._host_directions = directions_for(
            batch, xp=xp, dtype=batch.dtype, num_slices=self.num_slices, seed=self.seed,
            directions=self._given_directions, orthogonal=self.orthogonal)
        shape = (self.directions.shape[1], self.n_points)
        self.cos_sum = xp.zeros(shape, dtype=sum_dtype, device=device(batch))
        self.sin_sum = xp.zeros(shape, dtype=sum_dtype, device=device(batch))

    def _check_compatible(self, array, xp, *, name):
        """Refuse arrays of another library (``TypeError``) or device (``ValueError``) than the sums."""
        if xp is not self._xp:
            raise TypeError(
                f"`{name}` is a {_library(array)} array but this accumulator holds {_library(self.cos_sum)} "
                "arrays: update and merge with one array library")
        if device(array) != device(self.cos_sum):
            raise ValueError(
                f"`{name}` is on device {device(array)} but this accumulator's sums are on {device(self.cos_sum)}")

    def merge(self, other: SlicedEppsPulley) -> SlicedEppsPulley:
        """Add the sums of `other` (same directions and knots) into self; returns self.

        A fresh accumulator (no update yet) with the same seed adopts `other`'s
        directions and sums.
        """
        if not isinstance(other, SlicedEppsPulley):
            raise TypeError(f"`other` must be a SlicedEppsPulley; got {type(other).__name__}")
        if (self.t_max, self.n_points, self.num_slices) != (other.t_max, other.n_points, other.num_slices):
            raise ValueError("cannot merge accumulators with different num_slices, t_max or n_points")
        if other.directions is None:
            return self
        if self.directions is None:
            return self._adopt(other)
        self._check_compatible(other.cos_sum, array_namespace(other.cos_sum), name="other")
        if not self._same_directions(other):
            raise ValueError("cannot merge accumulators with different directions (seed or directions differ)")
        self.cos_sum = self.cos_sum + self._xp.astype(other.cos_sum, self._sum_dtype)
        self.sin_sum = self.sin_sum + self._xp.astype(other.sin_sum, self._sum_dtype)
        self.count += other.count
        return self

    def _adopt(self, other):
        """A fresh accumulator takes over `other`'s directions and sums (both drawn from one seed)."""
        from_seed = self._given_directions is None and other._given_directions is None
        if not (from_seed and (self.seed, self.orthogonal) == (other.seed, other.orthogonal)):
            raise ValueError("cannot merge into a fresh accumulator whose seed, orthogonal or directions "
                             "differ from `other`'s: merge the other way, or update this one first")
        self._xp, self.directions, self._host_directions = other._xp, other.directions, other._host_directions
        self.cos_sum, self.sin_sum, self.count = other.cos_sum, other.sin_sum, other.count
        return self

    def _same_directions(self, other) -> bool:
        if self._host_directions is not None and other._host_directions is not None:
            return np.array_equal(self._host_directions, other._host_directions)
        xp = self._xp
        return self.directions.shape == other.directions.shape and bool(
            xp.all(self.directions == xp.asarray(other.directions, device=device(self.directions))))

    def result(self) -> SlicedResult:
        """The :class:`SlicedResult` of every sample seen so far."""
        from sketchtest._nulls.sliced_mean import sigreg_pvalue
        from sketchtest._multivariate.sliced import (
            SlicedResult, _aggregate, _aggregate_method, _epps_pulley_slices, aggregate_mc_pvalue,
            directions_fingerprint, epps_pulley_slice_pvalues)

        if self.count < 2:
            raise ValueError(f"the test needs at least 2 samples; {self.count} seen")
        xp, dtype = self._xp, self.directions.dtype
        _, phi, weights = epps_pulley_knots(
            self.t_max, self.n_points, xp=xp, dtype=self._sum_dtype, device=device(self.cos_sum))
        statistics = epps_pulley_from_sums(self.cos_sum, self.sin_sum, float(self.count), phi, weights, xp=xp)
        pvalues = epps_pulley_slice_pvalues(
            statistics, t_max=self.t_max, n_points=self.n_points, null="standard", xp=xp)
        if self.aggregate == "cauchy":
            statistic = cauchy_statistic(pvalues, xp=xp)
            pvalue, how = cauchy_pvalue(statistic, xp=xp), "cauchy_combination"
        else:
            statistic = _aggregate(statistics, self.aggregate, xp=xp)
            options = {"t_max": self.t_max, "n_points": self.n_points}
            how = _aggregate_method(
                "auto", test="epps_pulley", aggregate=self.aggregate, null="standard", num_samples=self.count)

            def slice_function(projections):
                return _epps_pulley_slices(projections, xp=xp, null="standard", **options)

            key = ("epps_pulley", "standard", None, tuple(sorted(options.items())),
                   directions_fingerprint(self.directions, self._host_directions, xp=xp))
            if how == "asymptotic":
                pvalue = sigreg_pvalue(xp.astype(statistic, dtype), directions=self.directions, **options)
            else:
                pvalue = aggregate_mc_pvalue(
                    xp.astype(statistic, dtype), slice_function, self.directions, xp=xp,
                    n=min(self.count, self.mc_max_samples), aggregate=self.aggregate,
                    n_resamples=self.n_resamples, mc_seed=0, key=key)
        cast = lambda a: xp.astype(a, dtype)  # noqa: E731
        return SlicedResult(
            cast(statistic), cast(pvalue), cast(statistics), cast(pvalues), self.directions,
            test="epps_pulley", aggregate=self.aggregate, null="standard", method=how)


def _library(array) -> str:
    """The top-level module of `array`'s type ("numpy", "torch", "jax", ...), for messages."""
    return type(array).__module__.split(".")[0]


def _without_autograd(batch):
    """`batch` cut from any autograd graph (a torch tensor's ``detach()``).

    The sums are statistics, never differentiated: a tensor that requires
    grad would otherwise keep every batch's graph alive through them, so the
    state would grow with the number of batches instead of staying O(K T).
    """
    detach = getattr(batch, "detach", None)
    return detach() if callable(detach) else batch
