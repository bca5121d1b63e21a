"""Sphinx extension: the course's two editions, English and Spanish, built from the same sources.

The Spanish edition is the English sources translated through gettext catalogues
(``locales/es/LC_MESSAGES``, Sphinx's own internationalisation; ``tools/i18n.py`` builds it
into ``_build/html/es``). This extension does what Sphinx does not:

- **outputs are not translated**: the text a code cell printed (tables, numbers) changes
  from build to build; translating it would put every measured number into the
  catalogues. Text inside a cell's output is marked untranslatable before Sphinx's
  ``Locale`` transform runs, so both editions show the same outputs, in English, from
  one execution;
- **the figures' alt text** in Spanish (from ``figures.po``: myst-nb makes a cell's image,
  with the alt text of its metadata, only when it writes the page);
- **a language switch on every page**: a link at the top of the page to the same page in
  the other edition (``es/<page>.html`` from English, ``../<page>.html`` from Spanish), and
  ``<link rel="alternate" hreflang>`` for both;
- **the parts' captions** in the Spanish sidebar (``_toc.yml``'s toctrees are inserted after
  Sphinx translates a page);
- **the comments of the code cells** on the Spanish pages (``code-comments.po``; the cell
  that executes is the English one);
- **Colab in Spanish**: on the Spanish pages the Colab button opens the Spanish notebook
  committed beside the chapter (``<page>.es.ipynb``, made by ``tools/i18n.py notebooks``), and
  links in the text to a notebook (a lab's download or Colab link) open its Spanish copy.

Enabled in ``_config.yml`` under ``sphinx.local_extensions``; checked by
``tests/test_i18n.py`` and, on the built site, by ``tests/test_built_pages.py``.

Example:
    >>> switch_html("book/datasets/retina", "en")   # doctest: +NORMALIZE_WHITESPACE
    '<nav class="language-switch" aria-label="Language"><a href="../../es/book/datasets/retina.html"
     hreflang="es" lang="es">Leer en español</a></nav>'
"""

from __future__ import annotations

import gettext
import io
import re
import tokenize
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

EDITIONS = ("en", "es")
"""The editions, English first; the Spanish one is built into the ``es/`` folder of the site."""
SPANISH_FOLDER = "es"
STATIC_FOLDER = Path(__file__).resolve().parent.parent / "_static"
FIGURES_DOMAIN = "figures"
"""The catalogue of the figures' alt text (``locales/es/LC_MESSAGES/figures.po``, ``tools/i18n.py``)."""
COMMENTS_DOMAIN = "code-comments"
"""The catalogue of the code cells' comments (``locales/es/LC_MESSAGES/code-comments.po``)."""
SWITCH_TEXT = {"en": ("es", "Leer en español"), "es": ("en", "Read in English")}
"""For a page in each edition: the other edition and the words of the link to it, in its language."""


def spanish_catalogue(app, domain: str) -> gettext.NullTranslations:
    """The Spanish catalogue ``domain`` the build compiled (``locales/es/LC_MESSAGES/<domain>.mo``).

    A missing catalogue gives the English back, as Sphinx does for a page without one.
    """
    return gettext.translation(domain, localedir=str(Path(app.srcdir) / "locales"), languages=["es"], fallback=True)


def edition(language: str | None) -> str:
    """The edition of a build whose ``language`` setting is ``language`` (``en`` when unset).

    Example:
        >>> edition("es"), edition(None), edition("en")
        ('es', 'en', 'en')
    """
    return "es" if (language or "en").lower().startswith("es") else "en"


def other_edition_url(pagename: str, language: str) -> str:
    """The relative URL of ``pagename`` in the other edition, from that page in ``language``'s.

    Example:
        >>> other_edition_url("book/index", "en")
        '../es/book/index.html'
        >>> other_edition_url("book/index", "es")
        '../../book/index.html'
    """
    depth = pagename.count("/")
    if edition(language) == "en":
        return "../" * depth + f"{SPANISH_FOLDER}/{pagename}.html"
    return "../" * (depth + 1) + f"{pagename}.html"


def switch_html(pagename: str, language: str) -> str:
    """The language switch put at the top of ``pagename``: a link to it in the other edition."""
    other, words = SWITCH_TEXT[edition(language)]
    url = other_edition_url(pagename, language)
    label = "Idioma" if edition(language) == "es" else "Language"
    return (f'<nav class="language-switch" aria-label="{label}"><a href="{url}" '
            f'hreflang="{other}" lang="{other}">{words}</a></nav>')


# Comments that are instructions to a tool, not to the reader: never translated.
TOOL_COMMENT = re.compile(r"#\s*(?:@title|noqa|type:|fmt:|pragma|doctest|SOLUTION|BEGIN|END|IGNORE|HIDDEN|"
                          r"TEST|OTTER|otter|pylint|isort|mypy|-\*-)")


def _comments(code: str) -> list[tokenize.TokenInfo]:
    try:
        return [token for token in tokenize.generate_tokens(io.StringIO(code).readline)
                if token.type == tokenize.COMMENT and not TOOL_COMMENT.match(token.string)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []   # IPython syntax (magics): its comments stay English


FORM_TITLE = re.compile(r"^(?P<start>#\s*@title\s+)(?P<title>.+?)(?P<end>\s*\{\s*display-mode:.*\})?\s*$")


def _form_titles(code: str) -> list[tuple[int, re.Match]]:
    """Colab's form titles (``# @title <words> { display-mode: ... }``) in ``code``: line and match."""
    return [(number, match) for number, line in enumerate(code.split("\n"))
            if (match := FORM_TITLE.match(line))]


def comment_messages(code: str) -> list[str]:
    """The comments a reader reads in ``code``, without their ``#``.

    Example:
        >>> comment_messages('x = 1  # one\\n# two\\nprint("# not a comment")')
        ['one', 'two']
    """
    found = [match["title"].strip() for _, match in _form_titles(code)]
    return found + [token.string.lstrip("#").strip() for token in _comments(code) if token.string.lstrip("#").strip()]


def translate_code(code: str, lookup) -> tuple[str, list[str]]:
    """``code`` with its comments translated (the code itself unchanged); also the comments lacked.

    Example:
        >>> translate_code("x = 1  # one", {"one": "uno"}.get)
        ('x = 1  # uno', [])
    """
    lines = code.split("\n")
    missing = []
    for token in reversed(_comments(code)):
        english = token.string.lstrip("#").strip()
        if not english:
            continue
        spanish = lookup(english)
        if spanish is None:
            missing.append(english)
            continue
        row, column = token.start[0] - 1, token.start[1]
        hashes = token.string[: len(token.string) - len(token.string.lstrip("#"))]
        lines[row] = lines[row][:column] + f"{hashes} {spanish.strip()}" + lines[row][column + len(token.string):]
    # Colab's form titles: the labs' set-up cells have English ones; a chapter's solution cells
    # get theirs from the translated page already, so a title not found is left as it is
    for number, match in _form_titles("\n".join(lines)):
        spanish = lookup(match["title"].strip())
        if spanish:
            lines[number] = match["start"] + spanish.strip() + (match["end"] or "")
    return "\n".join(lines), missing[::-1]


class TranslateCodeComments(SphinxTransform):
    """In the Spanish edition, the comments of the code cells shown on the page, from ``code-comments.po``.

    The cell executed (and cached) is the English one: this changes only what the page shows,
    after myst-nb has executed or fetched the cell's outputs, so nothing runs twice. The
    Spanish notebooks' cells get the same translation (``tools/i18n.py``).
    """

    default_priority = 120

    def apply(self, **kwargs) -> None:
        if edition(self.config.language) != "es":
            return
        translator = spanish_catalogue(self.app, COMMENTS_DOMAIN)

        def lookup(comment: str) -> str | None:
            spanish = translator.gettext(comment)
            return spanish if spanish != comment else None

        for container in self.document.findall(nodes.container):
            if "cell_input" not in container.get("classes", []):
                continue
            for block in container.findall(nodes.literal_block):
                code = block.astext()
                translated, _ = translate_code(code, lookup)
                if translated != code:
                    block.children = [nodes.Text(translated)]
                    block.rawsource = translated


class KeepOutputsUntranslated(SphinxTransform):
    """Mark the text of cell outputs untranslatable (before ``sphinx.transforms.i18n.Locale``, 20)."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for container in self.document.findall(nodes.container):
            if "cell_output" not in container.get("classes", []):
                continue
            for element in container.findall(nodes.TextElement):
                element["translatable"] = False


class TranslateAltText(SphinxPostTransform):
    """In the Spanish edition, the alt text of each figure from the page's catalogue.

    myst-nb makes a cell's image (with the alt text of its ``mystnb: image: alt:`` metadata)
    when it writes the page (its ``SelectMimeType``, priority 4), after Sphinx's ``Locale``
    transform has translated the rest; ``tools/i18n.py update`` puts those alt texts into one
    catalogue, ``figures.po``, and this transform looks them up there.
    """

    default_priority = 50

    def run(self, **kwargs) -> None:
        if edition(self.config.language) != "es":
            return
        translator = spanish_catalogue(self.app, FIGURES_DOMAIN)
        for image in self.document.findall(nodes.image):
            if image.get("alt"):
                image["alt"] = translator.gettext(image["alt"])


class TranslateTocCaptions(SphinxTransform):
    """In the Spanish edition, the captions of the parts ("Foundations") from the root page's catalogue.

    sphinx-external-toc inserts the toctrees of ``_toc.yml`` (its ``InsertToctrees``, priority
    100) after Sphinx's ``Locale`` transform (20) has run: their captions, which the ``gettext``
    builder does extract into the root page's catalogue, would stay English in the sidebar.
    """

    default_priority = 110

    def apply(self, **kwargs) -> None:
        if edition(self.config.language) != "es":
            return
        from sphinx import addnodes

        toctrees = [node for node in self.document.findall(addnodes.toctree) if node.get("caption")]
        if not toctrees:
            return
        translator = spanish_catalogue(self.app, self.env.docname)
        for toctree in toctrees:
            toctree["caption"] = translator.gettext(toctree["caption"])
            if toctree.get("rawcaption"):
                toctree["rawcaption"] = translator.gettext(toctree["rawcaption"])


class SpanishNotebookLinks(SphinxTransform):
    """In the Spanish edition, links to a notebook (Colab, or a download) lead to its Spanish copy.

    A page's text may link to a chapter's or a lab's notebook (the Labs page: each lab's
    download and Open-in-Colab). Where ``<name>.es.ipynb`` is committed beside ``<name>.ipynb``,
    the Spanish page's link opens it instead; translators keep the English link, so the
    catalogues need no change when a notebook moves. Runs before the downloads are collected.
    """

    default_priority = 120

    def apply(self, **kwargs) -> None:
        if edition(self.config.language) != "es":
            return
        from sphinx import addnodes

        root = Path(self.app.srcdir)
        for reference in self.document.findall(nodes.reference):
            target = spanish_notebook_url(reference.get("refuri", ""), root)
            if target:
                reference["refuri"] = target
        page_folder = (root / self.env.docname).parent
        for download in self.document.findall(addnodes.download_reference):
            target = download.get("reftarget", "")
            if target.endswith(".ipynb") and not target.endswith(".es.ipynb") \
                    and (page_folder / target).with_suffix(".es.ipynb").is_file():
                download["reftarget"] = target[: -len(".ipynb")] + ".es.ipynb"


def spanish_notebook_url(url: str, root: Path) -> str | None:
    """The Colab URL of the Spanish copy of the notebook ``url`` opens, if it is committed under ``root``.

    Example:
        >>> spanish_notebook_url("https://colab.research.google.com/github/o/r/blob/main/labs/adam/student/adam.ipynb",
        ...                      Path("."))   # doctest: +SKIP
        'https://colab.research.google.com/github/o/r/blob/main/labs/adam/student/adam.es.ipynb'
    """
    match = re.fullmatch(r"https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/(?P<path>.+)\.ipynb", url)
    if not match or match["path"].endswith(".es"):
        return None
    if not (root / f"{match['path']}.es.ipynb").is_file():
        return None
    return url[: -len(".ipynb")] + ".es.ipynb"


def spanish_colab(buttons, language: str):
    """The header buttons with each Colab link opening ``<page>.es.ipynb`` in the Spanish edition.

    Example:
        >>> spanish_colab([{"url": "https://colab.research.google.com/github/o/r/blob/main/book/x.ipynb"}], "es")
        [{'url': 'https://colab.research.google.com/github/o/r/blob/main/book/x.es.ipynb'}]
    """
    if edition(language) != "es":
        return buttons
    if isinstance(buttons, list):
        return [spanish_colab(button, language) for button in buttons]
    if isinstance(buttons, dict):
        changed = {key: spanish_colab(value, language) for key, value in buttons.items()}
        url = changed.get("url")
        if isinstance(url, str) and url.startswith("https://colab.research.google.com/") and url.endswith(".ipynb") \
                and not url.endswith(".es.ipynb"):
            changed["url"] = url[: -len(".ipynb")] + ".es.ipynb"
        return changed
    return buttons


def add_switch(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: the switch, the alternate links and the Spanish Colab button."""
    language = app.config.language
    if isinstance(context.get("body"), str) and doctree is not None:
        context["body"] = switch_html(pagename, language) + context["body"]
        other, _ = SWITCH_TEXT[edition(language)]
        own = edition(language)
        context["metatags"] = context.get("metatags", "") + (
            f'\n<link rel="alternate" hreflang="{other}" href="{other_edition_url(pagename, language)}" />'
            f'\n<link rel="alternate" hreflang="{own}" href="{pagename.rsplit("/", 1)[-1]}.html" />')
    if "header_buttons" in context:
        context["header_buttons"] = spanish_colab(context["header_buttons"], language)


def add_stylesheet(app):
    """``builder-inited`` handler: serve ``book/_static`` and link ``editions.css`` from every page."""
    if str(STATIC_FOLDER) not in map(str, app.config.html_static_path):
        app.config.html_static_path.append(str(STATIC_FOLDER))
    app.add_css_file("editions.css")


def setup(app):
    app.connect("builder-inited", add_stylesheet)
    app.add_transform(KeepOutputsUntranslated)
    app.add_transform(TranslateTocCaptions)
    app.add_transform(SpanishNotebookLinks)
    app.add_transform(TranslateCodeComments)
    app.add_post_transform(TranslateAltText)
    # after sphinx-book-theme has made its header buttons (default priority 500)
    app.connect("html-page-context", add_switch, priority=950)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
