"""The School data set (ILEA exam scores, one task per school)."""

import gzip
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

DATA_FILE = "school.csv.gz"
DESCR_FILE = "school.rst"
TASK_COLUMN = "school"
TARGET_NAME = "exam_score"


def _package_file(folder, name):
    return resources.files(__package__).joinpath(folder, name)


def _read_descr():
    return _package_file("descr", DESCR_FILE).read_text(encoding="utf-8")


def _read_array():
    """Return the column names and the table of the shipped file as float64."""
    with _package_file("data", DATA_FILE).open("rb") as compressed:
        with gzip.open(compressed, "rt", encoding="ascii") as text:
            header = text.readline().strip().split(",")
            table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    return header, table


def _read_frame():
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "load_school(as_frame=True) requires pandas, which is not installed. "
            "Install it with `pip install pandas` (or `pip install skmtl[pandas]`), "
            "or call load_school(as_frame=False) for numpy arrays."
        ) from exc

    with _package_file("data", DATA_FILE).open("rb") as compressed:
        frame = pd.read_csv(compressed, compression="gzip")
    feature_names = [c for c in frame.columns if c not in (TASK_COLUMN, TARGET_NAME)]
    return frame.astype(
        {TASK_COLUMN: np.int64, TARGET_NAME: np.float64}
        | dict.fromkeys(feature_names, np.float64)
    )


def load_school(*, return_X_y=False, as_frame=False):
    """Load the School data set (multi-task regression, long format).

    Exam scores of 15,362 students in 139 Inner London schools; each school
    is a task with 22 to 251 students. The first column of ``data`` is the
    school (the task column) and the other 27 are student and school
    attributes. See ``DESCR`` for the columns, their provenance and the usual
    evaluation protocol.

    ==================  ==============
    Tasks (schools)     139
    Samples total       15362
    Samples per task    22 to 251
    Features            27 (+ task column)
    Target              exam score, 1 to 70
    ==================  ==============

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame whose ``"school"`` column is
        int64 and whose features are float64, ``target`` a Series and
        ``frame`` the DataFrame of both. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (15362, 28) or DataFrame
            Task column followed by the 27 features. As an ndarray (float64),
            column 0 holds the school label 1..139 as a float.
        target : ndarray of shape (15362,) or Series
            The exam scores, float64; the Series is named ``"exam_score"``.
        feature_names : list of str
            The names of the 27 features, without the task column.
        task_column : str or int
            The task column of ``data``: ``"school"`` when ``as_frame=True``,
            else ``0``. Pass it as ``task_column`` to skmtl estimators.
        target_names : list of str
            ``["exam_score"]``.
        frame : DataFrame or None
            ``data`` with ``target`` as its last column when
            ``as_frame=True``, else None.
        DESCR : str
            The full description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` described above.

    References
    ----------
    .. [1] Argyriou, A., Evgeniou, T. and Pontil, M. (2008). Convex multi-task
       feature learning. Machine Learning, 73(3), 243-272.
    .. [2] Bakker, B. and Heskes, T. (2003). Task clustering and gating for
       Bayesian multitask learning. Journal of Machine Learning Research, 4,
       83-99.

    Examples
    --------
    >>> from skmtl.datasets import load_school
    >>> school = load_school()
    >>> school.data.shape, school.target.shape
    ((15362, 28), (15362,))
    >>> school.task_column, len(school.feature_names)
    (0, 27)
    >>> school.feature_names[:3]
    ['year_1985', 'year_1986', 'year_1987']
    >>> X, y = load_school(return_X_y=True, as_frame=True)
    >>> X.columns[0], X["school"].nunique(), y.name
    ('school', 139, 'exam_score')
    """
    if as_frame:
        frame = _read_frame()
        data = frame.drop(columns=TARGET_NAME)
        target = frame[TARGET_NAME]
        feature_names = list(data.columns[1:])
        task_column = TASK_COLUMN
    else:
        header, table = _read_array()
        frame = None
        data = np.ascontiguousarray(table[:, :-1])
        target = np.ascontiguousarray(table[:, -1])
        feature_names = header[1:-1]
        task_column = 0
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=feature_names,
        task_column=task_column,
        target_names=[TARGET_NAME],
        frame=frame,
        DESCR=_read_descr(),
    )
