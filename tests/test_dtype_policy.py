"""The dtype policy (DESIGN.md, "dtype") on every public function, backend and dtype.

float64 -> float64; float32 -> float32; float16 and bfloat16 -> float32;
NumPy longdouble -> float64 (computed in float64: the nulls are float64 at
best); bool and integers -> the namespace's default floating dtype on the
input's device; complex, object, str -> ``TypeError`` naming the argument.
Never a silent result in another dtype.

:func:`test_the_policy_table` checks the one function that decides
(``float_dtypes``) exhaustively; :func:`test_public_functions_follow_the_policy`
is the hypothesis property over every public function, backend and dtype.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st_

import sketchtest as st
from sketchtest._compat import array_namespace
from sketchtest._validation import float_dtypes
from support import UNIVARIATE_CASES

#: Every dtype NumPy, torch or JAX offers that a user might hold.
DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "longdouble", "complex64", "complex128",
    "object", "str",
)
REFUSED = {"complex64", "complex128", "object", "str"}


def make_array(backend, dtype_name, values):
    """`values` (NumPy float64) as `backend`'s array of `dtype_name`, or None where it has none."""
    values = _cast_values(values, dtype_name)
    name = backend.name
    if name == "numpy":
        if dtype_name == "bfloat16":
            import ml_dtypes

            return values.astype(ml_dtypes.bfloat16)
        return values.astype({"str": np.str_, "object": object}.get(dtype_name, dtype_name))
    if dtype_name in ("longdouble", "object", "str"):
        return None
    if name.startswith("torch"):
        import torch

        dtype = getattr(torch, dtype_name, None)
        if dtype is None:
            return None
        return torch.asarray(values.astype(np.float64) if dtype_name == "bfloat16" else values,
                             device=backend.device).to(dtype)
    if name.startswith("jax"):
        import jax
        import jax.numpy as jnp

        return jax.device_put(jnp.asarray(values, dtype=getattr(jnp, dtype_name)), backend.device)
    if name.startswith("array_api_strict"):
        if dtype_name in ("float16", "bfloat16") or (dtype_name in ("float64", "complex128") and not backend.float64):
            return None
        return backend.module.asarray(values, dtype=getattr(backend.module, dtype_name), device=backend.device)
    return None


def _cast_values(values, dtype_name):
    if dtype_name == "bool":
        return values > 0
    if dtype_name.startswith(("int", "uint")):
        return np.round(np.abs(values) * 3).astype(np.int64)  # small non-negative integers fit every width
    if dtype_name.startswith("complex"):
        return values + 0.5j * values[::-1]
    return values


def expected_dtype(backend, dtype_name, array):
    """The result dtype the policy documents for `array`."""
    xp = backend.xp
    if dtype_name in ("bool",) or dtype_name.startswith(("int", "uint")):
        from array_api_compat import device

        return xp.__array_namespace_info__().default_dtypes(device=device(array))["real floating"]
    if dtype_name in ("float16", "bfloat16", "float32"):
        return xp.float32
    return xp.float64  # float64 and longdouble


# --- the one function that decides ------------------------------------------

@pytest.mark.parametrize("dtype_name", DTYPES)
def test_the_policy_table(backend, dtype_name):
    array = make_array(backend, dtype_name, np.linspace(-1.0, 1.0, 6))
    if array is None:
        pytest.skip(f"{backend.name} has no {dtype_name}")
    xp = array_namespace(array)
    if dtype_name in REFUSED:
        with pytest.raises(TypeError, match="`x`"):
            float_dtypes(array, xp=xp)
        return
    expected = expected_dtype(backend, dtype_name, array)
    assert float_dtypes(array, xp=xp) == (expected, expected)


def test_float8_is_refused_naming_the_argument():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as xp

    with pytest.raises(TypeError, match="`z`.*float8"):
        float_dtypes(torch.zeros(3, dtype=torch.float8_e4m3fn), xp=xp, name="z")


# --- every public function --------------------------------------------------

def _univariate(case):
    def call(x):
        result = case(x, axis=0)
        return [result.statistic, result.pvalue]
    return call


def _result_arrays(result):
    return [result.statistic, result.pvalue]


#: name -> (argument name, call returning the floating outputs, shape of the input)
PUBLIC = {repr(case): ("x", _univariate(case), (60, 2)) for case in UNIVARIATE_CASES}
PUBLIC.update({
    "sliced_test": ("x", lambda x: _result_arrays(st.sliced_test(x, num_slices=4, seed=0)), (60, 3)),
    "sliced_test-anderson_darling": (
        "x", lambda x: _result_arrays(st.sliced_test(x, "anderson_darling", num_slices=4, seed=0)), (60, 3)),
    "SlicedEppsPulley": (
        "batch", lambda x: _result_arrays(st.SlicedEppsPulley(num_slices=4, seed=0).update(x).result()), (60, 3)),
    # the streaming normality test keeps float64 sums on the host and answers in NumPy float64:
    # only the refusal of non-float batches is checked here
    "StreamingNormalityTest": ("batch", lambda x: [st.StreamingNormalityTest(3, seed=0).update(x)][:0], (60, 3)),
    "henze_zirkler": ("x", lambda x: _result_arrays(st.henze_zirkler(x)), (60, 3)),
    "bhep": ("x", lambda x: _result_arrays(st.bhep(x)), (60, 3)),
    "mardia": ("x", lambda x: _result_arrays(st.mardia(x)), (60, 3)),
    "henze_visagie": ("x", lambda x: _result_arrays(st.henze_visagie(x, n_resamples=99, seed=0)), (60, 3)),
    "henze_jimenez_gamero": (
        "x", lambda x: _result_arrays(st.henze_jimenez_gamero(x, n_resamples=99, seed=0)), (60, 3)),
    "comb": ("x", lambda x: _result_arrays(st.comb(x, n_resamples=99, seed=0)), (60, 3)),
    "sigreg": ("z", lambda x: [st.sigreg(x, num_slices=4, seed=0)], (60, 3)),
})
if hasattr(st, "sigreg_pvalue"):
    PUBLIC["sigreg_pvalue"] = ("value", lambda v: [st.sigreg_pvalue(v, dim=3, num_slices=4, seed=0)], (5,))
if hasattr(st, "normality_test"):
    PUBLIC["normality_test"] = ("x", lambda x: [st.normality_test(x, seed=0, num_slices=4).pvalue], (60, 3))


def _torch_calls():
    from sketchtest import torch as stt

    return {
        "torch.sigreg": ("z", lambda z: [stt.sigreg(z, num_slices=4, seed=0)], (60, 3)),
        "torch.SIGReg": ("z", lambda z: [stt.SIGReg(num_slices=4)(z)], (60, 3)),
        "torch.lejepa_loss": ("projections", lambda v: list(stt.lejepa_loss(v, num_slices=4, seed=0)), (3, 20, 2)),
        "torch.LeJEPALoss": ("projections", lambda v: list(stt.LeJEPALoss(num_slices=4)(v)), (3, 20, 2)),
        "torch.sliced_loss": (
            "z", lambda z: [stt.sliced_loss(z, test="anderson_darling", num_slices=4, seed=0)], (60, 3)),
        "torch.SlicedLoss": ("z", lambda z: [stt.SlicedLoss(test="jarque_bera", num_slices=4)(z)], (60, 3)),
        # the monitor reads Python floats (float64 sums): only the refusal of non-float input is checked here
        "torch.EmbeddingMonitor": ("z", lambda z: [stt.EmbeddingMonitor(3).update(z)][:0], (60, 3)),
    }


def _jax_calls():
    import jax

    from sketchtest import jax as stj

    key = jax.random.key(0)
    return {
        "jax.sigreg": ("z", lambda z: [stj.sigreg(z, key=key, num_slices=4)], (60, 3)),
        "jax.lejepa_loss": ("projections", lambda v: list(stj.lejepa_loss(v, key=key, num_slices=4)), (3, 20, 2)),
        "jax.sliced_loss": (
            "z", lambda z: [stj.sliced_loss(z, key=key, test="cramer_von_mises", num_slices=4)], (60, 3)),
        "jax.monitor_update": ("z", lambda z: [stj.monitor_update(stj.monitor_init(3), z)][:0], (60, 3)),
    }


#: Public names of the monitors that take no samples array (a state, a dimension, or none).
NO_ARRAY_ARGUMENT = {"torch.monitor_fields", "jax.MONITOR_FIELDS", "jax.MonitorState", "jax.monitor_init",
                     "jax.monitor_read", "jax.monitor_reset", "jax.monitor_statistics"}


def calls_for(backend):
    calls = dict(PUBLIC)
    if backend.name.startswith("torch"):
        calls.update(_torch_calls())
    if backend.name.startswith("jax"):
        calls.update(_jax_calls())
    return calls


def test_every_public_function_is_covered():
    public = {name for name in st.__all__ if callable(getattr(st, name)) and not name.endswith("Result")}
    covered = {name.split("-")[0] for name in PUBLIC}
    assert public <= covered, f"add {sorted(public - covered)} to PUBLIC in this file"
    for module in ("torch", "jax"):
        if importlib.util.find_spec(module) is None:
            continue
        names = importlib.import_module(f"sketchtest.{module}").__all__
        functions = {f"{module}.{name}" for name in names if not name.endswith("Output")} - NO_ARRAY_ARGUMENT
        expected = set(_torch_calls() if module == "torch" else _jax_calls())
        assert functions <= expected, f"add {sorted(functions - expected)} to this file"


#: Hypothesis examples per backend: JAX compiles every eager operation anew for each dtype
#: (seconds per function and dtype on a loaded CPU), so it draws fewer.
EXAMPLES = {"jax": 6}


def test_public_functions_follow_the_policy(backend):
    examples = EXAMPLES.get(backend.name.split(":")[0], 40)

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st_.data())
    def property_holds(data):
        check_one_call(backend, data)

    property_holds()


def check_one_call(backend, data):
    """One public function on one dtype: the documented dtype, or TypeError naming the argument."""
    calls = calls_for(backend)
    function_name = data.draw(st_.sampled_from(sorted(calls)), label="function")
    dtype_name = data.draw(st_.sampled_from(DTYPES), label="dtype")
    scale = data.draw(st_.sampled_from([1.0, 0.25, 4.0]), label="scale")
    seed = data.draw(st_.integers(0, 2**16), label="seed")
    argument, call, shape = calls[function_name]
    array = make_array(backend, dtype_name, scale * np.random.default_rng(seed).standard_normal(shape))
    if array is None:
        return  # this library has no such dtype
    if dtype_name in REFUSED:
        with pytest.raises(TypeError, match=f"`{argument}`"):
            call(array)
        return
    expected = expected_dtype(backend, dtype_name, array)
    for output in call(array):
        assert output.dtype == expected, (function_name, dtype_name, output.dtype, expected)
