"""Tests of skmtl.pipeline.TaskColumnPassthrough.

The oracle is always the inner transformer applied by hand to the feature
columns, with the task column compared separately.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmtl._tasks import split_task_column
from skmtl.pipeline import TaskColumnPassthrough


def _frame(seed=0, n=12):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "hours": rng.normal(5.0, 2.0, size=n),
            "school": np.array(["north", "south", "east"])[np.arange(n) % 3],
            "age": rng.normal(12.0, 1.0, size=n),
            "grade": rng.integers(1, 4, size=n).astype(float),
        },
        index=pd.Index(np.arange(100, 100 + n), name="student"),
    )


def _array(seed=0, n=10):
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            np.arange(n) % 3,  # task labels 0, 1, 2
            rng.normal(size=n),
            rng.normal(3.0, 2.0, size=n),
        ]
    ).astype(float)


class _TaskMeanRegressor(RegressorMixin, BaseEstimator):
    """Predicts the mean target of each row's task: it must find the column."""

    def __init__(self, task_column):
        self.task_column = task_column

    def fit(self, X, y):
        _, labels, _ = split_task_column(X, self.task_column)
        self.means_ = pd.Series(y).groupby(labels).mean().to_dict()
        return self

    def predict(self, X):
        _, labels, _ = split_task_column(X, self.task_column)
        return np.array([self.means_[label] for label in labels])


# --------------------------------------------------------------------------
# output equals the inner transformer applied by hand
# --------------------------------------------------------------------------


def test_dataframe_output_equals_scaler_on_feature_columns():
    X = _frame()
    X_copy = X.copy()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school")
    Xt = prep.fit_transform(X)

    features = X[["hours", "age", "grade"]].to_numpy()
    expected = (features - features.mean(axis=0)) / features.std(axis=0)
    assert isinstance(Xt, pd.DataFrame)
    assert Xt.columns.tolist() == ["hours", "school", "age", "grade"]
    pd.testing.assert_index_equal(Xt.index, X.index)
    np.testing.assert_allclose(
        Xt[["hours", "age", "grade"]].to_numpy(), expected, rtol=1e-12
    )
    pd.testing.assert_series_equal(Xt["school"], X["school"])  # values and dtype
    pd.testing.assert_frame_equal(prep.transform(X), Xt)
    pd.testing.assert_frame_equal(X, X_copy)  # the caller's X is untouched


@pytest.mark.parametrize(
    "dtype", ["string", "category", "object", "int64"], ids=lambda d: f"labels-{d}"
)
def test_task_column_dtype_is_preserved(dtype):
    X = _frame()
    if dtype == "int64":
        X["school"] = pd.factorize(X["school"])[0]
    else:
        X["school"] = X["school"].astype(dtype)
    Xt = TaskColumnPassthrough(StandardScaler(), task_column="school").fit_transform(X)
    pd.testing.assert_series_equal(Xt["school"], X["school"])


def test_one_hot_encoder_on_categorical_feature_with_string_tasks():
    X = pd.DataFrame(
        {
            "school": ["A", "A", "B", "B", "C"],
            "gender": ["f", "m", "f", "f", "m"],
            "year": ["y1", "y2", "y2", "y3", "y1"],
        }
    )
    prep = TaskColumnPassthrough(OneHotEncoder(sparse_output=False), task_column=0)
    Xt = prep.fit_transform(X)
    expected = OneHotEncoder(sparse_output=False).fit_transform(X[["gender", "year"]])
    assert Xt.columns.tolist() == [
        "school",
        "gender_f",
        "gender_m",
        "year_y1",
        "year_y2",
        "year_y3",
    ]
    np.testing.assert_array_equal(Xt.iloc[:, 1:].to_numpy(), expected)
    assert Xt["school"].tolist() == ["A", "A", "B", "B", "C"]
    assert prep.get_feature_names_out().tolist() == Xt.columns.tolist()
    assert prep.task_column_ == "school"


def test_column_transformer_inside():
    X = _frame()
    X["region"] = np.array(["r1", "r2"])[np.arange(len(X)) % 2]
    inner = ColumnTransformer(
        [
            ("scale", StandardScaler(), ["hours", "age"]),
            ("onehot", OneHotEncoder(sparse_output=False), ["region"]),
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    prep = TaskColumnPassthrough(inner, task_column="school")
    Xt = prep.fit_transform(X)
    expected = clone(inner).fit_transform(X.drop(columns="school"))
    assert Xt.columns.tolist() == [
        "hours",
        "school",
        "age",
        "region_r1",
        "region_r2",
        "grade",
    ]
    np.testing.assert_allclose(Xt.drop(columns="school").to_numpy(), expected)


@pytest.mark.parametrize(
    "task_column, expected_position", [(0, 0), (-1, 5), (-3, 3), (2, 2)]
)
def test_array_positions_with_a_wider_output(task_column, expected_position):
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [np.arange(8) % 2, rng.integers(0, 3, 8), rng.integers(0, 2, 8)]
    ).astype(float)
    # Move the task column (column 0) to the position task_column names.
    position = task_column % 3
    X = np.insert(X[:, 1:], position, X[:, 0], axis=1)
    prep = TaskColumnPassthrough(
        OneHotEncoder(sparse_output=False), task_column=task_column
    )
    Xt = prep.fit_transform(X)
    features = np.delete(X, position, axis=1)
    expected = OneHotEncoder(sparse_output=False).fit_transform(features)
    assert Xt.shape == (8, expected.shape[1] + 1)
    assert Xt.dtype == np.float64
    np.testing.assert_array_equal(Xt[:, expected_position], X[:, position])
    np.testing.assert_array_equal(np.delete(Xt, expected_position, axis=1), expected)
    # The downstream estimator finds the labels with the same task_column.
    np.testing.assert_array_equal(split_task_column(Xt, task_column)[1], X[:, position])


@pytest.mark.parametrize("task_column", [0, -1])
def test_array_output_equals_scaler_by_hand(task_column):
    X = _array()
    X_copy = X.copy()
    Xt = TaskColumnPassthrough(StandardScaler(), task_column=task_column).fit_transform(
        X
    )
    position = task_column % X.shape[1]
    features = np.delete(X, position, axis=1)
    expected = (features - features.mean(axis=0)) / features.std(axis=0)
    assert isinstance(Xt, np.ndarray) and Xt.dtype == np.float64
    np.testing.assert_array_equal(Xt[:, position], X[:, position])
    np.testing.assert_allclose(np.delete(Xt, position, axis=1), expected, rtol=1e-12)
    np.testing.assert_array_equal(X, X_copy)


def test_array_with_string_labels_gives_object_array():
    X = np.array([["A", 1.0, 2.0], ["B", 3.0, 5.0], ["A", 5.0, 8.0]], dtype=object)
    Xt = TaskColumnPassthrough(StandardScaler(), task_column=0).fit_transform(X)
    assert Xt.dtype == object
    assert Xt[:, 0].tolist() == ["A", "B", "A"]
    expected = StandardScaler().fit_transform(X[:, 1:].astype(float))
    np.testing.assert_allclose(Xt[:, 1:].astype(float), expected)


def test_nan_features_reach_the_inner_transformer():
    X = _frame()
    X.loc[X.index[[1, 4]], "age"] = np.nan
    prep = TaskColumnPassthrough(SimpleImputer(strategy="mean"), task_column="school")
    Xt = prep.fit_transform(X)
    ages = X["age"].to_numpy()
    expected_age = np.where(np.isnan(ages), np.nanmean(ages), ages)
    np.testing.assert_allclose(Xt["age"].to_numpy(), expected_age)
    assert not Xt.drop(columns="school").isna().any().any()


# --------------------------------------------------------------------------
# sparse output
# --------------------------------------------------------------------------


@pytest.mark.parametrize("task_column", [0, -1, 1])
def test_sparse_output_is_csr_with_task_column_inserted(task_column):
    X = np.array([[0, 1, 5], [1, 2, 7], [2, 3, 5], [0, 1, 7]], dtype=float)
    X = np.roll(X, task_column % 3, axis=1) if task_column else X
    position = task_column % 3
    Xt = TaskColumnPassthrough(OneHotEncoder(), task_column=task_column).fit_transform(
        X
    )
    expected = OneHotEncoder().fit_transform(np.delete(X, position, axis=1))
    assert sp.issparse(Xt) and Xt.format == "csr" and Xt.dtype == np.float64
    dense = Xt.toarray()
    insert_at = position if task_column >= 0 else dense.shape[1] - 1
    np.testing.assert_array_equal(dense[:, insert_at], X[:, position])
    np.testing.assert_array_equal(
        np.delete(dense, insert_at, axis=1), expected.toarray()
    )


def test_sparse_output_with_string_labels_asks_for_dense_output():
    X = pd.DataFrame({"school": ["A", "B"], "gender": ["f", "m"]})
    prep = TaskColumnPassthrough(OneHotEncoder(), task_column="school")
    with pytest.raises(ValueError, match="sparse_output=False"):
        prep.fit_transform(X)


# --------------------------------------------------------------------------
# feature names and set_output
# --------------------------------------------------------------------------


def test_feature_names_out_for_arrays():
    X = _array()
    prep = TaskColumnPassthrough(StandardScaler(), task_column=1).fit(X)
    assert prep.get_feature_names_out().tolist() == ["x0", "x1", "x2"]
    assert prep.get_feature_names_out(["t", "a", "b"]).tolist() == ["t", "a", "b"]
    assert not hasattr(prep, "feature_names_in_")
    assert prep.n_features_in_ == 3
    assert prep.task_column_ == 1


def test_fitted_attributes_for_dataframes():
    X = _frame()
    prep = TaskColumnPassthrough(StandardScaler(), task_column=1).fit(X)
    assert prep.feature_names_in_.tolist() == ["hours", "school", "age", "grade"]
    assert prep.n_features_in_ == 4
    assert prep.task_column_ == "school"
    assert prep.transformer_.feature_names_in_.tolist() == ["hours", "age", "grade"]


def test_set_output_pandas_on_array_input():
    X = _array()
    prep = TaskColumnPassthrough(StandardScaler(), task_column=0)
    assert prep.set_output(transform="pandas") is prep
    Xt = prep.fit_transform(X)
    assert isinstance(Xt, pd.DataFrame)
    assert Xt.columns.tolist() == ["x0", "x1", "x2"]  # x0 is the task column
    np.testing.assert_array_equal(Xt["x0"].to_numpy(), X[:, 0])
    expected = StandardScaler().fit_transform(X[:, 1:])
    np.testing.assert_allclose(Xt[["x1", "x2"]].to_numpy(), expected)
    pd.testing.assert_frame_equal(prep.transform(X), Xt)
    # The setting is forwarded to the inner transformer, and survives clone.
    assert prep.transformer_._sklearn_output_config == {"transform": "pandas"}
    assert isinstance(clone(prep).fit_transform(X), pd.DataFrame)


def test_set_output_pandas_names_follow_x_with_task_column_last():
    X = np.array([[0, 1, 7.0], [1, 1, 8.0], [1, 0, 7.0]])
    prep = TaskColumnPassthrough(OneHotEncoder(sparse_output=False), task_column=-1)
    Xt = prep.set_output(transform="pandas").fit_transform(X)
    assert Xt.columns.tolist() == ["x0_0.0", "x0_1.0", "x1_0.0", "x1_1.0", "x2"]
    assert Xt["x2"].tolist() == [7.0, 8.0, 7.0]
    assert prep.get_feature_names_out().tolist() == Xt.columns.tolist()


def test_set_output_inside_a_pipeline():
    X = _array()
    pipe = Pipeline([("prep", TaskColumnPassthrough(StandardScaler(), task_column=0))])
    Xt = pipe.set_output(transform="pandas").fit_transform(X)
    assert Xt.columns.tolist() == ["x0", "x1", "x2"]


def test_set_output_default_keeps_dataframe_for_dataframe_input():
    X = _frame()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school")
    Xt = prep.set_output(transform="default").fit_transform(X)
    assert isinstance(Xt, pd.DataFrame)


def test_set_output_unsupported_container():
    prep = TaskColumnPassthrough(StandardScaler(), task_column=0)
    with pytest.raises(ValueError, match="transform='polars'"):
        prep.set_output(transform="polars")


# --------------------------------------------------------------------------
# sklearn integration: Pipeline, GridSearchCV, clone, params, pickle
# --------------------------------------------------------------------------


def _school_regression(seed=0, n=60):
    X = _frame(seed, n=n)
    offsets = X["school"].map({"north": 2.0, "south": -1.0, "east": 0.5})
    rng = np.random.default_rng(seed)
    y = (
        1.5 * X["hours"] - 0.5 * X["age"] + offsets + rng.normal(scale=0.5, size=n)
    ).to_numpy()
    return X, y


def _scaled_ridge(with_mean=True):
    return Pipeline(
        [
            (
                "prep",
                TaskColumnPassthrough(
                    StandardScaler(with_mean=with_mean), task_column="school"
                ),
            ),
            (
                "drop_task",
                ColumnTransformer(
                    [("task", "drop", ["school"])], remainder="passthrough"
                ),
            ),
            ("ridge", Ridge(alpha=10.0)),
        ]
    )


def test_grid_search_over_inner_transformer_parameter():
    X, y = _school_regression()
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(
        _scaled_ridge(), {"prep__transformer__with_mean": [True, False]}, cv=cv
    )
    search.fit(X, y)
    for with_mean, score in zip(
        search.cv_results_["param_prep__transformer__with_mean"],
        search.cv_results_["mean_test_score"],
    ):
        by_hand = cross_val_score(_scaled_ridge(with_mean), X, y, cv=cv).mean()
        assert score == pytest.approx(by_hand, rel=1e-12)
    assert search.best_estimator_.named_steps["prep"].task_column_ == "school"


def test_downstream_estimator_reads_the_task_column():
    X, y = _school_regression(seed=1)
    pipe = Pipeline(
        [
            ("prep", TaskColumnPassthrough(StandardScaler(), task_column="school")),
            ("model", _TaskMeanRegressor(task_column="school")),
        ]
    ).fit(X, y)
    expected = pd.Series(y).groupby(X["school"].to_numpy()).mean()
    np.testing.assert_allclose(
        pipe.predict(X), expected.loc[X["school"].to_numpy()].to_numpy()
    )


def test_get_params_exposes_inner_parameters_and_set_params():
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school")
    params = prep.get_params(deep=True)
    assert params["task_column"] == "school"
    assert params["transformer__with_mean"] is True
    prep.set_params(transformer__with_mean=False)
    assert prep.transformer.with_mean is False
    assert "transformer__with_mean" not in prep.get_params(deep=False)


def test_clone_is_unfitted_with_equal_params():
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school").fit(_frame())
    copy = clone(prep)
    assert not hasattr(copy, "transformer_")
    assert copy.transformer is not prep.transformer
    assert copy.get_params()["transformer__with_std"] is True
    assert copy.task_column == "school"


def test_pickle_round_trip():
    X = _frame()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="school").fit(X)
    restored = pickle.loads(pickle.dumps(prep))
    pd.testing.assert_frame_equal(restored.transform(X), prep.transform(X))
    assert restored.get_feature_names_out().tolist() == (
        prep.get_feature_names_out().tolist()
    )


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_unknown_task_column():
    X = _frame()
    with pytest.raises(ValueError, match="task_column='schol' is not a column of X"):
        TaskColumnPassthrough(StandardScaler(), task_column="schol").fit(X)
    with pytest.raises(ValueError, match="out of range"):
        TaskColumnPassthrough(StandardScaler(), task_column=5).fit(_array())
    with pytest.raises(ValueError, match="without column names"):
        TaskColumnPassthrough(StandardScaler(), task_column="school").fit(_array())


def test_without_task_column_it_is_the_inner_transformer():
    X = _array()
    prep = TaskColumnPassthrough(StandardScaler())  # task_column=None
    Xt = prep.fit_transform(X)
    np.testing.assert_allclose(Xt, StandardScaler().fit_transform(X), rtol=1e-12)
    np.testing.assert_allclose(prep.transform(X), Xt, rtol=1e-12)
    assert prep.task_column_ is None
    assert prep.get_feature_names_out().tolist() == ["x0", "x1", "x2"]
    Xt_frame = prep.set_output(transform="pandas").fit_transform(X)
    assert Xt_frame.columns.tolist() == ["x0", "x1", "x2"]
    np.testing.assert_allclose(Xt_frame.to_numpy(), Xt, rtol=1e-12)


def test_missing_task_labels_are_rejected():
    X = _frame()
    X.loc[X.index[2], "school"] = None
    with pytest.raises(ValueError, match="missing value"):
        TaskColumnPassthrough(StandardScaler(), task_column="school").fit(X)


def test_transform_with_other_columns_is_rejected():
    prep = TaskColumnPassthrough(StandardScaler(), task_column=0).fit(_array())
    with pytest.raises(ValueError, match="X has 2 features"):
        prep.transform(_array()[:, :2])


def test_transformer_without_transform_is_rejected():
    with pytest.raises(ValueError, match="must be an object implementing 'fit'"):
        TaskColumnPassthrough(Ridge(), task_column=0).fit(_array())


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TaskColumnPassthrough(StandardScaler(), task_column=0).transform(_array())


# --------------------------------------------------------------------------
# a named task column next to numbered feature columns
# --------------------------------------------------------------------------


def _numbered_frame(seed=0, n=12):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 2)) * [1.0, 10.0])
    frame.insert(1, "task", np.array(["a", "b", "c"])[np.arange(n) % 3])
    return frame


@pytest.mark.parametrize("output", ["default", "pandas"])
def test_numbered_feature_columns_with_named_task_column(output):
    frame = _numbered_frame()
    frame_copy = frame.copy()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="task")
    transformed = prep.set_output(transform=output).fit_transform(frame)
    assert transformed.columns.tolist() == [0, "task", 1]
    assert prep.get_feature_names_out().tolist() == [0, "task", 1]
    assert prep.n_features_in_ == 3
    oracle = StandardScaler().fit_transform(frame[[0, 1]])
    np.testing.assert_allclose(transformed[[0, 1]].to_numpy(), oracle)
    assert transformed["task"].tolist() == frame["task"].tolist()
    assert prep.transform(frame).columns.tolist() == [0, "task", 1]
    pd.testing.assert_frame_equal(frame, frame_copy)


def test_numbered_feature_columns_one_hot_names():
    frame = pd.DataFrame({0: ["x", "y", "x"], "task": ["a", "a", "b"]})
    encoder = OneHotEncoder(sparse_output=False)
    prep = TaskColumnPassthrough(encoder, task_column="task")
    transformed = prep.fit_transform(frame)
    assert transformed.columns.tolist() == ["0_x", "task", "0_y"]
    np.testing.assert_array_equal(transformed[["0_x", "0_y"]], [[1, 0], [0, 1], [1, 0]])


def test_numbered_feature_columns_feed_a_task_estimator():
    from skmtl.baseline import PerTaskEstimator

    frame = _numbered_frame()
    y = frame[0].to_numpy() * 2.0
    pipe = Pipeline(
        [
            ("prep", TaskColumnPassthrough(StandardScaler(), task_column="task")),
            ("model", PerTaskEstimator(Ridge(alpha=1e-9), task_column="task")),
        ]
    ).fit(frame, y)
    np.testing.assert_allclose(pipe.predict(frame), y, atol=1e-6)


def test_numbered_feature_columns_changed_in_transform():
    frame = _numbered_frame()
    prep = TaskColumnPassthrough(StandardScaler(), task_column="task").fit(frame)
    with pytest.raises(ValueError, match="columns of X .* differ from those seen"):
        prep.transform(frame.rename(columns={1: 2}))
