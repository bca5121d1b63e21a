"""Class probabilities from a trained Keras model, in the order of the images.

:func:`predict_probabilities` runs a model over a :class:`medcnn.batches.ArrayBatches`,
any other ``keras.utils.PyDataset`` (or iterable of batches) or a plain array, and
returns one row of class probabilities per image. A binary model with one sigmoid
unit gives the two columns ``[1 - p, p]``, so binary and multiclass results look
alike downstream. For an ``ArrayBatches`` the rows follow ``batches.labels`` even
when the batches are shuffled.
"""

from __future__ import annotations

import numpy as np

from medcnn.errors import ConfigError


def as_probability_columns(outputs) -> np.ndarray:
    """Turn raw model outputs into one probability column per class (float64).

    One sigmoid unit (shape ``(n,)`` or ``(n, 1)``) becomes ``[1 - p, p]``;
    softmax outputs are returned as they are.

    Example:
        >>> as_probability_columns([[0.25], [1.0]]).tolist()
        [[0.75, 0.25], [0.0, 1.0]]
    """
    array = np.asarray(outputs, dtype=np.float64)
    if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
        positive = array.reshape(-1)
        array = np.stack([1.0 - positive, positive], axis=1)
    if array.ndim != 2:
        raise ConfigError(
            f"model outputs have shape {array.shape}: expected (images, classes) from a classifier head"
        )
    if array.size and (array.min() < -1e-3 or array.max() > 1 + 1e-3):
        raise ConfigError(
            f"model outputs run from {array.min():.4g} to {array.max():.4g}: expected probabilities in [0, 1] "
            f"(does the model end in a sigmoid or softmax layer?)"
        )
    return array


def predicted_labels(probabilities) -> np.ndarray:
    """Return the most probable class of each row (ties go to the lower label).

    For two classes this is ``p > 0.5`` for the positive class, as Keras'
    binary accuracy counts it.

    Example:
        >>> predicted_labels([[0.2, 0.7, 0.1], [0.5, 0.5, 0.0]]).tolist()
        [1, 0]
        >>> predicted_labels([[0.9], [0.5], [0.51]]).tolist()
        [1, 0, 1]
    """
    return as_probability_columns(probabilities).argmax(axis=1).astype(np.int64)


def _batch_inputs(item):
    """The inputs of one batch: a PyDataset yields ``(inputs,)`` or ``(inputs, targets[, weights])``."""
    return item[0] if isinstance(item, tuple) else item


def predict_probabilities(model, batches, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Predict class probabilities for every image, shape ``(images, classes)``.

    Args:
        model: a Keras model ending in a sigmoid (one unit) or softmax layer.
        batches: a :class:`medcnn.batches.ArrayBatches`, another ``keras.utils.PyDataset``
            or iterable of batches (``(inputs,)``, ``(inputs, targets)`` or ``inputs``), or an
            array of inputs.
        batch_size: images per call when ``batches`` is an array.
        progress: show a progress bar.

    Returns:
        float64 probabilities, one row per image; for an ``ArrayBatches`` in the order
        of ``batches.indices`` (matching ``batches.labels``), whatever the shuffle.

    Example:
        >>> import keras, numpy as np
        >>> from medcnn.batches import ArrayBatches
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
        >>> batches = ArrayBatches(np.zeros((5, 2), "float32"), [0, 1, 0, 1, 1], batch_size=2, shuffle=True)
        >>> predict_probabilities(model, batches).shape
        (5, 2)
    """
    from tqdm.auto import tqdm

    if batch_size <= 0:
        raise ConfigError(f"batch_size={batch_size}: expected a positive whole number")
    order = None
    if hasattr(batches, "__getitem__") and hasattr(batches, "__len__") and not hasattr(batches, "shape"):
        # A PyDataset: index its batches directly, so no epoch ends and the order stays fixed.
        order = getattr(batches, "order", None)
        order = None if order is None else np.asarray(order).copy()
        items = (_batch_inputs(batches[index]) for index in range(len(batches)))
        total = len(batches)
    elif hasattr(batches, "shape"):
        total = -(-len(batches) // batch_size)
        items = (batches[start : start + batch_size] for start in range(0, len(batches), batch_size))
    else:
        items = (_batch_inputs(item) for item in batches)
        total = None
    outputs = []
    for batch_inputs in tqdm(items, total=total, desc="predict", unit="batch", disable=not progress):
        prediction = model.predict_on_batch(batch_inputs)
        if isinstance(prediction, (list, tuple, dict)):
            raise ConfigError("the model has several outputs: expected a classifier with one output layer")
        outputs.append(np.asarray(prediction))
    if not outputs:
        raise ConfigError("there were no batches to predict: the batches or the input array are empty")
    probabilities = as_probability_columns(np.concatenate(outputs, axis=0))
    if order is not None:
        if len(order) != len(probabilities):
            raise ConfigError(
                f"the batches served {len(probabilities)} images but their order lists {len(order)}: "
                f"expected one prediction per image"
            )
        in_row_order = np.empty_like(probabilities)
        in_row_order[order] = probabilities
        probabilities = in_row_order
    return probabilities
