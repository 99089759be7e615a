"""SlicedEppsPulley travels between processes: exact pickle and deepcopy round trips, merges
of accumulators computed in spawned processes, and one array library per accumulator."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import sketchtest as st
import streaming_worker

def _to_numpy(array):
    if hasattr(array, "detach"):
        return array.detach().cpu().numpy()
    if type(array).__module__.startswith("array_api_strict"):
        import array_api_strict as xs

        return np.from_dlpack(xs.asarray(array, device=xs.Device("CPU_DEVICE"), copy=True))
    return np.asarray(array)


def _same_state(first, second):
    """Counts, sums and directions identical to the last bit."""
    assert first.count == second.count
    for name in ("cos_sum", "sin_sum", "directions"):
        np.testing.assert_array_equal(_to_numpy(getattr(first, name)), _to_numpy(getattr(second, name)))
        assert getattr(first, name).dtype == getattr(second, name).dtype


@pytest.mark.parametrize("aggregate", ["cauchy", "mean"])
@pytest.mark.parametrize("round_trip", ["pickle", "deepcopy"])
def test_round_trip_is_exact_and_the_copy_keeps_working(backend, round_trip, aggregate):
    rng = np.random.default_rng(0)
    first, second = (backend.asarray(rng.standard_normal((200, 5))) for _ in range(2))
    original = st.SlicedEppsPulley(16, seed=3, aggregate=aggregate, n_resamples=19).update(first)
    clone = pickle.loads(pickle.dumps(original)) if round_trip == "pickle" else copy.deepcopy(original)
    _same_state(clone, original)
    original.update(second)
    clone.update(second)  # the copy is independent and updates to the same state
    _same_state(clone, original)
    for name in ("statistic", "pvalue", "slice_statistics"):
        np.testing.assert_array_equal(_to_numpy(getattr(clone.result(), name)),
                                      _to_numpy(getattr(original.result(), name)))


def test_an_empty_accumulator_round_trips():
    empty = pickle.loads(pickle.dumps(st.SlicedEppsPulley(8, seed=1, nan_policy="omit")))
    assert empty.count == 0 and empty.directions is None and empty.nan_policy == "omit"
    data = np.random.default_rng(1).standard_normal((50, 3))
    np.testing.assert_array_equal(empty.update(data).result().slice_statistics,
                                  st.SlicedEppsPulley(8, seed=1).update(data).result().slice_statistics)


def test_merging_accumulators_from_spawned_processes_equals_the_one_shot_test():
    data = np.random.default_rng(2).standard_normal((4000, 6))
    halves = (data[:2000], data[2000:])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        parts = list(pool.map(streaming_worker.accumulate, halves, (32, 32), (7, 7)))
    merged = parts[0].merge(parts[1]).result()
    one_shot = st.sliced_test(data, num_slices=32, seed=7)
    assert parts[0].count == 4000
    for name in ("slice_statistics", "slice_pvalues", "statistic", "pvalue"):
        np.testing.assert_allclose(getattr(merged, name), getattr(one_shot, name), rtol=1e-10)


def test_mixing_array_libraries_raises_naming_the_argument():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(3).standard_normal((40, 3))
    numpy_accumulator = st.SlicedEppsPulley(4, seed=0).update(data)
    with pytest.raises(TypeError, match="`batch` is a torch array .* numpy"):
        numpy_accumulator.update(torch.asarray(data))
    torch_accumulator = st.SlicedEppsPulley(4, seed=0).update(torch.asarray(data))
    with pytest.raises(TypeError, match="`other` is a torch array .* numpy"):
        numpy_accumulator.merge(torch_accumulator)
    with pytest.raises(TypeError, match="`other` is a numpy array .* torch"):
        torch_accumulator.merge(numpy_accumulator)
    assert numpy_accumulator.count == 40 and torch_accumulator.count == 40  # nothing was folded in


def test_mixing_devices_raises_naming_the_argument():
    xs = pytest.importorskip("array_api_strict")
    data = np.random.default_rng(4).standard_normal((40, 3))
    accumulator = st.SlicedEppsPulley(4, seed=0).update(xs.asarray(data, device=xs.Device("CPU_DEVICE")))
    with pytest.raises(ValueError, match="`batch` is on device"):
        accumulator.update(xs.asarray(data, device=xs.Device("device1")))
