"""Grad-CAM: where in an image did the network look to score a class?

Grad-CAM (Selvaraju et al. 2017) takes the feature maps ``A`` of one
convolutional layer and the gradient of a class score ``y`` with respect to
them. Each channel's weight is its gradient averaged over the map; the heatmap
is ``relu(sum_k weight_k * A_k)``, enlarged to the image size and scaled to
0-1 per image. The score is the class's *logit* (the output layer's value before
its softmax or sigmoid), so a confident prediction does not flatten the gradient.

The model is split at the chosen layer into a *prefix* (images to feature maps)
and a *tail* (feature maps to logits); both are Keras models or plain
``keras.ops`` code, so the whole computation is backend-agnostic except the
gradient itself: Keras 3 has no backend-agnostic gradient, so
:func:`_gradient` dispatches on ``keras.backend.backend()`` to
``tf.GradientTape`` or ``jax.grad``.

Works for the classifiers of :func:`medcnn.models.classifier.build_classifier`
(the layer is looked up inside the nested backbone) and for plain functional
models (a layer of the model itself).

Example:
    >>> from medcnn.models.classifier import build_classifier   # doctest: +SKIP
    >>> model = build_classifier("vgg16", 3, weights=None, input_size=64)  # doctest: +SKIP
    >>> grad_cam(model, images[:4]).shape  # doctest: +SKIP
    (4, 64, 64)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medcnn.errors import ConfigError
from medcnn.models.backbones import BACKBONE_LAYER_NAME

# Layers that keep a feature map's meaning: the default layer moves past them
# (ResNet's add -> ReLU, Inception's BatchNorm -> ReLU) to the block's output.
_PASS_THROUGH_LAYERS = ("Activation", "ReLU", "BatchNormalization", "LeakyReLU")
_CONVOLUTION_LAYERS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")


@dataclass
class _Split:
    """A model cut at one layer: images -> feature maps, feature maps -> logits."""

    layer_name: str
    prefix: object  # callable: images -> feature maps
    tail: object  # callable: feature maps -> logits (before the output activation)
    activation: str  # "softmax", "sigmoid" or "linear": what turns logits into probabilities


def _is_rank4(layer) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def _is_graph_output(graph, layer) -> bool:
    """Whether ``layer`` computes ``graph``'s output.

    Compared by the operation that made the output tensor, not by the tensor alone:
    Keras before 3.14 (Colab's 3.13) can hand out a different tensor object for it.
    """
    output = graph.outputs[0]
    history = getattr(output, "_keras_history", None)
    return output is layer.output or (history is not None and history[0] is layer)


def _tail_model(graph, layer):
    """A model from ``layer``'s output to ``graph``'s output, or ``None`` if the rest needs other inputs."""
    import keras

    if _is_graph_output(graph, layer):
        return None  # the layer is the graph's output: the tail is the identity
    try:
        tail = keras.Model(layer.output, graph.outputs[0])
    except ValueError:
        return False
    # Keras before 3.14 (Colab's 3.13) accepts a cut whose later layers also read
    # tensors from before it, pulling the graph's input in; such a tail cannot run alone.
    position = next(index for index, candidate in enumerate(graph.layers) if candidate is layer)
    earlier = {id(candidate) for candidate in graph.layers[: position + 1]}
    if any(id(candidate) in earlier for candidate in tail.layers):
        return False
    return tail


def _default_layer(graph):
    """The last convolutional layer of ``graph``, moved forward to a point the rest can be computed from.

    In a plain chain (VGG) that is the last convolution itself; in a residual or
    Inception network the block after it also reads other tensors, so the layer
    moves forward to the first output from which the rest of the network is a
    chain (ResNet-50: ``conv5_block3_out``; Inception-V3: ``mixed10``).
    """
    layers = list(graph.layers)
    last_convolution = None
    for position, layer in enumerate(layers):
        if type(layer).__name__ in _CONVOLUTION_LAYERS:
            last_convolution = position
    if last_convolution is None:
        raise ConfigError(
            f"model {graph.name!r} has no convolutional layer: Grad-CAM needs one; pass layer=<name> "
            "of a layer with a (batch, height, width, channels) output"
        )
    for position in range(last_convolution, len(layers)):
        layer = layers[position]
        if not _is_rank4(layer) or _tail_model(graph, layer) is False:
            continue
        # Move past activations and normalisations that directly follow it.
        while position + 1 < len(layers) and type(layers[position + 1]).__name__ in _PASS_THROUGH_LAYERS:
            following = layers[position + 1]
            if not _is_rank4(following) or _tail_model(graph, following) is False:
                break
            position += 1
        return layers[position]
    raise ConfigError(f"model {graph.name!r}: found no layer after the last convolution to compute Grad-CAM at")


def _find_layer(graph, name: str):
    try:
        layer = graph.get_layer(name)
    except ValueError:
        names = [layer.name for layer in graph.layers if _is_rank4(layer)]
        raise ConfigError(
            f"layer={name!r}: model {graph.name!r} has no such layer; layers with feature maps: "
            f"{', '.join(names[-8:])}"
        ) from None
    if not _is_rank4(layer):
        raise ConfigError(
            f"layer={name!r} has output shape {tuple(layer.output.shape)}: Grad-CAM needs a layer with "
            "feature maps, (batch, height, width, channels)"
        )
    return layer


def _output_layer(model):
    """The model's last Dense layer and its activation name (the logits are computed before the activation)."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Dense):
        activation = getattr(last.activation, "__name__", "linear")
        if activation in ("softmax", "sigmoid", "linear"):
            return last, activation
    return None, "linear"


def _head_after_backbone(model, backbone, output_layer, backbone_output, end_tensor):
    """The layers between the backbone and the output layer, as one callable.

    The classifier's head is a chain (Flatten, then Dense layers), so it is replayed
    layer by layer: a ``keras.Model`` cut out of the middle of the graph fails on
    Keras before 3.14 (Colab's 3.13 among them) when it is called.
    """
    import keras

    position = next(index for index, candidate in enumerate(model.layers) if candidate is backbone)
    head = [candidate for candidate in model.layers[position + 1 :] if candidate is not output_layer]
    is_chain = all(
        len(candidate._inbound_nodes) == 1 and len(candidate._inbound_nodes[0].input_tensors) == 1
        for candidate in head
    )
    if not is_chain:
        return keras.Model(backbone_output, end_tensor)

    def replay(values, training=False):
        for head_layer in head:
            values = head_layer(values, training=training)
        return values

    return replay


def _split_model(model, layer: str | None) -> _Split:
    """Cut ``model`` at ``layer`` (default: the last convolutional layer) into prefix and tail."""
    import keras

    output_layer, activation = _output_layer(model)
    # The outer graph ends at the logits when the output layer is a Dense with an activation.
    end_tensor = output_layer.input if output_layer is not None else model.outputs[0]

    def logits_from(values):
        if output_layer is None:
            return values
        logits = keras.ops.matmul(keras.ops.cast(values, "float32"), keras.ops.cast(output_layer.kernel, "float32"))
        if output_layer.use_bias:
            logits = logits + keras.ops.cast(output_layer.bias, "float32")
        return logits

    nested = [candidate for candidate in model.layers if candidate.name == BACKBONE_LAYER_NAME]
    if nested and isinstance(nested[0], keras.Model):
        backbone = nested[0]
        chosen = _find_layer(backbone, layer) if layer is not None else _default_layer(backbone)
        node = backbone._inbound_nodes[0]
        backbone_input = node.input_tensors[0]
        backbone_output = node.output_tensors[0]
        before = keras.Model(model.inputs, backbone_input)
        inside = keras.Model(backbone.inputs, chosen.output) if not _is_graph_output(backbone, chosen) else None
        rest_of_backbone = _tail_model(backbone, chosen)
        if rest_of_backbone is False:
            raise ConfigError(
                f"layer={chosen.name!r}: the layers after it also read other tensors (a residual or Inception "
                "block), so its gradient cannot be taken alone; choose the block's output or leave layer=None"
            )
        after = _head_after_backbone(model, backbone, output_layer, backbone_output, end_tensor)

        def prefix(images):
            x = before(images, training=False)
            return inside(x, training=False) if inside is not None else backbone(x, training=False)

        def tail(maps):
            x = rest_of_backbone(maps, training=False) if rest_of_backbone is not None else maps
            return logits_from(after(x, training=False))

        return _Split(chosen.name, prefix, tail, activation)

    chosen = _find_layer(model, layer) if layer is not None else _default_layer(model)
    try:
        after = keras.Model(chosen.output, end_tensor)
    except ValueError:
        raise ConfigError(
            f"layer={chosen.name!r}: the layers after it also read other tensors, so its gradient cannot be "
            "taken alone; choose a later layer or leave layer=None"
        ) from None
    before = keras.Model(model.inputs, chosen.output)
    return _Split(
        chosen.name,
        lambda images: before(images, training=False),
        lambda maps: logits_from(after(maps, training=False)),
        activation,
    )


def _gradient(function, values):
    """The gradient of ``sum(function(values))`` with respect to ``values``, on the current Keras backend.

    The one backend-specific function of Grad-CAM (Keras 3 has no portable
    gradient): ``tf.GradientTape`` on TensorFlow, ``jax.grad`` on JAX. Each
    image's score depends only on its own feature maps (the model runs in
    inference mode), so the gradient of the sum holds every image's own gradient.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow

        values = tensorflow.convert_to_tensor(values)
        with tensorflow.GradientTape() as tape:
            tape.watch(values)
            total = tensorflow.reduce_sum(function(values))
        return tape.gradient(total, values)
    if backend == "jax":
        import jax

        return jax.grad(lambda inputs: function(inputs).sum())(values)
    raise ConfigError(
        f"Grad-CAM runs on the TensorFlow and JAX backends; this Keras uses {backend!r}: "
        "set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing Keras"
    )


def _class_scores(logits, classes, activation: str):
    """The score of each image's class: its logit (a single sigmoid logit counts for class 1, minus it for class 0)."""
    import keras

    if logits.shape[-1] == 1:
        sign = keras.ops.convert_to_tensor(np.where(classes == 1, 1.0, -1.0).astype("float32"))
        return logits[:, 0] * sign
    one_hot = keras.ops.one_hot(keras.ops.convert_to_tensor(classes), logits.shape[-1])
    return keras.ops.sum(logits * one_hot, axis=-1)


def _probabilities(logits: np.ndarray, activation: str) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if activation == "sigmoid" or (activation == "linear" and logits.shape[-1] == 1):
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _check_images(model, images) -> np.ndarray:
    array = np.asarray(images)
    expected = tuple(model.inputs[0].shape[1:])
    if array.ndim == len(expected):
        array = array[None]
    if array.ndim != len(expected) + 1 or any(
        want is not None and have != want for have, want in zip(array.shape[1:], expected)
    ):
        raise ConfigError(
            f"images have shape {array.shape}: model {model.name!r} takes a batch of shape (n, "
            f"{', '.join(str(size) for size in expected)})"
        )
    if len(array) == 0:
        raise ConfigError("images is empty: give at least one image")
    return array.astype(model.inputs[0].dtype or "float32", copy=False)


def grad_cam_with_probabilities(
    model, images, *, class_index=None, layer: str | None = None, batch_size: int = 32
):
    """Return ``(heatmaps, probabilities, classes, layer_name)``: Grad-CAM and what the model predicted.

    ``heatmaps`` has shape ``(images, height, width)``, values 0-1 (each image
    scaled to its own maximum; all zeros where no location raises the score);
    ``probabilities`` is ``(images, classes)`` (two columns for a sigmoid output);
    ``classes`` the class each heatmap explains; ``layer_name`` the layer used.
    The arguments are those of :func:`grad_cam`.

    Example:
        >>> heatmaps, probabilities, classes, name = grad_cam_with_probabilities(model, images)  # doctest: +SKIP
        >>> name  # doctest: +SKIP
        'block5_conv3'
    """
    import keras

    images = _check_images(model, images)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: expected a positive whole number")
    split = _split_model(model, layer)
    heatmaps, probabilities, classes = [], [], []
    for start in range(0, len(images), int(batch_size)):
        batch = images[start : start + int(batch_size)]
        maps = split.prefix(keras.ops.convert_to_tensor(batch))
        maps = keras.ops.cast(maps, "float32")
        logits = keras.ops.convert_to_numpy(split.tail(maps))
        batch_probabilities = _probabilities(logits, split.activation)
        num_classes = batch_probabilities.shape[1]
        if class_index is None:
            chosen = batch_probabilities.argmax(axis=1)
        else:
            chosen = np.broadcast_to(np.asarray(class_index), (len(batch),)).astype(np.int64)
            if chosen.min() < 0 or chosen.max() >= num_classes:
                raise ConfigError(
                    f"class_index={class_index!r}: the model has {num_classes} classes, numbered 0 to {num_classes - 1}"
                )
        chosen = np.ascontiguousarray(chosen, dtype=np.int32)
        gradients = _gradient(lambda values: _class_scores(split.tail(values), chosen, split.activation), maps)
        weights = keras.ops.mean(gradients, axis=(1, 2), keepdims=True)
        cam = keras.ops.relu(keras.ops.sum(weights * maps, axis=-1))[..., None]
        cam = keras.ops.image.resize(cam, tuple(batch.shape[1:3]), interpolation="bilinear")[..., 0]
        cam = np.maximum(keras.ops.convert_to_numpy(cam).astype(np.float32), 0.0)
        peaks = cam.reshape(len(cam), -1).max(axis=1)
        cam = np.where(peaks[:, None, None] > 0, cam / np.where(peaks > 0, peaks, 1.0)[:, None, None], 0.0)
        heatmaps.append(cam.astype(np.float32))
        probabilities.append(batch_probabilities)
        classes.append(chosen.astype(np.int64))
    return np.concatenate(heatmaps), np.concatenate(probabilities), np.concatenate(classes), split.layer_name


def grad_cam(model, images, class_index=None, layer: str | None = None, *, batch_size: int = 32) -> np.ndarray:
    """Return one Grad-CAM heatmap per image, shape ``(images, height, width)``, values 0-1.

    Args:
        model: a Keras classifier: one built by
            :func:`medcnn.models.classifier.build_classifier` (VGG-16, ResNet-50,
            Inception-V3) or any functional model with a convolutional layer.
        images: a batch shaped like the model's input (uint8 0-255 for the course's
            classifiers), or a single image.
        class_index: the class to explain: ``None`` (each image's predicted
            class), one integer for all images, or one per image.
        layer: the layer whose feature maps are weighted; default the last
            convolutional layer (moved to its block's output in ResNet-50 and
            Inception-V3: ``conv5_block3_out``, ``mixed10``; in VGG-16 ``block5_conv3``).
        batch_size: images per gradient computation.

    Example:
        >>> import numpy as np, keras
        >>> inputs = keras.Input((16, 16, 1))
        >>> x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        >>> grad_cam(model, np.random.rand(3, 16, 16, 1)).shape
        (3, 16, 16)
    """
    heatmaps, _, _, _ = grad_cam_with_probabilities(
        model, images, class_index=class_index, layer=layer, batch_size=batch_size
    )
    return heatmaps


def heatmap_mass_inside(heatmaps, masks) -> np.ndarray:
    """Return, per heatmap, the fraction of its total mass inside the mask (NaN for an all-zero heatmap).

    ``masks`` is boolean, one per heatmap or one for all, same height and width.

    Example:
        >>> heatmap = np.zeros((1, 4, 4)); heatmap[0, :2, :2] = 1.0
        >>> mask = np.zeros((4, 4), bool); mask[:2, :] = True
        >>> heatmap_mass_inside(heatmap, mask).tolist()
        [1.0]
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.ndim == 2:
        heatmaps = heatmaps[None]
    masks = np.broadcast_to(np.asarray(masks, dtype=bool), heatmaps.shape)
    total = heatmaps.sum(axis=(1, 2))
    inside = (heatmaps * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)
