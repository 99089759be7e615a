"""float32-vs-float64 agreement of every p-value path in the far tail (a table).

For each path of ``tests/test_float32_tails.py`` (statistic -> p-value), the
same float32-representable statistics are evaluated in float32 and compared
with the float64 reference (SciPy, mpmath, or the path in float64) where that
reference lies in [1.2e-36, 1/2] (the EDF nulls of ``sketchtest._nulls.edf``
included). Run from the repository
root: ``python benchmarks/float32_tails.py [backend ...]`` (numpy, torch, jax).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import numpy as np  # noqa: E402

from test_float32_tails import TAIL_PATHS, float32_relative_errors  # noqa: E402


def _backend(name):
    from support import ALL_BACKENDS

    for param in ALL_BACKENDS:
        if param.values[0] is not None and param.values[0].name == name:
            return param.values[0]
    raise SystemExit(f"unknown or absent backend {name!r}")


def main(names):
    backends = [None if name == "numpy" else _backend(name) for name in names]
    print(f"{'path':44s} {'reference':32s} " + " ".join(f"{n:>20s}" for n in names))
    for path in TAIL_PATHS:
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
