"""Multi-task neural networks: hard and soft parameter sharing."""

from ._mlp import MultiTaskMLPClassifier, MultiTaskMLPRegressor

__all__ = ["MultiTaskMLPClassifier", "MultiTaskMLPRegressor"]
