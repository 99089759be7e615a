"""The package's import graph runs one way, down the pipeline.

Every import of a ``sketchtest`` module is read from the source (module level
and inside functions alike) and the graph is checked for circles, and for
modules that import the top-level package (which would tie every stage to
``sketchtest/__init__.py`` and back).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1] / "sketchtest"
#: The modules a stage may sit beside: the public surface and the shared helpers.
TOP_LEVEL_MODULES = {"__init__", "__main__", "torch", "jax", "_compat", "_validation", "_result", "_version", "_typing"}
STAGES = {"_univariate", "_nulls", "_multivariate", "_losses", "_cli"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def imported_modules(path: pathlib.Path, known: set[str]) -> set[str]:
    """The ``sketchtest`` modules that `path` imports, wherever the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "sketchtest")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "sketchtest":
                continue
            found.add(node.module)
            # `from sketchtest._nulls import edf` imports the submodule sketchtest._nulls.edf
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in known)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        targets = imported_modules(path, known) & known
        # a stage folder's __init__ holds only its docstring: importing through it adds no edge
        graph[name] = {target for target in targets if target != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, lowlink, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_circle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_module_imports_the_top_level_package():
    offenders = sorted(name for name, targets in import_graph().items()
                       if "sketchtest" in targets and name != "sketchtest")
    assert offenders == []


def test_every_private_module_sits_in_a_stage_folder():
    loose = sorted(name for name in all_modules()
                   if name.count(".") == 1 and name.split(".")[1] not in TOP_LEVEL_MODULES | STAGES)
    assert loose == []


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_says_what_it_holds(stage):
    docstring = ast.get_docstring(ast.parse((PACKAGE_ROOT / stage / "__init__.py").read_text(encoding="utf-8")))
    assert docstring and len(docstring.split()) >= 8


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_init_holds_only_its_docstring(stage):
    body = ast.parse((PACKAGE_ROOT / stage / "__init__.py").read_text(encoding="utf-8")).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr)


def test_every_module_compiles_without_warnings():
    # an invalid escape such as "\l" in a non-raw docstring warns at compile time (an error in later Pythons)
    import warnings

    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
