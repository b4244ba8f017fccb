"""Multi-task Gaussian processes: ICM/LMC with a learned task covariance."""

from ._mtgp import MultiTaskGaussianProcessRegressor

__all__ = ["MultiTaskGaussianProcessRegressor"]
