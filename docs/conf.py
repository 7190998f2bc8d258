"""Sphinx configuration of the ctstation documentation."""

project = "ctstation"
extensions = ["sphinxcontrib.httpdomain"]
root_doc = "index"
html_theme = "alabaster"
exclude_patterns = ["_build"]
