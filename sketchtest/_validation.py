"""Input checks and the dtype policy, applied before any computation.

Every check raises ``ValueError`` or ``TypeError`` with a message that names
the offending argument and says what was expected.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from sketchtest._compat import array_namespace, is_traced

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


def check_real(value, *, name: str, minimum: float | None = None, maximum: float | None = None,
               positive: bool = False) -> float:
    """Return `value` as a finite Python ``float`` within the given bounds.

    Accepts Python and NumPy real numbers and 0-d real arrays of any library;
    refuses bools, complex numbers, strings, NaN and infinities with a message
    naming `name`.
    """
    number = _real_number(value, name=name)
    too_low = minimum is not None and not number >= minimum
    too_high = maximum is not None and not number <= maximum
    if not math.isfinite(number) or too_low or too_high or (positive and not number > 0):
        raise ValueError(f"`{name}` must be a finite {_range_words(minimum, maximum, positive)}; got {value!r}")
    return number


def check_positive_float(value, *, name: str) -> float:
    """Return `value` as a finite positive ``float``."""
    return check_real(value, name=name, positive=True)


def _real_number(value, *, name: str) -> float:
    kind = type(value).__name__
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)):
        raise TypeError(f"`{name}` must be a real number; got {kind} {value!r}")
    if not isinstance(value, (numbers.Real, np.number)) and not _is_real_0d_array(value):
        raise TypeError(f"`{name}` must be a real number or a 0-d real array; got {kind}")
    try:
        return float(value)
    except (TypeError, ValueError) as error:  # a traced JAX value, say
        raise TypeError(f"`{name}` must be a concrete real number; got {kind} ({error})") from None


def _is_real_0d_array(value) -> bool:
    if getattr(value, "ndim", None) != 0:
        return False
    try:
        xp = array_namespace(value)
    except TypeError:
        return False
    return _dtype_kind(value.dtype, xp=xp) == "float" or (
        _dtype_kind(value.dtype, xp=xp) == "integer" and _dtype_name(value.dtype) != "bool")


def _range_words(minimum, maximum, positive) -> str:
    if minimum is not None and maximum is not None:
        return f"number in [{minimum}, {maximum}]"
    if positive:
        return "positive number" if maximum is None else f"number in (0, {maximum}]"
    if maximum is not None:
        return f"number <= {maximum}"
    return "number" if minimum is None else f"number >= {minimum}"


def normalize_axis(axis, ndim: int, *, name: str = "axis") -> int:
    """Return `axis` as a non-negative index into an array of `ndim` dimensions."""
    axis = check_int(axis, name=name)
    if not -ndim <= axis < ndim:
        raise ValueError(f"`{name}`={axis} is out of range for an input with {ndim} dimension(s)")
    return axis % ndim


#: Low-precision floating dtypes computed in float32 (with float32 results).
_WIDENED_TO_FLOAT32 = ("float16", "bfloat16")


def float_dtypes(x, *, xp, name: str = "x"):
    """Return ``(compute_dtype, result_dtype)`` for `x` under the dtype policy.

    - float64 and float32 compute and return in their own dtype;
    - float16 and bfloat16 (also NumPy arrays of ``ml_dtypes.bfloat16``)
      compute in float32 and return float32;
    - NumPy's ``longdouble`` computes and returns float64: the tests' null
      distributions and special functions are float64 at best, so a
      longdouble result would claim precision it does not have;
    - booleans and integers become the default floating dtype of the
      namespace on the array's device (float64 for NumPy, float32 for torch
      and for JAX without ``jax_enable_x64``).

    Complex, object, string and every other dtype (float8, say) raise
    ``TypeError`` naming `name`.
    """
    dtype = x.dtype
    kind = _dtype_kind(dtype, xp=xp)
    if kind == "complex":
        raise TypeError(f"`{name}` must be real-valued; got complex dtype {dtype}")
    if kind == "integer":
        info = xp.__array_namespace_info__()
        # x.device, not array-api-compat's device(): torch.compile traces it without warnings
        default = info.default_dtypes(device=_plain_device(x))["real floating"]
        return default, default
    if kind == "float" and dtype in (xp.float32, xp.float64):
        return dtype, dtype
    if _dtype_name(dtype) in _WIDENED_TO_FLOAT32:
        return xp.float32, xp.float32
    if kind == "float" and _is_numpy_longdouble(dtype):
        return xp.float64, xp.float64
    raise TypeError(
        f"`{name}` must have a real numeric dtype (bool, integer, float16, bfloat16, float32, "
        f"float64 or longdouble); got {dtype}"
    )


def _plain_device(x):
    """``x.device`` where it is the standard's attribute (None for traced JAX arrays)."""
    value = getattr(x, "device", None)
    return None if callable(value) else value


def _dtype_kind(dtype, *, xp) -> str | None:
    """``"complex"``, ``"float"``, ``"integer"`` (bool included) or None for `dtype`."""
    try:
        if xp.isdtype(dtype, "complex floating"):
            return "complex"
        if xp.isdtype(dtype, "real floating"):
            return "float"
        if xp.isdtype(dtype, ("integral", "bool")):
            return "integer"
    except (TypeError, ValueError):  # object, str, structured and ml_dtypes dtypes
        pass
    return None


def _dtype_name(dtype) -> str:
    """The plain name of `dtype` ("bfloat16", "float16", ...) in any library."""
    return str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1]


def _is_numpy_longdouble(dtype) -> bool:
    return isinstance(dtype, np.dtype) and dtype == np.dtype(np.longdouble)


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
        count = int(xp.count_nonzero(~xp.isfinite(x)))  # inf too, as DESIGN.md says
        if count:
            raise ValueError(f"`{name}` contains {count} NaN or infinite value(s) and nan_policy='raise'")


#: Seeds are integers in [0, SEED_BOUND): what every backend's generator takes as a 64-bit seed.
SEED_BOUND = 2**63


def check_seed(seed, *, name: str = "seed") -> None:
    """Accept ``None``, an integer in [0, 2**63) or a ``numpy.random.Generator``.

    Python and NumPy integers only: arrays and tensors (a torch step counter,
    say) are refused with a ``TypeError`` naming `name`, since the directions
    of these functions are drawn on the host; pass ``int(seed)``.
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"`{name}` must be an int in [0, 2**63), a numpy.random.Generator or None; "
            f"got {type(seed).__name__} (pass int({name}) for a 0-d integer array)"
        )
    check_int_range(seed, name=name, minimum=0, bound=SEED_BOUND)


def check_int_range(value, *, name: str, minimum: int, bound: int) -> int:
    """Return `value` as an ``int`` in [minimum, bound), or raise naming `name`."""
    value = check_int(value, name=name)
    if not minimum <= value < bound:
        raise ValueError(f"`{name}` must be an integer in [{minimum}, {bound}); got {value}")
    return value


def check_method(method, *, choices) -> None:
    """Validate the p-value `method` against those a test offers."""
    check_choice(method, name="method", choices=choices)
