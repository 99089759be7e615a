"""The embedding monitor for JAX: pure functions over a state pytree (``jit`` and ``shard_map`` ready)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sketchtest._losses import monitor as _core
from sketchtest._typing import Array, Seed
from sketchtest_backends import jax as _backend


class MonitorState(NamedTuple):
    """The monitor's running sums and its fixed directions and knots (a pytree of arrays)."""

    sums: jax.Array
    directions: jax.Array
    knots: jax.Array


def monitor_init(
    dim: int, *, num_slices: int = 64, seed: Seed = 0, t_max: float = 3.0, n_points: int = 17,
) -> MonitorState:
    r"""A fresh monitor state for D-dimensional embeddings (see :func:`monitor_update`).

    The sums are float64 under ``jax_enable_x64``, float32 otherwise.

    Parameters
    ----------
    dim : int
        Embedding dimension D.
    num_slices : int, default 64
        Number K of fixed SIGReg directions, drawn once from `seed` with NumPy.
    seed : int, default 0
        Seed of the directions.
    t_max, n_points : float, int
        SIGReg's knots, ``linspace(0, t_max, n_points)``.

    Returns
    -------
    MonitorState
        Zero sums, the directions ``(D, K)`` and the knots ``(T,)``.

    Examples
    --------
    >>> from sketchtest.jax import monitor_init
    >>> state = monitor_init(8, num_slices=16)
    >>> state.directions.shape, state.knots.shape
    ((8, 16), (17,))
    """
    t_max, n_points = _core.check_knots(t_max, n_points)
    directions = _core.monitor_directions(dim, num_slices, seed)
    dtype = _core.accumulation_dtype(jnp.zeros(0), xp=jnp)
    size = _core.sums_size(directions.shape[0], directions.shape[1], n_points)
    return MonitorState(
        jnp.zeros((size,), dtype=dtype),
        jnp.asarray(directions, dtype=dtype),
        jnp.linspace(0.0, t_max, n_points, dtype=dtype),
    )


def monitor_update(state: MonitorState, z: Array, *, axis_name: Hashable | None = None) -> MonitorState:
    r"""Add the rows of `z` (shape ``(..., N, D)``) to the state's sums; a pure function.

    No host synchronization: ``jit`` it with the training step. Inside
    ``shard_map`` or ``pmap``, `axis_name` adds the devices' sums with
    ``jax.lax.psum``, so every device's state holds the global sums.

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import monitor_init, monitor_update, monitor_read
    >>> state = monitor_init(8)
    >>> z = jax.random.normal(jax.random.key(0), (1024, 8))
    >>> state = jax.jit(monitor_update)(state, z)
    >>> stats = monitor_read(state)
    >>> stats["count"], round(stats["effective_rank"], 1)
    (1024, 8.0)
    """
    dim = state.directions.shape[0]
    dtype = getattr(z, "dtype", None)
    if dtype is None or not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
                             or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"`z` must be a real array (float, integer or bool); got {dtype or type(z).__name__}")
    _core.check_embeddings(z, dim=dim)
    z = jax.lax.stop_gradient(jnp.reshape(z, (-1, dim)))
    sums = _core.batch_sums(z, state.directions, state.knots, xp=jnp)
    return state._replace(sums=state.sums + _backend.all_reduce_sum(sums, axis_name))


def monitor_statistics(state: MonitorState) -> jax.Array:
    """The statistics as one array, in :data:`MONITOR_FIELDS` order (``sigreg_pvalue`` NaN); jit-able.

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import MONITOR_FIELDS, monitor_init, monitor_statistics, monitor_update
    >>> state = monitor_update(monitor_init(4), jax.random.normal(jax.random.key(1), (4096, 4)))
    >>> values = jax.jit(monitor_statistics)(state)
    >>> round(float(values[MONITOR_FIELDS.index("effective_rank")]), 2)
    4.0
    """
    dim, num_slices = state.directions.shape
    return _core.monitor_statistics(state.sums, state.knots, dim=dim, num_slices=num_slices, xp=jnp)


def monitor_read(state: MonitorState) -> dict:
    r"""The monitor's statistics as a dict of floats (a host read; then start over with :func:`monitor_reset`).

    Keys: ``count``, ``mean_norm``, ``eig_max``, ``eig_min``, ``spread``,
    ``mp_low``, ``mp_high``, ``effective_rank``, ``sigreg``, ``sigreg_pvalue``,
    as :class:`sketchtest.torch.EmbeddingMonitor` reads them.

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import monitor_init, monitor_read, monitor_update
    >>> z = 0.01 * jax.random.normal(jax.random.key(2), (2048, 8))   # collapsed to a point
    >>> stats = monitor_read(monitor_update(monitor_init(8), z))
    >>> stats["eig_max"] < stats["mp_low"], stats["sigreg_pvalue"]
    (True, 0.0)
    """
    values = monitor_statistics(state)
    t_max = float(np.asarray(state.knots[-1]))
    return _core.read_statistics(np.asarray(values), np.asarray(state.directions, dtype=np.float64),
                                 t_max=t_max, n_points=state.knots.shape[0])


def monitor_reset(state: MonitorState) -> MonitorState:
    """The state with its sums set to zero (same directions and knots).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from sketchtest.jax import monitor_init, monitor_reset, monitor_update
    >>> state = monitor_update(monitor_init(4), jnp.ones((8, 4)))
    >>> float(monitor_reset(state).sums.sum())
    0.0
    """
    return state._replace(sums=jnp.zeros_like(state.sums))


MONITOR_FIELDS = _core.FIELDS
"""Names of the monitor's statistics, in the order of :func:`monitor_statistics`."""
