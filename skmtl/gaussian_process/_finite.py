"""Extreme magnitudes: normalise what can be, refuse what cannot.

Targets of any finite magnitude can be normalised exactly (dividing by their
largest magnitude first keeps their variance from overflowing), but the
fitted variances (``noise_variance_``, ``task_covariance_``, predicted
covariances) are in squared units: for targets beyond about ``1e154`` they
are not representable in float64, and the model refuses them.

Inputs cannot be rescaled for an arbitrary kernel (a kernel need not be
invariant to a scaling of its inputs), and the kernels compute squared
distances or products of the inputs: beyond about ``1e150`` they overflow
(an RBF then sees every pair of rows as infinitely far apart), below about
``1e-150`` they underflow (every row is the same); the model refuses features
beyond ``1e100`` and below ``1e-100``, which leaves room for the length
scales and the sums of the gradients. The model refuses such
features, and any kernel or likelihood that is not finite at the initial
hyper-parameters, with a message that says to scale the data.
"""

import numpy as np

_FLOAT = np.finfo(np.float64)
#: Largest magnitude of a feature, and smallest largest magnitude of a
#: non-zero one: their squares stay 1e100 away from float64's limits, so that
#: squared distances scaled by a length scale (down to 1e-5 by default, a
#: factor 1e10) and summed over rows and features (in the gradients) neither
#: overflow nor underflow.
MAX_FEATURE_MAGNITUDE = 1e100
MIN_FEATURE_MAGNITUDE = 1e-100
#: Largest target magnitude whose variance (and the fitted variances, in
#: squared units) float64 can hold.
MAX_TARGET_MAGNITUDE = np.sqrt(_FLOAT.max) * 1e-2

_SCALE_ADVICE = (
    "Scale the features first, for example with "
    "skmtl.pipeline.TaskColumnPassthrough(MaxAbsScaler()) in a Pipeline "
    "(StandardScaler's variance itself overflows beyond about 1e154)."
)


def check_feature_magnitudes(X, feature_names=None):
    """Refuse features whose squares overflow or underflow float64.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Training inputs, task column excluded.
    feature_names : ndarray of shape (n_features,), default=None
        Names of the features, to name the one refused.

    Raises
    ------
    ValueError
        When a feature's largest magnitude is above
        :data:`MAX_FEATURE_MAGNITUDE`, or non-zero and below
        :data:`MIN_FEATURE_MAGNITUDE`.
    """
    if X.size == 0:
        return
    maxima = np.max(np.abs(X), axis=0)
    for feature, largest in enumerate(maxima):
        if largest > MAX_FEATURE_MAGNITUDE:
            side, limit, fails = "above", MAX_FEATURE_MAGNITUDE, "overflow"
        elif 0 < largest < MIN_FEATURE_MAGNITUDE:
            side, limit, fails = "below", MIN_FEATURE_MAGNITUDE, "underflow"
        else:
            continue
        name = (
            f"Feature {feature_names[feature]!r}"
            if feature_names is not None
            else f"Feature {feature} (0-based position, task column excluded)"
        )
        raise ValueError(
            f"{name} reaches {largest:.3g} in magnitude, {side} the supported "
            f"{limit:.0e}: the kernels of a Gaussian process compute squared "
            "distances or products of the features (scaled by length scales and "
            f"summed in the gradients), which {fails} float64 there. "
            f"{_SCALE_ADVICE}"
        )


def target_normalisation(y, task_index, n_tasks):
    """Mean and standard deviation of every task's targets, without overflow.

    Each task's targets are divided by their largest magnitude before their
    variance is computed, so that targets of magnitude ``1e300`` (whose
    squares overflow) and ``1e-300`` (whose squares underflow) are normalised
    exactly. A task whose targets are constant (relative to their magnitude)
    keeps the scale 1, as scikit-learn's ``normalize_y``.

    Parameters
    ----------
    y : ndarray of shape (n_observations,)
    task_index : ndarray of shape (n_observations,)
    n_tasks : int

    Returns
    -------
    mean, std : ndarray of shape (n_tasks,)

    Raises
    ------
    ValueError
        When a task's targets exceed :data:`MAX_TARGET_MAGNITUDE`.
    """
    counts = np.bincount(task_index, minlength=n_tasks)
    magnitude = np.zeros(n_tasks)
    np.maximum.at(magnitude, task_index, np.abs(y))
    check_target_magnitudes(magnitude)
    magnitude[magnitude == 0] = 1.0
    scaled = y / magnitude[task_index]
    scaled_mean = np.bincount(task_index, weights=scaled, minlength=n_tasks) / counts
    centred = scaled - scaled_mean[task_index]
    variance = np.bincount(task_index, weights=centred**2, minlength=n_tasks)
    scaled_std = np.sqrt(variance / counts)
    constant = scaled_std < 10 * _FLOAT.eps
    std = np.where(constant, 1.0, scaled_std * magnitude)
    return scaled_mean * magnitude, std


def check_target_magnitudes(magnitude):
    """Refuse targets whose variance float64 cannot hold.

    Parameters
    ----------
    magnitude : ndarray of shape (n_tasks,)
        Largest magnitude of every task's targets.
    """
    too_large = np.flatnonzero(magnitude > MAX_TARGET_MAGNITUDE)
    if too_large.size:
        task = int(too_large[0])
        raise ValueError(
            f"The targets of task {task} (0-based position) reach "
            f"{magnitude[task]:.3g} in magnitude, above "
            f"{MAX_TARGET_MAGNITUDE:.0e}: their variance, the fitted "
            "noise_variance_ and task_covariance_ and the predicted "
            "covariances, in squared units, overflow float64. Divide the "
            f"targets by a constant first (for example {magnitude[task]:.0e})."
        )


def non_finite_error(what, where="at the initial hyper-parameters"):
    """The error for a kernel or likelihood that is not finite.

    Parameters
    ----------
    what : str
        What is not finite, e.g. ``"The kernel matrix"``.
    where : str, default="at the initial hyper-parameters"
        Where it was evaluated.

    Returns
    -------
    error : ValueError
    """
    return ValueError(
        f"{what} is not finite {where}: the inputs "
        "or the targets are too large or too small for float64 with this "
        "kernel. Scale the inputs/targets, e.g. with "
        "skmtl.pipeline.TaskColumnPassthrough(MaxAbsScaler()) or "
        "StandardScaler for the features and normalize_y=True for the targets."
    )
