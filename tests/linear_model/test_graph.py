"""Graph-regularised models against independent oracles: a cvxpy formulation of
the documented objective written here from its sum over pairs of tasks (n_t:
the total sample weight of task t), scikit-learn's Ridge (empty graph), the
mean-regularised model (complete graph) and GridSearchCV."""

import pickle

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from skmtl._tasks import check_task_data
from skmtl.linear_model import (
    GraphRegularizedClassifier,
    GraphRegularizedClassifierCV,
    GraphRegularizedRegressor,
    GraphRegularizedRegressorCV,
    MeanRegularizedRegressor,
    TraceNormRegressor,
)
from skmtl.losses import LogisticLoss, SquaredLoss

TIGHT = dict(tol=1e-10, max_iter=100_000)
LABELS = ("north", "east", "south", "west")
# A weighted graph on LABELS: a chain north - east - south plus a weak edge.
EDGES = [("north", "east", 2.0), ("east", "south"), ("west", "north", 0.5)]


def long_problem(rng, sizes=(12, 30, 20, 45), p=4, kind="squared"):
    """Long data (string task labels, unequal sizes, weights) and its task list,
    in the order of the sorted labels (``tasks_``)."""
    tasks, frames = {}, []
    W = rng.normal(size=(len(sizes), p))
    for t, n in enumerate(sizes):
        X = rng.normal(size=(n, p))
        z = X @ W[t] + 0.3 * t
        y = z + 0.3 * rng.normal(size=n) if kind == "squared" else (z > 0) * 1.0
        s = rng.uniform(0.5, 2.0, size=n)
        tasks[LABELS[t]] = (X, y, s)
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame.insert(0, "task", LABELS[t])
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    y = np.concatenate([task[1] for task in tasks.values()])
    s = np.concatenate([task[2] for task in tasks.values()])
    return df, y, s, [tasks[label] for label in sorted(LABELS[: len(sizes)])]


def edge_matrix(edges, labels):
    """The symmetric adjacency of an undirected edge list, in ``labels`` order."""
    A = np.zeros((len(labels), len(labels)))
    for edge in edges:
        s, t = labels.index(edge[0]), labels.index(edge[1])
        A[s, t] = A[t, s] = edge[2] if len(edge) == 3 else 1.0
    return A


def np_penalty(W, A, alpha, alpha_ridge):
    W = W.reshape(len(W), -1)
    pairs = sum(
        A[s, t] * np.sum((W[s] - W[t]) ** 2)
        for s in range(len(W))
        for t in range(len(W))
    )
    return 0.5 * alpha * pairs + 0.5 * alpha_ridge * np.sum(W**2)


def np_objective(tasks, coef, intercept, loss, penalty, intercept_alpha=0.0):
    total = penalty
    for t, (X, y, s) in enumerate(tasks):
        z = X @ coef[t].T + intercept[t]
        if loss == "squared":
            values = 0.5 * (y - z) ** 2
        elif loss == "logistic":
            values = np.logaddexp(0, z) - y * z
        else:
            values = logsumexp(z, axis=1) - z[np.arange(len(y)), y.astype(int)]
        total += np.sum(s * values) / np.sum(s)
    b = np.asarray(intercept, dtype=float)
    return total + 0.5 * intercept_alpha * np.sum((b - b.mean(axis=0)) ** 2)


def cvxpy_optimum(tasks, loss, A, alpha, alpha_ridge, intercept_alpha=0.0, K=None):
    """Optimum of the documented objective, the graph term summed over pairs."""
    T, p = len(tasks), tasks[0][0].shape[1]
    k = K or 1
    W, b, b0 = cp.Variable((T * k, p)), cp.Variable((T, k)), cp.Variable(k)
    terms = []
    for t, (X, y, s) in enumerate(tasks):
        z = X @ W[t * k : (t + 1) * k, :].T + np.ones((len(y), 1)) @ b[t : t + 1, :]
        if K:
            onehot = np.eye(K)[y.astype(int)]
            values = cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
        elif loss == "squared":
            values = 0.5 * cp.square(y - z[:, 0])
        else:
            values = cp.logistic(z[:, 0]) - cp.multiply(y, z[:, 0])
        terms.append(cp.sum(cp.multiply(s, values)) / np.sum(s))
    graph = sum(
        A[s, t] * cp.sum_squares(W[s * k : (s + 1) * k, :] - W[t * k : (t + 1) * k, :])
        for s in range(T)
        for t in range(T)
        if A[s, t]
    )
    objective = sum(terms) + 0.5 * alpha * graph + 0.5 * alpha_ridge * cp.sum_squares(W)
    if intercept_alpha:
        objective += (
            0.5
            * intercept_alpha
            * cp.sum_squares(b - np.ones((T, 1)) @ cp.reshape(b0, (1, k), order="C"))
        )
    problem = cp.Problem(cp.Minimize(objective))
    problem.solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10
    )
    return problem.value


def assert_rel(value, optimum, rtol=1e-6):
    assert abs(value - optimum) <= rtol * abs(optimum), (value, optimum)


# --- objectives against cvxpy ---------------------------------------------


@pytest.mark.parametrize("solver", ["exact", "admm", "fista"])
def test_regressor_long_weighted_matches_cvxpy(solver):
    rng = np.random.default_rng(0)
    X, y, s, tasks = long_problem(rng)
    alpha, alpha_ridge = 0.3, 0.02
    model = GraphRegularizedRegressor(
        alpha,
        graph=EDGES,
        alpha_ridge=alpha_ridge,
        task_column="task",
        solver=solver,
        **TIGHT,
    ).fit(X, y, sample_weight=s)
    order = list(model.tasks_)
    A = edge_matrix(EDGES, order)
    np.testing.assert_array_equal(model.adjacency_, A)
    penalty = np_penalty(model.coef_, A, alpha, alpha_ridge)
    value = np_objective(tasks, model.coef_, model.intercept_, "squared", penalty)
    assert_rel(value, cvxpy_optimum(tasks, "squared", A, alpha, alpha_ridge))


def test_regressor_wide_missing_matches_cvxpy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 4)) + 0.3 * rng.normal(size=(40, 4))
    Y[rng.uniform(size=Y.shape) < 0.3] = np.nan
    s = rng.uniform(0.5, 2, size=40)
    A = np.array([[0, 1, 0, 3], [1, 0, 2, 0], [0, 2, 0, 0], [3, 0, 0, 0.0]])
    model = GraphRegularizedRegressor(0.2, graph=A, alpha_ridge=0.05, **TIGHT)
    model.fit(X, Y, sample_weight=s)
    assert model.solver_ == "exact"
    seen = ~np.isnan(Y)
    tasks = [(X[seen[:, t]], Y[seen[:, t], t], s[seen[:, t]]) for t in range(4)]
    penalty = np_penalty(model.coef_, A, 0.2, 0.05)
    value = np_objective(tasks, model.coef_, model.intercept_, "squared", penalty)
    assert_rel(value, cvxpy_optimum(tasks, "squared", A, 0.2, 0.05))


@pytest.mark.parametrize("solver", ["prox_newton", "fista"])
def test_classifier_long_weighted_matches_cvxpy(solver):
    rng = np.random.default_rng(2)
    X, y, s, tasks = long_problem(rng, sizes=(20, 30, 40, 25), kind="logistic")
    alpha, alpha_ridge, ia = 0.1, 0.01, 1e-3
    model = GraphRegularizedClassifier(
        alpha,
        graph=EDGES,
        alpha_ridge=alpha_ridge,
        task_column="task",
        solver=solver,
        **TIGHT,
    ).fit(X, y, sample_weight=s)
    A = edge_matrix(EDGES, list(model.tasks_))
    penalty = np_penalty(model.coef_, A, alpha, alpha_ridge)
    value = np_objective(tasks, model.coef_, model.intercept_, "logistic", penalty, ia)
    assert_rel(value, cvxpy_optimum(tasks, "logistic", A, alpha, alpha_ridge, ia))


def test_multilabel_wide_matches_cvxpy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    Y = (X @ rng.normal(size=(3, 3)) > 0) * 1.0
    Y[rng.uniform(size=Y.shape) < 0.2] = np.nan
    model = GraphRegularizedClassifier(0.1, graph="complete", **TIGHT).fit(X, Y)
    seen = ~np.isnan(Y)
    tasks = [
        (X[seen[:, t]], Y[seen[:, t], t], np.ones(seen[:, t].sum())) for t in range(3)
    ]
    A = np.ones((3, 3)) - np.eye(3)
    penalty = np_penalty(model.coef_, A, 0.1, 0.01)
    value = np_objective(
        tasks, model.coef_, model.intercept_, "logistic", penalty, 1e-3
    )
    assert_rel(value, cvxpy_optimum(tasks, "logistic", A, 0.1, 0.01, 1e-3))


def test_multinomial_matches_cvxpy():
    # The graph ties the whole block of a task (all its classes).
    rng = np.random.default_rng(4)
    p, K = 3, 3
    centers = rng.normal(size=(K, p)) * 2
    frames, tasks = [], []
    for t, n in enumerate((30, 45, 24)):
        labels = np.arange(n) % K
        Xt = centers[labels] + rng.normal(size=(n, p))
        st = rng.uniform(0.5, 2, size=n)
        tasks.append((Xt, labels, st))
        frame = pd.DataFrame(Xt, columns=list("abc"))
        frame.insert(0, "task", f"t{t}")
        frames.append(frame)
    X = pd.concat(frames, ignore_index=True)
    y = np.concatenate([t[1] for t in tasks])
    s = np.concatenate([t[2] for t in tasks])
    edges = [("t0", "t1", 1.5), ("t1", "t2")]
    model = GraphRegularizedClassifier(0.05, graph=edges, task_column="task", **TIGHT)
    model.fit(X, y, sample_weight=s)
    assert model.coef_.shape == (3, K, p)
    A = edge_matrix(edges, ["t0", "t1", "t2"])
    penalty = np_penalty(model.coef_, A, 0.05, 0.01)
    value = np_objective(
        tasks, model.coef_, model.intercept_, "multinomial", penalty, 1e-3
    )
    optimum = cvxpy_optimum(tasks, "multinomial", A, 0.05, 0.01, 1e-3, K=K)
    assert_rel(value, optimum)


# --- limits: complete graph, empty graph -----------------------------------


def test_complete_graph_is_mean_regularized_model():
    rng = np.random.default_rng(5)
    X, y, s, _ = long_problem(rng)
    T, alpha, alpha_ridge = 4, 0.25, 0.03
    graph = GraphRegularizedRegressor(
        alpha, graph="complete", alpha_ridge=alpha_ridge, task_column="task"
    ).fit(X, y, sample_weight=s)
    # The mapping of the docstring's Notes.
    alpha_mr = 2 * T * alpha + alpha_ridge
    alpha_mean = T * alpha_ridge * alpha_mr / (2 * T * alpha)
    mean = MeanRegularizedRegressor(
        alpha=alpha_mr, alpha_mean=alpha_mean, task_column="task"
    ).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(graph.coef_, mean.coef_, atol=1e-10)
    np.testing.assert_allclose(graph.intercept_, mean.intercept_, atol=1e-10)


def test_empty_graph_is_ridge_per_task():
    rng = np.random.default_rng(6)
    X, y, s, tasks = long_problem(rng)
    alpha_ridge = 0.07
    for graph in ("empty", [], np.zeros((4, 4))):
        model = GraphRegularizedRegressor(
            5.0, graph=graph, alpha_ridge=alpha_ridge, task_column="task"
        ).fit(X, y, sample_weight=s)
        for t, (Xt, yt, st) in enumerate(tasks):
            # The task's weighted mean loss / 2: Ridge's sum scaled by n_t.
            ridge = Ridge(alpha=alpha_ridge * st.sum()).fit(Xt, yt, sample_weight=st)
            np.testing.assert_allclose(model.coef_[t], ridge.coef_, atol=1e-10)
            np.testing.assert_allclose(
                model.intercept_[t], ridge.intercept_, atol=1e-10
            )


# --- graph forms, relabelling ----------------------------------------------


def test_graph_forms_give_the_same_fit():
    rng = np.random.default_rng(7)
    X, y, s, _ = long_problem(rng)
    order = sorted(LABELS)  # tasks_
    A = edge_matrix(EDGES, order)
    shuffled = ["west", "north", "south", "east"]
    frame = pd.DataFrame(A, index=order, columns=order).loc[shuffled, shuffled[::-1]]
    forms = [EDGES, frame, A, sp.csr_matrix(A), [tuple(e) for e in EDGES[::-1]]]
    fits = [
        GraphRegularizedRegressor(0.4, graph=g, task_column="task").fit(
            X, y, sample_weight=s
        )
        for g in forms
    ]
    for fit in fits:
        np.testing.assert_array_equal(fit.adjacency_, A)
        np.testing.assert_allclose(fit.coef_, fits[0].coef_, atol=1e-12)
        np.testing.assert_allclose(fit.laplacian_, np.diag(A.sum(1)) - A)
    # "complete" as a name, an all-pairs edge list and a DataFrame of ones.
    ones = pd.DataFrame(1.0, index=order, columns=order)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    complete = [
        GraphRegularizedRegressor(0.4, graph=g, task_column="task").fit(X, y)
        for g in ("complete", pairs, ones)
    ]
    for fit in complete:
        np.testing.assert_allclose(fit.coef_, complete[0].coef_, atol=1e-12)
    np.testing.assert_array_equal(complete[2].adjacency_, 1 - np.eye(4))


def test_task_missing_from_the_graph_is_isolated():
    rng = np.random.default_rng(8)
    X, y, s, _ = long_problem(rng)
    frame = pd.DataFrame(
        [[0, 1.0], [1.0, 0]], index=["east", "north"], columns=["east", "north"]
    )
    model = GraphRegularizedRegressor(0.4, graph=frame, task_column="task").fit(X, y)
    expected = edge_matrix([("east", "north")], sorted(LABELS))
    np.testing.assert_array_equal(model.adjacency_, expected)


def test_relabelling_and_reordering_permute_adjacency_and_coef():
    rng = np.random.default_rng(9)
    X, y, s, _ = long_problem(rng)
    model = GraphRegularizedRegressor(0.4, graph=EDGES, task_column="task")
    model.fit(X, y, sample_weight=s)
    rename = {"north": "d", "east": "c", "south": "b", "west": "a"}
    relabelled = X.assign(task=X["task"].map(rename))
    edges = [(rename[a], rename[b], *rest) for a, b, *rest in EDGES]
    reversed_rows = relabelled.index[::-1]
    other = GraphRegularizedRegressor(0.4, graph=edges, task_column="task").fit(
        relabelled.loc[reversed_rows], y[::-1], sample_weight=s[::-1]
    )
    # Position in other.tasks_ of every task of model.tasks_.
    order = [list(other.tasks_).index(rename[t]) for t in model.tasks_]
    np.testing.assert_allclose(other.coef_[order], model.coef_, atol=1e-10)
    np.testing.assert_array_equal(
        other.adjacency_[np.ix_(order, order)], model.adjacency_
    )


# --- bad graphs -------------------------------------------------------------


def _fit(graph):
    X = pd.DataFrame({"task": ["a", "a", "b", "b", "c", "c"], "x": np.arange(6.0)})
    y = np.array([0.0, 1, 2, 1, 0, 3])
    return GraphRegularizedRegressor(graph=graph, task_column="task").fit(X, y)


@pytest.mark.parametrize(
    "graph, words",
    [
        (np.ones((2, 2)), r"graph has shape \(2, 2\); expected \(3, 3\).*tasks_"),
        (np.ones(3), r"shape \(3,\); expected \(3, 3\)"),
        ([("a", "z")], r"task\(s\) \['z'\] that are not tasks.*\['a', 'b', 'c'\]"),
        (
            pd.DataFrame(np.ones((2, 2)), index=["a", "B"], columns=["a", "B"]),
            r"DataFrame index name task\(s\) \['B'\]",
        ),
        (
            pd.DataFrame(np.ones((2, 2)), index=["a", "b"], columns=["a", "c"]),
            "same task labels as index and as columns",
        ),
        (
            pd.DataFrame(np.ones((2, 2)), index=["a", "a"], columns=["a", "b"]),
            "repeats a task label",
        ),
        ([("a", "b", -1.0)], r"finite and non-negative; got -1.0 on edge \('a', 'b'\)"),
        (
            np.array([[0, np.nan, 0], [0, 0, 0], [0, 0, 0]]),
            "finite and non-negative; got nan at row 'a', column 'b'",
        ),
        ([("a", "b"), ("b", "a", 2.0)], "between 'a' and 'b' is given more than once"),
        (
            [("a", "b", 1.0, 2.0)],
            r"\(task_s, task_t, weight\); got \('a', 'b', 1.0, 2.0\)",
        ),
        (["ab"], r"got 'ab' at position 0"),
        ([("a", "b", "heavy")], "edge weights must be numbers"),
        ([(["a"], "b")], "must be task labels"),
    ],
)
def test_bad_graph_raises(graph, words):
    with pytest.raises(ValueError, match=words):
        _fit(graph)


def test_nested_list_is_read_as_edges():
    # A 3 x 3 matrix written as a list looks like three weighted edges.
    matrix = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    X, Y = np.arange(12.0).reshape(4, 3), np.arange(12.0).reshape(4, 3)
    with pytest.raises(ValueError, match="more than once.*give a matrix as a numpy"):
        GraphRegularizedRegressor(graph=matrix).fit(X, Y)
    model = GraphRegularizedRegressor(graph=np.array(matrix)).fit(X, Y)
    np.testing.assert_array_equal(model.adjacency_, matrix)


def test_unknown_graph_name_and_int_labels():
    with pytest.raises(InvalidParameterError, match="graph.*'complete'.*'chain'"):
        _fit("chain")
    # Labels of another type than the tasks': named in the message.
    with pytest.raises(ValueError, match=r"\[1, 2\].*1 against '1'"):
        _fit([(1, 2)])


def test_exact_solver_refuses_other_losses_and_penalties():
    # The classifier's solvers are those of the logistic loss.
    X, y = np.arange(8.0).reshape(-1, 1), np.array([0, 1] * 4)
    with pytest.raises(InvalidParameterError, match="solver"):
        GraphRegularizedClassifier(solver="exact").fit(X, y)
    # Past the parameter checks, the dispatch refuses what it cannot solve.
    data = check_task_data(Ridge(), X, y * 1.0)
    classifier = GraphRegularizedClassifier().fit(X, y)
    classifier.solver = "exact"
    with pytest.raises(ValueError, match="quadratic penalty only; got the logistic"):
        classifier._resolve_solver(data, LogisticLoss())
    trace_norm = TraceNormRegressor()
    trace_norm.solver = "exact"
    with pytest.raises(ValueError, match="squared loss with the TraceNorm penalty"):
        trace_norm._resolve_solver(data, SquaredLoss())
    assert GraphRegularizedRegressor().fit(X, y * 1.0).solver_ == "exact"


# --- CV, pickling, inputs ---------------------------------------------------


def test_regressor_cv_matches_gridsearch():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(60, 3))
    w = rng.normal(size=3)
    Y = X @ np.array([w, w, -w]).T + 0.5 * rng.normal(size=(60, 3))
    alphas, ratios = [1.0, 0.1, 0.01, 0.001], [0.01, 1.0]
    folds = KFold(3, shuffle=True, random_state=0)
    cv = GraphRegularizedRegressorCV(
        alphas=alphas, ridge_ratios=ratios, graph=[(0, 1)], cv=folds, tol=1e-10
    ).fit(X, Y)
    grid = [
        {"alpha": [a], "alpha_ridge": [r * a]} for r in ratios for a in sorted(alphas)
    ]
    search = GridSearchCV(
        GraphRegularizedRegressor(graph=[(0, 1)], tol=1e-10), grid, cv=folds
    ).fit(X, Y)
    assert cv.alpha_ == search.best_params_["alpha"]
    assert cv.alpha_ridge_ == pytest.approx(search.best_params_["alpha_ridge"])
    assert cv.best_score_ == pytest.approx(search.best_score_, rel=1e-8)
    np.testing.assert_allclose(cv.coef_, search.best_estimator_.coef_, atol=1e-10)
    np.testing.assert_array_equal(cv.adjacency_, edge_matrix([(0, 1)], [0, 1, 2]))


def test_classifier_cv_path_and_attributes():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(90, 3))
    Y = (X @ rng.normal(size=(3, 2)) > 0).astype(int)
    model = GraphRegularizedClassifierCV(alphas=3, ridge_ratios=0.1, cv=3).fit(X, Y)
    top = GraphRegularizedClassifier()._alpha_max(X, Y)
    np.testing.assert_allclose(model.alphas_[0], [top, top * 1e-3, top * 1e-6])
    assert model.alpha_ridge_ == pytest.approx(0.1 * model.alpha_)
    assert model.adjacency_.shape == (2, 2)


def test_pickle_clone_warm_start_and_inputs_unmodified():
    rng = np.random.default_rng(12)
    X, y, s, _ = long_problem(rng)
    frame = pd.DataFrame(edge_matrix(EDGES, sorted(LABELS)), index=sorted(LABELS))
    frame.columns = sorted(LABELS)
    copies = X.copy(), y.copy(), s.copy(), frame.copy()
    model = GraphRegularizedRegressor(
        0.4, graph=frame, task_column="task", warm_start=True
    ).fit(X, y, sample_weight=s)
    for given, copy in zip((X, frame), (copies[0], copies[3])):
        pd.testing.assert_frame_equal(given, copy)
    np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(s, copies[2])
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert clone(model).get_params()["graph"].equals(frame)
    model.fit(X, y, sample_weight=s)  # from the previous solution
    assert model.n_iter_ == 0
