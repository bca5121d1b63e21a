"""When figshare refuses every address, the message's way by hand works, followed to the letter.

figshare's download host has refused scripts since 2026-08 (HTTP 403 or a bot challenge). A
second automatic source would have to serve byte-identical files (checked against figshare's
MD5s); none could be verified (the copies known to the course, on Kaggle, re-encode the images),
so the error message says how to download by hand instead (the article page's "Download all",
or its files one by one). Here a server that refuses every
request stands in for figshare; the test reads the paths out of the message, puts the synthetic
article's files there as a reader would, and runs the download again: it succeeds without asking
the server anything, each file checked against its MD5.
"""

from __future__ import annotations

import http.server
import re
import shutil

import pytest

from helpers import serving
from medcnn.datasets import brain_tumor
from medcnn.errors import DownloadError


@pytest.fixture
def refusing_figshare():
    """Every address answers 403, as figshare's download host does; ``requests`` lists what was asked."""
    requests: list[str] = []

    class Refusing(http.server.BaseHTTPRequestHandler):
        def log_message(self, *arguments):
            pass

        def do_GET(self):  # noqa: N802 (the name http.server calls)
            requests.append(self.path)
            body = b"<html><body>Forbidden</body></html>"
            self.send_response(403)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Refusing) as url:
        yield url, (f"{url}/v2/file/download/{{file_id}}", f"{url}/files/{{file_id}}"), requests


def _refusal(root, parts, endpoints) -> str:
    with pytest.raises(DownloadError) as caught:
        brain_tumor.download(root, progress=False, part_checksums=parts, endpoints=endpoints)
    message = str(caught.value)
    assert "forbidden (HTTP 403)" in message and brain_tumor.ARTICLE_URL in message and '"Download all"' in message
    return message


def test_the_article_zip_saved_where_the_message_says_is_used(refusing_figshare, figshare_article, tmp_path):
    url, endpoints, requests = refusing_figshare
    root = tmp_path / "brain_tumor"
    message = _refusal(root, figshare_article.parts, endpoints)
    zip_path = re.search(r"save the zip as (\S+\.zip)", message).group(1)
    assert zip_path == str(root / brain_tumor.DOWNLOAD_NAME)

    asked = len(requests)
    shutil.copyfile(figshare_article.root / brain_tumor.DOWNLOAD_NAME, zip_path)  # what "Download all" saves
    assert brain_tumor.download(root, progress=False, part_checksums=figshare_article.parts, endpoints=endpoints) == root
    assert len(requests) == asked, "the download asked figshare again though the zip was there"
    assert len(brain_tumor.index(root)) == len(brain_tumor.index(figshare_article.root))


def test_the_files_saved_one_by_one_where_the_message_says_are_checked_and_used(refusing_figshare, figshare_article, tmp_path):
    url, endpoints, requests = refusing_figshare
    root = tmp_path / "brain_tumor"
    message = _refusal(root, figshare_article.parts, endpoints)
    folder = re.search(r"save its files under their own names in (\S+?)\)", message).group(1)
    assert folder == str(root)

    asked = len(requests)
    for name, (file_id, _, _) in figshare_article.parts.items():  # each file as the article page lists it
        (root / name).write_bytes(figshare_article.files[file_id])
    assert brain_tumor.download(root, progress=False, part_checksums=figshare_article.parts, endpoints=endpoints) == root
    assert len(requests) == asked
    assert len(brain_tumor.index(root)) == len(brain_tumor.index(figshare_article.root))
