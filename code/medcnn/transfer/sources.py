"""The source tasks a network is pretrained on: shapes and textures, or unrelated brightness ramps.

``"shapes"`` has 24 classes: twelve shapes (a disc, a ring, a square and its
outline, a triangle, an X, a plus, two bars, an ellipse, two dots, a crescent)
drawn at a random place, size and contrast on a noisy background, and twelve
textures (gratings in four orientations and two frequencies, a checkerboard, a
dot lattice, fine noise, blobs, concentric rings, spokes) filling a round patch
of random size. Edges, blobs, rings
and textures are what a medical image is made of, so features learned here can
transfer; the pretrained network plays the part ImageNet plays for the study.

``"ramps"`` is the control: 24 classes of smooth brightness ramps (eight
directions by three mean levels) with the same noise. A network learns to read
direction and mean brightness, which says nothing about a lesion's shape.

Example:
    >>> data = make_source_data(48, kind="shapes", image_size=32, seed=0)
    >>> data.images.shape, len(data.class_names)
    ((48, 32, 32, 1), 24)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medcnn.errors import ConfigError

SHAPE_CLASSES = (
    "disc", "ring", "square", "square outline", "triangle", "X", "plus", "horizontal bar",
    "vertical bar", "ellipse", "two dots", "crescent",
    "grating 0", "grating 45", "grating 90", "grating 135", "coarse grating 0", "coarse grating 90",
    "checkerboard", "dot lattice", "fine noise", "blobs", "concentric rings", "spokes",
)
RAMP_CLASSES = tuple(
    f"ramp {direction} deg, level {level}" for level in ("low", "mid", "high") for direction in range(0, 360, 45)
)
SOURCE_KINDS = {"shapes": SHAPE_CLASSES, "ramps": RAMP_CLASSES}


@dataclass(frozen=True)
class SourceData:
    """Images of a source task.

    Attributes:
        images: float32 ``(n, size, size, 1)``, values 0-1.
        labels: integer class of each image.
        class_names: the task's class names, in label order.
        kind: ``"shapes"`` or ``"ramps"``.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    kind: str


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates in pixels, as float32 arrays of shape (size, size)."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    return rows, columns


def _soft(distance: np.ndarray) -> np.ndarray:
    """1 inside (distance < 0), 0 outside, a one-pixel soft edge (anti-aliasing)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _shape(name: str, rng, rows, columns, size: int) -> np.ndarray:
    """A 0-1 mask of one shape at a random position, size and angle."""
    radius = rng.uniform(0.09, 0.28) * size
    centre_row, centre_column = rng.uniform(radius + 1, size - radius - 1, size=2)
    y, x = rows - centre_row, columns - centre_column
    angle = rng.uniform(0, np.pi)
    turned_x = x * np.cos(angle) + y * np.sin(angle)
    turned_y = -x * np.sin(angle) + y * np.cos(angle)
    distance = np.hypot(x, y)
    thickness = max(1.2, 0.06 * size)
    if name == "disc":
        return _soft(distance - radius)
    if name == "ring":
        return _soft(np.abs(distance - radius) - thickness / 2)
    if name == "square":
        return _soft(np.maximum(np.abs(turned_x), np.abs(turned_y)) - 0.8 * radius)
    if name == "square outline":
        return _soft(np.abs(np.maximum(np.abs(turned_x), np.abs(turned_y)) - 0.8 * radius) - thickness / 2)
    if name == "triangle":
        edges = [turned_x * np.cos(a) + turned_y * np.sin(a) for a in (np.pi / 2, np.pi / 2 + 2.094, np.pi / 2 + 4.189)]
        return _soft(np.max(edges, axis=0) - 0.5 * radius)
    if name in ("X", "plus"):
        if name == "X":
            turned_x, turned_y = (x + y) / np.sqrt(2), (x - y) / np.sqrt(2)
        else:
            turned_x, turned_y = x, y
        arm = np.minimum(np.abs(turned_x), np.abs(turned_y)) - thickness / 2
        return _soft(np.maximum(arm, np.maximum(np.abs(turned_x), np.abs(turned_y)) - radius))
    if name in ("horizontal bar", "vertical bar"):
        along, across = (x, y) if name == "horizontal bar" else (y, x)
        return _soft(np.maximum(np.abs(along) - 1.2 * radius, np.abs(across) - thickness))
    if name == "ellipse":
        return _soft((np.hypot(turned_x / 1.0, turned_y / 0.45) - radius))
    if name == "two dots":
        offset_x, offset_y = 0.6 * radius * np.cos(angle), 0.6 * radius * np.sin(angle)
        dot = 0.35 * radius
        return np.maximum(_soft(np.hypot(x - offset_x, y - offset_y) - dot), _soft(np.hypot(x + offset_x, y + offset_y) - dot))
    if name == "crescent":
        shift = 0.45 * radius
        return _soft(distance - radius) * (1.0 - _soft(np.hypot(turned_x - shift, turned_y) - 0.85 * radius))
    raise ConfigError(f"shape {name!r}: not one of {SHAPE_CLASSES[:12]}")


def _texture(name: str, rng, rows, columns, size: int) -> np.ndarray:
    """A 0-1 texture filling the image, with a random phase (and a small random period change)."""
    phase = rng.uniform(0, 2 * np.pi)
    period = rng.uniform(0.85, 1.15)
    if name.startswith("grating") or name.startswith("coarse grating"):
        degrees = float(name.split()[-1]) + rng.uniform(-8, 8)
        wavelength = (4.0 if name.startswith("grating") else 9.0) * period
        direction = np.deg2rad(degrees)
        along = columns * np.cos(direction) + rows * np.sin(direction)
        return 0.5 + 0.5 * np.sin(2 * np.pi * along / wavelength + phase)
    if name == "checkerboard":
        cell = 4.0 * period
        offset = rng.uniform(0, cell, size=2)
        return (((np.floor((rows + offset[0]) / cell) + np.floor((columns + offset[1]) / cell)) % 2)).astype(np.float32)
    if name == "dot lattice":
        cell = 5.0 * period
        offset = rng.uniform(0, cell, size=2)
        y = (rows + offset[0]) % cell - cell / 2
        x = (columns + offset[1]) % cell - cell / 2
        return _soft(np.hypot(x, y) - 1.3)
    if name == "fine noise":
        return rng.random((size, size)).astype(np.float32)
    if name == "blobs":
        coarse = rng.random((size // 6 + 2, size // 6 + 2))
        fine = np.kron(coarse, np.ones((6, 6)))[:size, :size]
        return _smooth(fine, passes=3)
    if name == "concentric rings":
        centre = rng.uniform(0.2, 0.8, size=2) * size
        distance = np.hypot(rows - centre[0], columns - centre[1])
        return 0.5 + 0.5 * np.sin(2 * np.pi * distance / (5.0 * period) + phase)
    if name == "spokes":
        centre = rng.uniform(0.3, 0.7, size=2) * size
        angle = np.arctan2(rows - centre[0], columns - centre[1])
        return 0.5 + 0.5 * np.sin(8 * angle + phase)
    raise ConfigError(f"texture {name!r}: not one of {SHAPE_CLASSES[12:]}")


def _smooth(image: np.ndarray, *, passes: int = 1) -> np.ndarray:
    """A 3 x 3 box blur repeated ``passes`` times (edges replicated)."""
    for _ in range(passes):
        padded = np.pad(image, 1, mode="edge")
        image = sum(padded[r : r + image.shape[0], c : c + image.shape[1]] for r in range(3) for c in range(3)) / 9.0
    return image


def _smooth_noise(rng, size: int) -> np.ndarray:
    """Smooth shading in 0-1: noise on a coarse grid, enlarged and blurred."""
    coarse = rng.random((size // 8 + 2, size // 8 + 2))
    return _smooth(np.kron(coarse, np.ones((8, 8)))[:size, :size], passes=3)


def _ramp(label: int, rng, rows, columns, size: int) -> np.ndarray:
    """A smooth brightness ramp: direction ``label % 8`` (45 degree steps), mean level ``label // 8``."""
    direction = np.deg2rad(45 * (label % 8) + rng.uniform(-10, 10))
    level = (0.3, 0.5, 0.7)[label // 8] + rng.uniform(-0.05, 0.05)
    along = ((columns - size / 2) * np.cos(direction) + (rows - size / 2) * np.sin(direction)) / size
    return level + rng.uniform(0.25, 0.45) * along


def make_source_data(count: int, *, kind: str = "shapes", image_size: int = 32, seed: int = 0) -> SourceData:
    """Draw ``count`` images of a source task, the classes in turn (balanced), in a seeded order.

    Args:
        count: number of images (at least one per class is not required).
        kind: ``"shapes"`` (shapes and textures) or ``"ramps"`` (the unrelated control).
        image_size: side in pixels (at least 16).
        seed: seeds everything; the same arguments give the same images.

    Example:
        >>> data = make_source_data(240, kind="ramps", seed=1)
        >>> np.bincount(data.labels).tolist() == [10] * 24
        True
    """
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"kind={kind!r}: expected one of {tuple(SOURCE_KINDS)}")
    if int(count) != count or count < 1:
        raise ConfigError(f"count={count!r}: expected a whole number of images, at least 1")
    if int(image_size) != image_size or image_size < 16:
        raise ConfigError(f"image_size={image_size!r}: expected a whole number of pixels, at least 16")
    class_names = SOURCE_KINDS[kind]
    size = int(image_size)
    rng = np.random.default_rng(seed)
    labels = (np.arange(int(count)) % len(class_names)).astype(np.int64)
    rng.shuffle(labels)
    rows, columns = _grid(size)
    images = np.empty((len(labels), size, size, 1), dtype=np.float32)
    for index, label in enumerate(labels):
        background = rng.uniform(0.05, 0.45)
        if kind == "ramps":
            image = _ramp(int(label), rng, rows, columns, size)
        else:
            name = class_names[label]
            contrast = rng.uniform(0.25, 0.55)
            # clutter that says nothing about the class: smooth shading, and half the time a large outline
            image = background + 0.15 * _smooth_noise(rng, size)
            if rng.random() < 0.5:
                outline = np.hypot((rows - size / 2) / rng.uniform(0.38, 0.47), (columns - size / 2) / rng.uniform(0.3, 0.45))
                image = image + rng.uniform(0.2, 0.5) * _soft(np.abs(outline - size) - 1.0)
            if label < 12:
                image = image + contrast * _shape(name, rng, rows, columns, size)
            else:
                # a texture fills a round patch of random size (up to the whole image)
                patch = rng.uniform(0.2, 0.75) * size
                centre = rng.uniform(0.3, 0.7, size=2) * size
                mask = _soft(np.hypot(rows - centre[0], columns - centre[1]) - patch)
                image = image + contrast * mask * _texture(name, rng, rows, columns, size)
        image = image + rng.normal(0, rng.uniform(0.02, 0.06), size=(size, size))
        images[index, ..., 0] = np.clip(image, 0.0, 1.0)
    return SourceData(images, labels, class_names, kind)
