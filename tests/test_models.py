"""Models: the three backbones, the study's heads and counts, saving, splitting, fine-tuning."""

import keras
import numpy as np
import pytest

from medcnn.errors import ConfigError
from medcnn.models.backbones import backbone_architecture, check_input_size, get_backbone
from medcnn.models.classifier import backbone_layer, build_classifier, head_layers, split_classifier
from medcnn.models.fine_tune import unfreeze_second_half


def _parameters(weights) -> int:
    return int(sum(np.prod(weight.shape) for weight in weights))


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()  # and a garbage collection


def test_backbone_lookup_sizes_and_errors():
    assert [get_backbone(name).default_size for name in ("vgg16", "resnet50", "inceptionv3")] == [224, 224, 299]
    assert [get_backbone(name).min_size for name in ("vgg16", "resnet50", "inceptionv3")] == [32, 32, 75]
    assert get_backbone("Inception_V3").name == "inceptionv3"
    with pytest.raises(ConfigError, match="vgg16, resnet50, inceptionv3"):
        get_backbone("alexnet")
    with pytest.raises(ConfigError, match="minimum is 75"):
        check_input_size("inceptionv3", 64)
    with pytest.raises(ConfigError, match="at least 2"):
        build_classifier("vgg16", 1, weights=None, input_size=32)


# The study's published counts: (total, trainable) at full size, frozen backbone, 3 classes.
STUDY_COUNTS = {
    "vgg16": (134_272_835, 119_558_147),
    "resnet50": (126_352_259, 102_764_547),
    "inceptionv3": (156_024_611, 134_221_827),
}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="counted once, on TensorFlow: the layers' shapes, not the backend, set the counts")
@pytest.mark.parametrize("name", list(STUDY_COUNTS))
def test_full_size_parameter_counts_match_the_study(name):
    model = build_classifier(name, 3, weights=None)
    total, trainable = STUDY_COUNTS[name]
    assert model.count_params() == total
    assert _parameters(model.trainable_weights) == trainable
    assert model.input.shape == (None, get_backbone(name).default_size, get_backbone(name).default_size, 3)
    del model


@pytest.mark.parametrize("name,size", [("vgg16", 32), ("resnet50", 32), ("inceptionv3", 75)])
def test_small_classifier_outputs_heads_and_architecture(name, size):
    model = build_classifier(name, 3, weights=None, input_size=size)
    images = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype="uint8")
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert model.input.dtype == "uint8"
    assert [layer.name for layer in head_layers(model)][-1] == "predictions"
    units = [layer.units for layer in head_layers(model) if isinstance(layer, keras.layers.Dense)]
    assert units == {"vgg16": [4096, 4096, 3], "resnet50": [1024, 3], "inceptionv3": [1024, 3]}[name]
    assert backbone_architecture(model) == name
    assert _parameters(backbone_layer(model).trainable_weights) == 0


def test_binary_output_is_one_float32_sigmoid_unit_even_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_classifier("resnet50", 2, weights=None, input_size=32)
        output_layer = model.get_layer("predictions")
        assert output_layer.units == 1 and output_layer.activation.__name__ == "sigmoid"
        assert model.output.dtype == "float32"
        assert model.get_layer("head_dense_1").compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_same_seed_same_weights_other_seed_other_weights():
    first = build_classifier("resnet50", 3, weights=None, input_size=32, seed=3)
    second = build_classifier("resnet50", 3, weights=None, input_size=32, seed=3)
    third = build_classifier("resnet50", 3, weights=None, input_size=32, seed=4)
    for a, b in zip(first.get_weights(), second.get_weights()):
        assert np.array_equal(a, b)
    assert not np.array_equal(first.get_layer("predictions").get_weights()[0], third.get_layer("predictions").get_weights()[0])


def test_save_and_reload_predict_identically(tmp_path):
    from medcnn.augment import build_augmentation

    model = build_classifier("vgg16", 3, weights=None, input_size=32, augmentation=build_augmentation("retina", seed=2))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype="uint8")
    np.testing.assert_array_equal(model.predict(images, verbose=0), reloaded.predict(images, verbose=0))
    assert reloaded.input.dtype == "uint8"
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


def test_preprocessing_is_the_backbones_own():
    # Inception-V3 scales 0..255 to -1..1 inside the model: the feature extractor of a
    # classifier equals the bare backbone applied to preprocess_input of the images.
    model = build_classifier("inceptionv3", 3, weights=None, input_size=75)
    extractor, _ = split_classifier(model)
    images = np.random.default_rng(2).integers(0, 256, (2, 75, 75, 3), dtype="uint8")
    scaled = keras.applications.inception_v3.preprocess_input(images.astype("float32"))
    assert scaled.min() >= -1 and scaled.max() <= 1
    expected = backbone_layer(model).predict(scaled, verbose=0)
    np.testing.assert_allclose(extractor.predict(images, verbose=0), expected, atol=1e-5)


def test_split_shares_the_head_layers():
    model = build_classifier("resnet50", 3, weights=None, input_size=32)
    extractor, head = split_classifier(model)
    assert extractor.output.shape == (None, 1, 1, 2048) and head.input.shape == (None, 1, 1, 2048)
    images = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3), dtype="uint8")
    features = extractor.predict(images, verbose=0)
    np.testing.assert_allclose(head.predict(features, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    # the same variables: changing the head changes the classifier
    dense = head.get_layer("head_dense_1")
    assert dense is model.get_layer("head_dense_1")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + 1.0])
    np.testing.assert_allclose(head.predict(features, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_unfreeze_second_half_keeps_batch_normalization_frozen():
    model = build_classifier("resnet50", 3, weights=None, input_size=32)
    backbone = backbone_layer(model)
    unfrozen = unfreeze_second_half(model)
    layers = backbone.layers
    half = len(layers) // 2
    assert all(not layer.trainable for layer in layers[:half])
    for layer in layers[half:]:
        is_batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        assert layer.trainable is (not is_batch_norm)
    assert unfrozen[-1] == layers[-1].name and len(unfrozen) > 0
    assert not any(isinstance(backbone.get_layer(name), keras.layers.BatchNormalization) for name in unfrozen)
    # a frozen BatchNormalization runs in inference mode: training=True changes nothing
    batch_norm = next(layer for layer in layers[half:] if isinstance(layer, keras.layers.BatchNormalization))
    values = np.random.default_rng(4).normal(size=(4,) + tuple(batch_norm.input.shape[1:])).astype("float32")
    np.testing.assert_allclose(batch_norm(values, training=True), batch_norm(values, training=False), atol=1e-6)
    assert _parameters(model.trainable_weights) > _parameters(head_layers(model)[1].trainable_weights)
