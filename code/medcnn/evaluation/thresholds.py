"""Choosing the decision threshold of a binary screening test on the validation subset.

A classifier with one sigmoid unit gives each image a score ``p``; calling an image
positive when ``p`` is above a threshold trades sensitivity (positives found) for
specificity (negatives let go). A screening programme fixes the sensitivity it needs
first, so the threshold is chosen on the **validation** subset as the highest one that
reaches that sensitivity there, and then applied unchanged to the test subset, which
says how well the choice holds on new images.

Example:
    >>> threshold = threshold_for_sensitivity([0, 0, 1, 1, 1, 1], [0.1, 0.6, 0.4, 0.7, 0.8, 0.9], target=0.75)
    >>> threshold
    0.7
    >>> rates_at_threshold([0, 0, 1, 1, 1, 1], [0.1, 0.6, 0.4, 0.7, 0.8, 0.9], threshold=threshold)["sensitivity"]
    0.75
"""

from __future__ import annotations

import numpy as np

from medcnn.errors import DataError


def _binary(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    values = np.asarray(scores, dtype=float)
    if values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]  # two probability columns (1 - p, p): keep p
    if labels.ndim != 1 or values.ndim != 1 or len(labels) != len(values):
        raise DataError(f"y_true has shape {labels.shape} and scores {values.shape}: expected one label (0 or 1) "
                        "and one score per image (or the two columns of predict_probabilities)")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"y_true holds {sorted(set(labels.tolist()))}: expected 0 (negative) and 1 (positive) only")
    if not np.isfinite(values).all():
        raise DataError("scores hold NaN or infinite values: expected probabilities between 0 and 1")
    return labels.astype(int), values


def threshold_for_sensitivity(y_true, scores, *, target: float = 0.95) -> float:
    """The highest threshold at which at least ``target`` of the positives score at or above it.

    Images with a score ``>=`` the threshold are called positive. Choose it on the
    validation subset and apply it to the test subset; the highest such threshold
    gives the most specificity the target allows.

    Args:
        y_true: 0 (negative, e.g. healthy) or 1 (positive, e.g. diseased) per image.
        scores: the positive class's probability per image (or both columns of
            :func:`medcnn.evaluation.predictions.predict_probabilities`).
        target: the sensitivity to reach, between 0 and 1.

    Raises:
        DataError: no positive image (the sensitivity is undefined), or a bad target.

    Example:
        >>> threshold_for_sensitivity([0, 1, 1, 1], [0.2, 0.3, 0.6, 0.9], target=1.0)
        0.3
    """
    labels, values = _binary(y_true, scores)
    if not 0 < target <= 1:
        raise DataError(f"target={target!r}: expected a sensitivity above 0 and at most 1, e.g. 0.95")
    positives = np.sort(values[labels == 1])[::-1]
    if len(positives) == 0:
        raise DataError("y_true has no positive image: a sensitivity cannot be reached on it; "
                        "choose the threshold on a subset with positive images")
    needed = int(np.ceil(target * len(positives) - 1e-9))
    return float(positives[max(needed, 1) - 1])


def rates_at_threshold(y_true, scores, *, threshold: float = 0.5) -> dict:
    """Sensitivity, specificity and the counts behind them when ``score >= threshold`` is called positive.

    Returns:
        ``threshold``, ``sensitivity``, ``specificity`` (NaN where a class is absent), and the
        counts ``true_positives``, ``false_negatives``, ``true_negatives``, ``false_positives``.

    Example:
        >>> rates = rates_at_threshold([0, 0, 1, 1], [0.2, 0.6, 0.4, 0.9], threshold=0.5)
        >>> rates["sensitivity"], rates["specificity"], rates["false_positives"]
        (0.5, 0.5, 1)
    """
    labels, values = _binary(y_true, scores)
    called = values >= threshold
    counts = {
        "true_positives": int((called & (labels == 1)).sum()),
        "false_negatives": int((~called & (labels == 1)).sum()),
        "true_negatives": int((~called & (labels == 0)).sum()),
        "false_positives": int((called & (labels == 0)).sum()),
    }
    positives = counts["true_positives"] + counts["false_negatives"]
    negatives = counts["true_negatives"] + counts["false_positives"]
    return {
        "threshold": float(threshold),
        "sensitivity": counts["true_positives"] / positives if positives else float("nan"),
        "specificity": counts["true_negatives"] / negatives if negatives else float("nan"),
        **counts,
    }
