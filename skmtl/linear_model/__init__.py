"""Multi-task linear models: one linear function per task, tied by a penalty."""

from ._mean_regularized import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from ._mean_regularized_classifier import MeanRegularizedClassifier

__all__ = [
    "MeanRegularizedClassifier",
    "MeanRegularizedRegressor",
    "MeanRegularizedRegressorCV",
]
