"""Gradients of a kernel's cross matrix ``k(X, Z)`` for the sparse solver.

The sparse bound depends on the cross-covariance ``k(X, Z)`` between the
training rows and the inducing inputs, on ``k(Z, Z)`` and on the diagonal
``k(x, x)``. scikit-learn gives gradients only for ``k(X, X)`` (its
``eval_gradient`` refuses a second argument), so this module contracts

    sum_ij P[i, j] dk(x_i, z_j)/dtheta + sum_i p[i] dk(x_i, x_i)/dtheta

directly for ``ConstantKernel``, ``WhiteKernel``, ``RBF`` and their sums and
products, in ``O(n M n_features)`` time and ``O(n M)`` memory, and from
scikit-learn's gradient tensor of the stacked rows ``[x_block; Z]`` for any
other kernel (blocks of rows bound the memory). The gradient with respect to
the inducing inputs,

    sum_i P[i, j] dk(x_i, z_j)/dz_j,

is derived for the stationary kernels whose value is a function of the
scaled distance ``r`` (``RBF``, ``Matern`` with ``nu`` in {0.5, 1.5, 2.5,
inf}, ``RationalQuadratic``), for ``ConstantKernel`` and ``WhiteKernel``
(constant in ``Z`` off the diagonal) and for their sums and products. Any
other kernel raises a ``ValueError``.
"""

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Matern,
    Product,
    RationalQuadratic,
    Sum,
    WhiteKernel,
)

#: Entries of the gradient tensor per block in the generic fallback.
_BLOCK_ELEMENTS = 2**22


def flush_subnormal(matrix):
    """``matrix`` with its entries below ``1e-150`` in magnitude set to 0, in place.

    At short length scales an RBF has entries near ``1e-300``; their
    products (squares, ``P * K``) are subnormal numbers, on which arithmetic
    is 10-30x slower. Next to values of order 1 such entries are far below
    rounding, and 0 computes at full speed.
    """
    matrix[np.abs(matrix) < 1e-150] = 0.0
    return matrix


def _cross_value(kernel, X, Z, cache):
    """``kernel(X, Z)``, computed once per kernel object within one gradient."""
    key = id(kernel)
    if key not in cache:
        cache[key] = flush_subnormal(kernel(X, Z))
    return cache[key]


def cross_theta_gradient(kernel, X, Z, P, p_diag, cache=None):
    """``dL/dtheta`` from ``dL/dk(X, Z)`` and ``dL/dk(x_i, x_i)``.

    Parameters
    ----------
    kernel : sklearn kernel
    X : ndarray of shape (n, n_features)
    Z : ndarray of shape (m, n_features)
    P : ndarray of shape (n, m)
        ``dL/dk(x_i, z_j)``.
    p_diag : ndarray of shape (n,)
        ``dL/dk(x_i, x_i)``.
    cache : dict or None, default=None
        ``kernel(X, Z)`` of the kernel and its parts, by ``id``: a product
        and its factors need the same cross matrices (an ``n x m`` RBF is
        the costliest step of the gradient). Filled as they are computed.

    Returns
    -------
    gradient : ndarray of shape (kernel.n_dims,)
        In scikit-learn's log space.
    """
    if kernel.n_dims == 0:
        return np.zeros(0)
    kind = type(kernel)
    cache = {} if cache is None else cache
    if kind is Sum:
        return np.concatenate(
            [
                cross_theta_gradient(kernel.k1, X, Z, P, p_diag, cache),
                cross_theta_gradient(kernel.k2, X, Z, P, p_diag, cache),
            ]
        )
    if kind is Product:
        k1, k2 = kernel.k1, kernel.k2
        K1, K2 = _cross_value(k1, X, Z, cache), _cross_value(k2, X, Z, cache)
        return np.concatenate(
            [
                cross_theta_gradient(k1, X, Z, P * K2, p_diag * k2.diag(X), cache),
                cross_theta_gradient(k2, X, Z, P * K1, p_diag * k1.diag(X), cache),
            ]
        )
    if kind is ConstantKernel:
        return np.array([kernel.constant_value * (P.sum() + p_diag.sum())])
    if kind is WhiteKernel:
        # scikit-learn's WhiteKernel is 0 between different arguments.
        return np.array([kernel.noise_level * p_diag.sum()])
    if kind is RBF:
        return _rbf_cross_gradient(kernel, X, Z, P * _cross_value(kernel, X, Z, cache))
    return _stacked_gradient(kernel, X, Z, P, p_diag)


def _rbf_cross_gradient(kernel, X, Z, PK):
    # dk/dlog(l_d) = k (x_d - z_d)^2 / l_d^2, and
    # sum_ij PK_ij (u_i - v_j)^2 = sum_i (PK 1)_i u_i^2 + sum_j (PK^T 1)_j v_j^2
    # - 2 u^T PK v; centring first keeps the difference well conditioned.
    length_scale = np.asarray(kernel.length_scale, dtype=np.float64)
    centre = X.mean(axis=0)
    U = (X - centre) / length_scale
    V = (Z - centre) / length_scale
    per_feature = (
        PK.sum(axis=1) @ U**2 + PK.sum(axis=0) @ V**2 - 2 * np.sum(U * (PK @ V), axis=0)
    )
    if kernel.n_dims == 1:
        return np.array([per_feature.sum()])
    return per_feature


def _stacked_gradient(kernel, X, Z, P, p_diag):
    """Any kernel: scikit-learn's gradient tensor of ``[x_block; Z]``."""
    n, m = P.shape
    n_dims = kernel.n_dims
    size = max(1, int(np.sqrt(_BLOCK_ELEMENTS / n_dims)) - m)
    gradient = np.zeros(n_dims)
    for start in range(0, n, size):
        stop = min(start + size, n)
        b = stop - start
        _, tensor = kernel(np.vstack([X[start:stop], Z]), eval_gradient=True)
        gradient += np.tensordot(P[start:stop], tensor[:b, b:], axes=([0, 1], [0, 1]))
        diagonal = tensor[np.arange(b), np.arange(b)]
        gradient += p_diag[start:stop] @ diagonal
    return gradient


def supports_inducing_gradient(kernel):
    """Whether :func:`cross_inducing_gradient` handles ``kernel``."""
    kind = type(kernel)
    if kind in (Sum, Product):
        return supports_inducing_gradient(kernel.k1) and supports_inducing_gradient(
            kernel.k2
        )
    if kind in (ConstantKernel, WhiteKernel, RBF, RationalQuadratic):
        return True
    if kind is Matern:
        return kernel.nu in (0.5, 1.5, 2.5, np.inf)
    return False


def cross_inducing_gradient(kernel, X, Z, P):
    """``sum_i P[i, j] dk(x_i, z_j)/dz_j`` for every inducing input ``j``.

    Parameters
    ----------
    kernel : sklearn kernel
        One that :func:`supports_inducing_gradient`.
    X : ndarray of shape (n, n_features)
    Z : ndarray of shape (m, n_features)
    P : ndarray of shape (n, m)

    Returns
    -------
    gradient : ndarray of shape (m, n_features)
    """
    kind = type(kernel)
    if kind is Sum:
        return cross_inducing_gradient(kernel.k1, X, Z, P) + cross_inducing_gradient(
            kernel.k2, X, Z, P
        )
    if kind is Product:
        k1, k2 = kernel.k1, kernel.k2
        return cross_inducing_gradient(
            k1, X, Z, P * k2(X, Z)
        ) + cross_inducing_gradient(k2, X, Z, P * k1(X, Z))
    if kind in (ConstantKernel, WhiteKernel):
        return np.zeros_like(Z)
    length_scale = np.asarray(kernel.length_scale, dtype=np.float64)
    r = cdist(X / length_scale, Z / length_scale)
    # dk/dz_d = phi(r) (x_d - z_d) / l_d^2 with phi = -(dk/dr) / r.
    weights = P * _phi(kernel, r)
    gradient = weights.T @ X - weights.sum(axis=0)[:, np.newaxis] * Z
    return gradient / length_scale**2


def _phi(kernel, r):
    """``-(dk/dr) / r`` of a stationary kernel of the scaled distance ``r``."""
    if type(kernel) is RationalQuadratic:
        return (1.0 + r**2 / (2.0 * kernel.alpha)) ** (-kernel.alpha - 1.0)
    nu = np.inf if type(kernel) is RBF else kernel.nu
    if nu == np.inf:
        return np.exp(-0.5 * r**2)
    if nu == 0.5:
        # -(dk/dr)/r = exp(-r)/r; the direction (x - z)/r is undefined at
        # r = 0, where the (sub)gradient 0 is used.
        with np.errstate(divide="ignore"):
            return np.where(r > 0, np.exp(-r) / np.where(r > 0, r, 1.0), 0.0)
    if nu == 1.5:
        return 3.0 * np.exp(-np.sqrt(3.0) * r)
    return 5.0 / 3.0 * (1.0 + np.sqrt(5.0) * r) * np.exp(-np.sqrt(5.0) * r)
