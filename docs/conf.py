"""Sphinx configuration of the sketchtest documentation.

Builds offline (no intersphinx inventories are fetched) and cleanly under
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import sketchtest  # noqa: E402

project = "sketchtest"
author = "the sketchtest developers"
copyright = "2025, the sketchtest developers"
release = sketchtest.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "offline_mathjax",  # docs/_ext: MathJax copied into the site, no CDN
    "generated_output",  # docs/_ext: command-output and python-output directives
    "sphinx.ext.doctest",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# sg_execution_times pages (left by older builds) load jQuery and DataTables from CDNs.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples", "sg_execution_times.rst",
                    "auto_examples/sg_execution_times.rst"]
templates_path = ["_templates"]
root_doc = "index"

# Offline: no remote inventories. Cross-references stay inside this site.
intersphinx_mapping: dict = {}

# API pages: one page per public name, generated into api/generated/ (gitignored).
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_default_options = {"members": False}

# numpydoc: no links to remote glossaries; the aliases below name only local or plain types.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_xref_aliases: dict = {}
numpydoc_xref_ignore = "all"
numpydoc_validation_checks: set = set()

# MathJax is copied into _static/mathjax/ by docs/_ext/offline_mathjax.py:
# the pages render their formulas with the network off.
mathjax3_config = {"tex": {"macros": {"E": r"\mathbb{E}"}}}

# The examples gallery runs at build time, offline, on the CPU, with small sizes.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {},
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "write_computation_times": False,  # its page loads scripts from CDNs
}

html_theme = "pydata_sphinx_theme"
html_title = f"sketchtest {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    # The command line's page shows a 110-column report: no right column there.
    "secondary_sidebar_items": {"**": ["page-toc"], "guide/cli": []},
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path = ["_static"]
html_css_files = ["sketchtest.css"]
html_show_sourcelink = False


def _check_api_pages(app) -> None:
    """Warn (an error under -W) when a public name has no API page.

    A name bound to an object already documented under another module (the
    NamedTuple shared by ``sketchtest.torch`` and ``sketchtest.jax``) needs none.
    """
    import importlib
    import re

    from sphinx.util import logging

    text = open(os.path.join(app.srcdir, "api", "index.rst"), encoding="utf-8").read()
    logger = logging.getLogger(__name__)
    documented = set()
    for module_name in ("sketchtest", "sketchtest.torch", "sketchtest.jax"):
        section = text.split(f".. currentmodule:: {module_name}\n", 1)[-1]
        section = section.split(".. currentmodule::", 1)[0]
        listed = set(re.findall(r"^   (\w+)$", section, flags=re.MULTILINE))
        module = importlib.import_module(module_name)
        documented |= {id(getattr(module, name)) for name in listed if hasattr(module, name)}
        for name in sorted(set(module.__all__) - listed):
            if id(getattr(module, name)) not in documented:
                logger.warning("api/index.rst lacks the public name %s.%s", module_name, name)


def setup(app):
    app.connect("builder-inited", _check_api_pages)
