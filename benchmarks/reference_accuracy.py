"""Largest errors of the reference-grade nulls against their recorded R / mpmath values (issue 22).

The references live in the tests, with the R or mpmath call that produced them in a comment:
tests/test_edf_standard_tails.py, tests/test_anderson_darling_accuracy.py, tests/test_regression.py
and tests/test_ks_exact_r.py. Run: ``OMP_NUM_THREADS=1 python benchmarks/reference_accuracy.py``.
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from test_edf_standard_tails import CVM_LIMIT_SF, AD_LIMIT_SF_BODY
from test_anderson_darling_accuracy import AD_LIMIT_SF
from test_regression import SHAPIRO_WILK_R
import sketchtest as st
from sketchtest._nulls import edf as E
def err(f, refs, rel):
    out = []
    for dt in (np.float64, np.float32):
        x = np.asarray(list(refs), dtype=dt); v = f(x).astype(np.float64); r = np.asarray(list(refs.values()))
        out.append(np.max(np.abs(v / r - 1)) if rel else np.max(np.abs(v - r)))
    return out
body = {k: v for k, v in CVM_LIMIT_SF.items() if k <= 1.0}; tail = {k: v for k, v in CVM_LIMIT_SF.items() if k > 1.0}
print("CvM limit body rel (f64, f32)", err(lambda x: E.cvm_limit_sf(x, xp=np), body, True))
print("CvM limit tail rel (f64, f32)", err(lambda x: E.cvm_limit_sf(x, xp=np), tail, True))
print("AD limit body abs (f64, f32)", err(lambda x: E.anderson_darling_limit_sf(x, xp=np), AD_LIMIT_SF_BODY, False))
print("AD limit tail rel (f64, f32)", err(lambda x: E.anderson_darling_limit_sf(x, xp=np), AD_LIMIT_SF, True))
w = []; p = []
for n, (W, P) in SHAPIRO_WILK_R.items():
    i = np.arange(1, n + 1); r = st.shapiro_wilk(np.exp(np.sin(i * 0.7)) + (i % 7) / 3.0)
    w.append(abs(float(r.statistic) / W - 1)); p.append(abs(float(r.pvalue) / P - 1))
print("SW vs R: W rel", max(w), "p rel", max(p))
from test_ks_exact_r import R_EXACT_SF  # noqa: E402
from sketchtest._nulls.ks import kolmogorov_smirnov_exact_sf  # noqa: E402
rows = np.asarray(R_EXACT_SF)
print("KS exact vs R: max abs", max(np.max(np.abs(kolmogorov_smirnov_exact_sf(rows[rows[:, 0] == n, 1], int(n), xp=np)
                                          - rows[rows[:, 0] == n, 2])) for n in np.unique(rows[:, 0])))
