"""Univariate statistics: one module per family (ECF, EDF, moments, regression, entropy) and the shared path every test runs."""
