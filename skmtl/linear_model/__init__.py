"""Multi-task linear models: one linear function per task, tied by a penalty."""

from ._joint_feature import JointFeatureClassifier, JointFeatureRegressor
from ._joint_feature_path import (
    JointFeatureClassifierCV,
    JointFeatureRegressorCV,
    joint_feature_path,
)
from ._mean_regularized import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from ._mean_regularized_classifier import MeanRegularizedClassifier

__all__ = [
    "JointFeatureClassifier",
    "JointFeatureClassifierCV",
    "JointFeatureRegressor",
    "JointFeatureRegressorCV",
    "MeanRegularizedClassifier",
    "MeanRegularizedRegressor",
    "MeanRegularizedRegressorCV",
    "joint_feature_path",
]
