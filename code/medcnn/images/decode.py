"""Decode any image file of the course's datasets to RGB uint8.

Every reader, cache and figure goes through :func:`read_image`, so every image
reaches the model the same way: an array of shape (height, width, 3), dtype uint8.

- a format Pillow does not read has its reader in :data:`FORMAT_READERS` (file suffix →
  function returning a 2-D grey or an RGB array: the brain tumor dataset's MATLAB v7.3
  ``.mat``, through :mod:`medcnn.images.matlab`); grey readings are made RGB here. The
  readers live here, below the datasets, so decoding never reaches back up to the
  dataset registry;
- PNG, JPEG, BMP, TIFF through Pillow: grayscale becomes three equal channels;
  16-bit and 32-bit grayscale are scaled by their own minimum and maximum to 8 bits;
  alpha is dropped; palette images are expanded to RGB; an EXIF orientation tag is
  applied, so the image is the one viewers show (said once); an image over Pillow's
  decompression-bomb limit is refused with the limit and how to raise it.

A missing, empty, truncated or non-image file raises :class:`~medcnn.errors.DataError`
naming the file, and so does a deep image that decodes to nonsense (not-a-number or
infinite pixels, every pixel the same): it would otherwise become a black image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medcnn.errors import DataError
from medcnn.images.matlab import read_mat_record


def min_max_to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale an array to 0..255 by its own minimum and maximum, rounding as MATLAB's ``uint8`` does.

    A constant array becomes zeros.

    Example:
        >>> min_max_to_uint8(np.array([[100, 300], [200, 1100]], dtype=np.int16)).tolist()
        [[0, 51], [26, 255]]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.astype(np.uint8)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = 255.0 / (high - low) * (values - low)
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def checked_to_uint8(values: np.ndarray, *, path) -> np.ndarray:
    """Scale a deep (16-bit, 32-bit or floating-point) image to uint8, refusing values that make no image.

    Not-a-number or infinite pixels, and an image whose every pixel is the same (which
    :func:`min_max_to_uint8` would silently make black), raise :class:`DataError` naming
    the file, like an unreadable one (``--skip-bad`` leaves it out).

    Example:
        >>> checked_to_uint8(np.array([[0.0, np.nan]]), path="scan.mat")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: scan.mat: 1 of 2 pixels are not a number or infinite; the file is damaged: replace it, or leave it out with --skip-bad
    """
    values = np.asarray(values)
    if values.size == 0:
        raise DataError(f"{path}: the image has no pixels; replace it, or leave it out with --skip-bad")
    if values.dtype.kind in "fc":
        finite = np.isfinite(values)
        if not finite.all():
            raise DataError(f"{path}: {int((~finite).sum())} of {values.size} pixels are not a number or infinite; "
                            "the file is damaged: replace it, or leave it out with --skip-bad")
    if values.dtype != np.uint8 and values.min() == values.max():
        raise DataError(f"{path}: every pixel is {values.flat[0].item()!r}: a blank image that would become black; "
                        "replace it, or leave it out with --skip-bad")
    return values if values.dtype == np.uint8 else min_max_to_uint8(values)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2)


def _read_matlab_slice(path: Path) -> np.ndarray:
    """A brain tumor slice: ``cjdata/image`` (int16, transposed back from MATLAB's column-major
    order); :func:`_read_with` scales it by its own minimum and maximum as the dataset's README does
    (``uint8(255/(max-min)*(im-min))``)."""
    return read_mat_record(path, include_image=True).image


FORMAT_READERS = {".mat": _read_matlab_slice}
"""File suffix → reader, for the formats Pillow does not read (a new dataset's format goes here)."""


def _read_with(reader, path: Path) -> np.ndarray:
    image = np.asarray(reader(path))
    if image.ndim == 2:
        image = _gray_to_rgb(checked_to_uint8(image, path=path))
    elif image.dtype != np.uint8:
        image = checked_to_uint8(image, path=path)
    return image


EXIF_ORIENTATION_TAG = 0x0112
_orientation_said = False


def _upright(image, path: Path):
    """``image`` turned as image viewers show it, when its EXIF orientation tag says it is stored turned.

    Cameras and phones store the sensor's pixels and a tag saying how to turn them; every
    viewer applies it, so the image a person looked at is the turned one. Said once per
    process, with the first file.
    """
    global _orientation_said
    from PIL import ImageOps

    try:
        orientation = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError, TypeError):
        return image  # an unreadable EXIF block is no reason to refuse the pixels
    if orientation not in range(2, 9):
        return image
    if not _orientation_said:
        _orientation_said = True
        print(f"note: {path} (and any other image with an EXIF orientation tag) is turned the way image viewers "
              f"show it (orientation {orientation})")
    return ImageOps.exif_transpose(image)


def bomb_message(path, error) -> str:
    """The message for an image over Pillow's decompression-bomb limit: its size, the limit, how to raise it.

    Example:
        >>> from PIL import Image
        >>> error = Image.DecompressionBombError(
        ...     "Image size (400000000 pixels) exceeds limit of 178956970 pixels, could be decompression bomb DOS attack.")
        >>> print(bomb_message("big.png", error))  # doctest: +NORMALIZE_WHITESPACE
        big.png: 400,000,000 pixels, over Pillow's decompression-bomb limit of 178,956,970 pixels (a guard against
        files made to exhaust memory; the file need not be damaged); if you trust it, shrink it (the models read at
        most 1,024 px a side), or raise the limit before reading, in Python: `import PIL.Image;
        PIL.Image.MAX_IMAGE_PIXELS = 400000000` (None removes the guard); or leave it out with --skip-bad
    """
    import re

    from PIL import Image

    numbers = [int(number) for number in re.findall(r"\((\d+) pixels\)|limit of (\d+)", str(error)) for number in
               number if number]
    pixels = numbers[0] if numbers else None
    limit = numbers[1] if len(numbers) > 1 else 2 * int(Image.MAX_IMAGE_PIXELS or 0)
    size = f"{pixels:,} pixels" if pixels else "too many pixels"
    return (f"{path}: {size}, over Pillow's decompression-bomb limit of {limit:,} pixels (a guard against files made "
            "to exhaust memory; the file need not be damaged); if you trust it, shrink it (the models read at most "
            "1,024 px a side), or raise the limit before reading, in Python: `import PIL.Image; "
            f"PIL.Image.MAX_IMAGE_PIXELS = {pixels or 'N'}` (None removes the guard); or leave it out with --skip-bad")


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            image = _upright(image, path)
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
                return _gray_to_rgb(checked_to_uint8(np.asarray(image), path=path))
            if mode == "RGB":
                return np.asarray(image, dtype=np.uint8).copy()
            if mode in ("1", "L", "LA", "La"):
                return _gray_to_rgb(np.asarray(image.convert("L"), dtype=np.uint8))
            if mode in ("P", "PA"):
                image = image.convert("RGBA")
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image Pillow can read; delete or replace the file") from None
    except Image.DecompressionBombError as error:
        raise DataError(bomb_message(path, error)) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: cannot decode the image ({error}); the file is damaged or truncated: replace it") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 of shape (height, width, 3).

    Args:
        path: a PNG/JPEG/BMP/TIFF file, or a file :data:`FORMAT_READERS` reads
            (the brain tumor dataset's ``.mat``).

    Raises:
        DataError: the file is missing, empty, truncated, or not an image.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
        >>> Image.fromarray(np.full((5, 7), 9, np.uint8)).save(file)
        >>> image = read_image(file)
        >>> image.shape, image.dtype, int(image[0, 0, 2])
        ((5, 7, 3), dtype('uint8'), 9)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the image file is empty (0 bytes); replace it or download the dataset again")
    reader = FORMAT_READERS.get(path.suffix.lower())
    if reader is not None:
        return _read_with(reader, path)
    return _read_pillow(path)
