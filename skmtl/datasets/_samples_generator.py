"""Synthetic multi-task data sets with known true coefficients."""

import numbers

import numpy as np
from scipy.special import expit, softmax
from sklearn.utils import check_random_state

FORMATS = ("long", "wide")


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer >= {minimum}; got {value!r} of type "
            f"{type(value).__name__}. Pass an int, e.g. {name}={max(minimum, 10)}."
        )
    if value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}; got {name}={value}. "
            f"Pass a value of at least {minimum}."
        )


def _check_real(name, value, low, high=np.inf):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r}.")
    if not low <= value <= high:
        expected = f"in [{low}, {high}]" if np.isfinite(high) else f">= {low}"
        raise ValueError(f"{name} must be {expected}; got {name}={value!r}.")


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(
            f"format must be 'long' (tasks with their own rows and a task column) "
            f"or 'wide' (tasks sharing rows, one target column per task); "
            f"got format={format!r}."
        )


def _check_shape_arguments(n_tasks, n_features, n_informative):
    _check_count("n_tasks", n_tasks)
    _check_count("n_features", n_features)
    _check_count("n_informative", n_informative)
    if n_informative > n_features:
        raise ValueError(
            f"n_informative={n_informative} exceeds n_features={n_features}: the "
            "informative features are a subset of all features. Lower "
            "n_informative or raise n_features."
        )


def _task_sizes(n_samples, n_tasks, format):
    """Return the number of rows of every task as an int array of length n_tasks."""
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        _check_count("n_samples", n_samples)
        return np.full(n_tasks, n_samples, dtype=np.int64)
    if format == "wide":
        raise ValueError(
            "n_samples with one size per task requires format='long'; in "
            "format='wide' all tasks share the same rows. Pass an int n_samples, "
            "or use format='long'."
        )
    sizes = np.asarray(n_samples)
    if sizes.ndim != 1 or sizes.shape[0] != n_tasks:
        raise ValueError(
            f"n_samples must be an int or one size per task (length "
            f"n_tasks={n_tasks}); got an array of shape {sizes.shape}."
        )
    if not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(
            f"n_samples must hold integers; got dtype {sizes.dtype}. Pass integer "
            "task sizes."
        )
    too_small = np.flatnonzero(sizes < 1)
    if too_small.size:
        raise ValueError(
            f"Every task needs at least one sample; got n_samples "
            f"{sizes[too_small].tolist()} for tasks {too_small.tolist()}. "
            "Pass positive sizes."
        )
    return sizes.astype(np.int64)


def _n_rows(sizes, format):
    """Rows of X: all tasks' rows in long format, the shared rows in wide."""
    return int(sizes.sum()) if format == "long" else int(sizes[0])


def _true_coef(rng, n_tasks, n_features, n_informative, task_relatedness, n_outputs):
    """Draw coefficients w_t = sqrt(r) w_0 + sqrt(1 - r) v_t on a shared support.

    ``n_outputs`` is None for one coefficient vector per task, or the number
    of classes for one vector per task and class.
    """
    block = () if n_outputs is None else (n_outputs,)
    support = np.sort(rng.choice(n_features, size=n_informative, replace=False))
    shared = rng.standard_normal(block + (n_informative,))
    specific = rng.standard_normal((n_tasks,) + block + (n_informative,))
    coef = np.zeros((n_tasks,) + block + (n_features,))
    coef[..., support] = (
        np.sqrt(task_relatedness) * shared + np.sqrt(1 - task_relatedness) * specific
    )
    return coef


def _long_scores(features, coef, sizes):
    """Linear predictor of each row with its task's coefficients (rows by task)."""
    blocks = np.split(features, np.cumsum(sizes)[:-1])
    return np.concatenate(
        [block @ task_coef.T for block, task_coef in zip(blocks, coef)]
    )


def _long_output(rng, features, target, sizes, shuffle):
    task_index = np.repeat(np.arange(sizes.size, dtype=np.float64), sizes)
    X = np.column_stack([task_index, features])
    if shuffle:
        order = rng.permutation(X.shape[0])
        X, target = X[order], target[order]
    return X, target


def _sample_labels(rng, scores, n_classes):
    """Draw labels from the logistic (binary) or softmax (multiclass) model."""
    if n_classes == 2:
        return (rng.random(scores.shape) < expit(scores)).astype(np.int64)
    cumulative = np.cumsum(softmax(scores, axis=-1), axis=-1)
    uniform = rng.random(scores.shape[0])[:, np.newaxis]
    labels = (uniform >= cumulative).sum(axis=-1)
    return np.minimum(labels, n_classes - 1).astype(np.int64)


def make_multitask_regression(
    n_tasks=10,
    n_samples=100,
    n_features=20,
    *,
    n_informative=5,
    task_relatedness=0.9,
    noise=1.0,
    format="long",
    shuffle=True,
    random_state=None,
):
    """Generate related linear regression tasks with known coefficients.

    Every task t has coefficients ``w_t`` that are nonzero on the same
    ``n_informative`` features (the true support of joint feature selection)
    and zero elsewhere. On the support::

        w_t = sqrt(r) * w_0 + sqrt(1 - r) * v_t,

    with ``r = task_relatedness`` and ``w_0``, ``v_t`` independent standard
    normal vectors, so every ``w_t`` is standard normal and two tasks'
    coefficients have correlation ``r``: ``r = 1`` gives identical tasks,
    ``r = 0`` independent ones. Features are independent standard normal and::

        y = x . w_t + noise * e,   e ~ N(0, 1).

    The random draws happen in the order coefficients, features, noise, row
    shuffle, so for a given ``random_state`` the coefficients do not depend on
    ``n_samples``, ``noise``, ``format`` or ``shuffle``.

    Parameters
    ----------
    n_tasks : int, default=10
        Number of tasks.
    n_samples : int or array-like of int of shape (n_tasks,), default=100
        Rows per task: one size for every task, or one size per task (only
        with ``format="long"``).
    n_features : int, default=20
        Number of features.
    n_informative : int, default=5
        Number of features with nonzero coefficients, the same for all tasks.
    task_relatedness : float in [0, 1], default=0.9
        Correlation between the coefficients of two tasks.
    noise : float >= 0, default=1.0
        Standard deviation of the Gaussian noise added to the targets.
    format : {"long", "wide"}, default="long"
        ``"long"``: tasks have their own rows and column 0 of ``X`` holds the
        task index. ``"wide"``: all tasks share the rows of ``X`` and ``Y``
        has one column per task.
    shuffle : bool, default=True
        In long format, put the rows of all tasks in random order; if False,
        rows are grouped by task, tasks in order ``0..n_tasks-1``. Wide-format
        rows are independent draws and are not shuffled.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (sum(n_samples), n_features + 1) or (n_samples, n_features)
        Long format: the task index ``0..n_tasks-1`` (as float) in column 0,
        then the features. Wide format: the features.
    y : ndarray of shape (sum(n_samples),) or (n_samples, n_tasks)
        The targets; in wide format column t belongs to task t.
    coef : ndarray of shape (n_tasks, n_features)
        The true coefficients; row t is ``w_t``.

    See Also
    --------
    make_multitask_classification : The same construction for labels.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.datasets import make_multitask_regression
    >>> X, y, coef = make_multitask_regression(
    ...     n_tasks=3, n_samples=[5, 10, 20], n_features=4, n_informative=2,
    ...     random_state=0)
    >>> X.shape, y.shape, coef.shape
    ((35, 5), (35,), (3, 4))
    >>> np.unique(X[:, 0]).tolist()
    [0.0, 1.0, 2.0]
    >>> int((coef != 0).any(axis=0).sum())
    2
    >>> X, Y, coef = make_multitask_regression(
    ...     n_tasks=3, n_samples=50, n_features=6, format="wide", random_state=0)
    >>> X.shape, Y.shape
    ((50, 6), (50, 3))
    """
    _check_format(format)
    _check_shape_arguments(n_tasks, n_features, n_informative)
    sizes = _task_sizes(n_samples, n_tasks, format)
    _check_real("task_relatedness", task_relatedness, 0.0, 1.0)
    _check_real("noise", noise, 0.0)
    rng = check_random_state(random_state)

    coef = _true_coef(rng, n_tasks, n_features, n_informative, task_relatedness, None)
    features = rng.standard_normal((_n_rows(sizes, format), n_features))
    if format == "wide":
        Y = features @ coef.T
        return features, Y + noise * rng.standard_normal(Y.shape), coef
    y = _long_scores(features, coef, sizes)
    y = y + noise * rng.standard_normal(y.shape)
    X, y = _long_output(rng, features, y, sizes, shuffle)
    return X, y, coef


def make_multitask_classification(
    n_tasks=10,
    n_samples=100,
    n_features=20,
    *,
    n_informative=5,
    n_classes=2,
    task_relatedness=0.9,
    format="long",
    shuffle=True,
    random_state=None,
):
    """Generate related logistic classification tasks with known coefficients.

    The coefficients are built as in :func:`make_multitask_regression`: on
    ``n_informative`` features shared by all tasks,
    ``w_t = sqrt(r) * w_0 + sqrt(1 - r) * v_t`` with ``r = task_relatedness``
    and ``w_0``, ``v_t`` standard normal; all other coefficients are zero.
    Labels are drawn from the model the coefficients define:

    - binary (``n_classes=2``): ``P(y = 1 | x) = 1 / (1 + exp(-x . w_t))``;
    - multiclass: one vector ``w_{t,k}`` per task and class, each built as
      above, and ``P(y = k | x) = softmax_k(x . w_{t,1}, ..., x . w_{t,K})``.

    ``format="wide"`` generates multi-label data: all tasks share the rows
    and each task is one binary label.

    Parameters
    ----------
    n_tasks : int, default=10
        Number of tasks (labels, in wide format).
    n_samples : int or array-like of int of shape (n_tasks,), default=100
        Rows per task: one size for every task, or one size per task (only
        with ``format="long"``).
    n_features : int, default=20
        Number of features.
    n_informative : int, default=5
        Number of features with nonzero coefficients, the same for all tasks
        and classes.
    n_classes : int, default=2
        Number of classes, labelled ``0..n_classes-1``. Must be 2 in wide
        format.
    task_relatedness : float in [0, 1], default=0.9
        Correlation between the coefficients of two tasks (for the same
        class): 1 gives identical tasks, 0 independent ones.
    format : {"long", "wide"}, default="long"
        ``"long"``: tasks have their own rows and column 0 of ``X`` holds the
        task index. ``"wide"``: shared rows, ``Y`` has one 0/1 column per task.
    shuffle : bool, default=True
        In long format, put the rows of all tasks in random order; if False,
        rows are grouped by task, tasks in order ``0..n_tasks-1``. Wide-format
        rows are independent draws and are not shuffled.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (sum(n_samples), n_features + 1) or (n_samples, n_features)
        Long format: the task index ``0..n_tasks-1`` (as float) in column 0,
        then the features. Wide format: the features.
    y : ndarray of int of shape (sum(n_samples),) or (n_samples, n_tasks)
        Class labels; in wide format column t is the 0/1 label of task t.
    coef : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        The true coefficients: ``coef[t]`` is ``w_t`` for two classes,
        ``coef[t, k]`` is ``w_{t,k}`` for more.

    See Also
    --------
    make_multitask_regression : The same construction for real targets.

    Examples
    --------
    >>> from skmtl.datasets import make_multitask_classification
    >>> X, y, coef = make_multitask_classification(
    ...     n_tasks=4, n_samples=30, n_features=6, n_classes=3, random_state=0)
    >>> X.shape, y.shape, coef.shape
    ((120, 7), (120,), (4, 3, 6))
    >>> sorted(set(y.tolist()))
    [0, 1, 2]
    >>> X, Y, coef = make_multitask_classification(
    ...     n_tasks=4, n_samples=30, n_features=6, format="wide", random_state=0)
    >>> X.shape, Y.shape, coef.shape
    ((30, 6), (30, 4), (4, 6))
    """
    _check_format(format)
    _check_shape_arguments(n_tasks, n_features, n_informative)
    _check_count("n_classes", n_classes, minimum=2)
    if format == "wide" and n_classes != 2:
        raise ValueError(
            "format='wide' generates multi-label data, one binary label per "
            f"task, so n_classes must be 2; got n_classes={n_classes}. Use "
            "format='long' for multiclass tasks."
        )
    sizes = _task_sizes(n_samples, n_tasks, format)
    _check_real("task_relatedness", task_relatedness, 0.0, 1.0)
    rng = check_random_state(random_state)

    n_outputs = None if n_classes == 2 else n_classes
    coef = _true_coef(
        rng, n_tasks, n_features, n_informative, task_relatedness, n_outputs
    )
    features = rng.standard_normal((_n_rows(sizes, format), n_features))
    if format == "wide":
        return features, _sample_labels(rng, features @ coef.T, 2), coef
    labels = _sample_labels(rng, _long_scores(features, coef, sizes), n_classes)
    X, y = _long_output(rng, features, labels, sizes, shuffle)
    return X, y, coef
