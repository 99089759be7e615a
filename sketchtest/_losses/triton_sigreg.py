r"""Fused Triton kernels for SIGReg's trigonometric sums and their gradient.

Two kernels, each reading the ``(B, N, K)`` projections once:

* forward: for every slice k and knot :math:`t_j = j h`, the sums over
  samples :math:`C_{jk} = \sum_n \cos(t_j p_{nk})` and
  :math:`S_{jk} = \sum_n \sin(t_j p_{nk})`;
* backward: :math:`\partial L / \partial p_{nk} = \sum_j t_j\,[\bar S_{jk}
  \cos(t_j p_{nk}) - \bar C_{jk} \sin(t_j p_{nk})]` from the ``(T, K)``
  cotangents :math:`\bar C, \bar S` of the sums.

Both evaluate one cosine and one sine of :math:`h p` per element and reach
the other knots by the angle-addition recurrence (forward: powers of the
phasor :math:`e^{ihp}`; backward: Horner's rule on
:math:`\mathrm{Re}\sum_j c_j e^{ijhp}`), exactly as the eager torch path of
``sketchtest_backends.torch`` does; bfloat16 and float16 inputs are upcast
on load, and everything is computed and accumulated in float32 (DESIGN.md:
the sums must never be rounded to bfloat16). The forward kernel splits the
samples among programs and writes one float32 partial sum per split, which
torch then adds up: deterministic, no atomics.

A third kernel draws the SIGReg module's Gaussian directions
(:func:`counter_normal`) in one launch instead of some fifty eager ones.

Triton is an optional dependency, imported on first use. ``sketchtest``
calls these kernels only for CUDA tensors, through the custom operators
``sketchtest::trig_sums`` and ``sketchtest::trig_sums_backward``
(``sketchtest_backends.torch``), which ``torch.compile`` graphs keep as
calls, so compiled and eager code reach the same kernels; with ``TRITON_INTERPRET=1`` set before this module is imported, Triton's
interpreter runs them on CPU tensors, which is how the tests check them.
Written against Triton 3.6 (no newer API). Indices are 32-bit: projections
of 2**31 elements or more keep the torch path.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["available", "backward_projections", "counter_normal", "forward_sums", "stacked_sums", "supports"]

# (BLOCK_N, BLOCK_K, num_warps) of each kernel; benchmarks/gpu/sigreg_gpu.py times alternatives.
CONFIG = {"forward": (64, 64, 4), "backward": (64, 64, 4)}
_PROGRAMS_PER_SM = 4


@functools.cache
def available() -> bool:
    """Whether Triton can be imported."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def supports(dtype) -> bool:
    """Whether these kernels handle tensors of `dtype` (float32, bfloat16 or float16)."""
    return dtype in (torch.float32, torch.bfloat16, torch.float16)


@functools.cache
def _kernels():
    """The three jitted kernels (their module imports Triton on first use)."""
    from sketchtest._losses import triton_kernels as _triton_kernels

    return (_triton_kernels.trig_sums_kernel, _triton_kernels.trig_gradient_kernel,
            _triton_kernels.counter_normal_kernel)


def _as_batched(projections):
    """``(..., N, K)`` as a ``(B, N, K)`` view (a copy only if the batch axes cannot merge)."""
    num_samples, num_slices = projections.shape[-2], projections.shape[-1]
    return projections.reshape(-1, num_samples, num_slices)


def _programs_along_samples(num_samples, other_programs, device, block_n):
    """How many programs share the samples of one block of slices, and rows for each."""
    if device.type == "cuda":
        target = _PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    else:  # the interpreter: still split, so that the partial sums are exercised
        target = 2 * other_programs
    tiles = math.ceil(num_samples / block_n)
    splits = max(1, min(tiles, math.ceil(target / max(1, other_programs))))
    rows = math.ceil(tiles / splits) * block_n
    return math.ceil(num_samples / rows), rows


def forward_sums(projections, knot_step: float, n_points: int, *, config=None):
    """Float32 sums over axis -2 of ``cos(j h p)`` and ``sin(j h p)``, two ``(..., T, K)`` tensors.

    `config` is ``(BLOCK_N, BLOCK_K, num_warps)`` (powers of two), ``CONFIG["forward"]`` by default.
    """
    sums = stacked_sums(projections, knot_step, n_points, config=config)
    return sums[..., 0, :, :], sums[..., 1, :, :]


def stacked_sums(projections, knot_step: float, n_points: int, *, config=None):
    """:func:`forward_sums` as one fresh ``(..., 2, T, K)`` float32 tensor: cosine sums, then sine sums."""
    block_n, block_k, num_warps = config or CONFIG["forward"]
    trig_sums_kernel, _, _ = _kernels()
    batched = _as_batched(projections)
    batch, num_samples, num_slices = batched.shape
    k_blocks = math.ceil(num_slices / block_k)
    splits, rows = _programs_along_samples(num_samples, batch * k_blocks, batched.device, block_n)
    partial = torch.empty((batch, splits, 2, n_points, num_slices), dtype=torch.float32, device=batched.device)
    trig_sums_kernel[(batch * k_blocks, splits)](
        batched, partial, num_samples, num_slices, rows,
        *batched.stride(), *partial.stride()[:4], float(knot_step),
        N_POINTS=n_points, T_PAD=max(2, 1 << (n_points - 1).bit_length()), BLOCK_N=block_n, BLOCK_K=block_k,
        num_warps=num_warps,
    )
    return partial.sum(dim=1).reshape(*projections.shape[:-2], 2, n_points, num_slices)


def backward_projections(projections, cos_grad, sin_grad, knot_step: float, n_points: int, *, config=None):
    """Gradient of the sums with respect to `projections`, in the projections' dtype.

    `config` is ``(BLOCK_N, BLOCK_K, num_warps)``, ``CONFIG["backward"]`` by default.
    """
    block_n, block_k, num_warps = config or CONFIG["backward"]
    _, trig_gradient_kernel, _ = _kernels()
    batched = _as_batched(projections)
    batch, num_samples, num_slices = batched.shape
    knots = torch.arange(n_points, dtype=torch.float32, device=batched.device) * float(knot_step)
    coefficients = torch.stack(  # c_j = t_j (sin_grad_j + i cos_grad_j), real and imaginary parts
        [sin_grad.to(torch.float32) * knots[:, None], cos_grad.to(torch.float32) * knots[:, None]], dim=-3
    ).reshape(batch, 2, n_points, num_slices).contiguous()
    gradient = torch.empty((batch, num_samples, num_slices), dtype=batched.dtype, device=batched.device)
    k_blocks = math.ceil(num_slices / block_k)
    splits, rows = _programs_along_samples(num_samples, batch * k_blocks, batched.device, block_n)
    trig_gradient_kernel[(batch * k_blocks, splits)](
        batched, coefficients, gradient, num_samples, num_slices, rows,
        *batched.stride(), *coefficients.stride()[:3], *gradient.stride()[:2], float(knot_step),
        N_POINTS=n_points, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=num_warps,
    )
    return gradient.reshape(projections.shape)


def counter_normal(shape, seed, dtype, *, block=1024):
    """:func:`sketchtest_backends.torch.counter_normal` in one kernel launch.

    The same integer hashes of (seed, pair index), bit for bit; the Box-Muller
    transform in float32 (its logarithm, cosine and sine are Triton's, so the
    draws agree with the torch version to a few units in the last place).
    `seed` is a 0-d integer tensor on the device of the draws.
    """
    _, _, counter_normal_kernel = _kernels()
    count = math.prod(int(size) for size in shape)
    draws = torch.empty(count, dtype=dtype, device=seed.device)
    num_pairs = (count + 1) // 2
    counter_normal_kernel[(max(1, math.ceil(num_pairs / block)),)](seed, draws, count, BLOCK=block)
    return draws.reshape(tuple(shape))
