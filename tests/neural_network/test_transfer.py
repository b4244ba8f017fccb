"""fit_new_tasks of the networks against closed forms, finite differences and twins."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skmtl._tasks import check_new_task_data
from skmtl.neural_network import MultiTaskMLPClassifier, MultiTaskMLPRegressor
from skmtl.neural_network._transfer import NewTaskProblem, _PriorUnits


def _tasks(n_tasks=5, n_per_task=40, seed=0):
    """Long-format rows (task column last) of related non-linear tasks."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(n_tasks), n_per_task)
    X = rng.normal(size=(len(task), 3))
    slope = 1.0 + 0.3 * rng.normal(size=n_tasks)
    y = np.sin(X[:, 0]) + slope[task] * X[:, 1] + 0.1 * rng.normal(size=len(task))
    return np.column_stack([X, task]), y


def _fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def _source_model(sharing="hard", task_layers=(), **params):
    X, y = _tasks()
    source = X[:, -1] < 4
    model = MultiTaskMLPRegressor(
        (6,),
        task_layers,
        sharing=sharing,
        task_column=-1,
        random_state=0,
        max_iter=300,
        unknown_task="shared",
        **params,
    )
    return _fit(model, X[source], y[source]), X[~source], y[~source]


def _relu(z):
    return np.maximum(z, 0.0)


def _spread(source):
    """s_j^2: the variance over the source tasks, floored at 1e-3 of its mean."""
    spread = np.var(source, axis=0)
    return np.maximum(spread, 1e-3 * spread.mean())


def _prior_strength(source, noise, alpha):
    """max(alpha, noise / s_j^2)."""
    return np.maximum(alpha, noise / _spread(source))


def _prior_scale(model, X):
    """rho = min(1, V / D) of a head on the trunk, from the rows X of fit."""
    H = _relu(X[:, :3] @ model.coefs_[0] + model.intercepts_[0])
    heads, intercepts = model.coefs_[1][:4, :, 0], model.intercepts_[1][:4, 0]
    actual = np.var(H @ heads.T + intercepts, axis=1).mean()
    independent = np.mean(H**2 @ _spread(heads) + _spread(intercepts))
    return min(1.0, actual / independent)


def _ridge_head(model, X, y, weight):
    """The new task's head by normal equations, per-coordinate penalties."""
    H = _relu(X[:, :3] @ model.coefs_[0] + model.intercepts_[0])
    Z = np.column_stack([H, np.ones(len(y))])
    heads, intercepts = model.coefs_[1][:4, :, 0], model.intercepts_[1][:4]
    mean_head = np.append(heads.mean(axis=0), intercepts.mean())
    # rho recorded at fit (checked against numpy in its own test).
    noise = model._source_noise / model._source_prior_scale
    strength = np.append(
        _prior_strength(heads, noise, model.alpha),
        _prior_strength(intercepts, noise, model.alpha),
    )
    # Times n_bar: data weights s_i, penalties a_j.
    lhs = Z.T @ (weight[:, None] * Z) + np.diag(strength)
    rhs = Z.T @ (weight * y) + strength * mean_head
    return np.linalg.solve(lhs, rhs), strength


def test_hard_sharing_head_is_a_ridge_with_the_empirical_prior():
    model, X_new, y_new = _source_model(alpha=0.5)
    rows = slice(0, 9)
    weight = np.random.default_rng(1).uniform(0.5, 2.0, 9)
    model.set_params(tol=1e-10, max_iter=1000)
    model.fit_new_tasks(X_new[rows], y_new[rows], sample_weight=weight)
    head, strength = _ridge_head(model, X_new[rows], y_new[rows], weight)
    np.testing.assert_allclose(model.coefs_[1][4, :, 0], head[:-1], rtol=1e-6)
    np.testing.assert_allclose(model.intercepts_[1][4, 0], head[-1], rtol=1e-6)
    H_test = _relu(X_new[9:, :3] @ model.coefs_[0] + model.intercepts_[0])
    np.testing.assert_allclose(
        model.predict(X_new[9:]), H_test @ head[:-1] + head[-1], rtol=1e-6
    )
    np.testing.assert_allclose(model.new_task_alpha_["coefs"][0][:, 0], strength[:-1])
    np.testing.assert_allclose(model.new_task_alpha_["intercepts"][0], strength[-1:])
    # The source spread, not alpha, sets some of the strengths.
    assert np.any(strength > model.alpha) and np.any(strength == model.alpha)


def _mlp_outputs(model, X, task):
    """Outputs of the fitted networks (no task layers), numpy only."""
    n_trunk = model.n_shared_layers_
    A = X
    for k in range(len(model.coefs_)):
        W, b = model.coefs_[k], model.intercepts_[k]
        if k >= n_trunk:
            W, b = W[task], b[task]
        Z = np.einsum("ni,nij->nj", A, W) if W.ndim == 3 else A @ W
        A = Z + b
        if k < len(model.coefs_) - 1:
            A = _relu(A)
    return A


def test_prior_scale_matches_the_spread_of_the_source_predictions():
    model, _, _ = _source_model(alpha=1e-3)
    X_source, _ = _tasks()
    rho = _prior_scale(model, X_source[X_source[:, -1] < 4])
    assert model._source_prior_scale == pytest.approx(rho, rel=1e-10)
    assert 0 < rho < 1  # independent coordinates overstate the spread here


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_recorded_noise_is_the_mean_squared_residual_of_the_tasks(sharing):
    X, y = _tasks(n_tasks=3, n_per_task=30)
    weight = np.random.default_rng(2).uniform(0.2, 3.0, len(y))
    model = MultiTaskMLPRegressor((4,), sharing=sharing, task_column=-1, random_state=0)
    _fit(model, X, y)
    # Unweighted fit: the noise weighs the rows all alike.
    task = X[:, -1].astype(int)
    residual = _mlp_outputs(model, X[:, :3], task)[:, 0] - y
    per_task = [np.mean(residual[task == t] ** 2) for t in range(3)]
    assert model._source_noise == pytest.approx(np.mean(per_task), rel=1e-10)
    _fit(model, X, y, sample_weight=weight)
    residual = _mlp_outputs(model, X[:, :3], task)[:, 0] - y
    per_task = [
        np.average(residual[task == t] ** 2, weights=weight[task == t])
        for t in range(3)
    ]
    assert model._source_noise == pytest.approx(np.mean(per_task), rel=1e-10)


def test_recorded_noise_of_the_classifier_is_the_inverse_mean_variance():
    X, y = _tasks(n_tasks=3, n_per_task=30)
    labels = (y > 0).astype(int)
    model = MultiTaskMLPClassifier((4,), task_column=-1, random_state=0, alpha=1.0)
    _fit(model, X, labels)
    task = X[:, -1].astype(int)
    p = 1.0 / (1.0 + np.exp(-_mlp_outputs(model, X[:, :3], task)[:, 0]))
    per_task = [np.mean((p * (1 - p))[task == t]) for t in range(3)]
    assert model._source_noise == pytest.approx(1.0 / np.mean(per_task), rel=1e-10)


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_prior_strength_is_never_below_the_models_own(sharing):
    # A large alpha: the empirical strength falls below it on some coordinates.
    model, X_new, y_new = _source_model(sharing, (2,), alpha=30.0)
    model.fit_new_tasks(X_new[:5], y_new[:5])
    n_bar, own = 40.0, []
    first = model.n_shared_layers_
    for name, arrays in (("coefs", model.coefs_), ("intercepts", model.intercepts_)):
        for k, (source, strength) in enumerate(
            zip(arrays[first:], model.new_task_alpha_[name], strict=True)
        ):
            floor = 30.0
            if sharing == "soft" and k == 0:  # the trunk: soft sharing's pull
                floor += n_bar * model.sharing_alpha
            noise = model._source_noise / model._source_prior_scale
            expected = _prior_strength(source[:4], noise, floor)
            np.testing.assert_allclose(strength, expected, rtol=1e-12)
            own.append(strength == floor)
    assert any(np.any(o) for o in own)  # the floor binds somewhere
    assert not all(np.all(o) for o in own)  # and not everywhere


def test_a_coordinate_constant_over_the_source_tasks_stays_there():
    model, X_new, y_new = _source_model(alpha=1e-4)
    model.coefs_[1][:, 2, 0] = 0.7  # every source head: the same weight
    model.set_params(tol=1e-10, max_iter=1000)
    weight = np.ones(9)
    model.fit_new_tasks(X_new[:9], y_new[:9] + 3.0)  # far from the source
    head, _ = _ridge_head(model, X_new[:9], y_new[:9] + 3.0, weight)
    new = model.coefs_[1][4, :, 0]
    np.testing.assert_allclose(new, head[:-1], rtol=1e-6)
    moves = np.abs(new - model.coefs_[1][:4, :, 0].mean(axis=0))
    assert moves[2] < 1e-2 * np.delete(moves, 2).max()
    assert np.isfinite(model.new_task_alpha_["coefs"][0][2, 0])


def test_one_source_task_pins_the_new_task_to_it():
    X, y = _tasks(n_tasks=2, n_per_task=40)
    model = MultiTaskMLPRegressor((4,), task_column=-1, random_state=0, alpha=0.1)
    _fit(model, X[:40], y[:40])
    model.fit_new_tasks(X[40:45], y[40:45] + 5.0)
    np.testing.assert_allclose(model.coefs_[1][1], model.coefs_[1][0], atol=1e-9)
    np.testing.assert_allclose(
        model.intercepts_[1][1], model.intercepts_[1][0], atol=1e-9
    )


def test_one_row_does_not_hurt_in_expectation():
    # New tasks drawn like the source tasks: one row each, on average, helps.
    X, y = _tasks(n_tasks=40, n_per_task=25, seed=4)
    source = X[:, -1] < 20
    model = MultiTaskMLPRegressor(
        (6,), task_column=-1, random_state=0, max_iter=300, unknown_task="shared"
    )
    _fit(model, X[source], y[source])
    X_new, y_new = X[~source], y[~source]
    first = np.r_[[np.flatnonzero(X_new[:, -1] == t)[0] for t in range(20, 40)]]
    test = np.setdiff1d(np.arange(len(y_new)), first)
    shared = np.mean((model.predict(X_new[test]) - y_new[test]) ** 2)
    model.fit_new_tasks(X_new[first], y_new[first])
    adapted = np.mean((model.predict(X_new[test]) - y_new[test]) ** 2)
    assert adapted <= shared


def test_no_evidence_gives_the_shared_model():
    # A row whose target is the shared prediction leaves the prior's centre
    # optimal: the new task predicts as unknown_task="shared" everywhere.
    model, X_new, _ = _source_model(alpha=0.5)
    shared = model.predict(X_new)
    model.fit_new_tasks(X_new[:1], shared[:1])
    np.testing.assert_allclose(model.predict(X_new), shared, rtol=1e-10, atol=1e-12)
    assert list(model.new_tasks_) == [4.0]


def _numeric_gradient(function, x, step=1e-6):
    numeric = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = step
        numeric[j] = (function(x + e)[0] - function(x - e)[0]) / (2 * step)
    return numeric


def _check_gradient(problem, seed):
    rng = np.random.default_rng(seed)
    theta = problem.center + 0.3 * rng.normal(size=problem.layout.size)
    _, gradient = problem.value_and_gradient(theta)
    numeric = _numeric_gradient(problem.value_and_gradient, theta)
    # Strong prior coordinates give entries in the hundreds: atol scales.
    atol = 1e-8 * max(1.0, np.abs(gradient).max())
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=atol)
    # The solver's variables, in units of the prior's standard deviation.
    scaled = _PriorUnits(problem)
    u = 0.3 * rng.normal(size=problem.layout.size)
    _, gradient = scaled.value_and_gradient(u)
    numeric = _numeric_gradient(scaled.value_and_gradient, u)
    atol = 1e-8 * max(1.0, np.abs(gradient).max())
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_adaptation_gradient_matches_finite_differences(n_classes):
    X, y = _tasks(n_tasks=4, n_per_task=20)
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    model = MultiTaskMLPClassifier(
        (4,), (3,), task_column=-1, random_state=0, max_iter=50, alpha=0.3
    )
    source = X[:, -1] < 3
    _fit(model, X[source], labels[source])
    weight = np.random.default_rng(3).uniform(0.5, 2.0, (~source).sum())
    data = check_new_task_data(
        model, X[~source], labels[~source], sample_weight=weight, y_numeric=False
    )
    targets, loss = model._new_task_targets(data)
    _check_gradient(NewTaskProblem(model, data, targets, loss), seed=n_classes)


def test_soft_sharing_objective_value_and_gradient():
    model, X_new, y_new = _source_model(
        "soft", task_layers=(2,), alpha=0.2, sharing_alpha=0.7
    )
    rows = np.r_[0:6, 20:25]
    X_two = X_new[rows].copy()
    X_two[6:, -1] = 5  # two new tasks: 4 and 5
    data = check_new_task_data(model, X_two, y_new[rows])
    problem = NewTaskProblem(model, data, data.y, "squared")
    _check_gradient(problem, seed=0)
    # Value by hand: task 4's network through numpy, with c = 1 / n_bar.
    theta = problem.center + 0.2 * np.random.default_rng(1).normal(
        size=problem.layout.size
    )
    coefs, intercepts = problem.layout.unpack(theta)
    c = 1.0 / 40.0  # every source task has 40 rows
    total = 0.0
    for q, (start, stop) in enumerate([(0, 6), (6, 11)]):
        A = X_two[start:stop, :3]
        for k in range(3):
            A = A @ coefs[k][q] + intercepts[k][q]
            A = _relu(A) if k < 2 else A
        total += c * 0.5 * np.sum((A[:, 0] - y_new[rows][start:stop]) ** 2)
        for k in range(3):
            # alpha, plus soft sharing's pull on the trunk (times n_bar = 1 / c)
            floor = 0.2 + (0.7 / c if k == 0 else 0.0)
            for source, new in (
                (model.coefs_[k], coefs[k][q]),
                (model.intercepts_[k], intercepts[k][q]),
            ):
                noise = model._source_noise / model._source_prior_scale
                strength = _prior_strength(source, noise, floor)
                deviation = new - source.mean(axis=0)
                total += 0.5 * c * np.sum(strength * deviation**2)
    # The problem minimises n_bar times the objective.
    value = problem.value_and_gradient(theta)[0]
    assert value == pytest.approx(total / c, rel=1e-10)


def test_many_rows_approach_a_network_fitted_on_the_new_task_alone():
    rng = np.random.default_rng(5)
    # Source trunks tied loosely, so that they spread: the prior's strength
    # is that spread, and trunks tied tight need far more rows to move.
    model, _, _ = _source_model("soft", sharing_alpha=0.01)
    X = rng.normal(size=(1500, 3))
    y = -2.0 * X[:, 1] + np.cos(X[:, 0])  # unlike the source tasks
    train, test = slice(0, 1000), slice(1000, None)
    long = np.column_stack([X, np.full(len(y), 9.0)])
    shared_error = np.mean((model.predict(long[test]) - y[test]) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(max_iter=500).fit_new_tasks(long[train], y[train])
        alone = MultiTaskMLPRegressor((6,), random_state=0, max_iter=500)
        alone.fit(X[train], y[train])
    adapted_error = np.mean((model.predict(long[test]) - y[test]) ** 2)
    alone_error = np.mean((alone.predict(X[test]) - y[test]) ** 2)
    assert adapted_error < 0.05 * shared_error
    assert adapted_error < 2.0 * alone_error + 0.01


def test_one_row_of_one_class():
    X, y = _tasks(n_tasks=4, n_per_task=20)
    labels = (y > 0).astype(int)
    model = MultiTaskMLPClassifier((4,), task_column=-1, random_state=0, alpha=1.0)
    _fit(model, X[X[:, -1] < 3], labels[X[:, -1] < 3])
    model.fit_new_tasks(X[-1:], labels[-1:])
    proba = model.predict_proba(X[-5:])
    assert proba.shape == (5, 2) and np.all(np.isfinite(proba))


def test_source_parameters_unchanged_replacement_refit_and_pickle():
    # tanh: a smooth objective, which L-BFGS solves to tol jointly or alone.
    model, X_new, y_new = _source_model(task_layers=(2,), alpha=0.1, activation="tanh")
    coefs = [c.copy() for c in model.coefs_]
    intercepts = [b.copy() for b in model.intercepts_]
    unknown = X_new.copy()
    unknown[:, -1] = 99
    shared = model.predict(unknown)
    X_two = X_new[:10].copy()
    X_two[5:, -1] = 7
    X_copy, y_copy = X_two.copy(), y_new[:10].copy()
    model.set_params(tol=1e-9, max_iter=1000).fit_new_tasks(X_two, y_new[:10])
    np.testing.assert_array_equal(X_two, X_copy)
    np.testing.assert_array_equal(y_new[:10], y_copy)
    assert list(model.tasks_) == [0, 1, 2, 3, 4, 7]
    assert [c.shape[0] for c in model.coefs_[1:]] == [6, 6]
    np.testing.assert_array_equal(model.coefs_[0], coefs[0])
    for k in (1, 2):
        np.testing.assert_array_equal(model.coefs_[k][:4], coefs[k])
        np.testing.assert_array_equal(model.intercepts_[k][:4], intercepts[k])
    np.testing.assert_array_equal(model.predict(unknown), shared)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_two), model.predict(X_two))
    # A second call replaces the first call's tasks.
    only_seven = model.fit_new_tasks(X_two[5:], y_new[5:10]).predict(X_two[5:])
    assert list(model.tasks_) == [0, 1, 2, 3, 7]
    assert [c.shape[0] for c in model.coefs_[1:]] == [5, 5]
    np.testing.assert_allclose(
        only_seven, restored.predict(X_two[5:]), rtol=1e-6, atol=1e-8
    )
    model.set_params(unknown_task="error")
    with pytest.raises(ValueError, match="4"):
        model.predict(X_two[:5])


def test_adaptation_is_bounded_by_max_iter():
    model, X_new, y_new = _source_model("soft")
    model.set_params(max_iter=1, tol=0.0)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        model.fit_new_tasks(X_new[:20], y_new[:20])


def test_fit_new_tasks_errors():
    X, y = _tasks(n_tasks=3, n_per_task=10)
    model = MultiTaskMLPRegressor((3,), task_column=-1, max_iter=20)
    with pytest.raises(NotFittedError):
        model.fit_new_tasks(X, y)
    _fit(model, X[X[:, -1] < 2], y[X[:, -1] < 2])
    with pytest.raises(ValueError, match=r"were seen during fit"):
        model.fit_new_tasks(X, y)
    with pytest.raises(ValueError, match="has 4 features.*expecting 3"):
        model.fit_new_tasks(np.column_stack([X[:, :1], X]), y)
    wide = _fit(MultiTaskMLPRegressor((3,), max_iter=20), X[:, :3], np.ones((30, 2)))
    with pytest.raises(ValueError, match="long format"):
        wide.fit_new_tasks(X, y)
    labels = (y > 0).astype(int)
    classifier = _fit(
        MultiTaskMLPClassifier((3,), task_column=-1, max_iter=20),
        X[X[:, -1] < 2],
        labels[X[:, -1] < 2],
    )
    with pytest.raises(ValueError, match=r"class\(es\) \[5\].*fit did not see"):
        classifier.fit_new_tasks(X[X[:, -1] == 2], np.full(10, 5))
