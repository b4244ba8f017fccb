"""Run the snippets of the documentation pages as doctests.

``python -m pytest docs --doctest-glob="*.rst"`` runs every ``>>>`` block of
the hand-written pages; the build configuration, the Sphinx extension and
generated files are not collected.
"""

collect_ignore = ["conf.py", "sphinxext"]
collect_ignore_glob = [
    "_build/*",
    "auto_examples/*",
    "generated/*",
    "gen_modules/*",
    "sg_execution_times.rst",
    "_templates/*",
]
