"""The built site shows no build noise: no progress bars, no warnings, no local paths; the home page lists every part.

The built-page check reads every HTML page of ``_build/html`` (about 40 files, well under a
second). It runs with the browser test, after the book is built (``make browser-tests``
sets ``MEDCNN_BOOK_BUILT=1``), and skips where the site is not built. The outline check
reads only sources and runs with the unit tests.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
SITE = REPOSITORY / "_build" / "html"

# What a reader must never see on a page, with what it is.
FORBIDDEN = {
    "Tqdm": "a tqdm warning (TqdmWarning, TqdmExperimentalWarning)",
    "WARNING:tensorflow": "a TensorFlow log line (e.g. the retracing warning)",
    "absl::InitializeLog": "TensorFlow's C++ start-up log (import Keras in a cell tagged remove-stderr)",
    "oneDNN custom operations": "TensorFlow's C++ start-up log (import Keras in a cell tagged remove-stderr)",
    "/tmp/": "a temporary path of the machine that built the page",
    "site-packages": "a path inside an installed Python environment",
    "/.venv/": "a path inside the repository's virtualenv",
}
# A tqdm progress bar as text ("100%|██████████| 16/16 [00:01<00:00, 9.8it/s]"), its time
# stamps ("[00:01<00:00, ...]", also inside a notebook widget's saved state), or a progress
# widget saved with the page (tqdm.auto in a notebook).
PROGRESS_BAR = re.compile(r"\d{1,3}%\|[^|\n]{0,80}\|\s*\d+/\d+|\d\d:\d\d<\d\d:\d\d|FloatProgressModel")


def _problems(text: str) -> list[str]:
    """Each forbidden string or progress bar in ``text``, with a little of what surrounds it."""
    text = html.unescape(text)
    problems = []
    local_environment = sys.prefix.rstrip("/") + "/"
    markers = {**FORBIDDEN, local_environment: "the path of the Python environment that built the page",
               str(REPOSITORY) + "/": "a path inside the checkout that built the page"}
    for marker, what in markers.items():
        where = text.find(marker)
        if where >= 0:
            problems.append(f"{what}: ...{text[max(0, where - 60):where + 80]!r}...")
    match = PROGRESS_BAR.search(text)
    if match:
        problems.append(f"a progress bar: {match.group(0)!r}")
    return problems


def test_the_check_finds_each_kind_of_noise():
    assert _problems("<p>accuracy 0.93</p>") == []
    for noisy in ("TqdmWarning: IProgress not found", "WARNING:tensorflow:5 out of the last 7 calls",
                  "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                  "results in /tmp/medcnn-study-x/study", "/home/me/.venv/lib/python3.11/site-packages/tqdm/auto.py",
                  "decoding: 100%|██████████| 16/16 [00:01&lt;00:00, 9.8it/s]", f"run folder {REPOSITORY}/_build/x/run",
                  '"value": "\\u20072/2\\u2007[00:01&lt;00:00,\\u2007\\u20071.47it/s]"',
                  '{"model_name": "FloatProgressModel"}'):
        assert _problems(f"<pre>{noisy}</pre>"), noisy


@pytest.mark.browser
def test_no_built_page_shows_progress_bars_warnings_or_local_paths():
    # run after the book build, beside the browser test (make browser-tests sets MEDCNN_BOOK_BUILT=1)
    if os.environ.get("MEDCNN_BOOK_BUILT") != "1" or not (SITE / "index.html").is_file():
        pytest.skip("the site is not built here (make book, then MEDCNN_BOOK_BUILT=1)")
    pages = sorted(SITE.rglob("*.html"))
    assert len(pages) >= 20, f"only {len(pages)} pages in {SITE}"
    found = {}
    for page in pages:
        problems = _problems(page.read_text(encoding="utf-8", errors="replace"))
        if problems:
            found[str(page.relative_to(SITE))] = problems
    assert not found, "built pages show build noise (silence it in the chapter's cells or the package):\n" + "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in found.items())


def test_the_home_page_outlines_every_part():
    import yaml

    toc = yaml.safe_load((REPOSITORY / "_toc.yml").read_text(encoding="utf-8"))
    home = (REPOSITORY / "book" / "index.md").read_text(encoding="utf-8")
    captions = [part["caption"] for part in toc["parts"]]
    missing = [caption for caption in captions if f"**{caption}**" not in home]
    assert not missing, f"book/index.md's outline lacks the part(s) {missing} of _toc.yml"
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            page = Path(chapter["file"]).relative_to("book").as_posix()
            assert f"{{doc}}`{page}`" in home or f"<{page}>`" in home, f"book/index.md does not link {page}"


@pytest.mark.browser
def test_both_editions_are_built_and_each_page_links_to_itself_in_the_other():
    # the Spanish edition (issue 27): _build/html/es holds every page of _build/html, in Spanish,
    # and each page's switch points at the same page of the other edition (the browser test clicks them)
    if os.environ.get("MEDCNN_BOOK_BUILT") != "1" or not (SITE / "index.html").is_file():
        pytest.skip("the site is not built here (make book, then MEDCNN_BOOK_BUILT=1)")
    spanish_site = SITE / "es"
    english = sorted(path.relative_to(SITE) for path in (SITE / "book").rglob("*.html"))
    assert len(english) >= 20
    same_title, translated_comments = [], 0
    for page in english:
        english_html = (SITE / page).read_text(encoding="utf-8")
        spanish_path = spanish_site / page
        assert spanish_path.is_file(), f"{page} has no Spanish page"
        spanish_html = spanish_path.read_text(encoding="utf-8")
        assert '<html lang="en"' in english_html and '<html lang="es"' in spanish_html, page
        for html_text, here, other in ((english_html, SITE / page, spanish_path), (spanish_html, spanish_path, SITE / page)):
            links = re.findall(r'<nav class="language-switch"[^>]*><a href="([^"]+)"', html_text)
            assert len(links) == 1, f"{here.relative_to(SITE)}: {len(links)} language switches"
            assert (here.parent / links[0]).resolve() == other.resolve(), f"{here.relative_to(SITE)}: the switch points at {links[0]}"
        titles = [re.sub(r"<[^>]+>", "", match).strip()
                  for match in (re.search(r"<h1[^>]*>(.*?)</h1>", text, re.DOTALL).group(1) for text in (english_html, spanish_html))]
        if titles[0] == titles[1]:
            same_title.append(str(page))
        # the code cells' comments (Pygments' "c1" spans): Spanish on the Spanish page, the code the same
        comments = [re.findall(r'<span class="c1">([^<]*)</span>', text) for text in (english_html, spanish_html)]
        assert len(comments[0]) == len(comments[1]), f"{page}: the code cells differ between the editions"
        translated_comments += sum(ours != theirs for ours, theirs in zip(*comments))
    # a title may stay as it is ("Grad-CAM"), not most of them: that would be an edition built without its catalogues
    assert len(same_title) <= 2, f"pages whose Spanish title is the English one: {same_title}"
    assert translated_comments >= 50, f"only {translated_comments} code comments are Spanish on the Spanish pages"
