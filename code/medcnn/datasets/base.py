"""What every dataset reader returns, and the checks that keep it honest.

An index is a :class:`pandas.DataFrame` with exactly :data:`INDEX_COLUMNS`, one
row per image:

- ``path``: the image file, relative to the dataset root, as a POSIX string;
- ``label``: the integer class, the position of ``class_name`` in the class list;
- ``class_name``: the class as text;
- ``patient_id``: the patient as text, ``""`` where the dataset has none;
- ``split``: the dataset's official subset (``train``, ``val``, ``test``), ``""`` where it has none.

Every reader ends with :func:`check_index`, so a wrong folder fails early with a
message that says what was expected and how to get the data.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from medcnn.errors import DataError, DownloadError, FileSystemError, os_error_message
from medcnn.files import path_kind
from medcnn.paths import expand_path

INDEX_COLUMNS = ("path", "label", "class_name", "patient_id", "split")
OFFICIAL_SPLITS = ("train", "val", "test", "")
SYNTHETIC_MARKER = ".medcnn-synthetic.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
OS_LITTER = ("__macosx", ".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".spotlight-v100", ".trashes",
             ".fseventsd")
"""Names (lower case) the operating systems leave beside data: never data, skipped everywhere, listed once."""
RUN_FOLDER_MARKER = ".medcnn-run.json"
"""The mark of a medcnn run folder (:mod:`medcnn.run_folder`): such a folder inside a dataset is never read as data."""


def is_os_litter(name: str) -> bool:
    """True for what macOS, Windows or a zip tool leave beside data (``__MACOSX``, ``.DS_Store``, ``._x.png`` ...).

    Example:
        >>> [is_os_litter(name) for name in ("__MACOSX", "Thumbs.db", "._scan.png", "scan.png")]
        [True, True, True, False]
    """
    return name.lower() in OS_LITTER or name.startswith("._")


def check_folder_path(path: str | os.PathLike, *, what: str, fix: str | None = None) -> Path:
    """Refuse a folder path that cannot be one: it, or a folder above it, is a file, a device or a link leading nowhere.

    An absent path is fine (it is made later); an existing folder too. Otherwise the
    :class:`~medcnn.errors.FileSystemError` names the part of the path at fault and what it is.

    Example:
        >>> check_folder_path("/dev/null/retina", what="the retina dataset")
        Traceback (most recent call last):
        ...
        medcnn.errors.FileSystemError: /dev/null: the retina dataset goes to /dev/null/retina, but /dev/null is a character device, not a folder; move it away or choose another folder
    """
    import errno

    path = Path(path)
    fix = fix or "choose another folder"
    try:
        if path.is_dir():
            return path
        path.stat()
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise os_error_message(OSError(error.errno, error.strerror, str(path)), fix=fix) from None
    # walk down from the top: the first part that exists and is not a folder is at fault
    for part in [*reversed(path.parents), path]:
        kind = path_kind(part)
        if kind is None:
            break  # absent from here on: made when written
        if kind == "a symbolic link":
            try:
                part.stat()
            except OSError as error:
                found = "into a loop" if error.errno == errno.ELOOP else "nowhere (its target is gone)"
                raise FileSystemError(f"{part}: {what} goes to {path}, but {part} is a symbolic link (to "
                                      f"{os.readlink(part)}) that leads {found}; fix or remove the link, or "
                                      f"{fix}") from None
            if not part.is_dir():
                raise FileSystemError(f"{part}: {what} goes to {path}, but {part} is a symbolic link to a file, not a "
                                      f"folder; move it away or {fix}")
        elif kind != "a folder":
            where = f"{what} goes to {path}, but {part}" if part != path else f"{what} is a folder, but this"
            raise FileSystemError(f"{part}: {where} is {kind}, not a folder; move it away or {fix}")
    return path


def fix_hint(dataset: str, root: str | os.PathLike) -> str:
    """Return the commands that put dataset ``dataset`` into folder ``root``.

    Example:
        >>> fix_hint("retina", "/data/retina")
        'python -m medcnn download --dataset retina --data-dir /data (or a synthetic stand-in: python -m medcnn synth --dataset retina --root /data/retina)'
    """
    root = Path(root)
    synth = f"python -m medcnn synth --dataset {dataset} --root {root.as_posix()}"
    if dataset == "folder":
        return f"your own images placed as {root.as_posix()}/<class name>/<image>.png (or a synthetic stand-in: {synth})"
    if root.name == dataset:
        download = f"python -m medcnn download --dataset {dataset} --data-dir {root.parent.as_posix()}"
    else:
        download = f"python -m medcnn download --dataset {dataset} --root {root.as_posix()}"
    return f"{download} (or a synthetic stand-in: {synth})"


def require_root(root: str | os.PathLike, *, dataset: str) -> Path:
    """Return ``root`` as a Path, or raise DataError if it is not an existing folder.

    Example:
        >>> require_root("/no/such/folder", dataset="retina")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: /no/such/folder: no such folder for dataset 'retina'; get it with python -m medcnn download --dataset retina --root /no/such/folder (or a synthetic stand-in: python -m medcnn synth --dataset retina --root /no/such/folder)
    """
    path = expand_path(root, setting="the dataset folder")
    if not path.is_dir():
        # a file, a device or a link loop where the folder belongs is named as such (FileSystemError)
        check_folder_path(path, what=f"the {dataset} dataset", fix="give the dataset folder with --root or --data-dir")
        raise DataError(f"{path}: no such folder for dataset {dataset!r}; get it with {fix_hint(dataset, path)}")
    return path


def natural_key(text: str) -> tuple:
    """Sort key that orders numbers inside text by value (``img-2`` before ``img-10``).

    Example:
        >>> sorted(["a-10.png", "a-2.png"], key=natural_key)
        ['a-2.png', 'a-10.png']
    """
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def is_image_file(path: Path) -> bool:
    """True for a file whose extension is one of :data:`IMAGE_SUFFIXES` (any case).

    Example:
        >>> is_image_file(Path("scan.PNG"))
        True
    """
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


NOT_IMAGE_SUFFIXES = (".csv", ".txt", ".json", ".md", ".xlsx", ".xls", ".pdf", ".zip", ".mat", ".db", ".ini", ".html")
"""Files found among images that are not meant as images (tables, notes, archives): skipped without a word."""
UNREAD_FORMATS = {
    ".dcm": "DICOM, convert to PNG first",
    ".dicom": "DICOM, convert to PNG first",
    ".nii": "NIfTI volume, export slices as PNG first",
    ".gz": "compressed, unpack it first",
    ".gif": "GIF, convert to PNG",
    ".webp": "WebP, convert to PNG",
    ".heic": "HEIC, convert to JPEG or PNG",
    ".jp2": "JPEG 2000, convert to PNG",
}


def image_files(entries, *, where) -> list[Path]:
    """The image files among ``entries``; the others that look like data are listed once, with the reason.

    Tables, notes and archives (:data:`NOT_IMAGE_SUFFIXES`) and hidden files are left out
    silently; any other file is named in one printed line per call, grouped by format, so
    images in a format the readers skip do not vanish unnoticed.

    Example:
        >>> files = image_files([Path("a.png"), Path("b.dcm"), Path("notes.txt")], where="/data/x")
        /data/x: skipped 1 file(s) in formats the readers do not decode (they read .png, .jpg, .jpeg, .bmp, .tif, .tiff): 1 .dcm (DICOM, convert to PNG first), e.g. b.dcm
        >>> [path.name for path in files]
        ['a.png']
    """
    images, skipped = [], {}
    for entry in entries:
        entry = Path(entry)
        if is_image_file(entry):
            images.append(entry)
        elif not entry.name.startswith(".") and entry.suffix.lower() not in NOT_IMAGE_SUFFIXES:
            skipped.setdefault(entry.suffix.lower() or "(no extension)", []).append(entry)
    if skipped:
        count = sum(len(found) for found in skipped.values())
        kinds = ", ".join(
            f"{len(found)} {suffix}" + (f" ({UNREAD_FORMATS[suffix]})" if suffix in UNREAD_FORMATS else "")
            for suffix, found in sorted(skipped.items())
        )
        example = sorted(skipped.values(), key=len)[-1][0].name
        print(f"{where}: skipped {count} file(s) in formats the readers do not decode (they read "
              f"{', '.join(IMAGE_SUFFIXES)}): {kinds}, e.g. {example}")
    return images


def walk_folders(root: Path):
    """Yield every folder under ``root`` (itself included), sorted, skipping hidden ones, OS litter, run folders.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "b").mkdir(); (root / ".hidden").mkdir(); (root / "a").mkdir()
        >>> [p.name for p in walk_folders(root)][1:]
        ['a', 'b']
    """
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and not is_os_litter(name)
            and not os.path.isfile(os.path.join(folder, name, RUN_FOLDER_MARKER))
        )
        yield Path(folder)


def report_litter(root: str | os.PathLike) -> list[str]:
    """List once, on one line, the operating-system litter under ``root`` that the readers skipped; return it.

    Hidden folders (the image cache) and the litter folders themselves are not entered.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "__MACOSX").mkdir(); _ = (root / ".DS_Store").write_bytes(b"")
        >>> report_litter(root)  # doctest: +ELLIPSIS
        /...: skipped 2 operating-system file(s) that are not data: .DS_Store, __MACOSX/
        ['.DS_Store', '__MACOSX/']
    """
    found = []
    for folder, subfolders, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        found.extend((relative / name).as_posix() + "/" for name in sorted(subfolders) if is_os_litter(name))
        found.extend((relative / name).as_posix() for name in sorted(files) if is_os_litter(name))
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and not is_os_litter(name))
    found = sorted(name[2:] if name.startswith("./") else name for name in found)
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        print(f"{root}: skipped {len(found)} operating-system file(s) that are not data: {shown}")
    return found


def drop_duplicate_images(frame: pd.DataFrame, *, root: str | os.PathLike, dataset: str) -> pd.DataFrame:
    """Keep each image once: files with the same bytes (found by size, then BLAKE2) are one image.

    A second copy of an extracted tree, or a file copied into two folders, would otherwise
    let the same image land in the training and the test subsets: the leak this course
    warns about. Copies with the same label are kept once (the first in the index's
    order), with one printed line giving the count and an example pair; copies with
    different labels cannot be settled and are refused. Only files of equal size are read.

    Raises:
        DataError: the same bytes under two different labels (names both files).

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("a.png", "b.png"):
        ...     _ = (root / name).write_bytes(b"same bytes")
        >>> frame = pd.DataFrame({"path": ["a.png", "b.png"], "label": [0, 0], "class_name": ["x", "x"],
        ...                       "patient_id": ["", ""], "split": ["", ""]})
        >>> drop_duplicate_images(frame, root=root, dataset="folder")["path"].tolist()  # doctest: +ELLIPSIS
        /...: 1 image(s) are byte-for-byte copies of another image and are left out (each image is used once, so no copy lands in two subsets), e.g. b.png = a.png
        ['a.png']
    """
    import hashlib

    root = Path(root)
    sizes = {}
    for position, relative in enumerate(frame["path"]):
        try:
            size = os.stat(root / relative).st_size
        except OSError:
            continue  # a missing file is reported when it is read
        if size:  # empty files are not images: reported as unreadable when decoded
            sizes.setdefault(size, []).append(position)
    first_of: dict[bytes, int] = {}
    dropped: list[tuple[int, int]] = []
    for positions in sizes.values():
        if len(positions) < 2:
            continue
        for position in positions:
            digest = hashlib.blake2b(digest_size=20)
            try:
                with open(root / frame["path"].iloc[position], "rb") as stream:
                    for block in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(block)
            except OSError:
                continue
            key = digest.digest()
            if key in first_of:
                dropped.append((position, first_of[key]))
            else:
                first_of[key] = position
    if not dropped:
        return frame
    dropped.sort()
    labels = frame["class_name"].tolist()
    conflicts = [(copy, original) for copy, original in dropped if labels[copy] != labels[original]]
    if conflicts:
        copy, original = conflicts[0]
        raise DataError(
            f"{root}: {len(conflicts)} image(s) have the same bytes as an image of another class, e.g. "
            f"{frame['path'].iloc[copy]} ({labels[copy]!r}) = {frame['path'].iloc[original]} ({labels[original]!r}); "
            f"one image cannot be both: remove the wrong copy from the {dataset} folder"
        )
    copy, original = dropped[0]
    print(f"{root}: {len(dropped)} image(s) are byte-for-byte copies of another image and are left out (each image is "
          f"used once, so no copy lands in two subsets), e.g. {frame['path'].iloc[copy]} = "
          f"{frame['path'].iloc[original]}")
    return frame.drop(index=frame.index[[copy for copy, _ in dropped]]).reset_index(drop=True)


def check_index(
    frame: pd.DataFrame,
    *,
    root: str | os.PathLike,
    dataset: str,
    class_names: tuple[str, ...],
    layout: str,
) -> pd.DataFrame:
    """Validate a reader's table and return it with clean types and a fresh row index.

    Args:
        frame: the table a reader built.
        root: the dataset folder it was read from (named in messages).
        dataset: the dataset key (names the download command in messages).
        class_names: every class that must have at least one image (the reader's
            ``CLASS_NAMES``, or the classes found in the folder).
        layout: the expected on-disk layout, quoted in the message when nothing is found
            (the reader's ``LAYOUT``). Both are passed by the reader, so this module never
            goes back up to the registry.

    Raises:
        DataError: no images, a class without images, wrong columns, duplicated paths,
            labels that do not match class names, an unknown split value, or the same
            bytes under two labels (:func:`drop_duplicate_images`; copies with one label
            are kept once, with a message). Operating-system litter found under ``root``
            is listed once (:func:`report_litter`).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"path": ["a/1.png", "b/1.png"], "label": [0, 1],
        ...     "class_name": ["healthy", "diseased"], "patient_id": ["", ""], "split": ["", ""]})
        >>> len(check_index(frame, root="/data/retina", dataset="retina",
        ...                 class_names=("healthy", "diseased"), layout="<root>/<class>/*.png"))
        2
    """
    root = Path(root)
    hint = fix_hint(dataset, root)

    if tuple(frame.columns) != INDEX_COLUMNS:
        raise DataError(
            f"{root}: the {dataset} reader built columns {list(frame.columns)}, expected {list(INDEX_COLUMNS)}"
        )
    if len(frame) == 0:
        raise DataError(
            f"{root}: no {dataset} images found. Expected this layout under it:\n{layout}\n"
            f"Get the data with {hint}"
        )
    frame = frame.reset_index(drop=True).astype(
        {"path": str, "label": "int64", "class_name": str, "patient_id": str, "split": str}
    )
    duplicated = frame["path"][frame["path"].duplicated()]
    if len(duplicated):
        raise DataError(f"{root}: image {duplicated.iloc[0]} is listed twice in the {dataset} index")
    if class_names:
        counts = frame["class_name"].value_counts()
        missing = [name for name in class_names if counts.get(name, 0) == 0]
        if missing:
            raise DataError(
                f"{root}: no images of class {', '.join(repr(name) for name in missing)} "
                f"(found {({name: int(count) for name, count in counts.items()})}). Expected this layout:\n{layout}\n"
                f"Check the folder is complete, or get the data again with {hint}"
            )
        expected = {name: position for position, name in enumerate(class_names)}
        wrong = frame[frame["class_name"].map(expected) != frame["label"]]
        if len(wrong):
            row = wrong.iloc[0]
            raise DataError(
                f"{root / row['path']}: label {row['label']} does not match class {row['class_name']!r} "
                f"(expected the order {list(class_names)})"
            )
    bad_split = frame[~frame["split"].isin(OFFICIAL_SPLITS)]
    if len(bad_split):
        raise DataError(
            f"{root / bad_split['path'].iloc[0]}: split {bad_split['split'].iloc[0]!r} is not one of train, val, test or ''"
        )
    report_litter(root)
    return drop_duplicate_images(frame, root=root, dataset=dataset)


def download_folder(root: str | os.PathLike) -> Path:
    """Return ``root`` as the folder to download a real dataset into, refusing a synthetic stand-in's.

    Example:
        >>> download_folder("/data/retina").as_posix()
        '/data/retina'
    """
    root = expand_path(root, setting="the dataset folder")
    check_folder_path(root, what="the download", fix="download into another folder with --data-dir or --root")
    if synthetic_settings(root) is not None:
        raise DownloadError(f"{root}: holds a synthetic stand-in; delete it or download into another folder")
    return root


def synthetic_settings(root: str | os.PathLike) -> dict | None:
    """Return the settings a synthetic stand-in in ``root`` was written with, or None for real data.

    Example:
        >>> synthetic_settings("/no/such/folder") is None
        True
    """
    marker = Path(root) / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    try:
        settings = json.loads(marker.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{marker}: damaged record of a synthetic stand-in ({error}); delete the folder and "
                        "write it again with `python -m medcnn synth`") from None
    if not isinstance(settings, dict):
        raise DataError(f"{marker}: damaged record of a synthetic stand-in (not a JSON object); delete the folder "
                        "and write it again with `python -m medcnn synth`")
    return settings
