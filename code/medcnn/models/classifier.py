"""The study's classifier: uint8 images → augmentation → backbone preprocessing → backbone → head.

The model takes the image cache's uint8 pixels directly (half the host-to-device
traffic of float32) and casts them to float inside the graph; the optional
augmentation runs only in training; the backbone's own ``preprocess_input`` is
applied to the Keras tensor (plain ``keras.ops``, so a saved ``.keras`` file
reloads without custom objects). The heads reproduce the study's parameter counts.
"""

from __future__ import annotations

from medcnn.errors import ConfigError
from medcnn.models.backbones import BACKBONE_LAYER_NAME, check_input_size, get_backbone

AUGMENTATION_LAYER_NAME = "augmentation"
HEAD_FIRST_LAYER_NAME = "head_flatten"
OUTPUT_LAYER_NAME = "predictions"



def build_classifier(
    backbone: str = "vgg16",
    num_classes: int = 3,
    *,
    weights: str | None = "imagenet",
    input_size: int | None = None,
    augmentation=None,
    freeze_backbone: bool = True,
    seed: int = 0,
):
    """Build the study's transfer-learning classifier for ``num_classes`` classes.

    Args:
        backbone: ``"vgg16"``, ``"resnet50"`` or ``"inceptionv3"``.
        num_classes: 2 gives one sigmoid unit; 3 or more a softmax.
        weights: ``"imagenet"``, ``None`` (random, for offline smoke runs) or a weights file.
        input_size: image side in pixels (default: the backbone's, 224 or 299).
        augmentation: a Keras layer (e.g. :func:`medcnn.augment.build_augmentation`),
            active only in training; ``None`` for none.
        freeze_backbone: keep the backbone's weights fixed (the study's first stage).
        seed: seeds the head's initialisers; with ``weights=None`` it also seeds the
            backbone's, through ``keras.utils.set_random_seed`` (which seeds Python,
            NumPy and the backend too), so two builds with one seed are identical.

    Returns:
        A ``keras.Model`` from uint8 images of shape (S, S, 3) holding 0-255 values to
        class probabilities (float32, also under mixed precision).

    Example:
        >>> model = build_classifier("resnet50", 3, weights=None, input_size=32)  # doctest: +SKIP
        >>> model.output.shape  # doctest: +SKIP
        (None, 3)
    """
    import keras

    spec = get_backbone(backbone)
    size = check_input_size(spec.name, input_size)
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r}: a classifier needs a whole number of at least 2 classes")
    if weights is None:
        keras.utils.set_random_seed(seed)

    images = keras.Input(shape=(size, size, 3), dtype="uint8", name="images")
    x = keras.ops.cast(images, "float32")
    if augmentation is not None:
        if not isinstance(augmentation, keras.layers.Layer):
            raise ConfigError(
                f"augmentation={augmentation!r}: expected a Keras layer, e.g. medcnn.augment.build_augmentation()"
            )
        if augmentation.name != AUGMENTATION_LAYER_NAME:
            augmentation = keras.Sequential([augmentation], name=AUGMENTATION_LAYER_NAME)
        x = augmentation(x)
    x = spec.preprocess(x)
    backbone_model = spec.build(input_size=size, weights=weights)
    backbone_model.trainable = not freeze_backbone
    x = backbone_model(x)

    x = keras.layers.Flatten(name=HEAD_FIRST_LAYER_NAME)(x)
    for number, units in enumerate(spec.head_units, start=1):
        x = keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + number),
            name=f"head_dense_{number}",
        )(x)
    binary = num_classes == 2
    outputs = keras.layers.Dense(
        1 if binary else int(num_classes),
        activation="sigmoid" if binary else "softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        dtype="float32",
        name=OUTPUT_LAYER_NAME,
    )(x)
    return keras.Model(images, outputs, name=f"{spec.name}_classifier")


def backbone_layer(model):
    """Return the nested backbone model inside a classifier built by :func:`build_classifier`.

    Example:
        >>> backbone_layer(build_classifier("vgg16", weights=None, input_size=32)).name  # doctest: +SKIP
        'backbone'
    """
    try:
        return model.get_layer(BACKBONE_LAYER_NAME)
    except ValueError as error:
        raise ConfigError(
            f"model {model.name!r} has no layer named {BACKBONE_LAYER_NAME!r}: "
            "build it with medcnn.models.classifier.build_classifier"
        ) from error


def has_augmentation(model) -> bool:
    """Whether a classifier built by :func:`build_classifier` holds an augmentation layer.

    Example:
        >>> has_augmentation(build_classifier("vgg16", weights=None, input_size=32))  # doctest: +SKIP
        False
    """
    return any(layer.name == AUGMENTATION_LAYER_NAME for layer in model.layers)


def head_layers(model) -> list:
    """The layers after the backbone, in order (Flatten, the hidden Dense layers, the output).

    Example:
        >>> [layer.name for layer in head_layers(build_classifier("resnet50", weights=None, input_size=32))]  # doctest: +SKIP
        ['head_flatten', 'head_dense_1', 'predictions']
    """
    backbone = backbone_layer(model)
    layers = list(model.layers)
    return layers[layers.index(backbone) + 1 :]


def split_classifier(model):
    """Split a classifier into (feature extractor, head) that share its layers.

    The feature extractor maps images to the backbone's output (it includes the
    cast, any augmentation and the preprocessing); the head is a new ``keras.Model``
    from an input of the backbone's output shape through the *same* head layer
    objects, so training the head trains the classifier.

    Example:
        >>> extractor, head = split_classifier(build_classifier("vgg16", weights=None, input_size=32))  # doctest: +SKIP
        >>> extractor.output.shape, head.input.shape  # doctest: +SKIP
        ((None, 1, 1, 512), (None, 1, 1, 512))
    """
    import keras

    layers = head_layers(model)
    if not layers or layers[0].name != HEAD_FIRST_LAYER_NAME:
        raise ConfigError(
            f"model {model.name!r} has no {HEAD_FIRST_LAYER_NAME!r} layer after its backbone: "
            "build it with medcnn.models.classifier.build_classifier"
        )
    backbone_output = layers[0].input
    extractor = keras.Model(model.inputs, backbone_output, name=f"{model.name}_features")
    features = keras.Input(shape=tuple(backbone_output.shape[1:]), name="features")
    x = features
    for layer in layers:
        x = layer(x)
    head = keras.Model(features, x, name=f"{model.name}_head")
    return extractor, head
