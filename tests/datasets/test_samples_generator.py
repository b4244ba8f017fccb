import numpy as np
import pytest
from scipy.special import softmax

from skmtl.datasets import make_multitask_classification, make_multitask_regression

GENERATORS = [make_multitask_regression, make_multitask_classification]


def support(coef):
    """Features with a nonzero coefficient in any task (or class)."""
    return np.flatnonzero(np.any(coef.reshape(-1, coef.shape[-1]) != 0, axis=0))


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("format", ["long", "wide"])
def test_same_random_state_same_data(make, format):
    first = make(n_tasks=3, n_samples=20, n_features=6, format=format, random_state=7)
    second = make(n_tasks=3, n_samples=20, n_features=6, format=format, random_state=7)
    other = make(n_tasks=3, n_samples=20, n_features=6, format=format, random_state=8)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])


@pytest.mark.parametrize("make", GENERATORS)
def test_random_state_instance_accepted(make):
    rng = np.random.RandomState(0)
    X, y, coef = make(
        n_tasks=2, n_samples=5, n_features=3, n_informative=2, random_state=rng
    )
    assert X.shape == (10, 4)


def test_long_regression_shapes():
    X, y, coef = make_multitask_regression(
        n_tasks=4, n_samples=25, n_features=7, n_informative=3, random_state=0
    )
    assert X.shape == (100, 8)
    assert y.shape == (100,)
    assert coef.shape == (4, 7)
    assert X.dtype == y.dtype == coef.dtype == np.float64


def test_wide_regression_shapes():
    X, Y, coef = make_multitask_regression(
        n_tasks=4, n_samples=25, n_features=7, format="wide", random_state=0
    )
    assert X.shape == (25, 7)
    assert Y.shape == (25, 4)
    assert coef.shape == (4, 7)


def test_long_task_column_holds_task_indices():
    X, _, _ = make_multitask_regression(
        n_tasks=5, n_samples=12, n_features=3, n_informative=3, random_state=0
    )
    labels, counts = np.unique(X[:, 0], return_counts=True)
    np.testing.assert_array_equal(labels, np.arange(5.0))
    np.testing.assert_array_equal(counts, 12)


@pytest.mark.parametrize("make", GENERATORS)
def test_per_task_sizes_respected(make):
    sizes = [3, 17, 1, 40]
    X, y, _ = make(n_tasks=4, n_samples=sizes, n_features=5, random_state=0)
    assert X.shape == (sum(sizes), 6)
    assert y.shape == (sum(sizes),)
    np.testing.assert_array_equal(np.bincount(X[:, 0].astype(int)), sizes)


@pytest.mark.parametrize("make", GENERATORS)
def test_unshuffled_rows_are_grouped_by_task(make):
    kwargs = dict(n_tasks=3, n_samples=[4, 6, 2], n_features=5, random_state=3)
    X, y, coef = make(shuffle=False, **kwargs)
    X_shuffled, y_shuffled, coef_shuffled = make(shuffle=True, **kwargs)
    np.testing.assert_array_equal(X[:, 0], np.repeat([0.0, 1.0, 2.0], [4, 6, 2]))
    order = np.lexsort(X_shuffled.T[::-1])
    np.testing.assert_array_equal(X_shuffled[order], X[np.lexsort(X.T[::-1])])
    np.testing.assert_array_equal(coef_shuffled, coef)
    assert not np.array_equal(X_shuffled, X)


@pytest.mark.parametrize("n_informative", [1, 4, 9])
@pytest.mark.parametrize("task_relatedness", [0.0, 0.5, 1.0])
def test_support_is_shared_and_has_n_informative_features(
    n_informative, task_relatedness
):
    _, _, coef = make_multitask_regression(
        n_tasks=6,
        n_samples=5,
        n_features=9,
        n_informative=n_informative,
        task_relatedness=task_relatedness,
        random_state=0,
    )
    nonzero = coef != 0
    assert support(coef).size == n_informative
    # every task uses exactly the shared support (normal draws are never 0)
    np.testing.assert_array_equal(nonzero, np.tile(nonzero[0], (6, 1)))


@pytest.mark.parametrize("make", GENERATORS)
def test_relatedness_one_gives_identical_tasks(make):
    _, _, coef = make(n_tasks=5, n_features=8, task_relatedness=1.0, random_state=0)
    for task_coef in coef[1:]:
        np.testing.assert_array_equal(task_coef, coef[0])


def test_relatedness_zero_gives_different_tasks():
    _, _, coef = make_multitask_regression(
        n_tasks=5, n_features=8, task_relatedness=0.0, random_state=0
    )
    assert len(np.unique(coef, axis=0)) == 5


def test_relatedness_is_the_correlation_of_task_coefficients():
    # With many informative features the sample correlation between two
    # tasks' coefficients concentrates around r (standard error about 0.01).
    n_informative = 20000
    for relatedness in (0.0, 0.3, 0.9):
        _, _, coef = make_multitask_regression(
            n_tasks=2,
            n_samples=1,
            n_features=n_informative,
            n_informative=n_informative,
            task_relatedness=relatedness,
            random_state=0,
        )
        correlation = np.corrcoef(coef)[0, 1]
        assert abs(correlation - relatedness) < 0.05
        np.testing.assert_allclose(coef.std(axis=1), 1.0, atol=0.05)


def test_noise_free_regression_is_linear_in_features():
    X, y, coef = make_multitask_regression(
        n_tasks=3,
        n_samples=[5, 8, 6],
        n_features=4,
        n_informative=2,
        noise=0.0,
        random_state=2,
    )
    task_index = X[:, 0].astype(int)
    expected = np.einsum("ij,ij->i", X[:, 1:], coef[task_index])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)

    X, Y, coef = make_multitask_regression(
        n_tasks=3,
        n_samples=10,
        n_features=4,
        n_informative=2,
        noise=0.0,
        format="wide",
        random_state=2,
    )
    np.testing.assert_allclose(Y, X @ coef.T, rtol=1e-12, atol=1e-12)


def test_noise_level_matches_residual_std():
    X, y, coef = make_multitask_regression(
        n_tasks=2,
        n_samples=20000,
        n_features=3,
        n_informative=3,
        noise=2.5,
        random_state=0,
    )
    residual = y - np.einsum("ij,ij->i", X[:, 1:], coef[X[:, 0].astype(int)])
    # 40000 draws: the sample std is within 1% of 2.5 with overwhelming odds
    assert abs(residual.std() - 2.5) < 0.025 * 2.5


def test_binary_classification_shapes_and_labels():
    X, y, coef = make_multitask_classification(
        n_tasks=3, n_samples=40, n_features=5, random_state=0
    )
    assert X.shape == (120, 6)
    assert y.shape == (120,)
    assert coef.shape == (3, 5)
    assert np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == {0, 1}


def test_multiclass_shapes_labels_and_support():
    X, y, coef = make_multitask_classification(
        n_tasks=3,
        n_samples=200,
        n_features=6,
        n_informative=2,
        n_classes=4,
        random_state=0,
    )
    assert coef.shape == (3, 4, 6)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert support(coef).size == 2


def test_wide_classification_is_multilabel():
    X, Y, coef = make_multitask_classification(
        n_tasks=5,
        n_samples=60,
        n_features=4,
        n_informative=2,
        format="wide",
        random_state=0,
    )
    assert X.shape == (60, 4)
    assert Y.shape == (60, 5)
    assert coef.shape == (5, 4)
    assert set(np.unique(Y)) == {0, 1}


def test_binary_labels_follow_logistic_model():
    # Rows with a large positive logit are almost always 1, large negative 0.
    X, y, coef = make_multitask_classification(
        n_tasks=2, n_samples=5000, n_features=3, n_informative=3, random_state=0
    )
    logit = np.einsum("ij,ij->i", X[:, 1:], coef[X[:, 0].astype(int)])
    assert y[logit > 4].mean() > 0.95
    assert y[logit < -4].mean() < 0.05
    # Bernoulli(p) has mean p: within bins of the logit the label rate tracks p.
    middle = np.abs(logit) < 0.2
    assert abs(y[middle].mean() - 0.5) < 0.1


def test_multiclass_label_frequencies_follow_softmax_model():
    X, y, coef = make_multitask_classification(
        n_tasks=2,
        n_samples=20000,
        n_features=4,
        n_informative=3,
        n_classes=4,
        random_state=0,
    )
    scores = np.einsum("ij,ikj->ik", X[:, 1:], coef[X[:, 0].astype(int)])
    expected = softmax(scores, axis=1).mean(axis=0)
    # 40000 draws: each class frequency has a standard error below 0.0025
    np.testing.assert_allclose(np.bincount(y) / y.size, expected, atol=0.01)


def test_inputs_not_modified():
    sizes = np.array([3, 4])
    make_multitask_regression(n_tasks=2, n_samples=sizes, n_features=3, n_informative=2)
    np.testing.assert_array_equal(sizes, [3, 4])


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_informative=21, n_features=20), "n_informative=21 exceeds n_features"),
        (dict(n_tasks=0), "n_tasks must be an integer >= 1"),
        (dict(n_tasks=2.5), "n_tasks must be an integer"),
        (dict(n_features=-3), "n_features must be an integer >= 1"),
        (dict(n_samples=-1), "n_samples must be an integer >= 1"),
        (dict(n_tasks=3, n_samples=[5, -2, 4]), r"at least one sample.*\[-2\]"),
        (dict(n_tasks=3, n_samples=[5, 4]), "one size per task"),
        (dict(n_tasks=2, n_samples=[5.5, 4.0]), "must hold integers"),
        (dict(task_relatedness=1.5), r"task_relatedness must be in \[0.0, 1.0\]"),
        (dict(task_relatedness=-0.1), r"task_relatedness must be in \[0.0, 1.0\]"),
        (dict(task_relatedness=float("nan")), "task_relatedness must be in"),
        (dict(task_relatedness="high"), "task_relatedness must be a real number"),
        (dict(n_tasks=2, n_samples=[5, 4], format="wide"), "requires format='long'"),
        (dict(format="tall"), "format must be 'long'.*got format='tall'"),
    ],
)
def test_invalid_arguments(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_negative_noise_raises():
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_multitask_regression(noise=-1.0)


@pytest.mark.parametrize("n_classes", [1, 0])
def test_too_few_classes_raises(n_classes):
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        make_multitask_classification(n_classes=n_classes)


def test_multiclass_wide_raises():
    with pytest.raises(ValueError, match="n_classes must be 2; got n_classes=3"):
        make_multitask_classification(n_classes=3, format="wide")
