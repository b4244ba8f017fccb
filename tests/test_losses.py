"""Tests of the losses of the data term (skmtl.losses).

Oracles: central finite differences for the gradient and the Hessian
blocks, the direct difference of loss values and the second-order Taylor
term for the Bregman term, the Fenchel-Young equality and a numerical
supremum for the convex conjugates, and cvxpy for ``to_cvxpy``.
"""

import cvxpy as cp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize
from scipy.special import expit, logsumexp, softmax

from skmtl.losses import LogisticLoss, MultinomialLoss, SquaredLoss

N_CLASSES = 3


def _elementwise_case(loss, seed=0, n=7):
    rng = np.random.default_rng(seed)
    if isinstance(loss, SquaredLoss):
        y = rng.normal(size=n) * 2.0
    else:
        y = rng.integers(0, 2, size=n).astype(float)
    z = rng.normal(size=n) * 2.0
    scale = rng.uniform(0.1, 2.0, size=n)
    return y, z, scale


def _multinomial_case(seed=0, n=6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, size=n)
    z = rng.normal(size=(n, N_CLASSES)) * 2.0
    scale = rng.uniform(0.1, 2.0, size=n)
    return y, z, scale


def _case(loss, seed=0):
    if loss.multiclass:
        return _multinomial_case(seed)
    return _elementwise_case(loss, seed)


LOSSES = [SquaredLoss(), LogisticLoss(), MultinomialLoss()]
IDS = ["squared", "logistic", "multinomial"]


def _direct_loss(loss, y, z):
    """Per-observation loss written independently of skmtl."""
    if isinstance(loss, SquaredLoss):
        return 0.5 * (y - z) ** 2
    if isinstance(loss, LogisticLoss):
        return np.logaddexp(0.0, z) - y * z
    return logsumexp(z, axis=1) - z[np.arange(len(y)), y]


def _numerical_gradient(function, z, h=1e-6):
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = h
        grad[index] = (function(z + step) - function(z - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_value_matches_direct_formula(loss):
    y, z, scale = _case(loss)
    expected = float(np.dot(scale, _direct_loss(loss, y, z)))
    assert_allclose(loss.value(y, z, scale), expected, rtol=1e-13)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_gradient_matches_finite_differences(loss):
    y, z, scale = _case(loss)
    numerical = _numerical_gradient(lambda v: loss.value(y, v, scale), z)
    assert_allclose(loss.gradient(y, z, scale), numerical, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_residual_is_minus_gradient_over_scale(loss):
    y, z, scale = _case(loss)
    gradient = loss.gradient(y, z, scale)
    per_row = scale[:, None] if loss.multiclass else scale
    assert_allclose(loss.residual(y, z), -gradient / per_row, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss", LOSSES[:2], ids=IDS[:2])
def test_elementwise_loss_accepts_wide_cells(loss):
    # The wide layout hands (n_samples, n_tasks) cells to the losses.
    y, z, scale = _elementwise_case(loss, n=12)
    shape = (4, 3)
    assert_allclose(
        loss.value(y.reshape(shape), z.reshape(shape), scale.reshape(shape)),
        loss.value(y, z, scale),
        rtol=1e-14,
    )
    assert_allclose(
        loss.gradient(y.reshape(shape), z.reshape(shape), scale.reshape(shape)),
        loss.gradient(y, z, scale).reshape(shape),
    )


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_hessian_blocks_match_finite_differences_of_gradient(loss):
    y, z, scale = _case(loss)
    blocks = loss.hessian(z, scale)
    h = 1e-6
    if loss.multiclass:
        assert blocks.shape == (len(y), N_CLASSES, N_CLASSES)
        for k in range(N_CLASSES):
            step = np.zeros_like(z)
            step[:, k] = h
            column = (
                loss.gradient(y, z + step, scale) - loss.gradient(y, z - step, scale)
            ) / (2 * h)
            assert_allclose(blocks[:, :, k], column, rtol=1e-6, atol=1e-9)
    else:
        assert blocks.shape == z.shape + (1, 1)
        derivative = (
            loss.gradient(y, z + h, scale) - loss.gradient(y, z - h, scale)
        ) / (2 * h)
        assert_allclose(blocks[..., 0, 0], derivative, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_curvature_bounds_the_hessian(loss):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, N_CLASSES) if loss.multiclass else 200) * 3.0
    blocks = loss.hessian(z, np.ones(200))
    largest = np.linalg.eigvalsh(blocks).max()
    assert largest <= loss.curvature * (1 + 1e-12)


def _step(loss, size, seed=1):
    rng = np.random.default_rng(seed)
    shape = (6, N_CLASSES) if loss.multiclass else (7,)
    return size * rng.uniform(-1.0, 1.0, size=shape)


@pytest.mark.parametrize("size", [0.3, 0.9, 2.5, 20.0])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_bregman_matches_difference_of_values(loss, size):
    y, z, scale = _case(loss)
    step = _step(loss, size)
    direct = (
        loss.value(y, z + step, scale)
        - loss.value(y, z, scale)
        - float(np.vdot(loss.gradient(y, z, scale), step))
    )
    assert_allclose(loss.bregman(y, z, step, scale), direct, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_bregman_mixes_small_and_large_steps(loss):
    # Some cells with |step| >= 1, some below: both branches in one call.
    y, z, scale = _case(loss)
    step = _step(loss, 0.5)
    step[::2] *= 8.0
    direct = (
        loss.value(y, z + step, scale)
        - loss.value(y, z, scale)
        - float(np.vdot(loss.gradient(y, z, scale), step))
    )
    assert_allclose(loss.bregman(y, z, step, scale), direct, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("size", [1e-5, 1e-8, 1e-11])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_bregman_keeps_relative_accuracy_for_tiny_steps(loss, size):
    # The Bregman term of a tiny step is its second-order Taylor term
    # 0.5 d^T H d up to a relative O(|d|) error; a difference of loss values
    # would lose every digit here.
    y, z, scale = _case(loss)
    step = _step(loss, size)
    blocks = loss.hessian(z, scale)
    if loss.multiclass:
        taylor = 0.5 * float(np.einsum("ik,ikl,il->", step, blocks, step))
    else:
        taylor = 0.5 * float(np.sum(blocks[..., 0, 0] * step * step))
    assert taylor > 0
    assert_allclose(loss.bregman(y, z, step, scale), taylor, rtol=max(1e-4, 50 * size))


def _supremum(loss, y, u):
    """``sup_z u z - loss(y, z)`` for one observation, numerically."""
    if loss.multiclass:

        def negative(v):
            return -(np.dot(u, v) - (logsumexp(v) - v[y]))

        result = optimize.minimize(
            negative, np.zeros(len(u)), method="BFGS", options={"gtol": 1e-12}
        )
        return -result.fun
    result = optimize.minimize_scalar(
        lambda v: -(u * v - _direct_loss(loss, np.array([y]), np.array([v]))[0]),
        bounds=(-60, 60),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return -result.fun


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_conjugate_fenchel_young_equality(loss):
    # loss(z) + loss*(u) = u z exactly at u = loss'(z).
    y, z, _ = _case(loss)
    u = -loss.residual(y, z)
    direct = _direct_loss(loss, y, z)
    inner = np.sum(u * z, axis=1) if loss.multiclass else u * z
    assert_allclose(direct + loss.conjugate(y, u), inner, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_conjugate_fenchel_young_inequality(loss):
    # loss(z') + loss*(u) >= u z' for any z' (u in the conjugate's domain).
    y, z, _ = _case(loss)
    u = -loss.residual(y, z)
    rng = np.random.default_rng(5)
    for _ in range(20):
        other = rng.normal(size=z.shape) * 3.0
        inner = np.sum(u * other, axis=1) if loss.multiclass else u * other
        gap = _direct_loss(loss, y, other) + loss.conjugate(y, u) - inner
        assert np.all(gap >= -1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_conjugate_matches_numerical_supremum(loss):
    rng = np.random.default_rng(7)
    y, _, _ = _case(loss)
    for i in range(3):
        if loss.multiclass:
            q = rng.dirichlet(np.ones(N_CLASSES) * 2.0)
            u = q.copy()
            u[y[i]] -= 1.0
            value = loss.conjugate(y[i : i + 1], u[None])[0]
        elif isinstance(loss, LogisticLoss):
            u = rng.uniform(0.05, 0.95) - y[i]
            value = loss.conjugate(y[i : i + 1], np.array([u]))[0]
        else:
            u = rng.normal()
            value = loss.conjugate(y[i : i + 1], np.array([u]))[0]
        assert_allclose(value, _supremum(loss, y[i], u), rtol=1e-6, atol=1e-8)


def test_multinomial_conjugate_on_simplex_faces():
    # q on a face of the simplex (a zero probability): 0 log 0 = 0.
    loss = MultinomialLoss()
    y = np.array([1])
    u = np.array([[0.25, -0.25, 0.0]])  # q = (0.25, 0.75, 0)
    expected = 0.25 * np.log(0.25) + 0.75 * np.log(0.75)
    assert_allclose(loss.conjugate(y, u), [expected], rtol=1e-14)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_conjugate_value_is_scaled_sum(loss):
    y, z, scale = _case(loss)
    u = -loss.residual(y, z)
    assert_allclose(
        loss.conjugate_value(y, u, scale),
        float(np.dot(scale, loss.conjugate(y, u))),
        rtol=1e-13,
    )


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_to_cvxpy_value_equals_value(loss):
    y, z, scale = _case(loss)
    variable = cp.Variable(z.shape)
    variable.value = z
    expression = scale @ loss.to_cvxpy(y, variable)
    assert expression.is_convex()
    assert_allclose(float(expression.value), loss.value(y, z, scale), rtol=1e-10)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_loss_does_not_modify_its_inputs(loss):
    y, z, scale = _case(loss)
    copies = [y.copy(), z.copy(), scale.copy()]
    step = _step(loss, 0.5)
    step_copy = step.copy()
    loss.value(y, z, scale)
    loss.gradient(y, z, scale)
    loss.hessian(z, scale)
    loss.bregman(y, z, step, scale)
    u = -loss.residual(y, z)
    u_copy = u.copy()
    loss.conjugate(y, u)
    for array, copy in zip([y, z, scale, step, u], [*copies, step_copy, u_copy]):
        assert_allclose(array, copy, rtol=0, atol=0)


@pytest.mark.parametrize("saturation", [-40.0, -25.0])
def test_logistic_bregman_tiny_step_accurate_at_small_probability(saturation):
    # p = sigmoid(z) near 0: the log1p/expm1 form keeps its accuracy.
    loss = LogisticLoss()
    y, z, scale = _case(loss)
    z = np.full_like(z, saturation)
    step = _step(loss, 1e-6)
    taylor = 0.5 * float(np.sum(loss.hessian(z, scale)[..., 0, 0] * step * step))
    assert_allclose(loss.bregman(y, z, step, scale), taylor, rtol=1e-3)


@pytest.mark.parametrize("loss", LOSSES[1:], ids=IDS[1:])
def test_bregman_tiny_step_accurate_when_one_class_is_almost_sure(loss):
    y, z, scale = _case(loss)
    step = _step(loss, 1e-6)
    if loss.multiclass:
        z = np.zeros_like(z)
        z[:, 0] = 40.0  # class 0 has probability 1 - 8e-18
        # 0.5 d^T (diag(p) - p p^T) d = 0.5 * variance of d under p, computed
        # on d - d_0 (the variance ignores a shift) so that no 1 - p rounds.
        proba = softmax(z, axis=1)
        shifted = step - step[:, :1]
        mean = np.sum(proba * shifted, axis=1, keepdims=True)
        per_row = 0.5 * np.sum(proba * (shifted - mean) ** 2, axis=1)
    else:
        z = np.full_like(z, 40.0)
        # loss'' = p (1 - p) = sigmoid(z) sigmoid(-z), without rounding 1 - p.
        per_row = 0.5 * expit(z) * expit(-z) * step * step
    taylor = float(np.dot(scale, per_row))
    assert taylor > 1e-31
    assert_allclose(loss.bregman(y, z, step, scale), taylor, rtol=1e-3)
