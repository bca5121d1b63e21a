"""The Foundations chapters: present, paired with an in-sync .ipynb, and shaped like a chapter.

Each chapter under book/foundations/ is a MyST Markdown notebook (jupytext) with its
.ipynb beside it, generated without outputs (tests/test_notebooks_sync.py checks that the
committed .ipynb is the generated one). These tests check that it holds no outputs, and the
sections every chapter must have: a single # title, learning objectives at the top, a
summary, and at least three exercises each followed by a dropdown solution.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

FOUNDATIONS = Path(__file__).resolve().parent.parent / "book" / "foundations"
# Every page the table of contents picks up (its glob: book/foundations/[0-9][0-9]_*), so a new
# page is checked the day it is added; the ten numbered chapters must all be there.
CHAPTERS = sorted(path.stem for path in FOUNDATIONS.glob("[0-9][0-9]_*.md"))
assert {stem[:2] for stem in CHAPTERS} >= {f"{number:02d}" for number in range(1, 11)}, CHAPTERS
SOLUTION = re.compile(r"^```\{admonition\} Solution\n:class: dropdown\n", flags=re.MULTILINE)


def _markdown(stem: str) -> str:
    return (FOUNDATIONS / f"{stem}.md").read_text(encoding="utf-8")


def _headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every Markdown heading outside fenced blocks."""
    headings, fence = [], None
    for line in text.splitlines():
        marker = re.match(r"^(`{3,})", line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif line.strip() == fence:
                fence = None
            continue
        if fence is None:
            match = re.match(r"^(#{1,6}) (.+)$", line)
            if match:
                headings.append((len(match.group(1)), match.group(2).strip()))
    return headings


@pytest.mark.parametrize("stem", CHAPTERS)
def test_notebook_is_committed_without_outputs(stem):
    # that it is the notebook generated from the chapter is checked for every chapter at once
    # by tests/test_notebooks_sync.py (tools/check_notebooks.py)
    committed_path = FOUNDATIONS / f"{stem}.ipynb"
    assert committed_path.exists(), f"{committed_path} is missing: run python tools/check_notebooks.py --fix"
    committed = nbformat.read(committed_path, as_version=4)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{committed_path.name} holds outputs"
    assert committed.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_front_matter_makes_it_executable(stem):
    notebook = jupytext.reads(_markdown(stem), fmt="md:myst")
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert any(cell.cell_type == "code" for cell in notebook.cells)


@pytest.mark.parametrize("stem", CHAPTERS)
def test_headings_have_one_title_and_do_not_skip_levels(stem):
    headings = _headings(_markdown(stem))
    assert headings[0][0] == 1 and [level for level, _ in headings].count(1) == 1
    for (previous, _), (level, title) in zip(headings, headings[1:]):
        assert level <= previous + 1, f"{stem}: heading {title!r} skips a level"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_required_sections(stem):
    titles = [title for level, title in _headings(_markdown(stem)) if level == 2]
    assert titles[0] == "Learning objectives", f"{stem}: learning objectives must come first"
    assert "Summary" in titles and "Exercises" in titles
    assert titles.index("Summary") < titles.index("Exercises") == len(titles) - 1


@pytest.mark.parametrize("stem", CHAPTERS)
def test_at_least_three_exercises_each_with_a_hidden_solution(stem):
    text = _markdown(stem)
    exercises_part = text[text.index("\n## Exercises\n") :]
    exercises = re.split(r"^### ", exercises_part, flags=re.MULTILINE)[1:]
    assert len(exercises) >= 3, f"{stem}: {len(exercises)} exercises, expected at least 3"
    for exercise in exercises:
        title = exercise.splitlines()[0]
        assert len(SOLUTION.findall(exercise)) == 1, f"{stem}: exercise {title!r} needs one dropdown solution"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_every_code_cell_follows_text(stem):
    notebook = jupytext.reads(_markdown(stem), fmt="md:myst")
    for previous, cell in zip(notebook.cells, notebook.cells[1:]):
        if cell.cell_type == "code":
            assert previous.cell_type == "markdown", f"{stem}: a code cell follows another without a sentence"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_tensorflow_log_is_hidden_where_keras_is_imported(stem):
    notebook = jupytext.reads(_markdown(stem), fmt="md:myst")
    for cell in notebook.cells:
        if cell.cell_type == "code" and re.search(r"^import keras", cell.source, flags=re.MULTILINE):
            assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"' in cell.source
            assert cell.source.index("TF_CPP_MIN_LOG_LEVEL") < cell.source.index("import keras")
            assert "remove-stderr" in cell.metadata.get("tags", [])


def test_related_work_data_file():
    import medcnn.related_work

    # the table ships inside the package (medcnn/related_work/related_work.csv)
    path = Path(medcnn.related_work.__file__).with_name("related_work.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [row["key"] for row in rows]
    assert len(keys) == len(set(keys))
    assert {"araujo2017", "wang2020", "ehteshamibejnordi2017", "tran2018", "booKyeong2020", "cinar2020"} <= set(keys)
    assert {"cheng2015", "chowdhury2020", "rahman2021", "pachade2021"} <= set(keys)
    cheng = next(row for row in rows if row["key"] == "cheng2015")
    assert "91.28%" in cheng["result"] and "patient-wise 5-fold" in cheng["evaluation"]
    assert {row["group"] for row in rows} == {"previous work", "course dataset"}
