"""L-BFGS for the mean-regularised objective, against independent oracles.

Oracles: a loop-over-tasks evaluation of the objective written from the
formula, central finite differences for the gradient, and a cvxpy formulation
of the same problem for its minimum.
"""

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

from skmtl._tasks import check_task_data
from skmtl.losses import LogisticLoss, MultinomialLoss, SquaredLoss
from skmtl.solvers.lbfgs import MeanRegularizedObjective, solve_mean_regularized

TASK_SIZES = (7, 12, 20)
N_FEATURES = 3
N_CLASSES = 3
LOSSES = {
    "squared": SquaredLoss(),
    "logistic": LogisticLoss(),
    "multinomial": MultinomialLoss(),
}


def long_problem(loss_name, seed=0, sizes=TASK_SIZES, sparse=False):
    """Unequal tasks with sample weights, rows shuffled, task label in column 0."""
    rng = np.random.default_rng(seed)
    task = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    features = rng.normal(size=(len(task), N_FEATURES))
    scores = features @ rng.normal(size=N_FEATURES) + 0.3 * task
    if loss_name == "squared":
        y = scores + 0.5 * rng.normal(size=len(task))
    elif loss_name == "logistic":
        y = (scores + rng.normal(size=len(task)) > 0).astype(float)
    else:
        y = rng.integers(0, N_CLASSES, size=len(task))
    weight = rng.uniform(0.2, 2.0, size=len(task))
    X = np.column_stack([task, features])
    if sparse:
        X = sp.csr_matrix(X)
    return X, y, weight


def task_data(X, y, weight=None, task_column=0):
    return check_task_data(
        BaseEstimator(),
        X,
        y,
        task_column=task_column,
        sample_weight=weight,
        y_numeric=y.dtype.kind == "f",
    )


def naive_objective(data, loss_name, w0, V, b0, C, alpha, alpha_mean, c_penalty):
    """The objective from its formula, one task and one observation at a time."""
    total = 0.0
    for t in range(data.n_tasks):
        X_t = data.task_rows(t)
        X_t = X_t.toarray() if sp.issparse(X_t) else X_t
        y_t, s_t = data.task_targets(t), data.task_sample_weight(t)
        task_loss = 0.0
        for x, y, s in zip(X_t, y_t, s_t):
            z = (w0 + V[t]) @ x + b0 + C[t]
            if loss_name == "squared":
                task_loss += s * 0.5 * (y - z[0]) ** 2
            elif loss_name == "logistic":
                task_loss += s * (np.log1p(np.exp(z[0])) - y * z[0])
            else:
                task_loss += s * (logsumexp(z) - z[int(y)])
        total += task_loss / s_t.sum()
    return (
        total
        + 0.5 * alpha * np.sum(V**2)
        + 0.5 * alpha_mean * np.sum(w0**2)
        + 0.5 * c_penalty * np.sum(C**2)
    )


def central_differences(function, params, step=1e-6):
    gradient = np.empty_like(params)
    for j in range(params.size):
        shift = np.zeros_like(params)
        shift[j] = step
        gradient[j] = (function(params + shift) - function(params - shift)) / (2 * step)
    return gradient


@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize("intercept_penalty", [0.0, 0.7])
@pytest.mark.parametrize("sparse", [False, True])
def test_value_matches_formula_and_gradient_matches_finite_differences(
    loss_name, intercept_penalty, sparse
):
    X, y, weight = long_problem(loss_name, sparse=sparse)
    data = task_data(X, y, weight)
    objective = MeanRegularizedObjective(
        data,
        LOSSES[loss_name],
        alpha=1.3,
        alpha_mean=0.4,
        n_classes=N_CLASSES,
        intercept_penalty=intercept_penalty,
    )
    params = np.random.default_rng(1).normal(scale=0.5, size=objective.size)
    value, gradient = objective.value_and_gradient(params)
    w0, V, b0, C = objective.unpack(params)
    expected = naive_objective(
        data, loss_name, w0, V, b0, C, 1.3, 0.4, intercept_penalty
    )
    # Same sums in another order: only rounding differs.
    assert value == pytest.approx(expected, rel=1e-12)
    numeric = central_differences(lambda p: objective.value_and_gradient(p)[0], params)
    # Central differences with step 1e-6 are accurate to about 1e-8 here.
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss_name", ["squared", "logistic"])
@pytest.mark.parametrize("missing, one_product", [(0.3, True), (0.7, False)])
def test_gradient_in_wide_format_with_missing_targets(loss_name, missing, one_product):
    """Both wide paths: one product over X (mostly observed) or per task."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(15, N_FEATURES))
    Y = (rng.normal(size=(15, 3)) > 0).astype(float)
    Y[rng.random(size=Y.shape) < missing] = np.nan
    data = task_data(X, Y, rng.uniform(0.5, 1.5, size=15), task_column=None)
    assert not data.shared_design
    objective = MeanRegularizedObjective(
        data, LOSSES[loss_name], alpha=0.8, alpha_mean=0.2, intercept_penalty=0.5
    )
    assert objective.design.layout == ("shared" if one_product else "long")
    params = rng.normal(size=objective.size)
    value, gradient = objective.value_and_gradient(params)
    w0, V, b0, C = objective.unpack(params)
    assert value == pytest.approx(
        naive_objective(data, loss_name, w0, V, b0, C, 0.8, 0.2, 0.5), rel=1e-12
    )
    numeric = central_differences(lambda p: objective.value_and_gradient(p)[0], params)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_shared_design_fast_path_equals_per_task_products(loss_name):
    """Fully observed wide data gives the objective of the same data in long form."""
    rng = np.random.default_rng(4)
    n_rows, n_tasks = 9, 3
    features = rng.normal(size=(n_rows, N_FEATURES))
    if loss_name == "multinomial":
        Y = rng.integers(0, N_CLASSES, size=(n_rows, n_tasks)).astype(float)
    else:
        Y = (rng.normal(size=(n_rows, n_tasks)) > 0).astype(float)
    weight = rng.uniform(0.5, 1.5, size=n_rows)
    wide = check_task_data(
        BaseEstimator(), features, Y, sample_weight=weight, y_numeric=True
    )
    assert wide.shared_design
    long_X = np.column_stack(
        [np.repeat(np.arange(n_tasks), n_rows), np.tile(features, (n_tasks, 1))]
    )
    long_y = Y.T.ravel()
    if loss_name == "multinomial":
        wide.y = wide.y.astype(np.intp)
        long_y = long_y.astype(np.intp)
    long = task_data(long_X, long_y, np.tile(weight, n_tasks))
    options = dict(alpha=0.5, alpha_mean=0.3, n_classes=N_CLASSES)
    wide_objective = MeanRegularizedObjective(wide, LOSSES[loss_name], **options)
    long_objective = MeanRegularizedObjective(long, LOSSES[loss_name], **options)
    params = rng.normal(size=wide_objective.size)
    wide_value, wide_gradient = wide_objective.value_and_gradient(params)
    long_value, long_gradient = long_objective.value_and_gradient(params)
    assert wide_value == pytest.approx(long_value, rel=1e-12)
    np.testing.assert_allclose(wide_gradient, long_gradient, rtol=1e-8, atol=1e-12)


def cvxpy_mean_regularized(data, loss_name, alpha, alpha_mean, intercept_penalty):
    """The same objective written directly in cvxpy."""
    T, p = data.n_tasks, data.n_features
    w0, V = cp.Variable(p), cp.Variable((T, p))
    b0, C = cp.Variable(), cp.Variable(T)
    predictions, targets, scale = [], [], []
    for t in range(data.n_tasks):
        s_t = data.task_sample_weight(t)
        predictions.append(data.task_rows(t) @ (w0 + V[t]) + b0 + C[t])
        targets.append(data.task_targets(t))
        scale.append(s_t / s_t.sum())
    z = cp.hstack(predictions)
    y, c = np.concatenate(targets), np.concatenate(scale)
    if loss_name == "squared":
        data_term = 0.5 * cp.sum(cp.multiply(c, cp.square(y - z)))
    else:
        data_term = cp.sum(cp.multiply(c, cp.logistic(z) - cp.multiply(y, z)))
    penalty = (
        0.5 * alpha * cp.sum_squares(V)
        + 0.5 * alpha_mean * cp.sum_squares(w0)
        + 0.5 * intercept_penalty * cp.sum_squares(C)
    )
    constraints = [] if intercept_penalty > 0 else [b0 == 0]
    problem = cp.Problem(cp.Minimize(data_term + penalty), constraints)
    problem.solve(solver=cp.CLARABEL)
    coef = w0.value[None, :] + V.value
    return problem.value, coef, b0.value + C.value, w0.value


@pytest.mark.parametrize("loss_name", ["squared", "logistic"])
@pytest.mark.parametrize("intercept_penalty", [0.0, 0.9])
def test_minimum_matches_cvxpy(loss_name, intercept_penalty):
    X, y, weight = long_problem(loss_name, seed=5)
    data = task_data(X, y, weight)
    options = dict(alpha=0.9, alpha_mean=0.2, intercept_penalty=intercept_penalty)
    result = solve_mean_regularized(data, LOSSES[loss_name], tol=1e-8, **options)
    value, coef, intercept, shared_coef = cvxpy_mean_regularized(
        data, loss_name, **options
    )
    assert result.converged and result.gap <= 1e-8
    # Clarabel solves to about 1e-8 relative accuracy.
    assert abs(result.objective - value) <= 1e-6 * abs(value)
    np.testing.assert_allclose(result.coef, coef, atol=1e-4)
    np.testing.assert_allclose(result.intercept, intercept, atol=1e-4)
    np.testing.assert_allclose(result.extra["shared_coef"], shared_coef, atol=1e-4)


def test_sparse_equals_dense():
    X, y, weight = long_problem("logistic", seed=6)
    dense = solve_mean_regularized(
        task_data(X, y, weight), LogisticLoss(), alpha=1.0, alpha_mean=0.1, tol=1e-8
    )
    sparse = solve_mean_regularized(
        task_data(sp.csr_matrix(X), y, weight),
        LogisticLoss(),
        alpha=1.0,
        alpha_mean=0.1,
        tol=1e-8,
    )
    np.testing.assert_allclose(sparse.coef, dense.coef, atol=1e-8)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, atol=1e-8)


def test_multinomial_shapes_and_centred_intercepts():
    X, y, weight = long_problem("multinomial", seed=7)
    result = solve_mean_regularized(
        task_data(X, y, weight),
        MultinomialLoss(),
        alpha=1.0,
        alpha_mean=0.5,
        n_classes=N_CLASSES,
        intercept_penalty=1.0,
    )
    assert result.coef.shape == (3, N_CLASSES, N_FEATURES)
    assert result.intercept.shape == (3, N_CLASSES)
    assert result.extra["shared_coef"].shape == (N_CLASSES, N_FEATURES)
    assert result.extra["shared_intercept"].shape == (N_CLASSES,)
    np.testing.assert_allclose(result.intercept.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(result.extra["shared_intercept"].sum(), 0, atol=1e-12)


def test_binary_result_shapes_without_intercept():
    X, y, weight = long_problem("logistic", seed=8)
    result = solve_mean_regularized(
        task_data(X, y, weight),
        LogisticLoss(),
        alpha=1.0,
        alpha_mean=0.5,
        fit_intercept=False,
    )
    assert result.coef.shape == (3, N_FEATURES)
    assert result.extra["shared_coef"].shape == (N_FEATURES,)
    np.testing.assert_array_equal(result.intercept, np.zeros(3))
    assert result.extra["shared_intercept"] == 0.0
    # The shared coefficients are the minimiser over w_0 given the task models.
    np.testing.assert_allclose(
        result.extra["shared_coef"],
        result.coef.sum(axis=0) / (3 + 0.5 / 1.0),
        atol=1e-6,
    )


def test_unsplit_shared_intercept_is_mean_of_task_intercepts():
    X, y, weight = long_problem("squared", seed=9)
    result = solve_mean_regularized(
        task_data(X, y, weight), SquaredLoss(), alpha=1.0, alpha_mean=0.5
    )
    assert result.extra["shared_intercept"] == pytest.approx(result.intercept.mean())


def test_max_iter_reached_warns_and_reports_gradient():
    X, y, weight = long_problem("logistic", seed=10)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        result = solve_mean_regularized(
            task_data(X, y, weight),
            LogisticLoss(),
            alpha=1.0,
            alpha_mean=0.1,
            max_iter=1,
        )
    assert not result.converged
    assert result.n_iter == 1
    assert result.gap > 1e-6


def test_converged_run_reports_gap_below_tol():
    X, y, weight = long_problem("logistic", seed=11)
    data = task_data(X, y, weight)
    result = solve_mean_regularized(
        data, LogisticLoss(), alpha=1.0, alpha_mean=0.1, tol=1e-8
    )
    objective = MeanRegularizedObjective(
        data, LogisticLoss(), alpha=1.0, alpha_mean=0.1
    )
    shared = result.extra["shared_coef"]
    params = objective.pack(
        shared[None],
        (result.coef - shared)[:, None, :],
        None,
        result.intercept[:, None],
    )
    value, gradient = objective.value_and_gradient(params)
    # The documented criterion: |dF/dtheta_j| / sqrt(m_j + lambda_j), with
    # m_j = n_tasks for w_0 and 1 for v_t and the unsplit b_t.
    n_tasks, n_features = result.coef.shape
    root_curvature = np.concatenate(
        [
            np.full(n_features, np.sqrt(n_tasks + 0.1)),
            np.full(n_tasks * n_features, np.sqrt(1 + 1.0)),
            np.ones(n_tasks),
        ]
    )
    assert result.converged
    assert result.gap == pytest.approx(
        np.max(np.abs(gradient / root_curvature)), abs=1e-12
    )
    assert result.gap <= 1e-8
    assert result.objective == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("alpha, alpha_mean", [(1e6, 0.1), (0.1, 1e8), (1e6, 1e6)])
def test_extreme_penalties_still_reach_tol(alpha, alpha_mean):
    """The scaled criterion stays reachable where a plain gradient bound is not."""
    X, y, weight = long_problem("logistic", seed=14)
    result = solve_mean_regularized(
        task_data(X, y, weight),
        LogisticLoss(),
        alpha=alpha,
        alpha_mean=alpha_mean,
        intercept_penalty=alpha,
        tol=1e-8,
    )
    assert result.converged


def test_warm_start_from_solution_stops_at_once():
    X, y, weight = long_problem("multinomial", seed=12)
    data = task_data(X, y, weight)
    options = dict(
        alpha=0.7, alpha_mean=0.3, n_classes=N_CLASSES, intercept_penalty=0.7, tol=1e-7
    )
    cold = solve_mean_regularized(data, MultinomialLoss(), **options)
    warm = solve_mean_regularized(data, MultinomialLoss(), init=cold, **options)
    assert warm.n_iter <= 1
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-6)
    np.testing.assert_allclose(warm.intercept, cold.intercept, atol=1e-6)


def test_init_of_another_shape_is_rejected():
    X, y, weight = long_problem("logistic", seed=13)
    data = task_data(X, y, weight)
    other = solve_mean_regularized(
        task_data(X[:, :-1], y, weight), LogisticLoss(), alpha=1.0, alpha_mean=1.0
    )
    with pytest.raises(ValueError, match="init must be the SolverResult"):
        solve_mean_regularized(
            data, LogisticLoss(), alpha=1.0, alpha_mean=1.0, init=other
        )
