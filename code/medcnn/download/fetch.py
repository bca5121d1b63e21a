"""Download files from a URL (pooch) or a Kaggle dataset (kagglehub).

Both functions turn any failure into a :class:`~medcnn.errors.DownloadError`
that names what was being fetched and says how to put the files in place by hand,
for machines that cannot reach the source. pooch downloads into a temporary file
and renames it only when complete, so a broken transfer is never taken for the
finished file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from medcnn.errors import DownloadError


def fetch_url(
    url: str,
    *,
    folder: str | os.PathLike,
    file_name: str,
    known_hash: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``folder/file_name`` unless it is already there; return its path.

    Args:
        url: what to download.
        folder: where to keep it (created if needed).
        file_name: the name to save it under.
        known_hash: ``"sha256:..."`` (or ``"md5:..."``) to check; None skips the check.
        progress: show a progress bar.

    Raises:
        DownloadError: the server could not be reached, answered with an error, or the
            file did not match ``known_hash``. The message says which file to place in
            which folder to do without the download.

    Example:
        >>> path = fetch_url("https://figshare.com/ndownloader/articles/1512427/versions/5",
        ...                  folder="/data/brain_tumor", file_name="1512427.zip")  # doctest: +SKIP
        >>> path.name  # doctest: +SKIP
        '1512427.zip'
    """
    import pooch

    folder = Path(folder).expanduser()
    target = folder / file_name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        downloaded = pooch.retrieve(
            url,
            known_hash=known_hash,
            fname=file_name,
            path=folder,
            progressbar=progress,
        )
    except Exception as error:  # pooch raises requests', urllib3's and its own errors
        reason = f"{type(error).__name__}: {error}"
        raise DownloadError(
            f"could not download {url} ({reason}). Without network access, download it "
            f"elsewhere and save it as {target} (file name {file_name!r} in folder {folder}), then run again"
        ) from None
    return Path(downloaded)


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


def fetch_kaggle(
    handle: str,
    *,
    folder: str | os.PathLike,
    version: int | None = None,
    force: bool = False,
) -> Path:
    """Download the Kaggle dataset ``handle`` into ``folder`` with kagglehub; return ``folder``.

    Args:
        handle: ``owner/name`` (or ``owner/name/versions/N``).
        folder: where its files go (kagglehub's ``output_dir``).
        version: pin a dataset version.
        force: download again even if kagglehub finished it before.

    Raises:
        DownloadError: Kaggle could not be reached, refused (credentials), or the
            download failed. The message says where to unpack a hand download.

    Example:
        >>> fetch_kaggle("andrewmvd/retinal-disease-classification", folder="/data/retina")  # doctest: +SKIP
        PosixPath('/data/retina')
    """
    folder = Path(folder).expanduser()
    full_handle = kaggle_handle(handle, version=version)
    base = full_handle.split("/versions/")[0]
    try:
        import kagglehub

        folder.parent.mkdir(parents=True, exist_ok=True)
        returned = Path(
            kagglehub.dataset_download(full_handle, output_dir=str(folder), force_download=force)
        )
    except Exception as error:  # kagglehub raises requests', its own and OS errors
        # Kaggle's errors can echo the request, credentials included: never show them.
        reason = hide_kaggle_secrets(f"{type(error).__name__}: {error}")
        raise DownloadError(
            f"could not download Kaggle dataset {full_handle} ({reason}). Check the handle and your "
            f"Kaggle credentials (kagglehub.login(), or KAGGLE_USERNAME and KAGGLE_KEY). Without network "
            f"access, download the archive from https://www.kaggle.com/datasets/{base} elsewhere and unzip "
            f"it into {folder}, then run again"
        ) from None
    if returned.resolve() != folder.resolve() and not returned.resolve().is_relative_to(folder.resolve()):
        # An older kagglehub ignored output_dir and used its cache: copy the files over.
        temporary = folder.with_name(f".{folder.name}.partial-copy")
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(returned, temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for entry in temporary.iterdir():
            os.replace(entry, folder / entry.name)
        shutil.rmtree(temporary, ignore_errors=True)
    return folder
