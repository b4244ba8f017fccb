"""Multi-task linear models: one linear function per task, tied by a penalty."""

from ._clustered import (
    ClusteredMultiTaskClassifier,
    ClusteredMultiTaskClassifierCV,
    ClusteredMultiTaskRegressor,
    ClusteredMultiTaskRegressorCV,
)
from ._dirty import (
    DirtyModelClassifier,
    DirtyModelClassifierCV,
    DirtyModelRegressor,
    DirtyModelRegressorCV,
)
from ._graph import (
    GraphRegularizedClassifier,
    GraphRegularizedClassifierCV,
    GraphRegularizedRegressor,
    GraphRegularizedRegressorCV,
)
from ._joint_feature import JointFeatureClassifier, JointFeatureRegressor
from ._joint_feature_path import (
    JointFeatureClassifierCV,
    JointFeatureRegressorCV,
    joint_feature_path,
)
from ._mean_regularized import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from ._mean_regularized_classifier import MeanRegularizedClassifier
from ._robust import (
    RobustMultiTaskClassifier,
    RobustMultiTaskClassifierCV,
    RobustMultiTaskRegressor,
    RobustMultiTaskRegressorCV,
)
from ._sparse_low_rank import (
    SparseLowRankClassifier,
    SparseLowRankClassifierCV,
    SparseLowRankRegressor,
    SparseLowRankRegressorCV,
)
from ._task_relationship import (
    TaskRelationshipClassifier,
    TaskRelationshipClassifierCV,
    TaskRelationshipRegressor,
    TaskRelationshipRegressorCV,
)
from ._trace_norm import (
    TraceNormClassifier,
    TraceNormClassifierCV,
    TraceNormRegressor,
    TraceNormRegressorCV,
)

__all__ = [
    "ClusteredMultiTaskClassifier",
    "ClusteredMultiTaskClassifierCV",
    "ClusteredMultiTaskRegressor",
    "ClusteredMultiTaskRegressorCV",
    "DirtyModelClassifier",
    "DirtyModelClassifierCV",
    "DirtyModelRegressor",
    "DirtyModelRegressorCV",
    "GraphRegularizedClassifier",
    "GraphRegularizedClassifierCV",
    "GraphRegularizedRegressor",
    "GraphRegularizedRegressorCV",
    "JointFeatureClassifier",
    "JointFeatureClassifierCV",
    "JointFeatureRegressor",
    "JointFeatureRegressorCV",
    "MeanRegularizedClassifier",
    "MeanRegularizedRegressor",
    "MeanRegularizedRegressorCV",
    "RobustMultiTaskClassifier",
    "RobustMultiTaskClassifierCV",
    "RobustMultiTaskRegressor",
    "RobustMultiTaskRegressorCV",
    "SparseLowRankClassifier",
    "SparseLowRankClassifierCV",
    "SparseLowRankRegressor",
    "SparseLowRankRegressorCV",
    "TaskRelationshipClassifier",
    "TaskRelationshipClassifierCV",
    "TaskRelationshipRegressor",
    "TaskRelationshipRegressorCV",
    "TraceNormClassifier",
    "TraceNormClassifierCV",
    "TraceNormRegressor",
    "TraceNormRegressorCV",
    "joint_feature_path",
]
