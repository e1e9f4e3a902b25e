"""Sphinx configuration of the sklearn-songpop documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sklearn_songpop  # noqa: E402

project = "sklearn-songpop"
author = "the sklearn-songpop developers"
copyright = "2026, the sklearn-songpop developers"
release = sklearn_songpop.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "sg_execution_times.rst"]
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's generated metadata-routing setters cite its own glossary
    "exclude-members": "set_fit_request, set_partial_fit_request, set_score_request, "
                       "set_predict_request, set_predict_proba_request, set_transform_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_show_inherited_class_members = False

# intersphinx would fetch inventories from the network; the docs build offline
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "abort_on_example_error": True,
    "run_stale_examples": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "write_computation_times": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

html_theme = "pydata_sphinx_theme"
html_title = "sklearn-songpop"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": True}
html_static_path = []
templates_path = ["_templates"]
suppress_warnings = ["config.cache"]
