"""The built course site, opened in headless Chromium: every page in the toc renders and works,
and is accessible (axe-core finds no serious or critical WCAG 2.1 A/AA violation; every figure has
alt text a person wrote: issue 28, book/start/accessibility.md). Each page's language switch
is followed to the same page of the Spanish edition (``_build/html/es``), which is checked and
audited the same way, and back (issue 27).

Run with ``pytest tests/browser -m browser`` (add ``MEDCNN_BOOK_BUILT=1`` to reuse a fresh
``_build/html``). Requests that leave the local server are blocked, so the check is the same
with or without a network.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "_build" / "screenshots"
pytestmark = pytest.mark.browser

CONFIG = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((REPOSITORY / "_toc.yml").read_text(encoding="utf-8"))
PART_CAPTIONS = [part["caption"] for part in TOC["parts"]]
TOP_LEVEL_CHAPTERS = [chapter["file"] for part in TOC["parts"] for chapter in part["chapters"] if "file" in chapter]


def _front_matter(path: Path) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


def _collect(entries, found):
    for entry in entries or []:
        if "file" in entry:
            found.append(entry["file"])
        if "glob" in entry:
            from sphinx.util.matching import patfilter

            pages = [
                path.relative_to(REPOSITORY).with_suffix("").as_posix()
                for path in (REPOSITORY / "book").rglob("*.md")
                if "_build" not in path.parts
            ]
            found.extend(sorted(patfilter(pages, entry["glob"])))
        _collect(entry.get("sections"), found)
    return found


def toc_pages() -> list[str]:
    """Every page the toc builds (repository paths without suffix), in toc order."""
    pages = [TOC["root"]]
    for part in TOC["parts"]:
        _collect(part["chapters"], pages)
    return pages


PAGES = toc_pages()
NOTEBOOK_PAGES = [name for name in PAGES if "kernelspec" in _front_matter(REPOSITORY / f"{name}.md")]
DATASET_PAGES = [name for name in PAGES if name.startswith("book/datasets/")]
# Chapters whose code draws figures; every figure must reach the page as an image.
FIGURE_PAGES = [name for name in NOTEBOOK_PAGES if "plot" in (REPOSITORY / f"{name}.md").read_text(encoding="utf-8")]


def _open(page, site_url: str, path: str):
    """Open a page of the site with every request that leaves the local server blocked."""
    page.route(re.compile(r"^(?!" + re.escape(site_url) + r").*"), lambda route: route.abort())
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(site_url + path, wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response.status if response else 'no response'}"
    return errors


BROKEN_IMAGES = """async (origin) => {
  const images = [...document.images].filter((image) => (image.currentSrc || image.src).startsWith(origin));
  images.forEach((image) => { image.loading = "eager"; });
  const settle = (image) => image.complete ? Promise.resolve() :
    new Promise((resolve) => { image.addEventListener("load", resolve); image.addEventListener("error", resolve);
                               setTimeout(resolve, 10000); });
  await Promise.all(images.map(settle));
  return { count: images.length,
           broken: images.filter((image) => image.naturalWidth === 0).map((image) => image.currentSrc || image.src) };
}"""


def test_root_redirects_to_the_home_page(page, site_url):
    _open(page, site_url, "")
    page.wait_for_url(re.compile(r".*/book/index\.html$"))
    assert page.locator("h1").first.inner_text().strip() == "Medical images with CNNs"


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_with_sidebar_images_colab_link_and_no_traceback(page, site_url, name, accessibility_audits):
    errors = _open(page, site_url, f"{name}.html")
    # axe-core and the alt-text census, on this page load; judged for all pages at once below
    accessibility_audits[name] = _audit_accessibility(page)
    assert page.locator("main h1").count() >= 1, f"{name}: no title"

    sidebar = page.locator(".bd-sidebar-primary")
    assert sidebar.is_visible(), f"{name}: the sidebar is not shown"
    sidebar_text = sidebar.inner_text()
    for caption in PART_CAPTIONS:
        assert caption in sidebar_text, f"{name}: the sidebar lacks the part {caption!r}"
    # the current page links to itself as "#": compare without fragments
    hrefs = sidebar.locator("nav a.reference").evaluate_all("(links) => links.map((link) => link.href.split('#')[0])")
    for chapter in TOP_LEVEL_CHAPTERS:
        assert f"{site_url}{chapter}.html" in hrefs, f"{name}: the sidebar has no link to {chapter}"

    images = page.evaluate(BROKEN_IMAGES, site_url.rstrip("/"))
    assert images["count"] >= 1, f"{name}: not even the logo is on the page"
    assert images["broken"] == [], f"{name}: images that did not load: {images['broken']}"

    outputs = " ".join(page.locator(".cell_output").all_inner_texts())
    assert "Traceback" not in outputs, f"{name}: a cell output contains a traceback"
    assert page.locator(".cell_output .traceback, .output.traceback").count() == 0, f"{name}: an error output is shown"
    assert errors == [], f"{name}: JavaScript errors: {errors}"
    # on the same page load (each load of a chapter costs a second or two of the browser's time):
    _check_colab_link(page, site_url, name)
    if name in FIGURE_PAGES:
        _check_figures_are_images(page, name)
    # the Spanish edition (issue 27): the switch opens this page in Spanish, which is checked and
    # audited as the English one, and its own switch comes back here
    _follow_the_language_switch(page, site_url, name, accessibility_audits)


SPANISH = "es/"


def _follow_the_language_switch(page, site_url: str, name: str, accessibility_audits: dict) -> None:
    switch = page.locator("nav.language-switch a")
    assert switch.count() == 1, f"{name}: no language switch (or more than one)"
    assert switch.get_attribute("hreflang") == "es" and switch.is_visible(), f"{name}: the switch is not shown"
    switch.click()
    page.wait_for_url(f"{site_url}{SPANISH}{name}.html")
    assert page.locator("html").get_attribute("lang") == "es", f"{SPANISH}{name}: not marked as Spanish"
    accessibility_audits[SPANISH + name] = _audit_accessibility(page)
    assert page.locator("main h1").count() >= 1, f"{SPANISH}{name}: no title"
    images = page.evaluate(BROKEN_IMAGES, site_url.rstrip("/"))
    assert images["broken"] == [], f"{SPANISH}{name}: images that did not load: {images['broken']}"
    outputs = " ".join(page.locator(".cell_output").all_inner_texts())
    assert "Traceback" not in outputs, f"{SPANISH}{name}: a cell output contains a traceback"
    colab = page.locator('.dropdown-launch-buttons a[href^="https://colab.research.google.com/"]')
    if name in NOTEBOOK_PAGES:
        assert colab.count() == 1 and colab.get_attribute("href").endswith(f"/{quote(name)}.es.ipynb"), (
            f"{SPANISH}{name}: the Colab button does not open the Spanish notebook")
        assert _tracked(REPOSITORY / f"{name}.es.ipynb"), f"{name}.es.ipynb is not committed"
    back = page.locator("nav.language-switch a")
    assert back.count() == 1 and back.get_attribute("hreflang") == "en", f"{SPANISH}{name}: no switch back to English"
    back.click()
    page.wait_for_url(f"{site_url}{name}.html")
    assert page.locator("html").get_attribute("lang") == "en", f"{name}: not marked as English"


# --- Accessibility (issue 28): WCAG 2.1 AA as axe-core tests it, and alt text a person wrote -------------

# The WCAG 2.0/2.1 A and AA rules and axe's best practices; not target-size (WCAG 2.2) nor AAA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}

# One page load, one script: axe-core with every rule but color-contrast on the whole page; then
# color-contrast on one element of each kind of text: same tag, classes and inline style, same
# computed colour, font size and weight, opacity and shadow, and the same backdrop (each
# ancestor with a background, up to the first opaque one). A chapter's thousands of
# syntax-highlighted tokens are a few dozen kinds, and color-contrast, which works out each
# element's background, took most of axe's time (a dataset chapter: ~25 s of ~30 s on a busy
# machine, ~1 s this way; on the site before issue 28 it found every failing kind the full
# rule found). A kind already checked on an earlier page (the theme's, the code's, the prose's:
# most of them) is not checked again: a failing kind is reported on the first page that has it.
# Then the census of the article's images and their alt text.
AUDIT = """async ([tags, checkedKinds]) => {
  const summary = (violations) => violations.map((violation) => ({
    id: violation.id, impact: violation.impact, help: violation.help, count: violation.nodes.length,
    targets: violation.nodes.slice(0, 3).map((node) => node.target.join(" "))}));
  const page = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                                        rules: {"color-contrast": {enabled: false}}});
  const checked = new Set(checkedKinds);
  const kinds = new Map();
  const describe = (node) => `${node.tagName}.${[...node.classList].sort().join(".")}[${node.getAttribute("style") || ""}]`;
  for (const element of document.body.querySelectorAll("*")) {
    if (![...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim())) continue;
    const backdrop = [];
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage === "none" && style.backgroundColor === "rgba(0, 0, 0, 0)") continue;
      backdrop.push(`${describe(node)}:${style.backgroundColor}:${style.backgroundImage}`);
      if (style.backgroundImage !== "none" || style.backgroundColor.startsWith("rgb(")) break;  // opaque
    }
    const style = getComputedStyle(element);
    const key = [describe(element), backdrop.join("/"), style.color, style.fontSize, style.fontWeight,
                 style.opacity, style.textShadow].join("|");
    if (!checked.has(key) && !kinds.has(key)) kinds.set(key, element);
  }
  const contrast = kinds.size === 0 ? {violations: []} : await axe.run(
    {include: [...kinds.values()]}, {runOnly: {type: "rule", values: ["color-contrast"]}, resultTypes: ["violations"]});
  const images = [...document.querySelectorAll("article.bd-article img")].map((image) => ({
    src: image.getAttribute("src") || "", alt: image.getAttribute("alt")}));
  return {violations: summary([...page.violations, ...contrast.violations]), images, kinds: [...kinds.keys()]};
}"""


@functools.lru_cache(maxsize=1)
def _axe_script() -> str | None:
    """axe-core's script (shipped inside axe-playwright-python: nothing is fetched), or None if not installed."""
    try:
        import axe_playwright_python
    except ImportError:
        return None
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


_CONTRAST_KINDS_CHECKED: set[str] = set()


def _audit_accessibility(page) -> dict | None:
    """axe-core's violations and the article's images (src, alt) on the page as it is loaded."""
    if _axe_script() is None:
        return None  # the accessibility tests skip, saying so; the page's other checks still run
    page.evaluate(_axe_script())
    audit = page.evaluate(AUDIT, [AXE_TAGS, sorted(_CONTRAST_KINDS_CHECKED)])
    _CONTRAST_KINDS_CHECKED.update(audit.pop("kinds"))
    return audit


def _audits_of_every_page(accessibility_audits: dict, browser_context, site_url: str) -> dict:
    """Each page's audit: the one the render test made on its page load, or a load now (e.g. under -k).

    A page that does not load is left out here: the render test fails on it, naming it.
    """
    if _axe_script() is None:
        pytest.skip("axe-core is not installed: pip install -r requirements-browser.txt (axe-playwright-python)")
    for name in PAGES + [SPANISH + name for name in PAGES]:
        if accessibility_audits.get(name) is None:
            opened = browser_context.new_page()
            try:
                _open(opened, site_url, f"{name}.html")
                accessibility_audits[name] = _audit_accessibility(opened)
            except AssertionError:
                continue
            finally:
                opened.close()
    return {name: audit for name, audit in accessibility_audits.items() if audit is not None}


def test_axe_finds_no_serious_or_critical_violation_on_any_page(accessibility_audits, browser_context, site_url):
    audits = _audits_of_every_page(accessibility_audits, browser_context, site_url)
    failing = {
        name: [
            f"{violation['id']} ({violation['impact']}, {violation['count']} elements: {violation['help']}; "
            f"e.g. {', '.join(violation['targets'])})"
            for violation in audit["violations"]
            if violation["impact"] in FAILING_IMPACTS
        ]
        for name, audit in audits.items()
    }
    failing = {name: problems for name, problems in failing.items() if problems}
    assert failing == {}, "axe-core (WCAG 2.1 A/AA and best practices) finds serious or critical violations:\n" + "\n".join(
        f"  {name}: " + "; ".join(problems) for name, problems in failing.items()
    )


def _alt_problem(source: str, alt: str | None) -> str | None:
    """Why ``alt`` does not describe a content image, or None when it may.

    Example:
        >>> _alt_problem("../../_images/f920a0.png", "../../_images/f920a0.png")
        'a path'
    """
    if alt is None:
        return "no alt attribute"
    text = alt.strip()
    file_name = source.rsplit("/", 1)[-1]
    if not text:
        return "empty"
    if "/" in text or "\\" in text:
        return "a path"
    if text == file_name or text == file_name.rsplit(".", 1)[0] or re.search(r"\.(png|jpe?g|gif|svg|webp)$", text, re.IGNORECASE):
        return "a file name"
    if re.fullmatch(r"[0-9a-f]{16,}", text):
        return "a hash"
    if len(text.split()) < 3:
        return f"too short to say what the image shows ({text!r})"
    return None


def test_every_content_image_has_alt_text_that_says_what_it_shows(accessibility_audits, browser_context, site_url):
    # WCAG 1.1.1, which axe passes as long as alt= exists: Sphinx writes the image's path when the
    # source gives none. Chapters set it per figure cell (myst-nb: mystnb: image: alt: "...").
    audits = _audits_of_every_page(accessibility_audits, browser_context, site_url)
    lacking = {
        name: [f"{image['src'].rsplit('/', 1)[-1]} (alt is {problem})"
               for image in audit["images"] if (problem := _alt_problem(image["src"], image["alt"]))]
        for name, audit in audits.items()
    }
    lacking = {name: images for name, images in lacking.items() if images}
    total = sum(len(audit["images"]) for audit in audits.values())
    missing = sum(len(images) for images in lacking.values())
    assert lacking == {}, (
        f"{missing} of {total} content images lack alt text that says what they show (set it in the chapter's "
        f"figure cell: mystnb: image: alt: ...):\n" + "\n".join(f"  {name}: {', '.join(images)}" for name, images in lacking.items())
    )


def _tracked(path: Path) -> bool:
    if not (REPOSITORY / ".git").exists():
        return path.is_file()
    result = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(path.relative_to(REPOSITORY))],
        cwd=REPOSITORY, capture_output=True, text=True,
    )  # fmt: skip
    return result.returncode == 0


def _check_colab_link(page, site_url: str, name: str) -> None:
    """The page's Colab launch button opens its committed notebook; pages without code have none."""
    # the launch button's link (a page may also link to other notebooks in its text: the Labs page)
    colab = page.locator('.dropdown-launch-buttons a[href^="https://colab.research.google.com/"]')
    if name not in NOTEBOOK_PAGES:
        assert colab.count() == 0, f"{name} has no code, so it should have no Colab launch button"
        return
    assert colab.count() == 1, f"{name}: expected one Colab link, found {colab.count()}"
    repository = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    expected = f"https://colab.research.google.com/github/{repository}/blob/{branch}/{quote(name)}.ipynb"
    assert colab.get_attribute("href") == expected
    notebook = REPOSITORY / f"{name}.ipynb"
    assert notebook.is_file(), f"the Colab link of {name} points at {notebook.name}, which does not exist"
    assert _tracked(notebook), f"{notebook.relative_to(REPOSITORY)} exists but is not committed"


def _search_word(site: Path, name: str) -> str:
    """The longest word of the page's title (its first <h1> in the built HTML): a word a reader would search for."""
    html = (site / f"{name}.html").read_text(encoding="utf-8")
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, flags=re.DOTALL)
    assert heading, f"{name}: the built page has no <h1>"
    title = re.sub(r"<[^>]+>|&[#\w]+;", " ", heading.group(1))
    words = re.findall(r"[A-Za-z]{4,}", title)
    assert words, f"{name}: the title {title!r} has no word to search for"
    return max(words, key=len)


SEARCHED_PAGES = [name for name in PAGES if name != TOC["root"]]

SEARCH_IN_PAGE = """(word) => {
  const [query, terms, excluded, highlighted, objects] = Search._parseQuery(word);
  return Search._performSearch(query, terms, excluded, highlighted, objects).map((result) => result[0]);
}"""


def test_search_finds_every_page(page, site_url, built_site):
    words = {name: _search_word(built_site, name) for name in SEARCHED_PAGES}
    # as a reader searches: the first page's word in the search box's address, results listed
    first, word = next(iter(words.items()))
    page.goto(f"{site_url}search.html?q={quote(word)}", wait_until="load")
    summary = page.locator("#search-results p.search-summary")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results p.search-summary'); return s && s.innerText.trim().length > 0; }"
    )
    assert "found" in summary.inner_text(), f"searching {word!r}: {summary.inner_text()}"
    hrefs = page.locator("#search-results ul.search li a").evaluate_all("(links) => links.map((link) => link.href)")
    assert any(f"/{first}.html" in href for href in hrefs), f"searching {word!r} did not find {first}: {hrefs}"
    # every other page's word, searched by the same page's search code and index (one page load)
    page.wait_for_function("() => Search.hasIndex()")
    missed = {}
    for name, word in words.items():
        found = page.evaluate(SEARCH_IN_PAGE, word)
        if name not in found:
            missed[name] = (word, found[:5])
    assert missed == {}, f"pages the search does not find by their title's longest word: {missed}"


def test_the_spanish_edition_has_its_own_search(page, site_url, built_site):
    # the Spanish site is indexed in Spanish (Sphinx's Spanish stemmer): a word of a Spanish title finds its page
    name = SEARCHED_PAGES[0]
    word = _search_word(built_site / "es", name)
    page.goto(f"{site_url}{SPANISH}search.html?q={quote(word)}", wait_until="load")
    page.wait_for_function("() => Search.hasIndex()")
    found = page.evaluate(SEARCH_IN_PAGE, word)
    assert name in found, f"the Spanish search for {word!r} did not find {name}: {found[:5]}"
    assert page.locator("html").get_attribute("lang") == "es"


def test_dataset_pages_are_screenshotted(page, site_url):
    # the dataset part's pages (its intro, and each chapter once listed in the toc) become CI artifacts
    assert DATASET_PAGES, "the toc lists no page under book/datasets/"
    for name in DATASET_PAGES:
        _open(page, site_url, f"{name}.html")
        target = SCREENSHOTS / f"{name.removeprefix('book/').replace('/', '-')}.png"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000, f"{target} looks empty"


MATH_PAGES = [
    name for name in PAGES
    if (REPOSITORY / f"{name}.md").is_file()
    and re.search(r"\$\$|\{math\}", (REPOSITORY / f"{name}.md").read_text())
]


@pytest.mark.parametrize("name", MATH_PAGES[:3])
def test_equations_render_offline(page, site_url, name):
    # MathJax is served with the site (sphinx-mathjax-offline), so with every outside request
    # blocked the equations are still typeset: MathJax replaces each by an <mjx-container>.
    errors = _open(page, site_url, f"{name}.html")
    page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
    assert page.locator("mjx-container").count() >= 1, f"{name}: no equation was typeset"
    raw = page.locator("main").inner_text()
    assert "\\frac" not in raw and "\\sum" not in raw, f"{name}: raw LaTeX left on the page"
    assert errors == [], f"{name}: JavaScript errors: {errors}"




def _check_figures_are_images(page, name: str) -> None:
    """Every figure of a chapter whose code draws some reached the page as a loaded image."""
    text = page.locator("main").inner_text()
    assert "<Figure size" not in text, f"{name}: a figure reached the page as text (non-inline matplotlib backend)"
    images = page.locator("main img")
    assert images.count() >= 1, f"{name}: no figure on the page"
    loaded = page.evaluate("Array.from(document.querySelectorAll('main img')).every(img => img.naturalWidth > 0)")
    assert loaded, f"{name}: an image on the page did not load"
