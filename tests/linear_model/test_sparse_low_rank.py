"""Sparse + low-rank models against an independent cvxpy formulation of the
documented objective (n_t: the total sample weight of task t)."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp


# --- Independent oracle: the documented objective in numpy and in cvxpy. ---
def long_problem(rng, sizes=(12, 20, 30), p=4, kind="squared"):
    """Long data (string task labels, unequal sizes, weights) and its task list."""
    tasks, frames = [], []
    W = rng.normal(size=(len(sizes), p))
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, p))
        z = X @ W[t] + 0.3 * t
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


def wide_problem(rng, n=40, p=4, T=3, kind="squared"):
    """Wide data (2-D Y, NaN for missing targets), weights, and its task list."""
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(T, p))
    Z = X @ W.T
    Y = Z + 0.3 * rng.normal(size=Z.shape) if kind == "squared" else (Z > 0) * 1.0
    Y[rng.uniform(size=Y.shape) < 0.25] = np.nan
    s = rng.uniform(0.5, 2.0, size=n)
    tasks = []
    for t in range(T):
        seen = ~np.isnan(Y[:, t])
        tasks.append((X[seen], Y[seen, t], s[seen]))
    return X, Y, s, tasks


def np_data_term(tasks, coef, intercept, loss):
    total = 0.0
    for t, (X, y, s) in enumerate(tasks):
        z = X @ coef[t].T + intercept[t]
        if loss == "squared":
            values = 0.5 * (y - z) ** 2
        elif loss == "logistic":
            values = np.logaddexp(0, z) - y * z
        else:
            values = logsumexp(z, axis=1) - z[np.arange(len(y)), y.astype(int)]
        total += np.sum(s * values) / np.sum(s)  # n_t: total weight of the task
    return total


def np_objective(tasks, coef, intercept, loss, penalty_value, intercept_alpha=0.0):
    b = np.asarray(intercept, dtype=float)
    tie = 0.5 * intercept_alpha * np.sum((b - b.mean(axis=0)) ** 2)
    return np_data_term(tasks, coef, intercept, loss) + penalty_value + tie


def cvxpy_optimum(
    tasks,
    loss,
    penalty,
    n_blocks,
    intercept_alpha=0.0,
    n_classes=None,
    fit_intercept=True,
):
    """Optimum of the documented objective; ``penalty(blocks)`` gets cvxpy matrices
    of shape (n_tasks * n_classes, p) (rows task-major)."""
    T, p = len(tasks), tasks[0][0].shape[1]
    K = n_classes or 1
    blocks = [cp.Variable((T * K, p)) for _ in range(n_blocks)]
    W = sum(blocks)
    b = cp.Variable(T * K)
    b0 = cp.Variable(K)
    terms = []
    for t, (X, y, s) in enumerate(tasks):
        n = len(y)
        if n_classes:
            Wt = W[t * K : (t + 1) * K, :]
            z = X @ Wt.T
            if fit_intercept:
                z = z + np.ones((n, 1)) @ cp.reshape(
                    b[t * K : (t + 1) * K], (1, K), order="C"
                )
            onehot = np.eye(K)[y.astype(int)]
            values = cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
        else:
            z = X @ W[t, :]
            if fit_intercept:
                z = z + b[t]
            if loss == "squared":
                values = 0.5 * cp.square(y - z)
            else:
                values = cp.logistic(z) - cp.multiply(y, z)
        terms.append(cp.sum(cp.multiply(s, values)) / np.sum(s))
    objective = sum(terms) + penalty(blocks)
    if intercept_alpha:
        B = cp.reshape(b, (T, K), order="C")
        objective = objective + 0.5 * intercept_alpha * cp.sum_squares(
            B - np.ones((T, 1)) @ cp.reshape(b0, (1, K), order="C")
        )
    problem = cp.Problem(cp.Minimize(objective))
    problem.solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10
    )
    return problem.value


def assert_rel(value, optimum, rtol=1e-6):
    assert abs(value - optimum) <= rtol * abs(optimum), (value, optimum)


from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from skmtl.linear_model import SparseLowRankClassifier, SparseLowRankRegressor  # noqa: E402

REGRESSOR, CLASSIFIER = SparseLowRankRegressor, SparseLowRankClassifier
BLOCKS = ("sparse_coef_", "low_rank_coef_")
FIRST, SECOND = "alpha_sparse", "alpha_rank"
PARAMS_REG = dict(alpha_sparse=0.05, alpha_rank=0.1)
PARAMS_CLF = dict(alpha_sparse=0.01, alpha_rank=0.02)


def np_penalty(blocks, params):
    P, Q = blocks
    return params["alpha_sparse"] * np.abs(P).sum() + params[
        "alpha_rank"
    ] * np.linalg.norm(Q, "nuc")


def cvx_penalty(params):
    return lambda B: (
        params["alpha_sparse"] * cp.sum(cp.abs(B[0]))
        + params["alpha_rank"] * cp.normNuc(B[1])
    )


TIGHT = dict(tol=1e-10, max_iter=100_000)


def fit(cls, X, y, s, layout, **params):
    if layout == "long":
        params["task_column"] = "task"
    return cls(**params, **TIGHT).fit(X, y, sample_weight=s)


def problem(seed, layout, kind):
    rng = np.random.default_rng(seed)
    if layout == "long":
        sizes = (12, 20, 30) if kind == "squared" else (20, 30, 40)
        return long_problem(rng, sizes=sizes, kind=kind)
    return wide_problem(rng, n=40 if kind == "squared" else 60, kind=kind)


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("solver", ["admm", "fista", "cvxpy"])
def test_regressor_objective_matches_cvxpy(layout, solver):
    X, y, s, tasks = problem(0, layout, "squared")
    model = fit(REGRESSOR, X, y, s, layout, solver=solver, **PARAMS_REG)
    blocks = [getattr(model, name) for name in BLOCKS]
    np.testing.assert_allclose(sum(blocks), model.coef_, atol=1e-12)
    value = np_objective(
        tasks, model.coef_, model.intercept_, "squared", np_penalty(blocks, PARAMS_REG)
    )
    optimum = cvxpy_optimum(tasks, "squared", cvx_penalty(PARAMS_REG), 2)
    assert_rel(value, optimum)


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("solver", ["prox_newton", "fista"])
def test_classifier_objective_matches_cvxpy(layout, solver):
    X, y, s, tasks = problem(1, layout, "logistic")
    model = fit(CLASSIFIER, X, y, s, layout, solver=solver, **PARAMS_CLF)
    blocks = [getattr(model, name) for name in BLOCKS]
    value = np_objective(
        tasks,
        model.coef_,
        model.intercept_,
        "logistic",
        np_penalty(blocks, PARAMS_CLF),
        1e-3,
    )
    optimum = cvxpy_optimum(tasks, "logistic", cvx_penalty(PARAMS_CLF), 2, 1e-3)
    assert_rel(value, optimum)


@pytest.mark.parametrize("kind", ["squared", "logistic"])
def test_alpha_max_first_strength_ratio_fixed(kind):
    cls, params = (
        (REGRESSOR, PARAMS_REG) if kind == "squared" else (CLASSIFIER, PARAMS_CLF)
    )
    X, y, s, _ = problem(3, "long", kind)
    first, second = FIRST, SECOND
    ratio = params[second] / params[first]
    alpha_max = cls(**params, task_column="task")._alpha_max(X, y, sample_weight=s)
    at = fit(cls, X, y, s, "long", **{first: alpha_max, second: ratio * alpha_max})
    assert np.all(at.coef_ == 0)
    below = fit(
        cls,
        X,
        y,
        s,
        "long",
        **{first: 0.95 * alpha_max, second: ratio * 0.95 * alpha_max},
    )
    assert np.abs(below.coef_).max() > 1e-8


def test_pickle_clone_gridsearch_and_inputs_unmodified():
    import pickle

    X, y, s, _ = problem(6, "long", "squared")
    X0, y0, s0 = X.copy(), y.copy(), s.copy()
    model = fit(REGRESSOR, X, y, s, "long", **PARAMS_REG)
    pd.testing.assert_frame_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(s, s0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert clone(model).get_params() == model.get_params()
    search = GridSearchCV(
        REGRESSOR(task_column="task", **PARAMS_REG),
        {FIRST: [0.01, 0.1]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_[FIRST] in (0.01, 0.1)


def test_relabelling_tasks_permutes_rows():
    X, y, s, _ = problem(7, "long", "squared")
    model = fit(REGRESSOR, X, y, s, "long", **PARAMS_REG)
    relabelled = X.copy()
    relabelled["task"] = relabelled["task"].map(
        {"task_0": "c", "task_1": "a", "task_2": "b"}
    )
    other = fit(REGRESSOR, relabelled, y, s, "long", **PARAMS_REG)
    order = [list(other.tasks_).index(label) for label in ("c", "a", "b")]
    np.testing.assert_allclose(other.coef_[order], model.coef_, atol=1e-6)


def test_warm_start_same_solution_fewer_iterations():
    X, y, s, _ = problem(8, "long", "squared")
    model = REGRESSOR(
        **PARAMS_REG, task_column="task", solver="fista", warm_start=True, tol=1e-8
    )
    model.fit(X, y)
    first, coef = model.n_iter_, model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ < first
    np.testing.assert_allclose(model.coef_, coef, atol=1e-5)


def test_admm_on_classifier_raises():
    X, y, s, _ = problem(9, "long", "logistic")
    with pytest.raises(ValueError, match="solver"):
        CLASSIFIER(solver="admm", task_column="task").fit(X, y)


def per_task_lasso_limit(model_cls, params, alpha, block):
    """Per-task sklearn Lasso (same alpha: both scale the squared loss by 1/(2 n_t))."""
    from sklearn.linear_model import Lasso

    X, y, _, tasks = problem(10, "long", "squared")
    model = fit(model_cls, X, y, None, "long", **params)
    for t, (Xt, yt, _) in enumerate(tasks):
        lasso = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(Xt, yt)
        np.testing.assert_allclose(model.coef_[t], lasso.coef_, atol=1e-6)
        np.testing.assert_allclose(model.intercept_[t], lasso.intercept_, atol=1e-6)
    assert np.all(getattr(model, block) == 0)


def per_task_logistic_limit(model_cls, params, alpha):
    """Per-task L1 logistic regression, C = 1 / (alpha n_t), untied intercepts."""
    from sklearn.linear_model import LogisticRegression

    X, y, _, tasks = problem(11, "long", "logistic")
    model = fit(model_cls, X, y, None, "long", intercept_alpha=0.0, **params)
    for t, (Xt, yt, _) in enumerate(tasks):
        clf = LogisticRegression(
            l1_ratio=1,
            C=1 / (alpha * len(yt)),
            solver="liblinear",
            intercept_scaling=1e4,
            tol=1e-12,
            max_iter=100_000,
            # liblinear's coordinate order is random: a fixed seed makes the
            # oracle the same on every machine (some orders stop short of 1e-12)
            random_state=0,
        ).fit(Xt, yt)
        np.testing.assert_allclose(model.coef_[t], clf.coef_[0], atol=1e-4)
        np.testing.assert_allclose(model.intercept_[t], clf.intercept_[0], atol=1e-3)


def test_alpha_rank_infinite_is_per_task_lasso():
    per_task_lasso_limit(
        REGRESSOR, dict(alpha_sparse=0.05, alpha_rank=1e6), 0.05, "low_rank_coef_"
    )


def test_alpha_rank_infinite_is_per_task_l1_logistic():
    per_task_logistic_limit(CLASSIFIER, dict(alpha_sparse=0.02, alpha_rank=1e6), 0.02)
