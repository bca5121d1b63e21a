"""Writing files so that nothing half-written is ever trusted, and a full disk is named.

Caches, manifests, checkpoints and results are written to a temporary name beside
their final one and renamed only when complete (a rename within one folder is
atomic): a run killed mid-write leaves at most a ``.partial`` file that no reader
looks at. A full disk becomes a :class:`~medcnn.errors.DiskFullError` that names
the folder, the space needed and the fix.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "result.txt"
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("done")
    >>> target.read_text()
    'done'
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

from medcnn.errors import DiskFullError, FileSystemError, os_error_message

PARTIAL_SUFFIX = ".partial"


def format_bytes(count: float) -> str:
    """A byte count for people: ``1.5 GB``, ``12 MB``.

    Example:
        >>> format_bytes(1_500_000_000)
        '1.5 GB'
    """
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000.0
    return f"{count:.1f} TB"


def is_disk_full(error: BaseException) -> bool:
    """True for the OS errors a full disk or an exhausted quota raise.

    Example:
        >>> import errno
        >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
        True
    """
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(folder) -> int | None:
    """Free space in ``folder`` (or its nearest existing parent), or None when it cannot be asked.

    Example:
        >>> free_bytes("/") > 0
        True
    """
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full_error(folder, *, what: str, needed: int | None = None, fix: str | None = None) -> DiskFullError:
    """The error to raise when ``what`` does not fit into ``folder``.

    Example:
        >>> str(disk_full_error("/data/cache", what="the image cache", needed=2_000_000_000)).startswith(
        ...     "disk full: cannot write the image cache in /data/cache (it needs about 2.0 GB")
        True
    """
    free = free_bytes(folder)
    sizes = []
    if needed is not None:
        sizes.append(f"it needs about {format_bytes(needed)}")
    if free is not None:
        sizes.append(f"{format_bytes(free)} free")
    detail = f" ({', '.join(sizes)})" if sizes else ""
    fix = fix or "free some space there, or write to another folder"
    return DiskFullError(f"disk full: cannot write {what} in {folder}{detail}. {fix[0].upper()}{fix[1:]}; nothing half-written was kept")


def require_free_space(folder, needed: int, *, what: str, fix: str | None = None, margin: int = 16 * 2**20) -> None:
    """Raise :class:`DiskFullError` before any work if ``folder`` has less than ``needed`` bytes (plus a margin) free.

    Example:
        >>> require_free_space("/", 1, what="a tiny file")
    """
    free = free_bytes(folder)
    if free is not None and free < needed + margin:
        raise disk_full_error(folder, what=what, needed=needed, fix=fix)


def partial_path(path, *, suffix: str = "") -> Path:
    """The temporary name a file is written under before its rename: ``.<name>.<pid>.partial`` beside it.

    ``suffix`` is added at the end for writers that insist on one (Keras: ``.keras``).

    Example:
        >>> partial_path("/runs/a/history.csv").name.startswith(".history.csv.")
        True
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}{suffix}")


SPECIAL_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def path_kind(path) -> str | None:
    """What ``path`` names, in words, without following a last symbolic link; None when nothing is there.

    Example:
        >>> path_kind("/dev/null"), path_kind("/"), path_kind("/no/such/file")
        ('a character device', 'a folder', None)
    """
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, kind in SPECIAL_KINDS:
        if test(mode):
            return kind
    return "a special file"


def refuse_special_output(path, *, what: str | None = None, fix: str | None = None) -> None:
    """Refuse to replace anything but a regular file: a device, FIFO, socket or symbolic link at ``path``.

    Writing renames a finished temporary file onto ``path``; onto a device (``/dev/null``),
    a FIFO or a socket that would replace the special file itself, and onto a symbolic
    link the link (not the file it points to). Neither is what anyone means: the output is
    refused, naming what is there. A symbolic link is not followed: the message names its
    target, to be given instead.

    Raises:
        FileSystemError: ``path`` exists and is not a regular file (or a folder, which the
            rename itself refuses).

    Example:
        >>> refuse_special_output("/dev/null", what="the index CSV")
        Traceback (most recent call last):
        ...
        medcnn.errors.FileSystemError: /dev/null: is a character device, not a regular file; the index CSV only replaces regular files (never a device, a FIFO, a socket or a symbolic link); choose another path
    """
    kind = path_kind(path)
    if kind in (None, "a regular file", "a folder"):
        return
    what = what or Path(path).name
    fix = fix or "choose another path"
    if kind == "a symbolic link":
        target = os.readlink(path)
        raise FileSystemError(
            f"{path}: is a symbolic link (to {target}); medcnn does not write through it (it would replace the link, "
            f"not the file it points to), so {what} is refused: give the real path ({Path(path).resolve()}) "
            f"or remove the link; {fix}")
    raise FileSystemError(f"{path}: is {kind}, not a regular file; {what} only replaces regular files (never a "
                          f"device, a FIFO, a socket or a symbolic link); {fix}")


@contextlib.contextmanager
def atomic_path(path, *, what: str | None = None, fix: str | None = None, suffix: str = ""):
    """Yield a temporary path to write; rename it onto ``path`` when the block ends without error.

    On any error the temporary file is deleted; a full disk raises :class:`DiskFullError`
    naming the folder.

    Example:
        >>> import tempfile, pathlib, json
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "metrics.json"
        >>> with atomic_path(target) as temporary:
        ...     _ = temporary.write_text(json.dumps({"accuracy": 1.0}))
        >>> json.loads(target.read_text())["accuracy"]
        1.0
    """
    path = Path(path)
    refuse_special_output(path, what=what, fix=fix)  # a device, FIFO, socket or link is never replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path, suffix=suffix)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        if is_disk_full(error):
            raise disk_full_error(path.parent, what=what or path.name, fix=fix) from None
        raise _named(error, path, fix=fix) from None
    except BaseException:
        _remove(temporary)
        raise


@contextlib.contextmanager
def atomic_paths(*paths, what: str | None = None, fix: str | None = None, needed: int | None = None):
    """Several files written together: yield one temporary path per file; rename them all when the block succeeds.

    The renames happen in the order given, so put last the file whose presence tells a
    reader the set is complete (an image cache's ``.npy``). On any error every temporary
    file is deleted and none is renamed; a full disk raises :class:`DiskFullError` naming
    the folder (and ``needed``, the space the write needs, when given).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_paths(folder / "a.csv", folder / "b.npy") as (first, second):
        ...     _ = first.write_text("x"); _ = second.write_text("y")
        >>> sorted(path.name for path in folder.iterdir())
        ['a.csv', 'b.npy']
    """
    targets = [Path(path) for path in paths]
    temporaries = [partial_path(path, suffix=path.suffix) for path in targets]
    for target in targets:
        refuse_special_output(target, what=what, fix=fix)
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temporaries
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
    except OSError as error:
        for temporary in temporaries:
            _remove(temporary)
        if is_disk_full(error):
            folder = targets[0].parent
            raise disk_full_error(folder, what=what or targets[0].name, needed=needed, fix=fix) from None
        raise _named(error, targets[-1], fix=fix) from None
    except BaseException:
        for temporary in temporaries:
            _remove(temporary)
        raise


def move_into_place(source, target) -> Path:
    """Rename a finished file or folder onto ``target`` (atomic within one file system).

    For writers that build a whole folder's entries in a temporary folder first (the
    synthetic stand-ins); a full disk raises :class:`DiskFullError`.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "draft").write_text("x")
        >>> move_into_place(folder / "draft", folder / "final").read_text()
        'x'
    """
    target = Path(target)
    try:
        os.replace(source, target)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full_error(target.parent, what=target.name) from None
        raise
    return target


def _named(error: OSError, path: Path, *, fix: str | None = None) -> Exception:
    """An OS error while writing ``path`` as the medcnn error naming ``path`` (not its temporary name)."""
    if error.errno is None:
        return error
    return os_error_message(OSError(error.errno, error.strerror, str(path)), fix=fix)


def check_writable(path, *, what: str, fix: str | None = None, folder: bool = False) -> None:
    """Refuse, before any work, an output ``path`` that cannot be written; change nothing on disk.

    Checks that no part of the path above it is a file or a link that leads nowhere, that
    ``path`` itself is a regular file (or, with ``folder=True``, a folder) or absent, never
    a device, FIFO, socket or a link given as a file (:func:`refuse_special_output`; a
    link to a folder given as a folder is followed, with a note), and that the nearest
    existing folder takes a new file (a probe file is created and removed at once).

    Raises:
        FileSystemError: read-only, permission denied, or a path of the wrong kind;
        DiskFullError: no space left there.

    Example:
        >>> import tempfile, pathlib
        >>> check_writable(pathlib.Path(tempfile.mkdtemp()) / "new" / "index.csv", what="the index")
    """
    import tempfile

    path = Path(path)
    fix = fix or "choose another path"
    kind = path_kind(path)
    if kind == "a symbolic link" and folder:
        if not path.is_dir():  # a link to a file, to nothing, or into a loop
            try:
                path.stat()
                found = "not a folder"
            except OSError as error:
                found = "a link loop" if error.errno == errno.ELOOP else "gone"
            raise FileSystemError(f"{path}: {what} needs a folder here, but this is a symbolic link (to "
                                  f"{os.readlink(path)}) whose target is {found}; point it at a folder or {fix}")
        # a link to a folder is followed: the files go into the folder it points to (and say so)
        print(f"note: {path} is a symbolic link; {what} goes into the folder it points to, {path.resolve()}")
    elif kind not in (None, "a regular file", "a folder"):
        refuse_special_output(path, what=what, fix=fix)  # a device, FIFO, socket, or a link given as a file
    if path.exists():
        if folder and not path.is_dir():
            raise FileSystemError(f"{path}: {what} needs a folder here, but this is a file; move it away or {fix}")
        if not folder and path.is_dir():
            raise FileSystemError(f"{path}: {what} is a file, but this is a folder; move it away or {fix}")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        if path_kind(existing) == "a symbolic link":  # a link above the path that leads nowhere, or into a loop
            raise FileSystemError(f"{existing}: {what} goes to {path}, but {existing} is a symbolic link (to "
                                  f"{os.readlink(existing)}) that leads nowhere or into a loop; fix the link or {fix}")
        existing = existing.parent
    if not existing.is_dir():
        raise FileSystemError(
            f"{existing}: {what} goes to {path}, but {existing} is a file where a folder is expected; "
            f"move it away or {fix}")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".medcnn-write-check-"):
            pass
    except OSError as error:
        if error.errno is None:
            raise
        raise os_error_message(OSError(error.errno, error.strerror, str(existing)), fix=fix) from None
    free = free_bytes(existing)
    if free is not None and free == 0:
        raise disk_full_error(existing, what=what, fix=fix)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_stale_partials(folder, *, pattern: str = f"*{PARTIAL_SUFFIX}*") -> list[Path]:
    """Delete ``.partial`` files in ``folder`` left by processes that no longer run; return them.

    A partial file's name ends with the id of the process writing it; files of a
    process still running (another notebook building the same cache) are left alone.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / ".images.npy.999999999.partial").write_bytes(b"half")
        >>> [path.name for path in remove_stale_partials(folder)]
        ['.images.npy.999999999.partial']
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob(pattern)):
        if _writer_alive(path):
            continue
        _remove(path)
        removed.append(path)
    return removed


def _writer_alive(path: Path) -> bool:
    parts = path.name.split(".")
    position = parts.index(PARTIAL_SUFFIX[1:]) if PARTIAL_SUFFIX[1:] in parts else 0
    pid = parts[position - 1] if position >= 1 else ""
    if not pid.isdigit():
        return False
    pid = int(pid)
    if os.name == "nt":  # os.kill would end the process there: trust only the file's age
        import time

        return time.time() - path.stat().st_mtime < 24 * 3600
    if pid == os.getpid():
        return False  # our own leftover from an earlier, failed call
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
