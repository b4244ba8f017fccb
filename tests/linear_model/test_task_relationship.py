"""Task-relationship (MTRL) models against independent oracles: the documented
objective written in cvxpy with ``matrix_frac`` over a task covariance variable,
the closed form of the optimal covariance, and scikit-learn's ``Ridge`` for one
task (n_t: the total sample weight of task t, docs/user_guide/index.rst)."""

import pickle

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from skmtl.linear_model import (
    TaskRelationshipClassifier,
    TaskRelationshipClassifierCV,
    TaskRelationshipRegressor,
    TaskRelationshipRegressorCV,
)
from skmtl.linear_model._task_relationship import unit_diagonal
from skmtl.model_selection import TaskKFold

TIGHT = dict(tol=1e-10, max_iter=100_000)


def long_problem(seed, sizes=(15, 25, 40), p=4, kind="squared"):
    """Long data (string task labels, unequal sizes, weights) and its task list."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=p)
    W = np.array([w, 0.5 * w, -w]) + 0.3 * rng.normal(size=(3, p))
    tasks, frames = [], []
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, p))
        z = X @ W[t] + 0.2 * t
        y = z + 0.3 * rng.normal(size=n) if kind == "squared" else (z > 0) * 1.0
        s = rng.uniform(0.5, 2.0, size=n)
        tasks.append((X, y, s))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame.insert(0, "task", f"task_{t}")
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    y = np.concatenate([y for _, y, _ in tasks])
    s = np.concatenate([s for _, _, s in tasks])
    return df, y, s, tasks


def data_term(tasks, coef, intercept, loss):
    total = 0.0
    for t, (X, y, s) in enumerate(tasks):
        z = X @ coef[t] + intercept[t]
        if loss == "squared":
            values = 0.5 * (y - z) ** 2
        else:
            values = np.logaddexp(0, z) - y * z
        total += np.sum(s * values) / np.sum(s)
    return total


def mtrl_value(W, omega, alpha, beta):
    """The documented penalty at ``(W, Omega)``: no closed form of the minimum.

    ``Omega^{-1}`` is the pseudo-inverse: the optimal ``W`` may be of low rank.
    """
    inverse = np.linalg.pinv(omega, rcond=1e-10, hermitian=True)
    return 0.5 * alpha * np.sum(W**2) + 0.5 * beta * np.trace(W.T @ inverse @ W)


def cvxpy_optimum(tasks, loss, alpha, beta, intercept_alpha=0.0):
    """Optimum and ``W`` of the documented objective, over ``W``, ``b``, ``Omega``."""
    T, p = len(tasks), tasks[0][0].shape[1]
    W, b, b0 = cp.Variable((T, p)), cp.Variable(T), cp.Variable()
    omega = cp.Variable((T, T), symmetric=True)
    terms = []
    for t, (X, y, s) in enumerate(tasks):
        z = X @ W[t, :] + b[t]
        if loss == "squared":
            values = 0.5 * cp.square(y - z)
        else:
            values = cp.logistic(z) - cp.multiply(y, z)
        terms.append(cp.sum(cp.multiply(s, values)) / np.sum(s))
    objective = (
        sum(terms)
        + 0.5 * alpha * cp.sum_squares(W)
        + 0.5 * beta * cp.matrix_frac(W, omega)
        + 0.5 * intercept_alpha * cp.sum_squares(b - b0)
    )
    problem = cp.Problem(cp.Minimize(objective), [omega >> 0, cp.trace(omega) == 1])
    # Tighter tolerances make CLARABEL report an inaccurate solution on the
    # semidefinite and exponential cones together.
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8)
    return problem.value, W.value


def assert_rel(value, optimum, rtol=1e-6):
    assert abs(value - optimum) <= rtol * abs(optimum), (value, optimum)


@pytest.mark.parametrize("solver", ["admm", "fista", "cvxpy"])
def test_regressor_objective_and_coef_match_cvxpy(solver):
    X, y, s, tasks = long_problem(0)
    alpha, beta = 0.05, 0.2
    model = TaskRelationshipRegressor(
        alpha, beta, task_column="task", solver=solver, **TIGHT
    ).fit(X, y, sample_weight=s)
    optimum, W = cvxpy_optimum(tasks, "squared", alpha, beta)
    value = data_term(tasks, model.coef_, model.intercept_, "squared") + mtrl_value(
        model.coef_, model.task_covariance_, alpha, beta
    )
    assert_rel(value, optimum)
    np.testing.assert_allclose(model.coef_, W, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", ["prox_newton", "fista"])
def test_classifier_objective_and_coef_match_cvxpy(solver):
    X, y, s, tasks = long_problem(1, sizes=(30, 45, 60), kind="logistic")
    alpha, beta, ia = 0.01, 0.05, 1e-3
    model = TaskRelationshipClassifier(
        alpha, beta, task_column="task", solver=solver, **TIGHT
    ).fit(X, y, sample_weight=s)
    optimum, W = cvxpy_optimum(tasks, "logistic", alpha, beta, ia)
    b = model.intercept_
    value = (
        data_term(tasks, model.coef_, b, "logistic")
        + mtrl_value(model.coef_, model.task_covariance_, alpha, beta)
        + 0.5 * ia * np.sum((b - b.mean()) ** 2)
    )
    assert_rel(value, optimum)
    # cvxpy's coefficients are accurate to about 1e-5 on these cones.
    np.testing.assert_allclose(model.coef_, W, rtol=1e-4, atol=5e-5)


def test_task_covariance_is_the_closed_form():
    X, y, s, _ = long_problem(2)
    model = TaskRelationshipRegressor(0.01, 0.3, task_column="task", **TIGHT)
    model.fit(X, y, sample_weight=s)
    W = model.coef_
    root = np.real(linalg.sqrtm(W @ W.T))
    omega = root / np.trace(root)
    np.testing.assert_allclose(model.task_covariance_, omega, atol=1e-10)
    d = np.sqrt(np.diag(omega))
    np.testing.assert_allclose(
        model.task_correlation_, omega / np.outer(d, d), atol=1e-10
    )
    # Tasks 0 and 2 were drawn with opposite coefficients.
    assert model.task_correlation_[0, 2] < -0.5


def test_multiclass_covariance_relates_tasks():
    rng = np.random.default_rng(3)
    frames, labels = [], []
    for t, n in enumerate((60, 90)):
        X = rng.normal(size=(n, 3))
        frame = pd.DataFrame(X, columns=list("abc"))
        frame.insert(0, "task", t)
        frames.append(frame)
        labels.append(np.argmax(X @ rng.normal(size=(3, 3)), axis=1))
    X, y = pd.concat(frames, ignore_index=True), np.concatenate(labels)
    model = TaskRelationshipClassifier(task_column="task", **TIGHT).fit(X, y)
    assert model.coef_.shape == (2, 3, 3)
    W = model.coef_.reshape(2, -1)
    root = np.real(linalg.sqrtm(W @ W.T))
    np.testing.assert_allclose(
        model.task_covariance_, root / np.trace(root), atol=1e-10
    )


def test_one_task_is_ridge():
    # One task: ||W||_* = ||w||_2, penalty ((alpha + beta) / 2) ||w||^2 on the
    # weighted mean loss / 2, i.e. Ridge(alpha=(alpha + beta) n) with n = sum(s).
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    y = X @ rng.normal(size=4) + 0.5 * rng.normal(size=30)
    s = rng.uniform(0.5, 2.0, size=30)
    alpha, beta = 0.05, 0.2
    # A duality gap of tol bounds the coefficient error by about sqrt(tol).
    model = TaskRelationshipRegressor(alpha, beta, tol=1e-14, max_iter=10_000)
    model.fit(X, y, sample_weight=s)
    ridge = Ridge(alpha=(alpha + beta) * s.sum()).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.coef_.ravel(), ridge.coef_, rtol=1e-7)
    np.testing.assert_allclose(model.intercept_, ridge.intercept_, rtol=1e-7)
    np.testing.assert_array_equal(model.task_covariance_, [[1.0]])
    np.testing.assert_array_equal(model.task_correlation_, [[1.0]])


def test_relabelled_reordered_tasks_permute_the_covariance():
    X, y, s, _ = long_problem(5)
    model = TaskRelationshipRegressor(0.01, 0.2, task_column="task", **TIGHT)
    model.fit(X, y, sample_weight=s)
    renamed = X.assign(
        task=X["task"].map({"task_0": "c", "task_1": "a", "task_2": "b"})
    )
    rows = np.random.default_rng(0).permutation(len(y))
    other = clone(model).fit(renamed.iloc[rows], y[rows], sample_weight=s[rows])
    assert list(other.tasks_) == ["a", "b", "c"]
    order = [list(other.tasks_).index(label) for label in ("c", "a", "b")]
    ix = np.ix_(order, order)
    np.testing.assert_allclose(other.task_covariance_[ix], model.task_covariance_)
    np.testing.assert_allclose(other.task_correlation_[ix], model.task_correlation_)


def test_pickle_and_inputs_unmodified():
    X, y, s, _ = long_problem(6)
    X0, y0, s0 = X.copy(), y.copy(), s.copy()
    model = TaskRelationshipRegressor(task_column="task").fit(X, y, sample_weight=s)
    pd.testing.assert_frame_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(s, s0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(again.task_covariance_, model.task_covariance_)


def test_unit_diagonal_of_a_zero_task():
    omega = np.array([[0.5, 0.2, 0.0], [0.2, 0.5, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        unit_diagonal(omega), [[1.0, 0.4, 0.0], [0.4, 1.0, 0.0], [0.0, 0.0, 1.0]]
    )


@pytest.mark.parametrize(
    "params, words",
    [
        ({"beta": -1.0}, "'beta' parameter"),
        ({"alpha": -0.1}, "'alpha' parameter"),
        ({"solver": "bcd"}, "'solver' parameter"),
    ],
)
def test_invalid_parameters(params, words):
    X, y, _, _ = long_problem(7)
    with pytest.raises(ValueError, match=words):
        TaskRelationshipRegressor(task_column="task", **params).fit(X, y)


def test_admm_on_classifier_raises():
    X, y, _, _ = long_problem(8, kind="logistic")
    with pytest.raises(ValueError, match="'solver' parameter"):
        TaskRelationshipClassifier(solver="admm", task_column="task").fit(X, y)


def test_cv_equals_grid_search_and_refits_the_best_point():
    X, y, s, _ = long_problem(9)
    cv = TaskKFold(3, task_column="task", shuffle=True, random_state=0)
    model = TaskRelationshipRegressorCV(
        alphas=[1.0, 0.1, 0.01], ridge_ratios=[0.1, 1.0], cv=cv, task_column="task"
    )
    model.set_params(**TIGHT).fit(X, y)
    grid = [
        {"beta": [beta], "alpha": [ratio * beta]}
        for ratio in (0.1, 1.0)
        for beta in (1.0, 0.1, 0.01)
    ]
    search = GridSearchCV(
        TaskRelationshipRegressor(task_column="task", **TIGHT), grid, cv=cv
    ).fit(X, y)
    np.testing.assert_allclose(
        model.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=1e-6,
    )
    best = model.best_params_
    assert model.alpha_ == model.beta_ == best["beta"]
    assert model.ridge_ratio_ == best["ridge_ratio"]
    assert model.ridge_alpha_ == pytest.approx(best["ridge_ratio"] * best["beta"])
    refit = TaskRelationshipRegressor(
        model.ridge_alpha_, model.beta_, task_column="task", **TIGHT
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_, refit.coef_, atol=1e-8)
    np.testing.assert_allclose(model.task_covariance_, refit.task_covariance_)


def test_cv_int_path_and_classifier():
    X, y, _, _ = long_problem(10, kind="logistic", sizes=(40, 50, 60))
    model = TaskRelationshipClassifierCV(
        alphas=4, eps=1e-6, ridge_ratios=0.1, cv=3, task_column="task"
    ).fit(X, y)
    path = model.alphas_[0]
    assert path.shape == (4,)
    assert path[-1] / path[0] == pytest.approx(1e-6)
    assert sorted(model.best_params_) == ["beta", "ridge_ratio"]
    assert model.task_correlation_.shape == (3, 3)
