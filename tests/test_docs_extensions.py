"""The local Sphinx extensions of docs/_ext: offline MathJax and generated output.

A tiny site is built once, in a temporary folder, with both extensions and
``-W --keep-going``: its math must load the MathJax copied into the site (no
CDN), the directives must show what the code printed, and the one command
that fails must fail the build (the other pages are still written).
"""

from __future__ import annotations

import html as html_text
import importlib.metadata
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("sphinx")

DOCS_EXTENSIONS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "_ext"
PAGE = """\
Page
====

Math :math:`\\E[X] = 0`.

.. command-output:: python -c "print(6 * 7)"

.. python-output::

   print("generated", 2 + 3)

.. command-output:: python -c "raise SystemExit(3)"
"""


def build(tmp_path, page):
    """Build `page` as index.rst with warnings as errors, in a child interpreter."""
    try:
        importlib.metadata.distribution("sphinx-mathjax-offline")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("sphinx-mathjax-offline (the docs extra) is not installed")
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS_EXTENSIONS)!r})\n"
        "extensions = ['offline_mathjax', 'generated_output']\n"
        "mathjax3_config = {'tex': {'macros': {'E': r'\\mathbb{E}'}}}\n")
    (source / "index.rst").write_text(page)
    html = tmp_path / "html"
    finished = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(source), str(html)],
        capture_output=True, text=True, timeout=120, check=False)
    return html, finished


def test_local_mathjax_generated_outputs_and_failing_commands(tmp_path):
    html, finished = build(tmp_path, PAGE)
    assert finished.returncode != 0
    assert "exited with status 3" in finished.stderr and "index.rst" in finished.stderr
    page = (html / "index.html").read_text()
    shown = html_text.unescape(re.sub(r"<[^>]+>", "", page))   # the text a reader sees
    assert 'src="_static/mathjax/tex-svg.js"' in page
    assert (html / "_static" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    assert "jsdelivr" not in page and "cdnjs" not in page
    assert "\\mathbb{E}" in page                    # the macro reaches MathJax's config
    assert '$ python -c "print(6 * 7)"\n42' in shown
    assert 'print("generated", 2 + 3)' in shown and "generated 5" in shown
