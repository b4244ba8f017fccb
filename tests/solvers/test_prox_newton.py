"""Proximal Newton (logistic loss, any penalty) against the cvxpy reference."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

from skmtl._tasks import check_task_data
from skmtl.losses import LogisticLoss, MultinomialLoss
from skmtl.penalties import (
    L1,
    L21,
    Decomposition,
    FeatureMaxNorm,
    TaskGroupNorm,
    TraceNorm,
)
from skmtl.solvers import prox_newton
from skmtl.solvers.cvxpy import solve_cvxpy

PENALTIES = {
    "trace": TraceNorm(0.04),
    "l1": L1(0.02),
    "task-group": TaskGroupNorm(0.05),
    "feature-max": FeatureMaxNorm(0.05),
    "l21": L21(0.05),
    "sparse+low-rank": Decomposition(L1(0.02), TraceNorm(0.05)),
    "low-rank+outliers": Decomposition(TraceNorm(0.04), TaskGroupNorm(0.06)),
    "dirty": Decomposition(FeatureMaxNorm(0.05), L1(0.02)),
}


class _Template(BaseEstimator):
    pass


def _long(seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    sizes = [35, 50, 25, 45]
    task = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.normal(size=(task.size, 5)) + 0.5
    W = rng.normal(size=(len(sizes), 2)) @ rng.normal(size=(2, 5))
    y = (np.einsum("ij,ij->i", X, W[task]) + rng.normal(size=task.size) > 1).astype(
        float
    )
    weights = rng.uniform(0.5, 2.0, size=task.size)
    features = sp.csr_matrix(X) if sparse else X
    columns = (
        sp.hstack([sp.csr_matrix(task[:, None]), features]).tocsr()
        if sparse
        else (np.column_stack([task, X]))
    )
    return check_task_data(
        _Template(), columns, y, task_column=0, sample_weight=weights
    )


def _wide(seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 5))
    Y = (X[:, :3] + rng.normal(size=(90, 3)) > 0).astype(float)
    Y[rng.random(Y.shape) < 0.2] = np.nan
    return check_task_data(_Template(), X, Y)


def _reference(*args, **kwargs):
    """The cvxpy optimum; its "may be inaccurate" notes are checked by the tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        warnings.filterwarnings("ignore", message=".*inaccurate solution")
        return solve_cvxpy(*args, **kwargs)


@pytest.mark.parametrize("intercept_alpha", [0.0, 1e-3])
@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
def test_objective_equals_cvxpy_on_long_weighted_data(penalty, intercept_alpha):
    data = _long()
    result = prox_newton.solve(
        data, LogisticLoss(), penalty, intercept_alpha=intercept_alpha, tol=1e-10
    )
    reference = _reference(
        data, LogisticLoss(), penalty, intercept_alpha=intercept_alpha
    )
    assert result.converged
    assert_allclose(result.objective, reference.objective, rtol=1e-6)
    # The duality gap bounds the distance to the optimum.
    assert result.objective - reference.objective <= result.gap + 1e-9


@pytest.mark.parametrize("penalty", [PENALTIES["trace"], PENALTIES["dirty"]])
def test_wide_data_with_missing_labels(penalty):
    data = _wide()
    result = prox_newton.solve(
        data, LogisticLoss(), penalty, intercept_alpha=1e-3, tol=1e-10
    )
    reference = _reference(data, LogisticLoss(), penalty, intercept_alpha=1e-3)
    assert_allclose(result.objective, reference.objective, rtol=1e-6)


def test_sparse_features_give_the_dense_solution():
    dense = prox_newton.solve(_long(), LogisticLoss(), PENALTIES["trace"], tol=1e-10)
    sparse = prox_newton.solve(
        _long(sparse=True), LogisticLoss(), PENALTIES["trace"], tol=1e-10
    )
    assert_allclose(sparse.objective, dense.objective, rtol=1e-9)
    assert_allclose(sparse.coef, dense.coef, atol=1e-5)


def test_one_task_l1_is_sklearn_l1_logistic_regression(l1_logistic):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 4))
    y = (X @ np.array([1.5, -1.0, 0.0, 0.3]) + rng.normal(size=150) > 0).astype(float)
    data = check_task_data(_Template(), X, y)
    alpha = 0.02
    result = prox_newton.solve(data, LogisticLoss(), L1(alpha), tol=1e-12)
    reference = l1_logistic(X, y, alpha)
    assert_allclose(result.coef[0], reference.coef_[0], atol=2e-5)
    assert_allclose(result.intercept[0], reference.intercept_[0], atol=2e-5)


def test_max_iter_reached_warns_and_inputs_untouched():
    data = _long()
    X, y = data.X.copy(), data.y.copy()
    with pytest.warns(ConvergenceWarning, match="Proximal Newton did not converge"):
        result = prox_newton.solve(
            data, LogisticLoss(), PENALTIES["trace"], tol=1e-14, max_iter=1
        )
    assert not result.converged
    assert_allclose(data.X, X)
    assert_allclose(data.y, y)


def test_multinomial_loss_is_refused():
    with pytest.raises(ValueError, match="use FISTA for the multinomial"):
        prox_newton.solve(_long(), MultinomialLoss(), PENALTIES["trace"])


def test_warm_start_from_the_solution_stops_at_once():
    data = _long()
    first = prox_newton.solve(data, LogisticLoss(), PENALTIES["trace"], tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        again = prox_newton.solve(
            data,
            LogisticLoss(),
            PENALTIES["trace"],
            tol=1e-8,
            coef_init=first.coef,
            intercept_init=first.intercept,
        )
    assert again.n_iter <= 1
