"""A starting point for the optimiser from independent GPs on a subsample.

The multi-task likelihood is expensive (``O(N^3)`` per evaluation with the
dense solver) and, for a rank-limited ``B``, has several local optima. A start
estimated from the data costs little and puts the optimiser close to the
optimum, so it needs fewer evaluations of the full likelihood:

1. every task gets its own single-task GP (the estimator's kernel plus a
   noise variance, ``B = 1``), fitted by L-BFGS-B on at most
   ``MAX_ROWS_PER_TASK`` of its observations, for at most ``START_MAX_ITER``
   iterations;
2. the kernel starts from the mean of these fits' ``theta`` (log space,
   weighted by the rows used), every task's noise from its own fit;
3. the task covariance starts from ``B0 = S^{1/2} R S^{1/2} / kbar``: ``R`` is
   the correlation, over ``N_COMMON_ROWS`` training inputs, of the tasks'
   posterior means under their own GPs, ``S_t`` the prior variance of task
   ``t``'s GP and ``kbar`` that of the start kernel, so that ``B0 kbar`` has
   the variances of the independent fits.
"""

import numpy as np
import scipy.optimize

from ._dense import DensePosterior, Observations, dense_log_marginal_likelihood
from ._task_kernel import HyperParameters, kernel_gradient

#: Observations per task used by the independent fits: enough to place the
#: length scales and the noise, few enough to cost little next to one
#: multi-task evaluation.
MAX_ROWS_PER_TASK = 200
#: Training inputs at which the tasks' posterior means are correlated.
N_COMMON_ROWS = 200
#: L-BFGS-B iterations of each independent fit. A start only needs to be
#: near the optimum. Unbounded, the 139 fits of School took 10 s of a 60 s
#: multi-task fit; at 20 iterations they take 4 s, and the multi-task
#: optimiser needed fewer evaluations on all three splits of skmtl compare
#: (fits of 31-39 s instead of 42-69 s). At 10 the start was worse.
START_MAX_ITER = 20


class IndependentStart:
    """Starting hyper-parameters of a multi-task GP.

    Attributes
    ----------
    kernel_theta : ndarray
        ``theta`` of the shared kernel.
    noise : ndarray of shape (n_tasks,)
        Noise variance of every task.
    task_covariance : ndarray of shape (n_tasks, n_tasks)
        ``B0``, in the units of the start kernel.
    """

    def __init__(self, kernel_theta, noise, task_covariance):
        self.kernel_theta = kernel_theta
        self.noise = noise
        self.task_covariance = task_covariance


def independent_start(X, y, observations, kernel, alpha, rng):
    """Fit one GP per task on a subsample and derive a multi-task start.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Training rows.
    y : ndarray of shape (N,)
        Observed (normalised) targets, grouped by task.
    observations : Observations
        Task and row of every observation.
    kernel : sklearn kernel
        The estimator's kernel, at its initial hyper-parameters.
    alpha : float
        Value added to the diagonal, as in the estimator.
    rng : numpy.random.RandomState
        Draws the subsamples.

    Returns
    -------
    start : IndependentStart
    """
    n_tasks = len(observations.offsets) - 1
    row_index = observations.row_index
    fits, weights = [], []
    for t in range(n_tasks):
        index = np.arange(observations.offsets[t], observations.offsets[t + 1])
        if len(index) > MAX_ROWS_PER_TASK:
            index = np.sort(rng.choice(index, MAX_ROWS_PER_TASK, replace=False))
        rows = index if row_index is None else row_index[index]
        fits.append(_single_task_fit(X[rows], y[index], kernel, alpha))
        weights.append(len(index))
    thetas = np.array([fit[0].theta for fit in fits])
    bounds = np.reshape(kernel.bounds, (-1, 2))
    kernel_theta = np.clip(np.average(thetas, axis=0, weights=weights), *bounds.T)
    start_kernel = kernel.clone_with_theta(kernel_theta)
    common = rng.choice(X.shape[0], min(N_COMMON_ROWS, X.shape[0]), replace=False)
    correlation = _correlation([fit[2] for fit in fits], X[common])
    prior_sd = np.sqrt([np.mean(fit[0].diag(X)) for fit in fits])
    kbar = np.mean(start_kernel.diag(X))
    task_covariance = correlation * np.outer(prior_sd, prior_sd) / kbar
    noise = np.array([fit[1] for fit in fits])
    return IndependentStart(kernel_theta, noise, task_covariance)


def _single_task_fit(X, y, kernel, alpha):
    """Kernel, noise variance and posterior of one task's own GP."""
    layout = HyperParameters([kernel], n_tasks=1, rank=1, noise="task")
    observations = Observations(
        np.zeros(len(y), dtype=int), None, np.array([0, len(y)]), len(y)
    )

    def negative_lml(theta):
        (fitted,), task_covariances, noise = layout.split(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            K = fitted(X)
            lml, (K_adjoints, B_grads, noise_grad) = dense_log_marginal_likelihood(
                y, [K], task_covariances, noise + alpha, observations, True
            )
            grads = [kernel_gradient(fitted, X, K_adjoints[0], K)]
            gradient = layout.gradient(theta, grads, B_grads, noise_grad)
        if not (np.isfinite(lml) and np.isfinite(gradient).all()):
            # Overflow at extreme hyper-parameters: step back, as the
            # estimator's own objective does.
            return np.inf, np.zeros_like(gradient)
        return -lml, -gradient

    result = scipy.optimize.minimize(
        negative_lml,
        layout.initial(np.random.RandomState(0)),
        method="L-BFGS-B",
        jac=True,
        bounds=layout.bounds(),
        options={"maxiter": START_MAX_ITER},
    )
    (fitted,), task_covariances, noise = layout.split(result.x)
    posterior = DensePosterior(
        X, y, [fitted], task_covariances, noise + alpha, observations
    )
    return fitted, noise[0], posterior


def _correlation(posteriors, X_common):
    """Correlation of the tasks' posterior means at the common rows."""
    n_rows, n_tasks = X_common.shape[0], len(posteriors)
    rows, tasks = np.arange(n_rows), np.zeros(n_rows, dtype=int)
    means = np.column_stack(
        [
            posterior.mean_and_variance(X_common, rows, tasks, False)[0]
            for posterior in posteriors
        ]
    )
    means -= means.mean(axis=0)
    sd = means.std(axis=0)
    # A task whose mean is flat (a constant fit) carries no correlation.
    informative = sd > 1e-8 * max(sd.max(), 1e-300)
    standardised = np.where(informative, means / np.where(informative, sd, 1.0), 0.0)
    correlation = standardised.T @ standardised / n_rows
    correlation[np.diag_indices(n_tasks)] = 1.0
    return correlation
