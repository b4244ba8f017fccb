"""How the optimiser starts and searches, against oracles of the likelihood.

Oracles: the likelihood is invariant to the scale exchanged between a
``ConstantKernel`` amplitude and ``B`` (explicit Gaussian density); a fitted
``theta`` satisfies the first-order (KKT) conditions of the bounded problem
(analytic gradient, itself checked against finite differences elsewhere);
a task covariance of exact rank is recovered by its start exactly; the
correlation of data drawn from a known ICM; numpy's inverse.
"""

import numpy as np
import pytest
from scipy.linalg import cholesky
from scipy.stats import multivariate_normal
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
from skmtl.gaussian_process._dense import _cholesky_inverse
from skmtl.gaussian_process._mtgp import _sqrt_kappa_search
from skmtl.gaussian_process._task_kernel import (
    KAPPA_FLOOR,
    HyperParameters,
    TaskCovariance,
)


def _icm_long(seed=0, sizes=(40, 30, 25), correlation=-0.95):
    """Three tasks at their own inputs from an ICM with known correlations."""
    rng = np.random.RandomState(seed)
    a = np.array([1.0, correlation, 0.5])
    B = np.outer(a, a) + np.diag([0.0, 1 - correlation**2, 0.75]) + 1e-3
    task = np.repeat(np.arange(3), sizes)
    x = rng.uniform(0, 6, size=len(task))
    covariance = B[np.ix_(task, task)] * RBF(1.0)(x[:, None])
    covariance[np.diag_indices_from(covariance)] += 1e-8
    f = np.linalg.cholesky(covariance) @ rng.randn(len(task))
    y = f + 0.1 * rng.randn(len(task))
    return np.column_stack([task, x]), y, B


def test_amplitude_exchanges_scale_with_task_covariance():
    # The redundancy that lets the optimiser hold the amplitude fixed: c * B
    # is what the likelihood sees (explicit Gaussian density as the oracle).
    X, y, _ = _icm_long(sizes=(6, 5, 4))
    task = X[:, 0].astype(int)
    A = np.array([[1.0], [-0.5], [0.3]])
    kappa = np.array([0.2, 0.1, 0.4])
    densities = []
    for c in (1.0, 4.0):
        B = (A @ A.T + np.diag(kappa)) / c
        covariance = B[np.ix_(task, task)] * (ConstantKernel(c) * RBF(0.7))(X[:, 1:])
        covariance[np.diag_indices_from(covariance)] += 0.05
        densities.append(multivariate_normal(np.zeros(len(y)), covariance).logpdf(y))
    np.testing.assert_allclose(densities[0], densities[1], rtol=1e-12)
    layout = HyperParameters([ConstantKernel() * RBF()], 3, 1, "task")
    assert layout.amplitude_index(0) == 0
    one_task = HyperParameters([ConstantKernel() * RBF()], 1, 1, "task")
    assert one_task.amplitude_index(0) is None
    assert HyperParameters([RBF()], 3, 1, "task").amplitude_index(0) is None


def _wide_missing(seed=0, n=40):
    """Three tasks at shared inputs with 30% of the targets missing."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(0, 6, size=(n, 1))
    latent = np.column_stack([np.sin(X[:, 0]), np.cos(2 * X[:, 0])])
    Y = latent @ rng.randn(2, 3) + 0.1 * rng.randn(n, 3)
    Y[rng.rand(n, 3) < 0.3] = np.nan
    return X, Y


@pytest.mark.parametrize(
    "layout, init, params",
    [
        ("long", "independent", {}),
        ("long", "kernel", {}),
        ("wide_missing", "independent", {"n_latent": 2, "noise": "shared"}),
    ],
)
def test_fit_satisfies_first_order_conditions(layout, init, params):
    kernel = ConstantKernel() * RBF(1.0)
    if layout == "long":
        X, y, _ = _icm_long()
        params = dict(params, task_column=0)
    else:
        X, y = _wide_missing()
    model = MultiTaskGaussianProcessRegressor(
        kernel, rank=1, init=init, random_state=0, **params
    ).fit(X, y)
    assert model.solver_ == "dense"
    _, gradient = model.log_marginal_likelihood(model.theta_, eval_gradient=True)
    bounds = model._layout.optimizer_bounds(model.theta_)
    at_lower = np.isclose(model.theta_, bounds[:, 0], atol=1e-6)
    at_upper = np.isclose(model.theta_, bounds[:, 1], atol=1e-6)
    free = ~(at_lower | at_upper)
    # The LML is about -100 and L-BFGS-B stops at relative change 2e-9:
    # free gradient components below 1e-2 (they are about 1e3 at the start).
    assert np.abs(gradient[free]).max() < 1e-2
    # at a lower bound the likelihood must not increase inwards
    assert np.all(gradient[at_lower & ~at_upper] < 1e-2)
    if init == "kernel":  # the amplitude stayed at the kernel's value
        np.testing.assert_allclose(model.kernel_.k1.constant_value, 1.0)


def test_starts_reach_the_same_optimum():
    X, y, B = _icm_long(seed=1)
    fits = [
        MultiTaskGaussianProcessRegressor(
            task_column=0, rank=1, init=init, random_state=0
        ).fit(X, y)
        for init in ("independent", "kernel")
    ]
    np.testing.assert_allclose(
        fits[0].log_marginal_likelihood_value_,
        fits[1].log_marginal_likelihood_value_,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        fits[0].task_correlation_, fits[1].task_correlation_, atol=1e-3
    )


def test_independent_start_finds_the_task_correlation():
    X, y, B = _icm_long(seed=2)
    model = MultiTaskGaussianProcessRegressor(
        task_column=0, rank=1, optimizer=_start_only, random_state=0
    ).fit(X, y)
    truth = B / np.sqrt(np.outer(np.diag(B), np.diag(B)))
    # 25-40 rows per task: the start gets the strong correlation to 0.1 (the
    # weaker ones vary too much from one draw of the functions to another)
    assert abs(model.task_correlation_[0, 1] - truth[0, 1]) < 0.1


def test_independent_fits_are_bounded_by_start_max_iter(monkeypatch):
    # Each per-task fit of the start stops after START_MAX_ITER iterations;
    # the cap must not stop the multi-task optimiser (same optimum as above).
    from skmtl.gaussian_process import _init

    iterations, minimize = [], _init.scipy.optimize.minimize

    def recording(*args, **kwargs):
        result = minimize(*args, **kwargs)
        iterations.append(result.nit)
        return result

    monkeypatch.setattr(_init, "START_MAX_ITER", 3)
    monkeypatch.setattr(_init.scipy.optimize, "minimize", recording)
    X, y, _ = _icm_long(seed=2)
    MultiTaskGaussianProcessRegressor(
        task_column=0, rank=1, optimizer=_start_only, random_state=0
    ).fit(X, y)
    assert len(iterations) == 3 and max(iterations) <= 3


def _start_only(obj_func, initial_theta, bounds):
    return initial_theta, obj_func(initial_theta, eval_gradient=False)


def test_start_of_exact_rank_task_covariance_is_exact():
    rng = np.random.RandomState(0)
    A = rng.randn(4, 2)
    B0 = A @ A.T
    task_covariance = TaskCovariance(4, rank=2)
    params = task_covariance.initial_from(B0, rng)
    A_start, kappa = task_covariance.unpack(params)
    np.testing.assert_allclose(A_start @ A_start.T, B0, atol=1e-12)
    np.testing.assert_allclose(kappa, KAPPA_FLOOR * np.diag(B0))


def test_sqrt_kappa_search_has_the_same_objective_and_its_gradient():
    def objective(theta):
        value = np.sum(np.sin(theta) * np.arange(1, 5))
        return value, np.cos(theta) * np.arange(1, 5)

    kappa = np.array([1, 3])
    bounds = np.log([[1e-6, 1e5]] * 4)
    to_theta, to_search, search_bounds, search = _sqrt_kappa_search(
        objective, bounds, kappa
    )
    theta = np.array([0.3, -2.0, 0.7, 1.5])
    np.testing.assert_allclose(to_theta(to_search(theta)), theta)
    z = to_search(theta)
    np.testing.assert_allclose(search(z)[0], objective(theta)[0])
    step = 1e-6
    finite = [
        (search(z + step * e)[0] - search(z - step * e)[0]) / (2 * step)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(search(z)[1], finite, rtol=1e-6)
    np.testing.assert_allclose(search_bounds[kappa], [[1e-3, 10**2.5]] * 2)


@pytest.mark.parametrize("size", [7, 128, 300])
def test_cholesky_inverse_equals_numpy_inverse(size):
    # The blocked mirroring of dpotri's triangle, across several blocks.
    rng = np.random.RandomState(size)
    factor = rng.randn(size, size + 5)
    covariance = factor @ factor.T / size + np.eye(size)
    lower = cholesky(covariance, lower=True)
    inverse = _cholesky_inverse(lower)
    np.testing.assert_allclose(inverse, np.linalg.inv(covariance), atol=1e-10)
    assert inverse.flags.c_contiguous
