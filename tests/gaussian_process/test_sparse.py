"""The sparse solver (Titsias's collapsed bound) against independent oracles.

Oracles: the exact log marginal likelihood and predictions of the dense and
Kronecker solvers (equal to the bound when the inducing inputs are the
training inputs), central finite differences, scikit-learn's gradient tensor,
and the textbook single-output formulas written out in numpy.
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    Matern,
    RationalQuadratic,
    WhiteKernel,
)

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor, _mtgp
from skmtl.gaussian_process._sparse_kernels import (
    cross_inducing_gradient,
    cross_theta_gradient,
)


def _long_data(sizes=(12, 9, 6), seed=0):
    rng = np.random.RandomState(seed)
    task = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.uniform(-2, 2, size=(len(task), 2))
    y = (np.sin(2 * x[:, 0]) + np.cos(x.sum(axis=1))) * (1 + task)
    y = y + 0.1 * rng.randn(len(task))
    order = rng.permutation(len(task))
    return np.column_stack([task, x])[order], y[order]


def _wide_data(n=15, n_tasks=3, missing=0.0, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    latent = np.column_stack([np.sin(2 * X[:, 0]), np.cos(X.sum(axis=1))])
    Y = latent @ rng.randn(2, n_tasks) + 0.1 * rng.randn(n, n_tasks)
    Y[rng.rand(n, n_tasks) < missing] = np.nan
    return X, Y


def _data(layout):
    if layout == "long":
        X, y = _long_data()
        return X, y, X[:, 1:], {"task_column": 0}
    if layout == "single":
        X, Y = _wide_data()
        return X, Y[:, 0], X, {}
    X, Y = _wide_data(missing=0.2 if layout == "wide-missing" else 0.0)
    return X, Y, X, {}


def _fitted(solver, X, y, **params):
    params.setdefault("random_state", 0)
    params.setdefault("optimizer", None)
    return MultiTaskGaussianProcessRegressor(solver=solver, **params).fit(X, y)


def _test_theta(model, seed=0):
    """A theta away from the start, with moderate noise variances."""
    rng = np.random.RandomState(seed)
    theta = model.theta_ + 0.3 * rng.randn(len(model.theta_))
    n_noise = 1 if model.noise == "shared" else model.n_tasks_
    theta[-n_noise:] = np.log(0.1) + 0.2 * rng.randn(n_noise)
    return theta


def _central_differences(func, x, step=1e-6):
    gradient = np.empty_like(x)
    for j in range(len(x)):
        shift = np.zeros_like(x)
        shift[j] = step
        gradient[j] = (func(x + shift) - func(x - shift)) / (2 * step)
    return gradient


# --------------------------------------------------------------------------
# the bound equals the exact likelihood with Z = the training inputs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout, exact_solver, params",
    [
        ("long", "dense", {}),
        ("long", "dense", {"rank": 2, "n_latent": 2}),
        ("long", "dense", {"noise": "shared"}),
        ("wide", "kronecker", {"rank": 2}),
        ("wide-missing", "dense", {}),
        ("single", "dense", {}),
    ],
)
def test_bound_equals_exact_lml_with_training_inputs(layout, exact_solver, params):
    X, y, inputs, data_params = _data(layout)
    exact = _fitted(exact_solver, X, y, **data_params, **params)
    sparse = _fitted("sparse", X, y, inducing_points=inputs, **data_params, **params)
    theta = _test_theta(exact)
    lml, gradient = exact.log_marginal_likelihood(theta, eval_gradient=True)
    bound, bound_gradient = sparse.log_marginal_likelihood(theta, eval_gradient=True)
    np.testing.assert_allclose(bound, lml, rtol=1e-6)
    np.testing.assert_allclose(bound_gradient, gradient, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["long", "wide", "wide-missing", "single"])
def test_predictions_equal_exact_with_training_inputs(layout):
    X, y, inputs, data_params = _data(layout)
    exact = _fitted("auto", X, y, **data_params)
    theta = _test_theta(exact)

    def fixed(obj_func, initial_theta, bounds):
        return theta, obj_func(theta, eval_gradient=False)

    exact = _fitted("auto", X, y, optimizer=fixed, **data_params)
    sparse = _fitted(
        "sparse", X, y, optimizer=fixed, inducing_points=inputs, **data_params
    )
    Xq = np.array(X[:7], dtype=float)
    Xq[:, -2:] += 0.05  # the features, not the task column
    mean, std = exact.predict(Xq, return_std=True)
    sparse_mean, sparse_std = sparse.predict(Xq, return_std=True)
    np.testing.assert_allclose(sparse_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse_std, std, rtol=1e-4, atol=1e-5)
    _, cov = exact.predict(Xq, return_cov=True)
    _, sparse_cov = sparse.predict(Xq, return_cov=True)
    np.testing.assert_allclose(sparse_cov, cov, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------
# analytic gradients
# --------------------------------------------------------------------------

KERNELS = [
    ConstantKernel(1.0) * RBF([0.8, 1.5]),
    RBF(0.9) + WhiteKernel(0.05),
    ConstantKernel(0.7) * Matern([0.9, 1.2], nu=1.5),
    Matern(1.1, nu=2.5) * ConstantKernel(1.3),
    RationalQuadratic(0.9, alpha=1.5),
    ConstantKernel(0.5) * Matern(1.0, nu=0.5) + RBF(2.0),
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("optimize_inducing", [False, True])
def test_bound_gradient_equals_finite_differences(kernel, optimize_inducing):
    X, y = _long_data()
    model = _fitted(
        "sparse",
        X,
        y,
        kernel=kernel,
        task_column=0,
        rank=2,
        inducing_points=6,
        optimize_inducing=optimize_inducing,
    )
    theta = _test_theta(model)
    if optimize_inducing:
        # The private evaluation takes the inducing inputs after theta.
        theta = np.concatenate([theta, model.inducing_points_.ravel() + 0.1])

    def bound(values):
        return model._evaluate(model._layout, values, False)

    _, gradient = model._evaluate(model._layout, theta, True)
    assert len(gradient) == len(theta)
    expected = _central_differences(bound, theta)
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["wide", "wide-missing"])
def test_lmc_bound_gradient_on_shared_rows_equals_finite_differences(layout):
    X, y, _, _ = _data(layout)
    model = _fitted(
        "sparse", X, y, n_latent=2, inducing_points=5, optimize_inducing=True
    )
    theta = np.concatenate([_test_theta(model), model.inducing_points_.ravel()])
    _, gradient = model._evaluate(model._layout, theta, True)
    expected = _central_differences(
        lambda values: model._evaluate(model._layout, values, False), theta
    )
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel", [*KERNELS, DotProduct(0.5) + RBF(1.0)])
def test_cross_theta_gradient_equals_sklearn_tensor(kernel):
    rng = np.random.RandomState(0)
    X, Z = rng.randn(9, 2), rng.randn(4, 2)
    P, p_diag = rng.randn(9, 4), rng.randn(9)
    _, tensor = kernel(np.vstack([X, Z]), eval_gradient=True)
    expected = np.tensordot(P, tensor[:9, 9:], axes=([0, 1], [0, 1]))
    expected += p_diag @ tensor[np.arange(9), np.arange(9)]
    gradient = cross_theta_gradient(kernel, X, Z, P, p_diag)
    np.testing.assert_allclose(gradient, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("kernel", KERNELS)
def test_cross_inducing_gradient_equals_finite_differences(kernel):
    rng = np.random.RandomState(1)
    X, Z, P = rng.randn(8, 2), rng.randn(3, 2), rng.randn(8, 3)
    gradient = cross_inducing_gradient(kernel, X, Z, P)
    expected = _central_differences(
        lambda z: np.sum(P * kernel(X, z.reshape(Z.shape))), Z.ravel()
    )
    np.testing.assert_allclose(gradient.ravel(), expected, rtol=1e-6, atol=1e-8)


def test_optimize_inducing_refuses_kernel_without_inducing_gradient():
    X, y = _long_data()
    model = MultiTaskGaussianProcessRegressor(
        DotProduct(1.0) + RBF(1.0),
        task_column=0,
        solver="sparse",
        inducing_points=5,
        optimize_inducing=True,
    )
    with pytest.raises(ValueError, match="optimize_inducing=True needs the gradient"):
        model.fit(X, y)


# --------------------------------------------------------------------------
# the bound is a lower bound that tightens with M
# --------------------------------------------------------------------------


def test_bound_below_exact_lml_and_increasing_in_nested_inducing_sets():
    X, y = _long_data(sizes=(20, 15, 10))
    exact = _fitted("dense", X, y, task_column=0, rank=2)
    theta = _test_theta(exact)
    lml = exact.log_marginal_likelihood(theta)
    inputs = X[:, 1:]
    order = np.random.RandomState(0).permutation(len(inputs))
    bounds = []
    for m in (2, 5, 10, 20, 30, 45):
        sparse = _fitted(
            "sparse", X, y, task_column=0, rank=2, inducing_points=inputs[order[:m]]
        )
        bounds.append(sparse.log_marginal_likelihood(theta))
    assert np.all(np.array(bounds) <= lml + 1e-6)
    assert np.all(np.diff(bounds) >= -1e-6)
    np.testing.assert_allclose(bounds[-1], lml, rtol=1e-6)
    assert bounds[0] < lml - 1.0  # a bound that can be loose, not a copy


# --------------------------------------------------------------------------
# one task: the textbook sparse GP
# --------------------------------------------------------------------------


def test_single_task_equals_textbook_titsias_formulas():
    rng = np.random.RandomState(3)
    X = rng.uniform(-3, 3, size=(40, 1))
    y = np.sin(2 * X[:, 0]) + 0.2 * rng.randn(40)
    Z = np.linspace(-3, 3, 6)[:, None]
    model = MultiTaskGaussianProcessRegressor(
        ConstantKernel(1.0) * RBF(1.0),
        solver="sparse",
        inducing_points=Z,
        normalize_y=False,
        random_state=0,
    ).fit(X, y)
    kernel = model.kernel_
    noise = model.noise_variance_[0] + model.alpha
    # Titsias (2009), eq. 9 and the predictive of section 3.
    Kuu = kernel(Z) + 1e-8 * np.mean(kernel.diag(Z)) * np.eye(len(Z))
    Kuf = kernel(Z, X)
    Qff = Kuf.T @ np.linalg.solve(Kuu, Kuf)
    bound = multivariate_normal(np.zeros(40), Qff + noise * np.eye(40)).logpdf(y)
    bound -= np.trace(kernel(X) - Qff) / (2 * noise)
    np.testing.assert_allclose(model.log_marginal_likelihood_value_, bound, rtol=1e-8)
    Xq = np.array([[-1.0], [0.3], [2.5]])
    Kus = kernel(Z, Xq)
    Sigma = np.linalg.inv(Kuu + Kuf @ Kuf.T / noise)
    mean = Kus.T @ Sigma @ Kuf @ y / noise
    cov = kernel(Xq) - Kus.T @ np.linalg.solve(Kuu, Kus) + Kus.T @ Sigma @ Kus
    predicted, predicted_cov = model.predict(Xq, return_cov=True)
    np.testing.assert_allclose(predicted, mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(predicted_cov, cov, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------
# the estimator: solver choice, inducing inputs, errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout, expected",
    [("long", "sparse"), ("wide", "sparse"), ("wide-missing", "sparse")],
)
def test_auto_picks_sparse_above_the_exact_size(monkeypatch, layout, expected):
    X, y, _, data_params = _data(layout)
    monkeypatch.setattr(_mtgp, "EXACT_MAX_SIZE", 10)
    model = _fitted("auto", X, y, inducing_points=4, **data_params)
    assert model.solver_ == expected
    assert model.inducing_points_.shape == (4, 2)


@pytest.mark.parametrize(
    "layout, expected",
    [("long", "dense"), ("wide", "kronecker"), ("wide-missing", "dense")],
)
def test_auto_picks_exact_solvers_up_to_the_exact_size(monkeypatch, layout, expected):
    X, y, _, data_params = _data(layout)
    # 15 rows, 45 observations: Kronecker factorises 15 x 15, dense 45 x 45.
    monkeypatch.setattr(_mtgp, "EXACT_MAX_SIZE", 45 if expected == "dense" else 15)
    assert _fitted("auto", X, y, **data_params).solver_ == expected


def test_integer_inducing_points_are_distinct_training_inputs_and_reproducible():
    X, y = _long_data()
    first = _fitted("sparse", X, y, task_column=0, inducing_points=8)
    second = _fitted("sparse", X, y, task_column=0, inducing_points=8)
    Z = first.inducing_points_
    assert Z.shape == (8, 2)
    assert len(np.unique(Z, axis=0)) == 8
    assert all((X[:, 1:] == z).all(axis=1).any() for z in Z)
    np.testing.assert_array_equal(Z, second.inducing_points_)
    everything = _fitted("sparse", X, y, task_column=0, inducing_points=1000)
    assert everything.inducing_points_.shape == (len(X), 2)


def test_optimised_inducing_points_raise_the_bound():
    X, y = _long_data(sizes=(25, 20, 15))
    params = dict(task_column=0, inducing_points=4, optimizer="fmin_l_bfgs_b")
    fixed = _fitted("sparse", X, y, **params)
    moved = _fitted("sparse", X, y, optimize_inducing=True, **params)
    assert not np.allclose(moved.inducing_points_, fixed.inducing_points_)
    assert moved.log_marginal_likelihood_value_ > fixed.log_marginal_likelihood_value_
    # The reported value is the bound at the fitted theta and inducing inputs.
    np.testing.assert_allclose(
        moved.log_marginal_likelihood(moved.theta_),
        moved.log_marginal_likelihood_value_,
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "inducing_points, match",
    [
        (np.zeros((3, 5)), r"shape \(n_inducing, 2\).*got an array of shape \(3, 5\)"),
        (np.zeros(3), r"got an array of shape \(3,\)"),
        (np.full((3, 2), np.nan), "NaN or infinite"),
    ],
)
def test_invalid_inducing_points(inducing_points, match):
    X, y = _long_data()
    model = MultiTaskGaussianProcessRegressor(
        task_column=0, solver="sparse", inducing_points=inducing_points
    )
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


def test_flush_subnormal_zeroes_only_subnormal_entries():
    # Entries whose products would be subnormal (10-30x slower) become 0.
    from skmtl.gaussian_process._sparse_kernels import flush_subnormal

    values = np.array([1e-310, -1e-200, 3e-140, 1.0, 0.0, -2.5e-100])
    flushed = flush_subnormal(values.copy())
    np.testing.assert_array_equal(flushed, [0.0, 0.0, 3e-140, 1.0, 0.0, -2.5e-100])
