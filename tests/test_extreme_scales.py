"""Features and targets of extreme magnitude (1e-300 to 1e300) and bad scaling.

Every fit here once hung or raised a raw ``LinAlgError``. Each runs under a
wall-clock guard; the answers are checked against the exact relation of a
global rescaling (squared loss, homogeneous penalties: scaling ``X`` by ``s``
and the L2,1 strength by ``s`` divides the coefficients by ``s``, scaling a
ridge strength by ``s^2`` does the same) or against per-task least squares.
"""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from skmtl._tasks import check_task_data
from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureClassifierCV,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    MeanRegularizedRegressor,
    MeanRegularizedRegressorCV,
)
from skmtl.losses import LogisticLoss
from skmtl.pipeline import TaskColumnPassthrough
from skmtl.solvers.lbfgs import solve_mean_regularized

#: Seconds a fit may take before the test fails as a hang (each takes well
#: under one second when it works).
DEADLINE = 60


def finish_within(function, seconds=DEADLINE):
    """``function()``, failing the test if it does not return in ``seconds``.

    The call runs in a daemon thread, so that a hang fails this test and
    does not keep the interpreter alive.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the fit did not return within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def long_data(seed=0, n_rows=30, n_features=4):
    """Task column 0 with 3 tasks, then standard normal features."""
    rng = np.random.default_rng(seed)
    task = np.repeat([0, 1, 2], n_rows // 3)
    features = rng.normal(size=(n_rows, n_features))
    y = features @ rng.normal(size=n_features) + 0.1 * rng.normal(size=n_rows)
    return np.column_stack([task, features]), y


def scaled_features(X, factor):
    scaled = X.copy()
    scaled[:, 1:] *= factor
    return scaled


def per_task_least_squares(X, y):
    """Independent oracle: ordinary least squares with intercept per task."""
    coef = []
    for t in np.unique(X[:, 0]):
        rows = X[:, 0] == t
        design = np.column_stack([np.ones(rows.sum()), X[rows, 1:]])
        coef.append(np.linalg.lstsq(design, y[rows], rcond=None)[0][1:])
    return np.array(coef)


def noisy_labels(y, seed=1):
    """Labels that no hyperplane separates: a well-conditioned logistic fit."""
    noise = np.random.default_rng(seed).normal(scale=2.0 * np.std(y), size=len(y))
    return y + noise > np.median(y)


# --------------------------------------------------------------------------
# hangs: every fit returns
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["fista", "bcd"])
@pytest.mark.parametrize("factor", [1e150, 1e300])
def test_joint_feature_large_features_rescaled_exactly(solver, factor):
    # Once: FISTA's backtracking doubled the step constant forever on NaN.
    X, y = long_data()
    alpha = 0.05
    reference = JointFeatureRegressor(
        alpha=alpha, task_column=0, solver=solver, tol=1e-10
    ).fit(X, y)
    model = finish_within(
        lambda: JointFeatureRegressor(
            alpha=alpha * factor, task_column=0, solver=solver, tol=1e-10
        ).fit(scaled_features(X, factor), y)
    )
    assert_allclose(model.coef_ * factor, reference.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", ["fista", "bcd"])
def test_joint_feature_large_targets_rescaled_exactly(solver):
    X, y = long_data()
    factor = 1e150
    reference = JointFeatureRegressor(
        alpha=0.05, task_column=0, solver=solver, tol=1e-10
    ).fit(X, y)
    model = finish_within(
        lambda: JointFeatureRegressor(
            alpha=0.05 * factor, task_column=0, solver=solver, tol=1e-10
        ).fit(X, y * factor)
    )
    assert_allclose(model.coef_ / factor, reference.coef_, rtol=1e-6, atol=1e-9)
    assert np.isfinite(model.dual_gap_)


def test_joint_feature_unpenalised_limit_matches_least_squares():
    # alpha = 0.05 on features of magnitude 1e150 is negligible: per-task OLS.
    # No dual point certifies a penalty that small (the gap stays at the
    # residual sum of squares), so max_iter ends the fit with a warning.
    X, y = long_data()
    model = JointFeatureRegressor(
        alpha=0.05, task_column=0, solver="fista", max_iter=500
    )
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        finish_within(lambda: model.fit(scaled_features(X, 1e150), y))
    oracle = per_task_least_squares(X, y) / 1e150
    assert_allclose(model.coef_, oracle, rtol=1e-8)


def test_joint_feature_sparse_large_features():
    # Once: LinAlgError "Eigenvalues did not converge" on X^T X = inf.
    X, y = long_data()
    factor = 1e300
    reference = JointFeatureRegressor(alpha=0.05, task_column=0, tol=1e-10).fit(X, y)
    sparse_X = sp.csr_matrix(scaled_features(X, factor))
    model = finish_within(
        lambda: JointFeatureRegressor(
            alpha=0.05 * factor, task_column=0, tol=1e-10
        ).fit(sparse_X, y)
    )
    assert_allclose(model.coef_ * factor, reference.coef_, rtol=1e-6, atol=1e-9)


def test_joint_feature_cv_one_huge_feature_is_refused():
    # Once: never returned. No global rescaling holds a 1e300 feature next to
    # one of magnitude 1 in float64 products.
    X, y = long_data()
    X[:, 2] *= 1e300
    with pytest.raises(ValueError, match="differ too much in magnitude") as info:
        finish_within(
            lambda: JointFeatureRegressorCV(task_column=0, n_alphas=5).fit(X, y)
        )
    assert "Scale the features" in str(info.value)
    assert "feature 1" in str(info.value)
    # The advice works: with the features scaled, the fit is the one on the
    # unscaled data, up to the scale of that feature.
    advised = make_pipeline(
        TaskColumnPassthrough(MaxAbsScaler(), task_column=0),
        JointFeatureRegressorCV(task_column=0, n_alphas=5),
    )
    predictions = finish_within(lambda: advised.fit(X, y).predict(X))
    X_plain = X.copy()
    X_plain[:, 2] /= np.max(np.abs(X_plain[:, 2]))
    plain = make_pipeline(
        TaskColumnPassthrough(MaxAbsScaler(), task_column=0),
        JointFeatureRegressorCV(task_column=0, n_alphas=5),
    ).fit(X_plain, y)
    assert_allclose(predictions, plain.predict(X_plain), rtol=1e-6, atol=1e-8)


def test_fista_mixed_feature_scales_matches_bcd():
    # Features of magnitude 1e-3 next to 1e3: FISTA once stalled here.
    X, y = long_data()
    X[:, 1] *= 1e-3
    X[:, 2] *= 1e3
    options = dict(alpha=0.05, task_column=0, tol=1e-8, max_iter=100_000)
    fista = finish_within(
        lambda: JointFeatureRegressor(solver="fista", **options).fit(X, y)
    )
    bcd = JointFeatureRegressor(solver="bcd", **options).fit(X, y)
    predictions = fista.predict(X)
    assert_allclose(predictions, bcd.predict(X), atol=1e-3 * np.std(y))


def test_fista_max_iter_bounds_a_poorly_scaled_fit():
    X, y = long_data()
    X[:, 1] *= 1e-3
    X[:, 2] *= 1e3
    model = JointFeatureRegressor(
        alpha=1e-6, task_column=0, solver="fista", tol=1e-14, max_iter=20
    )
    with pytest.warns(ConvergenceWarning, match="after 20 iterations"):
        finish_within(lambda: model.fit(X, y))
    assert model.n_iter_ <= 20


@pytest.mark.parametrize("factor", [1e150, 1e300])
def test_joint_feature_classifier_large_features(factor):
    X, y = long_data()
    labels = noisy_labels(y)
    reference = JointFeatureClassifier(alpha=0.01, task_column=0, tol=1e-10).fit(
        X, labels
    )
    model = finish_within(
        lambda: JointFeatureClassifier(
            alpha=0.01 * factor, task_column=0, tol=1e-10
        ).fit(scaled_features(X, factor), labels)
    )
    assert_allclose(model.coef_ * factor, reference.coef_, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("factor", [1e150, 1e300])
def test_joint_feature_classifier_cv_large_features(factor):
    # The alpha grid follows alpha_max, which scales with the features: the
    # same folds then choose the same model, whose probabilities match.
    X, y = long_data()
    labels = noisy_labels(y)
    options = dict(task_column=0, cv=2, n_alphas=3, tol=1e-8)
    reference = JointFeatureClassifierCV(**options).fit(X, labels)
    X_large = scaled_features(X, factor)
    model = finish_within(
        lambda: JointFeatureClassifierCV(**options).fit(X_large, labels)
    )
    assert_allclose(model.alphas_, reference.alphas_ * factor, rtol=1e-8)
    assert_allclose(
        model.predict_proba(X_large), reference.predict_proba(X), rtol=1e-5, atol=1e-7
    )


# --------------------------------------------------------------------------
# the closed form and L-BFGS of the mean-regularised model
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["closed_form", "lbfgs"])
def test_mean_regularized_large_features_rescaled_exactly(solver):
    # Once: LinAlgError "Eigenvalues did not converge".
    X, y = long_data()
    factor = 1e150
    options = dict(task_column=0, solver=solver, tol=1e-8)
    reference = MeanRegularizedRegressor(alpha=1.0, alpha_mean=0.1, **options).fit(X, y)
    model = finish_within(
        lambda: MeanRegularizedRegressor(
            alpha=1.0 * factor**2, alpha_mean=0.1 * factor**2, **options
        ).fit(scaled_features(X, factor), y)
    )
    assert_allclose(model.coef_ * factor, reference.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-6, atol=1e-8)


def test_mean_regularized_1e300_is_least_squares():
    # Features and targets of magnitude 1e300 with alpha = 1: the penalties
    # weigh 1e-600 next to the data, so each task gets its least squares.
    X, y = long_data()
    model = finish_within(
        lambda: MeanRegularizedRegressor(task_column=0).fit(
            scaled_features(X, 1e300), y * 1e300
        )
    )
    assert_allclose(model.coef_, per_task_least_squares(X, y), rtol=1e-8)


def test_mean_regularized_cv_large_features_finishes():
    # Either a fit with finite predictions or a refusal that says to scale:
    # the strengths fitting features of magnitude 1e300 are near 1e600.
    X, y = long_data()
    X_large = scaled_features(X, 1e300)
    try:
        model = finish_within(
            lambda: MeanRegularizedRegressorCV(task_column=0).fit(X_large, y)
        )
    except ValueError as error:
        assert "scale" in str(error).lower(), str(error)
        return
    assert np.all(np.isfinite(model.predict(X_large)))


def test_lbfgs_logistic_large_features_rescaled_exactly():
    # The estimator ties its intercept penalty to alpha, so the relation is
    # checked on the solver: X * s with both strengths * s^2 gives coef / s.
    X, y = long_data()
    labels = noisy_labels(y).astype(float)
    factor = 1e150

    def fit(features, strength_factor):
        data = check_task_data(BaseEstimator(), features, labels, task_column=0)
        return solve_mean_regularized(
            data,
            LogisticLoss(),
            alpha=1.0 * strength_factor,
            alpha_mean=0.01 * strength_factor,
            intercept_penalty=1.0,
            tol=1e-8,
        )

    reference = fit(X, 1.0)
    result = finish_within(lambda: fit(scaled_features(X, factor), factor**2))
    assert_allclose(result.coef * factor, reference.coef, rtol=1e-5, atol=1e-7)
    assert_allclose(result.intercept, reference.intercept, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------
# tiny magnitudes
# --------------------------------------------------------------------------


def test_tiny_targets_rescaled_exactly():
    X, y = long_data()
    factor = 1e-300
    reference = MeanRegularizedRegressor(task_column=0).fit(X, y)
    model = MeanRegularizedRegressor(task_column=0).fit(X, y * factor)
    assert_allclose(model.coef_ / factor, reference.coef_, rtol=1e-10)
    reference = JointFeatureRegressor(alpha=0.05, task_column=0, tol=1e-10).fit(X, y)
    model = JointFeatureRegressor(alpha=0.05 * factor, task_column=0, tol=1e-10).fit(
        X, y * factor
    )
    assert_allclose(model.coef_ / factor, reference.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: MeanRegularizedRegressor(task_column=0),
        lambda: JointFeatureRegressor(alpha=0.05, task_column=0),
        lambda: JointFeatureRegressor(alpha=0.05, task_column=0, solver="fista"),
    ],
    ids=["mean_regularized", "joint_feature_bcd", "joint_feature_fista"],
)
def test_tiny_features_give_the_intercept_only_limit(make_model):
    # Features of magnitude 1e-300 against alpha of order 1: the coefficients
    # are of order 1e-300 (below what predictions resolve) and the
    # intercepts are the task means.
    X, y = long_data()
    model = finish_within(lambda: make_model().fit(scaled_features(X, 1e-300), y))
    assert np.all(np.abs(model.coef_) <= 1e-290)
    task_means = [y[X[:, 0] == t].mean() for t in range(3)]
    assert_allclose(model.intercept_, task_means, rtol=1e-10)


def test_lbfgs_refuses_tiny_features():
    X, y = long_data()
    model = MeanRegularizedRegressor(task_column=0, solver="lbfgs")
    with pytest.raises(ValueError, match="features are too small") as info:
        model.fit(scaled_features(X, 1e-300), y)
    assert "Scale the features" in str(info.value)


def test_caller_arrays_unchanged():
    X, y = long_data()
    X_big, y_big = scaled_features(X, 1e300), y * 1e300
    X_copy, y_copy = X_big.copy(), y_big.copy()
    MeanRegularizedRegressor(task_column=0).fit(X_big, y_big)
    JointFeatureRegressor(alpha=0.05, task_column=0).fit(X_big, y_big)
    np.testing.assert_array_equal(X_big, X_copy)
    np.testing.assert_array_equal(y_big, y_copy)


@pytest.mark.parametrize(
    "make_model", [JointFeatureRegressor, MeanRegularizedRegressor]
)
def test_coefficients_beyond_float64_are_refused(make_model):
    """Targets of 1e298 on features of 1e-301 need coefficients of 1e599.

    No float64 holds that answer: the fit says so instead of returning
    infinite coefficients (with a RuntimeWarning of numpy's).
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 1)) * 1e-301
    y = np.column_stack([X[:, 0] * 1e299, rng.standard_normal(6) * 1e-2]) * 1e298
    model = JointFeatureRegressor(alpha=1e-30, max_iter=50)
    with pytest.raises(ValueError, match="beyond the range of float64"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            finish_within(lambda: model.fit(X, y))
