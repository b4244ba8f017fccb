"""Tests of the L2,1 FISTA solver (any loss of skmtl.losses)."""

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import log_expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso
from sklearn.model_selection import StratifiedKFold

from skmtl._tasks import check_task_data
from skmtl.losses import LogisticLoss, MultinomialLoss, SquaredLoss
from skmtl.solvers import bcd, fista


def _long_problem(sizes=(30, 45, 20), p=5, n_classes=2, seed=0, one_class_task=None):
    """Long format, unequal sizes, sample weights, shuffled rows."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p)) + 0.5  # not centred
    coef = rng.normal(size=(len(sizes), n_classes, p))
    coef[:, :, 3:] = 0.0
    scores = np.einsum("ij,ikj->ik", features, coef[task])
    scores += rng.gumbel(size=scores.shape)
    if n_classes == 2:
        y = (scores[:, 1] > scores[:, 0]).astype(float)
    else:
        y = np.argmax(scores, axis=1)
    if one_class_task is not None:
        y[task == one_class_task] = 1
    weight = rng.uniform(0.5, 2.0, size=len(task))
    order = rng.permutation(len(task))
    X = np.column_stack([task, features])[order]
    return X, y[order], weight[order]


def _data(X, y, task_column=0, sample_weight=None):
    return check_task_data(
        MultiTaskLasso(),
        X,
        y,
        task_column=task_column,
        sample_weight=sample_weight,
        y_numeric=False,
    )


def _cvxpy_objective_value(
    X, y, task, weight, alpha, l1_ratio, intercept_alpha, n_classes
):
    """Independent cvxpy formulation; returns the optimal value."""
    n_tasks, p = task.max() + 1, X.shape[1]
    K = 1 if n_classes == 2 else n_classes
    W = cp.Variable((n_tasks * K, p))
    b = cp.Variable((n_tasks, K))
    terms = []
    for t in range(n_tasks):
        rows = task == t
        scale = weight[rows] / weight[rows].sum()
        z = X[rows] @ W[t * K : (t + 1) * K].T + np.ones((rows.sum(), 1)) @ b[[t]]
        if n_classes == 2:
            loss = cp.logistic(z[:, 0]) - cp.multiply(y[rows], z[:, 0])
        else:
            onehot = np.eye(K)[y[rows].astype(int)]
            loss = cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
        terms.append(scale @ loss)
    tie = b - np.ones((n_tasks, n_tasks)) @ b / n_tasks
    objective = (
        cp.sum(cp.hstack(terms))
        + alpha * l1_ratio * cp.sum(cp.norm(W, 2, axis=0))
        + 0.5 * alpha * (1 - l1_ratio) * cp.sum_squares(W)
        + 0.5 * intercept_alpha * cp.sum_squares(tie)
    )
    problem = cp.Problem(cp.Minimize(objective))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    return problem.value


def _numpy_objective(
    X, y, task, weight, coef, intercept, alpha, l1_ratio, intercept_alpha
):
    """The objective of docs/user_guide/regularization.rst, in plain numpy."""
    n_tasks = coef.shape[0]
    value = 0.0
    for t in range(n_tasks):
        rows = task == t
        scale = weight[rows] / weight[rows].sum()
        if coef.ndim == 2:
            z = X[rows] @ coef[t] + intercept[t]
            value += scale @ (-log_expit(z) + (1 - y[rows]) * z)
        else:
            z = X[rows] @ coef[t].T + intercept[t]
            picked = z[np.arange(rows.sum()), y[rows].astype(int)]
            value += scale @ (logsumexp(z, axis=1) - picked)
    groups = np.sqrt(np.sum(coef.reshape(-1, coef.shape[-1]) ** 2, axis=0))
    centred = intercept - intercept.mean(axis=0)
    return (
        value
        + alpha * l1_ratio * groups.sum()
        + 0.5 * alpha * (1 - l1_ratio) * np.sum(coef**2)
        + 0.5 * intercept_alpha * np.sum(centred**2)
    )


@pytest.mark.parametrize(
    "n_classes, l1_ratio, intercept_alpha",
    [(2, 1.0, 0.0), (2, 0.5, 1e-2), (3, 1.0, 1e-2), (3, 0.7, 0.0)],
)
def test_long_format_objective_equals_cvxpy(n_classes, l1_ratio, intercept_alpha):
    X, y, weight = _long_problem(n_classes=n_classes, seed=n_classes)
    alpha = 0.02
    data = _data(X, y, sample_weight=weight)
    loss = LogisticLoss() if n_classes == 2 else MultinomialLoss()
    targets = data.y if n_classes == 2 else data.y.astype(np.intp)
    result = fista.solve(
        data,
        loss,
        alpha=alpha,
        l1_ratio=l1_ratio,
        intercept_alpha=intercept_alpha,
        targets=targets,
        n_classes=n_classes,
        tol=1e-12,
        max_iter=20_000,
    )
    task, features = X[:, 0].astype(int), X[:, 1:]
    ours = _numpy_objective(
        features,
        y,
        task,
        weight,
        result.coef,
        result.intercept,
        alpha,
        l1_ratio,
        intercept_alpha,
    )
    reference = _cvxpy_objective_value(
        features, y, task, weight, alpha, l1_ratio, intercept_alpha, n_classes
    )
    assert result.converged
    assert result.objective == pytest.approx(ours, rel=1e-10)
    assert ours == pytest.approx(reference, rel=1e-6)
    assert ours <= reference + 1e-9


def test_nearly_unregularised_separable_problem_converges():
    """Little regularisation, few rows: the L-BFGS polish on the support.

    Ten rows of three classes in four dimensions (a training fold of
    scikit-learn's ``check_n_features_in_after_fitting`` data) are
    separable: the weights grow as ``alpha`` shrinks and first-order steps
    crawl (without the polish, 3,000 iterations miss ``tol``). The optimum
    reached equals cvxpy's.
    """
    rng = np.random.RandomState(0)
    features = rng.normal(size=(15, 4))
    labels = rng.permutation(np.repeat(np.arange(3), 5))
    rows = list(StratifiedKFold(3).split(features, labels))[1][0]
    features, y = features[rows], labels[rows]
    task = np.zeros(len(rows), dtype=int)
    data = _data(np.column_stack([task, features]), y)
    options = dict(
        alpha=2.4e-3,
        intercept_alpha=1e-3,
        targets=data.y.astype(np.intp),
        n_classes=3,
        tol=1e-4,
        max_iter=3000,
    )
    result = fista.solve(data, MultinomialLoss(), **options)
    weight = np.ones(len(rows))
    ours = _numpy_objective(
        features, y, task, weight, result.coef, result.intercept, 2.4e-3, 1.0, 1e-3
    )
    reference = _cvxpy_objective_value(features, y, task, weight, 2.4e-3, 1.0, 1e-3, 3)
    assert result.converged
    assert result.n_iter < 1000
    # cvxpy's optimum, up to the certified gap and cvxpy's own accuracy.
    assert reference - 1e-7 <= ours <= reference + result.gap + 1e-7
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fista.solve(data, MultinomialLoss(), polish=False, **options)


def test_squared_loss_equals_bcd():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 6)) + 2.0
    Y = X[:, :2] @ rng.normal(size=(2, 3)) + rng.normal(size=(50, 3))
    data = check_task_data(MultiTaskLasso(), X, Y)
    result = fista.solve(data, SquaredLoss(), alpha=0.1, tol=1e-12, max_iter=10_000)
    reference = bcd.solve(data, alpha=0.1, tol=1e-12)
    assert_allclose(result.coef, reference.coef, atol=1e-7)
    assert_allclose(result.intercept, reference.intercept, atol=1e-7)


def test_one_task_equals_sklearn_l1_logistic_regression(l1_logistic):
    """One task: LogisticRegression(l1_ratio=1) with C = 1 / (alpha n)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] - X[:, 1] + rng.logistic(size=80) > 0).astype(float)
    alpha = 0.03
    data = check_task_data(MultiTaskLasso(), X, y)
    result = fista.solve(data, LogisticLoss(), alpha=alpha, tol=1e-12, max_iter=10_000)
    reference = l1_logistic(X, y, alpha)
    assert_allclose(result.coef[0], reference.coef_[0], atol=1e-6)
    assert_allclose(result.intercept, reference.intercept_, atol=1e-6)


def test_one_class_task_has_a_finite_fit():
    """A task with one class keeps finite intercepts when they are tied."""
    X, y, weight = _long_problem(seed=5, one_class_task=2)
    data = _data(X, y, sample_weight=weight)
    result = fista.solve(
        data,
        LogisticLoss(),
        alpha=0.02,
        intercept_alpha=1e-3,
        tol=1e-8,
        max_iter=10_000,
    )
    assert result.converged
    assert np.all(np.isfinite(result.intercept))
    # The one-class task predicts its class with high probability.
    assert result.intercept[2] > 3.0


def test_duality_gap_is_a_certificate():
    X, y, weight = _long_problem(seed=6)
    data = _data(X, y, sample_weight=weight)
    tol = 1e-3
    loose = fista.solve(data, LogisticLoss(), alpha=0.02, tol=tol)
    tight = fista.solve(data, LogisticLoss(), alpha=0.02, tol=1e-12, max_iter=10_000)
    assert loose.converged
    assert -1e-12 <= loose.gap <= tol * loose.extra["null_objective"]
    assert loose.objective - tight.objective <= loose.gap + 1e-12


def test_max_iter_reached_warns():
    X, y, weight = _long_problem(seed=7)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = fista.solve(
            _data(X, y, sample_weight=weight),
            LogisticLoss(),
            alpha=0.001,
            tol=1e-12,
            max_iter=1,
        )
    assert not result.converged


def test_sparse_and_dense_give_the_same_solution():
    X, y, weight = _long_problem(seed=8, n_classes=3)
    X[:, 1:][np.abs(X[:, 1:]) < 0.8] = 0.0
    kwargs = dict(alpha=0.02, n_classes=3, tol=1e-11, max_iter=10_000)
    dense_data = _data(X, y, sample_weight=weight)
    dense = fista.solve(
        dense_data, MultinomialLoss(), targets=dense_data.y.astype(int), **kwargs
    )
    sparse_data = _data(sp.csr_matrix(X), y, sample_weight=weight)
    sparse = fista.solve(
        sparse_data, MultinomialLoss(), targets=sparse_data.y.astype(int), **kwargs
    )
    assert_allclose(sparse.coef, dense.coef, atol=1e-6)


def test_warm_start_at_the_solution_stops_at_once():
    X, y, weight = _long_problem(seed=9)
    data = _data(X, y, sample_weight=weight)
    first = fista.solve(data, LogisticLoss(), alpha=0.02, tol=1e-10, max_iter=5000)
    second = fista.solve(
        data,
        LogisticLoss(),
        alpha=0.02,
        tol=1e-10,
        coef_init=first.coef,
        intercept_init=first.intercept,
    )
    assert second.n_iter == 0
