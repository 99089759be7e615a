"""Largest gradient error of every differentiable loss against float64, per dtype.

For every ``sliced_loss`` test and null (and ``sigreg``), on torch and JAX,
each input case below is cast to the dtype under test; the float64
reference is the same loss and gradient of those very (rounded) values in
float64. The error of a gradient ``g`` is ``max|g - g64| / max|g64|``. Cases
with ties (where a sort-based gradient depends on the tie order) are checked
for finiteness only, and so are cases whose float64 gradient is
ill-conditioned (it moves by over 0.5% when the samples move by 4 float32
epsilons) or below float32's normal range (underflow is the right answer).
Prints one row per loss and dtype: the largest error over the scored cases,
the case where it occurred, the number of cases with a non-finite value or
gradient, and the number of ill-conditioned cases left unscored.

Run: ``OMP_NUM_THREADS=1 python benchmarks/loss_gradients.py [--backends torch jax]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

N, D, K = 128, 8, 16


def _gaussian(rng):
    return rng.standard_normal((N, D))


def cases(null):
    """``name -> (samples (N, D) float64, well_conditioned)``."""
    rng = np.random.default_rng(0)
    base = _gaussian(rng)
    out = {"gaussian": (base, True), "outlier_40sd": (np.concatenate([base[:-1], 40.0 * base[-1:] / np.linalg.norm(base[-1])]), True)}
    scales = (1e-20, 1e-8, 1e4, 1e8, 1e19, 1e20) if null == "normal" else (1e-20, 1e-8, 1e2, 1e4)
    for scale in scales:
        out[f"x{scale:.0e}"] = (scale * base, True)
    if null == "normal":
        out["shift_1e4sd"] = (1e4 + base, True)
        out["shift_1e4sd_x1e-10"] = (1e-10 * (1e4 + base), True)
    ties = np.round(base, 1)
    half_zero = base.copy()
    half_zero[: N // 2] = 0.0
    out["ties"] = (ties, False)
    out["half_zero"] = (half_zero, False)
    out["all_equal"] = (np.full((N, D), 0.7), False)
    out["all_zero"] = (np.zeros((N, D)), False)
    out["rank1"] = (np.outer(rng.standard_normal(N), rng.standard_normal(D)), False)
    return out


def torch_runner(dtype_name):
    import torch

    from sketchtest.torch import sigreg, sliced_loss

    dtype = getattr(torch, dtype_name)

    def run(samples, directions, test, null, as_dtype):
        z = torch.tensor(samples, dtype=torch.float64).to(as_dtype).requires_grad_(True)
        a = torch.tensor(directions, dtype=torch.float64).to(torch.float64 if as_dtype == torch.float64 else torch.float32)
        if test == "sigreg":
            loss = sigreg(z, directions=a)
        else:
            loss = sliced_loss(z, test=test, null=null, directions=a)
        (gradient,) = torch.autograd.grad(loss, z)
        return float(loss.detach().double()), gradient.double().numpy()

    def rounded(samples):
        return torch.tensor(samples).to(dtype).double().numpy()

    return lambda s, a, t, n: run(s, a, t, n, dtype), lambda s, a, t, n: run(s, a, t, n, torch.float64), rounded


def jax_runner(dtype_name):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    from sketchtest.jax import sigreg, sliced_loss

    dtype = jnp.bfloat16 if dtype_name == "bfloat16" else getattr(jnp, dtype_name)

    def run(samples, directions, test, null, as_dtype):
        a = jnp.asarray(directions, dtype=jnp.float64 if as_dtype == jnp.float64 else jnp.float32)

        def loss_of(z):
            if test == "sigreg":
                return sigreg(z, directions=a)
            return sliced_loss(z, test=test, null=null, directions=a)

        value, gradient = jax.value_and_grad(loss_of)(jnp.asarray(samples, dtype=jnp.float64).astype(as_dtype))
        return float(value), np.asarray(gradient, dtype=np.float64)

    def rounded(samples):
        return np.asarray(jnp.asarray(samples).astype(dtype), dtype=np.float64)

    return lambda s, a, t, n: run(s, a, t, n, dtype), lambda s, a, t, n: run(s, a, t, n, jnp.float64), rounded


def losses():
    from sketchtest._losses.sliced_loss import LOSS_STATISTICS

    yield "sigreg", "standard"
    for test, entry in LOSS_STATISTICS.items():
        for null in entry.nulls:
            yield test, null


def measure(backend, dtype_name):
    """Rows ``(loss, null, worst error, worst case, non-finite count)``."""
    from sketchtest._losses.sigreg import host_directions

    make = torch_runner if backend == "torch" else jax_runner
    low, high, rounded = make(dtype_name)
    directions = host_directions(D, K, seed=1)
    directions_low = directions.astype(np.float32).astype(np.float64) if dtype_name != "float64" else directions
    directions_low = directions_low / np.linalg.norm(directions_low, axis=0)
    tiny, eps = (2.2e-308, 2.2e-16) if dtype_name == "float64" else (1.2e-38, 6e-8)
    rows = []
    for test, null in losses():
        worst, worst_case, non_finite, ill_conditioned = 0.0, "-", 0, 0
        for name, (samples, conditioned) in cases(null).items():
            samples = rounded(samples)
            value, gradient = low(samples, directions_low, test, null)
            if not (math.isfinite(value) and np.all(np.isfinite(gradient))):
                non_finite += 1
                print(f"  non-finite: {backend} {dtype_name} {test} {null} {name}: value {value}", file=sys.stderr)
                continue
            if not conditioned:
                continue
            value64, gradient64 = high(samples, directions_low, test, null)
            scale = np.max(np.abs(gradient64))
            if not (math.isfinite(value64) and np.isfinite(scale)) or scale < tiny:
                continue  # no float64 reference, or a gradient below the dtype's normal range
            if not _well_conditioned(high, samples, directions_low, test, null, gradient64, eps):
                ill_conditioned += 1
                continue
            error = float(np.max(np.abs(gradient - gradient64)) / scale)
            if error > worst:
                worst, worst_case = error, name
        rows.append((test, null, worst, worst_case, non_finite, ill_conditioned))
    return rows


def _well_conditioned(high, samples, directions, test, null, gradient64, eps):
    """Whether float64's gradient moves by under 0.5% when each sample moves by 4 eps of its size.

    That is the size of the dtype's own rounding of the input and of ``z @ A``:
    where float64's gradient is more sensitive (a max attained at a tie, say),
    no float32 computation can match it and the case is not scored.
    """
    noise = np.random.default_rng(1).uniform(-1.0, 1.0, samples.shape)
    _, moved = high(samples * (1.0 + 4.0 * eps * noise), directions, test, null)
    return np.max(np.abs(moved - gradient64)) <= 5e-3 * np.max(np.abs(gradient64))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["torch", "jax"])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32", "bfloat16"])
    args = parser.parse_args(argv)
    print(f"N = {N}, D = {D}, K = {K}; error = max|g - g64| / max|g64| over well-conditioned cases")
    print(f"{'backend':8} {'dtype':9} {'loss':20} {'null':9} {'max error':>10}  {'at':20} non-finite  ill-cond")
    for backend in args.backends:
        for dtype_name in args.dtypes:
            for test, null, worst, case, non_finite, ill in measure(backend, dtype_name):
                print(f"{backend:8} {dtype_name:9} {test:20} {null:9} {worst:10.2e}  {case:20} {non_finite:10d}  {ill:8d}")


if __name__ == "__main__":
    main()
