"""Sphinx extension: the site's Colab buttons open the notebooks of the term's release.

sphinx-book-theme builds each page's Colab link (and its source link) from
``repository.branch``: ``https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<page>.ipynb``.
When ``_config.yml`` sets ``repository.colab_ref`` (the term's release tag, written by
``make release``), this extension gives the theme that tag instead, so a student opens
the release's notebooks, which install ``medcnn`` from the same tag
(``tools/colab_notebook.py``). Without ``colab_ref`` the links keep ``repository.branch``.

Enabled in ``_config.yml`` under ``sphinx.local_extensions``; the built site is checked by
``tests/test_release.py``.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def release_reference(config_path: Path) -> str | None:
    """``repository.colab_ref`` of the ``_config.yml`` at ``config_path`` (None when unset or absent).

    Example:
        >>> release_reference(Path("_config.yml"))   # doctest: +SKIP
        'v2027.1'
    """
    if not Path(config_path).is_file():
        return None
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    reference = (config.get("repository") or {}).get("colab_ref")
    return str(reference) if reference else None


def use_release(app, config) -> None:
    """``config-inited`` handler: put ``colab_ref`` where the theme reads the branch of its links."""
    for folder in (app.confdir, app.srcdir):
        reference = release_reference(Path(folder) / "_config.yml")
        if reference:
            options = dict(config.html_theme_options or {})
            options["repository_branch"] = reference
            config.html_theme_options = options
            return


def setup(app):
    app.connect("config-inited", use_release)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
