"""The Spanish edition: catalogues, their state, the Spanish site and the Spanish notebooks.

The course is written in English; its Spanish edition is made from the same sources with
Sphinx's internationalisation. Every paragraph, heading, list item, table cell and alt text of
a page is a *message*; its Spanish is kept in a gettext catalogue, one per page, under
``locales/es/LC_MESSAGES/`` (``book/datasets/retina.po`` for ``book/datasets/retina.md``). Two
kinds of text Sphinx does not see have catalogues of their own, made by this tool with the same
rules: the labs' student notebooks (``labs/<lab>.po``), the comments in the code cells
(``code-comments.po``) and the alt text of the figures the code cells draw (``figures.po``). Sub-commands::

    python tools/i18n.py update      # English changed: new templates, catalogues updated (sphinx-intl)
    python tools/i18n.py status      # per catalogue: translated, untranslated, fuzzy (exit 1 if any is not done)
    python tools/i18n.py notebooks   # the Spanish notebooks: chapters (<page>.es.ipynb), labs (student/<lab>.es.ipynb)
    python tools/i18n.py notebooks --check   # fail if a committed Spanish notebook differs from what they give now
    python tools/i18n.py build       # the Spanish site into _build/html/es (after the English one: `make book`)

Outputs of code cells are not translated (``book/_ext/editions.py``): the Spanish build takes
them from the English build's execution cache, so no chapter executes twice. What a chapter
prints and the titles and labels of its figures therefore stay English in both editions.

Example:
    >>> messages("# Title\\n\\nA paragraph\\non two lines.\\n")
    ['Title', 'A paragraph on two lines.']
    >>> translate_markdown("# Title\\n\\nA paragraph\\non two lines.\\n",
    ...                    {"Title": "Título", "A paragraph on two lines.": "Un párrafo."}.get)
    ('# Título\\n\\nUn párrafo.\\n', [])
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from editions import comment_messages, translate_code  # noqa: E402  (one implementation, both editions' code)
LANGUAGE = "es"
CATALOGUES = Path("locales") / LANGUAGE / "LC_MESSAGES"
TEMPLATES = Path("_build") / "gettext"
SPANISH_SITE = Path("_build") / "html" / LANGUAGE
SPANISH_TITLE = "Imágenes médicas con CNN"
COMMENTS_DOMAIN = "code-comments"
FIGURES_DOMAIN = "figures"
# Directives whose argument is a title the reader reads (the others' arguments are paths or code).
TITLED_DIRECTIVES = {"admonition", "dropdown", "exercise", "solution", "card", "topic", "sidebar"}
SKIPPED_DIRECTIVES = {"code-cell", "code-block", "code", "literalinclude", "math", "glue:figure", "glue",
                      "bibliography", "raw", "eval-rst", "include", "tableofcontents", "toctree", "image"}
Lookup = Callable[[str], "str | None"]


# ---- messages of Markdown, as Sphinx extracts them ------------------------------------------------

@functools.lru_cache(maxsize=1)
def _parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    extensions = {"colon_fence", "dollarmath", "amsmath", "deflist", "linkify", "substitution"}
    return create_md_parser(MdParserConfig(enable_extensions=extensions), RendererHTML)


def message_id(text: str) -> str:
    """A block's text as Sphinx writes its message: lines joined by spaces, ends stripped."""
    return text.replace("\n", " ").strip()


def _directive(info: str) -> tuple[str, str] | None:
    match = re.fullmatch(r"\s*\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)", info or "")
    return (match["name"], match["argument"].strip()) if match else None


def _split_options(lines: list[str]) -> tuple[list[str], list[str]]:
    """A directive's option lines (``:name: value`` or a ``---`` YAML block) and the lines after."""
    if lines and lines[0].strip() == "---":
        end = next((index for index in range(1, len(lines)) if lines[index].strip() == "---"), None)
        if end is not None:
            return lines[: end + 1], lines[end + 1 :]
    count = 0
    while count < len(lines) and re.match(r"^\s*:[\w-]+:", lines[count]):
        count += 1
    return lines[:count], lines[count:]


def translate_markdown(markdown: str, lookup: Lookup) -> tuple[str, list[str]]:
    """``markdown`` with each message replaced by ``lookup(message)``; also the messages it lacked.

    A message is what Sphinx extracts from MyST: a heading, a paragraph (a list item's, a block
    quote's, a table cell's), a titled directive's title; the content of directives (admonitions,
    figures' captions, exercises) is translated the same way, recursively. Code, math, labels
    and comments are left alone. A message ``lookup`` returns None for stays English and is listed.
    """
    lines = markdown.split("\n")
    missing: list[str] = []
    inlines: dict[int, list[tuple[list[str], str | None]]] = {}   # first line -> [(lines of English, Spanish)]
    fences: list[tuple[int, int, str]] = []
    for token in _parser().parse(markdown):
        if token.type in {"fence", "colon_fence"} and token.map:
            fences.append((token.map[0], token.map[1], token.info))
        elif token.type == "inline" and token.map and token.content.strip():
            english = message_id(token.content)
            spanish = lookup(english)
            if spanish is None:
                missing.append(english)
            inlines.setdefault(token.map[0], []).append((token.content.split("\n"), spanish))
    # bottom up, so that a change never moves the lines of a change still to make
    changes = sorted([(line, "inline", pairs) for line, pairs in inlines.items()]
                     + [(start, "fence", (end, info)) for start, end, info in fences],
                     key=lambda change: change[0], reverse=True)
    for start, kind, detail in changes:
        if kind == "inline":
            text, position, span = lines[start], 0, 1
            for pieces, spanish in detail:
                span = max(span, len(pieces))
                if spanish is None:
                    continue
                found = text.find(pieces[0], position)
                if found < 0:
                    missing.append(message_id("\n".join(pieces)))
                    continue
                text = text[:found] + message_id(spanish) + text[found + len(pieces[0]):]
                position = found + len(message_id(spanish))
            translated_all = all(spanish is not None for _, spanish in detail)
            lines[start : start + span] = [text] if translated_all else [text] + lines[start + 1 : start + span]
            continue
        end, info = detail
        directive = _directive(info)
        if directive is None or directive[0] in SKIPPED_DIRECTIVES or end - start < 2:
            continue
        name, argument = directive
        if argument and name in TITLED_DIRECTIVES:
            spanish = lookup(message_id(argument))
            if spanish is None:
                missing.append(message_id(argument))
            else:
                lines[start] = lines[start].replace(argument, message_id(spanish), 1)
        closed = end - 1 if end <= len(lines) and re.match(r"^\s*(`{3,}|:{3,})\s*$", lines[end - 1]) else end
        options, body = _split_options(lines[start + 1 : closed])
        body_text, body_missing = translate_markdown("\n".join(body), lookup)
        missing += body_missing
        lines[start + 1 : closed] = options + body_text.split("\n")
    return "\n".join(lines), missing


def messages(markdown: str) -> list[str]:
    """The messages of ``markdown``, in order, each once (what a catalogue of it holds)."""
    found: list[str] = []
    translate_markdown(markdown, lambda message: found.append(message) or message)
    return list(dict.fromkeys(found))


ROLE = re.compile(r"\{(?P<name>[\w:+-]+)\}`(?P<content>[^`]*)`")
CODE_SPAN = re.compile(r"(?<![}`])(?P<ticks>`+)(?P<content>.+?)(?P=ticks)(?!`)")
MATH = re.compile(r"(?<![\\$])\$(?!\s)(?P<content>[^$]+?)(?<!\s)\$(?!\d)")
LINK_TARGET = re.compile(r"\]\((?P<target>[^)\s]+)")
CROSS_REFERENCES = {"doc", "ref", "numref", "term", "download", "eq"}


def normalised_maths(text: str) -> str:
    """Maths compared as a reader sees it: spacing, and ``{,}`` or ``\\,`` between thousands, ignored.

    A Spanish reader takes ``2{,}038`` for two point zero three eight, so a translation may
    write ``2\\,038`` (a thin space) instead; nothing else in the maths may change.

    Example:
        >>> normalised_maths("2{,}038 / 3\\,030") == normalised_maths("2038/3030")
        True
    """
    return re.sub(r"\s+", "", text.replace("{,}", "").replace("\\,", "").replace("\\ ", ""))


def markup(text: str) -> dict[str, list[str]]:
    """What a translation must keep of a message: roles' targets, code spans, math, link targets.

    A cross-reference's title may be translated (``{doc}`Título <target>```), its target not;
    any other role (``{cite:p}`key```) is kept whole. Sorted lists, so order may change.

    Example:
        >>> markup("See {doc}`the data <datasets/index>` and `fit` with $x^2$ [here](https://a.b).")["roles"]
        ['doc:datasets/index']
    """
    roles = []
    for match in ROLE.finditer(text):
        content = match["content"]
        if match["name"] in CROSS_REFERENCES:
            titled = re.fullmatch(r"(?s).*<(?P<target>[^<>]+)>", content)
            content = titled["target"] if titled else content
        roles.append(f"{match['name']}:{content.strip()}")
    without_roles = ROLE.sub(" ", text)
    return {
        "roles": sorted(roles),
        "code": sorted(match["content"] for match in CODE_SPAN.finditer(without_roles)),
        "math": sorted(normalised_maths(match["content"]) for match in MATH.finditer(CODE_SPAN.sub(" ", without_roles))),
        "links": sorted(match["target"] for match in LINK_TARGET.finditer(without_roles)),
    }


def markup_problems(english: str, spanish: str) -> list[str]:
    """How ``spanish`` breaks the markup of ``english`` (empty when it keeps all of it).

    Example:
        >>> markup_problems("Call `fit` now.", "Llama a fit ahora.")
        ["code: lost ['fit']"]
    """
    problems = []
    expected, found = markup(english), markup(spanish)
    for kind in expected:
        if expected[kind] != found[kind]:
            lost = [item for item in expected[kind] if item not in found[kind]]
            added = [item for item in found[kind] if item not in expected[kind]]
            problems.append(f"{kind}: " + ", ".join(
                part for part in (f"lost {lost}" if lost else "", f"added {added}" if added else "") if part)
                or f"{kind}: counts differ")
    return problems


# ---- comments in code cells: book/_ext/editions.py (the Spanish pages translate them too) -------

# ---- catalogues ----------------------------------------------------------------------------------

def catalogue_paths(root: Path = ROOT) -> list[Path]:
    """Every Spanish catalogue (``.po``), sorted."""
    return sorted((root / CATALOGUES).rglob("*.po"))


def domain(path: Path, root: Path = ROOT) -> str:
    """The domain of a catalogue: its path under ``LC_MESSAGES`` without ``.po`` (a page's name)."""
    return path.relative_to(root / CATALOGUES).with_suffix("").as_posix()


def read_catalogue(path: Path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale=LANGUAGE, abort_invalid=True)


class Translations:
    """The Spanish of every finished message, by catalogue, with the whole set as a fallback.

    Example:
        >>> translations = Translations(Path("."))                       # doctest: +SKIP
        >>> translations.lookup("book/datasets/retina")("Summary")          # doctest: +SKIP
        'Resumen'
    """

    def __init__(self, root: Path = ROOT):
        self.by_domain: dict[str, dict[str, str]] = {}
        for path in catalogue_paths(root):
            catalogue = read_catalogue(path)
            self.by_domain[domain(path, root)] = {
                str(message.id): str(message.string)
                for message in catalogue
                if message.id and message.string and not message.fuzzy
            }
        self.everywhere: dict[str, str] = {}
        for table in self.by_domain.values():
            for english, spanish in table.items():
                self.everywhere.setdefault(english, spanish)

    def lookup(self, name: str) -> Lookup:
        table = self.by_domain.get(name, {})
        return lambda message: table.get(message) or self.everywhere.get(message)

    def comments(self) -> Lookup:
        return self.by_domain.get(COMMENTS_DOMAIN, {}).get


def status(root: Path = ROOT) -> list[dict]:
    """Per catalogue: its domain and how many messages are translated, untranslated and fuzzy."""
    rows = []
    for path in catalogue_paths(root):
        catalogue = read_catalogue(path)
        entries = [message for message in catalogue if message.id]
        rows.append({
            "domain": domain(path, root),
            "messages": len(entries),
            "translated": sum(1 for message in entries if message.string and not message.fuzzy),
            "untranslated": sum(1 for message in entries if not message.string),
            "fuzzy": sum(1 for message in entries if message.string and message.fuzzy),
        })
    return rows


# ---- the sources of the templates ----------------------------------------------------------------

def chapter_sources(root: Path = ROOT) -> list[Path]:
    """The pages that have a Colab notebook: ``book/**/<page>.md`` with ``<page>.ipynb`` beside it."""
    return sorted(path for path in (root / "book").rglob("*.md")
                  if path.with_suffix(".ipynb").is_file() and "_build" not in path.parts)


def lab_notebooks(root: Path = ROOT) -> list[Path]:
    """The labs' committed student notebooks, ``labs/<lab>/student/<lab>.ipynb``."""
    return sorted(path for path in (root / "labs").glob("*/student/*.ipynb") if not path.name.endswith(".es.ipynb"))


def _code_sources(root: Path) -> Iterable[str]:
    import jupytext
    import nbformat

    for source in sorted((root / "book").rglob("*.md")):
        if "_build" in source.parts or source.name.startswith("."):
            continue
        for cell in jupytext.read(source, fmt="md:myst").cells:
            if cell.cell_type == "code":
                yield cell.source
    for notebook_path in lab_notebooks(root):
        for cell in nbformat.read(notebook_path, as_version=4).cells:
            if cell.cell_type == "code":
                yield cell.source


def _write_template(path: Path, entries: Iterable[str]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalogue = Catalog(project="medcnn course", charset="utf-8")
    for entry in entries:
        catalogue.add(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        write_po(handle, catalogue, width=0, omit_header=False)


def _build_sphinx(builder: str, outputdir: Path, doctreedir: Path, overrides: dict, root: Path, *,
                  fresh: bool = False) -> int:
    from jupyter_book.sphinx import build_sphinx

    configuration = {"latex_individualpages": False, "external_toc_path": (root / "_toc.yml").as_posix(), **overrides}
    status_code = build_sphinx(root, outputdir, doctreedir=doctreedir, builder=builder, noconfig=True,
                               path_config=root / "_config.yml", confoverrides=configuration,
                               warningiserror=True, keep_going=True, freshenv=fresh)
    return status_code if isinstance(status_code, int) else 1


def alt_texts(source: Path) -> list[str]:
    """The alt texts of a page's figures: its code cells' ``mystnb: image: alt:`` metadata.

    myst-nb makes those images only when it writes the page, so Sphinx's ``gettext`` builder
    never sees their alt text; ``update`` puts them, from every page, in one catalogue,
    ``figures.po``, where ``book/_ext/editions.py`` finds them for the Spanish pages.
    """
    import jupytext

    found = []
    for cell in jupytext.read(source, fmt="md:myst").cells:
        alt = ((cell.metadata.get("mystnb") or {}).get("image") or {}).get("alt")
        if cell.cell_type == "code" and isinstance(alt, str) and alt.strip():
            found.append(alt.strip())
    return list(dict.fromkeys(found))


def update(root: Path = ROOT) -> int:
    """New templates from the English sources, then every catalogue brought up to them.

    Sphinx's ``gettext`` builder writes one template per page (with execution off: outputs are
    never messages, so nothing runs); the labs', the code comments' and the figures' templates
    are written beside them; ``sphinx-intl update`` merges each template into its catalogue: new
    messages are added untranslated, changed ones marked fuzzy with their old Spanish kept.
    """
    templates = root / TEMPLATES
    shutil.rmtree(templates, ignore_errors=True)
    started = time.monotonic()
    # execution off: no output is ever a message (book/_ext/editions.py), so none is needed here
    code = _build_sphinx("gettext", templates, root / "_build" / ".doctrees-gettext", {"nb_execution_mode": "off"}, root)
    if code:
        return code
    figures = [alt for source in sorted((root / "book").rglob("*.md")) if "_build" not in source.parts
               for alt in alt_texts(source)]
    _write_template(templates / f"{FIGURES_DOMAIN}.pot", dict.fromkeys(figures))
    for notebook_path in lab_notebooks(root):
        import nbformat

        notebook = nbformat.read(notebook_path, as_version=4)
        found: list[str] = []
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                found += messages(cell.source)
        _write_template(templates / "labs" / f"{notebook_path.stem}.pot", dict.fromkeys(found))
    comments = [comment for source in _code_sources(root) for comment in comment_messages(source)]
    _write_template(templates / f"{COMMENTS_DOMAIN}.pot", dict.fromkeys(comments))
    print(f"i18n: templates written in {time.monotonic() - started:.0f} s")
    intl = Path(sys.executable).parent / "sphinx-intl"
    return subprocess.call([str(intl), "update", "--pot-dir", str(templates), "--locale-dir",
                            str(root / "locales"), "--language", LANGUAGE, "--line-width", "-1"], cwd=root)


# ---- the Spanish site ----------------------------------------------------------------------------

def build(root: Path = ROOT, *, fresh: bool = False) -> int:
    """Build the Spanish site into ``_build/html/es`` from the English build's execution cache.

    ``fresh`` reads every page again (``tools/build_book.py`` asks for it when the toc or the
    configuration changed); otherwise Sphinx rebuilds the pages that changed.
    """
    output = root / "_build" / "html-es"
    started = time.monotonic()
    code = _build_sphinx("html", output, root / "_build" / ".doctrees-es",
                         {"language": LANGUAGE, "html_title": SPANISH_TITLE,
                          "html_theme_options": {"logo": {"alt_text": f"{SPANISH_TITLE} - Inicio"}}}, root,
                         fresh=fresh)
    print(f"i18n: the Spanish site built in {time.monotonic() - started:.0f} s (exit status {code})")
    if code:
        return code
    (output / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=book/index.html" />\n', encoding="utf-8")
    sources = output / "_sources"
    for served in sorted(sources.rglob("*.ipynb")) if sources.is_dir() else []:
        spanish = root / served.relative_to(sources).with_suffix(".es.ipynb")
        if spanish.is_file():
            shutil.copyfile(spanish, served)
    site = root / SPANISH_SITE
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(output, site)
    return 0


# ---- the Spanish notebooks -----------------------------------------------------------------------

def spanish_chapter(source: Path, translations: Translations, root: Path = ROOT):
    """The Spanish Colab notebook of a chapter, and the messages it still lacks."""
    sys.path.insert(0, str(root / "tools"))
    from colab_notebook import colab_notebook

    page = source.relative_to(root).with_suffix("").as_posix()
    text, missing = translate_markdown(source.read_text(encoding="utf-8"), translations.lookup(page))
    notebook = colab_notebook(source, root, text=text, language=LANGUAGE,
                              translate=lambda document, message: translations.lookup(document)(message))
    # the install cell's comment is the conversion's own, already in Spanish
    from colab_notebook import GENERATED

    own = {GENERATED[LANGUAGE]["install comment"].lstrip("#").strip()}
    comments = translations.comments()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source, lacked = translate_code(cell.source, lambda comment: comments(comment)
                                                 or (comment if comment in own else None))
            missing += lacked
    notebook.metadata["language_info"] = notebook.metadata.get("language_info", {"name": "python"})
    notebook.metadata["medcnn_edition"] = LANGUAGE
    return notebook, missing


def spanish_lab(notebook_path: Path, translations: Translations, root: Path = ROOT):
    """The Spanish student notebook of a lab (same code, same checks), and the messages it lacks."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    lookup = translations.lookup(f"labs/{notebook_path.stem}")
    english_notebook = f"/student/{notebook_path.name})"
    missing: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source, lacked = translate_markdown(cell.source, lookup)
            # its Open-in-Colab badge opens this notebook, not the English one
            cell.source = cell.source.replace(english_notebook, english_notebook.replace(".ipynb)", ".es.ipynb)"))
        elif cell.cell_type == "code":
            cell.source, lacked = translate_code(cell.source, translations.comments())
        else:
            continue
        missing += lacked
    notebook.metadata["medcnn_edition"] = LANGUAGE
    return notebook, missing


def spanish_notebooks(root: Path = ROOT) -> dict[Path, tuple[str, list[str]]]:
    """Every Spanish notebook's path, its text and the messages it lacks."""
    import nbformat

    sys.path.insert(0, str(root / "tools"))
    from colab_notebook import notebook_text

    translations = Translations(root)
    made = {}
    for source in chapter_sources(root):
        notebook, missing = spanish_chapter(source, translations, root)
        made[source.with_suffix(".es.ipynb")] = (notebook_text(notebook), missing)
    for notebook_path in lab_notebooks(root):
        notebook, missing = spanish_lab(notebook_path, translations, root)
        text = nbformat.writes(notebook) + "\n"
        made[notebook_path.with_suffix(".es.ipynb")] = (text, missing)
    return made


def write_notebooks(root: Path = ROOT, *, check: bool = False) -> int:
    """Write (or, with ``check``, compare) the Spanish notebooks; 1 if one lacks Spanish or differs."""
    failed = 0
    for path, (text, missing) in spanish_notebooks(root).items():
        shown = path.relative_to(root)
        if missing:
            failed = 1
            print(f"{shown}: {len(missing)} message(s) without Spanish, first: {missing[0][:80]!r}")
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                failed = 1
                print(f"{shown}: differs from what the translations give; run `python tools/i18n.py notebooks`")
        elif not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"{shown}: written")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("update", help="new templates from the English sources; catalogues updated")
    show = commands.add_parser("status", help="translated, untranslated and fuzzy messages per catalogue")
    show.add_argument("--json", action="store_true", help="print the table as JSON")
    notebooks = commands.add_parser("notebooks", help="write the Spanish notebooks")
    notebooks.add_argument("--check", action="store_true", help="compare with the committed ones instead")
    commands.add_parser("build", help="build the Spanish site into _build/html/es")
    arguments = parser.parse_args(argv)
    os.chdir(ROOT)
    if arguments.command == "update":
        return update(ROOT)
    if arguments.command == "status":
        rows = status(ROOT)
        if arguments.json:
            print(json.dumps(rows, indent=1))
        else:
            for row in rows:
                print(f"{row['domain']:<45} {row['translated']:>4}/{row['messages']:<4} translated, "
                      f"{row['untranslated']} untranslated, {row['fuzzy']} fuzzy")
        totals = {key: sum(row[key] for row in rows) for key in ("messages", "untranslated", "fuzzy")}
        print(f"all: {totals['messages']} messages, {totals['untranslated']} untranslated, {totals['fuzzy']} fuzzy")
        return 0 if rows and not totals["untranslated"] and not totals["fuzzy"] else 1
    if arguments.command == "notebooks":
        return write_notebooks(ROOT, check=arguments.check)
    return build(ROOT)


if __name__ == "__main__":
    sys.exit(main())
