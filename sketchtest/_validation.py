"""Input checks and the dtype policy, applied before any computation.

Every check raises ``ValueError`` or ``TypeError`` with a message that names
the offending argument and says what was expected.
"""

from __future__ import annotations

import operator

import numpy as np

from sketchtest._compat import device, is_traced

NAN_POLICIES = ("propagate", "raise", "omit")


def check_choice(value, *, name: str, choices) -> None:
    """Raise ``ValueError`` unless `value` is one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {allowed}; got {value!r}")


def check_bool(value, *, name: str) -> None:
    """Raise ``TypeError`` unless `value` is a Python or NumPy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {type(value).__name__}")


def check_int(value, *, name: str, minimum: int | None = None) -> int:
    """Return `value` as an ``int``, refusing non-integers and values below `minimum`."""
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be an integer; got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}; got {value}")
    return value


def check_positive_float(value, *, name: str) -> float:
    """Return `value` as a finite positive ``float``."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"`{name}` must be a finite positive number; got {value!r}")
    return number


def normalize_axis(axis, ndim: int, *, name: str = "axis") -> int:
    """Return `axis` as a non-negative index into an array of `ndim` dimensions."""
    axis = check_int(axis, name=name)
    if not -ndim <= axis < ndim:
        raise ValueError(f"`{name}`={axis} is out of range for an input with {ndim} dimension(s)")
    return axis % ndim


def float_dtypes(x, *, xp, name: str = "x"):
    """Return ``(compute_dtype, result_dtype)`` for `x` under the dtype policy.

    float64 and float32 compute and return in their own dtype; bfloat16 and
    float16 compute in float32 and return float32; booleans and integers
    become the default floating dtype of the array's device. Complex and
    non-numeric dtypes raise ``TypeError``.
    """
    dtype = x.dtype
    try:
        is_complex = xp.isdtype(dtype, "complex floating")
        is_real = xp.isdtype(dtype, "real floating")
        is_integer = xp.isdtype(dtype, "integral") or xp.isdtype(dtype, "bool")
    except (TypeError, ValueError):
        is_complex = is_real = is_integer = False
    if is_complex:
        raise TypeError(f"`{name}` must be real-valued; got complex dtype {dtype}")
    if is_real:
        exact = dtype if dtype in (xp.float32, xp.float64) else xp.float32
        return exact, exact
    if is_integer:
        info = xp.__array_namespace_info__()
        default = info.default_dtypes(device=device(x))["real floating"]
        return default, default
    raise TypeError(f"`{name}` must have a real numeric dtype; got {dtype}")


def check_nan_policy(nan_policy, x, *, xp, name: str = "x") -> None:
    """Validate `nan_policy`, and apply ``"raise"`` to `x` when it is concrete."""
    check_choice(nan_policy, name="nan_policy", choices=NAN_POLICIES)
    if nan_policy == "propagate":
        return
    if is_traced(x):
        raise ValueError(
            f"nan_policy={nan_policy!r} needs concrete values, but `{name}` is a traced or "
            "lazy array (inside jax.jit, say); use nan_policy='propagate' there"
        )
    if nan_policy == "raise":
        count = int(xp.count_nonzero(xp.isnan(x)))
        if count:
            raise ValueError(f"`{name}` contains {count} NaN value(s) and nan_policy='raise'")


def check_seed(seed, *, name: str = "seed") -> None:
    """Accept ``None``, a non-negative integer or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    check_int(seed, name=name, minimum=0)


def check_method(method, *, choices) -> None:
    """Validate the p-value `method` against those a test offers."""
    check_choice(method, name="method", choices=choices)
