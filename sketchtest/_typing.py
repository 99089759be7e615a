"""Types of the public signatures: the string options as ``Literal`` types, arrays loosely.

Arrays are typed as :data:`Array` (``Any``), as array-api-extra does: the
library takes any array of the array API standard (NumPy, CuPy, PyTorch, JAX,
dask, array-api-strict) and no common static type spans them. Every string
option is a ``Literal``, so a type checker catches ``null="gaussian"``
before the call raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, TypeVar, Union

import numpy as np

__all__ = [
    "Aggregate", "AggregateMethod", "Alternative", "Array", "DeviceSeed", "EppsPulleyForm", "MultivariateMethod", "NanPolicy",
    "Null", "Seed", "SlicedTestName", "TestName", "UnivariateMethod", "Function",
]

#: Any array of the array API standard, or anything ``xp.asarray`` takes.
Array = Any
#: A seed of the tests: an int, a NumPy Generator, or None for fresh entropy.
Seed = Union[int, np.random.Generator, None]
#: A seed of the torch losses, drawn on the device: an int, or a 0-d integer tensor (a step counter).
DeviceSeed = Union[int, Array, None]

Null = Literal["standard", "normal"]
NanPolicy = Literal["propagate", "raise", "omit"]
UnivariateMethod = Literal["auto", "asymptotic", "exact", "finite_n", "monte_carlo"]
MultivariateMethod = Literal["lognormal", "monte_carlo"]
Alternative = Literal["two-sided", "less", "greater"]
EppsPulleyForm = Literal["quadrature", "exact"]
Aggregate = Literal["cauchy", "mean", "max"]
AggregateMethod = Literal["auto", "asymptotic", "monte_carlo"]
#: The univariate tests a sliced test or loss takes by name.
TestName = Literal[
    "epps_pulley", "cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "shapiro_wilk",
    "shapiro_francia", "jarque_bera", "dagostino_pearson", "skewness_test", "kurtosis_test", "vasicek",
]
SlicedTestName = Literal[
    "epps_pulley", "cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "shapiro_wilk",
    "shapiro_francia", "jarque_bera",
]

#: A function a decorator hands back unchanged (the docstring fillers): its signature survives for type checkers.
Function = TypeVar("Function", bound=Callable[..., Any])
