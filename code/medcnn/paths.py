"""Where data lives: ``--data-dir``, else ``MEDCNN_DATA_DIR``, else ``~/.medcnn/data``."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds downloaded datasets.

    Args:
        explicit: a folder given on the command line or by the caller; wins if set.

    Example:
        >>> import os
        >>> os.environ["MEDCNN_DATA_DIR"] = "/tmp/medcnn-data"
        >>> str(data_dir())
        '/tmp/medcnn-data'
        >>> str(data_dir("/elsewhere"))
        '/elsewhere'
    """
    if explicit:
        return Path(explicit).expanduser()
    from_environment = os.environ.get("MEDCNN_DATA_DIR")
    if from_environment:
        return Path(from_environment).expanduser()
    return Path.home() / ".medcnn" / "data"


def dataset_dir(dataset: str, explicit: str | os.PathLike | None = None) -> Path:
    """Return the folder of one dataset under :func:`data_dir`.

    Example:
        >>> dataset_dir("retina", "/data").as_posix()
        '/data/retina'
    """
    return data_dir(explicit) / dataset
