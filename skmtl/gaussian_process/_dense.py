"""Dense solver: Cholesky of the full covariance of all observations.

Works for every layout (long, wide with missing targets, single task) and for
the LMC (several latent processes). With ``N`` observations it costs
``O(N^3)`` time and ``O(N^2)`` memory per log marginal likelihood (LML).

The observations are grouped by task (``task_index`` non-decreasing), and the
covariance of observations ``i`` and ``j`` is

    C[i, j] = sum_q B_q[t_i, t_j] k_q(x_{r_i}, x_{r_j}) + delta_ij d[t_i],

where ``r_i`` is the row of ``X`` of observation ``i`` and ``d`` the noise
variance of each task (plus ``alpha``). The LML and its gradient are
(Rasmussen & Williams 2006, eq. 2.30 and 5.9)

    L = -1/2 y^T C^{-1} y - 1/2 log|C| - N/2 log(2 pi),
    dL/dp = 1/2 tr((a a^T - C^{-1}) dC/dp),   a = C^{-1} y.

The gradient is returned with respect to the kernel matrices ``K_q`` (over the
rows of ``X``), the ``B_q`` and the noise; the chain rule to the
hyper-parameters is :func:`~skmtl.gaussian_process._task_kernel.kernel_gradient`
and :class:`~skmtl.gaussian_process._task_kernel.HyperParameters`.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, cho_solve, cholesky, lapack, solve_triangular

#: Observations x query pairs per block when predicting, to bound memory.
_BLOCK_ELEMENTS = 2**22


def dense_size_error(n_observations, max_dense_size, n_kernel_params):
    """The error raised before allocating a covariance that is too large.

    Parameters
    ----------
    n_observations : int
        ``N``, the size of the covariance.
    max_dense_size : int
        The largest ``N`` allowed.
    n_kernel_params : int
        Hyper-parameters of the largest kernel: a kernel without a direct
        gradient (see ``kernel_gradient``) holds one ``N x N`` matrix per
        hyper-parameter.

    Returns
    -------
    error : ValueError
    """
    gib = n_observations**2 * 8 / 2**30
    n_matrices = 5 + n_kernel_params
    return ValueError(
        f"The dense solver would factorise the covariance of all "
        f"{n_observations:,} observations: one {n_observations:,} x "
        f"{n_observations:,} float64 matrix takes {gib:.2f} GiB, and a log "
        f"marginal likelihood gradient needs about {n_matrices} of them "
        f"({n_matrices * gib:.1f} GiB at most), with O(N^3) time per evaluation. "
        f"This is above max_dense_size={max_dense_size:,} observations. "
        "To fit it: use solver='sparse' (the variational inducing-point "
        "approximation, O(N M^2) per evaluation with M inducing inputs; "
        "solver='auto' picks it above 2,000 observations); subsample the "
        "observations; or, if every task is observed "
        "at the same inputs, pass the data in the Kronecker layout (a fully "
        "observed wide Y of shape (n_samples, n_tasks) with task_column=None, "
        "no NaN, and n_latent=1), which costs O(n_samples^3 + n_tasks^3); or "
        "raise max_dense_size (None removes the limit) if you have the memory."
    )


class Observations:
    """Which task and which row of ``X`` every observation belongs to.

    Parameters
    ----------
    task_index : ndarray of shape (N,)
        Task of every observation, non-decreasing (observations grouped by
        task).
    row_index : ndarray of shape (N,) or None
        Row of ``X`` of every observation; None when observation ``i`` is
        row ``i`` (long and single-task format).
    offsets : ndarray of shape (n_tasks + 1,)
        Observations of task ``t`` are ``offsets[t]:offsets[t + 1]``.
    n_rows : int
        Number of rows of ``X``.
    """

    def __init__(self, task_index, row_index, offsets, n_rows):
        self.task_index = task_index
        self.row_index = row_index
        self.offsets = offsets
        self.n_rows = n_rows

    def to_rows(self, matrix):
        """Add an (N, N) matrix over observations into an (n_rows, n_rows) one.

        The adjoint of :meth:`restrict`: entry ``(i, j)`` goes to
        ``(row_i, row_j)``, summed over the tasks that share the rows.
        """
        if self.row_index is None:
            return matrix
        n_observations = len(self.row_index)
        selection = sp.csr_matrix(
            (np.ones(n_observations), (np.arange(n_observations), self.row_index)),
            shape=(n_observations, self.n_rows),
        )
        half = selection.T @ matrix
        return np.asarray((selection.T @ half.T).T)

    def restrict(self, matrix):
        """Restrict a kernel matrix over the rows to the observations."""
        if self.row_index is None:
            return matrix
        return matrix[np.ix_(self.row_index, self.row_index)]

    def task_block_sums(self, matrix):
        """Sum of an (N, N) matrix over every (task, task) block, (T, T)."""
        starts = self.offsets[:-1]
        # Along the rows first: for a C-ordered matrix that pass is over
        # contiguous memory and leaves only T rows for the second (10x faster
        # than the other order at N = 3,200).
        return np.add.reduceat(np.add.reduceat(matrix, starts, axis=1), starts, axis=0)

    def expand(self, task_covariance):
        """``B[t_i, t_j]`` for every pair of observations, (N, N)."""
        # The observations are grouped by task, so this is B with every entry
        # repeated into its block (np.repeat is 4x faster than np.ix_).
        counts = np.diff(self.offsets)
        return np.repeat(np.repeat(task_covariance, counts, axis=0), counts, axis=1)


def dense_covariance(kernel_matrices, task_covariances, noise, observations):
    """The covariance ``C`` of the observations, shape (N, N).

    Parameters
    ----------
    kernel_matrices : list of ndarray of shape (n_rows, n_rows)
        ``k_q`` over the rows of ``X``.
    task_covariances : list of ndarray of shape (n_tasks, n_tasks)
        The ``B_q``.
    noise : ndarray of shape (n_tasks,)
        Diagonal added for the observations of every task.
    observations : Observations

    Returns
    -------
    covariance : ndarray of shape (N, N)
    """
    covariance = 0.0
    for K, B in zip(kernel_matrices, task_covariances):
        covariance = covariance + observations.expand(B) * observations.restrict(K)
    covariance[np.diag_indices_from(covariance)] += noise[observations.task_index]
    return covariance


def dense_log_marginal_likelihood(
    y, kernel_matrices, task_covariances, noise, observations, eval_gradient=False
):
    """LML of the observations and, optionally, its gradient.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Observed targets, grouped by task.
    kernel_matrices, task_covariances, noise, observations
        See :func:`dense_covariance`.
    eval_gradient : bool, default=False
        Also return the gradient.

    Returns
    -------
    lml : float
        ``-inf`` if the covariance is not positive definite.
    gradient : tuple, only if ``eval_gradient``
        ``(K_adjoints, B_grads, noise_grad)``: ``dL/dK_q`` (shape (n_rows,
        n_rows)), ``dL/dB_q`` (shape (n_tasks, n_tasks)), every entry taken
        as free, and ``dL/dd_t`` (shape (n_tasks,)). Zeros when the LML is
        ``-inf``.
    """
    C = dense_covariance(kernel_matrices, task_covariances, noise, observations)
    try:
        # C is ours: factorise in place rather than copy N^2 floats.
        L = cholesky(C, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        if not eval_gradient:
            return -np.inf
        return -np.inf, _zero_gradient(kernel_matrices, task_covariances)
    alpha = cho_solve((L, True), y, check_finite=False)
    lml = -0.5 * y @ alpha - np.log(np.diag(L)).sum() - 0.5 * len(y) * np.log(2 * np.pi)
    if not eval_gradient:
        return lml
    return lml, _dense_gradient(
        L, alpha, kernel_matrices, task_covariances, observations
    )


def _zero_gradient(kernel_matrices, task_covariances):
    n_tasks = task_covariances[0].shape[0]
    return (
        [np.zeros_like(K) for K in kernel_matrices],
        [np.zeros_like(B) for B in task_covariances],
        np.zeros(n_tasks),
    )


def _cholesky_inverse(L):
    """``C^{-1}`` from the lower Cholesky factor of ``C``, overwriting ``L``.

    LAPACK's dpotri needs 2/3 N^3 flops, two triangular solves with the
    identity 2 N^3. (OpenBLAS threads dpotri badly for small N; the estimator
    runs those sizes single-threaded.)
    """
    inverse, info = lapack.dpotri(L, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotri failed with info={info}.")
    _mirror_lower(inverse)
    # Symmetric: the transpose of a Fortran-ordered result is the same
    # matrix, C-ordered, which the row-wise reductions downstream prefer.
    return inverse.T if inverse.flags.f_contiguous else inverse


def _mirror_lower(matrix, block=128):
    """Copy the lower triangle onto the upper one, in place.

    dpotri fills only the lower triangle. ``M += M.T`` streams one of the two
    through memory with a stride of N and needs a temporary copy; square
    blocks that fit in cache make the copy 3-8x faster at N = 3,200.
    """
    n = matrix.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        diagonal = matrix[start:stop, start:stop]
        diagonal[np.triu_indices(stop - start, 1)] = diagonal.T[
            np.triu_indices(stop - start, 1)
        ]
        for column in range(stop, n, block):
            column_stop = min(column + block, n)
            matrix[start:stop, column:column_stop] = matrix[
                column:column_stop, start:stop
            ].T
    return matrix


def _dense_gradient(L, alpha, kernel_matrices, task_covariances, observations):
    # W = a a^T - C^{-1}; then dL/dC = W / 2 and, as
    # C = sum_q B_q[t_i, t_j] K_q[r_i, r_j] + noise,
    # dL/dK_q = rows(W * B_q[t_i, t_j]) / 2 and dL/dB_q = blocks(W * K_q) / 2.
    W = _cholesky_inverse(L)
    W *= -0.5
    # W += a a^T / 2 in place (BLAS ger on the Fortran view of the symmetric
    # W): no N x N temporary for the outer product.
    blas.dger(0.5, alpha, alpha, a=W.T, overwrite_a=True)
    n_tasks = task_covariances[0].shape[0]
    noise_grad = np.bincount(
        observations.task_index, weights=np.diag(W), minlength=n_tasks
    )
    K_adjoints, B_grads = [], []
    for K, B in zip(kernel_matrices, task_covariances):
        B_grads.append(observations.task_block_sums(W * observations.restrict(K)))
        K_adjoints.append(observations.to_rows(W * observations.expand(B)))
    return K_adjoints, B_grads, noise_grad


class DensePosterior:
    """Posterior of the latent functions given the observations (dense solver).

    Parameters
    ----------
    X_rows : ndarray of shape (n_rows, n_features)
        Training rows.
    y : ndarray of shape (N,)
        Observed (normalised) targets, grouped by task.
    kernels : list of sklearn kernels
        Fitted ``k_q``.
    task_covariances : list of ndarray of shape (n_tasks, n_tasks)
        Fitted ``B_q``.
    noise : ndarray of shape (n_tasks,)
        Diagonal of each task's observations (noise variance plus ``alpha``).
    observations : Observations

    Notes
    -----
    A query is a pair (row of ``Xq``, task). For queries ``*`` the posterior
    of the latent values is Gaussian with mean ``K_* a`` and covariance
    ``K_** - K_* C^{-1} K_*^T`` (Rasmussen & Williams 2006, eq. 2.25-2.26).
    """

    def __init__(self, X_rows, y, kernels, task_covariances, noise, observations):
        self.X_rows = X_rows
        self.kernels = kernels
        self.task_covariances = task_covariances
        self.observations = observations
        kernel_matrices = [kernel(X_rows) for kernel in kernels]
        C = dense_covariance(kernel_matrices, task_covariances, noise, observations)
        try:
            self.L = cholesky(C, lower=True, check_finite=False)
        except np.linalg.LinAlgError as exc:
            exc.args = (
                f"The covariance of the observations with kernels {kernels} is "
                "not positive definite. Increase alpha (added to the diagonal).",
            ) + exc.args
            raise
        self.alpha = cho_solve((self.L, True), y, check_finite=False)

    def _cross_covariance(self, kernel_rows, rows, tasks):
        """``cov(f_tasks(Xq[rows]), observations)``, shape (n_pairs, N)."""
        row_index = self.observations.row_index
        columns = slice(None) if row_index is None else row_index
        task_index = self.observations.task_index
        cross = 0.0
        for K_cross, B in zip(kernel_rows, self.task_covariances):
            cross = cross + B[np.ix_(tasks, task_index)] * K_cross[rows][:, columns]
        return cross

    def _blocks(self, n_pairs):
        n_observations = len(self.observations.task_index)
        size = max(1, _BLOCK_ELEMENTS // n_observations)
        for start in range(0, n_pairs, size):
            yield slice(start, min(start + size, n_pairs))

    def mean_and_variance(self, Xq, rows, tasks, return_variance=True):
        """Posterior mean (and variance) of every query pair.

        Parameters
        ----------
        Xq : ndarray of shape (m, n_features)
            Query rows.
        rows : ndarray of shape (n_pairs,)
            Row of ``Xq`` of every pair.
        tasks : ndarray of shape (n_pairs,)
            Task of every pair.
        return_variance : bool, default=True

        Returns
        -------
        mean : ndarray of shape (n_pairs,)
        variance : ndarray of shape (n_pairs,) or None
            Clipped at 0 against rounding.
        """
        kernel_rows = [kernel(Xq, self.X_rows) for kernel in self.kernels]
        mean = np.empty(len(rows))
        if return_variance:
            variance = sum(
                B[tasks, tasks] * kernel.diag(Xq)[rows]
                for kernel, B in zip(self.kernels, self.task_covariances)
            )
        for block in self._blocks(len(rows)):
            cross = self._cross_covariance(kernel_rows, rows[block], tasks[block])
            mean[block] = cross @ self.alpha
            if return_variance:
                V = solve_triangular(self.L, cross.T, lower=True, check_finite=False)
                variance[block] -= np.einsum("ij,ij->j", V, V)
        if not return_variance:
            return mean, None
        return mean, np.maximum(variance, 0.0)

    def covariance(self, Xq, rows, tasks):
        """Joint posterior covariance of the query pairs, (n_pairs, n_pairs)."""
        kernel_rows = [kernel(Xq, self.X_rows) for kernel in self.kernels]
        cross = self._cross_covariance(kernel_rows, rows, tasks)
        V = solve_triangular(self.L, cross.T, lower=True, check_finite=False)
        prior = sum(
            B[np.ix_(tasks, tasks)] * kernel(Xq)[np.ix_(rows, rows)]
            for kernel, B in zip(self.kernels, self.task_covariances)
        )
        return prior - V.T @ V
