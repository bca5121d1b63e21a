"""The Spanish edition (issue 27, book/start/translating.md): catalogues complete and in step with
the English sources, translations that keep the markup, and Spanish notebooks with the English code.

Cheap: the catalogues are read with babel and the sources parsed with MyST's Markdown parser;
nothing is built or executed (the built site is checked by tests/test_built_pages.py and the
browser test).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tokenize
from pathlib import Path

import nbformat
import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tools"))
sys.path.insert(0, str(REPOSITORY / "book" / "_ext"))

import editions  # noqa: E402
import i18n  # noqa: E402

TOC = yaml.safe_load((REPOSITORY / "_toc.yml").read_text(encoding="utf-8"))
CONFIG = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))


def _toc_pages() -> list[str]:
    from sphinx.util.matching import patfilter

    pages = [TOC["root"]]
    every = [path.relative_to(REPOSITORY).with_suffix("").as_posix()
             for path in (REPOSITORY / "book").rglob("*.md") if "_build" not in path.parts]

    def collect(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            if "glob" in entry:
                pages.extend(sorted(patfilter(every, entry["glob"])))
            collect(entry.get("sections"))

    for part in TOC["parts"]:
        collect(part["chapters"])
    return pages


PAGES = _toc_pages()


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, object]]:
    """Every catalogue's messages (obsolete ones left out), by domain."""
    found = {}
    for path in i18n.catalogue_paths(REPOSITORY):
        catalogue = i18n.read_catalogue(path)
        found[i18n.domain(path, REPOSITORY)] = {str(message.id): message for message in catalogue if message.id}
    return found


# ---- the catalogues are complete and in step with the sources ------------------------------------

def test_every_page_of_the_toc_has_its_catalogue(catalogues):
    assert [page for page in PAGES if page not in catalogues] == []


def test_every_message_of_every_page_is_in_its_catalogue(catalogues):
    stale = {}
    for page in PAGES:
        source = (REPOSITORY / f"{page}.md").read_text(encoding="utf-8")
        lacking = [message for message in i18n.messages(source) if message not in catalogues.get(page, {})]
        if lacking:
            stale[page] = lacking
    assert stale == {}, (
        "English text that no catalogue holds (run `make i18n-update`, then translate; "
        "book/start/translating.md):\n" + "\n".join(f"  {page}: {len(messages)}, first {messages[0][:90]!r}"
                                                   for page, messages in stale.items()))


def test_every_lab_comment_and_figure_is_in_a_catalogue(catalogues):
    lacking = []
    for notebook_path in i18n.lab_notebooks(REPOSITORY):
        domain = f"labs/{notebook_path.stem}"
        for cell in nbformat.read(notebook_path, as_version=4).cells:
            if cell.cell_type == "markdown":
                lacking += [(domain, message) for message in i18n.messages(cell.source)
                            if message not in catalogues.get(domain, {})]
    comments = catalogues.get(i18n.COMMENTS_DOMAIN, {})
    lacking += [(i18n.COMMENTS_DOMAIN, comment) for source in i18n._code_sources(REPOSITORY)
                for comment in i18n.comment_messages(source) if comment not in comments]
    figures = catalogues.get(i18n.FIGURES_DOMAIN, {})
    lacking += [(i18n.FIGURES_DOMAIN, alt) for page in PAGES
                for alt in i18n.alt_texts(REPOSITORY / f"{page}.md") if alt not in figures]
    assert lacking == [], f"{len(lacking)} messages without a catalogue entry (run `make i18n-update`): {lacking[:5]}"


def _is_release() -> bool:
    return bool((CONFIG.get("repository") or {}).get("colab_ref"))


def test_no_message_is_untranslated_or_fuzzy():
    rows = i18n.status(REPOSITORY)
    unfinished = {row["domain"]: (row["untranslated"], row["fuzzy"]) for row in rows if row["untranslated"] or row["fuzzy"]}
    if unfinished and os.environ.get("MEDCNN_ALLOW_UNTRANSLATED") == "1" and not _is_release():
        pytest.skip(f"MEDCNN_ALLOW_UNTRANSLATED=1 on a branch: {len(unfinished)} catalogues unfinished")
    assert unfinished == {}, (
        "catalogues with (untranslated, fuzzy) messages; translate them (book/start/translating.md):\n"
        + "\n".join(f"  {domain}: {counts}" for domain, counts in unfinished.items()))
    assert sum(row["messages"] for row in rows) > 1500


def test_translations_keep_the_markup_of_their_english(catalogues):
    problems = []
    for domain, entries in catalogues.items():
        for english, message in entries.items():
            if message.string:
                problems += [f"{domain}: {problem} in {english[:70]!r}"
                             for problem in i18n.markup_problems(english, str(message.string))]
    assert problems == [], "\n".join(problems[:20])


def test_display_maths_is_kept_as_it_is(catalogues):
    changed = [english[:60] for entries in catalogues.values() for english, message in entries.items()
               if english.startswith("\n") and message.string
               and i18n.normalised_maths(english) != i18n.normalised_maths(str(message.string))]
    assert changed == []


def test_a_page_catalogue_holds_only_the_text_of_its_source(catalogues):
    # what a code cell prints (a table, number by number) is not the source's: editions.py keeps
    # outputs out of the catalogues, so they hold the page's text, its display maths and, for the
    # root page, the parts' captions; nothing a build printed
    captions = {part["caption"] for part in TOC["parts"]}
    foreign = {}
    for page in PAGES:
        source = set(i18n.messages((REPOSITORY / f"{page}.md").read_text(encoding="utf-8")))
        extra = [english for english in catalogues.get(page, {})
                 if english not in source and not english.startswith("\n") and english not in captions]
        if extra:
            foreign[page] = extra[:5]
    assert foreign == {}


# ---- messages, as Sphinx extracts them ----------------------------------------------------------

def test_messages_split_a_page_as_sphinx_does():
    text = ("# Title\n\nA paragraph\non two lines.\n\n- an item\n  that wraps\n- `code` item\n\n"
            "| a | b |\n|---|---|\n| one | two |\n\n:::{admonition} Exercise 1: try\n:class: dropdown\n\n"
            "Inside.\n:::\n\n```{code-cell} ipython3\nx = 1  # one\n```\n\n$$\nx^2\n$$\n")
    assert i18n.messages(text) == ["Title", "A paragraph on two lines.", "an item that wraps", "`code` item",
                                   "a", "b", "one", "two", "Exercise 1: try", "Inside."]


def test_translate_markdown_replaces_each_message_and_keeps_the_rest():
    text = "# Title\n\nA paragraph\non two lines.\n\n:::{admonition} Solution\n:class: dropdown\n\nInside.\n:::\n\nLast.\n"
    spanish = {"Title": "Título", "A paragraph on two lines.": "Un párrafo.", "Solution": "Solución",
               "Inside.": "Dentro.", "Last.": "Último."}
    translated, missing = i18n.translate_markdown(text, spanish.get)
    assert missing == []
    assert translated == "# Título\n\nUn párrafo.\n\n:::{admonition} Solución\n:class: dropdown\n\nDentro.\n:::\n\nÚltimo.\n"
    _, missing = i18n.translate_markdown(text, {"Title": "Título"}.get)
    assert "A paragraph on two lines." in missing and "Solution" in missing


def test_comments_are_translated_and_code_is_not():
    code = 'x = "# not a comment"  # a comment\n# SOLUTION\nprint(x)\n'
    translated, missing = i18n.translate_code(code, {"a comment": "un comentario"}.get)
    assert translated == 'x = "# not a comment"  # un comentario\n# SOLUTION\nprint(x)\n'
    assert missing == []


def test_markup_problems_name_what_a_translation_lost():
    english = "Run {doc}`the chapter <../datasets/retina>` with `fit`, $x^2$ and [Keras](https://keras.io)."
    assert i18n.markup_problems(english, "Ejecuta {doc}`el capítulo <../datasets/retina>` con `fit`, $x^2$ y [Keras](https://keras.io).") == []
    problems = i18n.markup_problems(english, "Ejecuta {doc}`el capítulo <retina>` con fit, $x^2$ y [Keras](https://keras.io/es).")
    assert [problem.split(":")[0] for problem in problems] == ["roles", "code", "links"]


# ---- the extension --------------------------------------------------------------------------------

def test_the_language_switch_links_each_page_to_itself_in_the_other_edition():
    assert editions.other_edition_url("book/datasets/retina", "en") == "../../es/book/datasets/retina.html"
    assert editions.other_edition_url("book/datasets/retina", "es") == "../../../book/datasets/retina.html"
    assert 'lang="es"' in editions.switch_html("book/index", "en")
    assert 'lang="en"' in editions.switch_html("book/index", "es")


def test_spanish_pages_open_the_spanish_notebook_in_colab():
    buttons = [{"type": "group", "buttons": [
        {"url": "https://colab.research.google.com/github/o/r/blob/main/book/datasets/retina.ipynb"},
        {"url": "../_sources/book/datasets/retina.ipynb"}]}]
    spanish = editions.spanish_colab(buttons, "es")
    assert spanish[0]["buttons"][0]["url"].endswith("/book/datasets/retina.es.ipynb")
    assert spanish[0]["buttons"][1]["url"] == "../_sources/book/datasets/retina.ipynb"
    assert editions.spanish_colab(buttons, "en") == buttons


# ---- the Spanish notebooks ------------------------------------------------------------------------

def _without_comments(code: str) -> str:
    try:
        tokens = [token for token in tokenize.generate_tokens(io.StringIO(code).readline) if token.type != tokenize.COMMENT]
        return tokenize.untokenize((token.type, token.string) for token in tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code


@pytest.fixture(scope="module")
def spanish_notebooks():
    return i18n.spanish_notebooks(REPOSITORY)


def test_the_committed_spanish_notebooks_are_what_the_catalogues_give(spanish_notebooks):
    stale = [str(path.relative_to(REPOSITORY)) for path, (text, _) in spanish_notebooks.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    assert stale == [], f"run `python tools/i18n.py notebooks` and commit: {stale}"
    lacking = {str(path.relative_to(REPOSITORY)): missing[:3] for path, (_, missing) in spanish_notebooks.items() if missing}
    if lacking and os.environ.get("MEDCNN_ALLOW_UNTRANSLATED") == "1" and not _is_release():
        pytest.skip("MEDCNN_ALLOW_UNTRANSLATED=1 on a branch")
    assert lacking == {}


def test_every_chapter_and_lab_has_a_spanish_notebook(spanish_notebooks):
    english = i18n.chapter_sources(REPOSITORY)
    assert {path.with_suffix(".es.ipynb") for path in english} <= set(spanish_notebooks)
    assert {path.with_suffix(".es.ipynb") for path in i18n.lab_notebooks(REPOSITORY)} <= set(spanish_notebooks)
    assert len(spanish_notebooks) == len(english) + len(i18n.lab_notebooks(REPOSITORY))


def test_spanish_notebooks_run_the_english_code(spanish_notebooks):
    for path, (text, _) in spanish_notebooks.items():
        english_path = path.with_name(path.name.replace(".es.ipynb", ".ipynb"))
        english = [cell for cell in nbformat.read(english_path, as_version=4).cells if cell.cell_type == "code"]
        spanish = [cell for cell in nbformat.reads(text, as_version=4).cells if cell.cell_type == "code"]
        assert len(spanish) == len(english), path.name
        for number, (ours, theirs) in enumerate(zip(spanish, english)):
            if ours.source.startswith("# @title"):   # a solution's form title is a heading, translated
                ours_code, theirs_code = ours.source.split("\n", 1)[-1], theirs.source.split("\n", 1)[-1]
            else:
                ours_code, theirs_code = ours.source, theirs.source
            assert _without_comments(ours_code) == _without_comments(theirs_code), f"{path.name}, code cell {number}"


def test_spanish_notebooks_say_they_are_spanish(spanish_notebooks):
    for path, (text, _) in spanish_notebooks.items():
        notebook = nbformat.reads(text, as_version=4)
        assert notebook.metadata.get("medcnn_edition") == "es", path.name
        prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        assert re.search(r"\b(?:el|la|los|las|de|que)\b", prose), path.name
        if path.parent.name != "student":
            assert "/es/book/" in prose or "course's site" not in prose, f"{path.name}: links go to the English site"
