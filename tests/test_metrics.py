"""Tests of skmtl.metrics against scores computed by hand, task by task."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline

from skmtl.metrics import (
    make_task_scorer,
    normalized_mse,
    task_averaged_score,
    task_scores,
)

# Exact agreement up to floating point summation order.
RTOL = 1e-12


def _long_data(seed=0, sizes=(7, 4, 9)):
    rng = np.random.default_rng(seed)
    labels = np.array(["c", "a", "b"])[: len(sizes)]
    tasks = np.repeat(labels, sizes)
    order = rng.permutation(len(tasks))
    tasks = tasks[order]
    y_true = rng.normal(size=len(tasks))
    y_pred = y_true + rng.normal(scale=0.5, size=len(tasks))
    return y_true, y_pred, tasks


def _wide_data(seed=0, n_samples=12, n_tasks=3):
    rng = np.random.default_rng(seed)
    Y_true = rng.normal(size=(n_samples, n_tasks))
    Y_pred = Y_true + rng.normal(scale=0.5, size=(n_samples, n_tasks))
    Y_true[rng.random((n_samples, n_tasks)) < 0.3] = np.nan
    return Y_true, Y_pred


# --------------------------------------------------------------------------
# task_scores
# --------------------------------------------------------------------------


def test_long_format_scores_equal_r2_on_each_task_subset():
    y_true, y_pred, tasks = _long_data()
    scores = task_scores(y_true, y_pred, tasks)
    assert list(scores) == ["a", "b", "c"]  # sorted labels
    for label in ["a", "b", "c"]:
        mask = tasks == label
        expected = r2_score(y_true[mask], y_pred[mask])
        np.testing.assert_allclose(scores[label], expected, rtol=RTOL)


def test_long_format_with_sample_weight():
    y_true, y_pred, tasks = _long_data(seed=1)
    weight = np.random.default_rng(1).uniform(0.1, 3.0, size=len(y_true))
    scores = task_scores(y_true, y_pred, tasks, sample_weight=weight)
    for label in np.unique(tasks):
        mask = tasks == label
        expected = r2_score(y_true[mask], y_pred[mask], sample_weight=weight[mask])
        np.testing.assert_allclose(scores[label], expected, rtol=RTOL)


def test_other_metric_and_integer_labels_as_python_keys():
    y_true, y_pred, _ = _long_data(seed=2)
    tasks = np.repeat([5, 2], [10, 10])
    scores = task_scores(y_true, y_pred, tasks, metric=mean_absolute_error)
    assert list(scores) == [2, 5]
    assert all(type(key) is int for key in scores)
    for label in (2, 5):
        mask = tasks == label
        expected = mean_absolute_error(y_true[mask], y_pred[mask])
        np.testing.assert_allclose(scores[label], expected, rtol=RTOL)


def test_classification_metric_with_string_classes():
    y_true = np.array(["yes", "no", "yes", "yes", "no", "no"])
    y_pred = np.array(["yes", "yes", "yes", "no", "no", "no"])
    tasks = pd.Series(["s1", "s1", "s1", "s2", "s2", "s2"])
    scores = task_scores(y_true, y_pred, tasks, metric=accuracy_score)
    assert scores == {"s1": pytest.approx(2 / 3), "s2": pytest.approx(2 / 3)}


def test_wide_format_scores_each_column_on_observed_rows():
    Y_true, Y_pred = _wide_data()
    Y_pred_with_junk = Y_pred.copy()
    Y_pred_with_junk[np.isnan(Y_true)] = np.nan  # unobserved cells are ignored
    scores = task_scores(Y_true, Y_pred_with_junk)
    assert list(scores) == [0, 1, 2]
    for j in range(3):
        observed = ~np.isnan(Y_true[:, j])
        expected = r2_score(Y_true[observed, j], Y_pred[observed, j])
        np.testing.assert_allclose(scores[j], expected, rtol=RTOL)


def test_wide_format_dataframe_keys_and_sample_weight():
    Y_true, Y_pred = _wide_data(seed=3)
    weight = np.random.default_rng(3).uniform(0.5, 2.0, size=len(Y_true))
    frame = pd.DataFrame(Y_true, columns=["math", "art", "sport"])
    scores = task_scores(frame, Y_pred, sample_weight=weight)
    assert list(scores) == ["math", "art", "sport"]  # column order
    for j, name in enumerate(frame.columns):
        observed = ~np.isnan(Y_true[:, j])
        expected = r2_score(
            Y_true[observed, j], Y_pred[observed, j], sample_weight=weight[observed]
        )
        np.testing.assert_allclose(scores[name], expected, rtol=RTOL)


def test_wide_format_nullable_dataframe():
    frame = pd.DataFrame({"t0": [1.0, 2.0, None, 4.0], "t1": [1.0, None, 3.0, 5.0]})
    frame = frame.astype("Float64")  # pd.NA marks unobserved
    Y_pred = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0], [3.0, 4.0]])
    scores = task_scores(frame, Y_pred, metric=mean_absolute_error)
    assert scores == {"t0": pytest.approx(1 / 3), "t1": pytest.approx(1 / 3)}


def test_single_task_when_tasks_is_none_and_y_is_1d():
    y_true, y_pred, _ = _long_data()
    assert task_scores(y_true, y_pred) == {0: pytest.approx(r2_score(y_true, y_pred))}
    np.testing.assert_allclose(
        task_averaged_score(y_true, y_pred), r2_score(y_true, y_pred), rtol=RTOL
    )


def test_task_with_one_row_gets_nan_without_warning():
    y_true = np.array([1.0, 2.0, 3.0, 5.0])
    y_pred = np.array([1.0, 2.0, 4.0, 6.0])
    tasks = np.array(["a", "a", "a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = task_scores(y_true, y_pred, tasks)
        average = task_averaged_score(y_true, y_pred, tasks, task_weights="size")
    assert np.isnan(scores["b"])
    assert scores["a"] == pytest.approx(0.5)
    assert average == pytest.approx(0.5)  # the NaN task is left out
    # A metric defined on one row keeps its value.
    assert task_scores(y_true, y_pred, tasks, metric=mean_squared_error)["b"] == 1.0


def test_wide_column_without_observed_rows_gets_nan():
    Y_true = np.array([[1.0, np.nan], [2.0, np.nan], [4.0, np.nan]])
    Y_pred = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    scores = task_scores(Y_true, Y_pred, metric=mean_squared_error)
    assert scores[0] == pytest.approx(1 / 3)
    assert np.isnan(scores[1])


def test_zero_weight_task_gets_nan():
    y_true, y_pred, tasks = _long_data()
    weight = np.where(tasks == "a", 0.0, 1.0)
    scores = task_scores(y_true, y_pred, tasks, sample_weight=weight)
    assert np.isnan(scores["a"]) and not np.isnan(scores["b"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n_tasks=st.integers(1, 4))
def test_scores_do_not_depend_on_row_order(seed, n_tasks):
    rng = np.random.default_rng(seed)
    tasks = rng.integers(0, n_tasks, size=20)
    y_true = rng.normal(size=20)
    y_pred = rng.normal(size=20)
    order = rng.permutation(20)
    scores = task_scores(y_true, y_pred, tasks)
    shuffled = task_scores(y_true[order], y_pred[order], tasks[order])
    assert list(scores) == list(shuffled)
    np.testing.assert_allclose(list(scores.values()), list(shuffled.values()))


# --------------------------------------------------------------------------
# task_averaged_score
# --------------------------------------------------------------------------


def test_uniform_and_size_averages_by_hand():
    y_true, y_pred, tasks = _long_data(seed=4, sizes=(3, 8, 5))
    per_task, sizes = [], []
    for label in np.unique(tasks):
        mask = tasks == label
        per_task.append(r2_score(y_true[mask], y_pred[mask]))
        sizes.append(mask.sum())
    uniform = task_averaged_score(y_true, y_pred, tasks)
    by_size = task_averaged_score(y_true, y_pred, tasks, task_weights="size")
    np.testing.assert_allclose(uniform, sum(per_task) / len(per_task), rtol=RTOL)
    expected = sum(s * n for s, n in zip(per_task, sizes)) / sum(sizes)
    np.testing.assert_allclose(by_size, expected, rtol=RTOL)


def test_size_average_uses_sum_of_sample_weights():
    y_true, y_pred, tasks = _long_data(seed=5)
    weight = np.random.default_rng(5).uniform(0.1, 2.0, size=len(y_true))
    scores, sizes = [], []
    for label in np.unique(tasks):
        mask = tasks == label
        scores.append(r2_score(y_true[mask], y_pred[mask], sample_weight=weight[mask]))
        sizes.append(weight[mask].sum())
    result = task_averaged_score(
        y_true, y_pred, tasks, sample_weight=weight, task_weights="size"
    )
    np.testing.assert_allclose(result, np.average(scores, weights=sizes), rtol=RTOL)


def test_wide_size_average_counts_observed_cells():
    Y_true, Y_pred = _wide_data(seed=6)
    scores, sizes = [], []
    for j in range(Y_true.shape[1]):
        observed = ~np.isnan(Y_true[:, j])
        scores.append(r2_score(Y_true[observed, j], Y_pred[observed, j]))
        sizes.append(observed.sum())
    result = task_averaged_score(Y_true, Y_pred, task_weights="size")
    np.testing.assert_allclose(result, np.average(scores, weights=sizes), rtol=RTOL)


def test_average_is_nan_with_warning_when_no_task_is_defined():
    with pytest.warns(UndefinedMetricWarning, match="No task has a defined score"):
        score = task_averaged_score([1.0, 2.0], [1.0, 2.0], ["a", "b"])
    assert np.isnan(score)


# --------------------------------------------------------------------------
# normalized_mse
# --------------------------------------------------------------------------


def test_normalized_mse_by_hand_and_against_r2():
    y_true, y_pred, _ = _long_data(seed=7)
    expected = np.mean((y_true - y_pred) ** 2) / np.var(y_true)
    np.testing.assert_allclose(normalized_mse(y_true, y_pred), expected, rtol=RTOL)
    np.testing.assert_allclose(
        normalized_mse(y_true, y_pred), 1 - r2_score(y_true, y_pred), rtol=1e-10
    )


def test_normalized_mse_with_sample_weight_is_one_minus_weighted_r2():
    y_true, y_pred, _ = _long_data(seed=8)
    weight = np.random.default_rng(8).uniform(0.1, 2.0, size=len(y_true))
    np.testing.assert_allclose(
        normalized_mse(y_true, y_pred, sample_weight=weight),
        1 - r2_score(y_true, y_pred, sample_weight=weight),
        rtol=1e-10,
    )


def test_normalized_mse_pools_observed_cells_of_wide_targets():
    Y_true, Y_pred = _wide_data(seed=9)
    observed = ~np.isnan(Y_true)
    y, p = Y_true[observed], Y_pred[observed]
    expected = np.mean((y - p) ** 2) / np.var(y)
    np.testing.assert_allclose(normalized_mse(Y_true, Y_pred), expected, rtol=RTOL)


def test_normalized_mse_constant_target_is_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning, match="zero variance"):
        assert np.isnan(normalized_mse([2.0, 2.0], [1.0, 3.0]))
    # Used per task, the warning is caught and the task's score is NaN.
    scores = task_scores(
        [2.0, 2.0, 1.0, 3.0], [1.0, 3.0, 1.0, 3.0], [0, 0, 1, 1], metric=normalized_mse
    )
    assert np.isnan(scores[0]) and scores[1] == 0.0


# --------------------------------------------------------------------------
# make_task_scorer
# --------------------------------------------------------------------------


def _long_frame(seed=0, n_per_task=12, tasks=("x", "y", "z")):
    rng = np.random.default_rng(seed)
    labels = np.repeat(tasks, n_per_task)
    n = len(labels)
    X = pd.DataFrame(
        {
            "f1": rng.normal(size=n),
            "task": labels,
            "f2": rng.normal(size=n),
        }
    )
    offset = pd.Series(labels).map({"x": 0.0, "y": 3.0, "z": -2.0}).to_numpy()
    y = 2 * X["f1"].to_numpy() - X["f2"].to_numpy() + offset + rng.normal(size=n)
    return X, y


def _drop_task_ridge(task_column="task"):
    return Pipeline(
        [
            (
                "drop_task",
                ColumnTransformer(
                    [("task", "drop", [task_column])], remainder="passthrough"
                ),
            ),
            ("ridge", Ridge(alpha=1.0)),
        ]
    )


def test_scorer_in_cross_val_score_matches_folds_scored_by_hand():
    X, y = _long_frame()
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    scorer = make_task_scorer(task_column="task")
    scores = cross_val_score(_drop_task_ridge(), X, y, cv=cv, scoring=scorer)
    expected = []
    for train, test in cv.split(X):
        model = _drop_task_ridge().fit(X.iloc[train], y[train])
        y_pred = model.predict(X.iloc[test])
        labels = X["task"].to_numpy()[test]
        per_task = [
            r2_score(y[test][labels == t], y_pred[labels == t])
            for t in np.unique(labels)
        ]
        expected.append(np.mean(per_task))
    np.testing.assert_allclose(scores, expected, rtol=RTOL)


def test_scorer_greater_is_better_false_negates_and_size_average():
    X, y = _long_frame(seed=1)
    model = _drop_task_ridge().fit(X, y)
    scorer = make_task_scorer(
        mean_squared_error,
        task_column="task",
        average="size",
        greater_is_better=False,
    )
    expected = task_averaged_score(
        y,
        model.predict(X),
        X["task"],
        metric=mean_squared_error,
        task_weights="size",
    )
    assert scorer(model, X, y) == pytest.approx(-expected, rel=RTOL)


def test_scorer_with_array_task_column_and_sample_weight():
    X, y = _long_frame(seed=2)
    X_array = X[["f1", "f2"]].to_numpy()
    codes = pd.factorize(X["task"])[0].astype(float)
    X_array = np.column_stack([X_array, codes])  # task column last
    weight = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    model = Ridge().fit(X_array[:, :2], y)

    class _FeaturesOnly:
        def predict(self, X):
            return model.predict(X[:, :2])

    scorer = make_task_scorer(task_column=-1)
    result = scorer(_FeaturesOnly(), X_array, y, sample_weight=weight)
    y_pred = model.predict(X_array[:, :2])
    per_task = [
        r2_score(y[codes == t], y_pred[codes == t], sample_weight=weight[codes == t])
        for t in np.unique(codes)
    ]
    assert result == pytest.approx(np.mean(per_task), rel=RTOL)


def test_scorer_in_grid_search():
    X, y = _long_frame(seed=3)
    search = GridSearchCV(
        _drop_task_ridge(),
        {"ridge__alpha": [0.1, 1000.0]},
        cv=KFold(n_splits=3, shuffle=True, random_state=1),
        scoring=make_task_scorer(task_column="task"),
    )
    search.fit(X, y)
    assert search.best_params_ == {"ridge__alpha": 0.1}
    best = search.cv_results_["mean_test_score"][search.best_index_]
    assert best == pytest.approx(search.best_score_)


def test_scorer_wide_format_averages_columns_of_y():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    Y = X @ rng.normal(size=(3, 2)) + rng.normal(scale=0.3, size=(30, 2))
    model = Ridge().fit(X, Y)
    Y_test = Y.copy()
    Y_test[:5, 1] = np.nan
    scorer = make_task_scorer(task_column=None)
    Y_pred = model.predict(X)
    expected = np.mean(
        [r2_score(Y[:, 0], Y_pred[:, 0]), r2_score(Y[5:, 1], Y_pred[5:, 1])]
    )
    assert scorer(model, X, Y_test) == pytest.approx(expected, rel=RTOL)


def test_scorer_repr_and_pickle():
    scorer = make_task_scorer(
        mean_absolute_error, task_column="school", greater_is_better=False
    )
    assert repr(scorer) == (
        "make_task_scorer(mean_absolute_error, task_column='school', "
        "average='uniform', greater_is_better=False)"
    )
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    X, y = _long_frame(seed=5)
    model = _drop_task_ridge("school").fit(X.rename(columns={"task": "school"}), y)
    X_school = X.rename(columns={"task": "school"})
    assert restored(model, X_school, y) == scorer(model, X_school, y)


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="Inconsistent numbers of rows: y_true has 3"):
        task_scores([1.0, 2.0, 3.0], [1.0, 2.0], ["a", "a", "b"])
    with pytest.raises(ValueError, match="tasks has 2"):
        task_scores([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ["a", "a"])
    with pytest.raises(ValueError, match="sample_weight has 3"):
        task_scores([1.0, 2.0], [1.0, 2.0], sample_weight=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        task_scores(np.ones((3, 2)), np.ones((3, 3)))


def test_2d_targets_with_tasks_are_rejected():
    with pytest.raises(ValueError, match="must be 1-D when tasks is given"):
        task_scores(np.ones((4, 2)), np.ones((4, 2)), tasks=[0, 0, 1, 1])


def test_missing_task_labels_are_rejected():
    with pytest.raises(ValueError, match="tasks has 1 missing label"):
        task_scores([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ["a", None, "b"])


def test_non_numeric_wide_targets_are_rejected():
    with pytest.raises(ValueError, match="must be numeric in wide format"):
        task_scores(np.array([["a", "b"]] * 3), np.array([["a", "b"]] * 3))


@pytest.mark.parametrize("option", ["mean", "Size", None])
def test_unknown_average_option(option):
    with pytest.raises(ValueError, match=r"task_weights=.* is not supported"):
        task_averaged_score([1.0, 2.0], [1.0, 2.0], task_weights=option)
    with pytest.raises(ValueError, match=r"average=.* is not supported"):
        make_task_scorer(task_column="task", average=option)


def test_metric_must_be_callable():
    with pytest.raises(ValueError, match="metric must be a callable"):
        make_task_scorer("r2", task_column="task")


def test_inputs_are_not_modified():
    Y_true, Y_pred = _wide_data(seed=10)
    weight = np.ones(len(Y_true))
    copies = [Y_true.copy(), Y_pred.copy(), weight.copy()]
    task_averaged_score(Y_true, Y_pred, sample_weight=weight, task_weights="size")
    normalized_mse(Y_true, Y_pred, sample_weight=weight)
    for before, after in zip(copies, [Y_true, Y_pred, weight]):
        np.testing.assert_array_equal(before, after)


# --------------------------------------------------------------------------
# the estimators' score on rows where a task is unobserved
# --------------------------------------------------------------------------


def _wide_regression(n=20):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 2)
    Y = np.column_stack([X[:, 0], X[:, 1] + 0.3 * rng.randn(n), X.sum(axis=1)])
    Y[: n // 2, 2] = np.nan  # task 2 is observed in the second half only
    return X, Y


def _wide_regressors():
    from skmtl.baseline import PerTaskEstimator, PooledEstimator
    from skmtl.linear_model import MeanRegularizedRegressor

    return [
        PerTaskEstimator(Ridge()),
        PooledEstimator(Ridge()),
        MeanRegularizedRegressor(),
    ]


@pytest.mark.parametrize("model", _wide_regressors(), ids=lambda m: type(m).__name__)
def test_score_skips_a_task_unobserved_in_the_rows_given(model):
    X, Y = _wide_regression()
    model.fit(X, Y)
    X_part, Y_part = X[:10], Y[:10]
    prediction = model.predict(X_part)
    expected = np.mean([r2_score(Y_part[:, t], prediction[:, t]) for t in (0, 1)])
    assert model.score(X_part, Y_part) == pytest.approx(expected, rel=1e-12)
    assert model.score(X_part, Y_part) == pytest.approx(
        task_averaged_score(Y_part, prediction), rel=1e-12
    )


def test_score_skips_a_task_of_zero_weight():
    from skmtl.linear_model import MeanRegularizedRegressor

    X, Y = _wide_regression()
    model = MeanRegularizedRegressor().fit(X, Y)
    weights = np.where(np.isnan(Y[:, 2]), 1.0, 0.0)
    weights[:5] = 2.0
    prediction = model.predict(X)
    expected = np.mean(
        [r2_score(Y[:, t], prediction[:, t], sample_weight=weights) for t in (0, 1)]
    )
    assert model.score(X, Y, sample_weight=weights) == pytest.approx(expected)


@pytest.mark.parametrize("model", _wide_regressors(), ids=lambda m: type(m).__name__)
def test_score_without_any_observed_target_raises(model):
    X, Y = _wide_regression()
    model.fit(X, Y)
    with pytest.raises(ValueError, match="No task of Y has an observed target"):
        model.score(X[:3], np.full((3, 3), np.nan))


@pytest.mark.parametrize("marker", [None, pd.NA])
def test_score_object_targets_with_missing_markers(marker):
    from sklearn.linear_model import LogisticRegression

    from skmtl.baseline import PerTaskEstimator
    from skmtl.linear_model import MeanRegularizedRegressor

    X, Y = _wide_regression()
    observed = ~np.isnan(Y)
    Y_object = Y.astype(object)
    Y_object[~observed] = marker
    regressor = MeanRegularizedRegressor().fit(X, Y)
    prediction = regressor.predict(X)
    expected = np.mean(
        [
            r2_score(Y[observed[:, t], t], prediction[observed[:, t], t])
            for t in range(3)
        ]
    )
    assert regressor.score(X, Y_object) == pytest.approx(expected, rel=1e-12)

    labels = (Y > 0).astype(object)
    labels[~observed] = marker
    classifier = PerTaskEstimator(LogisticRegression()).fit(X, labels)
    predicted = classifier.predict(X)
    expected = np.mean(
        [
            accuracy_score((Y[observed[:, t], t] > 0), predicted[observed[:, t], t])
            for t in range(3)
        ]
    )
    assert classifier.score(X, labels) == pytest.approx(expected)


@pytest.mark.parametrize("marker", [None, pd.NA])
def test_object_targets_with_missing_markers_are_unobserved(marker):
    rng = np.random.RandomState(3)
    Y = rng.randn(8, 2)
    P = Y + 0.5 * rng.randn(8, 2)
    Y[[1, 4], 0] = np.nan
    Y_object = Y.astype(object)
    Y_object[np.isnan(Y)] = marker
    assert task_scores(Y_object, P) == pytest.approx(task_scores(Y, P))
    rows = ~np.isnan(Y[:, 0])
    assert task_scores(Y_object, P)[0] == pytest.approx(
        r2_score(Y[rows, 0], P[rows, 0])
    )
    assert task_averaged_score(Y_object, P) == pytest.approx(task_averaged_score(Y, P))
    assert normalized_mse(Y_object, P) == pytest.approx(normalized_mse(Y, P))
