"""Tests of the penalties on the coefficient matrix (skmtl.penalties).

Oracles: the norms written independently in numpy and cvxpy, the cvxpy
proximal problem ``min_X 0.5 ||X - V||^2 + step * P(X)``, the dual norm as
the cvxpy maximum of ``<A, X>`` over the unit ball, closed-form intercepts
for the gradient at zero behind ``alpha_max`` (checked by fitting FISTA just
above and just below it), and the exact power-of-two mapping of a rescaled
problem.
"""

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit
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
from skmtl.solvers._scaling import Scaling

# --------------------------------------------------------------------------
# independent formulations of the norms
# --------------------------------------------------------------------------


def _reference_value(penalty, W):
    """Penalty value written from its definition, in numpy."""
    if isinstance(penalty, Decomposition):
        return _reference_value(penalty.first, W[0]) + _reference_value(
            penalty.second, W[1]
        )
    W = np.asarray(W, dtype=float)
    M = W.reshape(-1, W.shape[-1])
    if isinstance(penalty, L21):
        group = np.sqrt((M**2).sum(axis=0)).sum()
        ridge = (M**2).sum()
        return penalty.alpha * (
            penalty.l1_ratio * group + 0.5 * (1 - penalty.l1_ratio) * ridge
        )
    if isinstance(penalty, L1):
        norm = np.abs(M).sum()
    elif isinstance(penalty, TraceNorm):
        norm = np.linalg.norm(M, "nuc")
    elif isinstance(penalty, TaskGroupNorm):
        norm = sum(np.linalg.norm(W[t].ravel()) for t in range(W.shape[0]))
    elif isinstance(penalty, FeatureMaxNorm):
        norm = np.abs(M).max(axis=0).sum()
    return penalty.alpha * norm


def _reference_cvxpy(penalty, M, n_tasks):
    """Penalty of a 2-D cvxpy variable ``M`` (the rows of ``W``), from scratch."""
    rows_per_task = M.shape[0] // n_tasks
    if isinstance(penalty, L21):
        group = sum(cp.norm(M[:, j], 2) for j in range(M.shape[1]))
        return penalty.alpha * (
            penalty.l1_ratio * group + 0.5 * (1 - penalty.l1_ratio) * cp.sum_squares(M)
        )
    if isinstance(penalty, L1):
        norm = cp.sum(cp.abs(M))
    elif isinstance(penalty, TraceNorm):
        norm = cp.normNuc(M)
    elif isinstance(penalty, TaskGroupNorm):
        norm = sum(
            cp.norm(
                cp.vec(M[t * rows_per_task : (t + 1) * rows_per_task, :], order="C"), 2
            )
            for t in range(n_tasks)
        )
    elif isinstance(penalty, FeatureMaxNorm):
        norm = sum(cp.norm(M[:, j], "inf") for j in range(M.shape[1]))
    return penalty.alpha * norm


def _solve(problem):
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11)
    assert problem.status == "optimal"


SINGLE = {
    "l1": L1(0.4),
    "trace": TraceNorm(1.2),
    "task_group": TaskGroupNorm(0.9),
    "feature_max": FeatureMaxNorm(0.7),
    "l21": L21(0.8),
    "l21_elastic": L21(0.8, l1_ratio=0.5),
}
DECOMPOSITIONS = {
    "l1+trace": Decomposition(L1(0.3), TraceNorm(0.8)),
    "trace+task_group": Decomposition(TraceNorm(0.8), TaskGroupNorm(0.6)),
    "feature_max+l1": Decomposition(FeatureMaxNorm(0.5), L1(0.3)),
    "l21+l1": Decomposition(L21(0.5), L1(0.3)),
}
ALL = {**SINGLE, **DECOMPOSITIONS}
NORMS = {name: p for name, p in SINGLE.items() if name != "l21_elastic"}

SHAPES = {"2d": (4, 6), "3d": (3, 2, 5)}


def _coefficients(penalty, shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=penalty.blocks_shape(shape)) * 1.5


# --------------------------------------------------------------------------
# value, to_cvxpy, prox
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", ALL.values(), ids=ALL.keys())
def test_value_matches_definition(penalty, shape):
    C = _coefficients(penalty, shape)
    assert_allclose(penalty.value(C), _reference_value(penalty, C), rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", ALL.values(), ids=ALL.keys())
def test_to_cvxpy_value_equals_value(penalty, shape):
    C = _coefficients(penalty, shape)
    n_tasks, p = shape[0], shape[-1]
    blocks = C if penalty.n_blocks > 1 else C[None]
    variables = []
    for block in blocks:
        variable = cp.Variable((block.size // p, p))
        variable.value = block.reshape(-1, p)
        variables.append(variable)
    expression = penalty.to_cvxpy(*variables, n_tasks=n_tasks)
    assert expression.is_convex()
    assert_allclose(float(expression.value), penalty.value(C), rtol=1e-10)


@pytest.mark.parametrize("step", [0.3, 1.0])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", ALL.values(), ids=ALL.keys())
def test_prox_solves_the_proximal_problem(penalty, shape, step):
    V = _coefficients(penalty, shape, seed=1)
    n_tasks, p = shape[0], shape[-1]
    parts = penalty.parts if penalty.n_blocks > 1 else (penalty,)
    blocks = V if penalty.n_blocks > 1 else V[None]
    variables = [cp.Variable((block.size // p, p)) for block in blocks]
    objective = sum(
        0.5 * cp.sum_squares(X - block.reshape(-1, p))
        + step * _reference_cvxpy(part, X, n_tasks)
        for X, block, part in zip(variables, blocks, parts)
    )
    _solve(cp.Problem(cp.Minimize(objective)))
    expected = np.stack([X.value.reshape(shape) for X in variables])
    expected = expected if penalty.n_blocks > 1 else expected[0]
    V_before = V.copy()
    result = penalty.prox(V, step)
    assert result.shape == V.shape
    assert_allclose(result, expected, atol=2e-6)
    assert_allclose(V, V_before, rtol=0, atol=0)


@pytest.mark.parametrize("penalty", ALL.values(), ids=ALL.keys())
def test_prox_of_zero_strength_is_identity(penalty):
    zero = _with_strengths(penalty, 0.0, 0.0)
    V = _coefficients(penalty, (4, 6))
    assert_allclose(zero.prox(V, 1.0), V, rtol=1e-14)
    assert zero.value(V) == 0.0


def test_prox_thresholds_everything_at_large_step():
    V = _coefficients(TraceNorm(1.0), (4, 6))
    for penalty in NORMS.values():
        assert np.all(penalty.prox(V, 1e3) == 0.0)


# --------------------------------------------------------------------------
# dual norms
# --------------------------------------------------------------------------


def _unit(penalty):
    return L21(1.0) if isinstance(penalty, L21) else type(penalty)(1.0)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", NORMS.values(), ids=NORMS.keys())
def test_dual_norm_is_the_support_function_of_the_unit_ball(penalty, shape):
    unit = _unit(penalty)
    A = _coefficients(penalty, shape, seed=2)
    p = shape[-1]
    X = cp.Variable((A.size // p, p))
    problem = cp.Problem(
        cp.Maximize(cp.sum(cp.multiply(A.reshape(-1, p), X))),
        [_reference_cvxpy(unit, X, shape[0]) <= 1],
    )
    _solve(problem)
    assert_allclose(penalty.dual_norm(A), problem.value, rtol=1e-7)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("penalty", NORMS.values(), ids=NORMS.keys())
def test_dual_norm_holder_inequality(penalty, shape):
    unit = _unit(penalty)
    rng = np.random.default_rng(3)
    for _ in range(50):
        A = rng.standard_t(2, size=shape)
        W = rng.standard_t(2, size=shape)
        assert np.vdot(A, W) <= unit.value(W) * unit.dual_norm(A) * (1 + 1e-12)


# --------------------------------------------------------------------------
# alpha_max: W = 0 at alpha_max, not just below
# --------------------------------------------------------------------------


def _long_problem(loss, sizes=(14, 27, 9), p=6, n_classes=3, seed=0):
    """Long format, unequal task sizes, sample weights, every class in a task."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p)) + 0.3
    coef = rng.normal(size=(len(sizes), p))
    score = np.einsum("ij,ij->i", features, coef[task])
    if isinstance(loss, SquaredLoss):
        y = score + rng.normal(size=len(task)) + 2.0 * task
    elif isinstance(loss, LogisticLoss):
        y = (score + rng.logistic(size=len(task)) > 0).astype(float)
    else:
        y = rng.integers(0, n_classes, size=len(task))
    if not isinstance(loss, SquaredLoss):
        # Every class in every task: the intercept-only fit is finite.
        levels = 2 if isinstance(loss, LogisticLoss) else n_classes
        for t in range(len(sizes)):
            first = np.flatnonzero(task == t)[:levels]
            y[first] = np.arange(levels)
    weight = rng.uniform(0.3, 3.0, size=len(task))
    order = rng.permutation(len(task))
    return features[order], y[order], task[order], weight[order]


def _gradient_at_zero(loss, features, y, task, weight, n_classes=3):
    """Gradient of the data term at ``W = 0`` with optimal intercepts.

    Closed forms: the optimal intercept-only predictions are the weighted
    task means of the targets (squared), their logit (logistic) or the log
    of the weighted class frequencies (multinomial).
    """
    n_tasks = task.max() + 1
    shape = (n_tasks, n_classes) if loss.multiclass else (n_tasks,)
    gradient = np.zeros(shape + (features.shape[1],))
    for t in range(n_tasks):
        rows = task == t
        scale = weight[rows] / weight[rows].sum()
        if loss.multiclass:
            onehot = np.eye(n_classes)[y[rows]]
            residual = onehot - scale @ onehot
            gradient[t] = -(scale[:, None] * residual).T @ features[rows]
        else:
            mean = scale @ y[rows]
            if isinstance(loss, LogisticLoss):
                # The optimal intercept is logit(mean): sigmoid of it is mean.
                mean = expit(np.log(mean / (1 - mean)))
            gradient[t] = -(scale * (y[rows] - mean)) @ features[rows]
    return gradient


def _fit(loss, penalty, problem, n_classes=3, **options):
    features, y, task, weight = problem
    X = np.column_stack([task, features])
    data = check_task_data(
        MultiTaskLasso(), X, y, task_column=0, sample_weight=weight, y_numeric=False
    )
    targets = data.y.astype(int) if loss.multiclass else data.y.astype(float)
    options = {"tol": 1e-9, "max_iter": 20000, **options}
    return fista.solve(
        data,
        loss,
        penalty=penalty,
        targets=targets,
        n_classes=n_classes if loss.multiclass else None,
        **options,
    )


def _with_strengths(penalty, first, second=None):
    if isinstance(penalty, Decomposition):
        return Decomposition(
            _with_strengths(penalty.first, first),
            _with_strengths(penalty.second, second),
        )
    if isinstance(penalty, L21):
        return L21(first, penalty.l1_ratio)
    return type(penalty)(first)


LOSS_CASES = {
    "squared": SquaredLoss(),
    "logistic": LogisticLoss(),
}
ALPHA_MAX_CASES = [(loss_name, name) for loss_name in LOSS_CASES for name in SINGLE] + [
    ("multinomial", name) for name in ("trace", "task_group", "l21_elastic")
]


@pytest.mark.parametrize(("loss_name", "name"), ALPHA_MAX_CASES)
def test_alpha_max_is_the_smallest_strength_with_zero_solution(loss_name, name):
    loss = MultinomialLoss() if loss_name == "multinomial" else LOSS_CASES[loss_name]
    penalty = SINGLE[name]
    problem = _long_problem(loss)
    gradient = _gradient_at_zero(loss, *problem)
    alpha_max = penalty.alpha_max(gradient)
    assert alpha_max > 0
    at_max = _fit(loss, _with_strengths(penalty, alpha_max), problem)
    assert at_max.converged
    assert_allclose(at_max.coef, 0.0, atol=1e-12)
    below = _fit(loss, _with_strengths(penalty, 0.95 * alpha_max), problem)
    assert below.converged
    assert np.abs(below.coef).max() > 1e-5


@pytest.mark.parametrize("loss_name", ["squared", "logistic"])
@pytest.mark.parametrize("penalty", DECOMPOSITIONS.values(), ids=DECOMPOSITIONS.keys())
def test_decomposition_zero_thresholds(penalty, loss_name):
    loss = LOSS_CASES[loss_name]
    problem = _long_problem(loss, seed=1)
    gradient = _gradient_at_zero(loss, *problem)
    first, second = penalty.zero_thresholds(gradient)
    at_both = _fit(loss, _with_strengths(penalty, first, second), problem)
    assert_allclose(at_both.coef, 0.0, atol=1e-12)
    assert_allclose(at_both.extra["blocks"], 0.0, atol=1e-12)
    # Either block just below its threshold (the other far above) is used.
    for strengths in [(0.95 * first, 3.0 * second), (3.0 * first, 0.95 * second)]:
        result = _fit(loss, _with_strengths(penalty, *strengths), problem)
        assert result.converged
        assert np.abs(result.coef).max() > 1e-5


@pytest.mark.parametrize("loss_name", ["squared", "logistic"])
@pytest.mark.parametrize("penalty", DECOMPOSITIONS.values(), ids=DECOMPOSITIONS.keys())
def test_decomposition_alpha_max_at_fixed_ratio(penalty, loss_name):
    loss = LOSS_CASES[loss_name]
    problem = _long_problem(loss, seed=2)
    gradient = _gradient_at_zero(loss, *problem)
    ratio = penalty.second.alpha / penalty.first.alpha
    alpha_max = penalty.alpha_max(gradient)
    at_max = _fit(loss, _with_strengths(penalty, alpha_max, ratio * alpha_max), problem)
    assert_allclose(at_max.coef, 0.0, atol=1e-12)
    below = 0.95 * alpha_max
    result = _fit(loss, _with_strengths(penalty, below, ratio * below), problem)
    assert result.converged
    assert np.abs(result.coef).max() > 1e-5


def test_decomposition_alpha_max_with_unpenalised_second_block():
    gradient = np.random.default_rng(0).normal(size=(3, 4))
    free = Decomposition(L1(1.0), TraceNorm(0.0))
    assert free.alpha_max(gradient) == np.inf
    assert free.alpha_max(np.zeros((3, 4))) == 0.0


# --------------------------------------------------------------------------
# rescaled: strengths on data rescaled by powers of two
# --------------------------------------------------------------------------

SCALINGS = [Scaling(3, -2), Scaling(-5, 7), Scaling(0, 4)]


@pytest.mark.parametrize("scaling", SCALINGS, ids=str)
@pytest.mark.parametrize("penalty", ALL.values(), ids=ALL.keys())
def test_rescaled_penalty_maps_the_objective_exactly(penalty, scaling):
    # With W' = 2^(e_x - e_y) W the rescaled objective is 2^(-2 e_y) times
    # the original one: the rescaled penalty must satisfy the same identity.
    e_x, e_y = scaling
    C = _coefficients(penalty, (4, 6))
    rescaled = penalty.rescaled(scaling)
    assert_allclose(
        rescaled.value(np.ldexp(C, e_x - e_y)),
        np.ldexp(penalty.value(C), -2 * e_y),
        rtol=1e-13,
    )


@pytest.mark.parametrize("penalty", NORMS.values(), ids=NORMS.keys())
def test_rescaled_strength_is_degree_one(penalty):
    rescaled = penalty.rescaled(Scaling(3, -2))
    assert rescaled.alpha == penalty.alpha * 2.0**-1
    assert type(rescaled) is type(penalty)


def test_rescaled_l21_maps_group_and_ridge_parts():
    penalty = L21(0.8, l1_ratio=0.25)
    group, ridge = penalty.rescaled(Scaling(3, -2)).strengths
    assert_allclose(group, 0.8 * 0.25 * 2.0**-1, rtol=1e-15)
    assert_allclose(ridge, 0.8 * 0.75 * 2.0**-6, rtol=1e-14)


def test_rescaled_strength_beyond_float64_is_the_largest_float():
    rescaled = TraceNorm(1.0).rescaled(Scaling(-600, -600))
    assert rescaled.alpha == np.finfo(np.float64).max
    both = Decomposition(L1(1.0), TaskGroupNorm(2.0)).rescaled(Scaling(-600, -600))
    assert both.first.alpha == both.second.alpha == np.finfo(np.float64).max


SPECIAL = {
    "zero": np.zeros((3, 4)),
    "ties": np.array(
        [[1.0, -2.0, 0.5, 0.0], [1.0, 2.0, -0.5, 0.0], [-1.0, 2.0, 0.5, 0.0]]
    ),
    "one_row": np.array([[3.0, -1.0, 0.2, 0.0]]),
    "one_column": np.array([[3.0], [-1.0], [0.2]]),
    "rank_one": np.outer([1.0, -2.0, 0.5], [2.0, 0.0, 1.0, -1.0]),
    "wide_small": np.array([[0.1, -0.05, 0.02, 0.0], [0.0, 0.03, -0.01, 0.04]]),
}


@pytest.mark.parametrize("V", SPECIAL.values(), ids=SPECIAL.keys())
@pytest.mark.parametrize("penalty", SINGLE.values(), ids=SINGLE.keys())
def test_prox_on_special_matrices(penalty, V):
    # Zeros, ties in magnitude, single rows or columns, rank one, and a
    # matrix inside the threshold: the edge cases of sorting and SVD.
    X = cp.Variable(V.shape)
    objective = 0.5 * cp.sum_squares(X - V) + _reference_cvxpy(penalty, X, V.shape[0])
    _solve(cp.Problem(cp.Minimize(objective)))
    assert_allclose(penalty.prox(V, 1.0), X.value, atol=2e-6)


@pytest.mark.parametrize("penalty", SINGLE.values(), ids=SINGLE.keys())
def test_prox_with_zero_step_is_identity(penalty):
    V = _coefficients(penalty, (4, 6))
    assert_allclose(penalty.prox(V, 0.0), V, rtol=1e-14)


def test_l21_alpha_max_without_group_part_is_a_clear_error():
    with pytest.raises(ValueError, match="l1_ratio"):
        L21(1.0, l1_ratio=0.0).alpha_max(np.ones((2, 3)))
