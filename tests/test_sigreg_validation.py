"""Options of SIGReg and the LeJEPA loss on every entry point: accepted, or refused by name.

The entry points are :func:`sketchtest.sigreg` (array API),
:func:`sketchtest.torch.sigreg` / ``SIGReg`` / ``lejepa_loss`` / ``LeJEPALoss``
and :func:`sketchtest.jax.sigreg` / ``lejepa_loss``. Seeds are ints in
[0, 2**63) (a NumPy Generator on the host path; a 0-d integer tensor, the
step counter, on the torch path); ``lamb`` is any real scalar in [0, 1]
(Python, NumPy, 0-d array); ``t_max``, ``n_points`` and ``num_slices`` are
checked before anything is computed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st_

import sketchtest as st
from test_input_validation import ComputationStarted, spy

SEED_BOUND = 2**63
#: Values of each option that must be refused, with the error they get.
BAD_OPTIONS = [
    ("t_max", 0.0, ValueError), ("t_max", -1.0, ValueError), ("t_max", math.nan, ValueError),
    ("t_max", math.inf, ValueError), ("t_max", True, TypeError), ("t_max", "3", TypeError),
    ("t_max", 1j, TypeError), ("t_max", np.complex128(3.0), TypeError), ("t_max", 1e10, ValueError),
    ("t_max", 80.5, ValueError),  # knot spacing above 5 with the default 17 knots: the loss vanishes
    ("n_points", 1, ValueError), ("n_points", 0, ValueError), ("n_points", 2.5, TypeError),
    ("n_points", True, TypeError), ("n_points", "17", TypeError),
    ("num_slices", 0, ValueError), ("num_slices", -2, ValueError), ("num_slices", 2.5, TypeError),
    ("num_slices", True, TypeError), ("num_slices", None, TypeError),
]
BAD_LAMBS = [
    (True, TypeError), (np.bool_(False), TypeError), (0.5j, TypeError), ("0.1", TypeError),
    (None, TypeError), (np.ones(2) * 0.1, TypeError), (math.nan, ValueError), (np.float32("nan"), ValueError),
    (-0.01, ValueError), (1.5, ValueError), (math.inf, ValueError),
]


def _gaussian(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- the array-API sigreg: refused before any computation -------------------

@pytest.mark.parametrize(("option", "value", "error"), BAD_OPTIONS)
def test_array_api_sigreg_options_are_checked_first(option, value, error):
    with pytest.raises(error, match=f"`{option}`"):
        st.sigreg(spy(_gaussian((20, 3))), **{option: value, "seed": 0})


@settings(max_examples=25, deadline=None)
@given(n_points=st_.integers(2, 40), fraction=st_.floats(1e-6, 1.0), dtype=st_.sampled_from(["float32", "float64"]))
def test_every_accepted_knot_range_gives_a_finite_loss(n_points, fraction, dtype):
    t_max = fraction * 5.0 * (n_points - 1)  # the largest spacing accepted is 5
    value = st.sigreg(_gaussian((50, 3)).astype(dtype), t_max=t_max, n_points=n_points, seed=0, num_slices=4)
    assert value.dtype == dtype and np.isfinite(value) and value >= 0


@settings(max_examples=30, deadline=None)
@given(seed=st_.one_of(st_.integers(-(2**70), 2**70), st_.sampled_from([0, SEED_BOUND - 1, SEED_BOUND, -1])))
def test_host_seeds_are_ints_in_range(seed):
    z = _gaussian((20, 3))
    if 0 <= seed < SEED_BOUND:
        assert st.sigreg(z, seed=seed, num_slices=2).shape == ()
        assert st.sigreg(z, seed=np.uint64(seed), num_slices=2) == st.sigreg(z, seed=seed, num_slices=2)
    else:
        with pytest.raises(ValueError, match="`seed`"):
            st.sigreg(spy(z), seed=seed)


def _host_seed_users():
    calls = {
        "sigreg": lambda x, seed: st.sigreg(x, seed=seed, num_slices=2),
        "sliced_test": lambda x, seed: st.sliced_test(x, seed=seed, num_slices=2),
        "SlicedEppsPulley": lambda x, seed: st.SlicedEppsPulley(num_slices=2, seed=seed),
        "epps_pulley": lambda x, seed: st.epps_pulley(x, method="monte_carlo", seed=seed),
        "henze_zirkler": lambda x, seed: st.henze_zirkler(x, method="monte_carlo", seed=seed),
    }
    if hasattr(st, "normality_test"):
        calls["normality_test"] = lambda x, seed: st.normality_test(x, seed=seed, num_slices=2)
    return calls


def _bad_host_seeds():
    seeds = [(True, TypeError), (np.bool_(True), TypeError), (1.0, TypeError), ("0", TypeError),
             (np.array(3), TypeError), (np.array([3]), TypeError), (SEED_BOUND, ValueError),
             (2**64, ValueError), (-1, ValueError), (np.int64(-1), ValueError)]
    try:
        import torch
    except ImportError:
        return seeds
    return seeds + [(torch.tensor(3), TypeError), (torch.tensor(True), TypeError)]


@pytest.mark.parametrize("function", sorted(_host_seed_users()))
@pytest.mark.parametrize(("seed", "error"), _bad_host_seeds(), ids=repr)
def test_host_paths_refuse_bad_seeds_by_name(function, seed, error):
    with pytest.raises(error, match="`seed`"):
        _host_seed_users()[function](spy(_gaussian((30, 3))), seed)


# --- torch ------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize(("option", "value", "error"), BAD_OPTIONS)
def test_torch_sigreg_options(option, value, error):
    torch = _torch()
    from sketchtest.torch import SIGReg, sigreg

    z = torch.as_tensor(_gaussian((20, 3)))
    with pytest.raises(error, match=f"`{option}`"):
        sigreg(z, **{option: value, "seed": 0})
    with pytest.raises(error, match=f"`{option}`"):
        SIGReg(**{option: value})


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_torch_step_counter_tensor_seeds_like_the_int(dtype):
    torch = _torch()
    from sketchtest.torch import sigreg

    z = torch.as_tensor(_gaussian((40, 5)))
    counter = torch.tensor(7, dtype=getattr(torch, dtype))
    torch.testing.assert_close(sigreg(z, seed=counter, num_slices=8), sigreg(z, seed=7, num_slices=8),
                               rtol=0, atol=0)
    top = SEED_BOUND - 1
    torch.testing.assert_close(sigreg(z, seed=torch.tensor(top), num_slices=8),
                               sigreg(z, seed=top, num_slices=8), rtol=0, atol=0)


def test_torch_refuses_bad_seeds_by_name():
    torch = _torch()
    from sketchtest.torch import sigreg

    z = torch.as_tensor(_gaussian((20, 3)))
    bad = [(SEED_BOUND, ValueError), (2**64, ValueError), (-1, ValueError), (True, TypeError), (1.0, TypeError),
           (torch.tensor(True), TypeError), (torch.tensor(2.0), TypeError), (torch.tensor([1, 2]), TypeError),
           (np.random.default_rng(0), TypeError), (np.array(3), TypeError)]
    for seed, error in bad:
        with pytest.raises(error, match="`seed`"):
            sigreg(z, seed=seed)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "bool"])
def test_torch_small_integer_inputs_follow_the_policy(dtype):
    torch = _torch()
    from sketchtest.torch import sigreg

    values = np.round(3 * _gaussian((40, 3)))
    z = torch.as_tensor(np.abs(values) if dtype == "uint8" else values).to(getattr(torch, dtype))
    value = sigreg(z, seed=0, num_slices=8)
    assert value.dtype == torch.get_default_dtype()
    torch.testing.assert_close(value, sigreg(z.to(torch.float32), seed=0, num_slices=8))


@settings(max_examples=20, deadline=None)
@given(lamb=st_.floats(0.0, 1.0), kind=st_.sampled_from(["float", "float64", "float32", "array", "tensor"]))
def test_torch_lamb_accepts_real_scalars(lamb, kind):
    torch = _torch()
    from sketchtest.torch import LeJEPALoss, lejepa_loss

    given_lamb = {"float": lamb, "float64": np.float64(lamb), "float32": np.float32(lamb),
                  "array": np.asarray(lamb), "tensor": torch.tensor(lamb, dtype=torch.float64)}[kind]
    views = torch.as_tensor(_gaussian((3, 16, 2)))
    expected = lejepa_loss(views, lamb=float(given_lamb), seed=0, num_slices=4).loss
    torch.testing.assert_close(lejepa_loss(views, lamb=given_lamb, seed=0, num_slices=4).loss, expected)
    assert LeJEPALoss(lamb=given_lamb).lamb == float(given_lamb)


@pytest.mark.parametrize(("lamb", "error"), BAD_LAMBS, ids=repr)
def test_torch_lamb_refused_by_name(lamb, error):
    torch = _torch()
    from sketchtest.torch import LeJEPALoss, lejepa_loss

    with pytest.raises(error, match="`lamb`"):
        LeJEPALoss(lamb=lamb)
    with pytest.raises(error, match="`lamb`"):
        lejepa_loss(torch.zeros(3, 8, 2), lamb=lamb, seed=0)


# --- JAX --------------------------------------------------------------------

def _jax():
    return pytest.importorskip("jax")


@pytest.mark.parametrize(("option", "value", "error"), BAD_OPTIONS)
def test_jax_sigreg_options(option, value, error):
    jax = _jax()
    from sketchtest.jax import sigreg

    with pytest.raises(error, match=f"`{option}`"):
        sigreg(jax.numpy.zeros((20, 3)), key=jax.random.key(0), **{option: value})


@pytest.mark.parametrize("z", [[[0.0, 1.0], [1.0, 2.0]], ((0.0, 1.0), (1.0, 2.0)), "z", 3.0], ids=repr)
def test_jax_sigreg_refuses_non_arrays_by_name(z):
    jax = _jax()
    from sketchtest.jax import lejepa_loss, sigreg

    with pytest.raises(TypeError, match="`z`.*jnp.asarray"):
        sigreg(z, key=jax.random.key(0))
    with pytest.raises(TypeError, match="`projections`"):
        lejepa_loss(z, key=jax.random.key(0))


def test_jax_sigreg_takes_numpy_arrays_as_jax_arrays():
    jax = _jax()
    from sketchtest.jax import sigreg

    host = _gaussian((30, 3))
    key = jax.random.key(0)
    np.testing.assert_allclose(sigreg(host, key=key, num_slices=4), sigreg(jax.numpy.asarray(host), key=key,
                                                                            num_slices=4), rtol=1e-12)
    with pytest.raises(TypeError, match="`z`.*complex"):
        sigreg(host + 1j, key=key)


def test_jax_sigreg_complex_input_is_refused():
    jax = _jax()
    from sketchtest.jax import sigreg

    z = jax.numpy.asarray(_gaussian((30, 3)) + 0.5j)
    with pytest.raises(TypeError, match="`z`.*complex"):
        sigreg(z, key=jax.random.key(0))
    with pytest.raises(TypeError, match="`directions`.*complex"):
        sigreg(z.real, directions=jax.numpy.ones((3, 2), dtype=jax.numpy.complex64))


@pytest.mark.parametrize("key", [0, np.uint32(3), "key"], ids=repr)
def test_jax_key_must_be_a_key(key):
    jax = _jax()
    from sketchtest.jax import sigreg

    with pytest.raises(TypeError, match="`key`"):
        sigreg(jax.numpy.zeros((10, 2)), key=key)


@pytest.mark.parametrize(("lamb", "error"), BAD_LAMBS, ids=repr)
def test_jax_lamb_refused_by_name(lamb, error):
    jax = _jax()
    from sketchtest.jax import lejepa_loss

    with pytest.raises(error, match="`lamb`"):
        lejepa_loss(jax.numpy.zeros((3, 8, 2)), lamb=lamb, key=jax.random.key(0))


def test_jax_lamb_accepts_numpy_scalars():
    jax = _jax()
    from sketchtest.jax import lejepa_loss

    views, key = jax.numpy.asarray(_gaussian((3, 16, 2))), jax.random.key(0)
    expected = lejepa_loss(views, lamb=0.25, key=key, num_slices=4).loss
    for lamb in (np.float32(0.25), np.float64(0.25), np.asarray(0.25), jax.numpy.asarray(0.25)):
        np.testing.assert_allclose(lejepa_loss(views, lamb=lamb, key=key, num_slices=4).loss, expected,
                                   rtol=1e-12)


def test_the_spy_is_armed():
    with pytest.raises(ComputationStarted):
        st.sigreg(spy(_gaussian((20, 3))), seed=0)


@pytest.mark.slow  # two torch.compile runs: tens of seconds
def test_torch_validation_compiles_without_graph_breaks_or_warnings():
    torch = _torch()
    import warnings

    from sketchtest.torch import LeJEPALoss, SIGReg

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # dynamo's warning on array-api-compat's cached helpers
        loss = torch.compile(LeJEPALoss(num_slices=4, lamb=np.float32(0.5)), fullgraph=True)
        assert loss(torch.as_tensor(_gaussian((3, 16, 2)), dtype=torch.float32)).loss.dtype == torch.float32
        small_integers = torch.as_tensor(np.round(_gaussian((16, 2))), dtype=torch.int8)
        assert torch.compile(SIGReg(num_slices=4), fullgraph=True)(small_integers).dtype == torch.float32
