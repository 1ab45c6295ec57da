"""Sphinx configuration: ``make docs`` builds the HTML into docs/_build/html."""
from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The generators live beside this file; the package is importable from the checkout
# even when it was never installed.
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

project = "flask-gdprchat"
author = "The flask-gdprchat developers"
copyright = "the flask-gdprchat developers, MIT License"
try:
    release = version("flask-gdprchat")
except PackageNotFoundError:
    release = "0.0.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "gdprchat_docs",
]

# The guides are Markdown (README links to them); the reference is reStructuredText.
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
add_module_names = False

html_theme = "alabaster"
html_title = f"flask-gdprchat {release}"
html_theme_options = {
    "description": "GDPR-compliant live chat for Flask",
    "fixed_sidebar": True,
}
