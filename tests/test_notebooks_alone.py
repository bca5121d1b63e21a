"""Every paired Colab notebook runs alone: copied into an empty folder, with only medcnn installed.

The Spanish notebooks (``<page>.es.ipynb``) run too, as their readers' Colab would.

Each committed ``.ipynb`` is copied into a fresh temporary folder (no file of the
repository beside it) and executed top to bottom with nbclient in the smoke
profile, solutions included, as Colab's *Run all* would. Data and run folders go
to temporary folders of their own, named by ``MEDCNN_DATA_DIR`` and ``TMPDIR``.

Slow (every chapter is trained at smoke size): marked ``integration`` and
``notebooks``; run alone with ``pytest -m notebooks tests/test_notebooks_alone.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    notebook
    for path in (REPOSITORY / "book").rglob("*.md")
    if path.with_suffix(".ipynb").is_file() and "_build" not in path.parts
    # the English notebook and, where committed, its Spanish one (tools/i18n.py: the same code)
    for notebook in (path.with_suffix(".ipynb"), path.with_suffix(".es.ipynb"))
    if notebook.is_file()
)
TIMINGS: dict[str, float] = {}


@pytest.mark.integration
@pytest.mark.notebooks
@pytest.mark.parametrize("notebook_path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_alone_in_an_empty_folder(notebook_path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path / "colab"
    folder.mkdir()
    copy = folder / notebook_path.name
    shutil.copyfile(notebook_path, copy)
    for variable, name in (("MEDCNN_DATA_DIR", "data"), ("TMPDIR", "tmp"), ("KERAS_HOME", "keras")):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / name))
    monkeypatch.setenv("MEDCNN_PROFILE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PYTHONPATH", raising=False)

    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    started = time.perf_counter()
    client.execute()
    TIMINGS[notebook_path.stem] = time.perf_counter() - started

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count is not None for cell in code_cells), "a code cell did not run"
    errors = [output for cell in code_cells for output in cell.outputs if output.output_type == "error"]
    assert errors == [], errors
    # what the chapter printed says which profile ran (the smoke banner, where the chapter prints one)
    text = json.dumps([cell.outputs for cell in code_cells])
    assert "FULL RUN" not in text
    # nothing was read from, or written beside, the notebook except by the notebook's own cells' choice
    assert os.path.exists(copy)


def teardown_module(module):
    if TIMINGS:
        total = sum(TIMINGS.values())
        lines = [f"{name}: {seconds:.1f} s" for name, seconds in sorted(TIMINGS.items())]
        print("\nnotebooks run alone:", "; ".join(lines), f"; total {total:.1f} s")
