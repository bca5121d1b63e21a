"""The book's accessibility extension (book/_ext/accessibility.py) and style sheet, without a build:
each fix on the HTML the theme, docutils and pandas write, and the colours the style sheet sets
against the backgrounds they sit on (WCAG 1.4.3: 4.5:1 for text). The browser test checks the
built site with axe-core."""

from __future__ import annotations

import re
import sys

import pytest
from helpers import REPOSITORY

# the book's stack (Sphinx's theme needs it); Colab's venv, which runs the tests too, may lack it
BeautifulSoup = pytest.importorskip("bs4", reason="beautifulsoup4 comes with the book's stack: pip install -r requirements.txt").BeautifulSoup

sys.path.insert(0, str(REPOSITORY / "book" / "_ext"))
import accessibility  # noqa: E402

# as pydata-sphinx-theme 0.17 writes a sidebar section with pages under it
SIDEBAR = (
    '<ul class="nav bd-sidenav"><li class="toctree-l1"><a class="reference internal" href="../start/about.html">About</a></li>'
    '<li class="toctree-l1 has-children"><a class="reference internal" href="../foundations/index.html">Foundations &amp; maths</a>'
    '<details><summary><span class="toctree-toggle" role="presentation"><i class="fa-solid fa-chevron-down"></i>'
    "</span></summary><ul><li>...</li></ul></details></li>"
    # the section of the page being read: its link is "current", to "#", and the section is open
    '<li class="toctree-l1 current active has-children"><a class="current reference internal" href="#">Datasets</a>'
    '<details open="open"><summary><span class="toctree-toggle" role="presentation"><i class="fa-solid fa-chevron-down"></i>'
    "</span></summary><ul><li>...</li></ul></details></li></ul>"
)
# the output backgrounds of rich's model.summary() in each theme (measured with axe in Chromium)
OUTPUT_BACKGROUND = {"light": "#f3f4f5", "dark": "#29313d"}


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[index:index + 2], 16) / 255 for index in (1, 3, 5)]
        linear = [value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4 for value in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_each_sidebar_summary_is_named_after_its_section_from_text_or_parsed_tree():
    for toctree in (SIDEBAR, BeautifulSoup(SIDEBAR, "html.parser")):  # the theme returns a BeautifulSoup tree
        wrapped = accessibility._wrap_toctree(lambda toctree=toctree, **_: toctree)
        summaries = BeautifulSoup(str(wrapped(kind="sidebar")), "html.parser").find_all("summary")
        assert [summary.get("aria-label") for summary in summaries] == ["Pages in Foundations & maths", "Pages in Datasets"]


def test_the_body_gets_list_items_and_no_empty_header_cells():
    body = (
        '<div role="list" class="citation-list"><div class="citation" id="id1" role="doc-biblioentry">A.</div></div>'
        '<table class="dataframe"><thead><tr><th></th><th>layers</th></tr><tr><th>backbone</th><th></th></tr></thead></table>'
        '<table><thead><tr class="row-odd"><th class="head"><p></p></th><th class="head"><p>smoke</p></th></tr></thead></table>'
        '<table><thead><tr><th class="blank level0" >&nbsp;</th><th class="col_heading level0 col0" >accuracy</th></tr></thead></table>'
    )
    fixed = BeautifulSoup(accessibility.fix_body(body), "html.parser")
    assert [item["role"] for item in fixed.select(".citation")] == ["listitem"]
    assert [header.get_text(strip=True) for header in fixed.find_all("th")] == ["layers", "backbone", "smoke", "accuracy"]
    assert len(fixed.find_all("td")) == 4


def test_the_sidebar_becomes_a_named_landmark_once():
    page = '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar"><a class="navbar-brand logo">'
    once = accessibility.add_sidebar_landmark(page)
    assert 'role="complementary" aria-label="Course navigation"' in once
    assert accessibility.add_sidebar_landmark(once) == once
    assert accessibility.add_sidebar_landmark("<main></main>") == "<main></main>"


def test_the_style_sheet_gives_rich_output_colours_text_contrast_in_both_themes():
    css = (REPOSITORY / "book" / "_static" / accessibility.STYLESHEET).read_text(encoding="utf-8")
    rules = re.findall(r'html\[data-theme="(\w+)"\][^{]*color: (#[0-9a-f]{6})"\] \{ color: (#[0-9a-f]{6}) !important; \}', css)
    assert {(theme, printed) for theme, printed, _ in rules} == {
        (theme, printed) for theme in OUTPUT_BACKGROUND for printed in ("#0087ff", "#00d7ff", "#00af00")
    }
    low = {(theme, shown): round(_contrast(shown, OUTPUT_BACKGROUND[theme]), 2) for theme, _, shown in rules
           if _contrast(shown, OUTPUT_BACKGROUND[theme]) < 4.5}
    assert low == {}, f"colours under 4.5:1 on the output's background: {low}"
