"""A missing optional package is named with the command that installs it from a clone.

No package index serves sketchtest, so ``pip install sketchtest[torch]`` fails
for every reader; the messages give the source-tree command of the README.
"""

from __future__ import annotations

import sys

import pytest

from sketchtest._cli.main import main

SOURCE_INSTALL = 'pip install -c .ci/constraints.txt -e ".[{extra}]"'


def check_error(argv, capsys) -> str:
    """The one-line stderr of ``sketchtest`` `argv`, which must exit with status 2."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "sketchtest[" not in captured.err
    return captured.err


@pytest.mark.parametrize("package", ["torch", "jax", "cupy"])
def test_missing_backend_names_the_source_install(package, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, package, None)  # import package -> ImportError
    err = check_error(["check", "--demo", "--backend", package], capsys)
    assert f"--backend {package} needs {package}" in err
    assert SOURCE_INSTALL.format(extra=package) in err


def test_missing_matplotlib_names_the_source_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    err = check_error(["check", "--demo", "--plot", str(tmp_path / "p.png")], capsys)
    assert "needs matplotlib" in err and SOURCE_INSTALL.format(extra="plot") in err


def test_pt_file_without_torch_names_the_source_install(monkeypatch, capsys, tmp_path):
    path = tmp_path / "z.pt"
    path.write_bytes(b"not read: torch is missing")
    monkeypatch.setitem(sys.modules, "torch", None)
    err = check_error(["check", str(path)], capsys)
    assert "needs PyTorch" in err and SOURCE_INSTALL.format(extra="torch") in err
