"""Bootstrap confidence intervals for classification metrics.

A test set is a sample; the bootstrap asks how much a metric would move on
another sample of the same size. Each resample draws, with replacement, as many
*units* as the test set has: images, or patients where patient ids are known
(slices of one patient are not independent, so resampling images would make the
interval too narrow). The interval is the percentile interval of the metric over
the resamples.

A resample is stored as a row of counts (how often each image was drawn), so the
named metrics (``"accuracy"``, ``"f1_macro"``, ``"roc_auc"``, ...) are computed
for all resamples at once with matrix products; any other metric can be given as
a function ``metric(y_true, probabilities) -> float`` and is called per resample
on the same draws.

Example:
    >>> import numpy as np
    >>> y_true = np.array([0, 1] * 50)
    >>> probabilities = np.tile([[0.8, 0.2], [0.3, 0.7]], (50, 1))
    >>> bootstrap_interval("accuracy", y_true, probabilities, samples=200, seed=0)
    (1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas

from medcnn.errors import ConfigError
from medcnn.evaluation.checks import check_labels, check_probabilities, check_same_length

NAMED_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted", "roc_auc")

# Resamples are drawn in chunks of about this many counts, to bound memory.
_CHUNK_CELLS = 2_000_000


def group_codes(groups, *, num_items: int) -> np.ndarray | None:
    """Return one integer code per image for its patient, or ``None`` when no ids are given.

    Empty ids (``None``, NaN, ``""``) mean "unknown patient": if every id is
    empty the images are the resampling units (``None`` is returned); otherwise
    an image without an id counts as a patient of its own.

    Example:
        >>> group_codes(["p1", "p2", "p1", ""], num_items=4).tolist()
        [0, 1, 0, 2]
        >>> group_codes(["", None], num_items=2) is None
        True
    """
    if groups is None:
        return None
    values = list(groups)
    check_same_length(num_items, values, name="groups")
    names = ["" if _is_missing(value) else str(value).strip() for value in values]
    if not any(names):
        return None
    known = sorted({name for name in names if name})
    code_of = {name: code for code, name in enumerate(known)}
    codes = np.empty(num_items, dtype=np.int64)
    next_code = len(known)
    for position, name in enumerate(names):
        if name:
            codes[position] = code_of[name]
        else:
            codes[position] = next_code
            next_code += 1
    return codes


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pandas.isna(value))
    except (TypeError, ValueError):
        return False


def bootstrap_counts(
    num_items: int, *, groups=None, samples: int = 1000, seed: int = 0
) -> Iterator[np.ndarray]:
    """Yield resamples as count arrays of shape ``(chunk, num_items)``, ``samples`` rows in all.

    Entry ``[r, i]`` is how many times image ``i`` is in resample ``r``. With
    ``groups``, whole patients are drawn with replacement and each image counts
    as often as its patient was drawn. The same ``seed`` gives the same resamples.

    Example:
        >>> counts = np.concatenate(list(bootstrap_counts(5, samples=3, seed=1)))
        >>> counts.shape, counts.sum(axis=1).tolist()
        ((3, 5), [5, 5, 5])
    """
    if int(samples) != samples or samples < 1:
        raise ConfigError(f"samples={samples}: expected a positive whole number of bootstrap resamples")
    if num_items < 1:
        raise ConfigError("there are no images to resample")
    codes = group_codes(groups, num_items=num_items)
    units = num_items if codes is None else int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, min(int(samples), _CHUNK_CELLS // max(units, num_items)))
    done = 0
    while done < samples:
        rows = min(rows_per_chunk, int(samples) - done)
        draws = rng.integers(0, units, size=(rows, units))
        offsets = (np.arange(rows) * units)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=rows * units).reshape(rows, units)
        yield counts if codes is None else counts[:, codes]
        done += rows


def weighted_metrics(
    names: Sequence[str], y_true: np.ndarray, probabilities: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Compute named metrics for many weightings of the same images at once.

    ``weights`` has shape ``(resamples, images)``; with all-ones rows the
    results equal scikit-learn's (``zero_division=0``, all classes as labels).
    A metric that is undefined for a resample (ROC AUC when a class is absent)
    is NaN there.

    Example:
        >>> y = np.array([0, 1, 1])
        >>> p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
        >>> weighted_metrics(["accuracy"], y, p, np.ones((1, 3)))["accuracy"].round(3).tolist()
        [0.667]
    """
    unknown = [name for name in names if name not in NAMED_METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}: expected one of {', '.join(NAMED_METRICS)}")
    weights = np.asarray(weights, dtype=np.float64)
    num_classes = probabilities.shape[1]
    results: dict[str, np.ndarray] = {}
    confusion_names = [name for name in names if name != "roc_auc"]
    if confusion_names:
        y_pred = probabilities.argmax(axis=1)
        cells = np.zeros((len(y_true), num_classes * num_classes))
        cells[np.arange(len(y_true)), y_true * num_classes + y_pred] = 1.0
        confusion = (weights @ cells).reshape(len(weights), num_classes, num_classes)
        results.update(_confusion_metrics(confusion_names, confusion))
    if "roc_auc" in names:
        results["roc_auc"] = _weighted_roc_auc(y_true, probabilities, weights)
    return {name: results[name] for name in names}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _confusion_metrics(names, confusion: np.ndarray) -> dict[str, np.ndarray]:
    true_positive = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    total = support.sum(axis=1)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support)
    f1 = _ratio(2.0 * true_positive, support + predicted)
    available = {
        "accuracy": lambda: true_positive.sum(axis=1) / total,
        "precision_macro": lambda: precision.mean(axis=1),
        "recall_macro": lambda: recall.mean(axis=1),
        "f1_macro": lambda: f1.mean(axis=1),
        "f1_weighted": lambda: (f1 * support).sum(axis=1) / total,
    }
    return {name: available[name]() for name in names}


def _weighted_binary_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC (ties count one half) for each row of weights."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    sorted_weights = weights[:, order]
    is_positive = positive[order]
    positive_weight = np.add.reduceat(sorted_weights * is_positive, starts, axis=1)
    negative_weight = np.add.reduceat(sorted_weights * ~is_positive, starts, axis=1)
    negatives_below = np.cumsum(negative_weight, axis=1) - negative_weight
    numerator = (positive_weight * (negatives_below + 0.5 * negative_weight)).sum(axis=1)
    denominator = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


def _weighted_roc_auc(y_true: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    num_classes = probabilities.shape[1]
    if num_classes == 2:
        return _weighted_binary_auc(y_true == 1, probabilities[:, 1], weights)
    per_class = [_weighted_binary_auc(y_true == label, probabilities[:, label], weights) for label in range(num_classes)]
    # The macro average is undefined (NaN) whenever one class is absent, as in scikit-learn.
    return np.mean(per_class, axis=0)


def bootstrap_distributions(
    metrics: Sequence[str | Callable],
    y_true,
    probabilities,
    *,
    groups=None,
    samples: int = 1000,
    seed: int = 0,
) -> dict:
    """Return each metric's value on every resample: ``{metric: array of shape (samples,)}``.

    All metrics see the same resamples. Named metrics are vectorised; a callable
    ``metric(y_true, probabilities) -> float`` is called once per resample (a
    ``ValueError`` from it, such as scikit-learn's "only one class present",
    counts as undefined: NaN). Keys are the names, or the callables themselves.

    Example:
        >>> y = np.array([0, 1] * 20)
        >>> p = np.tile([[0.7, 0.3], [0.4, 0.6]], (20, 1))
        >>> values = bootstrap_distributions(["accuracy", "roc_auc"], y, p, samples=10)
        >>> values["accuracy"].shape, float(values["roc_auc"].min())
        ((10,), 1.0)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = probabilities.shape[1] if probabilities.ndim == 2 and probabilities.shape[1] > 1 else 2
    probabilities = check_probabilities(probabilities, num_classes=num_classes)
    y_true = check_labels(y_true, num_classes=num_classes)
    check_same_length(len(y_true), probabilities, name="probabilities")
    if not metrics:
        raise ConfigError("metrics is empty: name at least one metric, e.g. ['accuracy']")
    named = [metric for metric in metrics if isinstance(metric, str)]
    functions = [metric for metric in metrics if not isinstance(metric, str)]
    for function in functions:
        if not callable(function):
            raise ConfigError(f"metric {function!r}: expected a name from {NAMED_METRICS} or a function")
    collected: dict = {metric: [] for metric in metrics}
    all_items = np.arange(len(y_true))
    for counts in bootstrap_counts(len(y_true), groups=groups, samples=samples, seed=seed):
        if named:
            for name, values in weighted_metrics(named, y_true, probabilities, counts).items():
                collected[name].append(values)
        for function in functions:
            values = np.empty(len(counts))
            for row, row_counts in enumerate(counts):
                chosen = np.repeat(all_items, row_counts)
                try:
                    values[row] = float(function(y_true[chosen], probabilities[chosen]))
                except ValueError:
                    values[row] = np.nan
            collected[function].append(values)
    return {metric: np.concatenate(parts) for metric, parts in collected.items()}


def percentile_interval(values, *, confidence: float = 0.95) -> tuple[float, float]:
    """Return the central ``confidence`` interval of ``values``, ignoring NaN.

    ``(nan, nan)`` if no value is defined.

    Example:
        >>> percentile_interval(np.arange(101), confidence=0.5)
        (25.0, 75.0)
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence}: expected a fraction between 0 and 1, such as 0.95")
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return (float(low), float(high))


def bootstrap_interval(
    metric: str | Callable,
    y_true,
    probabilities,
    *,
    groups=None,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return the bootstrap percentile interval ``(low, high)`` of one metric.

    Args:
        metric: a name from :data:`NAMED_METRICS` or ``metric(y_true, probabilities) -> float``.
        y_true: integer labels, one per image.
        probabilities: class probabilities, shape ``(images, classes)`` (or one sigmoid column).
        groups: patient ids, one per image; patients are resampled instead of images.
        samples: how many resamples.
        confidence: the interval's coverage, e.g. 0.95.
        seed: seeds the resampling; the same seed gives the same interval.

    Example:
        >>> y = np.array([0, 1] * 30)
        >>> p = np.tile([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]], (20, 1))
        >>> low, high = bootstrap_interval("f1_macro", y, p, samples=300, seed=0)
        >>> low < high
        True
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence}: expected a fraction between 0 and 1, such as 0.95")
    values = bootstrap_distributions([metric], y_true, probabilities, groups=groups, samples=samples, seed=seed)
    return percentile_interval(values[metric], confidence=confidence)
