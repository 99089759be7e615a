"""Importing sketchtest imports no array framework (DESIGN.md, "The adapters").

Each check runs in a fresh interpreter, since this test session has imported
torch and jax already. SciPy may be imported (the NumPy adapter uses
``scipy.special``); torch, jax and cupy must not be.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

FRAMEWORKS = ("torch", "jax", "jaxlib", "cupy", "array_api_strict", "dask")


def modules_after(code: str) -> set[str]:
    """The top-level modules loaded after running `code` in a fresh interpreter."""
    script = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return set(completed.stdout.split())


@pytest.mark.parametrize("code", [
    "import sketchtest",
    "import sketchtest_backends",
    "import sketchtest as st, numpy as np; st.jarque_bera(np.linspace(-1, 1, 20))",
    "import sketchtest_backends as b, numpy as np; b.for_namespace(np).ndtr(np.zeros(1))",
], ids=["sketchtest", "sketchtest_backends", "numpy-call", "numpy-adapter"])
def test_no_framework_is_imported(code):
    loaded = modules_after(code)
    assert not loaded & set(FRAMEWORKS), f"{code!r} imported {sorted(loaded & set(FRAMEWORKS))}"


def test_public_names_resolve():
    import sketchtest

    for name in sketchtest.__all__:
        assert getattr(sketchtest, name) is not None, name


@pytest.mark.parametrize("module, framework", [("sketchtest.torch", "torch"), ("sketchtest.jax", "jax")])
def test_framework_modules_import_only_their_framework(module, framework):
    pytest.importorskip(framework)
    loaded = modules_after(f"import {module}")
    others = set(FRAMEWORKS) - {framework, "jaxlib"} - ({"jax"} if framework == "jax" else set())
    assert framework in loaded
    assert not loaded & others, f"{module} imported {sorted(loaded & others)}"


def test_the_command_line_entry_imports_no_framework():
    loaded = modules_after("import sketchtest.__main__")
    assert not loaded & set(FRAMEWORKS), sorted(loaded & set(FRAMEWORKS))

