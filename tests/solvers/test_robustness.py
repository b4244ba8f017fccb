"""Degenerate and overflowing input at the level of the solvers.

The estimators rescale extreme data before it reaches a solver
(``tests/test_extreme_scales.py``); these tests feed the solvers directly,
so that each loop is shown to end on values float64 cannot hold.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

from skmtl._tasks import check_task_data
from skmtl.losses import SquaredLoss
from skmtl.solvers import _cd_kernels, _design, bcd, fista, lbfgs
from skmtl.solvers._scaling import Scaling, problem_scaling


def _long_design(scale=1.0, seed=0):
    """Three tasks of ten rows, four features times ``scale``, built unscaled."""
    rng = np.random.default_rng(seed)
    task_index = np.repeat(np.arange(3), 10)
    X = rng.normal(size=(30, 4)) * scale
    y = rng.normal(size=30)
    return _design.LongRowsDesign(X, y, np.full(30, 0.1), task_index, 3)


def test_fista_stops_on_overflow_with_a_warning():
    # X^T X overflows: the step constant is infinite. Once an endless loop.
    design = _long_design(scale=1e200)
    with pytest.warns(ConvergenceWarning, match="not finite in float64"):
        result = fista.solve_design(design, SquaredLoss(), 0.1, 0.0, max_iter=50)
    assert not result.converged
    assert result.n_iter <= 50


def test_bcd_stops_on_overflow_with_a_warning():
    design = _long_design(scale=1e200)
    with pytest.warns(ConvergenceWarning, match="BCD"):
        result = bcd.solve_design(design, 0.1, 0.0, max_iter=50)
    assert not result.converged
    assert result.n_iter <= 50


def test_accelerated_gradient_backtracking_is_bounded():
    # An operator whose curvature is NaN fails every sufficient-decrease test.
    class NanOperator:
        a1, a2 = 0.1, 0.0

        def image(self, W):
            return W

        def lipschitz(self):
            return 1.0

        def correlation(self, image):
            return -image

        def curvature(self, image_step, step):
            return np.nan

        def gap(self, W, image):
            return np.inf

    W, n_iter = bcd._accelerated_gradient(NanOperator(), np.ones((2, 3)), 0.0, 5)
    assert n_iter <= 5
    assert np.all(np.isfinite(W))


@pytest.mark.parametrize("python", [False, True], ids=["compiled", "python"])
def test_block_minimiser_with_a_constant_column_and_tiny_a1(python):
    # Task 0 sees a constant column (curvature 0) with a rounding-level
    # gradient; a1 = 1e-160 once made the secular equation divide by zero.
    if python or not _cd_kernels.AVAILABLE:
        minimiser = _cd_kernels._python_block_minimiser
    else:
        minimiser = _cd_kernels._block_minimiser
    W = np.zeros((2, 1))
    delta = np.empty(2)
    curvature = np.array([0.0, 2.0])
    gradient = np.array([1e-17, 1.0])
    minimiser(W, 0, gradient, curvature, 1e-160, 0.0, delta)
    # Exact minimiser of (2 / 2) (v_1 - 1 / 2)^2 + 1e-160 |v_1|, v_0 = 0.
    assert_allclose(W[:, 0], [0.0, 0.5], rtol=1e-15)


def test_intercept_newton_step_on_a_singular_hessian():
    # A task with zero curvature (all its weight zero) makes its block
    # singular; the minimum-norm step leaves it alone instead of raising.
    hessians = np.array([[[2.0]], [[0.0]]])
    gradient = np.array([[1.0], [0.0]])
    step = _design._newton_direction(hessians, gradient, 0.0)
    assert_allclose(step, [[-0.5], [0.0]])


def test_power_of_two_scaling_is_exact():
    X = np.array([[3e300, -1e299], [0.0, 7e299]])
    scaling = problem_scaling(X, np.array([1e-300, 2e-301]))
    # 3e300 lies in [2^998, 2^999), 1e-300 in [2^-997, 2^-996).
    assert scaling == Scaling(x_exponent=999, y_exponent=-996)
    rescaled = scaling.scale_features(X)
    assert 0.5 <= np.max(np.abs(rescaled)) < 1.0
    # Exact: scaling back recovers every bit.
    np.testing.assert_array_equal(np.ldexp(rescaled, 999), X)
    # The strengths follow the degree of their penalty.
    assert scaling.strength(2.0**10, degree=1) == 2.0 ** (10 - 999 + 996)
    assert scaling.strength(2.0**10, degree=2) == 2.0 ** (10 - 2 * 999)


def test_ordinary_data_is_not_rescaled():
    X = np.array([[1e12, -3.0], [2e-12, 0.5]])
    assert problem_scaling(X, np.array([1e-5, 4e6])).identity


def test_features_of_incompatible_magnitudes_are_refused():
    X = np.array([[1e200, 1.0], [-1e200, 2.0]])
    with pytest.raises(ValueError, match="differ too much in magnitude"):
        problem_scaling(X)


def test_lbfgs_warns_on_a_non_finite_objective():
    # Built on raw data of magnitude 1e200 (the solver entry would rescale
    # it): every objective value overflows.
    rng = np.random.default_rng(0)
    X = np.column_stack([np.repeat([0, 1], 10), rng.normal(size=(20, 3)) * 1e200])
    y = rng.normal(size=20) * 1e200
    data = check_task_data(BaseEstimator(), X, y, task_column=0)
    objective = lbfgs.MeanRegularizedObjective(
        data, SquaredLoss(), alpha=1.0, alpha_mean=1.0
    )
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.warns(ConvergenceWarning, match="not finite in float64"),
    ):
        result = lbfgs._minimize(objective, None, tol=1e-6, max_iter=5)
    assert result.n_iter <= 5
