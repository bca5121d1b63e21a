"""The COVID-19 Radiography Database (Kaggle ``tawsifurrahman/covid19-radiography-database``).

Chest X-rays in four classes in the current release: COVID (3,616), Normal (10,192),
Viral Pneumonia (1,345) and Lung_Opacity (6,012). The study used the first three;
Lung_Opacity is read only on request (``index(root, include_lung_opacity=True)``).

Layouts read, found by searching under the root (``masks/`` folders are ignored):

- current: ``COVID-19_Radiography_Dataset/<COVID|Normal|Viral Pneumonia|Lung_Opacity>/images/<Class>-<n>.png``
  with ``masks/`` beside ``images/`` and a ``<Class>.metadata.xlsx`` per class;
- early releases, flat: ``COVID-19 Radiography Database/<COVID-19|COVID|NORMAL|Viral Pneumonia>/<Class> (<n>).png``;
- copies re-split into ``train/`` and ``test/`` folders holding the same class folders.

The images carry no patient ids. Known caveat: the classes come from different
hospitals (Viral Pneumonia from a paediatric collection), a shortcut a network can learn.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.datasets.base import (
    INDEX_COLUMNS,
    check_index,
    image_files,
    natural_key,
    require_root,
)
from medcnn.datasets.kaggle import download_kaggle_dataset
from medcnn.datasets.synthetic import class_pattern, save_image, to_uint8, write_synthetic_tree

KEY = "covid19"
TITLE = "COVID-19 Radiography Database (chest X-ray)"
CLASS_NAMES = ("normal", "viral_pneumonia", "covid")
EXTRA_CLASS = "lung_opacity"
SOURCE = "tawsifurrahman/covid19-radiography-database/versions/5"
KAGGLE_VERSION = 5  # pinned: the release with COVID-19_Radiography_Dataset/<class>/images (4 classes, 21,165 images)
LICENSE = (
    "Kaggle dataset by Tawsifur Rahman, Muhammad Chowdhury et al.; images collected from several "
    "public sources, each under its own terms. Cite the two papers below when you use it."
)
CITATION = """@article{chowdhury2020can,
  author = {Chowdhury, Muhammad E. H. and Rahman, Tawsifur and Khandakar, Amith and Mazhar, Rashid and Kadir, Muhammad Abdul and Mahbub, Zaid Bin and Islam, Khandakar Reajul and Khan, Muhammad Salman and Iqbal, Atif and Al Emadi, Nasser and Reaz, Mamun Bin Ibne and Islam, Mohammad Tariqul},
  title = {Can {AI} Help in Screening Viral and {COVID-19} Pneumonia?},
  journal = {IEEE Access},
  volume = {8},
  pages = {132665--132676},
  year = {2020},
  doi = {10.1109/ACCESS.2020.3010287}
}
@article{rahman2021exploring,
  author = {Rahman, Tawsifur and Khandakar, Amith and Qiblawey, Yazan and Tahir, Anas and Kiranyaz, Serkan and Abul Kashem, Saad Bin and Islam, Mohammad Tariqul and Al Maadeed, Somaya and Zughaier, Susu M. and Khan, Muhammad Salman and Chowdhury, Muhammad E. H.},
  title = {Exploring the effect of image enhancement techniques on {COVID-19} detection using chest {X}-ray images},
  journal = {Computers in Biology and Medicine},
  volume = {132},
  pages = {104319},
  year = {2021},
  doi = {10.1016/j.compbiomed.2021.104319}
}"""
DEFAULT_SPLIT = "stratified"
SPLIT_FRACTIONS = (0.60, 0.20, 0.20)
RELEASE_FOLDER = "COVID-19_Radiography_Dataset"
RELEASE_CLASS_FOLDERS = {"covid": "COVID", "normal": "Normal", "viral_pneumonia": "Viral Pneumonia", "lung_opacity": "Lung_Opacity"}
LAYOUT = """  COVID-19_Radiography_Dataset/COVID/images/COVID-1.png ...
  COVID-19_Radiography_Dataset/Normal/images/Normal-1.png ...
  COVID-19_Radiography_Dataset/Viral Pneumonia/images/Viral Pneumonia-1.png ...
  (or the early flat release: COVID-19 Radiography Database/COVID/COVID (1).png, NORMAL/NORMAL (1).png, ...)"""

# Folder names of every release, normalised (lower case, "_" and "-" as spaces).
FOLDER_CLASSES = {
    "covid": "covid",
    "covid 19": "covid",
    "normal": "normal",
    "viral pneumonia": "viral_pneumonia",
    "lung opacity": "lung_opacity",
}


def class_of_folder(name: str) -> str | None:
    """Return the class a folder name stands for in any release, or None.

    Example:
        >>> class_of_folder("Viral Pneumonia"), class_of_folder("COVID-19"), class_of_folder("masks")
        ('viral_pneumonia', 'covid', None)
    """
    normalised = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    return FOLDER_CLASSES.get(normalised)


def _class_folders(root: Path, wanted: tuple[str, ...]) -> list[tuple[str, Path]]:
    found = []
    for folder, subfolders, _ in os.walk(root):
        subfolders.sort()
        keep = []
        for name in subfolders:
            if name.startswith(".") or name == "__MACOSX" or name.lower() == "masks":
                continue
            class_name = class_of_folder(name)
            if class_name is None:
                keep.append(name)
            elif class_name in wanted:
                found.append((class_name, Path(folder) / name))
        subfolders[:] = keep
    return found


def _images_of(class_folder: Path) -> list[Path]:
    images_folders = [entry for entry in class_folder.iterdir() if entry.is_dir() and entry.name.lower() == "images"]
    source = images_folders[0] if images_folders else class_folder
    return image_files([entry for entry in source.iterdir() if entry.is_file()], where=source)


def index(root: str | os.PathLike, *, include_lung_opacity: bool = False) -> pd.DataFrame:
    """Return the table of every chest X-ray under ``root``.

    ``label`` is 0 normal, 1 viral pneumonia, 2 covid (3 lung opacity when included);
    ``patient_id`` and ``split`` are ``""``. Rows are ordered by label, then path.

    Args:
        root: a folder holding any of the releases (searched recursively).
        include_lung_opacity: also read the Lung_Opacity class (label 3).

    Raises:
        DataError: no class folders or no images of some class.

    Example:
        >>> import tempfile
        >>> frame = index(write_synthetic(tempfile.mkdtemp(), per_class=3))
        >>> frame["label"].value_counts().sort_index().tolist()
        [3, 3, 3]
    """
    root = require_root(root, dataset=KEY)
    class_names = CLASS_NAMES + ((EXTRA_CLASS,) if include_lung_opacity else ())
    rows = []
    for class_name, folder in _class_folders(root, class_names):
        label = class_names.index(class_name)
        for image in _images_of(folder):
            rows.append((image.relative_to(root).as_posix(), label, class_name, "", ""))
    rows.sort(key=lambda row: (row[1], natural_key(row[0])))
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    return check_index(frame, root=root, dataset=KEY, class_names=class_names, layout=LAYOUT)


def download(root: str | os.PathLike, *, force: bool = False, progress: bool = True) -> Path:
    """Download the Kaggle dataset into ``root`` (:func:`medcnn.datasets.kaggle.download_kaggle_dataset`); return ``root``.

    Example:
        >>> download("/data/covid19")  # doctest: +SKIP
        PosixPath('/data/covid19')
    """
    return download_kaggle_dataset(root, handle=SOURCE, version=KAGGLE_VERSION, force=force, progress=progress)


def _lung_mask(size: int) -> np.ndarray:
    rows, columns = np.mgrid[0:size, 0:size] / size
    left = ((columns - 0.3) / 0.16) ** 2 + ((rows - 0.5) / 0.32) ** 2 <= 1
    right = ((columns - 0.7) / 0.16) ** 2 + ((rows - 0.5) / 0.32) ** 2 <= 1
    return np.where(left | right, 255, 0).astype(np.uint8)


def write_synthetic(
    root: str | os.PathLike,
    *,
    per_class: int = 8,
    seed: int = 0,
    image_size: int = 64,
) -> Path:
    """Write a small stand-in of the current release into ``root``; return ``root``.

    ``root/COVID-19_Radiography_Dataset/<Class>/images/<Class>-<n>.png`` (grayscale) and
    ``masks/<Class>-<n>.png`` for all four classes, and a README. The per-class
    ``<Class>.metadata.xlsx`` files are written only when openpyxl is installed
    (the README says whether they were).

    Args:
        root: an empty or missing folder (or one holding an earlier stand-in).
        per_class: images per class.
        seed: makes the images reproducible.
        image_size: side of the square images, in pixels.

    Example:
        >>> import tempfile
        >>> root = write_synthetic(tempfile.mkdtemp(), per_class=2)
        >>> sorted(p.name for p in (root / "COVID-19_Radiography_Dataset" / "COVID" / "images").iterdir())
        ['COVID-1.png', 'COVID-2.png']
    """
    all_classes = CLASS_NAMES + (EXTRA_CLASS,)
    with_metadata = importlib.util.find_spec("openpyxl") is not None

    def build(folder: Path) -> list[str]:
        rng = np.random.default_rng(seed)
        release = folder / RELEASE_FOLDER
        mask = _lung_mask(image_size)
        for label, class_name in enumerate(all_classes):
            folder_name = RELEASE_CLASS_FOLDERS[class_name]
            metadata = []
            for number in range(1, per_class + 1):
                file_name = f"{folder_name}-{number}.png"
                pattern = class_pattern(label, num_classes=len(all_classes), height=image_size, width=image_size, seed=rng)
                save_image(to_uint8(pattern), release / folder_name / "images" / file_name)
                save_image(mask, release / folder_name / "masks" / file_name)
                metadata.append((f"{folder_name}-{number}", "PNG", f"{image_size}*{image_size}", "synthetic (medcnn)"))
            if with_metadata:
                table = pd.DataFrame(metadata, columns=["FILE NAME", "FORMAT", "SIZE", "URL"])
                table.to_excel(release / f"{folder_name}.metadata.xlsx", index=False)
        note = (
            "with a <Class>.metadata.xlsx per class"
            if with_metadata
            else "without the <Class>.metadata.xlsx files (openpyxl was not installed to write real xlsx)"
        )
        (release / "README.md.txt").write_text(
            "Synthetic stand-in for the COVID-19 Radiography Database, written by medcnn; not medical data.\n"
            f"{per_class} grayscale {image_size}x{image_size} PNG images per class (seed {seed}) in the layout of the "
            f"current release: <Class>/images/<Class>-<n>.png with lung masks in <Class>/masks/, {note}.\n",
            encoding="utf-8",
        )
        return [RELEASE_FOLDER]

    settings = {"per_class": per_class, "seed": seed, "image_size": image_size}
    return write_synthetic_tree(root, dataset=KEY, settings=settings, build=build)
