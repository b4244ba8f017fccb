"""Reliability of the cross-validated linear models on unusual input.

Each test names the problem it guards against: numeric ``sample_weight``,
constant targets, bad ``alphas``, classes missing from a training fold, tasks
missing from a fold, metadata routing, default grids that reach both limits of
the model, and the documented stopping rule.
"""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import MultiTaskLasso, Ridge
from sklearn.metrics import make_scorer, mean_absolute_error, r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.utils.metadata_routing import get_routing_for_object

from skmtl.baseline import PerTaskEstimator
from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureClassifierCV,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    MeanRegularizedRegressor,
    MeanRegularizedRegressorCV,
    joint_feature_path,
)
from skmtl.model_selection import TaskKFold


def long_regression(n_tasks=3, n_per_task=12, n_features=3, seed=0):
    """Long-format rows (task column 0) of related linear tasks."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(n_tasks), n_per_task)
    features = rng.normal(size=(len(task), n_features))
    coef = rng.normal(size=n_features) + 0.3 * rng.normal(size=(n_tasks, n_features))
    y = np.sum(features * coef[task], axis=1) + 0.3 * rng.normal(size=len(task))
    return np.column_stack([task, features]), y, task


def rare_class_problem(seed=0):
    """3 tasks of 12 rows, classes 0/1 and one row of class 2."""
    rng = np.random.default_rng(seed)
    task = np.repeat([0, 1, 2], 12)
    features = rng.normal(size=(36, 2))
    y = (features[:, 0] + 0.5 * rng.normal(size=36) > 0).astype(int)
    y[5] = 2
    return np.column_stack([task, features]), y


CV_CASES = {
    "JointFeatureRegressorCV": lambda: JointFeatureRegressorCV(
        task_column=0, n_alphas=4, cv=3
    ),
    "JointFeatureClassifierCV": lambda: JointFeatureClassifierCV(
        task_column=0, n_alphas=3, cv=3
    ),
    "MeanRegularizedRegressorCV": lambda: MeanRegularizedRegressorCV(
        task_column=0, cv=3
    ),
}


def cv_targets(name, y):
    return (y > np.median(y)).astype(int) if "Classifier" in name else y


def cv_path(model):
    for name in ("mse_path_", "scores_"):
        if hasattr(model, name):
            return getattr(model, name)
    return model.cv_results_["mean_test_score"]


# --------------------------------------------------------------------------
# item 1: a number as sample_weight
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CV_CASES))
def test_item1_numeric_sample_weight_equals_unweighted_fit(name):
    # Every task's data term is a weighted mean (divided by n_t, the sum of
    # its weights): one common weight cancels, so the fit is the unweighted
    # one (sklearn's test_enet_cv_sample_weight_consistency).
    X, y, _ = long_regression()
    y = cv_targets(name, y)
    weighted = CV_CASES[name]().fit(X, y, sample_weight=123.0)
    plain = CV_CASES[name]().fit(X, y)
    assert weighted.alpha_ == plain.alpha_
    np.testing.assert_allclose(cv_path(weighted), cv_path(plain), rtol=1e-6)
    np.testing.assert_allclose(weighted.coef_, plain.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(weighted.intercept_, plain.intercept_, rtol=1e-6)


# --------------------------------------------------------------------------
# item 2: constant targets
# --------------------------------------------------------------------------


def test_item2_constant_targets_give_the_resolution_grid_and_zero_coef():
    # As sklearn's test_uniform_targets: alpha_max is zero, every grid point
    # is the float resolution. Shifted features make the intercept step's
    # rounding visible (alpha_max ~ 6e-15 without the check).
    rng = np.random.default_rng(0)
    X = 3.0 + rng.normal(size=(10, 3))
    Y = np.column_stack([np.full(10, 5.0), np.full(10, 10.0)])
    resolution = np.finfo(float).resolution
    model = JointFeatureRegressorCV(n_alphas=3, cv=3).fit(X, Y)
    np.testing.assert_array_equal(model.alphas_, np.full(3, resolution))
    np.testing.assert_array_equal(model.coef_, 0.0)
    np.testing.assert_allclose(model.predict(X), Y, rtol=1e-12)
    alphas, coefs, _, _ = joint_feature_path(X, Y, n_alphas=4)
    np.testing.assert_array_equal(alphas, np.full(4, resolution))
    np.testing.assert_array_equal(coefs, 0.0)


def test_item2_constant_targets_in_long_format_per_task():
    X, _, task = long_regression()
    X[:, 1:] += 7.0
    y = np.array([2.0, -3.0, 11.0])[task]
    model = JointFeatureRegressorCV(task_column=0, n_alphas=3, cv=3).fit(X, y)
    np.testing.assert_array_equal(model.alphas_, np.finfo(float).resolution)
    np.testing.assert_array_equal(model.coef_, 0.0)
    np.testing.assert_allclose(model.predict(X), y, rtol=1e-12)


def test_item2_nearly_constant_targets_keep_a_real_grid():
    # Small but genuine variation is data, not rounding: a proper grid.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = 5.0 + 1e-4 * X[:, 0]
    alphas, _, _, _ = joint_feature_path(X, y, n_alphas=3)
    assert alphas[0] > 1e-8 and alphas[0] / alphas[-1] == pytest.approx(1e3)


# --------------------------------------------------------------------------
# item 3: bad alphas
# --------------------------------------------------------------------------

BAD_GRIDS = [
    ([0.1, -1.0], "negative"),
    ([0.1, np.nan], "NaN or infinite"),
    ([np.inf], "NaN or infinite"),
    ([], "empty"),
]


@pytest.mark.parametrize("alphas, problem", BAD_GRIDS)
def test_item3_joint_feature_path_rejects_bad_alphas(alphas, problem):
    X, y, _ = long_regression()
    with pytest.raises(ValueError, match=f"alphas must be a non-empty.*{problem}"):
        joint_feature_path(X, y, task_column=0, alphas=alphas)


@pytest.mark.parametrize("alphas, problem", BAD_GRIDS)
@pytest.mark.parametrize(
    "make",
    [
        lambda a: JointFeatureRegressorCV(alphas=a, task_column=0),
        lambda a: JointFeatureClassifierCV(alphas=a, task_column=0),
        lambda a: MeanRegularizedRegressorCV(alphas=a, task_column=0),
        lambda a: MeanRegularizedRegressorCV(alpha_means=a, task_column=0),
    ],
    ids=["regressor", "classifier", "mean_regularized", "mean_regularized_means"],
)
def test_item3_cv_classes_reject_bad_grids(make, alphas, problem):
    X, y, _ = long_regression()
    model = make(alphas)
    y = cv_targets(type(model).__name__, y)
    name = (
        "alpha_means" if model.get_params().get("alpha_means") is not None else "alphas"
    )
    with pytest.raises(ValueError, match=f"{name} must be a non-empty.*{problem}"):
        model.fit(X, y)


# --------------------------------------------------------------------------
# item 4: a class missing from a training fold
# --------------------------------------------------------------------------


def test_item4_classifier_cv_fits_a_rare_class_missing_from_a_training_fold():
    # Before: IndexError (the fold's binary model was scored on 3 classes).
    X, y = rare_class_problem()
    folds = list(TaskKFold(3, task_column=0).split(X, y))
    rare_fold = next(k for k, (_, test) in enumerate(folds) if 5 in test)
    model = JointFeatureClassifierCV(task_column=0, alphas=[0.05], cv=folds)
    model.fit(X, y)
    assert model.classes_.tolist() == [0, 1, 2]
    assert np.all(np.isfinite(model.scores_))
    # The fold whose training rows lack class 2 is scored with the global
    # classes: its class-2 row gets a low probability (LogisticRegressionCV's
    # behaviour). Oracle: the same fold's rows without the rare row, scored by
    # the binary model fitted on the same training rows (its classes 0/1 are
    # encoded alike); the rare row adds a log-probability below log(1/3).
    train, test = folds[rare_fold]
    binary = JointFeatureClassifier(alpha=0.05, task_column=0).fit(X[train], y[train])
    others = test[test != 5]
    proba = binary.predict_proba(X[others])[np.arange(len(others)), y[others]]
    others_loglik = np.sum(np.log(proba))
    rare_loglik = model.scores_[0, rare_fold] * len(test) - others_loglik
    assert rare_loglik < np.log(1 / 3)
    assert model.predict_proba(X).shape == (36, 3)


def test_item4_a_fold_that_cannot_be_fitted_is_named():
    # With free intercepts (intercept_alpha=0) a task needs every class; the
    # error says which fold and what to do.
    X, y = rare_class_problem()
    y[[4, 17, 29]] = 2  # class 2 in every task, once
    model = JointFeatureClassifierCV(
        task_column=0, alphas=[0.1], cv=3, intercept_alpha=0.0
    )
    with pytest.raises(ValueError, match=r"cross-validation fold \d.*fewer folds"):
        model.fit(X, y)


# --------------------------------------------------------------------------
# item 5: a task without targets in a fold (wide format)
# --------------------------------------------------------------------------


def wide_with_gap(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(36, 2))
    Y = X @ rng.normal(size=(2, 2)) + 0.3 * rng.normal(size=(36, 2))
    Y[:12, 1] = np.nan  # task 1 has no target in the rows of fold 0
    return X, Y


def test_item5_task_without_test_targets_is_left_out_of_the_fold_score():
    X, Y = wide_with_gap()
    folds = list(KFold(3).split(X))
    model = MeanRegularizedRegressorCV(alphas=[0.1], alpha_means=[0.01], cv=folds)
    model.fit(X, Y)
    # Oracle: the fixed-strength model on each fold, r2_score per observed task.
    for k, (train, test) in enumerate(folds):
        fitted = MeanRegularizedRegressor(alpha=0.1, alpha_mean=0.01)
        predicted = fitted.fit(X[train], Y[train]).predict(X[test])
        task_scores = [
            r2_score(Y[test][observed, t], predicted[observed, t])
            for t in range(2)
            if (observed := ~np.isnan(Y[test][:, t])).any()
        ]
        assert len(task_scores) == (1 if k == 0 else 2)
        assert model.cv_results_[f"split{k}_test_score"][0] == pytest.approx(
            np.mean(task_scores), rel=1e-10
        )


@pytest.mark.parametrize(
    "model",
    [
        MeanRegularizedRegressorCV(alphas=[0.1], alpha_means=[0.01]),
        JointFeatureRegressorCV(alphas=[0.1]),
        JointFeatureClassifierCV(alphas=[0.1]),
    ],
    ids=["mean_regularized", "joint_regressor", "joint_classifier"],
)
def test_item5_task_without_training_targets_names_fold_and_task(model):
    X, Y = wide_with_gap()
    Y = np.where(np.isnan(Y), np.nan, -Y)
    Y[12:, 1] = np.nan  # task 1 only in the rows of fold 0
    Y[:12, 1] = np.arange(12) % 2  # and two classes there
    if isinstance(model, JointFeatureClassifierCV):
        Y[:, 0] = (Y[:, 0] > 0).astype(float)
    model.set_params(cv=KFold(3))
    with pytest.raises(ValueError, match=r"fold 0.*\[1\].*no observed target"):
        model.fit(X, Y)


# --------------------------------------------------------------------------
# item 6: metadata routing
# --------------------------------------------------------------------------

ROUTED_CASES = {
    "JointFeatureRegressorCV": lambda cv: JointFeatureRegressorCV(
        task_column=0, n_alphas=4, cv=cv, unknown_task="shared"
    ),
    "JointFeatureClassifierCV": lambda cv: JointFeatureClassifierCV(
        task_column=0, n_alphas=3, cv=cv, unknown_task="shared"
    ),
    "MeanRegularizedRegressorCV": lambda cv: MeanRegularizedRegressorCV(
        task_column=0, cv=cv, unknown_task="shared"
    ),
}


@pytest.mark.parametrize("name", sorted(ROUTED_CASES))
def test_item6_groups_reach_the_splitter_with_routing(name):
    X, y, task = long_regression(n_tasks=4, n_per_task=8)
    y = cv_targets(name, y)
    explicit = list(GroupKFold(2).split(X, y, task))
    with sklearn.config_context(enable_metadata_routing=True):
        routed = ROUTED_CASES[name](GroupKFold(2)).fit(X, y, groups=task)
    given = ROUTED_CASES[name](explicit).fit(X, y)
    np.testing.assert_allclose(cv_path(routed), cv_path(given), rtol=1e-10)
    # Without the groups the folds are different (GroupKFold needs them).
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match="groups"):
            ROUTED_CASES[name](GroupKFold(2)).fit(X, y)


@pytest.mark.parametrize("name", sorted(ROUTED_CASES))
def test_item6_extra_params_without_routing_raise(name):
    X, y, task = long_regression(n_tasks=4, n_per_task=8)
    y = cv_targets(name, y)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        ROUTED_CASES[name](GroupKFold(2)).fit(X, y, groups=task)


@pytest.mark.parametrize("name", sorted(ROUTED_CASES))
def test_item6_get_metadata_routing_names_the_splitter(name):
    with sklearn.config_context(enable_metadata_routing=True):
        routing = get_routing_for_object(ROUTED_CASES[name](GroupKFold(2)))
        assert routing.consumes("fit", ["groups"]) == {"groups"}
        assert hasattr(ROUTED_CASES[name](3), "set_fit_request")


def test_item6_scorer_metadata_reaches_the_scorer_as_in_grid_search():
    # Oracle: GridSearchCV over the fixed-strength model with the same
    # routed, weighted scorer and the same folds.
    X, y, _ = long_regression()
    weight = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    folds = list(TaskKFold(3, task_column=0).split(X, y))
    grid = {"alpha": [0.1, 10.0], "alpha_mean": [0.01, 1.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(
            mean_absolute_error, greater_is_better=False
        ).set_score_request(sample_weight=True)
        model = MeanRegularizedRegressorCV(
            grid["alpha"], grid["alpha_mean"], task_column=0, cv=folds, scoring=scorer
        ).fit(X, y, sample_weight=weight)
        search = GridSearchCV(
            MeanRegularizedRegressor(task_column=0).set_fit_request(sample_weight=True),
            grid,
            cv=folds,
            scoring=scorer,
        ).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        model.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=1e-8,
    )


# --------------------------------------------------------------------------
# item 7: default grids reach both limits of MeanRegularizedRegressorCV
# --------------------------------------------------------------------------


def grid_search_score(estimator, param, values, X, y, folds):
    search = GridSearchCV(estimator, {param: values}, cv=folds).fit(X, y)
    return search.best_score_


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_item7_default_grid_reaches_per_task_ridge_on_unrelated_tasks(scale):
    # Unrelated tasks: independent ridge fits are best. The CV model's best
    # score must reach that of per-task Ridge tuned on the same folds (fine
    # grid), up to the coarseness of its one-value-per-decade grid.
    # Noisy: strong per-task shrinkage is best, which needs alpha_mean large
    # enough to zero the shared mean (the former fixed grid ended 0.06 below).
    rng = np.random.default_rng(0)
    task = np.repeat(np.arange(4), 12)
    features = scale * rng.normal(size=(48, 4))
    coef = rng.normal(size=(4, 4)) / scale
    y = np.sum(features * coef[task], axis=1) + rng.normal(size=48)
    X = np.column_stack([task, features])
    folds = list(TaskKFold(3, task_column=0).split(X, y))
    model = MeanRegularizedRegressorCV(task_column=0, cv=folds).fit(X, y)
    ridge = grid_search_score(
        PerTaskEstimator(Ridge(), task_column=0),
        "estimator__alpha",
        np.logspace(-3, 3, 25) * scale**2,
        X,
        y,
        folds,
    )
    assert model.best_score_ >= ridge - 0.01


def pooled_ridge_cv_score(features, y, task, folds, strengths):
    """Best mean test R^2 of the pooled model with task intercepts.

    The ``alpha -> inf`` limit of the mean-regularised model: ``Ridge`` on the
    rows centred by their task's means, with ``sample_weight = 1 / n_t``, and
    ``b_t = ybar_t - xbar_t . w``.
    """
    scores = np.zeros(len(strengths))
    for train, test in folds:
        tasks, index, counts = np.unique(
            task[train], return_inverse=True, return_counts=True
        )
        x_means = np.array([features[train][index == t].mean(0) for t in range(4)])
        y_means = np.array([y[train][index == t].mean() for t in range(4)])
        centred_x = features[train] - x_means[index]
        centred_y = y[train] - y_means[index]
        test_index = np.searchsorted(tasks, task[test])
        for k, strength in enumerate(strengths):
            ridge = Ridge(alpha=strength, fit_intercept=False)
            ridge.fit(centred_x, centred_y, sample_weight=1.0 / counts[index])
            intercept = y_means - x_means @ ridge.coef_
            predicted = features[test] @ ridge.coef_ + intercept[test_index]
            scores[k] += r2_score(y[test], predicted) / len(folds)
    return scores.max()


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_item7_default_grid_reaches_the_pooled_model_on_identical_tasks(scale):
    # Identical tasks with few rows each: one pooled model is best. The CV
    # model's best score must reach that of the pooled ridge model (with its
    # task intercepts) tuned on a fine grid over the same folds.
    rng = np.random.default_rng(1)
    task = np.repeat(np.arange(4), 8)
    features = scale * rng.normal(size=(32, 4))
    y = features @ (rng.normal(size=4) / scale) + 0.5 * rng.normal(size=32)
    X = np.column_stack([task, features])
    folds = list(TaskKFold(3, task_column=0).split(X, y))
    model = MeanRegularizedRegressorCV(task_column=0, cv=folds).fit(X, y)
    pooled = pooled_ridge_cv_score(
        features, y, task, folds, np.logspace(-4, 2, 25) * scale**2
    )
    assert model.best_score_ >= pooled - 0.01
    assert model.alpha_ >= 100 * model.alphas_[0]


# --------------------------------------------------------------------------
# item 8: what the stopping rule guarantees
# --------------------------------------------------------------------------


def test_item8_stopping_rule_guarantees_as_documented():
    # Shared design: skmtl's objective is sklearn's MultiTaskLasso objective
    # (1 / 2n) ||Y - XW - b||_F^2 + alpha ||W||_21.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8))
    Y = X[:, :3] @ rng.normal(size=(3, 3)) + 0.5 * rng.normal(size=(40, 3))
    alpha, tol = 0.05, 1e-2

    def objective(coef, intercept):
        residual = Y - X @ coef.T - intercept
        return 0.5 * np.sum(residual**2) / len(Y) + alpha * np.sum(
            np.linalg.norm(coef, axis=0)
        )

    optimum = MultiTaskLasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, Y)
    best = objective(optimum.coef_, optimum.intercept_)
    null = 0.5 * np.sum((Y - Y.mean(axis=0)) ** 2) / len(Y)  # P(0)
    ours = JointFeatureRegressor(alpha=alpha, tol=tol).fit(X, Y)
    assert objective(ours.coef_, ours.intercept_) - best <= tol * null
    assert ours.dual_gap_ <= tol * null
    # sklearn: gap (in n times objective units) <= tol ||Y - mean||_F^2,
    # i.e. an objective within 2 tol P(0).
    theirs = MultiTaskLasso(alpha=alpha, tol=tol).fit(X, Y)
    assert theirs.dual_gap_ / len(Y) <= 2 * tol * null
    doc = JointFeatureRegressor.__doc__
    assert "twice as loose" not in doc
    assert "P(W) - P* <= tol * P(0)" in doc and "max_j |dW_j|" in doc
