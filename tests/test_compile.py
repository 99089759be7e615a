"""Every public univariate test under `jax.jit` and `torch.compile(fullgraph=True)`.

Compiled and eager results must agree (one NaN column included, so that the
NaN-propagation path is traced too). Options are bound with
:func:`functools.partial`, i.e. static. ``torch.compile`` with Inductor builds
C++ for every test (slow): the default run checks full-graph capture with the
``aot_eager`` backend; the Inductor run is marked slow.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

from support import UNIVARIATE_CASES, rtol_for


def data_with_a_nan_column():
    data = np.random.default_rng(11).standard_normal((40, 3)).astype(np.float32)
    data[5, 2] = np.nan
    return data


def as_tuple(function):
    """`function` returning ``(statistic, pvalue)``, a pytree that jit can return."""

    def statistic_and_pvalue(x):
        return tuple(function(x))

    return statistic_and_pvalue


def assert_same(compiled, eager):
    for label, got, expected in zip(("statistic", "pvalue"), compiled, eager):
        got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        assert np.isnan(got[2]) and np.isnan(expected[2]), f"{label}: the NaN column must give NaN"
        np.testing.assert_allclose(got, expected, rtol=rtol_for("float32"), err_msg=label)


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_jax_jit_gives_the_eager_result(case):
    jax = pytest.importorskip("jax")
    function = functools.partial(case.function, **case.keywords(axis=0, nan_policy="propagate"))
    x = jax.numpy.asarray(data_with_a_nan_column())
    eager = tuple(function(x))
    compiled = jax.jit(as_tuple(function))(x)
    assert all(value.dtype == jax.numpy.float32 for value in compiled)
    assert_same(compiled, eager)


def _torch_compiled(case, compiler_backend):
    torch = pytest.importorskip("torch")
    function = functools.partial(case.function, **case.keywords(axis=0, nan_policy="propagate"))
    x = torch.asarray(data_with_a_nan_column())
    eager = tuple(function(x))
    torch._dynamo.reset()  # every case traces the same wrapper: start from a clean cache
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*lru_cache.*", category=UserWarning)
        compiled = torch.compile(as_tuple(function), fullgraph=True, backend=compiler_backend)(x)
    assert all(value.dtype == torch.float32 for value in compiled)
    assert_same(compiled, eager)


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_torch_compile_fullgraph_traces_without_breaks(case):
    """Dynamo and AOTAutograd capture one graph (no C++ code generation: fast)."""
    _torch_compiled(case, "aot_eager")


@pytest.mark.slow
@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_torch_compile_fullgraph_inductor_gives_the_eager_result(case):
    """The default compiler (Inductor) on top: slow, one C++ build per test."""
    _torch_compiled(case, "inductor")


def test_auto_method_is_asymptotic_when_compiled():
    """Jarque-Bera's "auto" simulates the null below n=1000 eagerly; traced, it must stay analytic."""
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    import sketchtest

    data = data_with_a_nan_column()
    asymptotic = tuple(sketchtest.jarque_bera(data, method="asymptotic"))
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*lru_cache.*", category=UserWarning)
        compiled = torch.compile(as_tuple(sketchtest.jarque_bera), fullgraph=True, backend="aot_eager")
        assert_same(compiled(torch.asarray(data)), asymptotic)
    assert_same(jax.jit(as_tuple(sketchtest.jarque_bera))(jax.numpy.asarray(data)), asymptotic)
