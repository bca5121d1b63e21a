"""The .md <-> .ipynb sync check (tools/check_notebooks.py) on this repository and on edited copies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import CHAPTER_FRONT_MATTER, REPOSITORY, TOOLS, load_tool

TOOL = TOOLS / "check_notebooks.py"

CHAPTER = CHAPTER_FRONT_MATTER + """# A small chapter

Some text before the code.

```{code-cell} ipython3
:tags: [remove-stderr]
total = sum(range(4))
print(total)
```

More text after it.
"""


check_notebooks = load_tool("check_notebooks")


@pytest.fixture
def small_book(tmp_path):
    """A repository copy with one MyST chapter, its in-sync .ipynb, and one plain page."""
    chapters = tmp_path / "book" / "part"
    chapters.mkdir(parents=True)
    source = chapters / "chapter.md"
    source.write_text(CHAPTER, encoding="utf-8")
    (tmp_path / "book" / "plain.md").write_text("# A page without code\n", encoding="utf-8")
    check_notebooks.write_notebook(source)
    return tmp_path


def _kinds(root):
    return sorted((problem.kind, problem.path.name) for problem in check_notebooks.check(root))


def test_repository_notebooks_are_in_sync():
    problems = check_notebooks.check(REPOSITORY)
    assert problems == [], "\n".join(str(problem) for problem in problems)


def test_command_line_passes_on_a_book_in_sync(small_book):
    # the repository itself is checked in-process above (the same check, without a second process)
    result = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(small_book)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "in sync" in result.stdout


def test_only_md_with_kernelspec_counts_as_notebook(small_book):
    sources = check_notebooks.notebook_sources(small_book)
    assert [path.name for path in sources] == ["chapter.md"]
    assert check_notebooks.check(small_book) == []


def test_edited_notebook_is_reported_stale(small_book):
    target = small_book / "book" / "part" / "chapter.ipynb"
    notebook = json.loads(target.read_text(encoding="utf-8"))
    code_cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code_cell["source"] = ["total = sum(range(5))\n", "print(total)"]
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")

    assert _kinds(small_book) == [("stale", "chapter.ipynb")]
    result = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(small_book)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "stale: book/part/chapter.ipynb" in result.stderr


def test_edited_markdown_makes_notebook_stale_and_fix_repairs_it(small_book):
    source = small_book / "book" / "part" / "chapter.md"
    source.write_text(CHAPTER.replace("More text after it.", "Different text after it."), encoding="utf-8")
    assert _kinds(small_book) == [("stale", "chapter.ipynb")]

    result = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(small_book), "--fix"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "wrote book/part/chapter.ipynb" in result.stdout
    assert check_notebooks.check(small_book) == []
    written = json.loads((small_book / "book" / "part" / "chapter.ipynb").read_text(encoding="utf-8"))
    assert "".join(written["cells"][-1]["source"]) == "Different text after it."


def test_cell_type_change_is_stale(small_book):
    target = small_book / "book" / "part" / "chapter.ipynb"
    notebook = json.loads(target.read_text(encoding="utf-8"))
    code_cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code_cell["cell_type"] = "markdown"
    del code_cell["outputs"], code_cell["execution_count"]
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    problems = check_notebooks.check(small_book)
    assert [problem.kind for problem in problems] == ["stale"]
    assert "is markdown, expected code" in problems[0].detail


def test_outputs_in_committed_notebook_are_reported(small_book):
    target = small_book / "book" / "part" / "chapter.ipynb"
    notebook = json.loads(target.read_text(encoding="utf-8"))
    code_cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code_cell["execution_count"] = 1
    code_cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["6\n"]}]
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    assert _kinds(small_book) == [("outputs", "chapter.ipynb")]
    assert [path.name for path in check_notebooks.fix(small_book)] == ["chapter.ipynb"]
    assert check_notebooks.check(small_book) == []


def test_missing_and_orphan_notebooks_are_reported(small_book):
    (small_book / "book" / "part" / "chapter.ipynb").rename(small_book / "book" / "lonely.ipynb")
    assert _kinds(small_book) == [("missing", "chapter.ipynb"), ("orphan", "lonely.ipynb")]
    check_notebooks.fix(small_book)
    # fix writes the missing notebook but never deletes an orphan
    assert _kinds(small_book) == [("orphan", "lonely.ipynb")]


def test_build_folders_are_ignored(small_book):
    built = small_book / "book" / "_build"
    built.mkdir()
    (built / "copy.ipynb").write_text("{}", encoding="utf-8")
    checkpoints = small_book / "book" / "part" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "chapter-checkpoint.ipynb").write_text("{}", encoding="utf-8")
    assert check_notebooks.check(small_book) == []
