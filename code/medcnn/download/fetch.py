"""Download files from a URL (requests, checked with pooch) or a Kaggle dataset (kagglehub).

Both turn any failure into a :class:`~medcnn.errors.DownloadError` that names what
was being fetched, what each server answered, and how to put the files in place by
hand, for machines that cannot reach the source.

URL downloads are written through :func:`medcnn.files.atomic_path`: into a
temporary file beside the target, checked, and renamed only when complete, so an
interrupted transfer, a wrong checksum or a full disk never leaves a file under
the final name. Some hosts (figshare) answer scripts with a bot challenge instead
of the file: an HTTP 202 with an empty body, a 403, or an HTML page. Those are
failures here, never a saved file; the next mirror is tried.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from medcnn import __version__
from medcnn.errors import DiskFullError, DownloadError
from medcnn.files import atomic_path, require_free_space

CHUNK_BYTES = 1 << 20
CONNECT_TIMEOUT_SECONDS = 30
READ_TIMEOUT_SECONDS = 120
# kagglehub: dataset_download exists from 0.2.9; its output_dir keyword from 0.4.3. On Colab and in
# Kaggle notebooks kagglehub serves datasets from a read-only mount whatever output_dir says.
KAGGLEHUB_MINIMUM = "0.2.9"
KAGGLEHUB_OUTPUT_DIR = "0.4.3"


class RefusedDownload(Exception):
    """A server answered, but not with the file (a bot challenge, 403, an empty body, an HTML page)."""


def describe_refusal(status: int, headers, first_bytes: bytes) -> str | None:
    """Why an HTTP answer is not the file asked for, or None when it looks like the file.

    Example:
        >>> describe_refusal(202, {"x-amzn-waf-action": "challenge"}, b"")
        'bot challenge (HTTP 202, x-amzn-waf-action: challenge, empty body): the server refuses scripts'
        >>> describe_refusal(200, {"Content-Type": "application/zip"}, b"PK") is None
        True
    """
    headers = {str(key).lower(): str(value) for key, value in dict(headers).items()}
    waf = headers.get("x-amzn-waf-action", "")
    if waf or status == 202:
        detail = f"HTTP {status}" + (f", x-amzn-waf-action: {waf}" if waf else "")
        detail += ", empty body" if not first_bytes else ""
        return f"bot challenge ({detail}): the server refuses scripts"
    if status in (401, 403):
        return f"forbidden (HTTP {status}): the server refuses this download to scripts or without signing in"
    if status >= 400:
        return f"HTTP {status} error"
    if status != 200:
        return f"unexpected answer HTTP {status} instead of the file"
    if not first_bytes:
        return "empty answer (HTTP 200 with no content)"
    start = first_bytes.lstrip()[:64].lower()
    if "text/html" in headers.get("content-type", "") or start.startswith((b"<!doctype html", b"<html")):
        return "an HTML page instead of the file (a login, error or challenge page)"
    return None


def stream_to(url: str, path: Path, *, progress: bool = True, label: str | None = None) -> int:
    """Download ``url`` into ``path``; return the byte count. Raise :class:`RefusedDownload` when refused.

    Example:
        >>> stream_to("https://api.figshare.com/v2/file/download/7005344", Path("/tmp/cvind.mat"))  # doctest: +SKIP
        5736
    """
    import requests

    headers = {"User-Agent": f"medcnn/{__version__} (+python-requests; course data download)"}
    with requests.get(
        url, stream=True, headers=headers, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
    ) as response:
        chunks = response.iter_content(chunk_size=CHUNK_BYTES)
        first = b""
        for first in chunks:
            if first:
                break
        refusal = describe_refusal(response.status_code, response.headers, first)
        if refusal:
            raise RefusedDownload(refusal)
        declared = response.headers.get("Content-Length")
        total = int(declared) if declared and declared.isdigit() else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label or path.name)
        written = 0
        try:
            with open(path, "wb") as stream:
                for chunk in [first] if first else []:
                    stream.write(chunk)
                    written += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                for chunk in chunks:
                    stream.write(chunk)
                    written += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        encoded = response.headers.get("Content-Encoding", "identity") not in ("", "identity")
        if total is not None and not encoded and written != total:
            raise RefusedDownload(f"cut off: {written:,} of {total:,} bytes arrived")
    return written


def _hash_matches(path: Path, known_hash: str | None, *, source: str) -> bool:
    if known_hash is None:
        return True
    import pooch

    return pooch.hashes.hash_matches(str(path), known_hash, strict=False, source=source)


def fetch_url(
    url: str,
    *,
    folder: str | os.PathLike,
    file_name: str,
    known_hash: str | None = None,
    progress: bool = True,
    mirrors: tuple[str, ...] | list[str] = (),
    size: int | None = None,
    by_hand: str | None = None,
) -> Path:
    """Download ``url`` (or, failing that, each of ``mirrors``) to ``folder/file_name``; return its path.

    A file already there is kept when it matches ``known_hash`` (any file when there is
    no hash); an empty or mismatching one is replaced.

    Args:
        url: what to download.
        folder: where to keep it (created if needed).
        file_name: the name to save it under.
        known_hash: ``"md5:..."`` or ``"sha256:..."``, checked with pooch; None skips the check.
        progress: show a progress bar.
        mirrors: other URLs of the same file, tried in order when ``url`` fails.
        size: the expected size in bytes, to check the free space before downloading.
        by_hand: how to get the file without this download, quoted in the error message;
            default: save it as ``folder/file_name``.

    Raises:
        DownloadError: no URL gave the file: each is named with what happened (not
            reachable, bot challenge, forbidden, empty, an HTML page, cut off, wrong
            checksum). Nothing is left under the final name, and no partial file.
        DiskFullError: the folder has no room for the file (nothing half-written is kept).

    Example:
        >>> path = fetch_url("https://api.figshare.com/v2/file/download/7005344",
        ...                  mirrors=["https://ndownloader.figshare.com/files/7005344"],
        ...                  folder="/data/brain_tumor", file_name="cvind.mat",
        ...                  known_hash="md5:5ea82eb3212c9fcb84290ccf0beb486d")  # doctest: +SKIP
        >>> path.name  # doctest: +SKIP
        'cvind.mat'
    """
    folder = Path(folder).expanduser()
    target = folder / file_name
    if target.is_file():
        if target.stat().st_size > 0 and _hash_matches(target, known_hash, source=str(target)):
            return target
        target.unlink()  # empty, or not the file the checksum describes: fetched again below
    by_hand = by_hand or (
        f"download it elsewhere and save it as {target} (file name {file_name!r} in folder {folder}), then run again"
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the folder {folder} for {file_name} ({error}); choose a writable folder") from None
    if size:
        require_free_space(folder, size, what=f"the download {file_name}")
    failures = []
    for candidate in [url, *mirrors]:
        try:
            with atomic_path(target, what=f"the download {file_name}") as temporary:
                stream_to(candidate, temporary, progress=progress, label=file_name)
                if not _hash_matches(temporary, known_hash, source=candidate):
                    import pooch

                    found = pooch.file_hash(str(temporary), alg=known_hash.split(":")[0])
                    raise RefusedDownload(f"wrong checksum: {known_hash.split(':')[0]} {found}, expected {known_hash.split(':', 1)[1]}")
            return target
        except DiskFullError:
            raise
        except RefusedDownload as error:
            failures.append(f"{candidate}: {error}")
        except Exception as error:  # requests', urllib3's and OS errors: the host is unreachable or broke off
            failures.append(f"{candidate}: {type(error).__name__}: {error}")
    tried = "; ".join(failures)
    raise DownloadError(
        f"could not download {file_name} ({tried}). Nothing was kept in {folder}. Without this download, {by_hand}"
    )


def kaggle_secrets() -> list[str]:
    """The Kaggle credentials this machine has (environment or ``~/.kaggle/kaggle.json``), to hide from output.

    Only values long enough to be secrets are returned; user names are not secret.

    Example:
        >>> isinstance(kaggle_secrets(), list)
        True
    """
    import json

    secrets = [os.environ.get(name, "") for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN")]
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    try:
        secrets.append(str(json.loads(config.read_text(encoding="utf-8")).get("key", "")))
    except (OSError, ValueError, AttributeError):
        pass
    return sorted({secret for secret in secrets if len(secret) >= 8}, key=len, reverse=True)


def hide_kaggle_secrets(text: str) -> str:
    """``text`` with every Kaggle credential replaced by ``***``.

    Example:
        >>> hide_kaggle_secrets("nothing secret here")
        'nothing secret here'
    """
    for secret in kaggle_secrets():
        text = text.replace(secret, "***")
    return text


def kaggle_handle(handle: str, *, version: int | None = None) -> str:
    """Return the kagglehub handle, pinned to ``version`` when given.

    Example:
        >>> kaggle_handle("andrewmvd/retinal-disease-classification", version=1)
        'andrewmvd/retinal-disease-classification/versions/1'
    """
    base = handle.split("/versions/")[0]
    return f"{base}/versions/{version}" if version is not None else handle


def version_tuple(text: str) -> tuple[int, ...]:
    """The numeric release parts of a version string (``"0.3.13"`` -> ``(0, 3, 13)``).

    Example:
        >>> version_tuple("1.0.3") > version_tuple("0.4.3")
        True
    """
    import re

    parts = []
    for piece in str(text).split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() < len(piece):  # "3rc1": a pre-release of 3
            break
    return tuple(parts)


def load_kagglehub():
    """Import kagglehub, or raise :class:`DownloadError` naming the version found and the one needed.

    Example:
        >>> load_kagglehub().dataset_download.__name__  # doctest: +SKIP
        'dataset_download'
    """
    upgrade = f"pip install --upgrade 'kagglehub>={KAGGLEHUB_OUTPUT_DIR}' (on Colab, then restart the session)"
    try:
        import kagglehub
    except ImportError:
        raise DownloadError(f"kagglehub is not installed; install it with {upgrade}") from None
    found = getattr(kagglehub, "__version__", None)
    if found is None:
        from importlib import metadata

        try:
            found = metadata.version("kagglehub")
        except metadata.PackageNotFoundError:
            found = "of unknown version"
    if not callable(getattr(kagglehub, "dataset_download", None)) or version_tuple(found) < version_tuple(KAGGLEHUB_MINIMUM):
        raise DownloadError(
            f"kagglehub {found} is too old: medcnn needs kagglehub>={KAGGLEHUB_MINIMUM} "
            f"(kagglehub.dataset_download). Upgrade it with {upgrade}"
        )
    return kagglehub


def accepts_output_dir(function) -> bool:
    """True when ``function`` (kagglehub.dataset_download) takes the ``output_dir`` keyword (kagglehub 0.4.3+).

    Example:
        >>> accepts_output_dir(lambda handle, *, output_dir=None: handle)
        True
    """
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        parameter.name == "output_dir" or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )


def place_dataset(source: str | os.PathLike, folder: str | os.PathLike, *, progress: bool = True, link: bool = True) -> Path:
    """Make ``folder`` show the dataset kagglehub put in ``source`` (its cache, or Colab's read-only mount).

    In place where possible: ``folder`` becomes a link to ``source`` when it is missing or
    empty, so nothing is copied (on Colab, kagglehub serves datasets from its own mount).
    Otherwise (``link=False``, a folder that already holds files, or a system without
    links) the files are copied, with a progress bar over the bytes, each written under a
    temporary name and renamed when complete; files already there at the same size are kept.

    Raises:
        DiskFullError: the copy does not fit (checked before copying).

    Example:
        >>> import tempfile, pathlib
        >>> cache = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (cache / "a.txt").write_text("a")
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "retina"
        >>> folder = place_dataset(cache, target, progress=False)  # doctest: +ELLIPSIS
        /...retina -> /... (read in place, nothing copied)
        >>> (folder / "a.txt").read_text()
        'a'
    """
    source = Path(source)
    folder = Path(folder)
    if folder.is_symlink():
        if folder.resolve() == source.resolve():
            return folder
        folder.unlink()  # a link to an older copy, or one whose target is gone
    if link and (not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))):
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            folder.rmdir()
        try:
            os.symlink(source, folder, target_is_directory=True)
            print(f"{folder} -> {source} (read in place, nothing copied)")
            return folder
        except OSError:
            folder.mkdir(exist_ok=True)  # no links on this system: copy below
    files = [path for path in sorted(source.rglob("*")) if path.is_file()]
    pending = []
    for path in files:
        destination = folder / path.relative_to(source)
        if not (destination.is_file() and destination.stat().st_size == path.stat().st_size):
            pending.append((path, destination))
    needed = sum(path.stat().st_size for path, _ in pending)
    require_free_space(folder.parent if not folder.exists() else folder, needed, what=f"a copy of {source}")
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=needed, unit="B", unit_scale=True, unit_divisor=1024, desc=f"copying to {folder.name}")
    try:
        for path, destination in pending:
            with atomic_path(destination, what=f"the copy of {path.name}") as temporary:
                shutil.copyfile(path, temporary)
            if bar is not None:
                bar.update(path.stat().st_size)
    finally:
        if bar is not None:
            bar.close()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fetch_kaggle(
    handle: str,
    *,
    folder: str | os.PathLike,
    version: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download the Kaggle dataset ``handle`` with kagglehub and make it readable under ``folder``; return ``folder``.

    With kagglehub 0.4.3 or later the files are downloaded into ``folder``
    (``output_dir``). Where kagglehub answers with a folder of its own instead (on Colab
    and in Kaggle notebooks it serves datasets from a read-only cache mount, whatever
    ``output_dir`` says; older kagglehub uses its download cache), ``folder`` becomes a
    link to it: read in place, nothing copied (see :func:`place_dataset`).

    Public datasets need no Kaggle account. When Kaggle asks for one, the message says
    how to give kagglehub an API token (``KAGGLE_API_TOKEN``).

    Args:
        handle: ``owner/name`` (or ``owner/name/versions/N``).
        folder: where the dataset is to be found afterwards.
        version: pin a dataset version.
        force: download again even if kagglehub finished it before.
        progress: show a progress bar when files have to be copied.

    Raises:
        DownloadError: kagglehub is missing or too old (the message names its version
            and the upgrade), Kaggle could not be reached or refused, or the download
            failed. The message says where to unpack a hand download.

    Example:
        >>> fetch_kaggle("andrewmvd/retinal-disease-classification", folder="/data/retina")  # doctest: +SKIP
        PosixPath('/data/retina')
    """
    folder = Path(folder).expanduser()
    full_handle = kaggle_handle(handle, version=version)
    base = full_handle.split("/versions/")[0]
    kagglehub = load_kagglehub()
    options = {"force_download": force}
    if accepts_output_dir(kagglehub.dataset_download) and not folder.is_symlink():
        options["output_dir"] = str(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        returned = Path(kagglehub.dataset_download(full_handle, **options))
    except TypeError as error:
        if "output_dir" in str(error) or "force_download" in str(error):
            found = getattr(kagglehub, "__version__", "of unknown version")
            raise DownloadError(
                f"kagglehub {found} is too old for this call ({error}): medcnn needs kagglehub>={KAGGLEHUB_OUTPUT_DIR} "
                f"to download into {folder}. Upgrade it with pip install --upgrade 'kagglehub>={KAGGLEHUB_OUTPUT_DIR}'"
            ) from None
        raise DownloadError(_kaggle_failure(full_handle, base, folder, error)) from None
    except Exception as error:  # kagglehub raises requests', its own and OS errors
        raise DownloadError(_kaggle_failure(full_handle, base, folder, error)) from None
    if not returned.is_dir():
        raise DownloadError(
            f"kagglehub returned {returned} for {full_handle}, which is not a folder; "
            f"download https://www.kaggle.com/datasets/{base} by hand and unzip it into {folder}"
        )
    inside = returned.resolve() == folder.resolve() or returned.resolve().is_relative_to(folder.resolve())
    if not inside:
        place_dataset(returned, folder, progress=progress)
    return folder


def _kaggle_failure(full_handle: str, base: str, folder: Path, error: BaseException) -> str:
    # Kaggle's errors can echo the request, credentials included: never show them.
    reason = hide_kaggle_secrets(f"{type(error).__name__}: {error}")
    return (
        f"could not download Kaggle dataset {full_handle} ({reason}). Check the handle. Public datasets "
        f"need no Kaggle account; if Kaggle asks you to sign in (401/403), create an API token at "
        f"https://www.kaggle.com/settings (API, Generate New Token) and set it as KAGGLE_API_TOKEN "
        f"(an environment variable, or a Colab secret of that name; older setups: KAGGLE_USERNAME and "
        f"KAGGLE_KEY). Without network access, download the archive from "
        f"https://www.kaggle.com/datasets/{base} elsewhere and unzip it into {folder}, then run again"
    )
