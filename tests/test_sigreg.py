"""``sketchtest.sigreg`` on every backend: LeJEPA's value, shapes, dtypes, devices, errors."""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st
from sketchtest._losses.sigreg import expected_value, host_directions
from support import rtol_for, round_like


def naive_sigreg(z, directions, t_max=3.0, n_points=17):
    """LeJEPA's reference formula, written from the paper in float64 NumPy.

    mean_k N sum_j w_j [(mean_n cos(t_j p) - exp(-t_j^2/2))^2 + (mean_n sin(t_j p))^2],
    t = linspace(0, t_max, T), w = trapezoid weights doubled (dt inside, dt/2... x2) * exp(-t^2/2).
    """
    t = np.linspace(0.0, t_max, n_points)
    step = t_max / (n_points - 1)
    weights = np.full(n_points, 2.0 * step)
    weights[[0, -1]] = step
    phi = np.exp(-(t**2) / 2.0)
    weights = weights * phi
    angles = (z @ directions)[..., None] * t  # (..., N, K, T)
    error = (np.cos(angles).mean(axis=-3) - phi) ** 2 + np.sin(angles).mean(axis=-3) ** 2
    return (error @ weights * z.shape[-2]).mean(axis=-1)


def test_expected_value_under_the_null_is_the_published_constant():
    # 1.0525 for t_max=3, n_points=17 (the issue and LeJEPA's defaults); the closed form
    # E = sum_j w_j (1 - exp(-t_j^2)) follows from E|ecf - phi|^2 = (1 - phi(t)^2) / N.
    assert expected_value() == pytest.approx(1.0525, abs=5e-5)


def test_mean_under_the_null_matches_expectation_whatever_n():
    rng = np.random.default_rng(1)
    for n in (16, 400):
        z = rng.standard_normal((64, n, 6))
        values = st.sigreg(z, num_slices=32, seed=2)
        # 64 independent batches x 32 slices; the per-batch mean has sd about 0.25.
        assert np.mean(values) == pytest.approx(1.0525, abs=0.12)


def test_equals_reference_formula_on_every_backend(backend, dtype_name):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 300, 7)) * 1.3 + 0.2
    directions = host_directions(7, 24, seed=3)
    expected = naive_sigreg(round_like(z, dtype_name), round_like(directions, dtype_name))
    result = st.sigreg(backend.asarray(z, dtype_name), directions=backend.asarray(directions, dtype_name))
    np.testing.assert_allclose(backend.to_numpy(result), expected, rtol=rtol_for(dtype_name))


def test_dtype_device_and_namespace_follow_the_input(backend, dtype_name):
    z = backend.asarray(np.random.default_rng(0).standard_normal((50, 3)), dtype_name)
    result = st.sigreg(z, num_slices=8, seed=0)
    xp = backend.xp
    assert result.shape == ()
    expected_dtype = xp.float64 if dtype_name == "float64" else xp.float32
    assert result.dtype == expected_dtype
    from sketchtest._compat import device

    assert device(result) == device(z)


def test_seed_gives_the_same_directions_on_every_backend(backend):
    z = np.random.default_rng(5).standard_normal((3, 64, 5))
    expected = naive_sigreg(z, host_directions(5, 16, seed=11))
    result = st.sigreg(backend.asarray(z), num_slices=16, seed=11)
    rtol = rtol_for("float64" if backend.float64 else "float32")
    np.testing.assert_allclose(backend.to_numpy(result), expected, rtol=rtol)
    assert result.shape == (3,)


def test_host_directions_are_unit_gaussian_columns():
    directions = host_directions(6, 5, seed=0)
    gaussian = np.random.default_rng(0).standard_normal((6, 5))
    np.testing.assert_allclose(directions, gaussian / np.linalg.norm(gaussian, axis=0))


def test_detects_non_gaussian_data():
    rng = np.random.default_rng(2)
    uniform = rng.uniform(-np.sqrt(3), np.sqrt(3), size=(4000, 8))  # variance 1, not Gaussian
    assert st.sigreg(uniform, seed=0) > 3 * expected_value()
    assert st.sigreg(rng.standard_normal((4000, 8)), seed=0) < 2 * expected_value()


def test_integer_input_becomes_float():
    z = np.arange(40).reshape(20, 2) % 5 - 2
    expected = naive_sigreg(z.astype(np.float64), host_directions(2, 4, seed=0))
    np.testing.assert_allclose(st.sigreg(z, num_slices=4, seed=0), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"num_slices": 0}, ValueError, "num_slices"),
        ({"num_slices": 2.5}, TypeError, "num_slices"),
        ({"t_max": -1.0}, ValueError, "t_max"),
        ({"n_points": 1}, ValueError, "n_points"),
        ({"seed": -3}, ValueError, "seed"),
        ({"directions": np.ones((4, 2))}, ValueError, "directions"),
        ({"directions": np.ones(3)}, ValueError, "directions"),
        ({"directions": np.ones((3, 2), dtype=complex)}, TypeError, "directions"),
    ],
)
def test_bad_options_raise_naming_the_argument(options, error, match):
    with pytest.raises(error, match=match):
        st.sigreg(np.zeros((10, 3)), **options)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="z"):
        st.sigreg(np.zeros(10))
    with pytest.raises(TypeError, match="z"):
        st.sigreg(np.zeros((10, 3), dtype=complex))
    with pytest.raises(TypeError, match="z"):
        st.sigreg("not an array")


def test_directions_of_another_library_raise():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="directions"):
        st.sigreg(torch.zeros(10, 3), directions=np.ones((3, 2)))


def test_directions_on_another_device_raise():
    xs = pytest.importorskip("array_api_strict")
    z = xs.asarray(np.zeros((10, 3)), device=xs.Device("CPU_DEVICE"))
    directions = xs.asarray(np.ones((3, 2)) / np.sqrt(3.0), device=xs.Device("device1"))  # unit columns
    with pytest.raises(ValueError, match="device"):
        st.sigreg(z, directions=directions)
