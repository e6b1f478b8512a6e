"""Sphinx configuration for the osfutures documentation."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "osfutures"
author = "the osfutures developers"
copyright = "2026, the osfutures developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "twintable",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
exclude_patterns = ["_build"]
# furo: code blocks and wide tables scroll sideways inside the page instead of being
# cut off, the sidebar folds away on narrow screens, and it has a dark mode.
html_theme = "furo"
html_title = "osfutures"

# A few rules on top of furo's, for tables and shown output.
html_static_path = ["_static"]
html_css_files = ["osfutures.css"]
