"""JAX adapter: ``jax.scipy.special`` and ``jax.random``.

Collectives in JAX are named-axis operations (``jax.lax.psum``) used inside
``shard_map`` or ``pmap``; :func:`all_reduce_sum` takes the axis name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as special

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum"]

_LOW_PRECISION = (jnp.bfloat16, jnp.float16)


def _in_float32(function, x):
    if x.dtype in _LOW_PRECISION:
        return function(x.astype(jnp.float32)).astype(x.dtype)
    return function(x)


def ndtr(x):
    """Standard normal CDF."""
    return _in_float32(special.ndtr, x)


def log_ndtr(x):
    """Logarithm of the standard normal CDF."""
    return _in_float32(special.log_ndtr, x)


def ndtri(p):
    """Inverse of the standard normal CDF."""
    return _in_float32(special.ndtri, p)


def standard_normal(shape, *, seed, dtype, device=None):
    """Standard normal draws from ``jax.random.key(seed)`` (or a given key) on `device`."""
    key = jax.random.key(int(seed)) if isinstance(seed, int) else seed
    draws = jax.random.normal(key, tuple(shape), dtype=dtype)
    return draws if device is None else jax.device_put(draws, device)


def all_reduce_sum(x, axis_name=None):
    """``jax.lax.psum`` over `axis_name`; the identity when it is ``None``."""
    if axis_name is None:
        return x
    return jax.lax.psum(x, axis_name)


# --------------------------------------------------------------------------
# SIGReg glue: the memory-lean trigonometric sums, a ``jax.custom_vjp``.
# --------------------------------------------------------------------------

import functools  # noqa: E402


def _accumulation_dtype(dtype):
    return jnp.float32 if dtype in _LOW_PRECISION else dtype


def _unit_phasors(projections, knot_step):
    """``exp(i h p)`` in the complex dtype matching the accumulation dtype."""
    compute = _accumulation_dtype(projections.dtype)
    angle = projections.astype(compute) * knot_step
    return jax.lax.complex(jnp.cos(angle), jnp.sin(angle))


_SLICE_CHUNK_ELEMENTS = 1 << 16  # (samples x slices) per block on CPUs
_SLICE_CHUNK_ELEMENTS_ACCELERATOR = 1 << 24


def _phasor_power_sums(block, knot_step, n_points):
    """Sums over the last axis of ``exp(i h p)^j``, j < T, stacked first: (T, ...)."""
    step = _unit_phasors(block, knot_step)
    power = jnp.ones_like(step)
    rows = []
    for j in range(n_points):
        rows.append(jnp.sum(power, axis=-1))
        if j < n_points - 1:
            power = power * step
    return jnp.stack(rows, axis=0)


def _forward_sums(projections, knot_step, n_points):
    """``exp(i t_j p) = exp(i h p)^j``: one complex product per knot (angle addition).

    Slices are processed in blocks (``jax.lax.map``) so that the successive
    powers, which XLA keeps alive for the reductions, stay block-sized.
    """
    num_samples, num_slices = projections.shape[-2], projections.shape[-1]
    per_block = _SLICE_CHUNK_ELEMENTS if jax.default_backend() == "cpu" else _SLICE_CHUNK_ELEMENTS_ACCELERATOR
    width = max(1, min(num_slices, per_block // max(1, num_samples)))
    slices_first = jnp.moveaxis(projections, -1, 0)  # (K, ..., N)
    padding = (-num_slices) % width
    if padding:
        filler = jnp.zeros((padding, *slices_first.shape[1:]), slices_first.dtype)
        slices_first = jnp.concatenate([slices_first, filler], axis=0)
    blocks = slices_first.reshape(-1, width, *slices_first.shape[1:])  # (B, width, ..., N)
    sums = jax.lax.map(lambda block: _phasor_power_sums(block, knot_step, n_points), blocks)
    sums = jnp.moveaxis(sums, 1, 0)  # (T, B, width, ...)
    sums = sums.reshape(n_points, -1, *sums.shape[3:])[:, :num_slices]  # (T, K, ...)
    sums = jnp.moveaxis(sums, (0, 1), (-2, -1))
    return jnp.real(sums), jnp.imag(sums)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _trig_sums(projections, knot_step, n_points):
    return _forward_sums(projections, knot_step, n_points)


def _trig_sums_forward(projections, knot_step, n_points):
    return _forward_sums(projections, knot_step, n_points), projections


def _trig_sums_backward(knot_step, n_points, projections, cotangents):
    """``d sum cos(t p) = -t sin(t p)``, ``d sum sin(t p) = t cos(t p)``, recomputed.

    The gradient is ``Re sum_j c_j exp(i h p)^j`` with ``c_j = t_j (sin_grad_j +
    i cos_grad_j)``: a polynomial in the phasor, evaluated by Horner's rule.
    """
    compute = _accumulation_dtype(projections.dtype)
    cos_grad, sin_grad = (g.astype(compute) for g in cotangents)
    knots = jnp.arange(n_points, dtype=compute) * knot_step
    coefficients = jax.lax.complex(sin_grad, cos_grad) * knots[:, None]  # (..., T, K)
    step = _unit_phasors(projections, knot_step)
    total = jnp.broadcast_to(coefficients[..., n_points - 1 : n_points, :], step.shape)
    for j in range(n_points - 2, -1, -1):
        total = total * step + coefficients[..., j : j + 1, :]
    return (jnp.real(total).astype(projections.dtype),)


_trig_sums.defvjp(_trig_sums_forward, _trig_sums_backward)


def trig_sums(projections, *, knot_step: float, n_points: int):
    """Sums over axis -2 of ``cos(t_j p)`` and ``sin(t_j p)``, ``t_j = j * knot_step``.

    Two arrays ``(..., n_points, K)`` (float32 for bfloat16/float16 input),
    differentiable through a ``jax.custom_vjp`` whose residual is only the
    projections: the backward pass recomputes cos and sin knot by knot.
    Works under ``jit``, ``grad`` and ``vmap``.
    """
    return _trig_sums(projections, float(knot_step), int(n_points))
