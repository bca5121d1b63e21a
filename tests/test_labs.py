"""The labs: generated from one source each, graded locally, safe against bad submissions.

Each lab is built once (``tools/labs.py``) and graded once (``tools/labs_grade.py``) per
module: its solution notebook and its untouched student notebook; the cheapest lab also
grades the bad submissions (an endless loop, a dying kernel, deleted and reordered cells
with an error and megabytes of output, an empty file, a file that is not a notebook).
"""

from __future__ import annotations

import csv
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("otter", reason="the labs need otter-grader: make setup-labs (requirements-labs.txt)")
nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.labs

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import labs  # noqa: E402
import labs_grade  # noqa: E402

LABS = sorted(labs.lab_sources())
CHEAP_LAB = "measuring"  # no Keras: the bad submissions are graded on this one

# One wrong answer per lab: (question, the student's variables, words the failing public check must show).
WRONG_ANSWERS = {
    "measuring": ("q1", {"glioma_precision": 23 / 28}, "recall"),
    "convolution": ("q1", {"conv_output_size": lambda size, kernel_size, stride=1, padding=0: size - kernel_size},
                    "(6 - 3) / 1 + 1"),
    "adam": ("q1", {"steps_per_epoch": 7}, "half batch"),
    "brain_tumor": ("q1", {"num_patients": 18, "most_images_one_patient": 3, "index": list(range(18))},
                    "fewer patients than images"),
    "covid19": ("q2", {"class_weights": [3.0, 2.0, 1.0]}, "rarest class"),
    "shortcut": ("q1", {"marker_share_diseased": 0.05, "marker_share_healthy": 0.95}, "train.labels == 1"),
    "retina": ("q2", {"output_units": 1, "output_activation": "softmax", "loss_name": "binary_crossentropy"},
               "softmax over one unit"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    # `make test-labs` runs `make labs` first (which checks the committed copies) and sets
    # MEDCNN_LABS_BUILT=1: the labs it just built are used instead of building them again.
    reuse = ROOT / "_build" / "labs"
    if os.environ.get("MEDCNN_LABS_BUILT") == "1" and all(
        (reuse / lab / "autograder" / "autograder.zip").is_file() for lab in LABS
    ):
        return reuse
    out = tmp_path_factory.mktemp("labs")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "labs.py"), "--out", str(out), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _cell_with(notebook, text):
    return next(i for i, cell in enumerate(notebook.cells) if text in cell.source)


def _bad_submissions(folder: pathlib.Path, solution: pathlib.Path) -> None:
    (folder / "not_a_notebook.ipynb").write_text("print('hello')\n")
    (folder / "empty.ipynb").write_text("")
    notebook = nbformat.read(solution, as_version=4)
    loop = nbformat.v4.new_code_cell("while True:\n    pass")
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q1")'), loop)
    nbformat.write(notebook, folder / "endless.ipynb")
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q1")'), nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    nbformat.write(notebook, folder / "dies.ipynb")
    notebook = nbformat.read(solution, as_version=4)
    del notebook.cells[_cell_with(notebook, 'grader.check("q1")')]
    second, third = _cell_with(notebook, 'grader.check("q2")'), _cell_with(notebook, 'grader.check("q3")')
    notebook.cells[second], notebook.cells[third] = notebook.cells[third], notebook.cells[second]
    flood = nbformat.v4.new_code_cell("print('x' * 100_000 * 30)\nraise RuntimeError('student bug')")
    notebook.cells.insert(_cell_with(notebook, 'grader.check("q2")') - 1, flood)
    nbformat.write(notebook, folder / "damaged.ipynb")


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory):
    """{lab: {file: row}} from grading each lab's solution and untouched student notebook."""
    table = {}
    for lab in LABS:
        folder = tmp_path_factory.mktemp(f"submissions-{lab}")
        shutil.copyfile(built / lab / "autograder" / f"{lab}.ipynb", folder / "solution.ipynb")
        shutil.copyfile(built / lab / "student" / f"{lab}.ipynb", folder / "student.ipynb")
        if lab == CHEAP_LAB:
            _bad_submissions(folder, folder / "solution.ipynb")
        # 10 s per cell where the endless loop is; Keras's import alone may take longer on a busy CPU
        cell_timeout = 10 if lab == CHEAP_LAB else 120
        out = labs_grade.grade_folder(lab, folder, labs_dir=built, out=folder.parent / f"grades-{lab}.csv", timeout=300,
                                      cell_timeout=cell_timeout, max_output=200_000, jobs=2)
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0])[:4] == ["file", "score", "possible", "reason"]
        table[lab] = {row["file"]: row for row in rows}
    return table


def test_at_least_six_labs_with_four_to_eight_questions(built):
    assert len(LABS) >= 6, LABS
    for lab in LABS:
        questions = sorted((built / lab / "autograder" / "tests").glob("q*.py"))
        assert 4 <= len(questions) <= 8, (lab, [path.name for path in questions])
        assert (built / lab / "autograder" / "autograder.zip").is_file()


def _solution_lines(source: pathlib.Path) -> list[str]:
    """The code lines of a lab's source that only the solution has (``# SOLUTION`` or inside a solution block)."""
    lines, in_code, inside = [], False, False
    for line in source.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = stripped.startswith("```{code-cell}")
            continue
        if not in_code:
            continue
        if stripped in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = stripped == "# BEGIN SOLUTION"
            continue
        code = stripped.removesuffix("# SOLUTION").strip()
        if (inside or stripped.endswith("# SOLUTION")) and len(code) > 12 and not code.startswith("#"):
            lines.append(code)
    return lines


def test_student_notebooks_hold_no_solution_and_no_hidden_test(built):
    for lab in LABS:
        student = (built / lab / "student" / f"{lab}.ipynb").read_text()
        student_sources = "\n".join(cell.source for cell in nbformat.reads(student, as_version=4).cells)
        for marker in labs.SOLUTION_MARKERS:
            assert marker not in student, (lab, marker)
        solution_lines = _solution_lines(labs.lab_sources()[lab])
        assert solution_lines, lab
        for code in solution_lines:
            assert code not in student_sources, f"{lab}: the solution line {code!r} is in the student notebook"
        for test_file in (built / lab / "autograder" / "tests").glob("*.py"):
            text = test_file.read_text()
            hidden = [block for block in text.split("@test_case(")[1:] if "hidden=True" in block.split(")")[0]]
            assert hidden, f"{lab} {test_file.name}: each question has a hidden test"
            for block in hidden:
                name = block.split("def ")[1].split("(")[0]
                assert name not in student, (lab, name)
                assert name not in (built / lab / "student" / "tests" / test_file.name).read_text()


def test_student_notebook_carries_colab_link_install_cell_and_public_checks(built):
    config_url = labs._book().repository_url
    for lab in LABS:
        notebook = nbformat.read(built / lab / "student" / f"{lab}.ipynb", as_version=4)
        text = "\n".join(cell.source for cell in notebook.cells)
        assert labs.colab_url(lab) in text and "colab.research.google.com/github/" in labs.colab_url(lab)
        assert "otter-grader==" in text and f"git+{config_url}@" in text
        assert 'otter.Notebook(tests_dir="tests")' in text
        assert "grader.check(" in text


def test_committed_student_notebooks_are_current(built):
    for lab in LABS:
        committed = labs.published_copy(lab)
        assert committed.read_bytes() == (built / lab / "student" / f"{lab}.ipynb").read_bytes(), (
            f"{committed} is out of date: run `make publish-labs` and commit it"
        )


def test_solution_scores_full_marks(grades):
    for lab, rows in grades.items():
        row = rows["solution.ipynb"]
        assert float(row["score"]) == float(row["possible"]) > 0, (lab, row)


def test_untouched_student_notebook_runs_without_error_and_scores_less(grades):
    for lab, rows in grades.items():
        row = rows["student.ipynb"]
        assert float(row["score"]) < float(row["possible"]), (lab, row)
        assert "errors in" not in row["reason"] and "stopped" not in row["reason"], (lab, row["reason"])


def test_every_lab_has_a_wrong_answer_case():
    assert sorted(WRONG_ANSWERS) == LABS


@pytest.mark.parametrize("lab", sorted(WRONG_ANSWERS))
def test_wrong_answer_fails_its_public_check_with_a_helpful_message(built, lab):
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    question, variables, words = WRONG_ANSWERS[lab]
    public = create_test_file(str(built / lab / "student" / "tests" / f"{question}.py"), NBMetadataConfig())
    environment = {"np": pytest.importorskip("numpy"), **variables}
    public.run(environment)
    assert not public.passed_all
    assert words in public.summary(), public.summary()


def test_bad_submissions_are_stopped_and_scored(grades):
    rows = grades[CHEAP_LAB]
    possible = float(rows["solution.ipynb"]["possible"])
    assert rows["not_a_notebook.ipynb"]["score"] == "0.0" and "not a Jupyter notebook" in rows["not_a_notebook.ipynb"]["reason"]
    assert rows["empty.ipynb"]["score"] == "0.0" and "empty" in rows["empty.ipynb"]["reason"]
    endless = rows["endless.ipynb"]
    assert "stopped after 10 s" in endless["reason"] and float(endless["score"]) == possible, endless
    dies = rows["dies.ipynb"]
    assert float(dies["score"]) == 0 and "kernel died" in dies["reason"], dies
    damaged = rows["damaged.ipynb"]
    for words in ("check cells deleted: q1", "reordered", "RuntimeError", "dropped"):
        assert words in damaged["reason"], damaged
    assert float(damaged["score"]) == possible, damaged  # the hidden tests grade the answers, not the check cells


def test_grade_command_needs_a_built_lab(tmp_path):
    with pytest.raises(SystemExit, match="make labs"):
        labs_grade.grade_folder("measuring", tmp_path, labs_dir=tmp_path / "nowhere")


def test_labs_page_lists_every_lab_with_working_links():
    import re

    page = (ROOT / "book" / "labs" / "index.md").read_text()
    assert "file: book/labs/index" in (ROOT / "_toc.yml").read_text(), "the Labs part is in _toc.yml"
    for lab in LABS:
        row = next((line for line in page.splitlines() if f"labs/{lab}/student/{lab}.ipynb" in line), None)
        assert row, f"book/labs/index.md has no row for the lab {lab}"
        assert f"{{download}}`download <../../labs/{lab}/student/{lab}.ipynb>`" in row
        assert f"]({labs.colab_url(lab)})" in row, f"{lab}: the Colab link must be {labs.colab_url(lab)}"
        assert labs.published_copy(lab).is_file()
    for page_path in (ROOT / "book" / "labs" / "index.md", ROOT / "book" / "start" / "instructors.md"):
        for target in re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", page_path.read_text()):
            assert (page_path.parent / f"{target}.md").resolve().is_file(), f"{page_path.name}: {{doc}} {target} does not exist"


@pytest.mark.browser
def test_built_site_publishes_the_student_notebooks():
    # run with the browser test, on a finished build (make test builds the book beside the tests)
    page = ROOT / "_build" / "html" / "book" / "labs" / "index.html"
    if os.environ.get("MEDCNN_BOOK_BUILT") != "1" or not page.is_file():
        pytest.skip("the site is not built here (make book); the Labs page's sources are checked above")
    html = page.read_text()
    for lab in LABS:
        downloads = [link for link in __import__("re").findall(r'href="([^"]+)"', html) if link.endswith(f"/{lab}.ipynb")]
        assert any("_downloads" in link for link in downloads), f"{lab}: no download link on the built Labs page"
        for link in downloads:
            if not link.startswith("http"):
                assert (page.parent / link).resolve().is_file(), link
        assert labs.colab_url(lab) in html


def test_a_notebook_that_never_calls_the_checks_is_noted(built, tmp_path):
    solution = nbformat.read(built / CHEAP_LAB / "autograder" / f"{CHEAP_LAB}.ipynb", as_version=4)
    solution.cells = [cell for cell in solution.cells if "grader.check(" not in cell.source]
    nbformat.write(solution, tmp_path / "no_checks.ipynb")
    expected = labs_grade._expected_checks(built / CHEAP_LAB / "autograder", CHEAP_LAB)
    assert expected == [f"q{number}" for number in range(1, len(expected) + 1)]
    problem, notes = labs_grade.inspect_submission(tmp_path / "no_checks.ipynb", expected)
    assert problem is None and any("never calls the checks" in note for note in notes), notes
