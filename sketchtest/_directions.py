"""Random unit directions for sliced tests, drawn on the host from a seed.

Directions are drawn with NumPy from ``seed`` (an int or a NumPy Generator),
so every backend and device sees the same numbers, then moved once to the
caller's device. A direction matrix has shape ``(D, K)``: one unit column per
slice.
"""

from __future__ import annotations

import numpy as np

from sketchtest._compat import array_namespace, device as device_of, host_constant
from sketchtest._validation import check_bool, check_int, check_seed

__all__ = ["draw_directions", "directions_for"]


def draw_directions(dim, num_slices, *, seed=None, orthogonal=False) -> np.ndarray:
    r"""Draw `num_slices` unit directions in dimension `dim` on the host.

    Gaussian directions are :math:`a_k = g_k / \lVert g_k \rVert` with
    :math:`g_k \sim N(0, I_D)`, uniform on the sphere. With
    ``orthogonal=True`` the columns come in blocks of :math:`\min(D, K)`
    orthonormal vectors (the Q factor of a Gaussian matrix, signs fixed so
    that it is Haar distributed), each block drawn independently.

    Parameters
    ----------
    dim : int
        Dimension D of the samples (at least 1).
    num_slices : int
        Number K of directions (at least 1).
    seed : int or numpy.random.Generator, optional
        Source of randomness; ``None`` draws fresh entropy.
    orthogonal : bool, default False
        Draw orthonormal blocks instead of independent directions.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(dim, num_slices)`` with unit columns.

    Examples
    --------
    >>> from sketchtest._directions import draw_directions
    >>> a = draw_directions(3, 5, seed=0)
    >>> a.shape
    (3, 5)
    >>> bool(abs((a * a).sum(axis=0) - 1).max() < 1e-12)
    True
    """
    dim = check_int(dim, name="D (the last axis of x)", minimum=1)
    num_slices = check_int(num_slices, name="num_slices", minimum=1)
    check_seed(seed)
    check_bool(orthogonal, name="orthogonal")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if not orthogonal:
        gaussian = rng.standard_normal((dim, num_slices))
        return gaussian / np.linalg.norm(gaussian, axis=0, keepdims=True)
    blocks, remaining = [], num_slices
    while remaining > 0:
        width = min(dim, remaining)
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))  # Haar measure (Mezzadri 2007)
        blocks.append(q[:, :width])
        remaining -= width
    return np.concatenate(blocks, axis=1)


@host_constant(maxsize=64)
def _seeded_directions(dim, num_slices, seed, orthogonal):
    """:func:`draw_directions` from an integer seed as a flat tuple of floats (cached)."""
    return tuple(draw_directions(dim, num_slices, seed=seed, orthogonal=orthogonal).ravel().tolist())


def _torch_is_compiling() -> bool:
    from sketchtest._univariate import torch_is_compiling

    return torch_is_compiling()


def directions_for(x, *, xp, dtype, num_slices, seed, directions, orthogonal):
    """The ``(D, K)`` directions for samples `x` of shape ``(..., N, D)``.

    Injected `directions` are checked and cast to `dtype` on `x`'s device;
    otherwise they are drawn on the host with :func:`draw_directions`.
    Returns ``(directions, host_directions)``; the second is the float64
    NumPy copy when the directions were drawn here, else ``None``.
    """
    dim = x.shape[-1]
    if directions is None:
        if isinstance(seed, int) and _torch_is_compiling():  # Python floats: a traced constant
            flat = _seeded_directions(dim, num_slices, int(seed), bool(orthogonal))
            directions = xp.reshape(xp.asarray(flat, dtype=dtype, device=device_of(x)), (dim, num_slices))
            return directions, None
        else:
            host = draw_directions(dim, num_slices, seed=seed, orthogonal=orthogonal)
        return xp.asarray(host, dtype=dtype, device=device_of(x)), host
    if isinstance(directions, (list, tuple)):
        directions = np.asarray(directions, dtype=np.float64)
    host = directions if isinstance(directions, np.ndarray) else None
    if getattr(directions, "ndim", None) != 2 or directions.shape[0] != dim:
        shape = getattr(directions, "shape", None)
        raise ValueError(
            f"`directions` must have shape (D, K) = ({dim}, K) to match the last axis of x; "
            f"got shape {None if shape is None else tuple(shape)}"
        )
    if directions.shape[1] < 1:
        raise ValueError("`directions` must have at least one column (K >= 1)")
    if host is not None:
        return xp.asarray(np.asarray(host, dtype=np.float64), dtype=dtype, device=device_of(x)), host
    array_namespace(directions)  # TypeError for non-arrays
    return xp.astype(xp.asarray(directions, device=device_of(x)), dtype), None
