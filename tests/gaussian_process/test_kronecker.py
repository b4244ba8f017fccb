"""The Kronecker solver against the definition of the ICM likelihood.

Oracles: the Gaussian log density of ``vec(Y)`` under the explicitly formed
covariance ``B kron K + D kron I`` (scipy.stats), the dense Cholesky solver
on the same data, and central finite differences.
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
from skmtl.gaussian_process._kronecker import kronecker_log_marginal_likelihood


def _wide_data(n=25, n_tasks=3, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, n_features))
    mixing = rng.randn(n_tasks, 2)
    latent = np.column_stack([np.sin(2 * X[:, 0]), np.cos(X.sum(axis=1))])
    Y = latent @ mixing.T + 0.1 * rng.randn(n, n_tasks)
    return X, Y


def _random_psd(size, rng):
    factor = rng.randn(size, size)
    return factor @ factor.T / size + 0.1 * np.eye(size)


def _fixed_theta_optimizer(theta):
    """A callable optimizer that returns ``theta`` (fit at given parameters)."""

    def optimizer(obj_func, initial_theta, bounds):
        return theta, obj_func(theta, eval_gradient=False)

    return optimizer


def _unfitted_model(X, Y, **params):
    params.setdefault("random_state", 0)
    return MultiTaskGaussianProcessRegressor(optimizer=None, **params).fit(X, Y)


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


def test_kronecker_lml_equals_gaussian_density_of_explicit_covariance():
    rng = np.random.RandomState(0)
    n, n_tasks = 12, 4
    X = rng.randn(n, 2)
    Y = rng.randn(n, n_tasks)
    K = RBF(length_scale=[0.7, 1.3])(X)
    B = _random_psd(n_tasks, rng)
    noise = rng.uniform(0.05, 0.5, size=n_tasks)
    covariance = np.kron(B, K) + np.kron(np.diag(noise), np.eye(n))
    # vec(Y) stacks the columns: task by task.
    expected = multivariate_normal(np.zeros(n * n_tasks), covariance).logpdf(
        Y.T.ravel()
    )
    lml = kronecker_log_marginal_likelihood(Y, K, B, noise)
    np.testing.assert_allclose(lml, expected, rtol=1e-10)


@pytest.mark.parametrize("noise", ["task", "shared"])
@pytest.mark.parametrize("rank", [1, 2])
def test_kronecker_lml_and_gradient_equal_dense(noise, rank):
    X, Y = _wide_data()
    kronecker = _unfitted_model(X, Y, solver="kronecker", noise=noise, rank=rank)
    dense = _unfitted_model(X, Y, solver="dense", noise=noise, rank=rank)
    assert kronecker.solver_ == "kronecker" and dense.solver_ == "dense"
    for seed in range(3):
        theta = _perturbed_theta(kronecker, seed)
        lml_k, grad_k = kronecker.log_marginal_likelihood(theta, eval_gradient=True)
        lml_d, grad_d = dense.log_marginal_likelihood(theta, eval_gradient=True)
        # Both are exact; they differ only by rounding in an eigen- versus a
        # Cholesky decomposition of well-conditioned matrices.
        np.testing.assert_allclose(lml_k, lml_d, rtol=1e-8)
        np.testing.assert_allclose(grad_k, grad_d, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("noise", ["task", "shared"])
def test_kronecker_gradient_equals_finite_differences(noise):
    X, Y = _wide_data(n_tasks=3)
    model = _unfitted_model(X, Y, solver="kronecker", noise=noise, rank=2)
    # parameters: constant, 2 length scales, A (3 x 2), log kappa (3), noise
    n_noise = 3 if noise == "task" else 1
    assert len(model.theta_) == 3 + 6 + 3 + n_noise
    theta = _perturbed_theta(model, seed=1)
    _, gradient = model.log_marginal_likelihood(theta, eval_gradient=True)
    expected = _finite_difference_gradient(model.log_marginal_likelihood, theta)
    # Central differences with step 1e-6 are accurate to about 1e-8 here.
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6)


def test_kronecker_predictions_equal_dense_predictions():
    X, Y = _wide_data(n=20, n_tasks=3)
    reference = _unfitted_model(X, Y, solver="dense")
    theta = _perturbed_theta(reference, seed=2, scale=0.3)
    optimizer = _fixed_theta_optimizer(theta)
    params = dict(optimizer=optimizer, random_state=0)
    kronecker = MultiTaskGaussianProcessRegressor(solver="kronecker", **params)
    dense = MultiTaskGaussianProcessRegressor(solver="dense", **params)
    kronecker.fit(X, Y)
    dense.fit(X, Y)
    X_query = np.random.RandomState(3).uniform(-2.5, 2.5, size=(7, 2))
    np.testing.assert_allclose(
        kronecker.predict(X_query), dense.predict(X_query), rtol=1e-8
    )
    for option in ({"return_std": True}, {"return_cov": True}):
        for got, expected in zip(
            kronecker.predict(X_query, **option), dense.predict(X_query, **option)
        ):
            np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    # The joint covariance across rows and tasks (used by sample_y).
    rows = np.repeat(np.arange(7), 3)
    tasks = np.tile(np.arange(3), 7)
    np.testing.assert_allclose(
        kronecker._posterior.covariance(X_query, rows, tasks),
        dense._posterior.covariance(X_query, rows, tasks),
        rtol=1e-8,
        atol=1e-10,
    )


def test_auto_solver_choice():
    X, Y = _wide_data(n=15, n_tasks=2)
    assert _unfitted_model(X, Y).solver_ == "kronecker"
    Y_missing = Y.copy()
    Y_missing[0, 1] = np.nan
    assert _unfitted_model(X, Y_missing).solver_ == "dense"
    assert _unfitted_model(X, Y, n_latent=2).solver_ == "dense"
    assert _unfitted_model(X, Y[:, 0]).solver_ == "dense"
    long_X = np.column_stack([np.r_[np.zeros(15), np.ones(15)], np.r_[X, X]])
    long_y = np.r_[Y[:, 0], Y[:, 1]]
    assert _unfitted_model(long_X, long_y, task_column=0).solver_ == "dense"


def test_kronecker_rejected_when_it_does_not_apply():
    X, Y = _wide_data(n=15, n_tasks=2)
    Y_missing = Y.copy()
    Y_missing[3, 0] = np.nan
    with pytest.raises(ValueError, match="same inputs.*NaN"):
        _unfitted_model(X, Y_missing, solver="kronecker")
    with pytest.raises(ValueError, match="n_latent=2"):
        _unfitted_model(X, Y, solver="kronecker", n_latent=2)


def test_kronecker_fit_recovers_dense_optimum():
    # Same start, same objective: the two solvers follow the same path.
    X, Y = _wide_data(n=20, n_tasks=2, seed=4)
    kernel = ConstantKernel() * RBF(length_scale=[1.0, 1.0])
    models = [
        MultiTaskGaussianProcessRegressor(kernel, solver=solver, random_state=0)
        for solver in ("kronecker", "dense")
    ]
    kronecker, dense = (model.fit(X, Y) for model in models)
    np.testing.assert_allclose(
        kronecker.log_marginal_likelihood_value_,
        dense.log_marginal_likelihood_value_,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        kronecker.task_correlation_, dense.task_correlation_, atol=1e-3
    )


def test_single_task_kronecker_equals_dense():
    # With one task B = 1 is fixed; the eigendecomposition path still holds.
    X, Y = _wide_data(n_tasks=1)
    kronecker = _unfitted_model(X, Y[:, 0], solver="kronecker")
    dense = _unfitted_model(X, Y[:, 0], solver="dense")
    theta = _perturbed_theta(kronecker, seed=5)
    lml_k, grad_k = kronecker.log_marginal_likelihood(theta, eval_gradient=True)
    lml_d, grad_d = dense.log_marginal_likelihood(theta, eval_gradient=True)
    np.testing.assert_allclose(lml_k, lml_d, rtol=1e-8)
    np.testing.assert_allclose(grad_k, grad_d, rtol=1e-8, atol=1e-8)
    X_query = X[:4] + 0.05
    for got, expected in zip(
        kronecker.predict(X_query, return_std=True),
        dense.predict(X_query, return_std=True),
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-8)
