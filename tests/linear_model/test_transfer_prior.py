"""``fit_new_tasks(prior="empirical")``: the model's prior, strengthened.

Oracles: the Gaussian posterior mode written in numpy (squared loss) and in
cvxpy (logistic loss), with the per-coordinate strengths computed here from
the source tasks' coefficients and residuals; the closed form of a quadratic
plus a quadratic centred at its minimiser.
"""

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from skmtl.linear_model import (
    ClusteredMultiTaskRegressor,
    GraphRegularizedRegressor,
    MeanRegularizedClassifier,
    MeanRegularizedRegressor,
    TaskRelationshipRegressor,
    TraceNormRegressor,
)
from skmtl.linear_model._transfer import (
    QuadraticPrior,
    _graph_prior,
    _task_relationship_prior,
    model_params,
)
from skmtl.linear_model._transfer_prior import (
    STRENGTH_CAP,
    empirical_bayes_prior,
    strengthen,
)

N_TASKS, N_ROWS, N_FEATURES = 6, 30, 4


def _source(classification=False, seed=0, task_spread=0.3):
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(N_TASKS), N_ROWS)
    F = rng.normal(size=(len(task), N_FEATURES))
    W = rng.normal(size=N_FEATURES)
    W = W + task_spread * rng.normal(size=(N_TASKS, N_FEATURES))
    b = 0.5 * rng.normal(size=N_TASKS)
    z = np.einsum("ij,ij->i", F, W[task]) + b[task]
    if classification:
        y = (rng.random(len(z)) < expit(z)).astype(int)
    else:
        y = z + 0.5 * rng.normal(size=len(z))
    return np.column_stack([task, F]), y


def _new_rows(sizes=(3, 1), classification=False, seed=1):
    rng = np.random.default_rng(seed)
    task = np.repeat(100 + np.arange(len(sizes)), sizes)
    F = rng.normal(size=(len(task), N_FEATURES))
    z = F @ rng.normal(size=N_FEATURES)
    y = (z > 0).astype(int) if classification else z + 0.1 * rng.normal(size=len(z))
    return np.column_stack([task, F]), y


def _residual_noise(model, X, y):
    """Mean over tasks of each task's mean squared residual (fit's rows)."""
    task = X[:, 0].astype(int)
    scores = np.einsum("ij,ij->i", X[:, 1:], model.coef_[task]) + model.intercept_[task]
    return np.mean(
        [np.mean((y[task == t] - scores[task == t]) ** 2) for t in range(N_TASKS)]
    )


def _logistic_noise(model, X):
    task = X[:, 0].astype(int)
    scores = np.einsum("ij,ij->i", X[:, 1:], model.coef_[task]) + model.intercept_[task]
    p = expit(scores)
    return 1.0 / np.mean([np.mean((p * (1 - p))[task == t]) for t in range(N_TASKS)])


def _strengths(model, noise, floor):
    deviations = model.coef_[:N_TASKS] - model.shared_coef_
    spread = np.mean(deviations**2, axis=0)
    return np.maximum(floor, noise / (N_ROWS * spread))


def test_mean_regularized_regressor_is_the_gaussian_posterior_mode():
    X_source, y_source = _source()
    model = MeanRegularizedRegressor(alpha=0.05, task_column=0).fit(X_source, y_source)
    X, y = _new_rows()
    model.fit_new_tasks(X, y)
    strength = _strengths(model, _residual_noise(model, X_source, y_source), 0.05)
    # A weak alpha: the source spread decides at least one coordinate.
    assert np.any(strength > 0.05)
    a, w0, b0 = (
        model.new_task_intercept_alpha_,
        model.shared_coef_,
        model.shared_intercept_,
    )
    for k, task in enumerate(model.new_tasks_):
        rows = X[:, 0] == task
        design = np.column_stack([X[rows, 1:], np.ones(rows.sum())])
        penalty = np.diag(np.append(strength, a))
        # (1 / n_bar) D^T (D u - y) + P (u - u0) = 0
        lhs = design.T @ design / N_ROWS + penalty
        rhs = design.T @ y[rows] / N_ROWS + penalty @ np.append(w0, b0)
        u = np.linalg.solve(lhs, rhs)
        assert_allclose(model.coef_[N_TASKS + k], u[:-1], rtol=1e-9, atol=1e-12)
        assert_allclose(model.intercept_[N_TASKS + k], u[-1], rtol=1e-9, atol=1e-12)


def test_logistic_classifier_matches_cvxpy():
    X_source, y_source = _source(classification=True)
    model = MeanRegularizedClassifier(alpha=0.02, task_column=0, tol=1e-8)
    model.fit(X_source, y_source)
    X, y = _new_rows(sizes=(5,), classification=True)
    model.fit_new_tasks(X, y)
    strength = _strengths(model, _logistic_noise(model, X_source), 0.02)
    assert np.any(strength > 0.02)
    w, b = cp.Variable(N_FEATURES), cp.Variable()
    z = X[:, 1:] @ w + b
    objective = (
        cp.sum(cp.logistic(z) - cp.multiply(y, z)) / N_ROWS
        + 0.5 * cp.sum(cp.multiply(strength, cp.square(w - model.shared_coef_)))
        + 0.5 * model.new_task_intercept_alpha_ * cp.square(b - model.shared_intercept_)
    )
    cp.Problem(cp.Minimize(objective)).solve(solver="CLARABEL")
    assert_allclose(model.coef_[-1], w.value, atol=1e-6)
    assert_allclose(model.intercept_[-1], b.value, atol=1e-6)


@pytest.mark.parametrize(
    "model",
    [
        MeanRegularizedRegressor(alpha=0.05, task_column=0),
        GraphRegularizedRegressor(alpha=0.01, alpha_ridge=0.5, task_column=0),
        TaskRelationshipRegressor(alpha=0.5, beta=0.01, task_column=0),
        TraceNormRegressor(alpha=0.2, task_column=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_strengthens_and_keeps_the_task_without_rows(model):
    # Rows of (almost) zero weight: both priors give their common minimiser;
    # with rows the empirical prior moves the task's coefficients less from
    # it (the intercept, tied alike under both, may move more; tasks that
    # differ little: the source spread is below what the model's prior allows).
    X_source, y_source = _source(task_spread=0.02)
    model.fit(X_source, y_source)
    X, y = _new_rows(sizes=(2,))
    results = {}
    for prior in ("model", "empirical"):
        for weight in (1e-12, 1.0):
            model.fit_new_tasks(
                X, y, sample_weight=np.full(len(y), weight), prior=prior
            )
            results[prior, weight] = model.coef_[-1].copy()
    assert_allclose(results["model", 1e-12], results["empirical", 1e-12], atol=1e-7)
    moved = {
        p: np.abs(results[p, 1.0] - results[p, 1e-12]).sum()
        for p in ("model", "empirical")
    }
    assert moved["empirical"] < moved["model"]


def test_clustered_mixes_its_clusters_by_posterior_probability():
    X_source, y_source = _source(task_spread=1.0)
    model = ClusteredMultiTaskRegressor(n_clusters=2, alpha=0.01, task_column=0)
    model.fit(X_source, y_source)
    labels, sizes = np.unique(model.task_clusters_, return_counts=True)
    # Without rows: the clusters' sizes, and the mean of the source tasks.
    X, y = _new_rows(sizes=(2,))
    model.fit_new_tasks(X, y, sample_weight=np.full(2, 1e-12))
    assert_allclose(model.new_task_cluster_probabilities_[0], sizes / N_TASKS)
    assert_allclose(model.coef_[-1], model.coef_[:N_TASKS].mean(axis=0), atol=1e-8)
    # Many rows drawn from one cluster's mean model: that cluster, surely.
    rng = np.random.default_rng(5)
    chosen = labels[np.argmin(sizes)]
    mean = model.coef_[:N_TASKS][model.task_clusters_ == chosen].mean(axis=0)
    F = rng.normal(size=(300, N_FEATURES))
    y = F @ mean + model.shared_intercept_ + 0.1 * rng.normal(size=300)
    X = np.column_stack([np.full(300, 100), F])
    model.fit_new_tasks(X, y)
    probabilities = model.new_task_cluster_probabilities_[0]
    assert probabilities[list(labels).index(chosen)] > 0.999
    assert model.new_task_clusters_[0] == chosen
    # prior="model": the hard choice of the model's objective.
    model.fit_new_tasks(X, y, prior="model")
    assert model.new_task_clusters_[0] == chosen
    assert not hasattr(model, "new_task_cluster_probabilities_")


def _check_strengthened(prior, strong):
    # At least as strong everywhere, the same minimiser, and the difference
    # is (e_j / 2)(theta_j - theta*_j)^2 with e_j the added curvature.
    assert np.all(strong.curvature >= prior.curvature)
    minimiser = -prior.linear / prior.curvature
    assert_allclose(-strong.linear / strong.curvature, minimiser, rtol=1e-10)
    theta = np.random.default_rng(0).normal(size=prior.n_params)
    extra = strong.curvature - prior.curvature
    expected = prior.value(theta) + 0.5 * np.sum(extra * (theta - minimiser) ** 2)
    assert_allclose(strong.value(theta), expected, rtol=1e-12)


@pytest.mark.parametrize("family", ["graph", "task_relationship"])
def test_priors_with_a_ridge_part_keep_their_minimiser(family):
    X_source, y_source = _source()
    if family == "graph":
        model = GraphRegularizedRegressor(alpha=0.01, alpha_ridge=0.5, task_column=0)
        build = _graph_prior
    else:
        model = TaskRelationshipRegressor(alpha=0.5, beta=0.01, task_column=0)
        build = _task_relationship_prior
    model.fit(X_source, y_source)
    (prior,) = build(model, model_params(model), model.coef_)
    assert np.any(prior.linear != 0)
    strong = empirical_bayes_prior(prior, model.coef_, 1.0, 1.0 / N_ROWS)
    assert np.any(strong.curvature > prior.curvature)
    _check_strengthened(prior, strong)


def test_coordinates_the_source_does_not_move_are_pinned():
    center = np.array([1.0, -2.0, 0.5])
    source = center + np.array([[0.3, 0.0, -0.1], [-0.3, 0.0, 0.1]])
    prior = QuadraticPrior(center, curvature=0.1)
    strong = empirical_bayes_prior(prior, source, noise=2.0, row_weight=0.1)
    assert_allclose(strong.curvature, [2.0 * 0.1 / 0.09, STRENGTH_CAP, 20.0])
    # Through a basis: the coordinates of the projections.
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 2)))[0]
    through = empirical_bayes_prior(
        QuadraticPrior(center, 0.0, basis=basis), source, 2.0, 0.1
    )
    spread = np.mean(((source - center) @ basis) ** 2, axis=0)
    assert_allclose(through.curvature, 0.2 / spread)


def test_clusters_use_the_spread_of_their_members():
    center = [np.zeros(2), np.full(2, 10.0)]
    source = np.array([[1.0, 0.0], [-1.0, 0.0], [10.0, 12.0], [10.0, 8.0]])
    priors = [QuadraticPrior(c, 1e-3) for c in center]
    strong = strengthen(priors, source, 1.0, 1.0, [np.array([0, 1]), np.array([2, 3])])
    assert_allclose(strong[0].curvature, [1.0, STRENGTH_CAP])
    assert_allclose(strong[1].curvature, [STRENGTH_CAP, 0.25])


def test_weaker_evidence_leaves_the_model_prior():
    prior = QuadraticPrior(np.zeros(2), curvature=5.0)
    source = np.array([[1.0, 2.0], [-1.0, -2.0]])
    assert empirical_bayes_prior(prior, source, 1.0, 1.0) is prior


def test_bad_prior_is_refused_before_anything_changes():
    X_source, y_source = _source()
    model = MeanRegularizedRegressor(task_column=0).fit(X_source, y_source)
    X, y = _new_rows()
    model.fit_new_tasks(X, y)
    coef = model.coef_.copy()
    with pytest.raises(
        ValueError, match="prior must be 'empirical' or 'model'; got 'map'"
    ):
        model.fit_new_tasks(X, y, prior="map")
    assert_allclose(model.coef_, coef)
    assert list(model.new_tasks_) == [100, 101]
