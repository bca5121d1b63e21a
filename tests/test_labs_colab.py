"""The labs on Colab's stack: the install cell keeps Colab's ipywidgets and wrapt, and grader.check works.

Every Otter 6.x-7.0 requires ``ipywidgets>=8.1.5`` and ``wrapt<2``; a plain ``pip install
otter-grader`` on Colab replaces its ipywidgets 7 and wrapt 2 (and an ipywidgets upgrade has
broken Colab's widgets and tqdm bars before). The labs' first cell installs Otter with
``--no-deps`` and the few packages it needs that Colab lacks (``labs.OTTER_NO_DEPS``). This test
runs that very cell, from a committed student notebook, in the Python it runs under, then checks
that no installed version changed and that ``grader.check`` fails a wrong answer and passes a
right one.

It installs packages into the running environment, so it runs only when asked for by its marker,
in the Colab-stack venv (``make test-colab``)::

    .venv-colab/bin/python -m pytest -q tests/test_labs_colab.py -m colab_stack -p no:cacheprovider
"""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.colab_stack

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAB = "measuring"
# What Colab has and Otter imports: the install cell must leave each at Colab's version.
KEPT = ("ipywidgets", "wrapt", "dill", "PyYAML", "Jinja2", "ipython", "nbformat", "pandas")


def _versions() -> dict[str, str | None]:
    versions = {}
    for name in KEPT:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@pytest.fixture
def asked_for(request):
    if "colab_stack" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("installs packages into this environment: run it with -m colab_stack (make test-colab)")


def _setup_cell(lab: str) -> str:
    notebook = json.loads((ROOT / "labs" / lab / "student" / f"{lab}.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    setup = next(source for source in sources if "PUBLIC_CHECKS" in source)
    assert '"--no-deps"' in setup, "the labs' install cell must install Otter with --no-deps"
    return setup


def test_install_cell_keeps_colab_versions_and_checks_score(asked_for, tmp_path):
    before = _versions()
    missing = [name for name, version in before.items() if version is None]
    assert not missing, (f"this environment lacks {', '.join(missing)}, which Colab has: pin Colab's versions in "
                         "requirements-colab.txt so that this checks what a student gets")
    result = subprocess.run([sys.executable, "-c", _setup_cell(LAB)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert _versions() == before, {name: (before[name], version) for name, version in _versions().items()
                                   if version != before[name]}
    assert (tmp_path / "tests" / LAB / "q1.py").is_file()
    check = (
        "import otter\n"
        f'grader = otter.Notebook(tests_dir="tests/{LAB}")\n'
        "glioma_precision = 23 / 28  # the recall: wrong\n"
        'wrong = grader.check("q1")\n'
        "glioma_precision = 23 / 27  # the precision: right\n"
        'right = grader.check("q1")\n'
        "print('RESULT', wrong.passed_all, right.passed_all)\n"
        "print('MESSAGE', 'recall' in str(wrong.summary()))\n"
    )
    result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "RESULT False True" in result.stdout, result.stdout[-2000:]
    assert "MESSAGE True" in result.stdout, "the failing check names what is wrong"
