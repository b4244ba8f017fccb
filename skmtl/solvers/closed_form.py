"""Exact solution of mean-regularised multi-task least squares.

Objective (docs/user_guide/regularization.rst), with ``c_i = s_i / n_t``
(so that the ``c_i`` of a task sum to one):

    min_{w_0, V, b}  sum_t sum_{i in t} c_i 0.5 (y_i - x_i . (w_0 + v_t) - b_t)^2
                     + (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2

**Derivation.** The intercepts are unpenalised, so ``b_t = ybar_t - xbar_t . w_t``
with the ``c``-weighted task means; what is left is the same problem on the
per-task centred data. Write ``G_t = X_t^T C_t X_t`` and ``r_t = X_t^T C_t y_t``
for the centred task (``C_t = diag(c)``). Setting the gradient to zero gives

    (G_t + alpha I) v_t = r_t - G_t w_0,        alpha_mean w_0 = alpha sum_t v_t,

and with ``G_t = U_t diag(lambda_t) U_t^T`` (eigenvalues ``lambda > 0`` only),
``h_t = lambda_t / (lambda_t + alpha)`` and ``g_t = 1 / (lambda_t + alpha)``:

    (rho I + sum_t U_t diag(h_t) U_t^T) w_0 = sum_t U_t diag(g_t) U_t^T r_t,
    v_t = U_t diag(g_t) U_t^T r_t - U_t diag(h_t) U_t^T w_0,

with ``rho = alpha_mean / alpha``: one ``p x p`` system for the shared
coefficients and diagonal work per task. The spectra depend on neither
strength, so :class:`MeanRegularizedFactorization` computes them once and
serves any ``(alpha, alpha_mean)`` (the ``*CV`` estimator's grid) from them.

Cost: per task ``O(n_t p min(n_t, p))`` for the spectrum (the Gram matrix and
its eigendecomposition when ``p <= n_t``, the kernel matrix of the task's
centred rows when ``p > n_t``), then per ``alpha`` ``O(sum_t p^2 k_t + p^3)``
and per ``alpha_mean`` ``O(sum_t p k_t)``, with ``k_t = min(n_t, p)``: linear in
the number of tasks. Memory: the spectra hold ``sum_t p k_t`` numbers, at most
the size of a dense ``X``. Sparse ``X`` is never densified: the centring of a
task enters through ``X^T C X - xbar xbar^T`` (or its kernel counterpart).

**Extreme magnitudes.** Features or targets beyond ``2^40`` (or below
``2^-40``) are rescaled exactly by powers of two before the factorisation
(:mod:`skmtl.solvers._scaling`): both strengths are divided by the square of
the feature factor, the results multiplied back. Features of magnitude
``1e300`` are thus solved exactly, where ``X^T X`` would overflow.

**Zero strengths** are the limits of the solution as the strength goes to 0
(for ``alpha = 0`` take ``alpha -> 0+``; a singular system is solved in the
least-squares, minimum-norm sense, as ``numpy.linalg.lstsq`` would):

- ``alpha = 0``: independent per-task (minimum-norm) least squares; then
  ``w_0 = 0`` if ``alpha_mean > 0``, and if ``alpha_mean = 0`` too, ``w_0``
  solves ``(sum_t P_t) w_0 = sum_t w_t`` (``P_t`` the projection on the span of
  task ``t``'s centred rows): the average of the task coefficients.
- ``alpha_mean = 0``: ``w_0`` unpenalised; directions that no task's data
  sees get ``w_0 = 0`` there (minimum norm).
"""

import copy

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils.extmath import safe_sparse_dot

from .._config import blas_threads_for
from ..losses import SquaredLoss, observation_scale
from ..penalties import MeanRegularization
from ._result import SolverResult
from ._scaling import (
    MAX_COLUMN_RATIO,
    _column_maxima,
    problem_scaling,
    scale_task_data,
)

_EPS = np.finfo(np.float64).eps


def _largest_product(data):
    """Multiply-adds of the largest decomposition of the factorisation.

    A task's Gram matrix (or kernel) of order ``k = min(n_t, p)`` costs
    about ``n_t p k`` to form and ``k^3`` to decompose.
    """
    rows = int(np.max(data.task_counts, initial=0))
    if data.shared_design:
        rows = data.X.shape[0]
    order = min(rows, data.n_features)
    return rows * data.n_features * order + order**3


class TaskSpectrum:
    """Positive eigenpairs of the centred, weighted Gram matrix of one design.

    Attributes
    ----------
    eigenvalues : ndarray of shape (k,)
        The positive eigenvalues ``lambda`` of ``G = X_c^T C X_c``.
    eigenvectors : ndarray of shape (n_features, k)
        Orthonormal eigenvectors ``U`` (columns).
    projected_targets : ndarray of shape (k, n_targets)
        ``U^T r`` for every target column, ``r = X_c^T C y_c``.
    x_mean : ndarray of shape (n_features,)
        Weighted feature means ``xbar`` (zeros without intercept).
    y_mean : ndarray of shape (n_targets,)
        Weighted target means ``ybar`` (zeros without intercept).
    """

    def __init__(self, eigenvalues, eigenvectors, projected_targets, x_mean, y_mean):
        self.eigenvalues = eigenvalues
        self.eigenvectors = eigenvectors
        self.projected_targets = projected_targets
        self.x_mean = x_mean
        self.y_mean = y_mean


def _weighted_means(X, Y, scale, fit_intercept):
    """``c``-weighted means of the columns of ``X`` and ``Y`` (or zeros)."""
    if not fit_intercept:
        return np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    x_mean = np.asarray(safe_sparse_dot(scale, X, dense_output=True)).ravel()
    return x_mean, scale @ Y


def _cutoff(n_rows, n_features, value_scale):
    """Eigenvalues below this are zero up to the rounding of a Gram matrix."""
    return max(n_rows, n_features, 1) * _EPS * max(value_scale, 0.0)


def centred_gram(X, Y, scale, *, fit_intercept):
    """Centred, weighted Gram matrix and moments of one design.

    With ``sum(c) = 1`` the centred Gram is ``X^T C X - xbar xbar^T``, so
    sparse ``X`` is never densified; dense ``X`` is centred explicitly (no
    cancellation).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    Y : ndarray of shape (n_rows, n_targets)
    scale : ndarray of shape (n_rows,)
        Data-term factor ``c_i = s_i / n_t`` of each row (sums to one).
    fit_intercept : bool
        Centre ``X`` and ``Y`` with the weighted means.

    Returns
    -------
    gram : ndarray of shape (n_features, n_features)
        ``G = X_c^T C X_c``.
    moments : ndarray of shape (n_features, n_targets)
        ``r = X_c^T C Y_c``.
    x_mean : ndarray of shape (n_features,)
    y_mean : ndarray of shape (n_targets,)
    value_scale : float
        Scale of the uncentred Gram matrix, for the zero-eigenvalue cutoff.
    """
    x_mean, y_mean = _weighted_means(X, Y, scale, fit_intercept)
    sqrt_scale = np.sqrt(scale)[:, None]
    if sp.issparse(X):
        scaled_rows = sp.csr_matrix(sp.diags(sqrt_scale.ravel()) @ X)
        gram = (scaled_rows.T @ scaled_rows).toarray() - np.outer(x_mean, x_mean)
        moments = np.asarray(scaled_rows.T @ (sqrt_scale * Y)) - np.outer(
            x_mean, y_mean
        )
        return gram, moments, x_mean, y_mean, float(scaled_rows.power(2).sum())
    design = sqrt_scale * (X - x_mean)
    gram = design.T @ design
    return gram, design.T @ (sqrt_scale * (Y - y_mean)), x_mean, y_mean, 0.0


def task_spectrum(X, Y, scale, *, fit_intercept):
    """Spectral factorisation of one task's centred, weighted least squares.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
        Rows of the task.
    Y : ndarray of shape (n_rows, n_targets)
        One or more target columns sharing these rows and weights.
    scale : ndarray of shape (n_rows,)
        Data-term factor ``c_i = s_i / n_t`` of each row (sums to one).
    fit_intercept : bool
        Centre ``X`` and ``Y`` with the weighted means.

    Returns
    -------
    spectrum : TaskSpectrum
        Only the eigenpairs above the rounding cutoff.
    """
    n_rows, n_features = X.shape
    if n_features > n_rows:
        return _kernel_spectrum(X, Y, scale, fit_intercept)
    gram, moments, x_mean, y_mean, value_scale = centred_gram(
        X, Y, scale, fit_intercept=fit_intercept
    )
    eigenvalues, eigenvectors = scipy.linalg.eigh(gram)
    keep = eigenvalues > _cutoff(n_rows, n_features, max(eigenvalues[-1], value_scale))
    eigenvalues, eigenvectors = eigenvalues[keep], eigenvectors[:, keep]
    projected = eigenvectors.T @ moments
    return TaskSpectrum(eigenvalues, eigenvectors, projected, x_mean, y_mean)


def _kernel_spectrum(X, Y, scale, fit_intercept):
    """:func:`task_spectrum` with more features than rows.

    The eigenpairs of the kernel ``Z Z^T`` (``n_rows x n_rows``) give those of
    ``Z^T Z`` for the centred, scaled design ``Z = C^(1/2) X_c``. For sparse
    ``X`` the centring enters as ``D D^T - u s^T - s u^T + |xbar|^2 s s^T``
    with ``D = C^(1/2) X``, ``s = sqrt(c)``, ``u = D xbar``.
    """
    x_mean, y_mean = _weighted_means(X, Y, scale, fit_intercept)
    n_rows, n_features = X.shape
    sqrt_scale = np.sqrt(scale)
    if sp.issparse(X):
        scaled_rows = sp.csr_matrix(sp.diags(sqrt_scale) @ X)
        shifted = scaled_rows @ x_mean
        kernel = (
            (scaled_rows @ scaled_rows.T).toarray()
            - np.outer(shifted, sqrt_scale)
            - np.outer(sqrt_scale, shifted)
            + (x_mean @ x_mean) * np.outer(sqrt_scale, sqrt_scale)
        )
        value_scale = float(scaled_rows.power(2).sum())
    else:
        design = sqrt_scale[:, None] * (X - x_mean)
        kernel = design @ design.T
        value_scale = 0.0
    kernel_values, kernel_vectors = scipy.linalg.eigh(kernel)
    keep = kernel_values > _cutoff(
        n_rows, n_features, max(kernel_values[-1], value_scale)
    )
    eigenvalues, kernel_vectors = kernel_values[keep], kernel_vectors[:, keep]
    singular_values = np.sqrt(eigenvalues)
    row_weights = kernel_vectors / singular_values
    if sp.issparse(X):
        eigenvectors = np.asarray(scaled_rows.T @ row_weights) - np.outer(
            x_mean, sqrt_scale @ row_weights
        )
    else:
        eigenvectors = design.T @ row_weights
    targets = sqrt_scale[:, None] * (Y - y_mean)
    projected = (kernel_vectors.T @ targets) * singular_values[:, None]
    return TaskSpectrum(eigenvalues, eigenvectors, projected, x_mean, y_mean)


class SpectrumBlock:
    """Spectra of several designs, padded to a common number of eigenpairs.

    Padding entries have eigenvalue 0, a zero eigenvector and zero projected
    targets, so they add nothing; ``valid`` marks the real eigenpairs. Padding
    lets every per-task product of the solve run as one batched product. The
    arrays are allocated once, at the size bound ``min(n_rows, n_features)``
    of the members, and filled spectrum by spectrum with :meth:`store`, so
    that the per-task results are never all held twice.

    Parameters
    ----------
    tasks : ndarray of shape (n_spectra, n_targets)
        Task of every target column of every spectrum.
    n_features : int
    size : int
        Largest number of eigenpairs of a member.

    Attributes
    ----------
    eigenvalues : ndarray of shape (n_spectra, size)
    valid : ndarray of shape (n_spectra, size) of bool
    eigenvectors : ndarray of shape (n_spectra, n_features, size)
    projected_targets : ndarray of shape (n_spectra, size, n_targets)
    x_mean : ndarray of shape (n_spectra, n_features)
    y_mean : ndarray of shape (n_spectra, n_targets)
    tasks : ndarray of shape (n_spectra, n_targets)
    """

    def __init__(self, tasks, n_features, size):
        self.tasks = np.asarray(tasks)
        n_spectra, n_targets = self.tasks.shape
        self.eigenvalues = np.zeros((n_spectra, size))
        self.valid = np.zeros((n_spectra, size), dtype=bool)
        self.eigenvectors = np.zeros((n_spectra, n_features, size))
        self.projected_targets = np.zeros((n_spectra, size, n_targets))
        self.x_mean = np.zeros((n_spectra, n_features))
        self.y_mean = np.zeros((n_spectra, n_targets))

    def store(self, s, spectrum):
        """Copy a :class:`TaskSpectrum` into slot ``s``."""
        k = len(spectrum.eigenvalues)
        self.eigenvalues[s, :k] = spectrum.eigenvalues
        self.valid[s, :k] = True
        self.eigenvectors[s, :, :k] = spectrum.eigenvectors
        self.projected_targets[s, :k] = spectrum.projected_targets
        self.x_mean[s] = spectrum.x_mean
        self.y_mean[s] = spectrum.y_mean

    def spectral_weights(self, alpha):
        """``h = lambda / (lambda + alpha)`` and ``g = 1 / (lambda + alpha)``.

        Both are 0 on padding (also for ``alpha = 0``, where the real
        eigenvalues are positive and ``g = 1 / lambda`` is the pseudo-inverse).
        """
        shifted = self.eigenvalues + alpha
        inverse = np.divide(1.0, shifted, out=np.zeros_like(shifted), where=self.valid)
        return self.eigenvalues * inverse, inverse

    def chunks(self, max_entries=2**20):
        """Slices of spectra whose eigenvectors hold about ``max_entries`` numbers.

        Products over a chunk need temporaries of the chunk's size only.
        """
        n_spectra, n_features, size = self.eigenvectors.shape
        step = max(1, max_entries // max(n_features * size, 1))
        return [slice(i, i + step) for i in range(0, n_spectra, step)]


def _gram_block(data, tasks, scale, *, fit_intercept, chunk_size=64):
    """Spectra of tasks with at least p rows, eigendecomposed in batches.

    All ``p`` eigenpairs are kept; those below the rounding cutoff are marked
    invalid (and weigh zero), which is what dropping them would do.
    """
    n_features = data.n_features
    block = SpectrumBlock(tasks[:, None], n_features, n_features)
    for start in range(0, len(tasks), chunk_size):
        part = tasks[start : start + chunk_size]
        grams = np.empty((len(part), n_features, n_features))
        moments = np.empty((len(part), n_features))
        value_scales = np.empty(len(part))
        for i, t in enumerate(part):
            grams[i], moment, x_mean, y_mean, value_scales[i] = centred_gram(
                data.task_rows(t),
                data.task_targets(t)[:, None],
                scale[data.task_slice(t)],
                fit_intercept=fit_intercept,
            )
            moments[i] = moment[:, 0]
            block.x_mean[start + i], block.y_mean[start + i] = x_mean, y_mean
        eigenvalues, eigenvectors = np.linalg.eigh(grams)
        del grams
        cutoffs = _EPS * np.maximum(data.task_counts[part], n_features)
        cutoffs *= np.maximum(np.maximum(eigenvalues[:, -1], value_scales), 0.0)
        valid = eigenvalues > cutoffs[:, None]
        rows = slice(start, start + len(part))
        block.valid[rows] = valid
        block.eigenvalues[rows] = np.where(valid, eigenvalues, 0.0)
        block.eigenvectors[rows] = eigenvectors
        projected = np.einsum("spk,sp->sk", eigenvectors, moments)
        block.projected_targets[rows, :, 0] = np.where(valid, projected, 0.0)
    return block


class MeanRegularizedFactorization:
    """Per-task spectra of a data set, reusable for any pair of strengths.

    Built once per data set (or cross-validation fold); then
    :meth:`solve` / :meth:`solve_path` return the exact minimiser of the
    module's objective for any ``alpha`` and ``alpha_mean`` at the cost of a
    ``p x p`` eigendecomposition per ``alpha`` and batched diagonal work over
    the tasks. When every task observes the same rows with the same weights
    (fully observed wide data), one spectrum serves all tasks.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    fit_intercept : bool
        Fit unpenalised per-task intercepts.
    free_features : sequence of int, default=()
        Features whose shared coefficient ``alpha_mean`` does not penalise
        (the shared intercept of :class:`TiedInterceptFactorization`). They
        are eliminated from the ``w_0`` system by its Schur complement, which
        depends on ``alpha`` only, so that the path over ``alpha_mean`` keeps
        one eigendecomposition.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.linear_model import MeanRegularizedRegressor
    >>> X = np.array([[0, 1.0], [0, 2.0], [0, 3.0], [1, 1.0], [1, 2.0], [1, 4.0]])
    >>> y = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 8.0])
    >>> data = check_task_data(MeanRegularizedRegressor(), X, y, task_column=0)
    >>> factorization = MeanRegularizedFactorization(data, fit_intercept=True)
    >>> shared_coef, coef, intercept = factorization.solve(alpha=0.0, alpha_mean=1.0)
    >>> coef.round(6).tolist()  # alpha=0: independent least squares per task
    [[1.0], [2.0]]
    """

    def __init__(self, data, *, fit_intercept, free_features=()):
        self.n_tasks = data.n_tasks
        self.n_features = data.n_features
        self.fit_intercept = fit_intercept
        self.free_features = np.asarray(free_features, dtype=np.intp)
        self.scaling = problem_scaling(data.X, data.y)
        data = scale_task_data(data, self.scaling)
        # One BLAS thread for small tasks (threads cost more than they bring).
        with blas_threads_for(_largest_product(data)):
            self.blocks = self._spectra(data, fit_intercept)

    def _spectra(self, data, fit_intercept):
        """The :class:`SpectrumBlock` list of ``data``."""
        scale = observation_scale(data)
        if data.shared_design:
            targets = data.y.reshape(data.n_tasks, -1).T
            spectrum = task_spectrum(
                data.X,
                targets,
                scale[: targets.shape[0]],
                fit_intercept=fit_intercept,
            )
            block = SpectrumBlock(
                np.arange(data.n_tasks)[None, :],
                data.n_features,
                len(spectrum.eigenvalues),
            )
            block.store(0, spectrum)
            return [block]
        # Tasks with at least p rows: p x p Gram matrices, one batched eigh.
        # Others: kernel form, grouped by a power-of-two ceiling of n_t so
        # that padding wastes less than 2x.
        counts = data.task_counts
        gram_tasks = np.flatnonzero(counts >= data.n_features)
        blocks = []
        if len(gram_tasks):
            blocks.append(
                _gram_block(data, gram_tasks, scale, fit_intercept=fit_intercept)
            )
        kernel_tasks = np.flatnonzero(counts < data.n_features)
        keys = np.ceil(np.log2(np.maximum(counts[kernel_tasks], 1))).astype(int)
        for key in np.unique(keys):
            members = kernel_tasks[keys == key]
            block = SpectrumBlock(
                members[:, None], data.n_features, int(counts[members].max())
            )
            for s, t in enumerate(members):
                block.store(
                    s,
                    _kernel_spectrum(
                        data.task_rows(t),
                        data.task_targets(t)[:, None],
                        scale[data.task_slice(t)],
                        fit_intercept,
                    ),
                )
            blocks.append(block)
        return blocks

    def shared_system(self, alpha):
        """Left-hand matrix and right-hand side of the ``w_0`` system.

        Returns
        -------
        matrix : ndarray of shape (n_features, n_features)
            ``sum_t U_t diag(h_t) U_t^T``.
        rhs : ndarray of shape (n_features,)
            ``sum_t U_t diag(g_t) U_t^T r_t``.
        """
        matrix = np.zeros((self.n_features, self.n_features))
        rhs = np.zeros(self.n_features)
        for block in self.blocks:
            h, g = block.spectral_weights(alpha)
            n_targets = block.tasks.shape[1]
            weighted = g * block.projected_targets.sum(axis=2)
            for chunk in block.chunks():
                vectors = block.eigenvectors[chunk]
                flat = vectors.transpose(1, 0, 2).reshape(self.n_features, -1)
                matrix += n_targets * (flat * h[chunk].reshape(-1)) @ flat.T
                rhs += flat @ weighted[chunk].reshape(-1)
        return matrix, rhs

    def _shared_coef_path(self, alpha, ratios):
        """``w_0`` for every ratio ``alpha_mean / alpha``, (n_ratios, n_features).

        ``alpha`` is in the units of the rescaled data; the ratios are the
        same in both units.
        """
        matrix, rhs = self.shared_system(alpha)
        free = self.free_features
        if not len(free):
            return _ridge_path(matrix, rhs, ratios)
        # [[A, B], [B^T, C]] [u; z] = [r; q] with only u penalised:
        # z = C^+ (q - B^T u) and (rho I + A - B C^+ B^T) u = r - B C^+ q.
        penalised = np.setdiff1d(np.arange(self.n_features), free)
        A = matrix[np.ix_(penalised, penalised)]
        B = matrix[np.ix_(penalised, free)]
        C_inv = scipy.linalg.pinvh(matrix[np.ix_(free, free)])
        u = _ridge_path(
            A - B @ C_inv @ B.T, rhs[penalised] - B @ (C_inv @ rhs[free]), ratios
        )
        shared_coef = np.empty((len(ratios), self.n_features))
        shared_coef[:, penalised] = u
        shared_coef[:, free] = (rhs[free][None, :] - u @ B) @ C_inv
        return shared_coef

    def solve_path(self, alpha, alpha_means):
        """Exact solutions for one ``alpha`` and several ``alpha_mean``.

        Parameters
        ----------
        alpha : float
            Strength on the deviations, ``>= 0``.
        alpha_means : array-like of shape (n_alpha_means,)
            Strengths on the shared coefficients, ``>= 0``.

        Returns
        -------
        shared_coef : ndarray of shape (n_alpha_means, n_features)
        coef : ndarray of shape (n_alpha_means, n_tasks, n_features)
        intercept : ndarray of shape (n_alpha_means, n_tasks)
        """
        alpha_means = np.asarray(alpha_means, dtype=np.float64)
        if alpha == 0:
            # alpha -> 0+: rho = alpha_mean / alpha is infinite unless alpha_mean = 0.
            ratios = np.where(alpha_means == 0, 0.0, np.inf)
        else:
            ratios = alpha_means / alpha
        with blas_threads_for(self.n_features**3):
            shared_coef, coef, intercept = self._solve_scaled(
                self.scaling.strength(alpha, degree=2), ratios
            )
        return (
            self.scaling.coef_out(shared_coef),
            self.scaling.coef_out(coef),
            self.scaling.intercept_out(intercept),
        )

    def _solve_scaled(self, alpha, ratios):
        """:meth:`solve_path` on the rescaled data (``alpha`` in its units)."""
        shared_coef = self._shared_coef_path(alpha, ratios)
        n_path = shared_coef.shape[0]
        coef = np.empty((n_path, self.n_tasks, self.n_features))
        intercept = np.zeros((n_path, self.n_tasks))
        for block in self.blocks:
            h, g = block.spectral_weights(alpha)
            vectors = block.eigenvectors
            # own[s, :, r] = U_s g_s U_s^T r; pulled[s, :, m] = U_s h_s U_s^T w_0[m]
            own = vectors @ (g[:, :, None] * block.projected_targets)
            pulled = vectors @ (
                h[:, :, None] * (shared_coef @ vectors).transpose(0, 2, 1)
            )
            # w_t = w_0 + v_t with v_t = own - pulled: shape (s, r, m, p)
            task_coef = (
                shared_coef[None, None]
                - pulled.transpose(0, 2, 1)[:, None]
                + own.transpose(0, 2, 1)[:, :, None]
            )
            tasks = block.tasks.reshape(-1)
            coef[:, tasks] = task_coef.reshape(len(tasks), n_path, -1).transpose(
                1, 0, 2
            )
            if self.fit_intercept:
                intercept[:, tasks] = (
                    (
                        block.y_mean[:, :, None]
                        - np.einsum("srmp,sp->srm", task_coef, block.x_mean)
                    )
                    .reshape(len(tasks), n_path)
                    .T
                )
        return shared_coef, coef, intercept

    def solve(self, alpha, alpha_mean):
        """Exact solution for one pair of strengths.

        Returns
        -------
        shared_coef : ndarray of shape (n_features,)
        coef : ndarray of shape (n_tasks, n_features)
        intercept : ndarray of shape (n_tasks,)
        """
        shared_coef, coef, intercept = self.solve_path(alpha, [alpha_mean])
        return shared_coef[0], coef[0], intercept[0]


def _ridge_path(matrix, rhs, ratios):
    """``(rho I + matrix)^+ rhs`` for every ``rho`` in ``ratios``, one eigh."""
    eigenvalues, eigenvectors = scipy.linalg.eigh(matrix)
    coordinates = eigenvectors.T @ rhs
    diagonal = ratios[:, None] + eigenvalues[None, :]
    cutoff = len(rhs) * _EPS * max(eigenvalues[-1], 0.0)
    safe = np.where(diagonal > cutoff, diagonal, np.inf)
    return (coordinates / safe) @ eigenvectors.T


def tied_closed_form_applies(data, alpha, intercept_alpha):
    """Whether :class:`TiedInterceptFactorization` serves ``alpha``.

    It needs ``alpha > 0`` (the intercept's column is ``sqrt(alpha /
    intercept_alpha)``), and that column within float64's range of the
    features' magnitudes (:func:`~skmtl.solvers._scaling.check_column_scales`):
    features of magnitude ``1e300`` with ``alpha`` of order 1 are fitted by
    L-BFGS instead.
    """
    if not alpha > 0:
        return False
    kappa = np.sqrt(alpha / intercept_alpha)
    maxima = _column_maxima(data.X)
    nonzero = np.append(maxima[maxima > 0], kappa)
    return bool(
        np.isfinite(kappa) and nonzero.max() <= MAX_COLUMN_RATIO * nonzero.min()
    )


class TiedInterceptFactorization:
    """The closed form with the task intercepts tied to a shared one.

    The objective of the module plus ``(intercept_alpha / 2) sum_t (b_t -
    b_0)^2``, ``b_0`` unpenalised. With ``kappa = sqrt(alpha /
    intercept_alpha)`` and the intercept written ``b_t = kappa a_t``, the
    tie is ``(alpha / 2) (a_t - a_0)^2``: the intercept becomes one more
    feature, constant ``kappa``, tied to the shared one with the strength of
    the other coefficients, and the problem is the module's without
    intercepts and with an unpenalised shared coordinate
    (:class:`MeanRegularizedFactorization` with ``free_features``). The
    spectra depend on ``kappa``, hence on ``alpha``: they are computed once
    per ``alpha`` and serve every ``alpha_mean``.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    intercept_alpha : float
        Strength of the tie, ``> 0``.
    """

    fit_intercept = True

    def __init__(self, data, *, intercept_alpha):
        if not intercept_alpha > 0:
            raise ValueError(
                f"intercept_alpha must be positive; got {intercept_alpha!r}."
            )
        self.data = data
        self.intercept_alpha = float(intercept_alpha)
        self.n_tasks = data.n_tasks
        self.n_features = data.n_features

    def _augmented(self, kappa):
        """``data`` with one more column, constant ``kappa``."""
        X = self.data.X
        column = np.full((X.shape[0], 1), kappa)
        augmented = copy.copy(self.data)
        if sp.issparse(X):
            augmented.X = sp.hstack([X, column], format="csr")
        else:
            augmented.X = np.hstack([X, column])
        return augmented

    def solve_path(self, alpha, alpha_means):
        """As :meth:`MeanRegularizedFactorization.solve_path`; ``alpha > 0``."""
        if not tied_closed_form_applies(self.data, alpha, self.intercept_alpha):
            raise ValueError(
                "The closed form with tied task intercepts writes the intercept "
                "as a feature of constant sqrt(alpha / intercept_alpha), which "
                f"needs alpha > 0 and a magnitude near the features'; got "
                f"alpha={alpha!r}, intercept_alpha={self.intercept_alpha!r}. "
                "Use solver='lbfgs'."
            )
        kappa = np.sqrt(alpha / self.intercept_alpha)
        factorization = MeanRegularizedFactorization(
            self._augmented(kappa),
            fit_intercept=False,
            free_features=[self.n_features],
        )
        shared_coef, coef, _ = factorization.solve_path(alpha, alpha_means)
        return shared_coef[:, :-1], coef[:, :, :-1], kappa * coef[:, :, -1]

    def solve(self, alpha, alpha_mean):
        """As :meth:`MeanRegularizedFactorization.solve`; ``alpha > 0``."""
        shared_coef, coef, intercept = self.solve_path(alpha, [alpha_mean])
        return shared_coef[0], coef[0], intercept[0]


def task_predictions(data, coef, intercept):
    """Linear predictions ``x_i . w_t + b_t`` of every observation.

    Parameters
    ----------
    data : TaskData
    coef : ndarray of shape (n_tasks, n_features)
    intercept : ndarray of shape (n_tasks,)

    Returns
    -------
    predictions : ndarray of shape (n_observations,)
        In the grouped order of ``data``.
    """
    predictions = np.empty(data.n_observations)
    for t in range(data.n_tasks):
        rows = data.task_rows(t)
        predictions[data.task_slice(t)] = (
            safe_sparse_dot(rows, coef[t], dense_output=True) + intercept[t]
        )
    return predictions


def mean_regularized_objective(
    data, coef, intercept, shared_coef, *, alpha, alpha_mean
):
    """Value of the mean-regularised least-squares objective.

    Parameters
    ----------
    data : TaskData
    coef : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t = w_0 + v_t``.
    intercept : ndarray of shape (n_tasks,)
    shared_coef : ndarray of shape (n_features,)
        The shared mean ``w_0``.
    alpha, alpha_mean : float

    Returns
    -------
    objective : float
    """
    data_term = SquaredLoss().value(
        data.y, task_predictions(data, coef, intercept), observation_scale(data)
    )
    penalty = MeanRegularization(alpha, alpha_mean)
    return data_term + penalty.value(shared_coef, coef - shared_coef)


def solve_mean_regularized_closed_form(
    data, *, alpha, alpha_mean, fit_intercept, intercept_alpha=0.0
):
    """Exact minimiser of the mean-regularised least-squares objective.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    alpha : float
        Strength on the deviations ``v_t``, ``>= 0``.
    alpha_mean : float
        Strength on the shared coefficients ``w_0``, ``>= 0``.
    fit_intercept : bool
        Fit per-task intercepts.
    intercept_alpha : float, default=0.0
        Strength of the tie ``(intercept_alpha / 2) sum_t (b_t - b_0)^2`` of
        the intercepts to an unpenalised shared one (0: free intercepts);
        positive values need ``alpha > 0`` (:class:`TiedInterceptFactorization`).

    Returns
    -------
    result : SolverResult
        ``n_iter=0``, ``gap=0.0``; ``extra["shared_coef"]`` is ``w_0`` and
        ``extra["shared_intercept"]`` the unweighted mean of the intercepts
        (``b_0`` when they are tied).

    References
    ----------
    T. Evgeniou and M. Pontil. Regularized multi-task learning. KDD 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.linear_model import MeanRegularizedRegressor
    >>> X = np.array([[0, 1.0], [0, 2.0], [0, 3.0], [1, 1.0], [1, 2.0], [1, 4.0]])
    >>> y = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 8.0])
    >>> data = check_task_data(MeanRegularizedRegressor(), X, y, task_column=0)
    >>> result = solve_mean_regularized_closed_form(
    ...     data, alpha=1e12, alpha_mean=0.0, fit_intercept=True)
    >>> result.coef.round(4).tolist()  # alpha -> inf: one pooled slope
    [[1.7], [1.7]]
    """
    if fit_intercept and intercept_alpha > 0:
        return _solve_tied(data, alpha, alpha_mean, intercept_alpha)
    factorization = MeanRegularizedFactorization(data, fit_intercept=fit_intercept)
    shared_coef, coef, intercept = factorization.solve(alpha, alpha_mean)
    # On the rescaled data, where no square overflows; strengths beyond
    # float64 multiply coefficients that are exactly zero.
    scaling = factorization.scaling
    largest = np.finfo(np.float64).max
    objective = scaling.objective_out(
        mean_regularized_objective(
            scale_task_data(data, scaling),
            scaling.coef_in(coef),
            scaling.intercept_in(intercept),
            scaling.coef_in(shared_coef),
            alpha=min(scaling.strength(alpha, degree=2), largest),
            alpha_mean=min(scaling.strength(alpha_mean, degree=2), largest),
        )
    )
    return SolverResult(
        coef=coef,
        intercept=intercept,
        n_iter=0,
        objective=objective,
        gap=0.0,
        converged=True,
        extra={
            "shared_coef": shared_coef,
            "shared_intercept": float(np.mean(intercept)),
        },
    )


def _solve_tied(data, alpha, alpha_mean, intercept_alpha):
    """:func:`solve_mean_regularized_closed_form` with tied intercepts."""
    shared_coef, coef, intercept = TiedInterceptFactorization(
        data, intercept_alpha=intercept_alpha
    ).solve(alpha, alpha_mean)
    shared_intercept = float(np.mean(intercept))
    with np.errstate(over="ignore", invalid="ignore"):
        objective = mean_regularized_objective(
            data, coef, intercept, shared_coef, alpha=alpha, alpha_mean=alpha_mean
        ) + 0.5 * intercept_alpha * np.sum((intercept - shared_intercept) ** 2)
    return SolverResult(
        coef=coef,
        intercept=intercept,
        n_iter=0,
        objective=float(objective),
        gap=0.0,
        converged=True,
        extra={"shared_coef": shared_coef, "shared_intercept": shared_intercept},
    )
