"""Metadata routing of the meta-estimators, against sklearn fits by hand."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.pipeline import TaskColumnPassthrough


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


class _RecordingRegressor(RegressorMixin, BaseEstimator):
    """Predicts 0 and keeps the metadata its ``fit`` received."""

    def fit(self, X, y, sample_weight=None, extra=None):
        self.sample_weight_ = sample_weight
        self.extra_ = extra
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        return np.zeros(np.shape(X)[0])


class _RecordingTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The identity, keeping the metadata of ``fit`` and ``transform``."""

    def fit(self, X, y=None, extra=None):
        self.fit_extra_ = extra
        self.n_features_in_ = np.shape(X)[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X, extra=None):
        self.transform_extra_ = extra
        return np.asarray(X, dtype=float)


def _long_data(seed=0, n=30):
    rng = np.random.default_rng(seed)
    task = np.repeat([2, 0, 1], n // 3)
    X = np.column_stack([rng.normal(size=(n, 2)), task])
    y = X[:, 0] * (task + 1) + rng.normal(scale=0.1, size=n)
    weights = rng.uniform(0.2, 3.0, n)
    return X, y, weights


def _wide_data(seed=0, n=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    Y = np.column_stack([X[:, 0], -X[:, 1], X.sum(axis=1)])
    Y[[1, 4], 0] = np.nan
    Y[7, 2] = np.nan
    return X, Y, rng.uniform(0.2, 3.0, n)


def test_per_task_routes_requested_sample_weight(routing):
    X, y, weights = _long_data()
    inner = Ridge(alpha=0.5).set_fit_request(sample_weight=True)
    model = PerTaskEstimator(inner, task_column=2).fit(X, y, sample_weight=weights)
    for t, task in enumerate(model.tasks_):
        rows = X[:, 2] == task
        oracle = Ridge(alpha=0.5).fit(X[rows, :2], y[rows], sample_weight=weights[rows])
        np.testing.assert_allclose(model.coef_[t], oracle.coef_, rtol=1e-12)


def test_per_task_routes_aliased_sample_weight(routing):
    X, y, weights = _long_data()
    inner = Ridge().set_fit_request(sample_weight="task_weight")
    model = PerTaskEstimator(inner, task_column=2).fit(X, y, task_weight=weights)
    rows = X[:, 2] == 1
    oracle = Ridge().fit(X[rows, :2], y[rows], sample_weight=weights[rows])
    np.testing.assert_allclose(model.coef_[1], oracle.coef_, rtol=1e-12)


def test_sample_weight_refused_by_inner_is_not_routed(routing):
    X, y, weights = _long_data()
    inner = Ridge().set_fit_request(sample_weight=False)
    model = PerTaskEstimator(inner, task_column=2)
    # As in sklearn's meta-estimators: metadata nobody consumes is an error.
    with pytest.raises(TypeError, match="not routed to any object"):
        model.fit(X, y, sample_weight=weights)
    pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=True), model)
    pipe.fit(X, y, sample_weight=weights)
    rows = X[:, 2] == 0
    oracle = Ridge().fit(pipe[0].transform(X)[rows, :2], y[rows])
    np.testing.assert_allclose(pipe[-1].coef_[0], oracle.coef_, rtol=1e-12)


@pytest.mark.parametrize("wrapper", [PerTaskEstimator, PooledEstimator])
def test_unrequested_sample_weight_raises_sklearn_error(routing, wrapper):
    X, y, weights = _long_data()
    with pytest.raises(UnsetMetadataPassedError, match=r"sample_weight.*Ridge"):
        wrapper(Ridge(), task_column=2).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("wrapper", [PerTaskEstimator, PooledEstimator])
def test_extra_fit_params_without_routing_raise(wrapper):
    X, y, weights = _long_data()
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        wrapper(Ridge(), task_column=2).fit(X, y, extra=weights)


def test_without_routing_sample_weight_is_still_passed():
    X, y, weights = _long_data()
    model = PooledEstimator(Ridge(), task_column=2).fit(X, y, sample_weight=weights)
    oracle = Ridge().fit(X[:, :2], y, sample_weight=weights)
    np.testing.assert_allclose(model.estimator_.coef_, oracle.coef_, rtol=1e-12)


def test_per_task_splits_row_metadata_by_task_long(routing):
    X, y, _ = _long_data()
    extra = np.arange(len(y)) * 10
    inner = _RecordingRegressor().set_fit_request(extra=True)
    model = PerTaskEstimator(inner, task_column=2).fit(X, y, extra=extra)
    for t, task in enumerate(model.tasks_):
        np.testing.assert_array_equal(
            model.estimators_[t].extra_, extra[X[:, 2] == task]
        )
        assert model.estimators_[t].sample_weight_ is None


def test_per_task_splits_row_metadata_by_task_wide(routing):
    X, Y, _ = _wide_data()
    extra = np.arange(len(Y)) * 10
    inner = _RecordingRegressor().set_fit_request(extra=True)
    model = PerTaskEstimator(inner).fit(X, Y, extra=extra)
    for t in range(Y.shape[1]):
        observed = ~np.isnan(Y[:, t])
        np.testing.assert_array_equal(model.estimators_[t].extra_, extra[observed])


def test_pooled_repeats_row_metadata_per_observation_wide(routing):
    X, Y, weights = _wide_data()
    inner = Ridge().set_fit_request(sample_weight=True)
    model = PooledEstimator(inner).fit(X, Y, sample_weight=weights)
    rows, tasks = np.nonzero(~np.isnan(Y))
    oracle = Ridge().fit(X[rows], Y[rows, tasks], sample_weight=weights[rows])
    np.testing.assert_allclose(model.estimator_.coef_, oracle.coef_, rtol=1e-12)


def test_pooled_sorts_row_metadata_with_rows_long(routing):
    X, y, _ = _long_data()
    extra = np.arange(len(y))
    inner = _RecordingRegressor().set_fit_request(extra=True)
    model = PooledEstimator(inner, task_column=2).fit(X, y, extra=extra)
    # Rows are grouped by task (stable): the metadata follows its row.
    np.testing.assert_array_equal(
        model.estimator_.extra_, extra[np.argsort(X[:, 2], kind="stable")]
    )


def test_score_consumes_requested_sample_weight(routing):
    X, y, weights = _long_data()
    model = PerTaskEstimator(Ridge(), task_column=2).fit(X, y)
    model.set_score_request(sample_weight=True)
    expected = r2_score(y, model.predict(X), sample_weight=weights)
    assert model.score(X, y, sample_weight=weights) == pytest.approx(expected)
    routing_info = model.get_metadata_routing()
    assert routing_info.consumes("score", ["sample_weight"]) == {"sample_weight"}


def test_pipeline_grid_search_routes_sample_weight(routing):
    X, y, weights = _long_data(n=36)
    pipe = make_pipeline(
        TaskColumnPassthrough(
            StandardScaler().set_fit_request(sample_weight=False), task_column=2
        ),
        PerTaskEstimator(
            Ridge().set_fit_request(sample_weight=True), task_column=2
        ).set_score_request(sample_weight=True),
    )
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        pipe, {"pertaskestimator__estimator__alpha": [0.3, 30.0]}, cv=cv
    )
    search.fit(X, y, sample_weight=weights)
    for alpha, score in zip([0.3, 30.0], search.cv_results_["mean_test_score"]):
        assert score == pytest.approx(_oracle_cv_score(X, y, weights, alpha, cv))


def _oracle_cv_score(X, y, weights, alpha, cv):
    """Unweighted scaling, weighted per-task ridge, weighted pooled R^2."""
    scores = []
    for train, test in cv.split(X):
        scaler = StandardScaler().fit(X[train, :2])
        prediction = np.empty(len(test))
        for task in np.unique(X[:, 2]):
            rows, test_rows = train[X[train, 2] == task], X[test, 2] == task
            ridge = Ridge(alpha=alpha).fit(
                scaler.transform(X[rows, :2]), y[rows], sample_weight=weights[rows]
            )
            prediction[test_rows] = ridge.predict(
                scaler.transform(X[test[test_rows], :2])
            )
        scores.append(r2_score(y[test], prediction, sample_weight=weights[test]))
    return np.mean(scores)


def test_passthrough_routes_sample_weight_to_transformer(routing):
    X, _, weights = _long_data()
    scaler = StandardScaler().set_fit_request(sample_weight=True)
    prep = TaskColumnPassthrough(scaler, task_column=2)
    transformed = prep.fit_transform(X, sample_weight=weights)
    oracle = StandardScaler().fit(X[:, :2], sample_weight=weights)
    np.testing.assert_allclose(transformed[:, :2], oracle.transform(X[:, :2]))
    np.testing.assert_array_equal(transformed[:, 2], X[:, 2])
    refit = prep.fit(X, sample_weight=weights).transform(X)
    np.testing.assert_allclose(refit, transformed)


def test_passthrough_unrequested_metadata_raises(routing):
    X, _, weights = _long_data()
    prep = TaskColumnPassthrough(StandardScaler(), task_column=2)
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        prep.fit(X, sample_weight=weights)


def test_passthrough_routes_transform_metadata(routing):
    frame = pd.DataFrame({"task": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    inner = _RecordingTransformer().set_transform_request(extra=True)
    prep = TaskColumnPassthrough(inner, task_column="task").fit(frame)
    prep.transform(frame, extra="marker")
    assert prep.transformer_.transform_extra_ == "marker"


def test_passthrough_transform_metadata_without_routing_raises():
    frame = pd.DataFrame({"task": ["a", "b"], "x": [1.0, 2.0]})
    prep = TaskColumnPassthrough(StandardScaler(), task_column="task").fit(frame)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        prep.transform(frame, extra=1)
