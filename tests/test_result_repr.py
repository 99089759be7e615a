"""The repr of a result shows its numbers (abbreviated when long) on every backend, and never fails."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as strategies
from hypothesis.extra import numpy as numpy_strategies

import sketchtest as st


def _numbers(text: str, field: str) -> list[float]:
    """The numbers shown after ``field=`` in a repr (up to the next field)."""
    shown = re.search(rf"{field}=(.*?)(?:, \w+=|\)$)", text).group(1)
    return [float(token) for token in re.findall(r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e[-+]\d+)?)", shown.split(" (shape")[0])]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(numpy_strategies.arrays(
    dtype=strategies.sampled_from([np.float64, np.float32]),
    shape=numpy_strategies.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=12),
    elements={"allow_nan": True, "allow_infinity": True},
))
def test_any_values_show_on_one_line_as_numpy_would_abbreviate_them(values):
    text = repr(st.NormalityResult(values, values, test="t", null="normal", method="asymptotic"))
    assert "\n" not in text and text.endswith("method='asymptotic')")
    shown = _numbers(text, "statistic")
    # NumPy abbreviates beyond the threshold (10 values), keeping 3 at each end of a longer axis
    if values.size > 10 and max(values.shape) > 6:
        assert "..." in text and f"(shape {values.shape})" in text
    else:  # shown in full, in order, to six significant digits
        np.testing.assert_allclose(shown, values.ravel().astype(np.float64), rtol=1e-5, atol=0)
        assert (f"(shape {values.shape})" in text) == (values.ndim > 1)


def test_scalar_result_shows_its_values_and_null():
    result = st.anderson_darling(np.random.default_rng(0).standard_normal(50))
    text = repr(result)
    assert text.startswith("NormalityResult(test='anderson_darling', null='normal', ")
    assert _numbers(text, "statistic") == pytest.approx([float(result.statistic)], rel=1e-5)
    assert _numbers(text, "pvalue") == pytest.approx([float(result.pvalue)], rel=1e-5)


def test_batched_result_shows_every_value():
    result = st.cramer_von_mises(np.random.default_rng(1).standard_normal((40, 4)), null="standard")
    text = repr(result)
    assert "<array" not in text and "..." not in text and "null='standard'" in text
    np.testing.assert_allclose(_numbers(text, "statistic"), result.statistic, rtol=1e-5)
    np.testing.assert_allclose(_numbers(text, "pvalue"), result.pvalue, rtol=1e-5)


def test_long_result_is_abbreviated_like_numpy():
    result = st.epps_pulley(np.random.default_rng(2).standard_normal((30, 1000)))
    text = repr(result)
    assert "..." in text and "(shape (1000,))" in text and len(text) < 400, text
    shown = _numbers(text, "statistic")
    np.testing.assert_allclose(shown, np.concatenate([result.statistic[:3], result.statistic[-3:]]), rtol=1e-5)


def test_several_batch_axes_show_on_one_line_with_their_shape():
    result = st.watson(np.random.default_rng(3).standard_normal((30, 2, 3)))
    text = repr(result)
    assert "\n" not in text and "(shape (2, 3))" in text
    np.testing.assert_allclose(_numbers(text, "pvalue"), result.pvalue.ravel(), rtol=1e-5)


def test_every_backend_shows_values(backend):
    data = np.random.default_rng(4).standard_normal((30, 3))
    result = st.kolmogorov_smirnov(backend.asarray(data, "float32"))
    text = repr(result)
    np.testing.assert_allclose(_numbers(text, "statistic"), backend.to_numpy(result.statistic), rtol=1e-5)


def test_sliced_and_multivariate_results_show_values():
    data = np.random.default_rng(5).standard_normal((3, 50, 4))
    sliced = st.sliced_test(data, num_slices=8, seed=0)
    np.testing.assert_allclose(_numbers(repr(sliced), "pvalue"), sliced.pvalue, rtol=1e-5)
    combined = st.normality_test(data[0], seed=0, num_slices=8)
    assert f"pvalue={float(combined.pvalue):.6g}" in repr(combined)


def test_torch_result_that_requires_grad_is_detached_for_display_without_a_warning():
    torch = pytest.importorskip("torch")
    data = torch.tensor(np.random.default_rng(6).standard_normal((40, 3)), requires_grad=True)
    result = st.epps_pulley(data, null="standard", method="asymptotic")
    assert result.statistic.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when a tensor that requires grad becomes a number
        text = repr(result)
    assert "(detached for display; it requires grad)" in text
    np.testing.assert_allclose(_numbers(text, "statistic"), result.statistic.detach().numpy(), rtol=1e-5)
    scalar = st.epps_pulley(data[:, 0], null="standard", method="asymptotic")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f"statistic={float(scalar.statistic.detach()):.6g} (detached" in repr(scalar)


def test_torch_meta_tensor_shows_shape_and_dtype():
    torch = pytest.importorskip("torch")
    result = st.NormalityResult(torch.empty(4, device="meta"), torch.empty(4, device="meta"), test="t")
    assert "statistic=<array of shape (4,), dtype torch.float32>" in repr(result)


def test_jax_result_under_jit_shows_shape_and_dtype_only():
    jax = pytest.importorskip("jax")
    shown = []

    def pvalue(values):
        result = st.anderson_darling(values)
        shown.append(repr(result))
        return result.pvalue

    data = np.random.default_rng(7).standard_normal((40, 3)).astype(np.float32)
    jax.jit(pvalue)(jax.numpy.asarray(data))
    assert "statistic=<traced array of shape (3,), dtype float32>" in shown[0], shown[0]
    eager = st.anderson_darling(jax.numpy.asarray(data))
    np.testing.assert_allclose(_numbers(repr(eager), "pvalue"), np.asarray(eager.pvalue), rtol=1e-5)
