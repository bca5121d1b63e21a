"""The download of a dataset published on Kaggle (``covid19``, ``retina``): one function for all of them.

Example:
    >>> from medcnn.datasets.kaggle import download_kaggle_dataset
    >>> download_kaggle_dataset("/data/retina", handle="andrewmvd/retinal-disease-classification/versions/1")  # doctest: +SKIP
    PosixPath('/data/retina')
"""

from __future__ import annotations

import os
from pathlib import Path

from medcnn.datasets.base import download_folder
from medcnn.download.fetch import fetch_kaggle


def download_kaggle_dataset(
    root: str | os.PathLike,
    *,
    handle: str,
    version: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download the public Kaggle dataset ``handle`` into ``root`` with kagglehub; return ``root``.

    No Kaggle account is needed (a public dataset). On Colab, kagglehub serves the dataset
    from its own read-only cache: ``root`` then links to it, nothing is copied. kagglehub
    shows its own download progress; ``progress`` adds a bar when files are copied.

    Args:
        root: the dataset folder.
        handle: ``owner/name`` on Kaggle (the dataset record's ``SOURCE``).
        version: the dataset version the reader was written for (the record's ``KAGGLE_VERSION``).
        force: download again even when the folder holds the data.
        progress: show a progress bar when files are copied.

    Raises:
        DownloadError: Kaggle could not be reached or refused, kagglehub is too old (the
            message names its version and the upgrade), or ``root`` holds a synthetic stand-in.

    Example:
        >>> download_kaggle_dataset("/data/covid19", handle="tawsifurrahman/covid19-radiography-database/versions/5",
        ...                         version=5)  # doctest: +SKIP
        PosixPath('/data/covid19')
    """
    return fetch_kaggle(handle, folder=download_folder(root), version=version, force=force, progress=progress)
