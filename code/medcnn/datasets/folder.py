"""Bring your own data: any folder of class subfolders of images.

The layout is the one Keras' ``image_dataset_from_directory`` reads::

    root/<class name>/<image>.png   (or .jpg, .jpeg, .bmp, .tif, .tiff, any case)

Classes are the subfolder names in sorted order; a class's label is its position.
There are no patient ids and no official split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.datasets.base import (
    INDEX_COLUMNS,
    RUN_FOLDER_MARKER,
    check_index,
    image_files,
    is_os_litter,
    natural_key,
    require_root,
)
from medcnn.datasets.synthetic import class_pattern, save_image, to_uint8, write_synthetic_tree
from medcnn.errors import DataError

KEY = "folder"
TITLE = "Your own images, one subfolder per class"
CLASS_NAMES = None  # the sorted subfolder names of the root
SOURCE = ""
LICENSE = "the licence of your images"
CITATION = ""
DEFAULT_SPLIT = "stratified"
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
LAYOUT = """  <root>/<class name>/<image>.png  (also .jpg, .jpeg, .bmp, .tif, .tiff), one subfolder per class, e.g.
  <root>/benign/0001.png, <root>/malignant/0001.png"""
SYNTHETIC_CLASSES = ("dark", "grey", "light")  # sorted, and brighter with the label


def class_names(root: str | os.PathLike) -> tuple[str, ...]:
    """Return the classes of a folder dataset: its subfolder names, sorted (not hidden ones, ``__MACOSX``, run folders).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b", "a", ".hidden"):
        ...     (root / name).mkdir()
        >>> class_names(root)
        ('a', 'b')
    """
    root = require_root(root, dataset=KEY)
    # OS litter (__MACOSX) and a medcnn run folder are never classes
    return tuple(sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(".")
                        and not is_os_litter(entry.name) and not (entry / RUN_FOLDER_MARKER).is_file()))


def index(root: str | os.PathLike) -> pd.DataFrame:
    """Return the table of every image in ``root/<class>/``.

    Only image files directly inside each class folder are read. ``patient_id`` and
    ``split`` are ``""``. Rows are ordered by label, then file name.

    Raises:
        DataError: no class subfolders, or a class subfolder without images.

    Example:
        >>> import tempfile
        >>> frame = index(write_synthetic(tempfile.mkdtemp(), per_class=2))
        >>> frame["class_name"].tolist()
        ['dark', 'dark', 'grey', 'grey', 'light', 'light']
    """
    root = require_root(root, dataset=KEY)
    classes = class_names(root)
    rows = []
    for label, class_name in enumerate(classes):
        images = image_files([entry for entry in (root / class_name).iterdir() if entry.is_file()],
                             where=root / class_name)
        for image in sorted(images, key=lambda path: natural_key(path.name)):
            rows.append((image.relative_to(root).as_posix(), label, class_name, "", ""))
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    return check_index(frame, root=root, dataset=KEY, class_names=classes, layout=LAYOUT)


def download(root: str | os.PathLike, *, force: bool = False, progress: bool = True) -> Path:
    """Nothing to download for your own data: check ``root`` holds class folders and return it.

    Raises:
        DataError: ``root`` does not hold images in the expected layout (the message shows it).

    Example:
        >>> import tempfile
        >>> root = write_synthetic(tempfile.mkdtemp(), per_class=1)
        >>> download(root) == root
        True
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: the folder dataset is your own images; put them there as\n{LAYOUT}")
    index(root)
    return root


def write_synthetic(
    root: str | os.PathLike,
    *,
    per_class: int = 8,
    seed: int = 0,
    image_size: int = 64,
) -> Path:
    """Write a small folder dataset into ``root``: three classes, PNG and JPEG files; return ``root``.

    ``dark/`` holds grayscale PNGs, ``grey/`` RGB JPEGs with an upper-case ``.JPG``
    suffix, ``light/`` RGB PNGs: the mix a real folder often has.

    Example:
        >>> import tempfile
        >>> root = write_synthetic(tempfile.mkdtemp(), per_class=1)
        >>> sorted(path.name for path in (root / "grey").iterdir())
        ['grey-1.JPG']
    """
    def build(folder: Path) -> list[str]:
        rng = np.random.default_rng(seed)
        for label, class_name in enumerate(SYNTHETIC_CLASSES):
            for number in range(1, per_class + 1):
                pattern = class_pattern(label, num_classes=len(SYNTHETIC_CLASSES), height=image_size, width=image_size, seed=rng)
                image = to_uint8(pattern)
                if label == 0:
                    save_image(image, folder / class_name / f"{class_name}-{number}.png")
                else:
                    rgb = np.repeat(image[:, :, np.newaxis], 3, axis=2)
                    if label == 1:
                        save_image(rgb, folder / class_name / f"{class_name}-{number}.JPG", format="JPEG", quality=95)
                    else:
                        save_image(rgb, folder / class_name / f"{class_name}-{number}.png")
        return list(SYNTHETIC_CLASSES)

    settings = {"per_class": per_class, "seed": seed, "image_size": image_size}
    return write_synthetic_tree(root, dataset=KEY, settings=settings, build=build)
