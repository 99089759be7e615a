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


def _rotate(cos_j, sin_j, cos_step, sin_step):
    """Angle addition: from the terms at ``t_j`` to those at ``t_j + h``."""
    return cos_j * cos_step - sin_j * sin_step, sin_j * cos_step + cos_j * sin_step


def _forward_sums(projections, knot_step, n_points):
    compute = _accumulation_dtype(projections.dtype)
    angle = projections.astype(compute) * knot_step
    cos_step, sin_step = jnp.cos(angle), jnp.sin(angle)

    def knot(carry, _):
        cos_j, sin_j = carry
        sums = (jnp.sum(cos_j, axis=-2), jnp.sum(sin_j, axis=-2))
        return _rotate(cos_j, sin_j, cos_step, sin_step), sums

    start = (jnp.ones_like(angle), jnp.zeros_like(angle))
    _, (cos_sums, sin_sums) = jax.lax.scan(knot, start, None, length=n_points)
    return jnp.moveaxis(cos_sums, 0, -2), jnp.moveaxis(sin_sums, 0, -2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _trig_sums(projections, knot_step, n_points):
    return _forward_sums(projections, knot_step, n_points)


def _trig_sums_forward(projections, knot_step, n_points):
    return _forward_sums(projections, knot_step, n_points), projections


def _trig_sums_backward(knot_step, n_points, projections, cotangents):
    """``d sum cos(t p) = -t sin(t p)``, ``d sum sin(t p) = t cos(t p)``, recomputed per knot."""
    compute = _accumulation_dtype(projections.dtype)
    cos_grad, sin_grad = (jnp.moveaxis(g.astype(compute), -2, 0) for g in cotangents)
    angle = projections.astype(compute) * knot_step
    cos_step, sin_step = jnp.cos(angle), jnp.sin(angle)
    knots = jnp.arange(n_points, dtype=compute) * knot_step

    def knot(carry, inputs):
        cos_j, sin_j, gradient = carry
        cos_weight, sin_weight, t_j = inputs
        gradient = gradient + t_j * (sin_weight[..., None, :] * cos_j - cos_weight[..., None, :] * sin_j)
        return (*_rotate(cos_j, sin_j, cos_step, sin_step), gradient), None

    start = (jnp.ones_like(angle), jnp.zeros_like(angle), jnp.zeros_like(angle))
    (_, _, gradient), _ = jax.lax.scan(knot, start, (cos_grad, sin_grad, knots))
    return (gradient.astype(projections.dtype),)


_trig_sums.defvjp(_trig_sums_forward, _trig_sums_backward)


def trig_sums(projections, *, knot_step: float, n_points: int):
    """Sums over axis -2 of ``cos(t_j p)`` and ``sin(t_j p)``, ``t_j = j * knot_step``.

    Two arrays ``(..., n_points, K)`` (float32 for bfloat16/float16 input),
    differentiable through a ``jax.custom_vjp`` whose residual is only the
    projections: the backward pass recomputes cos and sin knot by knot.
    Works under ``jit``, ``grad`` and ``vmap``.
    """
    return _trig_sums(projections, float(knot_step), int(n_points))
