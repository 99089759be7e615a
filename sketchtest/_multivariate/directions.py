"""Random unit directions for sliced tests, drawn on the host from a seed.

Directions are drawn with NumPy from ``seed`` (an int or a NumPy Generator),
so every backend and device sees the same numbers, then moved once to the
caller's device. A direction matrix has shape ``(D, K)``: one unit column per
slice.

Directions given by the caller are validated, never normalized: every entry
point that takes ``directions`` (:func:`sketchtest.sliced_test`,
:class:`sketchtest.SlicedEppsPulley`, the three ``sigreg`` functions) checks
them with :func:`check_directions`, so a zero, non-unit, NaN, infinite,
complex or non-numeric column raises before any computation.
"""

from __future__ import annotations

import math

import numpy as np

from sketchtest._compat import array_namespace, device as device_of, host_constant, is_traced
from sketchtest._validation import check_bool, check_int, check_seed, float_dtypes

__all__ = ["draw_directions", "directions_for", "check_directions", "check_direction_values", "unit_norm_tolerance"]

#: Machine epsilon of the 16-bit floating dtypes, by name (NumPy has no finfo for ml_dtypes' bfloat16).
_SIXTEEN_BIT_EPS = {"bfloat16": 2.0**-7, "float16": 2.0**-10}


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
    >>> from sketchtest._multivariate.directions import draw_directions
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
    from sketchtest._univariate.base import torch_is_compiling

    return torch_is_compiling()


def directions_for(x, *, xp, dtype, num_slices, seed, directions, orthogonal):
    """The ``(D, K)`` directions for samples `x` of shape ``(..., N, D)``.

    Injected `directions` are checked and cast to `dtype` on `x`'s device;
    otherwise they are drawn on the host with :func:`draw_directions`.
    Returns ``(directions, host_directions)``; the second is the float64
    NumPy copy when the directions were drawn here, else ``None``.
    """
    dim = x.shape[-1]
    if directions is not None:
        directions = check_directions(directions, dim)
    if directions is None:
        if isinstance(seed, int) and _torch_is_compiling():  # Python floats: a traced constant
            flat = _seeded_directions(dim, num_slices, int(seed), bool(orthogonal))
            directions = xp.reshape(xp.asarray(flat, dtype=dtype, device=device_of(x)), (dim, num_slices))
            return directions, None
        else:
            host = draw_directions(dim, num_slices, seed=seed, orthogonal=orthogonal)
        return xp.asarray(host, dtype=dtype, device=device_of(x)), host
    if isinstance(directions, np.ndarray):
        host = directions.astype(np.float64)
        return xp.asarray(host, dtype=dtype, device=device_of(x)), host
    return xp.astype(xp.asarray(directions, device=device_of(x)), dtype), None


def check_directions(directions, dim, *, name: str = "directions"):
    """Return `directions` as an array after checking shape ``(dim, K)``, dtype and values.

    Lists and tuples become NumPy arrays. Raises ``TypeError`` for a
    non-array, a complex or a non-numeric dtype, and ``ValueError`` for a
    wrong shape or (see :func:`check_direction_values`) a column that is not
    a finite unit vector.
    """
    if isinstance(directions, (list, tuple)):
        try:
            directions = np.asarray(directions)
        except ValueError as error:  # ragged nesting
            raise TypeError(f"`{name}` must be a (D, K) array; got a {type(directions).__name__} ({error})") from None
    try:
        xp = array_namespace(directions)
    except TypeError:
        raise TypeError(f"`{name}` must be a (D, K) array; got {type(directions).__name__}") from None
    if directions.ndim != 2 or directions.shape[0] != dim:
        raise ValueError(
            f"`{name}` must have shape (D, K) = ({dim}, K) to match the last axis of the samples; "
            f"got shape {tuple(directions.shape)}")
    if directions.shape[1] < 1:
        raise ValueError(f"`{name}` must have at least one column (K >= 1)")
    float_dtypes(directions, xp=xp, name=name)
    check_direction_values(directions, name=name)
    return directions


def unit_norm_tolerance(dtype, *, xp) -> float:
    """How far from 1 a column norm of `dtype` may be: sqrt(eps), or 2 eps for 16-bit floats.

    A unit vector rounded to a dtype with unit roundoff u has a norm within
    about u of 1; sqrt(eps) also admits the summation error of a float32
    normalization in high dimension while refusing any scale error that a
    test could see (a scale error delta shifts the statistic by about
    N delta^2).
    """
    name = str(dtype).rsplit(".", 1)[-1]
    if name in _SIXTEEN_BIT_EPS:
        return 2.0 * _SIXTEEN_BIT_EPS[name]
    if xp.isdtype(dtype, "real floating"):
        return math.sqrt(float(xp.finfo(dtype).eps))
    return math.sqrt(float(np.finfo(np.float64).eps))  # integers: exact unit vectors only


def check_direction_values(directions, *, name: str = "directions") -> None:
    """Raise ``ValueError`` unless every column of `directions` is a finite unit vector.

    Norms are computed in float64 where the device has it. Traced arrays
    (``jax.jit``, ``torch.compile``) have no values to read and are not checked.
    """
    from sketchtest._univariate.base import torch_is_compiling

    if is_traced(directions) or torch_is_compiling():
        return
    xp = array_namespace(directions)
    info = xp.__array_namespace_info__()
    wide_dtype = xp.float64 if xp.float64 in info.dtypes(device=device_of(directions)).values() else xp.float32
    wide = xp.astype(directions, wide_dtype)
    norms = xp.linalg.vector_norm(wide, axis=0)
    finite = xp.all(xp.isfinite(wide), axis=0)
    good = finite & (xp.abs(norms - 1.0) <= unit_norm_tolerance(directions.dtype, xp=xp))
    every = xp.all(good)
    if is_traced(every) or bool(every):  # traced: a concrete array captured inside jax.jit
        return
    column = int(xp.argmax(xp.astype(~good, xp.int32)))
    if not bool(finite[column]):
        raise ValueError(f"`{name}` must be finite; column {column} holds NaN or infinite values")
    raise ValueError(
        f"`{name}` must have unit columns (Euclidean norm 1 within "
        f"{unit_norm_tolerance(directions.dtype, xp=xp):.2g}); column {column} has norm "
        f"{float(norms[column]):.6g}: pass directions / norm(directions, axis=0)")
