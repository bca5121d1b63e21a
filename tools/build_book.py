"""Build the course site, re-executing only the chapters whose outputs could have changed.

Jupyter Book's execution cache (``execute_notebooks: cache`` in ``_config.yml``)
keys each chapter on the source of its code cells: an edit of prose only is
rebuilt from the cached outputs, an edit of a code cell re-executes that
chapter. The cache cannot see the other thing every chapter depends on, the
``medcnn`` package it imports. This tool closes that gap: it hashes what the
chapters' outputs depend on besides their own cells (``code/`` — the package,
its data files and ``pyproject.toml`` — ``requirements.txt`` and ``requirements.lock`` (the
stack), and the profile
in ``MEDCNN_PROFILE``) into a *code key*. When the key differs from the one the
cache was filled under (recorded in ``_build/.jupyter_cache/code-key.txt``), the
cache is emptied and every page is rebuilt (``--all``), so no page is ever built
from outputs of older code.

Usage::

    python tools/build_book.py            # what `make book` runs
    python tools/build_book.py --key      # print the code key (CI caches under it)
    python tools/build_book.py --fresh    # empty the cache first, whatever the key
    python tools/build_book.py --english-only   # skip the Spanish edition

After the English site, the Spanish edition is built into ``_build/html/es`` from the same
sources and the same execution cache (``tools/i18n.py build``): it adds Sphinx's time only.

Example:
    >>> key = code_key(Path("."))                # doctest: +SKIP
    >>> len(key)                                 # doctest: +SKIP
    64
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
CACHE_FOLDER = Path("_build") / ".jupyter_cache"
KEY_FILE_NAME = "code-key.txt"
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def _key_inputs(root: Path) -> list[Path]:
    """The files whose content the key covers, in a stable order."""
    files = [
        path
        for path in (root / "code").rglob("*")
        if path.is_file()
        and not SKIPPED_PARTS.intersection(path.relative_to(root).parts)
        and not any(part.endswith(".egg-info") for part in path.relative_to(root).parts)
        and path.suffix not in SKIPPED_SUFFIXES
    ]
    for name in ("requirements.txt", "requirements.lock"):
        if (root / name).is_file():
            files.append(root / name)
    return sorted(files, key=lambda path: path.relative_to(root).as_posix())


def code_key(root: Path = REPOSITORY_ROOT, *, profile: str | None = None) -> str:
    """The SHA-256 of everything the chapters' outputs depend on besides their cells.

    Covers every file under ``code/`` (names and bytes), ``requirements.txt``,
    ``requirements.lock`` and the profile (``MEDCNN_PROFILE``, ``smoke`` when unset).

    Example:
        >>> code_key(Path("."), profile="smoke") == code_key(Path("."), profile="smoke")  # doctest: +SKIP
        True
    """
    if profile is None:
        profile = os.environ.get("MEDCNN_PROFILE", "smoke")
    digest = hashlib.sha256()
    digest.update(f"profile={profile}\n".encode())
    for path in _key_inputs(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_is_current(root: Path, key: str) -> bool:
    """Whether the execution cache under ``root`` was filled under ``key``."""
    key_file = root / CACHE_FOLDER / KEY_FILE_NAME
    try:
        return key_file.read_text(encoding="utf-8").strip() == key
    except (OSError, UnicodeDecodeError):
        return False


def prepare_cache(root: Path, key: str, *, fresh: bool = False) -> bool:
    """Empty the execution cache unless it belongs to ``key``; return True if it was kept.

    The key is written before the build, into the emptied folder: whatever the
    build then caches was executed with this code, even if the build fails half way.
    """
    cache = root / CACHE_FOLDER
    if not fresh and cache_is_current(root, key):
        return True
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / KEY_FILE_NAME).write_text(key + "\n", encoding="utf-8")
    return False


LAYOUT_FILE = Path("_build") / "layout-key.txt"


def layout_key(root: Path = REPOSITORY_ROOT) -> str:
    """The SHA-256 of what every page's sidebar and header depend on, beyond the page itself.

    ``_toc.yml`` and ``_config.yml``, and the Spanish catalogues every Spanish page reads:
    the root page's (the parts' captions in the sidebar), ``figures.po`` (alt text) and
    ``code-comments.po`` (the code cells' comments). Sphinx
    rebuilds a changed page only; a page added to the toc would be missing from the sidebar of
    every other page. When this key changes, both editions are rebuilt whole (from the
    execution cache: nothing executes again for it).
    """
    digest = hashlib.sha256()
    for name in ("_toc.yml", "_config.yml", "locales/es/LC_MESSAGES/book/index.po", "locales/es/LC_MESSAGES/figures.po",
                 "locales/es/LC_MESSAGES/code-comments.po"):
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def serve_colab_notebooks(root: Path = REPOSITORY_ROOT) -> list[Path]:
    """Make each page's ".ipynb" download the chapter's Colab notebook; return the files replaced.

    sphinx-book-theme's download button serves ``_build/html/_sources/<page>.ipynb``, a copy of
    the smoke-profile notebook the build executed (raw MyST, no install cell). Each is replaced by
    the committed Colab notebook beside the chapter (``book/<page>.ipynb``, generated by
    ``tools/colab_notebook.py``): what the Colab button opens is what the download gives.

    Example:
        >>> [path.name for path in serve_colab_notebooks(Path("."))][:1]   # doctest: +SKIP
        ['brain_tumor.ipynb']
    """
    sources = root / "_build" / "html" / "_sources"
    replaced = []
    for served in sorted(sources.rglob("*.ipynb")) if sources.is_dir() else []:
        committed = root / served.relative_to(sources)
        if committed.is_file() and committed.with_suffix(".md").is_file():
            shutil.copyfile(committed, served)
            replaced.append(served)
    return replaced


def build(root: Path = REPOSITORY_ROOT, *, fresh: bool = False, spanish: bool = True) -> int:
    """Build the site into ``root/_build/html``, the Spanish edition into ``html/es``; return the exit status."""
    key = code_key(root)
    kept = prepare_cache(root, key, fresh=fresh)
    if kept:
        print(f"build_book: code key {key[:12]} unchanged: chapters whose code cells are "
              "unchanged are rebuilt from the execution cache")
    else:
        print(f"build_book: code key {key[:12]} is new (code/, the requirements or the profile "
              "changed, or no cache): every chapter executes")
    temporary = root / "_build" / "tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, TMPDIR=str(temporary))
    # A non-interactive MPLBACKEND (the Makefile and CI set Agg for the tests) would reach the
    # chapters' kernels and replace the inline backend: every figure would show as
    # "<Figure size ...>" text. The kernels choose their own backend.
    environment.pop("MPLBACKEND", None)
    environment.setdefault("MEDCNN_PROFILE", "smoke")
    builder = Path(sys.executable).parent / "jupyter-book"
    command = [str(builder), "build", str(root), "--warningiserror", "--keep-going"]
    layout = layout_key(root)
    layout_file = root / LAYOUT_FILE
    layout_changed = not layout_file.is_file() or layout_file.read_text(encoding="utf-8").strip() != layout
    if layout_changed:
        layout_file.unlink(missing_ok=True)
        print("build_book: _toc.yml or _config.yml changed: every page of both editions is rewritten")
    if not kept or layout_changed:
        command.append("--all")
    start = time.monotonic()
    status = subprocess.call(command, cwd=root, env=environment)
    print(f"build_book: jupyter-book finished in {time.monotonic() - start:.0f} s "
          f"(exit status {status})")
    served = serve_colab_notebooks(root)
    print(f"build_book: the .ipynb download of {len(served)} page(s) is the chapter's Colab notebook")
    if status or not spanish:
        return status
    # The Spanish edition, from the same sources and the cache the English build has just filled:
    # no chapter executes again (tools/i18n.py, book/_ext/editions.py).
    sys.path.insert(0, str(root / "tools"))
    import i18n

    status = i18n.build(root, fresh=not kept or layout_changed)
    if status == 0:
        layout_file.write_text(layout + "\n", encoding="utf-8")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", action="store_true", help="print the code key and exit")
    parser.add_argument("--fresh", action="store_true", help="empty the execution cache first")
    parser.add_argument("--english-only", action="store_true", help="skip the Spanish edition (_build/html/es)")
    arguments = parser.parse_args(argv)
    if arguments.key:
        print(code_key(REPOSITORY_ROOT))
        return 0
    return build(REPOSITORY_ROOT, fresh=arguments.fresh, spanish=not arguments.english_only)


if __name__ == "__main__":
    sys.exit(main())
