"""Transfer of the multi-task GP to new tasks, against a joint GP in numpy.

The oracle is the textbook dense GP (Rasmussen & Williams 2006, eq. 2.25,
2.26 and 2.30) over the source observations and the new tasks' rows, with
the task covariance ``B_q`` extended by the new tasks' rows. It is written
here from the fitted ``theta_`` and kernels, without the package's solvers.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.exceptions import ConvergenceWarning

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor, _transfer
from skmtl.gaussian_process._transfer import NewTaskProblem, source_view

SHIFTS = np.array([2.0, 0.0, -1.0])
SCALES = np.array([1.0, -0.8, 1.5])


def _source(n_rows=12, seed=0):
    rng = np.random.RandomState(seed)
    task = np.repeat(np.arange(3), n_rows)
    x = rng.uniform(0, 5, size=len(task))
    y = SCALES[task] * np.sin(x) + SHIFTS[task] + 0.1 * rng.randn(len(task))
    return np.column_stack([task, x]), y


def _new(labels, n_rows, scale=1.2, shift=1.0, seed=1):
    rng = np.random.RandomState(seed)
    task = np.repeat(labels, n_rows)
    x = rng.uniform(0, 5, size=len(task))
    y = scale * np.sin(x) + shift + 0.1 * rng.randn(len(task))
    return np.column_stack([task, x]), y


def _fit(X, y, **params):
    params = {"task_column": 0, "random_state": 0, "optimizer": None, **params}
    return MultiTaskGaussianProcessRegressor(**params).fit(X, y)


# --------------------------------------------------------------------------
# the independent oracle
# --------------------------------------------------------------------------


class JointGP:
    """The dense GP of the source rows and new tasks, from ``theta_``."""

    def __init__(self, gp, X, y, loadings, kappa):
        kernels = gp.kernels_
        theta, position = gp.theta_, sum(k.n_dims for k in kernels)
        tasks, n_source, rank = X[:, 0].astype(int), 3, gp.rank_
        self.B = []
        for q in range(len(kernels)):
            A = theta[position : position + n_source * rank].reshape(n_source, rank)
            position += n_source * rank
            own = np.exp(theta[position : position + n_source])
            position += n_source
            A = np.vstack([A, loadings[q]])
            self.B.append(A @ A.T + np.diag(np.concatenate([own, kappa[q]])))
        noise = np.broadcast_to(np.exp(theta[position:]), (n_source,))
        self.noise = noise + gp.alpha
        means = np.array([y[tasks == t].mean() for t in range(n_source)])
        stds = np.array([y[tasks == t].std() for t in range(n_source)])
        self.means, self.stds = means, stds
        self.mean, self.scale = means.mean(), stds.mean()
        self.offset = np.var(means, ddof=1) / self.scale**2
        self.kernels, self.n_source = kernels, n_source
        self.X, self.tasks = X[:, 1:], tasks
        self.y = (y - means[tasks]) / stds[tasks]

    def cov(self, Xa, ta, Xb, tb):
        cov = sum(B[np.ix_(ta, tb)] * k(Xa, Xb) for B, k in zip(self.B, self.kernels))
        new = (ta[:, None] == tb[None, :]) & (ta[:, None] >= self.n_source)
        return cov + self.offset * new

    def observed(self, X_new, t_new, y_new, noise_new):
        """Features, tasks, normalised targets and noise of all observations."""
        X = np.vstack([self.X, X_new])
        t = np.concatenate([self.tasks, t_new])
        y = np.concatenate([self.y, (y_new - self.mean) / self.scale])
        noise = np.concatenate([self.noise[self.tasks], noise_new])
        return X, t, y, noise

    def log_likelihood(self, X, t, y, noise):
        C = self.cov(X, t, X, t) + np.diag(noise)
        _, logdet = np.linalg.slogdet(C)
        return -0.5 * (y @ np.linalg.solve(C, y) + logdet + len(y) * np.log(2 * np.pi))

    def posterior(self, X, t, y, noise, Xq, tq):
        C = self.cov(X, t, X, t) + np.diag(noise)
        cross = self.cov(Xq, tq, X, t)
        mean = cross @ np.linalg.solve(C, y)
        cov = self.cov(Xq, tq, Xq, tq) - cross @ np.linalg.solve(C, cross.T)
        units = np.where(tq < self.n_source, self.stds[np.minimum(tq, 2)], self.scale)
        location = np.where(tq < self.n_source, self.means[np.minimum(tq, 2)], 0.0)
        location = location + (tq >= self.n_source) * self.mean
        return mean * units + location, cov * np.outer(units, units)


def _oracle(gp, X, y):
    """The joint GP with the fitted rows of ``gp``'s new tasks."""
    loadings = getattr(gp, "new_task_loadings_", np.zeros((len(gp.kernels_), 0, 1)))
    kappa = getattr(gp, "new_task_kappa_", np.zeros((len(gp.kernels_), 0)))
    return JointGP(gp, X, y, loadings, kappa)


def _new_noise(gp, oracle):
    """Observation variance of the new tasks in the units of the average task."""
    return gp.new_noise_variance_ / oracle.scale**2 + gp.alpha


# --------------------------------------------------------------------------
# the conditional likelihood and its gradient
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"rank": 2},
        {"n_latent": 2, "noise": "shared"},
    ],
)
def test_conditional_likelihood_equals_joint_minus_source(params):
    X, y = _source()
    gp = _fit(X, y, **params)
    X_new, y_new = _new([7], 5)
    gp.fit_new_tasks(X_new, y_new)
    oracle = _oracle(gp, X, y)
    t_new = np.full(5, 3)
    observed = oracle.observed(
        X_new[:, 1:], t_new, y_new, _new_noise(gp, oracle)[t_new - 3]
    )
    source = oracle.X, oracle.tasks, oracle.y, oracle.noise[oracle.tasks]
    expected = oracle.log_likelihood(*observed) - oracle.log_likelihood(*source)
    np.testing.assert_allclose(gp.new_log_marginal_likelihood_, [expected], rtol=1e-8)
    if params.get("noise") == "shared":
        # The shared noise, in the units of the average task.
        shared = np.exp(gp.theta_[-1]) * oracle.scale**2
        np.testing.assert_allclose(gp.new_noise_variance_, [shared], rtol=1e-12)


@pytest.mark.parametrize("params", [{"rank": 2}, {"n_latent": 2}])
def test_gradient_matches_finite_differences(params):
    X, y = _source()
    gp = _fit(X, y, **params)
    X_new, y_new = _new([7], 4)
    view = source_view(gp)
    problem = NewTaskProblem(view, X_new[:, 1:], (y_new - view.mean) / view.scale)
    rng = np.random.RandomState(0)
    point = np.concatenate(
        [rng.randn(view.n_pseudo), rng.uniform(-2, 0, view.n_latent), [-1.5]]
    )
    _, gradient = problem.log_likelihood(point, eval_gradient=True)
    numerical = approx_fprime(point, problem.log_likelihood, 1e-6)
    np.testing.assert_allclose(gradient, numerical, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# predictions against the joint posterior
# --------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{"rank": 1}, {"n_latent": 2, "rank": 2}])
def test_new_task_predictions_equal_joint_posterior(params):
    X, y = _source()
    gp = _fit(X, y, **params)
    X_new, y_new = _new(["a", "b"], 4)
    X_new = X_new.astype(object)
    X_new[:4, 0], X_new[4:, 0] = 10, 11
    gp.fit_new_tasks(X_new, y_new)
    oracle = _oracle(gp, X, y)
    x_query = np.linspace(0, 5, 6)[:, None]
    noise = _new_noise(gp, oracle)
    for j, label in enumerate([10, 11]):
        # Each new task given the source rows and its own rows only.
        mine = slice(4 * j, 4 * j + 4)
        t_rows = np.full(4, 3 + j)
        observed = oracle.observed(
            X_new[mine, 1:].astype(float), t_rows, y_new[mine], np.full(4, noise[j])
        )
        mean, cov = oracle.posterior(*observed, x_query, np.full(6, 3 + j))
        query = np.column_stack([np.full(6, label), x_query])
        got_mean, got_std = gp.predict(query, return_std=True)
        np.testing.assert_allclose(got_mean, mean, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got_std, np.sqrt(np.diag(cov)), rtol=1e-7)
        _, got_cov = gp.predict(query, return_cov=True)
        np.testing.assert_allclose(got_cov, cov, rtol=1e-7, atol=1e-10)


def test_covariance_between_new_and_source_tasks_is_the_pathwise_update():
    # cov(f_s, f_n - G y_n) under the source posterior, G = Cov(f_n, y_n) S^-1.
    X, y = _source()
    gp = _fit(X, y)
    X_new, y_new = _new([7], 4)
    gp.fit_new_tasks(X_new, y_new)
    oracle = _oracle(gp, X, y)
    source = oracle.X, oracle.tasks, oracle.y, oracle.noise[oracle.tasks]
    x = np.array([[1.0], [2.5]])
    pairs_x = np.vstack([x, x, X_new[:, 1:]])
    pairs_t = np.array([0, 0, 3, 3, 3, 3, 3, 3])
    _, cov_s = oracle.posterior(*source, pairs_x, pairs_t)
    cov_s /= np.outer(*[np.r_[oracle.stds[[0, 0]], np.full(6, oracle.scale)]] * 2)
    noise = np.diag(np.full(4, _new_noise(gp, oracle)[0]))
    gain = cov_s[2:4, 4:] @ np.linalg.inv(cov_s[4:, 4:] + noise)
    expected = cov_s[:2, 2:4] - cov_s[:2, 4:] @ gain.T
    query = np.column_stack([[0, 0, 7, 7], np.r_[x[:, 0], x[:, 0]]])
    _, got = gp.predict(query, return_cov=True)
    units = np.outer(oracle.stds[[0, 0]], np.full(2, oracle.scale))
    np.testing.assert_allclose(got[:2, 2:], expected * units, rtol=1e-7, atol=1e-12)
    assert np.linalg.eigvalsh(got).min() > -1e-10
    samples = gp.sample_y(query, n_samples=3)
    assert samples.shape == (4, 3) and np.isfinite(samples).all()


def test_unknown_task_shared_is_the_average_task():
    X, y = _source()
    gp = _fit(X, y, rank=2, unknown_task="shared")
    A = gp.theta_[gp.kernels_[0].n_dims :][:6].reshape(3, 2)
    own = np.exp(gp.theta_[gp.kernels_[0].n_dims + 6 :][:3])
    oracle = JointGP(gp, X, y, [A.mean(axis=0)[None]], [[own.mean()]])
    source = oracle.X, oracle.tasks, oracle.y, oracle.noise[oracle.tasks]
    x_query = np.linspace(0, 5, 5)[:, None]
    mean, cov = oracle.posterior(*source, x_query, np.full(5, 3))
    query = np.column_stack([np.full(5, 42), x_query])
    got_mean, got_std = gp.predict(query, return_std=True)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got_std, np.sqrt(np.diag(cov)), rtol=1e-8)
    _, got_cov = gp.predict(query, return_cov=True)
    np.testing.assert_allclose(got_cov, cov, rtol=1e-7, atol=1e-10)
    # Two unknown labels are two average tasks: the same marginal, and
    # correlated only through the shared processes (not the own part).
    two = np.column_stack([[42, 43], [1.0, 1.0]])
    _, cov_two = gp.predict(two, return_cov=True)
    assert cov_two[0, 0] == pytest.approx(cov_two[1, 1], rel=1e-10)
    assert 0 < cov_two[0, 1] < cov_two[0, 0]
    # Known tasks keep their own predictions.
    np.testing.assert_array_equal(gp.predict(X[:3]), _fit(X, y, rank=2).predict(X[:3]))


def test_unknown_task_error_names_the_option():
    X, y = _source()
    gp = _fit(X, y)
    with pytest.raises(
        ValueError, match=r"\[42\.0\].*not seen.*unknown_task parameter.*fit_new_tasks"
    ):
        gp.predict(np.array([[42, 1.0]]))


# --------------------------------------------------------------------------
# the estimated row, on data with an answer
# --------------------------------------------------------------------------


def test_copy_of_a_source_task_is_found():
    X, y = _source(n_rows=25)
    gp = MultiTaskGaussianProcessRegressor(task_column=0, random_state=0).fit(X, y)
    rng = np.random.RandomState(5)
    x = rng.uniform(0, 5, size=40)
    y_copy = SCALES[2] * np.sin(x) + SHIFTS[2] + 0.1 * rng.randn(40)
    gp.fit_new_tasks(np.column_stack([np.full(40, 9), x]), y_copy)
    assert gp.new_task_correlation_[0, 2] > 0.99
    assert gp.new_task_correlation_[0, 1] < -0.99
    grid = np.linspace(0.5, 4.5, 9)
    copy_pred = gp.predict(np.column_stack([np.full(9, 9), grid]))
    source_pred = gp.predict(np.column_stack([np.full(9, 2), grid]))
    np.testing.assert_allclose(copy_pred, source_pred, atol=0.1)
    # The truth is 1.5 sin(x) - 1; the average task (shift 1/3) is far off.
    np.testing.assert_allclose(copy_pred, 1.5 * np.sin(grid) - 1, atol=0.15)


def test_few_rows_move_from_the_average_task_towards_the_data():
    X, y = _source(n_rows=25)
    gp = MultiTaskGaussianProcessRegressor(
        task_column=0, random_state=0, unknown_task="shared"
    ).fit(X, y)
    grid = np.column_stack([np.full(9, 9), np.linspace(0.5, 4.5, 9)])
    truth = SCALES[2] * np.sin(grid[:, 1]) + SHIFTS[2]
    errors = [np.abs(gp.predict(grid) - truth).mean()]
    for k in (1, 3, 10):
        x = np.linspace(0.3, 4.7, k)
        y_new = SCALES[2] * np.sin(x) + SHIFTS[2]
        gp.fit_new_tasks(np.column_stack([np.full(k, 9), x]), y_new)
        errors.append(np.abs(gp.predict(grid) - truth).mean())
    assert errors[-1] < 0.1 < errors[0]
    assert errors[2] < errors[0]


# --------------------------------------------------------------------------
# contract: errors, replacement, source left alone, solvers
# --------------------------------------------------------------------------


def test_errors():
    X, y = _source()
    gp = _fit(X, y)
    with pytest.raises(ValueError, match=r"\[0\.0, 1\.0, 2\.0\].*seen during fit"):
        gp.fit_new_tasks(*_source())
    X_new, y_new = _new([7], 3)
    with pytest.raises(ValueError, match="features"):
        gp.fit_new_tasks(np.column_stack([X_new, X_new[:, 1]]), y_new)
    with pytest.raises(TypeError, match="sample weights"):
        gp.fit_new_tasks(X_new, y_new, sample_weight=np.ones(3))
    wide = MultiTaskGaussianProcessRegressor(optimizer=None, random_state=0)
    wide.fit(np.linspace(0, 1, 6)[:, None], np.ones((6, 2)) + np.eye(6, 2))
    with pytest.raises(ValueError, match="long format.*wide format"):
        wide.fit_new_tasks(X_new, y_new)
    assert not hasattr(gp, "new_tasks_")


def test_second_call_replaces_and_sources_stay():
    X, y = _source()
    gp = _fit(X, y)
    before = copy.deepcopy(gp)
    gp.fit_new_tasks(*_new(["a", "b"], 4))
    X_c, y_c = _new(["c"], 5, shift=-2.0)
    gp.fit_new_tasks(X_c, y_c)
    assert list(gp.new_tasks_) == ["c"] and gp.new_task_covariance_.shape == (1, 4)
    fresh = copy.deepcopy(before).fit_new_tasks(X_c, y_c)
    np.testing.assert_array_equal(gp.predict(X_c), fresh.predict(X_c))
    for name in ("theta_", "task_covariance_", "task_correlation_", "noise_variance_"):
        np.testing.assert_array_equal(getattr(gp, name), getattr(before, name))
    np.testing.assert_array_equal(gp.predict(X), before.predict(X))
    with pytest.raises(ValueError, match=r"\['a'\].*not seen"):
        gp.predict(_new(["a"], 2)[0])
    restored = pickle.loads(pickle.dumps(gp))
    np.testing.assert_array_equal(restored.predict(X_c), gp.predict(X_c))
    # fit forgets the new tasks.
    gp.fit(X, y)
    assert not hasattr(gp, "new_tasks_") and not hasattr(gp, "new_task_covariance_")
    with pytest.raises(ValueError, match=r"\['c'\].*not seen"):
        gp.predict(X_c)


def test_sparse_solver_with_all_inputs_equals_the_joint_gp():
    # With the inducing inputs at every training input the bound is exact.
    X, y = _source()
    gp = _fit(X, y, solver="sparse", inducing_points=X[:, 1:].copy())
    X_new, y_new = _new([7], 4)
    gp.fit_new_tasks(X_new, y_new)
    oracle = _oracle(gp, X, y)
    t_new = np.full(4, 3)
    observed = oracle.observed(
        X_new[:, 1:], t_new, y_new, _new_noise(gp, oracle)[[0] * 4]
    )
    source = oracle.X, oracle.tasks, oracle.y, oracle.noise[oracle.tasks]
    expected = oracle.log_likelihood(*observed) - oracle.log_likelihood(*source)
    np.testing.assert_allclose(gp.new_log_marginal_likelihood_, [expected], rtol=1e-5)
    x_query = np.linspace(0, 5, 5)[:, None]
    mean, cov = oracle.posterior(*observed, x_query, np.full(5, 3))
    got_mean, got_std = gp.predict(
        np.column_stack([np.full(5, 7), x_query]), return_std=True
    )
    np.testing.assert_allclose(got_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_std, np.sqrt(np.diag(cov)), rtol=1e-4, atol=1e-6)


def test_sparse_and_dense_agree_on_a_real_fit():
    X, y = _source(n_rows=20)
    X_new, y_new = _new([7], 5)
    fits = {}
    for solver in ("dense", "sparse"):
        gp = MultiTaskGaussianProcessRegressor(
            task_column=0, random_state=0, solver=solver, inducing_points=30
        ).fit(X, y)
        fits[solver] = gp.fit_new_tasks(X_new, y_new).predict(X_new)
    np.testing.assert_allclose(fits["sparse"], fits["dense"], atol=1e-3)


def test_one_row_and_one_source_task():
    X, y = _source()
    one = X[:, 0] == 0
    gp = _fit(X[one], y[one], unknown_task="shared")
    X_new, y_new = _new([7], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit_new_tasks(X_new, y_new)
    mean, std = gp.predict(X_new, return_std=True)
    assert np.isfinite(mean).all() and np.isfinite(std).all()
    assert gp.new_task_covariance_.shape == (1, 2)


def test_iterations_are_bounded_and_a_miss_is_reported(monkeypatch):
    X, y = _source()
    gp = _fit(X, y)
    monkeypatch.setattr(_transfer, "MAX_ITER", 1)
    with pytest.warns(ConvergenceWarning, match="did not converge for a new task"):
        gp.fit_new_tasks(*_new([7], 6))
    assert np.isfinite(gp.predict(_new([7], 2)[0])).all()


def test_new_task_loadings_are_the_posterior_mode():
    # Oracle: the prior written here from the source rows of A (theta_), the
    # conditional likelihood by finite differences; kappa and noise are the
    # average task's.
    X, y = _source()
    gp = _fit(X, y, rank=1)
    X_new, y_new = _new([7], 4)
    gp.fit_new_tasks(X_new, y_new)
    position = gp.kernels_[0].n_dims
    A = gp.theta_[position : position + 3]
    view = source_view(gp)
    _, kappa, noise = view.average_task()
    np.testing.assert_allclose(gp.new_task_kappa_[:, 0], kappa, rtol=1e-10)
    problem = NewTaskProblem(view, X_new[:, 1:], (y_new - view.mean) / view.scale)
    variance = np.maximum(A.var(), 1e-3 * A.var())

    def log_posterior(a):
        params = problem.pack(a, kappa, noise)
        return (
            problem.log_likelihood(params)
            - 0.5 * np.sum((a - A.mean()) ** 2) / variance
        )

    loadings = gp.new_task_loadings_[0, 0]
    gradient = approx_fprime(loadings, log_posterior, 1e-6)
    assert np.max(np.abs(gradient)) < 1e-3
    # A maximum, not a saddle: moving either way lowers it.
    assert log_posterior(loadings) >= max(
        log_posterior(loadings + 1e-2), log_posterior(loadings - 1e-2)
    )
    # Without the prior's spread (one source task): the source's loadings.
    one = X[:, 0] == 0
    single = _fit(X[one], y[one])
    single.fit_new_tasks(X_new, y_new)
    np.testing.assert_allclose(
        single.new_task_loadings_[:, 0], single.coregionalization_[:, 0], rtol=1e-12
    )
