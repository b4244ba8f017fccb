"""The mean-regularised penalty on W through the generic solvers.

Minimised over the shared mean, the penalty is a quadratic on ``W`` alone
(:class:`skmtl.penalties.MeanRegularization`); the generic ADMM, FISTA,
proximal Newton and cvxpy solvers must reproduce the model's own closed form
(squared loss) and each other (logistic loss).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator

from skmtl._tasks import check_task_data
from skmtl.linear_model import MeanRegularizedRegressor
from skmtl.losses import LogisticLoss, SquaredLoss
from skmtl.penalties import MeanRegularization
from skmtl.solvers import admm, fista, prox_newton
from skmtl.solvers.cvxpy import solve_cvxpy


class _Template(BaseEstimator):
    pass


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [15, 25, 10, 30]
    task = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.normal(size=(task.size, 6)) + 1.0
    y = X @ rng.normal(size=6) + rng.normal(size=task.size) + 2.0
    weights = rng.uniform(0.5, 2.0, size=task.size)
    return np.column_stack([task, X]), y, weights


@pytest.mark.parametrize("alpha, alpha_mean", [(0.5, 0.2), (3.0, 0.01), (0.05, 1.0)])
def test_generic_solvers_reproduce_the_closed_form(alpha, alpha_mean):
    X, y, weights = _problem()
    reference = MeanRegularizedRegressor(
        alpha=alpha, alpha_mean=alpha_mean, task_column=0, solver="closed_form"
    ).fit(X, y, sample_weight=weights)
    data = check_task_data(_Template(), X, y, task_column=0, sample_weight=weights)
    penalty = MeanRegularization(alpha, alpha_mean)
    results = {
        "admm": admm.solve(data, penalty, tol=1e-13, max_iter=100_000),
        "fista": fista.solve(
            data, SquaredLoss(), penalty=penalty, tol=1e-13, max_iter=100_000
        ),
        "cvxpy": solve_cvxpy(data, SquaredLoss(), penalty),
    }
    for name, result in results.items():
        assert_allclose(result.coef, reference.coef_, atol=1e-5, err_msg=name)
        assert_allclose(result.intercept, reference.intercept_, atol=1e-5, err_msg=name)
    # The mean the penalty implies is the model's shared coefficients.
    assert_allclose(
        penalty.shared_coef(reference.coef_), reference.shared_coef_, atol=1e-10
    )


def test_value_on_w_is_the_split_form_at_the_optimal_mean():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 3))
    penalty = MeanRegularization(0.7, 0.3)
    shared = penalty.shared_coef(W)
    assert_allclose(penalty.value(W), penalty.value(shared, W - shared), rtol=1e-12)
    # ... and no other mean does better.
    for _ in range(5):
        other = shared + 0.1 * rng.normal(size=3)
        assert penalty.value(other, W - other) > penalty.value(W)


def test_logistic_loss_proximal_newton_fista_and_cvxpy_agree():
    X, y, weights = _problem(2)
    labels = (y > np.median(y)).astype(float)
    data = check_task_data(_Template(), X, labels, task_column=0, sample_weight=weights)
    penalty = MeanRegularization(0.3, 0.05)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        reference = solve_cvxpy(data, LogisticLoss(), penalty, intercept_alpha=1e-3)
    newton = prox_newton.solve(
        data, LogisticLoss(), penalty, intercept_alpha=1e-3, tol=1e-10
    )
    first_order = fista.solve(
        data,
        LogisticLoss(),
        penalty=penalty,
        intercept_alpha=1e-3,
        tol=1e-10,
        max_iter=100_000,
    )
    for result in (newton, first_order):
        assert result.converged
        assert_allclose(result.objective, reference.objective, rtol=1e-7)
