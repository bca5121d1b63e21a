"""One exception family for everything medcnn reports to a user.

Every message names the file or value at fault, says what was expected and how
to fix it. The command line prints the message on one or two lines and exits
non-zero (``--debug`` shows the traceback).

Example:
    >>> from medcnn.errors import DataError
    >>> try:
    ...     raise DataError("/data/brain: no .mat files found; run `python -m medcnn download --dataset brain_tumor`")
    ... except DataError as error:
    ...     print(type(error).__name__)
    DataError
"""


class MedcnnError(Exception):
    """Base class of every error medcnn raises on purpose."""


class DataError(MedcnnError):
    """A dataset on disk is missing, laid out wrongly, or holds an unreadable file."""


class DownloadError(MedcnnError):
    """A download failed, was incomplete, or did not match its checksum."""


class ConfigError(MedcnnError, ValueError):
    """A setting cannot work (unknown backbone or dataset, a size or rate out of range)."""


class DiskFullError(MedcnnError):
    """A cache, checkpoint or result could not be written: the disk is full (nothing half-written is kept)."""
