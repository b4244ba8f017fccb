"""Tests of joint_feature_path and the cross-validated joint-feature models."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import MultiTaskLassoCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.utils._param_validation import InvalidParameterError

from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureClassifierCV,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    joint_feature_path,
)
from skmtl.model_selection import TaskKFold


def _long_regression(sizes=(30, 45, 25), p=6, seed=0):
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p))
    coef = rng.normal(size=(len(sizes), p))
    coef[:, 2:] = 0.0
    y = np.einsum("ij,ij->i", features, coef[task]) + rng.normal(size=len(task))
    return np.column_stack([task, features]), y


def _wide_regression(n=60, p=8, n_tasks=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    coef = np.zeros((n_tasks, p))
    coef[:, :2] = rng.normal(size=(n_tasks, 2))
    return X, X @ coef.T + rng.normal(size=(n, n_tasks))


def test_path_equals_independent_fits():
    X, y = _long_regression()
    weight = np.linspace(0.5, 2.0, len(y))
    alphas, coefs, intercepts, gaps = joint_feature_path(
        X, y, task_column=0, sample_weight=weight, n_alphas=6, eps=1e-2, tol=1e-12
    )
    assert coefs.shape == (6, 3, 6) and intercepts.shape == (6, 3)
    assert np.all(np.diff(alphas) < 0)
    assert_allclose(alphas[-1] / alphas[0], 1e-2)
    for alpha, coef, intercept in zip(alphas, coefs, intercepts):
        model = JointFeatureRegressor(alpha=alpha, task_column=0, tol=1e-12)
        model.fit(X, y, sample_weight=weight)
        assert_allclose(coef, model.coef_, atol=1e-8)
        assert_allclose(intercept, model.intercept_, atol=1e-8)
    assert np.all(gaps <= 1e-11)


def test_path_starts_at_alpha_max():
    X, y = _long_regression(seed=2)
    alphas, coefs, _, _ = joint_feature_path(X, y, task_column=0, n_alphas=3)
    assert not np.any(coefs[0])
    refit = JointFeatureRegressor(alpha=0.95 * alphas[0], task_column=0).fit(X, y)
    assert refit.support_.any()
    # l1_ratio < 1 divides alpha_max by l1_ratio, as scikit-learn does.
    half, _, _, _ = joint_feature_path(X, y, task_column=0, n_alphas=3, l1_ratio=0.5)
    assert_allclose(half[0], 2 * alphas[0])


def test_logistic_path_equals_independent_fits():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 4))
    Y = X[:, :2] @ rng.normal(size=(2, 2)) + rng.logistic(size=(90, 2)) > 0
    alphas, coefs, intercepts, _ = joint_feature_path(
        X,
        Y.astype(int),
        loss="logistic",
        n_alphas=4,
        eps=0.05,
        intercept_alpha=1e-3,
        tol=1e-12,
        max_iter=20_000,
    )
    assert not np.any(coefs[0])
    for alpha, coef, intercept in zip(alphas[1:], coefs[1:], intercepts[1:]):
        model = JointFeatureClassifier(alpha=alpha, tol=1e-12, max_iter=20_000)
        model.fit(X, Y.astype(int))
        assert_allclose(coef, model.coef_, atol=1e-6)
        assert_allclose(intercept, model.intercept_, atol=1e-6)


def test_path_rejects_bad_parameters():
    X, y = _long_regression()
    with pytest.raises(ValueError, match="l1_ratio > 0"):
        joint_feature_path(X, y, task_column=0, l1_ratio=0.0)
    with pytest.raises(InvalidParameterError, match="'eps' parameter"):
        joint_feature_path(X, y, task_column=0, eps=0.0)
    with pytest.raises(InvalidParameterError, match="'l1_ratio' parameter"):
        joint_feature_path(X, y, task_column=0, l1_ratio=2.0)


def test_regressor_cv_equals_multitask_lasso_cv_on_shared_rows():
    X, Y = _wide_regression()
    folds = KFold(3)
    ours = JointFeatureRegressorCV(n_alphas=8, cv=folds, tol=1e-12).fit(X, Y)
    reference = MultiTaskLassoCV(alphas=8, cv=folds, tol=1e-14, max_iter=100_000)
    reference.fit(X, Y)
    assert_allclose(ours.alphas_, reference.alphas_)
    assert_allclose(ours.mse_path_, reference.mse_path_, rtol=1e-6)
    assert ours.alpha_ == pytest.approx(reference.alpha_)
    assert_allclose(ours.coef_, reference.coef_, atol=1e-6)


def test_regressor_cv_picks_the_grid_search_alpha_in_long_format():
    """Default folds: TaskKFold(5); same MSE per fold as GridSearchCV."""
    X, y = _long_regression(seed=4)
    cv_model = JointFeatureRegressorCV(task_column=0, n_alphas=6, tol=1e-12).fit(X, y)
    folds = list(TaskKFold(5, task_column=0).split(X))
    search = GridSearchCV(
        JointFeatureRegressor(task_column=0, tol=1e-12),
        {"alpha": cv_model.alphas_},
        cv=folds,
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    per_fold = -np.column_stack(
        [search.cv_results_[f"split{k}_test_score"] for k in range(5)]
    )
    assert_allclose(cv_model.mse_path_, per_fold, rtol=1e-6)
    assert cv_model.alpha_ == pytest.approx(search.best_params_["alpha"])
    assert_allclose(cv_model.coef_, search.best_estimator_.coef_, atol=1e-8)


def test_regressor_cv_over_several_l1_ratios_in_parallel():
    X, Y = _wide_regression(seed=5)
    options = dict(l1_ratio=[0.5, 1.0], n_alphas=5, cv=3, tol=1e-10)
    serial = JointFeatureRegressorCV(**options).fit(X, Y)
    parallel = JointFeatureRegressorCV(n_jobs=2, **options).fit(X, Y)
    assert serial.mse_path_.shape == (2, 5, 3)
    assert serial.alphas_.shape == (2, 5)
    assert_allclose(serial.alphas_[0], 2 * serial.alphas_[1])
    assert serial.l1_ratio_ in (0.5, 1.0)
    best = np.unravel_index(
        np.argmin(serial.mse_path_.mean(axis=2)), serial.mse_path_.shape[:2]
    )
    assert serial.alpha_ == serial.alphas_[best]
    assert_allclose(parallel.mse_path_, serial.mse_path_)
    assert parallel.alpha_ == serial.alpha_


def test_regressor_cv_with_explicit_alphas_and_missing_targets():
    X, Y = _wide_regression(seed=6)
    Y[::7, 1] = np.nan
    model = JointFeatureRegressorCV(alphas=[0.01, 0.3, 0.1], cv=3).fit(X, Y)
    assert_allclose(model.alphas_, [0.3, 0.1, 0.01])
    assert model.mse_path_.shape == (3, 3)
    assert np.all(np.isfinite(model.mse_path_))
    assert model.predict(X).shape == Y.shape


@pytest.mark.parametrize("scoring", ["neg_log_loss", "accuracy"])
def test_classifier_cv_scores_equal_grid_search(scoring):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(90, 5))
    y = np.where(X[:, 0] - X[:, 2] + rng.logistic(size=90) > 0, "b", "a")
    folds = list(StratifiedKFold(3).split(X, y))
    cv_model = JointFeatureClassifierCV(
        n_alphas=5, cv=folds, scoring=scoring, tol=1e-12, max_iter=20_000
    ).fit(X, y)
    search = GridSearchCV(
        JointFeatureClassifier(tol=1e-12, max_iter=20_000),
        {"alpha": cv_model.alphas_},
        cv=folds,
        scoring=scoring,
    ).fit(X, y)
    per_fold = np.column_stack(
        [search.cv_results_[f"split{k}_test_score"] for k in range(3)]
    )
    assert cv_model.scores_.shape == (5, 3)
    assert_allclose(cv_model.scores_, per_fold, rtol=1e-6, atol=1e-9)
    assert cv_model.alpha_ == pytest.approx(search.best_params_["alpha"])
    assert_allclose(cv_model.predict_proba(X), search.predict_proba(X), atol=1e-7)


def test_classifier_cv_long_format_multiclass():
    rng = np.random.default_rng(8)
    task = np.repeat([0, 1], [60, 45])
    X = np.column_stack([task, rng.normal(size=(105, 3))])
    y = np.argmax(X[:, 1:] @ rng.normal(size=(3, 3)) + rng.gumbel(size=(105, 3)), 1)
    model = JointFeatureClassifierCV(task_column=0, n_alphas=4).fit(X, y)
    assert model.scores_.shape == (4, 5)
    assert model.coef_.shape == (2, 3, 3)
    assert model.predict_proba(X).shape == (105, 3)
