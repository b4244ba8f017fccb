"""Transfer of a fitted multi-task GP to tasks it was not fitted on.

The source model writes every task as

    f_t = sum_q sum_r A_q[t, r] u_qr + sum_q sqrt(kappa_q[t]) v_qt,

with independent processes ``u_qr`` (shared by all tasks) and ``v_qt`` (task
``t``'s own), all with kernel ``k_q``. A task the model was not fitted on,
with loadings ``a_q`` (a row of ``A_q``) and own variances ``kappa_q``, is

    g(x) = sum_q a_q . u_q(x) + sum_q sqrt(kappa_q) w_q(x) + c,

in the units of an average source task: ``y = m_bar + sd_bar g(x) + e``,
``m_bar`` and ``sd_bar`` the means of the source tasks' target means and
standard deviations (0 and 1 without ``normalize_y``). The ``w_q`` are its own
processes and ``c ~ N(0, tau^2)`` is its offset from ``m_bar``, with
``tau^2`` the sample variance of the source tasks' means (in units of
``sd_bar^2``; 0 with one source task): the source model removed every task's
mean, a new task's mean is unknown.

Given the source data ``y_S`` the shared processes have the solver's
posterior, and the other terms of ``g`` are independent of ``y_S``. Every
quantity about new tasks is therefore a linear combination of the posterior
moments of the shared processes (computed by the source posterior, extended
with the ``u_qr`` as *pseudo-tasks* without observations), plus prior terms:

- the **average task** (``unknown_task="shared"``): ``a_q`` the mean of the
  rows of ``A_q``, ``kappa_q`` the mean of ``kappa_q``;
- a **new task** fitted by ``fit_new_tasks``: its ``a_q`` maximise
  ``log p(y_n | y_S)``, the likelihood of its rows given the source data,
  plus a Gaussian prior from the source tasks' rows; its ``kappa_q`` and
  noise are the average task's; everything else is fixed. Each new task is
  conditioned on the source data and its own rows only: new tasks are
  independent of each other given the source tasks, and they leave the
  source tasks' posterior unchanged.

Predictions of a new task use the pathwise form of the update,
``f_n - Cov_S(f_n, y_n) Sigma_n^{-1} (y_n - E_S[y_n])``, whose joint
covariance with the source tasks and the other new tasks is well defined
(and positive semi-definite), and whose marginal is the exact posterior
``p(f_n | y_S, y_n)``.
"""

import copy
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from sklearn.exceptions import ConvergenceWarning

from ._finite import check_feature_magnitudes, check_target_magnitudes
from ._sparse import TaskStructure
from ._task_kernel import KAPPA_BOUNDS, NOISE_BOUNDS

#: Largest number of L-BFGS-B iterations for the parameters of one new task.
MAX_ITER = 200
#: Query pairs per block when predicting new tasks, to bound memory.
_BLOCK_PAIRS = 256


# --------------------------------------------------------------------------
# the source posterior of the shared processes
# --------------------------------------------------------------------------


class SourceView:
    """The source posterior, extended with the shared processes as pseudo-tasks.

    Parameters
    ----------
    estimator : MultiTaskGaussianProcessRegressor
        Fitted (dense or sparse solver).

    Attributes
    ----------
    posterior : DensePosterior or SparsePosterior
        Handles the source tasks ``0..n_source - 1`` and the pseudo-tasks
        ``n_source + q * rank + r`` (the process ``u_qr``).
    structure : TaskStructure
        The source ``A_q`` and ``kappa_q``.
    kernels : list of sklearn kernels
    mean, scale : float
        ``m_bar`` and ``sd_bar``.
    offset_variance : float
        ``tau^2``, in units of ``sd_bar^2``.
    """

    def __init__(self, estimator):
        self.source = estimator._posterior
        self.n_source = len(estimator._y_train_mean)
        self.structure = estimator._task_structure(estimator._layout, estimator.theta_)
        self.kernels = estimator.kernels_
        self.rank = self.structure.A[0].shape[1]
        self.n_latent = len(self.kernels)
        self.n_pseudo = self.n_latent * self.rank
        self.alpha = estimator.alpha
        self.noise = estimator._layout.noise_variance(estimator.theta_)
        means = estimator._y_train_mean
        self.mean = float(np.mean(means))
        self.scale = float(np.mean(estimator._y_train_std))
        spread = np.var(means, ddof=1) if len(means) > 1 else 0.0
        self.offset_variance = float(spread / self.scale**2)
        self.posterior = self._extend(estimator)

    def _pseudo_rows(self, q):
        """Rows of ``A_q`` for the pseudo-tasks: ``e_r`` for ``u_qr``, else 0."""
        rows = np.zeros((self.n_pseudo, self.rank))
        rows[q * self.rank : (q + 1) * self.rank] = np.eye(self.rank)
        return rows

    def _extended_structure(self):
        A = [
            np.vstack([A_q, self._pseudo_rows(q)])
            for q, A_q in enumerate(self.structure.A)
        ]
        kappa = [
            np.concatenate([k, np.zeros(self.n_pseudo)]) for k in self.structure.kappa
        ]
        return TaskStructure(A, kappa, self.structure.has_task_part)

    def _extend(self, estimator):
        extended = self._extended_structure()
        posterior = copy.copy(self.source)
        if estimator.solver_ == "sparse":
            # A pseudo-task has no observations and no own part (kappa = 0):
            # its features are those of the shared inducing values only, and
            # the source blocks of the optimal q(u) are unchanged.
            n_shared = len(self.source.m_S)
            posterior.structure = extended
            posterior.E_factors = [*self.source.E_factors] + [None] * self.n_pseudo
            posterior.H = [*self.source.H] + [np.zeros((0, n_shared))] * self.n_pseudo
            posterior.m_tasks = [*self.source.m_tasks] + [np.zeros(0)] * self.n_pseudo
            return posterior
        # Dense: the Cholesky factor and C^{-1} y are those of the source
        # observations; only the covariances of the queries with them change.
        posterior.task_covariances = [extended.B(q) for q in range(self.n_latent)]
        return posterior

    def average_task(self):
        """Loadings, ``kappa`` and noise of the average task.

        The loadings ``(n_pseudo,)`` are the mean rows of the ``A_q``, the
        ``kappa`` ``(n_latent,)`` and the noise the means of the source ones.
        """
        loadings = np.concatenate([A_q.mean(axis=0) for A_q in self.structure.A])
        if self.structure.has_task_part:
            kappa = np.array([k.mean() for k in self.structure.kappa])
        else:
            kappa = np.zeros(self.n_latent)
        return loadings, kappa, float(self.noise.mean())

    def loading_prior(self):
        """Mean and variance of the source tasks' loadings, coordinate-wise.

        The rows of the ``A_q`` of the source tasks are draws from the prior
        of a new task's row: their mean (the average task's loadings) and
        their variance (floored at 1e-3 times the mean variance, so that a
        coordinate in which the source tasks agree is held, not pinned).
        """
        rows = np.hstack(self.structure.A)
        variance = rows.var(axis=0) if len(rows) > 1 else np.zeros(rows.shape[1])
        return rows.mean(axis=0), np.maximum(variance, 1e-3 * variance.mean())

    def source_row(self, t):
        """Loadings, ``kappa`` and noise of source task ``t``."""
        loadings = np.concatenate([A_q[t] for A_q in self.structure.A])
        kappa = np.array([k[t] for k in self.structure.kappa])
        return loadings, kappa, float(self.noise[t])

    def pseudo_moments(self, X):
        """Posterior moments of the shared processes ``u_p`` at ``X``.

        Returns the mean ``(k, P)`` and the covariance ``(k, P, k, P)``.
        """
        n_rows = X.shape[0]
        rows = np.repeat(np.arange(n_rows), self.n_pseudo)
        tasks = np.tile(self.n_source + np.arange(self.n_pseudo), n_rows)
        mean, _ = self.posterior.mean_and_variance(
            X, rows, tasks, return_variance=False
        )
        covariance = self.posterior.covariance(X, rows, tasks)
        shape = (n_rows, self.n_pseudo)
        return mean.reshape(shape), covariance.reshape(shape + shape)

    def own_kernels(self, X):
        """``k_q(X, X)`` of every latent process, ``(n_latent, k, k)``."""
        return np.stack([kernel(X) for kernel in self.kernels])


def source_view(estimator):
    """The estimator's :class:`SourceView`, built once per fit."""
    view = getattr(estimator, "_source_view", None)
    if view is None or view.source is not estimator._posterior:
        view = SourceView(estimator)
        estimator._source_view = view
    return view


# --------------------------------------------------------------------------
# the conditional likelihood of a new task
# --------------------------------------------------------------------------


class NewTaskProblem:
    """``log p(y_n | y_S)`` as a function of one new task's parameters.

    Parameters
    ----------
    view : SourceView
    X : ndarray of shape (k, n_features)
        The new task's rows.
    y : ndarray of shape (k,)
        Its targets in the units of the average task, ``(y - m_bar) / sd_bar``.
    shared_noise : float or None
        The noise variance held fixed (``noise="shared"``), else None (the
        noise is a parameter).

    Notes
    -----
    With ``M[i, p] = E_S[u_p(x_i)]``, ``C[i, p, j, p'] = Cov_S(u_p(x_i),
    u_p'(x_j))`` and ``K_q = k_q(X, X)``,

        y_n | y_S ~ N(M a, Sigma),
        Sigma = sum_{p,p'} a_p a_p' C[:, p, :, p'] + sum_q kappa_q K_q
                + tau^2 11^T + (s + alpha) I,

    and the gradient follows from ``dL/dSigma = (b b^T - Sigma^{-1}) / 2``,
    ``dL/dmean = b``, ``b = Sigma^{-1} (y - M a)``. One evaluation costs
    ``O(k^3 + k^2 P^2)``.
    """

    def __init__(self, view, X, y, shared_noise=None):
        self.view = view
        self.y = y
        self.mean, self.covariance = view.pseudo_moments(X)
        self.kernels = view.own_kernels(X)
        self.shared_noise = shared_noise
        self.n_pseudo = view.n_pseudo
        self.n_latent = view.n_latent

    def split(self, params):
        """``(loadings, kappa, noise)`` from ``[a, log(kappa), log(noise)]``."""
        loadings = params[: self.n_pseudo]
        kappa = np.exp(params[self.n_pseudo : self.n_pseudo + self.n_latent])
        if self.shared_noise is None:
            noise = float(np.exp(params[-1]))
        else:
            noise = self.shared_noise
        return loadings, kappa, noise

    def pack(self, loadings, kappa, noise):
        """The inverse of :meth:`split`."""
        params = [loadings, np.log(np.clip(kappa, *KAPPA_BOUNDS))]
        if self.shared_noise is None:
            params.append([np.log(np.clip(noise, *NOISE_BOUNDS))])
        return np.concatenate(params)

    def bounds(self):
        """Bounds of the parameters (``a`` is unbounded)."""
        bounds = [(-np.inf, np.inf)] * self.n_pseudo
        bounds += [tuple(np.log(KAPPA_BOUNDS))] * self.n_latent
        if self.shared_noise is None:
            bounds.append(tuple(np.log(NOISE_BOUNDS)))
        return np.array(bounds)

    def moments(self, loadings, kappa, noise):
        """``E_S[y_n]`` and ``Cov_S(y_n)``."""
        mean = self.mean @ loadings
        sigma = np.einsum("ipjq,p,q->ij", self.covariance, loadings, loadings)
        sigma += np.tensordot(kappa, self.kernels, axes=1)
        sigma += self.view.offset_variance
        sigma[np.diag_indices_from(sigma)] += noise + self.view.alpha
        return mean, sigma

    def log_likelihood(self, params, eval_gradient=False):
        """``log p(y_n | y_S)`` and, optionally, its gradient in ``params``."""
        loadings, kappa, noise = self.split(np.asarray(params, dtype=np.float64))
        mean, sigma = self.moments(loadings, kappa, noise)
        try:
            factor = cho_factor(sigma, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            if not eval_gradient:
                return -np.inf
            return -np.inf, np.zeros(len(params))
        residual = self.y - mean
        b = cho_solve(factor, residual, check_finite=False)
        value = -0.5 * (
            residual @ b
            + 2.0 * np.log(np.diag(factor[0])).sum()
            + len(residual) * np.log(2 * np.pi)
        )
        if not eval_gradient:
            return value
        W = 0.5 * (
            np.outer(b, b) - cho_solve(factor, np.eye(len(b)), check_finite=False)
        )
        grad_loadings = self.mean.T @ b + 2.0 * np.einsum(
            "ij,ipjq,q->p", W, self.covariance, loadings
        )
        grad_kappa = kappa * np.einsum("ij,qij->q", W, self.kernels)
        gradient = [grad_loadings, grad_kappa]
        if self.shared_noise is None:
            gradient.append([noise * np.trace(W)])
        return value, np.concatenate(gradient)


def fit_new_task(problem, view):
    """The loadings of a new task: the mode of their posterior given its rows.

    ``log p(y_n | y_S, a) - sum_p (a_p - abar_p)^2 / (2 v_p)``, with the
    Gaussian prior of :meth:`SourceView.loading_prior` (the source tasks'
    rows), and ``kappa`` and the noise those of the average task: a few rows
    cannot estimate variances, and their maximum-likelihood values made the
    adapted task worse than the average task (School, one labelled row per
    new school: explained variance -4.7 against 0.15). Without rows the mode
    is the average task; with one source task (no spread) the loadings are
    the source task's. Only a run out of iterations warns: L-BFGS-B's
    line-search stops ("ABNORMAL") on this smooth, prior-regularised
    objective happen at its rounding level. The search starts at the
    prior mean.

    Returns
    -------
    loadings, kappa, noise, log_likelihood
        The parameters (normalised units) and ``log p(y_n | y_S)`` there.
    """
    mean, variance = view.loading_prior()
    _, kappa, noise = view.average_task()
    if problem.shared_noise is not None:
        noise = problem.shared_noise
    kappa = np.maximum(kappa, KAPPA_BOUNDS[0])
    n_pseudo = problem.n_pseudo
    if not np.all(variance > 0):
        # One source task (or identical rows): the prior has no spread, the
        # new task's loadings are the source's.
        params = problem.pack(mean, kappa, noise)
        return mean, kappa, noise, float(problem.log_likelihood(params))

    def objective(loadings):
        params = problem.pack(loadings, kappa, noise)
        with np.errstate(over="ignore", invalid="ignore"):
            value, gradient = problem.log_likelihood(params, eval_gradient=True)
        gap = loadings - mean
        value = value - 0.5 * float(np.sum(gap**2 / variance))
        gradient = gradient[:n_pseudo] - gap / variance
        if not (np.isfinite(value) and np.isfinite(gradient).all()):
            return np.inf, np.zeros_like(gradient)
        return -value, -gradient

    result = scipy.optimize.minimize(
        objective, mean, method="L-BFGS-B", jac=True, options={"maxiter": MAX_ITER}
    )
    if result.status == 1:
        warnings.warn(
            f"L-BFGS-B did not converge for a new task after {result.nit} "
            f"iterations (status={result.status}): {result.message}. Its task "
            "covariance row may not maximise the posterior of its rows.",
            ConvergenceWarning,
            stacklevel=3,
        )
    loadings = result.x
    params = problem.pack(loadings, kappa, noise)
    return loadings, kappa, noise, float(problem.log_likelihood(params))


# --------------------------------------------------------------------------
# predictions for new and unknown tasks
# --------------------------------------------------------------------------


class VirtualTasks:
    """Tasks beyond the source ones, defined by their loadings, ``kappa`` and data.

    Parameters
    ----------
    loadings : ndarray of shape (n_virtual, n_pseudo)
    kappa : ndarray of shape (n_virtual, n_latent)
    noise : ndarray of shape (n_virtual,)
        Noise variance (normalised units, ``alpha`` excluded).
    X : ndarray of shape (n_rows, n_features)
        Training rows of the tasks that have some (grouped by task).
    y : ndarray of shape (n_rows,)
        Their targets, in the units of the average task.
    task_index : ndarray of shape (n_rows,)
        Virtual task of every training row.
    """

    def __init__(self, loadings, kappa, noise, X, y, task_index):
        self.loadings = np.atleast_2d(loadings)
        self.kappa = np.atleast_2d(kappa)
        self.noise = np.asarray(noise, dtype=np.float64)
        self.X = X
        self.y = y
        self.task_index = task_index

    def with_average(self, view, n_average):
        """These tasks followed by ``n_average`` average tasks without rows."""
        loadings, kappa, noise = view.average_task()
        return VirtualTasks(
            np.vstack([self.loadings, np.tile(loadings, (n_average, 1))]),
            np.vstack([self.kappa, np.tile(kappa, (n_average, 1))]),
            np.concatenate([self.noise, np.full(n_average, noise)]),
            self.X,
            self.y,
            self.task_index,
        )


def empty_virtual_tasks(view, n_features):
    """No new tasks (before any ``fit_new_tasks``)."""
    return VirtualTasks(
        np.zeros((0, view.n_pseudo)),
        np.zeros((0, view.n_latent)),
        np.zeros(0),
        np.zeros((0, n_features)),
        np.zeros(0),
        np.zeros(0, dtype=np.intp),
    )


def _prior_moments(view, virtual, X, rows, tasks):
    """Mean and covariance of pairs under the source posterior only (``Cov_S``).

    ``tasks`` below ``view.n_source`` are source tasks; task
    ``view.n_source + j`` is virtual task ``j``.
    """
    n_source, n_pseudo = view.n_source, view.n_pseudo
    source = tasks < n_source
    own = np.flatnonzero(~source)
    virtual_index = tasks[own] - n_source
    pair_rows = np.concatenate([rows[source], np.repeat(rows[own], n_pseudo)])
    pair_tasks = np.concatenate(
        [tasks[source], np.tile(n_source + np.arange(n_pseudo), len(own))]
    )
    mean_pseudo, _ = view.posterior.mean_and_variance(
        X, pair_rows, pair_tasks, return_variance=False
    )
    cov_pseudo = view.posterior.covariance(X, pair_rows, pair_tasks)
    # Loadings from the expanded pairs to the queried ones.
    n_source_pairs = int(source.sum())
    loadings = np.zeros((len(tasks), len(pair_tasks)))
    loadings[np.flatnonzero(source), np.arange(n_source_pairs)] = 1.0
    columns = n_source_pairs + np.arange(len(own) * n_pseudo).reshape(-1, n_pseudo)
    loadings[own[:, np.newaxis], columns] = virtual.loadings[virtual_index]
    mean = loadings @ mean_pseudo
    covariance = loadings @ cov_pseudo @ loadings.T
    # The new tasks' own processes and offsets, independent of everything.
    same = np.equal.outer(virtual_index, virtual_index)
    prior = sum(
        virtual.kappa[virtual_index, q][:, np.newaxis] * kernel(X[rows[own]])
        for q, kernel in enumerate(view.kernels)
    )
    covariance[np.ix_(own, own)] += same * (prior + view.offset_variance)
    return mean, covariance


def _moments(view, virtual, Xq, rows, tasks):
    """Posterior mean and covariance of query pairs, with the new tasks' rows."""
    n_source = view.n_source
    present = np.unique(tasks[tasks >= n_source]) - n_source
    training = np.flatnonzero(np.isin(virtual.task_index, present))
    n_queries = len(tasks)
    X = np.vstack([Xq, virtual.X[training]])
    all_rows = np.concatenate([rows, Xq.shape[0] + np.arange(len(training))])
    all_tasks = np.concatenate([tasks, n_source + virtual.task_index[training]])
    mean, covariance = _prior_moments(view, virtual, X, all_rows, all_tasks)
    if not len(training):
        return mean, covariance
    query, train = slice(0, n_queries), slice(n_queries, None)
    # Sigma: the covariance of the new tasks' observations; each new task is
    # conditioned on its own rows only (gain zero for the other pairs).
    train_tasks = virtual.task_index[training]
    sigma = covariance[train, train].copy()
    sigma[np.diag_indices_from(sigma)] += virtual.noise[train_tasks] + view.alpha
    residual = virtual.y[training] - mean[train]
    gain = np.zeros((n_queries, len(training)))
    cross = covariance[query, train]
    for j in present:
        mine = train_tasks == j
        factor = cho_factor(sigma[np.ix_(mine, mine)], lower=True, check_finite=False)
        pairs = tasks == n_source + j
        gain[np.ix_(pairs, mine)] = cho_solve(
            factor, cross[np.ix_(pairs, mine)].T, check_finite=False
        ).T
    mean = mean[query] + gain @ residual
    correction = gain @ cross.T
    covariance = (
        covariance[query, query] - correction - correction.T + gain @ sigma @ gain.T
    )
    return mean, covariance


class TransferPosterior:
    """Posterior of source, new and average tasks, as the solvers' posteriors.

    Task indices: ``0..n_source - 1`` the source tasks, then the virtual
    tasks (new tasks, then average tasks for unknown labels).

    Parameters
    ----------
    view : SourceView
    virtual : VirtualTasks
    """

    def __init__(self, view, virtual):
        self.view = view
        self.virtual = virtual

    def mean_and_variance(self, Xq, rows, tasks, return_variance=True):
        """Posterior mean (and variance) of every query pair (normalised units)."""
        mean = np.empty(len(rows))
        variance = np.empty(len(rows))
        for start in range(0, len(rows), _BLOCK_PAIRS):
            block = slice(start, start + _BLOCK_PAIRS)
            block_mean, block_cov = _moments(
                self.view, self.virtual, Xq, rows[block], tasks[block]
            )
            mean[block] = block_mean
            variance[block] = np.diag(block_cov)
        if not return_variance:
            return mean, None
        return mean, np.maximum(variance, 0.0)

    def covariance(self, Xq, rows, tasks):
        """Joint posterior covariance of the query pairs."""
        return _moments(self.view, self.virtual, Xq, rows, tasks)[1]


# --------------------------------------------------------------------------
# fitted attributes of new tasks
# --------------------------------------------------------------------------


def new_task_covariance(estimator, view, virtual):
    """``new_task_covariance_`` and ``new_task_correlation_``.

    Rows of the task covariance (prior covariance at the same input, in the
    units of ``y``, offsets excluded) of the new tasks against all tasks.
    """
    structure = view.structure
    prior_scale = [np.mean(k.diag(estimator.X_train_)) for k in view.kernels]
    n_new = len(virtual.noise)
    n_total = view.n_source + n_new
    covariance = np.zeros((n_new, n_total))
    for q, scale in enumerate(prior_scale):
        loadings_q = virtual.loadings[:, q * view.rank : (q + 1) * view.rank]
        block = loadings_q @ np.vstack([structure.A[q], loadings_q]).T
        block[:, view.n_source :] += np.diag(virtual.kappa[:, q])
        covariance += scale * block
    source_variance = np.diag(estimator.task_covariance_) / estimator._y_train_std**2
    variance = np.concatenate(
        [source_variance, np.diag(covariance[:, view.n_source :])]
    )
    correlation = covariance / np.sqrt(np.outer(variance[view.n_source :], variance))
    units = np.concatenate([estimator._y_train_std, np.full(n_new, view.scale)])
    return covariance * view.scale * units, correlation


# --------------------------------------------------------------------------
# entry points of the estimator
# --------------------------------------------------------------------------


def adapt_new_tasks(estimator, data):
    """Fit the new tasks of ``data`` and set the estimator's new-task attributes.

    Parameters
    ----------
    estimator : MultiTaskGaussianProcessRegressor
        Fitted in long format.
    data : TaskData
        The new tasks' rows, from ``check_new_task_data``.
    """
    if sp.issparse(data.X):
        raise TypeError(
            "Sparse data was passed to fit_new_tasks, but dense data is required "
            "(as in fit). Use X.toarray() to convert to a dense numpy array."
        )
    X = np.asarray(data.X, dtype=np.float64)
    check_feature_magnitudes(X, getattr(estimator, "feature_names_in_", None))
    view = source_view(estimator)
    shared_noise = float(view.noise.mean()) if estimator.noise == "shared" else None
    y = (data.y - view.mean) / view.scale
    check_target_magnitudes(np.array([np.max(np.abs(data.y))]))
    fitted = []
    for t in range(data.n_tasks):
        rows = slice(data.offsets[t], data.offsets[t + 1])
        problem = NewTaskProblem(view, X[rows], y[rows], shared_noise)
        fitted.append(fit_new_task(problem, view))
    loadings, kappa, noise, log_likelihood = (np.array(v) for v in zip(*fitted))
    virtual = VirtualTasks(loadings, kappa, noise, X, y, data.task_index)
    estimator._new_tasks = virtual
    _set_new_task_attributes(estimator, view, virtual, log_likelihood)


#: Fitted attributes of ``fit_new_tasks``, removed by ``fit``.
NEW_TASK_ATTRIBUTES = (
    "new_task_loadings_",
    "new_task_kappa_",
    "new_noise_variance_",
    "new_log_marginal_likelihood_",
    "new_task_covariance_",
    "new_task_correlation_",
    "_new_tasks",
)


def forget_new_tasks(estimator):
    """Remove what ``fit_new_tasks`` set (``fit`` starts again)."""
    for name in NEW_TASK_ATTRIBUTES:
        if hasattr(estimator, name):
            delattr(estimator, name)


def _set_new_task_attributes(estimator, view, virtual, log_likelihood):
    n_new = len(virtual.noise)
    estimator.new_task_loadings_ = virtual.loadings.reshape(
        n_new, view.n_latent, view.rank
    ).transpose(1, 0, 2)
    estimator.new_task_kappa_ = virtual.kappa.T.copy()
    estimator.new_noise_variance_ = virtual.noise * view.scale**2
    estimator.new_log_marginal_likelihood_ = log_likelihood
    covariance, correlation = new_task_covariance(estimator, view, virtual)
    estimator.new_task_covariance_ = covariance
    estimator.new_task_correlation_ = correlation


def transfer_posterior(estimator, n_average):
    """The posterior of the source, new and ``n_average`` average tasks."""
    view = source_view(estimator)
    if hasattr(estimator, "new_tasks_"):
        virtual = estimator._new_tasks
    else:
        virtual = empty_virtual_tasks(view, estimator.n_features_in_)
    return TransferPosterior(view, virtual.with_average(view, n_average))


def task_units(estimator, tasks):
    """Mean and scale of the targets of every task index, ``(location, scale)``.

    Source tasks have their own; new and average tasks those of an average
    source task, ``m_bar`` and ``sd_bar``.
    """
    means, scales = estimator._y_train_mean, estimator._y_train_std
    n_source = len(means)
    source = tasks < n_source
    index = np.where(source, tasks, 0)
    location = np.where(source, means[index], np.mean(means))
    scale = np.where(source, scales[index], np.mean(scales))
    return location, scale
