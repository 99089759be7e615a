"""float32-vs-float64 agreement of every p-value path in the far tail (a table).

For each path of ``tests/test_float32_tails.py`` (statistic -> p-value), the
same float32-representable statistics are evaluated in float32 and compared
with the float64 reference (SciPy, mpmath, or the path in float64) where that
reference lies in [1.2e-38, 1/2]; the EDF nulls of ``sketchtest._edf_nulls``
are measured the same way (float32 against float64). Run from the repository
root: ``python benchmarks/float32_tails.py [backend ...]`` (numpy, torch, jax).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import numpy as np  # noqa: E402

from test_float32_tails import TAIL_PATHS, TailPath, float32_relative_errors  # noqa: E402


def _edf_paths():
    from sketchtest import _edf_nulls as nulls

    n = 50
    table = [
        ("cvm_standard_sf", lambda s, xp: nulls.cvm_standard_sf(s, n, xp=xp), (1e-2, 8.0)),
        ("cvm_limit_sf", lambda s, xp: nulls.cvm_limit_sf(s, xp=xp), (1e-2, 8.0)),
        ("anderson_darling_standard_sf", lambda s, xp: nulls.anderson_darling_standard_sf(s, n, xp=xp), (0.1, 90.0)),
        ("anderson_darling_limit_sf", lambda s, xp: nulls.anderson_darling_limit_sf(s, xp=xp), (0.1, 90.0)),
        ("watson_standard_sf", lambda s, xp: nulls.watson_standard_sf(s, n, xp=xp), (1e-2, 8.0)),
        ("watson_limit_sf", lambda s, xp: nulls.watson_limit_sf(s, xp=xp), (1e-2, 8.0)),
        ("cvm_normal_sf", lambda s, xp: nulls.cvm_normal_sf(s, n, xp=xp), (1e-2, 8.0)),
        ("anderson_darling_normal_sf", lambda s, xp: nulls.anderson_darling_normal_sf(s, n, xp=xp), (0.1, 90.0)),
        ("watson_normal_sf", lambda s, xp: nulls.watson_normal_sf(s, n, xp=xp), (1e-2, 8.0)),
        ("lilliefors_sf", lambda s, xp: nulls.lilliefors_sf(s, n, xp=xp), (1e-2, 0.9)),
        ("kolmogorov_limit_sf", lambda s, xp: nulls.kolmogorov_limit_sf(s, xp=xp), (0.2, 9.5)),
    ]
    return [TailPath(f"{name} (n={n}, H2's)", function, (*bounds, 400)) for name, function, bounds in table]


def _backend(name):
    from support import ALL_BACKENDS

    for param in ALL_BACKENDS:
        if param.values[0] is not None and param.values[0].name == name:
            return param.values[0]
    raise SystemExit(f"unknown or absent backend {name!r}")


def main(names):
    backends = [None if name == "numpy" else _backend(name) for name in names]
    print(f"{'path':44s} {'reference':32s} " + " ".join(f"{n:>20s}" for n in names))
    for path in [*TAIL_PATHS, *_edf_paths()]:
        cells = []
        for backend in backends:
            try:
                expected, error = float32_relative_errors(path, backend)
                cells.append(f"{error.max():8.1e} [{expected.min():7.1e}]" if expected.size else "no tail points")
            except Exception as problem:  # a path a backend lacks is reported, not fatal
                cells.append(f"error: {type(problem).__name__}"[:20])
        print(f"{path.name:44s} {path.source:32s} " + " ".join(f"{c:>20s}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1:] or ["numpy", "torch", "jax"])
