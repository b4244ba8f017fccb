"""ADMM in Gram form against independent oracles: a cvxpy formulation of the
documented objective written here (n_t: the total sample weight of task t),
and scikit-learn's Lasso."""

import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from skmtl._tasks import check_task_data
from skmtl.penalties import (
    L1,
    L21,
    Decomposition,
    FeatureMaxNorm,
    TaskGroupNorm,
    TraceNorm,
)
from skmtl.solvers import admm

# Each penalty: (penalty, numpy value of the blocks, cvxpy value of the blocks).
SINGLE = {
    "l1": (
        lambda a: L1(a),
        lambda a, W: a * np.abs(W).sum(),
        lambda a, W: a * cp.sum(cp.abs(W)),
    ),
    "trace": (
        lambda a: TraceNorm(a),
        lambda a, W: a * np.linalg.norm(W, "nuc"),
        lambda a, W: a * cp.normNuc(W),
    ),
    "task_group": (
        lambda a: TaskGroupNorm(a),
        lambda a, W: a * np.linalg.norm(W, axis=1).sum(),
        lambda a, W: a * cp.sum(cp.norm(W, 2, axis=1)),
    ),
    "feature_max": (
        lambda a: FeatureMaxNorm(a),
        lambda a, W: a * np.abs(W).max(axis=0).sum(),
        lambda a, W: a * cp.sum(cp.norm(W, "inf", axis=0)),
    ),
    "l21": (
        lambda a: L21(a, l1_ratio=0.7),
        lambda a, W: a * (0.7 * np.linalg.norm(W, axis=0).sum() + 0.15 * (W**2).sum()),
        lambda a, W: (
            a * (0.7 * cp.sum(cp.norm(W, 2, axis=0)) + 0.15 * cp.sum_squares(W))
        ),
    ),
    "group": (
        lambda a: L21(a),
        lambda a, W: a * np.linalg.norm(W, axis=0).sum(),
        lambda a, W: a * cp.sum(cp.norm(W, 2, axis=0)),
    ),
}
PAIRS = [
    ("l1", "trace"),
    ("trace", "task_group"),
    ("feature_max", "l1"),
    ("group", "l1"),
]
CASES = [(name,) for name in SINGLE] + PAIRS
STRENGTHS = (0.1, 0.05)


def penalty_of(case):
    parts = [SINGLE[name][0](a) for name, a in zip(case, STRENGTHS)]
    return parts[0] if len(parts) == 1 else Decomposition(*parts)


def np_penalty(case, blocks):
    return sum(SINGLE[name][1](a, B) for name, a, B in zip(case, STRENGTHS, blocks))


def cvx_penalty(case, blocks):
    return sum(SINGLE[name][2](a, B) for name, a, B in zip(case, STRENGTHS, blocks))


def long_data(seed, sizes=(10, 18, 26), p=4):
    rng = np.random.default_rng(seed)
    frames, ys, ss, tasks = [], [], [], []
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, p))
        y = X @ rng.normal(size=p) + t + 0.3 * rng.normal(size=n)
        s = rng.uniform(0.5, 2.0, size=n)
        tasks.append((X, y, s))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame.insert(0, "task", f"task_{t}")
        frames.append(frame)
        ys.append(y)
        ss.append(s)
    df, y, s = (
        pd.concat(frames, ignore_index=True),
        np.concatenate(ys),
        np.concatenate(ss),
    )
    return check_task_data(Lasso(), df, y, task_column="task", sample_weight=s), tasks


def wide_data(seed, n=36, p=4, T=3, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
    Y = X @ rng.normal(size=(p, T)) + 0.3 * rng.normal(size=(n, T))
    Y[rng.uniform(size=Y.shape) < 0.25] = np.nan
    tasks = []
    for t in range(T):
        seen = ~np.isnan(Y[:, t])
        tasks.append((X[seen], Y[seen, t], np.ones(seen.sum())))
    Xin = sp.csr_matrix(X) if sparse else X
    return check_task_data(Lasso(), Xin, Y), tasks


def np_objective(tasks, coef, intercept, penalty_value):
    total = penalty_value
    for t, (X, y, s) in enumerate(tasks):
        total += np.sum(s * (y - X @ coef[t] - intercept[t]) ** 2) / (2 * np.sum(s))
    return total


def cvxpy_optimum(tasks, case, fit_intercept=True):
    T, p = len(tasks), tasks[0][0].shape[1]
    blocks = [cp.Variable((T, p)) for _ in case]
    W, b = sum(blocks), cp.Variable(T)
    data_term = 0
    for t, (X, y, s) in enumerate(tasks):
        z = X @ W[t, :] + (b[t] if fit_intercept else 0)
        data_term += cp.sum(cp.multiply(s, cp.square(y - z))) / (2 * np.sum(s))
    problem = cp.Problem(cp.Minimize(data_term + cvx_penalty(case, blocks)))
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    return problem.value


def check_against_cvxpy(data, tasks, case, fit_intercept=True):
    result = admm.solve(
        data, penalty_of(case), fit_intercept=fit_intercept, tol=1e-10, max_iter=100_000
    )
    blocks = result.extra.get("blocks", [result.coef])
    np.testing.assert_allclose(sum(blocks), result.coef, atol=1e-12)
    if not fit_intercept:
        assert np.all(result.intercept == 0)
    value = np_objective(tasks, result.coef, result.intercept, np_penalty(case, blocks))
    optimum = cvxpy_optimum(tasks, case, fit_intercept)
    assert abs(value - optimum) <= 1e-6 * optimum, (value, optimum)
    return result, value, optimum


@pytest.mark.parametrize("case", CASES, ids="+".join)
def test_long_weighted_against_cvxpy(case):
    check_against_cvxpy(*long_data(0), case)


@pytest.mark.parametrize("case", CASES, ids="+".join)
def test_wide_missing_against_cvxpy(case):
    check_against_cvxpy(*wide_data(1), case)


@pytest.mark.parametrize("case", [("l1",), ("trace",), ("l1", "trace")], ids="+".join)
def test_sparse_X_against_cvxpy(case):
    check_against_cvxpy(*wide_data(2, sparse=True), case)


@pytest.mark.parametrize("case", [("trace",), ("trace", "task_group")], ids="+".join)
def test_no_intercept_against_cvxpy(case):
    check_against_cvxpy(*long_data(3), case, fit_intercept=False)


@pytest.mark.parametrize("case", [("trace",), ("feature_max", "l1")], ids="+".join)
def test_gap_bounds_suboptimality(case):
    data, tasks = long_data(4)
    optimum = cvxpy_optimum(tasks, case)
    for max_iter in (3, 10, 30):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = admm.solve(data, penalty_of(case), tol=1e-14, max_iter=max_iter)
        blocks = result.extra.get("blocks", [result.coef])
        value = np_objective(
            tasks, result.coef, result.intercept, np_penalty(case, blocks)
        )
        assert result.gap >= value - optimum - 1e-9 * optimum


def test_convergence_warning_when_max_iter_too_small():
    data, _ = long_data(5)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = admm.solve(data, TraceNorm(0.01), tol=1e-12, max_iter=2)
    assert result.n_iter <= 2
    assert not result.converged


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5])
def test_lasso_matches_sklearn(alpha):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 6))
    y = X @ np.array([1.0, 0.0, 0.0, -2.0, 0.5, 0.0]) + 0.2 * rng.normal(size=50)
    result = admm.solve(check_task_data(Lasso(), X, y), L1(alpha), tol=1e-12)
    reference = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(result.coef[0], reference.coef_, atol=1e-7)
    np.testing.assert_allclose(result.intercept[0], reference.intercept_, atol=1e-7)


def test_decomposition_rejects_elastic_net_block():
    with pytest.raises(ValueError, match="l1_ratio=1"):
        Decomposition(L21(0.1, l1_ratio=0.7), L1(0.1))
