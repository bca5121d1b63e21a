"""Sphinx extension: the accessibility fixes (WCAG 2.1 AA) the course can make to the theme's pages.

axe-core, run on every page by the browser test (``tests/browser/test_site.py``), found
these in the HTML that sphinx-book-theme, pydata-sphinx-theme, docutils and pandas write;
each is fixed here, where the page is made, so that every rebuild keeps the fix:

- the sidebar's collapsible sections are ``<details>`` whose ``<summary>`` holds only a
  chevron icon, so a screen reader announces a nameless control (axe ``summary-name``,
  WCAG 4.1.2): each summary gets ``aria-label="Pages in <section>"``;
- the references page is a ``role="list"`` of citations whose ``role="doc-biblioentry"``
  is deprecated in ARIA 1.3 (``aria-required-children``, ``aria-deprecated-role``):
  each citation becomes a ``listitem``;
- a printed DataFrame's index corner, and the corner of a Markdown table, are empty
  header cells (``empty-table-header``): an empty ``<th>`` becomes an empty ``<td>``;
- the logo above the sidebar's navigation sits outside every landmark (``region``): the
  primary sidebar becomes a ``complementary`` landmark named "Course navigation";
- ``_static/accessibility.css`` (from ``book/_static``) darkens the colours that Keras's
  ``model.summary()`` prints (rich's terminal colours, 1.6:1 to 3.2:1 on the output's
  light background) and lightens them in the dark theme, to 5:1 or more in both
  (``color-contrast``, WCAG 1.4.3).

Enabled in ``_config.yml`` under ``sphinx.local_extensions``. What the course cannot fix
in the theme is listed on the accessibility page (``book/start/accessibility.md``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

STATIC_FOLDER = Path(__file__).resolve().parent.parent / "_static"
STYLESHEET = "accessibility.css"
SIDEBAR = '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar'
SIDEBAR_LANDMARK = ' role="complementary" aria-label="Course navigation"'
# The labels this extension writes, in the language of each edition (book/_ext/editions.py):
# a Spanish page read with English labels fails WCAG 3.1.2 (language of parts).
LABELS = {
    "en": {"pages in": "Pages in {title}", "navigation": "Course navigation"},
    "es": {"pages in": "Páginas de {title}", "navigation": "Navegación del curso"},
}


def _labels(language: str | None) -> dict[str, str]:
    return LABELS["es" if (language or "en").lower().startswith("es") else "en"]

# <a ...>Foundations</a><details ...><summary> in the sidebar's toctree (pydata-sphinx-theme)
_UNNAMED_SUMMARY = re.compile(
    r'(<a class="[^"]*\breference internal\b[^"]*"[^>]*>(?P<title>(?:(?!</a>).)*)</a><details[^>]*>)<summary>', re.DOTALL
)
_EMPTY_HEADER = re.compile(r"<th(?P<attributes>(?:\s[^>]*)?)>(?:\s|&nbsp;|&#160;|<p>\s*</p>)*</th>")
_CITATION_ROLE = 'role="doc-biblioentry"'


def name_summaries(toctree_html: str, language: str | None = "en") -> str:
    """Give each sidebar ``<summary>`` that has no text an ``aria-label`` naming its section.

    Example:
        >>> name_summaries('<a class="reference internal" href="x.html">Foundations</a><details><summary><span>')
        '<a class="reference internal" href="x.html">Foundations</a><details><summary aria-label="Pages in Foundations"><span>'
        >>> name_summaries('<a class="current reference internal" href="#">Foundations</a><details open="open"><summary>')
        '<a class="current reference internal" href="#">Foundations</a><details open="open"><summary aria-label="Pages in Foundations">'
    """

    def named(match: re.Match) -> str:
        title = html.unescape(re.sub(r"<[^>]+>", "", match.group("title"))).strip()
        label = _labels(language)["pages in"].format(title=title)
        return f'{match.group(1)}<summary aria-label="{html.escape(label, quote=True)}">'

    return _UNNAMED_SUMMARY.sub(named, toctree_html)


def fix_body(body: str) -> str:
    """The page body with citations as list items and empty header cells as data cells.

    Example:
        >>> fix_body('<tr><th></th><th>layers</th></tr><div class="citation" role="doc-biblioentry">')
        '<tr><td></td><th>layers</th></tr><div class="citation" role="listitem">'
        >>> fix_body('<th class="blank level0" >&nbsp;</th>')  # a pandas Styler's corner
        '<td class="blank level0" ></td>'
    """
    body = body.replace(_CITATION_ROLE, 'role="listitem"')
    return _EMPTY_HEADER.sub(lambda match: f"<td{match.group('attributes')}></td>", body)


def _wrap_toctree(generate, language: str | None = "en"):
    def generate_named_toctree_html(*args, **kwargs):
        from markupsafe import Markup

        # pydata-sphinx-theme returns a BeautifulSoup tree (cached, shared by every page): use its text
        return Markup(name_summaries(str(generate(*args, **kwargs)), language))

    generate_named_toctree_html.names_summaries = True
    return generate_named_toctree_html


def fix_page_context(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: fix the body and the sidebar's toctree of one page."""
    if isinstance(context.get("body"), str):
        context["body"] = fix_body(context["body"])
    generate = context.get("generate_toctree_html")
    if callable(generate) and not getattr(generate, "names_summaries", False):
        context["generate_toctree_html"] = _wrap_toctree(generate, app.config.language)


def add_sidebar_landmark(page_html: str, language: str | None = "en") -> str:
    """Make the primary sidebar (logo and navigation) a named ``complementary`` landmark; idempotent.

    Example:
        >>> add_sidebar_landmark('<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">')
        '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar" role="complementary" aria-label="Course navigation">'
    """
    start = page_html.find(SIDEBAR)
    if start < 0:
        return page_html
    end = page_html.index(">", start)
    tag = page_html[start:end]
    if "role=" in tag:
        return page_html
    landmark = SIDEBAR_LANDMARK.replace("Course navigation", _labels(language)["navigation"])
    return page_html[:end] + landmark + page_html[end:]


def fix_written_pages(app, exception):
    """``build-finished`` handler: the sidebar landmark in every written page (the layout has no hook)."""
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        fixed = add_sidebar_landmark(text, app.config.language)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")


def add_stylesheet(app):
    """``builder-inited`` handler: serve ``book/_static`` and link ``accessibility.css`` from every page."""
    if str(STATIC_FOLDER) not in map(str, app.config.html_static_path):
        app.config.html_static_path.append(str(STATIC_FOLDER))
    app.add_css_file(STYLESHEET)


def setup(app):
    app.connect("builder-inited", add_stylesheet)
    # after pydata-sphinx-theme has put generate_toctree_html in the context (default priority 500)
    app.connect("html-page-context", fix_page_context, priority=900)
    app.connect("build-finished", fix_written_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
