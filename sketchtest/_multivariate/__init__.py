"""Tests of (..., N, D) samples built on the univariate stage: slicing, streaming, affine-invariant and MGF tests, normality_test and how its result is told (diagnosis)."""
