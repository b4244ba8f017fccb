"""The regularisation-path + cross-validation engine (skmtl.linear_model._cv).

The engine is exercised through thin subclasses over the trace-norm and
sparse + low-rank regressors, and checked against independent oracles:
scikit-learn's ``GridSearchCV`` over the same base estimator, folds and grid,
cold fits at every strength, and the zero solution at ``alpha_max``.
"""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureClassifierCV,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    MeanRegularizedRegressor,
    MeanRegularizedRegressorCV,
    SparseLowRankRegressor,
    TraceNormRegressor,
)
from skmtl.linear_model._cv import CV_CONSTRAINTS, PathCVMixin
from skmtl.linear_model._penalized import PenalizedRegressorMixin
from skmtl.model_selection import TaskKFold

_FIXED = ("task_column", "tol", "max_iter")


class _TraceNormCV(PathCVMixin, PenalizedRegressorMixin, BaseEstimator):
    _estimator_class = TraceNormRegressor
    _path_param = "alpha"
    _grid_params = {}
    _parameter_constraints = {
        **CV_CONSTRAINTS,
        **{k: TraceNormRegressor._parameter_constraints[k] for k in _FIXED},
    }

    def __init__(
        self,
        *,
        alphas=4,
        eps=1e-2,
        cv=None,
        scoring=None,
        n_jobs=None,
        task_column=0,
        tol=1e-10,
        max_iter=100000,
    ):
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.task_column = task_column
        self.tol = tol
        self.max_iter = max_iter


class _SparseLowRankCV(PathCVMixin, PenalizedRegressorMixin, BaseEstimator):
    _estimator_class = SparseLowRankRegressor
    _path_param = "alpha_sparse"
    _grid_params = {
        "rank_ratios": ("rank_ratio", lambda a, r: {"alpha_rank": r * a}),
    }
    _parameter_constraints = {
        **CV_CONSTRAINTS,
        "rank_ratios": ["array-like"],
        **{k: SparseLowRankRegressor._parameter_constraints[k] for k in _FIXED},
    }

    def __init__(
        self,
        *,
        alphas=3,
        rank_ratios=(0.5, 2.0),
        eps=1e-1,
        cv=None,
        scoring=None,
        n_jobs=None,
        task_column=0,
        tol=1e-10,
        max_iter=100000,
    ):
        self.alphas = alphas
        self.rank_ratios = rank_ratios
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.task_column = task_column
        self.tol = tol
        self.max_iter = max_iter


def _long_data(seed=0, n_tasks=3, n_per_task=20, n_features=4):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n_tasks, n_features))
    tasks = np.repeat(np.arange(n_tasks), n_per_task)
    F = rng.normal(size=(tasks.size, n_features))
    y = np.einsum("ij,ij->i", F, W[tasks]) + 0.3 * rng.normal(size=tasks.size)
    return np.column_stack([tasks, F]), y


def _folds(X, n_splits=3):
    return list(TaskKFold(n_splits, task_column=0).split(X))


def test_cv_results_equal_grid_search():
    X, y = _long_data()
    folds = _folds(X)
    cv = _TraceNormCV(cv=folds).fit(X, y)
    base = TraceNormRegressor(task_column=0, tol=1e-10, max_iter=100000)
    grid = GridSearchCV(base, {"alpha": list(cv.alphas_)}, cv=folds).fit(X, y)
    for key in ["mean_test_score", "std_test_score"] + [
        f"split{k}_test_score" for k in range(3)
    ]:
        np.testing.assert_allclose(
            cv.cv_results_[key], grid.cv_results_[key], rtol=1e-6, atol=1e-8
        )
    np.testing.assert_array_equal(
        cv.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
    )
    assert cv.best_params_ == pytest.approx(grid.best_params_)
    assert cv.best_index_ == grid.best_index_
    assert cv.best_score_ == pytest.approx(grid.best_score_, rel=1e-6)
    assert cv.alpha_ == pytest.approx(grid.best_params_["alpha"])
    assert cv.n_splits_ == 3
    assert set(grid.cv_results_) <= set(cv.cv_results_)
    assert isinstance(cv.cv_results_["param_alpha"], np.ma.MaskedArray)
    # The refit at the best point is the base estimator fitted there.
    np.testing.assert_allclose(cv.coef_, grid.best_estimator_.coef_, atol=1e-7)
    np.testing.assert_allclose(cv.predict(X), grid.predict(X), atol=1e-7)


def test_extra_grid_equals_grid_search():
    X, y = _long_data(seed=1)
    folds = _folds(X)
    cv = _SparseLowRankCV(cv=folds).fit(X, y)
    assert cv.alphas_.shape == (2, 3)
    params = cv.cv_results_["params"]
    assert {round(p["rank_ratio"], 12) for p in params} == {0.5, 2.0}
    for p in params:
        assert set(p) == {"alpha_sparse", "rank_ratio"}
    base = SparseLowRankRegressor(task_column=0, tol=1e-10, max_iter=100000)
    grid_params = [
        {
            "alpha_sparse": [p["alpha_sparse"]],
            "alpha_rank": [p["rank_ratio"] * p["alpha_sparse"]],
        }
        for p in params
    ]
    grid = GridSearchCV(base, grid_params, cv=folds).fit(X, y)
    np.testing.assert_allclose(
        cv.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-6,
        atol=1e-8,
    )
    assert cv.best_index_ == grid.best_index_
    assert cv.rank_ratio_ == cv.best_params_["rank_ratio"]
    assert cv.alpha_ == pytest.approx(grid.best_params_["alpha_sparse"])


def test_int_alphas_start_at_alpha_max():
    X, y = _long_data(seed=2)
    cv = _TraceNormCV(alphas=5, eps=1e-3, cv=_folds(X)).fit(X, y)
    path = cv.alphas_
    assert path.shape == (5,)
    np.testing.assert_allclose(path[-1] / path[0], 1e-3)
    assert np.all(np.diff(path) < 0)
    at_max = TraceNormRegressor(alpha=path[0], task_column=0, tol=1e-10).fit(X, y)
    assert np.abs(at_max.coef_).max() == 0.0
    below = TraceNormRegressor(alpha=0.95 * path[0], task_column=0, tol=1e-10)
    assert np.abs(below.fit(X, y).coef_).max() > 0.0


def test_array_alphas_sorted_decreasing():
    X, y = _long_data(seed=3)
    cv = _TraceNormCV(alphas=[0.01, 1.0, 0.1], cv=_folds(X)).fit(X, y)
    np.testing.assert_allclose(cv.alphas_, [1.0, 0.1, 0.01])


@pytest.mark.parametrize("alphas", [[], [0.1, -1.0], [np.nan]])
def test_invalid_array_alphas(alphas):
    X, y = _long_data()
    with pytest.raises(ValueError, match="alphas must be a positive int"):
        _TraceNormCV(alphas=alphas).fit(X, y)


def test_invalid_grid_values():
    X, y = _long_data()
    with pytest.raises(ValueError, match="rank_ratios must be a positive"):
        _SparseLowRankCV(rank_ratios=[1.0, -2.0]).fit(X, y)


def test_warm_path_equals_cold_fits():
    """The per-fold warm-started path scores as cold fits at each strength."""
    X, y = _long_data(seed=4)
    folds = _folds(X)
    cv = _TraceNormCV(alphas=4, cv=folds).fit(X, y)
    for k, (train, test) in enumerate(folds):
        for i, alpha in enumerate(cv.alphas_):
            cold = TraceNormRegressor(
                alpha=alpha, task_column=0, tol=1e-10, max_iter=100000
            )
            cold.fit(X[train], y[train])
            score = cold.score(X[test], y[test])
            assert cv.cv_results_[f"split{k}_test_score"][i] == pytest.approx(
                score, rel=1e-6, abs=1e-9
            )


def test_n_jobs_equal():
    X, y = _long_data(seed=5)
    one = _TraceNormCV(cv=_folds(X), n_jobs=1).fit(X, y)
    two = _TraceNormCV(cv=_folds(X), n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )
    np.testing.assert_allclose(one.coef_, two.coef_)


def test_scoring_string_and_callable():
    X, y = _long_data(seed=6)
    folds = _folds(X)
    base = TraceNormRegressor(task_column=0, tol=1e-10, max_iter=100000)
    by_name = _TraceNormCV(cv=folds, scoring="neg_mean_absolute_error").fit(X, y)
    grid = GridSearchCV(
        base,
        {"alpha": list(by_name.alphas_)},
        cv=folds,
        scoring="neg_mean_absolute_error",
    ).fit(X, y)
    np.testing.assert_allclose(
        by_name.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-6,
    )

    def max_error(estimator, X_test, y_test):
        return -np.max(np.abs(estimator.predict(X_test) - y_test))

    by_callable = _TraceNormCV(cv=folds, scoring=max_error).fit(X, y)
    grid = GridSearchCV(
        base, {"alpha": list(by_callable.alphas_)}, cv=folds, scoring=max_error
    ).fit(X, y)
    np.testing.assert_allclose(
        by_callable.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-6,
    )


def test_groups_routed_to_splitter():
    X, y = _long_data(seed=7)
    groups = np.tile(np.arange(4), len(y) // 4)
    splitter = GroupKFold(n_splits=4)
    with config_context(enable_metadata_routing=True):
        cv = _TraceNormCV(cv=splitter).fit(X, y, groups=groups)
    folds = list(splitter.split(X, y, groups))
    for k, (train, test) in enumerate(folds):
        cold = TraceNormRegressor(
            alpha=cv.alphas_[1], task_column=0, tol=1e-10, max_iter=100000
        )
        score = cold.fit(X[train], y[train]).score(X[test], y[test])
        assert cv.cv_results_[f"split{k}_test_score"][1] == pytest.approx(
            score, rel=1e-6
        )


def test_sample_weight_to_fit_and_scorer():
    X, y = _long_data(seed=8)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    cv = _TraceNormCV(cv=folds).fit(X, y, sample_weight=weight)
    train, test = folds[0]
    cold = TraceNormRegressor(
        alpha=cv.alphas_[2], task_column=0, tol=1e-10, max_iter=100000
    )
    cold.fit(X[train], y[train], sample_weight=weight[train])
    score = cold.score(X[test], y[test], sample_weight=weight[test])
    assert cv.cv_results_["split0_test_score"][2] == pytest.approx(score, rel=1e-6)


def test_joint_feature_regressor_cv_results_equal_grid_search():
    X, y = _long_data(seed=9, n_features=6)
    folds = _folds(X)
    cv = JointFeatureRegressorCV(
        alphas=5, eps=1e-2, task_column=0, cv=folds, tol=1e-10, max_iter=100000
    ).fit(X, y)
    assert cv.alphas_.shape == (5,)
    base = JointFeatureRegressor(task_column=0, tol=1e-10, max_iter=100000)
    grid = GridSearchCV(
        base,
        {"alpha": list(cv.alphas_), "l1_ratio": [1.0]},
        cv=folds,
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    for key in ["mean_test_score", "split0_test_score", "split2_test_score"]:
        np.testing.assert_allclose(
            cv.cv_results_[key], grid.cv_results_[key], rtol=1e-6, atol=1e-10
        )
    np.testing.assert_allclose(cv.cv_results_["mean_test_score"], -cv.mse_path_.mean(1))
    assert cv.best_index_ == grid.best_index_
    assert cv.best_params_ == pytest.approx(grid.best_params_)
    assert cv.best_score_ == pytest.approx(grid.best_score_, rel=1e-6)
    assert (cv.l1_ratio_, cv.n_splits_) == (1.0, 3)
    assert set(grid.cv_results_) <= set(cv.cv_results_)


def test_joint_feature_int_alphas_equal_n_alphas():
    X, y = _long_data(seed=10)
    by_int = JointFeatureRegressorCV(alphas=4, task_column=0, cv=3).fit(X, y)
    by_n = JointFeatureRegressorCV(n_alphas=4, task_column=0, cv=3).fit(X, y)
    np.testing.assert_allclose(by_int.alphas_, by_n.alphas_)
    at_max = JointFeatureRegressor(alpha=by_int.alphas_[0], task_column=0).fit(X, y)
    assert np.abs(at_max.coef_).max() == 0.0
    below = JointFeatureRegressor(alpha=0.95 * by_int.alphas_[0], task_column=0)
    assert np.abs(below.fit(X, y).coef_).max() > 0.0


def test_joint_feature_classifier_cv_common_attributes():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(90, 4))
    # One task: the pooled accuracy is scikit-learn's accuracy.
    Y = X[:, :2] @ rng.normal(size=2) + rng.logistic(size=90) > 0
    folds = list(KFold(3).split(X))
    clf = JointFeatureClassifierCV(
        alphas=3, l1_ratio=[0.5, 1.0], cv=folds, scoring="accuracy", tol=1e-8
    ).fit(X, Y.astype(int))
    base = JointFeatureClassifier(tol=1e-8)
    grid = GridSearchCV(
        base,
        [
            {"alpha": list(clf.alphas_[r]), "l1_ratio": [ratio]}
            for r, ratio in enumerate([0.5, 1.0])
        ],
        cv=folds,
        scoring="accuracy",
    ).fit(X, Y.astype(int))
    np.testing.assert_allclose(
        clf.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"]
    )
    assert clf.best_index_ == grid.best_index_
    assert clf.l1_ratio_ == clf.best_params_["l1_ratio"]


def test_mean_regularized_cv_common_attributes_equal_grid_search():
    X, y = _long_data(seed=12)
    folds = _folds(X)
    alphas, alpha_means = [0.01, 1.0], [0.1, 10.0]
    cv = MeanRegularizedRegressorCV(
        alphas=alphas, alpha_means=alpha_means, task_column=0, cv=folds
    ).fit(X, y)
    grid = GridSearchCV(
        MeanRegularizedRegressor(task_column=0, solver="closed_form"),
        {"alpha": alphas, "alpha_mean": alpha_means},
        cv=folds,
    ).fit(X, y)
    for key in ["mean_test_score", "std_test_score", "split1_test_score"]:
        np.testing.assert_allclose(
            cv.cv_results_[key], grid.cv_results_[key], rtol=1e-8
        )
    assert set(grid.cv_results_) <= set(cv.cv_results_)
    assert cv.best_index_ == grid.best_index_
    assert cv.best_params_ == pytest.approx(grid.best_params_)
    assert (cv.alpha_, cv.alpha_mean_) == (
        grid.best_params_["alpha"],
        grid.best_params_["alpha_mean"],
    )
    assert cv.n_splits_ == 3
