"""MultiTaskGaussianProcessRegressor against independent oracles.

Oracles: the Gaussian log density of the observations under the explicitly
built covariance (scipy.stats), scikit-learn's GaussianProcessRegressor (one
task; independent tasks when ``B = I``), central finite differences, data
drawn from a known ICM, and sampling statistics.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    Matern,
    WhiteKernel,
)
from sklearn.utils._param_validation import InvalidParameterError

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
from skmtl.gaussian_process._task_kernel import (
    NOISE_BOUNDS,
    NOISE_INIT,
    kernel_gradient,
)

# --------------------------------------------------------------------------
# data and helpers
# --------------------------------------------------------------------------


def _long_data(sizes=(12, 9, 6), n_features=2, seed=0):
    """Long format: column 0 is the task, tasks at their own inputs."""
    rng = np.random.RandomState(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.uniform(-2, 2, size=(len(task), n_features))
    signal = np.sin(2 * x[:, 0]) + np.cos(x.sum(axis=1))
    y = signal * (1 + task) + 0.1 * rng.randn(len(task))
    order = rng.permutation(len(task))  # rows of all tasks mixed
    return np.column_stack([task, x])[order], y[order]


def _wide_data(n=20, n_tasks=3, missing=0.0, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    latent = np.column_stack([np.sin(2 * X[:, 0]), np.cos(X.sum(axis=1))])
    Y = latent @ rng.randn(2, n_tasks) + 0.1 * rng.randn(n, n_tasks)
    Y[rng.rand(n, n_tasks) < missing] = np.nan
    return X, Y


def _model(**params):
    params.setdefault("random_state", 0)
    return MultiTaskGaussianProcessRegressor(**params)


def _fixed_theta_optimizer(theta):
    """Callable optimizer returning ``theta``: fit at given hyper-parameters."""

    def optimizer(obj_func, initial_theta, bounds):
        return theta, obj_func(theta, eval_gradient=False)

    return optimizer


def _perturbed_theta(model, seed, scale=0.4):
    rng = np.random.RandomState(seed)
    return model.theta_ + scale * rng.randn(len(model.theta_))


def _finite_difference_gradient(func, theta, step=1e-6):
    gradient = np.empty_like(theta)
    for j in range(len(theta)):
        shift = np.zeros_like(theta)
        shift[j] = step
        gradient[j] = (func(theta + shift) - func(theta - shift)) / (2 * step)
    return gradient


def _explicit_covariance(model, theta, X, task):
    """sum_q B_q[t_i, t_j] k_q(x_i, x_j) + diag(noise + alpha), from scratch."""
    layout = model._layout
    covariance = np.diag(layout.noise_variance(theta)[task] + model.alpha)
    for q, kernel in enumerate(layout.kernels):
        k = kernel.clone_with_theta(layout.kernel_theta(theta, q))
        params = layout.task_params(theta, q)
        n_tasks = model.n_tasks_
        A = params[: n_tasks * model.rank_].reshape(n_tasks, model.rank_)
        B = A @ A.T + np.diag(np.exp(params[n_tasks * model.rank_ :]))
        covariance += B[np.ix_(task, task)] * k(X)
    return covariance


# --------------------------------------------------------------------------
# likelihood: value and gradient
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel",
    [
        RBF(0.7),
        RBF([0.5, 2.0, 1.0]),
        RBF([0.5, 2.0, 1.0], length_scale_bounds="fixed"),
        ConstantKernel(2.0) * RBF([0.5, 2.0, 1.0]),
        ConstantKernel(2.0, "fixed") * RBF([0.5, 2.0, 1.0]) + WhiteKernel(0.3),
        RBF(1.5) * ConstantKernel(0.5) + ConstantKernel(0.1) * Matern(0.8, nu=1.5),
        DotProduct(1.0) + RBF([1.0, 1.0, 1.0]),
    ],
)
def test_kernel_gradient_equals_sklearn_gradient_tensor(kernel):
    # Features far from the origin: the direct RBF contraction must not lose
    # digits to cancellation.
    rng = np.random.RandomState(0)
    X = 1000.0 + rng.rand(15, 3)
    M = rng.randn(15, 15)
    M = M + M.T
    _, tensor = kernel(X, eval_gradient=True)
    expected = np.tensordot(M, tensor, axes=([0, 1], [0, 1]))
    gradient = kernel_gradient(kernel, X, M)
    assert gradient.shape == (kernel.n_dims,)
    np.testing.assert_allclose(gradient, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_latent", [1, 2])
@pytest.mark.parametrize("rank", [1, 2])
def test_dense_lml_equals_gaussian_density(n_latent, rank):
    X, y = _long_data()
    model = _model(task_column=0, optimizer=None, n_latent=n_latent, rank=rank)
    model.fit(X, y)
    theta = _perturbed_theta(model, seed=0)
    task = X[:, 0].astype(int)
    y_normalised = (y - model._y_train_mean[task]) / model._y_train_std[task]
    covariance = _explicit_covariance(model, theta, X[:, 1:], task)
    expected = multivariate_normal(np.zeros(len(y)), covariance).logpdf(y_normalised)
    np.testing.assert_allclose(
        model.log_marginal_likelihood(theta), expected, rtol=1e-10
    )


@pytest.mark.parametrize(
    "data, params",
    [
        ("long", {"n_latent": 1, "noise": "task"}),
        ("long", {"n_latent": 2, "noise": "task"}),
        ("long", {"n_latent": 2, "noise": "shared", "rank": 2}),
        ("wide_missing", {"n_latent": 1, "noise": "shared"}),
        ("wide_missing", {"n_latent": 2, "noise": "task"}),
        ("single", {"n_latent": 1}),
        ("single", {"n_latent": 2}),
    ],
)
def test_dense_gradient_equals_finite_differences(data, params):
    if data == "long":
        X, y = _long_data(sizes=(8, 6, 5))
        params["task_column"] = 0
    elif data == "wide_missing":
        X, y = _wide_data(n=12, missing=0.3)
    else:
        X, y = _wide_data(n=12, n_tasks=1)
        y = y[:, 0]
    model = _model(optimizer=None, **params).fit(X, y)
    assert model.solver_ == "dense"
    theta = _perturbed_theta(model, seed=1)
    _, gradient = model.log_marginal_likelihood(theta, eval_gradient=True)
    expected = _finite_difference_gradient(model.log_marginal_likelihood, theta)
    # Central differences with step 1e-6 are accurate to about 1e-8 here.
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6)


def test_identity_task_covariance_gives_independent_sklearn_gps():
    # With A = 0 and kappa = 1, B = I: the tasks are independent GPs with the
    # same kernel, and the LML is the sum of sklearn's per-task LMLs.
    X, y = _long_data()
    kernel = ConstantKernel(1.3) * RBF(length_scale=[0.8, 1.5])
    model = _model(
        kernel=kernel, task_column=0, normalize_y=False, optimizer=None, alpha=1e-6
    )
    model.fit(X, y)
    n_tasks = 3
    noise = np.array([0.05, 0.2, 0.1])
    theta = np.concatenate(
        [kernel.theta, np.zeros(n_tasks), np.zeros(n_tasks), np.log(noise)]
    )
    np.testing.assert_allclose(model.coregionalization_.shape, (1, 3, 3))
    expected = 0.0
    for t in range(n_tasks):
        rows = X[:, 0] == t
        single = GaussianProcessRegressor(
            kernel, alpha=noise[t] + 1e-6, optimizer=None
        ).fit(X[rows, 1:], y[rows])
        expected += single.log_marginal_likelihood_value_
    np.testing.assert_allclose(model.log_marginal_likelihood(theta), expected)


def test_single_task_lml_and_gradient_equal_sklearn():
    X, y = _wide_data(n=25, n_tasks=1)
    y = y[:, 0]
    kernel = ConstantKernel() * RBF(length_scale=[1.0, 1.0])
    model = _model(kernel=kernel, optimizer=None).fit(X, y)
    reference = GaussianProcessRegressor(
        kernel + WhiteKernel(NOISE_INIT, NOISE_BOUNDS),
        normalize_y=True,
        optimizer=None,
    ).fit(X, y)
    # B = 1 is fixed: theta is the kernel's theta plus the log noise, which
    # is sklearn's theta of kernel + WhiteKernel.
    np.testing.assert_allclose(model.theta_, reference.kernel_.theta)
    for seed in range(3):
        theta = _perturbed_theta(model, seed)
        lml, gradient = model.log_marginal_likelihood(theta, eval_gradient=True)
        expected, expected_gradient = reference.log_marginal_likelihood(
            theta, eval_gradient=True
        )
        np.testing.assert_allclose(lml, expected, rtol=1e-10)
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("layout", ["single", "wide", "long"])
def test_single_task_fit_and_predictions_equal_sklearn(layout):
    X, y = _wide_data(n=25, n_tasks=1, seed=3)
    y = y[:, 0]
    kernel = ConstantKernel() * RBF(length_scale=[1.0, 1.0])
    if layout == "single":
        model = _model(kernel=kernel).fit(X, y)
    elif layout == "wide":
        model = _model(kernel=kernel).fit(X, y[:, None])
    else:
        X_long = np.column_stack([np.full(len(y), 7.0), X])
        model = _model(kernel=kernel, task_column=0).fit(X_long, y)
    # sklearn's GPR with kernel + WhiteKernel is the same model and starts
    # from the same point: the same optimum.
    sklearn_fit = GaussianProcessRegressor(
        kernel + WhiteKernel(NOISE_INIT, NOISE_BOUNDS), normalize_y=True
    ).fit(X, y)
    np.testing.assert_allclose(
        model.log_marginal_likelihood_value_,
        sklearn_fit.log_marginal_likelihood_value_,
        rtol=1e-7,
    )
    np.testing.assert_allclose(model.theta_, sklearn_fit.kernel_.theta, atol=1e-3)
    # Predictions of the latent function equal sklearn's GPR with the fitted
    # kernel and the fitted noise (in normalised units) in alpha.
    noise = model.noise_variance_[0] / np.var(y)
    twin = GaussianProcessRegressor(
        model.kernel_, alpha=noise + model.alpha, normalize_y=True, optimizer=None
    ).fit(X, y)
    X_query = np.random.RandomState(1).uniform(-2, 2, size=(6, 2))
    query = X_query
    if layout == "long":
        query = np.column_stack([np.full(6, 7.0), X_query])
    for option in ("return_std", "return_cov"):
        mean, spread = model.predict(query, **{option: True})
        expected_mean, expected_spread = twin.predict(X_query, **{option: True})
        if layout == "wide":
            assert mean.shape == (6, 1)
            mean = mean[:, 0]
            spread = spread[..., 0]
        np.testing.assert_allclose(mean, expected_mean, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(spread, expected_spread, rtol=1e-7, atol=1e-12)


# --------------------------------------------------------------------------
# multi-task learning does what it is for
# --------------------------------------------------------------------------


def _icm_draw(seed, n_rich=40, n_poor=6, n_test=60):
    """Two tasks from a rank-1 ICM with correlation about -0.98."""
    rng = np.random.RandomState(seed)
    a = np.array([1.0, -0.9])
    B = np.outer(a, a) + 0.02 * np.eye(2)
    x = np.r_[
        rng.uniform(0, 10, n_rich),
        rng.uniform(0, 10, n_poor),
        np.linspace(0, 10, n_test),
    ]
    task = np.r_[np.zeros(n_rich), np.ones(n_poor + n_test)].astype(int)
    covariance = B[np.ix_(task, task)] * RBF(1.0)(x[:, None])
    f = np.linalg.cholesky(covariance + 1e-8 * np.eye(len(x))) @ rng.randn(len(x))
    y = f + np.sqrt(0.05) * rng.randn(len(x))
    X = np.column_stack([task, x])
    n_train = n_rich + n_poor
    correlation = B[0, 1] / np.sqrt(B[0, 0] * B[1, 1])
    return X[:n_train], y[:n_train], X[n_train:], f[n_train:], correlation


def test_correlated_task_with_few_rows_borrows_strength():
    ratios = []
    for seed in range(4):
        X, y, X_test, f_test, correlation = _icm_draw(seed)
        model = _model(task_column=0).fit(X, y)
        poor = X[:, 0] == 1
        single = GaussianProcessRegressor(
            ConstantKernel() * RBF() + WhiteKernel(0.1), normalize_y=True
        )
        with warnings.catch_warnings():
            # With 6 rows sklearn's noise often ends at its lower bound; the
            # baseline is still the best single-task GP it can find.
            warnings.simplefilter("ignore", ConvergenceWarning)
            single.fit(X[poor, 1:], y[poor])
        rmse = np.sqrt(np.mean((model.predict(X_test) - f_test) ** 2))
        rmse_single = np.sqrt(np.mean((single.predict(X_test[:, 1:]) - f_test) ** 2))
        ratios.append(rmse / rmse_single)
        # sign and rough size of the true correlation (-0.98)
        assert correlation < -0.97
        assert -1.0 <= model.task_correlation_[0, 1] < -0.75
    assert max(ratios) < 1.0
    assert np.mean(ratios) < 0.75


# --------------------------------------------------------------------------
# predictions and samples
# --------------------------------------------------------------------------


def _fitted(layout):
    if layout == "long":
        X, y = _long_data()
        return _model(task_column=0).fit(X, y), X[:7]
    if layout == "wide":
        X, Y = _wide_data(missing=0.2)
        return _model().fit(X, Y), X[:7] + 0.1
    X, Y = _wide_data()
    return _model().fit(X, Y[:, 0]), X[:7] + 0.1


@pytest.mark.parametrize("layout", ["long", "wide", "single"])
def test_std_is_square_root_of_covariance_diagonal(layout):
    model, X_query = _fitted(layout)
    mean, std = model.predict(X_query, return_std=True)
    mean_again, covariance = model.predict(X_query, return_cov=True)
    np.testing.assert_allclose(mean, mean_again)
    if layout == "wide":
        assert mean.shape == std.shape == (7, 3)
        assert covariance.shape == (7, 7, 3)
        diagonal = np.einsum("iit->it", covariance)
    else:
        assert mean.shape == std.shape == (7,)
        assert covariance.shape == (7, 7)
        diagonal = np.diag(covariance)
    np.testing.assert_allclose(std, np.sqrt(np.maximum(diagonal, 0)), rtol=1e-8)


def _assert_sample_moments(samples, mean, covariance):
    """Sample mean and covariance within 5 standard errors of the truth."""
    n = samples.shape[-1]
    variance = np.diag(covariance)
    mean_error = 5 * np.sqrt(variance / n)
    assert np.all(np.abs(samples.mean(axis=-1) - mean) <= mean_error)
    # var of a sample covariance entry: (s_ii s_jj + s_ij^2) / n
    covariance_error = 5 * np.sqrt((np.outer(variance, variance) + covariance**2) / n)
    sample_covariance = np.cov(samples)
    assert np.all(np.abs(sample_covariance - covariance) <= covariance_error)


def test_long_format_samples_have_the_joint_posterior_moments():
    model, X_query = _fitted("long")
    X_query = X_query[:5]  # rows of several tasks: a joint across tasks
    assert len(np.unique(X_query[:, 0])) > 1
    mean, covariance = model.predict(X_query, return_cov=True)
    samples = model.sample_y(X_query, n_samples=20_000, random_state=0)
    assert samples.shape == (5, 20_000)
    _assert_sample_moments(samples, mean, covariance)


def test_wide_samples_have_the_joint_posterior_moments_across_tasks():
    X, Y = _wide_data(n=15, n_tasks=2)
    wide = _model().fit(X, Y)
    # The same model in long format (every row once per task), at the same
    # hyper-parameters, gives the joint covariance across tasks directly.
    X_long = np.column_stack([np.repeat([0, 1], 15), np.vstack([X, X])])
    y_long = np.r_[Y[:, 0], Y[:, 1]]
    long = _model(task_column=0, optimizer=_fixed_theta_optimizer(wide.theta_))
    long.fit(X_long, y_long)
    X_query = X[:3] + 0.2
    query_long = np.column_stack([np.repeat([0, 1], 3), np.vstack([X_query] * 2)])
    mean, covariance = long.predict(query_long, return_cov=True)
    samples = wide.sample_y(X_query, n_samples=20_000, random_state=1)
    assert samples.shape == (3, 2, 20_000)
    # (row, task) -> task-major order of the long query
    samples = samples.transpose(1, 0, 2).reshape(6, 20_000)
    _assert_sample_moments(samples, mean, covariance)
    np.testing.assert_allclose(wide.predict(X_query).T.ravel(), mean, rtol=1e-8)


def test_single_task_sample_shape_matches_sklearn():
    model, X_query = _fitted("single")
    assert model.sample_y(X_query, n_samples=4).shape == (7, 4)
    np.testing.assert_array_equal(
        model.sample_y(X_query, random_state=3), model.sample_y(X_query, random_state=3)
    )


def test_predictions_follow_input_row_order():
    model, _ = _fitted("long")
    X, _ = _long_data(seed=5)
    permutation = np.random.RandomState(0).permutation(len(X))
    mean, std = model.predict(X, return_std=True)
    mean_p, std_p = model.predict(X[permutation], return_std=True)
    np.testing.assert_allclose(mean_p, mean[permutation])
    np.testing.assert_allclose(std_p, std[permutation])


def test_per_task_normalisation_is_undone():
    # Rescaling and shifting the targets of each task rescales and shifts its
    # predictions: the normalisation is per task and undone in predict.
    # At the same hyper-parameters (optimizer=None) this is exact; fitted
    # models agree to the optimiser's tolerance.
    X, Y = _wide_data(missing=0.2)
    scale, shift = np.array([1.0, 100.0, 0.01]), np.array([0.0, -50.0, 3.0])
    base = _model(optimizer=None).fit(X, Y)
    moved = _model(optimizer=None).fit(X, Y * scale + shift)
    X_query = X[:5] + 0.1
    mean, std = base.predict(X_query, return_std=True)
    mean_moved, std_moved = moved.predict(X_query, return_std=True)
    np.testing.assert_allclose(mean_moved, mean * scale + shift, rtol=1e-5)
    np.testing.assert_allclose(std_moved, std * scale, rtol=1e-5)
    np.testing.assert_allclose(moved.noise_variance_, base.noise_variance_ * scale**2)
    np.testing.assert_allclose(moved.task_correlation_, base.task_correlation_)
    fitted_base = _model().fit(X, Y)
    fitted_moved = _model().fit(X, Y * scale + shift)
    np.testing.assert_allclose(
        (fitted_moved.predict(X_query) - shift) / scale,
        fitted_base.predict(X_query),
        atol=1e-3,
    )


# --------------------------------------------------------------------------
# fitted attributes and options
# --------------------------------------------------------------------------


def test_fitted_attributes_with_dataframe_and_string_tasks():
    X, y = _long_data()
    frame = pd.DataFrame(
        {
            "sensor": np.array(["c", "a", "b"])[X[:, 0].astype(int)],
            "x0": X[:, 1],
            "x1": X[:, 2],
        }
    )
    model = _model(task_column="sensor", rank="full").fit(frame, y)
    assert model.tasks_.tolist() == ["a", "b", "c"]
    assert model.rank_ == 3 and model.n_tasks_ == 3
    assert model.feature_names_in_.tolist() == ["x0", "x1"]
    n_params = 3 + 3 * (3 * 3 + 3) // 3 + 3  # kernel, A (3x3), kappa, noise
    assert model.theta_.shape == (n_params,) and model.bounds_.shape == (n_params, 2)
    assert model.coregionalization_.shape == (1, 3, 3)
    np.testing.assert_allclose(np.diag(model.task_correlation_), 1.0)
    np.testing.assert_allclose(model.task_covariance_, model.task_covariance_.T)
    assert np.all(np.linalg.eigvalsh(model.task_covariance_) > 0)
    # task_covariance_ is identifiable: the prior covariance at one input
    B, kernel = model.coregionalization_[0], model.kernel_
    k_xx = kernel.diag(np.zeros((1, 2)))[0]
    std = model._y_train_std
    np.testing.assert_allclose(model.task_covariance_, B * k_xx * np.outer(std, std))
    np.testing.assert_allclose(
        model.log_marginal_likelihood(model.theta_),
        model.log_marginal_likelihood_value_,
    )
    assert model.log_marginal_likelihood() == model.log_marginal_likelihood_value_
    with pytest.raises(ValueError, match="Gradient can only be evaluated"):
        model.log_marginal_likelihood(eval_gradient=True)


def test_optimizer_none_keeps_initial_hyperparameters():
    X, Y = _wide_data()
    kernel = ConstantKernel(2.0) * RBF(length_scale=[0.5, 3.0])
    model = _model(kernel=kernel, optimizer=None, normalize_y=False).fit(X, Y)
    np.testing.assert_allclose(model.kernel_.theta, kernel.theta)
    np.testing.assert_allclose(model.noise_variance_, NOISE_INIT)
    # A starts small and random (not 0), kappa at 1
    A = model.theta_[3:6]
    assert np.all(A != 0) and np.all(np.abs(A) < 1)
    np.testing.assert_allclose(model.theta_[6:9], 0.0)


def test_restarts_never_lower_the_likelihood_and_are_reproducible():
    X, y = _long_data(sizes=(8, 6))
    once = _model(task_column=0).fit(X, y)
    restarted = _model(task_column=0, n_restarts_optimizer=1).fit(X, y)
    again = _model(task_column=0, n_restarts_optimizer=1).fit(X, y)
    assert (
        restarted.log_marginal_likelihood_value_
        >= once.log_marginal_likelihood_value_ - 1e-8
    )
    np.testing.assert_array_equal(restarted.theta_, again.theta_)


def test_restarts_need_finite_kernel_bounds():
    X, y = _long_data(sizes=(8, 6))
    kernel = RBF(length_scale=1.0, length_scale_bounds=(1e-2, np.inf))
    with pytest.raises(ValueError, match="finite"):
        _model(kernel=kernel, task_column=0, n_restarts_optimizer=1).fit(X, y)


def test_shared_noise_is_one_parameter():
    X, y = _long_data()
    model = _model(task_column=0, noise="shared", optimizer=None).fit(X, y)
    assert model.theta_.shape == (3 + 3 + 3 + 1,)
    noise_normalised = model.noise_variance_ / model._y_train_std**2
    np.testing.assert_allclose(noise_normalised, noise_normalised[0])


def test_lmc_has_one_kernel_per_latent_process():
    X, Y = _wide_data(missing=0.1)
    model = _model(n_latent=2, optimizer=None).fit(X, Y)
    assert len(model.kernels_) == 2 and model.kernel_ is model.kernels_[0]
    assert model.coregionalization_.shape == (2, 3, 3)
    # the second kernel starts from perturbed hyper-parameters
    assert not np.allclose(model.kernels_[0].theta, model.kernels_[1].theta)
    assert model.predict(X[:4]).shape == (4, 3)


# --------------------------------------------------------------------------
# errors, and nothing the caller passed is changed
# --------------------------------------------------------------------------


def test_dense_size_guard_raises_before_allocating():
    # 200,000 observations would need 298 GiB per matrix: the error must come
    # before any allocation (this test would otherwise run out of memory).
    n = 200_000
    X = np.column_stack([np.arange(n) % 2, np.linspace(0, 1, n)])
    y = np.zeros(n)
    with pytest.raises(ValueError) as error:
        _model(task_column=0, solver="dense").fit(X, y)
    message = str(error.value)
    assert "200,000 observations" in message
    assert "298.02 GiB" in message
    assert "max_dense_size=10,000" in message
    assert "subsample" in message and "Kronecker layout" in message
    assert "solver='sparse'" in message


def test_dense_size_guard_respects_max_dense_size():
    X, y = _long_data()
    with pytest.raises(ValueError, match="27 observations"):
        _model(task_column=0, max_dense_size=20).fit(X, y)
    _model(task_column=0, max_dense_size=None, optimizer=None).fit(X, y)


def test_unknown_task_error_names_the_tasks():
    X, y = _long_data()
    model = _model(task_column=0).fit(X, y)
    X_new = X[:4].copy()
    X_new[:2, 0] = [5, 9]
    X_copy = X_new.copy()
    with pytest.raises(ValueError) as error:
        model.predict(X_new)
    message = str(error.value)
    assert "Task(s) [5.0, 9.0]" in message and "known tasks: [0.0, 1.0, 2.0]" in message
    assert "unknown_task" in message and "fit_new_tasks" in message
    np.testing.assert_array_equal(X_new, X_copy)
    with pytest.raises(ValueError, match="not seen during fit"):
        model.sample_y(X_new)


def test_caller_arrays_are_not_modified():
    X, Y = _wide_data(missing=0.2)
    X_copy, Y_copy = X.copy(), Y.copy()
    model = _model().fit(X, Y)
    model.predict(X, return_cov=True)
    model.sample_y(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(Y, Y_copy)
    X_long, y_long = _long_data()
    copies = X_long.copy(), y_long.copy()
    _model(task_column=0).fit(X_long, y_long).predict(X_long, return_std=True)
    np.testing.assert_array_equal(X_long, copies[0])
    np.testing.assert_array_equal(y_long, copies[1])


@pytest.mark.parametrize(
    "params",
    [
        {"rank": 0},
        {"rank": "half"},
        {"n_latent": 0},
        {"noise": "per-row"},
        {"solver": "cholesky"},
        {"alpha": -1.0},
        {"max_dense_size": 0},
        {"unknown_task": "average"},
        {"n_restarts_optimizer": -1},
        {"init": "random"},
    ],
)
def test_invalid_parameters(params):
    X, Y = _wide_data()
    with pytest.raises(InvalidParameterError):
        MultiTaskGaussianProcessRegressor(**params).fit(X, Y)


def test_both_std_and_cov_is_an_error():
    model, X_query = _fitted("single")
    with pytest.raises(RuntimeError, match="At most one"):
        model.predict(X_query, return_std=True, return_cov=True)


def test_clone_and_refit_give_the_same_model():
    X, y = _long_data(sizes=(8, 6))
    model = _model(task_column=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refit = clone(model).fit(X, y)
    np.testing.assert_array_equal(model.theta_, refit.theta_)
