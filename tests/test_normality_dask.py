"""normality_test on dask arrays: chunked rows, the D x D eigendecomposition on the host, NumPy's answer.

dask's array namespace has no ``linalg.eigh``; the covariance is reduced over
the row chunks by dask and only the small D x D matrix is decomposed on the
host. Every component must equal the NumPy run on the same values and seed.
"""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st

da = pytest.importorskip("dask.array")


def samples(kind: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1200, 12))
    if kind == "collapsed":  # rank 3 of 12
        x = x[:, :3] @ rng.standard_normal((3, 12))
    elif kind == "skewed":
        x[:, 5] = rng.exponential(size=x.shape[0]) - 1.0
    return x


@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize("kind", ["gaussian", "skewed", "collapsed"])
def test_dask_equals_numpy(kind, null):
    x = samples(kind)
    chunked = da.from_array(x, chunks=(250, 12))
    result = st.normality_test(chunked, null=null, seed=3, num_slices=32)
    expected = st.normality_test(x, null=null, seed=3, num_slices=32)
    assert isinstance(result.pvalue, da.Array)  # the answer stays in the caller's namespace
    assert set(result.components) == set(expected.components)
    np.testing.assert_allclose(float(result.pvalue), float(expected.pvalue), rtol=1e-10, atol=1e-300)
    for name, part in expected.components.items():
        np.testing.assert_allclose(float(result.components[name].pvalue), float(part.pvalue),
                                   rtol=1e-10, atol=1e-300, err_msg=name)


def test_collapsed_dask_sample_is_a_certain_departure():
    result = st.normality_test(da.from_array(samples("collapsed"), chunks=(300, 12)), null="normal", seed=0)
    assert float(result.pvalue) == 0.0
    assert int(result.components["rank"].extras["rank"]) == 3
