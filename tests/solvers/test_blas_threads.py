"""The BLAS thread helper shared by the solvers, and its opt-out."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skmtl
from skmtl._config import SINGLE_THREAD_BELOW, blas_threads_for
from skmtl._tasks import check_task_data
from skmtl.linear_model import MeanRegularizedRegressor
from skmtl.losses import SquaredLoss
from skmtl.solvers import bcd, closed_form, fista, lbfgs


def blas_threads(libraries):
    """Threads of the given BLAS libraries, as threadpoolctl reports them."""
    return {
        pool["num_threads"]
        for pool in threadpool_info()
        if pool["filepath"] in libraries
    }


@pytest.fixture
def libraries():
    """Paths of the BLAS libraries that run two threads outside the contexts.

    Some libraries are built single-threaded (that of scs, say); only those
    that take two threads can show a limit.
    """
    with threadpool_limits(limits=2, user_api="blas"):
        paths = {
            pool["filepath"]
            for pool in threadpool_info()
            if pool["user_api"] == "blas" and pool["num_threads"] == 2
        }
        if not paths:
            pytest.skip("no BLAS library runs two threads here")
        yield paths


def test_small_problems_run_on_one_thread(libraries):
    with blas_threads_for(SINGLE_THREAD_BELOW):
        assert blas_threads(libraries) == {1}
    assert blas_threads(libraries) == {2}


def test_large_problems_keep_their_threads(libraries):
    with blas_threads_for(SINGLE_THREAD_BELOW + 1):
        assert blas_threads(libraries) == {2}


def test_threshold_can_be_given(libraries):
    with blas_threads_for(999, single_thread_below=999):
        assert blas_threads(libraries) == {1}
    with blas_threads_for(1000, single_thread_below=999):
        assert blas_threads(libraries) == {2}


def test_opt_out_leaves_threads_alone(libraries):
    with skmtl.config_context(limit_blas_threads=False):
        assert skmtl.get_config() == {"limit_blas_threads": False}
        with blas_threads_for(1):
            assert blas_threads(libraries) == {2}
    assert skmtl.get_config() == {"limit_blas_threads": True}


def test_set_config_round_trip_and_validation():
    try:
        skmtl.set_config(limit_blas_threads=False)
        assert skmtl.get_config()["limit_blas_threads"] is False
        skmtl.set_config()  # None: unchanged
        assert skmtl.get_config()["limit_blas_threads"] is False
    finally:
        skmtl.set_config(limit_blas_threads=True)
    with pytest.raises(TypeError, match="limit_blas_threads must be True or False"):
        skmtl.set_config(limit_blas_threads="no")


def test_config_is_thread_local():
    seen = {}

    def other_thread():
        seen["value"] = skmtl.get_config()["limit_blas_threads"]

    with skmtl.config_context(limit_blas_threads=False):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["value"] is True


def _small_data():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.repeat([0, 1], 10), rng.normal(size=(20, 3))])
    y = rng.normal(size=20)
    return check_task_data(MeanRegularizedRegressor(), X, y, task_column=0)


def _recording(monkeypatch, module):
    """Replace ``module.blas_threads_for`` by a recorder of its sizes."""
    sizes = []

    def record(size, **kwargs):
        sizes.append(size)
        return blas_threads_for(size, **kwargs)

    monkeypatch.setattr(module, "blas_threads_for", record)
    return sizes


@pytest.mark.parametrize(
    "module, solve",
    [
        (bcd, lambda data: bcd.solve(data, alpha=0.1)),
        (fista, lambda data: fista.solve(data, SquaredLoss(), alpha=0.1)),
        (
            lbfgs,
            lambda data: lbfgs.solve_mean_regularized(
                data, SquaredLoss(), alpha=1.0, alpha_mean=0.1
            ),
        ),
        (
            closed_form,
            lambda data: closed_form.solve_mean_regularized_closed_form(
                data, alpha=1.0, alpha_mean=0.1, fit_intercept=True
            ),
        ),
    ],
    ids=["bcd", "fista", "lbfgs", "closed_form"],
)
def test_every_solver_uses_the_helper(monkeypatch, module, solve):
    sizes = _recording(monkeypatch, module)
    solve(_small_data())
    assert sizes, "the solver never asked for a BLAS thread limit"
    assert max(sizes) <= SINGLE_THREAD_BELOW  # a small problem: one thread
