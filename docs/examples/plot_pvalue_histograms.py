"""
P-value histograms under H0 and under alternatives
==================================================

A calibrated test has uniform p-values when the null hypothesis holds, and
p-values piled up near 0 when it does not; the fraction below
:math:`\\alpha` is the test's size under H0 and its power otherwise.

Every test runs on 1000 samples of size 100 at once: the samples lie along
axis 0 and the 1000 replicates are a batch axis.
"""

import matplotlib.pyplot as plt
import numpy as np

import sketchtest as st

rng = np.random.default_rng(0)
n, replicates, alpha = 100, 1000, 0.05


def standardized(values, mean, variance):
    return (values - mean) / np.sqrt(variance)


samples = {
    "N(0, 1)  (H0)": rng.standard_normal((n, replicates)),
    "t(5)": standardized(rng.standard_t(5, (n, replicates)), 0.0, 5 / 3),
    "uniform": standardized(rng.uniform(size=(n, replicates)), 0.5, 1 / 12),
    "exponential": standardized(rng.exponential(size=(n, replicates)), 1.0, 1.0),
}
tests = {
    "Epps-Pulley": st.epps_pulley,
    "Anderson-Darling": st.anderson_darling,
    "Cramér-von Mises": st.cramer_von_mises,
    "Shapiro-Wilk": st.shapiro_wilk,
    "Jarque-Bera": st.jarque_bera,
}

# %%
# The alternatives are standardized to mean 0 and variance 1, so the
# composite null (``null="normal"``, the default of every univariate test)
# sees only their shape.

pvalues = {(test, data): np.asarray(function(x).pvalue)
           for test, function in tests.items() for data, x in samples.items()}

fig, axes = plt.subplots(len(tests), len(samples), figsize=(11, 9), sharex=True,
                         layout="constrained")
for row, test in enumerate(tests):
    for column, data in enumerate(samples):
        ax = axes[row, column]
        ax.hist(pvalues[test, data], bins=20, range=(0, 1), color="tab:blue")
        ax.axhline(replicates / 20, color="k", linestyle="--", linewidth=1)
        if row == 0:
            ax.set_title(data, fontsize=10)
        if column == 0:
            ax.set_ylabel(test, fontsize=9)
for ax in axes[-1]:
    ax.set_xlabel("p-value")
plt.show()

# %%
# Rejection rates at :math:`\alpha = 0.05`: the size under H0 (first column,
# close to 0.05 with a binomial standard deviation of 0.007 here) and the
# power against each alternative.

header = f"{'test':<18}" + "".join(f"{name:>16}" for name in samples)
print(header)
for test in tests:
    rates = [np.mean(pvalues[test, data] < alpha) for data in samples]
    print(f"{test:<18}" + "".join(f"{rate:>16.3f}" for rate in rates))
