"""What the mean and covariance of samples say, on the host in float64, for the verdict's words.

:func:`moment_diagnostics` summarizes a mean vector and a covariance matrix
(from ``sketchtest check``'s streamed moments, or from the samples given to
``result.explain(x)`` / ``result.plot(x)``): the norm of the mean, Hotelling's
test of a zero mean whatever the covariance, the average variance and its
exact test, the spectrum, the effective and numerical ranks, and the
Marchenko-Pastur range of isotropic data. They tell a mean offset from a
scale, a scale from an anisotropy, and give the rank of a collapsed sample.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["moment_diagnostics", "rank_threshold", "summary_of_samples", "host_float64", "BULK_SLACK"]

#: Relative slack around the Marchenko-Pastur bulk before an eigenvalue counts as an outlier.
BULK_SLACK = 0.1


def moment_diagnostics(mean, covariance, samples: int, *, dtype=None) -> dict:
    r"""Summaries of the mean and covariance that say whether data look like N(0, I).

    ``mean_norm`` is :math:`\lVert\bar x\rVert`, whose typical size under
    N(0, I) is :math:`\sqrt{D/N}` (``mean_norm_expected``);
    ``studentized_mean_pvalue`` is Hotelling's :math:`T^2 = N \bar x^\top S^{-1}\bar x`
    test of a zero mean whatever the covariance (:math:`\frac{N-D}{D(N-1)}T^2 \sim F_{D, N-D}`),
    which tells a mean offset from a scale. The covariance spectrum gives
    the ratio of the largest to the smallest eigenvalue, the effective rank
    :math:`\exp(-\sum_i p_i \log p_i)`, :math:`p_i = \lambda_i / \sum_j \lambda_j`
    (Roy & Vetterli, 2007; D for isotropic data), the numerical rank (eigenvalues above
    ``rank_threshold``, the rounding level of `dtype`: :func:`rank_threshold`),
    and the number of eigenvalues outside the Marchenko-Pastur bulk
    :math:`\bar\lambda\,[(1 - \sqrt{D/N})^2, (1 + \sqrt{D/N})^2]` widened by
    10%, where the sample eigenvalues of isotropic data fall for large N and D.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((4000, 4))
    >>> d = moment_diagnostics(x.mean(axis=0), np.cov(x, rowvar=False), 4000)
    >>> d["isotropic"], round(d["effective_rank"], 1), d["numerical_rank"]
    (True, 4.0, 4)
    """
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    dimensions = mean.shape[0]
    base = {"mean_norm": float(np.linalg.norm(mean)), "mean_norm_expected": math.sqrt(dimensions / samples),
            "samples": int(samples)}
    if covariance.ndim == 1 and dimensions > 1:  # only the variances: no spectrum
        return {**base, "average_variance": float(covariance.mean()),
                "spectrum_skipped": f"D = {dimensions}: the covariance matrix was not formed "
                                    f"(more than 4096 dimensions, or three copies larger than a "
                                    "quarter of --memory-budget)"}
    covariance = np.atleast_2d(covariance)
    eigenvalues = _eigenvalues(covariance)
    if isinstance(eigenvalues, str):  # the spectrum could not be computed: say why
        return {**base, "average_variance": float(np.mean(np.diagonal(covariance))),
                "spectrum_skipped": eigenvalues, "undefined_reason": eigenvalues}
    eigenvalues = np.maximum(eigenvalues, 0.0)
    second_moments = np.diagonal(covariance) + mean * mean
    return {**base, **_spectrum_summary(eigenvalues, samples, rank_threshold(eigenvalues, second_moments, dtype)),
            **_scale_test(eigenvalues, samples),
            **_studentized_mean(mean, covariance, eigenvalues, samples)}


def _scale_test(eigenvalues, samples) -> dict:
    """Two-sided p-value of a unit average variance: :math:`(N-1)\\operatorname{tr} S \\sim \\chi^2_{(N-1)D}`."""
    from scipy.stats import chi2

    dof = (samples - 1.0) * eigenvalues.shape[0]
    statistic = (samples - 1.0) * float(eigenvalues.sum())
    pvalue = 2.0 * min(float(chi2.sf(statistic, dof)), float(chi2.cdf(statistic, dof)))
    return {"scale_pvalue": min(pvalue, 1.0)}


def _spectrum_summary(eigenvalues, samples, threshold) -> dict:
    dimensions = eigenvalues.shape[0]
    average = float(eigenvalues.mean())
    largest, smallest = float(eigenvalues[0]), float(eigenvalues[-1])
    gamma = dimensions / samples
    lower = (1.0 - math.sqrt(gamma)) ** 2 if gamma < 1 else 0.0
    upper = (1.0 + math.sqrt(gamma)) ** 2
    relative = eigenvalues / average if average > 0 else eigenvalues
    outside = int(np.count_nonzero((relative < lower * (1 - BULK_SLACK)) | (relative > upper * (1 + BULK_SLACK))))
    rank = int(np.count_nonzero(eigenvalues > threshold)) if largest > 0 else 0
    summary = {
        "average_variance": average, "eigenvalue_max": largest, "eigenvalue_min": smallest,
        "eigenvalue_ratio": largest / smallest if smallest > 0 else None,
        "effective_rank": _effective_rank(eigenvalues), "numerical_rank": rank, "rank_threshold": threshold,
        "marchenko_pastur_range": [lower, upper], "eigenvalues_outside_range": outside,
        "isotropic": outside == 0, "eigenvalues": [float(v) for v in eigenvalues],
    }
    if rank < dimensions and rank < samples - 1:
        summary["undefined_reason"] = (f"the covariance is singular: the samples lie in a {rank}-dimensional "
                                       "subspace (collinear coordinates)")
    return summary


#: Machine epsilon of the dtypes samples come in (bfloat16 has 8 bits of precision).
_EPSILON = {"float64": 2.0 ** -52, "float32": 2.0 ** -23, "float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}


def rank_threshold(eigenvalues, second_moments, dtype=None) -> float:
    r"""The eigenvalue below which a covariance direction is rounding, not variance.

    :math:`2\epsilon^2 \max_j E[x_j^2] + 100 D \epsilon_{64} \lambda_{max}`:
    rounding samples to `dtype` (its name; float32 when unknown) adds about
    :math:`\epsilon^2/12` times a coordinate's second moment (the mean
    included) to the eigenvalues; the float64 covariance itself is exact to
    about :math:`D \epsilon_{64} \lambda_{max}`. Measured (rank r of D, N = 2000, shifts 0 and 10,
    then rounded): the largest rounding eigenvalue over the largest is at most 9e-16 in float64,
    1e-13 in float32, 4e-4 in bfloat16, 30 to 1000 times below the threshold, while N(0, I) at
    N = D + 2 keeps its smallest eigenvalue 4 to 40 times above it (D = 32..128).

    Examples
    --------
    >>> f"{rank_threshold([1.0, 1.0], [1.0, 1.0], 'float32'):.2g}"
    '7.3e-14'
    """
    eps = _EPSILON.get(str(dtype).replace("torch.", ""), _EPSILON["float32"])
    largest, dimensions = float(np.max(eigenvalues)), len(eigenvalues)
    return 2.0 * eps * eps * float(np.max(second_moments)) + 100.0 * dimensions * _EPSILON["float64"] * largest


def _studentized_mean(mean, covariance, eigenvalues, samples) -> dict:
    """Hotelling's T^2 p-value of a zero mean, in the span of the covariance (pseudo-inverse)."""
    from scipy.stats import f as f_distribution

    rank = int(np.count_nonzero(eigenvalues > 1e-12 * eigenvalues[0])) if eigenvalues[0] > 0 else 0
    if rank == 0 or samples <= rank:
        return {}
    inverse = np.linalg.pinv((covariance + covariance.T) / 2.0, rcond=1e-12, hermitian=True)
    t_squared = float(samples * mean @ inverse @ mean)
    scaled = (samples - rank) / (rank * (samples - 1.0)) * t_squared
    return {"studentized_mean_pvalue": float(f_distribution.sf(scaled, rank, samples - rank))}


def _eigenvalues(covariance):
    """Eigenvalues in decreasing order, or a sentence saying why there are none."""
    if not np.all(np.isfinite(covariance)):
        return "the covariance is not finite (values too large for float64 squares?)"
    try:
        with np.errstate(all="ignore"):
            eigenvalues = np.linalg.eigvalsh((covariance + covariance.T) / 2.0)
    except np.linalg.LinAlgError as error:
        return f"the eigen-solver failed ({error})"
    if not np.all(np.isfinite(eigenvalues)):
        return "the eigen-solver returned non-finite eigenvalues"
    return np.sort(eigenvalues)[::-1]


def _effective_rank(eigenvalues) -> float:
    total = eigenvalues.sum()
    if not total > 0:
        return 0.0
    p = eigenvalues[eigenvalues > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def summary_of_samples(x) -> dict:
    """:func:`moment_diagnostics` of an ``(N, D)`` array of any backend, in float64 on the host."""
    host = host_float64(x)
    dtype = str(getattr(x, "dtype", "float64")).replace("torch.", "")
    with np.errstate(all="ignore"):
        mean = host.mean(axis=0)
        covariance = np.atleast_2d(np.cov(host, rowvar=False))
    return moment_diagnostics(mean, covariance, host.shape[0], dtype=dtype)




def host_float64(value):
    """A float64 NumPy copy of an array of any backend (torch bfloat16 included)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().double()
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    return np.asarray(value, dtype=np.float64)
