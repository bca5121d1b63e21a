"""Shared pieces of the synthetic stand-ins: a class-coded image and a safe writer.

Synthetic data exists so that tests, CI and the smoke profile run every chapter
without the network. Each dataset module writes its stand-in in the real on-disk
format; this module supplies what they share:

- :func:`class_pattern`: an image whose class is plain from its overall brightness
  and its stripe direction, with seeded noise, so that even a network with random,
  frozen convolutions and a trained dense head tells the classes apart;
- :func:`write_synthetic_tree`: builds the files in a hidden temporary folder and
  moves them into place only when complete, marked with the settings used, so a
  second call with the same settings returns at once and an interrupted call leaves
  nothing a later run would trust.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medcnn.datasets.base import SYNTHETIC_MARKER, synthetic_settings
from medcnn.errors import DataError
from medcnn.files import move_into_place


def class_pattern(
    label: int,
    *,
    num_classes: int,
    height: int = 64,
    width: int = 64,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Return a float32 image in [0, 1] that carries class ``label`` plainly.

    Inside a bright oval (the "body", 0 outside it) the level rises with the label,
    stripes run at a class-specific angle, a bright disc sits in a class-specific
    direction from the centre, and
    seeded noise covers it all. One pixel block is pinned at 1.0 and the corners at
    0.0, so a per-image min-max rescaling (as the brain tumor README does) keeps
    the class levels apart.

    Example:
        >>> dark = class_pattern(0, num_classes=3, seed=1)
        >>> bright = class_pattern(2, num_classes=3, seed=1)
        >>> dark.shape, bool(dark.mean() < bright.mean())
        ((64, 64), True)
    """
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} is outside 0..{num_classes - 1}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    y = (rows + 0.5) / height * 2.0 - 1.0
    x = (columns + 0.5) / width * 2.0 - 1.0
    scale = rng.uniform(0.88, 0.92)
    body = (x / scale) ** 2 + (y / scale) ** 2 <= 1.0

    fraction = label / max(num_classes - 1, 1)
    level = 0.1 + 0.75 * fraction
    angle = np.pi * label / num_classes + rng.uniform(-0.1, 0.1)
    frequency = 3.0 + 2.0 * label
    phase = rng.uniform(-0.3, 0.3)
    stripes = 0.08 * np.sin(frequency * np.pi * (x * np.cos(angle) + y * np.sin(angle)) + phase)

    # A bright disc in a class-specific direction from the centre: a spatial signal that
    # survives flattening of coarse feature maps.
    direction = 2 * np.pi * label / num_classes + rng.uniform(-0.1, 0.1)
    centre_y, centre_x = 0.45 * np.sin(direction), 0.45 * np.cos(direction)
    radius = rng.uniform(0.22, 0.3)
    disc = (x - centre_x) ** 2 + (y - centre_y) ** 2 <= radius**2

    image = level + stripes + 0.3 * disc + rng.normal(0.0, 0.04, size=(height, width))
    image = np.where(body, np.clip(image, 0.02, 0.98), 0.0).astype(np.float32)
    block_y, block_x = max(1, height // 32), max(1, width // 32)
    image[height // 2 : height // 2 + block_y, width // 2 : width // 2 + block_x] = 1.0
    return image


def write_synthetic_tree(
    root: str | os.PathLike,
    *,
    dataset: str,
    settings: dict,
    build: Callable[[Path], Sequence[str]],
) -> Path:
    """Write a synthetic stand-in into ``root`` atomically, once per settings.

    Args:
        root: the dataset folder; must be empty, missing, or hold an earlier stand-in.
        dataset: the dataset key, stored in the marker.
        settings: what the stand-in was written with (``per_class``, ``seed``, ...).
        build: writes the stand-in into the temporary folder it is given and returns
            the names of the top-level entries it wrote there.

    Raises:
        DataError: ``root`` holds files that are not a synthetic stand-in (real data
            is never overwritten).

    Example:
        >>> import tempfile, pathlib
        >>> def build(folder):
        ...     (folder / "a.txt").write_text("hi")
        ...     return ["a.txt"]
        >>> root = write_synthetic_tree(tempfile.mkdtemp(), dataset="folder", settings={}, build=build)
        >>> (root / "a.txt").read_text()
        'hi'
    """
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    wanted = {"dataset": dataset, **settings}
    previous = synthetic_settings(root)
    if previous is not None and previous.get("settings") == wanted and all(
        (root / name).exists() for name in previous.get("entries", [])
    ):
        return root
    contents = [entry for entry in root.iterdir()]
    if contents and previous is None:
        raise DataError(
            f"{root}: not empty and not a synthetic stand-in (it holds {contents[0].name}); "
            f"synthetic data is only written into an empty folder, never over real data: choose another folder"
        )
    marker = root / SYNTHETIC_MARKER
    if previous is not None:
        # An earlier stand-in with other settings: the whole folder is ours to replace.
        marker.unlink()
        for entry in root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    temporary = Path(tempfile.mkdtemp(prefix=".partial-synthetic-", dir=root))
    try:
        entries = list(build(temporary))
        for name in entries:
            move_into_place(temporary / name, root / name)
        marker_temporary = temporary / SYNTHETIC_MARKER
        marker_temporary.write_text(
            json.dumps({"settings": wanted, "entries": entries}, indent=2), encoding="utf-8"
        )
        move_into_place(marker_temporary, marker)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return root


def save_image(image: np.ndarray, path: Path, **options) -> None:
    """Save a uint8 array (H, W) or (H, W, 3) as an image file (format from the suffix).

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "x.png"
        >>> save_image(np.zeros((4, 4), np.uint8), file)
        >>> file.exists()
        True
    """
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, **options)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Map a float image in [0, 1] to uint8 0..255 (rounded).

    Example:
        >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
        [0, 128, 255]
    """
    return np.clip(np.floor(image * 255.0 + 0.5), 0, 255).astype(np.uint8)
