"""
==========================================================
Hard and soft parameter sharing in multi-task networks
==========================================================

:class:`~skmtl.neural_network.MultiTaskMLPRegressor` builds the two classic
multi-task network designs (:ref:`neural_network`):

* **hard sharing**: one trunk of hidden layers for all tasks, one output
  head per task;
* **soft sharing**: one trunk per task, pulled towards the tasks' mean
  trunk by the penalty ``(sharing_alpha / 2) sum_t ||theta_t - mean||^2``.

``sharing_alpha`` moves soft sharing between independent task networks
(``0``) and hard sharing (large values). We fit both on related regression
tasks whose target is a non-linear function of a task-specific linear
score, and compare them with one network per task and one pooled network.
"""

# %%
# Related tasks with a non-linear target
# --------------------------------------
# :func:`~skmtl.datasets.make_multitask_regression` draws related linear
# scores ``z`` (``task_relatedness=0.9``); the target is ``sin(2 z) + z^2 /
# 2`` plus noise. Half of every task's 100 rows train, half test.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import make_multitask_regression
from skmtl.model_selection import train_test_split_tasks
from skmtl.neural_network import MultiTaskMLPRegressor

X, z, _ = make_multitask_regression(
    n_tasks=20, n_samples=100, n_features=10, n_informative=5,
    task_relatedness=0.9, noise=0.0, random_state=0,
)  # fmt: skip
z = z / z.std()
y = np.sin(2 * z) + z**2 / 2 + np.random.default_rng(0).normal(scale=0.1, size=len(z))
X_train, X_test, y_train, y_test = train_test_split_tasks(
    X, y, task_column=0, test_size=0.5, random_state=0
)

# %%
# The fits
# --------
# Every network has one hidden layer of 32 units and ``alpha=1``; the
# task column is column 0. L-BFGS may stop at ``max_iter`` on the weakly
# regularised fits: we silence that warning here.

network = dict(hidden_layer_sizes=(32,), alpha=1.0, random_state=0)


def test_score(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return model.score(X_test, y_test)


mlp = MLPRegressor(solver="lbfgs", **network)
baselines = {
    "per-task MLP": test_score(PerTaskEstimator(mlp, task_column=0)),
    "pooled MLP": test_score(PooledEstimator(mlp, task_column=0)),
    "hard sharing": test_score(MultiTaskMLPRegressor(task_column=0, **network)),
}
sharing_alphas = np.logspace(-4, 2, 7)
soft_scores = [
    test_score(
        MultiTaskMLPRegressor(
            task_column=0, sharing="soft", sharing_alpha=sharing_alpha, **network
        )
    )
    for sharing_alpha in sharing_alphas
]
for name, score in baselines.items():
    print(f"{name:>14}: test R^2 = {score:.3f}")
best = int(np.argmax(soft_scores))
print(
    f"  soft sharing: test R^2 = {soft_scores[best]:.3f} "
    f"(sharing_alpha={sharing_alphas[best]:g})"
)

# %%
# Test R^2 against the sharing strength
# -------------------------------------
# Small ``sharing_alpha``: nearly independent task networks, close to the
# per-task baseline. Large ``sharing_alpha``: the trunks merge and soft
# sharing approaches hard sharing (L-BFGS needs more iterations there, as the
# penalty makes the problem stiff). In between, every task borrows the shape
# of the non-linearity from the others while keeping a trunk of its own.

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogx(sharing_alphas, soft_scores, "o-", label="soft sharing")
styles = {"hard sharing": "--", "per-task MLP": ":", "pooled MLP": "-."}
for name, style in styles.items():
    ax.axhline(baselines[name], linestyle=style, color="gray", label=name)
ax.set_xlabel("sharing_alpha")
ax.set_ylabel("test R^2 (pooled over tasks)")
ax.set_title("Soft sharing moves from per-task to hard sharing")
ax.legend(loc="best")
fig.tight_layout()
plt.show()
