"""The book's frame: _config.yml, _toc.yml, the bibliography, the one repository URL, the Colab links."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
BOOK = REPOSITORY / "book"
CONFIG = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((REPOSITORY / "_toc.yml").read_text(encoding="utf-8"))
REPOSITORY_URL = CONFIG["repository"]["url"]

# Cited by the chapters: the study's datasets and models, and the Foundations part.
REQUIRED_KEYS = {
    "cheng2015", "cheng2017", "chowdhury2020", "rahman2021", "pachade2021",
    "simonyan2014", "he2016", "szegedy2016", "kingma2014",
    "srivastava2014", "ioffe2015", "lecun1998", "goodfellow2016",
    "araujo2017", "wang2020", "ehteshamibejnordi2017", "tran2018", "cinar2020",
}  # fmt: skip


def _front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    return yaml.safe_load(match.group(1)) if match else {}


def _is_notebook(path: Path) -> bool:
    return "kernelspec" in (_front_matter(path) or {})


def _book_pages() -> list[Path]:
    return sorted(
        path
        for path in BOOK.rglob("*.md")
        if not any(part.startswith((".", "_")) for part in path.relative_to(BOOK).parts)
    )


def _toc_entries(entries, found):
    for entry in entries or []:
        if "file" in entry:
            found.append(("file", entry["file"]))
        if "glob" in entry:
            found.append(("glob", entry["glob"]))
        _toc_entries(entry.get("sections"), found)
        _toc_entries(entry.get("chapters"), found)
        for part in entry.get("parts", []) or []:
            _toc_entries(part.get("chapters"), found)
    return found


def toc_documents() -> list[str]:
    """Every document the toc builds, as repository paths without suffix, in toc order."""
    entries = [("file", TOC["root"])]
    for part in TOC["parts"]:
        _toc_entries(part["chapters"], entries)
    documents = []
    for kind, value in entries:
        if kind == "file":
            documents.append(value)
        else:
            from sphinx.util.matching import patfilter

            candidates = [path.relative_to(REPOSITORY).with_suffix("").as_posix() for path in _book_pages()]
            documents.extend(sorted(patfilter(candidates, value)))
    return documents


# ---- _config.yml -------------------------------------------------------------------


def test_config_names_the_book_and_its_files_exist():
    assert CONFIG["title"] and CONFIG["author"]
    assert (REPOSITORY / CONFIG["logo"]).is_file()
    assert (REPOSITORY / CONFIG["html"]["favicon"]).is_file()
    for bibfile in CONFIG["bibtex_bibfiles"]:
        assert (REPOSITORY / bibfile).is_file()


def test_repository_and_launch_buttons():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY_URL), REPOSITORY_URL
    assert CONFIG["repository"]["branch"] == "main"
    # _config.yml sits at the repository root, so page paths are already repository paths.
    assert CONFIG["repository"]["path_to_book"] == ""
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_repository_button"] is True
    assert CONFIG["html"]["use_issues_button"] is True


def test_chapters_execute_through_the_cache_that_make_book_keys_on_the_package():
    execute = CONFIG["execute"]
    # the execution cache, emptied by tools/build_book.py whenever code/ changes
    assert execute["execute_notebooks"] == "cache"
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    assert "tools/build_book.py" in makefile
    assert 0 < execute["timeout"] <= 1800
    sphinx = CONFIG["sphinx"]["config"]
    assert sphinx["nb_execution_raise_on_error"] is True
    assert sphinx["nb_merge_streams"] is True
    assert sphinx["bibtex_reference_style"] in {"author_year", "label", "super"}


def test_only_the_markdown_sources_are_built():
    patterns = CONFIG["exclude_patterns"]
    for pattern in ("**/*.ipynb", ".venv", "_build", "code", "tests", "docs", ".github", "README.md"):
        assert pattern in patterns
    assert CONFIG["only_build_toc_files"] is True


def test_extra_extensions_are_installed():
    import importlib.util

    for extension in (CONFIG.get("sphinx", {}).get("extra_extensions") or []):
        assert importlib.util.find_spec(extension) is not None, f"{extension} is not installed"


# ---- the one repository URL -----------------------------------------------------------


def _project_files() -> list[Path]:
    files = _book_pages() + sorted(BOOK.rglob("*.ipynb"))
    files += [REPOSITORY / name for name in ("README.md", "code/pyproject.toml", "code/README.md", "Makefile")]
    files += sorted((REPOSITORY / "code" / "medcnn").rglob("*.py"))
    files += sorted((REPOSITORY / "docs").rglob("*.md"))
    return [path for path in files if path.is_file() and "_build" not in path.parts]


def test_the_repository_url_is_only_ever_the_configured_one():
    repository_name = REPOSITORY_URL.rsplit("/", 1)[1]
    pattern = re.compile(r"https://github\.com/[\w.-]+/" + re.escape(repository_name) + r"(?:\.git)?(?=[/@#\s\"'`)\]]|$)")
    checked = 0
    for path in _project_files():
        for url in pattern.findall(path.read_text(encoding="utf-8")):
            checked += 1
            assert url.removesuffix(".git") == REPOSITORY_URL, f"{path.relative_to(REPOSITORY)} names {url}, not {REPOSITORY_URL}"
    # the install instructions on the Start here page name it at least once
    assert checked >= 1


def test_git_installs_use_the_configured_url_and_branch():
    install = re.compile(r"git\+(https://[^\s@\"']+?)(?:\.git)?@([\w.-]+)#subdirectory=(\w+)")
    for path in _project_files():
        for url, branch, subdirectory in install.findall(path.read_text(encoding="utf-8")):
            assert url == REPOSITORY_URL, f"{path.relative_to(REPOSITORY)} installs from {url}"
            assert branch == (CONFIG["repository"].get("colab_ref") or CONFIG["repository"]["branch"])
            assert subdirectory == "code"


def test_installing_medcnn_in_colab_keeps_colab_tensorflow():
    import tomllib

    project = tomllib.loads((REPOSITORY / "code" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in project["dependencies"]]
    assert not any(name.startswith("tensorflow") for name in names), names
    assert not any("==" in requirement for requirement in project["dependencies"])


NOTEBOOK_CHAPTERS = sorted(path for path in BOOK.rglob("*.md") if _is_notebook(path) and "_build" not in path.parts)


def _committed_cells(chapter: Path) -> list[dict]:
    import json

    return json.loads(chapter.with_suffix(".ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("chapter", NOTEBOOK_CHAPTERS, ids=lambda path: path.stem)
def test_colab_notebook_installs_medcnn_from_the_configured_repository(chapter):
    """The install cell is made by tools/colab_notebook.py from _config.yml: not in the .md, first in the .ipynb."""
    source = chapter.read_text(encoding="utf-8")
    assert "git+" not in "".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", source, flags=re.DOTALL)), (
        f"{chapter.name}: the .md installs medcnn itself; the Colab notebook's install cell comes from _config.yml"
    )
    code_cells = ["".join(cell["source"]) for cell in _committed_cells(chapter) if cell["cell_type"] == "code"]
    install_cells = [cell for cell in code_cells if re.search(r"pip\W+install", cell) and "git+" in cell]
    uses_medcnn = any(re.search(r"\bmedcnn\b", cell) for cell in code_cells if cell not in install_cells)
    if not uses_medcnn:
        assert install_cells == [], f"{chapter.name} does not use medcnn, so its notebook installs nothing"
        return
    assert len(install_cells) == 1, f"{chapter.with_suffix('.ipynb').name}: expected one cell that installs medcnn"
    cell = install_cells[0]
    assert code_cells.index(cell) == 0, f"{chapter.name}: the install cell must be the first code cell"
    assert 'if "google.colab" in sys.modules' in cell, f"{chapter.name}: the install must run only in Colab"
    reference = CONFIG["repository"].get("colab_ref") or CONFIG["repository"]["branch"]
    assert f"git+{REPOSITORY_URL}@{reference}#subdirectory=code" in cell


def test_notebook_pages_declare_the_myst_format():
    # Without this header myst-nb reads the page as plain Markdown and never executes it.
    for page in _book_pages():
        front = _front_matter(page) or {}
        if "kernelspec" in front:
            representation = front.get("jupytext", {}).get("text_representation", {})
            assert representation.get("format_name") == "myst", f"{page.relative_to(REPOSITORY)} lacks the jupytext myst header"


# ---- _toc.yml ------------------------------------------------------------------------------


def test_toc_has_the_course_parts():
    assert TOC["format"] == "jb-book"
    assert TOC["root"] == "book/index"
    captions = [part["caption"] for part in TOC["parts"]]
    assert captions == ["Start here", "Foundations", "Datasets", "The study", "Pitfalls", "Labs", "References"]


def test_every_toc_entry_exists_and_every_glob_matches():
    entries = [("file", TOC["root"])]
    for part in TOC["parts"]:
        _toc_entries(part["chapters"], entries)
    for kind, value in entries:
        if kind == "file":
            assert (REPOSITORY / f"{value}.md").is_file(), f"_toc.yml lists {value}, but {value}.md does not exist"
    documents = toc_documents()
    assert len(documents) == len(set(documents)), "a document is listed twice"
    globs = [value for kind, value in entries if kind == "glob"]
    for pattern in globs:
        from sphinx.util.matching import patfilter

        candidates = [path.relative_to(REPOSITORY).with_suffix("").as_posix() for path in _book_pages()]
        assert patfilter(candidates, pattern), f"the glob {pattern} matches no chapter (the build would warn)"


def test_every_page_in_book_is_in_the_toc():
    # only_build_toc_files silently drops pages left out of the toc
    documents = set(toc_documents())
    for page in _book_pages():
        name = page.relative_to(REPOSITORY).with_suffix("").as_posix()
        assert name in documents, f"{name}.md is not in _toc.yml, so it would never be built"


def test_foundations_glob_keeps_name_order_and_skips_the_intro():
    documents = toc_documents()
    foundations = [name for name in documents if name.startswith("book/foundations/")]
    assert foundations[0] == "book/foundations/index"
    chapters = foundations[1:]
    assert chapters == sorted(chapters)
    assert all(re.fullmatch(r"book/foundations/\d\d_\w+", name) for name in chapters)


# ---- references ----------------------------------------------------------------------------------


def _bibliography():
    from pybtex.database import parse_file

    return parse_file(str(REPOSITORY / "references.bib"))


def test_bibliography_has_the_required_entries():
    entries = _bibliography().entries
    missing = REQUIRED_KEYS - set(entries)
    assert not missing, f"references.bib lacks {sorted(missing)}"
    for key, entry in entries.items():
        assert entry.persons.get("author"), f"{key} has no author"
        assert entry.fields.get("title") and entry.fields.get("year"), f"{key} lacks title or year"
    assert entries["cheng2017"].fields["doi"] == "10.6084/m9.figshare.1512427.v5"
    assert entries["simonyan2014"].fields["eprint"] == "1409.1556"
    assert entries["kingma2014"].fields["eprint"] == "1412.6980"


def test_every_citation_in_the_book_is_in_the_bibliography():
    keys = set(_bibliography().entries)
    cite = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
    cited = set()
    for page in _book_pages():
        for group in cite.findall(page.read_text(encoding="utf-8")):
            for key in group.split(","):
                key = key.strip()
                cited.add(key)
                assert key in keys, f"{page.relative_to(REPOSITORY)} cites {key}, which references.bib lacks"
    assert {"simonyan2014", "he2016", "szegedy2016", "kingma2014"} <= cited


def test_references_page_lists_the_whole_bibliography():
    text = (BOOK / "references.md").read_text(encoding="utf-8")
    assert "```{bibliography}" in text and ":all:" in text
    # one bibliography for the whole book: a second one would duplicate every citation label
    others = [page for page in _book_pages() if page.name != "references.md" and "{bibliography}" in page.read_text(encoding="utf-8")]
    assert others == []


# ---- the study's published figures ------------------------------------------------------------------


def test_study_page_quotes_its_published_accuracies_as_the_studys():
    text = (BOOK / "study" / "index.md").read_text(encoding="utf-8")
    for figure in ("94.6%", "98.8%", "92.7%"):
        assert figure in text
    assert "as published by" in text and "not results of this site" in text
    for network in ("VGG-16", "ResNet-50", "Inception-V3"):
        assert network in text


# ---- the Colab button points at the committed .ipynb ------------------------------------------------


def test_theme_points_colab_at_the_paired_ipynb(tmp_path):
    """Build a two-page book with this _config.yml and check the Colab link of its notebook page."""
    config = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))
    config["logo"] = ""
    config["html"]["favicon"] = ""
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "references.bib").write_text((REPOSITORY / "references.bib").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nchapters:\n  - file: book/part/lesson\n  - file: book/part/plain\n",
        encoding="utf-8",
    )
    (tmp_path / "book" / "part").mkdir(parents=True)
    (tmp_path / "book" / "_ext").mkdir()
    for extension in (BOOK / "_ext").glob("*.py"):
        (tmp_path / "book" / "_ext" / extension.name).write_text(extension.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "book" / "index.md").write_text("# Home\n\nA page.\n", encoding="utf-8")
    (tmp_path / "book" / "part" / "plain.md").write_text("# Plain\n\nNo code here.\n", encoding="utf-8")
    lesson = tmp_path / "book" / "part" / "lesson.md"
    lesson.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "# Lesson\n\n```{code-cell} ipython3\nprint(1 + 1)\n```\n",
        encoding="utf-8",
    )
    import jupytext

    jupytext.write(jupytext.read(lesson, fmt="md:myst"), lesson.with_suffix(".ipynb"), fmt="ipynb")

    builder = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(builder), "build", str(tmp_path), "--warningiserror", "--keep-going", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "book" / "part" / "lesson.html").read_text(encoding="utf-8")
    owner_and_name = REPOSITORY_URL.removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{owner_and_name}/blob/main/book/part/lesson.ipynb"
    assert expected in html
    assert "lesson.md" not in re.findall(r"https://colab\.research\.google\.com/[^\"]+", html)[0]
    # a page without code gets no launch button
    plain = (tmp_path / "_build" / "html" / "book" / "part" / "plain.html").read_text(encoding="utf-8")
    assert "colab.research.google.com" not in plain
    # each inline script once (book/_ext/unique_scripts.py): a repeated `const` is a JavaScript error
    assert html.count("const THEBE_JS_URL") == 1
    # the .ipynb is excluded from the build: one page, not two
    assert not (tmp_path / "_build" / "html" / "book" / "part" / "lesson.ipynb.html").exists()
