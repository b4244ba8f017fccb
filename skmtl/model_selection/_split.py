"""Task-aware cross-validation: split the rows of every task, or whole tasks.

Multi-task models learn every task from its own rows, so a fold that misses a
task tests nothing about it and a training set that misses a task cannot fit
it. :class:`TaskKFold` and :func:`train_test_split_tasks` therefore split each
task on its own (the School protocol: 75/25 of every school), while
:class:`LeaveTasksOut` holds whole tasks out to measure transfer to new tasks,
and :class:`FewShotTasksOut` gives a few labelled rows of each held-out task to
training (the k-shot protocol).
"""

import numbers
import warnings
from math import ceil, floor

import numpy as np
from sklearn.model_selection import BaseCrossValidator, KFold, train_test_split
from sklearn.utils import _safe_indexing, check_random_state, indexable

from .._tasks import per_task_rows, task_labels, unique_tasks
from .._validation import format_labels

DEFAULT_TEST_FRACTION = 0.25


def _check_kfold_parameters(n_splits, shuffle, random_state):
    """Validate k-fold parameters with the errors of sklearn's ``KFold``."""
    if not isinstance(n_splits, numbers.Integral):
        raise ValueError(
            f"The number of folds must be of Integral type. {n_splits!r} of type "
            f"{type(n_splits).__name__} was passed; give an integer n_splits >= 2."
        )
    if n_splits <= 1:
        raise ValueError(
            "k-fold cross-validation requires at least one train/test split by "
            f"setting n_splits=2 or more, got n_splits={n_splits}."
        )
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be True or False; got {shuffle!r}")
    if not shuffle and random_state is not None:
        raise ValueError(
            "Setting a random_state has no effect since shuffle is False. You "
            "should leave random_state to its default (None), or set shuffle=True."
        )


def _read_tasks(X, task_column):
    """Sorted task labels and the task index of every row of ``X``."""
    labels, name = task_labels(X, task_column)
    return unique_tasks(labels, name)


def _held_out_task_folds(tasks, n_splits, shuffle, random_state):
    """Yield the indices (into ``tasks``) of the held-out tasks of every fold.

    The unique tasks are cut by ``KFold(n_splits, shuffle, random_state)``.
    """
    if n_splits > len(tasks):
        raise ValueError(
            f"Cannot hold out whole tasks in n_splits={n_splits} folds: "
            f"X has only {len(tasks)} task(s). Set n_splits to at most "
            f"{len(tasks)}."
        )
    kfold = KFold(n_splits, shuffle=shuffle, random_state=random_state)
    for _, test_tasks in kfold.split(np.arange(len(tasks))):
        yield test_tasks


def _split_from_test_folds(test_fold, n_splits):
    """Yield sorted ``(train, test)`` indices; rows with fold -1 stay in train."""
    for fold in range(n_splits):
        in_test = test_fold == fold
        yield np.flatnonzero(~in_test), np.flatnonzero(in_test)


def _fold_sizes(n_rows, n_splits, first_larger_fold):
    """Sizes of the folds of one task: equal up to one row.

    The ``n_rows % n_splits`` larger folds start at ``first_larger_fold`` so
    that, task after task, the extra rows go round the folds and the total
    fold sizes stay balanced too (plain KFold per task would pile them all
    into the first folds).
    """
    sizes = np.full(n_splits, n_rows // n_splits, dtype=np.intp)
    larger = (first_larger_fold + np.arange(n_rows % n_splits)) % n_splits
    sizes[larger] += 1
    return sizes


def _within_task_test_folds(task_index, n_tasks, n_splits, rng):
    """Test fold of every row, -1 for rows of tasks with fewer than n_splits rows.

    Within a task the folds are contiguous chunks of its rows (in input order,
    or permuted by ``rng``), as in sklearn's ``KFold``.
    """
    test_fold = np.full(len(task_index), -1, dtype=np.intp)
    first_larger_fold = 0
    for _, rows in per_task_rows(task_index, n_tasks):
        if len(rows) < n_splits:
            continue
        if rng is not None:
            rows = rng.permutation(rows)
        sizes = _fold_sizes(len(rows), n_splits, first_larger_fold)
        test_fold[rows] = np.repeat(np.arange(n_splits), sizes)
        first_larger_fold = (first_larger_fold + len(rows)) % n_splits
    return test_fold


def _check_task_sizes(tasks, task_counts, n_splits):
    """Raise if no task can be split; warn about the tasks that cannot."""
    if not np.any(task_counts >= n_splits):
        largest = int(task_counts.max()) if len(task_counts) else 0
        raise ValueError(
            f"Cannot split the rows of any task into n_splits={n_splits} folds: "
            f"the largest task has {largest} row(s). Lower n_splits, or use "
            "LeaveTasksOut to hold out whole tasks."
        )
    small = task_counts < n_splits
    if small.any():
        warnings.warn(
            f"Task(s) {format_labels(tasks[small])} have fewer rows than "
            f"n_splits={n_splits} (sizes {task_counts[small].tolist()[:10]}), so "
            "they cannot appear in every test fold; their rows are kept in every "
            "training fold and never tested.",
            UserWarning,
            stacklevel=3,
        )


class TaskKFold(BaseCrossValidator):
    """K-fold cross-validation within every task.

    The rows of each task are split into ``n_splits`` folds as
    :class:`sklearn.model_selection.KFold` would split them, so every task
    appears in every training and every test set in proportion to its size.
    Per task, the test folds differ in size by at most one row; the larger
    folds of successive tasks rotate, so the total test folds are balanced
    to one row too. With a single task the folds are exactly those of
    ``KFold``.

    A task with fewer than ``n_splits`` rows cannot be in every test fold: its
    rows are kept in every training set and never tested, and a
    ``UserWarning`` names such tasks.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    task_column : hashable or None
        Name (DataFrame) or integer position (array) of the column of ``X``
        that holds the task of each row. ``None`` means ``X`` has no task
        column (wide or single-task format): the splitter is then exactly
        ``KFold(n_splits, shuffle=shuffle, random_state=random_state)``.
    shuffle : bool, default=False
        Whether to shuffle the rows of each task before cutting it into folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle; only allowed with ``shuffle=True``, as in ``KFold``.
        Pass an int for the same folds on every call of ``split``.

    See Also
    --------
    LeaveTasksOut : Hold out whole tasks instead of rows of every task.
    train_test_split_tasks : One train/test split within every task.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.model_selection import TaskKFold
    >>> X = np.array([[0, 1.0], [0, 2.0], [0, 3.0], [1, 4.0], [1, 5.0], [1, 6.0]])
    >>> cv = TaskKFold(n_splits=3, task_column=0)
    >>> cv
    TaskKFold(n_splits=3, random_state=None, shuffle=False, task_column=0)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [1 2 4 5] [0 3]
    [0 2 3 5] [1 4]
    [0 1 3 4] [2 5]
    """

    def __init__(self, n_splits=5, *, task_column, shuffle=False, random_state=None):
        _check_kfold_parameters(n_splits, shuffle, random_state)
        self.n_splits = int(n_splits)
        self.task_column = task_column
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        """Generate the indices of the training and test rows of every fold.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Data holding the task column (unless ``task_column=None``).
        y : array-like of shape (n_samples,), default=None
            Ignored; present for API consistency.
        groups : array-like of shape (n_samples,), default=None
            Ignored; the tasks come from the task column of ``X``.

        Yields
        ------
        train : ndarray of int
            Sorted positions of the training rows of the fold.
        test : ndarray of int
            Sorted positions of the test rows of the fold.
        """
        if self.task_column is None:
            kfold = KFold(
                self.n_splits, shuffle=self.shuffle, random_state=self.random_state
            )
            yield from kfold.split(X, y, groups)
            return
        X, y, groups = indexable(X, y, groups)
        tasks, task_index = _read_tasks(X, self.task_column)
        _check_task_sizes(tasks, np.bincount(task_index), self.n_splits)
        rng = check_random_state(self.random_state) if self.shuffle else None
        test_fold = _within_task_test_folds(task_index, len(tasks), self.n_splits, rng)
        yield from _split_from_test_folds(test_fold, self.n_splits)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API consistency.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits


class LeaveTasksOut(BaseCrossValidator):
    """K-fold cross-validation over whole tasks, for transfer to new tasks.

    The unique task labels are split by
    ``KFold(n_splits, shuffle=shuffle, random_state=random_state)``; each test
    set holds all rows of its tasks and the training set all rows of the other
    tasks, so a model is scored on tasks it never saw. Test sets hold the same
    number of tasks up to one, not the same number of rows.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2 and at most the number of tasks.
    task_column : hashable
        Name (DataFrame) or integer position (array) of the task column of
        ``X``.
    shuffle : bool, default=True
        Whether to shuffle the tasks before cutting them into folds; without
        it, folds are runs of tasks in sorted label order.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle; only allowed with ``shuffle=True``, as in ``KFold``.

    See Also
    --------
    TaskKFold : Split the rows of every task instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.model_selection import LeaveTasksOut
    >>> X = np.array([["a", 1.0], ["a", 2.0], ["b", 3.0], ["c", 4.0]], dtype=object)
    >>> cv = LeaveTasksOut(n_splits=3, task_column=0, shuffle=False)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [2 3] [0 1]
    [0 1 3] [2]
    [0 1 2] [3]
    """

    def __init__(self, n_splits=5, *, task_column, shuffle=True, random_state=None):
        _check_kfold_parameters(n_splits, shuffle, random_state)
        if task_column is None:
            raise ValueError(
                "LeaveTasksOut needs task_column, the column of X that holds the "
                "task of each row; got task_column=None. For data without a "
                "task column use TaskKFold(task_column=None) or KFold."
            )
        self.n_splits = int(n_splits)
        self.task_column = task_column
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        """Generate the indices of the training and test rows of every fold.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Data holding the task column.
        y : array-like of shape (n_samples,), default=None
            Ignored; present for API consistency.
        groups : array-like of shape (n_samples,), default=None
            Ignored; the tasks come from the task column of ``X``.

        Yields
        ------
        train : ndarray of int
            Sorted positions of the rows of the training tasks.
        test : ndarray of int
            Sorted positions of the rows of the held-out tasks.
        """
        X, y, groups = indexable(X, y, groups)
        tasks, task_index = _read_tasks(X, self.task_column)
        for test_tasks in _held_out_task_folds(
            tasks, self.n_splits, self.shuffle, self.random_state
        ):
            in_test = np.isin(task_index, test_tasks)
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API consistency.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits


def _check_shots(shots):
    """Validate ``shots``: non-negative integers, increasing; return a tuple."""
    try:
        values = list(shots)
    except TypeError:
        raise TypeError(
            f"shots must be a list of numbers of labelled rows, for example "
            f"(0, 1, 2, 5, 10); got {shots!r}."
        ) from None
    bad = [
        v
        for v in values
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0
    ]
    if not values or bad:
        raise ValueError(
            f"shots must hold non-negative integers (numbers of labelled rows of "
            f"each held-out task), got {shots!r}"
            + (f" with invalid value(s) {bad}" if bad else " (empty)")
            + ". For example shots=(0, 1, 2, 5, 10)."
        )
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(
            f"shots must be increasing without repeats, got {list(values)}; give "
            f"for example shots={tuple(sorted(set(int(v) for v in values)))}."
        )
    return tuple(int(v) for v in values)


def _check_held_out_sizes(tasks, task_counts, max_shots):
    """Raise if a task has no row left to test after its ``max_shots`` rows."""
    small = task_counts <= max_shots
    if small.any():
        raise ValueError(
            f"Task(s) {format_labels(tasks[small])} have at most max(shots)="
            f"{max_shots} rows (sizes {task_counts[small].tolist()[:10]}), so no "
            "row would be left to test them once held out. Use smaller shots "
            "(every task needs more than max(shots) rows), or remove these tasks."
        )


class FewShotTasksOut(BaseCrossValidator):
    """Hold out whole tasks and give k labelled rows of each to training.

    The k-shot protocol for transfer to new tasks. The tasks are cut into
    ``n_splits`` folds as by :class:`LeaveTasksOut`. In fold ``f``, the rows
    of every held-out task are put in random order (or kept in input order
    with ``shuffle=False``); for each ``k`` in ``shots`` the training set holds
    all rows of the other tasks and the first ``k`` rows of every held-out
    task, and the test set the rows of the held-out tasks after their first
    ``max(shots)``. The test set of a fold is therefore the same for every
    ``k``, so that scores at different ``k`` differ only by what was learnt,
    and the training sets of a fold are nested: the one for ``k`` contains the
    one for every smaller ``k``. The rows between ``k`` and ``max(shots)`` of a
    held-out task are in neither set.

    :meth:`split` yields the ``n_splits * len(shots)`` splits fold after fold,
    ``k`` after ``k`` within a fold, so the splitter works with
    :func:`sklearn.model_selection.cross_validate`; :meth:`split_shots` also
    gives the fold and ``k`` of every split.

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds of tasks, at least 2 and at most the number of tasks.
    shots : sequence of int, default=(0, 1, 2, 5, 10)
        Numbers of labelled rows of each held-out task given to training,
        non-negative and increasing. Every task needs more than ``max(shots)``
        rows, or :meth:`split` raises a ``ValueError`` naming the tasks.
    task_column : hashable
        Name (DataFrame) or integer position (array) of the task column of
        ``X``.
    shuffle : bool, default=True
        Whether to shuffle the tasks before cutting them into folds and the
        rows of every held-out task before taking its first ``k``. Without
        it, folds are runs of tasks in sorted label order and the labelled
        rows are the first rows of each task in ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds both shuffles; only allowed with ``shuffle=True``. Pass an int
        for the same splits on every call.

    See Also
    --------
    LeaveTasksOut : Hold out whole tasks with no labelled row (``shots=(0,)``).

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.model_selection import FewShotTasksOut
    >>> X = np.array([["a", 0], ["a", 1], ["a", 2], ["b", 3], ["b", 4], ["b", 5]],
    ...              dtype=object)
    >>> cv = FewShotTasksOut(2, shots=(0, 1), task_column=0, shuffle=False)
    >>> cv.get_n_splits()
    4
    >>> for fold, k, train, test in cv.split_shots(X):
    ...     print(fold, k, train, test)
    0 0 [3 4 5] [1 2]
    0 1 [0 3 4 5] [1 2]
    1 0 [0 1 2] [4 5]
    1 1 [0 1 2 3] [4 5]
    """

    def __init__(
        self,
        n_splits=3,
        *,
        shots=(0, 1, 2, 5, 10),
        task_column,
        shuffle=True,
        random_state=None,
    ):
        _check_kfold_parameters(n_splits, shuffle, random_state)
        if task_column is None:
            raise ValueError(
                "FewShotTasksOut needs task_column, the column of X that holds "
                "the task of each row; got task_column=None."
            )
        self.n_splits = int(n_splits)
        self.shots = _check_shots(shots)
        self.task_column = task_column
        self.shuffle = shuffle
        self.random_state = random_state

    def split_shots(self, X, y=None, groups=None):
        """Generate every split with its fold and number of labelled rows.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Data holding the task column.
        y : array-like of shape (n_samples,), default=None
            Ignored; present for API consistency.
        groups : array-like of shape (n_samples,), default=None
            Ignored; the tasks come from the task column of ``X``.

        Yields
        ------
        fold : int
            Index of the fold of held-out tasks, from 0.
        k : int
            Number of labelled rows of each held-out task in ``train``.
        train : ndarray of int
            Sorted positions of the rows of the other tasks and of the first
            ``k`` rows of every held-out task.
        test : ndarray of int
            Sorted positions of the rows of the held-out tasks after their
            first ``max(shots)``; the same for every ``k`` of a fold.
        """
        X, y, groups = indexable(X, y, groups)
        tasks, task_index = _read_tasks(X, self.task_column)
        n_tasks = len(tasks)
        max_shots = self.shots[-1]
        _check_held_out_sizes(
            tasks, np.bincount(task_index, minlength=n_tasks), max_shots
        )
        rng = check_random_state(self.random_state) if self.shuffle else None
        folds = list(_held_out_task_folds(tasks, self.n_splits, self.shuffle, rng))
        # Every task is held out once: order its rows once, for all folds.
        ordered = {
            task: rows if rng is None else rng.permutation(rows)
            for task, rows in per_task_rows(task_index, n_tasks)
        }
        for fold, held_out in enumerate(folds):
            other = np.flatnonzero(~np.isin(task_index, held_out))
            test = np.sort(np.concatenate([ordered[t][max_shots:] for t in held_out]))
            for k in self.shots:
                labelled = [ordered[t][:k] for t in held_out]
                train = np.sort(np.concatenate([other, *labelled]))
                yield fold, k, train, test

    def split(self, X, y=None, groups=None):
        """Generate the training and test rows of every (fold, k) split.

        Fold after fold, and within a fold ``k`` after ``k`` in the order of
        ``shots``; :meth:`split_shots` gives the fold and ``k`` too.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Data holding the task column.
        y : array-like of shape (n_samples,), default=None
            Ignored; present for API consistency.
        groups : array-like of shape (n_samples,), default=None
            Ignored; the tasks come from the task column of ``X``.

        Yields
        ------
        train : ndarray of int
            Sorted positions of the training rows.
        test : ndarray of int
            Sorted positions of the test rows.
        """
        for _, _, train, test in self.split_shots(X, y, groups):
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, ``n_splits * len(shots)``.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API consistency.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits * len(self.shots)


# --------------------------------------------------------------------------
# one train/test split within every task
# --------------------------------------------------------------------------


def _check_fraction(value, name):
    """Validate ``test_size`` or ``train_size``: None or a float in (0, 1)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name}={value!r} is a number of rows, which is not meaningful when "
            "every task is split on its own (tasks differ in size). Give a "
            f"fraction in (0, 1), for example {name}=0.25."
        )
    if not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name}={value!r} should be a float in the (0, 1) range.")
    return float(value)


def _check_fractions(test_size, train_size):
    """Return ``(test_fraction, train_fraction)``; at most one is None."""
    test_fraction = _check_fraction(test_size, "test_size")
    train_fraction = _check_fraction(train_size, "train_size")
    if test_fraction is None and train_fraction is None:
        return DEFAULT_TEST_FRACTION, None
    if test_fraction is not None and train_fraction is not None:
        if test_fraction + train_fraction > 1:
            raise ValueError(
                f"The sum of test_size and train_size = "
                f"{test_fraction + train_fraction}, should be in the (0, 1) range. "
                "Reduce test_size and/or train_size."
            )
    return test_fraction, train_fraction


def _task_split_sizes(n_rows, test_fraction, train_fraction):
    """``(n_train, n_test)`` of one task.

    Rounded as sklearn's ``train_test_split`` rounds (test up, train down),
    then clipped so that a task with two or more rows keeps at least one
    training and one test row; a single row goes to training.
    """
    if n_rows == 1:
        return 1, 0
    if test_fraction is None:
        n_test = n_rows - floor(train_fraction * n_rows)
    else:
        n_test = ceil(test_fraction * n_rows)
    n_test = min(max(n_test, 1), n_rows - 1)
    if train_fraction is None:
        n_train = n_rows - n_test
    else:
        n_train = floor(train_fraction * n_rows)
    n_train = min(max(n_train, 1), n_rows - n_test)
    return n_train, n_test


def _within_task_train_test(task_index, n_tasks, test_fraction, train_fraction, rng):
    """Sorted train and test row positions, split within every task."""
    train_parts, test_parts = [], []
    for _, rows in per_task_rows(task_index, n_tasks):
        n_train, n_test = _task_split_sizes(len(rows), test_fraction, train_fraction)
        if rng is None:
            # Like train_test_split(shuffle=False): first rows train, next test.
            train_parts.append(rows[:n_train])
            test_parts.append(rows[n_train : n_train + n_test])
        else:
            # Like ShuffleSplit: the permutation's head is the test set.
            permuted = rng.permutation(rows)
            test_parts.append(permuted[:n_test])
            train_parts.append(permuted[n_test : n_test + n_train])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))


def _warn_single_row_tasks(tasks, task_counts):
    single = task_counts == 1
    if single.any():
        warnings.warn(
            f"Task(s) {format_labels(tasks[single])} have a single row, which "
            "cannot be split; it was put in the training set so that the task "
            "is known to the model. These tasks have no test rows.",
            UserWarning,
            stacklevel=3,
        )


def train_test_split_tasks(
    *arrays,
    task_column,
    test_size=None,
    train_size=None,
    random_state=None,
    shuffle=True,
):
    """Split arrays into train and test subsets within every task.

    Like :func:`sklearn.model_selection.train_test_split`, but each task's
    rows are split on their own (the School protocol: 75/25 of every school),
    so every task is in both subsets in the same proportion. A task with
    ``n_t`` rows gets ``ceil(test_size * n_t)`` test rows (with only
    ``train_size`` given, ``floor(train_size * n_t)`` training rows and the
    rest test), clipped so that a task with at least two rows keeps at least
    one training and one test row. A task with a single row goes to the
    training set, with a ``UserWarning`` naming it.

    Parameters
    ----------
    *arrays : sequence of indexables with the same number of rows
        ``arrays[0]`` is ``X`` and holds the task column; the others (``y``,
        sample weights, ...) are split the same way. Lists, arrays, sparse
        matrices and pandas objects are accepted; pandas objects keep their
        type and index.
    task_column : hashable or None
        Name (DataFrame) or integer position (array) of the task column of
        ``X``. ``None`` calls ``sklearn.model_selection.train_test_split``
        with the same arguments.
    test_size : float or None, default=None
        Fraction of the rows of each task in the test set, in (0, 1). ``None``
        means the complement of ``train_size``, or 0.25 if that is ``None`` too.
        Integers (numbers of rows) are rejected: tasks differ in size.
    train_size : float or None, default=None
        Fraction of the rows of each task in the training set, in (0, 1).
        ``None`` means the complement of ``test_size``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle within each task; pass an int for a reproducible
        split.
    shuffle : bool, default=True
        Whether to shuffle each task's rows before splitting; without it the
        first rows of each task are its training rows.

    Returns
    -------
    splitting : list of length 2 * len(arrays)
        ``X_train, X_test, y_train, y_test, ...``. Rows keep the order they
        had in the input.

    See Also
    --------
    TaskKFold : Cross-validation within every task.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.model_selection import train_test_split_tasks
    >>> X = np.column_stack([[0, 0, 0, 0, 1, 1, 1, 1], np.arange(8.0)])
    >>> y = np.arange(8)
    >>> X_train, X_test, y_train, y_test = train_test_split_tasks(
    ...     X, y, task_column=0, test_size=0.25, shuffle=False)
    >>> y_train, y_test
    (array([0, 1, 2, 4, 5, 6]), array([3, 7]))
    """
    if not arrays:
        raise ValueError("At least one array required as input")
    if task_column is None:
        return train_test_split(
            *arrays,
            test_size=test_size,
            train_size=train_size,
            random_state=random_state,
            shuffle=shuffle,
        )
    test_fraction, train_fraction = _check_fractions(test_size, train_size)
    arrays = indexable(*arrays)
    tasks, task_index = _read_tasks(arrays[0], task_column)
    if len(task_index) == 0:
        raise ValueError("X has no rows; there is nothing to split.")
    _warn_single_row_tasks(tasks, np.bincount(task_index, minlength=len(tasks)))
    rng = check_random_state(random_state) if shuffle else None
    train, test = _within_task_train_test(
        task_index, len(tasks), test_fraction, train_fraction, rng
    )
    return [
        part
        for array in arrays
        for part in (_safe_indexing(array, train), _safe_indexing(array, test))
    ]
