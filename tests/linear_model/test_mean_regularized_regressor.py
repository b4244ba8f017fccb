"""MeanRegularizedRegressor(CV) against independent oracles.

Oracles: the objective written below from its formula (numpy, looping over
task labels of the caller's arrays) minimised by cvxpy; sklearn's ``Ridge``
and ``LinearRegression`` in the limits the docstring maps to them; the same
data in another format; ``GridSearchCV`` for the CV estimator.
"""

import importlib.util

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.fixes import parse_version

from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV

pd = pytest.importorskip("pandas")

HAS_LBFGS = importlib.util.find_spec("skmtl.solvers.lbfgs") is not None
HAS_TASK_KFOLD = importlib.util.find_spec("skmtl.model_selection") is not None
HAS_PIPELINE = importlib.util.find_spec("skmtl.pipeline") is not None
# scikit-learn 1.7 (PR #30743) started forwarding sample_weight to the scorer in
# GridSearchCV; MeanRegularizedRegressorCV always does.
SEARCH_WEIGHTS_SCORES = parse_version(sklearn.__version__) >= parse_version("1.7")


def long_problem(sizes=(8, 13, 30), n_features=3, seed=0):
    """Unequal tasks in shuffled rows, with sample weights; task in column 0."""
    rng = np.random.default_rng(seed)
    task = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    features = rng.normal(size=(len(task), n_features)) + 0.5
    common = rng.normal(size=n_features)
    specific = 0.5 * rng.normal(size=(len(sizes), n_features))
    y = np.einsum("ij,ij->i", features, common + specific[task]) + 2.0 * task
    y = y + 0.3 * rng.normal(size=len(task))
    weight = rng.uniform(0.2, 3.0, size=len(task))
    return np.column_stack([task, features]), y, weight


def objective(X, y, weight, model, alpha, alpha_mean):
    """The documented objective, written from the formula."""
    task, features = X[:, 0], X[:, 1:]
    value = 0.0
    for t, label in enumerate(np.unique(task)):
        rows = task == label
        residual = y[rows] - features[rows] @ model.coef_[t] - model.intercept_[t]
        value += 0.5 * np.sum(weight[rows] * residual**2) / np.sum(weight[rows])
    deviations = model.coef_ - model.shared_coef_
    value += 0.5 * alpha * np.sum(deviations**2)
    return value + 0.5 * alpha_mean * np.sum(model.shared_coef_**2)


# --------------------------------------------------------------------------
# the objective: cvxpy oracle and the other solvers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, alpha_mean", [(1.0, 0.01), (0.1, 2.0), (5.0, 0.0)])
def test_matches_cvxpy_on_unequal_weighted_tasks(alpha, alpha_mean, fit_intercept):
    """Relative objective difference <= 1e-6 (cvxpy's conic tolerance)."""
    X, y, weight = long_problem()
    params = dict(
        alpha=alpha, alpha_mean=alpha_mean, task_column=0, fit_intercept=fit_intercept
    )
    exact = MeanRegularizedRegressor(**params).fit(X, y, sample_weight=weight)
    reference = MeanRegularizedRegressor(solver="cvxpy", **params).fit(
        X, y, sample_weight=weight
    )
    assert exact.solver_ == "closed_form" and reference.solver_ == "cvxpy"
    value = objective(X, y, weight, exact, alpha, alpha_mean)
    reference_value = objective(X, y, weight, reference, alpha, alpha_mean)
    assert abs(value - reference_value) <= 1e-6 * abs(reference_value)
    # The closed form is exact: it is never worse than the conic solution.
    assert value <= reference_value * (1 + 1e-12)
    np.testing.assert_allclose(exact.coef_, reference.coef_, atol=1e-5)
    np.testing.assert_allclose(exact.shared_coef_, reference.shared_coef_, atol=1e-5)
    np.testing.assert_allclose(exact.intercept_, reference.intercept_, atol=1e-5)


@pytest.mark.skipif(not HAS_LBFGS, reason="skmtl.solvers.lbfgs not available")
def test_lbfgs_solver_reaches_the_same_objective():
    X, y, weight = long_problem(seed=1)
    exact = MeanRegularizedRegressor(0.5, 0.1, task_column=0).fit(X, y, weight)
    iterative = MeanRegularizedRegressor(
        0.5, 0.1, task_column=0, solver="lbfgs", tol=1e-8
    ).fit(X, y, weight)
    assert iterative.solver_ == "lbfgs" and iterative.n_iter_ >= 1
    value = objective(X, y, weight, exact, 0.5, 0.1)
    # A gradient sup-norm of 1e-8 leaves an objective error of O(1e-16 .. 1e-12).
    assert objective(X, y, weight, iterative, 0.5, 0.1) == pytest.approx(
        value, rel=1e-9
    )
    np.testing.assert_allclose(iterative.coef_, exact.coef_, atol=1e-6)


@pytest.mark.skipif(not HAS_LBFGS, reason="skmtl.solvers.lbfgs not available")
def test_auto_solver_routes_very_many_features_to_lbfgs():
    rng = np.random.default_rng(0)
    features = sp.random(30, 5001, density=0.002, random_state=0, format="csr")
    task = sp.csr_matrix(np.repeat([0.0, 1.0], 15)[:, None])
    X = sp.hstack([task, features], format="csr")
    y = rng.normal(size=30)
    model = MeanRegularizedRegressor(task_column=0).fit(X, y)
    assert model.solver_ == "lbfgs"
    small = MeanRegularizedRegressor(task_column=0).fit(*long_problem()[:2])
    assert small.solver_ == "closed_form" and small.n_iter_ == 1


# --------------------------------------------------------------------------
# limits and the single-task twin: exact mappings to sklearn's Ridge
# --------------------------------------------------------------------------


def test_large_alpha_is_pooled_ridge_on_task_centred_rows():
    """alpha -> inf: Ridge(alpha=alpha_mean), sample_weight s_i / n_t.

    The deviations are O(1 / alpha), so alpha = 1e9 agrees to ~1e-8.
    """
    X, y, weight = long_problem(seed=2)
    task, features = X[:, 0], X[:, 1:]
    model = MeanRegularizedRegressor(1e9, 0.3, task_column=0).fit(X, y, weight)
    n_t = np.bincount(task.astype(int), weights=weight)
    scale = weight / n_t[task.astype(int)]
    centred_X, centred_y = features.copy(), y.copy()
    for label in np.unique(task):
        rows = task == label
        centred_X[rows] -= np.average(features[rows], axis=0, weights=weight[rows])
        centred_y[rows] -= np.average(y[rows], weights=weight[rows])
    pooled = Ridge(alpha=0.3, fit_intercept=False).fit(
        centred_X, centred_y, sample_weight=scale
    )
    np.testing.assert_allclose(model.shared_coef_, pooled.coef_, rtol=1e-6)
    np.testing.assert_allclose(model.coef_, np.tile(pooled.coef_, (3, 1)), rtol=1e-6)


def test_large_alpha_mean_is_per_task_ridge():
    """alpha_mean -> inf: task t is Ridge(alpha=alpha * n_t), sample_weight s_i."""
    X, y, weight = long_problem(seed=3)
    model = MeanRegularizedRegressor(0.4, 1e10, task_column=0).fit(X, y, weight)
    np.testing.assert_allclose(model.shared_coef_, 0.0, atol=1e-8)
    for t, label in enumerate(model.tasks_):
        rows = X[:, 0] == label
        ridge = Ridge(alpha=0.4 * weight[rows].sum()).fit(
            X[rows, 1:], y[rows], sample_weight=weight[rows]
        )
        np.testing.assert_allclose(model.coef_[t], ridge.coef_, rtol=1e-7)
        np.testing.assert_allclose(model.intercept_[t], ridge.intercept_, rtol=1e-7)


@pytest.mark.parametrize("alpha, alpha_mean", [(1.0, 0.01), (0.3, 3.0), (2.0, 2.0)])
def test_one_task_is_ridge_with_the_combined_strength(alpha, alpha_mean):
    """One task: Ridge(alpha=kappa * n) with the combined strength kappa.

    kappa = alpha * alpha_mean / (alpha + alpha_mean). Exact, not a limit; the
    shared part is alpha / (alpha + alpha_mean) of w.
    """
    X, y, weight = long_problem(sizes=(40,), seed=4)
    features = X[:, 1:]
    model = MeanRegularizedRegressor(alpha, alpha_mean).fit(features, y, weight)
    kappa = alpha * alpha_mean / (alpha + alpha_mean)
    ridge = Ridge(alpha=kappa * weight.sum()).fit(features, y, sample_weight=weight)
    np.testing.assert_allclose(model.coef_[0], ridge.coef_, rtol=1e-10)
    np.testing.assert_allclose(model.intercept_[0], ridge.intercept_, rtol=1e-10)
    np.testing.assert_allclose(
        model.shared_coef_, alpha / (alpha + alpha_mean) * ridge.coef_, rtol=1e-10
    )
    np.testing.assert_allclose(model.predict(features), ridge.predict(features))


def test_alpha_zero_is_independent_least_squares():
    X, y, weight = long_problem(seed=5)
    model = MeanRegularizedRegressor(0.0, 1.0, task_column=0).fit(X, y, weight)
    for t, label in enumerate(model.tasks_):
        rows = X[:, 0] == label
        reference = LinearRegression().fit(
            X[rows, 1:], y[rows], sample_weight=weight[rows]
        )
        np.testing.assert_allclose(model.coef_[t], reference.coef_, rtol=1e-9)


# --------------------------------------------------------------------------
# data formats
# --------------------------------------------------------------------------


def wide_problem(seed=6, n_rows=25, n_tasks=3):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_rows, 3))
    Y = features @ rng.normal(size=(3, n_tasks)) + rng.normal(size=(n_rows, n_tasks))
    return features, Y, rng.uniform(0.5, 2.0, size=n_rows)


def stack_wide(features, Y, weight):
    """Long format of wide data: one row per observed (row, task)."""
    rows, tasks = np.nonzero(~np.isnan(Y))
    X_long = np.column_stack([tasks, features[rows]])
    return X_long, Y[rows, tasks], weight[rows]


def assert_same_model(a, b, rtol=1e-9):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.shared_coef_, b.shared_coef_, rtol=rtol, atol=1e-12)


def test_wide_fully_observed_equals_long_stacked():
    features, Y, weight = wide_problem()
    wide = MeanRegularizedRegressor(0.5, 0.1).fit(features, Y, weight)
    long = MeanRegularizedRegressor(0.5, 0.1, task_column=0).fit(
        *stack_wide(features, Y, weight)
    )
    assert_same_model(wide, long)
    assert wide.predict(features).shape == (25, 3)
    np.testing.assert_allclose(
        wide.predict(features), features @ wide.coef_.T + wide.intercept_
    )


def test_wide_with_nan_equals_long_without_those_rows():
    features, Y, weight = wide_problem(seed=7)
    Y[np.random.default_rng(0).random(Y.shape) < 0.3] = np.nan
    wide = MeanRegularizedRegressor(0.5, 0.1).fit(features, Y, weight)
    long = MeanRegularizedRegressor(0.5, 0.1, task_column=0).fit(
        *stack_wide(features, Y, weight)
    )
    assert_same_model(wide, long)
    observed = ~np.isnan(Y)
    expected = np.mean(
        [
            1
            - np.sum(
                (Y[observed[:, t], t] - wide.predict(features)[observed[:, t], t]) ** 2
            )
            / np.sum((Y[observed[:, t], t] - Y[observed[:, t], t].mean()) ** 2)
            for t in range(3)
        ]
    )
    assert wide.score(features, Y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
@pytest.mark.parametrize("n_features", [3, 20])
def test_sparse_equals_dense(sparse_format, n_features):
    """n_features=20 > rows of the smallest tasks: the kernel form."""
    X, y, weight = long_problem(n_features=n_features, seed=8)
    X[:, 1:][np.abs(X[:, 1:]) < 0.7] = 0.0
    dense = MeanRegularizedRegressor(0.3, 0.05, task_column=0).fit(X, y, weight)
    X_sparse = sp.csr_matrix(X).asformat(sparse_format)
    sparse = MeanRegularizedRegressor(0.3, 0.05, task_column=0).fit(X_sparse, y, weight)
    assert_same_model(sparse, dense, rtol=1e-8)
    np.testing.assert_allclose(sparse.predict(X_sparse), dense.predict(X), rtol=1e-9)


def test_dataframe_with_string_task_labels():
    X, y, weight = long_problem(seed=9)
    names = np.array(["Camden", "Hackney", "Lambeth"])
    frame = pd.DataFrame(X[:, 1:], columns=["ravens", "fsm", "vr1"])
    frame.insert(1, "school", names[X[:, 0].astype(int)])
    model = MeanRegularizedRegressor(task_column="school").fit(frame, y, weight)
    array_model = MeanRegularizedRegressor(task_column=0).fit(X, y, weight)
    assert list(model.tasks_) == list(names)
    assert list(model.feature_names_in_) == ["ravens", "fsm", "vr1"]
    assert model.task_column_ == "school"
    assert_same_model(model, array_model)
    np.testing.assert_allclose(model.predict(frame), array_model.predict(X))


# --------------------------------------------------------------------------
# unknown tasks and bad input
# --------------------------------------------------------------------------


def test_negative_alpha_is_rejected_by_the_constraints():
    X, y, _ = long_problem()
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'alpha' parameter of MeanRegularizedRegressor must be a float "
        r"in the range \[0(\.0)?, inf\)",
    ):
        MeanRegularizedRegressor(alpha=-1.0, task_column=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'alpha_mean' parameter"):
        MeanRegularizedRegressor(alpha_mean=-0.1, task_column=0).fit(X, y)


def test_unknown_task_raises_naming_unknown_and_known_tasks():
    X, y, _ = long_problem()
    model = MeanRegularizedRegressor(task_column=0).fit(X, y)
    X_new = X[:4].copy()
    X_new[:2, 0] = 7
    with pytest.raises(ValueError, match=r"\[7\.?0?\].*known tasks: \[0\.?0?, 1"):
        model.predict(X_new)


def test_unknown_task_shared_uses_the_shared_model():
    X, y, _ = long_problem()
    model = MeanRegularizedRegressor(task_column=0, unknown_task="shared").fit(X, y)
    assert model.shared_intercept_ == pytest.approx(np.mean(model.intercept_))
    X_new = X[:6].copy()
    X_new[:3, 0] = 99
    predictions = model.predict(X_new)
    shared = X_new[:3, 1:] @ model.shared_coef_ + model.shared_intercept_
    np.testing.assert_allclose(predictions[:3], shared)
    known = model.predict(X[3:6])
    np.testing.assert_allclose(predictions[3:], known)


def test_fit_and_predict_leave_the_callers_data_unchanged():
    X, y, weight = long_problem()
    frame = pd.DataFrame(X, columns=["task", "a", "b", "c"])
    originals = X.copy(), y.copy(), weight.copy(), frame.copy()
    for estimator in (
        MeanRegularizedRegressor(task_column=0),
        MeanRegularizedRegressorCV(task_column=0, cv=3),
    ):
        estimator.fit(X, y, sample_weight=weight)
        estimator.predict(X)
    MeanRegularizedRegressor(task_column="task").fit(frame, y, weight).predict(frame)
    np.testing.assert_array_equal(X, originals[0])
    np.testing.assert_array_equal(y, originals[1])
    np.testing.assert_array_equal(weight, originals[2])
    pd.testing.assert_frame_equal(frame, originals[3])


def test_cv_rejects_bad_grids():
    X, y, _ = long_problem()
    with pytest.raises(ValueError, match="alphas must be.*got negative"):
        MeanRegularizedRegressorCV(alphas=[1.0, -1.0], task_column=0).fit(X, y)


# --------------------------------------------------------------------------
# MeanRegularizedRegressorCV against GridSearchCV
# --------------------------------------------------------------------------

ALPHAS = (0.01, 0.3, 10.0)
ALPHA_MEANS = (0.0, 0.1, 5.0)


def assert_same_search(cv_model, search, rtol=1e-8):
    results = search.cv_results_
    assert cv_model.alpha_ == search.best_params_["alpha"]
    assert cv_model.alpha_mean_ == search.best_params_["alpha_mean"]
    assert cv_model.cv_results_["params"] == results["params"]
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_allclose(
            cv_model.cv_results_[key], results[key], rtol=rtol, atol=1e-12
        )
    np.testing.assert_array_equal(
        cv_model.cv_results_["rank_test_score"], results["rank_test_score"]
    )
    np.testing.assert_array_equal(
        cv_model.cv_results_["param_alpha"], results["param_alpha"]
    )
    assert cv_model.best_score_ == pytest.approx(search.best_score_, rel=rtol)
    assert_same_model(cv_model, search.best_estimator_)


@pytest.mark.skipif(not HAS_TASK_KFOLD, reason="skmtl.model_selection missing")
@pytest.mark.skipif(not SEARCH_WEIGHTS_SCORES, reason="GridSearchCV < 1.7")
@pytest.mark.parametrize("scoring", [None, "neg_mean_absolute_error"])
def test_cv_equals_grid_search_on_task_folds(scoring):
    from skmtl.model_selection import TaskKFold

    X, y, weight = long_problem(sizes=(15, 20, 40), seed=10)
    folds = TaskKFold(n_splits=3, task_column=0, shuffle=True, random_state=0)
    cv_model = MeanRegularizedRegressorCV(
        ALPHAS, ALPHA_MEANS, task_column=0, cv=folds, scoring=scoring
    ).fit(X, y, sample_weight=weight)
    search = GridSearchCV(
        MeanRegularizedRegressor(task_column=0),
        {"alpha": ALPHAS, "alpha_mean": ALPHA_MEANS},
        cv=folds,
        scoring=scoring,
    ).fit(X, y, sample_weight=weight)
    assert_same_search(cv_model, search)


@pytest.mark.skipif(not HAS_TASK_KFOLD, reason="skmtl.model_selection missing")
def test_cv_default_folds_are_task_folds():
    from skmtl.model_selection import TaskKFold

    X, y, _ = long_problem(sizes=(15, 20, 40), seed=11)
    cv_model = MeanRegularizedRegressorCV(ALPHAS, ALPHA_MEANS, task_column=0, cv=4)
    cv_model.fit(X, y)
    search = GridSearchCV(
        MeanRegularizedRegressor(task_column=0),
        {"alpha": ALPHAS, "alpha_mean": ALPHA_MEANS},
        cv=TaskKFold(4, task_column=0),
    ).fit(X, y)
    assert_same_search(cv_model, search)


@pytest.mark.parametrize("weighted", [False, True])
def test_cv_equals_grid_search_on_wide_data_with_nan(weighted):
    if weighted and not SEARCH_WEIGHTS_SCORES:
        pytest.skip("GridSearchCV < 1.7 does not weight the scores")
    features, Y, weight = wide_problem(seed=12, n_rows=40)
    Y[np.random.default_rng(1).random(Y.shape) < 0.2] = np.nan
    fit_params = {"sample_weight": weight} if weighted else {}
    folds = KFold(4, shuffle=True, random_state=0)
    cv_model = MeanRegularizedRegressorCV(ALPHAS, ALPHA_MEANS, cv=folds).fit(
        features, Y, **fit_params
    )
    search = GridSearchCV(
        MeanRegularizedRegressor(),
        {"alpha": ALPHAS, "alpha_mean": ALPHA_MEANS},
        cv=folds,
    ).fit(features, Y, **fit_params)
    assert_same_search(cv_model, search)


@pytest.mark.skipif(not HAS_TASK_KFOLD, reason="skmtl.model_selection missing")
def test_cv_on_held_out_tasks_with_the_shared_model():
    """LeaveTasksOut folds test unseen tasks: unknown_task='shared' scores them."""
    from skmtl.model_selection import LeaveTasksOut

    X, y, _ = long_problem(sizes=(15, 20, 40, 12, 18), seed=15)
    folds = LeaveTasksOut(n_splits=3, task_column=0, random_state=0)
    cv_model = MeanRegularizedRegressorCV(
        ALPHAS, ALPHA_MEANS, task_column=0, cv=folds, unknown_task="shared"
    ).fit(X, y)
    search = GridSearchCV(
        MeanRegularizedRegressor(task_column=0, unknown_task="shared"),
        {"alpha": ALPHAS, "alpha_mean": ALPHA_MEANS},
        cv=folds,
    ).fit(X, y)
    assert_same_search(cv_model, search)


def test_cv_ties_go_to_the_first_grid_point_like_grid_search():
    """Duplicated grid values tie exactly; both pick the first."""
    X, y, _ = long_problem(sizes=(15, 20, 40), seed=13)
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    grid = {"alpha": (1.0, 1.0), "alpha_mean": (0.1, 0.1)}
    cv_model = MeanRegularizedRegressorCV(
        grid["alpha"], grid["alpha_mean"], task_column=0, cv=folds
    ).fit(X, y)
    search = GridSearchCV(MeanRegularizedRegressor(task_column=0), grid, cv=folds)
    search.fit(X, y)
    assert search.best_index_ == 0
    assert list(cv_model.cv_results_["rank_test_score"]) == [1, 1, 1, 1]
    assert_same_search(cv_model, search)


@pytest.mark.skipif(
    not (HAS_TASK_KFOLD and HAS_PIPELINE), reason="skmtl.pipeline missing"
)
def test_grid_search_over_a_pipeline_with_task_column_passthrough():
    from skmtl.model_selection import TaskKFold
    from skmtl.pipeline import TaskColumnPassthrough

    X, y, _ = long_problem(sizes=(15, 20, 40), seed=14)
    frame = pd.DataFrame(X[:, 1:] * [1.0, 10.0, 100.0], columns=["a", "b", "c"])
    frame.insert(0, "school", np.array(["x", "y", "z"])[X[:, 0].astype(int)])
    pipeline = Pipeline(
        [
            ("prep", TaskColumnPassthrough(StandardScaler(), task_column="school")),
            ("mtl", MeanRegularizedRegressor(task_column="school")),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"mtl__alpha": [0.01, 1.0, 100.0], "mtl__alpha_mean": [0.001, 0.1]},
        cv=TaskKFold(3, task_column="school", shuffle=True, random_state=0),
    ).fit(frame, y)
    best = search.best_estimator_
    scaled = best.named_steps["prep"].transform(frame)
    direct = MeanRegularizedRegressor(
        search.best_params_["mtl__alpha"],
        search.best_params_["mtl__alpha_mean"],
        task_column="school",
    ).fit(scaled, y)
    assert_same_model(best.named_steps["mtl"], direct)
    assert list(best.named_steps["mtl"].tasks_) == ["x", "y", "z"]
    assert np.isfinite(search.score(frame, y))


def test_cv_on_sparse_input_equals_dense():
    X, y, weight = long_problem(sizes=(15, 20, 40), seed=16)
    X[:, 1:][np.abs(X[:, 1:]) < 0.7] = 0.0
    folds = list(KFold(3, shuffle=True, random_state=2).split(X))
    dense = MeanRegularizedRegressorCV(ALPHAS, ALPHA_MEANS, task_column=0, cv=folds)
    sparse = MeanRegularizedRegressorCV(ALPHAS, ALPHA_MEANS, task_column=0, cv=folds)
    dense.fit(X, y, sample_weight=weight)
    sparse.fit(sp.csr_matrix(X), y, sample_weight=weight)
    np.testing.assert_allclose(
        sparse.cv_results_["mean_test_score"],
        dense.cv_results_["mean_test_score"],
        rtol=1e-9,
    )
    assert (sparse.alpha_, sparse.alpha_mean_) == (dense.alpha_, dense.alpha_mean_)
    assert_same_model(sparse, dense, rtol=1e-8)
