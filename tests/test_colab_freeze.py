"""tools/colab_freeze.py: the Colab pins equal Colab's published runtime, and the check says what moved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from helpers import REPOSITORY, load_tool

colab_freeze = load_tool("colab_freeze")

PINS = REPOSITORY / "requirements-colab.txt"


def test_the_pins_equal_the_stored_copy_of_colabs_freeze():
    pins = colab_freeze.parse_pins(PINS.read_text(encoding="utf-8"))
    runtime = colab_freeze.stored_runtime()
    assert pins.packages, "requirements-colab.txt pins nothing"
    assert colab_freeze.differences(pins, runtime) == []
    assert pins.python == runtime.python


def test_the_colab_job_runs_colabs_python():
    pins = colab_freeze.parse_pins(PINS.read_text(encoding="utf-8"))
    workflow = yaml.safe_load((REPOSITORY / ".github" / "workflows" / "colab.yml").read_text(encoding="utf-8"))
    versions = [
        step["with"]["python-version"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("actions/setup-python")
    ]
    assert versions and set(versions) == {pins.python}, f"colab.yml runs Python {versions}; Colab runs {pins.python}"


@pytest.fixture
def stored_copy(tmp_path, monkeypatch) -> Path:
    """A copy of tools/colab_runtime/ the test may change, in place of the real one."""
    folder = tmp_path / "colab_runtime"
    shutil.copytree(colab_freeze.STORED_FOLDER, folder)
    monkeypatch.setattr(colab_freeze, "STORED_FOLDER", folder)
    monkeypatch.setattr(colab_freeze, "REPOSITORY_ROOT", tmp_path)
    return folder


def test_a_changed_line_of_colabs_freeze_fails_the_check_and_is_named(stored_copy, capsys):
    assert colab_freeze.main([]) == 0
    freeze = stored_copy / "pip-freeze.gpu.txt"
    text = freeze.read_text(encoding="utf-8")
    assert "numpy==2.1.3\n" in text
    freeze.write_text(text.replace("numpy==2.1.3\n", "numpy==2.3.5\n"), encoding="utf-8")

    assert colab_freeze.main([]) == 1
    error = capsys.readouterr().err
    assert "numpy: requirements-colab.txt pins numpy==2.1.3; Colab has numpy==2.3.5" in error
    assert "1 pin(s) differ" in error and "--update" in error


def test_a_package_colab_dropped_and_a_new_python_are_named(stored_copy, capsys):
    freeze = stored_copy / "pip-freeze.gpu.txt"
    freeze.write_text(freeze.read_text(encoding="utf-8").replace("kagglehub==1.0.2\n", ""), encoding="utf-8")
    (stored_copy / "os-info-gpu.txt").write_text("Ubuntu 24.04 LTS\nPython 3.14.2\n", encoding="utf-8")

    assert colab_freeze.main([]) == 1
    error = capsys.readouterr().err
    assert "kagglehub: requirements-colab.txt pins kagglehub==1.0.2; Colab's freeze does not list it" in error
    assert "python: requirements-colab.txt pins # Colab's Python: 3.13; Colab has # Colab's Python: 3.14" in error


def test_names_compare_as_pip_compares_them():
    pins = colab_freeze.parse_pins("Jinja2==3.1.6\nscikit_learn==1.6.1\n")
    runtime = colab_freeze.Runtime(freeze=colab_freeze.parse_freeze("jinja2==3.1.6\nscikit-learn==1.6.1\n"), python=None)
    assert colab_freeze.differences(pins, runtime) == []
    url_line = colab_freeze.parse_freeze("torch @ https://download.pytorch.org/whl/torch-2.0.1.whl\n")
    difference = colab_freeze.differences(colab_freeze.parse_pins("torch==2.0.1\n"), colab_freeze.Runtime(url_line, None))
    assert [item.colab for item in difference] == ["torch @ https://download.pytorch.org/whl/torch-2.0.1.whl"]


def test_a_pin_that_is_not_exact_is_an_error_naming_the_line():
    with pytest.raises(ValueError, match=r"requirements-colab.txt, line 2: 'numpy>=2' is not an exact pin"):
        colab_freeze.parse_pins("keras==3.13.2\nnumpy>=2\n")


def test_live_reads_the_published_files(tmp_path, capsys):
    """--live and --update read the two published files by name from --base (here a local folder)."""
    published = tmp_path / "published"
    published.mkdir()
    shutil.copy(colab_freeze.STORED_FOLDER / "pip-freeze.gpu.txt", published / "pip-freeze.gpu.txt")
    (published / "os-info-gpu.txt").write_text("Ubuntu 22.04.5 LTS\nPython 3.13.15\n", encoding="utf-8")
    assert colab_freeze.main(["--live", "--base", published.as_uri() + "/"]) == 0
    (published / "os-info-gpu.txt").write_text("Python 3.12.13\n", encoding="utf-8")
    assert colab_freeze.main(["--live", "--base", published.as_uri() + "/"]) == 1
    assert "Colab has # Colab's Python: 3.12" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="could not read Colab's pip-freeze.gpu.txt"):
        colab_freeze.main(["--live", "--base", (tmp_path / "nowhere").as_uri() + "/"])
