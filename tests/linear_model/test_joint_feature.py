"""Tests of JointFeatureRegressor and JointFeatureClassifier."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    MultiTaskElasticNet,
    MultiTaskLasso,
)
from sklearn.utils._param_validation import InvalidParameterError

from skmtl.linear_model import JointFeatureClassifier, JointFeatureRegressor


def _wide_regression(n=60, p=7, n_tasks=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    coef = np.zeros((n_tasks, p))
    coef[:, :3] = rng.normal(size=(n_tasks, 3))
    return X, X @ coef.T + 0.5 * rng.normal(size=(n, n_tasks)) + 2.0


def _long_regression(sizes=(20, 35, 15), p=5, seed=1):
    rng = np.random.default_rng(seed)
    task = np.repeat(["north", "south", "west"], sizes)
    features = rng.normal(size=(len(task), p))
    coef = rng.normal(size=(len(sizes), p))
    coef[:, 2:] = 0.0
    index = np.searchsorted(["north", "south", "west"], task)
    y = np.einsum("ij,ij->i", features, coef[index]) + rng.normal(size=len(task))
    frame = pd.DataFrame(features, columns=[f"x{j}" for j in range(p)])
    frame.insert(2, "region", task)
    weight = rng.uniform(0.5, 2.0, size=len(task))
    return frame, y, weight


def _long_classification(sizes=(40, 60, 30), p=4, n_classes=2, seed=2):
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    features = rng.normal(size=(len(task), p))
    coef = rng.normal(size=(len(sizes), n_classes, p))
    coef[:, :, 2:] = 0.0
    scores = np.einsum("ij,ikj->ik", features, coef[task]) + rng.gumbel(
        size=(len(task), n_classes)
    )
    y = np.array(["cat", "dog", "emu"])[np.argmax(scores, axis=1)]
    return np.column_stack([task, features]), y


# --------------------------------------------------------------------------
# regression
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_regressor_equals_multitask_lasso_on_shared_rows(fit_intercept, l1_ratio):
    X, Y = _wide_regression()
    model = JointFeatureRegressor(
        alpha=0.15, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-12
    ).fit(X, Y)
    Reference = MultiTaskLasso if l1_ratio == 1 else MultiTaskElasticNet
    options = {} if l1_ratio == 1 else {"l1_ratio": l1_ratio}
    reference = Reference(
        alpha=0.15,
        fit_intercept=fit_intercept,
        tol=1e-14,
        max_iter=100_000,
        **options,
    ).fit(X, Y)
    assert_allclose(model.coef_, reference.coef_, atol=1e-6)
    assert_allclose(model.intercept_, reference.intercept_, atol=1e-6)
    assert_allclose(model.predict(X), reference.predict(X), atol=1e-6)
    assert model.solver_ == "bcd"
    assert_allclose(model.support_, np.linalg.norm(reference.coef_, axis=0) > 0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_one_task_equals_lasso_and_elastic_net(l1_ratio):
    X, Y = _wide_regression(seed=3)
    y = Y[:, 0]
    model = JointFeatureRegressor(alpha=0.1, l1_ratio=l1_ratio, tol=1e-12).fit(X, y)
    reference = (
        Lasso(alpha=0.1, tol=1e-14, max_iter=100_000)
        if l1_ratio == 1
        else ElasticNet(alpha=0.1, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000)
    ).fit(X, y)
    assert model.coef_.shape == (1, X.shape[1])
    assert_allclose(model.coef_[0], reference.coef_, atol=1e-6)
    assert_allclose(model.predict(X), reference.predict(X), atol=1e-6)


def _alpha_max_squared(frame, y, weight, task_column):
    """``max_j ||sum_i c_i (y_i - ybar_t) x_ij||`` written out task by task."""
    task = frame[task_column].to_numpy()
    features = frame.drop(columns=task_column).to_numpy()
    columns = []
    for label in np.unique(task):
        rows = task == label
        scale = weight[rows] / weight[rows].sum()
        centred = y[rows] - scale @ y[rows]
        columns.append(features[rows].T @ (scale * centred))
    return np.max(np.linalg.norm(np.array(columns), axis=0))


def test_alpha_max_gives_zero_coefficients_and_below_does_not():
    frame, y, weight = _long_regression()
    largest = _alpha_max_squared(frame, y, weight, "region")
    at_max = JointFeatureRegressor(alpha=largest, task_column="region", tol=1e-10)
    at_max.fit(frame, y, sample_weight=weight)
    assert not np.any(at_max.coef_)
    assert not np.any(at_max.support_)
    below = JointFeatureRegressor(alpha=0.95 * largest, task_column="region")
    below.fit(frame, y, sample_weight=weight)
    assert below.support_.sum() >= 1
    # The intercept-only model predicts the weighted task means.
    for t, label in enumerate(at_max.tasks_):
        rows = frame["region"].to_numpy() == label
        assert at_max.intercept_[t] == pytest.approx(
            np.average(y[rows], weights=weight[rows])
        )


def test_long_format_with_strings_and_unknown_tasks():
    frame, y, weight = _long_regression()
    model = JointFeatureRegressor(alpha=0.05, task_column="region").fit(frame, y)
    assert list(model.tasks_) == ["north", "south", "west"]
    assert list(model.feature_names_in_) == ["x0", "x1", "x2", "x3", "x4"]
    new = frame.iloc[:3].assign(region="east")
    with pytest.raises(ValueError, match="'east'.*not seen during fit"):
        model.predict(new)
    shared = JointFeatureRegressor(
        alpha=0.05, task_column="region", unknown_task="shared"
    ).fit(frame, y)
    assert_allclose(shared.shared_coef_, shared.coef_.mean(axis=0))
    features = new.drop(columns="region").to_numpy()
    expected = features @ shared.shared_coef_ + shared.shared_intercept_
    assert_allclose(shared.predict(new), expected)


def test_solvers_agree():
    frame, y, weight = _long_regression(seed=4)
    fits = {
        solver: JointFeatureRegressor(
            alpha=0.05,
            task_column="region",
            solver=solver,
            tol=1e-10,
            max_iter=20_000,
        ).fit(frame, y, sample_weight=weight)
        for solver in ("bcd", "fista", "cvxpy")
    }
    assert_allclose(fits["fista"].coef_, fits["bcd"].coef_, atol=1e-7)
    assert_allclose(fits["cvxpy"].coef_, fits["bcd"].coef_, atol=1e-5)
    assert fits["cvxpy"].solver_ == "cvxpy"


def test_wide_with_missing_targets_equals_long_without_them():
    X, Y = _wide_regression(seed=5)
    rng = np.random.default_rng(5)
    Y[rng.random(Y.shape) < 0.25] = np.nan
    wide = JointFeatureRegressor(alpha=0.1, tol=1e-12).fit(X, Y)
    rows, tasks = np.nonzero(~np.isnan(Y))
    long = JointFeatureRegressor(alpha=0.1, task_column=0, tol=1e-12).fit(
        np.column_stack([tasks, X[rows]]), Y[rows, tasks]
    )
    assert_allclose(wide.coef_, long.coef_, atol=1e-8)
    assert_allclose(wide.intercept_, long.intercept_, atol=1e-8)
    predictions = wide.predict(X)
    assert predictions.shape == Y.shape
    assert_allclose(
        predictions[rows, tasks],
        long.predict(np.column_stack([tasks, X[rows]])),
        atol=1e-7,
    )


def test_sparse_and_dense_input_give_the_same_model():
    X, Y = _wide_regression(seed=6)
    X[np.abs(X) < 0.7] = 0.0
    dense = JointFeatureRegressor(alpha=0.1, tol=1e-12).fit(X, Y)
    sparse = JointFeatureRegressor(alpha=0.1, tol=1e-12).fit(sp.csr_matrix(X), Y)
    assert_allclose(sparse.coef_, dense.coef_, atol=1e-9)
    assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), atol=1e-9)


def test_warm_start_reuses_the_previous_solution():
    X, Y = _wide_regression(seed=7)
    model = JointFeatureRegressor(alpha=0.1, warm_start=True, tol=1e-10).fit(X, Y)
    assert model.fit(X, Y).n_iter_ == 0
    model.set_params(alpha=0.09).fit(X, Y)
    cold = JointFeatureRegressor(alpha=0.09, tol=1e-10).fit(X, Y)
    assert_allclose(model.coef_, cold.coef_, atol=1e-7)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha": -1.0}, "'alpha' parameter"),
        ({"l1_ratio": 1.5}, "'l1_ratio' parameter"),
        ({"l1_ratio": -0.1}, "'l1_ratio' parameter"),
        ({"solver": "newton"}, "'solver' parameter"),
    ],
)
def test_bad_parameters_raise_and_leave_inputs_unchanged(params, message):
    frame, y, weight = _long_regression()
    copies = frame.copy(), y.copy(), weight.copy()
    with pytest.raises(InvalidParameterError, match=message):
        JointFeatureRegressor(task_column="region", **params).fit(
            frame, y, sample_weight=weight
        )
    pd.testing.assert_frame_equal(frame, copies[0])
    assert_allclose(y, copies[1])
    assert_allclose(weight, copies[2])


def test_fit_does_not_modify_inputs():
    X, Y = _wide_regression(seed=8)
    Y[0, 0] = np.nan
    copies = X.copy(), Y.copy()
    JointFeatureRegressor(alpha=0.1).fit(X, Y)
    assert_allclose(X, copies[0])
    assert_allclose(Y, copies[1])


# --------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------


def test_one_task_classifier_equals_l1_logistic_regression(l1_logistic):
    """C = 1 / (alpha n) makes LogisticRegression's objective proportional."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(100, 5))
    y = np.where(X[:, 0] + X[:, 1] + rng.logistic(size=100) > 0, "yes", "no")
    alpha = 0.02
    model = JointFeatureClassifier(alpha=alpha, tol=1e-12, max_iter=20_000).fit(X, y)
    reference = l1_logistic(X, y, alpha)
    assert list(model.classes_) == ["no", "yes"]
    assert_allclose(model.coef_[0], reference.coef_[0], atol=1e-6)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    assert (model.predict(X) == reference.predict(X)).all()


def test_classifier_alpha_max():
    """Free intercepts at W = 0 are the task log-odds; alpha_max follows."""
    X, labels = _long_classification(seed=10)
    y = (labels == "dog").astype(int)
    task, features = X[:, 0], X[:, 1:]
    columns = []
    for t in np.unique(task):
        rows = task == t
        residual = y[rows] - y[rows].mean()
        columns.append(features[rows].T @ residual / rows.sum())
    largest = np.max(np.linalg.norm(np.array(columns), axis=0))
    options = dict(task_column=0, intercept_alpha=0.0, tol=1e-10)
    at_max = JointFeatureClassifier(alpha=largest, **options).fit(X, y)
    assert not np.any(at_max.coef_)
    for t in range(3):
        rate = y[task == t].mean()
        assert at_max.intercept_[t] == pytest.approx(np.log(rate / (1 - rate)))
    below = JointFeatureClassifier(alpha=0.95 * largest, **options).fit(X, y)
    assert below.support_.sum() >= 1


def test_multiclass_long_format():
    X, y = _long_classification(n_classes=3, seed=11)
    model = JointFeatureClassifier(alpha=0.02, task_column=0).fit(X, y)
    assert list(model.classes_) == ["cat", "dog", "emu"]
    assert model.coef_.shape == (3, 3, 4)
    assert model.intercept_.shape == (3, 3)
    assert_allclose(model.intercept_.sum(axis=1), 0.0, atol=1e-10)
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(np.exp(model.predict_log_proba(X)), proba)
    assert np.mean(model.predict(X) == y) > 0.6
    # A feature group spans all tasks and classes.
    groups = np.linalg.norm(model.coef_.reshape(-1, 4), axis=0)
    assert_allclose(model.support_, groups > 0)


def test_multilabel_wide_format_with_a_one_class_label():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(120, 4))
    Y = X[:, :2] @ rng.normal(size=(2, 3)) + rng.logistic(size=(120, 3)) > 0
    Y = Y.astype(float)
    Y[:, 2] = 0.0  # a label never seen positive
    Y[:5, 0] = np.nan  # unobserved cells
    model = JointFeatureClassifier(alpha=0.02).fit(X, Y)
    proba = model.predict_proba(X)
    assert proba.shape == (120, 3)
    assert np.all(np.isfinite(model.intercept_))
    assert np.all(proba[:, 2] < 0.05)
    assert model.predict(X).shape == (120, 3)
    assert set(np.unique(model.predict(X)[:, 2])) == {0.0}
    assert_allclose(proba, expit(model.decision_function(X)))


def test_free_intercepts_need_every_class_in_every_task():
    X, labels = _long_classification(seed=13)
    y = (labels == "dog").astype(int)
    y[X[:, 0] == 2] = 1
    with pytest.raises(ValueError, match=r"Task\(s\) \[2.0\] miss.*intercept_alpha"):
        JointFeatureClassifier(task_column=0, intercept_alpha=0.0).fit(X, y)
    model = JointFeatureClassifier(task_column=0).fit(X, y)
    assert model.predict_proba(X[X[:, 0] == 2])[:, 1].min() > 0.95


def test_classifier_matches_cvxpy_solver():
    X, labels = _long_classification(n_classes=3, seed=14)
    options = dict(alpha=0.03, task_column=0, intercept_alpha=1e-2)
    fista = JointFeatureClassifier(tol=1e-10, max_iter=20_000, **options).fit(X, labels)
    reference = JointFeatureClassifier(solver="cvxpy", **options).fit(X, labels)
    assert_allclose(fista.coef_, reference.coef_, atol=1e-4)
    assert_allclose(fista.predict_proba(X), reference.predict_proba(X), atol=1e-5)


def test_classifier_rejects_the_bcd_solver_and_a_single_class():
    X, labels = _long_classification(seed=15)
    with pytest.raises(InvalidParameterError, match="'solver' parameter"):
        JointFeatureClassifier(solver="bcd").fit(X[:, 1:], labels)
    with pytest.raises(ValueError, match="at least 2 classes"):
        JointFeatureClassifier().fit(X[:, 1:], np.zeros(len(labels)))


@pytest.mark.parametrize("Model", [JointFeatureRegressor, JointFeatureClassifier])
def test_max_iter_one_warns_and_reports_the_gap(Model):
    from sklearn.exceptions import ConvergenceWarning

    X, Y = _wide_regression(seed=16)
    y = Y[:, 0] if Model is JointFeatureRegressor else (Y[:, 0] > 2.0).astype(int)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = Model(alpha=1e-3, tol=1e-12, max_iter=1).fit(X, y)
    assert model.dual_gap_ > 0
    converged = Model(alpha=1e-3, tol=1e-6).fit(X, y)
    assert 0 <= converged.dual_gap_ < model.dual_gap_
