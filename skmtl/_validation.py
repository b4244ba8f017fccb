"""Shared parameter and input checks, and the wording of their errors."""

import numbers

import numpy as np


def format_labels(labels, max_shown=10):
    """Return a short, readable list of labels for an error message.

    Parameters
    ----------
    labels : iterable
        Task labels, column names or any printable values.
    max_shown : int, default=10
        How many labels are printed before the rest is summarised.

    Returns
    -------
    text : str
        For example ``"['A', 'B', ... (12 more)]"``.

    Examples
    --------
    >>> format_labels(["A", "B"])
    "['A', 'B']"
    >>> format_labels(range(15), max_shown=3)
    '[0, 1, 2, ... (12 more)]'
    """
    values = [_plain(label) for label in labels]
    shown = ", ".join(repr(value) for value in values[:max_shown])
    if len(values) > max_shown:
        shown += f", ... ({len(values) - max_shown} more)"
    return f"[{shown}]"


def _plain(value):
    """Turn numpy scalars into Python scalars so that ``repr`` stays readable."""
    return value.item() if isinstance(value, np.generic) else value


def check_unknown_task_option(unknown_task, allowed=("error",)):
    """Validate an ``unknown_task`` parameter value.

    Parameters
    ----------
    unknown_task : str
        The value the user set.
    allowed : tuple of str
        The options the estimator offers.

    Returns
    -------
    unknown_task : str
        The validated value.
    """
    if unknown_task not in allowed:
        raise ValueError(
            f"unknown_task={unknown_task!r} is not supported; expected one of "
            f"{list(allowed)}."
        )
    return unknown_task


def is_integer_index(value):
    """Return True for an integer column position (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
