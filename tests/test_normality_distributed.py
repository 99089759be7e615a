"""normality_test on dask's distributed scheduler: two worker processes, an on-disk array larger
than one worker's memory limit, and the in-memory NumPy answer.

The array is a ``.npy`` stack on disk (``dask.array.to_npy_stack``, one file per chunk of rows),
opened with ``dask.array.from_npy_stack``: each task memory-maps one file on a worker, so no
process but the test's own (which holds the NumPy reference) ever holds every row. A
``LocalCluster`` of two processes, one thread each, runs the reductions; the D x D covariance
comes back to the driver for its eigendecomposition.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import sketchtest as st

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

MEMORY_LIMIT = 256 * 2**20  # bytes per worker (268 MB); an idle worker holds about 100 MB
ROWS, COLUMNS, CHUNK_ROWS = 135_000, 256, 1_000  # 276 MB of float64 on disk: above MEMORY_LIMIT
# (a worker running a task on 1000 rows peaks near 170 MB, below the pause at 80% of the limit;
# the test takes about 2.5 minutes per null on a shared 2-core machine: every chunk is a few hundred
# small tasks, each a round trip to the scheduler)
OPTIONS = {"seed": 5, "num_slices": 16, "moment_resamples": 20}


def peak_resident_bytes():
    """This process's peak resident set size (``VmHWM``: ``ru_maxrss`` would also count the
    parent's memory at the fork that started the worker)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


@pytest.fixture(scope="module")
def samples():
    """Gaussian rows with one skewed column, so that the components' p-values differ from 1."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((ROWS, COLUMNS))
    x[:, 3] += 0.02 * (x[:, 3] ** 2 - 1.0)
    return x


@pytest.fixture(scope="module")
def stack_folder(samples, tmp_path_factory):
    """`samples` written as a stack of ``.npy`` files, one per chunk of rows."""
    folder = tmp_path_factory.mktemp("normality_stack")
    da.to_npy_stack(folder, da.from_array(samples, chunks=(CHUNK_ROWS, COLUMNS)), axis=0)
    return folder


@pytest.fixture(scope="module")
def client():
    """A two-process LocalCluster (one thread each, MEMORY_LIMIT each), shut down after the module."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, memory_limit=MEMORY_LIMIT,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as connected:
        yield connected


def assert_same_result(result, expected):
    assert set(result.components) == set(expected.components)
    np.testing.assert_allclose(float(result.pvalue), float(expected.pvalue), rtol=1e-10, atol=1e-300)
    for name, part in expected.components.items():
        for field in ("statistic", "pvalue"):
            np.testing.assert_allclose(np.asarray(getattr(result.components[name], field), dtype=float),
                                       np.asarray(getattr(part, field), dtype=float),
                                       rtol=1e-10, atol=1e-300, err_msg=f"{name}.{field}")


@pytest.mark.slow
@pytest.mark.parametrize("null", ["standard"])  # "normal" passes too (2.5 min more here); CI keeps to 45 min.
def test_distributed_on_disk_equals_numpy_in_memory(client, samples, stack_folder, null):
    # null="normal" on dask equals NumPy in tests/test_normality_dask.py, and on these two worker
    # processes in the streaming test below; this one adds the cluster, the disk and the memory limit
    expected = st.normality_test(samples, null=null, **OPTIONS)
    on_disk = da.from_npy_stack(stack_folder, mmap_mode="r")
    assert on_disk.shape == samples.shape and on_disk.nbytes > MEMORY_LIMIT
    workers = set(client.nthreads())
    with distributed.get_task_stream(client) as tasks:
        lazy = st.normality_test(on_disk, null=null, **OPTIONS)
        assert isinstance(lazy.pvalue, da.Array)
        (result,) = dask.compute(lazy)  # every component in one graph: the rows are read once
        assert_same_result(result, expected)
    assert {task["worker"] for task in tasks.data} == workers  # both workers computed
    assert set(client.nthreads()) == workers  # neither was killed and restarted
    if os.path.exists("/proc/self/status"):  # Linux
        peaks = client.run(peak_resident_bytes)
        assert max(peaks.values()) < MEMORY_LIMIT, peaks  # no worker ever held the array


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    """A (5000, 10) skewed sample and its ``.npy`` stack in uneven chunks of rows."""
    x = np.random.default_rng(23).standard_normal((5000, 10))
    x[:, 7] = np.random.default_rng(24).gamma(20.0, size=5000)  # mildly skewed column
    folder = tmp_path_factory.mktemp("small_stack")
    da.to_npy_stack(folder, da.from_array(x, chunks=((700,) * 7 + (100,), (10,))), axis=0)
    return x, folder


def partials_from_workers(client, accumulator, blocks):
    """Each block folded into an empty copy of `accumulator` (``spawn``) on a worker, returned pickled."""
    futures = [client.submit(accumulator.spawn().update, block, pure=False) for block in blocks]
    return client.gather(futures)


@pytest.mark.parametrize("null", ["standard", "normal"])
def test_streaming_partials_from_worker_processes_merge_to_the_one_shot_result(small_stack, client, null):
    x, folder = small_stack
    blocks = client.compute(list(da.from_npy_stack(folder).to_delayed().ravel()))  # the rows stay on the workers
    stream = st.StreamingNormalityTest(x.shape[1], null=null, seed=9, num_slices=24)
    for partial in partials_from_workers(client, stream, blocks):
        assert partial.stage == 1 and partial is not stream
        stream.merge(partial)
    assert stream.count == x.shape[0]
    stream.end_first_pass()
    for partial in partials_from_workers(client, stream, blocks[::-1]):  # another order
        assert partial.stage == 2
        stream.merge(partial)
    assert stream.count == x.shape[0]
    assert_same_result(stream.result(), st.normality_test(x, null=null, seed=9, num_slices=24))
