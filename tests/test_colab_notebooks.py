"""The Colab notebooks made from the chapters (tools/colab_notebook.py): no raw MyST, code included.

Two kinds of test: the committed notebooks of this repository (no directive or role
text left in any Markdown cell, every included block present and taken from its
file), and conversions of small chapters written here, one MyST feature each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import CHAPTER_FRONT_MATTER, REPOSITORY, load_tool

colab_notebook = load_tool("colab_notebook")

SOURCES = sorted(
    path
    for path in (REPOSITORY / "book").rglob("*.md")
    if path.with_suffix(".ipynb").is_file() and "_build" not in path.parts
)
RAW_MYST = re.compile(r"\{literalinclude\}|\{cite(?::\w+)?\}|\{doc\}|\{ref\}|\{numref\}|\{admonition\}|:::\{|```\{|^\([\w.-]+\)=\s*$", re.M)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# ---- the committed notebooks ---------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_no_markdown_cell_holds_raw_myst(source):
    for number, cell in enumerate(_cells(source.with_suffix(".ipynb")), start=1):
        if cell["cell_type"] == "markdown":
            found = RAW_MYST.findall(_source(cell))
            assert not found, f"{source.with_suffix('.ipynb').name}, cell {number}: raw MyST {found}"


LITERALINCLUDE = re.compile(r"^```+\{literalinclude\}\s+(?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)", re.M)


@pytest.mark.parametrize("source", [path for path in SOURCES if "{literalinclude}" in path.read_text(encoding="utf-8")],
                         ids=lambda path: path.stem)  # fmt: skip
def test_included_code_is_in_the_notebook(source):
    text = source.read_text(encoding="utf-8")
    markdown = "\n".join(_source(cell) for cell in _cells(source.with_suffix(".ipynb")) if cell["cell_type"] == "markdown")
    blocks = re.findall(r"From `(?P<path>[^`]+)`:\n\n```python\n(?P<code>.*?)\n```", markdown, flags=re.S)
    includes = list(LITERALINCLUDE.finditer(text))
    assert len(blocks) == len(includes), f"{len(includes)} literalinclude in {source.name}, {len(blocks)} blocks in the notebook"
    for include, (shown_path, code) in zip(includes, blocks):
        included = (source.parent / include["path"]).resolve()
        assert shown_path == included.relative_to(REPOSITORY).as_posix()
        file_lines = {line.strip() for line in included.read_text(encoding="utf-8").splitlines()}
        code_lines = code.splitlines()
        assert len(code_lines) >= 3
        assert all(line.strip() in file_lines for line in code_lines), f"a line of the block is not in {shown_path}"
        options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", include["options"], flags=re.M))
        options = {key: value.strip().strip('"') for key, value in options.items()}
        if "start-at" in options:
            assert options["start-at"] in code_lines[0], (options["start-at"], code_lines[0])
        elif "pyobject" in options:
            assert re.match(rf"(def|class) {options['pyobject']}\b", code_lines[0].strip())
        if "end-at" in options:
            assert options["end-at"] in code_lines[-1]


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_citations_are_text_with_a_reference_list(source):
    keys = set(re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", source.read_text(encoding="utf-8")))
    cells = _cells(source.with_suffix(".ipynb"))
    last = _source(cells[-1])
    if not keys:
        assert not last.startswith("## References")
        return
    assert last.startswith("## References")
    cited = {key.strip() for group in keys for key in group.split(",")}
    assert last.count("\n- **") == len(cited), "one entry per work cited"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_solutions_with_code_become_code_cells(source):
    text = source.read_text(encoding="utf-8")
    solutions = re.findall(r"^(```|:::)\{admonition\} Solution\n:class: dropdown\n(.*?)^\1\s*$", text, flags=re.M | re.S)
    expected = sum(len(re.findall(r"^```python\n", body, flags=re.M)) for _, body in solutions)
    cells = _cells(source.with_suffix(".ipynb"))
    solution_cells = [cell for cell in cells if "solution" in cell["metadata"].get("tags", [])]
    assert len(solution_cells) == expected
    for cell in solution_cells:
        assert cell["cell_type"] == "code"
        assert _source(cell).startswith('# @title Solution')
    details = sum(_source(cell).count("<details>") for cell in cells if cell["cell_type"] == "markdown")
    assert details == len(solutions)


def test_cross_references_link_to_the_published_site():
    import yaml

    config = yaml.safe_load((REPOSITORY / "_config.yml").read_text(encoding="utf-8"))
    owner, name = config["repository"]["url"].removeprefix("https://github.com/").split("/")
    cells = _cells(REPOSITORY / "book" / "datasets" / "covid19.ipynb")
    markdown = "\n".join(_source(cell) for cell in cells if cell["cell_type"] == "markdown")
    assert f"](https://{owner.lower()}.github.io/{name}/book/datasets/covid19.html#covid19-getting-the-images)" in markdown


# ---- one feature at a time ---------------------------------------------------------------------


@pytest.fixture
def small_book(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "title: t\nrepository:\n  url: https://github.com/Some-Owner/course\n  branch: main\n", encoding="utf-8"
    )
    (tmp_path / "references.bib").write_text(
        "@article{smith2020, author = {Smith, Ann and Jones, Bo and Lee, Cy}, title = {A Study}, "
        "journal = {J}, year = {2020}}\n@book{doe2019, author = {Doe, Dan}, title = {A Book}, "
        "publisher = {P}, year = {2019}}\n",
        encoding="utf-8",
    )
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "module.py").write_text(
        "import os\n\n\ndef helper(value):\n    \"\"\"Say it.\"\"\"\n    total = value + 1\n    return total\n\n\n"
        "def other():\n    return 2\n",
        encoding="utf-8",
    )
    (tmp_path / "book" / "part").mkdir(parents=True)
    (tmp_path / "book" / "part" / "other.md").write_text("# The other page\n\n(a-label)=\n## A section\n", encoding="utf-8")
    return tmp_path


def _convert(book, body):
    source = book / "book" / "part" / "chapter.md"
    source.write_text(CHAPTER_FRONT_MATTER + body, encoding="utf-8")
    return colab_notebook.colab_notebook(source, root=book)


def _markdown(notebook):
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_literalinclude_options_select_the_lines(small_book):
    notebook = _convert(
        small_book,
        "# T\n\n```{literalinclude} ../../code/module.py\n:language: python\n:pyobject: helper\n"
        ":start-at: total =\n:dedent: 4\n```\n\n```{literalinclude} ../../code/module.py\n:lines: 1\n```\n",
    )
    text = _markdown(notebook)
    assert "```python\ntotal = value + 1\nreturn total\n```" in text
    assert "```\nimport os\n```" in text
    assert "{literalinclude}" not in text


def test_citations_and_reference_list(small_book):
    notebook = _convert(small_book, "# T\n\nAs {cite}`smith2020,doe2019` and {cite:t}`doe2019` showed.\n")
    text = notebook.cells[0].source
    assert "As (Smith et al., 2020; Doe, 2019) and Doe (2019) showed." in text
    references = notebook.cells[-1].source
    assert references.startswith("## References")
    assert references.index("Doe (2019)") < references.index("Smith et al. (2020)")


def test_unknown_citation_is_an_error_naming_file_and_line(small_book):
    with pytest.raises(colab_notebook.ConversionError, match=r"chapter.md, line 15: cites 'nobody1999'"):
        _convert(small_book, "# T\n\nSee {cite:p}`nobody1999`.\n")


def test_doc_and_ref_become_links(small_book):
    notebook = _convert(small_book, "# T\n\nSee {doc}`other`, {doc}`that page <other>` and {ref}`a-label`.\n")
    text = notebook.cells[0].source
    site = "https://some-owner.github.io/course/book/part/other.html"
    assert f"[The other page]({site})" in text
    assert f"[that page]({site})" in text
    assert f"[A section]({site}#a-label)" in text


def test_roles_inside_code_spans_are_left_alone(small_book):
    notebook = _convert(small_book, "# T\n\nWrite `` {cite}`key` `` to cite.\n")
    assert "`` {cite}`key` ``" in notebook.cells[0].source


def test_admonitions_and_dropdowns_in_both_fences(small_book):
    notebook = _convert(
        small_book,
        "# T\n\n```{note}\nMind the {cite:p}`doe2019` gap.\n```\n\n"
        ":::{admonition} Solution\n:class: dropdown\n\nThe answer:\n\n```python\nprint(6 * 7)\n```\n\nIt is 42.\n:::\n\n"
        "````{admonition} Solution\n:class: dropdown\n\nOnly words.\n````\n",
    )
    kinds = [(cell.cell_type, cell.source.split("\n")[0]) for cell in notebook.cells]
    assert kinds[0][0] == "markdown"
    first = notebook.cells[0].source
    assert "> **Note**\n>\n> Mind the (Doe, 2019) gap." in first
    assert "<details>\n<summary><b>Solution</b></summary>" in first and "It is 42." in first
    assert "print(6 * 7)" not in first and "next cell" in first
    code = notebook.cells[1]
    assert code.cell_type == "code" and code.metadata["tags"] == ["solution"]
    assert code.source == '# @title Solution { display-mode: "form" }\nprint(6 * 7)'
    assert "Only words." in notebook.cells[2].source and notebook.cells[2].cell_type == "markdown"


def test_unknown_directive_and_role_are_errors(small_book):
    with pytest.raises(colab_notebook.ConversionError, match=r"chapter.md, line 15: the directive \{figure\}"):
        _convert(small_book, "# T\n\n```{figure} x.png\nA caption.\n```\n")
    with pytest.raises(colab_notebook.ConversionError, match=r"the role \{eq\}"):
        _convert(small_book, "# T\n\nSee {eq}`one`.\n")


def test_install_cell_comes_from_config_only_when_medcnn_is_used(small_book):
    notebook = _convert(small_book, "# T\n\n```{code-cell} ipython3\nimport medcnn\n```\n")
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert '"git+https://github.com/Some-Owner/course@main#subdirectory=code"' in code[0]
    assert notebook.cells[0].source == "# T"
    (small_book / "_config.yml").write_text(
        "repository:\n  url: https://github.com/Some-Owner/course\n  branch: main\n  colab_ref: v1.2\n", encoding="utf-8"
    )
    notebook = _convert(small_book, "# T\n\n```{code-cell} ipython3\nimport medcnn\n```\n")
    assert "course@v1.2#subdirectory=code" in notebook.cells[2].source
    plain = _convert(small_book, "# T\n\n```{code-cell} ipython3\nprint(1)\n```\n")
    assert not any("pip" in cell.source for cell in plain.cells)


def test_an_install_cell_left_in_the_markdown_is_an_error(small_book):
    with pytest.raises(colab_notebook.ConversionError, match="install cell from _config.yml"):
        _convert(small_book, "# T\n\n```{code-cell} ipython3\n!pip install git+https://github.com/x/y\n```\n")


def test_the_same_markdown_gives_the_same_file(small_book):
    body = "# T\n\nText {cite}`doe2019`.\n\n```{code-cell} ipython3\nimport medcnn\n```\n"
    first = colab_notebook.notebook_text(_convert(small_book, body))
    second = colab_notebook.notebook_text(_convert(small_book, body))
    assert first == second


def test_exercise_and_solution_directives(small_book):
    notebook = _convert(
        small_book,
        "# T\n\n````{exercise} Count\nHow many?\n````\n\n:::{solution} ex-count\n:label: sol\n\n```python\nprint(3)\n```\n:::\n",
    )
    first = notebook.cells[0].source
    assert "> **Exercise: Count**\n>\n> How many?" in first
    assert "<summary><b>Solution</b></summary>" in first
    assert notebook.cells[1].source.endswith("print(3)")
