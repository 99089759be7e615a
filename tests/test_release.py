"""The wheel a user installs: what it holds, and that it runs from a fresh environment.

The wheel is built from this tree with pip (build isolation fetches the build
backend, as on a user's machine), then installed without the source tree in a
new virtual environment whose only other packages are the dependencies
(reached through a path file, so nothing is downloaded twice), and
``sketchtest check --demo`` runs there from an empty folder.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest

REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBPACKAGES = ("_univariate", "_nulls", "_multivariate", "_losses", "_cli")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPOSITORY_ROOT)],
                   check=True, timeout=900)
    (built,) = out.glob("sketchtest-*.whl")
    return built


def test_wheel_holds_the_packages_the_demo_data_and_the_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "sketchtest/__init__.py" in names and "sketchtest_backends/__init__.py" in names
    assert "sketchtest/py.typed" in names
    assert "sketchtest/data/demo_embeddings.npy" in names
    for stage in SUBPACKAGES:
        assert f"sketchtest/{stage}/__init__.py" in names, stage
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("tests/", "backends/", "benchmarks/")) for name in names)


def test_wheel_runs_the_demo_in_a_fresh_environment(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    site_packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies (numpy, scipy, array-api-compat, ...) from this interpreter, after the venv's own
    # packages: a .pth line adds a folder but runs none of its .pth files (no editable finder comes along)
    pathlib.Path(site_packages, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=600)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    located = subprocess.run([str(python), "-c", "import sketchtest; print(sketchtest.__file__)"],
                             cwd=empty, env=env, check=True, capture_output=True, text=True).stdout
    assert located.startswith(site_packages)
    completed = subprocess.run([str(environment / "bin" / "sketchtest"), "check", "--demo"],
                               cwd=empty, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert "verdict" in completed.stdout
