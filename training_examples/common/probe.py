"""Linear probes with scikit-learn: fit on the train split, score on the test split."""

from __future__ import annotations

import numpy as np


def linear_probe_accuracy(
    train_features: np.ndarray, y_train: np.ndarray, test_features: np.ndarray, y_test: np.ndarray
) -> float:
    """Test accuracy of a multinomial logistic regression on standardized features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    probe.fit(np.asarray(train_features, dtype=np.float64), y_train)
    return float(probe.score(np.asarray(test_features, dtype=np.float64), y_test))


def raw_pixel_probe_accuracy(dataset) -> float:
    """The baseline: the same probe on the raw pixels of `dataset`."""
    flat_train = dataset.x_train.reshape(len(dataset.x_train), -1)
    flat_test = dataset.x_test.reshape(len(dataset.x_test), -1)
    return linear_probe_accuracy(flat_train, dataset.y_train, flat_test, dataset.y_test)
