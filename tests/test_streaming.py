"""Streaming sliced Epps-Pulley: batches and merges equal the one-shot test; dask equals NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st
from support import rtol_for


def _stream(data, batch_sizes, **options):
    accumulator = st.SlicedEppsPulley(**options)
    start = 0
    for size in batch_sizes:
        accumulator.update(data[start:start + size])
        start += size
    return accumulator


def test_streaming_equals_one_shot_on_the_concatenation():
    data = np.random.default_rng(0).standard_normal((1000, 6))
    streamed = _stream(data, [1, 299, 400, 300], num_slices=32, seed=4).result()
    one_shot = st.sliced_test(data, num_slices=32, seed=4)
    assert streamed.directions.shape == (6, 32)
    for name in ("slice_statistics", "slice_pvalues", "statistic", "pvalue"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(one_shot, name), rtol=1e-10)


def test_merge_is_exact_in_any_order():
    data = np.random.default_rng(1).standard_normal((900, 5))
    parts = [_stream(data[i:i + 300], [300], num_slices=16, seed=2) for i in (0, 300, 600)]
    forward = _stream(data[:300], [300], num_slices=16, seed=2).merge(parts[1]).merge(parts[2]).result()
    backward = parts[2].merge(parts[1]).merge(parts[0]).result()
    one_shot = st.sliced_test(data, num_slices=16, seed=2)
    np.testing.assert_allclose(forward.slice_statistics, one_shot.slice_statistics, rtol=1e-10)
    np.testing.assert_allclose(backward.slice_statistics, one_shot.slice_statistics, rtol=1e-10)
    assert parts[2].count == 900


def test_mean_aggregate_of_the_stream():
    data = np.random.default_rng(2).standard_normal((300, 4))
    streamed = _stream(data, [100, 200], num_slices=8, seed=0, aggregate="mean", n_resamples=49).result()
    one_shot = st.sliced_test(data, num_slices=8, seed=0, aggregate="mean", n_resamples=49)
    np.testing.assert_allclose(streamed.statistic, one_shot.statistic, rtol=1e-10)
    np.testing.assert_allclose(streamed.pvalue, one_shot.pvalue, rtol=1e-10)


def test_mean_aggregate_of_a_long_stream_uses_the_asymptotic_null():
    data = np.random.default_rng(4).standard_normal((600, 4))
    streamed = _stream(data, [250, 350], num_slices=8, seed=0, aggregate="mean").result()
    one_shot = st.sliced_test(data, num_slices=8, seed=0, aggregate="mean")
    assert streamed.method == one_shot.method == "asymptotic"
    np.testing.assert_allclose(streamed.statistic, one_shot.statistic, rtol=1e-10)
    np.testing.assert_allclose(streamed.pvalue, one_shot.pvalue, rtol=1e-8)


def test_streaming_on_every_backend(backend):
    data = np.random.default_rng(3).standard_normal((200, 3))
    accumulator = st.SlicedEppsPulley(num_slices=8, seed=1)
    accumulator.update(backend.asarray(data[:120])).update(backend.asarray(data[120:]))
    result = accumulator.result()
    expected = st.sliced_test(data, num_slices=8, seed=1)
    rtol = rtol_for("float64" if backend.float64 else "float32")
    np.testing.assert_allclose(backend.to_numpy(result.slice_statistics), expected.slice_statistics, rtol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=50 * rtol)


def test_mismatched_accumulators_are_refused():
    data = np.random.default_rng(4).standard_normal((20, 3))
    first = _stream(data, [20], num_slices=4, seed=0)
    with pytest.raises(ValueError, match="different directions"):
        first.merge(_stream(data, [20], num_slices=4, seed=1))
    with pytest.raises(ValueError, match="num_slices"):
        first.merge(_stream(data, [20], num_slices=5, seed=0))
    with pytest.raises(ValueError, match="D = 4"):
        first.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        st.SlicedEppsPulley(num_slices=4).result()
    with pytest.raises(TypeError, match="other"):
        first.merge(object())
    with pytest.raises(ValueError, match="n_b, D"):
        first.update(np.zeros((2, 3, 3)))


def test_dask_equals_numpy():
    da = pytest.importorskip("dask.array")
    data = np.random.default_rng(5).standard_normal((2000, 6))
    lazy = da.from_array(data, chunks=(500, 6))
    result = st.sliced_test(lazy, num_slices=16, seed=3)
    expected = st.sliced_test(data, num_slices=16, seed=3)
    np.testing.assert_allclose(np.asarray(result.slice_statistics.compute()), expected.slice_statistics, rtol=1e-10)
    np.testing.assert_allclose(float(result.pvalue.compute()), float(expected.pvalue), rtol=1e-10)
    accumulator = st.SlicedEppsPulley(num_slices=16, seed=3)
    for block in lazy.blocks:
        accumulator.update(block)
    streamed = accumulator.result()
    np.testing.assert_allclose(np.asarray(streamed.slice_statistics.compute()), expected.slice_statistics, rtol=1e-10)


def test_a_fresh_accumulator_adopts_what_it_merges():
    """``SlicedEppsPulley().merge(other)`` said "merge into an accumulator that has seen data" (issue 22)."""
    data = np.random.default_rng(5).standard_normal((600, 4))
    fresh = st.SlicedEppsPulley(num_slices=8, seed=3)
    merged = fresh.merge(_stream(data[:200], [200], num_slices=8, seed=3))
    assert merged is fresh and fresh.count == 200
    fresh.update(data[200:]).merge(st.SlicedEppsPulley(num_slices=8, seed=3))  # an empty one: no-op
    one_shot = st.sliced_test(data, num_slices=8, seed=3)
    np.testing.assert_allclose(fresh.result().slice_statistics, one_shot.slice_statistics, rtol=1e-10)
    with pytest.raises(ValueError, match="seed"):
        st.SlicedEppsPulley(num_slices=8, seed=4).merge(_stream(data, [600], num_slices=8, seed=3))
