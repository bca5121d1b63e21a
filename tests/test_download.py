"""Downloads without the network: a local HTTP server for pooch, a stand-in for kagglehub, safe unzip."""

import functools
import http.server
import socket
import threading
import zipfile

import pytest

from medcnn.datasets import brain_tumor, covid19, retina
from medcnn.download.archives import extract_zip, is_unpacked
from medcnn.download.fetch import fetch_kaggle, fetch_url, kaggle_handle
from medcnn.errors import DataError, DownloadError


@pytest.fixture()
def local_server(tmp_path):
    """Serve tmp_path/served over HTTP on 127.0.0.1; stopped after the test."""
    served = tmp_path / "served"
    served.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/articles/1512427"


def test_fetch_url_downloads_once(local_server, tmp_path):
    served, base = local_server
    (served / "data.bin").write_bytes(b"x" * 5000)
    target = tmp_path / "downloads"
    path = fetch_url(f"{base}/data.bin", folder=target, file_name="kept.bin", progress=False)
    assert path == target / "kept.bin" and path.read_bytes() == b"x" * 5000
    (served / "data.bin").unlink()  # a second call must not need the server
    assert fetch_url(f"{base}/data.bin", folder=target, file_name="kept.bin", progress=False) == path


def test_fetch_url_checks_the_hash(local_server, tmp_path):
    served, base = local_server
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


def test_http_error_is_a_download_error(local_server, tmp_path):
    _, base = local_server
    with pytest.raises(DownloadError, match="missing.zip"):
        fetch_url(f"{base}/missing.zip", folder=tmp_path, file_name="missing.zip", progress=False)


def test_brain_tumor_download_from_a_mimic_figshare(local_server, tmp_path, monkeypatch):
    served, base = local_server
    mimic = brain_tumor.write_synthetic(tmp_path / "mimic", per_class=2, image_size=8)
    (served / "figshare.zip").write_bytes((mimic / brain_tumor.DOWNLOAD_NAME).read_bytes())
    monkeypatch.setattr(brain_tumor, "SOURCE", f"{base}/figshare.zip")
    root = brain_tumor.download(tmp_path / "data" / "brain_tumor", progress=False)
    assert (root / brain_tumor.DOWNLOAD_NAME).is_file() and is_unpacked(root / "1512427")
    frame = brain_tumor.index(root)
    assert frame["path"].tolist() == brain_tumor.index(mimic)["path"].tolist()


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
