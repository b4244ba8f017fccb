"""The multi-task network's loss and gradient against independent oracles.

Oracles: central finite differences, scikit-learn's own backpropagation
(``MLPRegressor._backprop`` / ``MLPClassifier._backprop``) at identical
weights, and the decomposition of soft sharing into independent networks.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer

from skmtl._tasks import check_task_data
from skmtl.linear_model._joint_feature import _classification_problem
from skmtl.neural_network import MultiTaskMLPClassifier, MultiTaskMLPRegressor
from skmtl.neural_network._network import GATHER_MIN_TASKS


def _problem(estimator, X, y, sample_weight=None):
    """The objective the estimator's ``fit`` would minimise on ``(X, y)``."""
    classifier = isinstance(estimator, MultiTaskMLPClassifier)
    data = check_task_data(
        estimator,
        X,
        y,
        task_column=estimator.task_column,
        sample_weight=sample_weight,
        y_numeric=not classifier,
    )
    if not classifier:
        return estimator._problem(data, data.y, "squared", 1)
    targets, loss, n_classes = _classification_problem(estimator, data)
    if loss.name == "multinomial":
        return estimator._problem(data, targets, "multinomial", n_classes)
    return estimator._problem(data, targets, "logistic", 1)


def _random_theta(problem, seed=0):
    """Glorot weights plus noise, so that no two tasks' parameters coincide."""
    rng = np.random.default_rng(seed)
    theta = problem.layout.initialize(np.random.RandomState(seed), "tanh")
    return theta + 0.3 * rng.normal(size=theta.shape)


def _finite_difference_gradient(problem, theta, step=1e-6):
    batch = problem.batch()
    gradient = np.empty_like(theta)
    for j in range(len(theta)):
        shift = np.zeros_like(theta)
        shift[j] = step
        plus = problem.value_and_gradient(theta + shift, batch)[0]
        minus = problem.value_and_gradient(theta - shift, batch)[0]
        gradient[j] = (plus - minus) / (2 * step)
    return gradient


def _long_data(n_tasks=3, n_classes=None, seed=0, n_per_task=(7, 12, 5)):
    rng = np.random.default_rng(seed)
    sizes = [n_per_task[t % len(n_per_task)] for t in range(n_tasks)]
    task = np.repeat(np.arange(n_tasks), sizes)
    rng.shuffle(task)
    features = rng.normal(size=(len(task), 3))
    X = np.column_stack([features, task])
    if n_classes is None:
        y = np.sin(features[:, 0]) + task * features[:, 1]
    else:
        y = np.arange(len(task)) % n_classes
        rng.shuffle(y)
    sample_weight = rng.uniform(0.2, 2.0, size=len(task))
    return X, y, sample_weight


def _wide_data(n_tasks=3, binary=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(9, 3))
    Y = X @ rng.normal(size=(3, n_tasks)) + 0.1 * rng.normal(size=(9, n_tasks))
    if binary:
        Y = (Y > 0).astype(float)
    Y[[0, 3], 0] = np.nan
    Y[[1, 2, 5], n_tasks - 1] = np.nan
    sample_weight = rng.uniform(0.2, 2.0, size=len(X))
    return X, Y, sample_weight


OPTIONS = [
    dict(sharing="hard", hidden_layer_sizes=(4,), task_hidden_layer_sizes=()),
    dict(sharing="hard", hidden_layer_sizes=(4, 3), task_hidden_layer_sizes=(2,)),
    dict(sharing="soft", hidden_layer_sizes=(4,), task_hidden_layer_sizes=()),
    dict(sharing="soft", hidden_layer_sizes=(3,), task_hidden_layer_sizes=(5, 2)),
    dict(sharing="hard", hidden_layer_sizes=(), task_hidden_layer_sizes=(3,)),
]


def _assert_gradient(problem, seed=0):
    theta = _random_theta(problem, seed)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    assert np.isfinite(value)
    # Central differences with step 1e-6 are accurate to about 1e-8 here.
    np.testing.assert_allclose(
        gradient, _finite_difference_gradient(problem, theta), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("layout", ["long", "wide"])
def test_regressor_gradient_matches_finite_differences(options, layout):
    """Squared loss, sample weights, missing wide targets, both sharings."""
    if layout == "long":
        X, y, sw = _long_data()
        model = MultiTaskMLPRegressor(task_column=-1, activation="tanh", alpha=0.3)
    else:
        X, y, sw = _wide_data()
        model = MultiTaskMLPRegressor(activation="tanh", alpha=0.3)
    model.set_params(**options, sharing_alpha=0.7)
    _assert_gradient(_problem(model, X, y, sw))


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_gradient_matches_finite_differences(options, n_classes):
    """Logistic and multinomial losses, long format with sample weights."""
    X, y, sw = _long_data(n_classes=n_classes)
    model = MultiTaskMLPClassifier(
        task_column=-1, activation="tanh", alpha=0.3, sharing_alpha=0.7, **options
    )
    problem = _problem(model, X, y, sw)
    assert problem.options["loss"] == ("logistic" if n_classes == 2 else "multinomial")
    _assert_gradient(problem)


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_multilabel_gradient_matches_finite_differences(sharing):
    X, Y, sw = _wide_data(binary=True)
    model = MultiTaskMLPClassifier(
        (3,), (2,), sharing=sharing, activation="tanh", alpha=0.1, sharing_alpha=2.0
    )
    _assert_gradient(_problem(model, X, Y, sw))


@pytest.mark.parametrize("activation", ["identity", "logistic", "relu"])
@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_gradient_of_every_activation(activation, sharing):
    X, y, sw = _long_data()
    model = MultiTaskMLPRegressor(
        (4,), (3,), sharing=sharing, activation=activation, task_column=-1, alpha=0.2
    )
    _assert_gradient(_problem(model, X, y, sw), seed=1)


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_gradient_with_many_tasks_gathers_task_weights(sharing):
    """Enough tasks for the vectorised per-task layers (heads of <= 4 outputs)."""
    X, y, sw = _long_data(n_tasks=GATHER_MIN_TASKS + 2, n_per_task=(3, 4))
    model = MultiTaskMLPRegressor(
        (3,), (2,), sharing=sharing, activation="tanh", task_column=-1, alpha=0.2
    )
    problem = _problem(model, X, y, sw)
    assert problem.batch().gathers(np.zeros((1, 1)), 1)
    _assert_gradient(problem)


def test_gradient_of_sparse_features():
    import scipy.sparse as sp

    X, Y, sw = _wide_data()
    model = MultiTaskMLPRegressor((3,), sharing="soft", activation="tanh", alpha=0.2)
    dense = _problem(model, X, Y, sw)
    sparse = _problem(model, sp.csr_matrix(X), Y, sw)
    theta = _random_theta(dense)
    value, gradient = dense.value_and_gradient(theta, dense.batch())
    value_sparse, gradient_sparse = sparse.value_and_gradient(theta, sparse.batch())
    assert value_sparse == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(gradient_sparse, gradient, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------
# scikit-learn's MLP at the same weights
# --------------------------------------------------------------------------


def _sklearn_twin(cls, X, y, **params):
    """A scikit-learn MLP with its layers built; its weights are set by the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(solver="lbfgs", max_iter=1, **params).fit(X, y)


def _sklearn_backprop(sk, X, Y, sample_weight):
    """scikit-learn's loss and gradient at ``sk.coefs_`` (its lbfgs bookkeeping)."""
    n_layers = len(sk.coefs_) + 1
    activations = [X] + [None] * (n_layers - 1)
    deltas = [None] * (n_layers - 1)
    coef_grads = [np.empty_like(c) for c in sk.coefs_]
    intercept_grads = [np.empty_like(b) for b in sk.intercepts_]
    loss, coef_grads, intercept_grads = sk._backprop(
        X, Y, sample_weight, activations, deltas, coef_grads, intercept_grads
    )
    return loss, coef_grads, intercept_grads


def _single_task_data(seed=0, n=25):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    sample_weight = rng.uniform(0.2, 2.0, size=n)
    return X, y, sample_weight


@pytest.mark.parametrize("activation", ["tanh", "relu", "logistic"])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_task_regressor_equals_sklearn_at_same_weights(activation, weighted):
    """Single format: sklearn's value ``sum s l / sum s + alpha/(2 sum s)||W||^2``."""
    X, y, sw = _single_task_data()
    sw = sw if weighted else None
    sk = _sklearn_twin(
        MLPRegressor, X, y, hidden_layer_sizes=(5, 3), activation=activation, alpha=0.7
    )
    model = MultiTaskMLPRegressor((5, 3), activation=activation, alpha=0.7)
    problem = _problem(model, X, y, sw)
    theta = _random_theta(problem)
    coefs, intercepts = problem.layout.unpack(theta)
    sk.coefs_ = [np.reshape(c, c.shape[-2:]).copy() for c in coefs]
    sk.intercepts_ = [np.reshape(b, b.shape[-1:]).copy() for b in intercepts]
    loss, coef_grads, intercept_grads = _sklearn_backprop(sk, X, y[:, None], sw)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    assert value == pytest.approx(loss, rel=1e-12)
    grad_coefs, grad_intercepts = problem.layout.unpack(gradient)
    for ours, theirs in zip(grad_coefs + grad_intercepts, coef_grads + intercept_grads):
        np.testing.assert_allclose(np.reshape(ours, theirs.shape), theirs, rtol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_task_classifier_equals_sklearn_at_same_weights(n_classes):
    """Binary and multinomial log-loss, as MLPClassifier (weights moderate: no clip)."""
    X, _, sw = _single_task_data()
    y = np.arange(len(X)) % n_classes
    sk = _sklearn_twin(
        MLPClassifier, X, y, hidden_layer_sizes=(5,), activation="tanh", alpha=0.4
    )
    model = MultiTaskMLPClassifier((5,), activation="tanh", alpha=0.4)
    problem = _problem(model, X, y, sw)
    theta = _random_theta(problem)
    coefs, intercepts = problem.layout.unpack(theta)
    sk.coefs_ = [np.reshape(c, c.shape[-2:]).copy() for c in coefs]
    sk.intercepts_ = [np.reshape(b, b.shape[-1:]).copy() for b in intercepts]
    Y = LabelBinarizer().fit_transform(y).astype(float)
    loss, coef_grads, intercept_grads = _sklearn_backprop(sk, X, Y, sw)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    assert value == pytest.approx(loss, rel=1e-10)
    grad_coefs, grad_intercepts = problem.layout.unpack(gradient)
    for ours, theirs in zip(grad_coefs + grad_intercepts, coef_grads + intercept_grads):
        np.testing.assert_allclose(np.reshape(ours, theirs.shape), theirs, rtol=1e-9)


def test_wide_fully_observed_hard_sharing_equals_multioutput_sklearn():
    """Wide, every cell observed, ``alpha=0``: value ``n_tasks`` times sklearn's.

    scikit-learn's multi-output loss is the mean over outputs of the per-output
    mean loss, ours the sum over tasks; its gradient is that of the sum over
    outputs, so the gradients agree exactly. Task ``t``'s head is column ``t``
    of sklearn's last weight matrix.
    """
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 4))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2], X[:, 3]])
    n_tasks = Y.shape[1]
    sk = _sklearn_twin(
        MLPRegressor, X, Y, hidden_layer_sizes=(6, 5), activation="tanh", alpha=0.0
    )
    model = MultiTaskMLPRegressor((6, 5), activation="tanh", alpha=0.0)
    problem = _problem(model, X, Y)
    theta = _random_theta(problem)
    coefs, intercepts = problem.layout.unpack(theta)
    sk.coefs_ = [coefs[0].copy(), coefs[1].copy(), coefs[2][:, :, 0].T.copy()]
    sk.intercepts_ = [intercepts[0].copy(), intercepts[1].copy(), intercepts[2][:, 0]]
    loss, coef_grads, intercept_grads = _sklearn_backprop(sk, X, Y, None)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    assert value == pytest.approx(n_tasks * loss, rel=1e-12)
    grad_coefs, grad_intercepts = problem.layout.unpack(gradient)
    np.testing.assert_allclose(grad_coefs[0], coef_grads[0], rtol=1e-10)
    np.testing.assert_allclose(grad_coefs[1], coef_grads[1], rtol=1e-10)
    np.testing.assert_allclose(grad_coefs[2][:, :, 0].T, coef_grads[2], rtol=1e-10)
    np.testing.assert_allclose(grad_intercepts[0], intercept_grads[0], rtol=1e-10)
    np.testing.assert_allclose(grad_intercepts[2][:, 0], intercept_grads[2], rtol=1e-10)


# --------------------------------------------------------------------------
# soft sharing: its two limits
# --------------------------------------------------------------------------


def test_soft_sharing_without_strength_is_independent_task_networks():
    """``sharing_alpha=0``: value and gradient are the sum of one-task networks'."""
    X, y, sw = _long_data()
    options = dict(hidden_layer_sizes=(4,), task_hidden_layer_sizes=(3,))
    options.update(activation="tanh", alpha=0.5)
    soft = MultiTaskMLPRegressor(sharing="soft", sharing_alpha=0.0, task_column=-1)
    problem = _problem(soft.set_params(**options), X, y, sw)
    theta = _random_theta(problem)
    value, gradient = problem.value_and_gradient(theta, problem.batch())
    coefs, intercepts = problem.layout.unpack(theta)
    grad_coefs, grad_intercepts = problem.layout.unpack(gradient)
    task = X[:, -1]
    total = 0.0
    for t in range(3):
        rows = task == t
        single = _problem(
            MultiTaskMLPRegressor(**options), X[rows, :-1], y[rows], sw[rows]
        )
        theta_t = single.layout.pack([c[t] for c in coefs], [b[t] for b in intercepts])
        value_t, gradient_t = single.value_and_gradient(theta_t, single.batch())
        total += value_t
        expected = single.layout.pack(
            [g[t] for g in grad_coefs], [g[t] for g in grad_intercepts]
        )
        np.testing.assert_allclose(gradient_t, expected, rtol=1e-10, atol=1e-14)
    assert value == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("sharing_alpha", [0.0, 3.0])
def test_soft_sharing_with_equal_trunks_is_hard_sharing(sharing_alpha):
    """Equal trunks: soft value = hard value; trunk gradients sum to hard's."""
    X, y, sw = _long_data()
    options = dict(hidden_layer_sizes=(4, 3), task_hidden_layer_sizes=(2,))
    options.update(activation="tanh", alpha=0.5, task_column=-1)
    hard = _problem(MultiTaskMLPRegressor(**options), X, y, sw)
    soft = _problem(
        MultiTaskMLPRegressor(sharing="soft", sharing_alpha=sharing_alpha, **options),
        X,
        y,
        sw,
    )
    theta = _random_theta(hard)
    coefs, intercepts = hard.layout.unpack(theta)
    n_tasks = 3

    def tile(arrays):
        # The two trunk layers are per task in the soft layout.
        return [np.broadcast_to(a, (n_tasks, *a.shape)) for a in arrays[:2]] + list(
            arrays[2:]
        )

    tiled = soft.layout.pack(tile(coefs), tile(intercepts))
    value_hard, gradient_hard = hard.value_and_gradient(theta, hard.batch())
    value_soft, gradient_soft = soft.value_and_gradient(tiled, soft.batch())
    assert value_soft == pytest.approx(value_hard, rel=1e-12)
    hard_coefs, hard_intercepts = hard.layout.unpack(gradient_hard)
    soft_coefs, soft_intercepts = soft.layout.unpack(gradient_soft)
    for k in range(4):
        soft_c = soft_coefs[k].sum(axis=0) if k < 2 else soft_coefs[k]
        soft_b = soft_intercepts[k].sum(axis=0) if k < 2 else soft_intercepts[k]
        np.testing.assert_allclose(soft_c, hard_coefs[k], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(soft_b, hard_intercepts[k], rtol=1e-10, atol=1e-14)


def _tiled_soft_start(hard, sharing_alpha):
    """A soft-sharing model warm-started at the hard model's parameters."""
    soft = clone(hard).set_params(
        sharing="soft", sharing_alpha=sharing_alpha, warm_start=True
    )
    n_tasks = hard.n_tasks_
    soft.coefs_ = [
        np.tile(c, (n_tasks, 1, 1)) if k < hard.n_shared_layers_ else c
        for k, c in enumerate(hard.coefs_)
    ]
    soft.intercepts_ = [
        np.tile(b, (n_tasks, 1)) if k < hard.n_shared_layers_ else b
        for k, b in enumerate(hard.intercepts_)
    ]
    return soft


def test_strong_soft_sharing_approaches_hard_sharing():
    """From hard sharing's optimum, soft sharing's is ``O(1 / sharing_alpha)`` away.

    Started at the fitted hard network (every task's trunk equal to it),
    the soft fit moves the trunks apart by less, and its predictions less
    away from the hard ones, as ``sharing_alpha`` grows.
    """
    X, y, _ = _long_data(n_per_task=(20, 30, 25))
    hard = MultiTaskMLPRegressor(
        (5,), activation="tanh", random_state=0, task_column=-1, max_iter=3000
    ).set_params(tol=1e-5, alpha=0.1)
    hard.fit(X, y)
    gaps, spreads = [], []
    for sharing_alpha in (1e-1, 1e1, 1e3):
        soft = _tiled_soft_start(hard, sharing_alpha).fit(X, y)
        trunk = soft.coefs_[0]
        spreads.append(np.abs(trunk - trunk.mean(axis=0)).max())
        gaps.append(np.abs(soft.predict(X) - hard.predict(X)).max())
    assert spreads[0] > 10 * spreads[1] > 100 * spreads[2]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-3
