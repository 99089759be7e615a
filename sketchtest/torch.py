r"""SIGReg and the LeJEPA loss for PyTorch: memory-lean, compile-safe, DDP-aware.

The value is LeJEPA's sliced Epps-Pulley statistic (see
:func:`sketchtest.sigreg` for the formula and convention). The sums over
samples of :math:`\cos(t_j p)` and :math:`\sin(t_j p)` come from a
``torch.autograd.Function`` that saves only the ``(..., N, K)`` projections
and recomputes the trigonometric terms in the backward pass, chunk by chunk
over slices. When ``torch.distributed`` is initialized those sums (a
``(..., 2T, K)`` tensor) are all-reduced with an autograd-aware collective
whose backward pass sums the gradients, so that training with
``DistributedDataParallel`` on W ranks gives the loss and the averaged
parameter gradients of one process on the concatenated batch.
"""

from __future__ import annotations

import array_api_compat.torch as _xp
import numpy as np
import torch

from sketchtest._losses.sigreg import (
    LeJEPAOutput, check_directions, check_lamb, check_lejepa_options, check_samples_shape,
    check_sigreg_options, lejepa_combine, statistic_from_sums,
)
from sketchtest._univariate.quadrature import epps_pulley_knots
from sketchtest._losses.torch_monitor import EmbeddingMonitor, monitor_fields
from sketchtest._losses.sliced_loss import Collectives, check_loss_samples, check_loss_test, slice_statistics
from sketchtest._losses.stable import condition_samples
from sketchtest._validation import check_bool, check_int, check_seed, float_dtypes
from sketchtest_backends import torch as _backend
from typing import Any
from sketchtest._typing import Array, DeviceSeed, Null, TestName

__all__ = ["LeJEPALoss", "LeJEPAOutput", "SIGReg", "SlicedLoss", "lejepa_loss", "sigreg", "sliced_loss"]
__all__ += ["EmbeddingMonitor", "monitor_fields"]

_LOW_PRECISION = (torch.bfloat16, torch.float16)


def sigreg(
    z: Array, *, directions: Array | None = None, num_slices: int = 256, seed: DeviceSeed = None,
    t_max: float = 3.0, n_points: int = 17, distributed: bool = True,
) -> Array:
    r"""SIGReg of ``z`` (shape ``(..., N, D)``) as a differentiable torch loss.

    .. math::

        \mathrm{SIGReg}(z) = \frac1K \sum_{k} N \sum_{j} w_j
            \left[\big(\overline{\cos t_j p_{\cdot k}} - e^{-t_j^2/2}\big)^2
            + \big(\overline{\sin t_j p_{\cdot k}}\big)^2\right],
        \quad p = z A,

    with LeJEPA's knots and weights (see :func:`sketchtest.sigreg`); its
    expectation under N(0, I) is 1.0525 for the defaults. N is the global
    sample count when the sums are all-reduced.

    Parameters
    ----------
    z : torch.Tensor
        Samples ``(..., N, D)``; leading axes are a batch.
    directions : torch.Tensor, optional
        ``(D, K)`` unit directions; overrides `num_slices` and `seed`.
        Validated, not normalized: a zero, non-unit (norm off 1 by more than
        sqrt(eps) of its dtype, 2 eps for 16-bit dtypes), NaN or infinite
        column raises ``ValueError`` (eager calls only: not checked while tracing).
    num_slices : int, default 256
        Number K of random directions drawn when `directions` is None.
    seed : int or integer torch.Tensor, optional
        Seed of the directions, drawn on ``z``'s device by a counter-based
        generator (:func:`sketchtest_backends.torch.counter_normal`; Gaussian
        columns scaled to unit length): an int in [0, 2**63) or a 0-d integer
        tensor. A step counter tensor works without host synchronization
        (its value is not checked) and gives every rank the same directions.
        ``None`` draws from torch's global generator (not the same on every
        rank: pass a seed in distributed training). These directions differ
        from those :func:`sketchtest.sigreg` draws with NumPy for the same seed.
    t_max : float, default 3.0
        Upper end of the integration range: positive, with a knot spacing
        ``t_max / (n_points - 1)`` of at most 5 (the loss vanishes beyond).
    n_points : int, default 17
        Number T of knots.
    distributed : bool, default True
        All-reduce the sums when ``torch.distributed`` is initialized;
        ``False`` computes each rank's own statistic.

    Returns
    -------
    torch.Tensor
        Shape ``z.shape[:-2]``; float64 for float64 input, torch's default
        floating dtype for bool and integer input, float32 otherwise
        (bfloat16 and float16 are computed with float32 trigonometry and
        accumulation; under autocast the projection ``z @ A`` itself runs in
        the autocast dtype, which dominates the error: about 1e-3 relative).
        Complex and other dtypes (float8, say) raise ``TypeError``.

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: Provable and Scalable
       Self-Supervised Learning Without the Heuristics", arXiv:2511.08544, 2025.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import sigreg
    >>> z = torch.randn(2048, 32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    >>> loss = sigreg(z, num_slices=256, seed=0)
    >>> loss.backward()
    >>> z.grad.shape
    torch.Size([2048, 32])
    >>> bool(abs(loss - 1.0525) < 0.2)
    True
    """
    compute_dtype, t_max, n_points, num_slices = _check_options(
        z, t_max=t_max, n_points=n_points, num_slices=num_slices, distributed=distributed
    )
    directions = _resolve_directions(
        z, directions, num_slices=num_slices, seed=seed, dtype=compute_dtype
    )
    projections = z.to(compute_dtype) @ directions
    cos_sums, sin_sums = _backend.trig_sums(
        projections, knot_step=t_max / (n_points - 1), n_points=n_points
    )
    if distributed and _backend.is_distributed():
        both = _backend.all_reduce_sum(torch.cat([cos_sums, sin_sums], dim=-2))
        cos_sums, sin_sums = both[..., :n_points, :], both[..., n_points:, :]
    _, phi, weights = epps_pulley_knots(t_max, n_points, xp=torch, dtype=cos_sums.dtype, device=z.device)
    return statistic_from_sums(cos_sums, sin_sums, phi, weights, xp=torch)


def lejepa_loss(
    projections: Array, *, num_global_views: int = 2, lamb: float = 0.05, directions: Array | None = None,
    num_slices: int = 256, seed: DeviceSeed = None, t_max: float = 3.0, n_points: int = 17,
    distributed: bool = True,
) -> LeJEPAOutput:
    r"""The LeJEPA loss (eq. 9 of [1]_) of the views' projections ``(V, N, K)``.

    .. math::

        \mathcal L = \lambda\,\frac1V \sum_v \mathrm{SIGReg}(z_v)
            + (1 - \lambda)\,\frac{1}{V N K}\sum_{v,n,k}
              \big(\bar z^{g}_{nk} - z_{v,nk}\big)^2,

    with :math:`\bar z^{g}` the mean of the first `num_global_views` views
    (the global views) and every view sliced along the same directions.

    Parameters
    ----------
    projections : torch.Tensor
        Shape ``(V, N, K)``: views first, the global views leading.
    num_global_views : int, default 2
        How many leading views are global views.
    lamb : float, default 0.05
        Weight :math:`\lambda` of SIGReg, in [0, 1].
    directions, num_slices, seed, t_max, n_points, distributed
        As in :func:`sigreg`.

    Returns
    -------
    LeJEPAOutput
        Named tuple ``(loss, sigreg, invariance)`` of scalar tensors.

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: Provable and Scalable
       Self-Supervised Learning Without the Heuristics", arXiv:2511.08544, 2025.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import lejepa_loss
    >>> views = torch.randn(4, 256, 16, generator=torch.Generator().manual_seed(0))
    >>> out = lejepa_loss(views, seed=0)
    >>> bool(out.invariance > 0), out.loss.shape
    (True, torch.Size([]))
    """
    num_global_views = check_lejepa_options(projections, num_global_views=num_global_views, lamb=lamb, xp=_xp)
    value = sigreg(
        projections, directions=directions, num_slices=num_slices, seed=seed, t_max=t_max,
        n_points=n_points, distributed=distributed,
    )
    return lejepa_combine(projections, value.mean(), num_global_views=num_global_views, lamb=lamb, xp=_xp)


class SIGReg(torch.nn.Module):
    r"""SIGReg as an ``nn.Module`` that draws fresh directions every training step.

    The directions of a step come from :func:`sketchtest_backends.torch.counter_normal`
    seeded with the buffer ``step`` (incremented by every forward pass in
    training mode): identical on every rank without communication, no host
    synchronization, and saved with the ``state_dict``. ``forward(z)`` with
    ``z`` of shape ``(..., N, D)`` returns the mean over the leading batch
    axes of :func:`sigreg` (a scalar).

    A NaN (or infinity) anywhere in a batch is not dropped or checked (that
    would cost a host synchronization every step): the loss is NaN and so is
    every entry of the gradient, on every rank once all-reduced; guard the
    embeddings upstream (e.g. ``torch.nan_to_num`` or skipping the step).

    Parameters
    ----------
    num_slices : int, default 256
        Number K of directions per step.
    t_max, n_points
        Knots ``linspace(0, t_max, n_points)``.
    directions : torch.Tensor, optional
        Fixed ``(D, K)`` directions (kept as a buffer) instead of fresh ones.
    distributed : bool, default True
        All-reduce across ranks when ``torch.distributed`` is initialized.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import SIGReg
    >>> loss_fn = SIGReg(num_slices=128)
    >>> z = torch.randn(512, 16, generator=torch.Generator().manual_seed(0))
    >>> loss = loss_fn(z)
    >>> int(loss_fn.step), loss.shape
    (1, torch.Size([]))
    """

    #: The training steps taken so far: the seed of the next directions.
    step: torch.Tensor

    def __init__(
        self, num_slices: int = 256, t_max: float = 3.0, n_points: int = 17, directions: Array | None = None,
        distributed: bool = True,
    ) -> None:
        super().__init__()
        self.t_max, self.n_points, self.num_slices = check_sigreg_options(
            t_max=t_max, n_points=n_points, num_slices=num_slices
        )
        check_bool(distributed, name="distributed")
        self.distributed = distributed
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("directions", _directions_buffer(directions))

    def forward(self, z: Array) -> Any:
        value = sigreg(
            z, directions=self.directions, num_slices=self.num_slices, seed=self.step,
            t_max=self.t_max, n_points=self.n_points, distributed=self.distributed,
        )
        if self.training:
            with torch.no_grad():
                self.step.add_(1)
        return value.mean()

    def extra_repr(self) -> str:
        return f"num_slices={self.num_slices}, t_max={self.t_max}, n_points={self.n_points}"


class LeJEPALoss(torch.nn.Module):
    r"""The LeJEPA loss (see :func:`lejepa_loss`) with a :class:`SIGReg` inside.

    ``forward(projections)`` with shape ``(V, N, K)`` (views first, the
    first `num_global_views` global) returns ``LeJEPAOutput(loss, sigreg,
    invariance)``; every view is sliced along the same fresh directions.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import LeJEPALoss
    >>> criterion = LeJEPALoss(num_slices=64)
    >>> out = criterion(torch.randn(4, 128, 8, generator=torch.Generator().manual_seed(0)))
    >>> sorted(out._asdict())
    ['invariance', 'loss', 'sigreg']
    """

    def __init__(
        self, num_slices: int = 256, lamb: float = 0.05, num_global_views: int = 2, t_max: float = 3.0,
        n_points: int = 17, distributed: bool = True,
    ) -> None:
        super().__init__()
        self.num_global_views = check_int(num_global_views, name="num_global_views", minimum=1)
        self.lamb = check_lamb(lamb)
        self.sigreg = SIGReg(num_slices=num_slices, t_max=t_max, n_points=n_points, distributed=distributed)

    def forward(self, projections: Array) -> Any:
        num_global_views = check_lejepa_options(
            projections, num_global_views=self.num_global_views, lamb=self.lamb, xp=_xp
        )
        value = self.sigreg(projections)
        return lejepa_combine(
            projections, value, num_global_views=num_global_views, lamb=self.lamb, xp=_xp
        )


def sliced_loss(
    z: Array, *, test: TestName = "epps_pulley", directions: Array | None = None, num_slices: int = 256,
    seed: DeviceSeed = None, null: Null = "standard", distributed: bool = True, **options: Any,
) -> Array:
    r"""Any univariate test's statistic, averaged over random slices, as a differentiable loss.

    .. math::

        L(z) = \frac1K \sum_{k=1}^K T(p_{\cdot k}), \qquad p = z A,

    with :math:`T` the statistic of ``sketchtest.<test>`` (its docstring has
    the convention), or :math:`1 - W` for ``"shapiro_wilk"`` and
    ``"shapiro_francia"`` (W is 1 for a perfect fit): the value equals
    ``getattr(sketchtest, test)(z @ A, axis=-2, null=null, **options).statistic.mean(-1)``.
    ``test="epps_pulley"`` with ``null="standard"`` is SIGReg (:func:`sigreg`).

    Parameters
    ----------
    z : torch.Tensor
        Samples ``(..., N, D)``; leading axes are a batch.
    test : str, default "epps_pulley"
        One of ``"epps_pulley"``, ``"jarque_bera"``, ``"dagostino_pearson"``,
        ``"skewness_test"``, ``"kurtosis_test"`` (sums over samples) and
        ``"cramer_von_mises"``, ``"anderson_darling"``, ``"watson"``,
        ``"kolmogorov_smirnov"``, ``"shapiro_wilk"``, ``"shapiro_francia"``,
        ``"vasicek"`` (sort-based), or any test registered in
        :data:`sketchtest._losses.sliced_loss.LOSS_STATISTICS`.
    directions, num_slices, seed
        As in :func:`sigreg`.
    null : {"standard", "normal"}, default "standard"
        ``"standard"``: distance to N(0, 1) on every slice; ``"normal"``: to
        any Gaussian (the slices are standardized first). The Shapiro tests
        and ``"dagostino_pearson"`` support ``"normal"`` only.
    distributed : bool, default True
        When ``torch.distributed`` is initialized, compute the statistic of
        the batch concatenated over the ranks (every rank holding the same
        N): sum-reducible tests all-reduce their sums over samples, a
        ``(..., S, K)`` tensor (under ``null="normal"`` the global mean and
        standard deviation first); sort-based tests all-gather the
        projections, so each rank holds W x N x K projections (and their
        gradient) for W ranks. The backward passes add up the gradients
        across ranks: with ``DistributedDataParallel``'s averaging the
        parameter gradients equal those of one process on the whole batch.
    **options
        The test's own statistic options: ``t_max`` and ``n_points`` for
        ``"epps_pulley"`` (as in :func:`sigreg`); ``window`` for
        ``"vasicek"`` (the spacing m, a positive integer below N/2; default
        as :func:`sketchtest.vasicek`); no other test takes any.

    Returns
    -------
    torch.Tensor
        Shape ``z.shape[:-2]``; float64 for float64 input, float32 for float32,
        bfloat16 and float16 input (computed with float32 projections and
        accumulation), torch's default floating dtype for integers. A slice
        that is constant (a collapsed batch) gives a large finite value, not
        NaN: every finite batch gives a finite loss and finite gradients
        (ties, outliers, scales from 1e-20 to 1e20 under ``null="normal"``,
        which is computed at unit scale internally; see
        :doc:`/benchmarks/loss_robustness` for the float32 and bfloat16
        gradients' accuracy and the standard null's overflow limits).

    Raises
    ------
    ValueError
        For an unknown `test` (the message lists the supported ones), a
        `null` the test does not support, too few samples, or bad directions.
    TypeError
        For options the test does not accept, or a `z` that is not a real tensor.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import sliced_loss
    >>> z = torch.randn(512, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    >>> loss = sliced_loss(z, test="cramer_von_mises", num_slices=64, seed=0)
    >>> loss.backward()
    >>> z.grad.shape, bool(0.0 < loss < 0.5)
    (torch.Size([512, 16]), True)
    """
    num_slices = check_int(num_slices, name="num_slices", minimum=1)
    entry, options = check_loss_test(test, null, options, num_slices=num_slices)
    compute_dtype = _check_input(z, distributed=distributed)
    check_loss_samples(entry, z.shape[-2], test=test, null=null)
    directions = _resolve_directions(z, directions, num_slices=num_slices, seed=seed, dtype=compute_dtype)
    collectives = _collectives() if distributed and _backend.is_distributed() else Collectives()
    samples = z.to(compute_dtype)
    if null == "normal":  # unit scale, same loss and gradient
        samples = condition_samples(samples, xp=_xp, stop_gradient=torch.Tensor.detach,
                                    reduce_sum=collectives.reduce_sum)
    projections = samples @ directions
    statistics = slice_statistics(projections, entry=entry, null=null, options=options, xp=_xp,
                                  collectives=collectives)
    return torch.mean(statistics, dim=-1)


class SlicedLoss(torch.nn.Module):
    r""":func:`sliced_loss` as an ``nn.Module`` that draws fresh directions every training step.

    Directions come from the ``step`` buffer exactly as in :class:`SIGReg`
    (incremented by every forward pass in training mode; identical on every
    rank without communication). ``forward(z)`` with ``z`` of shape
    ``(..., N, D)`` returns the mean over the leading batch axes of
    :func:`sliced_loss` (a scalar).

    Parameters
    ----------
    test, num_slices, null, distributed, **options
        As in :func:`sliced_loss` (validated here, once).
    directions : torch.Tensor, optional
        Fixed ``(D, K)`` directions (kept as a buffer) instead of fresh ones.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import SlicedLoss
    >>> loss_fn = SlicedLoss(test="anderson_darling", num_slices=32)
    >>> loss = loss_fn(torch.randn(256, 8, generator=torch.Generator().manual_seed(0)))
    >>> int(loss_fn.step), loss.shape
    (1, torch.Size([]))
    """

    #: The training steps taken so far: the seed of the next directions.
    step: torch.Tensor

    def __init__(
        self, test: TestName = "epps_pulley", num_slices: int = 256, null: Null = "standard",
        directions: Array | None = None, distributed: bool = True, **options: Any,
    ) -> None:
        super().__init__()
        self.num_slices = check_int(num_slices, name="num_slices", minimum=1)
        _, self.options = check_loss_test(test, null, options, num_slices=self.num_slices)
        check_bool(distributed, name="distributed")
        self.test, self.null, self.distributed = test, null, distributed
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("directions", _directions_buffer(directions))

    def forward(self, z: Array) -> Any:
        value = sliced_loss(
            z, test=self.test, directions=self.directions, num_slices=self.num_slices, seed=self.step,
            null=self.null, distributed=self.distributed, **self.options,
        )
        if self.training:
            with torch.no_grad():
                self.step.add_(1)
        return value.mean()

    def extra_repr(self) -> str:
        options = "".join(f", {name}={value}" for name, value in self.options.items())
        return f"test={self.test!r}, num_slices={self.num_slices}, null={self.null!r}{options}"


def _collectives():
    """All-reduce and autograd-aware all-gather over the default process group."""
    return Collectives(
        reduce_sum=_backend.all_reduce_sum,
        gather=lambda x: _backend.all_gather(x, dim=-2),
        world_size=torch.distributed.get_world_size(),
    )


def _directions_buffer(directions):
    """Fixed directions as a tensor buffer (``None`` stays ``None``)."""
    if directions is None:
        return None
    directions = torch.as_tensor(directions)
    if directions.ndim != 2:
        raise ValueError(f"`directions` must have shape (D, K); got {tuple(directions.shape)}")
    return directions


def _check_input(z, *, distributed):
    """Validate `z` (a real ``(..., N, D)`` tensor) and `distributed`; return the compute dtype."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"`z` must be a torch.Tensor; got {type(z).__name__}")
    compute_dtype, _ = float_dtypes(z, xp=_xp, name="z")
    check_samples_shape(z)
    check_bool(distributed, name="distributed")
    return compute_dtype


def _check_options(z, *, t_max, n_points, num_slices, distributed):
    """Validate the input and options; return ``(compute_dtype, t_max, n_points, num_slices)``."""
    compute_dtype = _check_input(z, distributed=distributed)
    return (compute_dtype, *check_sigreg_options(t_max=t_max, n_points=n_points, num_slices=num_slices))


def _resolve_directions(z, directions, *, num_slices, seed, dtype):
    """The ``(D, K)`` directions on ``z``'s device in `dtype`."""
    dimension = z.shape[-1]
    if directions is not None:
        if not isinstance(directions, torch.Tensor):
            raise TypeError(f"`directions` must be a torch.Tensor; got {type(directions).__name__}")
        check_directions(directions, dimension, xp=_xp)
        if directions.device != z.device:
            raise ValueError(f"`directions` is on device {directions.device} but `z` is on {z.device}")
        return directions.to(dtype)
    if seed is None:
        gaussian = torch.randn((dimension, num_slices), dtype=dtype, device=z.device)
    else:
        _check_seed(seed)
        gaussian = _backend.counter_normal((dimension, num_slices), seed=seed, dtype=dtype, device=z.device)
    return gaussian / torch.linalg.vector_norm(gaussian, dim=0, keepdim=True)


def _check_seed(seed):
    """Accept an int in [0, 2**63) or a 0-d integer tensor (a step counter).

    A tensor's value is not read: that would synchronize with the device and
    break ``torch.compile``; its 64 bits seed the counter-based generator.
    """
    if isinstance(seed, torch.Tensor):
        if seed.ndim != 0 or seed.is_floating_point() or seed.is_complex() or seed.dtype == torch.bool:
            raise TypeError(
                f"`seed` tensor must be a 0-d integer tensor; got {seed.dtype} of shape {tuple(seed.shape)}"
            )
        return
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "`seed` must be an int in [0, 2**63) or a 0-d integer tensor: these directions are drawn "
            "on the device, not from a numpy.random.Generator"
        )
    check_seed(seed)
