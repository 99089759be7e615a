"""The exact Kolmogorov-Smirnov null against R's exact algorithm (Marsaglia, Tsang & Wang 2003).

R 4.2.2: ``1 - .Call(stats:::C_pKolmogorov2x, d, n)`` (what ``ks.test(x, "pnorm",
exact = TRUE)`` reports) at ``d = s / sqrt(n)``, ``s`` in ``seq(0.4, 2.6, by = 0.05)``::

    options(digits = 17)
    for (n in c(141L, 200L, 1000L)) for (s in seq(0.4, 2.6, by = 0.05)) {
        d <- s / sqrt(n); cat(n, sprintf("%.17g", d),
                              sprintf("%.17g", 1 - .Call(stats:::C_pKolmogorov2x, d, n)), "\\n") }

SciPy's ``kstwo`` (Pelz & Good's expansion for n > 140) is off from these by up
to 3.1e-6 at n = 141 and 1.5e-6 at n = 200.
"""

from __future__ import annotations

import numpy as np
import pytest

from sketchtest._nulls.ks import exact_cdf, kolmogorov_smirnov_exact_sf

R_EXACT_SF = [  # (n, d, P(D_n >= d)) from R, every sixth row of the grid above
    (141, 0.037896836447993354, 0.98284043379007835),
    (141, 0.063161394079988928, 0.60442391676670715),
    (141, 0.088425951711984502, 0.20756081715231445),
    (141, 0.11369050934398008, 0.048187239986380637),
    (141, 0.13895506697597562, 0.0077511882442329316),
    (141, 0.16421962460797121, 0.0008620072379419419),
    (141, 0.18948418223996677, 6.6017942507268224e-05),
    (141, 0.21474873987196233, 3.4656909927432977e-06),
    (200, 0.042426406871192854, 0.84900762484510395),
    (200, 0.063639610306789274, 0.37692457587347838),
    (200, 0.084852813742385708, 0.10592009172131189),
    (200, 0.10606601717798213, 0.020567138046325817),
    (200, 0.12727922061357858, 0.002771528868252604),
    (200, 0.14849242404917498, 0.00025858396354394575),
    (200, 0.16970562748477139, 1.6654608864019593e-05),
    (1000, 0.014230249470757707, 0.98573285161340185),
    (1000, 0.023717082451262847, 0.61842208276808996),
    (1000, 0.033203915431767983, 0.21539293642607849),
    (1000, 0.042690748412273126, 0.050741595614818835),
    (1000, 0.052177581392778255, 0.0083228450727720338),
    (1000, 0.061664414373283405, 0.00095123154211063099),
    (1000, 0.071151247353788541, 7.5715855488822648e-05),
    (1000, 0.080638080334293663, 4.1947635023298346e-06),
]


@pytest.mark.parametrize("n", [141, 200, 1000])
def test_exact_sf_matches_r_to_1e_9(n):
    rows = np.asarray([row for row in R_EXACT_SF if row[0] == n])
    got = kolmogorov_smirnov_exact_sf(rows[:, 1], n, xp=np)
    np.testing.assert_allclose(got, rows[:, 2], rtol=0, atol=2e-9)


def test_matrix_algorithm_matches_r_exactly():
    for n, d, sf in R_EXACT_SF[:4]:
        assert 1.0 - exact_cdf(d, int(n)) == pytest.approx(sf, abs=1e-13)
