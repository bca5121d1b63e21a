"""Jun Cheng's brain tumor MRI dataset (figshare article 1512427, version 5).

3,064 T1-weighted contrast-enhanced MRI slices from 233 patients with one of three
tumours: meningioma (708), glioma (1,426) or pituitary tumour (930). The figshare
download is one zip holding four zips (``brainTumorDataPublic_1-766.zip`` ...
``brainTumorDataPublic_2299-3064.zip``, each with its ``N.mat`` files at the top
level), ``cvind.mat`` (patient-wise cross-validation folds) and ``README.txt``.
Each ``N.mat`` is MATLAB v7.3 (read with h5py, see :mod:`medcnn.images.matlab`; :func:`medcnn.images.decode.read_image` reads their images).

:func:`index` accepts the downloaded outer zip, the four inner zips, an unpacked
folder of ``.mat`` files, or any subset of them: zips are unpacked once, safely and
atomically, beside themselves (``1512427.zip`` -> ``1512427/``).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.datasets.base import INDEX_COLUMNS, check_index, download_folder, require_root, walk_folders
from medcnn.datasets.synthetic import class_pattern, write_synthetic_tree
from medcnn.download.archives import extract_zip, is_current, is_unpacked
from medcnn.download.fetch import fetch_url
from medcnn.errors import DataError, DownloadError
from medcnn.files import require_free_space
from medcnn.images.matlab import read_mat_record, write_cvind, write_mat_record

KEY = "brain_tumor"
TITLE = "Brain tumor MRI (Jun Cheng, figshare)"
CLASS_NAMES = ("meningioma", "glioma", "pituitary")
ARTICLE_URL = "https://doi.org/10.6084/m9.figshare.1512427.v5"
SOURCE = ARTICLE_URL
DOWNLOAD_NAME = "1512427.zip"  # what the article page's "Download all" button saves (the download by hand)
# The article's files as figshare's API lists them: file id, size in bytes and the MD5 figshare computed.
# download() fetches each by its id and checks it against its MD5 (pooch); the article zip has no checksum.
FIGSHARE_PARTS = {
    "brainTumorDataPublic_1-766.zip": (3381290, 214401279, "74b949ad33f042e6e103523091cd1428"),
    "brainTumorDataPublic_767-1532.zip": (3381296, 217848429, "7e8a875500d2c8a346f270538e29890e"),
    "brainTumorDataPublic_1533-2298.zip": (3381293, 215563856, "8227bf6080cb71f15a88be8d25c79ae7"),
    "brainTumorDataPublic_2299-3064.zip": (3381302, 231679762, "b378a80d6174e5317d59eb28430c6652"),
    "cvind.mat": (7005344, 5736, "5ea82eb3212c9fcb84290ccf0beb486d"),
}
# Where a file is fetched by id, in order. figshare.com/ndownloader answers scripts with a bot
# challenge (an empty HTTP 202) or a 403; the API's download link redirects to the file's storage.
# download(endpoints=..., part_checksums=...) points it elsewhere, e.g. at a local mirror; a test or
# tool that runs other code (the full-profile rehearsal's chapters, tools/rehearsal.py) replaces
# these three constants in its own process. No environment variable is read for them.
FIGSHARE_API = "https://api.figshare.com/v2"
FIGSHARE_FILES = "https://ndownloader.figshare.com/files"
LICENSE = "CC BY 4.0"
CITATION = """@misc{cheng2017braintumor,
  author = {Cheng, Jun},
  title = {brain tumor dataset},
  year = {2017},
  publisher = {figshare},
  version = {5},
  doi = {10.6084/m9.figshare.1512427.v5},
  url = {https://doi.org/10.6084/m9.figshare.1512427.v5}
}
@article{cheng2015enhanced,
  author = {Cheng, Jun and Huang, Wei and Cao, Shuangliang and Yang, Ru and Yang, Wei and Yun, Zhaoqiang and Wang, Zhijian and Feng, Qianjin},
  title = {Enhanced Performance of Brain Tumor Classification via Tumor Region Augmentation and Partition},
  journal = {PLoS ONE},
  volume = {10},
  number = {10},
  pages = {e0140381},
  year = {2015},
  doi = {10.1371/journal.pone.0140381}
}"""
DEFAULT_SPLIT = "grouped"
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
INNER_RANGES = ((1, 766), (767, 1532), (1533, 2298), (2299, 3064))
IMAGE_COUNT = 3064
LAYOUT = f"""  {DOWNLOAD_NAME}                          (the figshare download), or
  brainTumorDataPublic_1-766.zip ... brainTumorDataPublic_2299-3064.zip, or
  any folder of 1.mat ... 3064.mat (MATLAB v7.3 with cjdata/label, cjdata/PID, cjdata/image)"""

MAT_NAME = re.compile(r"^(\d+)\.mat$")
INNER_ZIP = re.compile(r"^brainTumorDataPublic_(\d+)-(\d+)\.zip$")


def _is_dataset_zip(path: Path) -> bool:
    """True when the zip holds this dataset's inner zips or N.mat files."""
    if INNER_ZIP.match(path.name):
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            names = [Path(name).name for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{path}: not a zip file or damaged ({error}); delete it and download it again") from None
    return any(INNER_ZIP.match(name) or MAT_NAME.match(name) for name in names)


def unpack(root: str | os.PathLike, *, progress: bool = False) -> Path:
    """Unpack every zip of the dataset under ``root``, nested ones too, once each.

    ``X.zip`` is unpacked into the folder ``X`` beside it, unless a folder of that name
    already exists (for instance unpacked by hand), in which case it is left alone.
    Zips that hold neither inner zips nor ``N.mat`` files are ignored.

    Example:
        >>> root = write_synthetic("/tmp/medcnn-doc-brain")  # doctest: +SKIP
        >>> sorted(p.name for p in unpack(root).iterdir())  # doctest: +SKIP
        ['.medcnn-synthetic.json', '1512427', '1512427.zip']
    """
    root = Path(root)
    for _ in range(4):  # the outer zip, the inner zips, and a margin
        pending = []
        for folder in walk_folders(root):
            for entry in sorted(folder.iterdir()):
                if entry.is_file() and entry.suffix.lower() == ".zip" and not entry.name.startswith("."):
                    target = entry.with_suffix("")
                    replaced = is_unpacked(target) and not is_current(entry, target)  # a different archive now
                    if (not target.exists() or replaced) and _is_dataset_zip(entry):
                        pending.append((entry, target))
        if not pending:
            break
        for archive, target in pending:
            try:
                extract_zip(archive, target, progress=progress)
            except PermissionError as error:
                raise DataError(
                    f"{archive}: cannot unpack into {target.parent} ({error}); copy the dataset to a writable folder"
                ) from None
    return root


def _find_mat_files(root: Path) -> dict[int, Path]:
    found: dict[int, list[Path]] = defaultdict(list)
    for folder in walk_folders(root):
        for entry in folder.iterdir():
            match = MAT_NAME.match(entry.name)
            if match and entry.is_file():
                found[int(match.group(1))].append(entry)
    chosen = {}
    for number, paths in found.items():
        paths = sorted(paths, key=lambda path: (len(path.relative_to(root).parts), path.as_posix()))
        sizes = {path.stat().st_size for path in paths}
        if len(sizes) > 1:
            raise DataError(
                f"{root}: two different files for image {number}: {paths[0]} and {paths[1]}; "
                f"keep one copy of the dataset under this folder"
            )
        chosen[number] = paths[0]
    return chosen


def index(root: str | os.PathLike, *, progress: bool = False) -> pd.DataFrame:
    """Return the table of every brain tumor image under ``root``, in image-number order.

    Zips found under ``root`` (the figshare download, or its inner zips) are unpacked
    first, once. ``label`` is 0 meningioma, 1 glioma, 2 pituitary (the files' 1/2/3);
    ``patient_id`` is the PID; ``split`` is ``""`` (the dataset has no official split).

    Raises:
        DataError: no ``.mat`` files, a class with none, or an unreadable file.

    Example:
        >>> frame = index(write_synthetic("/tmp/medcnn-doc-brain"))  # doctest: +SKIP
        >>> frame.columns.tolist()  # doctest: +SKIP
        ['path', 'label', 'class_name', 'patient_id', 'split']
    """

    root = require_root(root, dataset=KEY)
    unpack(root, progress=progress)
    files = _find_mat_files(root)
    numbers = sorted(files)
    if progress and numbers:
        from tqdm.auto import tqdm

        numbers = tqdm(numbers, desc="reading labels", unit="file")
    rows = []
    for number in numbers:
        record = read_mat_record(files[number])
        label = record.label - 1
        rows.append((files[number].relative_to(root).as_posix(), label, CLASS_NAMES[label], record.patient_id, ""))
    frame = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    return check_index(frame, root=root, dataset=KEY, class_names=CLASS_NAMES, layout=LAYOUT)


def file_md5(path: str | os.PathLike) -> str:
    """The MD5 hex digest of a file, as figshare publishes it for each file of an article.

    Example:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = file.write_bytes(b"abc")
        >>> file_md5(file)
        '900150983cd24fb0d6963f7d28e17f72'
    """
    import hashlib

    digest = hashlib.md5()  # figshare's checksum; an integrity check, not security
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_parts(folder: str | os.PathLike, parts: dict) -> list[str]:
    """Check the files of the article in ``folder`` against ``{name: (file id, size, md5)}``; return the problems.

    A part that is absent is not a problem here (figshare may add or drop files); one
    whose size or MD5 differs is.

    Example:
        >>> verify_parts("/no/such/folder", FIGSHARE_PARTS)
        []
    """
    problems = []
    folder = Path(folder)
    for name, (file_id, size, md5) in parts.items():
        path = folder / name
        if not path.is_file():
            continue
        found_size = path.stat().st_size
        if found_size != size:
            problems.append(f"{name}: {found_size:,} bytes, expected {size:,}")
        elif file_md5(path) != md5:
            problems.append(f"{name}: MD5 {file_md5(path)}, expected {md5}")
    return problems


def figshare_endpoints(*, api: str | None = None, files: str | None = None) -> tuple[str, ...]:
    """The URL templates a figshare file is fetched from, in order (``{file_id}`` is filled in).

    Args:
        api: figshare's API address (default :data:`FIGSHARE_API`, read when called).
        files: its ndownloader address (default :data:`FIGSHARE_FILES`).

    Example:
        >>> figshare_endpoints()[0].format(file_id=7005344)
        'https://api.figshare.com/v2/file/download/7005344'
        >>> figshare_endpoints(api="http://127.0.0.1:8000/v2")[0]
        'http://127.0.0.1:8000/v2/file/download/{file_id}'
    """
    api = api or FIGSHARE_API
    files = files or FIGSHARE_FILES
    return (f"{api.rstrip('/')}/file/download/{{file_id}}", f"{files.rstrip('/')}/{{file_id}}")


def by_hand_instructions(root: str | os.PathLike) -> str:
    """How to get the dataset without medcnn's download (quoted in every download error).

    Example:
        >>> by_hand_instructions("/data/brain_tumor").startswith("open https://doi.org/10.6084/m9.figshare.1512427.v5")
        True
    """
    root = Path(root)
    return (
        f"open {ARTICLE_URL} in a browser, press \"Download all\" and save the zip as {root / DOWNLOAD_NAME} "
        f"(or save its files under their own names in {root}), then run again"
    )


def _have_article(root: Path) -> bool:
    """True when the folder holds every image already (unpacked by hand or by an earlier run)."""
    try:
        return len(index(root)) > 0
    except DataError:
        return False


def download(
    root: str | os.PathLike,
    *,
    force: bool = False,
    progress: bool = True,
    part_checksums: dict | None = None,
    endpoints: tuple[str, ...] | list[str] | None = None,
) -> Path:
    """Download the dataset's files from figshare into ``root``, check each, and unpack them; return ``root``.

    Each file of the article (:data:`FIGSHARE_PARTS`: the four zips of ``.mat`` files and
    ``cvind.mat``) is fetched by its id from figshare's API, or else from its ndownloader
    host, and checked against the MD5 figshare publishes (pooch). A bot challenge, a 403,
    an empty answer, an HTML page or a wrong checksum is a failed download: nothing is
    kept, and the message names what happened at each address and how to download by hand.
    Files already there and matching their checksum are not fetched again. A
    ``1512427.zip`` placed by hand (the article page's "Download all") is used instead.

    Args:
        root: the dataset folder.
        force: delete what an earlier download left and fetch everything again.
        progress: show progress bars.
        part_checksums: ``{name: (file id, size, md5)}``; default :data:`FIGSHARE_PARTS`.
        endpoints: URL templates with ``{file_id}``, tried in order; default
            :func:`figshare_endpoints`.

    Raises:
        DownloadError: no address gave a file, a file does not match its checksum, a
            hand-placed zip is damaged or does not match, or ``root`` holds a synthetic stand-in.
        DiskFullError: the files do not fit in ``root`` (checked before downloading).

    Example:
        >>> download("/data/brain_tumor")  # doctest: +SKIP
        PosixPath('/data/brain_tumor')
    """
    import shutil

    root = download_folder(root)
    parts = FIGSHARE_PARTS if part_checksums is None else part_checksums
    templates = tuple(endpoints) if endpoints is not None else figshare_endpoints()
    archive = root / DOWNLOAD_NAME
    unpacked = root / Path(DOWNLOAD_NAME).stem
    by_hand = by_hand_instructions(root)

    def remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    if force:
        for name in parts:
            remove(root / name)
            remove(root / Path(name).stem)
        remove(archive)
        remove(unpacked)
    elif archive.is_file():  # the article zip, downloaded by hand
        try:
            extract_zip(archive, unpacked, progress=progress)
        except DataError as error:
            raise DownloadError(
                f"{archive}: damaged ({error}). Delete it and run again (medcnn then downloads the files one "
                f"by one), or {by_hand}"
            ) from None
        problems = [f"{name} is missing" for name in parts if not (unpacked / name).is_file()]
        problems += verify_parts(unpacked, parts)
        if problems:
            remove(unpacked)
            raise DownloadError(
                f"{archive}: does not match figshare's published checksums ({'; '.join(problems)}). Delete it "
                f"and run `python -m medcnn download --dataset brain_tumor` again, or {by_hand}"
            )
        unpack(root, progress=progress)
        return root
    elif root.is_dir() and not any((root / name).is_file() for name in parts) and _have_article(root):
        return root  # the .mat files, placed by hand

    needed = sum(size for name, (_, size, _) in parts.items() if not (root / name).is_file())
    needed += sum(
        size for name, (_, size, _) in parts.items()
        if name.endswith(".zip") and not (root / Path(name).stem).is_dir()
    )  # the unpacked .mat files take about as much room as their zips
    if needed:
        require_free_space(root, needed, what="the brain tumor dataset (its zips and their unpacked .mat files)")
    for name, (file_id, size, md5) in parts.items():
        urls = [template.format(file_id=file_id) for template in templates]
        fetch_url(
            urls[0],
            mirrors=urls[1:],
            folder=root,
            file_name=name,
            known_hash=f"md5:{md5}",
            size=size,
            progress=progress,
            by_hand=by_hand,
        )
    unpack(root, progress=progress)
    return root


def _patients(per_class: int, rng: np.random.Generator) -> list[tuple[int, str, int, bool]]:
    """(label, patient id, slices, half size) per synthetic patient."""
    patients = []
    serial = 0
    for label in range(len(CLASS_NAMES)):
        count = max(2, per_class // 2)
        count = min(count, per_class)
        cuts = np.sort(rng.choice(np.arange(1, per_class), size=count - 1, replace=False)) if count > 1 else []
        slices = np.diff(np.concatenate([[0], cuts, [per_class]])).astype(int)
        for size in slices:
            style = serial % 3
            if style == 0:
                patient_id = f"{100360 + 331 * serial}"
            elif style == 1:
                patient_id = f"MR{39473 + 977 * serial:06d}"
            else:
                patient_id = f"MR{49453 + 613 * serial:06d}B"
            patients.append((label, patient_id, int(size), serial % 4 == 3))
            serial += 1
    order = rng.permutation(len(patients))
    return [patients[position] for position in order]


def _synthetic_numbers(count: int) -> list[int]:
    """Spread ``count`` image numbers over the four inner-zip ranges, from each range's start."""
    per_range = [count // 4 + (1 if position < count % 4 else 0) for position in range(4)]
    numbers = []
    for (start, end), size in zip(INNER_RANGES, per_range):
        numbers.extend(range(start, min(start + size, end + 1)))
    return numbers


def _synthetic_readme(count: int, per_class: int, seed: int) -> str:
    return (
        "Synthetic stand-in for Jun Cheng's brain tumor dataset (figshare 1512427), written by medcnn.\n"
        f"{count} images ({per_class} per class, seed {seed}); not medical data.\n\n"
        "Same layout as the real download: four zips of N.mat files by number range, cvind.mat and this file.\n"
        "Each N.mat is MATLAB v7.3 (HDF5) with a struct cjdata:\n"
        "  cjdata.label: 1 meningioma, 2 glioma, 3 pituitary tumor\n"
        "  cjdata.PID: patient ID\n"
        "  cjdata.image: image data (int16)\n"
        "  cjdata.tumorBorder: x/y points of the tumor outline\n"
        "  cjdata.tumorMask: binary tumor mask\n"
        "To view an image in MATLAB: imshow(uint8(255/(max(im(:))-min(im(:)))*(im-min(im(:)))))\n"
        "cvind.mat: patient-wise 5-fold cross-validation index of each image, in image-number order.\n"
        "Only the image numbers written here exist; a subset of the real numbering.\n"
    )


def write_synthetic(
    root: str | os.PathLike,
    *,
    per_class: int = 8,
    seed: int = 0,
    image_size: int = 64,
) -> Path:
    """Write a small stand-in of the figshare download into ``root``; return ``root``.

    ``root/1512427.zip`` holds the inner zips (only ranges that have images; image
    numbers start at each range's first number), ``cvind.mat`` and ``README.txt``,
    exactly as the real download. A few patients per class, several slices each,
    PIDs in the dataset's styles, every fourth patient at half size, raw int16
    intensities up to about 1,500.

    Args:
        root: an empty or missing folder (or one holding an earlier stand-in).
        per_class: images per class (at least 2).
        seed: makes the images and patients reproducible.
        image_size: side of the full-size images, in pixels.

    Example:
        >>> import tempfile
        >>> frame = index(write_synthetic(tempfile.mkdtemp(), per_class=4))
        >>> frame["label"].value_counts().sort_index().tolist()
        [4, 4, 4]
    """
    if per_class < 2:
        raise DataError(f"per_class={per_class}: the synthetic brain tumor set needs at least 2 images per class")
    if image_size < 8:
        raise DataError(f"image_size={image_size}: the synthetic brain tumor images need at least 8 pixels")

    def build(folder: Path) -> list[str]:
        rng = np.random.default_rng(seed)
        patients = _patients(per_class, rng)
        slices = [(label, patient_id, half, position) for position, (label, patient_id, size, half) in enumerate(patients) for _ in range(size)]
        numbers = _synthetic_numbers(len(slices))
        mats = folder / "mat"
        mats.mkdir()
        folds = []
        for number, (label, patient_id, half, patient_position) in zip(numbers, slices):
            side = image_size // 2 if half else image_size
            pattern = class_pattern(label, num_classes=len(CLASS_NAMES), height=side, width=side, seed=rng)
            gain = rng.uniform(700, 1500)
            image = np.floor(pattern * gain + rng.uniform(0, 3, size=pattern.shape)).astype(np.int16)
            mask = pattern > np.quantile(pattern, 0.9)
            angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            border = np.stack([side / 2 + side / 6 * np.cos(angles), side / 2 + side / 6 * np.sin(angles)], axis=1)
            write_mat_record(
                mats / f"{number}.mat",
                label=label + 1,
                patient_id=patient_id,
                image=image,
                tumor_mask=mask,
                tumor_border=border.ravel(),
            )
            folds.append(patient_position % 5 + 1)
        write_cvind(folder / "cvind.mat", np.array(folds))
        (folder / "README.txt").write_text(_synthetic_readme(len(numbers), per_class, seed), encoding="utf-8")
        inner_names = []
        for start, end in INNER_RANGES:
            members = [number for number in numbers if start <= number <= end]
            if not members:
                continue
            name = f"brainTumorDataPublic_{start}-{end}.zip"
            with zipfile.ZipFile(folder / name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for number in members:
                    archive.write(mats / f"{number}.mat", arcname=f"{number}.mat")
            inner_names.append(name)
        with zipfile.ZipFile(folder / DOWNLOAD_NAME, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in inner_names + ["cvind.mat", "README.txt"]:
                archive.write(folder / name, arcname=name)
        return [DOWNLOAD_NAME]

    settings = {"per_class": per_class, "seed": seed, "image_size": image_size}
    return write_synthetic_tree(root, dataset=KEY, settings=settings, build=build)
