"""Check that every executable chapter's committed ``.ipynb`` matches its ``.md``.

The book is built from MyST Markdown notebooks (``book/**/*.md`` whose front
matter has a ``kernelspec:``); Colab opens the paired ``.ipynb`` committed
beside each one. This tool regenerates each ``.ipynb`` in memory with jupytext
and compares it with the committed file, cell by cell (cell type and source).
The committed notebook must also carry no outputs. It does not look at file
times (``jupytext --sync`` does, which is why CI does not rely on it).

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

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
SKIPPED_FOLDERS = {"_build", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Problem:
    """One notebook that is not as it should be.

    Attributes:
        path: the ``.ipynb`` concerned (for ``orphan``, the notebook without a source).
        kind: ``missing`` (no ``.ipynb`` beside the ``.md``), ``stale`` (cells differ),
            ``outputs`` (the ``.ipynb`` carries outputs or execution counts), or
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


def expected_notebook(source: Path | str) -> nbformat.NotebookNode:
    """Return the notebook jupytext makes from a MyST ``.md`` source, without outputs.

    Example:
        >>> notebook = expected_notebook("book/datasets/retina.md")   # doctest: +SKIP
        >>> notebook.cells[0].cell_type                                # doctest: +SKIP
        'markdown'
    """
    return jupytext.read(Path(source), fmt="md:myst")


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
    return "cells differ"


def check_pair(source: Path | str) -> list[Problem]:
    """Compare one ``.md`` source with the ``.ipynb`` committed beside it.

    Example:
        >>> check_pair("book/datasets/retina.md")   # doctest: +SKIP
        []
    """
    source = Path(source)
    target = source.with_suffix(".ipynb")
    if not target.exists():
        return [Problem(target, "missing", f"no notebook beside {source.name}; run tools/check_notebooks.py --fix")]
    try:
        committed = nbformat.read(target, as_version=4)
    except Exception as error:  # a broken file is a stale one, whatever broke it
        return [Problem(target, "stale", f"cannot be read as a notebook ({error}); run --fix")]
    problems = []
    expected_cells = _cell_summary(expected_notebook(source))
    committed_cells = _cell_summary(committed)
    if expected_cells != committed_cells:
        detail = _first_difference(expected_cells, committed_cells)
        problems.append(Problem(target, "stale", f"{detail}; regenerate with --fix"))
    with_outputs = [
        number
        for number, cell in enumerate(committed.cells, start=1)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    if with_outputs:
        problems.append(
            Problem(target, "outputs", f"cells {with_outputs} carry outputs or execution counts; commit it without outputs (--fix)")
        )
    return problems


def check(root: Path | str = REPOSITORY_ROOT) -> list[Problem]:
    """Check every notebook pair under ``root/book``; return the problems found (empty when in sync).

    Example:
        >>> check()   # doctest: +SKIP
        []
    """
    book = Path(root) / "book"
    sources = notebook_sources(root)
    problems = [problem for source in sources for problem in check_pair(source)]
    paired = {source.with_suffix(".ipynb") for source in sources}
    for notebook in sorted(book.rglob("*.ipynb")):
        if _visible(notebook, book) and notebook not in paired:
            problems.append(
                Problem(notebook, "orphan", "no .md with a kernelspec beside it; the book never builds it (delete it or add its source)")
            )
    return problems


def write_notebook(source: Path | str) -> Path:
    """Write the ``.ipynb`` for a MyST ``.md`` source, atomically (temporary file, then rename).

    Example:
        >>> write_notebook("book/datasets/retina.md")   # doctest: +SKIP
        PosixPath('book/datasets/retina.ipynb')
    """
    source = Path(source)
    target = source.with_suffix(".ipynb")
    notebook = expected_notebook(source)
    text = jupytext.writes(notebook, fmt="ipynb")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".ipynb.tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text if text.endswith("\n") else text + "\n")
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
        if any(problem.kind in {"missing", "stale", "outputs"} for problem in check_pair(source)):
            written.append(write_notebook(source))
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
