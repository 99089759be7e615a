"""The univariate tests by name, for the stages that take a test as a string.

:func:`sketchtest.sliced_test`, the sliced losses and the command line look a
test up here instead of on the top-level package, so that no module imports
:mod:`sketchtest` itself and the import graph runs one way.
"""

from __future__ import annotations

from sketchtest._univariate.ecf import epps_pulley
from sketchtest._univariate.edf import anderson_darling, cramer_von_mises, kolmogorov_smirnov, watson
from sketchtest._univariate.entropy import vasicek
from sketchtest._univariate.moments import dagostino_pearson, jarque_bera, kurtosis_test, skewness_test
from sketchtest._univariate.regression import shapiro_francia, shapiro_wilk

__all__ = ["UNIVARIATE_TESTS", "univariate_test"]

#: Every univariate test of the package, by its public name.
UNIVARIATE_TESTS = {
    function.__name__: function
    for function in (
        epps_pulley, cramer_von_mises, anderson_darling, watson, kolmogorov_smirnov, shapiro_wilk,
        shapiro_francia, jarque_bera, dagostino_pearson, skewness_test, kurtosis_test, vasicek,
    )
}


def univariate_test(name: str):
    """The univariate test called `name` (a key of :data:`UNIVARIATE_TESTS`).

    Parameters
    ----------
    name : str
        The test's public name, e.g. ``"anderson_darling"``.

    Returns
    -------
    callable
        The test function, as :mod:`sketchtest` exports it.

    Examples
    --------
    >>> from sketchtest._univariate.registry import univariate_test
    >>> univariate_test("watson").__name__
    'watson'
    """
    try:
        return UNIVARIATE_TESTS[name]
    except KeyError:
        raise ValueError(f"`test` must be one of {sorted(UNIVARIATE_TESTS)}; got {name!r}") from None
