"""sketchtest: do these samples look Gaussian? On any array library.

Univariate normality tests written once against the Python array API
standard (NumPy, CuPy, PyTorch, JAX), their sliced and multivariate
extensions, and SIGReg, the sliced Epps-Pulley loss of LeJEPA.

Importing :mod:`sketchtest` imports no array framework besides NumPy;
``sketchtest.torch`` and ``sketchtest.jax`` hold the framework-specific
modules (the ``SIGReg`` module, the JAX loss with ``custom_vjp``).
"""

from sketchtest._version import __version__ as __version__
from sketchtest._univariate.ecf import epps_pulley
from sketchtest._univariate.entropy import vasicek
from sketchtest._univariate.edf import anderson_darling, cramer_von_mises, kolmogorov_smirnov, watson
from sketchtest._univariate.moments import dagostino_pearson, jarque_bera, kurtosis_test, skewness_test
from sketchtest._multivariate.affine import bhep, henze_zirkler, mardia
from sketchtest._nulls.sliced_mean import sigreg_pvalue
from sketchtest._multivariate.mgf import comb, henze_jimenez_gamero, henze_visagie
from sketchtest._multivariate.normality import NormalityTestResult, normality_test
from sketchtest._univariate.regression import shapiro_francia, shapiro_wilk
from sketchtest._result import NormalityResult
from sketchtest._losses.sigreg import sigreg
from sketchtest._multivariate.sliced import SlicedResult, sliced_test
from sketchtest._multivariate.streaming import SlicedEppsPulley
from sketchtest._multivariate.normality_stream import StreamingNormalityTest


__all__ = [
    "NormalityResult",
    "NormalityTestResult",
    "SlicedEppsPulley",
    "StreamingNormalityTest",
    "SlicedResult",
    "anderson_darling",
    "bhep",
    "comb",
    "cramer_von_mises",
    "dagostino_pearson",
    "epps_pulley",
    "henze_jimenez_gamero",
    "henze_visagie",
    "henze_zirkler",
    "jarque_bera",
    "kolmogorov_smirnov",
    "kurtosis_test",
    "mardia",
    "normality_test",
    "shapiro_francia",
    "shapiro_wilk",
    "sigreg",
    "sigreg_pvalue",
    "skewness_test",
    "sliced_test",
    "vasicek",
    "watson",
]
