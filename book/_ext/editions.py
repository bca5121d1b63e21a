"""Sphinx extension: the course's two editions, English and Spanish, built from the same sources.

The Spanish edition is the English sources translated through gettext catalogues
(``locales/es/LC_MESSAGES``, Sphinx's own internationalisation; ``tools/i18n.py`` builds it
into ``_build/html/es``). This extension does what Sphinx does not:

- **outputs are not translated**: the text a code cell printed (tables, numbers) changes
  from build to build; translating it would put every measured number into the
  catalogues. Text inside a cell's output is marked untranslatable before Sphinx's
  ``Locale`` transform runs, so both editions show the same outputs, in English, from
  one execution. The alt text of figures (cell metadata, not output) stays translatable;
- **a language switch on every page**: a link at the top of the page to the same page in
  the other edition (``es/<page>.html`` from English, ``../<page>.html`` from Spanish), and
  ``<link rel="alternate" hreflang>`` for both;
- **Colab in Spanish**: on the Spanish pages the Colab button opens the Spanish notebook
  committed beside the chapter (``<page>.es.ipynb``, made by ``tools/i18n.py notebooks``).

Enabled in ``_config.yml`` under ``sphinx.local_extensions``; checked by
``tests/test_i18n.py`` and, on the built site, by ``tests/test_built_pages.py``.

Example:
    >>> switch_html("book/datasets/retina", "en")   # doctest: +NORMALIZE_WHITESPACE
    '<nav class="language-switch" aria-label="Language / Idioma"><a href="../../es/book/datasets/retina.html"
     hreflang="es" lang="es">Leer en español</a></nav>'
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform

EDITIONS = ("en", "es")
"""The editions, English first; the Spanish one is built into the ``es/`` folder of the site."""
SPANISH_FOLDER = "es"
SWITCH_TEXT = {"en": ("es", "Leer en español"), "es": ("en", "Read in English")}
"""For a page in each edition: the other edition and the words of the link to it, in its language."""


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
    return (f'<nav class="language-switch" aria-label="Language / Idioma"><a href="{url}" '
            f'hreflang="{other}" lang="{other}">{words}</a></nav>')


class KeepOutputsUntranslated(SphinxTransform):
    """Mark the text of cell outputs untranslatable (before ``sphinx.transforms.i18n.Locale``, 20)."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for container in self.document.findall(nodes.container):
            if "cell_output" not in container.get("classes", []):
                continue
            for element in container.findall(nodes.TextElement):
                element["translatable"] = False


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


def setup(app):
    app.add_transform(KeepOutputsUntranslated)
    # after sphinx-book-theme has made its header buttons (default priority 500)
    app.connect("html-page-context", add_switch, priority=950)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
