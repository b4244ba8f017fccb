"""Shared toolbox for the benchmark scripts in ``benchmarks/``.

Every benchmark runs skmtl and a competing library in the same process, on the
same problem, at the same objective value, and reports ratios. This module
gives the scripts one way to do that:

- :func:`time_callable` times a zero-argument callable and keeps its result;
- :func:`peak_memory` measures the peak Python/numpy heap allocation of a call;
- :func:`compare` times several candidates, checks that they reach the same
  objective value and computes speed-up ratios against a reference;
- :func:`print_table` prints the rows of :func:`compare` as a plain-text table;
- :func:`write_json` stores the rows, the settings and the environment in
  ``benchmarks/results/<name>.json``.

A script imports it with ``from _harness import compare, print_table, write_json``
(running ``python benchmarks/bench_<topic>.py`` puts ``benchmarks/`` on
``sys.path``). Timing assertions never belong in tests: the tests of this
module check its bookkeeping, not how fast anything is.
"""

from __future__ import annotations

import datetime
import gc
import importlib
import json
import math
import os
import platform
import re
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIRECTORY = Path(__file__).resolve().parent / "results"

# Variables that change which BLAS kernel runs or how many threads it uses;
# a benchmark run with any of them set measures a different machine.
BLAS_ENVIRONMENT_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
)

_BENCHMARK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Timing:
    """Wall-clock times of repeated calls to one callable.

    Parameters
    ----------
    times : list of float
        Seconds per call, one entry per repetition.
    result : object, default=None
        Return value of the last timed call, kept so that the caller can check
        the objective value of exactly what was timed.

    Attributes
    ----------
    min : float
        Smallest time per call, the least noisy estimate of the cost.
    median : float
        Median time per call; speed-up ratios use it.
    mean : float
        Mean time per call.
    std : float
        Population standard deviation (``ddof=0``) of the times, so that a
        single repetition gives 0 rather than NaN.

    Examples
    --------
    >>> timing = Timing(times=[0.3, 0.1, 0.2], result="done")
    >>> timing.min, timing.median, timing.result
    (0.1, 0.2, 'done')
    """

    times: list[float]
    result: Any = field(default=None, repr=False)
    min: float = field(init=False)
    median: float = field(init=False)
    mean: float = field(init=False)
    std: float = field(init=False)

    def __post_init__(self):
        if len(self.times) == 0:
            raise ValueError(
                "Timing needs at least one recorded time; got an empty list. "
                "Time the callable with repeat >= 1."
            )
        self.times = [float(seconds) for seconds in self.times]
        seconds = np.asarray(self.times)
        self.min = float(np.min(seconds))
        self.median = float(np.median(seconds))
        self.mean = float(np.mean(seconds))
        self.std = float(np.std(seconds))


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")


def time_callable(
    func,
    *,
    repeat=5,
    number=1,
    warmup=1,
    disable_gc=True,
    timer=time.perf_counter,
):
    """Time repeated calls of a zero-argument callable.

    The callable is first called ``warmup`` times untimed (imports, caches,
    BLAS thread start-up), then ``repeat`` times ``number`` calls are timed
    together and divided by ``number``.

    Parameters
    ----------
    func : callable
        Called without arguments. Wrap arguments with a ``lambda`` or
        :func:`functools.partial`.
    repeat : int, default=5
        Number of timed repetitions, one entry of ``Timing.times`` each.
    number : int, default=1
        Calls per repetition; raise it for calls much shorter than a
        millisecond so that the clock resolution does not dominate.
    warmup : int, default=1
        Untimed calls before the first repetition.
    disable_gc : bool, default=True
        Switch the garbage collector off during the timed calls, as
        :mod:`timeit` does, so that a collection triggered by an earlier
        allocation is not charged to the callable. The previous state is
        restored afterwards.
    timer : callable, default=time.perf_counter
        Clock returning seconds as a float. Only tests replace it.

    Returns
    -------
    timing : Timing
        Seconds per call of every repetition, their statistics, and the return
        value of the last call.

    Examples
    --------
    >>> timing = time_callable(lambda: sum(range(1000)), repeat=3)
    >>> len(timing.times), timing.result
    (3, 499500)
    >>> timing.min <= timing.median
    True
    """
    if not callable(func):
        raise TypeError(f"func must be callable; got {type(func).__name__}.")
    _check_count("repeat", repeat, 1)
    _check_count("number", number, 1)
    _check_count("warmup", warmup, 0)
    result = None
    for _ in range(warmup):
        result = func()
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.disable()
    times = []
    try:
        for _ in range(repeat):
            start = timer()
            for _ in range(number):
                result = func()
            times.append((timer() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(times=times, result=result)


def peak_memory(func):
    """Peak heap memory allocated while calling a zero-argument callable.

    Uses :mod:`tracemalloc`, which sees every allocation made through Python's
    allocators, including numpy array buffers. It does **not** see memory that
    compiled libraries allocate themselves, such as the internal work buffers
    of BLAS/LAPACK (OpenBLAS, MKL) or of other C/Fortran extensions, so it is a
    lower bound on the process's real peak. Tracing slows allocation-heavy
    code down: never time a call while measuring its memory.

    Parameters
    ----------
    func : callable
        Called once without arguments.

    Returns
    -------
    result : object
        Return value of ``func()``.
    peak_bytes : int
        Highest traced memory during the call minus the traced memory before
        it, in bytes. If tracing was already on, it stays on afterwards.

    Examples
    --------
    >>> import numpy as np
    >>> array, peak_bytes = peak_memory(lambda: np.ones(1_000_000))
    >>> peak_bytes >= array.nbytes
    True
    """
    if not callable(func):
        raise TypeError(f"func must be callable; got {type(func).__name__}.")
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        result = func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, max(int(peak - baseline), 0)


def _relative_difference(value, reference_value):
    if value == reference_value:
        return 0.0
    if reference_value == 0.0:
        return math.inf
    return abs(value - reference_value) / abs(reference_value)


def _objective_fields(value, reference_value, rtol, atol):
    if value is None:
        return {"objective_rel_diff": None, "same_objective": None}
    # NaN never compares equal, so a failed run is flagged as a mismatch.
    same = bool(abs(value - reference_value) <= atol + rtol * abs(reference_value))
    return {
        "objective_rel_diff": _relative_difference(value, reference_value),
        "same_objective": same,
    }


def _check_candidates(candidates, reference):
    if not isinstance(candidates, Mapping) or len(candidates) == 0:
        raise ValueError(
            "candidates must be a non-empty dict {label: callable}; "
            f"got {candidates!r}."
        )
    for label, func in candidates.items():
        if not callable(func):
            raise TypeError(
                f"Candidate {label!r} must be a zero-argument callable; "
                f"got {type(func).__name__}."
            )
    if reference is None:
        return next(iter(candidates))
    if reference not in candidates:
        raise ValueError(
            f"reference {reference!r} is not a candidate; candidates are "
            f"{list(candidates)}. Pass one of them or None for the first."
        )
    return reference


def compare(
    name,
    candidates,
    *,
    objective=None,
    rtol=1e-6,
    atol=0.0,
    repeat=5,
    warmup=1,
    reference=None,
    measure_memory=False,
    timer=time.perf_counter,
):
    """Time competing implementations of one computation and compare them.

    Each candidate is timed with :func:`time_callable`. If ``objective`` is
    given it is evaluated on the result of each candidate's last timed call and
    compared with the reference candidate's value ``f_ref``: a candidate is at
    the same objective value when ``|f - f_ref| <= atol + rtol * |f_ref|``.
    A candidate that stopped at a different objective value keeps its row,
    with ``same_objective=False``, so that a speed-up bought by doing less
    work is flagged rather than hidden.

    Parameters
    ----------
    name : str
        Name of the benchmark case, copied into every row.
    candidates : dict of {str: callable}
        Zero-argument callables solving the same problem, in display order.
    objective : callable, default=None
        Maps a candidate's result to a float, for example the value of the
        optimisation objective at the returned coefficients. Choose a quantity
        that is well away from zero at the solution (a residual norm at
        rounding level differs relatively by O(1) between correct solvers), or
        set ``atol``.
    rtol : float, default=1e-6
        Relative tolerance on the objective value.
    atol : float, default=0.0
        Absolute tolerance on the objective value, for objectives whose
        optimum is zero.
    repeat : int, default=5
        Timed repetitions per candidate.
    warmup : int, default=1
        Untimed calls per candidate before timing.
    reference : str, default=None
        Label of the candidate the others are compared with; the first
        candidate if None.
    measure_memory : bool, default=False
        Also call each candidate once under :func:`peak_memory` (after and
        separately from the timing) and record ``peak_memory_bytes``.
    timer : callable, default=time.perf_counter
        Clock passed to :func:`time_callable`. Only tests replace it.

    Returns
    -------
    rows : list of dict
        One row per candidate, in the order of ``candidates``, with keys
        ``benchmark``, ``candidate``, ``reference``, ``repeat``, ``min_s``,
        ``median_s``, ``speedup`` (reference median / candidate median, so
        above 1 means faster than the reference), ``objective``,
        ``objective_rel_diff`` (``|f - f_ref| / |f_ref|``), ``same_objective``
        (None without ``objective``), ``times_s`` (every recorded time) and,
        if measured, ``peak_memory_bytes``.

    Examples
    --------
    >>> rows = compare(
    ...     "sum",
    ...     {"builtin": lambda: sum(range(100)), "formula": lambda: 99 * 100 // 2},
    ...     objective=float,
    ...     repeat=3,
    ... )
    >>> [(row["candidate"], row["objective"], row["same_objective"]) for row in rows]
    [('builtin', 4950.0, True), ('formula', 4950.0, True)]
    >>> rows[0]["speedup"]
    1.0
    """
    reference = _check_candidates(candidates, reference)
    timings = {
        label: time_callable(func, repeat=repeat, warmup=warmup, timer=timer)
        for label, func in candidates.items()
    }
    values = {
        label: None if objective is None else float(objective(timing.result))
        for label, timing in timings.items()
    }
    reference_median = timings[reference].median
    rows = []
    for label, timing in timings.items():
        row = {
            "benchmark": name,
            "candidate": label,
            "reference": reference,
            "repeat": repeat,
            "min_s": timing.min,
            "median_s": timing.median,
            "speedup": _ratio(reference_median, timing.median),
            "objective": values[label],
        }
        row.update(_objective_fields(values[label], values[reference], rtol, atol))
        row["times_s"] = list(timing.times)
        if measure_memory:
            _, row["peak_memory_bytes"] = peak_memory(candidates[label])
        rows.append(row)
    return rows


def _ratio(numerator, denominator):
    if denominator == 0.0:
        return math.inf if numerator > 0.0 else math.nan
    return numerator / denominator


def _format_seconds(value):
    return f"{value:.3g}"


def _format_ratio(value):
    if not math.isfinite(value):
        return f"{value}x"
    if abs(value) >= 100:
        return f"{value:.0f}x"
    if abs(value) >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def _format_bytes(value):
    size = float(value)
    unit = "B"
    for larger_unit in ("KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            break
        size /= 1024
        unit = larger_unit
    return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"


_COLUMN_FORMATS = {
    "speedup": _format_ratio,
    "objective": lambda value: f"{value:.8g}",
    "objective_rel_diff": lambda value: f"{value:.1e}",
    "peak_memory_bytes": _format_bytes,
}


def _format_cell(column, value):
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if not _is_number(value):
        return str(value)
    if column in _COLUMN_FORMATS:
        return _COLUMN_FORMATS[column](value)
    if isinstance(value, (int, np.integer)):
        return str(value)
    if column.endswith("_s"):
        return _format_seconds(value)
    return f"{value:.4g}"


# Bookkeeping keys of ``compare`` rows that the JSON keeps but a table omits.
_HIDDEN_BY_DEFAULT = ("reference", "repeat", "times_s")


def _default_columns(rows):
    columns = []
    for row in rows:
        for key, value in row.items():
            if key in columns or key in _HIDDEN_BY_DEFAULT:
                continue
            if not isinstance(value, (list, tuple, dict)):
                columns.append(key)
    return columns


def format_table(rows, columns=None, title=None):
    """Format benchmark rows as an aligned plain-text table.

    Seconds (columns ending in ``_s``) get 3 significant digits, ``speedup``
    is shown as a ratio such as ``52.3x``, ``objective`` with 8 significant
    digits, ``same_objective`` as ``yes``/``NO`` and a missing value as ``-``.
    Numbers are right-aligned, text left-aligned. If any row has
    ``same_objective`` False, a warning line under the table names it.

    Parameters
    ----------
    rows : list of dict
        Rows as returned by :func:`compare`; other dicts work too.
    columns : list of str, default=None
        Keys to show, in order. By default every key with a scalar value, in
        order of first appearance, except ``reference`` and ``repeat``.
    title : str, default=None
        Line printed above the table.

    Returns
    -------
    text : str
        The table, without a trailing newline.

    Examples
    --------
    >>> rows = [
    ...     {"candidate": "a", "median_s": 0.012345, "speedup": 1.0},
    ...     {"candidate": "bb", "median_s": 0.0002361, "speedup": 52.29},
    ... ]
    >>> print(format_table(rows, title="demo"))
    demo
    candidate  median_s  speedup
    ---------  --------  -------
    a          0.0123      1.00x
    bb         0.000236    52.3x
    """
    columns = _default_columns(rows) if columns is None else list(columns)
    cells = [[_format_cell(c, row.get(c)) for c in columns] for row in rows]
    numeric = [
        all(_is_number(row.get(c)) for row in rows if row.get(c) is not None)
        for c in columns
    ]
    widths = [
        max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)
    ]

    def join(line, align_numbers):
        return "  ".join(
            text.rjust(width) if align_numbers and is_number else text.ljust(width)
            for text, width, is_number in zip(line, widths, numeric)
        ).rstrip()

    lines = [] if title is None else [title]
    lines.append(join(columns, align_numbers=False))
    lines.append(join(["-" * width for width in widths], align_numbers=False))
    lines.extend(join(line, align_numbers=True) for line in cells)
    mismatched = [
        str(row.get("candidate")) for row in rows if row.get("same_objective") is False
    ]
    if mismatched:
        lines.append(
            f"WARNING: {', '.join(mismatched)} reached a different objective value "
            "than the reference; their ratios compare different amounts of work."
        )
    return "\n".join(lines)


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def print_table(rows, columns=None, title=None):
    """Print benchmark rows as an aligned plain-text table.

    See :func:`format_table` for the layout and the number formats.

    Parameters
    ----------
    rows : list of dict
        Rows as returned by :func:`compare`.
    columns : list of str, default=None
        Keys to show, in order; see :func:`format_table` for the default.
    title : str, default=None
        Line printed above the table.

    Examples
    --------
    >>> print_table([{"candidate": "numpy", "speedup": 1.0}])
    candidate  speedup
    ---------  -------
    numpy        1.00x
    """
    print(format_table(rows, columns=columns, title=title))


def _module_version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception:  # a broken or half-edited package is recorded, not fatal
        return None
    return getattr(module, "__version__", None)


def _threadpool_summary():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    # numpy and scipy load their BLAS on import; make sure they are counted.
    importlib.import_module("scipy.linalg")
    return [
        {
            "library": pool.get("prefix"),
            "internal_api": pool.get("internal_api"),
            "num_threads": pool.get("num_threads"),
            "architecture": pool.get("architecture"),
        }
        for pool in threadpool_info()
    ]


def blas_overrides():
    """BLAS- and thread-related environment variables set in this process.

    ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` force OpenBLAS onto a
    generic kernel on some machines, which slows numpy down severalfold;
    thread-count variables change the parallelism. Benchmarks report them so
    that a reader can tell which machine was really measured.

    Returns
    -------
    overrides : dict of {str: str}
        The variables of ``BLAS_ENVIRONMENT_VARIABLES`` that are set.

    Examples
    --------
    >>> isinstance(blas_overrides(), dict)
    True
    """
    return {
        variable: os.environ[variable]
        for variable in BLAS_ENVIRONMENT_VARIABLES
        if variable in os.environ
    }


def collect_environment():
    """Describe the software and hardware a benchmark ran on.

    Returns
    -------
    environment : dict
        ``python``, ``numpy``, ``scipy``, ``scikit-learn`` and ``skmtl``
        versions (None for a package that cannot be imported), ``platform``,
        ``machine``, ``cpu_count``, ``blas_overrides`` (see
        :func:`blas_overrides`) and ``threadpools``: for every native thread
        pool reported by :func:`threadpoolctl.threadpool_info`, its
        ``library``, ``internal_api``, ``num_threads`` and ``architecture``
        (the BLAS kernel in use).

    Examples
    --------
    >>> environment = collect_environment()
    >>> environment["numpy"] == np.__version__
    True
    """
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": _module_version("numpy"),
        "scipy": _module_version("scipy"),
        "scikit-learn": _module_version("sklearn"),
        "skmtl": _module_version("skmtl"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "blas_overrides": blas_overrides(),
        "threadpools": _threadpool_summary(),
        "executable": sys.executable,
    }


def _to_json_value(value):
    if isinstance(value, Mapping):
        return {str(key): _to_json_value(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _to_json_value(value.tolist())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_to_json_value(item) for item in value]
    if isinstance(value, np.generic):
        return _to_json_value(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        # Strict JSON has no NaN or infinity; float("inf") reads these back.
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(name, rows, *, settings=None, directory=None):
    """Write benchmark rows, settings and environment to ``<name>.json``.

    Parameters
    ----------
    name : str
        File stem: letters, digits, ``_``, ``-`` and ``.``, usually the
        topic of the script (``bench_<topic>.py`` writes ``<topic>.json``).
    rows : list of dict
        Rows as returned by :func:`compare`.
    settings : dict, default=None
        Problem sizes, seeds, tolerances and anything else needed to rerun
        the benchmark.
    directory : str or Path, default=None
        Where to write; ``benchmarks/results`` next to this module if None.
        Created if missing.

    Returns
    -------
    path : Path
        The file written. It holds ``name``, ``timestamp`` (UTC, ISO 8601),
        ``settings``, ``environment`` (see :func:`collect_environment`) and
        ``rows``. numpy scalars and arrays become plain numbers and lists;
        NaN and infinities become the strings ``"nan"``, ``"inf"``, ``"-inf"``.

    Examples
    --------
    >>> import json, tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     path = write_json("demo", [{"candidate": "a"}], directory=directory)
    ...     json.loads(path.read_text())["rows"]
    [{'candidate': 'a'}]
    """
    if not isinstance(name, str) or not _BENCHMARK_NAME.match(name):
        raise ValueError(
            f"name must be a file stem of letters, digits, '_', '-' or '.'; "
            f"got {name!r}. Use the topic of the benchmark, e.g. 'l21_path'."
        )
    directory = RESULTS_DIRECTORY if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "name": name,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {} if settings is None else settings,
        "environment": collect_environment(),
        "rows": list(rows),
    }
    path = directory / f"{name}.json"
    text = json.dumps(_to_json_value(document), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
