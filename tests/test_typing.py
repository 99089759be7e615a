"""The public surface is typed: every public signature is annotated, and a type checker uses it.

The first tests read the annotations at run time (every parameter and every
return of every public function, method and class constructor). The mypy
tests (slow: mypy reads PyTorch's and JAX's stubs) check that correct calls
pass and that a misspelt string option is an error before anything runs.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import subprocess
import sys

import pytest

import sketchtest

PUBLIC_MODULES = ("sketchtest", "sketchtest.torch", "sketchtest.jax")
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[1]


def public_callables():
    """``(qualified name, callable)`` of every public function, method and constructor."""
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # the framework of sketchtest.torch / sketchtest.jax is missing
            continue
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                yield from class_callables(f"{module_name}.{name}", obj)
            elif callable(obj):
                yield f"{module_name}.{name}", obj


def class_callables(qualified, cls):
    if "__init__" in vars(cls) or "__dataclass_fields__" in vars(cls):
        yield f"{qualified}.__init__", cls.__init__
    for attribute, value in vars(cls).items():
        if attribute.startswith("_") or not inspect.isfunction(value):
            continue
        yield f"{qualified}.{attribute}", value


def missing_annotations(function) -> list[str]:
    signature = inspect.signature(function)
    missing = [parameter.name for parameter in signature.parameters.values()
               if parameter.name not in ("self", "cls") and parameter.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_every_public_signature_is_annotated():
    unannotated = {name: missing for name, function in public_callables()
                   if (missing := missing_annotations(function))}
    assert unannotated == {}


def test_the_annotation_check_finds_a_missing_annotation():
    def half_typed(x: int, y) -> int:
        return x

    assert missing_annotations(half_typed) == ["y"]


def test_string_options_are_literal_types():
    null = inspect.signature(sketchtest.cramer_von_mises).parameters["null"].annotation
    nan_policy = inspect.signature(sketchtest.normality_test).parameters["nan_policy"].annotation
    assert "Null" in str(null) or "Literal" in str(null)
    assert "NanPolicy" in str(nan_policy) or "Literal" in str(nan_policy)


def test_the_package_ships_its_type_marker():
    assert (pathlib.Path(sketchtest.__file__).parent / "py.typed").is_file()


CORRECT_CALLS = """\
import numpy as np
import sketchtest as st

x = np.zeros((100, 4))
result = st.cramer_von_mises(x, null="standard", method="auto", nan_policy="omit")
combined = st.normality_test(x, null="normal", seed=0)
sliced = st.sliced_test(x, "anderson_darling", aggregate="max", null="normal")
"""
MISSPELT_OPTION = """\
import numpy as np
import sketchtest as st

st.cramer_von_mises(np.zeros(10), null="gaussian")
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_accepts_correct_calls_and_rejects_a_misspelt_option(tmp_path):
    (tmp_path / "correct.py").write_text(CORRECT_CALLS)
    (tmp_path / "misspelt.py").write_text(MISSPELT_OPTION)
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--config-file", str(REPOSITORY_ROOT / "pyproject.toml"),
         "correct.py", "misspelt.py"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    errors = [line for line in completed.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, completed.stdout + completed.stderr
    assert errors[0].startswith("misspelt.py:4:")
    assert 'Argument "null" to "cramer_von_mises" has incompatible type' in errors[0]
