"""Self-test of the benchmark harness: two ways to solve one SPD linear system.

Compares ``numpy.linalg.solve`` (LU with partial pivoting) with
``scipy.linalg.cho_solve`` after ``scipy.linalg.cho_factor`` (Cholesky) on the
same random symmetric positive definite system ``A x = b``, in the same
process, and checks that both reach the same objective value before printing
speed-up ratios and writing ``benchmarks/results/harness_selftest.json``.

The objective is the quadratic ``f(x) = 0.5 x^T A x - b^T x``, whose unique
minimiser is the solution of ``A x = b``. Its value at the solution,
``-0.5 b^T A^{-1} b``, is well away from zero, so a relative tolerance is
meaningful; the residual norm ``||A x - b||`` of two correct solvers differs
relatively by O(1) at rounding level and would need an absolute tolerance.
The residual norms are still printed, as a check that both solved the system.
The peak memory column shows what tracemalloc sees: ``cho_factor`` copies
``A`` through numpy, while ``numpy.linalg.solve`` copies it inside its C
wrapper, which tracemalloc does not trace.

It is the pattern for real benchmarks: build one problem, wrap every library in
a zero-argument callable, give ``compare`` the objective of the problem, print
the table and write the JSON. Run it with::

    python benchmarks/bench_harness_selftest.py
"""

import argparse

import numpy as np
import scipy.linalg
from _harness import blas_overrides, compare, print_table, write_json


def make_spd_system(n_features, random_state):
    """Random well-conditioned SPD matrix ``A`` and right-hand side ``b``.

    Parameters
    ----------
    n_features : int
        Size of the system.
    random_state : int
        Seed of the random generator.

    Returns
    -------
    A : ndarray of shape (n_features, n_features)
        ``M M^T / n_features + I`` for a standard normal ``M``.
    b : ndarray of shape (n_features,)
        Standard normal right-hand side.
    """
    rng = np.random.default_rng(random_state)
    factor = rng.standard_normal((n_features, n_features))
    A = factor @ factor.T / n_features + np.eye(n_features)
    b = rng.standard_normal(n_features)
    return A, b


def quadratic_objective(A, b):
    """Objective ``f(x) = 0.5 x^T A x - b^T x`` of the system ``A x = b``.

    Parameters
    ----------
    A : ndarray of shape (n_features, n_features)
        Symmetric positive definite matrix.
    b : ndarray of shape (n_features,)
        Right-hand side.

    Returns
    -------
    objective : callable
        Maps a solution ``x`` to ``f(x)``; its minimiser solves ``A x = b``.
    """

    def objective(x):
        return 0.5 * x @ (A @ x) - b @ x

    return objective


def main(argv=None):
    """Run the benchmark, print the table and write the JSON file.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` if None.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    A, b = make_spd_system(args.n_features, args.random_state)
    candidates = {
        "numpy.linalg.solve": lambda: np.linalg.solve(A, b),
        "scipy.linalg.cho_solve": lambda: scipy.linalg.cho_solve(
            scipy.linalg.cho_factor(A), b
        ),
    }
    rows = compare(
        "spd_solve",
        candidates,
        objective=quadratic_objective(A, b),
        rtol=1e-10,
        repeat=args.repeat,
        measure_memory=True,
    )
    for row in rows:
        solution = candidates[row["candidate"]]()
        row["residual_norm"] = float(np.linalg.norm(A @ solution - b))

    overrides = blas_overrides()
    if overrides:
        print(f"NOTE: BLAS environment overrides are set: {overrides}")
    print_table(rows, title=f"SPD solve, n_features={args.n_features}")
    settings = {**vars(args), "rtol": 1e-10}
    path = write_json("harness_selftest", rows, settings=settings)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
