"""The tie of the task intercepts of the linear regressors (``intercept_alpha``).

Every linear regressor minimises (docs/user_guide/regularization.rst)::

    sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2 + penalty(W)
    + (intercept_alpha / 2) sum_t (b_t - b_0)^2

over ``W``, the ``b_t`` and the shared intercept ``b_0``. The oracle writes
this objective in cvxpy, with ``b_0`` a variable of its own; the penalties
of the penalised layer come from their ``to_cvxpy`` (tested against their own
definitions in tests/test_penalties.py), those of the mean-regularised and
joint-feature models are written out here.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skmtl.linear_model import (
    ClusteredMultiTaskRegressor,
    ClusteredMultiTaskRegressorCV,
    DirtyModelRegressor,
    DirtyModelRegressorCV,
    GraphRegularizedRegressor,
    GraphRegularizedRegressorCV,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    MeanRegularizedRegressor,
    MeanRegularizedRegressorCV,
    RobustMultiTaskRegressor,
    RobustMultiTaskRegressorCV,
    SparseLowRankRegressor,
    SparseLowRankRegressorCV,
    TaskRelationshipRegressor,
    TaskRelationshipRegressorCV,
    TraceNormRegressor,
    TraceNormRegressorCV,
)

TIE = 0.7

#: Each regressor at strengths where every block of the penalty is active,
#: with a tolerance tight enough for 1e-6 agreement with cvxpy.
REGRESSORS = {
    "mean_regularized": MeanRegularizedRegressor(alpha=0.5, alpha_mean=0.05, tol=1e-8),
    "joint_feature": JointFeatureRegressor(alpha=0.05, l1_ratio=0.8, tol=1e-12),
    "trace_norm": TraceNormRegressor(alpha=0.05, tol=1e-12),
    "sparse_low_rank": SparseLowRankRegressor(
        alpha_rank=0.05, alpha_sparse=0.02, tol=1e-12
    ),
    "robust": RobustMultiTaskRegressor(alpha_rank=0.05, alpha_outlier=0.1, tol=1e-12),
    "dirty": DirtyModelRegressor(alpha_shared=0.05, alpha_task=0.05, tol=1e-12),
    "graph": GraphRegularizedRegressor(alpha=0.1, alpha_ridge=0.01, tol=1e-12),
    "clustered": ClusteredMultiTaskRegressor(n_clusters=2, alpha=0.1, tol=1e-14),
    "task_relationship": TaskRelationshipRegressor(alpha=0.1, beta=0.05, tol=1e-12),
}

#: Loose tolerances: the refit's tie is the point, not the path's accuracy.
CV_REGRESSORS = [
    MeanRegularizedRegressorCV(alphas=[0.1, 1.0], alpha_means=[0.05], cv=2),
    JointFeatureRegressorCV(n_alphas=3, cv=2, tol=1e-3),
    TraceNormRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
    SparseLowRankRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
    RobustMultiTaskRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
    DirtyModelRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
    GraphRegularizedRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
    ClusteredMultiTaskRegressorCV(n_clusters=2, alphas=3, eps=0.1, cv=2, tol=1e-3),
    TaskRelationshipRegressorCV(alphas=3, eps=0.1, cv=2, tol=1e-3),
]


def _task_data(sizes=(30, 15, 8), n_features=4, seed=0):
    """Long-format tasks of unequal sizes with positive sample weights."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.normal(size=(task.size, n_features))
    coef = rng.normal(size=n_features) + 0.3 * rng.normal(size=(len(sizes), n_features))
    offsets = np.array([-2.0, 1.0, 4.0, 0.5])[: len(sizes)]
    y = np.einsum("ip,ip->i", X, coef[task]) + offsets[task]
    y = y + 0.3 * rng.normal(size=task.size)
    weight = rng.uniform(0.5, 2.0, size=task.size)
    return np.column_stack([X, task]), y, weight, task


def _oracle(model, X, y, weight, task, intercept_alpha):
    """``(W, b, b_0)`` minimising the objective of the module docstring in cvxpy.

    ``intercept_alpha=np.inf``: the limit, one intercept ``b_t = b_0`` for all.
    """
    n_tasks, n_features = task.max() + 1, X.shape[1]
    b0 = cp.Variable()
    b = b0 * np.ones(n_tasks) if np.isinf(intercept_alpha) else cp.Variable(n_tasks)
    penalty, coef, constraints = _penalty(model, n_tasks, n_features)
    data_term = 0
    for t in range(n_tasks):
        rows = task == t
        residual = y[rows] - X[rows] @ coef[t] - b[t]
        scale = weight[rows] / weight[rows].sum()
        data_term = data_term + 0.5 * cp.sum(cp.multiply(scale, cp.square(residual)))
    tie = (
        0
        if np.isinf(intercept_alpha)
        else 0.5 * intercept_alpha * cp.sum_squares(b - b0)
    )
    problem = cp.Problem(cp.Minimize(data_term + penalty + tie), constraints)
    # The limit is checked to 1e-5 only; Clarabel reports its task-relation
    # cone inaccurate at gaps of 1e-12 there.
    gap = 1e-9 if np.isinf(intercept_alpha) else 1e-12
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=gap, tol_gap_rel=gap)
    assert problem.status == "optimal"
    return np.asarray(coef.value), np.asarray(b.value), float(b0.value)


def _penalty(model, n_tasks, n_features):
    """The penalty of ``model`` on a cvxpy ``W``: ``(expression, W, constraints)``."""
    if isinstance(model, MeanRegularizedRegressor):
        shared = cp.Variable(n_features)
        deviations = cp.Variable((n_tasks, n_features))
        coef = deviations + np.ones((n_tasks, 1)) @ cp.reshape(
            shared, (1, n_features), order="C"
        )
        value = 0.5 * model.alpha * cp.sum_squares(deviations)
        return value + 0.5 * model.alpha_mean * cp.sum_squares(shared), coef, []
    if isinstance(model, JointFeatureRegressor):
        coef = cp.Variable((n_tasks, n_features))
        group = cp.sum(cp.norm(coef, 2, axis=0))
        value = model.alpha * model.l1_ratio * group
        ridge = 0.5 * model.alpha * (1 - model.l1_ratio) * cp.sum_squares(coef)
        return value + ridge, coef, []
    penalty = model._penalty()
    blocks = [cp.Variable((n_tasks, n_features)) for _ in range(penalty.n_blocks)]
    coef = blocks[0] if len(blocks) == 1 else blocks[0] + blocks[1]
    value = penalty.to_cvxpy(*blocks, n_tasks=n_tasks)
    value, constraints = value if isinstance(value, tuple) else (value, [])
    return value, coef, constraints


@pytest.mark.parametrize("name", REGRESSORS)
@pytest.mark.parametrize("intercept_alpha", [0.0, TIE])
def test_matches_cvxpy(name, intercept_alpha):
    """Coefficients, task intercepts and ``b_0`` are those of the objective."""
    X, y, weight, task = _task_data()
    model = clone(REGRESSORS[name]).set_params(
        task_column=4, intercept_alpha=intercept_alpha, max_iter=100_000
    )
    model.fit(X, y, sample_weight=weight)
    coef, intercept, shared = _oracle(model, X[:, :4], y, weight, task, intercept_alpha)
    scale = np.abs(coef).max()
    assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-6 * scale)
    assert_allclose(model.intercept_, intercept, rtol=1e-6, atol=1e-6)
    if intercept_alpha:
        assert_allclose(model.shared_intercept_, shared, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", REGRESSORS)
def test_free_intercepts_keep_the_fast_solver(name):
    """``intercept_alpha=0`` (the default) keeps each model's Gram-form solver."""
    X, y, weight, _ = _task_data()
    model = clone(REGRESSORS[name]).set_params(task_column=4)
    assert model.get_params()["intercept_alpha"] == 0.0
    model.fit(X, y, sample_weight=weight)
    fast = {"mean_regularized": "closed_form", "joint_feature": "bcd"}
    expected = fast.get(name, "exact" if name == "graph" else "admm")
    assert model.solver_ == expected


@pytest.mark.parametrize("name", REGRESSORS)
def test_one_task_is_unaffected(name):
    """With one task ``b_0 = b_1``: the tie vanishes whatever its strength."""
    X, y, weight, task = _task_data(sizes=(25,))
    if name in ("clustered",):
        model = clone(REGRESSORS[name]).set_params(n_clusters=1)
    else:
        model = clone(REGRESSORS[name])
    model.set_params(max_iter=100_000)
    free = clone(model).fit(X[:, :4], y, sample_weight=weight)
    tied = clone(model).set_params(intercept_alpha=50.0)
    tied.fit(X[:, :4], y, sample_weight=weight)
    scale = np.abs(free.coef_).max()
    assert_allclose(tied.coef_, free.coef_, rtol=1e-6, atol=1e-6 * scale)
    assert_allclose(tied.intercept_, free.intercept_, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", REGRESSORS)
def test_strong_tie_gives_one_intercept(name):
    """As ``intercept_alpha -> inf`` every task intercept tends to ``b_0``.

    The limit is the model with one intercept for all tasks; at strength
    ``a`` the distance to it is ``O(1 / a)``: about 1e-6 here, below the
    accuracy of the oracle (1e-5, see ``_oracle``).
    """
    X, y, weight, task = _task_data()
    model = clone(REGRESSORS[name]).set_params(
        task_column=4, intercept_alpha=1e6, max_iter=100_000
    )
    if name != "mean_regularized":
        # Duality gaps: rounding in the tie's term keeps them above 1e-12.
        model.set_params(tol=1e-9)
    model.fit(X, y, sample_weight=weight)
    coef, intercept, shared = _oracle(model, X[:, :4], y, weight, task, np.inf)
    assert np.ptp(model.intercept_) < 1e-5
    assert_allclose(model.intercept_, shared, atol=1e-4)
    assert_allclose(model.shared_intercept_, shared, atol=1e-4)
    assert_allclose(model.coef_, coef, atol=1e-4 * np.abs(coef).max())


@pytest.mark.parametrize("name", REGRESSORS)
def test_negative_strength_is_refused(name):
    X, y, weight, _ = _task_data()
    model = clone(REGRESSORS[name]).set_params(task_column=4, intercept_alpha=-1.0)
    with pytest.raises(ValueError, match="intercept_alpha"):
        model.fit(X, y)


@pytest.mark.parametrize(
    "model, solver",
    [
        (JointFeatureRegressor(alpha=0.05), "bcd"),
        (TraceNormRegressor(), "admm"),
        (GraphRegularizedRegressor(), "exact"),
        (GraphRegularizedRegressor(), "admm"),
    ],
)
def test_gram_solvers_refuse_a_tie(model, solver):
    """A solver that profiles free intercepts out says so, and what to use."""
    X, y, weight, _ = _task_data()
    model = clone(model).set_params(task_column=4, intercept_alpha=1.0, solver=solver)
    with pytest.raises(ValueError, match=f"solver='{solver}' needs free task interc"):
        model.fit(X, y)


@pytest.mark.parametrize(
    "case", ["dense", "sparse", "few_rows", "alpha_mean_zero", "strong_tie"]
)
def test_mean_regularized_tied_closed_form_matches_cvxpy(case):
    """The closed form with tied intercepts (the intercept as a feature of
    constant ``sqrt(alpha / intercept_alpha)``, ``b_0`` unpenalised) against
    the objective written in cvxpy; "few_rows" has tasks with fewer rows
    than features plus one (the kernel form of the spectra)."""
    import scipy.sparse as sp

    sizes = (30, 3, 2) if case == "few_rows" else (30, 15, 8)
    X, y, weight, task = _task_data(sizes=sizes)
    params = dict(alpha=0.5, alpha_mean=0.05, intercept_alpha=TIE)
    if case == "alpha_mean_zero":
        params["alpha_mean"] = 0.0
    if case == "strong_tie":
        params["intercept_alpha"] = 50.0
    model = MeanRegularizedRegressor(task_column=4, solver="closed_form", **params).fit(
        sp.csr_matrix(X) if case == "sparse" else X, y, sample_weight=weight
    )
    assert model.solver_ == "closed_form"
    coef, intercept, shared = _oracle(
        model, X[:, :4], y, weight, task, params["intercept_alpha"]
    )
    scale = np.abs(coef).max()
    assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-6 * scale)
    assert_allclose(model.intercept_, intercept, rtol=1e-6, atol=1e-6)
    assert_allclose(model.shared_intercept_, shared, rtol=1e-6, atol=1e-6)


def test_mean_regularized_tied_closed_form_wide():
    """Wide format, every task on the same rows (one spectrum for all tasks),
    against the long-format oracle on the rows repeated per task."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 4))
    Y = X @ rng.normal(size=(4, 3)) + np.array([-2.0, 1.0, 4.0])
    Y = Y + 0.3 * rng.normal(size=Y.shape)
    model = MeanRegularizedRegressor(
        alpha=0.5, alpha_mean=0.05, intercept_alpha=TIE, solver="closed_form"
    ).fit(X, Y)
    task = np.repeat(np.arange(3), 20)
    coef, intercept, shared = _oracle(
        model, np.tile(X, (3, 1)), Y.T.reshape(-1), np.ones(60), task, TIE
    )
    assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-6 * np.abs(coef).max())
    assert_allclose(model.intercept_, intercept, rtol=1e-6, atol=1e-6)
    assert_allclose(model.shared_intercept_, shared, rtol=1e-6, atol=1e-6)


def test_mean_regularized_tied_closed_form_needs_a_positive_alpha():
    X, y, weight, task = _task_data()
    model = MeanRegularizedRegressor(
        alpha=0.0, intercept_alpha=TIE, task_column=4, solver="closed_form"
    )
    with pytest.raises(ValueError, match="needs alpha > 0 and that constant"):
        model.fit(X, y)
    # "auto" takes L-BFGS there: the oracle is met all the same.
    model.set_params(solver="auto", tol=1e-6, max_iter=100_000)
    model.fit(X, y, sample_weight=weight)
    assert model.solver_ == "lbfgs"
    coef, intercept, _ = _oracle(model, X[:, :4], y, weight, task, TIE)
    assert_allclose(model.coef_, coef, rtol=1e-5, atol=1e-5)
    assert_allclose(model.intercept_, intercept, rtol=1e-5, atol=1e-5)


def test_mean_regularized_tied_closed_form_out_of_float_range():
    """Features of magnitude 1e300 with alpha of order 1: the intercept's
    column (about 0.8) cannot share float64 products with them: "auto"
    takes L-BFGS, as before the closed form handled the tie, and
    "closed_form" says why it cannot."""
    X, y, weight, _ = _task_data()
    big = X.copy()
    big[:, :4] *= 1e300
    params = dict(alpha=0.5, alpha_mean=0.05, intercept_alpha=TIE, task_column=4)
    model = MeanRegularizedRegressor(**params).fit(big, y, sample_weight=weight)
    assert model.solver_ == "lbfgs"
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    with pytest.raises(ValueError, match="within float64's range"):
        MeanRegularizedRegressor(solver="closed_form", **params).fit(big, y)


@pytest.mark.parametrize("alphas", [[0.1, 1.0], [0.0, 1.0]])
def test_mean_regularized_cv_tied_matches_grid_search(alphas):
    """The CV's closed-form path with tied intercepts gives the scores of
    GridSearchCV over cvxpy fits of the same grid and folds (with
    ``alpha = 0`` in the grid every point is an L-BFGS fit)."""
    from sklearn.model_selection import GridSearchCV

    from skmtl.model_selection import TaskKFold

    X, y, _, _ = _task_data(sizes=(30, 20, 12))
    cv = TaskKFold(3, task_column=4, shuffle=True, random_state=0)
    grid = dict(alphas=alphas, alpha_means=[0.01, 0.5])
    model = MeanRegularizedRegressorCV(
        task_column=4, intercept_alpha=TIE, cv=cv, **grid
    ).fit(X, y)
    search = GridSearchCV(
        MeanRegularizedRegressor(
            task_column=4,
            intercept_alpha=TIE,
            solver="cvxpy",
        ),
        {"alpha": alphas, "alpha_mean": grid["alpha_means"]},
        cv=cv,
    ).fit(X, y)
    assert_allclose(
        model.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=1e-5,
    )
    assert model.solver_ == ("closed_form" if model.alpha_ > 0 else "lbfgs")
    best = search.best_estimator_
    assert_allclose(model.coef_, best.coef_, rtol=1e-5, atol=1e-6)
    assert_allclose(model.intercept_, best.intercept_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", CV_REGRESSORS, ids=lambda m: type(m).__name__)
def test_cv_refit_uses_the_tie(model):
    """``intercept_alpha`` is a plain parameter of the CV classes, passed on."""
    X, y, weight, task = _task_data()
    tied = clone(model).set_params(task_column=4, intercept_alpha=1e3)
    free = clone(model).set_params(task_column=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tied.fit(X, y, sample_weight=weight)
        free.fit(X, y, sample_weight=weight)
    assert tied.get_params()["intercept_alpha"] == 1e3
    # Free: the offsets -2, 1, 4 of the tasks; tied: nearly one intercept.
    assert np.ptp(free.intercept_) > 3.0
    assert np.ptp(tied.intercept_) < 0.1


def _linear_estimators():
    """Every public estimator of :mod:`skmtl.linear_model`, with small CV grids."""
    import skmtl.linear_model as linear_model

    small = {"alphas": 2, "n_alphas": 2, "eps": 0.1, "cv": 2, "max_iter": 200}
    estimators = []
    for name in linear_model.__all__:
        cls = getattr(linear_model, name)
        if not isinstance(cls, type) or not hasattr(cls, "fit"):
            continue
        model = cls()
        params = model.get_params()
        if name.endswith("CV"):
            model.set_params(**{k: v for k, v in small.items() if k in params})
            # One point of each extra grid.
            for grid in getattr(cls, "_grid_params", {}):
                model.set_params(**{grid: [np.atleast_1d(params[grid])[0]]})
        if name == "MeanRegularizedRegressorCV":
            model.set_params(alphas=[0.1, 1.0], alpha_means=[0.01])
        if "n_clusters" in params:
            model.set_params(n_clusters=2)
        estimators.append(model.set_params(task_column=4))
    return estimators


@pytest.mark.parametrize(
    "model", _linear_estimators(), ids=lambda model: type(model).__name__
)
def test_fit_records_the_source_noise(model):
    """Every linear fit leaves ``_source_noise`` for the new tasks' prior.

    Regressors: the mean over tasks of the weighted mean squared residual,
    computed here from ``predict``.
    """
    X, y, weight, task = _task_data()
    classifier = hasattr(model, "predict_proba") or "Classifier" in type(model).__name__
    target = (y > np.median(y)).astype(int) if classifier else y
    with warnings.catch_warnings():
        # Default tolerances on small grids: convergence is not the point.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, target, sample_weight=weight)
    noise = model._source_noise
    assert isinstance(noise, float) and np.isfinite(noise) and noise > 0
    if not classifier:
        squared = (y - model.predict(X)) ** 2
        per_task = [
            np.average(squared[task == t], weights=weight[task == t]) for t in range(3)
        ]
        expected = np.mean(per_task)
        assert noise == pytest.approx(expected, rel=1e-10)
