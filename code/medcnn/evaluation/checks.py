"""Input checks shared by the evaluation functions.

Each check turns what a caller passes (lists, pandas columns, float32 model
outputs) into plain NumPy arrays of a known shape and type, or raises a
:class:`~medcnn.errors.ConfigError` that names the value at fault and the fix.

Example:
    >>> check_labels([0, 2, 1], num_classes=3).tolist()
    [0, 2, 1]
"""

from __future__ import annotations

import numpy as np

from medcnn.errors import ConfigError

# Model outputs in float16 or float32 rarely sum to exactly one.
PROBABILITY_TOLERANCE = 1e-2


def check_class_names(class_names) -> list[str]:
    """Return the class names as a list of distinct strings (at least two).

    Example:
        >>> check_class_names(("healthy", "diseased"))
        ['healthy', 'diseased']
    """
    if class_names is None or isinstance(class_names, str):
        raise ConfigError(f"class_names={class_names!r}: expected a list of class names in label order")
    names = [str(name) for name in class_names]
    if len(names) < 2:
        raise ConfigError(f"class_names={names}: a classifier needs at least 2 classes")
    if len(set(names)) != len(names):
        raise ConfigError(f"class_names={names}: the names must be distinct")
    return names


def check_labels(labels, *, num_classes: int, name: str = "y_true") -> np.ndarray:
    """Return integer labels as a 1-D int64 array, each in ``0..num_classes - 1``.

    Example:
        >>> check_labels([1.0, 0.0], num_classes=2).dtype.name
        'int64'
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ConfigError(f"{name} has shape {array.shape}: expected one integer label per image (a 1-D array)")
    if array.size == 0:
        raise ConfigError(f"{name} is empty: there is nothing to evaluate")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ConfigError(f"{name} has dtype {array.dtype}: expected integer labels (0, 1, ...), not class names")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise ConfigError(f"{name} holds non-integer values: expected integer labels (0, 1, ...)")
    array = array.astype(np.int64)
    if array.min() < 0 or array.max() >= num_classes:
        raise ConfigError(
            f"{name} runs from {array.min()} to {array.max()}: expected labels 0..{num_classes - 1} "
            f"for {num_classes} classes"
        )
    return array


def check_probabilities(probabilities, *, num_classes: int, num_items: int | None = None) -> np.ndarray:
    """Return class probabilities as a float64 array of shape ``(n, num_classes)``.

    A single column (or a 1-D array) with two classes is read as the sigmoid
    probability of class 1 and becomes the two columns ``[1 - p, p]``. Rows of
    three or more classes must sum to one (softmax outputs).

    Example:
        >>> check_probabilities([0.25, 0.9], num_classes=2).tolist()
        [[0.75, 0.25], [0.09999999999999998, 0.9]]
    """
    array = np.asarray(probabilities, dtype=np.float64)
    if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
        if num_classes != 2:
            raise ConfigError(
                f"probabilities have one column but there are {num_classes} classes: "
                f"expected one column per class (a softmax output)"
            )
        positive = array.reshape(-1)
        array = np.stack([1.0 - positive, positive], axis=1)
    if array.ndim != 2 or array.shape[1] != num_classes:
        raise ConfigError(
            f"probabilities have shape {array.shape}: expected (images, {num_classes}), one column per class"
        )
    if num_items is not None and array.shape[0] != num_items:
        raise ConfigError(f"{array.shape[0]} rows of probabilities for {num_items} labels: expected one row per image")
    if not np.all(np.isfinite(array)):
        raise ConfigError("probabilities hold NaN or infinite values: the model diverged or its outputs are not probabilities")
    if array.min() < -PROBABILITY_TOLERANCE or array.max() > 1 + PROBABILITY_TOLERANCE:
        raise ConfigError(
            f"probabilities run from {array.min():.4g} to {array.max():.4g}: expected values in [0, 1] "
            f"(did the model end in a sigmoid or softmax layer?)"
        )
    sums = array.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > PROBABILITY_TOLERANCE):
        worst = sums[np.argmax(np.abs(sums - 1.0))]
        raise ConfigError(
            f"a row of probabilities sums to {worst:.4g}: expected each row to sum to 1 (a softmax output)"
        )
    array = np.clip(array, 0.0, 1.0)
    return array / array.sum(axis=1, keepdims=True)


def check_same_length(num_items: int, other, *, name: str) -> None:
    """Raise unless ``other`` has one entry per image.

    Example:
        >>> check_same_length(2, ["a", "b"], name="groups")
    """
    if len(other) != num_items:
        raise ConfigError(f"{name} has {len(other)} entries for {num_items} images: expected one per image")
