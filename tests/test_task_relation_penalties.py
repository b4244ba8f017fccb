"""Tests of the task-relation penalties (TaskGraph, ClusteredTasks, TaskRelationship).

Oracles written independently of skmtl/penalties.py: the graph penalty as a
double sum over task pairs; the clustered and task-relationship penalties as
cvxpy minimisations over their auxiliary matrix (``matrix_frac``, as in the
papers, not the spectral forms the penalties use); the proximal operators
as cvxpy proximal problems; the conjugates as cvxpy maximisations of
``<G, X> - P(X)``; the task covariance of MTRL by ``scipy.linalg.sqrtm``;
and the generic solvers (FISTA, ADMM, proximal Newton) against the cvxpy
reference on the same objective.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg

from skmtl._tasks import check_task_data
from skmtl.losses import LogisticLoss, SquaredLoss
from skmtl.penalties import (
    ClusteredTasks,
    MeanRegularization,
    TaskGraph,
    TaskRelationship,
)
from skmtl.solvers import admm, fista, prox_newton
from skmtl.solvers._scaling import Scaling
from skmtl.solvers.cvxpy import solve_cvxpy


def _solve(problem):
    # The semidefinite forms are solved to about 1e-7: the tests compare
    # objective values, where skmtl must do at least as well as cvxpy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    assert problem.status in ("optimal", "optimal_inaccurate")


def _adjacency(n_tasks, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.uniform(size=(n_tasks, n_tasks)) * (rng.uniform(size=(n_tasks,) * 2) < 0.7)
    return A  # not symmetric: the penalty reads (A + A^T) / 2


PENALTIES = {
    "graph": TaskGraph(0.7, _adjacency(4), alpha_ridge=0.3),
    "graph_no_ridge": TaskGraph(0.7, _adjacency(4), alpha_ridge=0.0),
    "clustered_1": ClusteredTasks(0.8, n_clusters=1, eta=0.5),
    "clustered_2": ClusteredTasks(0.8, n_clusters=2, eta=2.0),
    "clustered_all": ClusteredTasks(0.8, n_clusters=4, eta=0.3),
    "mtrl": TaskRelationship(0.4, 1.3),
    "mtrl_no_ridge": TaskRelationship(0.0, 1.3),
    "mtrl_ridge_only": TaskRelationship(0.4, 0.0),
}
SHAPES = {"2d": (4, 6), "3d": (4, 2, 3), "wide_tasks": (4, 2)}


def _coefficients(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape) * 1.5


def _task_rows(X, n_tasks):
    """A cvxpy (rows, p) variable as one row per task (task-major)."""
    if X.shape[0] == n_tasks:
        return X
    return cp.reshape(X, (n_tasks, X.shape[0] // n_tasks * X.shape[1]), order="C")


def _reference_cvxpy(penalty, M):
    """``(expression, constraints)``: the penalty of a task matrix, as in the papers."""
    n = M.shape[0]
    if isinstance(penalty, TaskGraph):
        A = np.asarray(penalty.adjacency, dtype=float)
        A = (A + A.T) / 2
        pairs = sum(
            A[s, t] * cp.sum_squares(M[s] - M[t])
            for s in range(n)
            for t in range(n)
            if s != t
        )
        return 0.5 * penalty.alpha * pairs + 0.5 * penalty.alpha_ridge * cp.sum_squares(
            M
        ), []
    if isinstance(penalty, ClusteredTasks):
        C = cp.Variable((n, n), symmetric=True)
        constraints = [C >> 0, np.eye(n) - C >> 0, cp.trace(C) == penalty.n_clusters]
        scale = penalty.alpha * penalty.eta * (1 + penalty.eta)
        return scale * cp.matrix_frac(M, penalty.eta * np.eye(n) + C), constraints
    omega = cp.Variable((n, n), symmetric=True)
    constraints = [omega >> 0, cp.trace(omega) == 1]
    expression = 0.5 * penalty.alpha * cp.sum_squares(M)
    if penalty.beta:
        expression = expression + 0.5 * penalty.beta * cp.matrix_frac(M, omega)
    return expression, constraints


def _reference_value(penalty, W):
    """The penalty at a fixed ``W``: the minimum over the auxiliary matrix."""
    M = np.reshape(W, (W.shape[0], -1))
    if isinstance(penalty, TaskGraph):
        A = np.asarray(penalty.adjacency, dtype=float)
        A = (A + A.T) / 2
        total = sum(
            A[s, t] * np.sum((M[s] - M[t]) ** 2)
            for s in range(len(M))
            for t in range(len(M))
            if s != t
        )
        return 0.5 * penalty.alpha * total + 0.5 * penalty.alpha_ridge * np.sum(M**2)
    expression, constraints = _reference_cvxpy(penalty, cp.Constant(M))
    problem = cp.Problem(cp.Minimize(expression), constraints)
    _solve(problem)
    return problem.value


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
def test_value_is_the_minimum_over_the_task_matrix(penalty, shape):
    W = _coefficients(shape)
    assert_allclose(penalty.value(W), _reference_value(penalty, W), rtol=1e-6)


@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
def test_to_cvxpy_minimum_equals_value(penalty):
    W = _coefficients((4, 2, 3), seed=3)
    variable = cp.Variable((8, 3))
    term = penalty.to_cvxpy(variable, n_tasks=4)
    expression, constraints = term if isinstance(term, tuple) else (term, [])
    problem = cp.Problem(
        cp.Minimize(expression), [*constraints, variable == W.reshape(8, 3)]
    )
    _solve(problem)
    assert_allclose(problem.value, penalty.value(W), rtol=1e-6)


@pytest.mark.parametrize("step", [0.3, 1.7])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
def test_prox_solves_the_proximal_problem(penalty, shape, step):
    V = _coefficients(shape, seed=1)
    M = V.reshape(shape[0], -1)
    X = cp.Variable(M.shape)
    expression, constraints = _reference_cvxpy(penalty, X)
    objective = 0.5 * cp.sum_squares(X - M) + step * expression
    _solve(cp.Problem(cp.Minimize(objective), constraints))
    before = V.copy()
    result = penalty.prox(V, step)
    assert result.shape == V.shape

    def objective(Z):
        return 0.5 * np.sum((Z - M) ** 2) + step * _reference_value(penalty, Z)

    # Both values go through the same (semidefinite) reference penalty,
    # solved to about 1e-7 relative.
    mine, reference = objective(result.reshape(M.shape)), objective(X.value)
    assert mine <= reference * (1 + 1e-6)
    assert_allclose(result.reshape(M.shape), X.value, atol=1e-4)
    assert_allclose(V, before, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(4, 6), (4, 2)], ids=["2d", "wide_tasks"])
@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
def test_conjugate_is_the_supremum(penalty, shape):
    G = _coefficients(shape, seed=2)
    value = penalty.conjugate(G)
    X = cp.Variable(shape)
    expression, constraints = _reference_cvxpy(penalty, X)
    problem = cp.Problem(
        cp.Maximize(cp.sum(cp.multiply(G, X)) - expression), constraints
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    if problem.status == "unbounded":
        assert value == np.inf
        return
    assert problem.status in ("optimal", "optimal_inaccurate")
    assert_allclose(value, problem.value, rtol=2e-5)
    # The supremum is attained at a point the test rebuilds: <G, X> - P(X)
    # at cvxpy's maximiser never exceeds it.
    attained = float(np.sum(G * X.value)) - _reference_value(penalty, X.value)
    assert attained <= value * (1 + 1e-6)


def test_unbounded_conjugates():
    # A connected graph without ridge is flat along "every task the same".
    G = _coefficients((4, 3))
    assert TaskGraph(1.0, np.ones((4, 4))).conjugate(G) == np.inf
    assert ClusteredTasks(0.0, 1, 1.0).conjugate(G) == np.inf
    assert TaskRelationship(0.0, 0.0).conjugate(G) == np.inf


@pytest.mark.parametrize("shape", [(4, 6), (4, 2), (4, 2, 3)])
def test_task_covariance_is_the_closed_form(shape):
    W = _coefficients(shape, seed=4)
    M = W.reshape(shape[0], -1)
    root = np.real(linalg.sqrtm(M @ M.T))
    expected = root / np.trace(root)
    assert_allclose(TaskRelationship(0.1, 1.0).task_covariance(W), expected, atol=1e-7)
    assert_allclose(
        TaskRelationship(0.1, 1.0).task_covariance(np.zeros(shape)), np.eye(4) / 4
    )


@pytest.mark.parametrize("n_clusters", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(4, 6), (4, 2)])
def test_cluster_matrix_is_feasible_and_attains_the_value(n_clusters, shape):
    penalty = ClusteredTasks(0.6, n_clusters=n_clusters, eta=0.7)
    W = _coefficients(shape, seed=5)
    C = penalty.cluster_matrix(W)
    eigenvalues = linalg.eigvalsh(C)
    assert eigenvalues.min() > -1e-10 and eigenvalues.max() < 1 + 1e-10
    assert_allclose(np.trace(C), n_clusters)
    inner = np.linalg.solve(penalty.eta * np.eye(4) + C, W)
    attained = 0.6 * 0.7 * 1.7 * np.trace(W.T @ inner)
    assert_allclose(attained, penalty.value(W), rtol=1e-10)


def test_rescaled_strengths_are_of_degree_two():
    scaling = Scaling(x_exponent=3, y_exponent=-2)
    shift = 2 * 3
    graph = TaskGraph(0.7, _adjacency(4), 0.3).rescaled(scaling)
    assert (graph.alpha, graph.alpha_ridge) == (0.7 * 2.0**-shift, 0.3 * 2.0**-shift)
    clustered = ClusteredTasks(0.7, 2, 0.5).rescaled(scaling)
    assert (clustered.alpha, clustered.n_clusters, clustered.eta) == (
        0.7 * 2.0**-shift,
        2,
        0.5,
    )
    relation = TaskRelationship(0.7, 0.3).rescaled(scaling)
    assert (relation.alpha, relation.beta) == (0.7 * 2.0**-shift, 0.3 * 2.0**-shift)


# --------------------------------------------------------------------------
# the generic solvers on these penalties, against the cvxpy reference
# --------------------------------------------------------------------------


def _long_data(classification=False, seed=0):
    """Four tasks of unequal sizes with sample weights (long format)."""
    rng = np.random.default_rng(seed)
    sizes = [7, 15, 11, 24]
    task = np.repeat(np.arange(4), sizes)
    X = rng.normal(size=(task.size, 3))
    W = rng.normal(size=(4, 3)) + np.array([1.0, -1.0, 0.5])
    z = np.einsum("ij,ij->i", X, W[task]) + 0.3 * rng.normal(size=task.size)
    y = (z > 0).astype(float) if classification else z
    weight = rng.uniform(0.5, 2.0, size=task.size)
    from sklearn.linear_model import Ridge

    data = check_task_data(
        Ridge(),
        np.column_stack([task, X]),
        y,
        task_column=0,
        sample_weight=weight,
        y_numeric=True,
    )
    return data


SOLVER_PENALTIES = {
    "graph": TaskGraph(0.05, _adjacency(4), alpha_ridge=0.02),
    "clustered": ClusteredTasks(0.05, n_clusters=2, eta=0.5),
    "mtrl": TaskRelationship(0.02, 0.05),
}


def _objective(data, loss, penalty, coef, intercept, intercept_alpha=0.0):
    # Each task's weighted mean loss: c_i = s_i / sum of the task's s.
    X, y, t, s = data.X, data.y, data.task_index, data.sample_weight
    scale = s / np.bincount(t, weights=s)[t]
    z = np.einsum("ij,ij->i", X, coef[t]) + intercept[t]
    if isinstance(loss, SquaredLoss):
        pointwise = 0.5 * (y - z) ** 2
    else:
        pointwise = np.logaddexp(0.0, z) - y * z
    value = float(scale @ pointwise) + _reference_value(penalty, coef)
    centred = intercept - intercept.mean()
    return value + 0.5 * intercept_alpha * float(centred @ centred)


@pytest.mark.parametrize(
    "penalty", SOLVER_PENALTIES.values(), ids=SOLVER_PENALTIES.keys()
)
@pytest.mark.parametrize("solver", ["fista", "admm"])
def test_squared_loss_solvers_match_cvxpy(penalty, solver):
    data = _long_data()
    loss = SquaredLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = solve_cvxpy(data, loss, penalty, fit_intercept=True, tol=1e-10)
    if solver == "fista":
        result = fista.solve(data, loss, penalty=penalty, tol=1e-12, max_iter=20000)
    else:
        result = admm.solve(
            data, penalty, fit_intercept=True, tol=1e-12, max_iter=20000
        )
    expected = _objective(data, loss, penalty, reference.coef, reference.intercept)
    got = _objective(data, loss, penalty, result.coef, result.intercept)
    assert got <= expected * (1 + 1e-6)
    assert_allclose(result.coef, reference.coef, atol=1e-4)


@pytest.mark.parametrize(
    "penalty", SOLVER_PENALTIES.values(), ids=SOLVER_PENALTIES.keys()
)
@pytest.mark.parametrize("solver", ["fista", "prox_newton"])
def test_logistic_loss_solvers_match_cvxpy(penalty, solver):
    data = _long_data(classification=True, seed=1)
    loss = LogisticLoss()
    options = dict(fit_intercept=True, intercept_alpha=0.1)
    with warnings.catch_warnings():
        # The semidefinite references may end "optimal_inaccurate" (~1e-7).
        warnings.simplefilter("ignore")
        reference = solve_cvxpy(data, loss, penalty, tol=1e-10, **options)
    if solver == "fista":
        result = fista.solve(
            data, loss, penalty=penalty, tol=1e-12, max_iter=20000, **options
        )
    else:
        result = prox_newton.solve(
            data, loss, penalty, tol=1e-12, max_iter=200, **options
        )
    expected = _objective(data, loss, penalty, reference.coef, reference.intercept, 0.1)
    got = _objective(data, loss, penalty, result.coef, result.intercept, 0.1)
    assert got <= expected * (1 + 1e-6)
    assert_allclose(result.coef, reference.coef, atol=1e-4)


# --------------------------------------------------------------------------
# penalties flat along a direction: no bounded dual, stop on the gradient
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "penalty",
    [TaskGraph(0.7, _adjacency(4), 0.0), MeanRegularization(0.8, 0.0)],
    ids=["graph_no_ridge", "mean_free"],
)
def test_smooth_gradient_is_the_derivative_of_the_value(penalty):
    W = _coefficients((4, 3), seed=6)
    step = 1e-6
    numeric = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[index] = step
        numeric[index] = (penalty.value(W + E) - penalty.value(W - E)) / (2 * step)
    assert_allclose(penalty.smooth_gradient(W), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("solver", ["prox_newton", "fista", "admm"])
def test_flat_graph_penalty_converges_to_the_cvxpy_solution(solver):
    # Without ridge the graph penalty has no bounded conjugate; the solvers
    # must stop on the gradient of the whole objective, not on that of the
    # data term alone, which the optimum does not zero (before, this fit ran
    # to max_iter and warned).
    from skmtl.linear_model import GraphRegularizedClassifier, GraphRegularizedRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Z = X @ rng.normal(size=(3, 3))
    if solver == "admm":
        Y, model = Z + rng.normal(size=Z.shape), GraphRegularizedRegressor
    else:
        Y, model = (Z > 0).astype(int), GraphRegularizedClassifier
    params = dict(alpha=0.1, alpha_ridge=0.0, max_iter=300)
    fitted = model(**params, solver=solver, tol=1e-10).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = model(**params, solver="cvxpy").fit(X, Y)
    # cvxpy's exponential cones hold the logistic coefficients to about 1e-5.
    assert_allclose(
        fitted.coef_, reference.coef_, atol=1e-5 if solver == "admm" else 1e-4
    )
