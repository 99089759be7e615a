"""Bad inputs to the sliced and multivariate tests raise naming the argument, or give NaN.

Properties, over every backend:

- ``directions`` that are not finite unit columns (zero, non-unit, NaN,
  infinite, complex, object) raise in every entry point that takes them, and
  unit columns rounded to any float dtype are accepted;
- ``nan_policy`` of ``sliced_test``, ``SlicedEppsPulley``,
  ``henze_zirkler``, ``bhep`` and ``mardia``: NaN and infinities at random
  positions raise (``"raise"``), NaN only the affected batch elements
  (``"propagate"``) or drop their rows (``"omit"``), each equal to the test on
  the clean rows;
- exactly collinear columns, at any scale, give NaN in float64 and float32;
- ``t_max`` and ``beta`` out of range raise naming them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import sketchtest as st
from sketchtest._multivariate.directions import unit_norm_tolerance

PROPERTY = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BAD_CLASSES = ("zero", "scaled", "nan", "inf", "-inf", "complex", "object")


def _bad_directions(dim, num_slices, column, kind, scale):
    """Unit directions (NumPy float64) with column `column` spoiled as `kind` says."""
    directions = np.random.default_rng(dim * 100 + num_slices).standard_normal((dim, num_slices))
    directions /= np.linalg.norm(directions, axis=0)
    spoiled = {"zero": 0.0, "scaled": scale, "nan": np.nan, "inf": np.inf, "-inf": -np.inf}
    if kind in spoiled:
        directions[:, column] *= spoiled[kind] if kind in ("zero", "scaled") else 1.0
        if kind not in ("zero", "scaled"):
            directions[dim // 2, column] = spoiled[kind]
        return directions
    return directions + 0j if kind == "complex" else directions.astype(object)


def _entry_points(backend):
    """``name -> call(x, directions)`` for every entry point that takes `directions` on `backend`."""
    points = {
        "sliced_test": lambda x, d: st.sliced_test(x, directions=d),
        "SlicedEppsPulley": lambda x, d: st.SlicedEppsPulley(directions=d).update(x).result(),
        "sigreg": lambda x, d: st.sigreg(x, directions=d),
    }
    if backend.name == "torch":
        import sketchtest.torch

        points["torch.sigreg"] = lambda x, d: sketchtest.torch.sigreg(x, directions=d)
    if backend.name == "jax":
        import sketchtest.jax

        points["jax.sigreg"] = lambda x, d: sketchtest.jax.sigreg(x, directions=d)
    return points


@PROPERTY
@given(dim=hs.integers(1, 6), num_slices=hs.integers(1, 5), data=hs.data(),
       kind=hs.sampled_from(BAD_CLASSES),
       scale=hs.one_of(hs.floats(0.0, 0.9), hs.floats(1.1, 1e6)))
def test_bad_directions_raise_in_every_entry_point(backend, dim, num_slices, data, kind, scale):
    column = data.draw(hs.integers(0, num_slices - 1))
    host = _bad_directions(dim, num_slices, column, kind, scale)
    if kind == "object":
        if backend.name != "numpy":
            return  # only NumPy has object arrays
        directions = host
    else:
        width = "64" if backend.float64 else "32"
        directions = backend.asarray(host, ("complex" + str(2 * int(width))) if kind == "complex" else "float" + width)
    x = backend.asarray(np.random.default_rng(0).standard_normal((20, dim)))
    error = TypeError if kind in ("complex", "object") else ValueError
    for name, call in _entry_points(backend).items():
        with pytest.raises(error, match="directions"):
            call(x, directions)
            pytest.fail(f"{name} accepted {kind} directions")


@PROPERTY
@given(dim=hs.sampled_from([1, 3, 64, 512]), num_slices=hs.integers(1, 6), seed=hs.integers(0, 2**16))
@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_unit_directions_rounded_to_any_dtype_are_accepted(backend, dtype, dim, num_slices, seed):
    if (dtype == "float64" and not backend.float64) or (dtype == "bfloat16" and not backend.bfloat16):
        pytest.skip(f"{backend.name} has no {dtype}")
    gaussian = np.random.default_rng(seed).standard_normal((dim, num_slices))
    if dtype == "float32":  # normalized by the user in float32
        gaussian = gaussian.astype(np.float32)
    host = gaussian / np.linalg.norm(gaussian, axis=0)
    directions = backend.asarray(host, dtype)
    x = backend.asarray(np.random.default_rng(seed).standard_normal((8, dim)))
    for call in _entry_points(backend).values():
        call(x, directions)  # no error


def test_the_tolerance_follows_the_dtype():
    import torch

    assert unit_norm_tolerance(np.dtype("float64"), xp=np) == pytest.approx(2.0**-26)
    assert unit_norm_tolerance(np.dtype("float32"), xp=np) == pytest.approx(2.0**-11.5)
    assert unit_norm_tolerance(torch.bfloat16, xp=torch) == pytest.approx(2.0**-6)
    with pytest.raises(ValueError, match="norm 1.001"):
        st.sliced_test(np.zeros((5, 2)), directions=np.array([[1.001], [0.0]]))


# --- nan_policy ------------------------------------------------------------------------------

def _sliced(x, **options):
    return st.sliced_test(x, num_slices=4, seed=0, **options)


FUNCTIONS = {  # name -> (call, smallest number of samples it takes for D = dim)
    "sliced_test": (_sliced, lambda dim: 2),
    "henze_zirkler": (st.henze_zirkler, lambda dim: dim + 1),
    "bhep": (st.bhep, lambda dim: dim + 1),
    "mardia": (st.mardia, lambda dim: dim + 1),
}


@hs.composite
def spoiled_samples(draw, batches=((), (2,), (2, 2))):
    """Gaussian ``(batch..., N, D)`` samples with NaN/inf at random places."""
    batch = draw(hs.sampled_from(batches))
    dim = draw(hs.integers(1, 3))
    n = draw(hs.integers(dim + 4, 24))
    x = np.random.default_rng(draw(hs.integers(0, 2**16))).standard_normal((*batch, n, dim))
    flat = x.reshape(-1, n, dim)
    count = draw(hs.integers(1, 6))
    for _ in range(count):
        element, row, col = (draw(hs.integers(0, flat.shape[0] - 1)), draw(hs.integers(0, n - 1)),
                             draw(hs.integers(0, dim - 1)))
        flat[element, row, col] = draw(hs.sampled_from([np.nan, np.inf, -np.inf]))
    return x


def _one_by_one(x, call, min_samples):
    """Statistic and p-value of `call` on each batch element's finite rows (NaN if too few)."""
    flat = x.reshape(-1, *x.shape[-2:])
    statistics, pvalues = [], []
    for element in flat:
        kept = element[np.isfinite(element).all(axis=-1)]
        if kept.shape[0] < min_samples:
            statistics.append(np.nan)
            pvalues.append(np.nan)
            continue
        result = call(kept)
        statistics.append(float(result.statistic))
        pvalues.append(float(result.pvalue))
    return np.reshape(statistics, x.shape[:-2]), np.reshape(pvalues, x.shape[:-2])


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(x=spoiled_samples())
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_nan_policy_on_random_non_finite_positions(backend, name, x):
    call, min_samples = FUNCTIONS[name]
    min_samples = min_samples(x.shape[-1])
    data = backend.asarray(x)
    with pytest.raises(ValueError, match="nan_policy"):
        call(data, nan_policy="raise")
    missing = ~np.isfinite(x).all(axis=(-2, -1))
    propagated = call(data, nan_policy="propagate")
    statistic, pvalue = backend.to_numpy(propagated.statistic), backend.to_numpy(propagated.pvalue)
    assert np.isnan(statistic[missing]).all() and np.isnan(pvalue[missing]).all()
    tolerance = {"rtol": 1e-9, "atol": 1e-300} if backend.float64 else {"rtol": 2e-3, "atol": 1e-6}
    clean_statistic, clean_pvalue = _one_by_one(np.where(missing[..., None, None], 0.0, x), call, min_samples)
    np.testing.assert_allclose(statistic[~missing], clean_statistic[~missing], **tolerance)
    np.testing.assert_allclose(pvalue[~missing], clean_pvalue[~missing], **tolerance)
    omitted = call(data, nan_policy="omit")  # NaN where too few rows are left
    expected_statistic, expected_pvalue = _one_by_one(x, call, min_samples)
    np.testing.assert_allclose(backend.to_numpy(omitted.statistic), expected_statistic, **tolerance)
    np.testing.assert_allclose(backend.to_numpy(omitted.pvalue), expected_pvalue, **tolerance)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(x=spoiled_samples(batches=((),)), split=hs.integers(1, 4))
def test_streaming_nan_policy_on_random_non_finite_positions(backend, x, split):
    def stream(samples, policy):
        accumulator = st.SlicedEppsPulley(8, seed=3, nan_policy=policy)
        accumulator.update(backend.asarray(samples[:split])).update(backend.asarray(samples[split:]))
        return accumulator

    with pytest.raises(ValueError, match="nan_policy"):
        stream(x, "raise")
    propagated = stream(x, "propagate").result()
    assert np.isnan(backend.to_numpy(propagated.statistic)) and np.isnan(backend.to_numpy(propagated.pvalue))
    kept = x[np.isfinite(x).all(axis=-1)]
    omitted = stream(x, "omit")
    assert omitted.count == kept.shape[0]
    if kept.shape[0] < 2:
        return
    expected = st.SlicedEppsPulley(8, seed=3).update(backend.asarray(kept)).result()
    np.testing.assert_allclose(backend.to_numpy(omitted.result().slice_statistics),
                               backend.to_numpy(expected.slice_statistics), rtol=1e-9 if backend.float64 else 1e-5)


def test_propagate_is_compile_safe_under_jax_jit():
    jax = pytest.importorskip("jax")
    x = np.random.default_rng(1).standard_normal((2, 30, 3))
    x[1, 4, 2] = np.nan
    for call in (st.henze_zirkler, st.mardia, _sliced):
        jitted = jax.jit(lambda samples: call(samples).pvalue)(jax.numpy.asarray(x))
        eager = call(x).pvalue
        assert np.isnan(float(jitted[1])) and np.isnan(eager[1])
        np.testing.assert_allclose(float(jitted[0]), eager[0], rtol=1e-9)


# --- collinear columns -----------------------------------------------------------------------

@hs.composite
def collinear_samples(draw, dtype):
    """Full-rank Gaussian samples (columns at any scale and offset) with one column replaced
    by a linear combination of others at any scale, in `dtype`."""
    exponent = {"float64": 400, "float32": 40}[dtype]
    dim = draw(hs.integers(2, 8))
    n = draw(hs.integers(dim + 2, 120))
    rng = np.random.default_rng(draw(hs.integers(0, 2**16)))
    scales = 10.0 ** rng.uniform(-exponent / 4, exponent / 4, dim)
    x = (rng.standard_normal((n, dim)) + rng.uniform(-3, 3, dim)) * scales
    target = draw(hs.integers(0, dim - 1))
    others = [k for k in range(dim) if k != target]
    terms = draw(hs.lists(hs.sampled_from(others), min_size=1, max_size=len(others), unique=True))
    coefficients = rng.standard_normal(len(terms)) / scales[terms]  # comparable contributions
    overall = 10.0 ** draw(hs.floats(-exponent / 2, exponent / 2))
    x[:, target] = (x[:, terms] @ coefficients) * overall
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["henze_zirkler", "bhep", "mardia"])
def test_collinear_columns_give_nan(name, dtype):
    function = getattr(st, name)

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(x=collinear_samples(dtype))
    def check(x):
        result = function(x)
        assert np.isnan(result.pvalue) and np.isnan(result.statistic), (x.shape, result)

    check()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_full_rank_samples_at_any_scale_are_not_called_singular(dtype):
    rng = np.random.default_rng(4)
    exponent = {"float64": 150, "float32": 15}[dtype]
    for _ in range(20):
        dim = int(rng.integers(1, 9))
        x = rng.standard_normal((60, dim)) * 10.0 ** rng.uniform(-exponent, exponent, dim)
        for function in (st.henze_zirkler, st.bhep, st.mardia):
            assert np.isfinite(function(x.astype(dtype)).pvalue)


def test_scale_does_not_move_the_multivariate_p_values():
    x = np.random.default_rng(5).standard_normal((80, 3))
    for function in (st.henze_zirkler, st.bhep, st.mardia):
        reference = function(x).pvalue
        for scale in (1e-300, 1e-150, 1e150, 1e300):
            np.testing.assert_allclose(function(x * scale).pvalue, reference, rtol=1e-9)


# --- t_max, n_points and beta --------------------------------------------------------------

@pytest.mark.parametrize("t_max", [0.0, -1.0, 1e-9, 0.09, 32.5, 80.0, 1e6, np.inf, np.nan])
def test_t_max_out_of_range_names_it(t_max):
    x = np.random.default_rng(6).standard_normal((30, 3))
    with pytest.raises(ValueError, match="t_max"):
        st.sliced_test(x, num_slices=4, seed=0, t_max=t_max)
    with pytest.raises(ValueError, match="t_max"):
        st.SlicedEppsPulley(4, t_max=t_max)


def test_t_max_range_follows_the_knots():
    x = np.random.default_rng(7).standard_normal((30, 3))
    with pytest.raises(ValueError, match="t_max"):
        st.sliced_test(x, num_slices=4, seed=0, t_max=4.5, n_points=3)  # knot spacing 2.25 > 2
    with pytest.raises(ValueError, match="t_max"):
        st.sliced_test(x, num_slices=4, seed=0, t_max=0.5, null="normal")  # miscalibrated below 1
    for n_points in (1, 2):  # a single non-zero knot: the tabulated null was measured wrong
        with pytest.raises(ValueError, match="n_points"):
            st.SlicedEppsPulley(4, n_points=n_points)


@pytest.mark.slow  # each null table takes 10-40 s to build
@pytest.mark.parametrize(("null", "knots"), [
    ("standard", [(0.1, 17), (4.0, 3), (32.0, 17)]), ("normal", [(1.0, 3), (1.0, 17), (20.0, 17)])])
def test_the_ends_of_the_t_max_range_are_calibrated(null, knots):
    # 2000 Gaussian slices of N = 400: the rejection rate at 0.05 within 4 binomial sd of 0.05
    x = np.random.default_rng(7).standard_normal((2000, 400, 1))
    for t_max, n_points in knots:
        pvalues = st.sliced_test(x, directions=np.ones((1, 1)), t_max=t_max, n_points=n_points,
                                 null=null).slice_pvalues[:, 0]
        assert abs(np.mean(pvalues < 0.05) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 2000), (t_max, n_points)


@pytest.mark.parametrize("beta", [0.0, -1.0, 1e-300, 0.05, 101.0, 1e300, np.inf, np.nan])
def test_beta_out_of_range_names_it(beta):
    x = np.random.default_rng(8).standard_normal((30, 2))
    with pytest.raises(ValueError, match="beta"):
        st.bhep(x, beta=beta)


def test_beta_at_the_ends_of_its_range_gives_p_values():
    x = np.random.default_rng(9).standard_normal((200, 2))
    for beta in (0.1, 100.0):
        assert 0.0 <= float(st.bhep(x, beta=beta).pvalue) <= 1.0
