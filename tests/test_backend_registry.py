"""The adapter registry: which module serves which namespace, lazily and traceably."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sketchtest_backends
from support import ALL_BACKENDS


@pytest.mark.parametrize(
    ("backend_id", "adapter"),
    [("numpy", "numpy"), ("array_api_strict", "standard"), ("torch", "torch"), ("jax", "jax")],
)
def test_each_namespace_gets_its_adapter(backend_id, adapter):
    (param,) = [p for p in ALL_BACKENDS if p.id == backend_id]
    backend = param.values[0]
    if backend is None:
        pytest.skip(f"{backend_id} is not installed")
    module = sketchtest_backends.for_namespace(backend.xp)
    assert module.__name__ == f"sketchtest_backends.{adapter}"
    values = backend.asarray(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(backend.to_numpy(module.ndtr(values)), [0.15865525393145707, 0.5, 0.9772498680518208])


def test_first_call_inside_torch_compile_imports_the_adapter():
    pytest.importorskip("torch")
    # A fresh process whose very first sketchtest call on a torch tensor is traced by
    # torch.compile(fullgraph=True): the adapter import must be traceable.
    script = textwrap.dedent(
        """
        import torch, sketchtest as st
        x = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)
        compiled = torch.compile(lambda x: st.cramer_von_mises(x, null="standard").statistic, fullgraph=True,
                                 backend="eager")
        print(float(compiled(x)))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import scipy.stats

    expected = scipy.stats.cramervonmises(np.linspace(-2.0, 2.0, 41), scipy.stats.norm.cdf).statistic
    assert abs(float(done.stdout.strip()) - expected) < 1e-10
