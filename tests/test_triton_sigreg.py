"""The fused Triton SIGReg kernels, run on the CPU by Triton's interpreter.

``TRITON_INTERPRET=1`` must be set before Triton itself is imported (its
standard library, ``tl.sum`` and ``tl.cdiv``, is decorated at import), and
must not leak into the rest of the test session (a CUDA run would then
interpret every Triton kernel, Inductor's too). So the kernels run once, in
a child interpreter started with that variable: this module builds the
inputs, the child runs the kernels on them and saves the outputs, and the
tests compare those outputs here.

The interpreter is slow, so shapes are tiny, with blocks of 16 so that N and
K are ragged (not multiples of the block), span several blocks and several
sample splits, and T = 17 knots pad to 32. References: the float64 formula
on the same (rounded) inputs, and today's torch autograd path
(``sketchtest_backends.torch``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton", reason="Triton is not installed: the fused SIGReg kernels are untested")

import sketchtest_backends.torch as backend  # noqa: E402
from sketchtest._losses.sigreg import host_directions  # noqa: E402
from sketchtest.torch import sigreg  # noqa: E402

KNOT_STEP = 3.0 / 16
N_POINTS = 17
CONFIG = (16, 16, 4)  # BLOCK_N, BLOCK_K, num_warps
EPS32 = float(np.finfo(np.float32).eps)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
SHAPES = {"N45-K21": (45, 21), "B2-N37-K33": (2, 37, 33), "N1-K5": (1, 5)}

# Runs in the child: kernels on every case, under the interpreter.
_CHILD = """
import sys, torch
from triton.runtime.interpreter import InterpretedFunction
from sketchtest._losses import triton_sigreg as kernels
import sketchtest_backends.torch as backend
from sketchtest.torch import sigreg
assert all(isinstance(kernel, InterpretedFunction) for kernel in kernels._kernels())
cases = torch.load(sys.argv[1], weights_only=True)

def compiled_sigreg(z, directions):  # value, gradient and kernel calls of compiled sigreg
    calls = {"forward": 0, "backward": 0}
    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return call
    kernels.stacked_sums = counted("forward", kernels.stacked_sums)
    kernels.backward_projections = counted("backward", kernels.backward_projections)
    loss = torch.compile(lambda z: sigreg(z, directions=directions, distributed=False),
                         fullgraph=True, backend="aot_eager")
    leaf = z.clone().requires_grad_()
    value = loss(leaf)
    gradient = torch.autograd.grad(value.sum(), leaf)[0]
    return value.detach(), gradient, torch.tensor([calls["forward"], calls["backward"]])
backend._triton_kernels = lambda device, dtype, numel=0: kernels if kernels.supports(dtype) else None
outputs = {}
for name, case in cases.items():
    config = tuple(case.get("config", ()))
    if case["kind"] == "forward":
        outputs[name] = kernels.forward_sums(case["p"], case["knot_step"], case["n_points"], config=config)
    elif case["kind"] == "backward":
        outputs[name] = kernels.backward_projections(
            case["p"], case["cos_grad"], case["sin_grad"], case["knot_step"], case["n_points"], config=config)
    elif case["kind"] == "draw":
        outputs[name] = kernels.counter_normal(case["shape"], case["seed"], torch.float32, block=16)
    elif case["kind"] == "compiled":
        outputs[name] = compiled_sigreg(case["z"], case["directions"])
    else:
        leaf = case["z"].clone().requires_grad_()
        value = sigreg(leaf, directions=case["directions"], distributed=False)
        outputs[name] = (value.detach(), torch.autograd.grad(value.sum(), leaf)[0])
torch.save(outputs, sys.argv[2])
"""


def projections(shape, dtype, seed=0, scale=1.3):
    values = np.random.default_rng(seed).standard_normal(shape) * scale
    return torch.asarray(values, dtype=dtype)


def _cases():
    common = {"knot_step": KNOT_STEP, "n_points": N_POINTS, "config": list(CONFIG)}
    cases = {}
    for dtype_name, dtype in DTYPES.items():
        for shape_name, shape in SHAPES.items():
            cotangent_shape = (*shape[:-2], N_POINTS, shape[-1])
            cases[f"forward-{shape_name}-{dtype_name}"] = {"kind": "forward", "p": projections(shape, dtype), **common}
            cases[f"backward-{shape_name}-{dtype_name}"] = {
                "kind": "backward", "p": projections(shape, dtype, seed=1),
                "cos_grad": projections(cotangent_shape, torch.float32, seed=2),
                "sin_grad": projections(cotangent_shape, torch.float32, seed=3), **common,
            }
        cases[f"sigreg-{dtype_name}"] = {
            "kind": "sigreg", "z": projections((2, 50, 7), dtype, seed=4, scale=1.2),
            "directions": torch.asarray(host_directions(7, 19, seed=5), dtype=torch.float32),
            "config": [64, 64, 4],
        }
    cases["compiled-float32"] = {**cases["sigreg-float32"], "kind": "compiled"}
    cases["draw"] = {"kind": "draw", "shape": [7, 9], "seed": torch.tensor(5)}  # 63 draws: a lone cos branch
    cases["draw-large-seed"] = {"kind": "draw", "shape": [40], "seed": torch.tensor(3 * 2**32 + 17)}
    return cases


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory):
    """``(cases, outputs)``: the inputs, and the kernels' outputs from Triton's interpreter."""
    folder = tmp_path_factory.mktemp("triton")
    cases = _cases()
    torch.save(cases, folder / "cases.pt")
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder / "cases.pt"), str(folder / "outputs.pt")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return cases, torch.load(folder / "outputs.pt", weights_only=True)


def reference_angles(p):
    knots = torch.arange(N_POINTS, dtype=torch.float64) * KNOT_STEP
    return knots, p.to(torch.float64)[..., None, :, :] * knots[:, None, None]


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape_name", SHAPES)
def test_forward_sums_match_the_float64_formula(interpreted, shape_name, dtype_name):
    cases, outputs = interpreted
    p = cases[f"forward-{shape_name}-{dtype_name}"]["p"]
    cos_sums, sin_sums = outputs[f"forward-{shape_name}-{dtype_name}"]
    _, angles = reference_angles(p)  # on the same (bfloat16-rounded) values
    cos_ref, sin_ref = angles.cos().sum(-2), angles.sin().sum(-2)
    num_samples = p.shape[-2]
    assert cos_sums.dtype == sin_sums.dtype == torch.float32
    assert cos_sums.shape == sin_sums.shape == (*p.shape[:-2], N_POINTS, p.shape[-1])
    assert torch.equal(cos_sums[..., 0, :], torch.full_like(cos_sums[..., 0, :], num_samples)), "t_0 row is N"
    # float32 sums of N terms, each off by about j eps after j rotations
    tolerance = 4 * N_POINTS * num_samples * EPS32
    torch.testing.assert_close(cos_sums.double(), cos_ref, rtol=0, atol=tolerance)
    torch.testing.assert_close(sin_sums.double(), sin_ref, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape_name", SHAPES)
def test_gradient_matches_the_float64_formula(interpreted, shape_name, dtype_name):
    cases, outputs = interpreted
    case = cases[f"backward-{shape_name}-{dtype_name}"]
    gradient = outputs[f"backward-{shape_name}-{dtype_name}"]
    knots, angles = reference_angles(case["p"])
    cos_grad, sin_grad = case["cos_grad"].double()[..., None, :], case["sin_grad"].double()[..., None, :]
    expected = (knots[:, None, None] * (sin_grad * angles.cos() - cos_grad * angles.sin())).sum(-3)
    assert gradient.dtype == DTYPES[dtype_name] and gradient.shape == case["p"].shape
    # float32 Horner over T knots, then cast to the projections' dtype: one unit in the
    # last place, since the interpreter truncates float32 -> bfloat16 (the GPU rounds to nearest)
    rounding = float(torch.finfo(gradient.dtype).eps) * expected.abs()
    error = (gradient.double() - expected).abs()
    assert bool((error <= rounding + 8 * N_POINTS * EPS32 * expected.abs().max()).all()), float(error.max())


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_sigreg_value_and_gradient_equal_the_torch_path(interpreted, dtype_name):
    """The whole loss through the autograd Function: Triton kernels against today's path."""
    cases, outputs = interpreted
    case = cases[f"sigreg-{dtype_name}"]
    value, gradient = outputs[f"sigreg-{dtype_name}"]
    leaf = case["z"].clone().requires_grad_()
    expected_value = sigreg(leaf, directions=case["directions"], distributed=False)
    (expected_gradient,) = torch.autograd.grad(expected_value.sum(), leaf)
    assert value.dtype == torch.float32 and gradient.dtype == DTYPES[dtype_name]
    torch.testing.assert_close(value, expected_value.detach(), rtol=2e-5, atol=0)
    spacing = float(torch.finfo(gradient.dtype).eps) * float(expected_gradient.float().abs().max())
    torch.testing.assert_close(gradient.float(), expected_gradient.float(), rtol=0, atol=spacing + 1e-6)


def test_compiled_sigreg_calls_the_kernels_and_equals_the_torch_path(interpreted):
    """torch.compile(fullgraph=True) reaches the kernels through the custom operators."""
    cases, outputs = interpreted
    case = cases["compiled-float32"]
    value, gradient, calls = outputs["compiled-float32"]
    assert calls.tolist() == [1, 1], "one forward and one backward kernel call"
    leaf = case["z"].clone().requires_grad_()
    expected_value = sigreg(leaf, directions=case["directions"], distributed=False)
    (expected_gradient,) = torch.autograd.grad(expected_value.sum(), leaf)
    torch.testing.assert_close(value, expected_value.detach(), rtol=2e-5, atol=0)
    torch.testing.assert_close(gradient, expected_gradient, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["draw", "draw-large-seed"])
def test_direction_draws_equal_the_torch_counter_normal(interpreted, name):
    """Same integer hashes bit for bit; Box-Muller's log, cos and sin agree to float32 rounding."""
    cases, outputs = interpreted
    case = cases[name]
    expected = backend.counter_normal(tuple(case["shape"]), seed=case["seed"])
    draws = outputs[name]
    assert draws.shape == expected.shape and draws.dtype == torch.float32
    torch.testing.assert_close(draws, expected, rtol=0, atol=64 * EPS32)


def test_dispatch_falls_back_off_cuda_and_in_float64():
    assert backend._triton_kernels(torch.device("cpu"), torch.float32) is None  # today's torch path
    assert backend._triton_kernels(torch.device("cuda"), torch.float32, numel=2**31) is None  # 32-bit indices
    from sketchtest._losses import triton_sigreg as _triton_sigreg
    assert _triton_sigreg.available()
    assert not _triton_sigreg.supports(torch.float64)
    assert _triton_sigreg.supports(torch.bfloat16)
