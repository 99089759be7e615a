"""Losses that never kill a training run (issue 21): finite, accurate gradients on every finite batch.

Every ``sliced_loss`` test under both nulls (and ``sigreg``), on torch and
JAX. The reference for a float32 or bfloat16 gradient is the float64
gradient of the same loss at the very same (rounded) input; it is compared
only where float64's gradient is well-conditioned: it moves by under 0.5%
when the samples move by 4 float32 epsilons (the size of float32's own
rounding of ``z`` and ``z @ A``), and lies in float32's normal range.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as strategies  # noqa: E402

from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest._losses.sliced_loss import LOSS_STATISTICS  # noqa: E402
from sketchtest.torch import sigreg, sliced_loss  # noqa: E402

LOSSES = [("sigreg", "standard")] + [(test, null) for test, entry in LOSS_STATISTICS.items()
                                     for null in entry.nulls]
N, D, K = 64, 4, 8
FLOAT32_EPS = 2.0**-23


def _directions(dtype=torch.float64):
    host = host_directions(D, K, seed=1).astype(np.float32).astype(np.float64)
    return torch.asarray(host / np.linalg.norm(host, axis=0), dtype=dtype)


def _torch_loss(samples, test, null, dtype):
    """Value and gradient (float64 NumPy) of the loss at `samples` cast to `dtype`."""
    z = torch.asarray(samples, dtype=torch.float64).to(dtype).requires_grad_(True)
    directions = _directions(torch.float64 if dtype == torch.float64 else torch.float32)
    if test == "sigreg":
        value = sigreg(z, directions=directions)
    else:
        value = sliced_loss(z, test=test, null=null, directions=directions)
    (gradient,) = torch.autograd.grad(value, z)
    return float(value.detach().double()), gradient.double().numpy()


def _well_conditioned(samples, test, null, gradient64):
    noise = np.random.default_rng(1).uniform(-1.0, 1.0, samples.shape)
    _, moved = _torch_loss(samples * (1.0 + 4.0 * FLOAT32_EPS * noise), test, null, torch.float64)
    scale = np.max(np.abs(gradient64))
    return scale > 1e-30 and np.max(np.abs(moved - gradient64)) <= 5e-3 * scale


def _batch(kind, exponent, shift, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((N, D))
    if kind == "outlier":
        base[0] = 40.0 * base[0] / np.linalg.norm(base[0])
    elif kind == "ties":
        base = np.round(base, 1)
    elif kind == "half_zero":
        base[: N // 2] = 0.0
    elif kind == "all_equal":
        base = np.full((N, D), 0.7)
    elif kind == "rank1":
        base = np.outer(rng.standard_normal(N), rng.standard_normal(D))
    return 10.0**exponent * (base + shift)


#: The scales where the standard null's value fits float32: its statistics grow like a power of the
#: scale (Jarque-Bera like its 8th: 1e5 is 1e40 times the unit value, past float32's 3e38).
STANDARD_EXPONENTS = {"jarque_bera": (-20, 4)}
KINDS = ["gaussian", "outlier", "ties", "half_zero", "all_equal", "rank1"]
TIED = {"ties", "half_zero", "all_equal"}


def _exponents(test, null):
    if null == "normal":
        return (-20, 20)
    return STANDARD_EXPONENTS.get(test, (-20, 15))


def _check_batch(test, null, dtype, kind, exponent, shift, seed):
    """Finite value and gradient; within 1% of float64's gradient where that is well-conditioned."""
    samples = _batch(kind, exponent, shift, seed)
    samples = torch.asarray(samples).to(dtype).double().numpy()  # what the dtype holds
    value, gradient = _torch_loss(samples, test, null, dtype)
    assert math.isfinite(value) and np.all(np.isfinite(gradient)), (kind, exponent, shift)
    if kind in TIED or kind == "rank1":
        return  # a sort's gradient at ties depends on the tie order; rank-1: see the collapse test
    value64, gradient64 = _torch_loss(samples, test, null, torch.float64)
    if not _well_conditioned(samples, test, null, gradient64):
        return
    # bfloat16 gradients are rounded to bfloat16 (8 bits): 2^-8 relative
    tolerance = 1e-2 if dtype == torch.float32 else 1e-2 + 2.0**-8
    error = np.max(np.abs(gradient - gradient64)) / np.max(np.abs(gradient64))
    assert error <= tolerance, (kind, exponent, shift, error)
    assert value == pytest.approx(value64, rel=1e-2, abs=1e-4)


@pytest.mark.parametrize(("test", "null"), LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_every_finite_batch_gives_a_finite_loss_and_accurate_gradient(test, null, dtype):
    low, high = _exponents(test, null)

    @settings(max_examples=20, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(kind=strategies.sampled_from(KINDS), exponent=strategies.integers(low, high),
           shift=strategies.sampled_from([0.0, 1e2, 1e4] if null == "normal" else [0.0]),
           seed=strategies.integers(0, 2**16))
    def check(kind, exponent, shift, seed):
        _check_batch(test, null, dtype, kind, exponent, shift, seed)

    check()


@pytest.mark.slow
@pytest.mark.parametrize(("test", "null"), LOSSES)
def test_the_whole_grid_of_batches_in_float32(test, null):
    """Every kind, every fifth power of ten in range, every shift: the exhaustive version of the above."""
    low, high = _exponents(test, null)
    for kind in KINDS:
        for exponent in range(low, high + 1, 5):
            for shift in ([0.0, 1e2, 1e4] if null == "normal" else [0.0]):
                _check_batch(test, null, torch.float32, kind, exponent, shift, seed=exponent + 100)


@pytest.mark.parametrize(("test", "null"), LOSSES)
def test_a_collapsed_batch_gets_a_large_finite_loss_and_one_step_lowers_it(test, null):
    """Rank-1 embeddings (every sample on one line, plus 1e-3 noise): far from N(0, I)."""
    rng = np.random.default_rng(3)
    axis = rng.standard_normal(D)
    line = np.outer(rng.standard_normal(N), axis / np.linalg.norm(axis))
    collapsed = torch.asarray(line + 1e-3 * rng.standard_normal((N, D)), dtype=torch.float32)
    healthy = torch.asarray(rng.standard_normal((N, D)), dtype=torch.float32)
    directions = _directions(torch.float32)

    def loss(z):
        if test == "sigreg":
            return sigreg(z, directions=directions)
        return sliced_loss(z, test=test, null=null, directions=directions)

    z = collapsed.clone().requires_grad_(True)
    value = loss(z)
    (gradient,) = torch.autograd.grad(value, z)
    assert torch.isfinite(value) and torch.all(torch.isfinite(gradient))
    # The composite null is blind to a line of Gaussian samples, by design; Jarque-Bera's standard
    # null sees a shrunken sample only through m4 -> 0, which caps it at 9 N / 96.
    if null == "standard" and test != "jarque_bera":
        assert value > 2.0 * loss(healthy)
    step = 1e-3 / float(gradient.abs().max())  # moves no sample by more than 1e-3
    assert loss(collapsed - step * gradient) < value


@pytest.mark.parametrize("test", ["vasicek", "epps_pulley", "anderson_darling", "cramer_von_mises"])
@pytest.mark.parametrize("null", ["standard", "normal"])
def test_an_all_equal_batch_is_finite_and_the_standard_null_descends_from_it(test, null):
    z = torch.full((N, D), 0.7, dtype=torch.float32, requires_grad=True)
    value = sliced_loss(z, test=test, null=null, directions=_directions(torch.float32))
    (gradient,) = torch.autograd.grad(value, z)
    assert torch.isfinite(value) and torch.all(torch.isfinite(gradient))
    assert value > 1.0
    if null == "standard":
        moved = z.detach() - 1e-3 / float(gradient.abs().max()) * gradient
        assert sliced_loss(moved, test=test, null=null, directions=_directions(torch.float32)) < value


# ------------------------------------------------------------- the cases of issue 21, one by one


@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_vasicek_with_half_the_batch_at_zero_is_finite(null, dtype):
    samples = np.random.default_rng(0).standard_normal((64, 8))
    samples[:32] = 0.0
    z = torch.asarray(samples).to(dtype).requires_grad_(True)
    value = sliced_loss(z, test="vasicek", null=null, num_slices=16, seed=0)
    value.backward()
    assert torch.isfinite(value) and torch.all(torch.isfinite(z.grad))


def test_anderson_darling_float32_gradient_at_ten_thousand_sigma():
    samples = 1e4 * np.random.default_rng(0).standard_normal((256, 8))
    samples = samples.astype(np.float32).astype(np.float64)
    directions = torch.asarray(host_directions(8, 32, seed=0))
    gradients = []
    for dtype in (torch.float32, torch.float64):
        z = torch.asarray(samples, dtype=dtype, requires_grad=True)
        sliced_loss(z, test="anderson_darling", directions=directions.to(dtype)).backward()
        gradients.append(z.grad.double())
    error = float((gradients[0] - gradients[1]).abs().max() / gradients[1].abs().max())
    assert error < 1e-2  # was 4e7 with log_ndtr's own derivative
    z = torch.asarray(10.0 * samples, dtype=torch.float32, requires_grad=True)
    sliced_loss(z, test="anderson_darling", directions=directions.float()).backward()
    assert torch.all(torch.isfinite(z.grad))  # x1e5: 1336 non-finite entries before


@pytest.mark.parametrize("test", ["epps_pulley", "jarque_bera", "kurtosis_test", "anderson_darling"])
@pytest.mark.parametrize("scale", [1e-25, 1e-20, 1e19, 1e20])
def test_composite_null_losses_are_scale_invariant_in_float32(test, scale):
    samples = np.random.default_rng(0).standard_normal((256, 8))
    directions = torch.asarray(host_directions(8, 16, seed=0), dtype=torch.float32)
    unit = sliced_loss(torch.asarray(samples, dtype=torch.float32), test=test, null="normal",
                       directions=directions)
    z = torch.asarray(scale * samples, dtype=torch.float32, requires_grad=True)
    value = sliced_loss(z, test=test, null="normal", directions=directions)
    value.backward()
    assert torch.all(torch.isfinite(z.grad)) and bool(torch.any(z.grad != 0))
    torch.testing.assert_close(value, unit, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------- JAX


@pytest.fixture(scope="module")
def jax_losses():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import sketchtest.jax as st_jax

    return jax, st_jax


@pytest.mark.parametrize(("test", "null"), [("anderson_darling", "normal"), ("anderson_darling", "standard"),
                                            ("vasicek", "standard"), ("vasicek", "normal"),
                                            ("epps_pulley", "normal"), ("kurtosis_test", "normal")])
@pytest.mark.parametrize("case", ["x1e-20", "x1e4", "half_zero", "all_equal"])
def test_jax_losses_are_finite_and_accurate(jax_losses, test, null, case):
    jax, st_jax = jax_losses
    import jax.numpy as jnp

    samples = np.random.default_rng(0).standard_normal((128, 8))
    conditioned = case.startswith("x")
    if conditioned:
        samples = float(case[1:]) * samples
    elif case == "half_zero":
        samples[:64] = 0.0
    else:
        samples = np.full_like(samples, 0.7)
    samples = samples.astype(np.float32).astype(np.float64)
    directions = host_directions(8, 16, seed=0).astype(np.float32).astype(np.float64)
    directions = directions / np.linalg.norm(directions, axis=0)

    def gradient(dtype):
        loss = lambda z: st_jax.sliced_loss(z, test=test, null=null,  # noqa: E731
                                            directions=jnp.asarray(directions, dtype=dtype))
        value, grad = jax.value_and_grad(loss)(jnp.asarray(samples, dtype=dtype))
        return float(value), np.asarray(grad, dtype=np.float64)

    value, grad32 = gradient(jnp.float32)
    assert math.isfinite(value) and np.all(np.isfinite(grad32))
    if conditioned and not (null == "standard" and case == "x1e-20"):  # there the gradient underflows
        _, grad64 = gradient(jnp.float64)
        assert np.max(np.abs(grad32 - grad64)) <= 1e-2 * np.max(np.abs(grad64))


def test_jax_names_the_loss_that_needs_directions(jax_losses):
    _, st_jax = jax_losses
    import jax.numpy as jnp

    z = jnp.zeros((16, 3))
    with pytest.raises(ValueError, match=r"sliced_loss\(test='anderson_darling'\) needs directions"):
        st_jax.sliced_loss(z, test="anderson_darling")
    with pytest.raises(ValueError, match="sigreg needs directions"):
        st_jax.sigreg(z)


# ------------------------------------------------------------- streaming


def test_streaming_update_keeps_no_autograd_graph():
    import sketchtest as st

    weights = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    accumulator = st.SlicedEppsPulley(num_slices=16, seed=0)
    for step in range(3):
        batch = torch.randn(32, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(step)) @ weights
        assert batch.requires_grad
        accumulator.update(batch)
    for name, value in vars(accumulator).items():
        if isinstance(value, torch.Tensor):  # the O(K T) state holds no graph (nothing to keep alive)
            assert not value.requires_grad and value.grad_fn is None, name
    assert tuple(accumulator.cos_sum.shape) == (16, 17)
    result = accumulator.result()
    assert math.isfinite(float(result.statistic))
