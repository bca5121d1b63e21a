"""Grad-CAM on the course's backbones and on a small CNN trained with a planted marker (TensorFlow and JAX)."""

import numpy as np
import pytest

from medcnn.errors import ConfigError
from medcnn.evaluation.grad_cam import grad_cam, grad_cam_with_probabilities, heatmap_mass_inside
from medcnn.pitfalls.models import train_small_cnn
from medcnn.pitfalls.shortcut import make_shortcut_data


@pytest.fixture(scope="module")
def marker_model():
    """A small CNN for which the marker is the only signal: every opacity image carries it, no healthy one."""
    training = make_shortcut_data(200, image_size=32, marker_rate=1.0, lesion_contrast=0.0, seed=12)
    model = train_small_cnn(training.images, training.labels, epochs=15, seed=1)
    return model


def test_heatmap_mass_falls_on_the_marker(marker_model):
    test = make_shortcut_data(40, image_size=32, marker_rate=1.0, lesion_contrast=0.0, seed=13)
    marked = test.images[test.has_marker]
    heatmaps = grad_cam(marker_model, marked, class_index=1)
    assert heatmaps.shape == marked.shape[:3]
    assert 0.0 <= heatmaps.min() and heatmaps.max() <= 1.0
    area = test.marker_mask.mean()
    mass = np.nanmean(heatmap_mass_inside(heatmaps, test.marker_mask))
    # The marker's box (one feature-map cell around the letter) is an eighth of the image
    # but holds about two thirds of the heatmap (0.52-0.70 over three seeds, both backends).
    assert area < 0.15
    assert mass > 0.45, f"only {mass:.2f} of the Grad-CAM mass lies on the marker"


def test_predicted_class_and_probabilities(marker_model):
    test = make_shortcut_data(12, image_size=32, marker_rate=1.0, lesion_contrast=0.0, seed=13)
    heatmaps, probabilities, classes, layer = grad_cam_with_probabilities(marker_model, test.images)
    assert layer == "conv_3"
    assert probabilities.shape == (12, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
    expected = np.asarray(marker_model.predict(test.images, verbose=0))
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    single = grad_cam(marker_model, test.images[0])
    np.testing.assert_allclose(single[0], heatmaps[0], atol=1e-5)


def test_bad_arguments_are_named(marker_model):
    images = np.zeros((2, 32, 32, 1), "float32")
    with pytest.raises(ConfigError, match="class_index=5"):
        grad_cam(marker_model, images, class_index=5)
    with pytest.raises(ConfigError, match="layer='nope'"):
        grad_cam(marker_model, images, layer="nope")
    with pytest.raises(ConfigError, match="images have shape"):
        grad_cam(marker_model, np.zeros((2, 20, 20, 1), "float32"))
    with pytest.raises(ConfigError, match="feature maps"):
        grad_cam(marker_model, images, layer="average")


@pytest.mark.parametrize(
    ("backbone", "size", "layer"),
    [("vgg16", 32, "block5_conv3"), ("resnet50", 32, "conv5_block3_out"), ("inceptionv3", 75, "mixed10")],
)
def test_backbones_default_layer(backbone, size, layer):
    from medcnn.models.classifier import build_classifier

    model = build_classifier(backbone, 3, weights=None, input_size=size, seed=0)
    images = np.random.default_rng(0).integers(0, 256, size=(2, size, size, 3), dtype=np.uint8)
    heatmaps, probabilities, classes, used = grad_cam_with_probabilities(model, images)
    assert used == layer
    assert heatmaps.shape == (2, size, size)
    assert np.isfinite(heatmaps).all() and heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    np.testing.assert_allclose(probabilities, np.asarray(model.predict(images, verbose=0)), atol=1e-4)


def test_binary_classifier_and_explicit_layer():
    from medcnn.models.classifier import build_classifier

    model = build_classifier("vgg16", 2, weights=None, input_size=32, seed=0)
    images = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    heatmaps, probabilities, classes, used = grad_cam_with_probabilities(
        model, images, class_index=[0, 1, 1], layer="block4_conv3"
    )
    assert used == "block4_conv3" and heatmaps.shape == (3, 32, 32)
    assert classes.tolist() == [0, 1, 1]
    positive = np.asarray(model.predict(images, verbose=0))[:, 0]
    np.testing.assert_allclose(probabilities[:, 1], positive, atol=1e-4)
    with pytest.raises(ConfigError, match="residual or Inception"):
        resnet = build_classifier("resnet50", 3, weights=None, input_size=32, seed=0)
        grad_cam(resnet, images, layer="conv5_block3_3_conv")


def test_heatmap_mass_inside():
    heatmap = np.zeros((2, 4, 4))
    heatmap[0, 0, 0] = 3.0
    heatmap[0, 3, 3] = 1.0
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    mass = heatmap_mass_inside(heatmap, mask)
    assert mass[0] == pytest.approx(0.75)
    assert np.isnan(mass[1])
