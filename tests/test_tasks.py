"""The task data model: formats, grouping, and the errors of bad input.

Bad input is tried through every public regressor that takes a task column
(the ``make_regressor`` fixture), so that each estimator is held to the same
messages, and each test checks that the caller's data was not modified.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator
from sklearn.utils.validation import has_fit_parameter

from skmtl._tasks import check_predict_data, check_task_data, split_task_column


class _Recorder(BaseEstimator):
    """A bare estimator that receives the fitted task attributes."""

    def fit(self, X, y):
        return self


def _school_frame(seed=0):
    rng = np.random.RandomState(seed)
    n = 30
    # every task gets ten rows, so that 5-fold task-aware CV can split it
    frame = pd.DataFrame(
        {
            "hours": rng.rand(n),
            "school": rng.permutation(np.repeat(["north", "south", "east"], 10)),
            "age": rng.rand(n),
        }
    )
    y = rng.rand(n)
    return frame, y


# --------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------


def test_long_format_dataframe_sets_task_attributes():
    frame, y = _school_frame()
    estimator = _Recorder()
    data = check_task_data(estimator, frame, y, task_column="school")
    assert estimator.tasks_.tolist() == ["east", "north", "south"]
    assert estimator.n_tasks_ == 3
    assert estimator.n_features_in_ == 2
    assert estimator.feature_names_in_.tolist() == ["hours", "age"]
    assert estimator.task_column_ == "school"
    for t, X_t, y_t, _ in data.iter_tasks():
        rows = (frame["school"] == data.tasks[t]).to_numpy()
        np.testing.assert_array_equal(X_t, frame.loc[rows, ["hours", "age"]])
        np.testing.assert_array_equal(y_t, y[rows])


def test_rows_of_a_task_are_a_view_not_a_copy():
    frame, y = _school_frame()
    data = check_task_data(_Recorder(), frame, y, task_column="school")
    assert np.shares_memory(data.task_rows(1), data.X)


def test_wide_format_observations_and_shared_design():
    X = np.arange(12.0).reshape(4, 3)
    Y = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 6.0], [np.nan, 7.0]])
    data = check_task_data(_Recorder(), X, Y)
    assert data.layout == "wide" and not data.shared_design
    np.testing.assert_array_equal(data.task_rows(0), X[:3])
    np.testing.assert_array_equal(data.task_rows(1), X[1:])
    np.testing.assert_array_equal(data.to_input_order(data.y), Y)
    full = check_task_data(_Recorder(), X, np.nan_to_num(Y))
    assert full.shared_design and full.task_rows(1) is full.X


def test_wide_dataframe_targets_name_the_tasks():
    Y = pd.DataFrame({"math": [1.0, 2.0, 3.0], "reading": [2.0, np.nan, 1.0]})
    estimator = _Recorder()
    check_task_data(estimator, np.eye(3), Y)
    assert estimator.tasks_.tolist() == ["math", "reading"]


def test_single_task_format():
    estimator = _Recorder()
    data = check_task_data(estimator, np.eye(3), [1.0, 2.0, 3.0])
    assert data.layout == "single" and estimator.n_tasks_ == 1
    assert estimator.task_column_ is None


def test_sparse_features_with_integer_task_column():
    dense = np.array([[0, 1.0, 0.0], [1, 0.0, 2.0], [0, 3.0, 0.0]])
    data = check_task_data(
        _Recorder(), sp.csr_matrix(dense), [1.0, 2.0, 3.0], task_column=0
    )
    assert sp.issparse(data.X)
    np.testing.assert_array_equal(data.task_rows(0).toarray(), dense[[0, 2], 1:])


def test_sample_weight_gives_task_weights():
    frame, y = _school_frame()
    weights = np.linspace(0.5, 2.0, len(y))
    data = check_task_data(
        _Recorder(), frame, y, task_column="school", sample_weight=weights
    )
    for t, task in enumerate(data.tasks):
        expected = weights[(frame["school"] == task).to_numpy()].sum()
        assert data.task_weights[t] == pytest.approx(expected)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------

task_labels_strategy = st.lists(
    st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=40
)


@settings(max_examples=50, deadline=None)
@given(labels=task_labels_strategy, seed=st.integers(0, 2**16))
def test_long_to_task_data_to_long_is_lossless(labels, seed):
    rng = np.random.RandomState(seed)
    n = len(labels)
    frame = pd.DataFrame({"task": labels, "x0": rng.rand(n), "x1": rng.rand(n)})
    y = rng.rand(n)
    data = check_task_data(_Recorder(), frame, y, task_column="task")
    assert np.all(np.diff(data.task_index) >= 0)
    np.testing.assert_array_equal(data.to_input_order(data.y), y)
    restored_labels = data.to_input_order(data.tasks[data.task_index])
    assert restored_labels.tolist() == labels
    restored_rows = np.empty_like(data.X)
    restored_rows[data.input_position] = data.X
    np.testing.assert_array_equal(restored_rows, frame[["x0", "x1"]])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_prediction_order_follows_input_order(make_regressor, seed):
    # Few fits (the *CV classes take seconds each), several orders per fit.
    frame, y = _school_frame(seed)
    model = make_regressor(task_column="school").fit(frame, y)
    rng = np.random.RandomState(seed)
    expected = model.predict(frame)
    for _ in range(4):
        permutation = rng.permutation(len(frame))
        shuffled = model.predict(frame.iloc[permutation])
        np.testing.assert_allclose(shuffled, expected[permutation])


def test_relabelling_tasks_permutes_coefficients(make_regressor):
    frame, y = _school_frame()
    model = make_regressor(task_column="school").fit(frame, y)
    if not hasattr(model, "coef_") or np.ndim(model.coef_) < 2:
        pytest.skip("the estimator has no per-task coefficients")
    renamed = frame.assign(school=frame["school"].map({"north": "z", "south": "a"}))
    renamed["school"] = renamed["school"].fillna("m")  # east -> m
    relabelled = make_regressor(task_column="school").fit(renamed, y)
    # sorted labels: east, north, south -> a (south), m (east), z (north)
    np.testing.assert_allclose(relabelled.coef_, model.coef_[[2, 0, 1]], atol=1e-10)


# --------------------------------------------------------------------------
# bad input: a clear error, and nothing the caller passed is changed
# --------------------------------------------------------------------------


def _assert_unchanged(frame, frame_copy, y, y_copy):
    pd.testing.assert_frame_equal(frame, frame_copy)
    np.testing.assert_array_equal(y, y_copy)


def _fit_expecting(make_regressor, frame, y, match, task_column="school", **fit):
    frame_copy, y_copy = frame.copy(), np.array(y, copy=True)
    with pytest.raises(ValueError, match=match):
        make_regressor(task_column=task_column).fit(frame, y, **fit)
    _assert_unchanged(frame, frame_copy, y, y_copy)


def test_missing_task_column(make_regressor):
    frame, y = _school_frame()
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"task_column='district' is not a column of X; "
        r"X has the columns \['hours', 'school', 'age'\]",
        task_column="district",
    )


def test_task_column_out_of_range(make_regressor):
    frame, y = _school_frame()
    X = frame.drop(columns="school").to_numpy()
    X_copy = X.copy()
    with pytest.raises(
        ValueError,
        match=r"task_column=5 is out of range for X "
        r"with 2 columns; expected an integer in \[-2, 1\]",
    ):
        make_regressor(task_column=5).fit(X, y)
    np.testing.assert_array_equal(X, X_copy)


def test_column_name_with_numpy_array(make_regressor):
    frame, y = _school_frame()
    X = frame.drop(columns="school").to_numpy()
    with pytest.raises(ValueError, match="names a column, but X is a ndarray"):
        make_regressor(task_column="school").fit(X, y)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_missing_task_labels(make_regressor, missing):
    frame, y = _school_frame()
    frame = frame.astype({"school": object})
    frame.loc[[3, 7], "school"] = missing
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"The task column 'school' has 2 missing value\(s\) \(NaN or None\), "
        r"first at row\(s\) \[3, 7\]",
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(make_regressor, bad):
    frame, y = _school_frame()
    frame.loc[4, "hours"] = bad
    _fit_expecting(make_regressor, frame, y, "Input X contains (NaN|infinity)")


def test_length_mismatch(make_regressor):
    frame, y = _school_frame()
    _fit_expecting(
        make_regressor, frame, y[:-1], "X has 30 rows but y has 29; they must have"
    )


def test_wide_column_without_observations(make_regressor):
    X = np.random.RandomState(0).rand(6, 2)
    Y = np.column_stack([np.arange(6.0), np.full(6, np.nan)])
    Y_copy = Y.copy()
    with pytest.raises(
        ValueError,
        match=r"Task column\(s\) \[1\] of Y have no "
        r"observed target \(all NaN\)",
    ):
        make_regressor(task_column=None).fit(X, Y)
    np.testing.assert_array_equal(Y, Y_copy)


def test_unused_category_is_a_task_without_rows(make_regressor):
    frame, y = _school_frame()
    frame["school"] = pd.Categorical(
        frame["school"], categories=["east", "north", "south", "west"]
    )
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"Task\(s\) \['west'\] of the categorical task column 'school' have no rows",
    )


def test_task_with_zero_total_weight(make_regressor):
    frame, y = _school_frame()
    if not has_fit_parameter(make_regressor(task_column="school"), "sample_weight"):
        pytest.skip("the estimator takes no sample_weight")
    weights = np.where(frame["school"] == "east", 0.0, 1.0)
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"Task\(s\) \['east'\] have total sample weight 0",
        sample_weight=weights,
    )


def test_unknown_task_at_predict(make_regressor):
    frame, y = _school_frame()
    model = make_regressor(task_column="school").fit(frame, y)
    new = frame.copy()
    new.loc[[0, 1], "school"] = ["west", "central"]
    new_copy = new.copy()
    if type(model).__name__ == "PooledEstimator":
        model.predict(new)  # one model for all tasks: new tasks are fine
        return
    with pytest.raises(
        ValueError,
        match=r"Task\(s\) \['west', 'central'\] in the task column 'school' of X "
        r"were not seen during fit; known tasks: \['east', 'north', 'south'\]",
    ):
        model.predict(new)
    pd.testing.assert_frame_equal(new, new_copy)


def test_feature_columns_reordered_at_predict(make_regressor):
    frame, y = _school_frame()
    model = make_regressor(task_column="school").fit(frame, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(frame[["age", "school", "hours"]])


def test_feature_count_changed_at_predict(make_regressor):
    frame, y = _school_frame()
    X = frame.assign(school=frame["school"].map({"east": 0, "north": 1, "south": 2}))
    model = make_regressor(task_column=1).fit(X.to_numpy(), y)
    wider = np.column_stack([X.to_numpy(), np.ones(len(X))])
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2"):
        model.predict(wider)


def test_non_numeric_feature_column(make_regressor):
    frame, y = _school_frame()
    frame["district"] = "inner"
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"Feature columns \['district'\] of X are not numeric.*"
        r"TaskColumnPassthrough\(OneHotEncoder\(\)",
    )


def test_non_numeric_values_in_an_array(make_regressor):
    X = np.array([[0, "a"], [1, "b"], [0, "c"], [1, "d"]], dtype=object)
    with pytest.raises(ValueError, match="Some feature columns of X are not numeric"):
        make_regressor(task_column=0).fit(X, [1.0, 2.0, 3.0, 4.0])


def test_two_dimensional_y_in_long_format(make_regressor):
    frame, y = _school_frame()
    _fit_expecting(
        make_regressor,
        frame,
        np.column_stack([y, y]),
        r"y must be 1-D in long format \(task_column='school'\)",
    )


def test_predict_data_marks_unknown_tasks_when_allowed():
    frame, y = _school_frame()
    estimator = _Recorder()
    check_task_data(estimator, frame, y, task_column="school")
    new = frame.assign(school=["west"] * 2 + frame["school"].tolist()[2:])
    data = check_predict_data(estimator, new, allow_unknown=True)
    np.testing.assert_array_equal(data.unknown, np.arange(len(new)) < 2)


def test_split_task_column_keeps_dataframe_features():
    frame, _ = _school_frame()
    features, labels, name = split_task_column(frame, -2)
    assert list(features.columns) == ["hours", "age"] and name == "school"
    assert labels.tolist() == frame["school"].tolist()


# --------------------------------------------------------------------------
# missing and mixed values, every classifier the data layer feeds
# --------------------------------------------------------------------------


def _classifiers():
    from sklearn.linear_model import LogisticRegression

    from skmtl.baseline import PerTaskEstimator, PooledEstimator
    from skmtl.linear_model import JointFeatureClassifier, MeanRegularizedClassifier

    yield pytest.param(
        lambda **kw: PerTaskEstimator(LogisticRegression(), **kw), id="PerTask"
    )
    yield pytest.param(
        lambda **kw: PooledEstimator(LogisticRegression(), **kw), id="Pooled"
    )
    yield pytest.param(MeanRegularizedClassifier, id="MeanRegularizedClassifier")
    yield pytest.param(JointFeatureClassifier, id="JointFeatureClassifier")


def _binary_wide(seed=0, n=16):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(float)
    Y[[0, 5], 0] = np.nan
    Y[[3], 1] = np.nan
    return X, Y


def test_only_the_task_column(make_regressor):
    frame, y = _school_frame()
    _fit_expecting(
        make_regressor,
        frame[["school"]],
        y,
        "X has no feature columns besides the task column 'school'",
    )
    model = make_regressor(task_column="school").fit(frame, y)
    with pytest.raises(ValueError, match="no feature columns besides the task"):
        model.predict(frame[["school"]])


@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_only_the_task_column_classifier(make_classifier):
    frame, _ = _school_frame()
    labels = np.arange(len(frame)) % 2
    with pytest.raises(ValueError, match="no feature columns besides the task"):
        make_classifier(task_column="school").fit(frame[["school"]], labels)


def test_task_labels_of_mixed_types(make_regressor):
    frame, y = _school_frame()
    frame = frame.astype({"school": object})
    frame.loc[frame["school"] == "north", "school"] = 1
    _fit_expecting(
        make_regressor,
        frame,
        y,
        r"The task column 'school' mixes label types \['int', 'str'\]",
    )


@pytest.mark.parametrize("marker", [None, pd.NA])
@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_wide_object_labels_missing_marker_is_nan(make_classifier, marker):
    X, Y = _binary_wide()
    Y_object = Y.astype(object)
    Y_object[np.isnan(Y)] = marker
    Y_copy = Y_object.copy()
    model = make_classifier(task_column=None).fit(X, Y_object)
    oracle = make_classifier(task_column=None).fit(X, Y)
    np.testing.assert_array_equal(model.classes_, [0, 1])
    np.testing.assert_allclose(
        model.predict_proba(X), oracle.predict_proba(X), rtol=1e-10
    )
    assert all(a is b for a, b in zip(Y_object.ravel(), Y_copy.ravel()))


def test_per_task_classifier_wide_none_equals_sklearn_per_task():
    from sklearn.linear_model import LogisticRegression

    from skmtl.baseline import PerTaskEstimator

    X, Y = _binary_wide()
    Y_object = Y.astype(object)
    Y_object[np.isnan(Y)] = None
    model = PerTaskEstimator(LogisticRegression()).fit(X, Y_object)
    for t in range(Y.shape[1]):
        rows = ~np.isnan(Y[:, t])
        oracle = LogisticRegression().fit(X[rows], Y[rows, t].astype(int))
        np.testing.assert_allclose(model.estimators_[t].coef_, oracle.coef_)


@pytest.mark.parametrize("marker", [None, pd.NA])
@pytest.mark.parametrize("y_numeric", [True, False])
def test_wide_object_missing_marker_gives_the_nan_task_data(marker, y_numeric):
    X, Y = _binary_wide()
    Y_object = Y.astype(object)
    Y_object[np.isnan(Y)] = marker
    data = check_task_data(_Recorder(), X, Y_object, y_numeric=y_numeric)
    oracle = check_task_data(_Recorder(), X, Y, y_numeric=y_numeric)
    np.testing.assert_array_equal(data.y, oracle.y)
    assert data.y.dtype.kind in "if"
    np.testing.assert_array_equal(data.row_index, oracle.row_index)
    np.testing.assert_array_equal(data.task_index, oracle.task_index)


@pytest.mark.parametrize("marker", [None, pd.NA])
def test_wide_object_targets_missing_marker_is_nan(make_regressor, marker):
    X, Y = _binary_wide()
    Y_object = Y.astype(object)
    Y_object[np.isnan(Y)] = marker
    model = make_regressor(task_column=None)
    if marker is pd.NA and type(model).__name__.endswith("CV"):
        pytest.skip("the CV classes score held-out folds on the raw Y")
    model.fit(X, Y_object)
    oracle = make_regressor(task_column=None).fit(X, Y)
    # The GP's optimiser varies by about 1e-6 between identical fits.
    np.testing.assert_allclose(model.predict(X), oracle.predict(X), atol=1e-5)


@pytest.mark.parametrize(
    "y",
    [
        np.array([1.0, np.nan, 2.0, 3.0] * 3, dtype=object),
        np.array([1.0, None, 2.0, 3.0] * 3, dtype=object),
        np.array([1.0, pd.NA, 2.0, 3.0] * 3, dtype=object),
        pd.Series([1, pd.NA, 2, 3] * 3, dtype="Int64"),
    ],
    ids=["nan", "None", "NA", "Int64"],
)
def test_missing_1d_target_is_the_nan_error(make_regressor, y):
    X = np.random.RandomState(0).rand(12, 2)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        make_regressor(task_column=None).fit(X, y)


@pytest.mark.parametrize("marker", [np.nan, None, pd.NA])
@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_missing_1d_label_is_the_nan_error(make_classifier, marker):
    frame, _ = _school_frame()
    labels = np.array(["a", "b"] * 15, dtype=object)
    labels[4] = marker
    with pytest.raises(ValueError, match="y contains NaN or None"):
        make_classifier(task_column="school").fit(frame, labels)


@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_labels_of_mixed_types(make_classifier):
    frame, _ = _school_frame()
    labels = np.array([0, "one"] * 15, dtype=object)
    with pytest.raises(
        ValueError, match=r"Mix of label input types \(string and number\) in y"
    ):
        make_classifier(task_column="school").fit(frame, labels)
    X, Y = _binary_wide()
    Y_object = Y.astype(object)
    Y_object[1, 1] = "one"
    with pytest.raises(ValueError, match=r"Mix of label input types .* in Y"):
        make_classifier(task_column=None).fit(X, Y_object)


@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_infinite_label(make_classifier):
    frame, _ = _school_frame()
    labels = (np.arange(len(frame)) % 2).astype(float)
    labels[3] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        make_classifier(task_column="school").fit(frame, labels)


@pytest.mark.parametrize("make_classifier", list(_classifiers()))
def test_continuous_labels_give_sklearn_message(make_classifier):
    frame, y = _school_frame()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        make_classifier(task_column="school").fit(frame, y)


def test_words_as_regression_targets(make_regressor):
    frame, y = _school_frame()
    words = y.astype(str)
    words[5] = "oops"
    _fit_expecting(
        make_regressor,
        frame,
        words,
        "y holds values that are not numbers, for example 'oops', but a "
        "regressor needs numeric targets",
    )
    X = frame[["hours", "age"]].to_numpy()
    Y = np.column_stack([y, y]).astype(object)
    Y[2, 1] = "n/a"
    with pytest.raises(ValueError, match="Y holds values that are not numbers"):
        make_regressor(task_column=None).fit(X, Y)


def test_passthrough_with_only_the_task_column():
    from sklearn.preprocessing import StandardScaler

    from skmtl.pipeline import TaskColumnPassthrough

    frame, _ = _school_frame()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school")
    with pytest.raises(ValueError, match="no feature columns besides the task"):
        prep.fit(frame[["school"]])
