"""Sphinx configuration of the skmtl documentation.

Build (from the repository root, with ``pip install ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: intersphinx is not used, and MathJax is only a
script tag in the pages.
"""

import os
import sys
from pathlib import Path

# One BLAS thread for the examples: their matrices are small, and on a busy
# two-core CI machine OpenBLAS threads slow them down many times over (the
# School example's cross-validation took 10 s instead of 0.5 s). The variables
# cover libraries loaded later; threadpool_limits those already loaded.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import matplotlib  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

matplotlib.use("Agg")
_blas_limits = threadpool_limits(limits=1, user_api="blas")

# Document the checkout these pages live in, ahead of any installed skmtl.
DOCS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS_DIR.parent))
sys.path.insert(0, str(DOCS_DIR / "sphinxext"))

import skmtl  # noqa: E402

project = "skmtl"
author = "skmtl developers"
copyright = "skmtl developers, BSD-3-Clause"
version = release = skmtl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skmtl_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ---------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
# Methods are listed by the class template (docs/_templates/autosummary).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Every public object needs a docstring, and the documented parameters must be
# the real ones: a docstring that breaks this fails the build (-W).
numpydoc_validation_checks = {"GL08", "PR01", "PR02"}
numpydoc_validation_exclude = {
    # Methods inherited from scikit-learn are documented there.
    r"\.get_metadata_routing$",
    r"\.set_\w+_request$",
    r"\.set_output$",
    r"\.get_params$",
    r"\.set_params$",
    r"\.fit_transform$",
    r"\.__init__$",
}

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "skmtl_docs.ExampleOrder",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skmtl",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # Reset matplotlib between examples, and time every example against the
    # budget of docs/sphinxext/skmtl_docs.py (20 s unless
    # SKMTL_DOCS_EXAMPLE_BUDGET says otherwise): an example over it fails -W.
    "reset_modules": ("matplotlib", "skmtl_docs.example_time_budget"),
    "reset_modules_order": "both",
    "show_memory": False,
    # Show what the examples print, not the repr of a block's last expression.
    "capture_repr": (),
    "min_reported_time": 1,
    "expected_failing_examples": [],
    "only_warn_on_example_error": False,
}
if os.environ.get("SKMTL_DOCS_NO_GALLERY"):
    # Quick builds of the prose: `SKMTL_DOCS_NO_GALLERY=1 python -m sphinx ...`
    sphinx_gallery_conf["filename_pattern"] = r"^$"
    sphinx_gallery_conf["plot_gallery"] = "False"

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmtl {release}"
html_static_path = ["_static"]
html_css_files = ["skmtl.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
