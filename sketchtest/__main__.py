"""``python -m sketchtest`` and the ``sketchtest`` console script.

See ``sketchtest check --help``; the command is documented in the user guide
(docs/guide/cli.rst) and implemented in :mod:`sketchtest._cli.main`.
"""

from __future__ import annotations

import sys

from sketchtest._cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
