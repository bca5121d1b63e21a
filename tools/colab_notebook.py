"""Make the Colab notebook of a chapter from its MyST Markdown source.

The book is built from ``book/**/*.md`` (MyST notebooks); Colab opens the
``.ipynb`` committed beside each one, and Colab renders no MyST. This module
makes that ``.ipynb``: jupytext's conversion of the ``.md``, then, in every
Markdown cell,

- ``{literalinclude}`` becomes a fenced code block holding the included lines,
  read with Sphinx's own reader, so ``:pyobject:``, ``:start-at:``,
  ``:end-at:``, ``:start-after:``, ``:end-before:``, ``:lines:`` and
  ``:dedent:`` select exactly what the built page shows;
- ``{cite}``, ``{cite:p}`` and ``{cite:t}`` become text, (Cheng et al., 2015)
  or Cheng et al. (2015), from ``references.bib``, and the notebook ends with a
  reference list of the works it cites;
- ``{doc}``, ``{ref}`` and ``{numref}`` become links to the published site,
  ``https://<owner>.github.io/<repository>/`` (from ``_config.yml``'s
  ``repository.url``, or ``html.baseurl`` where it is set);
- admonitions (``{admonition}``, ``{note}``, ``{tip}``, ``{warning}`` ...,
  ``{exercise}``, backtick- or colon-fenced) become block quotes, and dropdowns
  (``:class: dropdown``, ``{dropdown}``, ``{solution}``) become HTML ``<details>``;
- **solutions whose answer is code**: inside a dropdown, every ``python`` code
  block leaves the ``<details>`` text and becomes a code cell right after it,
  titled with Colab's form syntax (``# @title ... { display-mode: "form" }``)
  so that Colab shows only the title until the reader opens it; the text says
  where the code went. Run all therefore runs the solutions too, and the
  notebook test checks that they work;
- label lines ``(name)=`` and MyST comments ``% ...`` are dropped;
- any other directive or role is an error naming the file and line, so nothing
  reaches a notebook as raw MyST.

Every notebook whose code uses ``medcnn`` gets, before its first code cell, the
Colab install cell: ``pip install git+<repository.url>@<ref>#subdirectory=code``
on Colab only, where ``<ref>`` is ``repository.colab_ref`` in ``_config.yml``
when set (a release tag) and ``repository.branch`` otherwise. ``_config.yml`` is
the only place that names them; a chapter's ``.md`` holds no install cell.
Notebooks of the Datasets and The study parts ask Colab for a GPU runtime.

Cells get ids derived from their position and content, so the same ``.md``
always gives the same file, byte for byte.

Example:
    >>> from colab_notebook import colab_notebook, notebook_text   # doctest: +SKIP
    >>> notebook = colab_notebook("book/datasets/retina.md")        # doctest: +SKIP
    >>> "{literalinclude}" in notebook_text(notebook)                # doctest: +SKIP
    False
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jupytext
import nbformat
import yaml

GPU_PARTS = ("datasets", "study")
# The words this tool writes itself, in each edition's language (the chapters' own words come from
# their source, or for the Spanish edition from its catalogues: tools/i18n.py).
GENERATED = {
    "en": {
        "install": (
            "**In Colab, run this cell first.** It installs the course's package `medcnn` from "
            "[the course's repository]({url}) (`{ref}`), keeping Colab's own TensorFlow; "
            "anywhere else it does nothing, and you install `medcnn` as [{guide}]({guide_url}) explains. "
            "This notebook is made from the chapter's source, [{document}.md]({source_url}); "
            "the same chapter, run in the smoke profile, is [on the course's site]({page_url})."
        ),
        "install comment": "# On Colab only: install medcnn from the course's repository (Colab's TensorFlow is kept).",
        "site": "the course's site",
        "from": "From `{shown}`:",
        "from caption": "*{caption}* (from `{shown}`)",
        "solution code": ("*The code of this answer is in the {where} (in Colab, double-click its title to "
                          "see it); run it after trying the exercise.*"),
        "next cell": "next cell",
        "next cells": "next {count} cells",
        "part": "{title} ({number} of {count})",
        "see also": "See also",
        "references": "References",
        "whole bibliography": "The course's whole bibliography: [{title}]({url}).",
    },
    "es": {
        "install": (
            "**En Colab, ejecuta esta celda primero.** Instala el paquete del curso, `medcnn`, desde "
            "[el repositorio del curso]({url}) (`{ref}`) y conserva el TensorFlow de Colab; "
            "en cualquier otro lugar no hace nada, e instalas `medcnn` como explica [{guide}]({guide_url}). "
            "Este cuaderno se genera a partir de la fuente del capítulo, [{document}.md]({source_url}), y de su "
            "traducción; el mismo capítulo, ejecutado con el perfil `smoke`, está [en el sitio del curso]({page_url})."
        ),
        "install comment": "# Solo en Colab: instala medcnn desde el repositorio del curso (se conserva el TensorFlow de Colab).",
        "site": "el sitio del curso",
        "from": "De `{shown}`:",
        "from caption": "*{caption}* (de `{shown}`)",
        "solution code": ("*El código de esta respuesta está en la {where} (en Colab, haz doble clic en su título "
                          "para verlo); ejecútalo después de intentar el ejercicio.*"),
        "next cell": "celda siguiente",
        "next cells": "{count} celdas siguientes",
        "part": "{title} ({number} de {count})",
        "see also": "Ver también",
        "references": "Referencias",
        "whole bibliography": "La bibliografía completa del curso: [{title}]({url}).",
    },
}
EDITION_FOLDERS = {"en": "", "es": "es/"}
ADMONITIONS = {
    "admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
    "danger", "error", "seealso", "dropdown", "exercise", "solution",
}  # fmt: skip
SOLUTION_LANGUAGES = {"python", "python3", "ipython", "ipython3", "py"}
# Options of {literalinclude} that only change how the block looks on the site.
DISPLAY_ONLY_OPTIONS = {"language", "linenos", "lineno-start", "lineno-match", "emphasize-lines", "name", "class", "force"}
INTEGER_OPTIONS = {"dedent", "tab-width", "lineno-start"}

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
LABEL_LINE = re.compile(r"^\s*\((?P<label>[^)\s]+)\)=\s*$")
COMMENT_LINE = re.compile(r"^%(?!%)")
OPTION_LINE = re.compile(r"^:(?P<name>[\w-]+):(?:\s+(?P<value>.*))?$")
INLINE = re.compile(
    r"(?P<role>\{(?P<name>[a-zA-Z][\w:+-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks))"
    r"|(?P<code>(?P<code_ticks>`+).+?(?P=code_ticks))",
    flags=re.DOTALL,
)
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", flags=re.DOTALL)


class ConversionError(ValueError):
    """A chapter holds MyST that the Colab notebook cannot show (the message names file and line)."""


@dataclass
class Book:
    """What the conversion needs to know about the repository around a chapter.

    Attributes:
        root: the repository root (``_config.yml``, ``references.bib`` and ``book/`` are there).
    """

    root: Path
    language: str = "en"
    translate: Callable[[str, str], str | None] | None = None

    def words(self, key: str, **values) -> str:
        """The tool's own words for ``key`` in the book's language, with ``values`` filled in."""
        return GENERATED[self.language][key].format(**values)

    def translated(self, document: str, text: str) -> str:
        """``text`` of ``document`` in the book's language (itself where no translation is given)."""
        if self.translate is None:
            return text
        return self.translate(document, text.strip()) or text

    @functools.cached_property
    def config(self) -> dict:
        path = self.root / "_config.yml"
        if not path.is_file():
            raise ConversionError(f"{path} is missing: the Colab notebooks take the repository URL from it")
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    @property
    def repository_url(self) -> str:
        url = (self.config.get("repository") or {}).get("url", "")
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url or ""):
            raise ConversionError(
                f"{self.root / '_config.yml'}: repository.url is {url!r}; expected https://github.com/<owner>/<name>"
            )
        return url

    @property
    def install_ref(self) -> str:
        """The branch or tag Colab installs ``medcnn`` from: ``repository.colab_ref``, else ``repository.branch``."""
        repository = self.config.get("repository") or {}
        reference = repository.get("colab_ref") or repository.get("branch")
        if not reference or not re.fullmatch(r"[\w./-]+", str(reference)):
            raise ConversionError(f"{self.root / '_config.yml'}: set repository.branch (or repository.colab_ref) to a branch or tag")
        return str(reference)

    @property
    def install_url(self) -> str:
        """The pip requirement of the Colab install cell.

        Example:
            >>> Book(Path(".")).install_url   # doctest: +SKIP
            'git+https://github.com/medcnn-course/medcnn@main#subdirectory=code'
        """
        return f"git+{self.repository_url}@{self.install_ref}#subdirectory=code"

    @property
    def site_url(self) -> str:
        """The published site: ``html.baseurl`` if set, else GitHub Pages of ``repository.url``."""
        base = (self.config.get("html") or {}).get("baseurl")
        if base:
            return base.rstrip("/") + "/"
        owner, name = self.repository_url.removeprefix("https://github.com/").split("/")
        return f"https://{owner.lower()}.github.io/{name}/"

    def source_url(self, path: Path) -> str:
        """The chapter's source file on GitHub."""
        return f"{self.repository_url}/blob/{self.config['repository'].get('branch', 'main')}/{path.relative_to(self.root).as_posix()}"

    def page_url(self, document: str, anchor: str = "") -> str:
        """The published page of ``document`` (a path without suffix, from the repository root)."""
        return f"{self.site_url}{EDITION_FOLDERS[self.language]}{document}.html" + (f"#{anchor}" if anchor else "")

    @functools.cached_property
    def bibliography(self):
        path = self.root / "references.bib"
        if not path.is_file():
            raise ConversionError(f"{path} is missing: the chapters' citations are read from it")
        from pybtex.database import parse_file

        return parse_file(str(path))

    def document_title(self, document: str) -> str:
        path = self.root / f"{document}.md"
        if not path.is_file():
            raise ConversionError(f"no page {document}.md for a cross-reference")
        for line in _strip_front_matter(path.read_text(encoding="utf-8")).splitlines():
            if line.startswith("# "):
                return self.translated(document, line[2:].strip())
        return document.rsplit("/", 1)[-1]

    @functools.cached_property
    def labels(self) -> dict[str, tuple[str, str]]:
        """Every ``(label)=`` of the book: label -> (document, the title of the heading it marks)."""
        found = {}
        for path in sorted((self.root / "book").rglob("*.md")):
            if any(part.startswith((".", "_")) for part in path.relative_to(self.root / "book").parts):
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            for number, line in enumerate(lines):
                match = LABEL_LINE.match(line)
                if not match:
                    continue
                following = next((text for text in lines[number + 1 :] if text.strip()), "")
                title = following.lstrip("#").strip() if following.startswith("#") else match["label"]
                found[match["label"]] = (path.relative_to(self.root).with_suffix("").as_posix(), title)
        return found


def _strip_front_matter(text: str) -> str:
    match = re.match(r"---\n.*?\n---\n", text, flags=re.DOTALL)
    return text[match.end() :] if match else text


# ---- citations ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _backend(name: str):
    """pybtex's output backend ``name`` ("text", "markdown"), looked up once.

    ``Text.render_as(name)`` looks the plugin up on every call, and each lookup reads
    the metadata of every installed distribution (about 50 ms here): rendering a
    chapter's citations that way took seconds.
    """
    from pybtex.plugin import find_plugin

    return find_plugin("pybtex.backends", name)()


@functools.lru_cache(maxsize=None)
def _plain(latex: str) -> str:
    from pybtex.richtext import Text

    return Text.from_latex(latex).render(_backend("text"))


def _authors(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(person.prelast_names + person.last_names)) for person in persons]
    if not names:
        return _plain(entry.fields.get("organization", entry.fields.get("title", "?")))
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


@dataclass
class Chapter:
    """The state of one conversion: the source, the book around it, the works cited so far."""

    source: Path
    book: Book
    cited: list[str] = field(default_factory=list)

    @property
    def document(self) -> str:
        return self.source.relative_to(self.book.root).with_suffix("").as_posix()

    def where(self, line: int | None) -> str:
        shown = self.source.relative_to(self.book.root) if self.source.is_relative_to(self.book.root) else self.source
        return f"{shown}" + (f", line {line}" if line else "")

    def entry(self, key: str, line: int | None):
        entries = self.book.bibliography.entries
        if key not in entries:
            raise ConversionError(f"{self.where(line)}: cites {key!r}, which references.bib lacks")
        if key not in self.cited:
            self.cited.append(key)
        return entries[key]

    # ---- roles --------------------------------------------------------------------------------

    def role(self, name: str, content: str, line: int | None) -> str:
        if name in {"cite", "cite:p", "cite:ps", "cite:cp", "cite:t", "cite:ts", "cite:ct", "cite:author", "cite:year"}:
            keys = [key.strip() for key in content.split(",") if key.strip()]
            entries = [self.entry(key, line) for key in keys]
            if name in {"cite:author"}:
                return ", ".join(_authors(entry) for entry in entries)
            if name in {"cite:year"}:
                return ", ".join(entry.fields.get("year", "n.d.") for entry in entries)
            if name in {"cite:t", "cite:ts", "cite:ct"}:
                return ", ".join(f"{_authors(entry)} ({entry.fields.get('year', 'n.d.')})" for entry in entries)
            return "(" + "; ".join(f"{_authors(entry)}, {entry.fields.get('year', 'n.d.')}" for entry in entries) + ")"
        if name == "doc":
            title, target = self._title_and_target(content)
            document = self._resolve_document(target, line)
            return f"[{title or self.book.document_title(document)}]({self.book.page_url(document)})"
        if name in {"ref", "numref"}:
            title, label = self._title_and_target(content)
            if label not in self.book.labels:
                raise ConversionError(f"{self.where(line)}: {{{name}}}`{content}` names no label (`({label})=`) in book/")
            document, heading = self.book.labels[label]
            from docutils.nodes import make_id

            title = (title or self.book.translated(document, heading)).replace("{number}", "").replace("%s", "").strip()
            return f"[{title}]({self.book.page_url(document, make_id(label))})"
        if name == "math":
            return f"${content}$"
        if name in {"sub", "sup", "kbd"}:
            return f"<{name}>{content}</{name}>"
        if name in {"abbr", "term"}:
            title, _ = self._title_and_target(content)
            return title or content
        raise ConversionError(
            f"{self.where(line)}: the role {{{name}}} has no Colab form; "
            "write it differently or teach tools/colab_notebook.py to render it"
        )

    @staticmethod
    def _title_and_target(content: str) -> tuple[str, str]:
        match = EXPLICIT_TITLE.match(content.strip())
        if match:
            return match["title"].strip(), match["target"].strip()
        return "", content.strip()

    def _resolve_document(self, target: str, line: int | None) -> str:
        target = target.removesuffix(".md")
        if target.startswith("/"):
            path = self.book.root / target.lstrip("/")
        else:
            path = self.source.parent / target
        path = Path(*_normalise_parts(path.parts))
        if not path.with_suffix(".md").is_file():
            raise ConversionError(f"{self.where(line)}: {{doc}}`{target}` names no page ({path.with_suffix('.md')} is missing)")
        return path.relative_to(self.book.root).as_posix()

    def inline(self, text: str, first_line: int | None) -> str:
        """Replace the roles of a run of Markdown text, leaving code spans alone."""

        def replace(match: re.Match) -> str:
            if match["code"]:
                return match["code"]
            line = first_line + text.count("\n", 0, match.start()) if first_line else None
            return self.role(match["name"], match["content"], line)

        return INLINE.sub(replace, text)

    # ---- blocks -------------------------------------------------------------------------------

    def markdown(self, text: str, first_line: int | None = None) -> list[tuple[str, str]]:
        """Convert one Markdown cell's text; return pieces ``("markdown"|"code", text)`` in order."""
        lines = text.split("\n")
        pieces: list[tuple[str, str]] = []
        plain: list[str] = []
        plain_start = 0

        def flush_plain():
            if plain:
                start = first_line + plain_start if first_line else None
                _append(pieces, "markdown", self.inline("\n".join(plain), start))
                plain.clear()

        number = 0
        while number < len(lines):
            line = lines[number]
            opening = FENCE.match(line)
            if opening:
                flush_plain()
                fence = opening["fence"]
                line_number = first_line + number if first_line else None
                body, number = _fenced_body(lines, number, fence)
                info = opening["info"].strip()
                directive = re.match(r"^\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$", info)
                if directive:
                    for kind, piece in self.directive(directive["name"], directive["argument"], body, line_number):
                        _append(pieces, kind, piece)
                else:
                    _append(pieces, "markdown", "\n".join([f"{fence}{info}"] + body + [fence]))
                number += 1
                plain_start = number
                continue
            if LABEL_LINE.match(line) or COMMENT_LINE.match(line):
                flush_plain()
                number += 1
                plain_start = number
                continue
            if not plain:
                plain_start = number
            plain.append(line)
            number += 1
        flush_plain()
        return pieces

    def directive(self, name: str, argument: str, body: list[str], line: int | None) -> list[tuple[str, str]]:
        options, content = _options(body)
        if name == "literalinclude":
            return [("markdown", self.literalinclude(argument, options, line))]
        if name in ADMONITIONS:
            return self.admonition(name, argument, options, content, line)
        if name == "math":
            return [("markdown", "$$\n" + "\n".join(content).strip() + "\n$$")]
        if name in {"code", "code-block", "sourcecode"}:
            return [("markdown", "\n".join([f"```{argument.strip()}"] + content + ["```"]))]
        raise ConversionError(
            f"{self.where(line)}: the directive {{{name}}} has no Colab form; "
            "write it differently or teach tools/colab_notebook.py to render it"
        )

    def literalinclude(self, argument: str, options: dict[str, str], line: int | None) -> str:
        from sphinx.directives.code import LiteralIncludeReader

        relative = argument.strip()
        path = (self.book.root / relative.lstrip("/")) if relative.startswith("/") else (self.source.parent / relative)
        path = Path(*_normalise_parts(path.parts))
        if not path.is_file():
            raise ConversionError(f"{self.where(line)}: {{literalinclude}} {relative}: no such file ({path})")
        reader_options = {}
        for key, value in options.items():
            if key in DISPLAY_ONLY_OPTIONS or key == "caption":
                continue
            reader_options[key] = int(value) if key in INTEGER_OPTIONS else value
        config = type("Config", (), {"source_encoding": "utf-8-sig"})()
        try:
            text, _ = LiteralIncludeReader(str(path), reader_options, config).read()
        except Exception as error:  # Sphinx says what did not match; add where
            raise ConversionError(f"{self.where(line)}: {{literalinclude}} {relative}: {error}") from error
        language = options.get("language", "")
        caption = options.get("caption")
        block = f"```{language}\n{text.rstrip()}\n```"
        shown = path.relative_to(self.book.root).as_posix() if path.is_relative_to(self.book.root) else path.name
        heading = (self.book.words("from caption", caption=self.book.translated(self.document, caption), shown=shown)
                   if caption else self.book.words("from", shown=shown))
        return f"{heading}\n\n{block}"

    def admonition(self, name, argument, options, content, line) -> list[tuple[str, str]]:
        classes = options.get("class", "").split()
        title = argument.strip() if name in {"admonition", "dropdown"} and argument.strip() else name.capitalize()
        if name in {"exercise", "solution"}:  # sphinx-exercise's: the argument is a label or a title
            title = name.capitalize() + (f": {argument.strip()}" if argument.strip() and name == "exercise" else "")
        if name == "seealso":
            title = self.book.words("see also")
        title = self.inline(title, line)
        inner = self.markdown("\n".join(content), (line + 1) if line else None)
        if name in {"dropdown", "solution"} or "dropdown" in classes:
            text_parts, code_cells = [], []
            for kind, piece in inner:
                if kind == "markdown":
                    text_parts.append(_solution_text(piece, code_cells))
                else:
                    code_cells.append(piece)
            text = "\n\n".join(part for part in text_parts if part.strip())
            if code_cells:
                where = (self.book.words("next cell") if len(code_cells) == 1
                         else self.book.words("next cells", count=len(code_cells)))
                text += "\n\n" + self.book.words("solution code", where=where)
            pieces = [("markdown", f"<details>\n<summary><b>{title}</b></summary>\n\n{text.strip()}\n\n</details>")]
            for number, code in enumerate(code_cells, start=1):
                label = title if len(code_cells) == 1 else self.book.words("part", title=title, number=number, count=len(code_cells))
                pieces.append(("code", f'# @title {label} {{ display-mode: "form" }}\n{code}'))
            return pieces
        quoted = "\n".join(f"> {text}".rstrip() for kind, piece in inner for text in (piece + "\n").split("\n"))
        return [("markdown", f"> **{title}**\n>\n{quoted.rstrip()}")]


def _solution_text(markdown: str, code_cells: list[str]) -> str:
    """Take the python blocks out of a dropdown's Markdown into ``code_cells``; return the rest."""
    lines = markdown.split("\n")
    kept: list[str] = []
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if opening and opening["fence"].startswith("`"):
            body, end = _fenced_body(lines, number, opening["fence"])
            if opening["info"].strip().lower() in SOLUTION_LANGUAGES:
                code_cells.append("\n".join(body).strip("\n"))
            else:
                kept.extend(lines[number : end + 1])
            number = end + 1
            continue
        kept.append(lines[number])
        number += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _fenced_body(lines: list[str], start: int, fence: str) -> tuple[list[str], int]:
    """The lines inside the fence opened at ``start``, and the index of its closing line."""
    character, length = fence[0], len(fence)
    closing = re.compile(r"^ {0,3}" + re.escape(character) + "{" + str(length) + r",}\s*$")
    for number in range(start + 1, len(lines)):
        if closing.match(lines[number]):
            return lines[start + 1 : number], number
    return lines[start + 1 :], len(lines) - 1


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    number = 0
    if body and body[0].strip() == "---":
        end = next((index for index in range(1, len(body)) if body[index].strip() == "---"), None)
        if end is not None:
            options = {str(key): str(value) for key, value in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
            return options, body[end + 1 :]
    while number < len(body):
        match = OPTION_LINE.match(body[number])
        if not match:
            break
        value = (match["value"] or "").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        options[match["name"]] = value
        number += 1
    return options, body[number:]


def _normalise_parts(parts) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            out.pop()
        elif part != ".":
            out.append(part)
    return out


def _append(pieces: list[tuple[str, str]], kind: str, text: str) -> None:
    """Add a piece, merging consecutive Markdown pieces into one cell."""
    if kind == "markdown" and pieces and pieces[-1][0] == "markdown":
        pieces[-1] = ("markdown", pieces[-1][1].rstrip("\n") + "\n\n" + text.strip("\n"))
    elif kind == "markdown" and not text.strip():
        return
    else:
        pieces.append((kind, text.strip("\n") if kind == "markdown" else text))


# ---- the notebook --------------------------------------------------------------------------


def _uses_medcnn(notebook) -> bool:
    return any(cell.cell_type == "code" and re.search(r"\bmedcnn\b", cell.source) for cell in notebook.cells)


def _install_cells(book: Book, chapter: Chapter) -> list:
    url = book.repository_url
    has_guide = (book.root / "book" / "start" / "how_to_use.md").is_file()
    guide = book.document_title("book/start/how_to_use") if has_guide else book.words("site")
    text = book.words("install", url=url, ref=book.install_ref, guide=guide,
                      guide_url=book.page_url("book/start/how_to_use"), document=chapter.document,
                      source_url=book.source_url(chapter.source), page_url=book.page_url(chapter.document))
    code = (
        book.words("install comment") + "\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    subprocess.run(\n"
        '        [sys.executable, "-m", "pip", "install", "--quiet",\n'
        f'         "{book.install_url}"],\n'
        "        check=True,\n"
        "    )"
    )
    return [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell(code)]


def _references_cell(chapter: Chapter):
    from pybtex.plugin import find_plugin

    style = find_plugin("pybtex.style.formatting", "plain")()
    formatted = {entry.key: entry for entry in style.format_bibliography(chapter.book.bibliography, citations=chapter.cited)}
    lines = [f"## {chapter.book.words('references')}", ""]
    for key in sorted(chapter.cited, key=lambda key: (_authors(chapter.book.bibliography.entries[key]).lower(), key)):
        entry = chapter.book.bibliography.entries[key]
        text = " ".join(formatted[key].text.render(_backend("markdown")).split("\n"))
        lines.append(f"- **{_authors(entry)} ({entry.fields.get('year', 'n.d.')})** {text}")
    book = chapter.book
    title = book.document_title("book/references") if (book.root / "book" / "references.md").is_file() else book.words("references")
    lines += ["", book.words("whole bibliography", title=title, url=book.page_url("book/references"))]
    return nbformat.v4.new_markdown_cell("\n".join(lines))


def colab_notebook(
    source: Path | str,
    root: Path | str | None = None,
    *,
    text: str | None = None,
    language: str = "en",
    translate: Callable[[str, str], str | None] | None = None,
) -> nbformat.NotebookNode:
    """Return the Colab notebook of a MyST chapter (no outputs, deterministic cell ids).

    Args:
        source: the chapter's ``.md``.
        root: the repository root; by default the folder above ``book/`` in ``source``'s path.
        text: the chapter's MyST text when it is not ``source``'s (the Spanish edition passes the
            translated text; paths, includes and the chapter's name still come from ``source``).
        language: the edition, ``"en"`` or ``"es"``: the tool's own words and the site's links.
        translate: ``(document, English message) -> Spanish or None``, for the titles of the pages
            a cross-reference names (the Spanish edition's catalogues).

    Raises:
        ConversionError: naming file and line, for MyST that has no Colab form, a missing include
            file or citation key, a cross-reference to nothing, or an install cell left in the ``.md``.

    Example:
        >>> colab_notebook("book/foundations/03_convolutional_networks.md").cells[0].cell_type   # doctest: +SKIP
        'markdown'
    """
    source = Path(source).resolve()
    if root is None:
        root = next((parent.parent for parent in source.parents if parent.name == "book"), source.parent)
    if language not in GENERATED:
        raise ConversionError(f"language {language!r}: the editions are {sorted(GENERATED)}")
    book = Book(Path(root).resolve(), language=language, translate=translate)
    chapter = Chapter(source=source, book=book)
    if text is None:
        text = source.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")

    cells = []
    search_from = 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if re.search(r"pip\W+install", cell.source) and "git+" in cell.source:
                raise ConversionError(
                    f"{chapter.where(None)}: a code cell installs medcnn from git; remove it, the Colab notebook "
                    "gets its install cell from _config.yml (tools/colab_notebook.py)"
                )
            cells.append(cell)
            continue
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        position = text.find(cell.source.split("\n", 1)[0], search_from) if cell.source else -1
        first_line = text.count("\n", 0, position) + 1 if position >= 0 else None
        if position >= 0:
            search_from = position
        for kind, piece in chapter.markdown(cell.source, first_line):
            if kind == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(piece))
            else:
                cells.append(nbformat.v4.new_code_cell(piece, metadata={"tags": ["solution"]}))

    if _uses_medcnn(notebook):
        # Right under the chapter's title: the first thing a Colab reader runs.
        first = cells[0] if cells and cells[0].cell_type == "markdown" else None
        if first is not None and first.source.startswith("# "):
            title, _, rest = first.source.partition("\n")
            cells[0:1] = [nbformat.v4.new_markdown_cell(title)] + (
                [nbformat.v4.new_markdown_cell(rest.strip("\n"))] if rest.strip() else []
            )
            cells[1:1] = _install_cells(book, chapter)
        else:
            first_code = next(index for index, cell in enumerate(cells) if cell.cell_type == "code")
            cells[first_code:first_code] = _install_cells(book, chapter)
    if chapter.cited:
        cells.append(_references_cell(chapter))

    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        digest = hashlib.sha1(f"{index}\0{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:8]
        cell["id"] = f"{index:03d}-{digest}"
    notebook.cells = cells
    part = source.relative_to(book.root / "book").parts[0] if source.is_relative_to(book.root / "book") else ""
    if part in GPU_PARTS:
        notebook.metadata["accelerator"] = "GPU"
        notebook.metadata["colab"] = {"gpuType": "T4", "provenance": []}
    return notebook


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    """The notebook as the file is written (jupytext's ipynb writer, ending with a newline)."""
    text = jupytext.writes(notebook, fmt="ipynb")
    return text if text.endswith("\n") else text + "\n"
