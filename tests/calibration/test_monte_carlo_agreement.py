"""Monte Carlo p-values agree with the default (analytic) ones where both apply.

For a handful of seeded samples per test x null, the Monte Carlo p-value
(`B` = 4999 null replicates) must match the default method's p-value within
4 binomial standard errors of a proportion estimated from B draws, plus 0.01
for the finite-n error of the analytic null at n = 100.
"""

from __future__ import annotations

import numpy as np
import pytest

from grid import TESTS, null_samples

B = 4999
N = 100


def _cases():
    for name, function, nulls, _, options in TESTS:
        for null in nulls:
            yield pytest.param(function, null, options, id=f"{name}-{null}")


@pytest.mark.parametrize(("function", "null", "options"), list(_cases()))
def test_monte_carlo_matches_default_method(function, null, options):
    # Mildly non-normal data (a t(8) sample, scaled) gives p-values across (0, 1).
    rng = np.random.default_rng(7)
    data = np.concatenate([null_samples(null, N, 4, seed=3), rng.standard_t(8, size=(4, N))])
    if null is not None:
        options = {"null": null, **options}
    default = np.asarray(function(data, axis=-1, **options).pvalue)
    simulated = np.asarray(
        function(data, axis=-1, method="monte_carlo", n_resamples=B, seed=5, **options).pvalue
    )
    tolerance = 4.0 * np.sqrt(np.clip(default * (1 - default), 1e-4, None) / B) + 0.01
    assert np.all(np.abs(simulated - default) <= tolerance), (default, simulated)
    counts = simulated * (B + 1)  # Monte Carlo p-values are (1 + k) / (B + 1)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
