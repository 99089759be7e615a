"""``sketchtest.torch.sliced_loss`` / ``SlicedLoss``: any univariate test as a sliced loss.

The reference for every value is the library's own univariate test run by
NumPy on the projections (``getattr(sketchtest, test)(z @ A, axis=-2)``),
averaged over slices; ``1 - W`` for the Shapiro tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

torch = pytest.importorskip("torch")

import sketchtest as st  # noqa: E402
from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest._losses.sliced_loss import LOSS_STATISTICS  # noqa: E402
from support import loss_of_statistic  # noqa: E402
from sketchtest.torch import SlicedLoss, sigreg, sliced_loss  # noqa: E402

CASES = [(test, null) for test, entry in LOSS_STATISTICS.items() for null in entry.nulls]


def reference_loss(z, directions, test, null, **options):
    """Mean over slices of the NumPy univariate statistic (1 - W for the Shapiro tests)."""
    statistic = getattr(st, test)(z @ directions, axis=-2, null=null, **options).statistic
    return np.mean(loss_of_statistic(test, statistic), axis=-1)


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return 0.3 + 1.2 * rng.standard_normal(shape) + 0.2 * rng.exponential(size=shape)


@pytest.mark.parametrize(("test", "null"), CASES)
def test_value_equals_the_univariate_statistic_averaged_over_slices(test, null):
    z, directions = _data((2, 60, 5)), host_directions(5, 7, seed=1)
    value = sliced_loss(torch.asarray(z), test=test, null=null, directions=torch.asarray(directions))
    expected = reference_loss(z, directions, test, null)
    assert value.dtype == torch.float64 and value.shape == (2,)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_epps_pulley_options_and_sigreg():
    z, directions = _data((80, 4)), host_directions(4, 6, seed=2)
    value = sliced_loss(torch.asarray(z), directions=torch.asarray(directions), t_max=2.0, n_points=9)
    expected = reference_loss(z, directions, "epps_pulley", "standard", t_max=2.0, n_points=9)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12)
    same = sigreg(torch.asarray(z), directions=torch.asarray(directions), t_max=2.0, n_points=9)
    torch.testing.assert_close(value, same, rtol=1e-13, atol=0)


@pytest.mark.parametrize(("test", "null"), CASES)
def test_gradcheck_float64(test, null):
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(10, 3, dtype=torch.float64, generator=generator).requires_grad_()
    directions = torch.asarray(host_directions(3, 2, seed=3)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z, a: sliced_loss(z, test=test, null=null, directions=a / torch.linalg.vector_norm(a, dim=0)),
        (z, directions),
    )


@pytest.mark.parametrize(("test", "null"), CASES)
def test_float32_and_bfloat16_agree_with_float64(test, null):
    z, directions = _data((300, 6), seed=4), torch.asarray(host_directions(6, 8, seed=5))
    value64 = sliced_loss(torch.asarray(z), test=test, null=null, directions=directions)
    value32 = sliced_loss(torch.asarray(z).float(), test=test, null=null, directions=directions.float())
    assert value32.dtype == torch.float32
    torch.testing.assert_close(value32.double(), value64, rtol=2e-4, atol=1e-6)
    z16 = torch.asarray(z).bfloat16()
    value16 = sliced_loss(z16, test=test, null=null, directions=directions.float())
    # bfloat16 input: float32 projections and accumulation, a float32 result
    expected16 = sliced_loss(z16.float(), test=test, null=null, directions=directions.float())
    assert value16.dtype == torch.float32
    torch.testing.assert_close(value16, expected16, rtol=1e-6, atol=1e-7)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(test=hst.sampled_from(sorted(LOSS_STATISTICS)), seed=hst.integers(0, 2**32 - 1),
       n=hst.integers(8, 40), shift=hst.floats(-1e3, 1e3), scale=hst.floats(1e-3, 1e3),
       dtype=hst.sampled_from([torch.float64, torch.float32]))
def test_composite_null_loss_is_invariant_to_location_scale_and_order(test, seed, n, shift, scale, dtype):
    if "normal" not in LOSS_STATISTICS[test].nulls:
        return
    rng = np.random.default_rng(seed)
    z = torch.asarray(rng.standard_normal((n, 1)) + 0.3 * rng.exponential(size=(n, 1)), dtype=dtype)
    directions = torch.ones((1, 1), dtype=dtype)
    value = sliced_loss(z, test=test, null="normal", directions=directions)
    moved = sliced_loss(shift + scale * z[torch.randperm(n)], test=test, null="normal", directions=directions)
    assert torch.isfinite(value) and value >= 0
    tolerance = 1e-8 if dtype == torch.float64 else 2e-2
    torch.testing.assert_close(moved, value, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("test", ["epps_pulley", "cramer_von_mises", "jarque_bera", "shapiro_wilk"])
def test_constant_slices_give_a_large_finite_loss_under_the_composite_null(test):
    # A loss must not poison training: a collapsed batch is far from normal, not NaN.
    z = torch.ones((20, 3), dtype=torch.float64, requires_grad=True)
    collapsed = sliced_loss(z, test=test, null="normal", num_slices=4, seed=0)
    collapsed.backward()
    gaussian = torch.asarray(np.random.default_rng(0).standard_normal((20, 3)))
    assert torch.isfinite(collapsed) and torch.all(torch.isfinite(z.grad))
    assert collapsed > 5 * sliced_loss(gaussian, test=test, null="normal", num_slices=4, seed=0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda z: sliced_loss(z, test="lilliefors"), ValueError, "anderson_darling"),
        (lambda z: sliced_loss(z, test=None), ValueError, "`test`"),
        (lambda z: sliced_loss(z, test="shapiro_wilk", null="standard"), ValueError, "`null`"),
        (lambda z: sliced_loss(z, null="gaussian"), ValueError, "`null`"),
        (lambda z: sliced_loss(z, test="watson", t_max=2.0), TypeError, "t_max"),
        (lambda z: sliced_loss(z, method="exact"), TypeError, "method"),
        (lambda z: sliced_loss(z, n_points=1), ValueError, "n_points"),
        (lambda z: sliced_loss(z, num_slices=0), ValueError, "num_slices"),
        (lambda z: sliced_loss(z, distributed="yes"), TypeError, "distributed"),
        (lambda z: sliced_loss(z[:4], test="dagostino_pearson", null="normal"), ValueError, "at least 8"),
        (lambda z: sliced_loss(z[0]), ValueError, "`z`"),
        (lambda z: sliced_loss(z.numpy()), TypeError, "`z`"),
        (lambda z: sliced_loss(z.to(torch.complex64)), TypeError, "`z`"),
        (lambda z: sliced_loss(z, directions=torch.ones(3, 2)), ValueError, "directions"),
        (lambda z: SlicedLoss(test="kolmogorov", num_slices=8), ValueError, "`test`"),
        (lambda z: SlicedLoss(num_slices=8, form="exact"), TypeError, "form"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, match):
    z = torch.randn(16, 4)
    with pytest.raises(error, match=match):
        call(z)


def test_module_draws_fresh_directions_each_training_step():
    z = torch.asarray(_data((3, 64, 6))).float()
    module = SlicedLoss(test="watson", num_slices=16, null="normal")
    first, second = module(z), module(z)
    assert int(module.step) == 2 and not torch.equal(first, second)
    expected = sliced_loss(z, test="watson", num_slices=16, null="normal", seed=torch.tensor(1))
    torch.testing.assert_close(second, expected.mean())
    module.eval()
    module(z)
    assert int(module.step) == 2 and "step" in module.state_dict()
    assert "test='watson'" in repr(module)


def test_module_with_fixed_directions_and_options():
    z, directions = torch.asarray(_data((50, 4))), torch.asarray(host_directions(4, 5, seed=6))
    module = SlicedLoss(directions=directions, n_points=9)
    expected = sliced_loss(z, directions=directions, n_points=9)
    torch.testing.assert_close(module(z), expected)
    torch.testing.assert_close(module(z), expected)


def test_meta_device_keeps_device_shape_and_dtype():
    z = torch.empty(2, 64, 8, device="meta", requires_grad=True)
    for test in ("epps_pulley", "anderson_darling"):
        value = sliced_loss(z, test=test, num_slices=16, seed=0)
        assert (value.shape, value.device, value.dtype) == ((2,), torch.device("meta"), torch.float32)


@pytest.mark.slow
@pytest.mark.parametrize(("test", "null"), [("jarque_bera", "normal"), ("cramer_von_mises", "standard")])
def test_torch_compile_fullgraph_matches_eager(test, null):
    z = torch.asarray(_data((64, 6))).float().requires_grad_()
    module = SlicedLoss(test=test, null=null, num_slices=8)
    value = torch.compile(module, fullgraph=True)(z)
    (grad,) = torch.autograd.grad(value, z)
    eager = sliced_loss(z, test=test, null=null, num_slices=8, seed=0)
    (eager_grad,) = torch.autograd.grad(eager, z)
    torch.testing.assert_close(value, eager)
    torch.testing.assert_close(grad, eager_grad)


def test_a_registered_statistic_becomes_a_loss(monkeypatch):
    from sketchtest._losses import sliced_loss as _sliced_loss
    def mean_square(y, *, null, xp):  # a toy sort-free statistic: E[y^2] - 1
        return xp.mean(y * y, axis=-1) - 1.0

    entry = _sliced_loss.gather_statistic(mean_square, nulls=("standard",), min_samples={"standard": 1})
    monkeypatch.setitem(_sliced_loss.LOSS_STATISTICS, "mean_square", entry)
    z, directions = torch.asarray(_data((30, 3))), torch.asarray(host_directions(3, 4, seed=7))
    expected = ((z @ directions) ** 2).mean(0).mean() - 1.0
    torch.testing.assert_close(sliced_loss(z, test="mean_square", directions=directions), expected)
    with pytest.raises(TypeError, match="LossStatistic"):
        _sliced_loss.register_loss_statistic("bad", mean_square)
