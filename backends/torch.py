"""PyTorch adapter: ``torch.special`` and device generators.

``torch.special`` lacks bfloat16 and float16 kernels on some devices, so
those inputs are computed in float32 and cast back.
"""

from __future__ import annotations

import torch

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum", "is_distributed"]

_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _in_float32(function, x):
    if x.dtype in _LOW_PRECISION:
        return function(x.to(torch.float32)).to(x.dtype)
    return function(x)


def ndtr(x):
    """Standard normal CDF."""
    return _in_float32(torch.special.ndtr, x)


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


def all_reduce_sum(x):
    """Autograd-aware sum over the default process group; the identity otherwise.

    ``torch.distributed.nn.functional.all_reduce`` returns a new tensor (its
    result must be used) whose backward pass all-reduces the gradient.
    """
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x, op=torch.distributed.ReduceOp.SUM)
