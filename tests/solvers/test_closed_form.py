"""Closed form of mean-regularised least squares, against independent algebra.

Oracles:

- the full stacked normal equations of the quadratic objective in all
  parameters ``theta = (w_0, v_1, ..., v_T, b_1, ..., b_T)``, written from the
  formula and solved with ``numpy.linalg.lstsq`` (the solver never builds this
  ``(T p + p + T)``-sized system);
- sklearn's ``LinearRegression`` (minimum-norm least squares) for ``alpha = 0``;
- the cvxpy data term evaluated at fixed coefficients against numpy.

Tolerances: the closed form and the stacked system are both exact, so they
agree to rounding on these well-conditioned problems (``rtol=1e-9``).
"""

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression

from skmtl._tasks import check_task_data
from skmtl.solvers.closed_form import (
    MeanRegularizedFactorization,
    mean_regularized_objective,
    solve_mean_regularized_closed_form,
)
from skmtl.solvers.cvxpy import cvxpy_data_term, solve_mean_regularized_cvxpy


def long_problem(sizes=(6, 11, 25), n_features=4, seed=0):
    """Unequal tasks, shuffled rows, positive weights; task label in column 0."""
    rng = np.random.default_rng(seed)
    task = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    features = rng.normal(size=(len(task), n_features)) + rng.normal(size=n_features)
    y = features @ rng.normal(size=n_features) + task + rng.normal(size=len(task))
    weight = rng.uniform(0.2, 3.0, size=len(task))
    return task, features, y, weight


def build_data(task, features, y, weight, sparse=False):
    X = np.column_stack([task, features])
    if sparse:
        X = sp.csr_matrix(X)
    return check_task_data(BaseEstimator(), X, y, task_column=0, sample_weight=weight)


def stacked_solution(task, features, y, weight, alpha, alpha_mean, fit_intercept):
    """Minimiser from the full normal equations in ``(w_0, V, b)``.

    Row ``i`` of task ``t`` has the design ``[x_i, e_t (x) x_i, e_t]`` and the
    weight ``c_i = s_i / n_t``; the penalty is block diagonal.
    """
    labels = np.unique(task)
    n_tasks, n_features = len(labels), features.shape[1]
    t_index = np.searchsorted(labels, task)
    n_t = np.bincount(t_index, weights=weight)
    c = weight / n_t[t_index]
    n_params = n_features * (n_tasks + 1) + n_tasks
    design = np.zeros((len(y), n_params))
    design[:, :n_features] = features
    for i, t in enumerate(t_index):
        start = n_features * (t + 1)
        design[i, start : start + n_features] = features[i]
        design[i, n_features * (n_tasks + 1) + t] = 1.0
    if not fit_intercept:
        design = design[:, : n_features * (n_tasks + 1)]
    penalty = np.r_[
        np.full(n_features, alpha_mean),
        np.full(n_features * n_tasks, alpha),
        np.zeros(design.shape[1] - n_features * (n_tasks + 1)),
    ]
    hessian = design.T @ (c[:, None] * design) + np.diag(penalty)
    theta = np.linalg.lstsq(hessian, design.T @ (c * y), rcond=None)[0]
    shared = theta[:n_features]
    deviations = theta[n_features : n_features * (n_tasks + 1)].reshape(n_tasks, -1)
    intercept = (
        theta[n_features * (n_tasks + 1) :] if fit_intercept else np.zeros(n_tasks)
    )
    return shared, shared + deviations, intercept


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, alpha_mean", [(1.0, 0.01), (0.05, 3.0), (20.0, 0.0)])
def test_equals_stacked_normal_equations(alpha, alpha_mean, fit_intercept):
    task, features, y, weight = long_problem()
    data = build_data(task, features, y, weight)
    result = solve_mean_regularized_closed_form(
        data, alpha=alpha, alpha_mean=alpha_mean, fit_intercept=fit_intercept
    )
    shared, coef, intercept = stacked_solution(
        task, features, y, weight, alpha, alpha_mean, fit_intercept
    )
    np.testing.assert_allclose(
        result.extra["shared_coef"], shared, rtol=1e-9, atol=1e-11
    )
    np.testing.assert_allclose(result.coef, coef, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(result.intercept, intercept, rtol=1e-9, atol=1e-11)
    assert result.n_iter == 0 and result.converged
    assert result.extra["shared_intercept"] == pytest.approx(np.mean(intercept))


@pytest.mark.parametrize("sparse", [False, True])
def test_more_features_than_rows_uses_kernel_form(sparse):
    """Tasks with n_t < p go through the kernel (n_t x n_t) eigendecomposition."""
    task, features, y, weight = long_problem(sizes=(4, 7, 30), n_features=12, seed=3)
    data = build_data(task, features, y, weight, sparse=sparse)
    result = solve_mean_regularized_closed_form(
        data, alpha=0.7, alpha_mean=0.2, fit_intercept=True
    )
    shared, coef, intercept = stacked_solution(
        task, features, y, weight, 0.7, 0.2, True
    )
    np.testing.assert_allclose(
        result.extra["shared_coef"], shared, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(result.coef, coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(result.intercept, intercept, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n_features", [3, 12])
def test_sparse_equals_dense(n_features):
    """Sparse centring (Gram / kernel correction) equals explicit dense centring."""
    task, features, y, weight = long_problem(n_features=n_features, seed=5)
    features[np.abs(features) < 0.8] = 0.0  # genuinely sparse
    dense = MeanRegularizedFactorization(
        build_data(task, features, y, weight), fit_intercept=True
    )
    sparse = MeanRegularizedFactorization(
        build_data(task, features, y, weight, sparse=True), fit_intercept=True
    )
    for got, expected in zip(sparse.solve(0.3, 0.1), dense.solve(0.3, 0.1)):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def test_path_equals_pointwise_stacked_solutions():
    """One factorisation serves a whole grid (the CV estimator's reuse)."""
    task, features, y, weight = long_problem(seed=7)
    factorization = MeanRegularizedFactorization(
        build_data(task, features, y, weight), fit_intercept=True
    )
    alpha_means = [0.0, 0.01, 1.0, 100.0]
    for alpha in [0.01, 1.0, 100.0]:
        shared_path, coef_path, intercept_path = factorization.solve_path(
            alpha, alpha_means
        )
        for j, alpha_mean in enumerate(alpha_means):
            shared, coef, intercept = stacked_solution(
                task, features, y, weight, alpha, alpha_mean, True
            )
            np.testing.assert_allclose(shared_path[j], shared, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(coef_path[j], coef, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(
                intercept_path[j], intercept, rtol=1e-8, atol=1e-10
            )


def test_shared_design_fast_path_equals_stacked():
    """Fully observed wide data: one spectrum for all tasks."""
    rng = np.random.default_rng(11)
    features = rng.normal(size=(15, 3))
    Y = features @ rng.normal(size=(3, 4)) + rng.normal(size=(15, 4))
    weight = rng.uniform(0.5, 2.0, size=15)
    data = check_task_data(BaseEstimator(), features, Y, sample_weight=weight)
    assert data.shared_design
    result = solve_mean_regularized_closed_form(
        data, alpha=0.4, alpha_mean=0.05, fit_intercept=True
    )
    task = np.repeat(np.arange(4), 15)
    shared, coef, intercept = stacked_solution(
        task,
        np.tile(features, (4, 1)),
        Y.T.ravel(),
        np.tile(weight, 4),
        0.4,
        0.05,
        True,
    )
    np.testing.assert_allclose(
        result.extra["shared_coef"], shared, rtol=1e-9, atol=1e-11
    )
    np.testing.assert_allclose(result.coef, coef, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(result.intercept, intercept, rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------
# zero strengths: documented limits, with minimum-norm (lstsq) semantics
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True])
def test_alpha_zero_is_independent_minimum_norm_least_squares(sparse):
    """alpha=0, alpha_mean>0: w_0 = 0 and every task is LinearRegression.

    The first task has fewer rows than features, so its least-squares
    solution is not unique; LinearRegression returns the minimum-norm one on
    the centred data, and so must the closed form.
    """
    task, features, y, weight = long_problem(sizes=(4, 15, 20), n_features=6, seed=2)
    data = build_data(task, features, y, weight, sparse=sparse)
    result = solve_mean_regularized_closed_form(
        data, alpha=0.0, alpha_mean=1.0, fit_intercept=True
    )
    np.testing.assert_array_equal(result.extra["shared_coef"], 0.0)
    for t in range(3):
        rows = task == t
        reference = LinearRegression().fit(
            features[rows], y[rows], sample_weight=weight[rows]
        )
        np.testing.assert_allclose(
            result.coef[t], reference.coef_, rtol=1e-8, atol=1e-9
        )
        np.testing.assert_allclose(
            result.intercept[t], reference.intercept_, rtol=1e-8, atol=1e-9
        )


def test_both_strengths_zero_is_limit_of_small_alpha():
    """alpha = alpha_mean = 0: w_0 solves (sum_t P_t) w_0 = sum_t w_t.

    ``P_t`` projects on the row space of task ``t``'s centred rows; with
    full-rank tasks this is the average of the least-squares coefficients.
    """
    task, features, y, weight = long_problem(sizes=(12, 15, 20), n_features=3, seed=4)
    data = build_data(task, features, y, weight)
    result = solve_mean_regularized_closed_form(
        data, alpha=0.0, alpha_mean=0.0, fit_intercept=True
    )
    least_squares = [
        LinearRegression()
        .fit(features[task == t], y[task == t], sample_weight=weight[task == t])
        .coef_
        for t in range(3)
    ]
    np.testing.assert_allclose(
        result.extra["shared_coef"], np.mean(least_squares, axis=0), rtol=1e-8
    )
    np.testing.assert_allclose(result.coef, least_squares, rtol=1e-8)


def test_alpha_mean_zero_with_a_direction_no_task_sees():
    """An all-zero feature leaves w_0 free there: minimum norm gives 0."""
    task, features, y, weight = long_problem(seed=6)
    features[:, 2] = 0.0
    data = build_data(task, features, y, weight)
    result = solve_mean_regularized_closed_form(
        data, alpha=0.5, alpha_mean=0.0, fit_intercept=False
    )
    shared, coef, _ = stacked_solution(task, features, y, weight, 0.5, 0.0, False)
    assert result.extra["shared_coef"][2] == 0.0
    np.testing.assert_allclose(result.extra["shared_coef"], shared, atol=1e-10)
    np.testing.assert_allclose(result.coef, coef, atol=1e-10)


def test_objective_helper_matches_formula():
    task, features, y, weight = long_problem(seed=8)
    data = build_data(task, features, y, weight)
    rng = np.random.default_rng(0)
    shared, coef, intercept = (
        rng.normal(size=4),
        rng.normal(size=(3, 4)),
        rng.normal(size=3),
    )
    expected = 0.0
    for t in range(3):
        rows = task == t
        residual = y[rows] - features[rows] @ coef[t] - intercept[t]
        expected += 0.5 * np.sum(weight[rows] * residual**2) / weight[rows].sum()
    expected += 0.5 * 2.0 * np.sum((coef - shared) ** 2) + 0.5 * 0.3 * shared @ shared
    value = mean_regularized_objective(
        data, coef, intercept, shared, alpha=2.0, alpha_mean=0.3
    )
    assert value == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------
# the cvxpy reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loss_name", ["squared", "logistic"])
def test_cvxpy_data_term_matches_numpy(loss_name):
    """The reusable cvxpy data term evaluates to the formula at fixed (W, b)."""
    task, features, y, weight = long_problem(seed=9)
    if loss_name == "logistic":
        y = (y > np.median(y)).astype(float)
    data = build_data(task, features, y, weight)
    rng = np.random.default_rng(1)
    coef, intercept = rng.normal(size=(3, 4)), rng.normal(size=3)
    expression = cvxpy_data_term(
        data, cp.Constant(coef), cp.Constant(intercept), loss_name
    )
    expected = 0.0
    for t in range(3):
        rows = task == t
        z = features[rows] @ coef[t] + intercept[t]
        if loss_name == "squared":
            loss = 0.5 * (y[rows] - z) ** 2
        else:
            loss = np.logaddexp(0.0, z) - y[rows] * z
        expected += np.sum(weight[rows] * loss) / weight[rows].sum()
    assert expression.value == pytest.approx(expected, rel=1e-10)


def test_cvxpy_data_term_rejects_unknown_loss():
    task, features, y, weight = long_problem()
    data = build_data(task, features, y, weight)
    with pytest.raises(ValueError, match="loss_name='hinge' is not supported"):
        cvxpy_data_term(data, cp.Constant(np.zeros((3, 4))), None, "hinge")


def test_cvxpy_reference_equals_stacked_solution():
    task, features, y, weight = long_problem(sizes=(5, 9), n_features=2, seed=10)
    data = build_data(task, features, y, weight)
    result = solve_mean_regularized_cvxpy(
        data, alpha=0.8, alpha_mean=0.1, fit_intercept=True
    )
    shared, coef, intercept = stacked_solution(
        task, features, y, weight, 0.8, 0.1, True
    )
    np.testing.assert_allclose(result.coef, coef, atol=1e-6)
    np.testing.assert_allclose(result.extra["shared_coef"], shared, atol=1e-6)
    np.testing.assert_allclose(result.intercept, intercept, atol=1e-6)
