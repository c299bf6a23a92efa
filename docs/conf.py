"""Sphinx configuration of the documentation site: Markdown pages (MyST) on the Furo theme.

``make docs`` builds it with warnings as errors and checks the links inside the site.
"""

from __future__ import annotations

project = "django-live-admin"
author = "django-live-admin contributors"
copyright = "django-live-admin contributors"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# What docs/ holds that is not a page: the benchmarks' raw figures, and the build itself.
exclude_patterns = ["_build", "benchmarks.json"]

# colon_fence: ::: blocks for admonitions; deflist: definition lists; heading anchors up to
# level 3, spelt as GitHub spells them, so links such as deployment.md#sizing resolve (and are
# checked) in the site as they do on GitHub.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "django-live-admin"

# No internet where the docs are built: linkcheck checks the links inside the site (pages and
# their anchors) and leaves the web out.
linkcheck_ignore = [r"https?://.*"]
linkcheck_anchors = True
