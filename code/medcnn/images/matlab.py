"""Read and write the brain tumor dataset's MATLAB v7.3 files with h5py (a file format, so beside the decoder).

A MATLAB v7.3 ``.mat`` file is an HDF5 file behind a 512-byte text header.
Each image of Jun Cheng's dataset is one such file holding a struct ``cjdata``
whose fields are HDF5 datasets tagged with a ``MATLAB_class`` attribute:
``label`` (double 1/2/3), ``PID`` (char, stored as uint16 character codes),
``image`` (int16), ``tumorBorder`` (double) and ``tumorMask`` (logical).
MATLAB stores arrays column-major, so h5py sees every matrix transposed; the
readers here transpose back. ``cvind.mat`` holds the patient-wise 5-fold
cross-validation fold of each image.

The writers produce the same layout, for the synthetic stand-in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medcnn.errors import DataError

MAT_HEADER_SIZE = 512
MATLAB_V5_SIGNATURE = b"MATLAB 5.0 MAT-file"


@dataclass(frozen=True)
class MatRecord:
    """One image of the brain tumor dataset.

    Attributes:
        label: the dataset's label as stored: 1 meningioma, 2 glioma, 3 pituitary.
        patient_id: the PID text, e.g. ``"MR039473"``.
        image: the raw int16 intensities in row-major (height, width) order, or
            None when not asked for.
        tumor_mask: the tumour mask (bool, same shape), or None when not asked for.
    """

    label: int
    patient_id: str
    image: np.ndarray | None = None
    tumor_mask: np.ndarray | None = None


def _open(path: Path):
    import h5py

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); delete it and download the dataset again")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        with open(path, "rb") as handle:
            start = handle.read(len(MATLAB_V5_SIGNATURE))
        if start == MATLAB_V5_SIGNATURE:
            reason = "a MATLAB v5 file, not v7.3 (HDF5); save it with `save(..., '-v7.3')`"
        else:
            reason = f"not a MATLAB v7.3 (HDF5) file or truncated ({error})"
        raise DataError(f"{path}: {reason}; delete it and download the dataset again") from None


def _read_text(dataset) -> str:
    if dataset.attrs.get("MATLAB_empty", 0):
        return ""
    codes = np.asarray(dataset[()]).ravel()
    return "".join(chr(int(code)) for code in codes).strip()


def read_mat_record(
    path: str | os.PathLike, *, include_image: bool = False, include_mask: bool = False
) -> MatRecord:
    """Read one ``N.mat`` file of the brain tumor dataset.

    Args:
        path: the ``.mat`` file.
        include_image: also read ``cjdata/image`` (transposed back to height x width).
        include_mask: also read ``cjdata/tumorMask``.

    Raises:
        DataError: the file is missing, empty, not HDF5 (or truncated), lacks
            ``cjdata`` or one of its fields, or has a label outside 1..3.

    Example:
        >>> record = read_mat_record("brain/1.mat", include_image=True)  # doctest: +SKIP
        >>> record.label, record.patient_id, record.image.dtype  # doctest: +SKIP
        (2, '100360', dtype('int16'))
    """
    path = Path(path)
    with _open(path) as handle:
        if "cjdata" not in handle:
            raise DataError(
                f"{path}: no 'cjdata' struct; expected a file of Jun Cheng's brain tumor dataset "
                f"(cjdata/label, cjdata/PID, cjdata/image)"
            )
        struct = handle["cjdata"]
        needed = ["label", "PID"] + (["image"] if include_image else []) + (["tumorMask"] if include_mask else [])
        for field in needed:
            if field not in struct:
                raise DataError(f"{path}: 'cjdata' has no field {field!r}; the file is incomplete or not from this dataset")
        try:
            raw_label = np.asarray(struct["label"][()]).ravel()
            patient_id = _read_text(struct["PID"])
            image = np.asarray(struct["image"][()]).T if include_image else None
            mask = np.asarray(struct["tumorMask"][()]).T.astype(bool) if include_mask else None
        except (OSError, ValueError, TypeError) as error:
            raise DataError(f"{path}: cannot read cjdata ({error}); the file is damaged") from None
    if raw_label.size != 1 or float(raw_label[0]) not in (1.0, 2.0, 3.0):
        raise DataError(f"{path}: cjdata/label is {raw_label.tolist()}, expected one of 1, 2, 3")
    if image is not None and image.ndim != 2:
        raise DataError(f"{path}: cjdata/image has shape {image.shape}, expected a 2-D image")
    return MatRecord(label=int(raw_label[0]), patient_id=patient_id, image=image, tumor_mask=mask)


def read_cvind(path: str | os.PathLike) -> np.ndarray:
    """Read ``cvind.mat``: the cross-validation fold (1..5) of each image, in image order.

    Example:
        >>> read_cvind("brain/cvind.mat")[:3]  # doctest: +SKIP
        array([1, 1, 1])
    """
    path = Path(path)
    with _open(path) as handle:
        if "cvind" not in handle:
            raise DataError(f"{path}: no 'cvind' dataset; expected the dataset's cvind.mat")
        return np.asarray(handle["cvind"][()]).ravel().astype(np.int64)


def _header_text() -> bytes:
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(0))
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    return header.ljust(MAT_HEADER_SIZE, b"\x00")


def _write_header(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(_header_text())


def _tagged(group, name: str, data: np.ndarray, matlab_class: str, **attributes):
    dataset = group.create_dataset(name, data=data)
    dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
    for key, value in attributes.items():
        dataset.attrs[key] = value
    return dataset


def write_mat_record(
    path: str | os.PathLike,
    *,
    label: int,
    patient_id: str,
    image: np.ndarray,
    tumor_mask: np.ndarray | None = None,
    tumor_border: np.ndarray | None = None,
) -> Path:
    """Write one ``N.mat`` file in the layout of the brain tumor dataset (MATLAB v7.3).

    Args:
        path: the file to write.
        label: 1 meningioma, 2 glioma or 3 pituitary.
        patient_id: the PID text.
        image: int16 (height, width), stored transposed as MATLAB does.
        tumor_mask: bool (height, width); all False if not given.
        tumor_border: x/y outline points, stored as a (1, 2k) double row.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "1.mat"
        >>> _ = write_mat_record(file, label=1, patient_id="MR039473", image=np.ones((4, 6), np.int16))
        >>> read_mat_record(file, include_image=True).image.shape
        (4, 6)
    """
    import h5py

    path = Path(path)
    image = np.asarray(image, dtype=np.int16)
    if tumor_mask is None:
        tumor_mask = np.zeros(image.shape, dtype=bool)
    if tumor_border is None:
        tumor_border = np.zeros((1, 0))
    with h5py.File(path, "w", userblock_size=MAT_HEADER_SIZE) as handle:
        struct = handle.create_group("cjdata")
        struct.attrs["MATLAB_class"] = np.bytes_("struct")
        _tagged(struct, "label", np.array([[float(label)]], dtype=np.float64), "double")
        codes = np.array([[ord(character)] for character in patient_id], dtype=np.uint16).reshape(-1, 1)
        _tagged(struct, "PID", codes, "char", MATLAB_int_decode=np.int32(2))
        _tagged(struct, "image", np.ascontiguousarray(image.T), "int16")
        _tagged(struct, "tumorBorder", np.asarray(tumor_border, dtype=np.float64).reshape(1, -1), "double")
        _tagged(
            struct,
            "tumorMask",
            np.ascontiguousarray(np.asarray(tumor_mask, dtype=np.uint8).T),
            "logical",
            MATLAB_int_decode=np.int32(1),
        )
    _write_header(path)
    return path


def write_cvind(path: str | os.PathLike, folds: np.ndarray) -> Path:
    """Write ``cvind.mat``: one fold number per image, stored as a (1, n) double row.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "cvind.mat"
        >>> read_cvind(write_cvind(file, np.array([1, 2, 2]))).tolist()
        [1, 2, 2]
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=MAT_HEADER_SIZE) as handle:
        _tagged(handle, "cvind", np.asarray(folds, dtype=np.float64).reshape(1, -1), "double")
    _write_header(path)
    return path
