"""``fit_new_tasks`` of the linear models: adapting to new tasks, the source fixed.

A new task ``t`` solves (docs/user_guide/transfer.rst)::

    min_{w, b} (1 / n_bar) sum_{i in t} s_i loss(y_i, x_i . w + b) + R(w)
               + (a / 2) ||b - shared_intercept_||^2

The oracle writes this problem in cvxpy here, from the fitted attributes of
the source model (coefficients, shared model, graph, clusters) and the prior
each model's docstring states; ``a`` is the fitted
``new_task_intercept_alpha_``, whose empirical-Bayes value is checked on its
own. Our objective is the oracle's expression evaluated at our solution.
"""

import pickle
import warnings

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression

from skmtl.linear_model import (
    ClusteredMultiTaskClassifier,
    ClusteredMultiTaskRegressor,
    GraphRegularizedClassifier,
    GraphRegularizedRegressor,
    GraphRegularizedRegressorCV,
    JointFeatureClassifier,
    JointFeatureRegressor,
    MeanRegularizedClassifier,
    MeanRegularizedRegressor,
    MeanRegularizedRegressorCV,
    TaskRelationshipClassifier,
    TaskRelationshipRegressor,
    TraceNormClassifier,
    TraceNormRegressor,
)
from skmtl.linear_model._transfer import (
    NewTaskProblem,
    QuadraticPrior,
    _fista,
    _newton,
)
from skmtl.penalties import TaskGraph

N_TASKS, N_ROWS, N_FEATURES = 6, 25, 3
_TIGHT = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}


def _source(classification=False, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(N_TASKS), N_ROWS)
    features = rng.normal(size=(task.size, N_FEATURES))
    # The last feature is noise for every task: something to leave out.
    slopes = np.array([1.0, -0.5, 0.0]) + [0.3, 0.3, 0.0] * rng.normal(
        size=(N_TASKS, 3)
    )
    signal = np.einsum("ij,ij->i", features, slopes[task]) + 0.4 * task
    y = signal + 0.5 * rng.normal(size=task.size)
    if classification:
        edges = np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1])
        y = np.searchsorted(edges, y)
    return np.column_stack([task, features]), y


def _new_rows(sizes, classification=False, n_classes=2, seed=1):
    rng = np.random.default_rng(seed)
    task = np.repeat(100 + np.arange(len(sizes)), sizes)
    features = rng.normal(size=(task.size, N_FEATURES))
    y = features @ np.array([1.2, -0.4, 0.1]) + 1.0 + 0.5 * rng.normal(size=task.size)
    if classification:
        edges = np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1])
        y = np.searchsorted(edges, y)
    weights = rng.uniform(0.5, 2.0, size=task.size)
    return np.column_stack([task, features]), y, weights


def _row_weight(model):
    # Source tasks of N_ROWS unit-weight rows: n_bar = N_ROWS.
    return 1.0 / N_ROWS


# --------------------------------------------------------------------------
# the oracle
# --------------------------------------------------------------------------


def _oracle(model, X, y, weight, prior):
    """Solve each new task's problem in cvxpy; compare with the fitted rows.

    ``prior(w)`` returns ``(expression, constraints)`` for a cvxpy variable
    ``w`` of the shape of a task's coefficients; a list of priors is a
    choice (clusters): the best one wins. Returns the chosen indices.
    """
    priors = prior if isinstance(prior, list) else [prior]
    n_source = model.n_tasks_ - len(model.new_tasks_)
    chosen = []
    for k, task in enumerate(model.new_tasks_):
        rows = X[:, 0] == task
        solutions = [
            _solve_task(model, X[rows, 1:], y[rows], weight[rows], p) for p in priors
        ]
        best = int(np.argmin([value for value, *_ in solutions]))
        expected, objective, w, b, w_opt, b_opt = solutions[best]
        ours_w = model.coef_[n_source + k]
        ours_b = np.atleast_1d(model.intercept_[n_source + k])
        w.value, b.value = ours_w, ours_b
        assert_allclose(objective.value, expected, rtol=1e-6, atol=1e-9)
        assert_allclose(ours_w, w_opt, atol=2e-5)
        assert_allclose(ours_b, b_opt, atol=2e-5)
        chosen.append(best)
    return chosen


def _solve_task(model, F, y, weight, prior):
    classes = getattr(model, "classes_", None)
    a = model.new_task_intercept_alpha_
    b0 = np.atleast_1d(model.shared_intercept_)
    s = _row_weight(model) * weight
    multinomial = classes is not None and len(classes) > 2
    shape = (len(classes), N_FEATURES) if multinomial else (N_FEATURES,)
    w, b = cp.Variable(shape), cp.Variable(len(b0))
    if multinomial:
        z = F @ w.T + np.ones((len(F), 1)) @ cp.reshape(b, (1, len(b0)), "C")
        onehot = np.eye(len(classes))[np.searchsorted(classes, y)]
        data = s @ (cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), 1))
    elif classes is not None:
        z = F @ w + b[0]
        target = (y == classes[1]).astype(float)
        data = s @ (cp.logistic(z) - cp.multiply(target, z))
    else:
        data = 0.5 * s @ cp.square(y - F @ w - b[0])
    penalty, constraints = prior(w)
    objective = data + penalty + 0.5 * a * cp.sum_squares(b - b0)
    problem = cp.Problem(cp.Minimize(objective), constraints)
    # Tighter than Clarabel's defaults: curvatures 1 / s_j of a trace-norm
    # prior make 1e-8 in the objective 1e-5 in the coefficients.
    problem.solve(solver="CLARABEL", **_TIGHT)
    return problem.value, objective, w, b, w.value, b.value


def _adapt(model, classification=False, n_classes=2, sizes=(4, 1), prior="model"):
    # prior="model": the oracles below write the model's own prior; the
    # empirical one is tested in test_transfer_prior.py.
    X_source, y_source = _source(classification, n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_source, y_source)
    X_new, y_new, weight = _new_rows(sizes, classification, n_classes)
    model.fit_new_tasks(X_new, y_new, sample_weight=weight, prior=prior)
    return model, X_new, y_new, weight


def _ridge_to(center, strength):
    def prior(w):
        return 0.5 * strength * cp.sum_squares(w - center), []

    return prior


# --------------------------------------------------------------------------
# mean-regularised models
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, classification, n_classes",
    [
        (MeanRegularizedRegressor(alpha=2.0, task_column=0), False, 2),
        (MeanRegularizedRegressorCV(alphas=[0.5, 2.0], task_column=0), False, 2),
        (MeanRegularizedClassifier(alpha=0.5, task_column=0), True, 2),
        (MeanRegularizedClassifier(alpha=0.5, task_column=0), True, 3),
    ],
    ids=["regressor", "cv", "binary", "multinomial"],
)
def test_mean_regularized_matches_cvxpy(model, classification, n_classes):
    model, X, y, weight = _adapt(model, classification, n_classes)
    alpha = getattr(model, "alpha_", None) or model.alpha
    _oracle(model, X, y, weight, _ridge_to(model.shared_coef_, alpha))


def test_mean_regularized_is_the_constrained_refit():
    # The model's whole objective over the source and new tasks, in the
    # library's split form (w_0, V), with w_0, b_0 and the source fixed: the
    # new task's rows weigh 1 / n_bar, its intercept tie is a.
    from skmtl.penalties import MeanRegularization

    model, X, y, weight = _adapt(
        MeanRegularizedRegressor(alpha=2.0, alpha_mean=0.5, task_column=0)
    )
    X_source, y_source = _source()
    n_source, a = N_TASKS, model.new_task_intercept_alpha_
    w0, b0 = model.shared_coef_, model.shared_intercept_
    penalty = MeanRegularization(2.0, 0.5)
    for k, task in enumerate(model.new_tasks_):
        rows = X[:, 0] == task
        w, b = cp.Variable(N_FEATURES), cp.Variable()
        deviations = cp.vstack(
            [model.coef_[:n_source] - w0, cp.reshape(w - w0, (1, -1), "C")]
        )
        source_fit = sum(
            0.5
            * np.mean(
                (
                    y_source[X_source[:, 0] == t]
                    - X_source[X_source[:, 0] == t, 1:] @ model.coef_[t]
                    - model.intercept_[t]
                )
                ** 2
            )
            for t in range(n_source)
        )
        objective = (
            source_fit
            + 0.5
            * _row_weight(model)
            * (weight[rows] @ cp.square(y[rows] - X[rows, 1:] @ w - b))
            + penalty.to_cvxpy(w0, deviations)
            + 0.5 * a * cp.square(b - b0)
        )
        cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL")
        assert_allclose(model.coef_[n_source + k], w.value, atol=1e-6)
        assert_allclose(model.intercept_[n_source + k], b.value, atol=1e-6)


def _source_noise_by_hand(model, X, y):
    residuals = [
        np.mean(
            (
                y[X[:, 0] == t]
                - X[X[:, 0] == t, 1:] @ model.coef_[t]
                - model.intercept_[t]
            )
            ** 2
        )
        for t in range(N_TASKS)
    ]
    return float(np.mean(residuals))


def test_intercept_tie_is_empirical_bayes():
    model, *_ = _adapt(MeanRegularizedRegressor(alpha=2.0, task_column=0))
    X_source, y_source = _source()
    spread = np.mean((model.intercept_[:N_TASKS] - model.shared_intercept_) ** 2)
    noise = _source_noise_by_hand(model, X_source, y_source)
    expected = max(model.intercept_alpha, noise / (N_ROWS * spread))
    assert_allclose(model.new_task_intercept_alpha_, expected, rtol=1e-10)
    # With k rows of a task without slope information (x = 0), the intercept
    # moves k / (k + noise / spread) of the way from b_0 to the rows' mean.
    X_flat = np.column_stack([np.full(3, 50), np.zeros((3, N_FEATURES))])
    model.fit_new_tasks(X_flat, [10.0, 10.0, 10.0])
    share = 3 / (3 + noise / spread)
    b0 = model.shared_intercept_
    assert_allclose(model.intercept_[-1], b0 + share * (10.0 - b0), rtol=1e-8)


def test_intercept_tie_is_at_least_the_models_own():
    model = MeanRegularizedRegressor(alpha=2.0, intercept_alpha=0.5, task_column=0)
    model, X, y, _ = _adapt(model)
    # A noise-free source: the empirical-Bayes strength is 0, the tie stays.
    model._source_noise = 0.0
    assert model.fit_new_tasks(X, y).new_task_intercept_alpha_ == 0.5


# --------------------------------------------------------------------------
# graph-regularised models
# --------------------------------------------------------------------------


def _graph_increment(model, alpha, ridge, link):
    """The penalty of the extended graph minus that of the source graph."""
    n_source = N_TASKS
    source = model.coef_[:n_source].reshape(n_source, -1)
    extended = np.zeros((n_source + 1, n_source + 1))
    extended[:n_source, :n_source] = model.adjacency_
    extended[n_source, :n_source] = extended[:n_source, n_source] = link
    before = TaskGraph(alpha, model.adjacency_, ridge).value(source)

    def prior(w):
        rows = cp.vstack([source, cp.reshape(w, (1, -1), "C")])
        return TaskGraph(alpha, extended, ridge).to_cvxpy(rows) - before, []

    return prior


_USER_GRAPH = [(0, 1, 2.0), (1, 2, 1.0), (3, 4, 0.5)]


@pytest.mark.parametrize(
    "model, classification, link",
    [
        (
            GraphRegularizedRegressor(alpha=0.3, alpha_ridge=0.1, task_column=0),
            False,
            1.0,
        ),
        (
            GraphRegularizedRegressor(
                alpha=0.3, graph=_USER_GRAPH, alpha_ridge=0.1, task_column=0
            ),
            False,
            3.5 / 3,
        ),
        (
            GraphRegularizedRegressor(
                alpha=0.3, graph="empty", alpha_ridge=0.1, task_column=0
            ),
            False,
            0.0,
        ),
        (
            GraphRegularizedClassifier(alpha=0.3, alpha_ridge=0.05, task_column=0),
            True,
            1.0,
        ),
    ],
    ids=["complete", "user-graph", "empty", "binary"],
)
def test_graph_matches_cvxpy(model, classification, link):
    model, X, y, weight = _adapt(model, classification)
    _oracle(model, X, y, weight, _graph_increment(model, 0.3, model.alpha_ridge, link))


def test_graph_cv_uses_the_chosen_strengths():
    model = GraphRegularizedRegressorCV(alphas=[0.1, 1.0], cv=2, task_column=0)
    model, X, y, weight = _adapt(model)
    ridge = model.alpha_ * model.ridge_ratio_
    _oracle(model, X, y, weight, _graph_increment(model, model.alpha_, ridge, 1.0))


# --------------------------------------------------------------------------
# limits and the contract
# --------------------------------------------------------------------------

_CENTRED = [
    MeanRegularizedRegressor(alpha=2.0, task_column=0),
    GraphRegularizedRegressor(alpha=0.3, alpha_ridge=0.0, task_column=0),
    MeanRegularizedClassifier(alpha=0.5, task_column=0),
    JointFeatureRegressor(alpha=0.3, l1_ratio=0.8, task_column=0),
    TraceNormRegressor(alpha=0.3, task_column=0),
    TraceNormClassifier(alpha=0.1, task_column=0),
]


@pytest.mark.parametrize("model", _CENTRED, ids=lambda m: type(m).__name__)
def test_no_rows_give_the_shared_model(model):
    # Rows of (almost) zero weight: the prior alone decides.
    classification = hasattr(model, "predict_proba")
    model, X, y, _ = _adapt(model, classification)
    model.fit_new_tasks(X, y, sample_weight=np.full(len(y), 1e-12))
    model.set_params(unknown_task="shared")
    unseen = X.copy()
    unseen[:, 0] = -1
    method = "decision_function" if classification else "predict"
    assert_allclose(
        getattr(model, method)(X), getattr(model, method)(unseen), atol=1e-8
    )


def test_many_rows_approach_the_task_alone():
    model, *_ = _adapt(MeanRegularizedRegressor(alpha=2.0, task_column=0))
    X, y, _ = _new_rows([2000], seed=3)
    alone = LinearRegression().fit(X[:, 1:], y)
    model.fit_new_tasks(X, y)
    assert_allclose(model.coef_[-1], alone.coef_, atol=0.02)
    assert_allclose(model.intercept_[-1], alone.intercept_, atol=0.02)
    assert np.linalg.norm(model.coef_[-1] - alone.coef_) < 0.1 * np.linalg.norm(
        model.shared_coef_ - alone.coef_
    )


def test_many_rows_approach_the_task_alone_classifier():
    model, *_ = _adapt(MeanRegularizedClassifier(alpha=0.5, task_column=0), True)
    rng = np.random.default_rng(3)
    features = rng.normal(size=(4000, N_FEATURES))
    y = rng.random(4000) < 1 / (1 + np.exp(-features @ [1.0, -1.0, 0.5] - 0.5))
    X = np.column_stack([np.full(4000, 100), features])
    alone = LogisticRegression(C=1e6).fit(features, y.astype(int))
    # The model's prior: these source tasks barely differ, so the empirical
    # one holds the new task near them far beyond 4000 rows.
    model.fit_new_tasks(X, y.astype(int), prior="model")
    # Prior strength 0.5 against 4000 / 25 rows of curvature ~0.2: ~2%.
    assert_allclose(model.coef_[-1], alone.coef_[0], rtol=0.05)
    # The intercept tie (new_task_intercept_alpha_, ~100 here) pulls harder.
    gap = abs(model.intercept_[-1] - alone.intercept_[0])
    assert gap < 0.1 and gap < 0.2 * abs(model.shared_intercept_ - alone.intercept_[0])


@pytest.mark.parametrize(
    "model",
    [
        MeanRegularizedClassifier(alpha=0.5, task_column=0),
        GraphRegularizedClassifier(alpha=0.3, task_column=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_one_row_and_one_class_tasks_are_finite(model):
    model, *_ = _adapt(model, True)
    X, _, _ = _new_rows([1, 4], True)
    model.set_params(unknown_task="shared")
    unseen = X.copy()
    unseen[:, 0] = -1
    shared = model.decision_function(unseen)
    model.fit_new_tasks(X, np.ones(len(X), dtype=int))
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    # Rows of class 1 only move each task's scores of its rows up.
    assert np.all(model.decision_function(X) > shared)


def test_second_call_replaces_the_first_and_source_is_unchanged():
    model = MeanRegularizedRegressor(alpha=2.0, task_column=0)
    model.fit(*_source())
    coef, intercept = model.coef_.copy(), model.intercept_.copy()
    shared = model.shared_coef_.copy(), model.shared_intercept_
    X, y, _ = _new_rows([3, 2])
    model.fit_new_tasks(X, y)
    first = model.coef_[-1].copy()
    X2 = X[X[:, 0] == 101].copy()
    X2[:, 0] = 200
    model.fit_new_tasks(np.vstack([X[X[:, 0] == 101], X2]), np.r_[y[-2:], y[-2:]])
    assert model.tasks_.tolist() == list(range(N_TASKS)) + [101, 200]
    assert model.coef_.shape == (N_TASKS + 2, N_FEATURES)
    assert_allclose(model.coef_[-2], first)
    assert_allclose(model.coef_[:N_TASKS], coef)
    assert_allclose(model.intercept_[:N_TASKS], intercept)
    assert_allclose(model.shared_coef_, shared[0])
    assert model.shared_intercept_ == shared[1]
    with pytest.raises(ValueError, match="not seen during fit"):
        model.predict(X[X[:, 0] == 100])


def test_sample_weight_equals_repeated_rows():
    model = GraphRegularizedClassifier(alpha=0.3, task_column=0)
    model, *_ = _adapt(model, True)
    X, y, _ = _new_rows([5], True)
    weight = np.array([1, 2, 1, 3, 1])
    weighted = model.fit_new_tasks(X, y, sample_weight=weight).coef_[-1].copy()
    repeated = model.fit_new_tasks(np.repeat(X, weight, 0), np.repeat(y, weight))
    assert_allclose(repeated.coef_[-1], weighted, atol=1e-8)


def test_caller_arrays_unchanged_and_pickle():
    model, *_ = _adapt(MeanRegularizedClassifier(alpha=0.5, task_column=0), True)
    X, y, weight = _new_rows([4], True)
    copies = X.copy(), y.copy(), weight.copy()
    model.fit_new_tasks(X, y, sample_weight=weight)
    for array, copy in zip((X, y, weight), copies):
        assert_allclose(array, copy)
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict_proba(X), model.predict_proba(X))


def test_sparse_rows_equal_dense():
    model, *_ = _adapt(GraphRegularizedRegressor(alpha=0.3, task_column=0))
    X, y, _ = _new_rows([4, 2])
    dense = model.fit_new_tasks(X, y).coef_.copy()
    assert_allclose(model.fit_new_tasks(sp.csr_matrix(X), y).coef_, dense, atol=1e-10)


def test_errors():
    model, *_ = _adapt(MeanRegularizedClassifier(alpha=0.5, task_column=0), True)
    X, y, _ = _new_rows([3])
    with pytest.raises(ValueError, match="were seen during fit"):
        model.fit_new_tasks(_source(True)[0][:3], [0, 1, 0])
    with pytest.raises(ValueError, match=r"Class label\(s\) \[7\].*not classes of fit"):
        model.fit_new_tasks(X, [0, 1, 7])
    with pytest.raises(ValueError, match="features"):
        model.fit_new_tasks(X[:, :-1], [0, 1, 1])
    wide = MeanRegularizedRegressor().fit(X[:, 1:], np.column_stack([y, y]))
    with pytest.raises(ValueError, match="long format"):
        wide.fit_new_tasks(X, y)


def test_convergence_warning_when_max_iter_is_missed():
    model, X, y, _ = _adapt(MeanRegularizedClassifier(alpha=0.5, task_column=0), True)
    model.set_params(max_iter=1)
    with pytest.warns(ConvergenceWarning, match="fit_new_tasks did not reach tol"):
        model.fit_new_tasks(X, y, prior="model")


def test_fista_matches_newton():
    # FISTA serves priors with a non-smooth part; on a smooth one it must
    # reach Newton's minimum.
    X, y, weight = _new_rows([30], True)
    prior = QuadraticPrior(np.array([0.5, 0.0, -0.2]), curvature=[0.1, 1.0, 3.0])
    prior.smooth = False
    problem = NewTaskProblem(
        X[:, 1:], y.astype(float), weight, "logistic", prior, 0.1, 0.2, 0.3
    )
    newton = _newton(problem, problem.start(), tol=1e-14, max_iter=100)
    fista = _fista(problem, problem.start(), tol=1e-8, max_iter=5000)
    assert fista.converged
    assert_allclose(fista.value, newton.value, rtol=1e-10)
    assert_allclose(fista.u, newton.u, atol=1e-6)


# --------------------------------------------------------------------------
# joint-feature, trace-norm, task-relationship and clustered models
# --------------------------------------------------------------------------


def _source_rows(model, per_class=True):
    coef = model.coef_[: model.n_tasks_ - len(model.new_tasks_)]
    return coef.reshape(-1, N_FEATURES) if per_class else coef.reshape(len(coef), -1)


def _joint_feature_prior(model, alpha, l1_ratio):
    norms = np.linalg.norm(_source_rows(model), axis=0)
    used = norms > 1e-10 * norms.max()
    c = model.shared_coef_

    def prior(w):
        columns = w if w.ndim == 1 else w.T
        centre = c if c.ndim == 1 else c.T
        group = sum(
            cp.sum_squares(columns[j] - centre[j]) / (2 * norms[j])
            for j in np.flatnonzero(used)
        )
        expression = alpha * l1_ratio * group
        expression += 0.5 * alpha * (1 - l1_ratio) * cp.sum_squares(w - c)
        unused = np.flatnonzero(~used)
        constraints = [columns[j] == centre[j] for j in unused]
        return expression, constraints

    return prior


@pytest.mark.parametrize(
    "model, classification",
    [
        (JointFeatureRegressor(alpha=0.3, l1_ratio=0.8, task_column=0), False),
        (JointFeatureClassifier(alpha=0.2, l1_ratio=0.9, task_column=0), True),
    ],
    ids=["regressor", "binary"],
)
def test_joint_feature_matches_cvxpy(model, classification):
    model, X, y, weight = _adapt(model, classification)
    norms = np.linalg.norm(_source_rows(model), axis=0)
    assert (norms == 0).any(), "the test needs an unselected feature"
    _oracle(
        model, X, y, weight, _joint_feature_prior(model, model.alpha, model.l1_ratio)
    )
    assert np.all(model.coef_[N_TASKS:][..., norms == 0] == 0)


def _subspace(matrix):
    """``(pseudo-inverse of (M^T M)^{1/2}, projector on its range)`` by eigh."""
    values, vectors = np.linalg.eigh(matrix.T @ matrix)
    keep = values > 1e-16 * values.max()
    root = np.sqrt(values[keep])
    inverse = (vectors[:, keep] / root) @ vectors[:, keep].T
    return inverse, vectors[:, keep] @ vectors[:, keep].T, root.sum()


def _trace_norm_prior(model, alpha):
    inverse, projector, _ = _subspace(_source_rows(model))
    c = model.shared_coef_

    def prior(w):
        rows = [w] if w.ndim == 1 else [w[k] for k in range(w.shape[0])]
        centres = [c] if c.ndim == 1 else list(c)
        expression = sum(
            0.5 * alpha * cp.quad_form(r - m, cp.psd_wrap(inverse))
            for r, m in zip(rows, centres)
        )
        outside = np.eye(N_FEATURES) - projector
        return expression, [outside @ (r - m) == 0 for r, m in zip(rows, centres)]

    return prior


@pytest.mark.parametrize(
    "model, classification, n_classes",
    [
        (TraceNormRegressor(alpha=0.3, task_column=0), False, 2),
        (TraceNormClassifier(alpha=0.1, task_column=0), True, 2),
        (TraceNormClassifier(alpha=0.2, task_column=0), True, 3),
    ],
    ids=["regressor", "binary", "multinomial"],
)
def test_trace_norm_matches_cvxpy(model, classification, n_classes):
    model, X, y, weight = _adapt(model, classification, n_classes)
    assert model.rank_ < N_FEATURES, "the test needs a low-rank source"
    _oracle(model, X, y, weight, _trace_norm_prior(model, model.alpha))


def _task_relationship_prior(model, alpha, beta):
    inverse, projector, total = _subspace(_source_rows(model, per_class=False))
    c = model.shared_coef_.ravel()

    def prior(w):
        flat = cp.vec(w, order="C") if w.ndim > 1 else w
        expression = 0.5 * alpha * cp.sum_squares(flat)
        expression += 0.5 * beta * total * cp.quad_form(flat - c, cp.psd_wrap(inverse))
        outside = np.eye(len(c)) - projector
        return expression, [outside @ (flat - c) == 0]

    return prior


@pytest.mark.parametrize(
    "model, classification",
    [
        (TaskRelationshipRegressor(alpha=0.05, beta=0.5, task_column=0), False),
        (TaskRelationshipClassifier(alpha=0.01, beta=0.05, task_column=0), True),
    ],
    ids=["regressor", "binary"],
)
def test_task_relationship_matches_cvxpy(model, classification):
    model, X, y, weight = _adapt(model, classification)
    _oracle(
        model, X, y, weight, _task_relationship_prior(model, model.alpha, model.beta)
    )


def _cluster_priors(model, alpha, eta):
    rows = _source_rows(model, per_class=False)
    labels = model.task_clusters_
    priors = []
    for cluster in np.unique(labels):
        mean = rows[labels == cluster].mean(axis=0)

        def prior(w, mean=mean):
            flat = cp.vec(w, order="C") if w.ndim > 1 else w
            return (
                alpha * (1 + eta) * cp.sum_squares(flat - mean)
                + alpha * eta * float(mean @ mean)
            ), []

        priors.append(prior)
    return priors


@pytest.mark.parametrize(
    "model, classification",
    [
        (
            ClusteredMultiTaskRegressor(
                alpha=0.1, eta=0.5, n_clusters=2, task_column=0
            ),
            False,
        ),
        (
            ClusteredMultiTaskClassifier(
                alpha=0.05, eta=0.5, n_clusters=2, task_column=0
            ),
            True,
        ),
    ],
    ids=["regressor", "binary"],
)
def test_clustered_matches_cvxpy(model, classification):
    model, X, y, weight = _adapt(model, classification)
    chosen = _oracle(
        model, X, y, weight, _cluster_priors(model, model.alpha, model.eta)
    )
    assert_allclose(model.new_task_clusters_, np.unique(model.task_clusters_)[chosen])


def test_without_intercept_the_closed_form_is_a_ridge_towards_w0():
    model = MeanRegularizedRegressor(alpha=2.0, fit_intercept=False, task_column=0)
    model, X, y, weight = _adapt(model)
    rows = X[:, 0] == 100
    F, s = X[rows, 1:], weight[rows] / N_ROWS
    # (1/n_bar) F^T S (F w - y) + alpha (w - w_0) = 0
    lhs = F.T @ (s[:, None] * F) + 2.0 * np.eye(N_FEATURES)
    rhs = F.T @ (s * y[rows]) + 2.0 * model.shared_coef_
    assert_allclose(model.coef_[N_TASKS], np.linalg.solve(lhs, rhs), rtol=1e-10)
    assert np.all(model.intercept_[N_TASKS:] == 0)


def test_refit_of_a_cv_model_starts_again_from_its_source():
    model = GraphRegularizedRegressorCV(alphas=[0.1, 1.0], cv=2, task_column=0)
    model, X, y, _ = _adapt(model)
    model.fit(*_source(seed=2))
    model.fit_new_tasks(X[X[:, 0] == 101], y[X[:, 0] == 101])
    assert model.tasks_.tolist() == list(range(N_TASKS)) + [101]
    assert model.coef_.shape == (N_TASKS + 1, N_FEATURES)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_graph_prior_is_the_penalty_increment(n_classes):
    # The prior at any w is the penalty of the graph with the new task linked
    # to every source task (mean edge weight) minus that of the source graph.
    from skmtl.linear_model._transfer import _graph_prior, model_params

    model = GraphRegularizedClassifier(
        alpha=0.3, graph=_USER_GRAPH, alpha_ridge=0.1, task_column=0
    )
    model.fit(*_source(True, n_classes))
    source = model.coef_
    (prior,) = _graph_prior(model, model_params(model), source)
    extended = np.zeros((N_TASKS + 1, N_TASKS + 1))
    extended[:N_TASKS, :N_TASKS] = model.adjacency_
    extended[N_TASKS, :N_TASKS] = extended[:N_TASKS, N_TASKS] = 3.5 / 3
    before = TaskGraph(0.3, model.adjacency_, 0.1).value(source)
    w = np.random.default_rng(0).normal(size=source.shape[1:])
    after = TaskGraph(0.3, extended, 0.1).value(np.concatenate([source, [w]]))
    theta = (w - prior.center).ravel()
    assert_allclose(prior.value(theta), after - before, rtol=1e-12)
