"""The Triton kernels of :mod:`sketchtest._losses.triton_sigreg` (imports Triton: load it lazily).

Kept apart so that Triton resolves the helper ``mix32`` as a module global,
and so that importing ``sketchtest._losses.triton_sigreg`` never imports Triton.
"""

import triton
import triton.language as tl


@triton.jit
def _slice_block(num_slices, BLOCK_K: tl.constexpr):
    """The batch element and the block of slices of this program (axis 0 of the grid), with their mask."""
    block = tl.program_id(0)
    k_blocks = tl.cdiv(num_slices, BLOCK_K)
    slices = (block % k_blocks) * BLOCK_K + tl.arange(0, BLOCK_K)
    return block // k_blocks, slices, slices < num_slices


@triton.jit
def trig_sums_kernel(
    projections, partial_sums, num_samples, num_slices, rows_per_program,
    stride_pb, stride_pn, stride_pk, stride_ob, stride_os, stride_op, stride_ot,
    knot_step, N_POINTS: tl.constexpr, T_PAD: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    batch, slices, slice_mask = _slice_block(num_slices, BLOCK_K)
    split = tl.program_id(1)
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
    batch, slices, slice_mask = _slice_block(num_slices, BLOCK_K)
    split = tl.program_id(1)
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


@triton.jit
def mix32(x):  # sketchtest_backends.torch._mix32, in the same int64 arithmetic
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x = x ^ (x >> 16)
    x = (x * 0x5BD1E995) & 0xFFFFFFFF
    x = x ^ (x >> 16)
    x = (x * 0x27D4EB2F) & 0xFFFFFFFF
    return x ^ (x >> 15)


@triton.jit
def counter_normal_kernel(seed, draws, count, BLOCK: tl.constexpr):
    value = tl.load(seed).to(tl.int64)
    key = mix32((value & 0xFFFFFFFF) ^ 0x3C6EF372) ^ mix32(((value >> 32) & 0xFFFFFFFF) ^ 0x1B873593)
    second_key = mix32(key ^ 0x5851F42D)
    pair = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    first = mix32(mix32(pair) ^ key)
    second = mix32(first ^ second_key)
    uniform_open = ((first >> 8) + 1).to(tl.float32) * 5.9604644775390625e-08  # 2**-24: (0, 1]
    angle = (second >> 8).to(tl.float32) * 3.7450702829239286e-07  # 2 pi 2**-24
    radius = tl.sqrt(-2.0 * tl.log(uniform_open))
    tl.store(draws + 2 * pair, (radius * tl.cos(angle)).to(draws.dtype.element_ty), mask=2 * pair < count)
    tl.store(draws + 2 * pair + 1, (radius * tl.sin(angle)).to(draws.dtype.element_ty), mask=2 * pair + 1 < count)
