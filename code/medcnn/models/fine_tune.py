"""The study's fine-tuning stage: unfreeze the second half of the backbone.

BatchNormalization layers stay frozen, which in Keras 3 also keeps them in
inference mode (they use the moving statistics learned on ImageNet), so a few
epochs at a low learning rate refine the features without wrecking them.
"""

from __future__ import annotations

from medcnn.models.classifier import backbone_layer


def unfreeze_second_half(model) -> list[str]:
    """Make the second half of the backbone's layers trainable, BatchNormalization excepted.

    The first ``len(backbone.layers) // 2`` layers stay frozen. Recompile the model
    afterwards (for example with :func:`medcnn.training.compile.compile_classifier`
    at the study's 1e-5), since Keras fixes what is trainable when it compiles.

    Returns:
        The names of the layers that are now trainable.

    Example:
        >>> from medcnn.models.classifier import build_classifier
        >>> model = build_classifier("resnet50", weights=None, input_size=32)  # doctest: +SKIP
        >>> names = unfreeze_second_half(model)  # doctest: +SKIP
        >>> names[-1]  # doctest: +SKIP
        'conv5_block3_out'
    """
    import keras

    backbone = backbone_layer(model)
    backbone.trainable = True
    layers = backbone.layers
    first_unfrozen = len(layers) // 2
    unfrozen = []
    for position, layer in enumerate(layers):
        trainable = position >= first_unfrozen and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        if trainable:
            unfrozen.append(layer.name)
    return unfrozen
