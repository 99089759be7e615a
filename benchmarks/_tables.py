"""Shared by the benchmark scripts: their results as reStructuredText tables for the docs."""

from __future__ import annotations


def rst_table(header, rows) -> str:
    """A simple reStructuredText table of `rows` under `header`, columns padded to their widest cell."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(lines + [rule])
