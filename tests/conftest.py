"""Fixtures shared by the test files: a local file server and figshare's article, both without the network.

Plain helpers that test files import (``load_tool``, ``serving``, the chapter header) are in
``tests/helpers.py``: see its docstring for why they cannot live here.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import http.server
import types
import zipfile

import pytest

from helpers import serving


def pytest_collection_finish(session):
    """Move everything imported while collecting (TensorFlow, Keras, JAX: about half a million
    objects) out of the garbage collector's sight. Keras's ``clear_session()`` and Python's own
    full collections walk every tracked object; with these frozen, a collection looks only at what
    the tests create (one took ~0.7 s per test before, a few milliseconds after)."""
    gc.freeze()


@pytest.fixture
def file_server(tmp_path):
    """Serve ``tmp_path/served`` over HTTP on 127.0.0.1 until the test ends.

    Yields a namespace: ``folder`` (what is served), ``url`` (its base address) and ``cut``,
    a set of file names whose answer stops after a third of the file and drops the
    connection, as an interrupted download does.
    """
    folder = tmp_path / "served"
    folder.mkdir()
    cut: set[str] = set()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *arguments):
            pass

        def do_GET(self):  # noqa: N802 (the name http.server calls)
            name = self.path.lstrip("/")
            if name not in cut:
                return super().do_GET()
            data = (folder / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.wfile.flush()
            self.close_connection = True

    with serving(functools.partial(Handler, directory=str(folder))) as url:
        yield types.SimpleNamespace(folder=folder, url=url, cut=cut)


@pytest.fixture
def figshare_article(tmp_path):
    """The synthetic brain tumor article (``tmp_path/mimic``) as figshare holds it: one file per part.

    A namespace: ``root`` (the synthetic dataset folder), ``files`` (file id -> bytes) and
    ``parts`` (part name -> ``(file_id, size, md5)``, the shape of ``brain_tumor.FIGSHARE_PARTS``).
    """
    from medcnn.datasets import brain_tumor

    root = brain_tumor.write_synthetic(tmp_path / "mimic", per_class=2, image_size=8)
    files, parts = {}, {}
    with zipfile.ZipFile(root / brain_tumor.DOWNLOAD_NAME) as archive:
        for position, name in enumerate(sorted(archive.namelist())):
            if name == "README.txt":
                continue
            data = archive.read(name)
            files[5000 + position] = data
            parts[name] = (5000 + position, len(data), hashlib.md5(data).hexdigest())
    return types.SimpleNamespace(root=root, files=files, parts=parts)
