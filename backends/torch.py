"""PyTorch adapter: ``torch.special`` and device generators.

``torch.special`` lacks bfloat16 and float16 kernels on some devices, so
those inputs are computed in float32 and cast back.
"""

from __future__ import annotations

import torch

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum", "all_gather", "is_distributed"]

_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _in_float32(function, x):
    if x.dtype in _LOW_PRECISION:
        return function(x.to(torch.float32)).to(x.dtype)
    return function(x)


def _ndtr_by_erfc(x):
    return 0.5 * torch.special.erfc(x * -0.7071067811865476)


def ndtr(x):
    """Standard normal CDF, as ``erfc(-x / sqrt 2) / 2``.

    ``torch.special.ndtr`` loses the lower tail in float32 (4% off at
    x = -5.6, 0 below x = -6, where the p-value is 1e-9); ``erfc`` keeps its
    relative accuracy down to the smallest normal float32 (x = -13).
    """
    return _in_float32(_ndtr_by_erfc, x)


def log_ndtr(x):
    """Logarithm of the standard normal CDF."""
    return _in_float32(torch.special.log_ndtr, x)


def ndtri(p):
    """Inverse of the standard normal CDF."""
    return _in_float32(torch.special.ndtri, p)


def standard_normal(shape, *, seed, dtype, device=None):
    """Standard normal draws from a ``torch.Generator`` on `device` seeded with `seed`."""
    device = torch.device("cpu") if device is None else torch.device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group is initialized."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class _AllReduceSum(torch.autograd.Function):
    """Sum of every rank's tensor (same shape on all ranks); autograd-aware.

    Built on the public ``torch.distributed.all_reduce`` (in place on a
    copy, so the input is untouched). Every rank computes the same loss from
    the sum, so the gradient of a rank's input is the sum over ranks of the
    gradients of the sum: the backward pass all-reduces the gradient too.
    """

    @staticmethod
    def forward(x):
        total = x.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
        return total

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, gradient):
        gradient = gradient.clone(memory_format=torch.contiguous_format)  # reduced in place
        torch.distributed.all_reduce(gradient, op=torch.distributed.ReduceOp.SUM)
        return gradient


def all_reduce_sum(x):
    """Autograd-aware sum over the default process group; the identity otherwise.

    The backward pass all-reduces the gradient (every rank's loss depends on
    every rank's input through the sum), so ``DistributedDataParallel``'s
    averaging yields the gradient of one process on the concatenated batch.
    Only public ``torch.distributed`` calls: no deprecation warning.
    """
    if not is_distributed():
        return x
    return _AllReduceSum.apply(x)


class _AllGather(torch.autograd.Function):
    """Concatenation of every rank's tensor along `dim`, in rank order; autograd-aware.

    The backward pass all-reduces (sums) the gradient of the whole
    concatenation, which every rank computes from the same loss, and keeps
    this rank's block: only ``all_gather`` and ``all_reduce``, so it runs on
    gloo (which lacks ``reduce_scatter``) as on NCCL.
    """

    @staticmethod
    def forward(x, dim):
        blocks = [torch.empty_like(x) for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather(blocks, x.contiguous())
        return torch.cat(blocks, dim=dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim = inputs
        ctx.dim, ctx.length = dim, x.shape[dim]

    @staticmethod
    def backward(ctx, gradient):
        gradient = gradient.clone(memory_format=torch.contiguous_format)  # reduced in place
        torch.distributed.all_reduce(gradient, op=torch.distributed.ReduceOp.SUM)
        start = torch.distributed.get_rank() * ctx.length
        return gradient.narrow(ctx.dim, start, ctx.length), None


def all_gather(x, *, dim: int):
    """Every rank's `x` concatenated along `dim` (same shapes on all ranks); the identity otherwise.

    Differentiable: the gradient of a rank's block is the sum over ranks of
    the gradients of that block, so DDP's averaging yields the gradient of
    the single-process loss on the concatenated batch. Memory: world size
    times `x` for the result and again for its gradient.
    """
    if not is_distributed():
        return x
    return _AllGather.apply(x, dim)


# --------------------------------------------------------------------------
# SIGReg glue: the memory-lean trigonometric sums and a counter-based
# Gaussian generator (stateless, seeded by a device tensor).
# --------------------------------------------------------------------------

_SLICE_CHUNK_ELEMENTS = 1 << 16  # 512 KiB of complex64 per temporary: stays in a CPU's L2
_SLICE_CHUNK_ELEMENTS_ACCELERATOR = 1 << 24  # fewer kernel launches on GPUs


def _slice_chunks(num_samples: int, num_slices: int, device=None):
    """Ranges of slices processed together (bounded temporaries)."""
    on_cpu = device is None or torch.device(device).type == "cpu"
    elements = _SLICE_CHUNK_ELEMENTS if on_cpu else _SLICE_CHUNK_ELEMENTS_ACCELERATOR
    width = max(1, min(num_slices, elements // max(1, num_samples)))
    return [(start, min(start + width, num_slices)) for start in range(0, num_slices, width)]


def _accumulation_dtype(dtype):
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def _unit_phasors(projections, start, stop, knot_step):
    """``exp(i h p)`` for slices ``start:stop``, samples last: shape (..., stop - start, N)."""
    compute = _accumulation_dtype(projections.dtype)
    angle = projections[..., start:stop].transpose(-1, -2).to(compute) * knot_step
    return torch.polar(torch.ones_like(angle), angle)


def _triton_kernels(device, dtype, numel=0):
    """The fused Triton kernels (``sketchtest._losses.triton_sigreg``) for CUDA tensors, else None.

    Used for float32, bfloat16 and float16 tensors on CUDA when Triton is
    installed; float64, CPU tensors and tensors of 2**31 elements or more (the
    kernels index in 32 bits) keep the torch path. ``torch.compile`` reaches
    the kernels through the custom operators below.
    """
    if torch.device(device).type != "cuda" or numel >= 2**31:
        return None
    from sketchtest._losses import triton_sigreg as _triton_sigreg
    if not (_triton_sigreg.supports(dtype) and _triton_sigreg.available()):
        return None
    return _triton_sigreg


def _forward_sums(projections, knot_step: float, n_points: int):
    """Sums over samples of cos and sin of ``t_j * projections``, shape (..., T, K).

    ``exp(i t_j p) = exp(i h p)^j`` (angle addition): one complex
    multiplication per knot replaces two trigonometric evaluations.
    """
    if torch.compiler.is_compiling():
        return _forward_sums_real(projections, knot_step, n_points)
    if (kernels := _triton_kernels(projections.device, projections.dtype, projections.numel())) is not None:
        return kernels.forward_sums(projections, knot_step, n_points)
    num_samples, num_slices = projections.shape[-2], projections.shape[-1]
    compute = _accumulation_dtype(projections.dtype)
    complex_dtype = torch.complex128 if compute == torch.float64 else torch.complex64
    sums = torch.empty((*projections.shape[:-2], n_points, num_slices), dtype=complex_dtype,
                       device=projections.device)
    sums[..., 0, :] = num_samples
    for start, stop in _slice_chunks(num_samples, num_slices, projections.device):
        step = _unit_phasors(projections, start, stop, knot_step)
        power = step.clone()
        for j in range(1, n_points):
            sums[..., j, start:stop] = power.sum(dim=-1)
            if j < n_points - 1:
                power.mul_(step)
    return sums.real.contiguous(), sums.imag.contiguous()


def _backward_projections(projections, cos_grad, sin_grad, knot_step: float, n_points: int):
    """Gradient of the sums with respect to the projections, recomputing the phasors.

    ``d/dp [sum_n cos(t p_n)] = -t sin(t p)`` and ``d/dp [sum_n sin(t p_n)] =
    t cos(t p)``, so the gradient is ``Re sum_j c_j exp(i h p)^j`` with
    ``c_j = t_j (sin_grad_j + i cos_grad_j)``: a polynomial evaluated by Horner's rule.
    """
    if torch.compiler.is_compiling():
        return _backward_projections_real(projections, cos_grad, sin_grad, knot_step, n_points)
    if (kernels := _triton_kernels(projections.device, projections.dtype, projections.numel())) is not None:
        return kernels.backward_projections(projections, cos_grad, sin_grad, knot_step, n_points)
    num_samples, num_slices = projections.shape[-2], projections.shape[-1]
    compute = _accumulation_dtype(projections.dtype)
    knots = torch.arange(n_points, dtype=compute, device=projections.device) * knot_step
    coefficients = torch.complex(sin_grad.to(compute), cos_grad.to(compute)) * knots[:, None]
    gradient = torch.empty((*projections.shape[:-2], num_slices, num_samples), dtype=compute,
                           device=projections.device)
    for start, stop in _slice_chunks(num_samples, num_slices, projections.device):
        step = _unit_phasors(projections, start, stop, knot_step)
        chunk = coefficients[..., :, start:stop, None]  # (..., T, width, 1)
        total = chunk[..., n_points - 1, :, :].expand_as(step).clone()
        for j in range(n_points - 2, -1, -1):
            total.mul_(step).add_(chunk[..., j, :, :])
        gradient[..., start:stop, :] = total.real
    return gradient.transpose(-1, -2).to(projections.dtype)


def _forward_sums_real(projections, knot_step, n_points):
    """Real-valued rotation of (cos, sin), for ``torch.compile`` (fused by the compiler)."""
    angle = projections.to(_accumulation_dtype(projections.dtype)) * knot_step
    cos_step, sin_step = torch.cos(angle), torch.sin(angle)
    cos_j, sin_j = torch.ones_like(angle), torch.zeros_like(angle)
    cos_rows, sin_rows = [], []
    for j in range(n_points):
        if j > 0:
            cos_j, sin_j = cos_j * cos_step - sin_j * sin_step, sin_j * cos_step + cos_j * sin_step
        cos_rows.append(cos_j.sum(dim=-2))
        sin_rows.append(sin_j.sum(dim=-2))
    return torch.stack(cos_rows, dim=-2), torch.stack(sin_rows, dim=-2)


def _backward_projections_real(projections, cos_grad, sin_grad, knot_step, n_points):
    compute = _accumulation_dtype(projections.dtype)
    angle = projections.to(compute) * knot_step
    cos_step, sin_step = torch.cos(angle), torch.sin(angle)
    cos_j, sin_j = cos_step, sin_step
    gradient = torch.zeros_like(angle)
    for j in range(1, n_points):
        if j > 1:
            cos_j, sin_j = cos_j * cos_step - sin_j * sin_step, sin_j * cos_step + cos_j * sin_step
        t_j = j * knot_step
        on_cos = t_j * sin_grad[..., j : j + 1, :].to(compute)
        on_sin = -t_j * cos_grad[..., j : j + 1, :].to(compute)
        gradient = gradient + on_cos * cos_j + on_sin * sin_j
    return gradient.to(projections.dtype)


class _TrigSums(torch.autograd.Function):
    """``projections (..., N, K) -> (cos_sums, sin_sums)`` of shape (..., T, K).

    Saves only the projections; the backward pass recomputes the
    trigonometric terms chunk by chunk, so its peak memory stays near the
    size of the projections instead of the ``(..., N, K, T)`` angles.
    """

    @staticmethod
    def forward(projections, knot_step, n_points):
        return _forward_sums(projections, knot_step, n_points)

    @staticmethod
    def setup_context(ctx, inputs, output):
        projections, knot_step, n_points = inputs
        ctx.save_for_backward(projections)
        ctx.knot_step, ctx.n_points = knot_step, n_points

    @staticmethod
    def backward(ctx, cos_grad, sin_grad):
        (projections,) = ctx.saved_tensors
        if cos_grad is None:
            cos_grad = torch.zeros_like(sin_grad)
        if sin_grad is None:
            sin_grad = torch.zeros_like(cos_grad)
        gradient = _backward_projections(projections, cos_grad, sin_grad, ctx.knot_step, ctx.n_points)
        return gradient, None, None


def trig_sums(projections, *, knot_step: float, n_points: int):
    """Sums over axis -2 of ``cos(t_j p)`` and ``sin(t_j p)``, ``t_j = j * knot_step``.

    Returns two tensors of shape ``(..., n_points, K)`` in float32 for
    bfloat16/float16 projections (their own dtype otherwise), differentiable
    with a memory-lean backward pass. Where the Triton kernels apply, eager
    and ``torch.compile`` code alike call them through the custom operator
    ``sketchtest::trig_sums``; elsewhere compiled code fuses the torch path.
    """
    if _reaches_kernels(projections):
        sums = torch.ops.sketchtest.trig_sums(projections, float(knot_step), int(n_points))
        return sums[..., 0, :, :], sums[..., 1, :, :]
    return _TrigSums.apply(projections, float(knot_step), int(n_points))


def _reaches_kernels(projections) -> bool:
    """Whether `projections` go to the fused kernels (CUDA, Triton installed, a dtype they handle)."""
    return _triton_kernels(projections.device, projections.dtype, projections.numel()) is not None


# The kernels as custom operators: torch.compile keeps them as opaque calls in its
# graphs (their fake implementations give the shapes), so compiled code reaches
# them too. Each runs the torch path where the kernels do not apply (CPU tensors,
# float64, no Triton): opcheck and the CPU tests use that.


@torch.library.custom_op("sketchtest::trig_sums", mutates_args=())
def _trig_sums_op(projections: torch.Tensor, knot_step: float, n_points: int) -> torch.Tensor:
    """Cosine and sine sums stacked, ``(..., 2, n_points, K)``, by the kernels or the torch path."""
    if (kernels := _triton_kernels(projections.device, projections.dtype, projections.numel())) is not None:
        return kernels.stacked_sums(projections, knot_step, n_points)
    return torch.stack(_forward_sums(projections, knot_step, n_points), dim=-3)


@_trig_sums_op.register_fake
def _(projections, knot_step, n_points):
    shape = (*projections.shape[:-2], 2, n_points, projections.shape[-1])
    return projections.new_empty(shape, dtype=_accumulation_dtype(projections.dtype))


@torch.library.custom_op("sketchtest::trig_sums_backward", mutates_args=())
def _trig_sums_backward_op(
    projections: torch.Tensor, sums_grad: torch.Tensor, knot_step: float, n_points: int
) -> torch.Tensor:
    """Gradient with respect to `projections` from the cotangent of the stacked sums."""
    cos_grad, sin_grad = sums_grad[..., 0, :, :], sums_grad[..., 1, :, :]
    return _backward_projections(projections, cos_grad, sin_grad, knot_step, n_points).contiguous()


@_trig_sums_backward_op.register_fake
def _(projections, sums_grad, knot_step, n_points):
    return projections.new_empty(projections.shape)


def _trig_sums_setup_context(ctx, inputs, output):
    projections, knot_step, n_points = inputs
    ctx.save_for_backward(projections)
    ctx.knot_step, ctx.n_points = knot_step, n_points


def _trig_sums_op_backward(ctx, sums_grad):
    (projections,) = ctx.saved_tensors
    gradient = torch.ops.sketchtest.trig_sums_backward(projections, sums_grad, ctx.knot_step, ctx.n_points)
    return gradient, None, None


_trig_sums_op.register_autograd(_trig_sums_op_backward, setup_context=_trig_sums_setup_context)


_MASK32 = 0xFFFFFFFF
_MULTIPLIERS = (0x7FEB352D, 0x5BD1E995, 0x27D4EB2F)  # odd and < 2**31: products fit in int64


def _mix32(x):
    """An integer hash of 32-bit values held in int64 (xor-shift-multiply rounds), in place."""
    for multiplier in _MULTIPLIERS:
        x ^= x >> 16
        x.mul_(multiplier).bitwise_and_(_MASK32)
    x ^= x >> 15
    return x


_PAIRS_PER_CHUNK = 1 << 14  # eager CPU: each int64 temporary (128 KiB) stays in cache


def _gaussian_pairs(pair_index, key, second_key, out):
    """Two standard normal draws per pair index into `out` (n, 2): Box-Muller's cos and sin branches.

    The first uniform hashes the pair index with `key`, the second hashes the
    first with `second_key`: three 32-bit hashes per two draws. With `out`
    None (under ``torch.compile``) the pairs are returned stacked instead.
    """
    first = _mix32(_mix32(pair_index) ^ key)
    second = _mix32(first ^ second_key)
    dtype = torch.float32 if out is None else out.dtype
    scale = 2.0**-24
    uniform_open = ((first >> 8) + 1).to(dtype) * scale  # (0, 1]
    angle = (second >> 8).to(dtype) * (2.0 * torch.pi * scale)
    radius = torch.sqrt(-2.0 * torch.log(uniform_open))
    if out is None:
        return torch.stack((radius * torch.cos(angle), radius * torch.sin(angle)), dim=-1)
    torch.mul(radius, torch.cos(angle), out=out[:, 0])
    torch.mul(radius, torch.sin(angle), out=out[:, 1])
    return out


def counter_normal(shape, *, seed, dtype=torch.float32, device=None):
    """Standard normal draws that depend only on `seed` and the position.

    `seed` is a Python int or an integer tensor (a step counter kept on the
    device, say): no host synchronization, no generator state, traceable by
    ``torch.compile``; every process and device draws the same numbers.
    Draws ``2m`` and ``2m + 1`` are the two outputs of the Box-Muller
    transform of pair m, whose two uniforms come from 32-bit hashes of
    (seed, m); the draws of a shape are a prefix of those of a larger one.
    Eager CPU calls work through the pairs in cache-sized chunks; eager CUDA
    calls use one Triton kernel when Triton is installed.
    """
    count = 1
    for size in shape:
        count *= int(size)
    seed = torch.as_tensor(seed, dtype=torch.int64, device=device) if not torch.is_tensor(seed) else seed
    seed = seed.to(device=device, dtype=torch.int64)
    if not torch.compiler.is_compiling() and (kernels := _triton_kernels(seed.device, dtype)) is not None:
        return kernels.counter_normal(shape, seed, dtype)
    key = _mix32((seed & _MASK32) ^ 0x3C6EF372) ^ _mix32(((seed >> 32) & _MASK32) ^ 0x1B873593)
    second_key = _mix32(key ^ 0x5851F42D)
    num_pairs = max(1, (count + 1) // 2)
    if torch.compiler.is_compiling():
        index = torch.arange(num_pairs, dtype=torch.int64, device=device)
        draws = _gaussian_pairs(index, key, second_key, None)
    else:
        compute = torch.float64 if dtype == torch.float64 else torch.float32
        draws = torch.empty((num_pairs, 2), dtype=compute, device=device)
        on_cpu = draws.device.type == "cpu"
        chunk = _PAIRS_PER_CHUNK if on_cpu else num_pairs
        for start in range(0, num_pairs, chunk):
            stop = min(start + chunk, num_pairs)
            index = torch.arange(start, stop, dtype=torch.int64, device=device)
            _gaussian_pairs(index, key, second_key, draws[start:stop])
    return draws.reshape(-1)[:count].reshape(tuple(shape)).to(dtype)
