"""
=====================================================
Joint feature selection: one support for all tasks
=====================================================

When tasks depend on the same few features, they can *select* those features
together. :class:`~skmtl.linear_model.JointFeatureRegressor` minimises

.. math::

    \\sum_t \\frac{1}{n_t} \\sum_{i \\in t} \\tfrac12 (y_i - x_i^\\top w_t - b_t)^2
    + \\alpha \\sum_j \\|W_{:, j}\\|_2 ,

where :math:`W_{:, j}` holds the coefficients of feature :math:`j` in all
tasks. The :math:`\\ell_2` norm inside couples the tasks, the sum over features
acts like a lasso on whole columns: a feature is used by every task or by none
(Argyriou, Evgeniou & Pontil 2008; Obozinski, Taskar & Jordan 2010).

We draw 8 tasks of 30 rows each over 60 features; 5 features are informative
for every task, with task-specific coefficients (relatedness 0.3: the tasks
share the support, not the coefficients). With 30 rows per task a separate
lasso per task has to find 5 features among 60 from little data; the joint
model sees 240 rows of evidence for every feature.
"""

# %%
# Data in long format
# -------------------
# Column 0 of ``X`` is the task; each task has its own rows.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LassoCV

from skmtl.baseline import PerTaskEstimator
from skmtl.datasets import make_multitask_regression
from skmtl.linear_model import JointFeatureRegressorCV, joint_feature_path

X, y, true_coef = make_multitask_regression(
    n_tasks=8,
    n_samples=30,
    n_features=60,
    n_informative=5,
    task_relatedness=0.3,
    noise=1.0,
    random_state=3,
)
true_support = np.flatnonzero(np.any(true_coef != 0, axis=0))
print("X:", X.shape, "true support:", true_support)

# %%
# Joint selection against one lasso per task
# ------------------------------------------
# Both choose their strength by 5-fold cross-validation: the joint model
# within every task (:class:`~skmtl.model_selection.TaskKFold`), each lasso on
# its own task's rows.

joint = JointFeatureRegressorCV(task_column=0, n_alphas=50).fit(X, y)
lassos = PerTaskEstimator(LassoCV(alphas=50), task_column=0).fit(X, y)


def report(name, coef):
    used = np.any(coef != 0, axis=0)
    hits = int(used[true_support].sum())
    print(
        f"{name:>15}: {int(used.sum())} features used by some task, "
        f"{hits} of {len(true_support)} true ones, "
        f"{int(used.sum()) - hits} false; "
        f"features per task {np.count_nonzero(coef, axis=1).tolist()}"
    )


report("joint (L2,1)", joint.coef_)
report("lasso per task", lassos.coef_)

# %%
# The coefficient matrices, tasks by features: the truth has five full
# columns. The joint model recovers columns, whole or not at all; the
# per-task lassos pick a different set of features in every task.

fig, axes = plt.subplots(3, 1, figsize=(8, 5.5), sharex=True, layout="constrained")
panels = [
    ("truth", true_coef),
    (f"joint L2,1 (alpha={joint.alpha_:.3g})", joint.coef_),
    ("LassoCV per task", lassos.coef_),
]
limit = np.abs(true_coef).max()
for ax, (title, coef) in zip(axes, panels):
    image = ax.imshow(
        coef,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
    )
    ax.set_title(title, fontsize="medium")
    ax.set_ylabel("task")
    for feature in true_support:
        ax.axvline(feature, color="black", lw=0.3, alpha=0.4)
axes[-1].set_xlabel("feature (thin lines: the true support)")
fig.colorbar(image, ax=axes, label="coefficient", shrink=0.8)

# %%
# The regularisation path
# -----------------------
# :func:`~skmtl.linear_model.joint_feature_path` solves the model along a
# decreasing grid of ``alpha``, from ``alpha_max`` (where every coefficient is
# zero) down, each solution warm-starting the next. We plot the group norm
# :math:`\|W_{:, j}\|_2` of every feature: the true features enter first, and
# the vertical line is the ``alpha`` chosen by cross-validation.

alphas, coefs, _, _ = joint_feature_path(X, y, task_column=0, n_alphas=50)
group_norms = np.linalg.norm(coefs, axis=1)  # (n_alphas, n_features)
is_true = np.isin(np.arange(X.shape[1] - 1), true_support)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(alphas, group_norms[:, ~is_true], color="tab:gray", lw=0.8, alpha=0.7)
ax.plot(alphas, group_norms[:, is_true], color="tab:red", lw=1.8)
ax.axvline(joint.alpha_, color="black", ls="--", lw=1)
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_xlabel(r"$\alpha$ (decreasing)")
ax.set_ylabel(r"group norm $\|W_{:, j}\|_2$")
ax.set_title("L2,1 path: true features (red) and the others (gray)")
ax.annotate(
    " alpha chosen by CV",
    xy=(joint.alpha_, 0.95),
    xycoords=("data", "axes fraction"),
    ha="left",
    fontsize="small",
)
# sphinx_gallery_thumbnail_number = 2
plt.show()

# %%
# Along the path the five true features enter long before any other one. The
# cross-validated ``alpha`` sits just where the first false features start to
# enter: it keeps all five true features, plus some false ones with small
# coefficients (the pale columns above). Cross-validation optimises
# prediction, not support recovery, and a few small extra coefficients cost
# little in prediction; to read off a support, a larger ``alpha`` on the path
# (or a threshold on the group norms) is the more reliable choice. The
# per-task lassos, each with 30 rows, use many more false features in total,
# and each task a different set.
