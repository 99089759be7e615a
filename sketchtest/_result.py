"""Result types returned by the public tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sketchtest._compat import is_traced

__all__ = ["NormalityResult"]

#: Arrays with more elements than this are shown abbreviated (their first and last
#: ``_EDGE_ITEMS`` values per axis), as NumPy's repr does beyond its threshold.
_SHOWN_IN_FULL = 10
_EDGE_ITEMS = 3


def _describe(value) -> str:
    """The values of a result field for a repr: a number, or a NumPy-style (abbreviated) list.

    Only for display: the array is copied to the host here and nowhere else.
    A traced value (``jax.jit``) has no values and shows its shape and dtype;
    a tensor that requires grad is detached for display, and the repr says so.
    """
    shape = tuple(getattr(value, "shape", ()))
    if is_traced(value):
        return f"<traced array of shape {shape}, dtype {value.dtype}>"
    host = _host_copy(value)
    if host is None:  # no readable values (a torch meta tensor, a compiling graph, ...)
        return f"<array of shape {shape}, dtype {getattr(value, 'dtype', type(value).__name__)}>"
    note = " (detached for display; it requires grad)" if getattr(value, "requires_grad", False) else ""
    if host.ndim == 0:
        return f"{_number(host)}{note}"
    text = np.array2string(host, threshold=_SHOWN_IN_FULL, edgeitems=_EDGE_ITEMS, separator=", ",
                           formatter={"all": _number}, max_line_width=10**6)
    text = " ".join(text.split())  # one line, also for several axes
    size = f" (shape {shape})" if host.ndim > 1 or "..." in text else ""
    return text + size + note


def _number(value) -> str:
    """A value the way a scalar result shows: six significant digits."""
    return f"{float(value):.6g}"


def _host_copy(value):
    """A float64 NumPy copy of `value` from any backend, or ``None`` where it has no readable values."""
    try:
        if hasattr(value, "detach"):  # torch: no autograd on the copy, no warning about it
            value = value.detach().cpu()
        elif hasattr(value, "get") and type(value).__module__.startswith("cupy"):
            value = value.get()
        try:
            host = np.asarray(value)
        except (RuntimeError, TypeError, ValueError):  # array-api-strict on a non-CPU device
            host = np.from_dlpack(value)
        return host.astype(np.float64) if host.dtype.kind in "fiub" else host
    except Exception:  # noqa: BLE001 (display only: any backend failure shows shape and dtype)
        return None


@dataclass(frozen=True, repr=False)
class NormalityResult:
    """Outcome of a univariate normality test.

    Attributes
    ----------
    statistic : array
        The test statistic, one value per batch element, in the input's
        namespace and on its device.
    pvalue : array
        The p-value of `statistic` under the null hypothesis, same shape.
    test : str
        Name of the test, e.g. ``"cramer_von_mises"``.
    null : str
        ``"standard"`` (H0: N(0, 1)) or ``"normal"`` (H0: some N(mu, sigma^2)).
    method : str
        How `pvalue` was really obtained, also under ``method="auto"``:
        ``"asymptotic"`` (the limit law), ``"exact"``, ``"finite_n"`` (an
        approximation at this sample size), ``"royston"``, ``"lognormal"``,
        ``"monte_carlo"`` or ``"tabulated"`` (a null simulated once on the
        host from a fixed seed and cached).
    """

    statistic: object
    pvalue: object
    test: str = ""
    null: str = ""
    method: str = ""
    extras: dict = field(default_factory=dict, compare=False)

    def __iter__(self):
        """Unpack as ``statistic, pvalue``, like SciPy's results."""
        return iter((self.statistic, self.pvalue))

    def __repr__(self) -> str:
        return (
            f"NormalityResult(test={self.test!r}, null={self.null!r}, "
            f"statistic={_describe(self.statistic)}, pvalue={_describe(self.pvalue)}, "
            f"method={self.method!r})"
        )
