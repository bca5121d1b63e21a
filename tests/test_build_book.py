"""tools/build_book.py: the execution cache is kept only while the package is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import load_tool

build_book = load_tool("build_book")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small copy of the repository's layout: a package, requirements, a cache."""
    (tmp_path / "code" / "medcnn").mkdir(parents=True)
    (tmp_path / "code" / "medcnn" / "__init__.py").write_text("VALUE = 1\n")
    (tmp_path / "code" / "medcnn" / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "code" / "pyproject.toml").write_text("[project]\nname='medcnn'\n")
    (tmp_path / "requirements.txt").write_text("keras==3.15.1\n")
    return tmp_path


def test_the_key_changes_with_any_package_file_and_only_with_them(project):
    key = build_book.code_key(project, profile="smoke")
    assert key == build_book.code_key(project, profile="smoke")

    # bytecode, checkpoints and build metadata are not the package
    (project / "code" / "medcnn" / "__pycache__").mkdir()
    (project / "code" / "medcnn" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (project / "code" / "medcnn.egg-info").mkdir()
    (project / "code" / "medcnn.egg-info" / "PKG-INFO").write_text("x")
    # neither is the book's prose
    (project / "book").mkdir()
    (project / "book" / "chapter.md").write_text("# A chapter\n")
    assert build_book.code_key(project, profile="smoke") == key

    (project / "code" / "medcnn" / "__init__.py").write_text("VALUE = 2\n")
    changed_code = build_book.code_key(project, profile="smoke")
    assert changed_code != key

    (project / "code" / "medcnn" / "data.csv").write_text("a,b\n1,3\n")  # package data counts
    changed_data = build_book.code_key(project, profile="smoke")
    assert changed_data != changed_code

    (project / "requirements.txt").write_text("keras==3.16.0\n")
    changed_requirements = build_book.code_key(project, profile="smoke")
    assert changed_requirements != changed_data
    (project / "requirements.lock").write_text("protobuf==7.36.2\n")  # an indirect dependency moved
    assert build_book.code_key(project, profile="smoke") != changed_requirements
    assert build_book.code_key(project, profile="full") != build_book.code_key(project, profile="smoke")


def test_a_renamed_file_changes_the_key(project):
    key = build_book.code_key(project, profile="smoke")
    shutil.move(project / "code" / "medcnn" / "data.csv", project / "code" / "medcnn" / "other.csv")
    assert build_book.code_key(project, profile="smoke") != key


def test_the_cache_is_kept_under_its_own_key_and_emptied_under_another(project):
    cache = project / build_book.CACHE_FOLDER
    key = build_book.code_key(project, profile="smoke")
    assert build_book.prepare_cache(project, key) is False  # no cache yet: everything executes
    (cache / "global.db").write_text("executed outputs")
    assert build_book.prepare_cache(project, key) is True
    assert (cache / "global.db").is_file()

    (project / "code" / "medcnn" / "__init__.py").write_text("VALUE = 3\n")
    new_key = build_book.code_key(project, profile="smoke")
    assert build_book.prepare_cache(project, new_key) is False
    assert not (cache / "global.db").exists(), "outputs of the old code were kept"
    assert build_book.cache_is_current(project, new_key)


def test_a_damaged_key_file_empties_the_cache(project):
    cache = project / build_book.CACHE_FOLDER
    key = build_book.code_key(project, profile="smoke")
    build_book.prepare_cache(project, key)
    (cache / "global.db").write_text("executed outputs")
    (cache / build_book.KEY_FILE_NAME).write_bytes(b"\xff\xfe half written")
    assert build_book.prepare_cache(project, key) is False
    assert not (cache / "global.db").exists()


def test_fresh_always_empties_the_cache(project):
    cache = project / build_book.CACHE_FOLDER
    key = build_book.code_key(project, profile="smoke")
    build_book.prepare_cache(project, key)
    (cache / "global.db").write_text("executed outputs")
    assert build_book.prepare_cache(project, key, fresh=True) is False
    assert not (cache / "global.db").exists()


def test_the_notebook_download_is_the_colab_notebook(project):
    """The theme copies the executed notebook to _sources; the build puts the committed Colab one there."""
    chapter = project / "book" / "part"
    chapter.mkdir(parents=True)
    (chapter / "one.md").write_text("# One\n")
    (chapter / "one.ipynb").write_text('{"the": "colab notebook"}')
    (chapter / "notes.ipynb").write_text("{}")  # no .md beside it: not a chapter's notebook
    served = project / "_build" / "html" / "_sources" / "book" / "part"
    served.mkdir(parents=True)
    (served / "one.ipynb").write_text('{"the": "executed smoke notebook"}')
    (served / "notes.ipynb").write_text('{"executed": 1}')
    (served / "two.ipynb").write_text('{"no": "committed copy"}')

    assert build_book.serve_colab_notebooks(project) == [served / "one.ipynb"]
    assert (served / "one.ipynb").read_text() == '{"the": "colab notebook"}'
    assert (served / "notes.ipynb").read_text() == '{"executed": 1}'
    assert (served / "two.ipynb").read_text() == '{"no": "committed copy"}'
    assert build_book.serve_colab_notebooks(project / "nothing-built") == []


def test_the_layout_key_changes_with_the_toc_the_configuration_and_the_shared_catalogues(project):
    # a page added to _toc.yml must reach every page's sidebar: a new layout key rewrites both editions
    (project / "_toc.yml").write_text("root: book/index\n")
    (project / "_config.yml").write_text("title: t\n")
    key = build_book.layout_key(project)
    (project / "book").mkdir()
    (project / "book" / "chapter.md").write_text("# A chapter\n")   # a page's own text: Sphinx sees that itself
    assert build_book.layout_key(project) == key
    for name in ("_toc.yml", "_config.yml", "locales/es/LC_MESSAGES/figures.po", "locales/es/LC_MESSAGES/book/index.po",
                 "locales/es/LC_MESSAGES/code-comments.po"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text((project / name).read_text() + "# changed\n" if (project / name).is_file() else "x\n")
        assert build_book.layout_key(project) != key, name
        key = build_book.layout_key(project)
