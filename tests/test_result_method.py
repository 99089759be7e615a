"""``result.method`` says how the p-value was really obtained.

``method="auto"`` used to report ``"asymptotic"`` where it used the exact
Kolmogorov-Smirnov null, the finite-n EDF nulls or Shapiro-Wilk's exact
n = 3 formula. Here the label is checked against what was computed: where it
names a public method, an explicit call with that method gives the same
p-value; ``"finite_n"`` is a finite-sample approximation, so it must differ
from the limit law where the test offers ``method="asymptotic"``.
"""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st
from support import UNIVARIATE_CASES

LABELS = {"asymptotic", "exact", "finite_n", "royston", "monte_carlo", "tabulated"}

#: (test, null, n) -> what "auto" uses (the documented defaults of each test).
EXPECTED_AUTO = {
    ("epps_pulley", "standard", 40): "asymptotic",
    ("epps_pulley", "normal", 12): "monte_carlo",
    ("epps_pulley", "normal", 40): "asymptotic",
    ("cramer_von_mises", "standard", 12): "finite_n",
    ("cramer_von_mises", "normal", 12): "monte_carlo",
    ("cramer_von_mises", "normal", 40): "finite_n",
    ("anderson_darling", "standard", 40): "finite_n",
    ("watson", "standard", 12): "monte_carlo",
    ("watson", "standard", 40): "finite_n",
    ("kolmogorov_smirnov", "standard", 12): "exact",
    ("kolmogorov_smirnov", "normal", 40): "finite_n",
    ("shapiro_wilk", "normal", 3): "exact",
    ("shapiro_wilk", "normal", 40): "royston",
    ("shapiro_francia", "normal", 6): "monte_carlo",
    ("shapiro_francia", "normal", 40): "royston",
    ("jarque_bera", "normal", 40): "monte_carlo",
    ("jarque_bera", "standard", 1000): "asymptotic",
    ("vasicek", "normal", 12): "tabulated",
    ("vasicek", "standard", 40): "tabulated",
}


def _sample(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3))


def _call(name, null, n, **options):
    keywords = {} if null is None else {"null": null}
    return getattr(st, name)(_sample(n), n_resamples=99, seed=1, **keywords, **options)


@pytest.mark.parametrize("key", sorted(EXPECTED_AUTO), ids=lambda key: "-".join(map(str, key)))
def test_auto_reports_the_method_it_used(key):
    name, null, n = key
    auto = _call(name, null, n)
    assert auto.method == EXPECTED_AUTO[key]
    if auto.method == "finite_n":
        try:
            limit = _call(name, null, n, method="asymptotic")
        except ValueError:  # the composite EDF nulls offer no limit law
            return
        assert not np.allclose(auto.pvalue, limit.pvalue, rtol=1e-9, atol=0)
        assert limit.method == "asymptotic"
        return
    explicit = _call(name, null, n, method=auto.method) if auto.method != "exact" or name != "shapiro_wilk" \
        else _call(name, null, n, method="royston")
    np.testing.assert_array_equal(auto.pvalue, explicit.pvalue)
    assert explicit.method == auto.method


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
@pytest.mark.parametrize("n", [8, 60])
def test_every_test_reports_a_known_method(case, n):
    for method in ("auto", "monte_carlo"):
        try:
            result = case(_sample(n), method=method, n_resamples=99, seed=1)
        except ValueError:  # a method this test does not offer
            continue
        assert result.method in LABELS
        if method == "monte_carlo":
            assert result.method == "monte_carlo"


def test_auto_under_jit_names_the_analytic_method():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x = jnp.asarray(_sample(12)[:, 0])
    labels = {}

    def run(name, **options):
        def body(values):
            result = getattr(st, name)(values, **options)
            labels[name] = result.method
            return result.pvalue
        return jax.jit(body)(x)

    run("kolmogorov_smirnov", null="standard")
    run("cramer_von_mises")  # null="normal": Monte Carlo at n = 12 when eager; cannot under jit
    run("jarque_bera")  # simulates at n = 12 when eager; cannot under jit
    assert labels == {"kolmogorov_smirnov": "exact", "cramer_von_mises": "finite_n", "jarque_bera": "asymptotic"}


def test_multivariate_and_sliced_methods():
    x = np.random.default_rng(0).standard_normal((60, 3))
    assert st.henze_zirkler(x).method == "lognormal"
    assert st.bhep(x, method="monte_carlo", n_resamples=19, seed=0).method == "monte_carlo"
    assert st.mardia(x).method == "asymptotic"
    assert st.sliced_test(x, num_slices=4, seed=0).method == "cauchy_combination"
    assert st.sliced_test(x, num_slices=4, seed=0, aggregate="max", n_resamples=19).method == "monte_carlo"
