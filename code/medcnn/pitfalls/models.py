"""The small CNN the pitfall labs train: three convolutions, global average pooling, softmax.

Small enough to train in seconds on a CPU at 32 x 32 pixels, deep enough to
learn a texture or a shape; Grad-CAM reads its last convolution. Both labs
train it and test it the same way, through :func:`train_and_predict`.

Example:
    >>> model = build_small_cnn(image_size=32, num_classes=2, seed=0)  # doctest: +SKIP
    >>> model.output.shape  # doctest: +SKIP
    (None, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medcnn.errors import ConfigError


def build_small_cnn(
    *,
    image_size: int = 32,
    channels: int = 1,
    num_classes: int = 2,
    width: int = 16,
    pooling: str = "average",
    seed: int = 0,
):
    """Build a small convolutional classifier for ``(image_size, image_size, channels)`` float images in 0-1.

    Args:
        image_size: image side in pixels (at least 16).
        channels: 1 for grey, 3 for colour.
        num_classes: output classes (softmax).
        width: filters of the first convolution (doubled twice).
        pooling: ``"average"`` (global average pooling: where a pattern is does not
            matter) or ``"flatten"`` (every position has its own weights, like the
            study's heads: the network can memorise whole images).
        seed: seeds Keras (weights, dropout) through ``keras.utils.set_random_seed``.

    Example:
        >>> build_small_cnn(image_size=32, seed=0).count_params()  # doctest: +SKIP
        23906
    """
    import keras

    if int(image_size) != image_size or image_size < 16:
        raise ConfigError(f"image_size={image_size!r}: expected a whole number of pixels, at least 16")
    if int(num_classes) != num_classes or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r}: expected at least 2 classes")
    if pooling not in ("average", "flatten"):
        raise ConfigError(f"pooling={pooling!r}: expected 'average' or 'flatten'")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((int(image_size), int(image_size), int(channels)), name="images")
    x = inputs
    for number, filters in enumerate((width, 2 * width, 4 * width), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{number}")(x)
        if number < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{number}")(x)
    if pooling == "average":
        x = keras.layers.GlobalAveragePooling2D(name="average")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def train_small_cnn(
    images,
    labels,
    *,
    num_classes: int = 2,
    epochs: int = 12,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    width: int = 16,
    pooling: str = "average",
    seed: int = 0,
):
    """Build and train :func:`build_small_cnn` on ``images`` (float 0-1, NHWC) and integer ``labels``.

    Returns the trained model. Seeded: the same data and seed give the same model
    on one machine.

    Example:
        >>> model = train_small_cnn(images, labels, epochs=5, seed=0)  # doctest: +SKIP
    """
    import keras

    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ConfigError(f"images have shape {images.shape}: expected (n, size, size, channels)")
    if len(images) != len(labels):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels: give one label per image")
    model = build_small_cnn(
        image_size=images.shape[1], channels=images.shape[3], num_classes=num_classes, width=width,
        pooling=pooling, seed=seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images, labels, epochs=int(epochs), batch_size=int(batch_size), shuffle=True, verbose=0)
    return model


def predict(model, images, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for ``images``, as a NumPy array of shape ``(n, classes)``.

    Example:
        >>> predict(model, images).shape  # doctest: +SKIP
        (200, 2)
    """
    return np.asarray(model.predict(np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0))


def accuracy(probabilities, labels) -> float:
    """The share of rows of ``probabilities`` whose most probable class is the row's label.

    Example:
        >>> accuracy(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]), [0, 1, 1])
        0.6666666666666666
    """
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ConfigError(
            f"probabilities have shape {probabilities.shape} for {len(labels)} labels: "
            "expected one row of class probabilities per label"
        )
    return float((probabilities.argmax(axis=1) == labels).mean())


def train_and_predict(
    images,
    labels,
    *,
    test_images: Sequence = (),
    num_classes: int = 2,
    epochs: int = 12,
    pooling: str = "average",
    seed: int = 0,
):
    """Train :func:`train_small_cnn` on ``images`` and ``labels``, then predict each set of ``test_images``.

    What both pitfall experiments do: one seeded training run, then the class
    probabilities on the subsets it is judged on.

    Args:
        images, labels: the training images (float 0-1, NHWC) and their integer labels.
        test_images: image arrays to predict, in order (for instance a validation
            subset and a second test subset).
        num_classes, epochs, pooling, seed: passed to :func:`train_small_cnn`.

    Returns:
        ``(model, probabilities)``: the trained model and a list with one array of
        class probabilities, shape ``(n, num_classes)``, per set of ``test_images``.

    Example:
        >>> model, (probabilities,) = train_and_predict(
        ...     images, labels, test_images=[test_images], epochs=5, seed=0)  # doctest: +SKIP
        >>> accuracy(probabilities, test_labels)  # doctest: +SKIP
        0.93
    """
    model = train_small_cnn(images, labels, num_classes=num_classes, epochs=epochs, pooling=pooling, seed=seed)
    return model, [predict(model, subset) for subset in test_images]
