"""What a trainer needs installed, checked before any of it is imported."""

from __future__ import annotations

import importlib.util
import sys

INSTALL_COMMAND = 'pip install -c .ci/constraints.txt -e ".[{extras}]"'
EXAMPLES_MODULES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "tqdm": "tqdm"}
FRAMEWORK_MODULES = {"torch": {"torch": "torch"}, "jax": {"jax": "jax", "optax": "optax"}}
"""Import name to package name of what each trainer needs besides the ``[examples]`` extra."""


def install_command(framework: str) -> str:
    """The command, run from the source tree, that installs what the `framework` trainer needs."""
    return INSTALL_COMMAND.format(extras=f"{framework},examples")


def missing_packages(modules: dict[str, str]) -> list[str]:
    """The packages (values of `modules`) whose import name (key) cannot be found."""
    return [package for module, package in modules.items() if importlib.util.find_spec(module) is None]


def require_packages(framework: str) -> None:
    """Exit with status 2 and one line on stderr when a package the trainer needs is missing.

    Parameters
    ----------
    framework : str
        ``"torch"`` or ``"jax"``: its :data:`FRAMEWORK_MODULES` and the
        ``[examples]`` extra's packages are checked.
    """
    missing = missing_packages({**FRAMEWORK_MODULES[framework], **EXAMPLES_MODULES})
    if missing:
        print(
            f"error: the {framework} trainer needs {', '.join(missing)}; "
            f"from the source tree, install it with: {install_command(framework)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
