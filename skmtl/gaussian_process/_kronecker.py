"""Kronecker solver: every task observed at the same ``n`` inputs (ICM).

With targets ``Y`` of shape ``(n, T)`` (column ``t`` = task ``t``) stacked
task by task, ``y = vec(Y)``, the covariance of the ICM with per-task noise is

    C = B kron K + D kron I_n,     D = diag(d_1, ..., d_T),

(``d_t`` = noise variance of task ``t`` plus ``alpha``). Whitening by the
noise turns it into ``D^{1/2} (B~ kron K + I) D^{1/2}`` with
``B~ = D^{-1/2} B D^{-1/2}``; with the eigendecompositions
``K = U diag(mu) U^T`` and ``B~ = V diag(lam) V^T``,

    C^{-1} = (D^{-1/2} V kron U) S^{-1} (V^T D^{-1/2} kron U^T),
    S[i, a] = mu_i lam_a + 1,
    log|C| = n sum_t log d_t + sum_{i,a} log S[i, a]

(Saatci 2012, ch. 5; Bonilla et al. 2008; Stegle et al. 2011 for the noise
whitening). A log marginal likelihood (LML) and its full gradient cost
``O(n^3 + T^3 + n^2 T)`` instead of the dense ``O((n T)^3)``.

References
----------
Saatci, Y. (2012). Scalable inference for structured Gaussian process models.
PhD thesis, University of Cambridge.

Stegle, O., Lippert, C., Mooij, J., Lawrence, N. and Borgwardt, K. (2011).
Efficient inference in matrix-variate Gaussian models with iid observation
noise. NeurIPS 24.
"""

import numpy as np
from scipy.linalg import blas, eigh


def _eigh(matrix):
    """Eigendecomposition of a symmetric PSD matrix, eigenvalues clipped at 0."""
    values, vectors = eigh(matrix, driver="evd", check_finite=False)
    return np.maximum(values, 0.0), vectors


class _Decomposition:
    """Eigenvectors, eigenvalues and ``S`` of one (K, B, d)."""

    def __init__(self, K, B, noise):
        self.noise = noise
        self.scale = 1.0 / np.sqrt(noise)
        self.mu, self.U = _eigh(K)
        self.lam, self.V = _eigh(B * np.outer(self.scale, self.scale))
        self.S = np.outer(self.mu, self.lam) + 1.0

    def rotate(self, Y):
        """``Z = U^T Y D^{-1/2} V`` of shape (n, T)."""
        return self.U.T @ (Y * self.scale) @ self.V


def kronecker_log_marginal_likelihood(Y, K, B, noise, eval_gradient=False):
    """LML of fully observed ``Y`` under ``C = B kron K + D kron I``.

    Parameters
    ----------
    Y : ndarray of shape (n, n_tasks)
        Targets; column ``t`` is task ``t``.
    K : ndarray of shape (n, n)
        Kernel matrix of the inputs.
    B : ndarray of shape (n_tasks, n_tasks)
        Task covariance.
    noise : ndarray of shape (n_tasks,)
        Diagonal ``d_t`` of every task (noise variance plus ``alpha``).
    eval_gradient : bool, default=False
        Also return the gradient.

    Returns
    -------
    lml : float
        ``-inf`` if an eigendecomposition fails (a matrix that is not
        finite).
    gradient : tuple, only if ``eval_gradient``
        ``(K_adjoint, B_grad, noise_grad)``: ``dL/dK`` (n, n), ``dL/dB``
        (n_tasks, n_tasks), every entry taken as free, and ``dL/dd_t``
        (n_tasks,). Zeros when the LML is ``-inf``.
    """
    n, n_tasks = Y.shape
    try:
        dec = _Decomposition(K, B, noise)
    except np.linalg.LinAlgError:
        # As the dense solver's failed Cholesky: the optimiser steps back.
        if not eval_gradient:
            return -np.inf
        zero = (np.zeros_like(K), np.zeros_like(B), np.zeros(n_tasks))
        return -np.inf, zero
    Z = dec.rotate(Y)
    Z_scaled = Z / dec.S
    lml = -0.5 * (
        np.sum(Z * Z_scaled)
        + np.log(dec.S).sum()
        + n * np.log(noise).sum()
        + n * n_tasks * np.log(2 * np.pi)
    )
    if not eval_gradient:
        return lml
    return lml, _kronecker_gradient(dec, Z_scaled, B)


def _symmetric_product(factor):
    """``factor @ factor.T`` with half the flops (BLAS syrk), mirrored.

    This is the one ``n^3`` product of the gradient: the trace terms of all
    kernel hyper-parameters are contractions with ``U diag(w) U^T``, so the
    eigendecomposition and this product are the only cubic costs.
    """
    product = blas.dsyrk(1.0, factor, lower=1)
    # syrk writes the lower triangle of a zero matrix: mirror it in place.
    product += product.T
    product[np.diag_indices_from(product)] *= 0.5
    return product


def _kronecker_gradient(dec, Z_scaled, B):
    # a = C^{-1} y as an (n, T) matrix is U P with P = Z / S V^T D^{-1/2}.
    P = (Z_scaled @ dec.V.T) * dec.scale
    alpha = dec.U @ P
    inverse_S = 1.0 / dec.S

    # Kernel: dL = 1/2 tr(W (B kron dK)) = sum_ij dK_ij M_ij / 2, where
    # a^T (B kron dK) a = tr(dK a B a^T) and
    # tr(C^{-1} (B kron dK)) = sum_i w_i (U^T dK U)_ii, w_i = sum_a lam_a / S_ia.
    w = inverse_S @ dec.lam
    K_adjoint = (alpha @ B) @ alpha.T
    K_adjoint -= _symmetric_product(dec.U * np.sqrt(w))
    K_adjoint *= 0.5

    # Task covariance: a^T (dB kron K) a = tr(dB a^T K a), a^T K a = P^T mu P;
    # tr(C^{-1} (dB kron K)) = tr(dB D^{-1/2} V diag(v) V^T D^{-1/2}),
    # v_a = sum_i mu_i / S_ia.
    v = dec.mu @ inverse_S
    trace_term = (dec.V * v) @ dec.V.T * np.outer(dec.scale, dec.scale)
    B_grad = 0.5 * ((P.T * dec.mu) @ P - trace_term)

    # Noise of task t: dC = E_tt kron I, so a^T dC a = sum_i a_it^2 and
    # tr(C^{-1} dC) = sum_a V_ta^2 r_a / d_t, r_a = sum_i 1 / S_ia.
    r = inverse_S.sum(axis=0)
    noise_grad = 0.5 * ((alpha**2).sum(axis=0) - (dec.V**2 @ r) / dec.noise)
    return K_adjoint, B_grad, noise_grad


class KroneckerPosterior:
    """Posterior of the latent functions given a fully observed ``Y`` (ICM).

    Parameters
    ----------
    X_rows : ndarray of shape (n, n_features)
        Training inputs, shared by all tasks.
    Y : ndarray of shape (n, n_tasks)
        Observed (normalised) targets.
    kernel : sklearn kernel
        Fitted ``k``.
    B : ndarray of shape (n_tasks, n_tasks)
        Fitted task covariance.
    noise : ndarray of shape (n_tasks,)
        Noise variance plus ``alpha`` of every task.

    Notes
    -----
    For a query pair (x, s) the cross-covariance with the observations is
    ``B[:, s] kron k(X, x)``. Projected on the eigenbasis it becomes
    ``q_s kron p(x)`` with ``p(x) = U^T k(X, x)`` and
    ``q_s = V^T D^{-1/2} B[:, s] = lam * (D^{1/2} V)[s]``, so the posterior
    covariance of pairs ``(x, s)`` and ``(x', s')`` is

        B[s, s'] k(x, x') - sum_i p_i(x) p_i(x') sum_a q_s[a] q_s'[a] / S_ia.
    """

    def __init__(self, X_rows, Y, kernel, B, noise):
        self.X_rows = X_rows
        self.kernel = kernel
        self.B = B
        dec = _Decomposition(kernel(X_rows), B, noise)
        self.U = dec.U
        self.inverse_S = 1.0 / dec.S
        # Q[s, a] = q_s[a]
        self.Q = (np.sqrt(noise)[:, np.newaxis] * dec.V) * dec.lam
        P = ((dec.rotate(Y) / dec.S) @ dec.V.T) * dec.scale
        # mean of (x, s) = k(x, X) a B[:, s]
        self.weights = (dec.U @ P) @ B

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
        K_cross = self.kernel(Xq, self.X_rows)
        mean = (K_cross @ self.weights)[rows, tasks]
        if not return_variance:
            return mean, None
        projected = K_cross @ self.U
        reduction_by_eigen_task = (projected**2) @ self.inverse_S
        reduction = np.einsum(
            "ja,ja->j", reduction_by_eigen_task[rows], self.Q[tasks] ** 2
        )
        prior = self.B[tasks, tasks] * self.kernel.diag(Xq)[rows]
        return mean, np.maximum(prior - reduction, 0.0)

    def covariance(self, Xq, rows, tasks):
        """Joint posterior covariance of the query pairs, shape (n_pairs, n_pairs)."""
        projected = self.kernel(Xq, self.X_rows) @ self.U
        covariance = self.B[np.ix_(tasks, tasks)] * self.kernel(Xq)[np.ix_(rows, rows)]
        pairs_of_task = {s: np.flatnonzero(tasks == s) for s in np.unique(tasks)}
        for s, pairs_s in pairs_of_task.items():
            for s2, pairs_s2 in pairs_of_task.items():
                if s2 < s:
                    continue
                weight = self.inverse_S @ (self.Q[s] * self.Q[s2])
                block = (projected[rows[pairs_s]] * weight) @ projected[
                    rows[pairs_s2]
                ].T
                covariance[np.ix_(pairs_s, pairs_s2)] -= block
                if s2 != s:
                    covariance[np.ix_(pairs_s2, pairs_s)] -= block.T
        return covariance
