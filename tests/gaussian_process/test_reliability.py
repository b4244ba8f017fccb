"""MultiTaskGaussianProcessRegressor on bounds, extreme and unsupported input.

The oracle is scikit-learn's GaussianProcessRegressor: with one task the
model is its twin with ``kernel + WhiteKernel(0.1, (1e-6, 1e5))`` (the
model's own noise, start and bounds), and several cases come from
scikit-learn's ``gaussian_process/tests/test_gpr.py``.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    WhiteKernel,
)

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
from skmtl.gaussian_process._task_kernel import NOISE_BOUNDS, NOISE_INIT

# scikit-learn's test_gpr.py data
X_SK = np.atleast_2d([1.0, 3.0, 5.0, 6.0, 7.0, 8.0]).T
Y_SK = (X_SK * np.sin(X_SK)).ravel()


def _twin(kernel, **params):
    """scikit-learn's GPR equal to the one-task model."""
    noise = WhiteKernel(NOISE_INIT, noise_level_bounds=NOISE_BOUNDS)
    return GaussianProcessRegressor(kernel + noise, **params)


def _messages(fit):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit()
    assert all(issubclass(w.category, ConvergenceWarning) for w in record)
    return [str(w.message) for w in record]


def _wide_data(n=16, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 5, size=(n, 1))
    signal = np.sin(x[:, 0])
    Y = np.column_stack([signal, signal + 0.3 * np.cos(x[:, 0])])
    return x, Y + 0.1 * rng.randn(n, 2)


# --------------------------------------------------------------------------
# 1. hyper-parameters on a bound
# --------------------------------------------------------------------------

SKLEARN_BOUND_CASES = [
    (RBF(length_scale_bounds=[1e-5, 1e-3]), X_SK),
    (
        WhiteKernel(noise_level_bounds=[1e-5, 1e-3])
        + RBF(length_scale_bounds=[1e3, 1e5]),
        X_SK,
    ),
    (RBF(length_scale=[1.0, 2.0], length_scale_bounds=[1e1, 1e2]), np.tile(X_SK, 2)),
]


def test_bound_warning_has_sklearns_words():
    """sklearn's test_warning_bounds, first case, word for word."""
    model = MultiTaskGaussianProcessRegressor(
        RBF(length_scale_bounds=(1e-5, 1e-3)), normalize_y=False
    )
    expected = (
        "The optimal value found for dimension 0 of parameter length_scale is "
        "close to the specified upper bound 0.001. Increasing the bound and "
        "calling fit again may find a better value."
    )
    with pytest.warns(ConvergenceWarning, match=re.escape(expected)):
        model.fit(X_SK, Y_SK)
    assert model.kernel_.length_scale == pytest.approx(1e-3)


@pytest.mark.parametrize("kernel, X", SKLEARN_BOUND_CASES)
def test_bound_warnings_equal_those_of_the_sklearn_twin(kernel, X):
    """One sum kernel and an anisotropic RBF too, as sklearn's test.

    The twin's kernel is ``kernel + WhiteKernel``: its names carry a ``k1__``
    prefix, and its own noise is the model's noise (reported by neither).
    """
    ours = _messages(
        lambda: MultiTaskGaussianProcessRegressor(kernel, normalize_y=False).fit(
            X, Y_SK
        )
    )
    twin = _messages(lambda: _twin(kernel).fit(X, Y_SK))
    twin = [message.replace("parameter k1__", "parameter ") for message in twin]
    assert ours and ours == twin


def test_no_warning_when_a_bound_cannot_change_the_kernel():
    """A length scale on a bound beyond which the kernel is flat is no alarm.

    Along a constant feature (as along a feature that does not explain the
    targets, whose length scale ends on its upper bound) the kernel does not
    change with the length scale: no larger bound can give a better value.
    scikit-learn's twin warns; the model must not, but must still warn for
    a feature whose bound does matter.
    """
    X = np.column_stack([X_SK[:, 0], np.full(len(X_SK), 0.5)])
    kernel = RBF(length_scale=[1.0, 10.0], length_scale_bounds=(1e-2, 10.0))
    twin = _messages(lambda: _twin(kernel).fit(X, Y_SK))
    assert any("dimension 1 of parameter k1__length_scale" in m for m in twin)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = MultiTaskGaussianProcessRegressor(kernel, normalize_y=False)
        model.fit(X, Y_SK)
    assert model.kernel_.length_scale[1] == pytest.approx(10.0)
    tight = RBF(length_scale=[1.0, 10.0], length_scale_bounds=(1e-2, 0.5))
    model = MultiTaskGaussianProcessRegressor(tight, normalize_y=False)
    messages = _messages(lambda: model.fit(X, Y_SK))
    assert len(messages) == 1
    assert "dimension 0 of parameter length_scale" in messages[0]


def test_bound_warning_with_several_tasks():
    X, Y = _wide_data()
    kernel = ConstantKernel() * RBF(length_scale_bounds=(1e-2, 0.3))
    model = MultiTaskGaussianProcessRegressor(kernel, random_state=0)
    messages = _messages(lambda: model.fit(X, Y))
    assert messages == [
        "The optimal value found for dimension 0 of parameter k2__length_scale "
        "is close to the specified upper bound 0.3. Increasing the bound and "
        "calling fit again may find a better value."
    ]


def test_bound_warning_names_the_latent_kernel_of_the_lmc():
    X, Y = _wide_data()
    kernel = ConstantKernel() * RBF(length_scale_bounds=(1e-2, 0.3))
    model = MultiTaskGaussianProcessRegressor(kernel, n_latent=2, random_state=0)
    messages = _messages(lambda: model.fit(X, Y))
    for q in (0, 1):
        assert any(
            f"k2__length_scale of latent kernel {q} is close to the specified upper"
            in message
            for message in messages
        )


def test_bound_warning_for_the_noise_and_kappa_of_unnormalised_small_targets():
    """Bounds of the model's own parameters, fixed in normalised units.

    Targets of scale 1e-3 without normalize_y have a noise variance of about
    1e-8, below the noise bound 1e-6; with normalize_y there is no warning.
    """
    X, Y = _wide_data()
    small = 1e-3 * Y
    model = MultiTaskGaussianProcessRegressor(normalize_y=False, random_state=0)
    messages = _messages(lambda: model.fit(X, small))
    assert any(
        "noise variance of task 0 is close to its lower bound 1e-06" in message
        and "normalize_y=True" in message
        for message in messages
    )
    assert any("kappa of task" in message for message in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiTaskGaussianProcessRegressor(random_state=0).fit(X, small)


def test_no_bound_warning_without_optimizer():
    kernel = RBF(length_scale=1e-3, length_scale_bounds=(1e-5, 1e-3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiTaskGaussianProcessRegressor(kernel, optimizer=None).fit(X_SK, Y_SK)


# --------------------------------------------------------------------------
# 2. extreme magnitudes: the right answer or a clear error, never NaN
# --------------------------------------------------------------------------


def _long_data(n=12, seed=0):
    rng = np.random.RandomState(seed)
    task = np.repeat([0.0, 1.0], n // 2)
    x = rng.uniform(0, 3, size=n)
    y = np.sin(2 * x) * (1 + task) + 0.05 * rng.randn(n)
    return np.column_stack([task, x]), y


@pytest.mark.parametrize("magnitude", [1e300, 1e150, 1e-150, 1e-300])
@pytest.mark.parametrize("layout", ["single", "long"])
def test_features_beyond_float64_squares_are_refused(magnitude, layout):
    X, y = _long_data()
    X = X.copy()
    X[:, 1] *= magnitude
    params = {"task_column": 0} if layout == "long" else {}
    if layout == "single":
        X = X[:, 1:]
    model = MultiTaskGaussianProcessRegressor(random_state=0, **params)
    with pytest.raises(ValueError, match=r"Feature 0 .*reaches .* in magnitude") as e:
        model.fit(X, y)
    assert "Scale the features" in str(e.value)
    assert "flow float64" in str(e.value)


def test_refused_feature_is_named_for_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _long_data()
    frame = pd.DataFrame({"task": X[:, 0], "x": X[:, 1], "huge": 1e200 * X[:, 1]})
    model = MultiTaskGaussianProcessRegressor(task_column="task")
    with pytest.raises(ValueError, match="Feature 'huge' reaches .*e\\+200"):
        model.fit(frame, y)


@pytest.mark.parametrize("normalize_y", [True, False])
def test_targets_whose_variance_overflows_are_refused(normalize_y):
    X, Y = _wide_data()
    model = MultiTaskGaussianProcessRegressor(normalize_y=normalize_y)
    with pytest.raises(ValueError, match="targets of task 0 .* reach 1.*e\\+300"):
        model.fit(X, 1e300 * Y)
    with pytest.raises(ValueError, match="Divide the targets by a constant"):
        model.fit(X, 1e300 * Y)


@pytest.mark.parametrize("scale", [1e-300, 1e150])
def test_extreme_targets_are_normalised_exactly(scale):
    """normalize_y gives scale times the answer on unscaled targets.

    Oracle: scikit-learn's twin on the unscaled targets. Before, targets of
    magnitude 1e-300 counted as constant (their variance underflows) and the
    predicted standard deviation was 1e296 times too large.
    """
    model = MultiTaskGaussianProcessRegressor(RBF()).fit(X_SK, scale * Y_SK)
    twin = _twin(RBF(), normalize_y=True).fit(X_SK, Y_SK)
    X_query = np.linspace(0, 9, 7)[:, None]
    mean, std = model.predict(X_query, return_std=True)
    twin_mean, twin_std = twin.predict(X_query, return_std=True)
    np.testing.assert_allclose(mean / scale, twin_mean, rtol=1e-5, atol=1e-6)
    # The twin's std includes its WhiteKernel (the noise); the model's does not.
    noise = twin.kernel_.k2.noise_level * np.std(Y_SK) ** 2
    np.testing.assert_allclose((std / scale) ** 2 + noise, twin_std**2, rtol=1e-4)


def test_task_correlation_of_tiny_targets_is_finite():
    X, Y = _wide_data()
    model = MultiTaskGaussianProcessRegressor(random_state=0).fit(X, Y)
    tiny = MultiTaskGaussianProcessRegressor(random_state=0).fit(X, 1e-300 * Y)
    np.testing.assert_allclose(
        tiny.task_correlation_, model.task_correlation_, rtol=1e-6
    )
    mean, std = tiny.predict(X[:4], return_std=True)
    reference_mean, reference_std = model.predict(X[:4], return_std=True)
    np.testing.assert_allclose(mean / 1e-300, reference_mean, rtol=1e-6)
    np.testing.assert_allclose(std / 1e-300, reference_std, rtol=1e-5)


def test_likelihood_that_overflows_is_refused_at_fit():
    """Unnormalised targets of magnitude 1e150 overflow ``y^T C^-1 y``."""
    X, Y = _wide_data()
    model = MultiTaskGaussianProcessRegressor(normalize_y=False, random_state=0)
    with pytest.raises(ValueError, match="log marginal likelihood is not finite"):
        model.fit(X, 1e150 * Y)


def test_kernel_matrix_that_overflows_is_refused_at_fit():
    kernel = DotProduct(sigma_0=1e160, sigma_0_bounds="fixed")
    model = MultiTaskGaussianProcessRegressor(kernel)
    with pytest.raises(
        ValueError,
        match="kernel matrix is not finite at the initial hyper-parameters",
    ) as e:
        model.fit(X_SK, Y_SK)
    assert "normalize_y=True" in str(e.value)


@pytest.mark.parametrize("output", ["std", "cov", "sample"])
def test_predictions_that_overflow_are_an_error_not_nan(output):
    """A query row where the kernel overflows: the variance is inf, not NaN."""
    kernel = DotProduct(sigma_0_bounds="fixed")
    model = MultiTaskGaussianProcessRegressor(kernel, optimizer=None)
    model.fit(X_SK, Y_SK)
    X_query = np.array([[2.0], [1e200]])
    with pytest.raises(ValueError, match="not finite.*Scale the query rows"):
        if output == "sample":
            model.sample_y(X_query)
        else:
            model.predict(X_query, **{f"return_{output}": True})


# --------------------------------------------------------------------------
# 3. sparse input: scikit-learn's TypeError, in fit and at prediction
# --------------------------------------------------------------------------

SPARSE_MESSAGE = r"Sparse data was passed.*dense data is required.*\.toarray\(\)"


@pytest.mark.parametrize("layout", ["single", "long"])
def test_sparse_input_is_refused_with_sklearns_type_error(layout):
    X, y = _long_data()
    params = {"task_column": 0} if layout == "long" else {}
    if layout == "single":
        X = X[:, 1:]
    model = MultiTaskGaussianProcessRegressor(random_state=0, **params)
    with pytest.raises(TypeError, match=SPARSE_MESSAGE):
        model.fit(sp.csr_matrix(X), y)
    model.fit(X, y)
    for method in (model.predict, model.sample_y):
        with pytest.raises(TypeError, match=SPARSE_MESSAGE):
            method(sp.csr_matrix(X))


# --------------------------------------------------------------------------
# 4. scikit-learn's test_gpr.py cases, with one task
# --------------------------------------------------------------------------

X2_SK = np.atleast_2d([2.0, 4.0, 5.5, 6.5, 7.5]).T
SKLEARN_KERNELS = [
    RBF(length_scale=1.0),
    ConstantKernel(1.0, (1e-2, 1e2))
    * RBF(length_scale=1.0, length_scale_bounds=(1e-3, 1e3)),
]


@pytest.mark.parametrize("kernel", SKLEARN_KERNELS)
def test_y_normalization_as_sklearn(kernel):
    """sklearn's test_y_normalization: normalize_y equals fitting normalised y."""
    y_mean, y_std = np.mean(Y_SK), np.std(Y_SK)
    plain = MultiTaskGaussianProcessRegressor(kernel, normalize_y=False)
    plain.fit(X_SK, (Y_SK - y_mean) / y_std)
    normalised = MultiTaskGaussianProcessRegressor(kernel).fit(X_SK, Y_SK)
    mean, std = plain.predict(X2_SK, return_std=True)
    mean_norm, std_norm = normalised.predict(X2_SK, return_std=True)
    np.testing.assert_almost_equal(mean * y_std + y_mean, mean_norm)
    np.testing.assert_almost_equal(std * y_std, std_norm)
    _, cov = plain.predict(X2_SK, return_cov=True)
    _, cov_norm = normalised.predict(X2_SK, return_cov=True)
    np.testing.assert_almost_equal(cov * y_std**2, cov_norm)


@pytest.mark.parametrize("kernel", SKLEARN_KERNELS)
def test_duplicate_input_as_sklearn(kernel):
    """sklearn's test_duplicate_input: equal inputs with different targets."""
    equal = MultiTaskGaussianProcessRegressor(kernel, alpha=1e-2)
    similar = MultiTaskGaussianProcessRegressor(kernel, alpha=1e-2)
    equal.fit(np.vstack((X_SK, X_SK[0])), np.hstack((Y_SK, Y_SK[0] + 1)))
    similar.fit(np.vstack((X_SK, X_SK[0] + 1e-15)), np.hstack((Y_SK, Y_SK[0] + 1)))
    X_test = np.linspace(0, 10, 100)[:, None]
    mean_equal, std_equal = equal.predict(X_test, return_std=True)
    mean_similar, std_similar = similar.predict(X_test, return_std=True)
    np.testing.assert_almost_equal(mean_equal, mean_similar)
    np.testing.assert_almost_equal(std_equal, std_similar)


def test_constant_targets_fit_without_false_bound_alarm():
    """sklearn's test_constant_target, one task and a constant second task.

    A constant task's normalised targets are all 0; its noise (and kappa)
    at the lower bound is no reason to warn: the bound is negligible next
    to the targets themselves (before, the mean square of the centred
    targets, 0, made every lower bound count).
    """
    rng = np.random.RandomState(0)
    Y = np.column_stack([rng.normal(size=len(X_SK)), np.full(len(X_SK), 2.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        single = MultiTaskGaussianProcessRegressor(RBF())
        single.fit(X_SK, np.ones(len(X_SK)))
        wide = MultiTaskGaussianProcessRegressor(random_state=0).fit(X_SK, Y)
    np.testing.assert_allclose(single.predict(X_SK), 1.0)
    mean, cov = wide.predict(X_SK, return_cov=True)
    np.testing.assert_allclose(mean[:, 1], 2.0)
    assert mean.shape == (len(X_SK), 2)
    assert cov.shape == (len(X_SK), len(X_SK), 2)
