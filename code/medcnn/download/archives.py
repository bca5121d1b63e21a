"""Unpack zip archives safely and atomically.

Safe: a member whose name is absolute or climbs out of the target folder with
``..`` ("zip slip") is refused before anything is written, and so is an archive
whose members would unpack to more than the free space or expand more than
:data:`MAX_RATIO` times (a zip bomb); a damaged member is named. Checked: the
marker records a digest of the archive's table of contents (every member's name,
size and CRC-32, a checksum of its content), so a folder unpacked from an archive
that has since been replaced by a different one is unpacked again. Atomic: the archive is
unpacked into a hidden temporary folder beside the target, a marker file is added,
and only then is the folder renamed to its final name; an interrupted unpack leaves
no folder that a later run would take as complete, and a finished one is not
unpacked again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from medcnn.errors import DataError, os_error_message
from medcnn.files import format_bytes, move_into_place, require_free_space

UNPACKED_MARKER = ".medcnn-unpacked.json"
MAX_RATIO = 200
"""The most an archive may expand (uncompressed bytes over compressed); images and MATLAB files stay far below."""
SMALL_MEMBER = 1 << 20
"""Members smaller than this are not held to :data:`MAX_RATIO` on their own (short text compresses well)."""


def contents_digest(handle: zipfile.ZipFile) -> str:
    """SHA-256 of an open archive's table of contents: every member's name, size and CRC-32.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("a.txt", "one")
        >>> len(contents_digest(zipfile.ZipFile(buffer)))
        64
    """
    import hashlib

    digest = hashlib.sha256()
    for member in handle.infolist():
        digest.update(f"{member.filename}\0{member.file_size}\0{member.CRC}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def check_sizes(handle: zipfile.ZipFile, *, source, destination) -> int:
    """Refuse an archive that would expand too far (a zip bomb) or not fit; return its unpacked size.

    Raises:
        DataError: the archive expands more than :data:`MAX_RATIO` times (as a whole, or a
            member of at least :data:`SMALL_MEMBER` bytes on its own).
        DiskFullError: its members would not fit into ``destination``'s free space.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ...     archive.writestr("zeros.bin", bytes(50_000_000))
        >>> check_sizes(zipfile.ZipFile(buffer), source="bomb.zip", destination="/tmp")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: bomb.zip: refusing to unpack member 'zeros.bin': 50.0 MB from ... (...x, more than the limit of 200x: a zip bomb?); delete the archive and download it again from its source
    """
    members = [member for member in handle.infolist() if not member.is_dir()]
    total = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    fix = "delete the archive and download it again from its source"
    for member in members:
        if member.file_size >= SMALL_MEMBER and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise DataError(
                f"{source}: refusing to unpack member {member.filename!r}: {format_bytes(member.file_size)} from "
                f"{format_bytes(member.compress_size)} ({member.file_size / max(member.compress_size, 1):.0f}x, "
                f"more than the limit of {MAX_RATIO}x: a zip bomb?); {fix}"
            )
    if total >= SMALL_MEMBER and total > MAX_RATIO * max(packed, 1):
        raise DataError(
            f"{source}: refusing to unpack: {format_bytes(total)} from {format_bytes(packed)} "
            f"({total / max(packed, 1):.0f}x, more than the limit of {MAX_RATIO}x: a zip bomb?); {fix}"
        )
    require_free_space(destination, total, what=f"the {len(members)} files of {Path(source).name}",
                       fix="free some space there, or put the dataset elsewhere with --data-dir or --root")
    return total


def is_current(archive: str | os.PathLike, destination: str | os.PathLike) -> bool:
    """True when ``destination`` was unpacked by :func:`extract_zip` from this very archive (same contents).

    Example:
        >>> is_current("/no/such.zip", "/no/such/folder")
        False
    """
    marker = Path(destination) / UNPACKED_MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        with zipfile.ZipFile(archive) as handle:
            return recorded.get("contents") == contents_digest(handle)
    except (OSError, ValueError, zipfile.BadZipFile, AttributeError):
        return False


def is_unpacked(destination: str | os.PathLike) -> bool:
    """True when ``destination`` is a folder that :func:`extract_zip` finished.

    Example:
        >>> is_unpacked("/no/such/folder")
        False
    """
    return (Path(destination) / UNPACKED_MARKER).is_file()


def check_member_names(archive: zipfile.ZipFile, *, source: str | os.PathLike) -> list[str]:
    """Return the archive's member names, or raise DataError at the first unsafe one.

    A name is unsafe when it is absolute (``/etc/x``, ``C:\\x``, ``\\\\server\\x``) or its
    ``..`` parts climb above the archive's top level.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("../evil.txt", "x")
        >>> check_member_names(zipfile.ZipFile(buffer), source="x.zip")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: x.zip: refusing to unpack member '../evil.txt': its path leads outside the target folder (unsafe archive)
    """
    names = []
    for name in archive.namelist():
        windows = PureWindowsPath(name)
        posix = PurePosixPath(name.replace("\\", "/"))
        unsafe = posix.is_absolute() or bool(windows.drive) or bool(windows.root)
        depth = 0
        for part in posix.parts:
            if part == "..":
                depth -= 1
            elif part not in ("", "."):
                depth += 1
            if depth < 0:
                unsafe = True
        if unsafe:
            raise DataError(
                f"{source}: refusing to unpack member {name!r}: its path leads outside the target folder (unsafe archive)"
            )
        names.append(name)
    return names


def extract_zip(
    archive: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    progress: bool = False,
) -> Path:
    """Unpack ``archive`` into the folder ``destination``, once, safely and atomically.

    Args:
        archive: the ``.zip`` file.
        destination: the folder to create; returned at once if an earlier call finished it.
        progress: show a progress bar over the members.

    Raises:
        DataError: the archive is missing, not a zip or damaged, holds an unsafe member,
            or ``destination`` exists but was not made by this function.

    Example:
        >>> import tempfile, pathlib, zipfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with zipfile.ZipFile(folder / "a.zip", "w") as archive:
        ...     archive.writestr("inner/1.txt", "one")
        >>> target = extract_zip(folder / "a.zip", folder / "a")
        >>> (target / "inner" / "1.txt").read_text()
        'one'
    """
    archive = Path(archive)
    destination = Path(destination)
    if is_unpacked(destination):
        if not archive.is_file() or is_current(archive, destination):
            return destination
        print(f"{destination}: unpacked from an earlier {archive.name} whose contents differ from the archive "
              "there now; unpacking it again")
        shutil.rmtree(destination)
    if destination.exists():
        raise DataError(
            f"{destination}: exists but is not a finished unpacking of {archive.name}; "
            f"delete it (or move it away) and run again"
        )
    if not archive.is_file():
        raise DataError(f"{archive}: no such archive")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as handle:
                names = check_member_names(handle, source=archive)
                check_sizes(handle, source=archive, destination=destination.parent)
                contents = contents_digest(handle)
                members = handle.infolist()
                if progress:
                    from tqdm import tqdm

                    members = tqdm(members, desc=f"unpacking {archive.name}", unit="file")
                for member in members:
                    try:
                        handle.extract(member, temporary)
                    except (zlib.error, zipfile.BadZipFile, EOFError) as error:
                        raise DataError(
                            f"{archive}: member {member.filename!r} is damaged ({type(error).__name__}: {error}); "
                            "delete the archive and download it again"
                        ) from None
        except OSError as error:
            if error.errno is None:
                raise

            raise os_error_message(OSError(error.errno, error.strerror, str(destination)),
                                   fix="put the dataset elsewhere with --data-dir or --root") from None
        except zipfile.BadZipFile as error:
            raise DataError(
                f"{archive}: not a zip file or damaged ({error}); delete it and download it again"
            ) from None
        except (EOFError, zipfile.LargeZipFile, NotImplementedError) as error:
            raise DataError(f"{archive}: cannot unpack ({error}); delete it and download it again") from None
        stat = archive.stat()
        (temporary / UNPACKED_MARKER).write_text(
            json.dumps({"archive": archive.name, "size": stat.st_size, "members": len(names), "contents": contents}),
            encoding="utf-8",
        )
        move_into_place(temporary, destination)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return destination
