"""SIGReg's kernels as ``torch.library`` custom operators, so that ``torch.compile`` reaches them.

``sketchtest::trig_sums`` (cosine and sine sums, stacked) and
``sketchtest::trig_sums_backward`` run the Triton kernels on CUDA and the
torch path elsewhere. On this CPU the routing is forced onto the operators
(``_reaches_kernels`` patched to True), so the tests run the registration
itself: ``torch.library.opcheck`` (schema, fake tensors, autograd,
AOTAutograd with dynamic shapes), a float64 gradcheck, the operators in the
traced graphs, and compiled against eager (values and gradients). The
Triton kernels inside a compiled graph run under Triton's interpreter in
``tests/test_triton_sigreg.py``.
"""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:.*lru_cache.*:UserWarning")  # Dynamo on array-api-compat helpers

import sketchtest_backends.torch as backend  # noqa: E402
from sketchtest.torch import SIGReg, sigreg  # noqa: E402

KNOT_STEP = 3.0 / 16
N_POINTS = 17
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}


def _data(shape, dtype=torch.float64, seed=0):
    return torch.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


@pytest.fixture
def through_the_operators(monkeypatch):
    """Every tensor takes the custom-operator route (CPU included: the operators' torch fallback)."""
    monkeypatch.setattr(backend, "_reaches_kernels", lambda projections: True)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("shape", [(40, 9), (2, 33, 5)], ids=["N40-K9", "B2-N33-K5"])
def test_opcheck_passes_for_both_operators(shape, dtype_name):
    dtype = DTYPES[dtype_name]
    projections = _data(shape, dtype).requires_grad_()
    torch.library.opcheck(torch.ops.sketchtest.trig_sums.default, (projections, KNOT_STEP, N_POINTS))
    accumulation = torch.float64 if dtype == torch.float64 else torch.float32
    sums_grad = _data((*shape[:-2], 2, N_POINTS, shape[-1]), accumulation, seed=1)
    torch.library.opcheck(torch.ops.sketchtest.trig_sums_backward.default,
                          (projections.detach(), sums_grad, KNOT_STEP, N_POINTS))


def test_operator_values_match_the_float64_formula():
    """cos and sin sums of t_j p over samples, t_j = j h (closed form, evaluated directly)."""
    projections = _data((2, 30, 4))
    sums = torch.ops.sketchtest.trig_sums(projections, KNOT_STEP, N_POINTS)
    angles = torch.arange(N_POINTS, dtype=torch.float64)[:, None, None] * KNOT_STEP * projections[..., None, :, :]
    assert sums.shape == (2, 2, N_POINTS, 4) and sums.dtype == torch.float64
    torch.testing.assert_close(sums[..., 0, :, :], angles.cos().sum(-2), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sums[..., 1, :, :], angles.sin().sum(-2), rtol=1e-12, atol=1e-12)


def test_gradcheck_of_the_operator_in_float64():
    projections = _data((2, 12, 3)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda p: torch.ops.sketchtest.trig_sums(p, KNOT_STEP, N_POINTS), (projections,))


def test_routing_sends_only_cuda_tensors_of_kernel_dtypes_to_the_operators():
    assert not backend._reaches_kernels(torch.zeros(4, 3))  # CPU: today's autograd Function
    assert not backend._reaches_kernels(torch.zeros(4, 3, device="meta"))
    triton_installed = importlib.util.find_spec("triton") is not None
    assert (backend._triton_kernels(torch.device("cuda"), torch.float32, 12) is not None) == triton_installed
    assert backend._triton_kernels(torch.device("cuda"), torch.float64, 12) is None


def test_routing_traces_without_graph_breaks():
    """The real routing decision, for a CUDA device, inside a fullgraph trace on this CPU."""
    pytest.importorskip("triton")

    def routed(x):
        return x + 1 if backend._triton_kernels(torch.device("cuda"), x.dtype, x.numel()) is not None else x - 1

    result = torch.compile(routed, fullgraph=True, backend="eager")(torch.zeros(3))
    torch.testing.assert_close(result, torch.ones(3))


def _recording_backend(graphs):
    """A torch.compile backend that keeps AOTAutograd's forward and backward graphs."""
    from functorch.compile import make_boxed_func
    from torch._functorch.aot_autograd import aot_module_simplified

    def keep(name):
        def compile_graph(graph_module, example_inputs):
            graphs[name] = graph_module
            return make_boxed_func(graph_module.forward)
        return compile_graph

    def compile_backend(graph_module, example_inputs):
        return aot_module_simplified(graph_module, example_inputs, fw_compiler=keep("forward"),
                                     bw_compiler=keep("backward"))

    return compile_backend


def test_compiled_graph_calls_the_operators(through_the_operators):
    graphs = {}
    z = _data((64, 6), torch.float32).requires_grad_()
    directions = _data((6, 8), torch.float32, seed=1)
    directions = directions / directions.norm(dim=0)
    compiled = torch.compile(lambda z: sigreg(z, directions=directions, distributed=False), fullgraph=True,
                             backend=_recording_backend(graphs))
    compiled(z).backward()
    forward_targets = {node.target for node in graphs["forward"].graph.nodes}
    backward_targets = {node.target for node in graphs["backward"].graph.nodes}
    assert torch.ops.sketchtest.trig_sums.default in forward_targets
    assert torch.ops.sketchtest.trig_sums_backward.default in backward_targets


def _value_and_gradient(function, z):
    leaf = z.clone().requires_grad_()
    value = function(leaf)
    (gradient,) = torch.autograd.grad(value.sum(), leaf)
    return value.detach(), gradient


def _compiled_against_eager(dtype, compiler_backend):
    z = _data((2, 96, 7), dtype, seed=2)
    directions = _data((7, 12), dtype, seed=3)
    directions = directions / directions.norm(dim=0)

    def loss(z):
        return sigreg(z, directions=directions, distributed=False)

    compiled = _value_and_gradient(torch.compile(loss, fullgraph=True, backend=compiler_backend), z)
    return compiled, z, loss


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_compiled_through_the_operators_equals_eager(through_the_operators, dtype_name, monkeypatch):
    (value, gradient), z, loss = _compiled_against_eager(DTYPES[dtype_name], "aot_eager")
    monkeypatch.setattr(backend, "_reaches_kernels", lambda projections: False)  # eager: the autograd Function
    eager_value, eager_gradient = _value_and_gradient(loss, z)
    torch.testing.assert_close(value, eager_value)
    torch.testing.assert_close(gradient, eager_gradient)


@pytest.mark.slow
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_inductor_through_the_operators_equals_eager(through_the_operators, dtype_name, monkeypatch):
    (value, gradient), z, loss = _compiled_against_eager(DTYPES[dtype_name], "inductor")
    monkeypatch.setattr(backend, "_reaches_kernels", lambda projections: False)
    eager_value, eager_gradient = _value_and_gradient(loss, z)
    torch.testing.assert_close(value, eager_value)
    torch.testing.assert_close(gradient, eager_gradient)


def test_compiled_model_with_the_sigreg_module_equals_eager(through_the_operators, monkeypatch):
    """A linear encoder and the SIGReg module (fresh directions from its step), fullgraph."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), SIGReg(num_slices=16, distributed=False))
    eager_model = copy.deepcopy(model)
    x = _data((128, 5), torch.float32, seed=4)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    values = []
    for _ in range(2):  # two steps: two draws of directions, gradients accumulated
        values.append(compiled(x))
        values[-1].backward()
    monkeypatch.setattr(backend, "_reaches_kernels", lambda projections: False)  # eager: the autograd Function
    for value in values:
        eager_value = eager_model(x)
        eager_value.backward()
        torch.testing.assert_close(value, eager_value)
    assert int(model[1].step) == int(eager_model[1].step) == 2
    torch.testing.assert_close(model[0].weight.grad, eager_model[0].weight.grad)
    torch.testing.assert_close(model[0].bias.grad, eager_model[0].bias.grad)
