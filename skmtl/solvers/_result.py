"""The common return type of every solver."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SolverResult:
    """Solution of a multi-task linear problem.

    Attributes
    ----------
    coef : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Per-task coefficients ``w_t``.
    intercept : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Per-task intercepts ``b_t``.
    n_iter : int
        Iterations run (0 for a closed form).
    objective : float
        Value of the objective at the solution.
    gap : float
        Stopping criterion reached: a duality gap or a gradient norm, as the
        solver documents; 0.0 for a closed form.
    converged : bool
        Whether the criterion met ``tol``.
    extra : dict
        Solver-specific quantities (for example the shared coefficients).
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int = 0
    objective: float = float("nan")
    gap: float = 0.0
    converged: bool = True
    extra: dict = field(default_factory=dict)
