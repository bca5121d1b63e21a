"""Confidence intervals for a proportion from counts: how sure a test-set accuracy is.

An accuracy measured on ``total`` test images is an estimate; the Wilson score
interval says which true accuracies are compatible with seeing ``correct`` of them
right. It behaves well near 0 and 1 and for small test sets, where the textbook
normal interval does not. Two results whose intervals overlap widely are not shown
to differ by that test set.

Example:
    >>> low, high = wilson_interval(correct=426, total=459)
    >>> round(low, 3), round(high, 3)
    (0.901, 0.948)
"""

from __future__ import annotations

import math
from statistics import NormalDist

from medcnn.errors import DataError


def wilson_interval(correct: int, total: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for the proportion ``correct / total`` at ``confidence``.

    Args:
        correct: how many of the ``total`` images were classified correctly (0 to ``total``).
        total: how many images were tested (at least 1).
        confidence: the interval's coverage, between 0 and 1 (default 0.95).

    Example:
        >>> [round(bound, 3) for bound in wilson_interval(correct=581, total=640)]
        [0.883, 0.928]
    """
    if total < 1 or int(total) != total:
        raise DataError(f"total={total!r}: expected a whole number of test images, at least 1")
    if not 0 <= correct <= total or int(correct) != correct:
        raise DataError(f"correct={correct!r}: expected a whole number between 0 and total={total}")
    if not 0 < confidence < 1:
        raise DataError(f"confidence={confidence!r}: expected a number between 0 and 1, e.g. 0.95")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    proportion = correct / total
    denominator = 1 + z**2 / total
    centre = (proportion + z**2 / (2 * total)) / denominator
    half = z * math.sqrt(proportion * (1 - proportion) / total + z**2 / (4 * total**2)) / denominator
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == total else min(1.0, centre + half)
    return low, high
