"""The losses on every torch and JAX device: values and gradients against float64 on the host.

The other loss tests run on CPU tensors only; these take the ``backend``
fixture, so they run on ``torch:cuda`` and ``jax:gpu`` where a GPU is
present (on CUDA, ``sigreg`` goes through the Triton kernels) and on the
CPU backends everywhere. References: LeJEPA's formula with plain torch
autograd in float64 on the CPU (below, from the paper), and the NumPy
float64 univariate statistics averaged over slices (the definition of
``sliced_loss``; those statistics are checked against SciPy elsewhere).
"""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st
from sketchtest._losses.sigreg import host_directions
from support import loss_of_statistic, rtol_for, round_like

torch = pytest.importorskip("torch")

LOSS_CASES = [("epps_pulley", "standard"), ("epps_pulley", "normal"), ("cramer_von_mises", "normal"),
              ("jarque_bera", "normal")]


def _library(backend):
    name = backend.name.split(":")[0]
    if name not in ("torch", "jax"):
        pytest.skip(f"the losses are for torch and JAX, not {backend.name}")
    return name


def naive_sigreg_torch64(z, directions, t_max=3.0, n_points=17):
    """LeJEPA's formula with plain torch autograd, float64 (materializes the (..., N, K, T) angles)."""
    t = torch.linspace(0.0, t_max, n_points, dtype=torch.float64)
    step = t_max / (n_points - 1)
    weights = torch.full((n_points,), 2.0 * step, dtype=torch.float64)
    weights[[0, -1]] = step
    phi = torch.exp(-t.square() / 2.0)
    angles = (z @ directions).unsqueeze(-1) * t
    error = (angles.cos().mean(-3) - phi).square() + angles.sin().mean(-3).square()
    return ((error @ (weights * phi)) * z.shape[-2]).mean(-1)


def _value_and_gradient(library, function, z):
    """`function(z)` and the gradient of its sum with respect to `z`, in `library`."""
    if library == "torch":
        leaf = z.detach().clone().requires_grad_()
        value = function(leaf)
        (gradient,) = torch.autograd.grad(value.sum(), leaf)
        return value.detach(), gradient
    import jax

    def total_and_value(z):
        value = function(z)
        return value.sum(), value

    (_, value), gradient = jax.jit(jax.value_and_grad(total_and_value, has_aux=True))(z)
    return value, gradient


def _jit(function):
    import jax

    return jax.jit(function)


def _relative_error(got, expected):
    return float(np.linalg.norm(got - expected) / np.linalg.norm(expected))


def test_sigreg_value_and_gradient_match_float64_autograd(backend, dtype_name):
    library = _library(backend)
    rng = np.random.default_rng(0)
    z = round_like(rng.standard_normal((2, 300, 6)) * 1.3 + 0.2, dtype_name)
    directions = round_like(host_directions(6, 40, seed=1), dtype_name)
    z_ref = torch.asarray(z).requires_grad_()
    reference = naive_sigreg_torch64(z_ref, torch.asarray(directions))
    (gradient_ref,) = torch.autograd.grad(reference.sum(), z_ref)
    device_directions = backend.asarray(directions, dtype_name)
    if library == "torch":
        from sketchtest.torch import sigreg

        def loss(z):
            return sigreg(z, directions=device_directions, distributed=False)
    else:
        from sketchtest.jax import sigreg

        def loss(z):
            return sigreg(z, directions=device_directions)
    value, gradient = _value_and_gradient(library, loss, backend.asarray(z, dtype_name))
    np.testing.assert_allclose(backend.to_numpy(value), reference.detach().numpy(), rtol=rtol_for(dtype_name))
    # the gradient comes back in the input's dtype: bfloat16 rounds it (2**-8 relative)
    tolerance = 2.0**-7 if dtype_name == "bfloat16" else rtol_for(dtype_name)
    assert _relative_error(backend.to_numpy(gradient), gradient_ref.numpy()) < tolerance


@pytest.mark.parametrize(("test", "null"), LOSS_CASES)
def test_sliced_loss_equals_the_float64_statistics_averaged_over_slices(backend, dtype_name, test, null):
    library = _library(backend)
    rng = np.random.default_rng(2)
    z = round_like(0.3 + 1.2 * rng.standard_normal((2, 120, 5)), dtype_name)
    directions = round_like(host_directions(5, 7, seed=3), dtype_name)
    statistic = getattr(st, test)(z @ directions, axis=-2, null=null).statistic
    expected = np.mean(loss_of_statistic(test, statistic), axis=-1)
    if library == "torch":
        from sketchtest.torch import sliced_loss

        options = {"distributed": False}
    else:
        from sketchtest.jax import sliced_loss

        options = {}
    device_directions = backend.asarray(directions, dtype_name)

    def loss(z):
        return sliced_loss(z, test=test, null=null, directions=device_directions, **options)

    value = (loss if library == "torch" else _jit(loss))(backend.asarray(z, dtype_name))
    np.testing.assert_allclose(backend.to_numpy(value), expected, rtol=rtol_for(dtype_name), atol=1e-6)


def test_sigreg_module_draws_the_same_directions_on_every_torch_device(backend):
    """The SIGReg module's draws (a Triton kernel on CUDA) equal the host's, step after step."""
    if not backend.name.startswith("torch"):
        pytest.skip("the SIGReg module is torch's")
    from sketchtest.torch import SIGReg

    z = np.random.default_rng(4).standard_normal((256, 12))
    on_device, on_host = (SIGReg(num_slices=64, distributed=False).to(backend.device),
                           SIGReg(num_slices=64, distributed=False))
    for _ in range(2):
        value = on_device(backend.asarray(z, "float32"))
        expected = on_host(torch.asarray(z, dtype=torch.float32))
        assert value.device == backend.device
        np.testing.assert_allclose(backend.to_numpy(value), expected.numpy(), rtol=rtol_for("float32"))
    assert int(on_device.step) == int(on_host.step) == 2
