"""Augmentation: the study's settings per dataset, as Keras layers active only in training."""

import math

import keras
import numpy as np
import pytest

from medcnn.augment import AugmentationSettings, augmentation_settings, build_augmentation
from medcnn.errors import ConfigError


def _images(size=40, count=4):
    return np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype("float32")


def test_settings_per_dataset():
    brain, covid, retina = (augmentation_settings(name) for name in ("brain_tumor", "covid19", "retina"))
    assert (brain.rotation_degrees, covid.rotation_degrees, retina.rotation_degrees) == (15, 10, 15)
    assert brain.vertical_flip and retina.vertical_flip and not covid.vertical_flip
    assert all(s.horizontal_flip and s.zoom == 0.1 and s.width_shift == 0.1 and s.shear_degrees == 0.05 for s in (brain, covid, retina))
    assert brain.fill_mode == "nearest"
    with pytest.raises(ConfigError, match="brain_tumor, covid19, retina, folder"):
        augmentation_settings("knee")
    with pytest.raises(ConfigError, match="zoom"):
        AugmentationSettings(zoom=2.0)


def test_layers_and_unit_conversions():
    augmentation = build_augmentation("covid19")
    layers = {layer.name: layer for layer in augmentation.layers}
    assert list(layers) == ["rotation", "translation", "shear", "zoom", "flip"]
    assert layers["rotation"].get_config()["factor"] == pytest.approx([-10 / 360, 10 / 360])
    assert layers["shear"].get_config()["x_factor"][1] == pytest.approx(math.sin(math.radians(0.05)))
    assert layers["flip"].mode == "horizontal"
    assert build_augmentation("retina").get_layer("flip").mode == "horizontal_and_vertical"
    assert all(layer.fill_mode == "nearest" for layer in augmentation.layers if hasattr(layer, "fill_mode"))
    no_flip = build_augmentation(settings=AugmentationSettings(horizontal_flip=False, vertical_flip=False))
    assert "flip" not in [layer.name for layer in no_flip.layers]


def test_identity_at_inference_changes_in_training_shape_dtype_kept():
    images = _images()
    augmentation = build_augmentation("brain_tumor", seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augmentation(images, training=False)), images)
    augmented = keras.ops.convert_to_numpy(augmentation(images, training=True))
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert np.abs(augmented - images).mean() > 1.0
    # nearest fill and bilinear interpolation never leave the input's range
    assert augmented.min() >= images.min() - 1e-3 and augmented.max() <= images.max() + 1e-3


def test_same_seed_same_augmentation():
    images = _images()
    first = keras.ops.convert_to_numpy(build_augmentation("retina", seed=7)(images, training=True))
    second = keras.ops.convert_to_numpy(build_augmentation("retina", seed=7)(images, training=True))
    np.testing.assert_allclose(first, second, atol=1e-4)
