"""Result types returned by the public tests."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["NormalityResult"]


def _describe(value) -> str:
    shape = getattr(value, "shape", ())
    if tuple(shape) == ():
        try:
            return f"{float(value):.6g}"
        except (TypeError, ValueError):  # traced or lazy values
            return repr(value)
    return f"<array of shape {tuple(shape)}, dtype {value.dtype}>"


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
        approximation at this sample size), ``"royston"``, ``"lognormal"``
        or ``"monte_carlo"``.
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
