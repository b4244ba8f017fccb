"""Tests of the task-aware splitters, against KFold and counting facts."""

import warnings
from math import ceil, floor

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import Pipeline

from skmtl.model_selection import (
    FewShotTasksOut,
    LeaveTasksOut,
    TaskKFold,
    train_test_split_tasks,
)

# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def make_task_labels(sizes, seed=0):
    """Task label (0, 1, ...) of every row, tasks interleaved in random order."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(seed).permutation(labels)


def make_array(sizes, seed=0):
    """Long-format array: task in column 0, row position in column 1."""
    labels = make_task_labels(sizes, seed)
    position = np.arange(len(labels), dtype=float)
    noise = np.random.default_rng(seed + 1).normal(size=len(labels))
    return np.column_stack([labels, position, noise])


def make_frame(sizes, seed=0):
    """Long-format DataFrame with string task labels and a non-default index."""
    X = make_array(sizes, seed)
    return pd.DataFrame(
        {
            "x0": X[:, 1],
            "school": [f"school-{int(t)}" for t in X[:, 0]],
            "x1": X[:, 2],
        },
        index=pd.Index(1000 + 3 * np.arange(len(X)), name="student"),
    )


def rows_by_task(labels):
    """Map each task label to the positions of its rows."""
    return {task: np.flatnonzero(labels == task) for task in np.unique(labels)}


def assert_is_partition(train, test, n_samples):
    """Sorted integer indices, disjoint, covering every row."""
    for indices in (train, test):
        assert indices.dtype.kind == "i"
        assert np.all(np.diff(indices) > 0)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(n_samples))


# --------------------------------------------------------------------------
# TaskKFold
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle, random_state", [(False, None), (True, 0)])
def test_task_kfold_splits_every_task_into_balanced_folds(shuffle, random_state):
    sizes = [7, 10, 5, 13]
    X = make_array(sizes)
    cv = TaskKFold(5, task_column=0, shuffle=shuffle, random_state=random_state)
    folds = list(cv.split(X))
    assert len(folds) == cv.get_n_splits() == 5
    for train, test in folds:
        assert_is_partition(train, test, len(X))
        # n_t >= n_splits for every task: each task is in each test fold.
        assert set(X[test, 0]) == set(range(len(sizes)))
    for task, rows in rows_by_task(X[:, 0]).items():
        test_counts = [np.isin(test, rows).sum() for _, test in folds]
        assert sum(test_counts) == sizes[int(task)]
        assert max(test_counts) - min(test_counts) <= 1
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(len(X)))


def test_task_kfold_total_fold_sizes_are_balanced():
    # Three tasks of 6 rows in 5 folds: 1 extra row each. Rotating the extra
    # rows gives totals 4, 4, 4, 3, 3 instead of 6, 3, 3, 3, 3.
    X = make_array([6, 6, 6])
    test_sizes = [len(test) for _, test in TaskKFold(5, task_column=0).split(X)]
    assert sorted(test_sizes) == [3, 3, 4, 4, 4]


@pytest.mark.parametrize("shuffle, random_state", [(False, None), (True, 3)])
def test_task_kfold_with_one_task_is_kfold(shuffle, random_state):
    X = np.column_stack([np.full(23, 7.0), np.arange(23.0)])
    ours = TaskKFold(4, task_column=0, shuffle=shuffle, random_state=random_state)
    kfold = KFold(4, shuffle=shuffle, random_state=random_state)
    for (train, test), (train_ref, test_ref) in zip(
        ours.split(X), kfold.split(X), strict=True
    ):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)


@pytest.mark.parametrize("shuffle, random_state", [(False, None), (True, 0), (True, 5)])
def test_task_kfold_without_task_column_is_kfold(shuffle, random_state):
    X = np.random.default_rng(0).normal(size=(17, 3))
    y = np.arange(17)
    ours = TaskKFold(3, task_column=None, shuffle=shuffle, random_state=random_state)
    kfold = KFold(3, shuffle=shuffle, random_state=random_state)
    for (train, test), (train_ref, test_ref) in zip(
        ours.split(X, y), kfold.split(X, y), strict=True
    ):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)


def test_task_kfold_without_task_column_raises_like_kfold():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=4"):
        list(KFold(4).split(X))
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=4"):
        list(TaskKFold(4, task_column=None).split(X))


def test_task_kfold_keeps_small_tasks_in_train_with_one_warning():
    sizes = [10, 2, 8, 1]
    X = make_array(sizes)
    X_before = X.copy()
    cv = TaskKFold(3, task_column=0)
    with pytest.warns(
        UserWarning, match=r"Task\(s\) \[1\.0, 3\.0\] have fewer rows than "
    ):
        folds = list(cv.split(X))
    small_rows = np.flatnonzero(np.isin(X[:, 0], [1, 3]))
    for train, test in folds:
        assert_is_partition(train, test, len(X))
        assert np.isin(small_rows, train).all()
        assert set(X[test, 0]) == {0, 2}
    np.testing.assert_array_equal(X, X_before)


def test_task_kfold_warns_once_per_split_call():
    X = make_array([10, 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(TaskKFold(3, task_column=0).split(X))
    assert [type(w.message) for w in caught] == [UserWarning]


def test_task_kfold_rejects_data_where_no_task_can_be_split():
    X = make_array([2, 3, 1])
    X_before = X.copy()
    with pytest.raises(ValueError, match=r"n_splits=4 .*largest task has 3 row"):
        list(TaskKFold(4, task_column=0).split(X))
    np.testing.assert_array_equal(X, X_before)


def test_task_kfold_is_deterministic_for_a_seed():
    X = make_array([9, 12, 15])

    def folds(cv):
        return [test.tolist() for _, test in cv.split(X)]

    seeded = TaskKFold(3, task_column=0, shuffle=True, random_state=1)
    assert folds(seeded) == folds(seeded)
    same_seed = TaskKFold(3, task_column=0, shuffle=True, random_state=1)
    assert folds(seeded) == folds(same_seed)
    other_seed = TaskKFold(3, task_column=0, shuffle=True, random_state=2)
    assert folds(seeded) != folds(other_seed)
    assert folds(seeded) != folds(TaskKFold(3, task_column=0))


def test_task_kfold_without_shuffle_cuts_each_task_into_runs():
    # Unshuffled, a test fold holds consecutive rows of each task, as in KFold.
    X = make_array([8, 11])
    for _, test in TaskKFold(4, task_column=0).split(X):
        for rows in rows_by_task(X[:, 0]).values():
            positions_in_task = np.flatnonzero(np.isin(rows, test))
            assert np.all(np.diff(positions_in_task) == 1)


def test_task_kfold_on_frame_with_string_labels():
    X = make_frame([6, 9, 4])
    X_before = X.copy()
    folds = list(TaskKFold(4, task_column="school").split(X))
    assert len(folds) == 4
    for train, test in folds:
        assert_is_partition(train, test, len(X))
        assert set(X["school"].iloc[test]) == {"school-0", "school-1", "school-2"}
    pd.testing.assert_frame_equal(X, X_before)


def test_task_kfold_rejects_a_missing_task_column():
    X = make_frame([6, 9])
    X_before = X.copy()
    with pytest.raises(ValueError, match="task_column='schol' is not a column of X"):
        list(TaskKFold(3, task_column="schol").split(X))
    pd.testing.assert_frame_equal(X, X_before)


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"n_splits": 1}, ValueError, "requires at least one train/test split"),
        ({"n_splits": 2.5}, ValueError, "must be of Integral type"),
        ({"random_state": 0}, ValueError, "random_state has no effect"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
    ],
)
@pytest.mark.parametrize("splitter", [KFold, TaskKFold, LeaveTasksOut])
def test_kfold_parameters_are_checked_like_kfold(splitter, params, error, message):
    params = {"n_splits": 3, "shuffle": False, **params}
    if splitter is not KFold:
        params["task_column"] = 0
    with pytest.raises(error, match=message):
        splitter(**params)


def test_task_kfold_repr_is_sklearn_style():
    cv = TaskKFold(3, task_column="school", shuffle=True, random_state=0)
    assert repr(cv) == (
        "TaskKFold(n_splits=3, random_state=0, shuffle=True, task_column='school')"
    )


# --------------------------------------------------------------------------
# LeaveTasksOut
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle, random_state", [(False, None), (True, 0)])
def test_leave_tasks_out_partitions_the_tasks(shuffle, random_state):
    X = make_frame([3, 5, 2, 7, 4, 6, 1])
    labels = X["school"].to_numpy()
    cv = LeaveTasksOut(
        3, task_column="school", shuffle=shuffle, random_state=random_state
    )
    held_out = []
    for train, test in cv.split(X):
        assert_is_partition(train, test, len(X))
        test_tasks = set(labels[test])
        # Whole tasks: no task on both sides.
        assert test_tasks.isdisjoint(labels[train])
        held_out.append(test_tasks)
    assert sorted(len(tasks) for tasks in held_out) == [2, 2, 3]
    all_tasks = set().union(*held_out)
    assert all_tasks == set(labels) and sum(map(len, held_out)) == 7


def test_leave_tasks_out_without_shuffle_takes_tasks_in_sorted_order():
    X = make_array([2, 3, 4, 5])
    folds = list(LeaveTasksOut(2, task_column=0, shuffle=False).split(X))
    assert [set(X[test, 0]) for _, test in folds] == [{0, 1}, {2, 3}]


def test_leave_tasks_out_is_deterministic_for_a_seed():
    X = make_array([2] * 12)

    def folds(random_state):
        cv = LeaveTasksOut(4, task_column=0, random_state=random_state)
        return [test.tolist() for _, test in cv.split(X)]

    assert folds(0) == folds(0)
    assert folds(0) != folds(1)


def test_leave_tasks_out_rejects_more_folds_than_tasks():
    X = make_frame([4, 4, 4])
    X_before = X.copy()
    cv = LeaveTasksOut(5, task_column="school")
    with pytest.raises(ValueError, match=r"n_splits=5 .*only 3 task"):
        list(cv.split(X))
    pd.testing.assert_frame_equal(X, X_before)


def test_leave_tasks_out_needs_a_task_column():
    with pytest.raises(ValueError, match="LeaveTasksOut needs task_column"):
        LeaveTasksOut(3, task_column=None)


# --------------------------------------------------------------------------
# train_test_split_tasks
# --------------------------------------------------------------------------

SIZES = [4, 5, 7, 12, 20, 2, 3]


def task_counts(X_part, n_tasks):
    return np.bincount(X_part[:, 0].astype(int), minlength=n_tasks)


@pytest.mark.parametrize("shuffle", [True, False])
def test_split_tasks_takes_a_quarter_of_every_task(shuffle):
    X = make_array(SIZES)
    y = X[:, 1] * 10
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        X,
        y,
        task_column=0,
        test_size=0.25,
        random_state=0 if shuffle else None,
        shuffle=shuffle,
    )
    expected_test = [ceil(0.25 * n) for n in SIZES]
    np.testing.assert_array_equal(task_counts(X_test, len(SIZES)), expected_test)
    np.testing.assert_array_equal(
        task_counts(X_train, len(SIZES)), np.subtract(SIZES, expected_test)
    )
    # Rows stay paired with their targets, in input order, each used once.
    np.testing.assert_array_equal(y_train, X_train[:, 1] * 10)
    np.testing.assert_array_equal(y_test, X_test[:, 1] * 10)
    assert np.all(np.diff(X_train[:, 1]) > 0) and np.all(np.diff(X_test[:, 1]) > 0)
    used = np.concatenate([X_train[:, 1], X_test[:, 1]])
    np.testing.assert_array_equal(np.sort(used), np.arange(len(X)))


def test_split_tasks_default_test_size_is_a_quarter():
    X = make_array(SIZES)
    _, X_test = train_test_split_tasks(X, task_column=0, random_state=0)
    expected = [ceil(0.25 * n) for n in SIZES]
    np.testing.assert_array_equal(task_counts(X_test, len(SIZES)), expected)


def test_split_tasks_with_train_size_only():
    X = make_array(SIZES)
    X_train, X_test = train_test_split_tasks(
        X, task_column=0, train_size=0.6, random_state=0
    )
    expected_train = [floor(0.6 * n) for n in SIZES]
    np.testing.assert_array_equal(task_counts(X_train, len(SIZES)), expected_train)
    np.testing.assert_array_equal(
        task_counts(X_test, len(SIZES)), np.subtract(SIZES, expected_train)
    )


def test_split_tasks_with_both_sizes_leaves_rows_out_like_sklearn():
    X = make_array(SIZES)
    X_train, X_test = train_test_split_tasks(
        X, task_column=0, train_size=0.5, test_size=0.25, random_state=0
    )
    np.testing.assert_array_equal(
        task_counts(X_train, len(SIZES)), [floor(0.5 * n) for n in SIZES]
    )
    np.testing.assert_array_equal(
        task_counts(X_test, len(SIZES)), [ceil(0.25 * n) for n in SIZES]
    )
    assert np.intersect1d(X_train[:, 1], X_test[:, 1]).size == 0


def test_split_tasks_keeps_a_train_and_a_test_row_in_every_task():
    sizes = [2, 3, 10]
    X = make_array(sizes)
    X_train, X_test = train_test_split_tasks(X, task_column=0, test_size=0.9)
    # ceil(0.9 * 2) = 2 and ceil(0.9 * 3) = 3 would leave no training row.
    np.testing.assert_array_equal(task_counts(X_test, 3), [1, 2, 9])
    np.testing.assert_array_equal(task_counts(X_train, 3), [1, 1, 1])
    X_train, X_test = train_test_split_tasks(X, task_column=0, test_size=0.01)
    np.testing.assert_array_equal(task_counts(X_test, 3), [1, 1, 1])


def test_split_tasks_with_one_task_matches_sklearn():
    X = np.column_stack([np.zeros(30), np.arange(30.0)])
    ours = train_test_split_tasks(X, task_column=0, test_size=0.3, random_state=4)
    reference = train_test_split(X, test_size=0.3, random_state=4)
    # sklearn returns rows in shuffled order; ours keeps input order.
    for part, part_ref in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(part[:, 1], np.sort(part_ref[:, 1]))


def test_split_tasks_is_deterministic_for_a_seed():
    X = make_array(SIZES)
    first = train_test_split_tasks(X, task_column=0, random_state=0)
    again = train_test_split_tasks(X, task_column=0, random_state=0)
    other = train_test_split_tasks(X, task_column=0, random_state=1)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_tasks_without_shuffle_trains_on_the_first_rows_of_each_task():
    X = make_array([4, 8])
    X_train, _ = train_test_split_tasks(X, task_column=0, shuffle=False)
    for task, rows in rows_by_task(X[:, 0]).items():
        n_train = len(rows) - ceil(0.25 * len(rows))
        np.testing.assert_array_equal(
            X_train[X_train[:, 0] == task, 1], X[rows[:n_train], 1]
        )


def test_split_tasks_keeps_pandas_types_and_index():
    X = make_frame([8, 6, 10])
    y = pd.Series(X["x0"] * 2, name="score")
    X_before, y_before = X.copy(), y.copy()
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        X, y, task_column="school", random_state=0
    )
    assert isinstance(X_train, pd.DataFrame) and isinstance(X_test, pd.DataFrame)
    assert isinstance(y_train, pd.Series) and isinstance(y_test, pd.Series)
    assert list(X_train.columns) == list(X.columns)
    pd.testing.assert_index_equal(X_train.index, y_train.index)
    pd.testing.assert_index_equal(X_test.index, y_test.index)
    assert (
        X_train.index.is_monotonic_increasing and X_test.index.is_monotonic_increasing
    )
    assert X_train.index.union(X_test.index).equals(X.index)
    pd.testing.assert_frame_equal(X_train, X.loc[X_train.index])
    test_counts = X_test["school"].value_counts().sort_index().tolist()
    assert test_counts == [ceil(0.25 * n) for n in (8, 6, 10)]
    pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y, y_before)


def test_split_tasks_warns_and_trains_on_a_one_row_task():
    X = make_frame([6, 1, 5])
    with pytest.warns(UserWarning, match=r"Task\(s\) \['school-1'\] have a single row"):
        X_train, X_test = train_test_split_tasks(X, task_column="school")
    assert (X_train["school"] == "school-1").sum() == 1
    assert "school-1" not in set(X_test["school"])


def test_split_tasks_without_task_column_is_train_test_split():
    X = np.random.default_rng(0).normal(size=(21, 3))
    y = np.arange(21)
    ours = train_test_split_tasks(X, y, task_column=None, test_size=0.3, random_state=2)
    reference = train_test_split(X, y, test_size=0.3, random_state=2)
    for part, part_ref in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(part, part_ref)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"test_size": 3}, r"test_size=3 is a number of rows.*Give a fraction"),
        ({"train_size": 10}, r"train_size=10 is a number of rows"),
        ({"test_size": 1.5}, r"test_size=1.5 should be a float in the \(0, 1\)"),
        ({"test_size": 0.0}, r"test_size=0.0 should be a float"),
        ({"test_size": 0.5, "train_size": 0.6}, "sum of test_size and train_size"),
        ({"task_column": "schol"}, "task_column='schol' is not a column of X"),
    ],
)
def test_split_tasks_rejects_bad_input_without_touching_it(params, message):
    X = make_frame([5, 6])
    y = pd.Series(np.arange(11.0), index=X.index)
    X_before, y_before = X.copy(), y.copy()
    with pytest.raises(ValueError, match=message):
        train_test_split_tasks(X, y, **{"task_column": "school", **params})
    pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y, y_before)


def test_split_tasks_needs_an_array():
    with pytest.raises(ValueError, match="At least one array"):
        train_test_split_tasks(task_column=0)


def test_split_tasks_rejects_arrays_of_different_lengths():
    X = make_array([4, 4])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        train_test_split_tasks(X, np.arange(7), task_column=0)


# --------------------------------------------------------------------------
# with sklearn model selection
# --------------------------------------------------------------------------


def ridge_without_task_column(task_column):
    drop_task = ColumnTransformer(
        [("drop_task", "drop", [task_column])], remainder="passthrough"
    )
    return Pipeline([("drop_task", drop_task), ("ridge", Ridge())])


def regression_data(as_frame):
    X = make_frame([12, 15, 10]) if as_frame else make_array([12, 15, 10])
    task_column = "school" if as_frame else 0
    features = X[["x0", "x1"]].to_numpy() if as_frame else X[:, 1:]
    y = features @ np.array([0.5, -2.0]) + 1.0
    return X, y, task_column


SPLITTERS = {
    "task_kfold": lambda column: TaskKFold(3, task_column=column),
    "task_kfold_shuffled": lambda column: TaskKFold(
        3, task_column=column, shuffle=True, random_state=0
    ),
    "leave_tasks_out": lambda column: LeaveTasksOut(
        3, task_column=column, random_state=0
    ),
}


@pytest.mark.parametrize("as_frame", [False, True])
@pytest.mark.parametrize("splitter", SPLITTERS)
def test_cross_val_score_uses_the_splits(splitter, as_frame):
    X, y, task_column = regression_data(as_frame)
    model = ridge_without_task_column(task_column)
    cv = SPLITTERS[splitter](task_column)
    scores = cross_val_score(model, X, y, cv=cv)
    # The same scores by hand, fold by fold.
    expected = [
        clone(model).fit(_rows(X, train), y[train]).score(_rows(X, test), y[test])
        for train, test in cv.split(X)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def _rows(X, indices):
    return X.iloc[indices] if hasattr(X, "iloc") else X[indices]


@pytest.mark.parametrize("as_frame", [False, True])
@pytest.mark.parametrize("splitter", SPLITTERS)
def test_grid_search_and_cross_validate_accept_the_splitters(splitter, as_frame):
    X, y, task_column = regression_data(as_frame)
    model = ridge_without_task_column(task_column)
    cv = SPLITTERS[splitter](task_column)
    search = GridSearchCV(model, {"ridge__alpha": [1e-3, 10.0]}, cv=cv).fit(X, y)
    assert search.n_splits_ == 3
    # y is exactly linear in the features: the weaker penalty fits better.
    assert search.best_params_ == {"ridge__alpha": 1e-3}
    results = cross_validate(model, X, y, cv=cv, return_indices=True)
    for test, (_, test_ref) in zip(
        results["indices"]["test"], cv.split(X), strict=True
    ):
        np.testing.assert_array_equal(test, test_ref)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=6),
    n_splits=st.integers(2, 6),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_task_kfold_test_folds_partition_every_splittable_task(
    sizes, n_splits, shuffle, seed
):
    labels = make_task_labels(sizes, seed)
    X = np.column_stack([labels, np.zeros(len(labels))])
    cv = TaskKFold(
        n_splits, task_column=0, shuffle=shuffle, random_state=seed if shuffle else None
    )
    if max(sizes) < n_splits:
        with pytest.raises(ValueError, match="largest task"):
            list(cv.split(X))
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folds = list(cv.split(X))
    small_tasks = [t for t, n in enumerate(sizes) if n < n_splits]
    assert len(caught) == (1 if small_tasks else 0)
    times_tested = np.zeros(len(X), dtype=int)
    for train, test in folds:
        assert_is_partition(train, test, len(X))
        times_tested[test] += 1
    splittable = ~np.isin(labels, small_tasks)
    np.testing.assert_array_equal(times_tested, splittable.astype(int))
    for task, n_rows in enumerate(sizes):
        if n_rows >= n_splits:
            per_fold = [np.sum(labels[test] == task) for _, test in folds]
            assert sorted(per_fold) == sorted(
                [n_rows // n_splits + (i < n_rows % n_splits) for i in range(n_splits)]
            )


# --------------------------------------------------------------------------
# FewShotTasksOut
# --------------------------------------------------------------------------

SHOTS = (0, 1, 2, 5)


def few_shot_splits(X, task_column, **params):
    params = {"shots": SHOTS, "random_state": 0, **params}
    cv = FewShotTasksOut(3, task_column=task_column, **params)
    return list(cv.split_shots(X))


@pytest.mark.parametrize("as_frame", [False, True])
def test_few_shot_splits_follow_the_protocol(as_frame):
    sizes = [8, 12, 7, 9, 15, 10, 6]
    X = make_frame(sizes) if as_frame else make_array(sizes)
    labels = X["school"].to_numpy() if as_frame else X[:, 0]
    by_task = rows_by_task(labels)
    splits = few_shot_splits(X, "school" if as_frame else 0)
    # Fold-major, k-minor.
    assert [(fold, k) for fold, k, _, _ in splits] == [
        (fold, k) for fold in range(3) for k in SHOTS
    ]
    held_out_of_folds = []
    for fold in range(3):
        in_fold = [(k, train, test) for f, k, train, test in splits if f == fold]
        test = in_fold[0][2]
        held_out = set(labels[test])
        held_out_of_folds.append(held_out)
        previous, previous_k = np.array([], dtype=int), 0
        for k, train, fold_test in in_fold:
            # The same test rows for every k; none of them is trained on.
            np.testing.assert_array_equal(fold_test, test)
            assert np.intersect1d(train, test).size == 0
            for indices in (train, test):
                assert indices.dtype.kind == "i" and np.all(np.diff(indices) > 0)
            for task in held_out:
                # Every held-out task: k rows trained on, all but max(shots) tested.
                assert np.isin(by_task[task], train).sum() == k
                assert np.isin(by_task[task], test).sum() == len(by_task[task]) - 5
            for task in set(labels) - held_out:
                assert np.isin(by_task[task], train).all()
            # Nested training sets.
            assert np.isin(previous, train).all()
            if k > 0:
                assert len(train) == len(previous) + (k - previous_k) * len(held_out)
            previous, previous_k = train, k
    # Every task is held out exactly once.
    assert sorted(len(h) for h in held_out_of_folds) == [2, 2, 3]
    assert set().union(*held_out_of_folds) == set(labels)


def test_few_shot_holds_out_the_tasks_of_leave_tasks_out():
    X = make_array([8] * 7)
    for shuffle, random_state in ((False, None), (True, 3)):
        params = {"shuffle": shuffle, "random_state": random_state}
        expected = [
            set(X[test, 0])
            for _, test in LeaveTasksOut(3, task_column=0, **params).split(X)
        ]
        splits = few_shot_splits(X, 0, **params)
        got = [set(X[test, 0]) for fold, k, _, test in splits if k == 0]
        assert got == expected


def test_few_shot_without_shuffle_labels_the_first_rows_of_each_task():
    X = make_array([7, 8, 9, 10])  # column 1 holds the row position
    cv = FewShotTasksOut(2, shots=(0, 2), task_column=0, shuffle=False)
    for _, k, train, test in cv.split_shots(X):
        for task in set(X[test, 0]):
            rows = np.flatnonzero(X[:, 0] == task)
            np.testing.assert_array_equal(np.intersect1d(rows, train), rows[:k])
            np.testing.assert_array_equal(np.intersect1d(rows, test), rows[2:])


def test_few_shot_is_deterministic_for_a_seed():
    X = make_array([10] * 9)

    def splits(random_state):
        cv = FewShotTasksOut(3, shots=(1, 3), task_column=0, random_state=random_state)
        return [(train.tolist(), test.tolist()) for train, test in cv.split(X)]

    assert splits(0) == splits(0)
    assert splits(0) != splits(1)


def test_few_shot_split_and_n_splits_agree():
    X = make_array([9] * 6)
    cv = FewShotTasksOut(2, shots=(0, 3, 4), task_column=0, random_state=0)
    pairs = list(cv.split(X))
    assert cv.get_n_splits() == len(pairs) == 6
    for (train, test), (_, _, train_ref, test_ref) in zip(pairs, cv.split_shots(X)):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)


@pytest.mark.parametrize("as_frame", [False, True])
def test_few_shot_works_with_cross_validate(as_frame):
    X, y, task_column = regression_data(as_frame)
    model = ridge_without_task_column(task_column)
    cv = FewShotTasksOut(3, shots=(0, 2), task_column=task_column, random_state=0)
    results = cross_validate(model, X, y, cv=cv, return_indices=True)
    assert len(results["test_score"]) == 6
    for train, test, (train_ref, test_ref), score in zip(
        results["indices"]["train"],
        results["indices"]["test"],
        cv.split(X),
        results["test_score"],
        strict=True,
    ):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)
        expected = (
            clone(model).fit(_rows(X, train), y[train]).score(_rows(X, test), y[test])
        )
        np.testing.assert_allclose(score, expected, rtol=1e-12)


def test_few_shot_names_the_tasks_too_small_for_the_shots():
    X = make_frame([12, 5, 12, 4])
    X_before = X.copy()
    cv = FewShotTasksOut(2, shots=(0, 5), task_column="school")
    with pytest.raises(
        ValueError, match=r"school-1.*school-3.*max\(shots\)=5.*smaller"
    ):
        list(cv.split(X))
    pd.testing.assert_frame_equal(X, X_before)


def test_few_shot_rejects_more_folds_than_tasks():
    cv = FewShotTasksOut(4, shots=(1,), task_column=0)
    with pytest.raises(ValueError, match=r"n_splits=4 .*only 3 task"):
        list(cv.split(make_array([5, 5, 5])))


@pytest.mark.parametrize(
    "shots, error, message",
    [
        ((), ValueError, r"non-negative integers .*\(empty\)"),
        ((0, -1), ValueError, r"invalid value\(s\) \[-1\]"),
        ((0, 1.5), ValueError, r"invalid value\(s\) \[1.5\]"),
        ((2, 1), ValueError, r"increasing .*shots=\(1, 2\)"),
        ((1, 1), ValueError, r"increasing without repeats"),
        (5, TypeError, "list of numbers of labelled rows"),
    ],
)
def test_few_shot_rejects_bad_shots(shots, error, message):
    with pytest.raises(error, match=message):
        FewShotTasksOut(3, shots=shots, task_column=0)


def test_few_shot_needs_a_task_column_and_valid_folds():
    with pytest.raises(ValueError, match="FewShotTasksOut needs task_column"):
        FewShotTasksOut(3, task_column=None)
    with pytest.raises(ValueError, match="n_splits=1"):
        FewShotTasksOut(1, task_column=0)
    with pytest.raises(ValueError, match="no effect since shuffle is False"):
        FewShotTasksOut(3, task_column=0, shuffle=False, random_state=0)


def test_few_shot_repr_and_shots_as_a_tuple():
    cv = FewShotTasksOut(task_column="school", shots=[0, np.int64(3)])
    assert cv.shots == (0, 3) and all(type(k) is int for k in cv.shots)
    assert repr(cv).startswith("FewShotTasksOut(n_splits=3, random_state=None")
