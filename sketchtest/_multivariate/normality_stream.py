"""Streaming :func:`sketchtest.normality_test`: two passes over row batches, mergeable across processes.

Every component of :func:`sketchtest.normality_test` is a function of sums
over the samples once their mean and covariance are known:

* pass 1 accumulates the count, the mean and the co-moment matrix
  :math:`\\sum_i (x_i - \\bar x)(x_i - \\bar x)^\\top` (float64 where the
  device has it; batches are combined by Chan, Golub & LeVeque's pairwise
  update, so a partial state from another process merges exactly up to
  rounding); :meth:`StreamingNormalityTest.end_first_pass` then decomposes
  the D x D covariance on the host, once;
* pass 2 accumulates, for every random slice, principal axis and
  coordinate, the sums of :math:`\\cos(t_j p_i)` and :math:`\\sin(t_j p_i)`
  at the Epps-Pulley knots, and the sums behind the moment statistics.

The random directions are drawn on the host from `seed` when the
accumulator is built (D is given then), and the principal axes are fixed by
the first pass: every process that is given the same `seed` (or
`directions`) and the merged first-pass state (:meth:`spawn`) computes the
same projections. Memory is O(D^2 + K T) whatever the number of rows.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from sketchtest._compat import array_namespace, as_array, device
from sketchtest._multivariate.directions import check_directions, draw_directions
from sketchtest._multivariate.normality import (
    FAR_FROM_STANDARD, PRINCIPAL_AXES, NormalityTestResult, _N_POINTS, _T_MAX, below_gaussian_span,
    columns_component, columns_from_sums, combine_components, composite_parts, rank_component,
    standard_moment_parts,
)
from sketchtest._multivariate.normality_moments import covariance_from_sums, kurtosis_from_sums, skewness_from_sum
from sketchtest._multivariate.normality_spectrum import (
    Spectrum, _effective_rank, _eigh_descending, axes_kept, data_eps, rank_threshold,
)
from sketchtest._nulls.tails import wide_dtype
from sketchtest._result import NormalityResult, _host_copy
from sketchtest._typing import Array, NanPolicy, Null, Seed
from sketchtest._univariate.quadrature import ecf_sums
from sketchtest._validation import check_choice, check_int, check_seed, float_dtypes

__all__ = ["StreamingNormalityTest"]

_HOST = array_namespace(np.zeros(1))


class StreamingNormalityTest:
    r"""Two-pass streaming :func:`sketchtest.normality_test` over row batches, mergeable and picklable.

    Feed every row once (:meth:`update`), call :meth:`end_first_pass`, feed
    every row again (any batching, any order), then :meth:`result` gives
    the :class:`~sketchtest.NormalityTestResult` of
    ``normality_test(all_rows, null=null, seed=seed, num_slices=num_slices)``
    (equal to it up to rounding: 1e-10 in float64). Memory is
    O(D\ :sup:`2` + K T) whatever the number of rows, so data of any size
    (files read in batches, a dataset's loader, shards on several machines)
    gets the answer that fits-in-memory data gets.

    Pass 1 accumulates the mean and the co-moment matrix (float64 where the
    device has it); :meth:`end_first_pass` decomposes the D x D covariance
    on the host and fixes the principal axes and the whitening. Pass 2
    accumulates, on the batches' own device, the characteristic-function
    sums of the random slices, principal axes and coordinates, and the
    moment sums. The random directions are drawn on the host from `seed`
    when the accumulator is built.

    Across processes: give every process an accumulator built with the same
    options (or a :meth:`spawn` of one), :meth:`merge` the first-pass
    partials into one, call :meth:`end_first_pass` there, send its
    :meth:`spawn` (an empty pass-2 accumulator holding the frozen first
    pass) to every process, and merge their pass-2 partials.

    Parameters
    ----------
    dim : int
        The number D of columns of every batch.
    null : {"standard", "normal"}, default "standard"
        As in :func:`sketchtest.normality_test`.
    seed : int or numpy.random.Generator, optional
        Seed of the random directions (an int to merge across processes).
    num_slices : int, default 128
        Number of random directions.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns instead of random directions.
    nan_policy : {"propagate", "raise"}, default "propagate"
        A row with a NaN or an infinity makes the result NaN, or
        :meth:`update` raises ``ValueError``.

    Attributes
    ----------
    stage : int
        1 during the first pass, 2 after :meth:`end_first_pass`.
    count : int
        Rows seen in the current pass.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal((3000, 8))
    >>> stream = st.StreamingNormalityTest(8, seed=0)
    >>> for batch in np.array_split(x, 7):
    ...     _ = stream.update(batch)
    >>> _ = stream.end_first_pass()
    >>> for batch in np.array_split(x, 3):
    ...     _ = stream.update(batch)
    >>> streamed = float(stream.result().pvalue)
    >>> bool(abs(streamed - float(st.normality_test(x, seed=0).pvalue)) < 1e-10)
    True
    """

    def __init__(self, dim: int, *, null: Null = "standard", seed: Seed = None, num_slices: int = 128,
                 directions: Array | None = None, nan_policy: NanPolicy = "propagate") -> None:
        self.dim = check_int(dim, name="dim", minimum=1)
        check_choice(null, name="null", choices=("standard", "normal"))
        self.null = null
        check_seed(seed)
        self.num_slices = check_int(num_slices, name="num_slices", minimum=1)
        check_choice(nan_policy, name="nan_policy", choices=("propagate", "raise"))
        self.nan_policy = nan_policy
        if directions is None:
            self._directions = draw_directions(self.dim, self.num_slices, seed=seed)
        else:
            self._directions = _host_copy(check_directions(directions, self.dim))
        self._inner_seed = seed if isinstance(seed, int) else 0
        self.stage = 1
        self._batch_kind = None  # (dtype name, data epsilon) of the first batch
        self._first = _empty_first_pass(self.dim)
        self._frozen = None
        self._second = None

    # --- feeding ------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Rows seen in the current pass."""
        return self._first["count"] if self.stage == 1 else self._second["count"]

    def update(self, batch: Array) -> StreamingNormalityTest:
        """Fold a ``(n, D)`` batch of rows into the current pass; returns the accumulator.

        Parameters
        ----------
        batch : array_like
            Rows of any array library (all batches of one dtype; the
            libraries may differ, the sums are kept on the host); n = 0 is
            allowed.

        Returns
        -------
        StreamingNormalityTest
            This accumulator.
        """
        x, xp, nonfinite = self._checked(batch)
        if x.shape[0] == 0:
            return self
        if self.stage == 1:
            self._update_first(x, xp, nonfinite)
        else:
            self._update_second(x, xp)
        return self

    def _checked(self, batch):
        x, xp = as_array(batch, name="batch")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"`batch` must have shape (n, {self.dim}); got {tuple(x.shape)}")
        compute_dtype, _ = float_dtypes(x, xp=xp, name="batch")
        kind = (_dtype_name(x.dtype), data_eps(x.dtype, compute_dtype, xp=xp))
        if self._batch_kind is None:
            self._batch_kind = kind
        elif kind[0] != self._batch_kind[0]:
            raise TypeError(f"every batch must have one dtype: got {kind[0]} after {self._batch_kind[0]}")
        x = x if x.dtype == compute_dtype else xp.astype(x, compute_dtype)
        finite = xp.isfinite(x)
        nonfinite = not bool(xp.all(finite))
        if nonfinite and self.nan_policy == "raise":
            count = int(xp.count_nonzero(~finite))
            raise ValueError(f"`batch` contains {count} NaN or infinite value(s) and nan_policy='raise'")
        if nonfinite:
            x = xp.where(finite, x, xp.zeros_like(x))
        return x, xp, nonfinite

    def _update_first(self, x, xp, nonfinite):
        wide = xp.astype(x, wide_dtype(x, xp=xp))
        largest = float(xp.max(xp.abs(wide)))
        exponent = _power_of_two_exponent(largest)
        scaled = wide * 2.0 ** -exponent
        batch_mean = xp.mean(scaled, axis=0)
        centred = scaled - batch_mean
        batch = {"count": x.shape[0], "exponent": exponent, "mean": _host_copy(batch_mean),
                 "comoment": _host_copy(xp.matmul(xp.matrix_transpose(centred), centred)),
                 "largest": largest, "nonfinite": nonfinite}
        self._first = _merge_first(self._first, batch)

    def _update_second(self, x, xp):
        frozen, sums = self._frozen, self._second
        dtype, where = x.dtype, device(x)

        def on_device(host_matrix):
            return xp.asarray(host_matrix, dtype=dtype, device=where)

        wide = xp.astype(x, wide_dtype(x, xp=xp))
        shifted = wide * 2.0 ** -frozen["exponent"] - xp.asarray(frozen["mean"], dtype=wide.dtype, device=where)
        centred = xp.astype(shifted, dtype)
        parts = {"axes": xp.matmul(centred, on_device(frozen["loadings"]))}
        if self.null == "standard":
            parts["slices"] = xp.matmul(x, on_device(self._directions))
            parts["coordinates"] = x
            moments = _standard_moment_sums(xp.clip(wide, -FAR_FROM_STANDARD, FAR_FROM_STANDARD), xp=xp)
        else:
            whitened = xp.matmul(centred, on_device(frozen["whitening"]))
            parts["slices"] = xp.matmul(whitened, on_device(self._directions))
            parts["coordinates"] = centred * on_device(frozen["column_scale"])
            moments = _composite_moment_sums(xp.astype(whitened, wide.dtype), xp=xp)
        for name, projections in parts.items():
            cos_sum, sin_sum = ecf_sums(projections, _T_MAX, _N_POINTS, xp=xp)
            sums[name + "_cos"] = sums[name + "_cos"] + _host_copy(cos_sum)
            sums[name + "_sin"] = sums[name + "_sin"] + _host_copy(sin_sum)
        for name, value in moments.items():
            sums[name] = sums[name] + _host_copy(value)
        sums["count"] += x.shape[0]
        if self._frozen["inner"] is not None:
            scores = xp.matmul(shifted, xp.asarray(frozen["subspace"], dtype=wide.dtype, device=where))
            self._frozen["inner"].update(xp.astype(scores, dtype))

    # --- the pass boundary, merging, spawning ---------------------------------------------

    def end_first_pass(self) -> StreamingNormalityTest:
        """End pass 1: decompose the covariance (on the host) and fix the axes; returns the accumulator.

        Raises ``ValueError`` where the rows are too few for `null`
        (N >= 4; N >= D + 2 under ``null="normal"``), as
        :func:`sketchtest.normality_test` does.
        """
        if self.stage != 1:
            raise ValueError("end_first_pass() was called already: the accumulator is in pass 2")
        n = self._first["count"]
        if n < 4:
            raise ValueError(f"the first pass saw N = {n} rows; normality_test needs at least 4")
        if self.null == "normal" and n < self.dim + 2:
            raise ValueError(f"null='normal' needs N >= D + 2 rows; the first pass saw N = {n}, D = {self.dim}")
        self._frozen = self._freeze()
        self.stage = 2
        self._second = _empty_second_pass(self.dim, self.num_slices, self._frozen["loadings"].shape[1])
        return self

    def _freeze(self):
        state, dim = self._first, self.dim
        n = state["count"]
        covariance = state["comoment"] / n
        eigenvalues, vectors = _eigh_descending(covariance, xp=_HOST)
        unit = 1.0 / max(float(np.mean(eigenvalues)), float(np.finfo(np.float64).smallest_normal))
        normalized = eigenvalues * unit
        offset_power = float(np.mean(state["mean"] ** 2)) * unit
        epsilon = self._batch_kind[1] if self._batch_kind else float(np.finfo(np.float64).eps)
        threshold = rank_threshold(normalized, offset_power, data_epsilon=epsilon,
                                   covariance_epsilon=float(np.finfo(np.float64).eps), dim=dim, xp=_HOST)
        kept = normalized > threshold
        spectrum = Spectrum(None, normalized, vectors, np.asarray(int(np.sum(kept))),
                            _effective_rank(normalized, xp=_HOST), np.asarray(threshold))
        inverse_root = np.where(kept, 1.0 / np.sqrt(np.where(kept, eigenvalues, 1.0)), 0.0)
        num_axes = min(dim, n - 1, PRINCIPAL_AXES) if self.null == "standard" else min(dim, PRINCIPAL_AXES)
        column_variance = np.sum(vectors * vectors * eigenvalues, axis=-1)
        empty_columns = np.sum(vectors * vectors * normalized, axis=-1) <= threshold
        frozen = {
            "exponent": state["exponent"], "mean": state["mean"], "spectrum": spectrum, "num_axes": num_axes,
            "loadings": vectors[:, :num_axes] * inverse_root[:num_axes],
            "whitening": (vectors * inverse_root) @ vectors.T,
            "column_scale": np.where(empty_columns, 0.0, 1.0 / np.sqrt(np.where(empty_columns, 1.0,
                                                                                column_variance))),
            "empty_columns": empty_columns, "inner": None, "subspace": None,
        }
        rank = int(spectrum.rank)
        if bool(below_gaussian_span(rank, n, dim)) and not state["nonfinite"] and rank >= 1 and n >= rank + 2:
            frozen["subspace"] = vectors[:, :rank]
            frozen["inner"] = self._subspace_accumulator(rank, n, eigenvalues[:rank])
        return frozen

    def _subspace_accumulator(self, rank, n, eigenvalues):
        """A pass-2 composite accumulator for the scores on the `rank` non-empty axes (their mean is 0)."""
        inner = StreamingNormalityTest(rank, null="normal", seed=self._inner_seed, num_slices=self.num_slices)
        inner._batch_kind = self._batch_kind
        inner._first = {"count": n, "exponent": 0, "mean": np.zeros(rank), "comoment": n * np.diag(eigenvalues),
                        "largest": 0.0, "nonfinite": False}
        return inner.end_first_pass()

    def merge(self, other: StreamingNormalityTest) -> StreamingNormalityTest:
        """Add `other`'s partial state (same options, same pass) into this one; returns this accumulator.

        Parameters
        ----------
        other : StreamingNormalityTest
            An accumulator built with the same options; in pass 2, one
            holding the same first pass (a :meth:`spawn` of it).

        Returns
        -------
        StreamingNormalityTest
            This accumulator.
        """
        if not isinstance(other, StreamingNormalityTest):
            raise TypeError(f"`other` must be a StreamingNormalityTest; got {type(other).__name__}")
        self._check_mergeable(other)
        if other._batch_kind is not None:
            self._batch_kind = self._batch_kind or other._batch_kind
        if self.stage == 1:
            self._first = _merge_first(self._first, other._first)
            return self
        for name, value in other._second.items():
            self._second[name] = self._second[name] + value
        if self._frozen["inner"] is not None:
            self._frozen["inner"].merge(other._frozen["inner"])
        return self

    def _check_mergeable(self, other):
        options = ("dim", "null", "num_slices", "nan_policy")
        if any(getattr(self, name) != getattr(other, name) for name in options):
            raise ValueError("`other` was built with other options (dim, null, num_slices, nan_policy)")
        if not np.array_equal(self._directions, other._directions):
            raise ValueError("`other` has other directions: build both with the same seed or directions")
        if self.stage != other.stage:
            raise ValueError(f"`other` is in pass {other.stage}, this accumulator in pass {self.stage}")
        if self._batch_kind and other._batch_kind and self._batch_kind[0] != other._batch_kind[0]:
            raise TypeError(f"`other` saw {other._batch_kind[0]} batches, this accumulator {self._batch_kind[0]}")
        if self.stage == 2 and not (np.array_equal(self._frozen["mean"], other._frozen["mean"])
                                    and np.array_equal(self._frozen["whitening"], other._frozen["whitening"])):
            raise ValueError("`other` holds another first pass: spawn pass-2 accumulators from one that ended it")

    def spawn(self) -> StreamingNormalityTest:
        """An empty accumulator in the same pass, with the same options and frozen first pass.

        Send it to another process, feed it rows there, and :meth:`merge`
        it back.

        Returns
        -------
        StreamingNormalityTest
            A new accumulator with no rows in its current pass.
        """
        child = copy.deepcopy(self)
        if child.stage == 1:
            child._first = _empty_first_pass(self.dim)
        else:
            child._second = {name: 0 * value for name, value in child._second.items()}
            if child._frozen["inner"] is not None:
                child._frozen["inner"] = child._frozen["inner"].spawn()
        return child

    # --- the answer -----------------------------------------------------------------

    def result(self) -> NormalityTestResult:
        """The :class:`~sketchtest.NormalityTestResult` of all the rows (NumPy float64 values).

        Raises ``ValueError`` before pass 2 or when pass 2 did not see as
        many rows as pass 1.
        """
        if self.stage != 2:
            raise ValueError("the result needs two passes: call end_first_pass() and feed the rows again")
        n, dim, sums, frozen = self._first["count"], self.dim, self._second, self._frozen
        if sums["count"] != n:
            raise ValueError(f"pass 2 saw {sums['count']} rows, pass 1 saw {n}: feed every row once in each pass")
        spectrum, xp = frozen["spectrum"], _HOST
        column_null = "standard" if self.null == "standard" else "normal"
        slices = columns_from_sums(sums["slices_cos"], sums["slices_sin"], n, xp=xp, null=column_null)
        axes = columns_from_sums(sums["axes_cos"], sums["axes_sin"], n, xp=xp, null="normal")
        coordinates = columns_from_sums(sums["coordinates_cos"], sums["coordinates_sin"], n, xp=xp,
                                        null=column_null)
        if self.null == "normal":
            coordinates = tuple(np.where(frozen["empty_columns"], np.nan, part) for part in coordinates)
        components = {
            "random_slices": columns_component(*slices, xp=xp, null=column_null, name="random_slices"),
            "principal_axes": columns_component(*axes, xp=xp, null="normal", name="principal_axes",
                                                kept=axes_kept(spectrum, frozen["num_axes"], xp=xp)),
            "coordinates": columns_component(*coordinates, xp=xp, null=column_null, name="coordinates"),
        }
        singular = np.asarray(int(spectrum.rank) < dim)
        if self.null == "standard":
            components.update(standard_moment_parts(self._standard_statistics(), self._far(), n, dim, xp=xp))
        else:
            moments = {"skewness": np.asarray(skewness_from_sum(sums["weighted_sum"], n, xp=xp)),
                       "kurtosis": np.asarray(kurtosis_from_sums(sums["fourth_sum"], sums["square_sum"], n, dim,
                                                                 scale_free=False))}
            components = composite_parts(components, moments, singular, n, dim, xp=xp)
        rank = rank_component(spectrum, n, dim, self.null, xp=xp, dtype=np.float64)
        missing = np.asarray(self._first["nonfinite"])
        singular = np.asarray(below_gaussian_span(int(spectrum.rank), n, dim)) & ~missing
        return combine_components(components, rank, self._inside(singular), missing, singular, xp=xp,
                                  null=self.null, result_dtype=np.float64, directions=self._directions)

    def _far(self):
        return np.asarray(self._first["largest"] > FAR_FROM_STANDARD)

    def _standard_statistics(self):
        """Skewness, kurtosis, covariance and mean of the raw rows (clipped at 64, as the one-shot test)."""
        n, dim, sums, first = self._first["count"], self.dim, self._second, self._first
        scale = 2.0 ** first["exponent"]
        mean = first["mean"] * scale
        gram = first["comoment"] * scale * scale + n * np.outer(mean, mean)
        weighted = sums["weighted_sum"] - (dim + 2.0) * sums["linear_sum"]
        return {
            "skewness": np.asarray(skewness_from_sum(weighted, n, xp=_HOST)),
            "kurtosis": np.asarray(kurtosis_from_sums(sums["fourth_sum"], sums["square_sum"], n, dim,
                                                      scale_free=True)),
            "covariance": np.asarray(covariance_from_sums(gram, sums["fourth_sum"], sums["square_sum"], n,
                                                          xp=_HOST)),
            "mean": np.asarray(n * np.sum((sums["linear_sum"] / n) ** 2)),
        }

    def _inside(self, singular):
        inner = self._frozen["inner"]
        if inner is None or not bool(singular):
            return None
        answer = inner.result()
        return NormalityResult(np.asarray(answer.statistic), np.asarray(answer.pvalue), test="within_subspace",
                               null="normal", method="normality_test",
                               extras={"rank": self._frozen["spectrum"].rank})


# --- pass states -------------------------------------------------------------------

def _dtype_name(dtype):
    """``"float32"`` for NumPy's, torch's or JAX's float32 alike."""
    return str(dtype).rsplit(".", 1)[-1]


def _empty_first_pass(dim):
    return {"count": 0, "exponent": None, "mean": np.zeros(dim), "comoment": np.zeros((dim, dim)),
            "largest": 0.0, "nonfinite": False}


def _empty_second_pass(dim, num_slices, num_axes):
    sums = {"count": 0, "weighted_sum": np.zeros(dim), "linear_sum": np.zeros(dim), "fourth_sum": 0.0,
            "square_sum": 0.0}
    for name, columns in (("slices", num_slices), ("axes", num_axes), ("coordinates", dim)):
        sums[name + "_cos"] = np.zeros((columns, _N_POINTS))
        sums[name + "_sin"] = np.zeros((columns, _N_POINTS))
    return sums


def _power_of_two_exponent(largest):
    """e with ``largest * 2**-e`` in [1/2, 1): no square over- or underflows in the co-moments."""
    tiny = float(np.finfo(np.float64).smallest_normal)
    return int(math.floor(math.log2(max(largest, tiny)))) + 1 if math.isfinite(largest) else 0


def _merge_first(a, b):
    """Chan, Golub & LeVeque's pairwise update of (count, mean, co-moment).

    Each state is in its own power-of-two units (values below one in
    magnitude); the merged state takes the larger unit, so nothing overflows.
    """
    if b["count"] == 0:
        return a
    if a["count"] == 0:
        return dict(b)
    exponent = max(a["exponent"], b["exponent"])
    a_mean, a_comoment = _in_units(a, exponent)
    b_mean, b_comoment = _in_units(b, exponent)
    count = a["count"] + b["count"]
    delta = b_mean - a_mean
    return {"count": count, "exponent": exponent, "mean": a_mean + delta * (b["count"] / count),
            "comoment": a_comoment + b_comoment + np.outer(delta, delta) * (a["count"] * b["count"] / count),
            "largest": max(a["largest"], b["largest"]), "nonfinite": a["nonfinite"] or b["nonfinite"]}


def _in_units(state, exponent):
    """`state`'s mean and co-moment in units of ``2**exponent`` (a power of two: exact)."""
    ratio = 2.0 ** (state["exponent"] - exponent)
    return state["mean"] * ratio, state["comoment"] * ratio * ratio


def _standard_moment_sums(x, *, xp):
    """Sums behind the standard null's skewness, kurtosis, covariance and mean, of rows `x` (clipped)."""
    squared_norms = xp.sum(x * x, axis=-1)
    return {"weighted_sum": xp.sum(x * squared_norms[:, None], axis=0), "linear_sum": xp.sum(x, axis=0),
            "fourth_sum": xp.sum(squared_norms * squared_norms), "square_sum": xp.sum(squared_norms)}


def _composite_moment_sums(z, *, xp):
    """Sums behind the composite skewness and kurtosis, of whitened rows `z`."""
    squared_norms = xp.sum(z * z, axis=-1)
    return {"weighted_sum": xp.sum(z * squared_norms[:, None], axis=0),
            "fourth_sum": xp.sum(squared_norms * squared_norms), "square_sum": xp.sum(squared_norms)}
