"""sketchtest: do these samples look Gaussian? On any array library.

Univariate normality tests written once against the Python array API
standard (NumPy, CuPy, PyTorch, JAX), their sliced and multivariate
extensions, and SIGReg, the sliced Epps-Pulley loss of LeJEPA.

Importing :mod:`sketchtest` imports no array framework besides NumPy.
"""

from sketchtest._ecf import epps_pulley
from sketchtest._edf import anderson_darling, cramer_von_mises, kolmogorov_smirnov, watson
from sketchtest._moments import jarque_bera
from sketchtest._regression import shapiro_francia, shapiro_wilk
from sketchtest._result import NormalityResult

__version__ = "0.1.0"

__all__ = [
    "NormalityResult",
    "anderson_darling",
    "cramer_von_mises",
    "epps_pulley",
    "jarque_bera",
    "kolmogorov_smirnov",
    "shapiro_francia",
    "shapiro_wilk",
    "watson",
]
