"""Sphinx extension: include each script only once per page.

Jupyter Book 1.0 reads the sources more than once per build, and sphinx-thebe adds its
inline configuration script each time, so every page declared ``const THEBE_JS_URL``
twice and the browser logged "Identifier 'THEBE_JS_URL' has already been declared".
This drops exact repeats (same file or inline body, same attributes; one copy of
an inline script says its file is ``None``, the other ``""``) from the page's
script list, keeping the first of each in its place.

Enabled in ``_config.yml`` under ``sphinx.local_extensions``; checked by the browser test,
which fails on any JavaScript error.
"""

from __future__ import annotations


def _identity(script) -> tuple:
    """What makes two scripts the same: file and attributes (an inline script has no file: None or "")."""
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {})
    return (str(filename or ""), tuple(sorted((name, str(value)) for name, value in attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: keep the first of each identical script.

    Example:
        >>> context = {"script_files": ["a.js", "b.js", "a.js"]}
        >>> drop_repeated_scripts(None, "index", "page.html", context, None)
        >>> context["script_files"]
        ['a.js', 'b.js']
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        key = _identity(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def setup(app):
    # Run after the themes and extensions have added their scripts for the page.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
