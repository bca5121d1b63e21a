"""Where data lives: ``--data-dir``, else ``MEDCNN_DATA_DIR``, else ``~/.medcnn/data``."""

from __future__ import annotations

import os
from pathlib import Path

from medcnn.environment import user_setting
from medcnn.errors import ConfigError


def expand_path(path: str | os.PathLike, *, setting: str = "the path") -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; a ``~`` that names no home folder is a setting error.

    ``Path.expanduser`` raises a bare ``RuntimeError`` for ``~nosuchuser/x`` or when no
    home folder is known; here it becomes a :class:`~medcnn.errors.ConfigError` naming
    the path and the setting it came from.

    Example:
        >>> expand_path("/data/retina").as_posix()
        '/data/retina'
        >>> expand_path("~no-such-user-here/x", setting="MEDCNN_DATA_DIR")
        Traceback (most recent call last):
        ...
        medcnn.errors.ConfigError: MEDCNN_DATA_DIR '~no-such-user-here/x': the ~ at its start names no home folder known here (Could not determine home directory.); give a full path such as /home/you/medcnn-data
    """
    try:
        return Path(path).expanduser()
    except RuntimeError as error:
        raise ConfigError(f"{setting} {str(path)!r}: the ~ at its start names no home folder known here ({error}); "
                          "give a full path such as /home/you/medcnn-data") from None


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
        return expand_path(explicit, setting="--data-dir")
    from_environment = user_setting("MEDCNN_DATA_DIR")
    if from_environment:
        return expand_path(from_environment, setting="MEDCNN_DATA_DIR")
    return expand_path("~", setting="the home folder (no --data-dir or MEDCNN_DATA_DIR set)") / ".medcnn" / "data"


def dataset_dir(dataset: str, explicit: str | os.PathLike | None = None) -> Path:
    """Return the folder of one dataset under :func:`data_dir`.

    Example:
        >>> dataset_dir("retina", "/data").as_posix()
        '/data/retina'
    """
    return data_dir(explicit) / dataset


DRIVE_MOUNT = Path("/content/drive")


def results_dir(name: str, *, base: str | os.PathLike | None = None) -> Path:
    """Return (and create) the folder where a chapter keeps its results: ``<base>/<name>``.

    On Colab the data and the image caches stay on the session's own disk (fast, and
    re-created by the next session), while results belong where a disconnect does not
    lose them: a folder on Google Drive, mounted with
    ``from google.colab import drive; drive.mount("/content/drive")``. A ``base`` under
    ``/content/drive`` is refused, with that instruction, while Drive is not mounted
    (writing there would fill the session's disk and vanish with it). Without ``base``,
    a fresh temporary folder.

    Raises:
        medcnn.errors.ConfigError: ``base`` is on Drive, and Drive is not mounted.

    Example:
        >>> results_dir("study", base="/tmp/medcnn-results").as_posix()
        '/tmp/medcnn-results/study'
    """
    import tempfile

    if base is None:
        return Path(tempfile.mkdtemp(prefix=f"medcnn-{name}-")) / name
    base = expand_path(base, setting="the results folder")
    on_drive = base == DRIVE_MOUNT or DRIVE_MOUNT in base.parents
    if on_drive and not (DRIVE_MOUNT / "MyDrive").is_dir():
        raise ConfigError(
            f"{base} is on Google Drive, which is not mounted in this session: run "
            '`from google.colab import drive; drive.mount("/content/drive")` first, or set the results '
            "folder to None to keep them on the session's disk (lost when the session ends)"
        )
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
