"""Render math with a MathJax shipped inside the built site: no network.

``sphinx.ext.mathjax`` points every page at a CDN, so the formulas of a site
opened from disk read as raw LaTeX. This extension copies one self-contained
MathJax 3 component, ``tex-svg.js`` (TeX input, SVG output, the menu; its
glyphs are drawn as paths, so no web font has to load: browsers refuse fonts
from other folders of a ``file://`` site), from the ``sphinx-mathjax-offline``
package into ``_static/mathjax/`` and points ``mathjax_path`` at it. Only that
file is copied (not the package's 24 MB of components).
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata

from sphinx.errors import ExtensionError

MATHJAX_DISTRIBUTION = "sphinx-mathjax-offline"
MATHJAX_COMPONENT = "tex-svg.js"
MATHJAX_SOURCE = f"sphinx-mathjax-offline/static/mathjax/{MATHJAX_COMPONENT}"


def mathjax_component_file() -> str:
    """Path of the installed ``tex-svg.js``, or an error saying what to install."""
    try:
        path = str(metadata.distribution(MATHJAX_DISTRIBUTION).locate_file(MATHJAX_SOURCE))
    except metadata.PackageNotFoundError:
        path = ""
    if not os.path.isfile(path):
        raise ExtensionError(
            f"the docs render math offline with the MathJax of {MATHJAX_DISTRIBUTION}, "
            f"which is not installed: from a clone, pip install -c .ci/constraints.txt "
            f'-e ".[docs]"')
    return path


def copy_mathjax(app, exception) -> None:
    """Copy ``tex-svg.js`` to ``_static/mathjax/`` of an HTML build that succeeded."""
    if exception is not None or app.builder.format != "html":
        return
    target = os.path.join(app.outdir, "_static", "mathjax")
    os.makedirs(target, exist_ok=True)
    shutil.copyfile(mathjax_component_file(), os.path.join(target, MATHJAX_COMPONENT))


def use_local_mathjax(app, config) -> None:
    """Point ``mathjax_path`` at the local copy (checked to exist before the build)."""
    mathjax_component_file()
    config.mathjax_path = f"mathjax/{MATHJAX_COMPONENT}"


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
