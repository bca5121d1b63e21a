"""Synthetic source images for the benchmark: real PNG files at a dataset's real size.

The decode-every-epoch baseline must pay what the study paid: opening, inflating
and resizing a PNG per image per epoch. So the benchmark writes grayscale PNGs of
299 × 299 pixels by default, the COVID-19 Radiography Database's size, with smooth
structure and sensor-like noise so they compress about as well as real radiographs
(tens of kilobytes each) rather than to a few hundred bytes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError
from medcnn.files import atomic_path


def synthetic_radiograph(*, size: int = 299, label: int = 0, seed: int = 0) -> np.ndarray:
    """One grayscale uint8 image of ``size`` × ``size``: a bright oval body, a label-dependent blob, noise.

    Example:
        >>> image = synthetic_radiograph(size=32, label=1, seed=3)
        >>> image.shape, image.dtype.name
        ((32, 32), 'uint8')
    """
    rng = np.random.default_rng([seed, label])
    axis = np.linspace(-1.0, 1.0, size)
    x, y = np.meshgrid(axis, axis)
    body = np.exp(-((x / 0.75) ** 2 + (y / 0.9) ** 2) ** 2)
    centre = rng.uniform(-0.4, 0.4, size=2)
    blob = (label + 1) * 0.15 * np.exp(-(((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / 0.05))
    noise = rng.normal(0.0, 0.04, size=(size, size))
    image = 40 + 170 * (body + blob + noise)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_source_images(
    folder,
    *,
    count: int = 512,
    size: int = 299,
    num_classes: int = 3,
    seed: int = 0,
    workers: int | None = None,
) -> pd.DataFrame:
    """Write ``count`` grayscale PNGs into ``folder`` and return their index (``path``, ``label``).

    Labels cycle through ``0..num_classes-1``. Each file is written under a temporary
    name and renamed, so an interrupted run leaves no truncated PNG behind.

    Args:
        folder: where the PNGs go (created if missing).
        count: how many images.
        size: their side in pixels (299 like COVID-19 radiographs; larger for retina-like cost).
        num_classes: how many labels to cycle through.
        seed: makes the pixels reproducible.
        workers: writing threads (default: the number of CPU cores).

    Example:
        >>> import tempfile
        >>> frame = write_source_images(tempfile.mkdtemp(), count=4, size=32)
        >>> frame["label"].tolist(), frame["path"][0]
        ([0, 1, 2, 0], 'image-0000.png')
    """
    from PIL import Image

    if count < 1 or size < 1:
        raise ConfigError(f"count={count}, size={size}: expected at least one image of at least one pixel")
    if num_classes < 2:
        raise ConfigError(f"num_classes={num_classes}: expected at least 2 classes")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"image-{number:04d}.png" for number in range(count)]
    labels = [number % num_classes for number in range(count)]

    def write(number: int) -> None:
        image = synthetic_radiograph(size=size, label=labels[number], seed=seed * 1_000_003 + number)
        with atomic_path(folder / names[number], what="a benchmark source image") as temporary:
            Image.fromarray(image).save(temporary, format="PNG")

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(write, range(count)))
    return pd.DataFrame({"path": names, "label": labels})
