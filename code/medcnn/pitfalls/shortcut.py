"""Synthetic chest radiographs with a planted shortcut: a bright letter-like marker in a corner.

Hospitals stamp letters and tokens on radiographs ("L", "PORTABLE", a site
logo); when one class comes mostly from one hospital, the marker predicts the
class and a network can learn the marker instead of the disease (DeGrave et
al. 2021). Here the disease is a faint round opacity inside a lung; the marker
is an "L" in the top-left corner. ``marker_rate`` sets how often the marker
travels with the disease: 0.9 means 90 % of diseased images carry it and 10 %
of healthy ones (correlated); 0.5 makes the marker say nothing about the class
(uncorrelated).

Example:
    >>> data = make_shortcut_data(8, image_size=32, marker_rate=0.5, seed=0)
    >>> data.images.shape, data.images.dtype.name
    ((8, 32, 32, 1), 'float32')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medcnn.errors import ConfigError
from medcnn.pitfalls.models import accuracy, train_and_predict

CLASS_NAMES = ("healthy", "opacity")

# The marker: a 6 x 5 letter "L" drawn near the top-left corner.
_MARKER = np.array(
    [
        [1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class ShortcutData:
    """Images with a planted marker.

    Attributes:
        images: float32 (n, size, size, 1), values 0-1.
        labels: 0 healthy, 1 opacity.
        has_marker: whether each image carries the marker.
        marker_mask: (size, size) bool, the marker's box with a margin of ``size // 8`` pixels
            (one cell of the lab CNN's last feature map, the resolution of its Grad-CAM).
        lesion_masks: (n, size, size) bool, where each opacity is (all False for healthy images).
    """

    images: np.ndarray
    labels: np.ndarray
    has_marker: np.ndarray
    marker_mask: np.ndarray
    lesion_masks: np.ndarray


def marker_box(image_size: int) -> tuple[int, int]:
    """The top-left corner (row, column) of the marker in an image of side ``image_size``.

    Example:
        >>> marker_box(32)
        (2, 2)
    """
    offset = max(1, image_size // 16)
    return offset, offset


def _chest(rng, size: int) -> np.ndarray:
    """A grey radiograph-like background: a bright body with ribs and two darker lungs on dark air, noise."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = 0.55 + 0.1 * rows + rng.normal(0, 0.02)
    for centre in (0.3, 0.7):
        lung = ((columns - centre) / 0.17) ** 2 + ((rows - 0.55) / 0.32) ** 2 < 1.0
        image = np.where(lung, image - 0.25, image)
    ribs = 0.04 * np.sin(rows * size * 0.9 + rng.uniform(0, 6.3))
    body = ((columns - 0.5) / 0.45) ** 2 + ((rows - 0.56) / 0.5) ** 2 < 1.0
    image = np.where(body, image + ribs, 0.08)  # dark air around the body, where markers sit
    image = image + rng.normal(0, 0.06, size=(size, size))
    return image.astype(np.float32)


def make_shortcut_data(
    count: int,
    *,
    image_size: int = 32,
    marker_rate: float = 0.9,
    lesion_contrast: float = 0.5,
    seed: int = 0,
) -> ShortcutData:
    """Draw ``count`` images, half healthy and half with an opacity, with the marker planted by ``marker_rate``.

    Args:
        count: number of images (classes alternate, so they are balanced).
        image_size: side in pixels (at least 24).
        marker_rate: probability that a diseased image carries the marker; a
            healthy image carries it with probability ``1 - marker_rate``. 0.5:
            uncorrelated; 1.0: every diseased and no healthy image. ``None``: no
            marker at all (the marker removed).
        lesion_contrast: how much brighter the opacity is than the lung.
        seed: seeds everything; the same arguments give the same images.

    Example:
        >>> data = make_shortcut_data(200, marker_rate=0.9, seed=1)
        >>> float(data.has_marker[data.labels == 1].mean()) > 0.8
        True
    """
    if int(count) != count or count < 2:
        raise ConfigError(f"count={count!r}: expected a whole number of images, at least 2")
    if int(image_size) != image_size or image_size < 24:
        raise ConfigError(f"image_size={image_size!r}: expected a whole number of pixels, at least 24")
    if marker_rate is not None and not 0.0 <= marker_rate <= 1.0:
        raise ConfigError(f"marker_rate={marker_rate!r}: expected a probability between 0 and 1, or None")
    rng = np.random.default_rng(seed)
    size = int(image_size)
    labels = (np.arange(int(count)) % 2).astype(np.int64)
    rng.shuffle(labels)
    if marker_rate is None:
        has_marker = np.zeros(len(labels), dtype=bool)
    else:
        chance = np.where(labels == 1, marker_rate, 1.0 - marker_rate)
        has_marker = rng.random(len(labels)) < chance
    top, left = marker_box(size)
    marker_mask = np.zeros((size, size), dtype=bool)
    height, width = _MARKER.shape
    margin = max(2, size // 8)  # one cell of the small CNN's last (size / 4) feature map
    marker_mask[max(0, top - margin) : top + height + margin, max(0, left - margin) : left + width + margin] = True
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((len(labels), size, size, 1), dtype=np.float32)
    lesion_masks = np.zeros((len(labels), size, size), dtype=bool)
    for index, label in enumerate(labels):
        image = _chest(rng, size)
        if label == 1:
            side = rng.choice([0.3, 0.7])
            centre_column = (side + rng.uniform(-0.06, 0.06)) * size
            centre_row = rng.uniform(0.4, 0.7) * size
            radius = rng.uniform(0.07, 0.1) * size
            distance = (rows - centre_row) ** 2 + (columns - centre_column) ** 2
            image = image + lesion_contrast * np.exp(-distance / (2 * radius**2))
            lesion_masks[index] = distance < (2 * radius) ** 2
        if has_marker[index]:
            image[top : top + height, left : left + width] = np.maximum(
                image[top : top + height, left : left + width], 0.97 * _MARKER
            )
        images[index, ..., 0] = np.clip(image, 0.0, 1.0)
    return ShortcutData(images, labels, has_marker, marker_mask, lesion_masks)


@dataclass
class ShortcutExperiment:
    """A small CNN trained on marker-correlated images, and the subsets it is judged on.

    Attributes:
        model: the trained Keras model.
        training, validation: drawn with the training ``marker_rate`` (the marker travels with the class).
        uncorrelated: a second test subset where the marker says nothing about the class (rate 0.5).
        validation_accuracy, uncorrelated_accuracy: the model's accuracy on each.
    """

    model: object
    training: ShortcutData
    validation: ShortcutData
    uncorrelated: ShortcutData
    validation_accuracy: float
    uncorrelated_accuracy: float

    @property
    def gap(self) -> float:
        """Validation accuracy minus uncorrelated-test accuracy: what the shortcut was worth."""
        return self.validation_accuracy - self.uncorrelated_accuracy


def run_shortcut_experiment(
    *,
    training_count: int = 400,
    test_count: int = 200,
    image_size: int = 32,
    marker_rate: float | None = 0.9,
    lesion_contrast: float = 0.5,
    epochs: int = 20,
    seed: int = 0,
) -> ShortcutExperiment:
    """Train a small CNN on images whose marker follows the class by ``marker_rate``; test it both ways.

    The training and validation subsets share ``marker_rate`` (as subsets split
    from one hospital's collection would); the uncorrelated subset has the
    marker on a coin flip. ``marker_rate=0.5`` (randomised) or ``None`` (removed)
    trains without the shortcut: the fix.

    Example:
        >>> result = run_shortcut_experiment(training_count=200, epochs=10, seed=0)  # doctest: +SKIP
        >>> result.gap > 0.2  # doctest: +SKIP
        True
    """
    common = dict(image_size=image_size, lesion_contrast=lesion_contrast)
    training = make_shortcut_data(training_count, marker_rate=marker_rate, seed=seed * 1000 + 1, **common)
    validation = make_shortcut_data(test_count, marker_rate=marker_rate, seed=seed * 1000 + 2, **common)
    uncorrelated = make_shortcut_data(test_count, marker_rate=0.5, seed=seed * 1000 + 3, **common)
    model, (on_validation, on_uncorrelated) = train_and_predict(
        training.images, training.labels, test_images=[validation.images, uncorrelated.images], epochs=epochs,
        seed=seed,
    )
    return ShortcutExperiment(
        model, training, validation, uncorrelated,
        accuracy(on_validation, validation.labels), accuracy(on_uncorrelated, uncorrelated.labels),
    )
