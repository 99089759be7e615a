"""Accuracy of the pure array API normal-CDF family in ``sketchtest_backends.standard``.

References: SciPy (``scipy.special.ndtr``, ``log_ndtr``, ``ndtri``) over wide
ranges, and a few values computed with mpmath at 40-60 significant digits
(the generating calls are in the comments), where SciPy itself is less
accurate than 1e-14 (its ``ndtr`` loses about 2e-13 in the far lower tail).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.special as special

from sketchtest_backends import standard

xs = pytest.importorskip("array_api_strict")

CPU = xs.Device("CPU_DEVICE")
DEVICE1 = xs.Device("device1")
NO_FLOAT64 = xs.Device("no_float64")
FUNCTIONS = {"ndtr": standard.ndtr, "log_ndtr": standard.log_ndtr, "ndtri": standard.ndtri}
REFERENCES = {"ndtr": special.ndtr, "log_ndtr": special.log_ndtr, "ndtri": special.ndtri}


def evaluate(name, values, device=DEVICE1, dtype="float64"):
    """`name` on an array_api_strict array on `device`; checks device and dtype, returns NumPy."""
    array = xs.asarray(np.asarray(values, dtype=dtype), device=device)
    result = FUNCTIONS[name](array)
    assert result.device == device
    assert result.dtype == array.dtype
    return np.asarray(xs.asarray(result, device=CPU, copy=True)).astype(np.float64)


def relative_error(got, want):
    scale = np.abs(want)
    return np.abs(got - want) / np.where(scale == 0, 1.0, scale)


# mpmath.mp.dps = 40; mpmath.ncdf(x) and mpmath.log(mpmath.ncdf(x))
# (mpmath.log1p(-mpmath.ncdf(-x)) for x >= 1), printed with 20 digits.
EXACT_CDF = [
    (-37.5, 4.6053530095819548438e-308, -707.66898931750719107),
    (-30.0, 4.9067139271481870595e-198, -454.32124395634319711),
    (-20.0, 2.7536241186062336951e-89, -203.91715537109726394),
    (-10.0, 7.619853024160526066e-24, -53.231285150512470578),
    (-6.0, 9.865876450376981407e-10, -20.736768949974705655),
    (-3.0, 0.0013498980316300945267, -6.6077262215103495433),
    (-1.0, 0.15865525393145705141, -1.8410216450092635058),
    (-0.5, 0.30853753872598689636, -1.1759117615936186089),
    (0.25, 0.59870632568292372424, -0.51298407540943043213),
    (2.0, 0.9772498680518207928, -0.023012909328963488465),
    (5.0, 0.99999971334842812081, -2.8665161296376359338e-7),
    (9.0, 0.99999999999999999989, -1.1285884059538406478e-19),
]
# mpmath.mp.dps = 60; mpmath.findroot(lambda t: mpmath.log(mpmath.ncdf(t)) - mpmath.log(p),
# scipy.special.ndtri(p)), printed with 20 digits.
EXACT_QUANTILES = [
    (1e-300, -37.047096299361199237),
    (1e-100, -21.273453560965324295),
    (1e-20, -9.2623400897984075737),
    (1e-5, -4.2648907939228246285),
    (0.3, -0.52440051270804078404),
    (0.999999, 4.7534243088170877657),  # p = mpmath.mpf(0.999999), the binary double
]


def test_ndtr_and_log_ndtr_match_high_precision_values():
    x, cdf, log_cdf = (np.array(column) for column in zip(*EXACT_CDF))
    assert relative_error(evaluate("ndtr", x), cdf).max() < 2e-15
    assert relative_error(evaluate("log_ndtr", x), log_cdf).max() < 2e-15


def test_ndtri_matches_high_precision_values():
    p, quantile = (np.array(column) for column in zip(*EXACT_QUANTILES))
    assert relative_error(evaluate("ndtri", p), quantile).max() < 2e-15


def test_ndtr_matches_scipy_from_minus_38_to_38():
    x = np.linspace(-38.0, 38.0, 76001)
    got, want = evaluate("ndtr", x), special.ndtr(x)
    normal = want > np.finfo(np.float64).tiny
    # SciPy's own error grows to ~2.3e-13 below x = -10 (see the exact values above).
    assert relative_error(got, want)[normal & (x >= -5.66)].max() < 1e-14
    assert relative_error(got, want)[normal].max() < 5e-13
    # Below x = -37.52 SciPy flushes to 0; the true values are subnormal, and ours agree
    # with them (mpmath.ncdf(-37.7), mpmath.ncdf(-38) at 40 digits) to the subnormal spacing.
    assert np.all((got[~normal] >= 0) & (got[~normal] <= np.finfo(np.float64).tiny))
    np.testing.assert_allclose(
        evaluate("ndtr", [-37.7, -38.0]), [2.4834853102775894207e-311, 2.8854283600687843084e-316],
        rtol=0, atol=2e-322,
    )


def test_log_ndtr_matches_scipy_including_far_tails():
    x = np.concatenate([np.linspace(-38.0, 5.0, 43001), -np.logspace(1.6, 150, 200)])
    assert relative_error(evaluate("log_ndtr", x), special.log_ndtr(x)).max() < 1e-14
    upper = np.linspace(5.0, 37.0, 3201)  # log Phi = log1p(-Phi(-x)): SciPy's tail error again
    assert relative_error(evaluate("log_ndtr", upper), special.log_ndtr(upper)).max() < 5e-13


def test_ndtri_matches_scipy_from_1e_300_to_1_minus_1e_16():
    p = np.concatenate([np.logspace(-300, np.log10(0.5), 30001), 1 - np.logspace(-16, np.log10(0.5), 30001)])
    got, want = evaluate("ndtri", p), special.ndtri(p)
    assert relative_error(got, want).max() < 1e-14


@pytest.mark.parametrize("name", ["ndtr", "log_ndtr", "ndtri"])
def test_special_values(name):
    inputs = {
        "ndtr": ([-np.inf, np.inf, 0.0, np.nan, -1e300, 1e300], [0.0, 1.0, 0.5, np.nan, 0.0, 1.0]),
        "log_ndtr": ([-np.inf, np.inf, 0.0, np.nan, 1e300], [-np.inf, 0.0, np.log(0.5), np.nan, 0.0]),
        "ndtri": ([0.0, 1.0, 0.5, np.nan, -0.5, 1.5], [-np.inf, np.inf, 0.0, np.nan, np.nan, np.nan]),
    }
    values, expected = inputs[name]
    np.testing.assert_array_equal(evaluate(name, values), expected)


@pytest.mark.parametrize("name", ["ndtr", "log_ndtr", "ndtri"])
def test_float32_on_a_device_without_float64(name):
    if name == "ndtri":
        values = np.concatenate([np.logspace(-37, np.log10(0.5), 2001), 1 - np.logspace(-7, np.log10(0.5), 2001)])
    else:
        values = np.linspace(-13.0, 13.0, 5201)
    values = values.astype(np.float32)
    got = evaluate(name, values, device=NO_FLOAT64, dtype="float32")
    want = REFERENCES[name](values.astype(np.float64))
    finite = np.isfinite(want) & (np.abs(want) > np.finfo(np.float32).tiny)
    assert relative_error(got[finite], want[finite]).max() < 2e-6


def test_adapter_is_elementwise_on_batches():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)) * 4
    got = evaluate("ndtr", x)
    assert got.shape == (3, 4, 5)
    np.testing.assert_allclose(got, special.ndtr(x), rtol=5e-14)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jit_compatible_with_jax():
    import jax
    import jax.numpy as jnp

    x = np.linspace(-30.0, 30.0, 601)
    p = special.ndtr(x[x < 8])
    for name, values in (("ndtr", x), ("log_ndtr", x), ("ndtri", p)):
        function = FUNCTIONS[name]
        got = np.asarray(jax.jit(function)(jnp.asarray(values, dtype=jnp.float64)))
        np.testing.assert_allclose(got, REFERENCES[name](values), rtol=5e-13)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_runs_on_torch_tensors():
    import torch

    x = np.linspace(-30.0, 30.0, 601)
    for name in ("ndtr", "log_ndtr"):
        got = FUNCTIONS[name](torch.asarray(x)).numpy()
        np.testing.assert_allclose(got, REFERENCES[name](x), rtol=5e-13)


def test_standard_normal_is_seeded_and_placed_on_the_device():
    draws = standard.standard_normal((4, 3), seed=7, dtype=xs.float32, device=DEVICE1, xp=xs)
    assert draws.device == DEVICE1 and draws.dtype == xs.float32
    expected = np.random.default_rng(7).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(xs.asarray(draws, device=CPU, copy=True)), expected)
    host = standard.standard_normal((4, 3), seed=7, dtype=xs.float32)  # no namespace: NumPy, same name
    assert isinstance(host, np.ndarray) and host.dtype == np.float32
    np.testing.assert_array_equal(host, expected)


def test_all_reduce_sum_is_the_identity():
    x = xs.asarray([1.0, 2.0], device=DEVICE1)
    assert standard.all_reduce_sum(x) is x
