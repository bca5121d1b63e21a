"""Release the course for a term: one tag that the Colab buttons, the install cells and the site use.

The term's release is set in one place, ``repository.colab_ref`` in ``_config.yml``
(``v2027.1``). From it:

- every chapter's Colab notebook installs ``medcnn`` from that tag
  (``tools/colab_notebook.py`` writes the install cell);
- the site's Colab buttons open the notebooks of that tag (``book/_ext/release_ref.py``
  gives it to sphinx-book-theme, which otherwise uses ``repository.branch``);
- the site is published from that tag (the ``ci`` workflow deploys release tags only).

``make release TERM=2027.1`` runs ``prepare`` (set ``colab_ref``, regenerate the notebooks),
builds the book, runs ``tag`` (commit ``_config.yml`` and the notebooks, tag ``v2027.1``) and
pushes the commit and the tag; CI then tests the tag and publishes its site.

Usage::

    python tools/release.py prepare --term 2027.1
    python tools/release.py tag --term 2027.1

Example:
    >>> tag_name("2027.1")
    'v2027.1'
    >>> set_colab_ref("repository:\\n  url: https://github.com/o/r\\n  branch: main\\n", "v2027.1")
    'repository:\\n  url: https://github.com/o/r\\n  branch: main\\n  colab_ref: v2027.1\\n'
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
TERM = re.compile(r"^\d{4}\.\d{1,2}$")


class ReleaseError(RuntimeError):
    """A release that cannot go ahead; the message says why and what to do."""


def tag_name(term: str) -> str:
    """The release tag of a term (``2027.1`` -> ``v2027.1``).

    Raises:
        ReleaseError: for a term that is not ``<year>.<number>``.
    """
    if not TERM.match(term or ""):
        raise ReleaseError(f"TERM={term!r}: give the term as <year>.<number>, e.g. make release TERM=2027.1")
    return f"v{term}"


def set_colab_ref(config_text: str, tag: str) -> str:
    """``_config.yml``'s text with ``repository.colab_ref`` set to ``tag`` (its other lines untouched).

    Raises:
        ReleaseError: when the file has no ``repository:`` block with a ``branch:`` line.
    """
    lines = config_text.splitlines(keepends=True)
    start = next((number for number, line in enumerate(lines) if re.match(r"^repository:\s*(#.*)?$", line)), None)
    if start is None:
        raise ReleaseError("_config.yml has no repository: block; the release tag goes in repository.colab_ref")
    end = next((number for number in range(start + 1, len(lines)) if re.match(r"^\S", lines[number])), len(lines))
    for number in range(start + 1, end):
        match = re.match(r"^(?P<indent>\s+)colab_ref:\s*(?P<value>[^#\s]*)(?P<rest>.*)$", lines[number].rstrip("\n"))
        if match:
            lines[number] = f"{match['indent']}colab_ref: {tag}{match['rest']}\n"
            return "".join(lines)
    for number in range(start + 1, end):
        match = re.match(r"^(?P<indent>\s+)branch:", lines[number])
        if match:
            ending = "" if lines[number].endswith("\n") else "\n"
            lines[number] = lines[number] + ending
            lines.insert(number + 1, f"{match['indent']}colab_ref: {tag}\n")
            return "".join(lines)
    raise ReleaseError("_config.yml: repository: has no branch: line; add one (the default branch, e.g. main)")


def _git(root: Path, *arguments: str) -> str:
    result = subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(arguments)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def prepare(term: str, *, root: Path = REPOSITORY_ROOT) -> list[Path]:
    """Set ``colab_ref`` to the term's tag and regenerate the notebooks (both editions'); return the files changed.

    Raises:
        ReleaseError: when the working tree has uncommitted changes or the tag exists.
    """
    tag = tag_name(term)
    if _git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise ReleaseError("the working tree has uncommitted changes: commit or remove them first (git status)")
    if _git(root, "tag", "--list", tag).strip():
        raise ReleaseError(f"the tag {tag} exists already: choose another TERM, or delete it (git tag -d {tag})")
    config = root / "_config.yml"
    config.write_text(set_colab_ref(config.read_text(encoding="utf-8"), tag), encoding="utf-8")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from check_notebooks import fix
    from i18n import spanish_notebooks

    written = [config, *fix(root)]
    # the Spanish notebooks' install cells name the tag too (tools/i18n.py); a course without
    # them (no <page>.es.ipynb committed) gets none
    for path, (text, _) in spanish_notebooks(root).items():
        if path.is_file() and path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def tag(term: str, *, root: Path = REPOSITORY_ROOT) -> str:
    """Commit ``_config.yml`` and the regenerated notebooks, then tag the commit; return the tag.

    Raises:
        ReleaseError: when ``colab_ref`` is not the term's tag (run ``prepare`` first).
    """
    name = tag_name(term)
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    if (config.get("repository") or {}).get("colab_ref") != name:
        raise ReleaseError(f"_config.yml's repository.colab_ref is not {name}: run python tools/release.py prepare --term {term}")
    changed = [line[3:] for line in _git(root, "status", "--porcelain", "--untracked-files=no").splitlines()]
    allowed = [path for path in changed if path == "_config.yml" or (path.startswith("book/") and path.endswith(".ipynb"))]
    if set(allowed) != set(changed):
        raise ReleaseError(f"files other than _config.yml and the notebooks changed: {sorted(set(changed) - set(allowed))}")
    if changed:
        _git(root, "commit", "--quiet", "-m", f"Release {name}: Colab installs medcnn from {name}", "--", *changed)
    _git(root, "tag", "-a", name, "-m", f"The course for term {term}")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["prepare", "tag"])
    parser.add_argument("--term", required=True, help="the term, <year>.<number>, e.g. 2027.1")
    arguments = parser.parse_args(argv)
    try:
        if arguments.step == "prepare":
            for path in prepare(arguments.term):
                print(f"release: wrote {Path(path).resolve().relative_to(REPOSITORY_ROOT)}")
        else:
            print(f"release: tagged {tag(arguments.term)}")
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
