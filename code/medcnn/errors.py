"""One exception family for everything medcnn reports to a user.

Every message names the file or value at fault, says what was expected and how
to fix it. The command line prints the message on one or two lines and exits with the
class's ``exit_code`` (the table is :data:`EXIT_CODES`; ``--debug`` shows the
traceback). :func:`os_error_message` turns the operating system's errors that the
package cannot know in advance (a read-only folder, permission denied, a file
where a folder is expected) into one of these, naming the path and the way out.

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

    exit_code = 1


class DataError(MedcnnError):
    """A dataset on disk is missing, laid out wrongly, or holds an unreadable file; a record read back is damaged."""

    exit_code = 3


class DownloadError(MedcnnError):
    """A download failed, was incomplete, or did not match its checksum."""

    exit_code = 4


class ConfigError(MedcnnError, ValueError):
    """A setting cannot work (unknown backbone or dataset, a size or rate out of range)."""

    exit_code = 2


class DiskFullError(MedcnnError):
    """A cache, checkpoint or result could not be written: the disk is full (nothing half-written is kept)."""

    exit_code = 5


class FileSystemError(MedcnnError):
    """The file system refused: a read-only folder, permission denied, a file where a folder is expected or the reverse."""

    exit_code = 6


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM: ``kill``, a notebook's *Interrupt*, a cluster's time limit).

    The command line turns SIGTERM into this exception, a kind of :class:`KeyboardInterrupt`,
    so it takes Ctrl-C's way out: nothing half-written is kept, the resume state of the last
    finished epoch stays, and the exit status is :data:`TERMINATED_EXIT_CODE`.
    """


INTERNAL_ERROR_EXIT_CODE = 70
INTERRUPTED_EXIT_CODE = 130
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a process ended by SIGTERM
OUT_OF_MEMORY_EXIT_CODE = 8

EXIT_CODES = (
    (0, "success"),
    (1, "another error medcnn reports on purpose"),
    (2, "a setting or option cannot work (ConfigError; also argparse's usage errors, a ~user with no home folder)"),
    (3, "input data or a record read back is missing, unreadable or damaged (DataError)"),
    (4, "a download failed or did not match its checksum (DownloadError)"),
    (5, "the disk is full (DiskFullError)"),
    (6, "the file system refused: read-only, permission denied, a file where a folder is expected or the reverse, "
        "a symbolic-link loop, an output that is a device, FIFO, socket or link"),
    (7, "training cannot go on, such as a loss that became NaN (TrainingError)"),
    (OUT_OF_MEMORY_EXIT_CODE, "out of memory (MemoryError, TensorFlow's ResourceExhaustedError, JAX's "
                              "RESOURCE_EXHAUSTED): use a smaller --batch-size or --image-size"),
    (INTERNAL_ERROR_EXIT_CODE, "internal error: a bug in medcnn (run again with --debug and report the traceback)"),
    (INTERRUPTED_EXIT_CODE, "interrupted (Ctrl-C); train --resume goes on from the last finished epoch"),
    (TERMINATED_EXIT_CODE, "terminated (SIGTERM), handled as Ctrl-C: the resume state is kept, train --resume goes on"),
)
"""The command line's exit statuses, as ``(status, meaning)`` pairs; also in ``python -m medcnn --help``."""

WRITE_FIX = "choose another folder (--out for results, --cache-dir for decoded images, --data-dir for datasets)"


def os_error_message(error: OSError, *, fix: str | None = None) -> MedcnnError:
    """The medcnn error for an operating-system error: its kind named in words, with the path and the way out.

    A full disk becomes :class:`DiskFullError`, a missing file :class:`DataError`, a
    read-only folder, a refused permission or a path of the wrong kind
    :class:`FileSystemError`.

    Example:
        >>> import errno
        >>> error = os_error_message(OSError(errno.EROFS, "Read-only file system", "/kaggle/input/x"))
        >>> type(error).__name__, str(error).startswith("/kaggle/input/x: read-only file system")
        ('FileSystemError', True)
    """
    import errno as codes

    path = error.filename if error.filename is not None else "(path not known)"
    if error.filename2 is not None:
        path = f"{path} -> {error.filename2}"
    fix = fix or WRITE_FIX
    number = error.errno
    if number in (codes.ENOSPC, getattr(codes, "EDQUOT", -1)):
        return DiskFullError(f"{path}: disk full (no space left on the device); free some space there or {fix}")
    if number == codes.EROFS:
        return FileSystemError(
            f"{path}: read-only file system, nothing can be written there (Kaggle's /kaggle/input is one; "
            f"write to /kaggle/working); {fix}"
        )
    if number in (codes.EACCES, codes.EPERM):
        return FileSystemError(f"{path}: permission denied; give yourself write access to it or {fix}")
    if number == codes.ENOTDIR:
        return FileSystemError(
            f"{path}: a folder was expected but a part of this path is a file; move that file away or {fix}")
    if number == codes.EISDIR:
        return FileSystemError(f"{path}: a file was expected but this is a folder; move the folder away or {fix}")
    if number == codes.EEXIST:
        return FileSystemError(f"{path}: already exists and is in the way (a file where a folder is wanted?); "
                               f"move it away or {fix}")
    if number == codes.ELOOP:
        return FileSystemError(f"{path}: too many levels of symbolic links (a link that points back at itself or "
                               f"into a loop); point the link at a real folder, or give the real path instead; {fix}")
    if number == codes.ENOENT:
        return DataError(f"{path}: no such file or folder; check the path (--root, --run, --out)")
    if number == codes.EIO:
        return DataError(f"{path}: input/output error (a failing disk or a dropped network mount); "
                         "check the device and run again")
    reason = error.strerror or type(error).__name__
    return FileSystemError(f"{path}: {reason} (errno {number}); {fix}")


def plain(value) -> str:
    """A value as a message shows it: plain numbers, never ``np.float64(nan)`` or ``np.int64(3)`` reprs.

    NumPy scalars become Python numbers; whole floats print without ``.0`` only when they
    were integers to begin with; strings keep their quotes (``'abc'``) so blanks show.

    Example:
        >>> import numpy as np
        >>> plain(np.float64("nan")), plain(np.int64(3)), plain("abc"), plain(np.float64(0.25))
        ('nan', '3', "'abc'", '0.25')
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, str):
        return repr(value)
    return str(value)
