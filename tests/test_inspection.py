"""TaskRelationsDisplay: the order it draws, the matrix it reads, its errors."""

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
from skmtl.inspection import TaskRelationsDisplay
from skmtl.linear_model import MeanRegularizedRegressor

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402


def _axes():
    return Figure().subplots()


def _block_correlation(sizes, seed=0, within=0.8, between=0.1):
    """A correlation matrix of clusters of tasks, tasks shuffled.

    Returns the matrix and the cluster of every task (the oracle).
    """
    clusters = np.repeat(np.arange(len(sizes)), sizes)
    same = clusters[:, None] == clusters[None, :]
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-0.05, 0.05, size=same.shape)
    matrix = np.where(same, within, between) + (noise + noise.T) / 2
    np.fill_diagonal(matrix, 1.0)
    shuffle = rng.permutation(len(clusters))
    return matrix[np.ix_(shuffle, shuffle)], clusters[shuffle]


def _is_grouped(clusters_in_order):
    """Whether every cluster's tasks are consecutive."""
    changes = np.flatnonzero(clusters_in_order[1:] != clusters_in_order[:-1])
    return len(changes) == len(np.unique(clusters_in_order)) - 1


def _is_permutation(order, n_tasks):
    return sorted(order.tolist()) == list(range(n_tasks))


class _FittedRelations(RegressorMixin, BaseEstimator):
    """A stand-in model whose fit sets the given relation attributes."""

    def __init__(self, attributes=None):
        self.attributes = attributes

    def fit(self, X=None, y=None):
        for name, value in (self.attributes or {}).items():
            setattr(self, name, value)
        return self


@pytest.mark.parametrize("seed", range(5))
def test_order_groups_the_given_clusters(seed):
    matrix, clusters = _block_correlation([4, 3, 5], seed=seed)
    # Clusters that do not follow the matrix still come out grouped.
    rng = np.random.default_rng(seed)
    given = rng.permutation(clusters)
    labels = np.array([f"task{i}" for i in range(len(given))])
    display = TaskRelationsDisplay.from_matrix(
        matrix, labels=labels, clusters=given, ax=_axes()
    )
    assert _is_permutation(display.order_, len(given))
    np.testing.assert_array_equal(display.clusters_, given[display.order_])
    np.testing.assert_array_equal(display.labels_, labels[display.order_])
    assert _is_grouped(display.clusters_)
    # One line per boundary between clusters, on each axis.
    assert len(display.ax_.lines) == 2 * (len(np.unique(given)) - 1)


@pytest.mark.parametrize("seed", range(5))
def test_hierarchical_order_recovers_planted_blocks(seed):
    matrix, clusters = _block_correlation([3, 5, 4, 2], seed=seed)
    display = TaskRelationsDisplay.from_matrix(matrix, ax=_axes())
    assert display.clusters_ is None
    assert _is_permutation(display.order_, len(clusters))
    assert _is_grouped(clusters[display.order_])
    assert not display.ax_.lines


def test_matrix_is_the_input_permuted_and_the_input_is_unchanged():
    matrix, _ = _block_correlation([3, 3], seed=1)
    before = matrix.copy()
    display = TaskRelationsDisplay.from_matrix(matrix, ax=_axes())
    order = display.order_
    expected = np.array([[before[s, t] for t in order] for s in order])
    np.testing.assert_array_equal(display.matrix_, expected)
    np.testing.assert_array_equal(display.im_.get_array(), expected)
    np.testing.assert_array_equal(matrix, before)
    # The colour scale is symmetric around zero, up to the largest value.
    assert display.im_.get_clim() == (-1.0, 1.0)


def test_order_none_keeps_and_labels_reorder():
    matrix, _ = _block_correlation([3, 2], seed=2)
    labels = ["e", "d", "c", "b", "a"]
    kept = TaskRelationsDisplay.from_matrix(
        matrix, labels=labels, order=None, ax=_axes()
    )
    np.testing.assert_array_equal(kept.order_, np.arange(5))
    np.testing.assert_array_equal(kept.matrix_, matrix)
    alphabetical = TaskRelationsDisplay.from_matrix(
        matrix, labels=labels, order=["a", "b", "c", "d", "e"], ax=_axes()
    )
    np.testing.assert_array_equal(alphabetical.order_, [4, 3, 2, 1, 0])
    np.testing.assert_array_equal(alphabetical.matrix_, matrix[::-1, ::-1])


def test_dataframe_gives_the_labels():
    matrix, _ = _block_correlation([2, 2], seed=3)
    frame = pd.DataFrame(matrix, index=list("wxyz"), columns=list("wxyz"))
    display = TaskRelationsDisplay.from_matrix(frame, order=None, ax=_axes())
    assert display.labels_.tolist() == list("wxyz")


def _mtgp():
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 5, size=45)
    task = np.repeat(["a", "b", "c"], 15)
    sign = np.select([task == "a", task == "b"], [1.0, -1.5], 0.8)
    y = np.sin(x) * sign + 0.05 * rng.randn(45)
    X = pd.DataFrame({"task": task, "x": x})
    return MultiTaskGaussianProcessRegressor(task_column="task", random_state=0).fit(
        X, y
    )


def test_from_estimator_on_the_multitask_gp():
    gp = _mtgp()
    display = TaskRelationsDisplay.from_estimator(gp, ax=_axes())
    order = display.order_
    np.testing.assert_allclose(
        display.matrix_, gp.task_correlation_[np.ix_(order, order)], rtol=0, atol=0
    )
    np.testing.assert_array_equal(display.labels_, gp.tasks_[order])
    # Tasks a and c move together, b against them: a and c are neighbours.
    assert (
        abs(display.labels_.tolist().index("a") - display.labels_.tolist().index("c"))
        == 1
    )
    assert display.quantity == "task correlation"
    assert display.ax_.get_title() == "MultiTaskGaussianProcessRegressor"
    assert display.figure_ is display.ax_.figure


def test_from_estimator_reads_similarity_first_and_the_clusters():
    correlation, _ = _block_correlation([2, 2], seed=4)
    similarity, clusters = _block_correlation([3, 3], seed=5)
    tasks = np.array([10, 20, 30, 40, 50, 60])
    model = _FittedRelations(
        {
            "tasks_": tasks,
            "task_correlation_": correlation,
            "task_similarity_": similarity,
            "task_clusters_": clusters,
        }
    ).fit()
    display = TaskRelationsDisplay.from_estimator(model, ax=_axes())
    order = display.order_
    np.testing.assert_array_equal(display.matrix_, similarity[np.ix_(order, order)])
    np.testing.assert_array_equal(display.clusters_, clusters[order])
    np.testing.assert_array_equal(display.labels_, tasks[order])
    assert _is_grouped(display.clusters_)
    assert display.quantity == "task similarity"


def test_from_estimator_reads_the_adjacency_of_a_graph_model_in_a_pipeline():
    adjacency = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    model = _FittedRelations(
        {"tasks_": np.array(["p", "q", "r"]), "adjacency_": adjacency}
    )
    pipeline = make_pipeline(FunctionTransformer(), model).fit(np.zeros((2, 1)), [0, 1])
    display = TaskRelationsDisplay.from_estimator(pipeline, order=None, ax=_axes())
    np.testing.assert_array_equal(display.matrix_, adjacency)
    assert display.quantity == "task graph weight"
    assert display.im_.get_clim() == (-2.0, 2.0)


def test_plot_without_axes_makes_a_figure():
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    matrix, _ = _block_correlation([2, 3])
    display = TaskRelationsDisplay(matrix, labels=list("abcde")).plot(
        tick_labels=True, colorbar=False
    )
    try:
        assert [t.get_text() for t in display.ax_.get_xticklabels()] == list(
            display.labels_
        )
    finally:
        plt.close(display.figure_)


def test_auto_tick_labels_thin_out_many_tasks():
    n_tasks = 139
    matrix = np.eye(n_tasks)
    display = TaskRelationsDisplay.from_matrix(matrix, order=None, ax=_axes())
    shown = [t.get_text() for t in display.ax_.get_yticklabels()]
    # Every 4th task of 139 (at most 40 labels).
    assert shown == [str(i) for i in range(0, n_tasks, 4)]


def test_unfitted_estimator_is_a_clear_error():
    with pytest.raises(NotFittedError, match="not fitted yet.*Call fit first"):
        TaskRelationsDisplay.from_estimator(MeanRegularizedRegressor(), ax=_axes())


def test_estimator_without_relations_is_a_clear_error():
    X = np.random.default_rng(0).normal(size=(20, 2))
    Y = X @ np.ones((2, 3))
    model = MeanRegularizedRegressor().fit(X, Y)
    with pytest.raises(ValueError, match="MeanRegularizedRegressor has no relations"):
        TaskRelationsDisplay.from_estimator(model, ax=_axes())
    with pytest.raises(ValueError, match="task_correlation_.*from_matrix"):
        TaskRelationsDisplay.from_estimator(model, ax=_axes())


def test_a_matrix_given_as_estimator_is_a_clear_error():
    with pytest.raises(TypeError, match="got an object of type ndarray.*from_matrix"):
        TaskRelationsDisplay.from_estimator(np.eye(3), ax=_axes())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"matrix": np.ones((2, 3))}, r"must be square.*got shape \(2, 3\)"),
        ({"labels": ["a", "b"]}, r"labels must have one entry per task \(3.*got 2"),
        ({"clusters": [[0, 1, 2]]}, r"clusters must be one-dimensional"),
        ({"order": "alphabetical"}, r"order must be 'cluster', None.*'alphabetical'"),
        ({"order": [0, 1, 1]}, r"every task label exactly once"),
        ({"order": [0, 1, 5]}, r"unknown labels \[5\]"),
        ({"tick_labels": "some"}, r"tick_labels must be 'auto', True or False"),
        ({"matrix": np.full((3, 3), np.nan)}, r"matrix contains NaN"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, match):
    arguments = {"matrix": np.eye(3), **kwargs}
    with pytest.raises(ValueError, match=match):
        TaskRelationsDisplay.from_matrix(**arguments, ax=_axes())


def test_without_matplotlib_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        ImportError, match=r'needs matplotlib.*pip install "skmtl\[plot\]"'
    ):
        TaskRelationsDisplay.from_matrix(np.eye(2))


def _three_clusters_of_tasks(seed=0):
    """Wide data: 6 tasks in 3 clusters of equal coefficients, tasks shuffled."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 4))
    centres = 3 * rng.normal(size=(3, 4))
    clusters = np.array([0, 1, 2, 1, 0, 2])
    Y = X @ centres[clusters].T + 0.1 * rng.normal(size=(90, 6))
    return X, Y, clusters


def test_from_estimator_on_the_clustered_model_groups_its_clusters():
    from sklearn.metrics import adjusted_rand_score

    from skmtl.linear_model import ClusteredMultiTaskRegressor

    X, Y, clusters = _three_clusters_of_tasks()
    model = ClusteredMultiTaskRegressor(alpha=0.1, n_clusters=3).fit(X, Y)
    display = TaskRelationsDisplay.from_estimator(model, ax=_axes())
    order = display.order_
    np.testing.assert_array_equal(
        display.matrix_, model.task_similarity_[np.ix_(order, order)]
    )
    np.testing.assert_array_equal(display.clusters_, model.task_clusters_[order])
    # The planted clusters are found and drawn side by side.
    assert adjusted_rand_score(clusters, model.task_clusters_) == 1.0
    assert _is_grouped(clusters[order])
    assert display.quantity == "task similarity"


def test_from_estimator_on_the_task_relationship_model():
    from skmtl.linear_model import TaskRelationshipRegressor

    X, Y, clusters = _three_clusters_of_tasks(seed=1)
    model = TaskRelationshipRegressor(alpha=0.01, beta=0.01).fit(X, Y)
    display = TaskRelationsDisplay.from_estimator(model, ax=_axes())
    order = display.order_
    np.testing.assert_array_equal(
        display.matrix_, model.task_correlation_[np.ix_(order, order)]
    )
    assert display.clusters_ is None
    # Tasks with equal coefficients are the most correlated: neighbours.
    assert _is_grouped(clusters[order])


def test_from_estimator_on_the_graph_model_draws_its_graph():
    from skmtl.linear_model import GraphRegularizedRegressor

    X, Y, _ = _three_clusters_of_tasks(seed=2)
    edges = [(0, 4, 1.0), (1, 3, 2.0), (2, 5, 0.5)]
    model = GraphRegularizedRegressor(alpha=0.1, graph=edges).fit(X, Y)
    display = TaskRelationsDisplay.from_estimator(model, order=None, ax=_axes())
    expected = np.zeros((6, 6))
    for s, t, weight in edges:
        expected[s, t] = expected[t, s] = weight
    np.testing.assert_array_equal(display.matrix_, expected)
    assert display.quantity == "task graph weight"
    ordered = TaskRelationsDisplay.from_estimator(model, ax=_axes())
    # Joined tasks are drawn side by side.
    position = np.argsort(ordered.order_)
    for s, t, _ in edges:
        assert abs(position[s] - position[t]) == 1
