"""The exact squared-loss solver against the normal equations of the documented
objective, solved densely in numpy from the raw rows (n_t: the total sample
weight of task t, docs/user_guide/index.rst)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from skmtl._tasks import check_task_data
from skmtl.losses import SquaredLoss
from skmtl.penalties import TaskGraph
from skmtl.solvers import quadratic
from skmtl.solvers.cvxpy import solve_cvxpy


class Coupling:
    """``0.5 tr(W^T K W)``: the interface the solver needs, written here."""

    n_blocks = 1

    def __init__(self, K):
        self.K = np.asarray(K, dtype=float)

    def coupling(self):
        return self.K

    def value(self, W):
        return 0.5 * float(np.sum(W * (self.K @ W)))

    def rescaled(self, scaling):
        # Degree 2 in W: the strength scales by 2^(-2 e_x) (exact).
        return Coupling(self.K * scaling.strength(1.0, degree=2))


def chain_coupling(T, alpha=0.7, alpha_ridge=0.05):
    """``2 alpha L + alpha_ridge I`` of the chain graph 0 - 1 - ... - T-1."""
    A = np.zeros((T, T))
    A[np.arange(T - 1), np.arange(1, T)] = 1.0
    A = A + A.T
    return 2 * alpha * (np.diag(A.sum(1)) - A) + alpha_ridge * np.eye(T)


def long_data(rng, sizes, p):
    frames, ys, ss, tasks = [], [], [], []
    W = rng.normal(size=(len(sizes), p))
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p)
        y = X @ W[t] + t + 0.5 * rng.normal(size=n)
        s = rng.uniform(0.2, 3.0, size=n)
        tasks.append((X, y, s))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame.insert(0, "task", f"task_{t:03d}")
        frames.append(frame)
        ys.append(y)
        ss.append(s)
    X = pd.concat(frames, ignore_index=True)
    y, s = np.concatenate(ys), np.concatenate(ss)
    return check_task_data(Ridge(), X, y, task_column="task", sample_weight=s), tasks


def normal_equations(tasks, K, fit_intercept=True):
    """Minimiser of the objective: the gradient in (w_t, b_t) set to zero."""
    T, p = len(tasks), tasks[0][0].shape[1]
    q = p + 1
    A, g = np.zeros((T * q, T * q)), np.zeros(T * q)
    for t, (X, y, s) in enumerate(tasks):
        Z = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
        c = s / s.sum()
        block = slice(t * q, t * q + Z.shape[1])
        A[block, block] = Z.T @ (c[:, None] * Z)
        g[block] = Z.T @ (c * y)
        if not fit_intercept:
            A[t * q + p, t * q + p] = 1.0  # b_t = 0
    for t in range(T):
        for u in range(T):
            A[t * q : t * q + p, u * q : u * q + p] += K[t, u] * np.eye(p)
    solution = np.linalg.solve(A, g).reshape(T, q)
    return solution[:, :p], solution[:, p]


def objective(tasks, K, W, b):
    total = 0.5 * float(np.sum(W * (K @ W)))
    for t, (X, y, s) in enumerate(tasks):
        total += 0.5 * np.sum(s * (y - X @ W[t] - b[t]) ** 2) / s.sum()
    return total


@pytest.mark.parametrize("branch", ["cholesky", "pcg"])
def test_long_weighted_unequal_tasks_match_normal_equations(branch, monkeypatch):
    rng = np.random.default_rng(0)
    data, tasks = long_data(rng, sizes=(7, 30, 12, 55, 20, 9), p=5)
    K = chain_coupling(6)
    if branch == "pcg":
        monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)

        def no_dense(*args):
            raise AssertionError("the conjugate-gradient branch formed M")

        monkeypatch.setattr(quadratic, "_dense_inverse", no_dense)
    # tol=0: iterate to the rounding level of the products (no warning).
    result = quadratic.solve(data, Coupling(K), tol=0.0)
    assert result.extra["method"] == branch
    W, b = normal_equations(tasks, K)
    np.testing.assert_allclose(result.coef, W, atol=1e-9, rtol=1e-8)
    np.testing.assert_allclose(result.intercept, b, atol=1e-9, rtol=1e-8)
    assert result.converged
    assert abs(result.objective - objective(tasks, K, W, b)) <= 1e-12


def test_pcg_bound_covers_the_objective_error(monkeypatch):
    # Stopped early, the reported bound is at least the distance to the optimum.
    rng = np.random.default_rng(1)
    data, tasks = long_data(rng, sizes=(5, 40, 8, 25, 60, 11, 14, 30), p=6)
    K = chain_coupling(8, alpha=2.0, alpha_ridge=0.01)
    monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)
    optimum = objective(tasks, K, *normal_equations(tasks, K))
    for max_iter in (1, 2, 4):
        result = quadratic.solve(data, Coupling(K), max_iter=max_iter, warn=False)
        error = objective(tasks, K, result.coef, result.intercept) - optimum
        assert 0 <= error <= result.gap
        assert result.n_iter == max_iter and not result.converged


def test_pcg_warns_at_max_iter(monkeypatch):
    rng = np.random.default_rng(2)
    data, _ = long_data(rng, sizes=(5, 40, 8, 25), p=6)
    monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)
    with pytest.warns(ConvergenceWarning, match="did not converge.*max_iter"):
        result = quadratic.solve(data, Coupling(chain_coupling(4)), max_iter=1)
    assert result.n_iter == 1


def test_singular_coupling_and_no_intercept(monkeypatch):
    # K = 2 alpha L (no ridge) is singular: the gradient-norm fallback applies.
    rng = np.random.default_rng(3)
    data, tasks = long_data(rng, sizes=(20, 35, 15, 40), p=3)
    K = chain_coupling(4, alpha_ridge=0.0)
    W, b = normal_equations(tasks, K, fit_intercept=False)
    for size in (2000, 0):
        monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", size)
        result = quadratic.solve(data, Coupling(K), fit_intercept=False, tol=0.0)
        np.testing.assert_allclose(result.coef, W, atol=1e-9)
        np.testing.assert_array_equal(result.intercept, 0.0)


def test_wide_shared_gram_is_exact_in_one_step():
    # Fully observed wide data with common weights: one Gram matrix, and the
    # Kronecker preconditioner is the exact inverse of the block system.
    rng = np.random.default_rng(4)
    X, T = rng.normal(size=(50, 4)), 5
    Y = X @ rng.normal(size=(4, T)) + rng.normal(size=(50, T))
    K = chain_coupling(T)
    data = check_task_data(Ridge(), X, Y)
    result = quadratic.solve(data, Coupling(K))
    assert result.extra["method"] == "kronecker" and result.n_iter == 1
    tasks = [(X, Y[:, t], np.ones(50)) for t in range(T)]
    W, b = normal_equations(tasks, K)
    np.testing.assert_allclose(result.coef, W, atol=1e-10)
    np.testing.assert_allclose(result.intercept, b, atol=1e-10)


def test_wide_missing_targets():
    rng = np.random.default_rng(5)
    X, T = rng.normal(size=(40, 3)), 4
    Y = X @ rng.normal(size=(3, T)) + rng.normal(size=(40, T))
    Y[rng.uniform(size=Y.shape) < 0.3] = np.nan
    s = rng.uniform(0.5, 2, size=40)
    K = chain_coupling(T)
    result = quadratic.solve(
        check_task_data(Ridge(), X, Y, sample_weight=s), Coupling(K)
    )
    seen = ~np.isnan(Y)
    tasks = [(X[seen[:, t]], Y[seen[:, t], t], s[seen[:, t]]) for t in range(T)]
    W, b = normal_equations(tasks, K)
    np.testing.assert_allclose(result.coef, W, atol=1e-9)
    np.testing.assert_allclose(result.intercept, b, atol=1e-9)


def test_warm_start_at_solution_needs_no_iteration():
    rng = np.random.default_rng(6)
    data, tasks = long_data(rng, sizes=(10, 20, 30), p=4)
    K = chain_coupling(3)
    W, _ = normal_equations(tasks, K)
    result = quadratic.solve(data, Coupling(K), coef_init=W)
    assert result.n_iter == 0 and result.converged


def test_extreme_feature_scale_maps_exactly():
    # X * 2^300 with K * 2^600 is the same problem with W * 2^-300 (degree 2);
    # the solver rescales X (beyond 2^40) by a power of two and maps it back.
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    K = 0.3 * np.eye(1)
    reference = quadratic.solve(check_task_data(Ridge(), X, y), Coupling(K))
    big = quadratic.solve(
        check_task_data(Ridge(), np.ldexp(X, 300), y), Coupling(np.ldexp(K, 600))
    )
    np.testing.assert_allclose(np.ldexp(big.coef, 300), reference.coef, rtol=1e-12)
    np.testing.assert_allclose(big.intercept, reference.intercept, rtol=1e-12)


def test_inputs_unmodified_and_bad_coupling_shape():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    X0, Y0 = X.copy(), Y.copy()
    data = check_task_data(Ridge(), X, Y)
    K = chain_coupling(2)
    K0 = K.copy()
    quadratic.solve(data, Coupling(K))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_array_equal(K, K0)
    with pytest.raises(
        ValueError, match=r"coupling matrix has shape \(3, 3\).*\(2, 2\)"
    ):
        quadratic.solve(data, Coupling(chain_coupling(3)))


def test_no_warning_when_converged(monkeypatch):
    rng = np.random.default_rng(9)
    data, _ = long_data(rng, sizes=(12, 30, 18, 25, 9), p=4)
    monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = quadratic.solve(data, Coupling(chain_coupling(5)), tol=1e-12)
    assert result.converged and result.gap <= 1e-12 * result.extra["null_objective"]


@pytest.mark.parametrize("branch", ["cholesky", "pcg"])
def test_task_graph_matches_the_cvxpy_reference(branch, monkeypatch):
    # The package's reference solver, with the penalty's own cvxpy form.
    rng = np.random.default_rng(10)
    data, _ = long_data(rng, sizes=(9, 33, 14, 50, 21), p=4)
    A = rng.uniform(size=(5, 5)) * (rng.uniform(size=(5, 5)) < 0.6)
    penalty = TaskGraph(0.4, A, alpha_ridge=0.02)
    if branch == "pcg":
        monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)
    result = quadratic.solve(data, penalty)
    assert result.extra["method"] == branch
    reference = solve_cvxpy(data, SquaredLoss(), penalty, tol=1e-10)
    assert abs(result.objective - reference.objective) <= 1e-6 * reference.objective


@pytest.mark.parametrize("branch", ["cholesky", "pcg"])
def test_sparse_features_match_normal_equations(branch, monkeypatch):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(70, 5)) * (rng.uniform(size=(70, 5)) < 0.4)
    task = np.repeat([0, 1, 2], [15, 35, 20])
    y = X @ rng.normal(size=5) + task + rng.normal(size=70)
    s = rng.uniform(0.5, 2, size=70)
    if branch == "pcg":
        monkeypatch.setattr(quadratic, "DENSE_MAX_SIZE", 0)
    data = check_task_data(
        Ridge(),
        sp.hstack([sp.csr_matrix(task[:, None]), sp.csr_matrix(X)]).tocsr(),
        y,
        task_column=0,
        sample_weight=s,
    )
    K = chain_coupling(3)
    result = quadratic.solve(data, Coupling(K), tol=0.0)
    tasks = [(X[task == t], y[task == t], s[task == t]) for t in range(3)]
    W, b = normal_equations(tasks, K)
    np.testing.assert_allclose(result.coef, W, atol=1e-10)
    np.testing.assert_allclose(result.intercept, b, atol=1e-10)
