"""``sketchtest.torch``: gradients, memory-lean saving, bfloat16, the modules, torch.compile."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sketchtest as st  # noqa: E402
import sketchtest_backends.torch as backend  # noqa: E402
from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest.torch import LeJEPALoss, SIGReg, lejepa_loss, sigreg  # noqa: E402


def naive_sigreg(z, directions, t_max=3.0, n_points=17):
    """LeJEPA's formula with plain torch autograd (materializes the (..., N, K, T) angles)."""
    t = torch.linspace(0.0, t_max, n_points, dtype=z.dtype)
    step = t_max / (n_points - 1)
    weights = torch.full((n_points,), 2.0 * step, dtype=z.dtype)
    weights[[0, -1]] = step
    phi = torch.exp(-t.square() / 2.0)
    angles = (z @ directions).unsqueeze(-1) * t
    error = (angles.cos().mean(-3) - phi).square() + angles.sin().mean(-3).square()
    return ((error @ (weights * phi)) * z.shape[-2]).mean(-1)


def _data(shape, seed=0, scale=1.0):
    return torch.asarray(np.random.default_rng(seed).standard_normal(shape) * scale)


def test_value_and_gradient_equal_autograd_of_the_naive_formula():
    z = _data((2, 200, 6), scale=1.4).requires_grad_()
    directions = torch.asarray(host_directions(6, 40, seed=1)).requires_grad_()
    value = sigreg(z, directions=directions)
    grads = torch.autograd.grad(value.sum(), (z, directions))
    z_ref = z.detach().clone().requires_grad_()
    directions_ref = directions.detach().clone().requires_grad_()
    reference = naive_sigreg(z_ref, directions_ref)
    grads_ref = torch.autograd.grad(reference.sum(), (z_ref, directions_ref))
    torch.testing.assert_close(value, reference, rtol=1e-12, atol=0)
    for grad, grad_ref in zip(grads, grads_ref):
        torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)


def test_gradcheck_of_the_trig_sums_in_float64():
    projections = _data((9, 4), scale=1.5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda p: backend.trig_sums(p, knot_step=0.3, n_points=6), (projections,)
    )


def test_chunking_over_slices_changes_nothing(monkeypatch):
    z = _data((300, 5)).requires_grad_()
    directions = torch.asarray(host_directions(5, 33, seed=2))
    whole = sigreg(z, directions=directions)
    (grad_whole,) = torch.autograd.grad(whole, z)
    monkeypatch.setattr(backend, "_SLICE_CHUNK_ELEMENTS", 300 * 4)  # chunks of 4 slices
    assert len(backend._slice_chunks(300, 33)) == 9
    chunked = sigreg(z, directions=directions)
    (grad_chunked,) = torch.autograd.grad(chunked, z)
    torch.testing.assert_close(chunked, whole, rtol=1e-13, atol=0)
    torch.testing.assert_close(grad_chunked, grad_whole, rtol=1e-12, atol=1e-15)


def test_autograd_saves_only_the_projections_and_the_matmul_inputs():
    n, d, k = 512, 16, 64
    z = _data((n, d)).float().requires_grad_()
    saved_bytes = []

    def pack(tensor):
        saved_bytes.append(tensor.numel() * tensor.element_size())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        sigreg(z, num_slices=k, seed=0)
    # z (N, D) and A (D, K) for the matmul, the projections (N, K), a few (T, K) sums.
    budget = 4 * (n * d + d * k + n * k) + 4 * 8 * 17 * k
    assert sum(saved_bytes) <= budget
    naive_saved = []
    with torch.autograd.graph.saved_tensors_hooks(
        lambda t: naive_saved.append(t.numel() * t.element_size()) or t, lambda t: t
    ):
        naive_sigreg(z, torch.asarray(host_directions(d, k, seed=0)).float())
    assert sum(naive_saved) > 10 * budget


def test_bfloat16_input_is_computed_in_float32():
    z64 = _data((1000, 8))
    directions = torch.asarray(host_directions(8, 64, seed=0))
    z16 = z64.to(torch.bfloat16).requires_grad_()
    value = sigreg(z16, directions=directions.to(torch.bfloat16))
    assert value.dtype == torch.float32
    reference = naive_sigreg(z16.detach().double(), directions.to(torch.bfloat16).double())
    # float32 trigonometry and accumulation on the bfloat16 data: relative error ~1e-6.
    assert abs(float(value) / float(reference) - 1) < 1e-5
    value.backward()
    assert z16.grad.dtype == torch.bfloat16


def test_autocast_bfloat16_error_is_about_1e_3():
    z = _data((2000, 32)).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = sigreg(z, num_slices=128, seed=3)
    exact = sigreg(z.double(), num_slices=128, seed=3)
    assert value.dtype == torch.float32
    # The autocast matmul rounds the projections to bfloat16 (spacing 2^-8 relative);
    # with float32 accumulation the loss stays within a few 1e-3 (a bfloat16 running
    # sum of N=2000 cosines would lose everything).
    assert abs(float(value) / float(exact) - 1) < 1e-2


def test_counter_normal_is_standard_normal_and_reproducible():
    scipy_stats = pytest.importorskip("scipy.stats")
    draws = backend.counter_normal((50_000,), seed=7)
    assert scipy_stats.kstest(draws.numpy(), "norm").pvalue > 1e-3
    assert scipy_stats.kstest(backend.counter_normal((50_000,), seed=8).numpy(), "norm").pvalue > 1e-3
    torch.testing.assert_close(backend.counter_normal((3, 4), seed=torch.tensor(7)),
                               draws[:12].reshape(3, 4))
    other = backend.counter_normal((50_000,), seed=8)
    assert abs(np.corrcoef(draws.numpy(), other.numpy())[0, 1]) < 0.02
    assert backend.counter_normal((2, 2), seed=1, dtype=torch.float64).dtype == torch.float64


def test_module_draws_fresh_directions_from_its_step_counter():
    z = _data((256, 8)).float()
    module = SIGReg(num_slices=32)
    first, second = module(z), module(z)
    assert int(module.step) == 2 and "step" in module.state_dict()
    torch.testing.assert_close(first, sigreg(z, num_slices=32, seed=0))
    torch.testing.assert_close(second, sigreg(z, num_slices=32, seed=1))
    module.eval()
    module(z)
    assert int(module.step) == 2
    batched = module(torch.stack([z, 2 * z]))
    torch.testing.assert_close(batched, sigreg(torch.stack([z, 2 * z]), num_slices=32, seed=2).mean())


def test_module_with_fixed_directions():
    z = _data((128, 4))
    directions = torch.asarray(host_directions(4, 8, seed=0))
    module = SIGReg(directions=directions)
    torch.testing.assert_close(module(z), torch.asarray(st.sigreg(z.numpy(), directions=directions.numpy())))
    assert "directions" in module.state_dict()


def test_lejepa_loss_matches_its_definition():
    views = _data((4, 100, 6), seed=3)
    directions = torch.asarray(host_directions(6, 16, seed=0))
    out = lejepa_loss(views, directions=directions, num_global_views=2, lamb=0.3)
    numpy_views = views.numpy()
    centers = numpy_views[:2].mean(axis=0)
    invariance = ((centers - numpy_views) ** 2).mean()
    sigreg_mean = st.sigreg(numpy_views, directions=directions.numpy()).mean()
    np.testing.assert_allclose(float(out.invariance), invariance, rtol=1e-12)
    np.testing.assert_allclose(float(out.sigreg), sigreg_mean, rtol=1e-12)
    np.testing.assert_allclose(float(out.loss), 0.3 * sigreg_mean + 0.7 * invariance, rtol=1e-12)
    module = LeJEPALoss(num_slices=16, lamb=0.3)
    module_out = module(views)
    torch.testing.assert_close(module_out.sigreg, lejepa_loss(views, seed=0, num_slices=16).sigreg)
    assert int(module.sigreg.step) == 1


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: sigreg(torch.zeros(5)), ValueError),
        (lambda: sigreg(np.zeros((5, 2))), TypeError),
        (lambda: sigreg(torch.zeros(5, 2), directions=torch.zeros(3, 2)), ValueError),
        (lambda: sigreg(torch.zeros(5, 2), seed=torch.tensor(1.5)), TypeError),
        (lambda: sigreg(torch.zeros(5, 2), n_points=1), ValueError),
        (lambda: lejepa_loss(torch.zeros(5, 2)), ValueError),
        (lambda: lejepa_loss(torch.zeros(2, 5, 2), num_global_views=3), ValueError),
        (lambda: lejepa_loss(torch.zeros(2, 5, 2), lamb=1.5), ValueError),
        (lambda: SIGReg(num_slices=0), ValueError),
        (lambda: LeJEPALoss(lamb=-0.1), ValueError),
    ],
)
def test_bad_input_raises(call, error):
    with pytest.raises(error):
        call()


def test_torch_compile_fullgraph_matches_eager():
    z = _data((128, 8)).float().requires_grad_()
    module = SIGReg(num_slices=16, n_points=5)
    compiled = torch.compile(module, fullgraph=True)
    value = compiled(z)
    (grad,) = torch.autograd.grad(value, z)
    eager_value = sigreg(z, num_slices=16, seed=0, n_points=5)
    (eager_grad,) = torch.autograd.grad(eager_value, z)
    torch.testing.assert_close(value, eager_value)
    torch.testing.assert_close(grad, eager_grad)
    assert int(module.step) == 1


def test_meta_device_keeps_device_shape_and_dtype():
    z = torch.empty(3, 64, 8, device="meta", requires_grad=True)
    value = sigreg(z, num_slices=16, seed=0)
    assert (value.shape, value.device, value.dtype) == (torch.Size([3]), torch.device("meta"), torch.float32)
    value.sum().backward()
    assert z.grad.device == torch.device("meta") and z.grad.shape == z.shape


def test_state_dict_restores_the_step_and_so_the_directions():
    z = _data((128, 6)).float()
    trained = SIGReg(num_slices=8)
    for _ in range(3):
        trained(z)
    restored = SIGReg(num_slices=8)
    restored.load_state_dict(trained.state_dict())
    torch.testing.assert_close(restored(z), trained(z))
    torch.testing.assert_close(restored(z), sigreg(z, num_slices=8, seed=4))


def test_counter_normal_draws_do_not_depend_on_the_chunking(monkeypatch):
    whole = backend.counter_normal((7, 9), seed=torch.tensor(5))
    monkeypatch.setattr(backend, "_PAIRS_PER_CHUNK", 4)  # 63 draws: 32 pairs in 8 chunks
    torch.testing.assert_close(backend.counter_normal((7, 9), seed=5), whole, rtol=0, atol=0)
    assert torch.equal(backend.counter_normal((3,), seed=5), whole.reshape(-1)[:3])
