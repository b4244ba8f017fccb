"""Sparse solver: the collapsed variational bound of Titsias (2009).

With ``M`` inducing inputs ``Z`` (shared by all latent processes and tasks)
the bound on the log marginal likelihood of the ``N`` observations is

    F = log N(y | 0, Qnn + D) - 1/2 sum_i (Knn[i, i] - Qnn[i, i]) / d_i,
    Qnn[i, j] = sum_q B_q[t_i, t_j] k_q(x_i, Z) k_q(Z, Z)^{-1} k_q(Z, x_j),

``F <= log p(y)``, with equality when ``Qnn = Knn`` (e.g. ``Z`` = all
training inputs). The inducing variables follow the structure of
``B_q = A_q A_q^T + diag(kappa_q)``: writing
``f_t = sum_q sum_r A_q[t, r] u_qr + sqrt(kappa_q[t]) v_qt`` with independent
processes ``u_qr`` (shared) and ``v_qt`` (task-specific), all with kernel
``k_q``, they are ``u_qr(Z)`` (``Q R M`` shared values) and ``v_qt(Z)``
(``M`` values per task and latent process, seen only by that task's
observations). In whitened coordinates (``L_q L_q^T = k_q(Z, Z)``,
``Psi_q = k_q(X, Z) L_q^{-T}``) the observations are ``y = W u + e`` with
``u ~ N(0, I)``; ``W`` has a dense shared part ``Phi`` (``N x QRM``) and a
block-diagonal task part ``V_t`` (``n_t x QM``). Marginalising the task
part first leaves, for every task, the ``n_t x n_t`` matrix

    N_t = d_t I + V_t V_t^T,

whose solves cost ``O(n_t M min(n_t, M))`` (Woodbury in the smaller
dimension), and the shared ``QRM x QRM`` system
``S = I + sum_t Phi_t^T N_t^{-1} Phi_t``. One evaluation of the bound and
its gradient therefore costs ``O(N M^2)`` for any number of tasks (times
``Q^2 R``), plus ``O((QRM)^3)``.

The gradient with respect to ``W`` is ``(a a^T - C^{-1}) W + D^{-1} W``
(``C = W W^T + D``, ``a = C^{-1} y``); since ``F`` depends on ``Psi_q`` only
through ``Psi_q Psi_q^T``, ``dF/dk_q(X, Z) = G_q L_q^{-1}`` and
``dF/dk_q(Z, Z) = -1/2 L_q^{-T} Psi_q^T G_q L_q^{-1}`` with
``G_q = dF/dPsi_q``.

References
----------
Titsias, M. (2009). Variational learning of inducing variables in sparse
Gaussian processes. AISTATS 12, 567-574.

Alvarez, M. A., Luengo, D., Titsias, M. and Lawrence, N. D. (2010). Efficient
multioutput Gaussian processes through variational inducing kernels.
AISTATS 13.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_solve, cholesky, lapack, solve_triangular
from sklearn.cluster import kmeans_plusplus

from ._sparse_kernels import (
    cross_inducing_gradient,
    cross_theta_gradient,
    flush_subnormal,
    supports_inducing_gradient,
)
from ._task_kernel import kernel_gradient

#: Jitter added to ``k(Z, Z)``, relative to the mean of its diagonal.
INDUCING_JITTER = 1e-8


def choose_inducing_points(X, n_inducing, random_state):
    """``n_inducing`` training rows chosen by k-means++ seeding.

    k-means++ (Arthur & Vassilvitskii 2007) draws every next point with
    probability proportional to its squared distance to the points already
    drawn, so the inducing inputs spread over the data; with
    ``n_inducing >= n_rows`` every distinct row is used.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    n_inducing : int
    random_state : RandomState instance

    Returns
    -------
    Z : ndarray of shape (m, n_features)
    """
    distinct = np.unique(X, axis=0)
    if n_inducing >= len(distinct):
        return distinct
    centres, _ = kmeans_plusplus(
        X, n_clusters=n_inducing, random_state=random_state.randint(2**31 - 1)
    )
    return np.array(centres, dtype=np.float64)


def inducing_gradient_error(kernel):
    """The error for a kernel without a gradient with respect to ``Z``."""
    return ValueError(
        f"optimize_inducing=True needs the gradient of the kernel with respect "
        f"to the inducing inputs, which is available for ConstantKernel, "
        f"WhiteKernel, RBF, Matern (nu in 0.5, 1.5, 2.5, inf), "
        f"RationalQuadratic and their sums and products; got {kernel!r}. Use "
        f"optimize_inducing=False (the inducing inputs stay where they were "
        f"chosen) or one of these kernels."
    )


def check_inducing_kernels(kernels):
    """Raise :func:`inducing_gradient_error` for an unsupported kernel."""
    for kernel in kernels:
        if not supports_inducing_gradient(kernel):
            raise inducing_gradient_error(kernel)


class TaskStructure:
    """The ``A_q``, ``kappa_q`` of the latent processes, as the bound uses them.

    Parameters
    ----------
    A : list of ndarray of shape (n_tasks, rank)
    kappa : list of ndarray of shape (n_tasks,)
    has_task_part : bool
        False when ``B`` is fixed (one task): ``A = 1`` and no task-specific
        inducing variables.
    """

    def __init__(self, A, kappa, has_task_part=True):
        self.A = [np.asarray(a, dtype=np.float64) for a in A]
        self.kappa = [np.asarray(k, dtype=np.float64) for k in kappa]
        self.has_task_part = has_task_part

    @property
    def n_latent(self):
        return len(self.A)

    def B_diag(self, q):
        diagonal = np.sum(self.A[q] ** 2, axis=1)
        if self.has_task_part:
            diagonal = diagonal + self.kappa[q]
        return diagonal

    def B(self, q):
        matrix = self.A[q] @ self.A[q].T
        if self.has_task_part:
            matrix = matrix + np.diag(self.kappa[q])
        return matrix

    def shared_features(self, Psi, t):
        """``Phi`` of task ``t`` from its rows of every ``Psi_q``, (n_t, QRM)."""
        return np.hstack(
            [
                (Psi_q[:, np.newaxis, :] * A_q[t][np.newaxis, :, np.newaxis]).reshape(
                    len(Psi_q), -1
                )
                for Psi_q, A_q in zip(Psi, self.A)
            ]
        )

    def task_features(self, Psi, t):
        """``V_t`` from task ``t``'s rows of every ``Psi_q``, (n_t, QM) or (n_t, 0)."""
        if not self.has_task_part:
            return np.zeros((len(Psi[0]), 0))
        return np.hstack(
            [np.sqrt(kappa_q[t]) * Psi_q for Psi_q, kappa_q in zip(Psi, self.kappa)]
        )


class _TaskFactor:
    """Solves with ``N_t = d I + V V^T`` in the cheaper of its two forms."""

    def __init__(self, V, d):
        self.V = V
        self.d = d
        n, k = V.shape
        self.direct = 0 < n <= k
        if self.direct:
            N = V @ V.T
            N[np.diag_indices_from(N)] += d
            self.L = cholesky(N, lower=True, check_finite=False)
            self.logdet = 2.0 * np.log(np.diag(self.L)).sum()
        elif k > 0:
            E = V.T @ V / d
            E[np.diag_indices_from(E)] += 1.0
            self.L = cholesky(E, lower=True, check_finite=False)
            self.logdet = n * np.log(d) + 2.0 * np.log(np.diag(self.L)).sum()
        else:
            self.logdet = n * np.log(d)

    def solve(self, R):
        if self.direct:
            return cho_solve((self.L, True), R, check_finite=False)
        if self.V.shape[1] == 0:
            return R / self.d
        inner = cho_solve((self.L, True), self.V.T @ R, check_finite=False)
        return (R - self.V @ inner / self.d) / self.d

    def inverse_diagonal(self):
        if self.direct:
            # diag(N^{-1}) = column norms of L^{-1}; LAPACK's triangular
            # inverse costs a third of a solve with the identity.
            Linv, info = lapack.dtrtri(self.L, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"dtrtri failed with info={info}.")
            return np.sum(np.tril(Linv) ** 2, axis=0)
        n = self.V.shape[0]
        if self.V.shape[1] == 0:
            return np.full(n, 1.0 / self.d)
        half = solve_triangular(self.L, self.V.T, lower=True, check_finite=False)
        return 1.0 / self.d - np.sum(half**2, axis=0) / self.d**2


class _Inducing:
    """``L_q``, ``Psi_q`` (over the rows of ``X``) and ``k_q(x, x)``."""

    def __init__(self, X_rows, Z, kernels):
        self.L, self.Psi_rows, self.K_cross, self.k_diag, self.jitter = (
            [],
            [],
            [],
            [],
            [],
        )
        for kernel in kernels:
            Kzz = kernel(Z)
            jitter = INDUCING_JITTER * np.mean(np.diag(Kzz))
            Kzz[np.diag_indices_from(Kzz)] += jitter
            L = cholesky(Kzz, lower=True, check_finite=False)
            K_cross = flush_subnormal(kernel(X_rows, Z))
            self.L.append(L)
            self.jitter.append(jitter)
            self.K_cross.append(K_cross)
            self.Psi_rows.append(
                flush_subnormal(
                    solve_triangular(L, K_cross.T, lower=True, check_finite=False).T
                )
            )
            self.k_diag.append(kernel.diag(X_rows))


def _rows_of(matrix, observations, sl):
    rows = observations.row_index
    return matrix[sl] if rows is None else matrix[rows[sl]]


def sparse_log_marginal_likelihood(
    y,
    X_rows,
    Z,
    kernels,
    structure,
    noise,
    observations,
    eval_gradient=False,
    inducing_gradient=False,
):
    """The bound ``F`` and, optionally, its gradient.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Observed targets, grouped by task.
    X_rows : ndarray of shape (n_rows, n_features)
    Z : ndarray of shape (M, n_features)
        Inducing inputs.
    kernels : list of sklearn kernels
        The ``k_q``.
    structure : TaskStructure
    noise : ndarray of shape (n_tasks,)
        Diagonal ``d_t`` of every task's observations.
    observations : Observations
    eval_gradient : bool, default=False
    inducing_gradient : bool, default=False
        Also return ``dF/dZ`` (needs ``eval_gradient``).

    Returns
    -------
    bound : float
        ``-inf`` if a factorisation fails.
    gradient : tuple, only if ``eval_gradient``
        ``(kernel_grads, A_grads, kappa_grads, noise_grad, Z_grad)``: every
        kernel's ``dF/dtheta_q`` (log space), ``dF/dA_q``, ``dF/dkappa_q``
        (not log), ``dF/dd_t`` and ``dF/dZ`` (None unless
        ``inducing_gradient``).
    """
    try:
        inducing = _Inducing(X_rows, Z, kernels)
        state = _bound_state(y, inducing, structure, noise, observations)
    except np.linalg.LinAlgError:
        if not eval_gradient:
            return -np.inf
        return -np.inf, _zero_gradient(kernels, structure, noise, Z, inducing_gradient)
    if not eval_gradient:
        return state["bound"]
    gradient = _bound_gradient(
        y,
        X_rows,
        Z,
        kernels,
        inducing,
        structure,
        noise,
        observations,
        state,
        inducing_gradient,
    )
    return state["bound"], gradient


def _zero_gradient(kernels, structure, noise, Z, inducing_gradient):
    return (
        [np.zeros(k.n_dims) for k in kernels],
        [np.zeros_like(a) for a in structure.A],
        [np.zeros_like(k) for k in structure.kappa],
        np.zeros_like(noise),
        np.zeros_like(Z) if inducing_gradient else None,
    )


def _task_slices(observations):
    offsets = observations.offsets
    return [slice(offsets[t], offsets[t + 1]) for t in range(len(offsets) - 1)]


def _bound_state(y, inducing, structure, noise, observations):
    """First pass over the tasks: the bound and what its gradient reuses."""
    tasks = []
    n_shared = sum(a.shape[1] for a in structure.A) * inducing.L[0].shape[0]
    S = np.eye(n_shared)
    c = np.zeros(n_shared)
    quadratic, logdet, trace = 0.0, 0.0, 0.0
    for t, sl in enumerate(_task_slices(observations)):
        if sl.stop == sl.start:
            tasks.append(None)
            continue
        Psi = [_rows_of(P, observations, sl) for P in inducing.Psi_rows]
        Phi = structure.shared_features(Psi, t)
        V = structure.task_features(Psi, t)
        factor = _TaskFactor(V, noise[t])
        y_t = y[sl]
        # Phi and V scale the columns of the Psi_q, so N^{-1} Phi and
        # N^{-1} V scale those of N^{-1} Psi_q: one solve with Q M columns
        # serves both (and the gradient), for any rank.
        solved = factor.solve(np.column_stack([*Psi, y_t]))
        M = Psi[0].shape[1]
        N_Psi = [solved[:, q * M : (q + 1) * M] for q in range(len(Psi))]
        N_Phi, N_y = structure.shared_features(N_Psi, t), solved[:, -1]
        S += Phi.T @ N_Phi
        c += Phi.T @ N_y
        quadratic += y_t @ N_y
        logdet += factor.logdet
        k_diag = sum(
            structure.B_diag(q)[t] * _rows_of(inducing.k_diag[q], observations, sl)
            for q in range(structure.n_latent)
        )
        explained = np.sum(Phi**2, axis=1) + np.sum(V**2, axis=1)
        trace += np.sum(k_diag - explained) / noise[t]
        tasks.append((Psi, Phi, V, factor, N_Psi, N_Phi, N_y, k_diag, explained))
    L_S = cholesky(S, lower=True, check_finite=False)
    m_S = cho_solve((L_S, True), c, check_finite=False)
    n_obs = len(y)
    bound = -0.5 * (
        quadratic
        - c @ m_S
        + logdet
        + 2.0 * np.log(np.diag(L_S)).sum()
        + n_obs * np.log(2 * np.pi)
        + trace
    )
    return {"bound": bound, "tasks": tasks, "L_S": L_S, "m_S": m_S}


def _bound_gradient(
    y,
    X_rows,
    Z,
    kernels,
    inducing,
    structure,
    noise,
    observations,
    state,
    inducing_gradient,
):
    L_S, m_S = state["L_S"], state["m_S"]
    P_S = cho_solve((L_S, True), np.eye(len(m_S)), check_finite=False)
    M = Z.shape[0]
    n_latent = structure.n_latent
    ranks = [a.shape[1] for a in structure.A]
    n_obs = len(y)
    Psi_grad = [np.zeros((n_obs, M)) for _ in range(n_latent)]
    k_diag_grad = [np.zeros(n_obs) for _ in range(n_latent)]
    A_grads = [np.zeros_like(a) for a in structure.A]
    kappa_grads = [np.zeros_like(k) for k in structure.kappa]
    noise_grad = np.zeros_like(noise)
    for t, sl in enumerate(_task_slices(observations)):
        entry = state["tasks"][t]
        if entry is None:
            continue
        Psi, Phi, V, factor, N_Psi, N_Phi, N_y, k_diag, explained = entry
        d = noise[t]
        # a = C^{-1} y and C^{-1} Phi = N^{-1} Phi S^{-1} on this task's rows.
        a = N_y - N_Phi @ m_S
        Y = N_Phi @ P_S
        Phi_grad = np.outer(a, m_S) - Y + Phi / d
        C_inverse_diagonal = factor.inverse_diagonal() - np.sum(Y * N_Phi, axis=1)
        if V.shape[1]:
            N_V = structure.task_features(N_Psi, t)
            C_inverse_V = N_V - Y @ (Phi.T @ N_V)
            V_grad = np.outer(a, a @ V) - C_inverse_V + V / d
        noise_grad[t] = 0.5 * np.sum(
            a**2 - C_inverse_diagonal + (k_diag - explained) / d**2
        )
        # Chain rule to Psi_q, A_q, kappa_q; the trace term's k_diag too.
        shared_start, task_start = 0, 0
        for q in range(n_latent):
            width = ranks[q] * M
            block = Phi_grad[:, shared_start : shared_start + width].reshape(
                -1, ranks[q], M
            )
            shared_start += width
            # Contractions over the rank as small matrix products (einsum
            # does not call BLAS here).
            Psi_grad[q][sl] += np.matmul(block.transpose(0, 2, 1), structure.A[q][t])
            A_grads[q][t] += np.sum(block * Psi[q][:, np.newaxis, :], axis=(0, 2))
            B_diag_grad = (
                -0.5 * np.sum(_rows_of(inducing.k_diag[q], observations, sl)) / d
            )
            A_grads[q][t] += 2.0 * structure.A[q][t] * B_diag_grad
            k_diag_grad[q][sl] = -0.5 * structure.B_diag(q)[t] / d
            if structure.has_task_part:
                root = np.sqrt(structure.kappa[q][t])
                V_block = V_grad[:, task_start : task_start + M]
                task_start += M
                Psi_grad[q][sl] += root * V_block
                kappa_grads[q][t] += np.sum(V_block * Psi[q]) / (2.0 * root)
                kappa_grads[q][t] += B_diag_grad
    kernel_grads, Z_grad = [], np.zeros_like(Z) if inducing_gradient else None
    for q, kernel in enumerate(kernels):
        G_rows = _to_rows(Psi_grad[q], observations)
        diag_rows = _to_rows(k_diag_grad[q], observations)
        L = inducing.L[q]
        cross_adjoint = solve_triangular(
            L, G_rows.T, lower=True, trans="T", check_finite=False
        ).T
        inner = inducing.Psi_rows[q].T @ G_rows
        inner = 0.5 * (inner + inner.T)
        half = solve_triangular(L, inner, lower=True, trans="T", check_finite=False)
        zz_adjoint = -0.5 * solve_triangular(
            L, half.T, lower=True, trans="T", check_finite=False
        )
        zz_adjoint = 0.5 * (zz_adjoint + zz_adjoint.T)
        # The jitter is INDUCING_JITTER times the mean of diag k(Z, Z).
        zz_adjoint[np.diag_indices_from(zz_adjoint)] += (
            INDUCING_JITTER * np.trace(zz_adjoint) / M
        )
        kernel_grads.append(
            kernel_gradient(kernel, Z, zz_adjoint)
            + cross_theta_gradient(kernel, X_rows, Z, cross_adjoint, diag_rows)
        )
        if inducing_gradient:
            Z_grad += cross_inducing_gradient(kernel, X_rows, Z, cross_adjoint)
            Z_grad += 2.0 * cross_inducing_gradient(kernel, Z, Z, zz_adjoint)
    return kernel_grads, A_grads, kappa_grads, noise_grad, Z_grad


def _to_rows(values, observations):
    """Sum per-observation values (N, ...) into the rows of ``X``."""
    rows = observations.row_index
    if rows is None:
        return values
    selection = sp.csr_matrix(
        (np.ones(len(rows)), (rows, np.arange(len(rows)))),
        shape=(observations.n_rows, len(rows)),
    )
    return np.asarray(selection @ values)


class SparsePosterior:
    """Predictions from the optimal variational distribution of the inducing values.

    Parameters
    ----------
    X_rows, y, Z, kernels, structure, noise, observations
        As for :func:`sparse_log_marginal_likelihood`.

    Notes
    -----
    The optimal ``q(u)`` of the whitened inducing values is
    ``N(Sigma^{-1} W^T D^{-1} y, Sigma^{-1})`` with
    ``Sigma = I + W^T D^{-1} W``. ``Sigma`` is an arrow matrix: a shared
    block ``S0``, one block ``E_t = I + V_t^T V_t / d_t`` per task and the
    couplings ``C_t = Phi_t^T V_t / d_t``; with ``H_t = E_t^{-1} C_t^T`` and
    the Schur complement ``S = S0 - sum_t C_t H_t``, a query pair ``(x, s)``
    with whitened features ``(a, b)`` (shared, task ``s``) has the posterior

        mean = a m_S + b m_s,
        cov((x, s), (x', s')) = sum_q B_q[s, s'] k_q(x, x') - a a'
            - [s = s'] b b' + g S^{-1} g' + [s = s'] b E_s^{-1} b',

    ``g = a - b H_s``. Building it costs ``O(N M^2 + n_tasks M^3)`` once.
    """

    def __init__(self, X_rows, y, Z, kernels, structure, noise, observations):
        self.Z = Z
        self.kernels = kernels
        self.structure = structure
        inducing = _Inducing(X_rows, Z, kernels)
        self.L = inducing.L
        n_shared = sum(a.shape[1] for a in structure.A) * Z.shape[0]
        S = np.eye(n_shared)
        c_shared = np.zeros(n_shared)
        self.E_factors, self.H, c_tasks = [], [], []
        for t, sl in enumerate(_task_slices(observations)):
            Psi = [_rows_of(P, observations, sl) for P in inducing.Psi_rows]
            Phi = structure.shared_features(Psi, t)
            V = structure.task_features(Psi, t)
            d = noise[t]
            S += Phi.T @ Phi / d
            c_shared += Phi.T @ y[sl] / d
            if V.shape[1] == 0:
                self.E_factors.append(None)
                self.H.append(np.zeros((0, n_shared)))
                c_tasks.append(np.zeros(0))
                continue
            E = V.T @ V / d
            E[np.diag_indices_from(E)] += 1.0
            L_E = cholesky(E, lower=True, check_finite=False)
            H = cho_solve((L_E, True), V.T @ Phi / d, check_finite=False)
            S -= (Phi.T @ V / d) @ H
            self.E_factors.append(L_E)
            self.H.append(H)
            c_tasks.append(V.T @ y[sl] / d)
        # Eliminate the task blocks from the right-hand side too.
        rhs = c_shared - sum(
            H.T @ c
            for H, L_E, c in zip(self.H, self.E_factors, c_tasks)
            if L_E is not None
        )
        self.L_S = cholesky(0.5 * (S + S.T), lower=True, check_finite=False)
        self.m_S = cho_solve((self.L_S, True), rhs, check_finite=False)
        self.m_tasks = [
            np.zeros(0)
            if L_E is None
            else cho_solve((L_E, True), c, check_finite=False) - H @ self.m_S
            for H, L_E, c in zip(self.H, self.E_factors, c_tasks)
        ]

    def _features(self, Xq, rows, tasks):
        """Whitened features ``a`` (shared) and ``b`` (own task) of every pair."""
        Psi = [
            solve_triangular(L, kernel(self.Z, Xq), lower=True, check_finite=False).T[
                rows
            ]
            for L, kernel in zip(self.L, self.kernels)
        ]
        structure = self.structure
        shared = np.hstack(
            [
                (P[:, np.newaxis, :] * A[tasks][:, :, np.newaxis]).reshape(
                    len(rows), -1
                )
                for P, A in zip(Psi, structure.A)
            ]
        )
        if not structure.has_task_part:
            return shared, np.zeros((len(rows), 0))
        own = np.hstack(
            [
                np.sqrt(kappa[tasks])[:, np.newaxis] * P
                for P, kappa in zip(Psi, structure.kappa)
            ]
        )
        return shared, own

    def _reduced(self, a, b, tasks):
        """``g = a - b H_s`` and ``E_s^{-1/2} b`` (as ``L_E^{-1} b``) per pair."""
        g = a.copy()
        whitened_b = np.zeros_like(b)
        for s in np.unique(tasks):
            if self.E_factors[s] is None:
                continue
            pairs = tasks == s
            g[pairs] -= b[pairs] @ self.H[s]
            whitened_b[pairs] = solve_triangular(
                self.E_factors[s], b[pairs].T, lower=True, check_finite=False
            ).T
        return g, whitened_b

    def _prior(self, Xq, rows, tasks, diagonal):
        if diagonal:
            return sum(
                self.structure.B(q)[tasks, tasks] * kernel.diag(Xq)[rows]
                for q, kernel in enumerate(self.kernels)
            )
        return sum(
            self.structure.B(q)[np.ix_(tasks, tasks)] * kernel(Xq)[np.ix_(rows, rows)]
            for q, kernel in enumerate(self.kernels)
        )

    def mean_and_variance(self, Xq, rows, tasks, return_variance=True):
        """Posterior mean (and variance) of every query pair; see DensePosterior."""
        a, b = self._features(Xq, rows, tasks)
        mean = a @ self.m_S
        for s in np.unique(tasks):
            pairs = tasks == s
            if len(self.m_tasks[s]):
                mean[pairs] += b[pairs] @ self.m_tasks[s]
        if not return_variance:
            return mean, None
        g, whitened_b = self._reduced(a, b, tasks)
        half = solve_triangular(self.L_S, g.T, lower=True, check_finite=False)
        variance = (
            self._prior(Xq, rows, tasks, diagonal=True)
            - np.sum(a**2, axis=1)
            - np.sum(b**2, axis=1)
            + np.sum(half**2, axis=0)
            + np.sum(whitened_b**2, axis=1)
        )
        return mean, np.maximum(variance, 0.0)

    def covariance(self, Xq, rows, tasks):
        """Joint posterior covariance of the query pairs, (n_pairs, n_pairs)."""
        a, b = self._features(Xq, rows, tasks)
        g, whitened_b = self._reduced(a, b, tasks)
        half = solve_triangular(self.L_S, g.T, lower=True, check_finite=False)
        same_task = tasks[:, np.newaxis] == tasks[np.newaxis, :]
        return (
            self._prior(Xq, rows, tasks, diagonal=False)
            - a @ a.T
            + half.T @ half
            + same_task * (whitened_b @ whitened_b.T - b @ b.T)
        )
