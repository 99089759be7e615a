"""Bad input to every public univariate test: a clear error, before any computation.

Every call here goes through :class:`ComputationSpy`, a NumPy array that
fails the test as soon as any arithmetic (a ufunc, a reduction, a sort) runs
on it: the error must come from validation, not from a computation that
happened to fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from support import UNIVARIATE_CASES

#: Array functions that only look at or rearrange an array; validation may use them.
_BOOKKEEPING = {np.moveaxis, np.reshape, np.expand_dims, np.swapaxes, np.transpose, np.result_type}


class ComputationStarted(AssertionError):
    """A test's computation touched its input before validation finished."""


class ComputationSpy(np.ndarray):
    """A NumPy array that raises :class:`ComputationStarted` on any arithmetic."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise ComputationStarted(f"np.{ufunc.__name__}.{method} ran before validation ended")

    def __array_function__(self, function, types, args, kwargs):
        if function in _BOOKKEEPING:
            return super().__array_function__(function, types, args, kwargs)
        raise ComputationStarted(f"np.{function.__name__} ran before validation ended")


def spy(values, dtype=np.float64):
    return np.asarray(values, dtype=dtype).view(ComputationSpy)


@pytest.fixture(params=UNIVARIATE_CASES, ids=repr)
def case(request):
    return request.param


def valid(case, shape=(30, 2)):
    return spy(np.random.default_rng(0).standard_normal(shape))


def test_the_spy_catches_computation(case):
    with pytest.raises(ComputationStarted):
        case(valid(case))


@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_empty_input(case, shape):
    with pytest.raises(ValueError, match="`x`"):
        case(spy(np.empty(shape)))


def test_too_few_samples(case):
    n = case.min_samples - 1
    with pytest.raises(ValueError, match=rf"`x`.*{case.min_samples}"):
        case(spy(np.arange(n, dtype=np.float64)))


def test_zero_dimensional_input(case):
    with pytest.raises(ValueError, match="`x`"):
        case(spy(1.5))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_dtype(case, dtype):
    with pytest.raises(TypeError, match="`x`.*complex"):
        case(spy(np.ones((30, 2)), dtype=dtype))


@pytest.mark.parametrize("values", [np.array(["a", "b", "c", "d", "e", "f"]), np.array([1.0, None] * 3, dtype=object)],
                         ids=["str", "object"])
def test_non_numeric_dtype(case, values):
    with pytest.raises(TypeError, match="`x`"):
        case(values)


def test_not_an_array(case):
    with pytest.raises(TypeError, match="`x`"):
        case({"a": 1.0})


@pytest.mark.parametrize("axis", [2, -3, 10])
def test_axis_out_of_range(case, axis):
    with pytest.raises(ValueError, match="`axis`"):
        case(valid(case), axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", None])
def test_axis_not_an_integer(case, axis):
    with pytest.raises(TypeError, match="`axis`"):
        case(valid(case), axis=axis)


@pytest.mark.parametrize("option, value", [
    ("null", "gaussian"), ("null", 0), ("method", "bootstrap"), ("method", None),
    ("nan_policy", "ignore"), ("nan_policy", None),
])
def test_unknown_option_value(case, option, value):
    if option == "null" and case.null is None:
        pytest.skip(f"{case.name} has no `null` option")
    with pytest.raises(ValueError, match=f"`{option}`"):
        case(valid(case), **{option: value})


@pytest.mark.parametrize("keepdims", [1, "yes", None])
def test_keepdims_not_a_bool(case, keepdims):
    with pytest.raises(TypeError, match="`keepdims`"):
        case(valid(case), keepdims=keepdims)


@pytest.mark.parametrize("n_resamples, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_monte_carlo_resamples(case, n_resamples, error):
    with pytest.raises(error, match="`n_resamples`"):
        case(valid(case), method="monte_carlo", n_resamples=n_resamples)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), ("zero", TypeError), (1.5, TypeError)])
def test_monte_carlo_seed(case, seed, error):
    with pytest.raises(error, match="`seed`"):
        case(valid(case), method="monte_carlo", seed=seed)


def test_nan_policy_raise_names_the_input(case):
    data = np.random.default_rng(1).standard_normal((30, 2))
    data[4, 1] = np.nan
    with pytest.raises(ValueError, match="`x`.*NaN"):
        case(data, nan_policy="raise")
