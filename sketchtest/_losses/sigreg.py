r"""SIGReg: the sliced Epps-Pulley statistic of LeJEPA, on any array library.

The statistic is computed from two small sufficient statistics per slice and
knot, the sums over samples of :math:`\cos(t_j p_{nk})` and
:math:`\sin(t_j p_{nk})`. Frameworks with autodiff supply those sums with a
memory-lean gradient (``sketchtest_backends.torch.trig_sums``, a
``torch.autograd.Function``; ``sketchtest_backends.jax.trig_sums``, a
``jax.custom_vjp``); distributed jobs add them up across processes before the
statistic below is formed, so it uses the global sample count.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sketchtest._compat import as_array, device
from sketchtest._multivariate.directions import check_direction_values
from sketchtest._univariate.quadrature import check_sigreg_options, ecf_sums, epps_pulley_knots
from sketchtest._validation import check_int, check_real, check_seed, float_dtypes
from sketchtest._typing import Array, Seed

__all__ = ["LeJEPAOutput", "sigreg"]


def sigreg(
    z: Array, /, *, num_slices: int = 256, seed: Seed = None, directions: Array | None = None, t_max: float = 3.0,
    n_points: int = 17,
) -> Array:
    r"""SIGReg, LeJEPA's sliced Epps-Pulley statistic of ``z`` against N(0, I).

    The samples ``z`` (shape ``(..., N, D)``) are projected on unit
    directions :math:`a_k` (columns of a ``(D, K)`` matrix), :math:`p_{nk} =
    z_n \cdot a_k`, and each slice's empirical characteristic function is
    compared with :math:`e^{-t^2/2}` on the knots :math:`t_j` =
    ``linspace(0, t_max, n_points)``:

    .. math::

        \mathrm{SIGReg}(z) = \frac1K \sum_{k=1}^K N \sum_{j=1}^T w_j
            \left[\Big(\frac1N\sum_n \cos(t_j p_{nk}) - e^{-t_j^2/2}\Big)^2
            + \Big(\frac1N\sum_n \sin(t_j p_{nk})\Big)^2\right],
        \qquad w_j = 2\,\Delta_j\,e^{-t_j^2/2},

    with :math:`\Delta_j` the trapezoid weights on :math:`[0, t_{max}]`
    (doubled because the integrand is even in :math:`t`). This is the value
    of LeJEPA's reference implementation for the same directions. Under
    :math:`z \sim N(0, I)` its expectation is exactly
    :math:`\sum_j w_j (1 - e^{-t_j^2})`, whatever N and D: 1.0525 for the
    defaults (``t_max=3``, ``n_points=17``).

    Parameters
    ----------
    z : array
        Samples of shape ``(..., N, D)``; leading axes are a batch. NumPy,
        CuPy, PyTorch, JAX or any array API library.
    num_slices : int, default 256
        Number K of random directions (ignored when `directions` is given).
    seed : int or numpy.random.Generator, optional
        Seed of the directions (a Python or NumPy int in [0, 2**63)), drawn
        on the host with NumPy (Gaussian columns scaled to unit length) so
        that every backend sees the same numbers; ``None`` draws fresh ones.
        Arrays and tensors are refused (``TypeError``): pass ``int(seed)``.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns; overrides `num_slices` and
        `seed`. Validated, not normalized: a zero, non-unit (norm off 1 by
        more than sqrt(eps) of its dtype, 2 eps for 16-bit dtypes), NaN or
        infinite column raises ``ValueError``, a complex or non-numeric dtype
        ``TypeError`` (value checks are skipped inside ``jax.jit`` and
        ``torch.compile``).
    t_max : float, default 3.0
        Upper end of the integration range: positive, with a knot spacing
        ``t_max / (n_points - 1)`` of at most 5 (the loss vanishes beyond).
    n_points : int, default 17
        Number T of knots (at least 2).

    Returns
    -------
    array
        Shape ``z.shape[:-2]``, in the input's namespace and device, with the
        library's dtype policy: float64 for float64 and NumPy ``longdouble``
        input (computed in float64), float32 for float32, float16 and
        bfloat16, the default floating dtype for bool and integer input.
        Complex and non-numeric `z` raise ``TypeError``.

    Notes
    -----
    On torch tensors the sums of cos and sin come from a
    ``torch.autograd.Function`` that keeps only the ``(..., N, K)``
    projections for the backward pass; on JAX arrays from a
    ``jax.custom_vjp``; both are differentiable. This function never
    communicates between processes: :func:`sketchtest.torch.sigreg` (or
    ``SIGReg``) and :func:`sketchtest.jax.sigreg` with ``axis_name`` give
    the loss of a distributed job.

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: Provable and Scalable
       Self-Supervised Learning Without the Heuristics", arXiv:2511.08544, 2025.
    .. [2] T. W. Epps and L. B. Pulley, "A test for normality based on the
       empirical characteristic function", Biometrika 70(3), 723-726, 1983.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> z = np.random.default_rng(0).standard_normal((4096, 64))
    >>> value = st.sigreg(z, num_slices=512, seed=0)
    >>> bool(abs(value - 1.0525) < 0.1)
    True
    >>> bool(st.sigreg(3.0 * z, seed=0) > 10)
    True
    """
    z, xp = as_array(z, name="z")
    compute_dtype, _ = float_dtypes(z, xp=xp, name="z")
    _, dimension = check_samples_shape(z)
    t_max, n_points, num_slices = check_sigreg_options(t_max=t_max, n_points=n_points, num_slices=num_slices)
    if directions is None:
        check_seed(seed)
        host = host_directions(dimension, num_slices, seed=seed)
        directions = xp.asarray(host, dtype=compute_dtype, device=device(z))
    else:
        directions, directions_xp = as_array(directions, name="directions")
        if directions_xp is not xp:
            raise TypeError("`directions` must be an array of the same library as `z`")
        check_directions(directions, dimension, xp=xp)
        if device(directions) != device(z):
            raise ValueError(f"`directions` is on device {device(directions)} but `z` is on {device(z)}")
        directions = xp.astype(directions, compute_dtype)
    projections = xp.astype(z, compute_dtype) @ directions
    cos_sums, sin_sums = trig_sums(projections, t_max=t_max, n_points=n_points, xp=xp)
    _, phi, weights = epps_pulley_knots(
        t_max, n_points, xp=xp, dtype=cos_sums.dtype, device=device(cos_sums)
    )
    return statistic_from_sums(cos_sums, sin_sums, phi, weights, xp=xp)


def check_samples_shape(z, *, name: str = "z"):
    """Return ``(N, D)`` of samples ``(..., N, D)``, refusing fewer than 2 dimensions."""
    if z.ndim < 2:
        raise ValueError(f"`{name}` must have shape (..., N, D) with at least 2 dimensions; got {z.ndim}")
    num_samples, dimension = z.shape[-2], z.shape[-1]
    if num_samples is not None and num_samples < 1:
        raise ValueError(f"`{name}` needs at least 1 sample along axis -2; got {num_samples}")
    if dimension is not None and dimension < 1:
        raise ValueError(f"`{name}` needs at least 1 feature along axis -1; got {dimension}")
    return num_samples, dimension


def check_directions(directions, dimension, *, xp) -> None:
    """Refuse a `directions` matrix that is not ``(D, K)`` for the given D, or not real."""
    if directions.ndim != 2 or directions.shape[0] != dimension:
        raise ValueError(
            f"`directions` must have shape (D, K) = ({dimension}, K) to match `z`; "
            f"got {tuple(directions.shape)}"
        )
    if directions.shape[1] < 1:
        raise ValueError("`directions` needs at least one column (slice)")
    float_dtypes(directions, xp=xp, name="directions")
    check_direction_values(directions)  # finite unit columns (eager only)


def host_directions(dimension: int, num_slices: int, *, seed=None) -> np.ndarray:
    """Gaussian ``(D, K)`` directions from NumPy, each column scaled to unit length."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    gaussian = rng.standard_normal((dimension, num_slices))
    return gaussian / np.linalg.norm(gaussian, axis=0, keepdims=True)


def expected_value(t_max: float = 3.0, n_points: int = 17) -> float:
    r"""Exact expectation of SIGReg under N(0, I): :math:`\sum_j w_j (1 - e^{-t_j^2})`."""
    t = np.linspace(0.0, t_max, n_points)
    trapezoid = np.full(n_points, t_max / (n_points - 1))
    trapezoid[[0, -1]] /= 2
    weights = 2.0 * trapezoid * np.exp(-(t**2) / 2)
    return float(np.sum(weights * (1.0 - np.exp(-(t**2)))))


def trig_sums(projections, *, t_max: float, n_points: int, xp):
    """Sums over axis -2 of ``cos(t_j p)`` and ``sin(t_j p)``: two arrays (..., T, K).

    Uses the backend's differentiable kernel when it has one, otherwise the
    chunked recurrence of :func:`sketchtest._univariate.quadrature.ecf_sums`.
    """
    from sketchtest_backends import for_namespace

    kernel = getattr(for_namespace(xp), "trig_sums", None)
    if kernel is not None:
        return kernel(projections, knot_step=t_max / (n_points - 1), n_points=n_points)
    cos_sums, sin_sums = ecf_sums(projections, t_max, n_points, xp=xp)
    return xp.moveaxis(cos_sums, -1, -2), xp.moveaxis(sin_sums, -1, -2)


def statistic_from_sums(cos_sums, sin_sums, phi, weights, *, xp, per_slice=False):
    r"""SIGReg from the (possibly all-reduced) sums, shape (..., T, K) each.

    `phi` and `weights` (length T) come from
    :func:`sketchtest._univariate.quadrature.epps_pulley_knots`. The sample count is read
    from the sums themselves (:math:`t_0 = 0`, so ``cos_sums[..., 0, :]`` is
    N), which makes it the global N after an all-reduce. Returns the mean
    over slices, shape ``(...)``, or every slice's statistic, shape
    ``(..., K)``, with ``per_slice=True``.
    """
    count = cos_sums[..., :1, :]
    error = (cos_sums - count * phi[:, None]) ** 2 + sin_sums**2
    statistics = xp.sum(error * weights[:, None], axis=-2) / count[..., 0, :]
    return statistics if per_slice else xp.mean(statistics, axis=-1)


class LeJEPAOutput(NamedTuple):
    """The LeJEPA loss and its two terms (scalars of the framework's type)."""

    loss: Any
    sigreg: Any
    invariance: Any


def check_lejepa_options(projections, *, num_global_views, lamb, xp) -> int:
    """Validate the LeJEPA loss's input and options; return `num_global_views`."""
    if not hasattr(projections, "ndim"):
        raise TypeError(f"`projections` must be an array of shape (V, N, K); got {type(projections).__name__}")
    float_dtypes(projections, xp=xp, name="projections")
    if projections.ndim < 3:
        raise ValueError(
            "`projections` must have shape (V, N, K): views first; "
            f"got {projections.ndim} dimension(s)"
        )
    num_views = projections.shape[0]
    num_global_views = check_int(num_global_views, name="num_global_views", minimum=1)
    if num_global_views > num_views:
        raise ValueError(
            f"`num_global_views`={num_global_views} exceeds the number of views {num_views}"
        )
    check_lamb(lamb)
    return num_global_views


def check_lamb(lamb) -> float:
    """Return `lamb` as a float in [0, 1]: a real number, NumPy scalar or 0-d real array."""
    return check_real(lamb, name="lamb", minimum=0.0, maximum=1.0)


def lejepa_combine(projections, sigreg_value, *, num_global_views: int, lamb: float, xp):
    r"""LeJEPA's loss (eq. 9) from the views' projections and their mean SIGReg.

    .. math::

        \mathcal L = \lambda\,\overline{\mathrm{SIGReg}}
            + (1 - \lambda)\,\frac{1}{V N K}\sum_{v,n,k}
              \big(\bar z^{g}_{nk} - z_{v,nk}\big)^2,

    with :math:`\bar z^{g}` the mean of the first `num_global_views` views.
    """
    projections = xp.astype(projections, sigreg_value.dtype)
    centers = xp.mean(projections[:num_global_views, ...], axis=0)
    difference = projections - centers
    invariance = xp.mean(difference * difference)
    loss = float(lamb) * sigreg_value + (1.0 - float(lamb)) * invariance
    return LeJEPAOutput(loss, sigreg_value, invariance)
