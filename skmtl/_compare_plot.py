"""The figure of ``skmtl compare --plot``.

Three panels, four when a model with task relations ran:

(a) the per-task score (R^2 or accuracy on the task's test rows, mean over
    splits) of the best multi-task model against that of the per-task
    baseline, one point per task, sized by the task's number of rows: points
    above the diagonal are tasks the multi-task model helps;
(b) the score of every model on every split (box and points);
(c) for the joint-feature model, the norm of every feature's coefficients
    over tasks, mean over splits, and in how many splits it was selected;
(d) when a model with task relations (graph-regularised, clustered,
    task-relationship, multi-task GP) is in the comparison, the relations
    learned by the best-scoring of them (a graph model's given graph only
    when no model learned relations), mean over splits, with related tasks
    next to each other (:class:`skmtl.inspection.TaskRelationsDisplay`).

matplotlib is imported here only, and only its object-oriented interface is
used (a :class:`~matplotlib.figure.Figure` saved with the Agg canvas): no
pyplot, no change to the global backend.

``skmtl compare --new-tasks --plot`` draws one panel instead
(:func:`plot_new_tasks`): the score of every model on held-out tasks against
the number of labelled rows of each.
"""

from pathlib import Path

import numpy as np

from ._compare import BASELINE, MODELS, best_result, metric_names

#: Most features shown in panel (c).
MAX_FEATURES_SHOWN = 25
_BASELINE_COLOR = "#7f7f7f"
_MODEL_COLOR = "#1f77b4"


def plot_comparison(path, results, dataset):
    """Draw the panels and save them.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; the format follows its suffix (``.png``, ``.pdf``, ...).
    results : list of ModelResult
        Every model, skipped and failed ones included.
    dataset : Dataset

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    with_relations = [
        r for r in results if MODELS[r.name].relations and r.status != "skipped"
    ]
    if with_relations:
        figure = Figure(figsize=(17, 14), layout="constrained")
        axes = figure.subplots(2, 2).ravel()
    else:
        figure = Figure(figsize=(18, 6.5), layout="constrained")
        axes = figure.subplots(1, 3, width_ratios=[1.0, 1.0, 1.1])
    names = metric_names(dataset)
    _per_task_panel(axes[0], results, dataset, names)
    _splits_panel(axes[1], results, names)
    _features_panel(axes[2], results)
    if with_relations:
        _relations_panel(axes[3], with_relations)
    figure.suptitle(
        f"skmtl compare: {Path(dataset.source).name}, {dataset.task_type}",
        fontsize=13,
    )
    figure.savefig(path, dpi=110)
    return figure


def _per_task_panel(ax, results, dataset, names):
    task_label = "R^2" if names["task"] == "r2" else "accuracy"
    ax.set_title(f"(a) per-task {task_label}, mean over splits", loc="left")
    baseline = next((r for r in results if r.name == BASELINE and r.ok), None)
    model = best_result(results, multi_task_only=True)
    if model is None:
        model = best_result([r for r in results if r.name != BASELINE])
    if baseline is None or model is None:
        _message(ax, "needs the per-task baseline and another model to have run")
        return
    base, other = baseline.task_means(), model.task_means()
    sizes = dataset.task_sizes()
    tasks = [
        t for t in base if t in other and np.isfinite(base[t]) and np.isfinite(other[t])
    ]
    if not tasks:
        _message(ax, "no task has a defined score (too few test rows per task)")
        return
    x = np.array([base[t] for t in tasks])
    y = np.array([other[t] for t in tasks])
    size = np.array([sizes.get(t, 1) for t in tasks], dtype=float)
    low, high = _scatter_tasks(ax, x, y, size, model.name)
    ax.plot([low, high], [low, high], color="black", linewidth=0.8)
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"per-task baseline ({task_label})")
    ax.set_ylabel(f"{model.name} ({task_label})")
    # Points above the diagonal (the model helps) tend to fill the upper left.
    ax.legend(
        loc="lower right", fontsize=9, title="point area ~ task size", title_fontsize=9
    )
    ax.grid(alpha=0.3)


def _scatter_tasks(ax, x, y, size, name):
    """One point per task, coloured by which model is better; return limits."""
    better = y > x
    area = 15 + 185 * size / size.max()
    floor, (low, high) = _limits(np.concatenate([x, y]))
    # A few tiny tasks can have a very negative R^2: draw them on the edge.
    markers = np.where(x < floor, "<", np.where(y < floor, "v", "o"))
    x, y = np.maximum(x, floor), np.maximum(y, floor)
    for mask, color, label in (
        (better, _MODEL_COLOR, f"{name} better ({better.sum()})"),
        (~better, "#d62728", f"per-task at least as good ({(~better).sum()})"),
    ):
        for marker in ("o", "<", "v"):
            part = mask & (markers == marker)
            ax.scatter(
                x[part],
                y[part],
                s=area[part],
                c=color,
                alpha=0.55,
                marker=marker,
                edgecolors="white",
                linewidths=0.5,
                label=label if marker == "o" else None,
            )
    n_clipped = int((markers != "o").sum())
    if n_clipped:
        ax.scatter(
            [],
            [],
            marker="<",
            c="gray",
            label=f"below {floor:.2f}: on the edge ({n_clipped})",
        )
    return low, high


def _limits(values):
    """The lowest value drawn and the axis limits.

    Outliers far below the rest (a tiny task can have an R^2 of -10) would
    squeeze every other point into a corner: values more than three
    inter-quartile ranges below the first quartile are drawn at that floor.
    """
    q1, q3 = np.percentile(values, [25, 75])
    floor, high = max(np.min(values), q1 - 3 * (q3 - q1)), np.max(values)
    pad = 0.05 * (high - floor or 1.0)
    return floor, (floor - pad, high + pad)


def _splits_panel(ax, results, names):
    key, header = names["score"]
    ax.set_title(f"(b) {header} on each split", loc="left")
    ran = [r for r in results if r.ok and r.scores]
    if not ran:
        _message(ax, "no model ran")
        return
    values = [np.asarray(r.scores[key], dtype=float) for r in ran]
    positions = np.arange(1, len(ran) + 1)
    ax.boxplot(
        values,
        positions=positions,
        widths=0.5,
        showfliers=False,
        medianprops={"color": "black"},
    )
    rng = np.random.default_rng(0)
    for position, result, scores in zip(positions, ran, values):
        color = _BASELINE_COLOR if not _is_multi_task(result) else _MODEL_COLOR
        jitter = rng.uniform(-0.12, 0.12, len(scores))
        ax.scatter(position + jitter, scores, s=18, color=color, alpha=0.8, zorder=3)
    ax.set_xticks(positions, [r.name for r in ran], rotation=20, ha="right")
    ax.set_ylabel(header)
    ax.grid(axis="y", alpha=0.3)
    skipped = [r.name for r in results if not r.ok]
    if skipped:
        ax.text(
            0.99,
            0.01,
            "not shown (failed or skipped): " + ", ".join(skipped),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="dimgray",
        )


def _is_multi_task(result):
    from ._compare import MODELS

    return MODELS[result.name].multi_task


def _features_panel(ax, results):
    ax.set_title("(c) joint-feature model: features used by all tasks", loc="left")
    model = next((r for r in results if r.name == "joint-feature" and r.ok), None)
    details = [d for d in (model.details if model else []) if "group_norms" in d]
    if not details:
        _message(ax, "the joint-feature model did not run")
        return
    features = details[0]["features"]
    norms = np.array([d["group_norms"] for d in details if d["features"] == features])
    mean_norm = norms.mean(axis=0)
    n_selected = (norms > 0).sum(axis=0)
    order = np.argsort(-mean_norm, kind="stable")[:MAX_FEATURES_SHOWN][::-1]
    n_splits = len(norms)
    colors = [
        _MODEL_COLOR
        if n_selected[j] == n_splits
        else "#aec7e8"
        if n_selected[j]
        else "#dddddd"
        for j in order
    ]
    ax.barh(np.arange(len(order)), mean_norm[order], color=colors)
    ax.set_xlim(0, 1.12 * max(mean_norm.max(), 1e-12))
    ax.set_yticks(np.arange(len(order)), [features[j] for j in order], fontsize=8)
    for row, j in enumerate(order):
        ax.text(
            mean_norm[j],
            row,
            f" {n_selected[j]}/{n_splits}",
            va="center",
            fontsize=7,
            color="dimgray",
        )
    always = int((n_selected == n_splits).sum())
    never = int((n_selected == 0).sum())
    ax.set_xlabel("norm of its coefficients over tasks (mean over splits)")
    hidden = len(features) - len(order)
    ax.text(
        0.99,
        0.01,
        f"n/{n_splits}: selected in n of {n_splits} splits\n"
        f"{always} of {len(features)} features selected in every split, "
        f"{never} never" + (f"; {hidden} weakest not shown" if hidden else ""),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
    )
    ax.grid(axis="x", alpha=0.3)


def _relations_panel(ax, candidates):
    """The task relations of the best-scoring model that has them."""
    from .inspection import TaskRelationsDisplay

    ran = [r for r in candidates if r.ok and any(r.relations)]
    # A graph model shows the graph it was given: a learned relation says more.
    learned = [r for r in ran if _first(r.relations).get("attribute") != "adjacency_"]
    model = best_result(learned) or best_result(ran)
    if model is None:
        failed = ", ".join(f"{r.name} ({r.status})" for r in candidates)
        ax.set_title("(d) task relations", loc="left")
        _message(ax, f"no model with task relations ran: {failed}")
        return
    matrix, labels, quantity, n_splits = mean_relations(model.relations)
    TaskRelationsDisplay.from_matrix(
        matrix, labels=labels, quantity=f"{quantity} (mean over splits)", ax=ax
    )
    ax.set_title(
        f"(d) {model.name}: {quantity}, mean over {n_splits} split(s), "
        "related tasks side by side",
        loc="left",
    )
    shown_among = learned if any(model is r for r in learned) else ran
    if len(shown_among) > 1:
        ax.text(
            0.0,
            -0.12,
            "the best-scoring of: " + ", ".join(r.name for r in shown_among),
            transform=ax.transAxes,
            fontsize=8,
            color="dimgray",
        )


def mean_relations(relations):
    """Mean over splits of the relation matrices of one model.

    Parameters
    ----------
    relations : list of dict or None
        :func:`skmtl._compare.fitted_relations` of every split (``None``
        where the fit failed).

    Returns
    -------
    matrix : ndarray of shape (n_tasks, n_tasks)
        The mean, on the tasks of the first fitted split; splits fitted on
        other tasks are left out.
    labels : ndarray of shape (n_tasks,)
    quantity : str
    n_splits : int
        Number of splits averaged.
    """
    fitted = [r for r in relations if r is not None]
    labels = _labels(fitted[0])
    matrices = []
    for relation in fitted:
        position = {label: i for i, label in enumerate(_labels(relation).tolist())}
        if set(position) != set(labels.tolist()):
            continue
        index = [position[label] for label in labels.tolist()]
        matrices.append(relation["matrix"][np.ix_(index, index)])
    return np.mean(matrices, axis=0), labels, fitted[0]["quantity"], len(matrices)


def _first(relations):
    return next(r for r in relations if r is not None)


def _labels(relation):
    labels = relation["labels"]
    return np.arange(len(relation["matrix"])) if labels is None else labels


def _message(ax, text):
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="dimgray",
        wrap=True,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def plot_new_tasks(path, results, dataset):
    """The figure of ``skmtl compare --new-tasks --plot``: score against k.

    One line per model: its score on the held-out tasks' test rows, mean
    over folds with the standard deviation as error bars, against the number
    ``k`` of labelled rows of each held-out task; the baselines dashed and
    grey-toned, the per-task baseline from ``k = 2`` only.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; the format follows its suffix.
    results : list of NewTaskResult
        Every model, skipped and failed ones included.
    dataset : Dataset

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 6), layout="constrained")
    ax = figure.subplots()
    key, header = metric_names(dataset)["score"]
    drawn = [r for r in results if r.ok]
    # More models than the default cycle's 10 colours: one of 20 each.
    colors = colormaps["tab20"].colors
    for index, result in enumerate(drawn):
        shots = [k for k in result.shots if result.complete(key, k)]
        if not shots:
            continue
        means = [result.mean(key, k) for k in shots]
        stds = [result.std(key, k) for k in shots]
        baseline = not MODELS[result.name].multi_task
        ax.errorbar(
            shots,
            means,
            yerr=stds,
            label=result.name,
            marker="s" if baseline else "o",
            linestyle="--" if baseline else "-",
            color=colors[(2 * index) % 20 + (index // 10) % 2],
            capsize=3,
        )
    if not drawn:
        _message(ax, "no model ran")
    n_folds = max((len(r.fit_time) for r in drawn), default=0)
    ax.set_xlabel("k: labelled rows of each held-out task")
    ax.set_ylabel(f"{header} on the held-out tasks")
    ax.set_title(
        f"score against k, mean +- std over {n_folds} folds of held-out tasks",
        loc="left",
    )
    if drawn:
        ax.set_xticks(list(drawn[0].shots))
        ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    figure.suptitle(
        f"skmtl compare --new-tasks: {Path(dataset.source).name}", fontsize=13
    )
    figure.savefig(path, dpi=110)
    return figure
