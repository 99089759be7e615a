r"""SIGReg and the LeJEPA loss for JAX: ``jit``, ``grad``, ``vmap`` and ``shard_map`` ready.

The value is LeJEPA's sliced Epps-Pulley statistic (see
:func:`sketchtest.sigreg`). The sums over samples of :math:`\cos(t_j p)` and
:math:`\sin(t_j p)` come from a ``jax.custom_vjp`` that keeps only the
``(..., N, K)`` projections as residual. Inside ``shard_map`` or ``pmap``,
``axis_name`` adds those sums up across the devices with ``jax.lax.psum``
before the statistic is formed, so it uses the global N and equals the
single-device value and gradient on the whole batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sketchtest._compat import array_namespace
from sketchtest._univariate.quadrature import epps_pulley_knots
from sketchtest._losses.sigreg import (
    LeJEPAOutput, check_directions, check_lejepa_options, check_samples_shape, check_sigreg_options,
    lejepa_combine, statistic_from_sums,
)
from sketchtest._losses.sliced_loss import Collectives, check_loss_samples, check_loss_test, slice_statistics
from sketchtest._losses.stable import condition_samples
from sketchtest._validation import check_int, float_dtypes
from sketchtest_backends import jax as _backend
from sketchtest._losses.jax_monitor import (
    MONITOR_FIELDS, MonitorState, monitor_init, monitor_read, monitor_reset, monitor_statistics, monitor_update,
)
from typing import Any
from collections.abc import Hashable
from sketchtest._typing import Array, Null, TestName

__all__ = ["LeJEPAOutput", "lejepa_loss", "sigreg", "sliced_loss"]
__all__ += ["MONITOR_FIELDS", "MonitorState", "monitor_init", "monitor_read", "monitor_reset", "monitor_statistics",
            "monitor_update"]


def sigreg(
    z: Array, *, key: Array | None = None, directions: Array | None = None, num_slices: int = 256,
    t_max: float = 3.0, n_points: int = 17, axis_name: Hashable | None = None,
) -> Array:
    r"""SIGReg of ``z`` (shape ``(..., N, D)``) as a differentiable JAX loss.

    .. math::

        \mathrm{SIGReg}(z) = \frac1K \sum_{k} N \sum_{j} w_j
            \left[\big(\overline{\cos t_j p_{\cdot k}} - e^{-t_j^2/2}\big)^2
            + \big(\overline{\sin t_j p_{\cdot k}}\big)^2\right],
        \quad p = z A,

    with LeJEPA's knots ``linspace(0, t_max, n_points)`` and trapezoid
    weights doubled for the half line times :math:`e^{-t_j^2/2}` (see
    :func:`sketchtest.sigreg`); the expectation under N(0, I) is 1.0525 for
    the defaults. N (and the means) are global across `axis_name`.

    Parameters
    ----------
    z : jax.Array
        Samples ``(..., N, D)``; leading axes are a batch. NumPy arrays are
        accepted; lists and tuples raise ``TypeError`` (as in ``jax.numpy``:
        pass ``jnp.asarray(z)``), and so do complex and non-numeric dtypes.
    key : jax.Array, optional
        PRNG key of the directions: ``jax.random.normal`` columns scaled to
        unit length. Required unless `directions` is given.
    directions : jax.Array, optional
        ``(D, K)`` unit directions; overrides `key` and `num_slices`.
        Validated, not normalized: a zero, non-unit (norm off 1 by more than
        sqrt(eps) of its dtype, 2 eps for 16-bit dtypes), NaN or infinite
        column raises ``ValueError`` (eager calls only: not checked while tracing).
    num_slices : int, default 256
        Number K of directions drawn from `key`.
    t_max : float, default 3.0
        Upper end of the integration range: positive, with a knot spacing
        ``t_max / (n_points - 1)`` of at most 5 (the loss vanishes beyond).
    n_points : int, default 17
        Number T of knots.
    axis_name : hashable, optional
        Mapped axis (``shard_map``, ``pmap``) whose devices hold parts of
        the batch: the sums are ``psum``-ed over it. Give every device the
        same `key`.

    Returns
    -------
    jax.Array
        Shape ``z.shape[:-2]`` (a scalar for 2-D ``z``); float64 for float64
        input, JAX's default floating dtype for bool and integer input
        (float64 only with ``jax_enable_x64``), float32 otherwise (bfloat16
        and float16 are computed in float32).

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: Provable and Scalable
       Self-Supervised Learning Without the Heuristics", arXiv:2511.08544, 2025.

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import sigreg
    >>> z = jax.random.normal(jax.random.key(0), (2048, 32))
    >>> loss, grad = jax.value_and_grad(sigreg)(z, key=jax.random.key(1))
    >>> grad.shape
    (2048, 32)
    >>> bool(abs(loss - 1.0525) < 0.2)
    True
    """
    z, compute_dtype = _check_input(z)
    check_samples_shape(z)
    t_max, n_points, num_slices = check_sigreg_options(t_max=t_max, n_points=n_points, num_slices=num_slices)
    directions = _resolve_directions(z, key, directions, num_slices=num_slices, dtype=compute_dtype)
    projections = z.astype(compute_dtype) @ directions
    cos_sums, sin_sums = _backend.trig_sums(
        projections, knot_step=t_max / (n_points - 1), n_points=n_points
    )
    if axis_name is not None:
        both = jax.lax.psum(jnp.concatenate([cos_sums, sin_sums], axis=-2), axis_name)
        cos_sums, sin_sums = both[..., :n_points, :], both[..., n_points:, :]
    _, phi, weights = epps_pulley_knots(t_max, n_points, xp=jnp, dtype=cos_sums.dtype, device=None)
    return statistic_from_sums(cos_sums, sin_sums, phi, weights, xp=jnp)


def lejepa_loss(
    projections: Array, *, key: Array | None = None, directions: Array | None = None, num_global_views: int = 2,
    lamb: float = 0.05, num_slices: int = 256, t_max: float = 3.0, n_points: int = 17,
    axis_name: Hashable | None = None,
) -> LeJEPAOutput:
    r"""The LeJEPA loss (eq. 9 of [1]_) of the views' projections ``(V, N, K)``.

    .. math::

        \mathcal L = \lambda\,\frac1V \sum_v \mathrm{SIGReg}(z_v)
            + (1 - \lambda)\,\frac{1}{V N K}\sum_{v,n,k}
              \big(\bar z^{g}_{nk} - z_{v,nk}\big)^2,

    with :math:`\bar z^{g}` the mean of the first `num_global_views` views
    (the global views), every view sliced along the same directions. With
    `axis_name`, SIGReg is global; the invariance term is this device's
    mean (average it with ``jax.lax.pmean`` if you need the global value).

    Parameters
    ----------
    projections : jax.Array
        Shape ``(V, N, K)``: views first, the global views leading.
    key, directions, num_slices, t_max, n_points, axis_name
        As in :func:`sigreg`.
    num_global_views : int, default 2
        How many leading views are global views.
    lamb : float, default 0.05
        Weight :math:`\lambda` of SIGReg, in [0, 1].

    Returns
    -------
    LeJEPAOutput
        Named tuple ``(loss, sigreg, invariance)`` of scalars.

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: Provable and Scalable
       Self-Supervised Learning Without the Heuristics", arXiv:2511.08544, 2025.

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import lejepa_loss
    >>> views = jax.random.normal(jax.random.key(0), (4, 256, 16))
    >>> out = lejepa_loss(views, key=jax.random.key(1))
    >>> bool(out.invariance > 0), out.loss.shape
    (True, ())
    """
    projections, _ = _check_input(projections, name="projections")
    num_global_views = check_lejepa_options(projections, num_global_views=num_global_views, lamb=lamb, xp=jnp)
    value = sigreg(
        projections, key=key, directions=directions, num_slices=num_slices, t_max=t_max,
        n_points=n_points, axis_name=axis_name,
    )
    return lejepa_combine(projections, jnp.mean(value), num_global_views=num_global_views, lamb=lamb, xp=jnp)


def sliced_loss(
    z: Array, *, key: Array | None = None, directions: Array | None = None, test: TestName = "epps_pulley",
    num_slices: int = 256, null: Null = "standard", axis_name: Hashable | None = None, **options: Any,
) -> Array:
    r"""Any univariate test's statistic, averaged over random slices, as a differentiable JAX loss.

    .. math::

        L(z) = \frac1K \sum_{k=1}^K T(p_{\cdot k}), \qquad p = z A,

    with :math:`T` the statistic of ``sketchtest.<test>`` (its docstring has
    the convention), or :math:`1 - W` for ``"shapiro_wilk"`` and
    ``"shapiro_francia"`` (W is 1 for a perfect fit): the value equals
    ``getattr(sketchtest, test)(z @ A, axis=-2, null=null, **options).statistic.mean(-1)``.
    ``test="epps_pulley"`` with ``null="standard"`` is :func:`sigreg`.

    Parameters
    ----------
    z : jax.Array
        Samples ``(..., N, D)``; leading axes are a batch (NumPy arrays are
        accepted, lists are not).
    key, directions, num_slices
        As in :func:`sigreg`.
    test : str, default "epps_pulley"
        One of ``"epps_pulley"``, ``"jarque_bera"``, ``"dagostino_pearson"``,
        ``"skewness_test"``, ``"kurtosis_test"`` (sums over samples) and
        ``"cramer_von_mises"``, ``"anderson_darling"``, ``"watson"``,
        ``"kolmogorov_smirnov"``, ``"shapiro_wilk"``, ``"shapiro_francia"``,
        ``"vasicek"`` (sort-based), or any test registered in
        :data:`sketchtest._losses.sliced_loss.LOSS_STATISTICS`.
    null : {"standard", "normal"}, default "standard"
        ``"standard"``: distance to N(0, 1) on every slice; ``"normal"``: to
        any Gaussian (the slices are standardized first). The Shapiro tests
        and ``"dagostino_pearson"`` support ``"normal"`` only.
    axis_name : hashable, optional
        Mapped axis (``shard_map``, ``pmap``) whose devices hold equal parts
        of the batch; give every device the same `key`. Sum-reducible tests
        ``psum`` their ``(..., S, K)`` sums over samples (under
        ``null="normal"`` the global mean and standard deviation first);
        sort-based tests ``all_gather`` the projections (``tiled=True``), so
        each device holds W x N x K projections for W devices. The value and
        gradient equal those of one device on the whole batch.
    **options
        The test's own statistic options: ``t_max`` and ``n_points`` for
        ``"epps_pulley"`` (as in :func:`sigreg`); ``window`` for
        ``"vasicek"`` (the spacing m, a positive integer below N/2; default
        as :func:`sketchtest.vasicek`); no other test takes any.

    Returns
    -------
    jax.Array
        Shape ``z.shape[:-2]``; float64 for float64 input, float32 for
        float32, bfloat16 and float16 input (computed in float32). A slice
        that is constant (a collapsed batch) gives a large finite value, not
        NaN: every finite batch gives a finite loss and finite gradients
        (ties, outliers, scales from 1e-20 to 1e20 under ``null="normal"``,
        which is computed at unit scale internally; see
        :doc:`/benchmarks/loss_robustness` for the float32 and bfloat16
        gradients' accuracy and the standard null's overflow limits).

    Examples
    --------
    >>> import jax
    >>> from sketchtest.jax import sliced_loss
    >>> z = jax.random.normal(jax.random.key(0), (512, 16))
    >>> loss, grad = jax.value_and_grad(sliced_loss)(z, key=jax.random.key(1), test="watson")
    >>> grad.shape, bool(0.0 < loss < 0.5)
    ((512, 16), True)
    """
    num_slices = check_int(num_slices, name="num_slices", minimum=1)
    entry, options = check_loss_test(test, null, options, num_slices=num_slices)
    z, compute_dtype = _check_input(z)
    check_samples_shape(z)
    check_loss_samples(entry, z.shape[-2], test=test, null=null)
    directions = _resolve_directions(z, key, directions, num_slices=num_slices, dtype=compute_dtype,
                                     loss=f"sliced_loss(test={test!r})")
    collectives = Collectives() if axis_name is None else _collectives(axis_name)
    samples = z.astype(compute_dtype)
    if null == "normal":  # unit scale, same loss and gradient
        samples = condition_samples(samples, xp=jnp, stop_gradient=jax.lax.stop_gradient,
                                    reduce_sum=collectives.reduce_sum)
    projections = samples @ directions
    statistics = slice_statistics(projections, entry=entry, null=null, options=options, xp=jnp,
                                  collectives=collectives)
    return jnp.mean(statistics, axis=-1)


def _collectives(axis_name):
    """``psum``, tiled ``all_gather`` along the sample axis and ``pmean`` over `axis_name`."""
    return Collectives(
        reduce_sum=lambda x: jax.lax.psum(x, axis_name),
        gather=lambda x: jax.lax.all_gather(x, axis_name, axis=x.ndim - 2, tiled=True),
        world_size=jax.lax.axis_size(axis_name),
        replicate=lambda x: jax.lax.pmean(x, axis_name),
    )


def _check_input(z, name: str = "z"):
    """Return `z` as a JAX array and its compute dtype, or raise naming `name`.

    As in ``jax.numpy``, JAX and NumPy arrays are accepted and lists and
    tuples are not (``TypeError``: convert them with ``jnp.asarray``).
    NumPy arrays go through the dtype policy first (so ``longdouble`` becomes
    float64 and complex raises before JAX sees them).
    """
    if isinstance(z, (np.ndarray, np.generic)):
        host_dtype, _ = float_dtypes(z, xp=array_namespace(z), name=name)
        z = jnp.asarray(z.astype(host_dtype) if z.dtype.kind == "f" else z)
    elif not isinstance(z, jax.Array):
        raise TypeError(
            f"`{name}` must be a JAX or NumPy array; got {type(z).__name__} "
            "(as in jax.numpy, convert a list or tuple with jnp.asarray first)"
        )
    compute_dtype, _ = float_dtypes(z, xp=jnp, name=name)
    return z, compute_dtype


def _resolve_directions(z, key, directions, *, num_slices, dtype, loss="sigreg"):
    """The ``(D, K)`` directions in `dtype`, given or drawn from `key`."""
    dimension = z.shape[-1]
    if directions is not None:
        directions, _ = _check_input(directions, name="directions")
        check_directions(directions, dimension, xp=jnp)
        return directions.astype(dtype)
    if key is None:
        raise ValueError(f"pass `key` (a jax.random key) or `directions`: {loss} needs directions")
    if not isinstance(key, jax.Array):
        raise TypeError(f"`key` must be a jax.random key (jax.random.key(seed)); got {type(key).__name__}")
    gaussian = jax.random.normal(key, (dimension, num_slices), dtype=dtype)
    return gaussian / jnp.linalg.norm(gaussian, axis=0, keepdims=True)
