"""Cross-backend conformance of every public univariate test.

Every backend x dtype must give the NumPy float64 result on the same
(dtype-rounded) data within the dtype's tolerance, in its own namespace, on the
input's device, with the dtype the policy promises; batch shapes, `axis`,
`keepdims` and the three NaN policies must behave the same everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from sketchtest._compat import array_namespace, device
from support import UNIVARIATE_CASES, rtol_for, round_like

N_SAMPLES = 40
BATCH = 6  # one batch shape for most tests: JAX compiles each op once per shape


@pytest.fixture(params=UNIVARIATE_CASES, ids=repr)
def case(request):
    """One public univariate test under one null."""
    return request.param


def draw(case, shape, seed=0):
    """Samples the null of `case` is about: N(0, 1), or N(2, 1.5^2) for composite nulls."""
    values = np.random.default_rng(seed).standard_normal(shape)
    return values if case.null == "standard" else 2.0 + 1.5 * values


def assert_matches(backend, result, expected, rtol):
    """`result` (of `backend`) equals the NumPy `expected`, statistic and p-value."""
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol, err_msg="statistic")
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=rtol, err_msg="pvalue")


def assert_native(backend, result, x, dtype):
    """Both outputs are arrays of `backend`'s namespace, on `x`'s device, of `dtype`."""
    for label, value in (("statistic", result.statistic), ("pvalue", result.pvalue)):
        assert array_namespace(value) is backend.xp, f"{label} left the input's namespace"
        assert device(value) == device(x), f"{label} is on {device(value)}, input on {device(x)}"
        assert value.dtype == dtype, f"{label} has dtype {value.dtype}, expected {dtype}"


def test_the_table_covers_every_public_univariate_test():
    import sketchtest

    not_univariate = {"NormalityResult", "NormalityTestResult", "SlicedEppsPulley", "SlicedResult", "bhep",
                      "comb", "henze_jimenez_gamero", "henze_visagie", "henze_zirkler", "mardia",
                      "normality_test", "sigreg", "sigreg_pvalue", "sliced_test", "StreamingNormalityTest"}
    assert {case.name for case in UNIVARIATE_CASES} == set(sketchtest.__all__) - not_univariate


def test_matches_numpy_float64(backend, dtype_name, case):
    data = draw(case, (N_SAMPLES, BATCH))
    x = backend.asarray(data, dtype_name)
    result = case(x)
    expected = case(round_like(data, dtype_name))
    result_dtype = backend.dtype("float32" if dtype_name == "bfloat16" else dtype_name)
    assert_native(backend, result, x, result_dtype)
    assert result.statistic.shape == (BATCH,)
    assert_matches(backend, result, expected, rtol_for(dtype_name))


def test_float32_holds_its_tolerance_at_large_n(case):
    """float32 sums over 10^4 samples must not cancel: the NumPy float32 result stays within 4 sqrt(eps)."""
    data = round_like(draw(case, (10_000, 4), seed=13), "float32")
    result = case(data.astype(np.float32))
    expected = case(data)
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=rtol_for("float32"), err_msg="statistic")
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=rtol_for("float32"), err_msg="pvalue")


def test_the_default_method_runs_natively(backend, case):
    """With its default method (Monte Carlo below some n for a few tests), on the input's device."""
    dtype_name = _default_dtype_name(backend)
    x = backend.asarray(draw(case, (N_SAMPLES, BATCH), seed=12), dtype_name)
    keywords = {} if case.null is None else {"null": case.null}
    result = case.function(x, **keywords, seed=0)
    assert_native(backend, result, x, backend.dtype(dtype_name))
    pvalue = backend.to_numpy(result.pvalue)
    assert pvalue.shape == (BATCH,) and np.all((pvalue >= 0.0) & (pvalue <= 1.0))


def test_integers_become_the_default_float(backend, case):
    data = np.random.default_rng(1).integers(-6, 7, size=(N_SAMPLES, BATCH))
    if case.null != "standard":
        data = data + 10
    x = backend.asarray(data, "int64" if backend.float64 else "int32")
    result = case(x)
    default = backend.xp.__array_namespace_info__().default_dtypes(device=device(x))["real floating"]
    assert_native(backend, result, x, default)
    dtype_name = "float64" if default == backend.xp.float64 else "float32"
    expected = case(data.astype(np.float64))
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol)
    # integer samples are far from N(0, 1) (ties): some p-values are ~1e-5, where float32 keeps
    # only an absolute accuracy of a few float32 eps (p-values are computed as complements)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=rtol,
                               atol=1e-6 if dtype_name == "float32" else 0.0)


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_float16_is_computed_in_float32(library, case):
    data = np.random.default_rng(2).standard_normal((N_SAMPLES, 2))
    rounded = data.astype(np.float16).astype(np.float64)
    if library == "numpy":
        x, float32 = data.astype(np.float16), np.float32
    else:
        torch = pytest.importorskip("torch")
        x, float32 = torch.asarray(data).to(torch.float16), torch.float32
    result = case(x)
    assert result.statistic.dtype == float32 and result.pvalue.dtype == float32
    expected = case(rounded)
    np.testing.assert_allclose(np.asarray(result.statistic, dtype=np.float64), expected.statistic,
                               rtol=rtol_for("float32"))


def test_torch_meta_tensors_keep_shape_dtype_and_device(case):
    torch = pytest.importorskip("torch")
    x = torch.empty((2, N_SAMPLES, 3), dtype=torch.float32, device="meta")
    try:
        result = case(x, axis=1)
    except NotImplementedError as error:  # an op without a meta kernel; anything else is a defect
        pytest.skip(f"{case!r}: a torch op has no meta kernel: {error}")
    for value in (result.statistic, result.pvalue):
        assert value.device.type == "meta"
        assert value.dtype == torch.float32
        assert tuple(value.shape) == (2, 3)


def _per_column(case, data):
    """The NumPy float64 result of each column of the 2-D `data`, one 1-D call each."""
    results = [case(data[:, j]) for j in range(data.shape[1])]
    return (np.array([float(r.statistic) for r in results]), np.array([float(r.pvalue) for r in results]))


def _default_dtype_name(backend):
    return "float64" if backend.float64 else "float32"


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("keepdims", [False, True])
def test_batch_axis_and_keepdims(backend, case, axis, keepdims):
    dtype_name = _default_dtype_name(backend)
    data = round_like(draw(case, (N_SAMPLES, 6), seed=3), dtype_name)
    statistic, pvalue = _per_column(case, data)
    batch = np.moveaxis(data.reshape(N_SAMPLES, 2, 3), 0, axis)  # samples on `axis`, batch (2, 3)
    result = case(backend.asarray(batch, dtype_name), axis=axis, keepdims=keepdims)
    for label, value, expected in (("statistic", result.statistic, statistic), ("pvalue", result.pvalue, pvalue)):
        expected = expected.reshape(2, 3)
        if keepdims:
            expected = np.expand_dims(expected, axis)
        assert tuple(value.shape) == expected.shape, label
        np.testing.assert_allclose(backend.to_numpy(value), expected, rtol=rtol_for(dtype_name), err_msg=label)


def test_one_dimensional_input_gives_zero_dimensional_results(backend, case):
    dtype_name = _default_dtype_name(backend)
    data = round_like(draw(case, (N_SAMPLES,), seed=4), dtype_name)
    result = case(backend.asarray(data, dtype_name))
    assert result.statistic.shape == () and result.pvalue.shape == ()
    assert_matches(backend, result, case(data), rtol_for(dtype_name))


def _data_with_nans(case, dtype_name):
    data = round_like(draw(case, (N_SAMPLES, BATCH), seed=5), dtype_name)
    data[[3, 17], 1] = np.nan
    data[[0, 9], 3] = np.nan  # both affected columns keep 38 samples (one JAX compile)
    return data


def test_nan_policy_propagate_marks_only_affected_columns(backend, case):
    dtype_name = _default_dtype_name(backend)
    data = _data_with_nans(case, dtype_name)
    result = case(backend.asarray(data, dtype_name), nan_policy="propagate")
    statistic, pvalue = backend.to_numpy(result.statistic), backend.to_numpy(result.pvalue)
    affected = np.isin(np.arange(BATCH), [1, 3])
    assert np.isnan(statistic[affected]).all() and np.isnan(pvalue[affected]).all()
    clean = case(data[:, ~affected])
    np.testing.assert_allclose(statistic[~affected], clean.statistic, rtol=rtol_for(dtype_name))
    np.testing.assert_allclose(pvalue[~affected], clean.pvalue, rtol=rtol_for(dtype_name))


def test_nan_policy_omit_drops_nans_per_column(backend, case):
    dtype_name = _default_dtype_name(backend)
    data = _data_with_nans(case, dtype_name)
    result = case(backend.asarray(data, dtype_name), nan_policy="omit")
    expected = [case(column[~np.isnan(column)]) for column in data.T]
    np.testing.assert_allclose(backend.to_numpy(result.statistic), [float(r.statistic) for r in expected],
                               rtol=rtol_for(dtype_name))
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), [float(r.pvalue) for r in expected],
                               rtol=rtol_for(dtype_name))


def test_nan_policy_omit_gives_nan_below_the_minimum(case):
    data = draw(case, (N_SAMPLES, 2), seed=6)
    data[case.min_samples - 1:, 0] = np.nan  # column 0 keeps min_samples - 1 values
    result = case(data, nan_policy="omit")
    assert np.isnan(result.statistic[0]) and np.isnan(result.pvalue[0])
    np.testing.assert_allclose(result.statistic[1], case(data[:, 1]).statistic, rtol=1e-12)


def test_nan_policy_raise(backend, case):
    dtype_name = _default_dtype_name(backend)
    x = backend.asarray(_data_with_nans(case, dtype_name), dtype_name)
    with pytest.raises(ValueError, match="NaN"):
        case(x, nan_policy="raise")
    clean = backend.asarray(draw(case, (N_SAMPLES, BATCH), seed=7), dtype_name)
    result = case(clean, nan_policy="raise")
    assert result.statistic.shape == (BATCH,)
