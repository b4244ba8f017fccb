"""Clustered multi-task models against independent oracles: the documented
objective written in cvxpy with ``matrix_frac`` over the cluster matrix ``M``,
scikit-learn's ``Ridge`` in the limits ``n_clusters = n_tasks`` and one task,
and known clusters of tasks (n_t: the total sample weight of task t,
docs/user_guide/index.rst)."""

import pickle

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.metrics import adjusted_rand_score

from skmtl.linear_model import (
    ClusteredMultiTaskClassifier,
    ClusteredMultiTaskClassifierCV,
    ClusteredMultiTaskRegressor,
    ClusteredMultiTaskRegressorCV,
)

TIGHT = dict(tol=1e-10, max_iter=100_000)


def long_problem(seed, coef, sizes, kind="squared", noise=0.3):
    """Long data of the task coefficients ``coef`` (string labels, weights)."""
    rng = np.random.default_rng(seed)
    tasks, frames = [], []
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, coef.shape[1]))
        z = X @ coef[t] + 0.2 * t
        y = z + noise * rng.normal(size=n) if kind == "squared" else (z > 0) * 1.0
        s = rng.uniform(0.5, 2.0, size=n)
        tasks.append((X, y, s))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(coef.shape[1])])
        frame.insert(0, "task", f"task_{t}")
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    y = np.concatenate([y for _, y, _ in tasks])
    s = np.concatenate([s for _, _, s in tasks])
    return df, y, s, tasks


def clustered_coef(seed, labels, p, spread=0.1, scale=3.0):
    """Task coefficients around one well-separated centre per cluster."""
    rng = np.random.default_rng(seed)
    centres = scale * rng.normal(size=(max(labels) + 1, p))
    return centres[labels] + spread * rng.normal(size=(len(labels), p))


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


def clustered_value(W, M, alpha, eta):
    """The documented penalty at ``(W, M)``."""
    inverse = np.linalg.inv(eta * np.eye(len(M)) + M)
    return alpha * eta * (1 + eta) * np.trace(W.T @ inverse @ W)


def cvxpy_optimum(tasks, loss, alpha, eta, k, intercept_alpha=0.0):
    """Optimum and ``W`` of the documented objective, over ``W``, ``b`` and ``M``."""
    T, p = len(tasks), tasks[0][0].shape[1]
    W, b, b0 = cp.Variable((T, p)), cp.Variable(T), cp.Variable()
    M = cp.Variable((T, T), symmetric=True)
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
        + alpha * eta * (1 + eta) * cp.matrix_frac(W, eta * np.eye(T) + M)
        + 0.5 * intercept_alpha * cp.sum_squares(b - b0)
    )
    constraints = [M >> 0, np.eye(T) - M >> 0, cp.trace(M) == k]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    # Tighter tolerances make CLARABEL report an inaccurate solution on the
    # semidefinite and exponential cones together.
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8)
    return problem.value, W.value


def assert_rel(value, optimum, rtol=1e-6):
    assert abs(value - optimum) <= rtol * abs(optimum), (value, optimum)


def assert_feasible(M, k):
    values = np.linalg.eigvalsh(M)
    np.testing.assert_allclose(M, M.T)
    assert values.min() >= -1e-10 and values.max() <= 1 + 1e-10
    assert np.trace(M) == pytest.approx(k)


@pytest.mark.parametrize("solver", ["admm", "fista", "cvxpy"])
def test_regressor_objective_and_coef_match_cvxpy(solver):
    coef = clustered_coef(0, [0, 1, 0, 1], p=3, spread=0.5, scale=1.0)
    X, y, s, tasks = long_problem(0, coef, sizes=(12, 20, 25, 30))
    alpha, eta, k = 0.1, 0.5, 2
    model = ClusteredMultiTaskRegressor(
        alpha, eta, k, task_column="task", solver=solver, **TIGHT
    ).fit(X, y, sample_weight=s)
    optimum, W = cvxpy_optimum(tasks, "squared", alpha, eta, k)
    M = model.cluster_matrix_
    assert_feasible(M, k)
    value = data_term(tasks, model.coef_, model.intercept_, "squared")
    assert_rel(value + clustered_value(model.coef_, M, alpha, eta), optimum)
    np.testing.assert_allclose(model.coef_, W, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", ["prox_newton", "fista"])
def test_classifier_objective_and_coef_match_cvxpy(solver):
    coef = clustered_coef(1, [0, 1, 0], p=3, spread=0.5, scale=1.0)
    X, y, s, tasks = long_problem(1, coef, sizes=(30, 45, 60), kind="logistic")
    alpha, eta, k, ia = 0.02, 0.5, 2, 1e-3
    model = ClusteredMultiTaskClassifier(
        alpha, eta, k, task_column="task", solver=solver, **TIGHT
    ).fit(X, y, sample_weight=s)
    optimum, W = cvxpy_optimum(tasks, "logistic", alpha, eta, k, ia)
    M, b = model.cluster_matrix_, model.intercept_
    assert_feasible(M, k)
    value = (
        data_term(tasks, model.coef_, b, "logistic")
        + clustered_value(model.coef_, M, alpha, eta)
        + 0.5 * ia * np.sum((b - b.mean()) ** 2)
    )
    assert_rel(value, optimum)
    # cvxpy's coefficients are accurate to about 1e-5 on these cones.
    np.testing.assert_allclose(model.coef_, W, rtol=1e-4, atol=5e-5)


def test_recovers_well_separated_clusters():
    truth = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    coef = clustered_coef(2, truth, p=5)
    X, y, s, _ = long_problem(2, coef, sizes=range(20, 38, 2), noise=0.1)
    model = ClusteredMultiTaskRegressor(0.1, 0.1, 3, task_column="task")
    model.fit(X, y, sample_weight=s)
    assert adjusted_rand_score(truth, model.task_clusters_) == 1.0
    # Numbered in the order of their first task.
    np.testing.assert_array_equal(model.task_clusters_, truth)
    same = np.equal.outer(truth, truth)
    assert model.task_similarity_[same].min() > 0.9
    assert np.abs(model.task_similarity_[~same]).max() < 0.1
    np.testing.assert_allclose(np.diag(model.task_similarity_), 1.0)


def test_classifier_recovers_clusters():
    truth = [0, 1, 0, 1, 0, 1]
    coef = clustered_coef(3, truth, p=4, spread=0.05)
    X, y, _, _ = long_problem(3, coef, sizes=[150] * 6, kind="logistic")
    model = ClusteredMultiTaskClassifier(n_clusters=2, task_column="task").fit(X, y)
    assert adjusted_rand_score(truth, model.task_clusters_) == 1.0


def test_reordered_relabelled_tasks_permute_the_clusters():
    truth = [0, 1, 2, 0, 1, 2]
    coef = clustered_coef(4, truth, p=4)
    X, y, s, _ = long_problem(4, coef, sizes=range(20, 32, 2), noise=0.1)
    model = ClusteredMultiTaskRegressor(0.1, 0.1, 3, task_column="task", **TIGHT)
    model.fit(X, y, sample_weight=s)
    labels = {f"task_{t}": name for t, name in enumerate("fbdace")}
    rows = np.random.default_rng(0).permutation(len(y))
    renamed = X.assign(task=X["task"].map(labels)).iloc[rows]
    other = clone(model).fit(renamed, y[rows], sample_weight=s[rows])
    order = [list(other.tasks_).index(labels[f"task_{t}"]) for t in range(6)]
    assert adjusted_rand_score(other.task_clusters_[order], truth) == 1.0
    ix = np.ix_(order, order)
    np.testing.assert_allclose(other.cluster_matrix_[ix], model.cluster_matrix_)
    np.testing.assert_allclose(other.task_similarity_[ix], model.task_similarity_)


def test_as_many_clusters_as_tasks_is_independent_ridge():
    # M = I: the penalty is alpha eta ||W||_F^2, i.e. per task
    # Ridge(alpha=2 alpha eta n_t) on the weighted squared loss.
    coef = clustered_coef(5, [0, 1, 2], p=4, spread=1.0)
    X, y, s, tasks = long_problem(5, coef, sizes=(15, 25, 35))
    alpha, eta = 0.2, 0.5
    model = ClusteredMultiTaskRegressor(
        alpha, eta, 3, task_column="task", tol=1e-14, max_iter=10_000
    ).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.cluster_matrix_, np.eye(3), atol=1e-12)
    np.testing.assert_array_equal(model.task_clusters_, [0, 1, 2])
    for t, (Xt, yt, st) in enumerate(tasks):
        ridge = Ridge(alpha=2 * alpha * eta * st.sum()).fit(Xt, yt, sample_weight=st)
        np.testing.assert_allclose(model.coef_[t], ridge.coef_, rtol=1e-6)
        np.testing.assert_allclose(model.intercept_[t], ridge.intercept_, rtol=1e-6)


def test_one_task_is_ridge():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 4))
    y = X @ rng.normal(size=4) + 0.5 * rng.normal(size=30)
    s = rng.uniform(0.5, 2.0, size=30)
    alpha, eta = 0.3, 0.4
    model = ClusteredMultiTaskRegressor(alpha, eta, tol=1e-14, max_iter=10_000)
    model.fit(X, y, sample_weight=s)
    ridge = Ridge(alpha=2 * alpha * eta * s.sum()).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.coef_.ravel(), ridge.coef_, rtol=1e-7)
    np.testing.assert_array_equal(model.task_clusters_, [0])
    np.testing.assert_allclose(model.cluster_matrix_, [[1.0]])


def test_pickle_and_inputs_unmodified():
    coef = clustered_coef(7, [0, 1, 0], p=3)
    X, y, s, _ = long_problem(7, coef, sizes=(15, 20, 25))
    X0, y0, s0 = X.copy(), y.copy(), s.copy()
    model = ClusteredMultiTaskRegressor(n_clusters=2, task_column="task")
    model.fit(X, y, sample_weight=s)
    pd.testing.assert_frame_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(s, s0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(again.task_clusters_, model.task_clusters_)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"n_clusters": 4}, r"n_clusters=4 but the data have 3 task\(s\).*at most 3"),
        ({"n_clusters": 0}, "'n_clusters' parameter"),
        ({"n_clusters": 1.5}, "'n_clusters' parameter"),
        ({"eta": 0.0}, "'eta' parameter.*range \\(0.0, inf\\)"),
        ({"eta": -1.0}, "'eta' parameter"),
        ({"alpha": -1.0}, "'alpha' parameter"),
    ],
)
@pytest.mark.parametrize(
    "cls", [ClusteredMultiTaskRegressor, ClusteredMultiTaskRegressorCV]
)
def test_invalid_parameters(cls, params, words):
    coef = clustered_coef(8, [0, 1, 0], p=3)
    X, y, _, _ = long_problem(8, coef, sizes=(15, 20, 25))
    if cls is ClusteredMultiTaskRegressorCV and "eta" in params:
        params = {"etas": [params["eta"]]}
        words = "etas must be a positive number"
    if cls is ClusteredMultiTaskRegressorCV and "alpha" in params:
        params = {"alphas": [params["alpha"]]}
        words = "alphas must be"
    with pytest.raises(ValueError, match=words):
        cls(task_column="task", **params).fit(X, y)


def test_classifier_n_clusters_above_n_tasks_raises():
    coef = clustered_coef(9, [0, 1], p=3)
    X, y, _, _ = long_problem(9, coef, sizes=(30, 40), kind="logistic")
    with pytest.raises(ValueError, match="expected 1 <= n_clusters <= n_tasks"):
        ClusteredMultiTaskClassifier(n_clusters=3, task_column="task").fit(X, y)


def test_cv_refits_the_best_point():
    truth = [0, 1, 0, 1]
    coef = clustered_coef(10, truth, p=3)
    X, y, s, _ = long_problem(10, coef, sizes=(20, 25, 30, 35), noise=0.5)
    model = ClusteredMultiTaskRegressorCV(
        alphas=3, etas=[0.1, 1.0], n_clusters=2, cv=3, task_column="task", **TIGHT
    ).fit(X, y, sample_weight=s)
    assert model.cv_results_["mean_test_score"].shape == (6,)
    assert model.alphas_.shape == (2, 3)
    np.testing.assert_allclose(model.alphas_[:, -1] / model.alphas_[:, 0], 1e-6)
    best = model.best_params_
    assert sorted(best) == ["alpha", "eta"]
    assert model.alpha_ == best["alpha"] and model.eta_ == best["eta"]
    refit = ClusteredMultiTaskRegressor(
        best["alpha"], best["eta"], 2, task_column="task", **TIGHT
    ).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.coef_, refit.coef_, atol=1e-8)
    np.testing.assert_array_equal(model.task_clusters_, refit.task_clusters_)


def test_classifier_cv():
    truth = [0, 1, 0]
    coef = clustered_coef(11, truth, p=3)
    X, y, _, _ = long_problem(11, coef, sizes=(40, 50, 60), kind="logistic")
    model = ClusteredMultiTaskClassifierCV(
        alphas=3, etas=1.0, n_clusters=2, cv=3, task_column="task"
    ).fit(X, y)
    assert model.cv_results_["mean_test_score"].shape == (3,)
    assert model.eta_ == 1.0
    assert model.task_clusters_.shape == (3,)


def test_multiclass_cluster_matrix_is_the_minimiser():
    # M minimises tr(W^T (eta I + M)^{-1} W) for the task rows of the fitted
    # multinomial coefficients, coef_.reshape(n_tasks, -1): a small SDP.
    rng = np.random.default_rng(12)
    frames, labels = [], []
    for t, n in enumerate((60, 80, 100)):
        X = rng.normal(size=(n, 3))
        frame = pd.DataFrame(X, columns=list("abc"))
        frame.insert(0, "task", t)
        frames.append(frame)
        labels.append(np.argmax(X @ rng.normal(size=(3, 3)), axis=1))
    X, y = pd.concat(frames, ignore_index=True), np.concatenate(labels)
    eta = 0.5
    model = ClusteredMultiTaskClassifier(0.01, eta, 2, task_column="task").fit(X, y)
    assert model.coef_.shape == (3, 3, 3)
    W = model.coef_.reshape(3, -1)
    M = cp.Variable((3, 3), symmetric=True)
    constraints = [M >> 0, np.eye(3) - M >> 0, cp.trace(M) == 2]
    problem = cp.Problem(
        cp.Minimize(cp.matrix_frac(W, eta * np.eye(3) + M)), constraints
    )
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9)
    np.testing.assert_allclose(model.cluster_matrix_, M.value, atol=1e-5)
