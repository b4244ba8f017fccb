"""Penalties that tie the tasks' coefficients together.

Each penalty is a small class with its value, what the solvers need of it
(gradient, proximal operator or dual norm) and ``to_cvxpy`` for the
reference solver. The objectives are written in DESIGN section 3 notation.
"""
