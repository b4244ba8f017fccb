"""
===================================================
Per-task, pooled and mean-regularised on School
===================================================

The School data hold the exam scores of 15,362 students in 139 London schools.
Each school is a task: some have more than 200 students, others fewer than 30.
Three ways to learn them:

* **per-task** (single-task learning): one ridge regression per school, fitted
  on that school's students only;
* **pooled** (full hard sharing): one ridge regression for all students, the
  school ignored;
* **mean-regularised** multi-task learning
  (:class:`~skmtl.linear_model.MeanRegularizedRegressorCV`): every school has
  its own coefficients ``w_t = w_0 + v_t``, pulled towards a shared mean
  ``w_0`` by a penalty ``(alpha / 2) sum_t ||v_t||^2`` whose strength is chosen
  by cross-validation within every school.

We follow the protocol of the School literature (Argyriou, Evgeniou & Pontil
2008): 75% of the students of *every* school for training, 25% for testing,
scored by the explained variance, which is :func:`~sklearn.metrics.r2_score`
over all test students pooled. The literature repeats 10 random splits
(``skmtl compare`` does); to keep the documentation build fast we use 3.
"""

# %%
# The data and the three models
# -----------------------------
# Every model sees standardised features; the scaler is fitted inside the
# pipeline on the training rows only and leaves the ``school`` column alone.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import load_school
from skmtl.linear_model import MeanRegularizedRegressorCV
from skmtl.metrics import task_scores
from skmtl.model_selection import train_test_split_tasks
from skmtl.pipeline import TaskColumnPassthrough

school = load_school(as_frame=True)
X, y = school.data, school.target
sizes = X["school"].value_counts()
print(f"{len(X)} students in {len(sizes)} schools of {sizes.min()} to {sizes.max()}")

ridge_alphas = np.logspace(-3, 4, 15)
models = {
    "per-task": PerTaskEstimator(RidgeCV(alphas=ridge_alphas), task_column="school"),
    "pooled": PooledEstimator(RidgeCV(alphas=ridge_alphas), task_column="school"),
    "mean-regularised": MeanRegularizedRegressorCV(task_column="school"),
}


def with_scaling(model):
    return make_pipeline(
        TaskColumnPassthrough(StandardScaler(), task_column="school"), model
    )


# %%
# Three within-school splits
# --------------------------
# :func:`~skmtl.model_selection.train_test_split_tasks` splits the rows of
# every school on its own, so every school is in both parts.

n_splits = 3
pooled_r2 = {name: [] for name in models}
per_school_r2 = {name: [] for name in models}
for seed in range(n_splits):
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        X, y, task_column="school", test_size=0.25, random_state=seed
    )
    for name, model in models.items():
        fitted = with_scaling(model).fit(X_train, y_train)
        pooled_r2[name].append(fitted.score(X_test, y_test))
        scores = task_scores(y_test, fitted.predict(X_test), X_test["school"])
        per_school_r2[name].append(np.array(list(scores.values())))
    chosen = fitted[-1]
    print(f"split {seed}: alpha_={chosen.alpha_}, alpha_mean_={chosen.alpha_mean_}")

for name, values in pooled_r2.items():
    mean, std = np.mean(values), np.std(values)
    print(f"{name:>17}: explained variance {mean:.3f} +- {std:.3f}")

# %%
# Pooled explained variance
# -------------------------
# Bars are the means over the splits, dots the single splits. On these
# splits, pooling and per-task learning are close (each wins on some split),
# and mean-regularised learning, which can settle anywhere between the two,
# is better than both on every split.

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
names = list(models)
means = [np.mean(pooled_r2[name]) for name in names]
bars = ax.bar(names, means, color=["tab:gray", "tab:blue", "tab:orange"], alpha=0.6)
ax.bar_label(bars, fmt="%.3f", label_type="center")
for i, name in enumerate(names):
    ax.plot(np.full(n_splits, i), pooled_r2[name], "o", color="black", ms=4)
ax.set_ylim(0, 0.5)
ax.set_ylabel("explained variance (pooled test $R^2$)")
ax.set_title(f"School: {n_splits} within-school 75/25 splits")

# %%
# School by school
# ----------------
# The pooled score hides how each school fares. Here every dot is one school,
# its test :math:`R^2` averaged over the splits: per-task ridge on the
# horizontal axis, mean-regularised on the vertical axis. Schools above the
# diagonal gain from sharing. A school's test set holds a quarter of its
# students (6 to 63 of them), so these scores are noisy; :math:`R^2` is
# clipped at -1 for display.

per_task = np.mean(per_school_r2["per-task"], axis=0)
mean_reg = np.mean(per_school_r2["mean-regularised"], axis=0)
school_sizes = X["school"].value_counts().sort_index().to_numpy()
better = int(np.sum(mean_reg > per_task))
print(f"mean-regularised better than per-task in {better} of {len(per_task)} schools")
small = school_sizes < np.median(school_sizes)
gain = mean_reg - per_task
print(
    f"median gain in R^2: {np.median(gain[small]):.3f} in the smaller half of the "
    f"schools, {np.median(gain[~small]):.3f} in the larger half"
)

fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
points = ax.scatter(
    np.clip(per_task, -1, 1),
    np.clip(mean_reg, -1, 1),
    c=school_sizes,
    cmap="viridis",
    s=18,
)
ax.plot([-1, 1], [-1, 1], color="black", lw=1)
ax.set_xlim(-1.05, 1)
ax.set_ylim(-1.05, 1)
ax.set_xlabel("per-task ridge: test $R^2$ of the school")
ax.set_ylabel("mean-regularised: test $R^2$ of the school")
ax.set_title(f"better with sharing: {better} of {len(per_task)} schools")
fig.colorbar(points, ax=ax, label="students in the school")
plt.show()

# %%
# Most schools gain, the smaller ones a little more than the larger ones
# (compare the two medians printed above), and the largest changes, in both
# directions, are in small schools: alone, a school of 30 students cannot
# estimate 27 coefficients well; pulled towards the mean of all schools, it
# borrows the other schools' data. Some schools lose: sharing is a bias, and
# a school that differs from the others pays for it. ``alpha`` sets that
# trade-off for all schools at once (see
# :ref:`sphx_glr_auto_examples_plot_sharing_strength.py`).
