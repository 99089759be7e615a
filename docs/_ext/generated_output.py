"""Directives that run code when the docs are built and show what it printed.

Printed output pasted into a page goes stale; these directives run the code
at build time (from the repository root, offline, on the CPU, with a time
limit) so that the page shows what the code prints today:

``.. command-output:: sketchtest check --demo``
    runs the command (split as a shell would, but with no shell) and shows
    ``$ command`` followed by its standard output.
``.. python-output::``
    runs its content as a Python script and shows the code, then what it
    printed.

A command that fails (non-zero exit status, or past ``:timeout:`` seconds,
300 by default) is reported as a warning naming the page, an error under
``sphinx-build -W``: a page never silently shows the output of a broken
example. Pages holding these directives are read again at every build, so an
incremental build does not keep an old output either.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

REPOSITORY_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_TIMEOUT_SECONDS = 300
logger = logging.getLogger(__name__)


def run_for_docs(arguments: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``arguments`` from the repository root, single-threaded on the CPU."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", JAX_PLATFORMS="cpu",
                       CUDA_VISIBLE_DEVICES="", MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
                       COLUMNS="200")
    return subprocess.run(arguments, cwd=REPOSITORY_ROOT, env=environment, timeout=timeout,
                          capture_output=True, text=True, check=False)


def executable_of_this_environment(name: str) -> str:
    """``python`` is the interpreter building the docs; other programs are looked
    up first beside it (a virtual environment's scripts, activated or not)."""
    if name in ("python", "python3"):
        return sys.executable
    search_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return shutil.which(name, path=search_path) or name


class _RunningDirective(SphinxDirective):
    """What both directives share: run, check, and render a literal block."""

    option_spec = {"timeout": directives.positive_int}

    def run_checked(self, arguments: list[str], shown: str) -> str:
        """Standard output of ``arguments``; a failure is a warning naming the page."""
        timeout = self.options.get("timeout", DEFAULT_TIMEOUT_SECONDS)
        self.env.note_reread()
        try:
            finished = run_for_docs(arguments, timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not finish within %d s", shown, timeout,
                           location=self.get_location())
            return f"(did not finish within {timeout} s)"
        if finished.returncode != 0:
            logger.warning("%s exited with status %d:\n%s", shown, finished.returncode,
                           finished.stderr[-2000:], location=self.get_location())
        return finished.stdout.rstrip()

    def literal(self, text: str, language: str, *, output: bool = False) -> nodes.literal_block:
        """A literal block highlighted as ``language`` (class ``generated-output`` if `output`)."""
        block = nodes.literal_block(text, text)
        block["language"] = language
        if output:
            block["classes"].append("generated-output")
        self.set_source_info(block)
        return block


class CommandOutput(_RunningDirective):
    """``.. command-output:: COMMAND``: the command and its output."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        command = self.arguments[0]
        arguments = shlex.split(command)
        arguments[0] = executable_of_this_environment(arguments[0])
        output = self.run_checked(arguments, f"command-output {command!r}")
        return [self.literal(f"$ {command}\n{output}", "text", output=True)]


class PythonOutput(_RunningDirective):
    """``.. python-output::`` with a script as content: the code, then its output."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        output = self.run_checked([sys.executable, "-c", code], "python-output block")
        shown = [self.literal(code, "python")]
        if output:
            caption = nodes.paragraph("", "", nodes.emphasis("", "Output:"))
            caption["classes"].append("generated-output-caption")
            shown += [caption, self.literal(output, "text", output=True)]
        return shown


def setup(app):
    app.add_directive("command-output", CommandOutput)
    app.add_directive("python-output", PythonOutput)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
