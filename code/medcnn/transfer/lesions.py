"""The transfer lesson's target task: synthetic MRI-like slices, each with no lesion or one of three kinds.

A slice is an axial head: a bright skull ring, grey brain with a faint smooth
texture, two dark ventricles, noise, and a random overall brightness (scanners
differ). The classes, in label order:

- ``no lesion``;
- ``solid``: a homogeneous bright round lesion;
- ``ring-enhancing``: a bright rim around a darker core (as necrotic tumours
  and abscesses look after contrast);
- ``striated``: a round patch with parallel stripes of the same mean brightness.

The lesion's place, size, contrast and (for stripes) orientation are random.
Nothing here is a real disease: it is a task with a medical look whose answer
we know, small enough to train on a CPU in seconds.

Example:
    >>> data = make_lesion_data(2, image_size=32, seed=0)
    >>> data.images.shape, np.bincount(data.labels).tolist()
    ((8, 32, 32, 1), [2, 2, 2, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medcnn.errors import ConfigError

CLASS_NAMES = ("no lesion", "solid", "ring-enhancing", "striated")


@dataclass(frozen=True)
class LesionData:
    """Synthetic slices.

    Attributes:
        images: float32 ``(n, size, size, 1)``, values 0-1.
        labels: integer class, see :data:`CLASS_NAMES`.
        class_names: :data:`CLASS_NAMES`.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple = CLASS_NAMES


def _smooth_noise(rng, size: int, cell: int) -> np.ndarray:
    """Low-frequency noise in 0-1: random values on a coarse grid, bilinearly enlarged."""
    coarse = rng.random((size // cell + 2, size // cell + 2))
    positions = np.arange(size) / cell
    low = np.floor(positions).astype(int)
    weight = positions - low
    rows = coarse[low] * (1 - weight)[:, None] + coarse[low + 1] * weight[:, None]
    return rows[:, low] * (1 - weight)[None, :] + rows[:, low + 1] * weight[None, :]


def _slice(rng, rows, columns, size: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """A head slice without a lesion: (image, brain mask, (centre row, centre column, brain radii))."""
    centre = size / 2 + rng.uniform(-0.04, 0.04, size=2) * size
    radii = np.array([rng.uniform(0.40, 0.46), rng.uniform(0.33, 0.40)]) * size
    y, x = (rows - centre[0]) / radii[0], (columns - centre[1]) / radii[1]
    distance = np.hypot(y, x)
    skull = np.clip(1.0 - np.abs(distance - 1.0) * radii.mean() / 1.2, 0.0, 1.0)
    brain = distance < 0.94
    image = np.zeros((size, size), dtype=np.float32)
    image += brain * (0.42 + 0.12 * _smooth_noise(rng, size, max(4, size // 5)))
    image += 0.75 * skull
    for side in (-1, 1):  # two dark ventricles beside the midline
        ventricle = np.hypot((rows - centre[0]) / (0.16 * size), (columns - centre[1] - side * 0.07 * size) / (0.045 * size))
        image -= 0.22 * np.clip(1.2 - ventricle, 0.0, 1.0) * brain
    return image, brain & (distance < 0.6), (centre, radii)


def _lesion(label: int, rng, rows, columns, size: int, place: tuple[float, float]) -> np.ndarray:
    """The brightness change a lesion of class ``label`` makes, centred at ``place``."""
    scale = size / 32
    y, x = rows - place[0], columns - place[1]
    distance = np.hypot(y, x)
    contrast = rng.uniform(0.22, 0.38)
    if label == 1:  # solid
        radius = rng.uniform(2.5, 4.5) * scale
        return contrast * np.clip(radius + 0.5 - distance, 0.0, 1.0)
    if label == 2:  # ring-enhancing: bright rim, darker core
        radius = rng.uniform(3.0, 5.0) * scale
        rim = np.clip(0.5 * 1.3 * scale + 0.5 - np.abs(distance - radius), 0.0, 1.0)
        core = np.clip(radius - 1.0 * scale - distance, 0.0, 1.0)
        return contrast * rim - 0.12 * core
    if label == 3:  # striated: stripes inside a round patch, about the same mean as the brain
        radius = rng.uniform(3.5, 5.5) * scale
        angle = rng.uniform(0, np.pi)
        stripes = np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / (3.2 * scale) + rng.uniform(0, 6.3))
        return contrast * 0.9 * stripes * np.clip(radius + 0.5 - distance, 0.0, 1.0)
    return np.zeros_like(rows)


def make_lesion_data(per_class: int, *, image_size: int = 32, seed: int = 0) -> LesionData:
    """Draw ``per_class`` slices of each of the four classes, in a seeded random order.

    Args:
        per_class: slices per class (at least 1).
        image_size: side in pixels (at least 24).
        seed: seeds everything; the same arguments give the same slices.

    Example:
        >>> data = make_lesion_data(5, seed=1)
        >>> float(data.images.min()) >= 0.0 and float(data.images.max()) <= 1.0
        True
    """
    if int(per_class) != per_class or per_class < 1:
        raise ConfigError(f"per_class={per_class!r}: expected a whole number of slices, at least 1")
    if int(image_size) != image_size or image_size < 24:
        raise ConfigError(f"image_size={image_size!r}: expected a whole number of pixels, at least 24")
    size = int(image_size)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), int(per_class)).astype(np.int64)
    rng.shuffle(labels)
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((len(labels), size, size, 1), dtype=np.float32)
    for index, label in enumerate(labels):
        image, allowed, _ = _slice(rng, rows, columns, size)
        candidates = np.argwhere(allowed)
        place = candidates[rng.integers(len(candidates))].astype(np.float32)
        image = image + _lesion(int(label), rng, rows, columns, size, tuple(place))
        gain = rng.uniform(0.75, 1.15)  # scanners and settings differ in overall brightness
        image = gain * image + rng.normal(0, rng.uniform(0.03, 0.06), size=(size, size))
        images[index, ..., 0] = np.clip(image, 0.0, 1.0)
    return LesionData(images, labels)
