"""Unpack zip archives safely and atomically.

Safe: a member whose name is absolute or climbs out of the target folder with
``..`` ("zip slip") is refused before anything is written. Atomic: the archive is
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
from pathlib import Path, PurePosixPath, PureWindowsPath

from medcnn.errors import DataError

UNPACKED_MARKER = ".medcnn-unpacked.json"


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
        return destination
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
                members = handle.infolist()
                if progress:
                    from tqdm import tqdm

                    members = tqdm(members, desc=f"unpacking {archive.name}", unit="file")
                for member in members:
                    handle.extract(member, temporary)
        except zipfile.BadZipFile as error:
            raise DataError(
                f"{archive}: not a zip file or damaged ({error}); delete it and download it again"
            ) from None
        except (EOFError, zipfile.LargeZipFile, NotImplementedError) as error:
            raise DataError(f"{archive}: cannot unpack ({error}); delete it and download it again") from None
        stat = archive.stat()
        (temporary / UNPACKED_MARKER).write_text(
            json.dumps({"archive": archive.name, "size": stat.st_size, "members": len(names)}),
            encoding="utf-8",
        )
        os.rename(temporary, destination)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return destination
