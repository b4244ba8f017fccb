"""Tests of the L2,1 block coordinate descent solver (squared loss)."""

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso

from skmtl._tasks import check_task_data
from skmtl.solvers import _cd_kernels, _l21, bcd

requires_numba = pytest.mark.skipif(
    not _cd_kernels.AVAILABLE, reason="numba (the 'fast' extra) is not installed"
)
#: Every way a working-set subproblem can be solved: compiled cyclic descent
#: (numba), vectorised accelerated gradient, and both without numba (where
#: "cd" is the per-feature Python loop over Gram matrices).
INNER_SOLVERS = [
    pytest.param(("cd", True), id="cd-compiled", marks=requires_numba),
    pytest.param(("apg", True), id="apg"),
    pytest.param(("auto", False), id="auto-without-numba"),
    pytest.param(("cd", False), id="cd-without-numba"),
]


@pytest.fixture(params=INNER_SOLVERS)
def inner(request, monkeypatch):
    """The ``inner`` option to pass, with numba made unavailable where asked."""
    name, with_numba = request.param
    if not with_numba:
        monkeypatch.setattr(_cd_kernels, "AVAILABLE", False)
    return name


def _shared_problem(n=60, p=8, n_tasks=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    coef = np.zeros((n_tasks, p))
    coef[:, :3] = rng.normal(size=(n_tasks, 3))
    Y = X @ coef.T + 0.5 * rng.normal(size=(n, n_tasks)) + 1.5
    return X, Y


def _long_problem(sizes=(25, 40, 15), p=6, seed=1):
    """Unequal task sizes and sample weights; task column first."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p))
    coef = rng.normal(size=(len(sizes), p))
    coef[:, 3:] = 0.0
    y = np.einsum("ij,ij->i", features, coef[task]) + rng.normal(size=len(task))
    y += task  # different intercepts
    weight = rng.uniform(0.5, 2.0, size=len(task))
    order = rng.permutation(len(task))  # the solver must not rely on row order
    X = np.column_stack([task, features])[order]
    return X, y[order], weight[order]


def _data(X, y, task_column=None, sample_weight=None):
    return check_task_data(
        MultiTaskLasso(), X, y, task_column=task_column, sample_weight=sample_weight
    )


def _reference_objective(X, y, task, weight, coef, intercept, alpha, l1_ratio):
    """The L2,1 objective written directly from docs/user_guide/regularization.rst."""
    value = 0.0
    for t in range(coef.shape[0]):
        rows = task == t
        residual = y[rows] - X[rows] @ coef[t] - intercept[t]
        value += 0.5 * np.sum(weight[rows] * residual**2) / np.sum(weight[rows])
    group = np.sum(np.linalg.norm(coef, axis=0))
    return (
        value
        + alpha * l1_ratio * group
        + 0.5 * alpha * (1 - l1_ratio) * np.sum(coef**2)
    )


def _cvxpy_solution(X, y, task, weight, alpha, l1_ratio):
    """Independent cvxpy formulation of the same objective."""
    n_tasks, p = task.max() + 1, X.shape[1]
    W = cp.Variable((n_tasks, p))
    b = cp.Variable(n_tasks)
    terms = []
    for t in range(n_tasks):
        rows = task == t
        scale = weight[rows] / weight[rows].sum()
        residual = y[rows] - X[rows] @ W[t] - b[t]
        terms.append(0.5 * cp.sum(cp.multiply(scale, cp.square(residual))))
    objective = (
        cp.sum(cp.hstack(terms))
        + alpha * l1_ratio * cp.sum(cp.norm(W, 2, axis=0))
        + 0.5 * alpha * (1 - l1_ratio) * cp.sum_squares(W)
    )
    problem = cp.Problem(cp.Minimize(objective))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11)
    return W.value, b.value, problem.value


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_shared_design_equals_sklearn(fit_intercept, l1_ratio, inner):
    """Fully observed shared X: exactly MultiTaskLasso / MultiTaskElasticNet."""
    X, Y = _shared_problem()
    result = bcd.solve(
        _data(X, Y),
        alpha=0.2,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        tol=1e-12,
        inner=inner,
    )
    reference = MultiTaskElasticNet(
        alpha=0.2,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        tol=1e-14,
        max_iter=100_000,
    ).fit(X, Y)
    assert result.converged
    assert_allclose(result.coef, reference.coef_, atol=1e-6)
    assert_allclose(result.intercept, reference.intercept_, atol=1e-6)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_long_format_objective_equals_cvxpy(l1_ratio, inner):
    """Unequal task sizes and sample weights: same optimum as cvxpy."""
    X, y, weight = _long_problem()
    alpha = 0.1
    result = bcd.solve(
        _data(X, y, task_column=0, sample_weight=weight),
        alpha=alpha,
        l1_ratio=l1_ratio,
        tol=1e-12,
        inner=inner,
    )
    task, features = X[:, 0].astype(int), X[:, 1:]
    W, b, value = _cvxpy_solution(features, y, task, weight, alpha, l1_ratio)
    ours = _reference_objective(
        features, y, task, weight, result.coef, result.intercept, alpha, l1_ratio
    )
    assert ours == pytest.approx(value, rel=1e-6)
    assert result.objective == pytest.approx(ours, rel=1e-10)
    assert_allclose(result.coef, W, atol=1e-4)
    assert_allclose(result.intercept, b, atol=1e-4)


@pytest.mark.parametrize(
    "options",
    [
        {"screening": False},
        {"working_set": False},
        {"screening": False, "working_set": False},
        {"inner": "cd"},
    ],
)
def test_screening_and_working_sets_do_not_change_the_solution(options):
    X, Y = _shared_problem(n=40, p=60, seed=3)
    data = _data(X, Y)
    reference = bcd.solve(data, alpha=0.15, tol=1e-12)
    result = bcd.solve(data, alpha=0.15, tol=1e-12, **options)
    assert_allclose(result.coef, reference.coef, atol=1e-7)
    assert_allclose(result.intercept, reference.intercept, atol=1e-7)


def test_working_set_stays_small_and_screening_discards_features():
    X, Y = _shared_problem(n=50, p=300, seed=4)
    data = _data(X, Y)
    with_ws = bcd.solve(data, alpha=0.3, tol=1e-8)
    n_selected = np.count_nonzero(np.linalg.norm(with_ws.coef, axis=0))
    assert n_selected <= with_ws.extra["ws_size"] < 100
    # Without working sets, the gap safe test prunes the sweeps instead.
    screened = bcd.solve(data, alpha=0.3, tol=1e-8, working_set=False)
    assert 0 < screened.extra["n_screened"] <= 300 - n_selected


def test_residual_subproblem_equals_gram_subproblem(monkeypatch):
    """Working sets too large for a Gram matrix take the residual route."""
    X, y, weight = _long_problem(seed=5)
    data = _data(X, y, task_column=0, sample_weight=weight)
    reference = bcd.solve(data, alpha=0.05, tol=1e-12)
    monkeypatch.setattr(bcd, "GRAM_BUDGET", 0)
    result = bcd.solve(data, alpha=0.05, tol=1e-12)
    assert_allclose(result.coef, reference.coef, atol=1e-7)


@pytest.mark.parametrize("layout", ["shared", "long"])
def test_sparse_and_dense_give_the_same_solution(layout):
    if layout == "shared":
        X, y = _shared_problem(seed=6)
        X[np.abs(X) < 0.8] = 0.0
        task_column, weight = None, None
    else:
        X, y, weight = _long_problem(seed=6)
        X[:, 1:][np.abs(X[:, 1:]) < 0.8] = 0.0
        task_column = 0
    dense = bcd.solve(_data(X, y, task_column, weight), alpha=0.05, tol=1e-12)
    sparse = bcd.solve(
        _data(sp.csr_matrix(X), y, task_column, weight), alpha=0.05, tol=1e-12
    )
    assert_allclose(sparse.coef, dense.coef, atol=1e-8)
    assert_allclose(sparse.intercept, dense.intercept, atol=1e-8)


def test_wide_with_missing_targets_equals_long_without_those_rows(inner):
    X, Y = _shared_problem(n=50, seed=7)
    rng = np.random.default_rng(7)
    Y[rng.random(Y.shape) < 0.3] = np.nan
    wide = bcd.solve(_data(X, Y), alpha=0.1, tol=1e-12, inner=inner)
    rows, tasks = np.nonzero(~np.isnan(Y))
    X_long = np.column_stack([tasks, X[rows]])
    long = bcd.solve(
        _data(X_long, Y[rows, tasks], task_column=0), alpha=0.1, tol=1e-12, inner=inner
    )
    assert_allclose(wide.coef, long.coef, atol=1e-8)
    assert_allclose(wide.intercept, long.intercept, atol=1e-8)


def test_duality_gap_is_a_certificate():
    """0 <= gap <= tol * P(0) at convergence, and the gap bounds suboptimality."""
    X, y, weight = _long_problem(seed=8)
    data = _data(X, y, task_column=0, sample_weight=weight)
    tol = 1e-3
    loose = bcd.solve(data, alpha=0.05, tol=tol)
    tight = bcd.solve(data, alpha=0.05, tol=1e-12)
    assert loose.converged
    assert -1e-12 <= loose.gap <= tol * loose.extra["null_objective"]
    assert loose.objective - tight.objective <= loose.gap + 1e-12


def test_max_iter_reached_warns():
    X, Y = _shared_problem(n=40, p=60, seed=9)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = bcd.solve(_data(X, Y), alpha=0.01, tol=1e-12, max_iter=1)
    assert not result.converged


def test_warm_start_at_the_solution_stops_at_once():
    X, Y = _shared_problem(seed=10)
    data = _data(X, Y)
    first = bcd.solve(data, alpha=0.1, tol=1e-10)
    second = bcd.solve(data, alpha=0.1, tol=1e-10, coef_init=first.coef)
    assert second.n_iter == 0
    assert_allclose(second.coef, first.coef)


def test_alpha_max_is_the_smallest_alpha_with_zero_coefficients():
    X, y, weight = _long_problem(seed=11)
    data = _data(X, y, task_column=0, sample_weight=weight)
    design = _l21.make_design(data)
    from skmtl.losses import SquaredLoss

    largest, _ = _l21.alpha_max(design, SquaredLoss())
    assert not np.any(bcd.solve(data, alpha=largest, tol=1e-10).coef)
    assert np.any(bcd.solve(data, alpha=0.95 * largest, tol=1e-10).coef)


def test_shared_rows_with_sample_weights_equal_cvxpy(inner):
    """Shared rows, per-row weights: the per-cell kernel against cvxpy."""
    X, Y = _shared_problem(n=40, p=6, seed=13)
    weight = np.random.default_rng(13).uniform(0.2, 3.0, size=len(X))
    data = check_task_data(MultiTaskLasso(), X, Y, sample_weight=weight)
    result = bcd.solve(data, alpha=0.08, tol=1e-12, inner=inner)
    n_tasks = Y.shape[1]
    task = np.repeat(np.arange(n_tasks), len(X))
    X_long, y_long = np.tile(X, (n_tasks, 1)), Y.T.ravel()
    W, b, value = _cvxpy_solution(
        X_long, y_long, task, np.tile(weight, n_tasks), 0.08, 1.0
    )
    assert result.objective == pytest.approx(value, rel=1e-6)
    assert_allclose(result.coef, W, atol=1e-4)


@requires_numba
@pytest.mark.parametrize("layout", ["uniform", "weighted", "long"])
def test_compiled_epochs_equal_their_python_source(layout):
    """The numba kernels compute what their plain Python definitions say."""
    X, y, weight = _long_problem(seed=14)
    if layout == "long":
        data = _data(X, y, task_column=0, sample_weight=weight)
    else:
        X, Y = _shared_problem(n=30, p=7, seed=14)
        w = weight[:30] if layout == "weighted" else None
        data = check_task_data(MultiTaskLasso(), X, Y, sample_weight=w)
    problem = bcd._Problem(_l21.make_design(data), 0.05, 0.01, True)
    ws = np.arange(problem.design.n_features)[::2]
    compiled = []
    for use_python in (False, True):
        operator = bcd._ResidualOperator(problem, ws)
        W = np.zeros((problem.design.n_tasks, ws.size))
        residual = np.asfortranarray(operator.centred_y - operator.image(W))
        run = bcd._epoch_runner(operator, residual, W, python=use_python)
        run(3)
        compiled.append((W, residual))
    assert_allclose(compiled[0][0], compiled[1][0], rtol=1e-10, atol=1e-13)
    assert_allclose(compiled[0][1], compiled[1][1], rtol=1e-10, atol=1e-13)
    assert np.any(compiled[0][0])


def test_inputs_are_not_modified():
    X, y, weight = _long_problem(seed=12)
    copies = X.copy(), y.copy(), weight.copy()
    data = _data(X, y, task_column=0, sample_weight=weight)
    bcd.solve(data, alpha=0.05, tol=1e-8)
    for original, copy in zip((X, y, weight), copies):
        assert_allclose(original, copy)


def test_other_losses_are_rejected():
    from skmtl.losses import LogisticLoss

    X, Y = _shared_problem()
    with pytest.raises(ValueError, match="squared loss only"):
        bcd.solve(_data(X, Y), LogisticLoss(), alpha=0.1)
