"""Compile a classifier the way the study did: Adam, cross-entropy, accuracy."""

from __future__ import annotations

from medcnn.errors import ConfigError


def output_units(model) -> int:
    """How many units the model's output has (1 = binary with a sigmoid).

    Example:
        >>> from medcnn.models.classifier import build_classifier
        >>> output_units(build_classifier("resnet50", 2, weights=None, input_size=32))  # doctest: +SKIP
        1
    """
    return int(model.outputs[0].shape[-1])


def compile_classifier(model, *, learning_rate: float = 1e-3, jit_compile="auto"):
    """Compile with Adam at ``learning_rate``; binary cross-entropy for one output unit, else categorical.

    Args:
        model: a classifier from :func:`medcnn.models.classifier.build_classifier` (or its head).
        learning_rate: Adam's step size (the study: 1e-3 for the head, 1e-5 for fine-tuning).
        jit_compile: passed to ``Model.compile`` (see :func:`medcnn.training.precision.configure_precision`).

    Returns:
        The same model, compiled, with the metric named ``accuracy``.

    Example:
        >>> model = compile_classifier(model, learning_rate=1e-4)  # doctest: +SKIP
    """
    import keras

    if not learning_rate > 0:
        raise ConfigError(f"learning_rate={learning_rate}: expected a positive number such as 1e-3")
    binary = output_units(model) == 1
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy" if binary else "categorical_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy") if binary else keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model
