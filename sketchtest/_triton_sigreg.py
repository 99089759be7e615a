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

Triton is an optional dependency, imported on first use. ``sketchtest``
calls these kernels only for CUDA tensors in eager mode (under
``torch.compile`` the compiler fuses the real-valued torch path instead);
with ``TRITON_INTERPRET=1`` set before this module is imported, Triton's
interpreter runs them on CPU tensors, which is how the tests check them.
Written against Triton 3.6 (no newer API).
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["available", "backward_projections", "forward_sums", "supports"]

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


def supports(projections) -> bool:
    """Whether these kernels handle `projections` (float32, bfloat16 or float16)."""
    return projections.dtype in (torch.float32, torch.bfloat16, torch.float16)


@functools.cache
def _kernels():
    """The two jitted kernels (decorated on first use, so Triton loads lazily)."""
    import triton
    import triton.language as tl

    @triton.jit
    def trig_sums_kernel(
        projections, partial_sums, num_samples, num_slices, rows_per_program,
        stride_pb, stride_pn, stride_pk, stride_ob, stride_os, stride_op, stride_ot,
        knot_step, N_POINTS: tl.constexpr, T_PAD: tl.constexpr,
        BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    ):
        block = tl.program_id(0)
        split = tl.program_id(1)
        k_blocks = tl.cdiv(num_slices, BLOCK_K)
        batch = block // k_blocks
        slices = (block % k_blocks) * BLOCK_K + tl.arange(0, BLOCK_K)
        slice_mask = slices < num_slices
        knots = tl.arange(0, T_PAD)[:, None]
        cos_total = tl.zeros((T_PAD, BLOCK_K), dtype=tl.float32)
        sin_total = tl.zeros((T_PAD, BLOCK_K), dtype=tl.float32)
        first_row = split * rows_per_program
        last_row = tl.minimum(first_row + rows_per_program, num_samples)
        base = projections + batch * stride_pb + slices[None, :] * stride_pk
        for start in range(first_row, last_row, BLOCK_N):
            rows = start + tl.arange(0, BLOCK_N)
            mask = (rows < last_row)[:, None] & slice_mask[None, :]
            p = tl.load(base + rows[:, None] * stride_pn, mask=mask, other=0.0).to(tl.float32)
            cos_step = tl.cos(p * knot_step)
            sin_step = tl.sin(p * knot_step)
            cos_j = tl.where(mask, 1.0, 0.0)  # padded rows stay 0 under the rotation
            sin_j = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
            for j in tl.static_range(N_POINTS):
                if j > 0:
                    cos_next = cos_j * cos_step - sin_j * sin_step
                    sin_j = sin_j * cos_step + cos_j * sin_step
                    cos_j = cos_next
                cos_total += tl.where(knots == j, tl.sum(cos_j, axis=0)[None, :], 0.0)
                sin_total += tl.where(knots == j, tl.sum(sin_j, axis=0)[None, :], 0.0)
        out = partial_sums + batch * stride_ob + split * stride_os + knots * stride_ot + slices[None, :]
        out_mask = (knots < N_POINTS) & slice_mask[None, :]
        tl.store(out, cos_total, mask=out_mask)
        tl.store(out + stride_op, sin_total, mask=out_mask)

    @triton.jit
    def trig_gradient_kernel(
        projections, coefficients, gradient, num_samples, num_slices, rows_per_program,
        stride_pb, stride_pn, stride_pk, stride_cb, stride_cp, stride_ct, stride_gb, stride_gn,
        knot_step, N_POINTS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    ):
        block = tl.program_id(0)
        split = tl.program_id(1)
        k_blocks = tl.cdiv(num_slices, BLOCK_K)
        batch = block // k_blocks
        slices = (block % k_blocks) * BLOCK_K + tl.arange(0, BLOCK_K)
        slice_mask = slices < num_slices
        first_row = split * rows_per_program
        last_row = tl.minimum(first_row + rows_per_program, num_samples)
        base = projections + batch * stride_pb + slices[None, :] * stride_pk
        coefficient_base = coefficients + batch * stride_cb + slices
        for start in range(first_row, last_row, BLOCK_N):
            rows = start + tl.arange(0, BLOCK_N)
            mask = (rows < last_row)[:, None] & slice_mask[None, :]
            p = tl.load(base + rows[:, None] * stride_pn, mask=mask, other=0.0).to(tl.float32)
            cos_step = tl.cos(p * knot_step)
            sin_step = tl.sin(p * knot_step)
            real = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
            imag = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
            for i in tl.static_range(N_POINTS):  # Horner, highest knot first
                j = N_POINTS - 1 - i
                if i > 0:
                    real_next = real * cos_step - imag * sin_step
                    imag = real * sin_step + imag * cos_step
                    real = real_next
                real += tl.load(coefficient_base + j * stride_ct, mask=slice_mask, other=0.0)[None, :]
                imag += tl.load(coefficient_base + stride_cp + j * stride_ct, mask=slice_mask, other=0.0)[None, :]
            out = gradient + batch * stride_gb + rows[:, None] * stride_gn + slices[None, :]
            tl.store(out, real.to(gradient.dtype.element_ty), mask=mask)

    return trig_sums_kernel, trig_gradient_kernel


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
    block_n, block_k, num_warps = config or CONFIG["forward"]
    trig_sums_kernel, _ = _kernels()
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
    sums = partial.sum(dim=1).reshape(*projections.shape[:-2], 2, n_points, num_slices)
    return sums[..., 0, :, :], sums[..., 1, :, :]


def backward_projections(projections, cos_grad, sin_grad, knot_step: float, n_points: int, *, config=None):
    """Gradient of the sums with respect to `projections`, in the projections' dtype.

    `config` is ``(BLOCK_N, BLOCK_K, num_warps)``, ``CONFIG["backward"]`` by default.
    """
    block_n, block_k, num_warps = config or CONFIG["backward"]
    _, trig_gradient_kernel = _kernels()
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
