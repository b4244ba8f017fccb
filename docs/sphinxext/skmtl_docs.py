"""Helpers of the skmtl documentation build (imported by ``docs/conf.py``).

``example_time_budget`` is a sphinx-gallery ``reset_modules`` hook run before
and after every example: an example that takes longer than the budget emits a
Sphinx warning, which fails the ``-W`` build. The budget is
``SKMTL_DOCS_EXAMPLE_BUDGET`` seconds (default 20).
"""

import os
import time

from sphinx.util import logging

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_SECONDS = 20.0
_started = {}


def example_budget_seconds():
    """The time budget of one example, in seconds."""
    return float(os.environ.get("SKMTL_DOCS_EXAMPLE_BUDGET", DEFAULT_BUDGET_SECONDS))


def example_time_budget(gallery_conf, fname, when):
    """Time every example; warn when one exceeds the budget."""
    if fname is None:
        return
    if when == "before":
        _started[fname] = time.perf_counter()
        return
    elapsed = time.perf_counter() - _started.pop(fname, time.perf_counter())
    budget = example_budget_seconds()
    if elapsed > budget:
        logger.warning(
            "example %s took %.1f s, over the budget of %.0f s per example "
            "(SKMTL_DOCS_EXAMPLE_BUDGET); make it faster so that the docs build "
            "stays within the CI budget.",
            fname,
            elapsed,
            budget,
        )


# Public modules whose objects the API reference must list. A module without
# ``__all__`` contributes the public classes and functions defined in it.
PUBLIC_MODULES = (
    "skmtl.baseline",
    "skmtl.datasets",
    "skmtl.gaussian_process",
    "skmtl.inspection",
    "skmtl.linear_model",
    "skmtl.metrics",
    "skmtl.model_selection",
    "skmtl.neural_network",
    "skmtl.pipeline",
)


def public_names(module_name):
    """Names a public module exports: its ``__all__``, or what it defines."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return sorted(name for name in names if not name.startswith("__"))
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module_name
    )


def _listed_in_api(api_text):
    """``{module: {names}}`` of the autosummary entries of ``api.rst``."""
    listed = {}
    module = None
    in_autosummary = False
    for line in api_text.splitlines():
        stripped = line.strip()
        if stripped.startswith(".. currentmodule::"):
            module = stripped.split("::", 1)[1].strip()
        elif stripped.startswith(".. autosummary::"):
            in_autosummary = True
        elif in_autosummary and line and not line[0].isspace():
            in_autosummary = False
        elif in_autosummary and stripped and not stripped.startswith(":"):
            listed.setdefault(module, set()).add(stripped)
    return listed


def check_api_coverage(app):
    """Warn about every public object that ``api.rst`` does not list."""
    from pathlib import Path

    api_file = Path(app.srcdir) / "api.rst"
    listed = _listed_in_api(api_file.read_text(encoding="utf-8"))
    for module_name in PUBLIC_MODULES:
        try:
            names = public_names(module_name)
        except ImportError as exc:
            logger.warning(
                "cannot import %s for the API reference: %s", module_name, exc
            )
            continue
        for name in names:
            if name not in listed.get(module_name, set()):
                logger.warning(
                    "%s.%s is public (in __all__) but not listed in docs/api.rst; "
                    "add it to the autosummary of its module.",
                    module_name,
                    name,
                    location=str(api_file),
                )


def setup(app):
    app.connect("builder-inited", check_api_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


#: Order of the gallery: the School study first, then the ideas in the order
#: of the user guide. Examples not listed come last, by file name.
EXAMPLE_ORDER = (
    "plot_school_mtl.py",
    "plot_sharing_strength.py",
    "plot_joint_feature_support.py",
    "plot_multitask_gp.py",
    "plot_transfer_new_task.py",
)


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLE_ORDER:
            return (EXAMPLE_ORDER.index(filename), filename)
        return (len(EXAMPLE_ORDER), filename)

    def __repr__(self):
        return f"<{self.__class__.__name__}>"
