"""Property-based contract of every public estimator, in every data layout.

For any input that hypothesis generates (task sizes, extreme scales, constant
and duplicated columns, missing values, missing targets, one-class tasks),
``fit`` either raises a ``ValueError``/``TypeError`` of skmtl's own wording or
gives finite outputs of the right shape, and never modifies the caller's
arrays. On well-posed inputs the fitted model survives a pickle round trip,
its outputs follow a permutation of the rows and a relabelling of the tasks,
and float32 input gives what float64 input gives. Every test runs under the
suite's wall-clock guard (``timeout`` in ``pyproject.toml``), so that a solver
that hangs fails here instead of blocking the run.
"""

import inspect
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

from skmtl.linear_model._cv import PathCVMixin
from skmtl.linear_model._penalized import _PenalizedMixin
from skmtl.utils.discovery import all_estimators

_WRAPPED = {
    "PerTaskEstimator": (Ridge, LogisticRegression),
    "PooledEstimator": (Ridge, LogisticRegression),
}

#: Messages of errors raised by numpy, scipy or scikit-learn internals that
#: reach the user without saying what to change: a fit may never end on them.
_RAW_MESSAGES = (
    "at least one array or dtype is required",
    "Found array with 0 sample(s)",
    "Input should have at least 1 dimension",
    "index ",
    "Singular matrix",
    "did not converge",
    "Unknown label type",
    "not supported between instances",
)


def _estimators():
    """One instance of every public predictor, wrappers with each inner model."""
    for name, cls in all_estimators(type_filter=["regressor", "classifier"]):
        if "task_column" not in inspect.signature(cls).parameters:
            continue
        if issubclass(cls, (PathCVMixin, _PenalizedMixin)):
            # The penalised models (trace norm, decompositions) are not yet in
            # this suite: generated extreme-scale examples run their solvers
            # to max_iter, minutes per estimator. The estimator checks and
            # their own tests cover them.
            continue
        inners = _WRAPPED.get(name)
        if inners is None:
            yield pytest.param(cls(), id=name)
        else:
            for inner in inners:
                yield pytest.param(cls(inner()), id=f"{name}({inner.__name__})")


ESTIMATORS = list(_estimators())
#: Estimators fitted by non-convex optimisation (see the invariance test).
_NON_CONVEX = ("MultiTaskMLPRegressor", "MultiTaskMLPClassifier")
LAYOUTS = ("long", "wide", "single")
# Powers of ten; a standard normal times 1e299 stays below float64's maximum.
_SCALES = (-300, -150, -3, 0, 3, 150, 299)


def _fast(estimator):
    """Keep generated fits quick: few CV folds and grid points, no restarts."""
    params = estimator.get_params(deep=False)
    settings_ = {"cv": 2, "n_alphas": 3, "max_iter": 300}
    if isinstance(estimator, PathCVMixin):
        settings_.update(alphas=2, eps=0.1)
        for grid in estimator._grid_params:
            settings_[grid] = [float(np.atleast_1d(getattr(estimator, grid))[0])]
    return clone(estimator).set_params(
        **{key: value for key, value in settings_.items() if key in params}
    )


@st.composite
def problems(draw, layout, classifier, well_posed=False):
    """A small multi-task problem in ``layout`` as ``(X, y, task_column)``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_tasks = 1 if layout == "single" else draw(st.integers(2, 4))
    n_features = draw(st.integers(1, 4))
    low = 6 if well_posed else 1
    if layout == "long":
        sizes = [draw(st.integers(low, 12)) for _ in range(n_tasks)]
    else:
        sizes = [draw(st.integers(max(low, 3), 16))]
    n_rows = sum(sizes)
    X = rng.standard_normal((n_rows, n_features))
    n_outputs = n_tasks if layout == "wide" else 1
    # The targets follow the first feature before any column is rescaled.
    signal = X[:, :1] * rng.standard_normal(n_outputs)
    if not well_posed:
        scale = draw(st.sampled_from(_SCALES))
        X[:, draw(st.integers(0, n_features - 1))] *= 10.0**scale
        if draw(st.booleans()):
            X[:, -1] = 1.0
        if n_features > 1 and draw(st.booleans()):
            X[:, 0] = X[:, 1]
        if draw(st.integers(0, 9)) == 0:
            X[rng.integers(n_rows), 0] = draw(st.sampled_from([np.nan, np.inf]))
    noisy = signal + 0.5 * rng.standard_normal((n_rows, n_outputs))
    if classifier:
        Y = (noisy > np.median(noisy, axis=0)).astype(float)
    else:
        y_scale = 0 if well_posed else draw(st.sampled_from(_SCALES))
        Y = noisy * 10.0**y_scale
    if layout == "wide" and not well_posed and draw(st.booleans()):
        Y[rng.random(Y.shape) < 0.2] = np.nan
    if layout != "wide":
        Y = Y[:, 0]
    if layout != "long":
        return X, Y, None
    tasks = np.repeat(np.arange(n_tasks), sizes).astype(float)
    order = rng.permutation(n_rows)
    return np.column_stack([tasks, X])[order], Y[order], 0


def _outputs(model, X):
    """Every prediction method the fitted model offers, as float arrays."""
    outputs = {"predict": np.asarray(model.predict(X))}
    for method in ("predict_proba", "decision_function"):
        if hasattr(model, method):
            outputs[method] = np.asarray(getattr(model, method)(X), dtype=float)
    return outputs


def _fit_or_refuse(model, X, y):
    """Fit ``model``; return ``None`` when it refuses the data in plain words."""
    try:
        with warnings.catch_warnings():
            # skmtl's own warnings (max_iter reached, a task too small for
            # every fold) are fine; numpy's RuntimeWarning (overflow, invalid
            # value) stays an error: it means an answer computed in garbage.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            return model.fit(X, y)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert not isinstance(error, np.linalg.LinAlgError), message
        assert not any(raw in message for raw in _RAW_MESSAGES), message
        assert len(message) > 30, message
        return None


def _inner_fails_alone(estimator, X, y, task_column):
    """Whether a wrapped scikit-learn model fails on this data by itself.

    A baseline may fail exactly as the model it wraps fails alone (Ridge on
    features of magnitude 1e300 overflows); that is scikit-learn's behaviour,
    not skmtl's, and such inputs are not held against the wrapper.
    """
    inner = estimator.get_params(deep=False).get("estimator")
    if inner is None:
        return False
    features = X if task_column is None else np.delete(X, task_column, axis=1)
    targets = y if y.ndim == 1 else y[:, 0]
    subsets = [np.isfinite(targets)]
    if task_column is not None:
        subsets += [X[:, task_column] == task for task in np.unique(X[:, task_column])]
    for rows in subsets:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                warnings.simplefilter("ignore", ConvergenceWarning)
                clone(inner).fit(features[rows], targets[rows])
        except Exception:
            return True
    return False


def _expected_rows(y, layout):
    return y.shape if layout == "wide" else (y.shape[0],)


_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_any_input_is_fitted_or_refused_clearly(estimator, layout):
    """Finite outputs of the right shape, or a clear error; inputs untouched."""
    classifier = is_classifier(estimator)

    @_SETTINGS
    @given(problem=problems(layout, classifier))
    def check(problem):
        X, y, task_column = problem
        X_before, y_before = X.copy(), y.copy()
        if _inner_fails_alone(estimator, X, y, task_column):
            return
        model = _fast(estimator).set_params(task_column=task_column)
        fitted = _fit_or_refuse(model, X, y)
        np.testing.assert_array_equal(X, X_before)
        np.testing.assert_array_equal(y, y_before)
        if fitted is None or not np.all(np.isfinite(X)):
            return
        outputs = _outputs(fitted, X)
        assert outputs["predict"].shape == _expected_rows(y, layout)
        for name, values in outputs.items():
            if name != "predict" or not classifier:
                assert np.all(np.isfinite(values)), (name, values)
        np.testing.assert_array_equal(X, X_before)

    check()


def _tight(estimator):
    """Solve to a tolerance that makes two fits agree as the objective does."""
    params = estimator.get_params(deep=False)
    # The GP keeps its kernel: its hyper-parameter search stops on a flat
    # likelihood at a point that rounding can move; the posterior is exact.
    tight = {"tol": 1e-10, "max_iter": 20000, "optimizer": None, "random_state": 0}
    return clone(_fast(estimator)).set_params(
        **{key: value for key, value in tight.items() if key in params}
    )


def _relabel(X, task_column, reverse=True):
    """Tasks renamed: task t becomes ``max - t`` (reverse) or ``3 t + 7``.

    A random start (the Gaussian process draws its task covariance at
    random) hands its draws to the tasks in sorted order, so for such a model
    the renaming keeps the order of the tasks.
    """
    labels = X[:, task_column]
    relabelled = X.copy()
    relabelled[:, task_column] = labels.max() - labels if reverse else 3 * labels + 7
    return relabelled


def _assert_close(first, second, scale):
    """Outputs agree to what two solves at ``tol=1e-10`` can differ by."""
    for name in first:
        np.testing.assert_allclose(
            first[name], second[name], rtol=1e-5, atol=1e-5 * scale, err_msg=name
        )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_invariances_on_well_posed_input(estimator, layout):
    """Pickling, row order, task names and float32 do not change the model."""
    classifier = is_classifier(estimator)

    @settings(_SETTINGS, max_examples=3)
    @given(problem=problems(layout, classifier, well_posed=True))
    def check(problem):
        X, y, task_column = problem
        model = _tight(estimator).set_params(task_column=task_column)
        fitted = _fit_or_refuse(clone(model), X, y)
        if fitted is None:
            return
        outputs = _outputs(fitted, X)
        scale = 1.0 + float(np.nanmax(np.abs(y)))

        restored = pickle.loads(pickle.dumps(fitted))
        for name, values in _outputs(restored, X).items():
            np.testing.assert_array_equal(values, outputs[name], err_msg=name)

        if type(estimator).__name__ in _NON_CONVEX:
            # A network's objective has many minima: row order, task names
            # and float32 change the rounding, and L-BFGS may stop in another
            # one (as scikit-learn's MLPs do). Pickling must still round-trip.
            return
        # The folds of a *CV estimator follow the row order and, to balance
        # fold sizes, the task order: only the plain estimators are invariant.
        plain = "cv" not in model.get_params(deep=False)
        if plain:
            order = np.random.default_rng(0).permutation(X.shape[0])
            permuted = _fit_or_refuse(clone(model), X[order], y[order])
            assert permuted is not None
            _assert_close(_outputs(permuted, X), outputs, scale)

        if plain and task_column is not None:
            reverse = "random_state" not in model.get_params(deep=False)
            renamed = _relabel(X, task_column, reverse)
            relabelled = _fit_or_refuse(clone(model), renamed, y)
            assert relabelled is not None
            _assert_close(_outputs(relabelled, renamed), outputs, scale)

        single = _fit_or_refuse(clone(model), X.astype(np.float32), y)
        assert single is not None
        for name, values in _outputs(single, X.astype(np.float32)).items():
            np.testing.assert_allclose(
                np.asarray(values, dtype=float),
                outputs[name],
                rtol=1e-3,
                atol=1e-3 * scale,
                err_msg=name,
            )

    check()


def test_the_suite_has_a_wall_clock_guard(pytestconfig):
    """pytest-timeout is configured, so a hang above fails instead of blocking."""
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert 0 < float(pytestconfig.getini("timeout")) <= 600
