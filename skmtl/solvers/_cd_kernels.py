"""Compiled epochs of cyclic block coordinate descent for the L2,1 problem.

One epoch visits every feature group ``j`` of a working set once and
minimises the squared-loss objective over ``W[:, j]`` with the residuals
kept up to date, as scikit-learn's ``MultiTaskLasso`` does over all
features::

    g_t  = sum_{i in t} c_i (x_ij - m_tj) r_i          (gradient, per task)
    u_t  = W[t, j] + g_t / L_tj
    W[:, j] <- argmin_v  sum_t (L_tj / 2) (v_t - u_t)^2 + a1 ||v|| + (a2 / 2) ||v||^2
    r_i  <- r_i - (new - old)_{t_i} (x_ij - m_{t_i j})

with ``m_tj`` the weighted mean of the column in task ``t`` (zero without
intercepts: the intercepts stay at their optimum through centring) and
``L_tj = sum_{i in t} c_i (x_ij - m_tj)^2``. When every task has the same
rows and weights the ``L_tj`` agree and the minimiser is the group
soft-thresholding ``max(0, 1 - (a1 / L_j) / ||u||) u L_j / (L_j + a2)``.
In general it is ``v_t = q_t s / ((L_tj + a2) s + a1)`` with
``q_t = L_tj u_t`` and ``s = ||v||`` the root of a scalar equation
(:func:`_block_minimiser`, safeguarded Newton, one step when the curvatures
agree), or ``v = 0`` when ``||q|| <= a1``: an exact minimiser, not a
majorisation, so that tasks of very different sizes (long format) do not
slow each other down.

The loops over rows are compiled with numba when it is installed (the
``fast`` extra). Without it :data:`AVAILABLE` is False and the solvers use
their vectorised numpy subproblem solver instead: the same iterates would
cost one Python-level step per feature, which is slower than the
accelerated gradient of :func:`skmtl.solvers.bcd._accelerated_gradient`.
"""

import types

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None

#: Whether the compiled epochs can be used.
AVAILABLE = numba is not None


def _block_minimiser(W, j, gradient, curvature, a1, a2, delta):
    """Exact minimiser of the block ``j`` with per-task curvatures ``(T,)``.

    ``W[:, j]`` is replaced by it and ``delta`` gets the change; returns
    whether anything moved.
    """
    n_tasks = W.shape[0]
    norm2 = 0.0
    largest, smallest = 0.0, np.inf
    for t in range(n_tasks):
        b = curvature[t] + a2
        # A column constant over a task's rows (curvature 0, no ridge) leaves
        # its data term unchanged: the coefficient is 0, whatever gradient
        # rounding leaves (with a tiny a1 it would make the block unbounded).
        q = curvature[t] * W[t, j] + gradient[t] if b > 0.0 else 0.0
        delta[t] = q
        norm2 += q * q
        if b > 0.0:
            largest = max(largest, b)
            smallest = min(smallest, b)
    q_norm = np.sqrt(norm2)
    s = 0.0
    if a1 == 0.0:
        s = 1.0
    elif q_norm > a1 and largest > 0.0:
        s = _secular_root(delta, curvature, a1, a2, q_norm, smallest, largest)
    moved = False
    for t in range(n_tasks):
        b = curvature[t] + a2
        new = 0.0
        if s > 0.0 and b > 0.0:
            new = delta[t] * s / (b * s + a1)
        delta[t] = new - W[t, j]
        if delta[t] != 0.0:
            moved = True
        W[t, j] = new
    return moved


def _secular_root(q, curvature, a1, a2, q_norm, smallest, largest):
    """``s > 0`` with ``sum_t (q_t / ((L_t + a2) s + a1))^2 = 1``.

    Newton on ``phi(s) = 1 / sqrt(sum_t ...) - 1``, which is linear when the
    curvatures agree, kept inside the bracket given by the extreme
    curvatures (bisection when a step leaves it).
    """
    low = (q_norm - a1) / largest
    high = np.inf if smallest <= 0.0 else (q_norm - a1) / smallest
    s = low
    for _ in range(50):
        total, slope = 0.0, 0.0
        for t in range(q.shape[0]):
            if q[t] == 0.0:
                continue
            denominator = (curvature[t] + a2) * s + a1
            term = q[t] * q[t] / (denominator * denominator)
            total += term
            slope += term * (curvature[t] + a2) / denominator
        phi = 1.0 / np.sqrt(total)
        if phi > 1.0:
            high = min(high, s)
        else:
            low = max(low, s)
        # d phi / ds = phi^3 * slope
        step = (phi - 1.0) / (phi**3 * slope)
        candidate = s - step
        if not (low <= candidate <= high):
            candidate = 0.5 * (low + high) if np.isfinite(high) else 2.0 * s
        if abs(candidate - s) <= 1e-14 * s:
            return candidate
        s = candidate
    return s


def _uniform_epochs(X, columns, c, means, R, W, curvature, a1, a2, n_epochs):
    """Epochs on shared rows with common weights ``c`` (n,).

    ``X`` is the whole design (n, p), F-ordered, ``columns`` the working set
    (``W``, ``means`` (k,) and ``curvature`` (k, T) follow its order); ``R`` holds the
    residuals (n, T), F-ordered, so that every inner loop runs over
    contiguous rows. ``R`` stays weighted-centred (every update moves it
    along a centred column), so ``sum_i c_i (x_ij - m_j) r_it`` is
    ``sum_i c_i x_ij r_it`` and, for constant ``c``, ``c_0 x_j . r_t``.
    """
    n_samples = X.shape[0]
    n_tasks = W.shape[0]
    constant = np.all(c == c[0])
    c0 = c[0]
    gradient = np.empty(n_tasks)
    delta = np.empty(n_tasks)
    for _ in range(n_epochs):
        for jj in range(columns.shape[0]):
            j = columns[jj]
            mean = means[jj]
            for t in range(n_tasks):
                total = 0.0
                if constant:
                    for i in range(n_samples):
                        total += X[i, j] * R[i, t]
                    total *= c0
                else:
                    for i in range(n_samples):
                        total += c[i] * X[i, j] * R[i, t]
                gradient[t] = total
            if not _block_minimiser(W, jj, gradient, curvature[jj], a1, a2, delta):
                continue
            for t in range(n_tasks):
                step = delta[t]
                if step != 0.0:
                    shift = step * mean
                    for i in range(n_samples):
                        R[i, t] += shift - step * X[i, j]


def _shared_epochs(X, columns, C, means, R, W, curvature, a1, a2, n_epochs):
    """Epochs on shared rows with per-cell scales ``C`` (n, T), F-ordered.

    ``means`` is (T, k), ``curvature`` the ``L_tj`` as (k, T); the other
    arguments are as in :func:`_uniform_epochs`.
    """
    n_samples = X.shape[0]
    n_tasks = W.shape[0]
    gradient = np.empty(n_tasks)
    delta = np.empty(n_tasks)
    for _ in range(n_epochs):
        for jj in range(columns.shape[0]):
            j = columns[jj]
            for t in range(n_tasks):
                total = 0.0
                mean = means[t, jj]
                for i in range(n_samples):
                    total += C[i, t] * (X[i, j] - mean) * R[i, t]
                gradient[t] = total
            if not _block_minimiser(W, jj, gradient, curvature[jj], a1, a2, delta):
                continue
            for t in range(n_tasks):
                step = delta[t]
                if step != 0.0:
                    mean = means[t, jj]
                    for i in range(n_samples):
                        R[i, t] -= step * (X[i, j] - mean)


def _long_epochs(X, columns, c, offsets, means, r, W, curvature, a1, a2, n_epochs):
    """Epochs on rows grouped by task: ``X`` (N, p) F-ordered, ``r``, ``c`` (N,).

    Task ``t`` owns the rows ``offsets[t]:offsets[t + 1]``; ``means`` is
    (T, k), ``curvature`` the ``L_tj`` as (k, T).
    """
    n_tasks = W.shape[0]
    gradient = np.empty(n_tasks)
    delta = np.empty(n_tasks)
    for _ in range(n_epochs):
        for jj in range(columns.shape[0]):
            j = columns[jj]
            for t in range(n_tasks):
                total = 0.0
                mean = means[t, jj]
                for i in range(offsets[t], offsets[t + 1]):
                    total += c[i] * (X[i, j] - mean) * r[i]
                gradient[t] = total
            if not _block_minimiser(W, jj, gradient, curvature[jj], a1, a2, delta):
                continue
            for t in range(n_tasks):
                step = delta[t]
                if step != 0.0:
                    mean = means[t, jj]
                    for i in range(offsets[t], offsets[t + 1]):
                        r[i] -= step * (X[i, j] - mean)


def python_kernels():
    """The kernels as plain Python functions (for tests of the compiled ones).

    Copies of their definitions whose globals point at the Python
    :func:`_block_minimiser`, whatever the module's globals hold.
    """
    namespace = dict(
        globals(),
        _block_minimiser=_python_block_minimiser,
        _secular_root=_python_secular_root,
    )
    return types.SimpleNamespace(
        **{
            name: types.FunctionType(function.__code__, namespace)
            for name, function in [
                ("uniform_epochs", _uniform_epochs),
                ("shared_epochs", _shared_epochs),
                ("long_epochs", _long_epochs),
            ]
        }
    )


_python_block_minimiser = _block_minimiser
_python_secular_root = _secular_root

if AVAILABLE:
    # Reassociating the sums lets the row loops use SIMD; the inputs are
    # checked finite, so no other fast-math assumption is needed.
    _jit = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    # The kernels call the compiled update: numba resolves globals when it
    # compiles.
    _secular_root = _jit(_secular_root)
    _block_minimiser = _jit(_block_minimiser)
    uniform_epochs = _jit(_uniform_epochs)
    shared_epochs = _jit(_shared_epochs)
    long_epochs = _jit(_long_epochs)
else:  # pragma: no cover
    uniform_epochs = _uniform_epochs
    shared_epochs = _shared_epochs
    long_epochs = _long_epochs
