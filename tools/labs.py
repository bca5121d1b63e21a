"""Make the labs: from each lab's one source, a student notebook and an autograder.

A lab is ``labs/<lab>/<lab>.md``, a MyST Markdown notebook (jupytext) in Otter-Grader's
assignment format: questions, solutions and tests together, public and hidden tests told
apart by ``hidden: true``. For each lab this script

1. converts the ``.md`` to a notebook (jupytext) and runs ``otter assign`` on it, into
   ``_build/labs/<lab>/``: ``student/<lab>.ipynb`` (no solutions, no hidden tests, public
   checks in ``student/tests/``) and ``autograder/`` (the solution notebook
   ``<lab>.ipynb`` and all tests in ``tests/``, readable by the instructor's user only; Otter's
   Gradescope zip is removed: Gradescope is not offered), and ``source.sha256``, the
   fingerprint ``make grade`` compares to rebuild a lab whose source changed;
2. adds, after the title of both notebooks, an Open-in-Colab link and a setup cell that
   installs ``otter-grader`` (``--no-deps``, with the few of its dependencies Colab lacks, so
   Colab's ipywidgets and wrapt stay) and ``medcnn`` (the repository URL and branch from
   ``_config.yml``, as in the chapters' Colab notebooks) where they are missing and writes
   the **public** checks to ``tests/<lab>/`` beside the notebook, so ``grader.check("q1")``
   works in Colab and locally from the notebook alone, with no server;
3. checks that the student notebook holds no solution line and no hidden test;
4. with ``--publish``, copies the student notebook to ``labs/<lab>/student/<lab>.ipynb``,
   the committed copy the site links to (download and Colab); ``--check`` fails when a
   committed copy differs from what the source gives now.

Usage::

    python tools/labs.py [--out _build/labs] [--publish | --check] [LAB ...]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

OTTER_VERSION = "7.0.0"
# What `grader.check` needs of Otter's dependencies and Colab lacks, installed with `--no-deps`:
# Otter 6.x-7.0 require ipywidgets>=8.1.5 and wrapt<2, and pip would replace Colab's ipywidgets 7
# and wrapt 2 (an ipywidgets upgrade has broken Colab's widgets and tqdm bars before, colabtools
# #3020, #3023). The rest of what `otter.Notebook` imports (IPython, nbformat, pandas, dill, wrapt,
# PyYAML, Jinja2, ipywidgets) Colab has; tests/test_labs_colab.py checks it on Colab's stack.
OTTER_NO_DEPS = (f"otter-grader=={OTTER_VERSION}", "python-frontmatter==1.3.0", "fica==0.4.1", "ipylab==1.1.0")
# Lines of a source that must never reach a student: Otter's solution markers and the
# configuration line of a hidden test.
SOLUTION_MARKERS = ("# SOLUTION", "# BEGIN SOLUTION", "# END SOLUTION", "hidden: true")


class LabError(Exception):
    """A lab's source or output is not what the labs need; the message names the file."""


def lab_sources(root: pathlib.Path = ROOT, names=()) -> dict[str, pathlib.Path]:
    """Return ``{lab: labs/<lab>/<lab>.md}`` for every lab (or the ``names`` asked for)."""
    sources = {path.parent.name: path for path in sorted((root / "labs").glob("*/*.md")) if path.stem == path.parent.name}
    if not sources:
        raise LabError(f"no lab found: expected labs/<lab>/<lab>.md under {root}")
    unknown = sorted(set(names) - set(sources))
    if unknown:
        raise LabError(f"no lab named {', '.join(unknown)}: the labs are {', '.join(sources)}")
    return {name: sources[name] for name in (names or sources)}


def _book():
    from colab_notebook import Book

    return Book(ROOT)


def colab_url(lab: str) -> str:
    """Open-in-Colab address of a lab's committed student notebook."""
    book = _book()
    repository = book.repository_url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repository}/blob/{book.install_ref}/labs/{lab}/student/{lab}.ipynb"


def _setup_cells(lab: str, public_tests: dict[str, str]):
    import nbformat

    book = _book()
    intro = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(lab)})\n\n"
        "**Run the next cell first.** Where they are missing (in Colab, for example) it installs "
        f"`otter-grader` and the course's package `medcnn` from [the course's repository]({book.repository_url}); "
        f"everywhere it writes the public checks to `tests/{lab}/` beside this notebook, so that "
        "`grader.check(...)` works here without any server. The lab runs in the **smoke** profile "
        "(small synthetic data, seconds on a laptop CPU); where a lab offers the full profile, its "
        "settings cell says how to switch. "
        f"This notebook is made from the lab's source, `labs/{lab}/{lab}.md`; the lab is listed on "
        f"[the course's site]({book.site_url}book/labs/index.html)."
    )
    checks = json.dumps(public_tests, indent=1, sort_keys=True)
    code = (
        f"# @title Setup: install what is missing, then write the public checks to tests/{lab}/ {{ display-mode: \"form\" }}\n"
        "import importlib.util\n"
        "import json\n"
        "import pathlib\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'missing = [name for name in ("otter", "medcnn") if importlib.util.find_spec(name) is None]\n'
        'if "otter" in missing:  # --no-deps: keeps Colab\'s ipywidgets and wrapt as they are\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",\n'
        f'                    {", ".join(repr(package).replace(chr(39), chr(34)) for package in OTTER_NO_DEPS)}], check=True)\n'
        'if "medcnn" in missing:\n'
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "{book.install_url}"], check=True)\n'
        f"PUBLIC_CHECKS = json.loads(r'''{checks}''')\n"
        f'pathlib.Path("tests/{lab}").mkdir(parents=True, exist_ok=True)\n'
        "for name, text in PUBLIC_CHECKS.items():\n"
        f'    path = pathlib.Path("tests/{lab}") / name\n'
        "    if not path.exists():  # never replace the checks a grader put there\n"
        '        path.write_text(text, encoding="utf-8")'
    )
    if "'''" in checks:
        raise LabError(f"lab {lab}: a public test contains ''' and cannot be embedded in the setup cell")
    return nbformat.v4.new_markdown_cell(intro), nbformat.v4.new_code_cell(code)


def _finish_notebook(path: pathlib.Path, lab: str, public_tests: dict[str, str]) -> None:
    """Add the Colab link and setup cell after the title; stable ids, no outputs, no jupytext metadata."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    title = next((i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and cell.source.startswith("# ")), None)
    if title is None:
        raise LabError(f"labs/{lab}/{lab}.md: the lab must start with a '# ' title")
    title_cell = cells.pop(title)
    init = [cell for cell in cells if cell.cell_type == "code" and "otter.Notebook(" in cell.source]
    if len(init) != 1:
        raise LabError(f"labs/{lab}/{lab}.md: expected Otter's one init cell (init_cell: true), found {len(init)}")
    # Otter's init cell names the notebook file, which Colab does not have on disk and a student
    # may rename: the checks are read from tests/ instead, wherever the notebook runs.
    init[0].source = (
        f'# Initialize Otter: grader.check(...) runs the public checks in tests/{lab}/.\n'
        "import otter\n"
        f'grader = otter.Notebook(tests_dir="tests/{lab}")'
    )
    intro, setup = _setup_cells(lab, public_tests)
    notebook.cells = [title_cell, intro, setup, *cells]
    for position, cell in enumerate(notebook.cells):
        cell["id"] = f"{lab}-{position:02d}"
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["colab"] = {"provenance": []}
    nbformat.write(notebook, path)


def _check_student(lab: str, student: pathlib.Path, autograder_tests: pathlib.Path) -> None:
    text = student.read_text(encoding="utf-8")
    for marker in SOLUTION_MARKERS:
        if marker in text:
            raise LabError(f"{student}: holds {marker!r}: a solution or hidden test reached the student notebook")
    for test_file in autograder_tests.glob("*.py"):
        hidden = re.findall(r"@test_case\([^)]*hidden=True[^)]*\)\ndef (\w+)", test_file.read_text(encoding="utf-8"))
        leaked = [name for name in hidden if name in text]
        if leaked:
            raise LabError(f"{student}: holds the hidden test {leaked[0]} of {test_file.name}")


def build_lab(lab: str, source: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Write ``out/<lab>/student`` and ``out/<lab>/autograder`` from the lab's source; return ``out/<lab>``."""
    import jupytext
    import nbformat

    target = out / lab
    # Only what this build makes is replaced: the lab's grades/ (grades, feedback, manual marks) stay.
    for made in ("student", "autograder"):
        if (target / made).exists():
            shutil.rmtree(target / made)
    with tempfile.TemporaryDirectory() as folder:
        master = pathlib.Path(folder) / f"{lab}.ipynb"
        nbformat.write(jupytext.read(source), master)
        result = subprocess.run(
            [sys.executable, "-m", "otter", "assign", "--no-pdfs", str(master), str(target)],
            capture_output=True, text=True, cwd=folder,
        )
    if result.returncode != 0:
        raise LabError(f"{source}: otter assign failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    autograder = target / "autograder"
    # Gradescope is not offered (its image would need medcnn and the labs' data): Otter's zip for
    # it is not kept, so that no one uploads one that cannot grade. `make grade` grades locally.
    for archive in autograder.glob(f"{lab}-autograder_*.zip"):
        archive.unlink()
    autograder.chmod(0o700)  # the solution and the hidden tests: for the instructor's user only
    public_tests = {path.name: path.read_text(encoding="utf-8") for path in sorted((target / "student" / "tests").glob("*.py"))}
    if not public_tests:
        raise LabError(f"{source}: no public test: every question needs at least one check the student can run")
    for notebook in (target / "student" / f"{lab}.ipynb", autograder / f"{lab}.ipynb"):
        _finish_notebook(notebook, lab, public_tests)
    _check_student(lab, target / "student" / f"{lab}.ipynb", autograder / "tests")
    (target / "source.sha256").write_text(source_digest(source) + "\n")
    return target


def source_digest(source: pathlib.Path) -> str:
    """Fingerprint of what a lab's build is made from: its source and this script (``make grade`` rebuilds on change)."""
    import hashlib

    return hashlib.sha256(source.read_bytes() + pathlib.Path(__file__).resolve().read_bytes()).hexdigest()


def published_copy(lab: str, root: pathlib.Path = ROOT) -> pathlib.Path:
    """Where the committed student notebook of ``lab`` lives (the site's download and Colab link)."""
    return root / "labs" / lab / "student" / f"{lab}.ipynb"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labs", nargs="*", help="lab names (default: every lab under labs/)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "labs"), help="output folder (default _build/labs)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--publish", action="store_true", help="copy each student notebook to labs/<lab>/student/")
    mode.add_argument("--check", action="store_true", help="fail if a committed student notebook is out of date")
    arguments = parser.parse_args(argv)
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    stale = []
    try:
        for lab, source in lab_sources(names=arguments.labs).items():
            start = time.perf_counter()
            target = build_lab(lab, source, out)
            student = target / "student" / f"{lab}.ipynb"
            copy = published_copy(lab)
            if arguments.publish:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(student, copy)
            elif arguments.check and (not copy.is_file() or copy.read_bytes() != student.read_bytes()):
                stale.append(str(copy.relative_to(ROOT)))
            print(f"{lab}: {target / 'student'} and {target / 'autograder'} ({time.perf_counter() - start:.1f} s)")
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if stale:
        print("out of date (run `make publish-labs`, then commit them): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
