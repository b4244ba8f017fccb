"""MultiTaskMLPRegressor and MultiTaskMLPClassifier: fits, formats, solvers, API."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmtl.model_selection import TaskKFold
from skmtl.neural_network import MultiTaskMLPClassifier, MultiTaskMLPRegressor
from skmtl.neural_network._solvers import epoch_steps

from .test_gradients import _long_data, _problem, _random_theta


def _quiet_fit(model, *args, **kwargs):
    """Fit, ignoring the ConvergenceWarning of a deliberately short run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _long_frame(seed=0, n_per_task=(30, 50, 20)):
    rng = np.random.default_rng(seed)
    task = np.repeat(["a", "b", "c"], n_per_task)
    X = rng.normal(size=(len(task), 3))
    shift = {"a": 0.0, "b": 1.0, "c": -1.0}
    y = np.sin(2 * X[:, 0]) + np.array([shift[t] for t in task]) * X[:, 1]
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"]).assign(task=task)
    return frame, y


# --------------------------------------------------------------------------
# scikit-learn's MLP as oracle of whole fits
# --------------------------------------------------------------------------


def test_one_task_fit_follows_sklearn_lbfgs_iterates():
    """Same objective, same Glorot draws: the first L-BFGS iterates coincide.

    Later iterates of a non-convex fit drift apart by rounding, so the
    comparison stops at 20 iterations (agreement to about 1e-13 there).
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    params = dict(hidden_layer_sizes=(6, 4), random_state=1, max_iter=20, alpha=0.01)
    sk = _quiet_fit(MLPRegressor(solver="lbfgs", **params), X, y)
    ours = _quiet_fit(MultiTaskMLPRegressor(**params), X, y)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.coefs_[0], sk.coefs_[0], atol=1e-9)


def test_one_task_classifier_fit_equals_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    params = dict(hidden_layer_sizes=(6,), random_state=1, max_iter=500, alpha=0.1)
    sk = MLPClassifier(solver="lbfgs", **params).fit(X, y)
    ours = MultiTaskMLPClassifier(**params).fit(X, y)
    assert ours.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-8)


# --------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_wide_with_missing_targets_equals_long_format(sharing):
    """The same observations in wide (NaN) and long format: the same fit."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 0] * X[:, 1]])
    Y[rng.random(30) < 0.3, 1] = np.nan
    observed = ~np.isnan(Y)
    rows, tasks = np.nonzero(observed.T)[::-1]
    X_long = np.column_stack([X[rows], tasks])
    y_long = Y[rows, tasks]
    params = dict(hidden_layer_sizes=(5,), task_hidden_layer_sizes=(3,))
    params.update(sharing=sharing, random_state=0, max_iter=50, activation="tanh")
    wide = _quiet_fit(MultiTaskMLPRegressor(**params), X, Y)
    long = _quiet_fit(MultiTaskMLPRegressor(task_column=-1, **params), X_long, y_long)
    np.testing.assert_allclose(long.loss_curve_, wide.loss_curve_, rtol=1e-8)
    prediction = wide.predict(X)
    assert prediction.shape == (30, 2)
    np.testing.assert_allclose(long.predict(X_long), prediction[rows, tasks], rtol=1e-7)


def test_integer_sample_weights_equal_repeated_rows():
    X, y, _ = _long_data()
    weight = np.arange(len(y)) % 3
    params = dict(hidden_layer_sizes=(4,), random_state=0, max_iter=30, task_column=-1)
    weighted = _quiet_fit(MultiTaskMLPRegressor(**params), X, y, sample_weight=weight)
    repeated = _quiet_fit(
        MultiTaskMLPRegressor(**params), np.repeat(X, weight, 0), np.repeat(y, weight)
    )
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-8)


def test_each_task_mean_loss_does_not_let_a_large_task_drown_a_small_one():
    """Objective of a task repeated 10 times = objective of the task once."""
    X, y, _ = _long_data()
    model = MultiTaskMLPRegressor((4,), task_column=-1, activation="tanh", alpha=0)
    problem = _problem(model, X, y)
    big = X[:, -1] == 1
    X_big = np.vstack([X] + [X[big]] * 9)
    y_big = np.concatenate([y] + [y[big]] * 9)
    problem_big = _problem(model, X_big, y_big)
    theta = _random_theta(problem)
    value = problem.value_and_gradient(theta, problem.batch())[0]
    value_big = problem_big.value_and_gradient(theta, problem_big.batch())[0]
    assert value_big == pytest.approx(value, rel=1e-12)


def test_dataframe_long_format_and_unknown_tasks():
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor((8,), task_column="task", random_state=0)
    model = _quiet_fit(model, frame, y)
    assert list(model.tasks_) == ["a", "b", "c"]
    assert list(model.feature_names_in_) == ["x0", "x1", "x2"]
    new = frame.head(4).assign(task="z")
    with pytest.raises(ValueError, match="unknown_task='shared'"):
        model.predict(new)
    model.set_params(unknown_task="shared")
    per_task = [model.predict(new.assign(task=t)) for t in ["a", "b", "c"]]
    np.testing.assert_allclose(model.predict(new), np.mean(per_task, axis=0))


def test_classifier_multiclass_long_and_multilabel_wide():
    X, y, _ = _long_data(n_classes=3, n_per_task=(30, 40, 20))
    model = MultiTaskMLPClassifier((6,), task_column=-1, random_state=0)
    model = _quiet_fit(model, X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), np.argmax(proba, axis=1))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 2))
    Y = np.column_stack([features[:, 0] > 0, features.sum(axis=1) > 0]).astype(float)
    Y[:10, 1] = np.nan
    wide = _quiet_fit(MultiTaskMLPClassifier((6,), random_state=0), features, Y)
    assert wide.predict(features).shape == (50, 2)
    assert wide.score(features, Y) > 0.9


# --------------------------------------------------------------------------
# Adam: task-stratified batches
# --------------------------------------------------------------------------


def test_epoch_uses_every_observation_once_with_every_task_in_every_step():
    task_index = np.repeat(np.arange(3), [50, 7, 23])
    steps = epoch_steps(task_index, 3, 5, np.random.default_rng(0))
    assert len(steps) == 5
    np.testing.assert_array_equal(np.sort(np.concatenate(steps)), np.arange(80))
    for step in steps:
        assert np.all(np.diff(task_index[step]) >= 0)  # grouped by task
        counts = np.bincount(task_index[step], minlength=3)
        np.testing.assert_array_equal(counts, [10, counts[1], counts[2]])
        assert counts[1] in (1, 2) and counts[2] in (4, 5)


def test_mean_of_an_epochs_step_gradients_is_the_full_gradient():
    X, y, sw = _long_data()
    model = MultiTaskMLPRegressor((4,), (2,), task_column=-1, activation="tanh")
    problem = _problem(model.set_params(alpha=0.3), X, y, sw)
    theta = _random_theta(problem)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    n_steps = 4
    steps = epoch_steps(problem.task_index, 3, n_steps, np.random.default_rng(0))
    results = [
        problem.value_and_gradient(theta, problem.batch(index, scale=n_steps))
        for index in steps
    ]
    assert np.mean([v for v, _ in results]) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(np.mean([g for _, g in results], axis=0), gradient)


def test_each_step_gradient_is_unbiased_for_every_task():
    """Over random epochs, the first step's gradient averages to the full one.

    A task of 3 observations dealt over 4 steps is absent from some steps;
    its random starting step keeps every step unbiased. 4000 epochs leave a
    Monte Carlo error of about 2% of the gradient's scale.
    """
    X, y, sw = _long_data(n_per_task=(3, 9, 6))
    model = MultiTaskMLPRegressor((3,), task_column=-1, activation="tanh")
    problem = _problem(model, X, y, sw)
    theta = _random_theta(problem)
    gradient = problem.value_and_gradient(theta, problem.batch())[1]
    rng = np.random.default_rng(0)
    first_steps = [epoch_steps(problem.task_index, 3, 4, rng)[0] for _ in range(4000)]
    mean = np.mean(
        [
            problem.value_and_gradient(theta, problem.batch(index, scale=4))[1]
            for index in first_steps
        ],
        axis=0,
    )
    np.testing.assert_allclose(mean, gradient, atol=0.05 * np.abs(gradient).max())


def test_adam_fits_and_records_its_epochs():
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor(
        (16,), task_column="task", solver="adam", learning_rate_init=0.01,
        max_iter=300, random_state=0, batch_size=32,
    )  # fmt: skip
    model.fit(frame, y)
    assert len(model.loss_curve_) == model.n_iter_ < 300
    assert model.best_loss_ == pytest.approx(min(model.loss_curve_))
    assert model.score(frame, y) > 0.9


def test_early_stopping_holds_out_every_task_and_keeps_the_best():
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor(
        (16,), task_column="task", solver="adam", learning_rate_init=0.01,
        early_stopping=True, max_iter=300, random_state=0,
    )  # fmt: skip
    model.fit(frame, y)
    assert model.best_loss_ is None
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_validation_score_ > 0.8


def test_stratified_validation_split():
    from skmtl.neural_network._mlp import _stratified_split

    task_index = np.repeat(np.arange(3), [20, 1, 5])
    train, held = _stratified_split(task_index, 3, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(np.bincount(task_index[held], minlength=3), [4, 0, 1])
    assert len(np.intersect1d(train, held)) == 0
    assert len(train) + len(held) == 26


# --------------------------------------------------------------------------
# contract
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_convergence_warning_and_loss_curve(solver):
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor(
        (4,), task_column="task", solver=solver, max_iter=2, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model.fit(frame, y)
    assert model.n_iter_ == 2
    assert len(model.loss_curve_) == 2


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_deterministic_for_a_random_state(solver, sharing):
    frame, y = _long_frame()
    params = dict(task_column="task", solver=solver, sharing=sharing, max_iter=5)
    first = _quiet_fit(MultiTaskMLPRegressor((4,), random_state=3, **params), frame, y)
    second = _quiet_fit(MultiTaskMLPRegressor((4,), random_state=3, **params), frame, y)
    other = _quiet_fit(MultiTaskMLPRegressor((4,), random_state=4, **params), frame, y)
    np.testing.assert_array_equal(first.predict(frame), second.predict(frame))
    assert not np.allclose(first.predict(frame), other.predict(frame))


def test_warm_start_continues_from_the_previous_fit():
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor(
        (8,), task_column="task", random_state=0, max_iter=20, warm_start=True
    )
    _quiet_fit(model, frame, y)
    first_curve = list(model.loss_curve_)
    _quiet_fit(model, frame, y)
    assert model.loss_curve_[0] <= first_curve[-1]
    cold = _quiet_fit(clone(model).set_params(warm_start=False), frame, y)
    assert cold.loss_curve_[0] > first_curve[-1]


def test_layout_of_the_fitted_parameters():
    frame, y = _long_frame()
    params = dict(task_column="task", random_state=0, max_iter=3)
    hard = _quiet_fit(MultiTaskMLPRegressor((5, 4), (3,), **params), frame, y)
    assert [c.shape for c in hard.coefs_] == [(3, 5), (5, 4), (3, 4, 3), (3, 3, 1)]
    assert [b.shape for b in hard.intercepts_] == [(5,), (4,), (3, 3), (3, 1)]
    assert hard.n_shared_layers_ == 2 and hard.n_layers_ == 5
    soft = _quiet_fit(MultiTaskMLPRegressor((5,), sharing="soft", **params), frame, y)
    assert [c.shape for c in soft.coefs_] == [(3, 3, 5), (3, 5, 1)]
    assert soft.n_shared_layers_ == 0


def test_clone_pickle_and_grid_search():
    frame, y = _long_frame()
    model = MultiTaskMLPRegressor((6,), task_column="task", random_state=0, max_iter=30)
    _quiet_fit(model, frame, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(frame), model.predict(frame))
    assert not hasattr(clone(model), "coefs_")
    search = GridSearchCV(
        model,
        {"sharing": ["hard", "soft"], "alpha": [1e-4, 1.0]},
        cv=TaskKFold(n_splits=2, task_column="task"),
    )
    _quiet_fit(search, frame, y)
    assert len(search.cv_results_["params"]) == 4


def test_fit_prints_nothing_and_leaves_the_input_unchanged(capsys):
    X, y, sw = _long_data()
    copies = X.copy(), y.copy(), sw.copy()
    _quiet_fit(
        MultiTaskMLPRegressor((4,), task_column=-1, solver="adam", max_iter=3),
        X, y, sample_weight=sw,
    )  # fmt: skip
    assert capsys.readouterr() == ("", "")
    for array, copy in zip((X, y, sw), copies):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("sizes", [(0,), (4, -1), "abc", (2.5,)])
def test_bad_layer_sizes_are_refused(sizes):
    X, y, _ = _long_data()
    with pytest.raises((ValueError, InvalidParameterError), match="hidden_layer_sizes"):
        MultiTaskMLPRegressor(sizes, task_column=-1).fit(X, y)


def test_bad_task_layer_sizes_name_the_parameter():
    X, y, _ = _long_data()
    model = MultiTaskMLPRegressor((3,), (2, 0), task_column=-1)
    with pytest.raises(ValueError, match="task_hidden_layer_sizes.*positive ints"):
        model.fit(X, y)


def test_bad_options_are_refused():
    X, y, _ = _long_data()
    with pytest.raises(InvalidParameterError, match="sharing"):
        MultiTaskMLPRegressor(sharing="medium", task_column=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="solver"):
        MultiTaskMLPRegressor(solver="sgd", task_column=-1).fit(X, y)


def test_early_stopping_needs_a_task_with_two_observations():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    model = MultiTaskMLPRegressor(
        (2,), task_column=-1, solver="adam", early_stopping=True
    )
    with pytest.raises(ValueError, match="early_stopping=False"):
        model.fit(X, np.array([0.0, 1.0]))


def test_no_hidden_layer_is_ridge_per_task():
    """No hidden layer: task ``t`` minimises Ridge's objective divided by ``2 n_t``.

    L-BFGS-B also stops on a relative decrease of the objective of about
    2e-9, which leaves the coefficients up to about 1e-5 from the optimum
    (depending on the start).
    """
    from sklearn.linear_model import Ridge

    X, y, sw = _long_data(n_per_task=(20, 30, 25))
    model = MultiTaskMLPRegressor((), task_column=-1, alpha=3.0, tol=1e-10)
    model.set_params(max_iter=1000, random_state=0).fit(X, y, sample_weight=sw)
    for t in range(3):
        rows = X[:, -1] == t
        ridge = Ridge(alpha=3.0).fit(X[rows, :-1], y[rows], sample_weight=sw[rows])
        np.testing.assert_allclose(model.coefs_[0][t, :, 0], ridge.coef_, atol=1e-4)
        intercept = model.intercepts_[0][t, 0]
        np.testing.assert_allclose(intercept, ridge.intercept_, atol=1e-4)


def test_no_hidden_layer_classifier_is_logistic_regression_per_task():
    """``alpha`` plays ``1 / C`` of sklearn's LogisticRegression (multinomial).

    L-BFGS-B's stop on the relative decrease of the objective (about 2e-9)
    ends this fit with gradient entries near 1e-5: the objective matches
    sklearn's optimum to a few 1e-9, the coefficients to about 1e-4.
    """
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _long_data(n_classes=3, n_per_task=(30, 40, 35))
    model = MultiTaskMLPClassifier((), task_column=-1, alpha=2.0, tol=1e-10)
    model.set_params(max_iter=1000, random_state=0).fit(X, y)
    coefs = [c.copy() for c in model.coefs_]
    intercepts = [b.copy() for b in model.intercepts_]
    for t in range(3):
        rows = X[:, -1] == t
        logistic = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)
        logistic.fit(X[rows, :-1], y[rows])
        coefs[0][t], intercepts[0][t] = logistic.coef_.T, logistic.intercept_
    np.testing.assert_allclose(model.coefs_[0], coefs[0], atol=1e-3)
    problem = _problem(model, X, y)
    ours = problem.layout.pack(model.coefs_, model.intercepts_)
    theirs = problem.layout.pack(coefs, intercepts)
    value = problem.value_and_gradient(ours, problem.batch())[0]
    optimum = problem.value_and_gradient(theirs, problem.batch())[0]
    assert optimum <= value <= optimum * (1 + 1e-8)


@pytest.mark.parametrize("where", ["features", "targets"])
def test_extreme_magnitudes_are_refused_clearly(where):
    from skmtl.neural_network import MultiTaskMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = rng.normal(size=20)
    if where == "features":
        X = X * 1e150
    else:
        y = y * 1e150
    X_before, y_before = X.copy(), y.copy()
    with pytest.raises(ValueError, match=rf"The {where} reach .* above the supported"):
        MultiTaskMLPRegressor((3,), random_state=0).fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
