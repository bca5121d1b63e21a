"""The small CNN of the transfer lesson: four convolution blocks with batch normalisation, in two halves.

The backbone (what ``include_top=False`` returns in ``keras.applications``) is a
model made of two ``keras.Sequential`` halves, so that "unfreeze the second half" is one
line and the first half's output can be cached when only the second half trains:

- ``lower`` (the first half): convolutions of 16 and 32 filters, each followed by
  batch normalisation, ReLU and 2 x 2 max pooling: 32 x 32 -> 8 x 8 x 32;
- ``upper`` (the second half): convolutions of 64 and 64 filters, the first with
  pooling: 8 x 8 x 32 -> 4 x 4 x 64.

A head goes on top: global average pooling or Flatten, then a softmax layer.

Example:
    >>> backbone = build_backbone(image_size=32, seed=0)  # doctest: +SKIP
    >>> backbone.output.shape  # doctest: +SKIP
    (None, 4, 4, 64)
"""

from __future__ import annotations

from medcnn.errors import ConfigError

HEADS = ("average", "flatten")
BATCH_NORM_MODES = ("inference", "training")


def _block(keras, filters: int, number: int, *, pool: bool) -> list:
    """Convolution (no bias: batch normalisation adds one), batch normalisation, ReLU, optional pooling."""
    layers = [
        keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{number}"),
        # momentum 0.9 (Keras: 0.99): the moving statistics settle within a short training run
        keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{number}"),
        keras.layers.Activation("relu", name=f"relu_{number}"),
    ]
    if pool:
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{number}"))
    return layers


def build_backbone(*, image_size: int = 32, channels: int = 1, seed: int = 0):
    """Build the backbone with random weights: the halves ``lower`` then ``upper``, input ``(size, size, channels)`` in 0-1.

    Args:
        image_size: side in pixels (a multiple of 4, at least 16).
        channels: 1 for grey images.
        seed: seeds the weights through ``keras.utils.set_random_seed``.

    Example:
        >>> backbone = build_backbone(seed=0)  # doctest: +SKIP
        >>> [part.name for part in backbone.layers]  # doctest: +SKIP
        ['images', 'lower', 'upper']
    """
    import keras

    if int(image_size) != image_size or image_size < 16 or image_size % 4:
        raise ConfigError(f"image_size={image_size!r}: expected a multiple of 4 pixels, at least 16")
    keras.utils.set_random_seed(seed)
    size = int(image_size)
    lower = keras.Sequential(
        [keras.Input((size, size, int(channels))), *_block(keras, 16, 1, pool=True), *_block(keras, 32, 2, pool=True)],
        name="lower",
    )
    upper = keras.Sequential(
        [keras.Input((size // 4, size // 4, 32)), *_block(keras, 64, 3, pool=True), *_block(keras, 64, 4, pool=False)],
        name="upper",
    )
    inputs = keras.Input((size, size, int(channels)), name="images")
    return keras.Model(inputs, upper(lower(inputs)), name="backbone")


def build_head(input_shape, num_classes: int, *, head: str = "average", seed: int = 0):
    """A new head for features of ``input_shape`` (e.g. ``(4, 4, 64)``): pooling or Flatten, then softmax.

    Args:
        input_shape: the shape of one feature map stack, without the batch axis.
        num_classes: output classes.
        head: ``"average"`` (global average pooling: one value per channel) or
            ``"flatten"`` (every position of every channel, each with its own weights).
        seed: seeds the new layer's weights.

    Example:
        >>> build_head((4, 4, 64), 4, head="flatten").count_params()  # doctest: +SKIP
        4100
    """
    import keras

    if head not in HEADS:
        raise ConfigError(f"head={head!r}: expected one of {HEADS}")
    if int(num_classes) != num_classes or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r}: expected at least 2 classes")
    keras.utils.set_random_seed(seed)
    pooling = keras.layers.GlobalAveragePooling2D(name="average") if head == "average" else keras.layers.Flatten(name="flatten")
    return keras.Sequential(
        [keras.Input(tuple(input_shape)), pooling, keras.layers.Dense(int(num_classes), activation="softmax", name="predictions")],
        name=f"head_{head}",
    )


def set_trainable(part, *, trainable: bool = True, batch_norm: str = "inference") -> None:
    """Make ``part`` (e.g. ``backbone.get_layer("upper")``) trainable or frozen, choosing its batch normalisation's mode.

    In Keras 3 a ``BatchNormalization`` layer whose ``trainable`` is False runs in
    inference mode (it uses the moving mean and variance learned on the source
    and does not update them). ``batch_norm="inference"`` keeps it that way while
    the convolutions train; ``"training"`` makes it trainable too, so it
    normalises with each batch's statistics and overwrites the moving ones: the
    trap the lesson measures.

    Example:
        >>> set_trainable(backbone.get_layer("upper"), batch_norm="inference")  # doctest: +SKIP
    """
    import keras

    if batch_norm not in BATCH_NORM_MODES:
        raise ConfigError(f"batch_norm={batch_norm!r}: expected one of {BATCH_NORM_MODES}")
    part.trainable = bool(trainable)
    if trainable and batch_norm == "inference":
        for layer in part.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
