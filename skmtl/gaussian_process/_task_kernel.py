"""Task covariances ``B = A A^T + diag(kappa)`` and the hyper-parameter vector.

A multi-task GP with ``Q`` latent processes (the linear model of
coregionalisation, LMC; ``Q = 1`` is the intrinsic coregionalisation model,
ICM) has the prior covariance

    cov(f_s(x), f_t(x')) = sum_q B_q[s, t] k_q(x, x'),
    B_q = A_q A_q^T + diag(kappa_q),

with ``A_q`` of shape ``(n_tasks, rank)`` and ``kappa_q > 0``. This module
owns the parameterisation of the ``B_q`` and the layout of the estimator's
full parameter vector

    theta = [theta_1, ..., theta_Q,            (sklearn kernel thetas, log space)
             A_1.ravel(), log(kappa_1), ...,   (one block per latent process)
             A_Q.ravel(), log(kappa_Q),
             log(noise)]                       (one per task, or one shared)

The entries of ``A_q`` are unconstrained reals (``B_q`` is invariant to the
sign of the columns of ``A_q``), the other entries are logarithms, like the
``theta`` of a scikit-learn kernel. The sklearn kernels keep their own
``theta``; the task parameters never enter them.

The solvers return the gradient of the likelihood with respect to the kernel
*matrix* ``K_q``; :func:`kernel_gradient` turns it into the gradient with
respect to ``theta_q``.
"""

import numpy as np
from sklearn.base import clone
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Product,
    Sum,
    WhiteKernel,
)

#: Bounds of ``kappa`` (the task-specific diagonal of ``B``), in the units of
#: the (normalised) targets.
KAPPA_BOUNDS = (1e-6, 1e5)
#: Bounds of the observation noise variance, in the units of the (normalised)
#: targets.
NOISE_BOUNDS = (1e-6, 1e5)
KAPPA_INIT = 1.0
NOISE_INIT = 0.1
#: Standard deviation of the random initial entries of ``A``. ``A = 0`` is a
#: stationary point of the likelihood (its gradient there is ``2 G A = 0``),
#: so the optimiser must start away from it.
A_INIT_SCALE = 0.1
#: Initial values of ``kappa`` and of the noise at optimiser restarts are drawn
#: log-uniformly from this range rather than from the whole bounds, whose ends
#: are implausible for normalised targets.
RESTART_RANGE = (1e-2, 1e1)
#: Standard deviation of ``A`` at optimiser restarts.
A_RESTART_SCALE = 1.0
#: Smallest starting ``kappa`` derived from data, relative to the diagonal
#: of the estimated task covariance.
KAPPA_FLOOR = 0.05


class TaskCovariance:
    """Low-rank-plus-diagonal task covariance ``B = A A^T + diag(kappa)``.

    Parameters
    ----------
    n_tasks : int
        Number of tasks (the size of ``B``).
    rank : int
        Number of columns of ``A``.
    fixed : bool, default=False
        If True, ``B`` is the constant ``ones((1, 1))`` and has no parameters:
        with a single task ``B`` is a scalar that is redundant with the scale
        of the kernel, so fixing it keeps the model identifiable (and equal to
        a single-task GP).

    Attributes
    ----------
    n_params : int
        Length of the parameter block: ``n_tasks * rank + n_tasks`` (the
        entries of ``A`` row by row, then ``log(kappa)``), or 0 when fixed.

    Examples
    --------
    >>> import numpy as np
    >>> task_covariance = TaskCovariance(n_tasks=2, rank=1)
    >>> params = np.array([1.0, -1.0, np.log(0.5), np.log(0.5)])
    >>> task_covariance.matrix(params)
    array([[ 1.5, -1. ],
           [-1. ,  1.5]])
    """

    def __init__(self, n_tasks, rank, fixed=False):
        self.n_tasks = n_tasks
        self.rank = rank
        self.fixed = fixed
        self.n_params = 0 if fixed else n_tasks * rank + n_tasks

    def unpack(self, params):
        """Return ``A`` of shape (n_tasks, rank) and ``kappa`` of shape (n_tasks,)."""
        n_a = self.n_tasks * self.rank
        A = np.asarray(params[:n_a]).reshape(self.n_tasks, self.rank)
        return A, np.exp(params[n_a:])

    def matrix(self, params):
        """The task covariance ``B`` of shape (n_tasks, n_tasks)."""
        if self.fixed:
            return np.ones((1, 1))
        A, kappa = self.unpack(params)
        return A @ A.T + np.diag(kappa)

    def gradient(self, params, B_gradient):
        """Chain rule from ``dL/dB`` to the parameters.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The parameter block.
        B_gradient : ndarray of shape (n_tasks, n_tasks)
            ``G[s, t] = dL / dB[s, t]``, every entry of ``B`` taken as free
            (so ``G`` is symmetric for a symmetric objective).

        Returns
        -------
        gradient : ndarray of shape (n_params,)
            ``dL/dA = (G + G^T) A`` (as ``dB = dA A^T + A dA^T``) and
            ``dL/dlog(kappa) = diag(G) * kappa``.
        """
        if self.fixed:
            return np.zeros(0)
        A, kappa = self.unpack(params)
        grad_A = (B_gradient + B_gradient.T) @ A
        return np.concatenate([grad_A.ravel(), np.diag(B_gradient) * kappa])

    def bounds(self):
        """Bounds of the parameter block, shape (n_params, 2).

        ``A`` is unbounded; ``log(kappa)`` lies in ``log(KAPPA_BOUNDS)``.
        """
        n_a = self.n_tasks * self.rank
        a_bounds = np.tile([-np.inf, np.inf], (n_a, 1))
        kappa_bounds = np.tile(np.log(KAPPA_BOUNDS), (self.n_tasks, 1))
        return np.vstack([a_bounds, kappa_bounds])[: self.n_params]

    def initial(self, rng, restart=False):
        """Starting parameters: random ``A``, ``kappa = 1`` (random on restarts).

        Parameters
        ----------
        rng : numpy.random.RandomState
            Source of the random entries of ``A``.
        restart : bool, default=False
            Draw ``A`` with a larger scale and ``log(kappa)`` uniformly in
            ``log(RESTART_RANGE)``, for an optimiser restart.

        Returns
        -------
        params : ndarray of shape (n_params,)
        """
        if self.fixed:
            return np.zeros(0)
        scale = A_RESTART_SCALE if restart else A_INIT_SCALE
        A = scale * rng.standard_normal((self.n_tasks, self.rank))
        if restart:
            log_kappa = rng.uniform(*np.log(RESTART_RANGE), size=self.n_tasks)
        else:
            log_kappa = np.full(self.n_tasks, np.log(KAPPA_INIT))
        return np.concatenate([A.ravel(), log_kappa])

    def initial_from(self, task_covariance, rng):
        """Starting parameters that approximate a given ``B0``.

        ``A`` holds the leading ``rank`` eigenvectors of ``B0`` scaled by the
        square roots of their eigenvalues, and ``kappa`` the rest of the
        diagonal, at least ``KAPPA_FLOOR`` times it: a ``kappa`` near 0 is
        near the bound, where the optimiser moves slowly. A column of ``A``
        that comes out (almost) 0 is replaced by a small random one, as
        ``A = 0`` is a stationary point.

        Parameters
        ----------
        task_covariance : ndarray of shape (n_tasks, n_tasks)
            ``B0``, symmetric positive semi-definite.
        rng : numpy.random.RandomState

        Returns
        -------
        params : ndarray of shape (n_params,)
        """
        if self.fixed:
            return np.zeros(0)
        eigenvalues, eigenvectors = np.linalg.eigh(task_covariance)
        leading = slice(self.n_tasks - self.rank, None)
        A = eigenvectors[:, leading] * np.sqrt(np.maximum(eigenvalues[leading], 0.0))
        diagonal = np.diag(task_covariance)
        scale = np.sqrt(diagonal.mean())
        small = np.linalg.norm(A, axis=0) < 1e-3 * scale
        A[:, small] = (
            A_INIT_SCALE * scale * rng.standard_normal((self.n_tasks, small.sum()))
        )
        kappa = np.maximum(diagonal - (A**2).sum(axis=1), KAPPA_FLOOR * diagonal)
        log_kappa = np.log(np.clip(kappa, *KAPPA_BOUNDS))
        return np.concatenate([A.ravel(), log_kappa])


class HyperParameters:
    """Layout of the full parameter vector of a multi-task GP.

    Parameters
    ----------
    kernels : list of sklearn kernels
        One kernel over the features per latent process.
    n_tasks : int
        Number of tasks.
    rank : int
        Rank of ``A_q``.
    noise : {"task", "shared"}
        One noise variance per task, or one for all tasks.

    Attributes
    ----------
    task_covariances : list of TaskCovariance
        One per latent process; fixed to ``B = 1`` when ``n_tasks == 1``.
    n_params : int
        Length of ``theta``.

    Examples
    --------
    >>> from sklearn.gaussian_process.kernels import RBF
    >>> layout = HyperParameters([RBF()], n_tasks=3, rank=1, noise="task")
    >>> layout.n_params  # 1 length scale + 3 entries of A + 3 kappa + 3 noises
    10
    """

    def __init__(self, kernels, n_tasks, rank, noise):
        self.kernels = kernels
        self.n_tasks = n_tasks
        self.noise = noise
        self.task_covariances = [
            TaskCovariance(n_tasks, rank, fixed=n_tasks == 1) for _ in kernels
        ]
        sizes = [kernel.n_dims for kernel in kernels]
        sizes += [task_cov.n_params for task_cov in self.task_covariances]
        sizes.append(n_tasks if noise == "task" else 1)
        self._edges = np.concatenate([[0], np.cumsum(sizes)])
        self.n_params = int(self._edges[-1])

    @property
    def n_latent(self):
        """Number of latent processes ``Q``."""
        return len(self.kernels)

    def _block(self, theta, position):
        return theta[self._edges[position] : self._edges[position + 1]]

    def kernel_theta(self, theta, q):
        """The sklearn ``theta`` of kernel ``q``."""
        return self._block(theta, q)

    def task_params(self, theta, q):
        """The parameter block of ``B_q``."""
        return self._block(theta, self.n_latent + q)

    def log_noise(self, theta):
        """The log noise block: one entry per task, or one shared."""
        return self._block(theta, 2 * self.n_latent)

    def noise_variance(self, theta):
        """Noise variance of every task, shape (n_tasks,)."""
        noise = np.exp(self._block(theta, 2 * self.n_latent))
        return np.broadcast_to(noise, (self.n_tasks,)).copy()

    def split(self, theta):
        """Kernels with ``theta`` set, the ``B_q`` and the noise variances.

        Returns
        -------
        kernels : list of sklearn kernels
            Clones of the layout's kernels (the originals are not modified).
        task_covariances : list of ndarray of shape (n_tasks, n_tasks)
        noise : ndarray of shape (n_tasks,)
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(
                f"theta must have shape ({self.n_params},): the kernel thetas, "
                f"the task parameters and the log noise; got shape {theta.shape}."
            )
        kernels = [
            kernel.clone_with_theta(self.kernel_theta(theta, q))
            for q, kernel in enumerate(self.kernels)
        ]
        task_covariances = [
            task_cov.matrix(self.task_params(theta, q))
            for q, task_cov in enumerate(self.task_covariances)
        ]
        return kernels, task_covariances, self.noise_variance(theta)

    def gradient(self, theta, kernel_gradients, B_gradients, noise_gradient):
        """Assemble ``dL/dtheta`` from the gradients a solver returns.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        kernel_gradients : list of ndarray
            ``dL/dtheta_q`` for every kernel (already in sklearn's log space).
        B_gradients : list of ndarray of shape (n_tasks, n_tasks)
            ``dL/dB_q``.
        noise_gradient : ndarray of shape (n_tasks,)
            ``dL/dsigma_t^2`` of every task's noise variance.

        Returns
        -------
        gradient : ndarray of shape (n_params,)
        """
        task_gradients = [
            task_cov.gradient(self.task_params(theta, q), B_gradients[q])
            for q, task_cov in enumerate(self.task_covariances)
        ]
        noise = self.noise_variance(theta)
        log_noise_gradient = noise * noise_gradient
        if self.noise == "shared":
            log_noise_gradient = np.array([log_noise_gradient.sum()])
        return np.concatenate([*kernel_gradients, *task_gradients, log_noise_gradient])

    def bounds(self):
        """Bounds of ``theta``, shape (n_params, 2) (``A`` is unbounded)."""
        n_noise = self.n_tasks if self.noise == "task" else 1
        blocks = [np.reshape(kernel.bounds, (-1, 2)) for kernel in self.kernels]
        blocks += [task_cov.bounds() for task_cov in self.task_covariances]
        blocks.append(np.tile(np.log(NOISE_BOUNDS), (n_noise, 1)))
        return np.vstack(blocks)

    def initial(self, rng, restart=False, start=None):
        """Starting ``theta``.

        Kernel ``q = 0`` starts from the user's hyper-parameters, or from
        ``start.kernel_theta`` if given. For ``Q > 1`` the other latent
        kernels start from them perturbed by ``N(0, 1)`` in log space, so
        that the latent processes differ. The task parameters start as in
        :meth:`TaskCovariance.initial`, or (with ``start``) from
        ``start.task_covariance / Q`` as in :meth:`TaskCovariance.initial_from`;
        the noise at ``NOISE_INIT`` or ``start.noise``. On a restart every
        kernel theta is drawn uniformly within its bounds (as sklearn does),
        except the amplitudes of :meth:`amplitude_index` (redundant with
        ``B_q``), and the noise log-uniformly in ``RESTART_RANGE``.

        Parameters
        ----------
        rng : numpy.random.RandomState
        restart : bool, default=False
        start : IndependentStart, default=None
            A start estimated from the data (not used on restarts).

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        blocks = []
        for q, kernel in enumerate(self.kernels):
            base = kernel.theta if start is None else start.kernel_theta
            bounds = np.reshape(kernel.bounds, (-1, 2))
            if restart:
                _check_finite_bounds(bounds)
                drawn = rng.uniform(bounds[:, 0], bounds[:, 1])
                amplitude = self.amplitude_index(q)
                if amplitude is not None:
                    drawn[amplitude] = kernel.theta[amplitude]
                blocks.append(drawn)
            elif q == 0:
                blocks.append(np.asarray(base, dtype=np.float64))
            else:
                jitter = rng.standard_normal(kernel.n_dims)
                blocks.append(np.clip(base + jitter, *bounds.T))
        for task_cov in self.task_covariances:
            if start is None or restart:
                blocks.append(task_cov.initial(rng, restart))
            else:
                B0 = start.task_covariance / self.n_latent
                blocks.append(task_cov.initial_from(B0, rng))
        blocks.append(self._initial_noise(rng, restart, start))
        return np.concatenate(blocks)

    def _initial_noise(self, rng, restart, start):
        n_noise = self.n_tasks if self.noise == "task" else 1
        if restart:
            return rng.uniform(*np.log(RESTART_RANGE), size=n_noise)
        if start is None:
            return np.full(n_noise, np.log(NOISE_INIT))
        log_noise = np.log(np.clip(start.noise, *NOISE_BOUNDS))
        if self.noise == "shared":
            return np.array([log_noise.mean()])
        return log_noise

    def amplitude_index(self, q):
        """Position, in kernel ``q``'s theta, of an amplitude redundant with ``B_q``.

        For a kernel ``ConstantKernel * k`` (or ``k * ConstantKernel``) with
        a free constant and several tasks, only the product of the constant
        and ``B_q`` enters the likelihood. Returns None for one task (``B``
        is fixed) or for any other kernel.
        """
        kernel = self.kernels[q]
        if self.n_tasks == 1 or type(kernel) is not Product:
            return None
        for position, factor in enumerate((kernel.k1, kernel.k2)):
            if type(factor) is ConstantKernel and factor.n_dims == 1:
                return 0 if position == 0 else kernel.k1.n_dims
        return None

    def kappa_positions(self):
        """Positions of the ``log(kappa_q)`` entries in ``theta``."""
        positions = []
        for q, task_cov in enumerate(self.task_covariances):
            if not task_cov.fixed:
                start = (
                    self._edges[self.n_latent + q] + task_cov.n_tasks * task_cov.rank
                )
                positions.append(np.arange(start, start + task_cov.n_tasks))
        return np.concatenate(positions) if positions else np.zeros(0, dtype=int)

    def optimizer_bounds(self, theta):
        """Bounds for the optimiser: :meth:`bounds` with amplitudes pinned.

        The amplitudes of :meth:`amplitude_index` are held at their value in
        ``theta``: the likelihood is flat along them (``B_q`` absorbs the
        scale), and an optimiser left free drifts along this valley, towards
        tiny amplitudes and a huge ``A_q``, which costs iterations and
        conditioning without changing the model.
        """
        bounds = self.bounds()
        for q in range(self.n_latent):
            amplitude = self.amplitude_index(q)
            if amplitude is not None:
                position = self._edges[q] + amplitude
                bounds[position] = theta[position]
        return bounds


def _check_finite_bounds(bounds):
    if not np.isfinite(bounds).all():
        raise ValueError(
            "Multiple optimizer restarts (n_restarts_optimizer>0) require finite "
            "bounds on every kernel hyper-parameter; set the bounds of the kernel "
            "or use n_restarts_optimizer=0."
        )


def latent_kernels(kernel, n_latent):
    """``n_latent`` independent clones of ``kernel``."""
    return [clone(kernel) for _ in range(n_latent)]


# --------------------------------------------------------------------------
# gradients with respect to the kernel hyper-parameters
# --------------------------------------------------------------------------


def kernel_gradient(kernel, X, K_adjoint, K=None):
    """``dL/dtheta`` of a kernel from ``dL/dK``, without the gradient tensor.

    Computes ``sum_ij K_adjoint[i, j] dK[i, j]/dtheta_p`` for every
    hyper-parameter ``p`` (in sklearn's log space). scikit-learn's
    ``kernel(X, eval_gradient=True)`` builds an ``(n, n, n_dims)`` tensor;
    for ``ConstantKernel``, ``RBF``, ``WhiteKernel`` and their sums and
    products the contraction is done directly in ``O(n^2 n_features)`` time
    and ``O(n^2)`` memory (GPy's ``update_gradients_full`` does the same).
    Any other kernel falls back to the tensor.

    Parameters
    ----------
    kernel : sklearn kernel
    X : ndarray of shape (n, n_features)
    K_adjoint : ndarray of shape (n, n)
        ``dL/dK``, symmetric.
    K : ndarray of shape (n, n), default=None
        ``kernel(X)`` if already computed.

    Returns
    -------
    gradient : ndarray of shape (kernel.n_dims,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process.kernels import RBF, ConstantKernel
    >>> X = np.random.RandomState(0).rand(5, 2)
    >>> M = np.ones((5, 5))
    >>> kernel = ConstantKernel(2.0) * RBF([1.0, 0.5])
    >>> _, tensor = kernel(X, eval_gradient=True)
    >>> np.allclose(kernel_gradient(kernel, X, M), tensor.sum(axis=(0, 1)))
    True
    """
    if kernel.n_dims == 0:
        return np.zeros(0)
    kind = type(kernel)
    if kind is Sum:
        return np.concatenate(
            [
                kernel_gradient(kernel.k1, X, K_adjoint),
                kernel_gradient(kernel.k2, X, K_adjoint),
            ]
        )
    if kind is Product:
        return _product_gradient(kernel, X, K_adjoint, K)
    if kind is ConstantKernel:
        return np.array([kernel.constant_value * K_adjoint.sum()])
    if kind is WhiteKernel:
        return np.array([kernel.noise_level * np.trace(K_adjoint)])
    if kind is RBF:
        return _rbf_gradient(kernel, X, K_adjoint * (kernel(X) if K is None else K))
    _, tensor = kernel(X, eval_gradient=True)
    return np.tensordot(K_adjoint, tensor, axes=([0, 1], [0, 1]))


def _product_gradient(kernel, X, K_adjoint, K):
    # d(k1 k2) = dk1 k2 + k1 dk2: contract each factor with M * other.
    k1, k2 = kernel.k1, kernel.k2
    if K is not None and type(k1) is ConstantKernel and k1.constant_value > 0:
        # c * k2, the usual amplitude: with M * c and K2 = K / c the
        # contractions are sum(M * K) and those of k2 with M * c, and k2's
        # matrix is not recomputed (its evaluation costs as much as them).
        c = k1.constant_value
        if type(k2) is RBF:
            P = K_adjoint * K
            grad_constant = [P.sum()] if k1.n_dims else []
            return np.concatenate([grad_constant, _rbf_gradient(k2, X, P)])
        grad_constant = [np.sum(K_adjoint * K)] if k1.n_dims else []
        return np.concatenate(
            [grad_constant, kernel_gradient(k2, X, K_adjoint * c, K / c)]
        )
    K1, K2 = k1(X), k2(X)
    return np.concatenate(
        [
            kernel_gradient(k1, X, K_adjoint * K2, K1),
            kernel_gradient(k2, X, K_adjoint * K1, K2),
        ]
    )


def _rbf_gradient(kernel, X, P):
    # P = M * K (M = dL/dK). dK_ij/dlog(l_d) = K_ij (x_id - x_jd)^2 / l_d^2, and
    # sum_ij P_ij (u_i - u_j)^2 = sum_i (P 1 + P^T 1)_i u_i^2 - 2 u^T P u.
    # Centring the columns first keeps this difference well conditioned.
    length_scale = np.asarray(kernel.length_scale, dtype=np.float64)
    scaled = (X - X.mean(axis=0)) / length_scale
    weights = P.sum(axis=0) + P.sum(axis=1)
    per_feature = weights @ scaled**2 - 2 * np.sum(scaled * (P @ scaled), axis=0)
    if kernel.n_dims == 1:
        return np.array([per_feature.sum()])
    return per_feature
