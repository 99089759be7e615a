"""``sketchtest.jax.sliced_loss``: value, gradient, jit, vmap, bfloat16, shard_map.

The reference for every value is the library's own univariate test run by
NumPy on the projections, averaged over slices (``1 - W`` for Shapiro).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import sketchtest as st  # noqa: E402
from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest._losses.sliced_loss import LOSS_STATISTICS  # noqa: E402
from support import loss_of_statistic  # noqa: E402
from sketchtest.jax import sigreg, sliced_loss  # noqa: E402

jax.config.update("jax_enable_x64", True)

CASES = [(test, null) for test, entry in LOSS_STATISTICS.items() for null in entry.nulls]


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return 0.3 + 1.2 * rng.standard_normal(shape) + 0.2 * rng.exponential(size=shape)


def _reference(z, directions, test, null):
    statistic = getattr(st, test)(z @ directions, axis=-2, null=null).statistic
    return np.mean(loss_of_statistic(test, statistic), axis=-1)


@pytest.mark.parametrize(("test", "null"), CASES)
def test_value_equals_the_univariate_statistic_averaged_under_jit_and_vmap(test, null):
    z, directions = _data((2, 60, 5)), host_directions(5, 7, seed=1)
    loss = jax.jit(lambda u: sliced_loss(u, test=test, null=null, directions=jnp.asarray(directions)))
    value = loss(jnp.asarray(z))
    assert value.dtype == jnp.float64 and value.shape == (2,)
    np.testing.assert_allclose(value, _reference(z, directions, test, null), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jax.vmap(loss)(jnp.asarray(z)[:, None]), value[:, None], rtol=1e-12)


@pytest.mark.parametrize(("test", "null"), CASES)
def test_gradient_matches_finite_differences(test, null):
    z = jnp.asarray(_data((10, 3), seed=2))
    directions = jnp.asarray(host_directions(3, 2, seed=3))
    check_grads(jax.jit(lambda u: sliced_loss(u, test=test, null=null, directions=directions)),
                (z,), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


def test_epps_pulley_standard_is_sigreg_and_key_draws_directions():
    z, key = jnp.asarray(_data((80, 4))), jax.random.key(3)
    np.testing.assert_allclose(sliced_loss(z, key=key, num_slices=8, n_points=9),
                               sigreg(z, key=key, num_slices=8, n_points=9), rtol=1e-13)


@pytest.mark.parametrize("test", ["epps_pulley", "anderson_darling", "shapiro_wilk"])
def test_bfloat16_is_computed_in_float32(test):
    null = "normal" if test == "shapiro_wilk" else "standard"
    z = jnp.asarray(_data((200, 4), seed=4), dtype=jnp.bfloat16)
    directions64 = jnp.asarray(host_directions(4, 6, seed=5))
    directions = directions64.astype(jnp.float32)
    value = sliced_loss(z, test=test, null=null, directions=directions)
    assert value.dtype == jnp.float32
    expected = sliced_loss(z.astype(jnp.float32), test=test, null=null, directions=directions)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    wide = sliced_loss(z.astype(jnp.float64), test=test, null=null, directions=directions64)
    np.testing.assert_allclose(value, wide, rtol=2e-4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(test="lilliefors"), ValueError, "anderson_darling"),
        (dict(test="dagostino_pearson"), ValueError, "`null`"),
        (dict(test="watson", n_points=9), TypeError, "n_points"),
        (dict(num_slices=0), ValueError, "num_slices"),
        (dict(key=None), ValueError, "key"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    arguments = dict(key=jax.random.key(0)) | kwargs
    with pytest.raises(error, match=match):
        sliced_loss(jnp.ones((16, 3)), **arguments)
    with pytest.raises(TypeError, match="`z`"):
        sliced_loss([[1.0, 2.0]], key=jax.random.key(0))


_SHARD_MAP_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import jax, jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P
    from sketchtest.jax import sliced_loss

    jax.config.update("jax_enable_x64", True)
    shard_map = jax.shard_map if hasattr(jax, "shard_map") else __import__(
        "jax.experimental.shard_map", fromlist=["shard_map"]).shard_map
    assert len(jax.devices()) == 2, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("d",))
    z = jnp.asarray(np.random.default_rng(0).standard_normal((3, 64, 5)) + 0.2)
    key = jax.random.key(1)
    cases = [("epps_pulley", "normal"), ("jarque_bera", "standard"), ("dagostino_pearson", "normal"),
             ("cramer_von_mises", "standard"), ("shapiro_francia", "normal")]
    for test, null in cases:
        options = dict(key=key, num_slices=16, test=test, null=null)
        single = lambda z: jnp.sum(sliced_loss(z, **options))
        local = lambda part: jnp.sum(sliced_loss(part, axis_name="d", **options))
        sharded = lambda z: shard_map(local, mesh=mesh, in_specs=P(None, "d"), out_specs=P())(z)
        value, grad = jax.value_and_grad(single)(z)
        value_sharded, grad_sharded = jax.jit(jax.value_and_grad(sharded))(z)
        np.testing.assert_allclose(value_sharded, value, rtol=1e-12)
        np.testing.assert_allclose(grad_sharded, grad, rtol=1e-10, atol=1e-15)
        print(f"{test}/{null}: |dloss| {abs(float(value_sharded - value)):.1e} "
              f"max |dgrad| {float(jnp.max(jnp.abs(grad_sharded - grad))):.1e}")
    halves = jnp.stack([z[:, :32], z[:, 32:]])
    for test, null in [("epps_pulley", "normal"), ("cramer_von_mises", "standard")]:
        options = dict(key=key, num_slices=16, test=test, null=null)
        mapped = jax.pmap(lambda part: sliced_loss(part, axis_name="d", **options), axis_name="d")(halves)
        np.testing.assert_allclose(mapped, jnp.stack([sliced_loss(z, **options)] * 2), rtol=1e-12)
    print("OK")
    """
)


def test_shard_map_and_pmap_over_two_host_devices_equal_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, "-c", _SHARD_MAP_SCRIPT], env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "OK" in completed.stdout
