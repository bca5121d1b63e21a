"""The term's release: one tag in _config.yml reaches the install cells, the Colab buttons and the site.

tools/release.py (``make release TERM=...``) sets ``repository.colab_ref`` and tags; the
notebooks' install cells (tools/colab_notebook.py) and the site's Colab buttons
(book/_ext/release_ref.py) take the tag from there. The built-site check runs after the book
build (``make browser-tests``, ``MEDCNN_BOOK_BUILT=1``) and skips elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import CHAPTER_FRONT_MATTER, REPOSITORY, load_tool

release = load_tool("release")
colab_notebook = load_tool("colab_notebook")
SITE = REPOSITORY / "_build" / "html"


def _extension():
    spec = importlib.util.spec_from_file_location("release_ref", REPOSITORY / "book" / "_ext" / "release_ref.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG = """title: t
# The one place that names the repository.
repository:
  url: https://github.com/Some-Owner/course
  branch: main        # the default branch
  path_to_book: ""

launch_buttons:
  colab_url: https://colab.research.google.com
"""


def test_the_term_gives_the_tag_and_a_bad_term_says_how():
    assert release.tag_name("2027.1") == "v2027.1"
    for bad in ("", "27.1", "v2027.1", "2027", "2027.1; rm -rf /"):
        with pytest.raises(release.ReleaseError, match="make release TERM=2027.1"):
            release.tag_name(bad)


def test_colab_ref_is_written_in_the_repository_block_only():
    written = release.set_colab_ref(CONFIG, "v2027.1")
    assert written == CONFIG.replace('  branch: main        # the default branch\n',
                                     '  branch: main        # the default branch\n  colab_ref: v2027.1\n')
    again = release.set_colab_ref(written, "v2027.2")
    assert "colab_ref: v2027.2\n" in again and "v2027.1" not in again and again.count("colab_ref") == 1
    with pytest.raises(release.ReleaseError, match="no repository: block"):
        release.set_colab_ref("title: t\n", "v2027.1")


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """A small course in a git repository: _config.yml and one chapter that uses medcnn."""
    (tmp_path / "_config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "book" / "part").mkdir(parents=True)
    source = tmp_path / "book" / "part" / "chapter.md"
    source.write_text(CHAPTER_FRONT_MATTER + "# A chapter\n\n```{code-cell} ipython3\nimport medcnn\n```\n", encoding="utf-8")
    check_notebooks = load_tool("check_notebooks")
    check_notebooks.write_notebook(source, tmp_path)
    # its Spanish notebook (no catalogue here: the English words; the install cell is what matters)
    i18n = load_tool("i18n")
    (text, _), = i18n.spanish_notebooks(tmp_path).values()
    (source.parent / "chapter.es.ipynb").write_text(text, encoding="utf-8")
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}.items():
        monkeypatch.setenv(key, value)  # git commits and tags without a configured user
    for command in (["git", "init", "--quiet"], ["git", "add", "."], ["git", "commit", "--quiet", "-m", "course"]):
        subprocess.run(command, cwd=tmp_path, check=True)
    return tmp_path


def test_a_release_tags_a_commit_whose_notebooks_install_that_tag(course):
    notebook = course / "book" / "part" / "chapter.ipynb"
    assert "course@main#subdirectory=code" in notebook.read_text(encoding="utf-8")

    changed = release.prepare("2027.1", root=course)
    assert {path.name for path in map(Path, changed)} == {"_config.yml", "chapter.ipynb", "chapter.es.ipynb"}
    assert "course@v2027.1#subdirectory=code" in notebook.read_text(encoding="utf-8")
    assert "course@v2027.1#subdirectory=code" in notebook.with_name("chapter.es.ipynb").read_text(encoding="utf-8")
    assert colab_notebook.Book(course).install_ref == "v2027.1"
    assert _extension().release_reference(course / "_config.yml") == "v2027.1"

    assert release.tag("2027.1", root=course) == "v2027.1"
    tagged = subprocess.run(["git", "show", "v2027.1:book/part/chapter.ipynb"], cwd=course, capture_output=True, text=True,
                            check=True).stdout
    assert "course@v2027.1#subdirectory=code" in tagged
    assert subprocess.run(["git", "status", "--porcelain"], cwd=course, capture_output=True, text=True).stdout == ""

    with pytest.raises(release.ReleaseError, match="the tag v2027.1 exists already"):
        release.prepare("2027.1", root=course)
    (course / "_config.yml").write_text(CONFIG + "# an edit\n", encoding="utf-8")
    with pytest.raises(release.ReleaseError, match="uncommitted changes"):
        release.prepare("2027.2", root=course)


def test_the_colab_buttons_take_the_release_from_the_config(tmp_path):
    extension = _extension()
    (tmp_path / "_config.yml").write_text(release.set_colab_ref(CONFIG, "v2027.1"), encoding="utf-8")
    config = SimpleNamespace(html_theme_options={"repository_branch": "main", "launch_buttons": {"colab_url": "x"}})
    extension.use_release(SimpleNamespace(confdir=str(tmp_path / "elsewhere"), srcdir=str(tmp_path)), config)
    assert config.html_theme_options == {"repository_branch": "v2027.1", "launch_buttons": {"colab_url": "x"}}

    (tmp_path / "_config.yml").write_text(CONFIG, encoding="utf-8")  # no release: the branch stays
    config = SimpleNamespace(html_theme_options={"repository_branch": "main"})
    extension.use_release(SimpleNamespace(confdir=str(tmp_path), srcdir=str(tmp_path)), config)
    assert config.html_theme_options == {"repository_branch": "main"}


def test_the_repository_enables_the_extension_and_make_release_runs_both_steps():
    import yaml

    config = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["local_extensions"].get("release_ref") == "book/_ext"
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^release:\n((?:\t.*\n)+)", makefile, flags=re.M).group(1)
    steps = [line.strip() for line in recipe.splitlines()]
    assert steps.index("$(PYTHON) tools/release.py prepare --term $(TERM)") < steps.index(
        "$(MAKE) --no-print-directory book") < steps.index("$(PYTHON) tools/release.py tag --term $(TERM)")
    assert steps[-1] == "git push origin HEAD refs/tags/v$(TERM)"


@pytest.mark.browser
def test_the_built_site_serves_the_colab_notebook_and_opens_the_release_in_colab():
    if os.environ.get("MEDCNN_BOOK_BUILT") != "1" or not (SITE / "index.html").is_file():
        pytest.skip("the site is not built here (make book, then MEDCNN_BOOK_BUILT=1)")
    book = colab_notebook.Book(REPOSITORY)
    owner_name = book.repository_url.removeprefix("https://github.com/")
    chapters = sorted(path for path in (REPOSITORY / "book").rglob("*.ipynb")
                      if path.with_suffix(".md").is_file() and "_build" not in path.parts)
    assert len(chapters) >= 3
    for notebook in chapters:
        page_name = notebook.relative_to(REPOSITORY).with_suffix("").as_posix()
        page = (SITE / f"{page_name}.html").read_text(encoding="utf-8")
        colab = f"https://colab.research.google.com/github/{owner_name}/blob/{book.install_ref}/{page_name}.ipynb"
        assert colab in page, f"{page_name}.html: the Colab button does not open {colab}"
        downloads = re.findall(r'href="([^"]*_sources/[^"]*\.ipynb)"', page)
        assert downloads, f"{page_name}.html has no .ipynb download"
        served = (SITE / page_name).parent / downloads[0]
        assert served.resolve().read_bytes() == notebook.read_bytes(), (
            f"{page_name}.html's .ipynb download is not the Colab notebook {notebook.relative_to(REPOSITORY)}")


def test_every_build_instruction_says_make_book():
    """A reader told to run jupyter-book directly would skip the code-keyed cache reset and the Colab download."""
    pages = [REPOSITORY / "README.md", *sorted((REPOSITORY / "book").rglob("*.md"))]
    for page in pages:
        if "_build" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^```(?:bash|sh|shell|console)?\n(.*?)^```", text, flags=re.M | re.S):
            assert "jupyter-book build" not in block, f"{page.relative_to(REPOSITORY)} tells readers to run jupyter-book build; say make book"
    guide = (REPOSITORY / "book" / "start" / "how_to_use.md").read_text(encoding="utf-8")
    assert "make book" in guide and 'medcnn[tf] @ git+' in guide
    assert 'pip install "medcnn[tf] @ git+' in (REPOSITORY / "README.md").read_text(encoding="utf-8")
