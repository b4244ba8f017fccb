"""``fit_new_tasks`` of the decompositions ``w = p + q``, against cvxpy.

A new task of a sparse + low-rank, robust or dirty model gets its own two
blocks, the source fixed (docs/user_guide/transfer.rst)::

    min_{p, q, b} (1 / n_bar) sum_{i in t} s_i loss(y_i, x_i . (p + q) + b)
                  + R_1(p) + R_2(q) + (a / 2) (b - shared_intercept_)^2

The oracle writes each block's prior here from the fitted source blocks:

- a penalty separable over tasks (L1, a task's group norm) exactly;
- the L1/Linf norm of the dirty model through its exact increment
  ``alpha sum_j (|p_j| - m_j)_+``, ``m_j = max_t |P[t, j]|`` of the source;
- a trace-norm block ``q = c + V theta`` in the row space ``V`` of the
  source block, ``(alpha / 2) (q - c)^T V diag(1 / sigma) V^T (q - c)``
  with ``c = shared_coef_`` and ``sigma`` its singular values;
- the dirty model's L2 shared block as the joint-feature prior:
  ``alpha sum_j (p_j - c_j)^2 / (2 d_j)`` on the features the source uses
  (``d_j`` the norm of column ``j``), ``p_j = c_j`` elsewhere.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from skmtl.linear_model import (
    DirtyModelClassifier,
    DirtyModelRegressor,
    RobustMultiTaskClassifier,
    RobustMultiTaskRegressor,
    SparseLowRankClassifier,
    SparseLowRankRegressor,
    SparseLowRankRegressorCV,
)
from skmtl.linear_model._transfer import FeatureMaxIncrement

N_TASKS, N_ROWS, N_FEATURES = 6, 30, 4
_TIGHT = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}


def _source(classification=False, seed=0):
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(N_TASKS), N_ROWS)
    features = rng.normal(size=(task.size, N_FEATURES))
    # Rank one shared by the tasks, one task-specific effect, one noise feature.
    slopes = np.outer(1.0 + 0.3 * rng.normal(size=N_TASKS), [1.0, -0.6, 0.4, 0.0])
    slopes[0, 2] += 1.5
    y = np.einsum("ij,ij->i", features, slopes[task]) + 0.3 * task
    y = y + 0.4 * rng.normal(size=task.size)
    if classification:
        y = (y > np.median(y)).astype(int)
    return np.column_stack([task, features]), y


def _new_rows(sizes, classification=False, seed=1):
    rng = np.random.default_rng(seed)
    task = np.repeat(100 + np.arange(len(sizes)), sizes)
    features = rng.normal(size=(task.size, N_FEATURES))
    y = features @ np.array([1.1, -0.4, 0.9, 0.2]) + 0.5
    if classification:
        # Noisy labels: no new task is separable.
        y = (y + 1.5 * rng.normal(size=task.size) > 0).astype(int)
    else:
        y = y + 0.4 * rng.normal(size=task.size)
    weights = rng.uniform(0.5, 2.0, size=task.size)
    return np.column_stack([task, features]), y, weights


def _adapt(model, sizes=(12, 7), classification=False):
    with warnings.catch_warnings():
        # The source fit's own tolerance is not what is tested here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*_source(classification))
    X, y, weight = _new_rows(sizes, classification)
    # The model's own priors; the empirical ones: test_transfer_prior.py.
    model.fit_new_tasks(X, y, sample_weight=weight, prior="model")
    return model, X, y, weight


# --------------------------------------------------------------------------
# the priors of the blocks, in cvxpy
# --------------------------------------------------------------------------


def _source_block(model, name):
    n_source = model.n_tasks_ - len(model.new_tasks_)
    return getattr(model, name)[:n_source]


def _l1(alpha):
    return lambda block, model: (alpha * cp.norm1(block), [])


def _group(alpha):
    return lambda block, model: (alpha * cp.norm(block, 2), [])


def _trace(alpha, name):
    def prior(block, model):
        _, values, vt = np.linalg.svd(_source_block(model, name), full_matrices=True)
        rank = int(np.sum(values > 1e-10 * values[0]))
        c = model.shared_coef_
        assert rank < N_FEATURES, "the test needs a low-rank source block"
        scaled = vt[:rank] / np.sqrt(values[:rank])[:, None]
        expression = 0.5 * alpha * cp.sum_squares(scaled @ (block - c))
        # The complement of the row space: no move there.
        return expression, [vt[rank:] @ (block - c) == 0]

    return prior


def _max_increment(alpha, name):
    def prior(block, model):
        magnitude = np.abs(_source_block(model, name)).max(axis=0)
        return alpha * cp.sum(cp.pos(cp.abs(block) - magnitude)), []

    return prior


def _joint_feature(alpha, name):
    def prior(block, model):
        norms = np.linalg.norm(_source_block(model, name), axis=0)
        used = norms > 1e-10 * norms.max()
        c = model.shared_coef_
        expression = alpha * cp.sum(
            cp.multiply(1.0 / (2.0 * norms[used]), cp.square(block[used] - c[used]))
        )
        return expression, [block[~used] == c[~used]]

    return prior


def _oracle(model, X, y, weight, priors):
    """Solve each new task in cvxpy; compare objective, coefficients, blocks."""
    n_source = model.n_tasks_ - len(model.new_tasks_)
    names = model._block_attributes
    for k, task in enumerate(model.new_tasks_):
        rows = X[:, 0] == task
        F, s = X[rows, 1:], weight[rows] / N_ROWS
        blocks = [cp.Variable(N_FEATURES) for _ in names]
        b = cp.Variable()
        z = F @ (blocks[0] + blocks[1]) + b
        if hasattr(model, "classes_"):
            data = s @ (cp.logistic(z) - cp.multiply(y[rows], z))
        else:
            data = 0.5 * s @ cp.square(y[rows] - z)
        objective = data + 0.5 * model.new_task_intercept_alpha_ * cp.square(
            b - model.shared_intercept_
        )
        constraints = []
        for block, prior in zip(blocks, priors):
            expression, conditions = prior(block, model)
            objective, constraints = objective + expression, constraints + conditions
        problem = cp.Problem(cp.Minimize(objective), constraints)
        with warnings.catch_warnings():
            # Tolerances of 1e-11 are at the edge of the solver's reach: it
            # may call its answer inaccurate; the assertions below measure it.
            warnings.filterwarnings("ignore", "Solution may be inaccurate")
            problem.solve(solver="CLARABEL", **_TIGHT)
        assert problem.status in ("optimal", "optimal_inaccurate")
        expected = [block.value.copy() for block in blocks]
        expected_b, optimum = float(b.value), problem.value
        for block, name in zip(blocks, names):
            block.value = getattr(model, name)[n_source + k]
        b.value = model.intercept_[n_source + k]
        assert_allclose(objective.value, optimum, rtol=1e-6, atol=1e-9)
        for name, want in zip(names, expected):
            assert_allclose(getattr(model, name)[n_source + k], want, atol=1e-5)
        assert_allclose(model.intercept_[n_source + k], expected_b, atol=1e-5)
        assert_allclose(model.coef_[n_source + k], sum(expected), atol=1e-5)


_CASES = [
    (
        SparseLowRankRegressor(alpha_sparse=0.05, alpha_rank=0.5, task_column=0),
        lambda m: [_l1(m.alpha_sparse), _trace(m.alpha_rank, "low_rank_coef_")],
    ),
    (
        SparseLowRankClassifier(alpha_sparse=0.01, alpha_rank=0.05, task_column=0),
        lambda m: [_l1(m.alpha_sparse), _trace(m.alpha_rank, "low_rank_coef_")],
    ),
    (
        RobustMultiTaskRegressor(alpha_rank=0.5, alpha_outlier=0.3, task_column=0),
        lambda m: [_trace(m.alpha_rank, "low_rank_coef_"), _group(m.alpha_outlier)],
    ),
    (
        RobustMultiTaskClassifier(alpha_rank=0.05, alpha_outlier=0.05, task_column=0),
        lambda m: [_trace(m.alpha_rank, "low_rank_coef_"), _group(m.alpha_outlier)],
    ),
    (
        DirtyModelRegressor(alpha_shared=0.2, alpha_task=0.08, task_column=0),
        lambda m: [
            _max_increment(m.alpha_shared, "block_sparse_coef_"),
            _l1(m.alpha_task),
        ],
    ),
    (
        DirtyModelClassifier(alpha_shared=0.02, alpha_task=0.008, task_column=0),
        lambda m: [
            _max_increment(m.alpha_shared, "block_sparse_coef_"),
            _l1(m.alpha_task),
        ],
    ),
    (
        DirtyModelRegressor(
            alpha_shared=0.2, alpha_task=0.08, shared_norm="l2", task_column=0
        ),
        lambda m: [
            _joint_feature(m.alpha_shared, "block_sparse_coef_"),
            _l1(m.alpha_task),
        ],
    ),
]
_IDS = [
    "sparse_low_rank-regressor",
    "sparse_low_rank-binary",
    "robust-regressor",
    "robust-binary",
    "dirty-regressor",
    "dirty-binary",
    "dirty_l2-regressor",
]


@pytest.mark.parametrize("model, priors", _CASES, ids=_IDS)
def test_matches_cvxpy(model, priors):
    classification = hasattr(model, "predict_proba")
    model, X, y, weight = _adapt(model, classification=classification)
    _oracle(model, X, y, weight, priors(model))


def test_cv_class_uses_the_chosen_strengths():
    model = SparseLowRankRegressorCV(alphas=3, cv=2, rank_ratios=[10.0], task_column=0)
    model, X, y, weight = _adapt(model)
    alpha_rank = model.rank_ratio_ * model.alpha_
    priors = [_l1(model.alpha_), _trace(alpha_rank, "low_rank_coef_")]
    _oracle(model, X, y, weight, priors)


@pytest.mark.parametrize("n_classes", [1, 3])
def test_feature_max_increment_prox_matches_cvxpy(n_classes):
    rng = np.random.default_rng(n_classes)
    magnitude = np.array([0.0, 0.5, 1.0, 2.0, 0.3])
    v = 2.0 * rng.normal(size=(n_classes, magnitude.size))
    v[0, 1] = 0.55  # beyond m_j by less than the threshold: clipped to m_j
    increment, step = FeatureMaxIncrement(0.7, magnitude), 0.4
    x = cp.Variable(v.shape)
    excess = cp.pos(cp.max(cp.abs(x), axis=0) - magnitude)
    objective = step * 0.7 * cp.sum(excess) + 0.5 * cp.sum_squares(x - v)
    cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL", **_TIGHT)
    block = v[0] if n_classes == 1 else v
    ours = increment.prox(block, step)
    assert_allclose(np.reshape(ours, v.shape), x.value, atol=1e-7)
    x.value = np.reshape(ours, v.shape)
    assert_allclose(increment.value(ours), 0.7 * float(np.sum(excess.value)))


def _zero_data(model, X, y):
    # Rows of (almost) zero weight: the prior alone decides.
    return model.fit_new_tasks(X, y, sample_weight=np.full(len(y), 1e-12))


@pytest.mark.parametrize(
    "model",
    [
        SparseLowRankRegressor(alpha_sparse=0.05, alpha_rank=0.5, task_column=0),
        RobustMultiTaskClassifier(alpha_rank=0.05, alpha_outlier=0.05, task_column=0),
        DirtyModelRegressor(
            alpha_shared=0.2, alpha_task=0.08, shared_norm="l2", task_column=0
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_no_rows_give_the_shared_model(model):
    # The exact block's minimiser is 0, the other block's the shared model.
    classification = hasattr(model, "predict_proba")
    model, X, y, _ = _adapt(model, classification=classification)
    _zero_data(model, X, y)
    model.set_params(unknown_task="shared")
    unseen = X.copy()
    unseen[:, 0] = -1
    method = "decision_function" if classification else "predict"
    assert_allclose(
        getattr(model, method)(X), getattr(model, method)(unseen), atol=1e-8
    )


def test_no_rows_keep_the_dirty_model_in_its_free_box():
    # The L1/Linf increment is zero for |p_j| <= m_j: no unique minimiser
    # without rows (the solver starts at shared_coef_ clipped to that box).
    # With rows of weight ~0 the new task costs nothing: p in the box, q = 0.
    model = DirtyModelRegressor(alpha_shared=0.2, alpha_task=0.08, task_column=0)
    model, X, y, _ = _adapt(model)
    _zero_data(model, X, y)
    magnitude = np.abs(_source_block(model, "block_sparse_coef_")).max(axis=0)
    assert np.all(np.abs(model.block_sparse_coef_[-2:]) <= magnitude + 1e-10)
    assert_allclose(model.sparse_coef_[-2:], 0.0, atol=1e-10)


@pytest.mark.parametrize(
    "model",
    [
        SparseLowRankRegressor(alpha_sparse=0.05, alpha_rank=0.5, task_column=0),
        RobustMultiTaskRegressor(alpha_rank=0.5, alpha_outlier=0.3, task_column=0),
        DirtyModelRegressor(alpha_shared=0.2, alpha_task=0.08, task_column=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_many_rows_approach_the_task_alone(model):
    # Every model has a block free in all directions (L1, a group norm):
    # with many rows the penalty's pull vanishes against the data.
    model, *_ = _adapt(model)
    X, y, _ = _new_rows([3000], seed=3)
    alone = LinearRegression().fit(X[:, 1:], y)
    model.fit_new_tasks(X, y)
    assert_allclose(model.coef_[-1], alone.coef_, atol=0.02)
    assert np.linalg.norm(model.coef_[-1] - alone.coef_) < 0.1 * np.linalg.norm(
        model.shared_coef_ - alone.coef_
    )


@pytest.mark.parametrize(
    "model",
    [
        SparseLowRankClassifier(alpha_sparse=0.01, alpha_rank=0.05, task_column=0),
        RobustMultiTaskClassifier(alpha_rank=0.05, alpha_outlier=0.05, task_column=0),
        DirtyModelClassifier(alpha_shared=0.02, alpha_task=0.008, task_column=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_one_row_and_one_class_tasks(model):
    model, *_ = _adapt(model, classification=True)
    X, _, _ = _new_rows([1, 4], classification=True)
    ones = np.ones(len(X), dtype=int)
    before = _zero_data(model, X, ones).decision_function(X)
    model.fit_new_tasks(X, ones)
    after = model.decision_function(X)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    # Rows of class 1 only lower the loss of each task's rows, against the
    # prior alone (the minimiser of prior + loss cannot lose on the loss).
    for task in (100, 101):
        rows = X[:, 0] == task
        assert np.sum(np.logaddexp(0, -after[rows])) < np.sum(
            np.logaddexp(0, -before[rows])
        )


@pytest.mark.parametrize(
    "model",
    [
        SparseLowRankClassifier(alpha_sparse=0.01, alpha_rank=0.05, task_column=0),
        RobustMultiTaskClassifier(alpha_rank=0.05, alpha_outlier=0.05, task_column=0),
        DirtyModelClassifier(alpha_shared=0.02, alpha_task=0.008, task_column=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_multinomial_blocks_add_up(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X, y = _source()
        model.fit(X, np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])))
    X_new, y_new, _ = _new_rows([9, 5])
    model.fit_new_tasks(X_new, np.digitize(y_new, [-0.5, 1.0]))
    blocks = [getattr(model, name) for name in model._block_attributes]
    assert all(block.shape == (N_TASKS + 2, 3, N_FEATURES) for block in blocks)
    assert_allclose(blocks[0] + blocks[1], model.coef_, atol=1e-12)
    assert model.predict(X_new).shape == (len(X_new),)


def test_blocks_follow_the_new_tasks_across_calls():
    model = RobustMultiTaskRegressor(alpha_rank=0.5, alpha_outlier=0.05, task_column=0)
    model, X, y, _ = _adapt(model)
    sources = [_source_block(model, name).copy() for name in model._block_attributes]
    outliers = [task for task in model.outlier_tasks_ if task < N_TASKS]
    # A task far from the source's subspace: an outlier task.
    X_far, _, _ = _new_rows([40], seed=5)
    X_far[:, 0] = 200
    y_far = X_far[:, 1:] @ np.array([-2.0, 0.0, 0.0, 3.0])
    model.fit_new_tasks(X_far, y_far)
    assert model.tasks_.tolist() == list(range(N_TASKS)) + [200]
    assert model.outlier_tasks_.tolist() == outliers + [200]
    for name, source in zip(model._block_attributes, sources):
        assert getattr(model, name).shape == (N_TASKS + 1, N_FEATURES)
        assert_allclose(getattr(model, name)[:N_TASKS], source)
    assert_allclose(model.low_rank_coef_ + model.outlier_coef_, model.coef_)


def test_sample_weight_equals_repeated_rows():
    model = DirtyModelClassifier(alpha_shared=0.02, alpha_task=0.008, task_column=0)
    model, *_ = _adapt(model, classification=True)
    X, y, _ = _new_rows([5], classification=True)
    weight = np.array([1, 2, 1, 3, 1])
    weighted = model.fit_new_tasks(X, y, sample_weight=weight).coef_[-1].copy()
    repeated = model.fit_new_tasks(np.repeat(X, weight, 0), np.repeat(y, weight))
    assert_allclose(repeated.coef_[-1], weighted, atol=1e-6)


# --------------------------------------------------------------------------
# prior="empirical": every block strengthened to the source's spread
# --------------------------------------------------------------------------


def _noise(model):
    """Mean over the source tasks of their mean squared residual."""
    X, y = _source()
    task = X[:, 0].astype(int)
    fitted = np.einsum("ij,ij->i", X[:, 1:], model.coef_[task]) + model.intercept_[task]
    return np.mean([np.mean((y - fitted)[task == t] ** 2) for t in range(N_TASKS)])


def _uniform(name, center):
    """A penalised block: one strength from the block's mean spread."""

    def prior(block, model):
        rows = _source_block(model, name) - center(model)
        strength = _noise(model) / (N_ROWS * np.mean(rows**2))
        return 0.5 * strength * cp.sum_squares(block - center(model)), []

    return prior


def _trace_empirical(alpha, name):
    """The trace-norm block, each coordinate at least as strong as its spread."""

    def prior(block, model):
        rows = _source_block(model, name)
        _, values, vt = np.linalg.svd(rows, full_matrices=True)
        rank = int(np.sum(values > 1e-10 * values[0]))
        c = model.shared_coef_
        theta = (rows - c) @ vt[:rank].T
        spread = np.mean(theta**2, axis=0)
        strength = np.maximum(alpha / values[:rank], _noise(model) / (N_ROWS * spread))
        expression = 0.5 * cp.sum(
            cp.multiply(strength, cp.square(vt[:rank] @ (block - c)))
        )
        return expression, [vt[rank:] @ (block - c) == 0]

    return prior


def _both(*parts):
    def prior(block, model):
        expressions, constraints = zip(*(part(block, model) for part in parts))
        return sum(expressions), [c for group in constraints for c in group]

    return prior


def _zero(model):
    return np.zeros(N_FEATURES)


def _clipped_shared(model):
    magnitude = np.abs(_source_block(model, "block_sparse_coef_")).max(axis=0)
    return np.clip(model.shared_coef_, -magnitude, magnitude)


_EMPIRICAL_CASES = [
    (
        SparseLowRankRegressor(alpha_sparse=0.05, alpha_rank=0.5, task_column=0),
        lambda m: [
            _both(_l1(m.alpha_sparse), _uniform("sparse_coef_", _zero)),
            _trace_empirical(m.alpha_rank, "low_rank_coef_"),
        ],
    ),
    (
        RobustMultiTaskRegressor(alpha_rank=0.5, alpha_outlier=0.3, task_column=0),
        lambda m: [
            _trace_empirical(m.alpha_rank, "low_rank_coef_"),
            _both(_group(m.alpha_outlier), _uniform("outlier_coef_", _zero)),
        ],
    ),
    (
        DirtyModelRegressor(alpha_shared=0.2, alpha_task=0.08, task_column=0),
        lambda m: [
            _both(
                _max_increment(m.alpha_shared, "block_sparse_coef_"),
                _uniform("block_sparse_coef_", _clipped_shared),
            ),
            _both(_l1(m.alpha_task), _uniform("sparse_coef_", _zero)),
        ],
    ),
]


@pytest.mark.parametrize(
    "model, priors", _EMPIRICAL_CASES, ids=["sparse_low_rank", "robust", "dirty"]
)
def test_empirical_prior_matches_cvxpy(model, priors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*_source())
    X, y, weight = _new_rows((12, 7))
    model.fit_new_tasks(X, y, sample_weight=weight)
    _oracle(model, X, y, weight, priors(model))
