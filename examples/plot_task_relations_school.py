"""
==============================================================
Which schools are alike, and does using it help?
==============================================================

:class:`~skmtl.linear_model.TaskRelationshipRegressor` (MTRL, Zhang & Yeung
2010) fits one linear model per school and learns, with the coefficients
``W`` (schools x features), a covariance ``Omega`` between the schools:

.. math::

    \\sum_t \\frac{1}{n_t} \\sum_{i \\in t}
    \\tfrac12 (y_i - x_i^\\top w_t - b_t)^2
    + \\frac{\\alpha}{2} \\|W\\|_F^2
    + \\frac{\\beta}{2} \\min_{\\Omega \\succeq 0,\\, \\operatorname{tr}\\Omega = 1}
    \\operatorname{tr}(W^\\top \\Omega^{-1} W) .

Schools whose models are correlated borrow strength from each other; the
learned ``task_correlation_`` says which schools are alike
(:ref:`task_relations`). We fit it on School, draw the learned relations
with :class:`~skmtl.inspection.TaskRelationsDisplay`, and check on held-out
students whether the relations help, against the mean-regularised model
(every school equally related to every other) and the per-task and pooled
baselines.
"""

# %%
# Data
# ----
# 139 schools; 75% of every school's students to fit, 25% to test. The
# features are standardised with the statistics of the training rows.

import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.preprocessing import StandardScaler

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import load_school
from skmtl.inspection import TaskRelationsDisplay
from skmtl.linear_model import MeanRegularizedRegressorCV, TaskRelationshipRegressorCV
from skmtl.model_selection import train_test_split_tasks
from skmtl.pipeline import TaskColumnPassthrough

school = load_school(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split_tasks(
    school.data, school.target, task_column="school", test_size=0.25, random_state=0
)
scaler = TaskColumnPassthrough(StandardScaler(), task_column="school").fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Four models, one held-out score each
# ------------------------------------
# Every strength is chosen by cross-validation on the training rows, within
# every school. The score is the explained variance of the held-out
# students (R\ :sup:`2` of all test rows).

ridge_alphas = np.logspace(-3, 4, 15)
models = {
    "per-task ridge": PerTaskEstimator(
        RidgeCV(alphas=ridge_alphas), task_column="school"
    ),
    "pooled ridge": PooledEstimator(RidgeCV(alphas=ridge_alphas), task_column="school"),
    "mean-regularised": MeanRegularizedRegressorCV(task_column="school"),
    # Two ridge ratios alpha / beta instead of the default three: on School
    # the third, 1.0, scores lower, and every ratio costs a path.
    "task relationship": TaskRelationshipRegressorCV(
        ridge_ratios=(0.01, 0.1), task_column="school"
    ),
}
scores = {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    scores[name] = model.score(X_test, y_test)
    print(f"{name:18s} R^2 {scores[name]:.3f}  ({time.perf_counter() - start:.1f} s)")

mtrl = models["task relationship"]
print(f"chosen beta {mtrl.beta_:.3g}, ridge alpha {mtrl.ridge_alpha_:.3g}")

# %%
# Which schools are alike?
# ------------------------
# ``task_correlation_`` is the learned ``Omega`` scaled to a unit diagonal:
# a large positive value says that two schools have similar models. The
# display orders the schools by an average-linkage hierarchical clustering
# of the correlations, so that alike schools are neighbours.

display = TaskRelationsDisplay.from_estimator(mtrl)
display.ax_.set_title("School: learned task correlation (MTRL)")
display.figure_.set_size_inches(7.5, 6.4)

# %%
# Most pairs of schools are positively correlated, without clear blocks:
# the schools share most of their model (how the student attributes act on
# the exam score) and differ mainly in level (the intercepts, which are not
# penalised). The histogram of the correlations between distinct schools
# says the same.

correlation = mtrl.task_correlation_
between = correlation[~np.eye(len(correlation), dtype=bool)]
print(f"median correlation between schools: {np.median(between):.2f}")
print(f"share of pairs above 0.5: {np.mean(between > 0.5):.2f}")
fig, ax = plt.subplots(figsize=(6.4, 3.2))
ax.hist(between, bins=40, color="C0")
ax.set_xlabel("learned correlation between two schools")
ax.set_ylabel("pairs of schools")
fig.tight_layout()

# %%
# The schools at the edges of the ordering, least correlated with the
# others, are mostly small ones: with few students, MTRL shrinks their
# coefficients towards zero, and a low correlation there says "little
# evidence" rather than "a different school". The mean correlation of a
# school with the others grows with its number of training students.

mean_correlation = (correlation.sum(axis=1) - 1) / (len(correlation) - 1)
n_students = X_train["school"].value_counts().reindex(mtrl.tasks_).to_numpy()
print(f"median school size: {np.median(n_students):.0f} training students")
for t in np.argsort(mean_correlation)[:3]:
    print(
        f"school {mtrl.tasks_[t]}: mean correlation {mean_correlation[t]:.2f}, "
        f"{n_students[t]} training students"
    )
rho = spearmanr(mean_correlation, n_students).statistic
print(f"Spearman correlation of mean correlation and size: {rho:.2f}")

# %%
# Does using it help?
# -------------------
# Both multi-task models beat the per-task and pooled baselines. The learned
# relations do not beat the mean-regularised model here: when nearly every
# school is alike, "every school pulled towards one mean" is already the
# right structure, and learning a full 139 x 139 covariance adds variance.
# The task-relationship model pays off when the tasks form groups with
# different models, or respond in opposite ways (negative correlations).

fig, ax = plt.subplots(figsize=(6.4, 2.8))
names = list(scores)
ax.barh(names, [scores[name] for name in names], color=["C7", "C7", "C0", "C1"])
ax.set_xlim(min(scores.values()) - 0.05, max(scores.values()) + 0.02)
ax.set_xlabel("held-out explained variance")
ax.invert_yaxis()
fig.tight_layout()
plt.show()
