"""Warnings for fitted hyper-parameters that end on a bound.

An optimum on a bound of the search box is usually not the optimum of the
likelihood: the likelihood still increases beyond the bound. As scikit-learn's
:class:`~sklearn.gaussian_process.GaussianProcessRegressor` (through
``Kernel._check_bounds_params``), the multi-task GP then raises a
``ConvergenceWarning`` with the same words for the kernel hyper-parameters,
except for a bound beyond which the kernel matrix does not change (the length
scale of an irrelevant feature on its upper bound): there no other value can
be better, and scikit-learn's warning would be a false alarm.

The task covariance and the noise have bounds of their own
(``KAPPA_BOUNDS``, ``NOISE_BOUNDS``), fixed in the units of the normalised
targets. They are reported too, but a lower bound only when it is not
negligible next to the task's targets: ``kappa`` at its lower bound is the
normal end for a task that the shared part of ``B`` explains fully, and a
noise at its lower bound the normal end for noise-free data, when the targets
are of unit scale (``normalize_y=True``).
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._task_kernel import KAPPA_BOUNDS, NOISE_BOUNDS

#: A lower bound of ``kappa`` or of the noise is reported when it exceeds
#: this fraction of the mean square of the task's targets (in normalised
#: units, not centred): below it, its effect on the fit is negligible.
NEGLIGIBLE_LOWER_BOUND = 1e-4
#: How far beyond its bound a kernel hyper-parameter is moved (in log space,
#: a factor of about 1e20) to tell whether the bound matters.
FLAT_PROBE = np.log(1e20)
#: Largest change of the kernel matrix, relative to its largest entry, at
#: which moving the hyper-parameter beyond its bound counts as no change.
FLAT_RTOL = 1e-8


def _kernel_messages(kernel, pinned, suffix, X):
    """Sklearn's messages for the free hyper-parameters of ``kernel`` on a bound.

    ``pinned`` is the position in ``kernel.theta`` of an amplitude held at its
    start (not optimised), or None. A hyper-parameter whose bound has no
    effect (see :func:`_flat_beyond`) is not reported.
    """
    close = np.isclose(kernel.bounds, np.atleast_2d(kernel.theta).T)
    messages, position, K = [], 0, None
    for hyperparameter in kernel.hyperparameters:
        if hyperparameter.fixed:
            continue
        for dim in range(hyperparameter.n_elements):
            side = None if position == pinned else _side(close[position])
            if side is not None and K is None:
                K = kernel(X)
            if side is not None and not _flat_beyond(kernel, position, side, X, K):
                bound = hyperparameter.bounds[dim][int(side == "upper")]
                verb = "Increasing" if side == "upper" else "Decreasing"
                messages.append(
                    f"The optimal value found for dimension {dim} of parameter "
                    f"{hyperparameter.name}{suffix} is close to the specified "
                    f"{side} bound {bound}. {verb} the bound and calling fit "
                    "again may find a better value."
                )
            position += 1
    return messages


def _side(close):
    """``"lower"``, ``"upper"`` or None from ``isclose(bounds, theta)``."""
    if close[0]:
        return "lower"
    if close[1]:
        return "upper"
    return None


def _flat_beyond(kernel, position, side, X, K):
    """Whether ``kernel(X)`` stays ``K`` far beyond the bound of ``theta[position]``.

    The length scale of a feature that does not explain the targets ends on
    its upper bound (automatic relevance determination with the default
    anisotropic kernel), where the kernel is already constant along that
    feature: a larger bound cannot change the fit, so the warning would be
    wrong. The kernel is compared at the parameter moved by ``FLAT_PROBE``
    (in log space) beyond the bound.
    """
    theta = np.array(kernel.theta, dtype=np.float64)
    theta[position] += FLAT_PROBE if side == "upper" else -FLAT_PROBE
    with np.errstate(all="ignore"):
        probe = kernel.clone_with_theta(theta)(X)
    if not np.isfinite(probe).all():
        return False
    tolerance = FLAT_RTOL * np.max(np.abs(K), initial=0.0)
    return bool(np.max(np.abs(probe - K), initial=0.0) <= tolerance)


def _model_message(what, side, bound, mean_square):
    """Message for ``kappa`` or a noise variance on one of its fixed bounds."""
    advice = (
        "These bounds are fixed in the units of the normalised targets: set "
        "normalize_y=True or scale the targets, and call fit again."
    )
    if side == "upper":
        return (
            f"The optimal value found for {what} is close to its upper bound "
            f"{bound:g} (in the units of the normalised targets). {advice}"
        )
    return (
        f"The optimal value found for {what} is close to its lower bound "
        f"{bound:g} (in the units of the normalised targets), which is not "
        f"negligible next to the mean square {mean_square:.3g} of the task's "
        f"targets. {advice}"
    )


def _on_bound(value, bounds, mean_square):
    """``"lower"``, ``"upper"`` or None for one positive parameter."""
    log_value, log_bounds = np.log(value), np.log(bounds)
    if np.isclose(log_bounds[1], log_value):
        return "upper"
    # All-zero targets: every small value fits them equally well.
    lower_matters = 0 < NEGLIGIBLE_LOWER_BOUND * mean_square <= bounds[0]
    if np.isclose(log_bounds[0], log_value) and lower_matters:
        return "lower"
    return None


def _noise_name(tasks, t, shared):
    if len(tasks) == 1:
        return "the noise variance"
    if shared:
        return "the shared noise variance"
    return f"the noise variance of task {tasks[t]!r}"


def _model_messages(layout, theta, tasks, mean_squares):
    """Messages for the ``kappa_q`` and noise variances on a bound."""
    messages = []
    for q, task_cov in enumerate(layout.task_covariances):
        if task_cov.fixed:
            continue
        _, kappa = task_cov.unpack(layout.task_params(theta, q))
        for t, value in enumerate(kappa):
            side = _on_bound(value, KAPPA_BOUNDS, mean_squares[t])
            if side is not None:
                latent = f" in latent process {q}" if layout.n_latent > 1 else ""
                what = f"kappa of task {tasks[t]!r}{latent}"
                bound = KAPPA_BOUNDS[int(side == "upper")]
                messages.append(_model_message(what, side, bound, mean_squares[t]))
    noise = np.exp(layout.log_noise(theta))
    for t, value in enumerate(noise):
        scale = mean_squares[t] if len(noise) > 1 else np.mean(mean_squares)
        side = _on_bound(value, NOISE_BOUNDS, scale)
        if side is not None:
            what = _noise_name(tasks, t, shared=len(noise) == 1)
            bound = NOISE_BOUNDS[int(side == "upper")]
            messages.append(_model_message(what, side, bound, scale))
    return messages


def warn_on_bounds(layout, theta, X, tasks, mean_squares):
    """Raise a ``ConvergenceWarning`` for every parameter ending on a bound.

    Parameters
    ----------
    layout : HyperParameters
        Layout of ``theta``.
    theta : ndarray of shape (n_params,)
        The fitted parameters.
    X : ndarray of shape (n_rows, n_features)
        Training inputs, to tell whether a kernel bound matters.
    tasks : ndarray of shape (n_tasks,)
        Task labels, to name the task of a ``kappa`` or a noise.
    mean_squares : ndarray of shape (n_tasks,)
        Mean square of every task's training targets (not centred), in the
        units of the normalised targets.
    """
    messages = []
    for q, kernel in enumerate(layout.kernels):
        fitted = kernel.clone_with_theta(layout.kernel_theta(theta, q))
        suffix = f" of latent kernel {q}" if layout.n_latent > 1 else ""
        pinned = layout.amplitude_index(q)
        messages += _kernel_messages(fitted, pinned, suffix, X)
    labels = np.asarray(tasks).tolist()
    messages += _model_messages(layout, theta, labels, mean_squares)
    for message in messages:
        warnings.warn(message, ConvergenceWarning, stacklevel=4)
