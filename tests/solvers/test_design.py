"""Design products against a naive loop over tasks and observations.

Oracle: for every task ``t`` and its observations ``i`` (row ``r_i`` of
``X``, factor ``c_i = s_i / n_t``), the products are written directly from
their definitions with numpy: ``x_{r_i} . w_t``, ``sum_i v_i x_{r_i}``,
``sum_i v_i``, ``sum_i c_i x_{r_i}``, ``sum_i c_i x_{r_i}^2`` and
``sum_i c_i x_{r_i} x_{r_i}^T``. Tolerance: rounding of sums of a few dozen
terms (``rtol=1e-12``).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from skmtl._tasks import check_task_data
from skmtl.solvers._design import make_design

N_ROWS, N_FEATURES, N_TASKS = 12, 4, 3


def wide_data(sparse, rng):
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    X[rng.random(X.shape) < 0.3] = 0.0
    Y = rng.normal(size=(N_ROWS, N_TASKS))
    Y[rng.random(Y.shape) < 0.3] = np.nan
    Y[0] = 1.0  # every task keeps a row
    weight = rng.uniform(0.2, 3.0, size=N_ROWS)
    X = sp.csr_matrix(X) if sparse else X
    return check_task_data(BaseEstimator(), X, Y, sample_weight=weight, y_numeric=True)


def long_data(sparse, rng):
    task = rng.permutation(np.repeat(np.arange(N_TASKS), [3, 5, 7]))
    features = rng.normal(size=(len(task), N_FEATURES))
    X = np.column_stack([task, features])
    X = sp.csr_matrix(X) if sparse else X
    weight = rng.uniform(0.2, 3.0, size=len(task))
    y = rng.normal(size=len(task))
    return check_task_data(
        BaseEstimator(), X, y, sample_weight=weight, task_column=0, y_numeric=True
    )


def naive_observations(data):
    """``(task, row of X, target, c)`` of every observation, in a plain loop."""
    X = data.X.toarray() if sp.issparse(data.X) else np.asarray(data.X)
    rows = np.arange(len(data.y)) if data.row_index is None else data.row_index
    totals = np.zeros(data.n_tasks)
    for t, w in zip(data.task_index, data.sample_weight):
        totals[t] += w
    return [
        (t, X[r], y, w / totals[t])
        for t, r, y, w in zip(data.task_index, rows, data.y, data.sample_weight)
    ]


@pytest.fixture(
    params=[(fmt, sparse) for fmt in ("wide", "long") for sparse in (False, True)],
    ids=lambda p: f"{p[0]}-{'sparse' if p[1] else 'dense'}",
)
def problem(request):
    fmt, sparse = request.param
    rng = np.random.default_rng(0)
    data = wide_data(sparse, rng) if fmt == "wide" else long_data(sparse, rng)
    design = make_design(data)
    assert design.layout == ("shared" if fmt == "wide" else "long")
    return data, design, naive_observations(data)


def cells(design, data):
    """Positions of the observations in the design's residual-like arrays."""
    if design.layout == "long":
        return np.arange(len(data.y))
    return (data.row_index, data.task_index)


def test_predict(problem):
    data, design, observations = problem
    W = np.random.default_rng(1).normal(size=(N_TASKS, N_FEATURES))
    expected = [x @ W[t] for t, x, _, _ in observations]
    got = design.predict(W)[cells(design, data)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_correlate_and_task_sums(problem):
    data, design, observations = problem
    values = np.random.default_rng(2).normal(size=len(observations))
    expected_corr = np.zeros((N_TASKS, N_FEATURES))
    expected_sums = np.zeros(N_TASKS)
    for (t, x, _, _), v in zip(observations, values):
        expected_corr[t] += v * x
        expected_sums[t] += v
    laid_out = np.zeros(design.y.shape)
    laid_out[cells(design, data)] = values
    np.testing.assert_allclose(design.correlate(laid_out), expected_corr, rtol=1e-12)
    np.testing.assert_allclose(design.task_sums(laid_out), expected_sums, rtol=1e-12)


def test_column_moments_means_and_gram(problem):
    _, design, observations = problem
    means = np.zeros((N_TASKS, N_FEATURES))
    second = np.zeros((N_TASKS, N_FEATURES))
    gram = np.zeros((N_TASKS, N_FEATURES, N_FEATURES))
    for t, x, _, c in observations:
        means[t] += c * x
        second[t] += c * x * x
        gram[t] += c * np.outer(x, x)
    got_means, got_second = design.column_moments()
    np.testing.assert_allclose(got_means, means, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(design.column_means(), means, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_second, second, rtol=1e-12)
    columns = np.array([2, 0, 3])
    got_gram = design.gram(columns)
    got_gram = np.broadcast_to(got_gram, (N_TASKS, 3, 3))
    np.testing.assert_allclose(
        got_gram, gram[:, columns[:, None], columns[None, :]], rtol=1e-12, atol=1e-15
    )


def test_task_rows_and_counts(problem):
    _, design, observations = problem
    for t in range(N_TASKS):
        mine = [(x, y, c) for task, x, y, c in observations if task == t]
        X_t, y_t, c_t = design.task_rows(t)
        X_t = X_t.toarray() if sp.issparse(X_t) else X_t
        assert design.task_counts[t] == len(mine)
        np.testing.assert_allclose(X_t, [m[0] for m in mine], rtol=0)
        np.testing.assert_allclose(y_t, [m[1] for m in mine], rtol=0)
        np.testing.assert_allclose(c_t, [m[2] for m in mine], rtol=1e-15)
