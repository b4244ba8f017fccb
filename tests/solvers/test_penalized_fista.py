"""FISTA with the penalties of skmtl.penalties, against cvxpy.

Every penalty (single norms and the decompositions ``W = P + Q``) with the
squared and logistic losses (multinomial for a few) on long data with
unequal task sizes and sample weights, and on wide data with missing
targets: FISTA's objective equals the cvxpy reference solver's within 1e-6
relative, both equal the objective written here from its definition at
their solutions, and FISTA's duality gap bounds its distance to the cvxpy
optimum.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso

from skmtl._tasks import check_task_data
from skmtl.losses import LogisticLoss, MultinomialLoss, SquaredLoss
from skmtl.penalties import (
    L1,
    L21,
    Decomposition,
    FeatureMaxNorm,
    TaskGroupNorm,
    TraceNorm,
)
from skmtl.solvers import fista
from skmtl.solvers.cvxpy import solve_cvxpy

N_CLASSES = 3

# --------------------------------------------------------------------------
# problems, as long arrays (features, y, task, weight) plus the caller's input
# --------------------------------------------------------------------------


def _targets(loss, score, rng):
    if isinstance(loss, SquaredLoss):
        return score + rng.normal(size=score.shape[0])
    if isinstance(loss, LogisticLoss):
        return (score + rng.logistic(size=score.shape[0]) > 0).astype(float)
    return np.argmax(score + rng.gumbel(size=score.shape), axis=1)


def _long_problem(loss, sizes=(14, 27, 9), p=6, seed=0):
    """Long format with a task column, unequal task sizes, sample weights."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p)) + 0.3
    shared = rng.normal(size=(p, N_CLASSES if loss.multiclass else 1))
    coef = shared[None] + 0.5 * rng.normal(size=(len(sizes),) + shared.shape)
    score = np.einsum("ij,ijk->ik", features, coef[task])
    y = _targets(loss, score if loss.multiclass else score[:, 0], rng)
    if not isinstance(loss, SquaredLoss):
        # Every class in every task, so that the intercepts are finite.
        levels = N_CLASSES if loss.multiclass else 2
        for t in range(len(sizes)):
            y[np.flatnonzero(task == t)[:levels]] = np.arange(levels)
    weight = rng.uniform(0.3, 3.0, size=len(task))
    order = rng.permutation(len(task))
    features, y, task, weight = features[order], y[order], task[order], weight[order]
    inputs = {
        "X": np.column_stack([task, features]),
        "y": y,
        "task_column": 0,
        "sample_weight": weight,
    }
    return (features, y, task, weight), inputs


def _wide_problem(loss, n=26, p=6, n_tasks=3, seed=0):
    """Wide format: 2-D targets with NaN for the unobserved cells."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 0.3
    shared = rng.normal(size=p)
    coef = shared + 0.5 * rng.normal(size=(n_tasks, p))
    score = X @ coef.T
    Y = np.column_stack([_targets(loss, score[:, t], rng) for t in range(n_tasks)])
    if isinstance(loss, LogisticLoss):
        Y[:2] = [[0.0] * n_tasks, [1.0] * n_tasks]
    missing = rng.uniform(size=Y.shape) < 0.25
    missing[:2] = False
    Y[missing] = np.nan
    weight = rng.uniform(0.3, 3.0, size=n)
    rows, task = np.nonzero(~missing)
    long = (X[rows], Y[rows, task], task, weight[rows])
    return long, {"X": X, "y": Y, "task_column": None, "sample_weight": weight}


def _task_data(inputs):
    return check_task_data(
        MultiTaskLasso(),
        inputs["X"],
        inputs["y"],
        task_column=inputs["task_column"],
        sample_weight=inputs["sample_weight"],
        y_numeric=False,
    )


def _loss_targets(loss, data):
    return data.y.astype(int) if loss.multiclass else data.y.astype(float)


# --------------------------------------------------------------------------
# the objective, written from its definition
# --------------------------------------------------------------------------


def _norm_value(penalty, W):
    M = W.reshape(-1, W.shape[-1])
    if isinstance(penalty, L21):
        group = np.sqrt((M**2).sum(axis=0)).sum()
        ridge = 0.5 * (1 - penalty.l1_ratio) * (M**2).sum()
        return penalty.alpha * (penalty.l1_ratio * group + ridge)
    if isinstance(penalty, L1):
        norm = np.abs(M).sum()
    elif isinstance(penalty, TraceNorm):
        norm = np.linalg.norm(M, "nuc")
    elif isinstance(penalty, TaskGroupNorm):
        norm = sum(np.linalg.norm(block.ravel()) for block in W)
    elif isinstance(penalty, FeatureMaxNorm):
        norm = np.abs(M).max(axis=0).sum()
    return penalty.alpha * norm


def _objective(loss, problem, penalty, W, b, blocks=None, intercept_alpha=0.0):
    """Data term + penalty + intercept tie at ``(W, b)``, in numpy."""
    features, y, task, weight = problem
    total = 0.0
    for t in range(task.max() + 1):
        rows = task == t
        scale = weight[rows] / weight[rows].sum()
        z = features[rows] @ W[t].T + b[t]
        if isinstance(loss, SquaredLoss):
            per_row = 0.5 * (y[rows] - z) ** 2
        elif isinstance(loss, LogisticLoss):
            per_row = np.logaddexp(0.0, z) - y[rows] * z
        else:
            per_row = logsumexp(z, axis=1) - z[np.arange(rows.sum()), y[rows]]
        total += scale @ per_row
    if isinstance(penalty, Decomposition):
        assert_allclose(blocks[0] + blocks[1], W, atol=1e-12)
        total += _norm_value(penalty.first, blocks[0])
        total += _norm_value(penalty.second, blocks[1])
    else:
        total += _norm_value(penalty, W)
    centred = b - b.mean(axis=0)
    return total + 0.5 * intercept_alpha * float(np.sum(centred**2))


def _gradient_at_zero(loss, problem):
    """Gradient of the data term at ``W = 0`` and optimal intercepts (closed form)."""
    features, y, task, weight = problem
    rows_of = [task == t for t in range(task.max() + 1)]
    out = []
    for rows in rows_of:
        scale = weight[rows] / weight[rows].sum()
        if loss.multiclass:
            onehot = np.eye(N_CLASSES)[y[rows]]
            residual = onehot - scale @ onehot
            out.append(-(scale[:, None] * residual).T @ features[rows])
        else:
            out.append(-(scale * (y[rows] - scale @ y[rows])) @ features[rows])
    return np.stack(out)


# --------------------------------------------------------------------------
# penalties at a fraction of the strength that zeroes W
# --------------------------------------------------------------------------

PENALTIES = {
    "trace": lambda a: TraceNorm(0.3 * a(TraceNorm(1.0))),
    "l1": lambda a: L1(0.3 * a(L1(1.0))),
    "task_group": lambda a: TaskGroupNorm(0.3 * a(TaskGroupNorm(1.0))),
    "feature_max": lambda a: FeatureMaxNorm(0.3 * a(FeatureMaxNorm(1.0))),
    "l21": lambda a: L21(0.3 * a(L21(1.0))),
    # Both blocks at 0.2 of their zero thresholds: on these problems both
    # are non-zero, so that the split W = P + Q is exercised.
    "l1+trace": lambda a: _split(a, L1, TraceNorm),
    "trace+task_group": lambda a: _split(a, TraceNorm, TaskGroupNorm),
    "feature_max+l1": lambda a: _split(a, FeatureMaxNorm, L1),
    "l21+l1": lambda a: _split(a, L21, L1),
}


def _split(alpha_max, first, second):
    return Decomposition(
        first(0.2 * alpha_max(first(1.0))), second(0.2 * alpha_max(second(1.0)))
    )


def _penalty(name, loss, problem):
    gradient = _gradient_at_zero(loss, problem)
    return PENALTIES[name](lambda unit: unit.alpha_max(gradient))


LOSSES = {"squared": SquaredLoss(), "logistic": LogisticLoss()}
CASES = [
    (layout, loss_name, name)
    for layout in ("long", "wide")
    for loss_name in LOSSES
    for name in PENALTIES
] + [
    ("long", "multinomial", name)
    for name in ("trace", "task_group", "l1+trace", "trace+task_group")
]


def _fit_both(layout, loss, name, intercept_alpha=0.0, fit_intercept=True, seed=0):
    make = _long_problem if layout == "long" else _wide_problem
    problem, inputs = make(loss, seed=seed)
    penalty = _penalty(name, loss, problem)
    data = _task_data(inputs)
    options = {
        "fit_intercept": fit_intercept,
        "intercept_alpha": intercept_alpha,
        "targets": _loss_targets(loss, data),
        "n_classes": N_CLASSES if loss.multiclass else None,
    }
    result = fista.solve(
        data, loss, penalty=penalty, tol=1e-10, max_iter=50_000, **options
    )
    with warnings.catch_warnings():
        # Clarabel may flag its last digits as inaccurate (wide logistic
        # L2,1 + L1); the comparisons below check the reference anyway.
        warnings.filterwarnings("ignore", message=".*inaccurate")
        reference = solve_cvxpy(data, loss, penalty, tol=1e-9, **options)
    return problem, penalty, result, reference


def _check_against_reference(loss, problem, penalty, result, reference, tie=0.0):
    assert result.converged
    scale = abs(reference.objective)
    assert_allclose(result.objective, reference.objective, rtol=1e-6)
    # The reported gap is a certificate: non-negative (to rounding), and an
    # upper bound on the distance to the optimum.
    assert result.gap >= -1e-13 * scale
    assert result.objective - reference.objective <= result.gap + 1e-8 * scale
    # Both objectives are the one written here, at their own solutions.
    blocks = result.extra.get("blocks")
    assert_allclose(
        _objective(loss, problem, penalty, result.coef, result.intercept, blocks, tie),
        result.objective,
        rtol=1e-10,
    )
    assert_allclose(
        _objective(
            loss,
            problem,
            penalty,
            reference.coef,
            reference.intercept,
            reference.extra.get("blocks"),
            tie,
        ),
        reference.objective,
        rtol=1e-6,
    )


@pytest.mark.parametrize(("layout", "loss_name", "name"), CASES)
def test_objective_equals_cvxpy(layout, loss_name, name):
    loss = MultinomialLoss() if loss_name == "multinomial" else LOSSES[loss_name]
    problem, penalty, result, reference = _fit_both(layout, loss, name)
    assert np.abs(result.coef).max() > 1e-3  # a non-trivial solution
    _check_against_reference(loss, problem, penalty, result, reference)
    if not isinstance(penalty, Decomposition):
        # Every task has more observations than coefficients: the data term
        # is strictly convex and the solution unique (a decomposition's
        # split W = P + Q need not be).
        assert_allclose(result.coef, reference.coef, atol=1e-4)
        intercept, expected = result.intercept, reference.intercept
        if loss.multiclass:
            # Softmax ignores a common shift of a task's class intercepts.
            intercept = intercept - intercept.mean(axis=1, keepdims=True)
            expected = expected - expected.mean(axis=1, keepdims=True)
        assert_allclose(intercept, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("layout", "loss_name", "name"),
    [
        ("long", "squared", "trace"),
        ("wide", "logistic", "l1+trace"),
        ("long", "logistic", "trace+task_group"),
        ("long", "multinomial", "task_group"),
    ],
)
def test_tied_intercepts_equal_cvxpy(layout, loss_name, name):
    loss = MultinomialLoss() if loss_name == "multinomial" else LOSSES[loss_name]
    problem, penalty, result, reference = _fit_both(
        layout, loss, name, intercept_alpha=0.5, seed=1
    )
    _check_against_reference(loss, problem, penalty, result, reference, tie=0.5)


@pytest.mark.parametrize(
    ("loss_name", "name"), [("squared", "feature_max+l1"), ("logistic", "trace")]
)
def test_without_intercept_equals_cvxpy(loss_name, name):
    loss = LOSSES[loss_name]
    problem, penalty, result, reference = _fit_both(
        "long", loss, name, fit_intercept=False, seed=2
    )
    assert_allclose(result.intercept, 0.0, atol=0)
    _check_against_reference(loss, problem, penalty, result, reference)


def test_decomposition_blocks_add_up_and_carry_their_penalties():
    loss = SquaredLoss()
    problem, penalty, result, reference = _fit_both("long", loss, "l1+trace")
    P, Q = result.extra["blocks"]
    assert_allclose(P + Q, result.coef, atol=1e-12)
    # Each block pays its own penalty: swapping them costs more.
    swapped = Decomposition(penalty.second, penalty.first)
    assert swapped.value(np.stack([Q, P])) == pytest.approx(
        penalty.value(np.stack([P, Q]))
    )
    assert np.count_nonzero(P) < P.size  # the sparse block is sparse
    assert np.linalg.matrix_rank(Q, tol=1e-6) < min(Q.shape)  # the other low rank


# --------------------------------------------------------------------------
# warnings, inputs, limits
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trace", "l1+trace"])
def test_max_iter_reached_warns(name):
    loss = LogisticLoss()
    problem, inputs = _long_problem(loss)
    penalty = _penalty(name, loss, problem)
    data = _task_data(inputs)
    with pytest.warns(ConvergenceWarning, match="did not converge.*max_iter"):
        result = fista.solve(data, loss, penalty=penalty, tol=1e-14, max_iter=3)
    assert not result.converged
    assert result.n_iter == 3
    # Far from the optimum the gap still bounds the distance to it.
    reference = solve_cvxpy(data, loss, penalty)
    excess = result.objective - reference.objective
    assert 0 < excess <= result.gap


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_caller_arrays_are_not_modified(layout):
    loss = SquaredLoss()
    make = _long_problem if layout == "long" else _wide_problem
    problem, inputs = make(loss)
    penalty = _penalty("l1+trace", loss, problem)
    before = {
        key: value.copy() for key, value in inputs.items() if key != "task_column"
    }
    data = _task_data(inputs)
    shape = (data.n_tasks, data.n_features)
    coef_init = np.random.default_rng(0).normal(size=(2,) + shape)
    intercept_init = np.ones(data.n_tasks)
    inits = coef_init.copy(), intercept_init.copy()
    fista.solve(
        data,
        loss,
        penalty=penalty,
        coef_init=coef_init,
        intercept_init=intercept_init,
        tol=1e-8,
        max_iter=5000,
    )
    for key, value in before.items():
        assert_allclose(inputs[key], value, rtol=0, atol=0)
    assert_allclose(coef_init, inits[0], rtol=0, atol=0)
    assert_allclose(intercept_init, inits[1], rtol=0, atol=0)


@pytest.mark.parametrize("loss", [SquaredLoss(), LogisticLoss()], ids=["sq", "log"])
def test_one_task_trace_norm_is_a_single_group_lasso(loss):
    # With one task W is a row vector whose only singular value is ||w||_2:
    # the trace-norm model is the lasso with a single group of all features.
    rng = np.random.default_rng(4)
    n, p = 40, 6
    X = rng.normal(size=(n, p)) + 0.2
    score = X @ rng.normal(size=p)
    y = _targets(loss, score, rng)
    weight = rng.uniform(0.5, 2.0, size=n)
    scale = weight / weight.sum()
    w, b = cp.Variable(p), cp.Variable()
    z = X @ w + b
    if isinstance(loss, SquaredLoss):
        data_term = 0.5 * scale @ cp.square(y - z)
        residual = y - scale @ y
    else:
        data_term = scale @ (cp.logistic(z) - cp.multiply(y, z))
        residual = y - expit(np.log((scale @ y) / (1 - scale @ y)))
    alpha = 0.4 * np.linalg.norm(X.T @ (scale * residual))
    problem = cp.Problem(cp.Minimize(data_term + alpha * cp.norm(w, 2)))
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9)
    data = check_task_data(MultiTaskLasso(), X, y, sample_weight=weight)
    result = fista.solve(data, loss, penalty=TraceNorm(alpha), tol=1e-12)
    assert result.coef.shape == (1, p)
    assert_allclose(result.objective, problem.value, rtol=1e-8)
    assert_allclose(result.coef[0], w.value, atol=1e-5)
    assert_allclose(result.intercept[0], b.value, atol=1e-5)
    # Optimality of the group lasso: X^T c nu = alpha w / ||w|| on the support.
    z_fit = X @ result.coef[0] + result.intercept[0]
    nu = y - (z_fit if isinstance(loss, SquaredLoss) else expit(z_fit))
    direction = result.coef[0] / np.linalg.norm(result.coef[0])
    assert_allclose(X.T @ (scale * nu), alpha * direction, atol=1e-6)


def _weighted_least_squares(problem):
    """Per-task weighted least squares with intercept (no penalty)."""
    features, y, task, weight = problem
    coef, intercept = [], []
    for t in range(task.max() + 1):
        rows = task == t
        design = np.column_stack([features[rows], np.ones(rows.sum())])
        root = np.sqrt(weight[rows])[:, None]
        solution = np.linalg.lstsq(design * root, y[rows] * root[:, 0], rcond=None)[0]
        coef.append(solution[:-1])
        intercept.append(solution[-1])
    return np.array(coef), np.array(intercept)


@pytest.mark.parametrize(
    "penalty",
    [TraceNorm(0.0), Decomposition(L1(0.1), TraceNorm(0.0)), FeatureMaxNorm(0.0)],
    ids=["trace", "l1+free", "feature_max"],
)
def test_unpenalised_fit_is_weighted_least_squares(penalty):
    # No positive strength (or one free block): no bounded dual, the
    # documented fallback criterion stops the solver at least squares.
    loss = SquaredLoss()
    problem, inputs = _long_problem(loss, sizes=(20, 31, 17))
    data = _task_data(inputs)
    result = fista.solve(data, loss, penalty=penalty, tol=1e-12, max_iter=50_000)
    coef, intercept = _weighted_least_squares(problem)
    assert result.converged
    assert_allclose(result.coef, coef, atol=1e-5)
    assert_allclose(result.intercept, intercept, atol=1e-5)


@pytest.mark.parametrize("name", ["trace", "l1+trace", "trace+task_group"])
def test_extreme_feature_scale_maps_exactly(name):
    # Features times 2^600 (their Gram matrix overflows float64) with the
    # strengths times 2^600 is the same problem with W divided by 2^600.
    loss = SquaredLoss()
    problem, inputs = _long_problem(loss)
    penalty = _penalty(name, loss, problem)
    data = _task_data(inputs)
    result = fista.solve(data, loss, penalty=penalty, tol=1e-10, max_iter=50_000)
    big = dict(inputs, X=inputs["X"].copy())
    big["X"][:, 1:] = np.ldexp(big["X"][:, 1:], 600)
    scaled = _scaled_penalty(penalty, 2.0**600)
    result_big = fista.solve(
        _task_data(big), loss, penalty=scaled, tol=1e-10, max_iter=50_000
    )
    assert result_big.converged
    assert_allclose(np.ldexp(result_big.coef, 600), result.coef, atol=1e-6)
    assert_allclose(result_big.intercept, result.intercept, atol=1e-6)
    assert_allclose(result_big.objective, result.objective, rtol=1e-8)
    if "blocks" in result.extra:
        assert_allclose(
            np.ldexp(result_big.extra["blocks"], 600), result.extra["blocks"], atol=1e-5
        )


def _scaled_penalty(penalty, factor):
    if isinstance(penalty, Decomposition):
        return Decomposition(
            _scaled_penalty(penalty.first, factor),
            _scaled_penalty(penalty.second, factor),
        )
    return type(penalty)(penalty.alpha * factor)


@pytest.mark.parametrize("name", ["trace", "feature_max+l1"])
def test_sparse_features_give_the_dense_solution(name):
    loss = LogisticLoss()
    problem, inputs = _long_problem(loss)
    penalty = _penalty(name, loss, problem)
    X = inputs["X"].copy()
    X[np.abs(X) < 0.5] = 0.0  # many zeros, the task column kept
    X[:, 0] = inputs["X"][:, 0]
    sparse_inputs = dict(inputs, X=sp.csr_matrix(X))
    dense = fista.solve(_task_data(dict(inputs, X=X)), loss, penalty=penalty, tol=1e-10)
    sparse = fista.solve(_task_data(sparse_inputs), loss, penalty=penalty, tol=1e-10)
    assert_allclose(sparse.coef, dense.coef, atol=1e-6)
    assert_allclose(sparse.objective, dense.objective, rtol=1e-9)


def test_decomposition_refuses_a_block_with_a_ridge_part():
    """The rescaled dual needs norm penalties; an elastic L2,1 block is refused."""
    with pytest.raises(ValueError, match="norm penalty on each block"):
        Decomposition(L21(1.0, l1_ratio=0.5), L1(1.0))
