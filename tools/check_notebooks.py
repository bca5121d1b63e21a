"""Check that every executable chapter's committed ``.ipynb`` is exactly what its ``.md`` makes.

The book is built from MyST Markdown notebooks (``book/**/*.md`` whose front
matter has a ``kernelspec:``); Colab opens the paired ``.ipynb`` committed
beside each one. That ``.ipynb`` is *generated* by ``tools/colab_notebook.py``:
jupytext's conversion, with included code inlined, citations as text and a
reference list, cross-references as links to the published site, admonitions
as block quotes or ``<details>``, solutions' code as code cells, and the Colab
install cell made from ``_config.yml``. This tool regenerates each ``.ipynb`` in
memory and compares it with the committed file, byte for byte; the committed
notebook carries no outputs. It does not look at file times.

Usage::

    python tools/check_notebooks.py          # list problems, exit 1 if any
    python tools/check_notebooks.py --fix    # rewrite stale or missing .ipynb from the .md

Example:
    >>> from pathlib import Path
    >>> problems = check(Path("."))              # doctest: +SKIP
    >>> [str(problem) for problem in problems]   # doctest: +SKIP
    []
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colab_notebook import ConversionError, colab_notebook, notebook_text  # noqa: E402

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
SKIPPED_FOLDERS = {"_build", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Problem:
    """One notebook that is not as it should be.

    Attributes:
        path: the ``.ipynb`` concerned (for ``orphan``, the notebook without a source).
        kind: ``missing`` (no ``.ipynb`` beside the ``.md``), ``stale`` (the file differs from
            what the generator makes), ``outputs`` (the ``.ipynb`` carries outputs or execution
            counts), ``error`` (the ``.md`` holds something the generator cannot convert), or
            ``orphan`` (an ``.ipynb`` under ``book/`` with no ``.md`` source).
        detail: what differs, in words.
    """

    path: Path
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


def _visible(path: Path, book: Path) -> bool:
    parts = path.relative_to(book).parts
    return not any(part in SKIPPED_FOLDERS or part.startswith(".") for part in parts)


def notebook_sources(root: Path | str = REPOSITORY_ROOT) -> list[Path]:
    """Return the MyST notebooks under ``root/book``: ``.md`` files with a ``kernelspec``.

    Example:
        >>> [path.name for path in notebook_sources()]   # doctest: +SKIP
        ['brain_tumor.md', 'covid19.md', 'retina.md']
    """
    book = Path(root) / "book"
    sources = []
    for path in sorted(book.rglob("*.md")):
        if not _visible(path, book):
            continue
        notebook = jupytext.read(path, fmt="md:myst")
        if "kernelspec" in notebook.metadata:
            sources.append(path)
    return sources


def expected_notebook(source: Path | str, root: Path | str | None = None) -> nbformat.NotebookNode:
    """Return the Colab notebook generated from a MyST ``.md`` source, without outputs.

    Example:
        >>> notebook = expected_notebook("book/datasets/retina.md")   # doctest: +SKIP
        >>> notebook.cells[0].cell_type                                # doctest: +SKIP
        'markdown'
    """
    return colab_notebook(Path(source), root=root)


def _cell_summary(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def _first_difference(expected: list[tuple[str, str]], committed: list[tuple[str, str]]) -> str:
    if len(expected) != len(committed):
        return f"{len(committed)} cells committed, {len(expected)} expected from the .md"
    for number, (want, have) in enumerate(zip(expected, committed), start=1):
        if want[0] != have[0]:
            return f"cell {number} is {have[0]}, expected {want[0]}"
        if want[1] != have[1]:
            first_line = want[1].splitlines()[0] if want[1] else ""
            return f"cell {number} source differs (expected it to start {first_line[:60]!r})"
    return "cells equal, but ids, metadata or layout differ from what the generator writes"


def check_pair(source: Path | str, root: Path | str | None = None) -> list[Problem]:
    """Compare one ``.md`` source with the ``.ipynb`` committed beside it.

    Example:
        >>> check_pair("book/datasets/retina.md")   # doctest: +SKIP
        []
    """
    source = Path(source)
    target = source.with_suffix(".ipynb")
    try:
        expected = expected_notebook(source, root)
    except ConversionError as error:
        return [Problem(target, "error", str(error))]
    if not target.exists():
        return [Problem(target, "missing", f"no notebook beside {source.name}; run tools/check_notebooks.py --fix")]
    committed_text = target.read_text(encoding="utf-8")
    try:
        committed = nbformat.reads(committed_text, as_version=4)
    except Exception as error:  # a broken file is a stale one, whatever broke it
        return [Problem(target, "stale", f"cannot be read as a notebook ({error}); run --fix")]
    with_outputs = [
        number
        for number, cell in enumerate(committed.cells, start=1)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    if with_outputs:
        return [
            Problem(target, "outputs", f"cells {with_outputs} carry outputs or execution counts; commit it without outputs (--fix)")
        ]
    if committed_text != notebook_text(expected):
        detail = _first_difference(_cell_summary(expected), _cell_summary(committed))
        return [Problem(target, "stale", f"{detail}; regenerate with --fix")]
    return []


def check(root: Path | str = REPOSITORY_ROOT) -> list[Problem]:
    """Check every notebook pair under ``root/book``; return the problems found (empty when in sync).

    Example:
        >>> check()   # doctest: +SKIP
        []
    """
    book = Path(root) / "book"
    sources = notebook_sources(root)
    problems = [problem for source in sources for problem in check_pair(source, root)]
    paired = {source.with_suffix(".ipynb") for source in sources}
    for notebook in sorted(book.rglob("*.ipynb")):
        # a Spanish notebook (<page>.es.ipynb) is generated from the translations: tools/i18n.py checks it
        if _visible(notebook, book) and notebook not in paired and not notebook.name.endswith(".es.ipynb"):
            problems.append(
                Problem(notebook, "orphan", "no .md with a kernelspec beside it; the book never builds it (delete it or add its source)")
            )
    return problems


def write_notebook(source: Path | str, root: Path | str | None = None) -> Path:
    """Write the Colab ``.ipynb`` for a MyST ``.md`` source, atomically (temporary file, then rename).

    Example:
        >>> write_notebook("book/datasets/retina.md")   # doctest: +SKIP
        PosixPath('book/datasets/retina.ipynb')
    """
    source = Path(source)
    target = source.with_suffix(".ipynb")
    text = notebook_text(expected_notebook(source, root))
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".ipynb.tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def fix(root: Path | str = REPOSITORY_ROOT) -> list[Path]:
    """Rewrite every missing, stale or output-carrying ``.ipynb`` from its ``.md``; return those written.

    Orphan notebooks are reported by :func:`check` but never deleted.

    Example:
        >>> fix()   # doctest: +SKIP
        [PosixPath('book/datasets/retina.ipynb')]
    """
    written = []
    for source in notebook_sources(root):
        if any(problem.kind in {"missing", "stale", "outputs"} for problem in check_pair(source, root)):
            written.append(write_notebook(source, root))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: check (exit status 1 when anything is out of sync), or ``--fix``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPOSITORY_ROOT, help="repository root (default: this repository)")
    parser.add_argument("--fix", action="store_true", help="regenerate missing or stale .ipynb from their .md")
    arguments = parser.parse_args(argv)
    if arguments.fix:
        for path in fix(arguments.root):
            print(f"wrote {os.path.relpath(path, arguments.root)}")
    problems = check(arguments.root)
    for problem in problems:
        shown = os.path.relpath(problem.path, arguments.root)
        print(f"{problem.kind}: {shown}: {problem.detail}", file=sys.stderr)
    sources = notebook_sources(arguments.root)
    if problems:
        print(f"{len(problems)} problem(s) in {len(sources)} notebook pair(s).", file=sys.stderr)
        return 1
    print(f"{len(sources)} notebook pair(s) in sync.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
