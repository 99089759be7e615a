"""JAX without x64 (its default): no warning from sketchtest, results in float32.

Asking JAX for ``int64`` or ``float64`` without ``jax_enable_x64`` warns on
every call ("Explicitly requested dtype int64 requested in astype is not
available...") and truncates. Index arrays use the namespace's default index
dtype (``sketchtest._compat.index_dtype``). The test suite enables x64 at
import (``support.py``), so the check runs in a fresh interpreter with
``JAX_ENABLE_X64=0`` and every warning recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

SCRIPT = textwrap.dedent("""
    import sys
    import warnings

    import jax
    import jax.numpy as jnp
    import numpy as np

    import sketchtest as st
    from sketchtest.jax import lejepa_loss, sigreg

    assert not jax.config.jax_enable_x64
    values = np.random.default_rng(0).standard_normal((60, 3))
    x = jnp.asarray(values, dtype=jnp.float32)
    integers = jnp.asarray(np.round(3 * values), dtype=jnp.int32)
    key = jax.random.key(0)
    calls = {
        "sliced_test": lambda a: st.sliced_test(a, num_slices=8, seed=0).pvalue,
        "sliced_test-ad": lambda a: st.sliced_test(a, "anderson_darling", num_slices=8, seed=0).pvalue,
        "SlicedEppsPulley": lambda a: st.SlicedEppsPulley(num_slices=8, seed=0).update(a).result().pvalue,
        "sigreg": lambda a: st.sigreg(a, num_slices=8, seed=0),
        "jax.sigreg": lambda a: sigreg(a, key=key, num_slices=8),
        "jax.lejepa_loss": lambda a: lejepa_loss(a[None].reshape(3, 20, 3), key=key, num_slices=8).loss,
    }
    for name in ("cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "epps_pulley",
                 "jarque_bera", "vasicek"):
        for null in ("standard", "normal"):
            calls[f"{name}-{null}"] = lambda a, f=getattr(st, name), null=null: f(a, null=null).pvalue
    for name in ("dagostino_pearson", "shapiro_wilk", "shapiro_francia", "henze_zirkler", "bhep", "mardia",
                 "skewness_test", "kurtosis_test"):
        calls[name] = lambda a, f=getattr(st, name): f(a).pvalue
    if hasattr(st, "normality_test"):
        calls["normality_test"] = lambda a: st.normality_test(a, seed=0, num_slices=8).pvalue
    with_integers = {"sigreg", "jax.sigreg", "cramer_von_mises-standard", "sliced_test"}
    chosen = set(sys.argv[1:]) or set(calls)
    seen = []
    for name, call in calls.items():
        if name not in chosen:
            continue
        for data in (x, integers) if name in with_integers else (x,):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call(data)
            seen += [f"{name} ({data.dtype}): {w.category.__name__}: {w.message}" for w in caught]
            if result.dtype != jnp.float32:
                seen.append(f"{name} ({data.dtype}): result dtype {result.dtype}, expected float32")
    print("\\n".join(seen) if seen else "clean")
""")


#: The paths that index interpolation tables (the EDF and sliced nulls) and the losses.
CORE = ("cramer_von_mises-standard", "sliced_test", "SlicedEppsPulley", "sigreg", "jax.sigreg")


def run_without_x64(names=()):
    environment = {**os.environ, "JAX_ENABLE_X64": "0", "OMP_NUM_THREADS": "1"}
    environment.pop("XLA_FLAGS", None)
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True, env=environment, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "clean", completed.stdout


def test_no_warning_and_float32_results_without_x64():
    run_without_x64(CORE)


@pytest.mark.slow
def test_every_public_function_without_x64():
    run_without_x64()
