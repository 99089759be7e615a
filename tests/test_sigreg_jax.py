"""``sketchtest.jax``: value and gradient, jit, vmap, bfloat16, the LeJEPA loss, shard_map."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import sketchtest as st  # noqa: E402
from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest.jax import lejepa_loss, sigreg  # noqa: E402

jax.config.update("jax_enable_x64", True)


def naive_sigreg(z, directions, t_max=3.0, n_points=17):
    """LeJEPA's formula in plain jax.numpy (autodiff keeps the (..., N, K, T) angles)."""
    t = jnp.linspace(0.0, t_max, n_points, dtype=z.dtype)
    step = t_max / (n_points - 1)
    weights = jnp.full((n_points,), 2.0 * step, dtype=z.dtype).at[jnp.array([0, n_points - 1])].set(step)
    phi = jnp.exp(-(t**2) / 2.0)
    angles = (z @ directions)[..., None] * t
    error = (jnp.cos(angles).mean(-3) - phi) ** 2 + jnp.sin(angles).mean(-3) ** 2
    return ((error @ (weights * phi)) * z.shape[-2]).mean(-1)


def _data(shape, seed=0, scale=1.0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)


def test_value_and_gradient_equal_autodiff_of_the_naive_formula():
    z = _data((2, 150, 6), scale=1.3)
    directions = jnp.asarray(host_directions(6, 20, seed=1))

    def ours(z, a):
        return jnp.sum(sigreg(z, directions=a))

    def reference(z, a):
        return jnp.sum(naive_sigreg(z, a))

    value, grads = jax.value_and_grad(ours, argnums=(0, 1))(z, directions)
    value_ref, grads_ref = jax.value_and_grad(reference, argnums=(0, 1))(z, directions)
    np.testing.assert_allclose(value, value_ref, rtol=1e-12)
    for grad, grad_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-14)


def test_jit_and_vmap_agree_with_eager():
    z = _data((3, 100, 4))
    directions = jnp.asarray(host_directions(4, 12, seed=0))
    eager = sigreg(z, directions=directions)
    jitted = jax.jit(lambda u: sigreg(u, directions=directions))(z)
    mapped = jax.vmap(lambda u: sigreg(u, directions=directions))(z)
    mapped_grad = jax.vmap(jax.grad(lambda u: sigreg(u, directions=directions)))(z)
    np.testing.assert_allclose(jitted, eager, rtol=1e-12)
    np.testing.assert_allclose(mapped, eager, rtol=1e-12)
    np.testing.assert_allclose(mapped_grad, jax.grad(lambda u: jnp.sum(sigreg(u, directions=directions)))(z),
                               rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(eager, st.sigreg(np.asarray(z), directions=np.asarray(directions)), rtol=1e-12)


def test_key_draws_unit_directions_and_is_reproducible():
    z = _data((200, 5))
    key = jax.random.key(3)
    gaussian = jax.random.normal(key, (5, 16), dtype=jnp.float64)
    expected = naive_sigreg(z, gaussian / jnp.linalg.norm(gaussian, axis=0))
    np.testing.assert_allclose(sigreg(z, key=key, num_slices=16), expected, rtol=1e-12)
    assert float(sigreg(z, key=jax.random.key(4), num_slices=16)) != float(expected)


def test_bfloat16_is_computed_in_float32():
    z = _data((500, 8)).astype(jnp.bfloat16)
    directions = jnp.asarray(host_directions(8, 32, seed=0)).astype(jnp.bfloat16)
    value = sigreg(z, directions=directions)
    assert value.dtype == jnp.float32
    reference = naive_sigreg(z.astype(jnp.float64), directions.astype(jnp.float64))
    assert abs(float(value) / float(reference) - 1) < 1e-5
    grad = jax.grad(lambda u: sigreg(u, directions=directions))(z)
    assert grad.dtype == jnp.bfloat16


def test_lejepa_loss_matches_its_definition():
    views = _data((3, 80, 5), seed=2)
    directions = jnp.asarray(host_directions(5, 8, seed=0))
    out = jax.jit(lambda v: lejepa_loss(v, directions=directions, num_global_views=1, lamb=0.2))(views)
    host = np.asarray(views)
    invariance = ((host[:1].mean(axis=0) - host) ** 2).mean()
    sigreg_mean = st.sigreg(host, directions=np.asarray(directions)).mean()
    np.testing.assert_allclose(out.invariance, invariance, rtol=1e-12)
    np.testing.assert_allclose(out.loss, 0.2 * sigreg_mean + 0.8 * invariance, rtol=1e-12)
    assert jax.grad(lambda v: lejepa_loss(v, key=jax.random.key(0)).loss)(views).shape == views.shape


def test_bad_input_raises():
    with pytest.raises(ValueError, match="key"):
        sigreg(_data((10, 2)))
    with pytest.raises(ValueError, match="directions"):
        sigreg(_data((10, 2)), directions=jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="z"):
        sigreg(_data((10,)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="num_global_views"):
        lejepa_loss(_data((2, 10, 2)), key=jax.random.key(0), num_global_views=3)


_SHARD_MAP_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import jax, jax.numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P
    from sketchtest.jax import sigreg

    jax.config.update("jax_enable_x64", True)
    if hasattr(jax, "shard_map"):
        shard_map = jax.shard_map
    else:  # jax < 0.7
        from jax.experimental.shard_map import shard_map
    assert len(jax.devices()) == 2, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("d",))
    z = jnp.asarray(np.random.default_rng(0).standard_normal((3, 64, 5)))
    key = jax.random.key(1)

    def single(z):
        return jnp.sum(sigreg(z, key=key, num_slices=16))

    def sharded(z):
        local = lambda part: jnp.sum(sigreg(part, key=key, num_slices=16, axis_name="d"))
        return shard_map(local, mesh=mesh, in_specs=P(None, "d"), out_specs=P())(z)

    value, grad = jax.value_and_grad(single)(z)
    value_sharded, grad_sharded = jax.jit(jax.value_and_grad(sharded))(z)
    np.testing.assert_allclose(value_sharded, value, rtol=1e-12)
    np.testing.assert_allclose(grad_sharded, grad, rtol=1e-10, atol=1e-15)
    halves = jnp.stack([z[:, :32], z[:, 32:]])
    mapped = jax.pmap(lambda part: sigreg(part, key=key, num_slices=16, axis_name="d"), axis_name="d")(halves)
    np.testing.assert_allclose(mapped[0], sigreg(z, key=key, num_slices=16), rtol=1e-12)
    print("OK", float(value))
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


def test_blocks_of_slices_with_padding_change_nothing(monkeypatch):
    import sketchtest_backends.jax as backend

    z = _data((2, 120, 5))
    directions = jnp.asarray(host_directions(5, 13, seed=0))
    whole, whole_grad = jax.value_and_grad(lambda u: jnp.sum(sigreg(u, directions=directions)))(z)
    monkeypatch.setattr(backend, "_SLICE_CHUNK_ELEMENTS", 120 * 4)  # blocks of 4 slices, 3 padded
    blocked, blocked_grad = jax.value_and_grad(lambda u: jnp.sum(sigreg(u, directions=directions)))(z)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13)
    np.testing.assert_allclose(blocked_grad, whole_grad, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(whole, np.sum(naive_sigreg(z, directions)), rtol=1e-12)


def test_compiled_gradient_holds_far_less_memory_than_the_naive_one():
    z = jnp.zeros((1024, 16), dtype=jnp.float32)
    directions = jnp.asarray(host_directions(16, 256, seed=0), dtype=jnp.float32)

    def footprint(function):
        compiled = jax.jit(jax.value_and_grad(function)).lower(z, directions).compile()
        memory = compiled.memory_analysis()
        return memory.temp_size_in_bytes + memory.output_size_in_bytes

    ours = footprint(lambda u, a: sigreg(u, directions=a))
    naive = footprint(naive_sigreg)
    # XLA's own accounting: the naive gradient keeps (N, K, T) arrays, ours (N, K) ones.
    assert ours * 8 < naive, (ours, naive)
