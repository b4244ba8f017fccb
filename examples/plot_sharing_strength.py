"""
==========================================================
Sharing strength: from per-task to pooled
==========================================================

:class:`~skmtl.linear_model.MeanRegularizedRegressor` gives every task
coefficients ``w_t = w_0 + v_t`` and minimises

.. math::

    \\begin{aligned}
    & \\sum_t \\frac{1}{n_t} \\sum_{i \\in t}
      \\tfrac12 (y_i - x_i^\\top w_t - b_t)^2 \\\\
    & + \\frac{\\alpha}{2} \\sum_t \\|v_t\\|^2
      + \\frac{\\alpha_{\\text{mean}}}{2} \\|w_0\\|^2 .
    \\end{aligned}

``alpha`` is the sharing strength. Near ``alpha = 0`` the deviations ``v_t``
are free and every task is fitted on its own rows (single-task learning); as
``alpha`` grows they shrink to zero and all tasks share ``w_0`` (a pooled
model with one intercept per task). Which end is better depends on how
related the tasks are.

:func:`~skmtl.datasets.make_multitask_regression` has a knob for that:
``task_relatedness`` is the correlation between two tasks' true coefficients
(1: identical tasks, 0: unrelated tasks). We draw 10 tasks of 30 training
rows each with 15 features, and score every model on 200 fresh rows per task.
"""

# %%
# Data with a known relatedness
# -----------------------------
# With ``shuffle=False`` the rows come grouped by task (task 0 first); the
# first 30 rows of each task are its training rows, the other 200 its test
# rows.

import matplotlib.pyplot as plt
import numpy as np

from skmtl.datasets import make_multitask_regression
from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV

n_tasks, n_train, n_test, n_features = 10, 30, 200, 15


def make_tasks(relatedness):
    X, y, _ = make_multitask_regression(
        n_tasks=n_tasks,
        n_samples=n_train + n_test,
        n_features=n_features,
        n_informative=n_features,
        task_relatedness=relatedness,
        noise=2.0,
        shuffle=False,
        random_state=0,
    )
    is_train = np.arange(len(y)) % (n_train + n_test) < n_train
    return X[is_train], y[is_train], X[~is_train], y[~is_train]


# %%
# Test R^2 along the sharing strength
# -----------------------------------
# Column 0 of ``X`` holds the task, hence ``task_column=0``. For each
# relatedness we also let :class:`~skmtl.linear_model.MeanRegularizedRegressorCV`
# choose ``alpha`` by 5-fold cross-validation within every task, on the
# training rows only (the star).

alphas = np.logspace(-3, 3, 25)
relatednesses = [0.0, 0.5, 0.9, 0.99]
colors = plt.cm.viridis(np.linspace(0, 0.9, len(relatednesses)))

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for relatedness, color in zip(relatednesses, colors):
    X_train, y_train, X_test, y_test = make_tasks(relatedness)
    scores = [
        MeanRegularizedRegressor(alpha=alpha, task_column=0)
        .fit(X_train, y_train)
        .score(X_test, y_test)
        for alpha in alphas
    ]
    cv_model = MeanRegularizedRegressorCV(
        alphas=alphas, alpha_means=[0.01], task_column=0
    ).fit(X_train, y_train)
    cv_score = cv_model.score(X_test, y_test)
    ax.plot(alphas, scores, color=color, label=f"relatedness {relatedness}")
    ax.plot(cv_model.alpha_, cv_score, "*", color=color, ms=14, mec="black")
    print(
        f"relatedness {relatedness}: per-task end {scores[0]:.3f}, "
        f"pooled end {scores[-1]:.3f}, best {max(scores):.3f} "
        f"at alpha={alphas[np.argmax(scores)]:.3g}; "
        f"CV chose alpha={cv_model.alpha_:.3g}, test R^2 {cv_score:.3f}"
    )

ax.set_xscale("log")
ax.set_xlabel(r"sharing strength $\alpha$")
ax.set_ylabel("test $R^2$ (all tasks pooled)")
ax.annotate("per-task\n(no sharing)", xy=(0.01, 0.04), xycoords="axes fraction")
ax.annotate(
    "pooled\n(full sharing)", xy=(0.99, 0.04), xycoords="axes fraction", ha="right"
)
ax.set_title("MeanRegularizedRegressor: 10 tasks of 30 rows, 15 features")
ax.legend(
    loc="lower left",
    bbox_to_anchor=(0, 0.14),
    fontsize="small",
    title="star: alpha chosen by CV",
)
plt.show()

# %%
# Reading the curves
# ------------------
# * **Unrelated tasks** (relatedness 0): pooling averages coefficients that
#   have nothing in common and explains nothing. A weak pull still helps a
#   little: the shared mean of unrelated tasks is close to zero, so pulling
#   towards it acts as a ridge penalty on every task.
# * **Related tasks**: every task has only 30 rows for 15 coefficients, so on
#   its own it is noisy; pulling it towards the shared mean helps, the more so
#   the more related the tasks are, and the best ``alpha`` lies between the
#   two ends.
# * **Nearly identical tasks** (0.99): pooling is almost as good as it gets.
#
# Cross-validation within every task picks a strength close to the best one
# in each case, without seeing the test rows: that is the practical way to set
# ``alpha`` (see the user guide on choosing hyper-parameters).
