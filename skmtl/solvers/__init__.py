"""Solvers: one per module, each ``solve(data, ...) -> SolverResult``.

A solver knows nothing of DataFrames or task labels: it receives a
:class:`skmtl._tasks.TaskData`, a loss from :mod:`skmtl.losses`, the penalty
strengths, and returns a :class:`SolverResult`.
"""

from ._result import SolverResult

__all__ = ["SolverResult"]
