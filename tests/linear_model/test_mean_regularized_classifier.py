"""MeanRegularizedClassifier against independent oracles.

Oracles: a cvxpy formulation of the documented objective, stationarity of
that objective (written here from the formula) under finite differences,
and scikit-learn's LogisticRegression in the limits where the model reduces
to it (one task; alpha_mean -> inf; alpha -> inf).
"""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from skmtl.linear_model import MeanRegularizedClassifier

TASK_SIZES = (15, 25, 40)


def make_long(n_classes=2, seed=0, sizes=TASK_SIZES, n_features=3):
    """Rows shuffled across unequal tasks; task label in column 0; weights."""
    rng = np.random.default_rng(seed)
    task = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    features = rng.normal(size=(len(task), n_features))
    common = rng.normal(size=(n_classes, n_features))
    offsets = 0.5 * rng.normal(size=(len(sizes), n_classes, n_features))
    scores = np.einsum("ij,icj->ic", features, common + offsets[task])
    scores += rng.gumbel(size=scores.shape)
    if n_classes == 2:
        y = (scores[:, 1] > scores[:, 0]).astype(int)
    else:
        y = np.argmax(scores, axis=1)
    weight = rng.uniform(0.2, 2.0, size=len(task))
    return np.column_stack([task, features]), y, weight


def documented_objective(
    X, y, weight, coef, intercept, shared_coef, shared_intercept, alpha, alpha_mean
):
    """The class docstring's objective, from fitted-attribute shaped arrays."""
    task = X[:, 0].astype(int)
    features = X[:, 1:]
    total = 0.0
    for t in range(coef.shape[0]):
        rows = task == t
        z = features[rows] @ coef[t].T + intercept[t]
        if coef.ndim == 2:
            losses = np.logaddexp(0, z) - y[rows] * z
        else:
            losses = logsumexp(z, axis=1) - z[np.arange(rows.sum()), y[rows]]
        total += weight[rows] @ losses / weight[rows].sum()
    return (
        total
        + 0.5 * alpha * np.sum((coef - shared_coef) ** 2)
        + 0.5 * alpha * np.sum((intercept - shared_intercept) ** 2)
        + 0.5 * alpha_mean * np.sum(shared_coef**2)
    )


def fitted_objective(clf, X, y, weight):
    return documented_objective(
        X,
        y,
        weight,
        clf.coef_,
        clf.intercept_,
        clf.shared_coef_,
        clf.shared_intercept_,
        clf.alpha,
        clf.alpha_mean,
    )


def cvxpy_binary(X, y, weight, alpha, alpha_mean, intercept_alpha=None):
    """The documented binary objective in cvxpy."""
    if intercept_alpha is None:
        intercept_alpha = alpha
    task = X[:, 0].astype(int)
    features = X[:, 1:]
    n_tasks, p = task.max() + 1, features.shape[1]
    w0, V = cp.Variable(p), cp.Variable((n_tasks, p))
    b0, c = cp.Variable(), cp.Variable(n_tasks)
    data_term = 0
    for t in range(n_tasks):
        rows = task == t
        z = features[rows] @ (w0 + V[t]) + b0 + c[t]
        scale = weight[rows] / weight[rows].sum()
        data_term += cp.sum(
            cp.multiply(scale, cp.logistic(z) - cp.multiply(y[rows], z))
        )
    penalty = (
        0.5 * alpha * cp.sum_squares(V)
        + 0.5 * intercept_alpha * cp.sum_squares(c)
        + 0.5 * alpha_mean * cp.sum_squares(w0)
    )
    problem = cp.Problem(cp.Minimize(data_term + penalty))
    problem.solve(solver=cp.CLARABEL)
    return problem.value, w0.value + V.value, b0.value + c.value


# --------------------------------------------------------------------------
# the objective
# --------------------------------------------------------------------------


def test_binary_objective_matches_cvxpy():
    X, y, weight = make_long(seed=1)
    clf = MeanRegularizedClassifier(alpha=0.7, alpha_mean=0.2, task_column=0, tol=1e-8)
    clf.fit(X, y, sample_weight=weight)
    value, coef, intercept = cvxpy_binary(X, y, weight, 0.7, 0.2)
    # Clarabel reaches about 1e-8 relative accuracy; 1e-6 leaves a margin.
    assert abs(fitted_objective(clf, X, y, weight) - value) <= 1e-6 * abs(value)
    np.testing.assert_allclose(clf.coef_, coef, atol=1e-4)
    np.testing.assert_allclose(clf.intercept_, intercept, atol=1e-4)


@pytest.mark.parametrize("intercept_alpha", [0.05, 20.0])
def test_intercept_alpha_matches_cvxpy(intercept_alpha):
    # The tie of the intercepts apart from alpha, as in every linear model.
    X, y, weight = make_long(seed=2)
    clf = MeanRegularizedClassifier(
        alpha=0.7, alpha_mean=0.2, intercept_alpha=intercept_alpha, task_column=0
    )
    clf.set_params(tol=1e-8).fit(X, y, sample_weight=weight)
    _, coef, intercept = cvxpy_binary(X, y, weight, 0.7, 0.2, intercept_alpha)
    np.testing.assert_allclose(clf.coef_, coef, atol=1e-4)
    np.testing.assert_allclose(clf.intercept_, intercept, atol=1e-4)
    np.testing.assert_allclose(clf.shared_intercept_, np.mean(intercept), atol=1e-4)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_fitted_parameters_are_stationary(n_classes):
    """Central differences of the documented objective vanish at the fit."""
    X, y, weight = make_long(n_classes=n_classes, seed=2)
    clf = MeanRegularizedClassifier(alpha=0.5, alpha_mean=0.3, task_column=0, tol=1e-8)
    clf.fit(X, y, sample_weight=weight)
    parts = [clf.coef_, clf.intercept_, clf.shared_coef_, clf.shared_intercept_]
    shapes = [np.shape(part) for part in parts]
    flat = np.concatenate([np.ravel(part) for part in parts])

    def objective(params):
        pieces, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            pieces.append(params[start : start + size].reshape(shape))
            start += size
        return documented_objective(X, y, weight, *pieces, 0.5, 0.3)

    step = 1e-5
    gradient = [
        (objective(flat + step * e) - objective(flat - step * e)) / (2 * step)
        for e in np.eye(flat.size)
    ]
    # Gradient at the fit <= tol = 1e-8 in the solver's variables; the
    # difference quotients carry about 1e-9 of rounding error.
    np.testing.assert_allclose(gradient, 0, atol=1e-6)


# --------------------------------------------------------------------------
# reductions to LogisticRegression
# --------------------------------------------------------------------------


def one_task_C(alpha, alpha_mean, weight):
    effective = alpha * alpha_mean / (alpha + alpha_mean)
    return 1.0 / (weight.sum() * effective)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_task_equals_logistic_regression(n_classes):
    X, y, weight = make_long(n_classes=n_classes, seed=3, sizes=(60,))
    features = X[:, 1:]
    clf = MeanRegularizedClassifier(alpha=2.0, alpha_mean=0.5, tol=1e-8)
    clf.fit(features, y, sample_weight=weight)
    reference = LogisticRegression(C=one_task_C(2.0, 0.5, weight), tol=1e-8)
    reference.fit(features, y, sample_weight=weight)
    coef, intercept = clf.coef_[0], clf.intercept_[0]
    if n_classes == 2:
        coef, intercept = coef[None], np.array([intercept])
    # Both solve the same smooth problem to a gradient of 1e-9.
    np.testing.assert_allclose(coef, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(
        intercept - intercept.mean(),
        reference.intercept_ - reference.intercept_.mean(),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        clf.predict_proba(features), reference.predict_proba(features), atol=1e-7
    )


def test_large_alpha_mean_gives_independent_tasks():
    """w_0 -> 0: each task is a LogisticRegression with C_t = 1 / (n_t alpha)."""
    X, y, weight = make_long(seed=4)
    alpha = 0.3
    clf = MeanRegularizedClassifier(
        alpha=alpha, alpha_mean=1e8, fit_intercept=False, task_column=0, tol=1e-8
    ).fit(X, y, sample_weight=weight)
    for t in range(3):
        rows = X[:, 0] == t
        reference = LogisticRegression(
            C=1.0 / (weight[rows].sum() * alpha), fit_intercept=False, tol=1e-10
        ).fit(X[rows, 1:], y[rows], sample_weight=weight[rows])
        # ||w_0|| is about ||sum_t v_t|| alpha / alpha_mean, 1e-8 here.
        np.testing.assert_allclose(clf.coef_[t], reference.coef_[0], atol=1e-6)


def test_large_alpha_gives_one_pooled_model():
    """v_t, c_t -> 0: one LogisticRegression, weights s_i / n_t, C = 1 / alpha_mean."""
    X, y, weight = make_long(seed=5)
    task = X[:, 0].astype(int)
    alpha_mean = 0.2
    clf = MeanRegularizedClassifier(
        alpha=1e6, alpha_mean=alpha_mean, task_column=0, tol=1e-8
    ).fit(X, y, sample_weight=weight)
    pooled_weight = weight / np.bincount(task, weights=weight)[task]
    reference = LogisticRegression(C=1.0 / alpha_mean, tol=1e-10).fit(
        X[:, 1:], y, sample_weight=pooled_weight
    )
    # The offsets are O(1 / alpha) = 1e-6 of the data gradient.
    for t in range(3):
        np.testing.assert_allclose(clf.coef_[t], reference.coef_[0], atol=1e-5)
        np.testing.assert_allclose(
            clf.intercept_[t], reference.intercept_[0], atol=1e-5
        )
    np.testing.assert_allclose(clf.shared_coef_, reference.coef_[0], atol=1e-5)


# --------------------------------------------------------------------------
# tasks that miss classes
# --------------------------------------------------------------------------


def one_class_problem(seed=6):
    X, y, weight = make_long(seed=seed)
    y = y.copy()
    y[X[:, 0] == 2] = 1  # task 2 only ever sees class 1
    return X, y, weight


def test_one_class_task_fits_and_predicts_inside_zero_one():
    X, y, weight = one_class_problem()
    clf = MeanRegularizedClassifier(task_column=0).fit(X, y, sample_weight=weight)
    rows = X[:, 0] == 2
    proba = clf.predict_proba(X[rows])[:, 1]
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert np.all((proba > 0) & (proba < 1))
    # The task leans to its only class (on average, and through a positive
    # intercept offset c_t), but stays a finite model.
    shared = expit(X[rows, 1:] @ clf.shared_coef_ + clf.shared_intercept_)
    assert proba.mean() > shared.mean()
    assert clf.intercept_[2] > clf.shared_intercept_


def test_one_class_task_is_pulled_towards_shared_model():
    X, y, weight = one_class_problem()
    rows = X[:, 0] == 2
    distances = []
    for alpha in [0.1, 1.0, 10.0, 100.0]:
        clf = MeanRegularizedClassifier(alpha=alpha, task_column=0).fit(X, y)
        own = clf.predict_proba(X[rows])[:, 1]
        shared = expit(X[rows, 1:] @ clf.shared_coef_ + clf.shared_intercept_)
        distances.append(np.max(np.abs(own - shared)))
    assert np.all(np.diff(distances) < 0)
    assert distances[-1] < 0.05


def test_class_unseen_by_a_task():
    X, y, weight = make_long(n_classes=3, seed=7)
    rows = X[:, 0] == 0
    y = np.where(rows & (y == 2), 0, y)  # task 0 never sees class 2
    clf = MeanRegularizedClassifier(task_column=0).fit(X, y, sample_weight=weight)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba > 0) & (proba < 1))
    shared = softmax(X[rows, 1:] @ clf.shared_coef_.T + clf.shared_intercept_, axis=1)
    # Task 0 lowers the class it never saw, relative to the shared model.
    assert proba[rows, 2].mean() < shared[:, 2].mean()


# --------------------------------------------------------------------------
# formats and labels
# --------------------------------------------------------------------------


def test_wide_multilabel_with_missing_equals_long_without_those_cells():
    rng = np.random.default_rng(8)
    features = rng.normal(size=(40, 3))
    Y = (features @ rng.normal(size=(3, 4)) + rng.normal(size=(40, 4)) > 0).astype(
        float
    )
    Y[rng.random(size=Y.shape) < 0.25] = np.nan
    weight = rng.uniform(0.5, 2.0, size=40)
    Y_before = Y.copy()
    wide = MeanRegularizedClassifier(alpha=0.5, tol=1e-8).fit(
        features, Y, sample_weight=weight
    )
    np.testing.assert_array_equal(Y, Y_before)
    rows, tasks = np.nonzero(~np.isnan(Y))
    long = MeanRegularizedClassifier(alpha=0.5, task_column=0, tol=1e-8).fit(
        np.column_stack([tasks, features[rows]]),
        Y[rows, tasks],
        sample_weight=weight[rows],
    )
    np.testing.assert_allclose(wide.coef_, long.coef_, atol=1e-7)
    np.testing.assert_allclose(wide.intercept_, long.intercept_, atol=1e-7)
    proba = wide.predict_proba(features)
    assert proba.shape == (40, 4)
    for t in range(4):
        long_X = np.column_stack([np.full(40, t), features])
        np.testing.assert_allclose(
            proba[:, t], long.predict_proba(long_X)[:, 1], atol=1e-7
        )
    labels = wide.predict(features)
    assert labels.shape == (40, 4)
    np.testing.assert_array_equal(labels, (proba > 0.5).astype(float))
    np.testing.assert_allclose(
        wide.decision_function(features), np.log(proba / (1 - proba))
    )
    np.testing.assert_allclose(wide.predict_log_proba(features), np.log(proba))


def test_wide_score_averages_task_accuracy_over_observed_cells():
    rng = np.random.default_rng(21)
    features = rng.normal(size=(30, 2))
    Y = (features @ rng.normal(size=(2, 3)) > 0).astype(float)
    Y[rng.random(size=Y.shape) < 0.3] = np.nan
    clf = MeanRegularizedClassifier().fit(features, Y)
    predicted = clf.predict(features)
    expected = np.mean(
        [
            np.mean(predicted[~np.isnan(Y[:, t]), t] == Y[~np.isnan(Y[:, t]), t])
            for t in range(3)
        ]
    )
    assert clf.score(features, Y) == pytest.approx(expected)


def test_wide_format_rejects_more_than_two_classes():
    features = np.random.default_rng(9).normal(size=(6, 2))
    Y = np.array([[0, 1], [1, 2], [2, 0], [0, 1], [1, 2], [2, 0]])
    with pytest.raises(ValueError, match="every column of Y is a binary task"):
        MeanRegularizedClassifier().fit(features, Y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_and_string_tasks_in_pandas(n_classes):
    X, y, weight = make_long(n_classes=n_classes, seed=10)
    names = np.array(["apple", "banana", "cherry"])
    stores = np.array(["north", "south", "west"])
    frame = pd.DataFrame(X[:, 1:], columns=["f0", "f1", "f2"])
    frame.insert(1, "store", stores[X[:, 0].astype(int)])
    labels = pd.Series(names[y], name="fruit")
    clf = MeanRegularizedClassifier(task_column="store").fit(
        frame, labels, sample_weight=weight
    )
    numeric = MeanRegularizedClassifier(task_column=0).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(clf.classes_, names[:n_classes])
    np.testing.assert_array_equal(clf.tasks_, stores)
    np.testing.assert_array_equal(clf.feature_names_in_, ["f0", "f1", "f2"])
    np.testing.assert_allclose(clf.coef_, numeric.coef_)
    predicted = clf.predict(frame)
    np.testing.assert_array_equal(predicted, names[numeric.predict(X)])
    assert clf.score(frame, labels) == pytest.approx(numeric.score(X, y))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_prediction_methods_agree(n_classes):
    X, y, _ = make_long(n_classes=n_classes, seed=11)
    clf = MeanRegularizedClassifier(task_column=0).fit(X, y)
    scores = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    assert scores.shape == ((len(y),) if n_classes == 2 else (len(y), n_classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    task = X[:, 0].astype(int)
    manual = (
        np.einsum("ij,i...j->i...", X[:, 1:], clf.coef_[task]) + clf.intercept_[task]
    )
    np.testing.assert_allclose(scores, manual)


def test_sparse_input_equals_dense():
    X, y, weight = make_long(seed=12)
    dense = MeanRegularizedClassifier(task_column=0, tol=1e-8).fit(X, y, weight)
    sparse = MeanRegularizedClassifier(task_column=0, tol=1e-8).fit(
        sp.csr_matrix(X), y, weight
    )
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), atol=1e-8
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_unknown_task_uses_shared_model(n_classes):
    X, y, _ = make_long(n_classes=n_classes, seed=13)
    clf = MeanRegularizedClassifier(task_column=0, unknown_task="shared").fit(X, y)
    new = np.column_stack([np.full(5, 99), X[:5, 1:]])
    expected = X[:5, 1:] @ clf.shared_coef_.T + clf.shared_intercept_
    np.testing.assert_allclose(clf.decision_function(new), expected)
    strict = MeanRegularizedClassifier(task_column=0).fit(X, y)
    with pytest.raises(ValueError, match="unknown_task='shared'"):
        strict.predict(new)


def test_fitted_attributes():
    X, y, _ = make_long(n_classes=3, seed=14)
    clf = MeanRegularizedClassifier(task_column=0).fit(X, y)
    assert clf.coef_.shape == (3, 3, 3)
    assert clf.intercept_.shape == (3, 3)
    assert clf.shared_coef_.shape == (3, 3)
    assert clf.shared_intercept_.shape == (3,)
    assert clf.solver_ == "lbfgs"
    assert 0 < clf.n_iter_ <= clf.max_iter
    assert clf.n_tasks_ == 3 and clf.n_features_in_ == 3


# --------------------------------------------------------------------------
# convergence and bad input
# --------------------------------------------------------------------------


def test_max_iter_one_warns():
    X, y, _ = make_long(seed=15)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        MeanRegularizedClassifier(task_column=0, max_iter=1).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": -1.0},
        {"alpha_mean": -0.1},
        {"max_iter": 0},
        {"solver": "cd"},
        {"unknown_task": "ignore"},
    ],
)
def test_bad_parameters_raise(params):
    X, y, _ = make_long(seed=16)
    with pytest.raises(InvalidParameterError):
        MeanRegularizedClassifier(task_column=0, **params).fit(X, y)


def test_single_class_raises_and_leaves_inputs_unchanged():
    X, y, weight = make_long(seed=17)
    y = np.ones_like(y)
    X_before, y_before, weight_before = X.copy(), y.copy(), weight.copy()
    with pytest.raises(ValueError, match="only one class"):
        MeanRegularizedClassifier(task_column=0).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(weight, weight_before)


def test_class_with_zero_weight_raises():
    X, y, weight = make_long(n_classes=3, seed=18)
    weight = np.where(y == 2, 0.0, weight)
    with pytest.raises(
        ValueError, match=r"Class\(es\) \[2\] have total sample weight 0"
    ):
        MeanRegularizedClassifier(task_column=0).fit(X, y, sample_weight=weight)


def test_fit_leaves_inputs_unchanged():
    X, y, weight = make_long(seed=19)
    frame = pd.DataFrame(X, columns=["task", "a", "b", "c"])
    frame_before, y_before, weight_before = frame.copy(), y.copy(), weight.copy()
    MeanRegularizedClassifier(task_column="task").fit(frame, y, sample_weight=weight)
    pd.testing.assert_frame_equal(frame, frame_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(weight, weight_before)


def test_continuous_target_is_rejected():
    X, _, _ = make_long(seed=20)
    with pytest.raises(ValueError, match="Unknown label type"):
        MeanRegularizedClassifier(task_column=0).fit(X, np.linspace(0, 1, len(X)))


def test_relabelling_tasks_permutes_coef_rows():
    X, y, weight = make_long(n_classes=3, seed=22)
    relabel = np.array([2, 0, 1])  # task t becomes task relabel[t]
    X_relabelled = X.copy()
    X_relabelled[:, 0] = relabel[X[:, 0].astype(int)]
    first = MeanRegularizedClassifier(task_column=0, tol=1e-8).fit(X, y, weight)
    second = MeanRegularizedClassifier(task_column=0, tol=1e-8).fit(
        X_relabelled, y, weight
    )
    np.testing.assert_allclose(second.coef_[relabel], first.coef_, atol=1e-6)
    np.testing.assert_allclose(second.intercept_[relabel], first.intercept_, atol=1e-6)
    np.testing.assert_allclose(
        second.predict_proba(X_relabelled), first.predict_proba(X), atol=1e-6
    )
