r"""The embedding monitor's core: running sums over steps, statistics at read time.

A monitor keeps one flat array of sums over every embedding row it was fed
since its last read: the count :math:`n`, :math:`\sum z`, :math:`\sum z z^\top`
and, for K fixed unit directions :math:`a_k` and SIGReg's knots :math:`t_j`,
:math:`\sum \cos(t_j a_k^\top z)` and :math:`\sum \sin(t_j a_k^\top z)`. All of
them add across steps and across ranks, so a distributed job all-reduces one
array at read time and reads the statistics of all ranks' embeddings.

From the sums (:func:`monitor_statistics`):

- ``mean_norm``: :math:`\lVert \bar z \rVert` (0 for an isotropic Gaussian);
- ``eig_max``, ``eig_min``, ``spread`` (their ratio): the extremes of the
  spectrum of the sample covariance :math:`\hat\Sigma`;
- ``mp_low``, ``mp_high``: the Marchenko-Pastur range
  :math:`(1 \pm \sqrt{D/n})^2` in which the eigenvalues of N(0, I)'s sample
  covariance lie at this sample count;
- ``effective_rank``: :math:`\exp(-\sum_i p_i \log p_i)` with
  :math:`p_i = \lambda_i / \sum \lambda` (Roy & Vetterli 2007): D for an
  isotropic spectrum, 1 for a single direction;
- ``sigreg`` and ``sigreg_pvalue``: SIGReg of the pooled rows on the fixed
  directions, and its p-value under N(0, I) (:func:`sketchtest.sigreg_pvalue`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sketchtest._losses.sigreg import statistic_from_sums
from sketchtest._nulls.sliced_mean import sigreg_pvalue
from sketchtest._validation import check_int, check_positive_float, check_seed

FIELDS = (
    "count", "mean_norm", "eig_max", "eig_min", "spread", "mp_low", "mp_high",
    "effective_rank", "sigreg", "sigreg_pvalue",
)
"""The monitor's statistics, in the order of :func:`monitor_statistics`'s array."""


def monitor_directions(dim: int, num_slices: int, seed: int) -> np.ndarray:
    """K unit directions in R^D (float64, on the host), drawn once from `seed`."""
    dim = check_int(dim, name="dim", minimum=1)
    num_slices = check_int(num_slices, name="num_slices", minimum=1)
    check_seed(seed)
    gaussian = np.random.default_rng(seed).standard_normal((dim, num_slices))
    return gaussian / np.linalg.norm(gaussian, axis=0, keepdims=True)


def check_knots(t_max, n_points) -> tuple[float, int]:
    """Validated SIGReg knots ``linspace(0, t_max, n_points)``."""
    return check_positive_float(t_max, name="t_max"), check_int(n_points, name="n_points", minimum=2)


def sums_size(dim: int, num_slices: int, n_points: int) -> int:
    """Length of the flat sums array: count, D first moments, D*D second moments, 2*T*K trig sums."""
    return 1 + dim + dim * dim + 2 * n_points * num_slices


def accumulation_dtype(z, *, xp):
    """float64 where the device has it (not on Apple MPS, nor JAX without x64), else float32."""
    if z.dtype == xp.float64 or "mps" in str(getattr(z, "device", "")):
        return xp.float64 if z.dtype == xp.float64 else xp.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = xp.zeros((1,), dtype=xp.float64)
    return probe.dtype


def batch_sums(z, directions, knots, *, xp):
    """The flat sums of one batch `z` (rows are samples, shape (N, D)), in `directions`' dtype.

    `directions` is (D, K) and `knots` (T,), both on `z`'s device in the
    accumulation dtype; the result is computed without a host synchronization.
    """
    z = xp.astype(z, directions.dtype)
    projections = z @ directions
    angles = projections[:, None, :] * knots[:, None]
    parts = [
        xp.sum(xp.ones_like(z[:, :1]), axis=0),
        xp.sum(z, axis=0),
        xp.reshape(z.T @ z, (-1,)),
        xp.reshape(xp.sum(xp.cos(angles), axis=0), (-1,)),
        xp.reshape(xp.sum(xp.sin(angles), axis=0), (-1,)),
    ]
    return xp.concat(parts)


def monitor_statistics(sums, knots, *, dim: int, num_slices: int, xp):
    """The :data:`FIELDS` from the flat `sums` as one array, on the sums' device (no p-value yet).

    `knots` are SIGReg's ``linspace(0, t_max, T)`` in the sums' dtype. Array
    operations only (traceable under ``jit`` and ``torch.compile``). The
    ``sigreg_pvalue`` entry is NaN here: :func:`read_statistics` fills it in.
    """
    n_points = knots.shape[0]
    count = sums[0]
    mean = sums[1 : 1 + dim] / count
    second = xp.reshape(sums[1 + dim : 1 + dim + dim * dim], (dim, dim))
    covariance = (second - count * (mean[:, None] * mean[None, :])) / xp.maximum(count - 1.0, 1.0)
    covariance = (covariance + covariance.T) / 2.0
    eigenvalues = xp.clip(xp.linalg.eigvalsh(covariance), 0.0, None)
    eig_max, eig_min = xp.max(eigenvalues), xp.min(eigenvalues)
    total = xp.sum(eigenvalues)
    weights = eigenvalues / xp.where(total > 0, total, 1.0)
    entropy = -xp.sum(xp.where(weights > 0, weights * xp.log(xp.where(weights > 0, weights, 1.0)), 0.0))
    effective_rank = xp.where(total > 0, xp.exp(entropy), 0.0 * total)  # constant rows: rank 0
    spread = xp.where(eig_min > 0, eig_max / xp.where(eig_min > 0, eig_min, 1.0), xp.inf * (1.0 + 0.0 * total))
    ratio = xp.sqrt(dim / count)
    trig = xp.reshape(sums[1 + dim + dim * dim :], (2, n_points, num_slices))
    phi, quadrature = knot_weights(knots, xp=xp)
    sigreg = statistic_from_sums(trig[0], trig[1], phi, quadrature, xp=xp)
    values = [
        count, xp.sqrt(xp.sum(mean * mean)), eig_max, eig_min, spread,
        (1.0 - ratio) ** 2, (1.0 + ratio) ** 2, effective_rank, sigreg, xp.nan * count,
    ]
    return xp.stack(values)


def knot_weights(knots, *, xp):
    """:math:`e^{-t^2/2}` and SIGReg's quadrature weights at `knots` (trapezoid, doubled for the half line)."""
    first, last = xp.astype(knots == knots[0], knots.dtype), xp.astype(knots == knots[-1], knots.dtype)
    ends = 1.0 - 0.5 * first - 0.5 * last  # trapezoid: half weight at both ends (no new array: jit-safe)
    phi = xp.exp(-(knots * knots) / 2.0)
    spacing = knots[-1] / (knots.shape[0] - 1)
    return phi, 2.0 * spacing * ends * phi


def read_statistics(values, directions_host: np.ndarray, *, t_max: float, n_points: int) -> dict[str, float]:
    """The statistics array (any namespace, already computed) as a dict of floats, p-value included."""
    host = np.asarray(_to_numpy(values), dtype=np.float64)
    result = dict(zip(FIELDS, host.tolist()))
    if result["count"] < 1:
        raise ValueError("the monitor has seen no embeddings since it was last read: call update(z) first")
    result["count"] = int(result["count"])
    # directions drawn in float32 (JAX without x64) are unit to float32's rounding only: in float64
    # they are normalized again, as sigreg_pvalue's null (and its float64 check) assumes unit columns
    directions_host = np.asarray(directions_host, dtype=np.float64)
    directions_host = directions_host / np.linalg.norm(directions_host, axis=0)
    result["sigreg_pvalue"] = float(
        sigreg_pvalue(np.float64(result["sigreg"]), directions=directions_host, t_max=t_max, n_points=n_points)
    )
    return result


def check_embeddings(z, *, dim: int, name: str = "z") -> None:
    """`z` must be a floating array of shape (..., N, D) with D = `dim` (shape only: no host sync)."""
    shape = tuple(z.shape)
    if len(shape) < 2 or shape[-1] != dim:
        raise ValueError(f"`{name}` must have shape (..., N, {dim}); got {shape}")
    if math.prod(shape[:-1]) < 1:
        raise ValueError(f"`{name}` has no rows: shape {shape}")


def _device(x):
    from array_api_compat import device

    return device(x)


def _to_numpy(values):
    try:
        return np.asarray(values)
    except (TypeError, RuntimeError):
        return np.from_dlpack(values)
