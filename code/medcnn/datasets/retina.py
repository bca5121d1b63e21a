"""RFMiD, the Retinal Fundus Multi-disease Image Dataset (Kaggle ``andrewmvd/retinal-disease-classification``).

3,200 fundus photographs with an official split: Training 1,920, Validation 640,
Test 640. The study's binary label is ``Disease_Risk`` (0 healthy, 1 diseased).
The Kaggle copy is laid out as::

    Training_Set/Training_Set/Training/<ID>.png + Training_Set/Training_Set/RFMiD_Training_Labels.csv
    Evaluation_Set/Evaluation_Set/Validation/<ID>.png + .../RFMiD_Validation_Labels.csv
    Test_Set/Test_Set/Test/<ID>.png + .../RFMiD_Testing_Labels.csv

IDs restart at 1 in each split. The label CSVs have 47 columns (``ID``,
``Disease_Risk`` and 45 diseases), a UTF-8 byte-order mark and CRLF line ends.
The CSVs and image folders are found by searching under the root, so other
nestings of the same files work too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.datasets.base import (
    INDEX_COLUMNS,
    check_index,
    image_files,
    require_root,
    walk_folders,
)
from medcnn.datasets.kaggle import download_kaggle_dataset
from medcnn.datasets.synthetic import class_pattern, save_image, to_uint8, write_synthetic_tree
from medcnn.errors import DataError, plain

KEY = "retina"
TITLE = "RFMiD retinal fundus images"
CLASS_NAMES = ("healthy", "diseased")
SOURCE = "andrewmvd/retinal-disease-classification/versions/1"
KAGGLE_VERSION = 1  # pinned: a new upload on Kaggle must not change the data under a finished chapter
LICENSE = "CC BY 4.0"
CITATION = """@article{pachade2021rfmid,
  author = {Pachade, Samiksha and Porwal, Prasanna and Thulkar, Dhanshree and Kokare, Manesh and Deshmukh, Girish and Sahasrabuddhe, Vivek and Giancardo, Luca and Quellec, Gwenol{\\'e} and M{\\'e}riaudeau, Fabrice},
  title = {Retinal Fundus Multi-Disease Image Dataset ({RFMiD}): A Dataset for Multi-Disease Detection Research},
  journal = {Data},
  volume = {6},
  number = {2},
  pages = {14},
  year = {2021},
  doi = {10.3390/data6020014}
}"""
DEFAULT_SPLIT = "official"
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)  # used only by the stratified option; the study used the official split
LABEL_COLUMNS = (
    "ID,Disease_Risk,DR,ARMD,MH,DN,MYA,BRVO,TSLN,ERM,LS,MS,CSR,ODC,CRVO,TV,AH,ODP,ODE,ST,AION,PT,RT,RS,"
    "CRS,EDN,RPEC,MHL,RP,CWS,CB,ODPM,PRH,MNF,HR,CRAO,TD,CME,PTCR,CF,VH,MCA,VS,BRAO,PLQ,HPED,CL"
).split(",")
# split -> (label CSV, image folder, top folder of the Kaggle copy)
SPLIT_FILES = {
    "train": ("RFMiD_Training_Labels.csv", "Training", "Training_Set"),
    "val": ("RFMiD_Validation_Labels.csv", "Validation", "Evaluation_Set"),
    "test": ("RFMiD_Testing_Labels.csv", "Test", "Test_Set"),
}
LAYOUT = """  Training_Set/Training_Set/Training/1.png ... + Training_Set/Training_Set/RFMiD_Training_Labels.csv
  Evaluation_Set/Evaluation_Set/Validation/1.png ... + Evaluation_Set/Evaluation_Set/RFMiD_Validation_Labels.csv
  Test_Set/Test_Set/Test/1.png ... + Test_Set/Test_Set/RFMiD_Testing_Labels.csv"""
CAMERA_ASPECT = 2144 / 1424  # width / height of the most common camera's images
MAX_ID = 10**9  # far above RFMiD's 1,920 IDs per split, far below what overflows an int64
ID_NAME = re.compile(r"0|[1-9][0-9]*")  # an image is named by its ID as the CSV writes it: 1.png, not 001.png


def read_labels(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read one RFMiD label CSV (byte-order mark and CRLF line ends welcome), checked.

    Returns the table with integer ``ID`` and ``Disease_Risk`` and every other column as read.

    Raises:
        DataError: the file cannot be parsed, lacks ``ID`` or ``Disease_Risk``, has an ID
            twice, or a ``Disease_Risk`` other than 0 or 1. The message names the CSV.

    Example:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
        >>> _ = file.write_bytes("\\ufeffID,Disease_Risk\\r\\n1,1\\r\\n2,0\\r\\n".encode("utf-8"))
        >>> read_labels(file)["Disease_Risk"].tolist()
        [1, 0]
    """
    csv_path = Path(csv_path)
    try:
        table = pd.read_csv(csv_path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise DataError(f"{csv_path}: cannot read the label table ({error}); replace the file") from None
    table.columns = [str(column).strip() for column in table.columns]
    for column in ("ID", "Disease_Risk"):
        if column not in table.columns:
            raise DataError(
                f"{csv_path}: no {column!r} column (found {', '.join(table.columns[:6])}...); "
                f"expected the RFMiD header starting ID,Disease_Risk,DR,..."
            )
    for column in ("ID", "Disease_Risk"):
        values = pd.to_numeric(table[column], errors="coerce")
        # not a number, not whole, or too large for an ID (1e23 would overflow to a negative int64)
        bad = values.isna() | (values != values.round()) | (values < 0) | (values > MAX_ID)
        if bad.any():
            rows = np.flatnonzero(bad)
            row = int(rows[0])
            raise DataError(
                f"{csv_path}: {len(rows)} bad row(s): row {row + 2} has {column}={plain(table[column].iloc[row])}, "
                f"expected a whole number from 0 to {MAX_ID}; correct or delete the row (or download the dataset again)")
        table[column] = values.astype("int64")
    duplicated = table["ID"][table["ID"].duplicated()]
    if len(duplicated):
        raise DataError(f"{csv_path}: ID {int(duplicated.iloc[0])} appears more than once")
    bad = table[~table["Disease_Risk"].isin([0, 1])]
    if len(bad):
        raise DataError(
            f"{csv_path}: ID {int(bad['ID'].iloc[0])} has Disease_Risk={int(bad['Disease_Risk'].iloc[0])}, expected 0 or 1"
        )
    return table


def _find_named(root: Path, name: str, *, want_folder: bool) -> list[Path]:
    lowered = name.lower()
    found = []
    for folder in walk_folders(root):
        for entry in folder.iterdir():
            if entry.name.lower() == lowered and (entry.is_dir() if want_folder else entry.is_file()):
                found.append(entry)
    return sorted(found)


def _image_folder(root: Path, csv_path: Path, folder_name: str) -> Path:
    for entry in sorted(csv_path.parent.iterdir()):
        if entry.is_dir() and entry.name.lower() == folder_name.lower():
            return entry
    candidates = _find_named(root, folder_name, want_folder=True)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(
            f"{csv_path}: found the labels but no image folder {folder_name!r} under {root}; expected:\n{LAYOUT}"
        )
    raise DataError(
        f"{csv_path}: several image folders named {folder_name!r} under {root} ({candidates[0]}, {candidates[1]}); keep one copy"
    )


def _split_rows(root: Path, split: str, csv_path: Path) -> list[tuple]:
    _, folder_name, _ = SPLIT_FILES[split]
    labels = read_labels(csv_path)
    folder = _image_folder(root, csv_path, folder_name)
    images: dict[str, Path] = {}
    for entry in image_files(sorted(entry for entry in folder.iterdir() if entry.is_file()), where=folder):
        if entry.stem in images:
            raise DataError(f"{folder}: two images for ID {entry.stem} ({images[entry.stem].name}, {entry.name}); keep one")
        images[entry.stem] = entry
    by_id = {str(identifier): int(risk) for identifier, risk in zip(labels["ID"], labels["Disease_Risk"])}
    unnamed = sorted((stem for stem in images if not ID_NAME.fullmatch(stem)), key=lambda stem: images[stem].name)
    if unnamed:
        example = images[unnamed[0]].name
        renamed = f" (rename {example} to {int(unnamed[0])}{images[unnamed[0]].suffix})" if unnamed[0].isdigit() else ""
        raise DataError(
            f"{folder}: {len(unnamed)} image name(s) match no RFMiD name, <ID>.png with the ID as the label CSV "
            f"writes it (1.png, 2.png ...), e.g. {example}{renamed}; rename them, or move files that are not "
            "RFMiD images out of the folder")
    missing = [identifier for identifier in by_id if identifier not in images]
    if missing:
        raise DataError(
            f"{csv_path}: {len(missing)} label row(s) have no image in {folder} (first: ID {missing[0]}, "
            f"expected {folder / (missing[0] + '.png')}); the download is incomplete: download it again"
        )
    unlabelled = [stem for stem in images if stem not in by_id]
    if unlabelled:
        raise DataError(
            f"{csv_path}: no label row for {len(unlabelled)} image(s) in {folder} (first: {images[unlabelled[0]].name}); "
            f"the CSV and the image folder do not belong together"
        )
    rows = []
    for identifier in sorted(by_id, key=int):
        risk = by_id[identifier]
        rows.append((images[identifier].relative_to(root).as_posix(), risk, CLASS_NAMES[risk], "", split))
    return rows


def index(root: str | os.PathLike) -> pd.DataFrame:
    """Return the table of every RFMiD image under ``root``, with its official split.

    ``label`` is ``Disease_Risk`` (0 healthy, 1 diseased); ``split`` is ``train``,
    ``val`` or ``test`` from the CSV the image is listed in; ``patient_id`` is ``""``.
    Any non-empty subset of the three splits is read. Rows: train, val, test, each by ID.

    Raises:
        DataError: no label CSV, an unreadable CSV or one without ``Disease_Risk``/``ID``,
            duplicated IDs, label rows without images or images without label rows.

    Example:
        >>> import tempfile
        >>> frame = index(write_synthetic(tempfile.mkdtemp(), per_class=2))
        >>> frame.groupby("split", sort=False).size().to_dict()
        {'train': 4, 'val': 4, 'test': 4}
    """
    root = require_root(root, dataset=KEY)
    rows = []
    for split, (csv_name, _, _) in SPLIT_FILES.items():
        found = _find_named(root, csv_name, want_folder=False)
        if len(found) > 1:
            raise DataError(f"{root}: several {csv_name} files ({found[0]}, {found[1]}); keep one copy of the dataset")
        if found:
            rows.extend(_split_rows(root, split, found[0]))
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    return check_index(frame, root=root, dataset=KEY, class_names=CLASS_NAMES, layout=LAYOUT)


def download(root: str | os.PathLike, *, force: bool = False, progress: bool = True) -> Path:
    """Download the Kaggle copy of RFMiD into ``root`` (:func:`medcnn.datasets.kaggle.download_kaggle_dataset`); return ``root``.

    Example:
        >>> download("/data/retina")  # doctest: +SKIP
        PosixPath('/data/retina')
    """
    return download_kaggle_dataset(root, handle=SOURCE, version=KAGGLE_VERSION, force=force, progress=progress)


def write_label_csv(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a label table as the real files are: UTF-8 with a byte-order mark, CRLF line ends.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
        >>> write_label_csv(file, pd.DataFrame({"ID": [1], "Disease_Risk": [0]})).read_bytes()[:5]
        b'\\xef\\xbb\\xbfID'
    """
    path = Path(path)
    lines = [",".join(str(column) for column in table.columns)]
    lines += [",".join(str(value) for value in row) for row in table.itertuples(index=False)]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def write_synthetic(
    root: str | os.PathLike,
    *,
    per_class: int = 8,
    seed: int = 0,
    image_size: int = 64,
) -> Path:
    """Write a small stand-in of the Kaggle copy of RFMiD into ``root``; return ``root``.

    Each official split gets ``per_class`` healthy and ``per_class`` diseased RGB PNGs
    (IDs 1.. in shuffled label order), ``image_size`` pixels high with the cameras'
    2144:1424 aspect, and its 47-column label CSV (byte-order mark, CRLF); diseased
    rows mark one or two diseases.

    Example:
        >>> import tempfile
        >>> root = write_synthetic(tempfile.mkdtemp(), per_class=2)
        >>> (root / "Test_Set" / "Test_Set" / "RFMiD_Testing_Labels.csv").is_file()
        True
    """
    width = max(8, round(image_size * CAMERA_ASPECT))
    tint = np.array([1.0, 0.55, 0.3], dtype=np.float32)
    diseases = LABEL_COLUMNS[2:]

    def build(folder: Path) -> list[str]:
        rng = np.random.default_rng(seed)
        for split, (csv_name, folder_name, top) in SPLIT_FILES.items():
            base = folder / top / top
            labels = rng.permutation(np.repeat([0, 1], per_class))
            records = []
            for identifier, risk in enumerate(labels, start=1):
                pattern = class_pattern(int(risk), num_classes=2, height=image_size, width=width, seed=rng)
                save_image(to_uint8(pattern[:, :, np.newaxis] * tint), base / folder_name / f"{identifier}.png")
                row = dict.fromkeys(LABEL_COLUMNS, 0)
                row["ID"], row["Disease_Risk"] = identifier, int(risk)
                if risk:
                    for disease in rng.choice(diseases, size=int(rng.integers(1, 3)), replace=False):
                        row[disease] = 1
                records.append(row)
            write_label_csv(base / csv_name, pd.DataFrame(records, columns=LABEL_COLUMNS))
        return [top for _, _, top in SPLIT_FILES.values()]

    settings = {"per_class": per_class, "seed": seed, "image_size": image_size}
    return write_synthetic_tree(root, dataset=KEY, settings=settings, build=build)
