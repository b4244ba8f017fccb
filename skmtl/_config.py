"""Global configuration of skmtl, in the style of :func:`sklearn.set_config`.

One setting today, ``limit_blas_threads``: whether the solvers run their
small linear-algebra calls on a single BLAS thread
(:func:`blas_threads_for`). The configuration is thread-local, like
scikit-learn's: :func:`set_config` and :func:`config_context` in one thread
leave the others unchanged.
"""

import contextlib
import sys
import threading

from threadpoolctl import ThreadpoolController

#: Largest work, in multiply-adds of the largest single BLAS call, that runs on
#: one thread by default. Products of this size take about a millisecond on
#: one core; splitting them over threads gains little and, on a busy machine,
#: threads waiting for a core made the solvers 4-10 times slower.
SINGLE_THREAD_BELOW = 2**24

_DEFAULTS = {"limit_blas_threads": True}
_local = threading.local()


def _current():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """Current values of the global configuration.

    Returns
    -------
    config : dict
        A copy: ``{"limit_blas_threads": bool}``.

    Examples
    --------
    >>> import skmtl
    >>> skmtl.get_config()["limit_blas_threads"]
    True
    """
    return dict(_current())


def set_config(limit_blas_threads=None):
    """Set the global configuration of the calling thread.

    Parameters
    ----------
    limit_blas_threads : bool, default=None
        True (the default configuration): the solvers run with one BLAS
        thread when their largest linear-algebra call is small (see
        :func:`blas_threads_for`), and with the BLAS defaults otherwise.
        False: the solvers never change the number of BLAS threads (for
        example when the caller manages them with ``threadpoolctl``).
        None leaves the setting unchanged.

    See Also
    --------
    config_context : Set the configuration within a ``with`` block.

    Examples
    --------
    >>> import skmtl
    >>> skmtl.set_config(limit_blas_threads=False)
    >>> skmtl.get_config()["limit_blas_threads"]
    False
    >>> skmtl.set_config(limit_blas_threads=True)
    """
    if limit_blas_threads is not None:
        if not isinstance(limit_blas_threads, bool):
            raise TypeError(
                f"limit_blas_threads must be True or False; got {limit_blas_threads!r}."
            )
        _current()["limit_blas_threads"] = limit_blas_threads


@contextlib.contextmanager
def config_context(*, limit_blas_threads=None):
    """Set the global configuration within a ``with`` block.

    Parameters
    ----------
    limit_blas_threads : bool, default=None
        See :func:`set_config`.

    Examples
    --------
    >>> import skmtl
    >>> with skmtl.config_context(limit_blas_threads=False):
    ...     skmtl.get_config()["limit_blas_threads"]
    False
    >>> skmtl.get_config()["limit_blas_threads"]
    True
    """
    previous = get_config()
    set_config(limit_blas_threads=limit_blas_threads)
    try:
        yield
    finally:
        set_config(**previous)


_controllers = {}


def _controller():
    """A ``ThreadpoolController`` that knows every BLAS library loaded so far.

    Inspecting the loaded libraries costs about half a millisecond, so the
    controller is kept; a library comes with the import of a module, so it
    is inspected again whenever the number of imported modules changed.
    """
    n_modules = len(sys.modules)
    if n_modules not in _controllers:
        _controllers.clear()
        _controllers[n_modules] = ThreadpoolController()
    return _controllers[n_modules]


def blas_threads_for(size, *, single_thread_below=SINGLE_THREAD_BELOW):
    """Context manager limiting BLAS to one thread for small problems.

    Solvers make many BLAS calls on small matrices; a multi-threaded BLAS
    gains nothing on them and, on a machine whose cores are busy, loses much
    while its threads wait for a core. Large calls keep every thread.

    Parameters
    ----------
    size : int
        Size of the problem in the unit of ``single_thread_below``: by
        default the multiply-adds of the largest single BLAS call.
    single_thread_below : int, default=SINGLE_THREAD_BELOW
        Problems with ``size`` up to this value run on one BLAS thread.

    Returns
    -------
    context : context manager
        A ``threadpoolctl`` limit when ``size <= single_thread_below`` and
        ``get_config()["limit_blas_threads"]`` is True; otherwise a context
        that changes nothing.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with blas_threads_for(100):
    ...     all(pool["num_threads"] == 1 for pool in threadpool_info()
    ...         if pool["user_api"] == "blas")
    True
    """
    if _current()["limit_blas_threads"] and size <= single_thread_below:
        return _controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()
