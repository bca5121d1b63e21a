"""The study's data augmentation, as Keras preprocessing layers that run inside the model.

The study used Keras' ``ImageDataGenerator`` (rotation, width/height shifts, shear,
zoom, flips, ``fill_mode="nearest"``). Here the same transforms are Keras
preprocessing layers, so they run on the accelerator as part of the training
step and are skipped at inference. Conversions from ``ImageDataGenerator``'s units:

- ``rotation_range`` is in degrees; ``RandomRotation``'s factor is a fraction of a
  full turn, so 15° becomes 15 / 360.
- ``width_shift_range``/``height_shift_range`` and ``RandomTranslation``'s factors are
  both fractions of the image side.
- ``zoom_range=z`` draws horizontal and vertical zoom independently from [1-z, 1+z];
  ``RandomZoom`` with the same range on both axes does the same.
- ``shear_range`` is an angle **in degrees** (``ImageDataGenerator`` converts it with
  ``deg2rad``), shearing along x by ``sin(angle)``; ``RandomShear``'s ``x_factor`` is
  that coefficient (pixels moved per pixel of height). The study's 0.05 is therefore
  0.05° — a shift of at most a fifth of a pixel at 224 px. It is kept as published.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from medcnn.datasets import DATASET_KEYS
from medcnn.errors import ConfigError


@dataclass(frozen=True)
class AugmentationSettings:
    """One dataset's augmentation, in ``ImageDataGenerator``'s units.

    Attributes:
        rotation_degrees: largest rotation either way, in degrees.
        width_shift: largest horizontal shift, as a fraction of the width.
        height_shift: largest vertical shift, as a fraction of the height.
        shear_degrees: largest shear angle either way, in degrees.
        zoom: zoom drawn from [1 - zoom, 1 + zoom] on each axis.
        horizontal_flip: flip left-right half of the time.
        vertical_flip: flip upside-down half of the time.
        fill_mode: how pixels shifted in from outside are filled (``"nearest"`` repeats the edge).

    Example:
        >>> AugmentationSettings(rotation_degrees=10.0).rotation_degrees
        10.0
    """

    rotation_degrees: float = 15.0
    width_shift: float = 0.1
    height_shift: float = 0.1
    shear_degrees: float = 0.05
    zoom: float = 0.1
    horizontal_flip: bool = True
    vertical_flip: bool = True
    fill_mode: str = "nearest"

    def __post_init__(self):
        for field, value, upper in [
            ("rotation_degrees", self.rotation_degrees, 180.0),
            ("width_shift", self.width_shift, 1.0),
            ("height_shift", self.height_shift, 1.0),
            ("shear_degrees", self.shear_degrees, 45.0),
            ("zoom", self.zoom, 1.0),
        ]:
            if not 0.0 <= value <= upper:
                raise ConfigError(f"{field}={value}: expected a value from 0 to {upper}")
        if self.fill_mode not in ("nearest", "reflect", "wrap", "constant"):
            raise ConfigError(
                f"fill_mode={self.fill_mode!r}: expected 'nearest', 'reflect', 'wrap' or 'constant'"
            )


# The study's settings for each dataset (Anexo A, Tabla A.1): a study's choice, so it lives here,
# with the study's augmentation, not in the dataset's record (which says what the data is).
STUDY_AUGMENTATION = {
    "brain_tumor": AugmentationSettings(15.0, 0.1, 0.1, 0.05, 0.1, horizontal_flip=True, vertical_flip=True),
    "covid19": AugmentationSettings(10.0, 0.1, 0.1, 0.05, 0.1, horizontal_flip=True, vertical_flip=False),
    "retina": AugmentationSettings(15.0, 0.1, 0.1, 0.05, 0.1, horizontal_flip=True, vertical_flip=True),
}
OTHER_DATASETS_AUGMENTATION = AugmentationSettings()
"""Any other dataset (your own ``folder``): the study's general settings, those of the brain MRI."""


def augmentation_settings(dataset: str = "brain_tumor") -> AugmentationSettings:
    """The study's augmentation settings for ``dataset`` (:data:`STUDY_AUGMENTATION`, else the general ones).

    Raises:
        ConfigError: ``dataset`` is not one of :data:`medcnn.datasets.DATASET_KEYS`.

    Example:
        >>> augmentation_settings("covid19").vertical_flip
        False
    """
    if dataset not in DATASET_KEYS:
        raise ConfigError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASET_KEYS)}")
    return STUDY_AUGMENTATION.get(dataset, OTHER_DATASETS_AUGMENTATION)


def build_augmentation(
    dataset: str = "brain_tumor", *, settings: AugmentationSettings | None = None, seed: int = 0
):
    """Build the study's augmentation as a ``keras.Sequential`` named ``"augmentation"``.

    Active only when called with ``training=True`` (as ``fit`` does); at inference it
    returns its input unchanged. Each layer is seeded from ``seed``.

    Args:
        dataset: whose settings to use (ignored when ``settings`` is given).
        settings: explicit settings instead of the study's.
        seed: seeds the random transforms.

    Example:
        >>> augmentation = build_augmentation("retina", seed=1)  # doctest: +SKIP
        >>> [layer.name for layer in augmentation.layers]  # doctest: +SKIP
        ['rotation', 'translation', 'shear', 'zoom', 'flip']
    """
    import keras

    settings = settings if settings is not None else augmentation_settings(dataset)
    fill = {"fill_mode": settings.fill_mode, "interpolation": "bilinear"}
    layers = []
    if settings.rotation_degrees:
        layers.append(
            keras.layers.RandomRotation(settings.rotation_degrees / 360.0, seed=seed, name="rotation", **fill)
        )
    if settings.width_shift or settings.height_shift:
        layers.append(
            keras.layers.RandomTranslation(
                settings.height_shift, settings.width_shift, seed=seed + 1, name="translation", **fill
            )
        )
    if settings.shear_degrees:
        # RandomShear draws from the range, then flips the sign half of the time, so (0, s)
        # gives shears in [-s, s]. A bare float s would be stored as (-s, s), which
        # RandomShear's own range check rejects when a saved model is reloaded.
        shear = math.sin(math.radians(settings.shear_degrees))
        layers.append(
            keras.layers.RandomShear(
                x_factor=(0.0, shear), y_factor=(0.0, 0.0), seed=seed + 2, name="shear", **fill
            )
        )
    if settings.zoom:
        layers.append(
            keras.layers.RandomZoom(settings.zoom, settings.zoom, seed=seed + 3, name="zoom", **fill)
        )
    flip_mode = {
        (True, True): "horizontal_and_vertical",
        (True, False): "horizontal",
        (False, True): "vertical",
    }.get((settings.horizontal_flip, settings.vertical_flip))
    if flip_mode:
        layers.append(keras.layers.RandomFlip(flip_mode, seed=seed + 4, name="flip"))
    return keras.Sequential(layers, name="augmentation")
