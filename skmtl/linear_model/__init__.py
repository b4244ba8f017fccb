"""Multi-task linear models: one linear function per task, tied by a penalty."""

from ._dirty import DirtyModelClassifier, DirtyModelRegressor
from ._joint_feature import JointFeatureClassifier, JointFeatureRegressor
from ._joint_feature_path import (
    JointFeatureClassifierCV,
    JointFeatureRegressorCV,
    joint_feature_path,
)
from ._mean_regularized import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from ._mean_regularized_classifier import MeanRegularizedClassifier
from ._robust import RobustMultiTaskClassifier, RobustMultiTaskRegressor
from ._sparse_low_rank import SparseLowRankClassifier, SparseLowRankRegressor
from ._trace_norm import TraceNormClassifier, TraceNormRegressor

__all__ = [
    "DirtyModelClassifier",
    "DirtyModelRegressor",
    "JointFeatureClassifier",
    "JointFeatureClassifierCV",
    "JointFeatureRegressor",
    "JointFeatureRegressorCV",
    "MeanRegularizedClassifier",
    "MeanRegularizedRegressor",
    "MeanRegularizedRegressorCV",
    "RobustMultiTaskClassifier",
    "RobustMultiTaskRegressor",
    "SparseLowRankClassifier",
    "SparseLowRankRegressor",
    "TraceNormClassifier",
    "TraceNormRegressor",
    "joint_feature_path",
]
