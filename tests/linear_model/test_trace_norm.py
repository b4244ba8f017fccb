"""Trace-norm models against an independent cvxpy formulation of the documented
objective (n_t: the total sample weight of task t, docs/user_guide/index.rst)."""

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
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from skmtl.linear_model import TraceNormClassifier, TraceNormRegressor  # noqa: E402

TIGHT = dict(tol=1e-10, max_iter=100_000)


def nuclear(alpha):
    return lambda blocks: alpha * cp.normNuc(blocks[0])


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("solver", ["admm", "fista", "cvxpy"])
def test_regressor_objective_matches_cvxpy(layout, solver):
    rng = np.random.default_rng(0)
    alpha = 0.1
    if layout == "long":
        X, y, s, tasks = long_problem(rng)
        model = TraceNormRegressor(alpha, task_column="task", solver=solver, **TIGHT)
    else:
        X, y, s, tasks = wide_problem(rng)
        model = TraceNormRegressor(alpha, solver=solver, **TIGHT)
    model.fit(X, y, sample_weight=s)
    value = np_objective(
        tasks,
        model.coef_,
        model.intercept_,
        "squared",
        alpha * np.linalg.norm(model.coef_, "nuc"),
    )
    assert_rel(value, cvxpy_optimum(tasks, "squared", nuclear(alpha), 1))


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("solver", ["prox_newton", "fista"])
def test_classifier_objective_matches_cvxpy(layout, solver):
    rng = np.random.default_rng(1)
    alpha, ia = 0.02, 1e-3
    if layout == "long":
        X, y, s, tasks = long_problem(rng, sizes=(20, 30, 40), kind="logistic")
        model = TraceNormClassifier(alpha, task_column="task", solver=solver, **TIGHT)
    else:
        X, y, s, tasks = wide_problem(rng, n=60, kind="logistic")
        model = TraceNormClassifier(alpha, solver=solver, **TIGHT)
    model.fit(X, y, sample_weight=s)
    value = np_objective(
        tasks,
        model.coef_,
        model.intercept_,
        "logistic",
        alpha * np.linalg.norm(model.coef_, "nuc"),
        ia,
    )
    assert_rel(value, cvxpy_optimum(tasks, "logistic", nuclear(alpha), 1, ia))


def test_multinomial_objective_matches_cvxpy():
    rng = np.random.default_rng(2)
    p, K, alpha, ia = 3, 3, 0.02, 1e-3
    centers = rng.normal(size=(K, p)) * 2
    frames, y, tasks = [], [], []
    for t, n in enumerate((30, 45)):
        labels = np.arange(n) % K
        X = centers[labels] + rng.normal(size=(n, p))
        s = rng.uniform(0.5, 2, size=n)
        tasks.append((X, labels, s))
        frame = pd.DataFrame(X, columns=list("abc"))
        frame.insert(0, "task", f"t{t}")
        frames.append(frame)
        y.append(labels)
    df, y = pd.concat(frames, ignore_index=True), np.concatenate(y)
    s = np.concatenate([t[2] for t in tasks])
    model = TraceNormClassifier(alpha, task_column="task", **TIGHT).fit(
        df, y, sample_weight=s
    )
    assert model.coef_.shape == (2, K, p)
    value = np_objective(
        tasks,
        model.coef_,
        model.intercept_,
        "multinomial",
        alpha * np.linalg.norm(model.coef_.reshape(-1, p), "nuc"),
        ia,
    )
    assert_rel(
        value, cvxpy_optimum(tasks, "multinomial", nuclear(alpha), 1, ia, n_classes=K)
    )


@pytest.mark.parametrize("cls", [TraceNormRegressor, TraceNormClassifier])
def test_alpha_max(cls):
    rng = np.random.default_rng(3)
    kind = "squared" if cls is TraceNormRegressor else "logistic"
    X, y, s, _ = long_problem(rng, kind=kind)
    alpha_max = cls(task_column="task")._alpha_max(X, y, sample_weight=s)
    at = cls(alpha_max, task_column="task", **TIGHT).fit(X, y, sample_weight=s)
    assert np.all(at.coef_ == 0)
    below = cls(0.95 * alpha_max, task_column="task", **TIGHT).fit(
        X, y, sample_weight=s
    )
    assert np.abs(below.coef_).max() > 1e-8


def test_one_task_is_single_group_lasso():
    # ||w||_* = ||w||_2 for one task: the oracle is a group lasso with one group.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    y = X @ rng.normal(size=4) + 0.5 * rng.normal(size=30)
    alpha = 0.3
    model = TraceNormRegressor(alpha, **TIGHT).fit(X, y)
    w, b = cp.Variable(4), cp.Variable()
    cp.Problem(
        cp.Minimize(cp.sum_squares(y - X @ w - b) / 60 + alpha * cp.norm(w, 2))
    ).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(model.coef_.ravel(), w.value, atol=1e-5)
    # Closed form of the group lasso threshold: ||Xc' yc||_2 / n.
    threshold = np.linalg.norm((X - X.mean(0)).T @ (y - y.mean())) / 30
    big = TraceNormRegressor(1.001 * threshold, **TIGHT).fit(X, y)
    assert np.all(big.coef_ == 0)
    small = TraceNormRegressor(0.99 * threshold, **TIGHT).fit(X, y)
    assert np.abs(small.coef_).max() > 0


def test_transform_spans_row_space_and_predict():
    rng = np.random.default_rng(5)
    X, Y, _, _ = wide_problem(rng, n=50, p=6, T=4)
    Y = np.nan_to_num(Y)
    model = TraceNormRegressor(0.1, **TIGHT).fit(X, Y)
    C = model.components_
    assert 0 < model.rank_ <= 4 and C.shape == (model.rank_, 6)
    np.testing.assert_allclose(C @ C.T, np.eye(model.rank_), atol=1e-10)
    residual = model.coef_ - model.coef_ @ C.T @ C
    assert np.abs(residual).max() < 1e-10
    Z = model.transform(X)
    np.testing.assert_allclose(
        model.predict(X), Z @ (model.coef_ @ C.T).T + model.intercept_, atol=1e-10
    )
    s = np.linalg.svd(model.coef_, compute_uv=False)[: model.rank_]
    np.testing.assert_allclose(model.explained_variance_ratio_, s**2 / np.sum(s**2))
    pipe = Pipeline([("tn", TraceNormRegressor(0.1)), ("ridge", Ridge())]).fit(X, Y)
    assert pipe.predict(X).shape == Y.shape


def test_pickle_clone_gridsearch_relabel_and_inputs_unmodified():
    import pickle

    rng = np.random.default_rng(6)
    X, y, s, _ = long_problem(rng)
    X0, y0, s0 = X.copy(), y.copy(), s.copy()
    model = TraceNormRegressor(0.1, task_column="task", **TIGHT).fit(
        X, y, sample_weight=s
    )
    pd.testing.assert_frame_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(s, s0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert clone(model).get_params() == model.get_params()
    search = GridSearchCV(
        TraceNormRegressor(task_column="task"),
        {"alpha": [0.01, 0.1]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_["alpha"] in (0.01, 0.1)
    relabelled = X.copy()
    relabelled["task"] = relabelled["task"].map(
        {"task_0": "c", "task_1": "a", "task_2": "b"}
    )
    other = TraceNormRegressor(0.1, task_column="task", **TIGHT).fit(
        relabelled, y, sample_weight=s
    )
    order = [list(other.tasks_).index(label) for label in ("c", "a", "b")]
    np.testing.assert_allclose(other.coef_[order], model.coef_, atol=1e-6)


def test_warm_start_fewer_iterations():
    rng = np.random.default_rng(7)
    X, y, s, _ = long_problem(rng)
    model = TraceNormRegressor(
        0.1, task_column="task", solver="fista", warm_start=True, tol=1e-8
    )
    model.fit(X, y)
    first, coef = model.n_iter_, model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ < first
    np.testing.assert_allclose(model.coef_, coef, atol=1e-5)


def test_admm_on_classifier_raises():
    rng = np.random.default_rng(8)
    X, y, _, _ = long_problem(rng, kind="logistic")
    with pytest.raises(ValueError, match="solver"):
        TraceNormClassifier(solver="admm", task_column="task").fit(X, y)
