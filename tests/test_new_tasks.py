"""The ``fit_new_tasks`` contract, held by every task-aware estimator.

Each estimator is fitted on four source tasks of a DataFrame with string task
labels, then adapted to new tasks. The numerical oracles of each family
(cvxpy, closed forms, a joint GP) are in the family's own test module; here
the shared behaviour: the new tasks become known tasks, the source tasks do
not change, a second call replaces the first, and bad input gets a clear
error without touching the caller's data.
"""

import copy
import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

from skmtl.utils.discovery import all_estimators

_WRAPPED = {"PerTaskEstimator": (Ridge, LogisticRegression)}
_WRAPPED["PooledEstimator"] = _WRAPPED["PerTaskEstimator"]
_FAST = {
    "MultiTaskMLPRegressor": {"random_state": 0, "max_iter": 50},
    "MultiTaskMLPClassifier": {"random_state": 0, "max_iter": 50},
}


def _task_estimators():
    for name, cls in all_estimators(type_filter=["regressor", "classifier"]):
        if "task_column" not in inspect.signature(cls).parameters:
            continue
        if name in _WRAPPED:
            regressor, classifier = _WRAPPED[name]
            for inner in (regressor, classifier):
                yield pytest.param(
                    cls(inner(), task_column="school"),
                    id=f"{name}({inner.__name__})",
                )
            continue
        params = {"task_column": "school", **_FAST.get(name, {})}
        if "cv" in inspect.signature(cls).parameters:
            params["cv"] = 2
        # Path CV classes: a short path and one point of each extra grid (the
        # contract does not depend on the grid; the default one takes seconds).
        grids = getattr(cls, "_grid_params", {})
        if grids:
            params.update(alphas=4, eps=0.01)
            defaults = cls().get_params()
            params.update({grid: [np.atleast_1d(defaults[grid])[0]] for grid in grids})
        yield pytest.param(cls(**params), id=name)


def _frame(tasks, n_rows, classification, seed):
    rng = np.random.default_rng(seed)
    labels = np.repeat(tasks, n_rows)
    X = pd.DataFrame(rng.normal(size=(len(labels), 3)), columns=["a", "b", "c"])
    X.insert(1, "school", labels)
    y = X["a"].to_numpy() - 0.5 * X["c"].to_numpy() + 0.3 * rng.normal(size=len(X))
    if classification:
        y = np.where(y > 0, "pass", "fail")
        # Every task sees both classes.
        y[::n_rows] = "pass"
        y[1::n_rows] = "fail"
    return X, y


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _adapt(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit_new_tasks(X, y)


@pytest.fixture(scope="module", params=list(_task_estimators()))
def _fitted_once(request):
    """Each estimator fitted once on the source tasks (some take seconds)."""
    estimator = clone(request.param)
    classification = is_classifier(estimator)
    X, y = _frame(["s0", "s1", "s2", "s3"], 12, classification, seed=0)
    return _fit(estimator, X, y), X, y, classification


@pytest.fixture
def fitted(_fitted_once):
    """A copy of the fitted estimator and of its data: tests may change them."""
    return copy.deepcopy(_fitted_once)


def test_every_task_estimator_can_adapt(fitted):
    estimator = fitted[0]
    assert callable(getattr(estimator, "fit_new_tasks", None))


def test_new_tasks_become_known_and_sources_stay(fitted):
    estimator, X, y, classification = fitted
    before = estimator.predict(X)
    X_new, y_new = _frame(["n0", "n1"], 6, classification, seed=1)
    X_copy, y_copy = X_new.copy(), y_new.copy()

    assert _adapt(estimator, X_new, y_new) is estimator

    pd.testing.assert_frame_equal(X_new, X_copy)
    np.testing.assert_array_equal(y_new, y_copy)
    assert list(estimator.tasks_) == ["s0", "s1", "s2", "s3", "n0", "n1"]
    assert estimator.n_tasks_ == 6
    assert list(estimator.new_tasks_) == ["n0", "n1"]
    predictions = estimator.predict(X_new)
    assert predictions.shape == (len(X_new),)
    if not classification:
        assert np.all(np.isfinite(predictions))
    else:
        assert set(predictions) <= {"pass", "fail"}
    # The source tasks are not refitted.
    np.testing.assert_array_equal(estimator.predict(X), before)


def test_a_second_call_replaces_the_new_tasks(fitted):
    estimator, X, y, classification = fitted
    _adapt(estimator, *_frame(["n0", "n1"], 6, classification, seed=1))
    X_other, y_other = _frame(["n2"], 5, classification, seed=2)
    _adapt(estimator, X_other, y_other)
    assert list(estimator.tasks_) == ["s0", "s1", "s2", "s3", "n2"]
    assert list(estimator.new_tasks_) == ["n2"]
    assert estimator.predict(X_other).shape == (len(X_other),)
    # Adapting "n0" again is allowed: every call starts from the source tasks.
    _adapt(estimator, *_frame(["n0"], 6, classification, seed=3))
    assert list(estimator.new_tasks_) == ["n0"]


def test_refit_forgets_the_new_tasks(fitted):
    estimator, X, y, classification = fitted
    _adapt(estimator, *_frame(["n0"], 6, classification, seed=1))
    _fit(estimator, X, y)
    assert list(estimator.tasks_) == ["s0", "s1", "s2", "s3"]
    assert not hasattr(estimator, "new_tasks_")


def test_a_source_task_is_refused(fitted):
    estimator, X, y, classification = fitted
    X_new, y_new = _frame(["n0", "s1"], 6, classification, seed=1)
    with pytest.raises(ValueError, match=r"\['s1'\].*seen during fit.*fit_new_tasks"):
        _adapt(estimator, X_new, y_new)
    assert list(estimator.tasks_) == ["s0", "s1", "s2", "s3"]


def test_mismatched_columns_are_refused(fitted):
    estimator, X, y, classification = fitted
    X_new, y_new = _frame(["n0"], 6, classification, seed=1)
    with pytest.raises(ValueError, match="feature"):
        _adapt(estimator, X_new.drop(columns="c"), y_new)


def test_an_unfitted_estimator_is_refused(fitted):
    estimator, X, y, classification = fitted
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        clone(estimator).fit_new_tasks(X, y)
