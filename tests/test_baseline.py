"""Baselines against their oracle: sklearn estimators fitted by hand."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import r2_score

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import make_multitask_regression


def _long_frame(seed=0):
    X, y, _ = make_multitask_regression(
        n_tasks=4, n_samples=[12, 30, 7, 20], n_features=5, random_state=seed
    )
    names = np.array(["w", "x", "y", "z"])
    frame = pd.DataFrame(X[:, 1:], columns=[f"f{j}" for j in range(5)])
    frame.insert(2, "store", names[X[:, 0].astype(int)])
    return frame, y


@pytest.mark.parametrize("alpha", [1e-3, 1.0, 30.0])
def test_per_task_ridge_equals_ridge_on_each_task(alpha):
    frame, y = _long_frame()
    weights = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    model = PerTaskEstimator(Ridge(alpha=alpha), task_column="store")
    model.fit(frame, y, sample_weight=weights)
    features = frame.drop(columns="store")
    for t, task in enumerate(model.tasks_):
        rows = (frame["store"] == task).to_numpy()
        oracle = Ridge(alpha=alpha).fit(
            features[rows], y[rows], sample_weight=weights[rows]
        )
        np.testing.assert_allclose(model.coef_[t], oracle.coef_, rtol=1e-12)
        np.testing.assert_allclose(model.intercept_[t], oracle.intercept_, rtol=1e-12)
        np.testing.assert_allclose(
            model.predict(frame[rows]), oracle.predict(features[rows]), rtol=1e-12
        )


@pytest.mark.parametrize("alpha", [1e-3, 1.0, 30.0])
def test_pooled_ridge_equals_one_ridge_on_all_rows(alpha):
    frame, y = _long_frame()
    model = PooledEstimator(Ridge(alpha=alpha), task_column="store").fit(frame, y)
    oracle = Ridge(alpha=alpha).fit(frame.drop(columns="store"), y)
    np.testing.assert_allclose(model.estimator_.coef_, oracle.coef_, rtol=1e-10)
    np.testing.assert_allclose(
        model.predict(frame), oracle.predict(frame.drop(columns="store")), rtol=1e-10
    )


def test_pooled_predicts_unseen_tasks():
    frame, y = _long_frame()
    model = PooledEstimator(LinearRegression(), task_column="store").fit(frame, y)
    new = frame.assign(store="brand-new")
    np.testing.assert_allclose(model.predict(new), model.predict(frame))


def test_wide_format_fits_each_observed_column():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    Y = X @ rng.randn(3, 2) + 0.1 * rng.randn(40, 2)
    Y[rng.rand(40) < 0.3, 1] = np.nan
    model = PerTaskEstimator(Ridge(alpha=0.5)).fit(X, Y)
    observed = ~np.isnan(Y[:, 1])
    oracle = Ridge(alpha=0.5).fit(X[observed], Y[observed, 1])
    np.testing.assert_allclose(model.coef_[1], oracle.coef_, rtol=1e-12)
    assert model.predict(X).shape == (40, 2)
    expected = np.mean(
        [
            r2_score(Y[:, 0], model.predict(X)[:, 0]),
            r2_score(Y[observed, 1], model.predict(X)[observed, 1]),
        ]
    )
    assert model.score(X, Y) == pytest.approx(expected, rel=1e-12)


def test_pooled_wide_stacks_observed_cells():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    Y = np.column_stack([X @ [1.0, 2.0, 0.0], X @ [1.0, 1.0, 1.0]])
    Y[::4, 0] = np.nan
    model = PooledEstimator(Ridge(alpha=1.0)).fit(X, Y)
    observed = ~np.isnan(Y[:, 0])
    oracle = Ridge(alpha=1.0).fit(
        np.vstack([X[observed], X]), np.concatenate([Y[observed, 0], Y[:, 1]])
    )
    np.testing.assert_allclose(model.estimator_.coef_, oracle.coef_, rtol=1e-10)
    np.testing.assert_allclose(model.predict(X)[:, 0], model.predict(X)[:, 1])


def _classification_frame():
    rng = np.random.RandomState(0)
    n = 90
    frame = pd.DataFrame({"a": rng.randn(n), "b": rng.randn(n)})
    frame["task"] = np.repeat(["p", "q", "r"], 30)
    labels = np.where(frame["a"] + 0.3 * rng.randn(n) > 0, "yes", "no").astype(object)
    labels[(frame["task"] == "r").to_numpy() & (frame["b"].to_numpy() > 0.5)] = "maybe"
    return frame, labels


def test_per_task_classifier_maps_task_classes_to_all_classes():
    frame, labels = _classification_frame()
    model = PerTaskEstimator(LogisticRegression(), task_column="task")
    model.fit(frame, labels)
    assert model.classes_.tolist() == ["maybe", "no", "yes"]
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    in_p = (frame["task"] == "p").to_numpy()
    np.testing.assert_array_equal(proba[in_p, 0], 0.0)  # task p never saw "maybe"
    oracle = LogisticRegression().fit(frame.loc[in_p, ["a", "b"]], labels[in_p])
    np.testing.assert_allclose(
        proba[in_p, 1:], oracle.predict_proba(frame.loc[in_p, ["a", "b"]]), rtol=1e-10
    )
    with pytest.raises(ValueError, match="decision function is not comparable"):
        model.decision_function(frame)


def test_per_task_classifier_rejects_one_class_task():
    frame, labels = _classification_frame()
    labels = labels.copy()
    labels[(frame["task"] == "q").to_numpy()] = "yes"
    labels_copy = labels.copy()
    with pytest.raises(
        ValueError, match=r"Task\(s\) \['q'\] hold a single class.*PooledEstimator"
    ):
        PerTaskEstimator(LogisticRegression(), task_column="task").fit(frame, labels)
    np.testing.assert_array_equal(labels, labels_copy)


def test_inner_failure_names_the_task():
    from sklearn.linear_model import RidgeCV

    frame, y = _long_frame()  # task "w" has 12 rows: too few for 15 folds
    model = PerTaskEstimator(RidgeCV(cv=15), task_column="store")
    with pytest.raises(
        ValueError, match=r"Fitting RidgeCV on task 'w' \(12 rows\) failed: Cannot"
    ):
        model.fit(frame, y)


def test_sample_weight_unsupported_by_inner_estimator():
    from sklearn.neighbors import KNeighborsRegressor

    frame, y = _long_frame()
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        PerTaskEstimator(KNeighborsRegressor(n_neighbors=2), task_column="store").fit(
            frame, y, sample_weight=np.ones(len(y))
        )


def test_score_with_targets_of_other_rows():
    frame, y = _long_frame()
    model = PerTaskEstimator(Ridge(), task_column="store").fit(frame, y)
    with pytest.raises(ValueError, match=r"y has shape \(5,\) but the predictions"):
        model.score(frame, y[:5])


def test_failing_task_is_named_plainly():
    X = np.array([[0, 1.0], [0, 2.0], [1, 1.0], [1, 2.0]])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    model = PerTaskEstimator(LogisticRegression(C=-1.0), task_column=0)
    with pytest.raises(ValueError, match=r"on task 0\.0 \(2 rows\) failed"):
        model.fit(X, y)


def _source_and_new(seed=0):
    """Tasks w, x of :func:`_long_frame` as source, y and z as new tasks."""
    frame, y = _long_frame(seed)
    source = frame["store"].isin(["w", "x"]).to_numpy()
    return frame[source], y[source], frame[~source], y[~source]


def test_per_task_fit_new_tasks_equals_a_clone_fitted_on_each_new_task():
    frame, y, new, y_new = _source_and_new()
    weights = np.random.RandomState(2).uniform(0.5, 2.0, len(y_new))
    model = PerTaskEstimator(Ridge(alpha=0.3), task_column="store").fit(frame, y)
    source_coef = model.coef_.copy()
    new_copy, y_copy = new.copy(), y_new.copy()
    model.fit_new_tasks(new, y_new, sample_weight=weights)
    assert list(model.tasks_) == ["w", "x", "y", "z"]
    assert list(model.new_tasks_) == ["y", "z"]
    assert len(model.estimators_) == 4 and model.coef_.shape == (4, 5)
    np.testing.assert_array_equal(model.coef_[:2], source_coef)
    features = new.drop(columns="store")
    for t, task in [(2, "y"), (3, "z")]:
        rows = (new["store"] == task).to_numpy()
        oracle = Ridge(alpha=0.3).fit(
            features[rows], y_new[rows], sample_weight=weights[rows]
        )
        np.testing.assert_allclose(model.coef_[t], oracle.coef_, rtol=1e-12)
        np.testing.assert_allclose(
            model.predict(new[rows]), oracle.predict(features[rows]), rtol=1e-12
        )
    pd.testing.assert_frame_equal(new, new_copy)
    np.testing.assert_array_equal(y_new, y_copy)


def test_per_task_second_fit_new_tasks_replaces_the_first():
    frame, y, new, y_new = _source_and_new()
    model = PerTaskEstimator(Ridge(), task_column="store").fit(frame, y)
    model.fit_new_tasks(new, y_new)
    only_z = (new["store"] == "z").to_numpy()
    model.fit_new_tasks(new[only_z], y_new[only_z])
    assert list(model.tasks_) == ["w", "x", "z"] and len(model.estimators_) == 3
    with pytest.raises(ValueError, match="'y'"):
        model.predict(new[~only_z])


def test_per_task_fit_new_tasks_names_the_task_the_estimator_cannot_fit():
    from sklearn.linear_model import RidgeCV

    frame, y, new, y_new = _source_and_new()
    model = PerTaskEstimator(RidgeCV(cv=3), task_column="store").fit(frame, y)
    task = new["store"].iloc[0]
    with pytest.raises(
        ValueError,
        match=rf"Fitting RidgeCV on task '{task}' \(1 rows\) failed: Cannot have",
    ):
        model.fit_new_tasks(new.iloc[[0]], y_new[:1])
    assert list(model.tasks_) == ["w", "x"]


def test_fit_new_tasks_contract_errors():
    frame, y, new, y_new = _source_and_new()
    for model in (
        PerTaskEstimator(Ridge(), task_column="store"),
        PooledEstimator(Ridge(), task_column="store"),
    ):
        with pytest.raises(NotFittedError):
            model.fit_new_tasks(new, y_new)
        model.fit(frame, y)
        with pytest.raises(ValueError, match=r"\['w', 'x'\].*were seen during fit"):
            model.fit_new_tasks(frame, y)
        with pytest.raises(ValueError, match="feature names should match"):
            model.fit_new_tasks(new.drop(columns="f0"), y_new)
    wide = PerTaskEstimator(Ridge()).fit(np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="long format"):
        wide.fit_new_tasks(np.ones((4, 2)), np.ones(4))


def test_fit_new_tasks_classifier_refuses_classes_not_seen_in_fit():
    frame, y, new, _ = _source_and_new()
    labels = (y > np.median(y)).astype(int)
    new_labels = np.where(np.arange(len(new)) % 2, 1, 2)
    for model in (
        PerTaskEstimator(LogisticRegression(), task_column="store"),
        PooledEstimator(LogisticRegression(), task_column="store"),
    ):
        model.fit(frame, labels)
        with pytest.raises(ValueError, match=r"class\(es\) \[2\].*fit did not see"):
            model.fit_new_tasks(new, new_labels)


def test_pooled_fit_new_tasks_keeps_the_pooled_model():
    frame, y, new, y_new = _source_and_new()
    model = PooledEstimator(Ridge(alpha=2.0), task_column="store").fit(frame, y)
    before = model.predict(new)
    oracle = Ridge(alpha=2.0).fit(frame.drop(columns="store"), y)
    model.fit_new_tasks(new, y_new)
    assert list(model.tasks_) == ["w", "x", "y", "z"]
    np.testing.assert_array_equal(model.predict(new), before)
    np.testing.assert_allclose(
        model.predict(new), oracle.predict(new.drop(columns="store")), rtol=1e-12
    )
