"""What several test files share and import by name: the repository's tools, a chapter header, a local server.

Fixtures live in ``tests/conftest.py``; the plain helpers live here, because a test file
cannot import from ``conftest``: every ``conftest.py`` outside a package is the module
``conftest``, and ``tests/browser/conftest.py`` takes that name while the tests are
collected. ``tests/`` is on ``sys.path`` for the test files (pytest's default import mode),
so they write ``from helpers import load_tool``.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TOOLS = REPOSITORY / "tools"

# The front matter of a MyST Markdown chapter paired with a notebook, as the book's chapters start.
CHAPTER_FRONT_MATTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""


def load_tool(name: str) -> types.ModuleType:
    """Import the script ``tools/<name>.py`` as the module ``name``, once per test session.

    The module is put in ``sys.modules`` before it runs (its dataclasses and pickles
    resolve their module), and ``tools/`` is on ``sys.path`` (the tools import one
    another by name, as when run as scripts). A second call returns the same module.

    Example:
        >>> build_book = load_tool("build_book")
        >>> build_book.__name__
        'build_book'
    """
    path = TOOLS / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no tool {path}: expected one of {sorted(p.stem for p in TOOLS.glob('*.py'))}")
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    loaded = sys.modules.get(name)
    if loaded is not None:
        loaded_from = getattr(loaded, "__file__", None)
        if loaded_from is None or Path(loaded_from).resolve() != path.resolve():
            raise ImportError(f"the module name {name!r} is taken by {loaded_from or loaded!r}, not {path}")
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@contextlib.contextmanager
def serving(handler) -> Iterator[str]:
    """Serve HTTP with ``handler`` on 127.0.0.1 at a free port, from a background thread; yield the base URL.

    The server is stopped, closed and its thread joined on leaving the ``with`` block.

    Example:
        >>> import functools
        >>> quiet = functools.partial(http.server.SimpleHTTPRequestHandler, directory=".")
        >>> with serving(quiet) as url:
        ...     url.startswith("http://127.0.0.1:")
        True
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
