"""Downloads without the network: a local HTTP server for pooch, a stand-in for kagglehub, safe unzip."""

import http.server
import shutil
import socket
import zipfile

import pytest

from helpers import serving
from medcnn.datasets import brain_tumor, covid19, retina
from medcnn.download.archives import extract_zip, is_unpacked
from medcnn.download.fetch import fetch_kaggle, fetch_url, kaggle_handle
from medcnn.errors import DataError, DownloadError


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/articles/1512427"


def test_fetch_url_downloads_once(file_server, tmp_path):
    served, base = file_server.folder, file_server.url
    (served / "data.bin").write_bytes(b"x" * 5000)
    target = tmp_path / "downloads"
    path = fetch_url(f"{base}/data.bin", folder=target, file_name="kept.bin", progress=False)
    assert path == target / "kept.bin" and path.read_bytes() == b"x" * 5000
    (served / "data.bin").unlink()  # a second call must not need the server
    assert fetch_url(f"{base}/data.bin", folder=target, file_name="kept.bin", progress=False) == path


def test_fetch_url_checks_the_hash(file_server, tmp_path):
    served, base = file_server.folder, file_server.url
    (served / "data.bin").write_bytes(b"abc")
    with pytest.raises(DownloadError, match="data.bin"):
        fetch_url(f"{base}/data.bin", folder=tmp_path, file_name="data.bin", known_hash="sha256:" + "0" * 64, progress=False)
    assert not (tmp_path / "data.bin").exists()


def test_unreachable_url_names_it_and_the_manual_fix(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as caught:
        fetch_url(url, folder=tmp_path / "brain_tumor", file_name="1512427.zip", progress=False)
    message = str(caught.value)
    assert url in message and "1512427.zip" in message and str(tmp_path / "brain_tumor") in message
    assert not (tmp_path / "brain_tumor" / "1512427.zip").exists()


def test_http_error_is_a_download_error(file_server, tmp_path):
    base = file_server.url
    with pytest.raises(DownloadError, match="missing.zip"):
        fetch_url(f"{base}/missing.zip", folder=tmp_path, file_name="missing.zip", progress=False)


def test_brain_tumor_download_refuses_a_synthetic_folder(tmp_path):
    root = brain_tumor.write_synthetic(tmp_path / "brain_tumor", per_class=2, image_size=8)
    with pytest.raises(DownloadError, match="synthetic"):
        brain_tumor.download(root, progress=False)


@pytest.mark.parametrize("module", [covid19, retina], ids=["covid19", "retina"])
def test_kaggle_download_with_a_stand_in(module, tmp_path, monkeypatch):
    import shutil

    import kagglehub

    mimic = module.write_synthetic(tmp_path / "mimic", per_class=2, image_size=8)
    calls = []

    def dataset_download(handle, path=None, *, force_download=False, output_dir=None):
        calls.append((handle, output_dir, force_download))
        shutil.copytree(mimic, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".medcnn-*"))
        return output_dir

    monkeypatch.setattr(kagglehub, "dataset_download", dataset_download)
    root = module.download(tmp_path / "data" / module.KEY)
    assert calls == [(module.SOURCE, str(root), False)]
    assert len(module.index(root)) == len(module.index(mimic))


def test_kaggle_copy_when_kagglehub_returns_its_cache(tmp_path, monkeypatch):
    import kagglehub

    cache = tmp_path / "cache"
    (cache / "sub").mkdir(parents=True)
    (cache / "sub" / "a.txt").write_text("a")
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, **options: str(cache))
    folder = fetch_kaggle("owner/name", folder=tmp_path / "out")
    assert (folder / "sub" / "a.txt").read_text() == "a"


def test_kaggle_failure_names_the_handle_and_folder(tmp_path, monkeypatch):
    import kagglehub

    def failing(handle, **options):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(kagglehub, "dataset_download", failing)
    with pytest.raises(DownloadError) as caught:
        fetch_kaggle("andrewmvd/retinal-disease-classification", folder=tmp_path / "retina", version=2)
    message = str(caught.value)
    assert "andrewmvd/retinal-disease-classification/versions/2" in message and str(tmp_path / "retina") in message


def test_kaggle_handle_pins_versions():
    assert kaggle_handle("a/b") == "a/b"
    assert kaggle_handle("a/b/versions/3", version=4) == "a/b/versions/4"


def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("fine.txt", "ok")
        handle.writestr("../../escaped.txt", "bad")
    with pytest.raises(DataError, match=r"evil.zip: refusing to unpack member '../../escaped.txt'"):
        extract_zip(archive, tmp_path / "out" / "evil")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "evil").exists()
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", ["/etc/absolute.txt", "C:/windows.txt", "a/../../up.txt"])
def test_unsafe_names_are_refused(tmp_path, name):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(zipfile.ZipInfo(name), "bad")
    with pytest.raises(DataError, match="refusing to unpack"):
        extract_zip(archive, tmp_path / "bad")


def test_extract_is_atomic_and_done_once(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("x/1.txt", "one")
        handle.writestr("2.txt", "two")
    target = extract_zip(archive, tmp_path / "a")
    assert (target / "x" / "1.txt").read_text() == "one" and (target / "2.txt").read_text() == "two"
    (target / "x" / "1.txt").write_text("changed")
    assert extract_zip(archive, tmp_path / "a") == target
    assert (target / "x" / "1.txt").read_text() == "changed"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["a", "a.zip"]


def test_damaged_zip_leaves_nothing(tmp_path):
    archive = tmp_path / "cut.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("1.txt", "x" * 1000)
    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(DataError, match="cut.zip"):
        extract_zip(archive, tmp_path / "cut")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["cut.zip"]


def test_existing_unmarked_folder_is_not_overwritten(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("1.txt", "one")
    (tmp_path / "a").mkdir()
    with pytest.raises(DataError, match="not a finished unpacking"):
        extract_zip(archive, tmp_path / "a")


# --- figshare as it answers scripts today: bot challenges, 403s, a redirect to storage ----------------


class _FigshareMimic:
    """A request handler shaped like figshare: ``/v2/file/download/<id>`` (the API, redirecting to
    ``/storage/<id>``) and ``/files/<id>`` (ndownloader). ``answers`` picks how each host answers;
    ``requests`` records every path asked for."""

    def __init__(self, files_by_id):
        self.files = dict(files_by_id)
        self.answers = {"api": "redirect", "files": "file"}
        self.requests = []

    def handler(self):
        mimic = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *arguments):
                pass

            def _send(self, status, body=b"", headers=()):
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                mimic.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                host = {"v2": "api", "files": "files", "storage": "storage"}.get(parts[0])
                file_id = int(parts[-1]) if parts[-1].isdigit() else -1
                if host is None or file_id not in mimic.files:
                    return self._send(404, b"not found")
                answer = "file" if host == "storage" else mimic.answers[host]
                if answer == "challenge":
                    return self._send(202, b"", [("x-amzn-waf-action", "challenge")])
                if answer == "forbidden":
                    return self._send(403, b"<html><body>Forbidden</body></html>", [("Content-Type", "text/html")])
                if answer == "html":
                    return self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", [("Content-Type", "text/html")])
                if answer == "empty":
                    return self._send(200, b"", [("Content-Type", "application/octet-stream")])
                if answer == "redirect":
                    return self._send(302, b"", [("Location", f"/storage/{file_id}")])
                return self._send(200, mimic.files[file_id], [("Content-Type", "application/octet-stream")])

        return Handler


@pytest.fixture()
def figshare(figshare_article):
    """The synthetic article's five files served by id, with their (id, size, md5) table."""
    mimic = _FigshareMimic(figshare_article.files)
    mimic.parts = figshare_article.parts
    mimic.mimic_root = figshare_article.root
    with serving(mimic.handler()) as url:
        mimic.url = url
        mimic.endpoints = (f"{url}/v2/file/download/{{file_id}}", f"{url}/files/{{file_id}}")
        yield mimic


def _no_empty_or_partial_files(folder):
    found = [path for path in folder.rglob("*") if path.is_file()]
    assert not [path for path in found if path.stat().st_size == 0], "a 0-byte file was left"
    assert not [path for path in found if ".partial" in path.name], "a partial file was left"


@pytest.mark.parametrize("refusal", ["challenge", "forbidden"])
def test_figshare_refused_by_the_api_comes_through_the_other_host(figshare, tmp_path, refusal):
    figshare.answers["api"] = refusal
    root = brain_tumor.download(
        tmp_path / "brain_tumor", progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints
    )
    assert sorted(path.name for path in root.glob("*.zip")) == sorted(n for n in figshare.parts if n.endswith(".zip"))
    assert len(brain_tumor.index(root)) == len(brain_tumor.index(figshare.mimic_root))
    assert any(path.startswith("/v2/file/download/") for path in figshare.requests)
    assert any(path.startswith("/files/") for path in figshare.requests)
    _no_empty_or_partial_files(root)


def test_figshare_through_the_api_redirect_and_not_again(figshare, tmp_path):
    root = brain_tumor.download(
        tmp_path / "brain_tumor", progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints
    )
    assert not any(path.startswith("/files/") for path in figshare.requests)  # the API's redirect served all
    count = len(figshare.requests)
    brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    assert len(figshare.requests) == count  # every file there and matching its MD5: nothing fetched again


def test_figshare_endpoints_follow_the_module_constants(figshare, tmp_path, monkeypatch):
    # what a tool that runs other code does (tools/rehearsal.py): replace the constants in its process
    monkeypatch.setattr(brain_tumor, "FIGSHARE_API", f"{figshare.url}/v2")
    monkeypatch.setattr(brain_tumor, "FIGSHARE_FILES", f"{figshare.url}/files/")
    assert brain_tumor.figshare_endpoints() == figshare.endpoints
    figshare.answers["api"] = "challenge"
    root = brain_tumor.download(tmp_path / "brain_tumor", progress=False, part_checksums=figshare.parts)
    assert len(brain_tumor.index(root)) == len(brain_tumor.index(figshare.mimic_root))


@pytest.mark.parametrize(
    ("api", "files", "expected"),
    [
        ("challenge", "forbidden", ["bot challenge (HTTP 202, x-amzn-waf-action: challenge, empty body)", "forbidden (HTTP 403)"]),
        ("empty", "html", ["empty answer", "an HTML page instead of the file"]),
    ],
    ids=["challenge-then-403", "empty-then-html"],
)
def test_figshare_refused_everywhere_names_each_answer_and_keeps_nothing(figshare, tmp_path, api, files, expected):
    figshare.answers.update(api=api, files=files)
    root = tmp_path / "brain_tumor"
    with pytest.raises(DownloadError) as caught:
        brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    message = str(caught.value)
    for text in expected:
        assert text in message
    first_id = min(file_id for file_id, _, _ in figshare.parts.values())
    assert f"{figshare.url}/v2/file/download/" in message and f"{figshare.url}/files/" in message
    assert "Download all" in message and str(root / brain_tumor.DOWNLOAD_NAME) in message
    assert "Nothing was kept" in message and str(first_id) in message
    assert not root.exists() or not any(root.iterdir())  # no 0-byte file, no partial file


def test_figshare_wrong_md5_fails_clearly_and_keeps_nothing(figshare, tmp_path):
    name = "cvind.mat"
    file_id, size, _ = figshare.parts[name]
    wrong = dict(figshare.parts, **{name: (file_id, size, "0" * 32)})
    root = tmp_path / "brain_tumor"
    with pytest.raises(DownloadError) as caught:
        brain_tumor.download(root, progress=False, part_checksums=wrong, endpoints=figshare.endpoints)
    message = str(caught.value)
    assert f"could not download {name}" in message and "wrong checksum: md5" in message
    assert f"expected {'0' * 32}" in message
    assert not (root / name).exists()
    _no_empty_or_partial_files(root)


def test_a_zero_byte_file_from_an_earlier_run_is_fetched_again(figshare, tmp_path):
    root = tmp_path / "brain_tumor"
    root.mkdir()
    (root / "cvind.mat").write_bytes(b"")  # what an older pooch left after a 202
    brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    assert (root / "cvind.mat").stat().st_size == figshare.parts["cvind.mat"][1]
    _no_empty_or_partial_files(root)


def test_figshare_download_that_does_not_fit_names_the_disk(figshare, tmp_path, monkeypatch):
    from medcnn import files
    from medcnn.errors import DiskFullError

    monkeypatch.setattr(files, "free_bytes", lambda folder: 1000)
    root = tmp_path / "brain_tumor"
    with pytest.raises(DiskFullError) as caught:
        brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    assert "disk full" in str(caught.value) and "brain tumor dataset" in str(caught.value)
    assert figshare.requests == [] and (not root.exists() or not any(root.iterdir()))


def test_a_full_disk_mid_download_keeps_nothing(figshare, tmp_path, monkeypatch):
    import errno

    from medcnn.download import fetch
    from medcnn.errors import DiskFullError

    def full(url, path, **options):
        path.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch, "stream_to", full)
    root = tmp_path / "brain_tumor"
    with pytest.raises(DiskFullError, match="disk full: cannot write the download"):
        brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    assert not any(root.iterdir())


def test_an_article_zip_placed_by_hand_is_used_without_the_network(figshare, tmp_path):
    root = tmp_path / "brain_tumor"
    root.mkdir()
    (root / brain_tumor.DOWNLOAD_NAME).write_bytes((figshare.mimic_root / brain_tumor.DOWNLOAD_NAME).read_bytes())
    brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
    assert figshare.requests == [] and len(brain_tumor.index(root)) == len(brain_tumor.index(figshare.mimic_root))


def test_a_damaged_article_zip_placed_by_hand_says_so(figshare, tmp_path):
    root = tmp_path / "brain_tumor"
    root.mkdir()
    data = (figshare.mimic_root / brain_tumor.DOWNLOAD_NAME).read_bytes()
    for cut in (300, len(data) // 2):  # a cut zip can still open on an inner zip's directory: checked too
        shutil.rmtree(root / "1512427", ignore_errors=True)
        (root / brain_tumor.DOWNLOAD_NAME).write_bytes(data[:cut])
        with pytest.raises(DownloadError, match=r"1512427.zip: (damaged|does not match).*Delete it"):
            brain_tumor.download(root, progress=False, part_checksums=figshare.parts, endpoints=figshare.endpoints)
        assert figshare.requests == [] and not (root / "1512427").exists()


# --- kagglehub: too old, Colab's cache read in place ---------------------------------------------------


def test_kagglehub_too_old_names_its_version_and_the_upgrade(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setattr(kagglehub, "__version__", "0.2.8")
    with pytest.raises(DownloadError) as caught:
        retina.download(tmp_path / "retina")
    message = str(caught.value)
    assert "kagglehub 0.2.8 is too old" in message and "pip install --upgrade 'kagglehub>=" in message
    assert "credentials" not in message and "token" not in message.lower()


def test_kagglehub_refusing_output_dir_is_reported_as_too_old_not_as_credentials(tmp_path, monkeypatch):
    import kagglehub

    def picky(handle, path=None, *, force_download=False, **options):  # says it takes anything, refuses output_dir
        if "output_dir" in options:
            raise TypeError("dataset_download() got an unexpected keyword argument 'output_dir'")
        return str(tmp_path)

    monkeypatch.setattr(kagglehub, "dataset_download", picky)
    monkeypatch.setattr(kagglehub, "__version__", "0.3.13")
    with pytest.raises(DownloadError) as caught:
        covid19.download(tmp_path / "covid19")
    message = str(caught.value)
    assert "kagglehub 0.3.13 is too old" in message and "output_dir" in message and "KAGGLE" not in message


def test_kagglehub_without_output_dir_reads_its_cache_in_place(tmp_path, monkeypatch):
    """kagglehub 0.3.13 (Colab's for a long time) has no output_dir: medcnn links to what it returns."""
    import kagglehub

    cache = retina.write_synthetic(tmp_path / "kagglehub-cache", per_class=2, image_size=8)
    (cache / ".medcnn-synthetic.json").unlink()  # as Kaggle serves it: real data carries no marker
    calls = []

    def old_dataset_download(handle, path=None, *, force_download=False):
        calls.append((handle, force_download))
        return str(cache)

    monkeypatch.setattr(kagglehub, "dataset_download", old_dataset_download)
    monkeypatch.setattr(kagglehub, "__version__", "0.3.13")
    root = retina.download(tmp_path / "data" / "retina")
    assert calls == [(retina.SOURCE, False)]
    assert root.is_symlink() and root.resolve() == cache.resolve()
    assert len(retina.index(root)) == len(retina.index(cache))


def test_colab_cache_mount_is_read_in_place(tmp_path, monkeypatch):
    """On Colab kagglehub ignores output_dir and answers with its read-only mount (/kaggle/input/<slug>)."""
    import kagglehub

    mount = covid19.write_synthetic(tmp_path / "kaggle" / "input" / "covid19-radiography-database", per_class=2, image_size=8)
    (mount / ".medcnn-synthetic.json").unlink()

    def colab_dataset_download(handle, path=None, *, force_download=False, output_dir=None):
        return str(mount)  # what DatasetColabCacheResolver returns, output_dir ignored

    monkeypatch.setattr(kagglehub, "dataset_download", colab_dataset_download)
    root = covid19.download(tmp_path / "data" / "covid19")
    assert root.is_symlink() and root.resolve() == mount.resolve()
    assert len(covid19.index(root)) == len(covid19.index(mount))
    assert covid19.download(root) == root and root.resolve() == mount.resolve()  # a second call keeps the link


def test_a_cache_copied_into_a_folder_that_has_files(tmp_path, monkeypatch, capsys):
    import kagglehub

    cache = tmp_path / "cache"
    (cache / "sub").mkdir(parents=True)
    (cache / "sub" / "a.png").write_bytes(b"a" * 3000)
    (cache / "b.csv").write_text("ID\n1\n")
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, **options: str(cache))
    folder = fetch_kaggle("owner/name", folder=target, progress=True)
    assert not folder.is_symlink() and (folder / "sub" / "a.png").read_bytes() == b"a" * 3000
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "b.csv").read_text() == "ID\n1\n"
    assert "copying to out" in capsys.readouterr().err
    assert not [path for path in folder.rglob("*") if ".partial" in path.name]


def test_kaggle_failure_says_public_data_needs_no_token(tmp_path, monkeypatch):
    import kagglehub

    def refused(handle, **options):
        raise PermissionError("403 Client Error: Forbidden")

    monkeypatch.setattr(kagglehub, "dataset_download", refused)
    with pytest.raises(DownloadError) as caught:
        retina.download(tmp_path / "retina")
    message = str(caught.value)
    assert "Public datasets need no Kaggle account" in message and "KAGGLE_API_TOKEN" in message


def test_a_kaggle_copy_that_does_not_fit_names_the_disk_and_copies_nothing(tmp_path, monkeypatch):
    import kagglehub

    from medcnn import files
    from medcnn.errors import DiskFullError

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "big.png").write_bytes(b"x" * 50_000)
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")  # a folder with files: copied into, not linked
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, **options: str(cache))
    monkeypatch.setattr(files, "free_bytes", lambda folder: 10_000)
    with pytest.raises(DiskFullError, match=r"disk full: cannot write a copy of .*cache"):
        fetch_kaggle("owner/name", folder=target, progress=False)
    assert sorted(path.name for path in target.iterdir()) == ["notes.txt"]
