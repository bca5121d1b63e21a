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


def build(root: Path = REPOSITORY_ROOT, *, fresh: bool = False) -> int:
    """Build the site into ``root/_build/html``; return jupyter-book's exit status."""
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
    if not kept:
        command.append("--all")
    start = time.monotonic()
    status = subprocess.call(command, cwd=root, env=environment)
    print(f"build_book: jupyter-book finished in {time.monotonic() - start:.0f} s "
          f"(exit status {status})")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", action="store_true", help="print the code key and exit")
    parser.add_argument("--fresh", action="store_true", help="empty the execution cache first")
    arguments = parser.parse_args(argv)
    if arguments.key:
        print(code_key(REPOSITORY_ROOT))
        return 0
    return build(REPOSITORY_ROOT, fresh=arguments.fresh)


if __name__ == "__main__":
    sys.exit(main())
