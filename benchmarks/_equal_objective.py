"""Time solvers at an equal objective value by tightening their tolerance.

Solvers stop on different criteria (a duality gap relative to ``P(0)``, twice
that, a KKT violation), so the same ``tol`` means different accuracies. This
module compares them at the objective value a reference reaches instead:

- :func:`first_tol_reaching` walks a ladder of tolerances (``1e-2`` down to
  ``1e-12``) and returns the first whose fit has an objective
  ``<= target + rtol |target|``;
- :func:`equal_objective_rows` does that for every candidate, times the fit
  at the tolerance found and returns rows for ``print_table``/``write_json``.

:func:`source_state` records the git commit measured and any uncommitted
change of the package, so that a table can be matched to the code it timed.
"""

import math
import subprocess
from pathlib import Path

from _harness import peak_memory, time_callable

#: Tolerances tried, loosest first.
TOL_LADDER = tuple(10.0**-k for k in range(2, 13))

_ROOT = Path(__file__).resolve().parent.parent


def reached(value, target, rtol):
    """Whether ``value <= target + rtol |target|`` (lower is better)."""
    return bool(value <= target + rtol * abs(target))


def first_tol_reaching(fit, tols, objective, target, rtol):
    """The first tolerance of ``tols`` whose fit reaches ``target``.

    Returns ``(tol, True)``, or ``(tols[-1], False)`` if none does.
    """
    for tol in tols:
        if reached(objective(fit(tol)), target, rtol):
            return tol, True
    return tols[-1], False


def equal_objective_rows(
    name,
    candidates,
    objective,
    target,
    *,
    rtol,
    repeat,
    reference,
    memory=False,
    support=None,
):
    """Time every candidate at the first tolerance reaching ``target``.

    ``candidates`` maps a label to ``(fit, tols)``: ``fit(tol)`` returns a
    fitted result; ``tols`` is :data:`TOL_LADDER` or a single fixed value
    (then the candidate is timed as it is). Rows hold ``tol``, ``median_s``,
    ``min_s`` (of at least ``repeat`` calls, see :func:`time_repeated`),
    ``speedup`` (the ``reference`` candidate's median over this
    one's), ``objective``, ``objective_rel_diff`` (signed
    ``(F - target) / |target|``: negative is better), ``reached``, optional
    ``n_selected`` (``support(result)``) and ``peak_memory_bytes``
    (tracemalloc, measured in a separate untimed call).
    """
    rows = []
    for label, (fit, tols) in candidates.items():
        tol, ok = (
            (tols[0], None)
            if len(tols) == 1
            else first_tol_reaching(fit, tols, objective, target, rtol)
        )
        timing = time_repeated(lambda fit=fit, tol=tol: fit(tol), repeat)
        value = float(objective(timing.result))
        row = {
            "benchmark": name,
            "candidate": label,
            "tol": tol,
            "median_s": timing.median,
            "min_s": timing.min,
            "objective": value,
            "objective_rel_diff": (value - target) / abs(target),
            "reached": reached(value, target, rtol) if ok is None else ok,
            "times_s": timing.times,
        }
        if support is not None:
            row["n_selected"] = int(support(timing.result))
        if memory:
            row["peak_memory_bytes"] = peak_memory(lambda fit=fit, tol=tol: fit(tol))[1]
        rows.append(row)
    base = next(row for row in rows if row["candidate"] == reference)["median_s"]
    for row in rows:
        row["speedup"] = base / row["median_s"]
    return rows


def time_repeated(call, repeat, budget_s=0.5, most=30):
    """Time ``call`` at least ``repeat`` times, more (up to ``most``) when
    ``repeat`` calls would take less than ``budget_s`` seconds."""
    probe = time_callable(call, repeat=1, warmup=0).min
    count = max(repeat, min(most, math.ceil(budget_s / max(probe, 1e-9))))
    return time_callable(call, repeat=count, warmup=0)


def time_ratio_lines(rows, numerator, denominators):
    """``median time <numerator> / <denominator>`` lines for a table."""
    times = {row["candidate"]: row["median_s"] for row in rows}
    lines = []
    for label in denominators:
        ratio = times[numerator] / times[label]
        lines.append(
            f"median time {numerator} / {label} = {ratio:.3g} "
            f"(speed-up of {numerator} over {label}: {1 / ratio:.3g}x)"
        )
    return lines


def source_state():
    """``{"git_commit": short hash, "uncommitted_package_files": [...]}``."""

    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=_ROOT, capture_output=True, text=True, check=True
            ).stdout.rstrip("\n")
        except (OSError, subprocess.CalledProcessError):
            return None

    status = git("status", "--porcelain", "--", "skmtl")
    return {
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_package_files": [] if not status else status.splitlines(),
    }
