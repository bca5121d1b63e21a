"""Classification metrics in the study's layout, with bootstrap confidence intervals.

:func:`classification_table` is the study's per-class table (precision, recall,
F1, support and the counts of correctly and incorrectly classified images).
:func:`evaluate_predictions` gathers everything a run report needs into one
JSON-serialisable dictionary. The metrics are scikit-learn's, with
``zero_division=0`` (a class that is never predicted has precision 0).

Example:
    >>> import numpy as np
    >>> y_true = np.array([0, 0, 1, 1])
    >>> probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    >>> result = evaluate_predictions(y_true, probabilities, ["healthy", "diseased"], bootstrap_samples=100)
    >>> result["accuracy"], result["correct"], result["incorrect"]
    (0.75, 3, 1)
"""

from __future__ import annotations

import math

import numpy as np
import pandas
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from medcnn.errors import ConfigError
from medcnn.evaluation.bootstrap import bootstrap_distributions, group_codes, percentile_interval
from medcnn.evaluation.checks import check_class_names, check_labels, check_probabilities, check_same_length

TABLE_COLUMNS = ("precision", "recall", "f1", "support", "correct", "incorrect", "accuracy")
SUMMARY_ROWS = ("accuracy", "macro average", "weighted average")
COUNT_COLUMNS = ("support", "correct", "incorrect")
INTERVAL_METRICS = ("accuracy", "f1_macro", "roc_auc")


def classification_table(y_true, y_pred, class_names) -> pandas.DataFrame:
    """Return the study's results table: one row per class, then accuracy and the averages.

    Columns: ``precision``, ``recall``, ``f1``, ``support`` (images of that true
    class), ``correct`` and ``incorrect`` (of those images, how many were
    classified correctly and incorrectly) and ``accuracy``. Rows after the
    classes: ``accuracy`` (overall: support, correct, incorrect and accuracy
    filled), ``macro average`` (the unweighted mean over classes) and
    ``weighted average`` (weighted by support). Cells that do not apply are NaN.

    Example:
        >>> table = classification_table([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
        >>> table.loc["a", ["recall", "correct", "incorrect"]].tolist()
        [0.5, 1.0, 1.0]
        >>> float(table.loc["accuracy", "accuracy"])
        0.75
    """
    names = check_class_names(class_names)
    clash = sorted(set(names) & set(SUMMARY_ROWS))
    if clash:
        raise ConfigError(f"class name {clash[0]!r} is also a summary row of the table: rename the class")
    labels = list(range(len(names)))
    y_true = check_labels(y_true, num_classes=len(names), name="y_true")
    y_pred = check_labels(y_pred, num_classes=len(names), name="y_pred")
    check_same_length(len(y_true), y_pred, name="y_pred")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    correct = np.array([np.sum((y_true == label) & (y_pred == label)) for label in labels])
    table = pandas.DataFrame(
        {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "correct": correct,
            "incorrect": support - correct,
            "accuracy": np.nan,
        },
        index=pandas.Index(names, name="class"),
        dtype="float64",
    )
    total = len(y_true)
    table.loc["accuracy"] = {
        "support": total,
        "correct": int(np.sum(y_true == y_pred)),
        "incorrect": int(np.sum(y_true != y_pred)),
        "accuracy": accuracy_score(y_true, y_pred),
    }
    for row, average in (("macro average", "macro"), ("weighted average", "weighted")):
        averaged = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
        table.loc[row] = {"precision": averaged[0], "recall": averaged[1], "f1": averaged[2], "support": total}
    return table[list(TABLE_COLUMNS)]


def majority_baseline(y_true, class_names) -> dict:
    """Accuracy and macro F1 of always predicting the most frequent class of ``y_true``.

    The class is taken from the evaluated labels themselves (ties go to the lower
    label), so this is the best any constant prediction could score on this set:
    a model must beat it to have learned anything beyond the class balance.

    Example:
        >>> majority_baseline([0, 1, 1, 1], ["healthy", "diseased"])["accuracy"]
        0.75
    """
    names = check_class_names(class_names)
    y_true = check_labels(y_true, num_classes=len(names))
    label = int(np.bincount(y_true, minlength=len(names)).argmax())
    constant = np.full_like(y_true, label)
    return {
        "label": label,
        "class_name": names[label],
        "accuracy": float(accuracy_score(y_true, constant)),
        "f1_macro": float(f1_score(y_true, constant, labels=list(range(len(names))), average="macro", zero_division=0)),
        "source": "the most frequent class of the evaluated labels (y_true)",
    }


def roc_auc(y_true, probabilities, class_names) -> tuple[float | None, str | None]:
    """Return ``(auc, None)``, or ``(None, reason)`` when ROC AUC is undefined.

    Binary: the AUC of the positive class (label 1). Three or more classes: the
    unweighted mean of the one-vs-rest AUCs. Undefined when a class has no image
    in ``y_true``.

    Example:
        >>> roc_auc([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], ["a", "b"])
        (1.0, None)
    """
    names = check_class_names(class_names)
    y_true = check_labels(y_true, num_classes=len(names))
    probabilities = check_probabilities(probabilities, num_classes=len(names), num_items=len(y_true))
    absent = [names[label] for label in range(len(names)) if not np.any(y_true == label)]
    if absent:
        return None, f"class {', '.join(repr(name) for name in absent)} has no image in y_true, so ROC AUC is undefined"
    if len(names) == 2:
        return float(roc_auc_score(y_true, probabilities[:, 1])), None
    value = roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=list(range(len(names))))
    return float(value), None


def evaluate_predictions(
    y_true,
    probabilities,
    class_names,
    *,
    groups=None,
    seed: int = 0,
    bootstrap_samples: int = 1000,
    confidence: float = 0.95,
) -> dict:
    """Evaluate class probabilities against the true labels; return a JSON-serialisable dict.

    Args:
        y_true: integer labels, one per image.
        probabilities: shape ``(images, classes)``; a single sigmoid column works for two classes.
        class_names: the class names in label order.
        groups: patient ids, one per image; if any is non-empty the bootstrap resamples
            patients (an image without an id counts as its own patient), else images.
        seed: seeds the bootstrap.
        bootstrap_samples: how many resamples for the confidence intervals.
        confidence: the intervals' coverage.

    Returns:
        a dict with ``accuracy``, ``precision_macro``, ``recall_macro``, ``f1_macro``,
        ``precision_weighted``, ``recall_weighted``, ``f1_weighted``, ``roc_auc`` (and
        ``roc_auc_note`` saying why when it is ``None``), ``correct``, ``incorrect``,
        ``total``, ``classification_table`` (rows -> columns -> value, ``None`` for empty
        cells), ``confusion_matrix`` (``counts`` and row-normalised ``normalized``; rows are
        true classes, columns predicted; ``None`` for a class without images),
        ``majority_baseline`` and ``confidence_intervals`` (accuracy, macro F1 and
        ROC AUC, with the bootstrap's unit, sample count and seed).

    Example:
        >>> result = evaluate_predictions([0, 1, 2, 2], np.eye(3)[[0, 1, 2, 1]], ["a", "b", "c"],
        ...                               bootstrap_samples=50)
        >>> result["confusion_matrix"]["counts"]
        [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """
    names = check_class_names(class_names)
    num_classes = len(names)
    y_true = check_labels(y_true, num_classes=num_classes)
    probabilities = check_probabilities(probabilities, num_classes=num_classes, num_items=len(y_true))
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence}: expected a fraction between 0 and 1, such as 0.95")
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(num_classes))

    table = classification_table(y_true, y_pred, names)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    row_totals = counts.sum(axis=1, keepdims=True)
    normalized = np.where(row_totals > 0, counts / np.where(row_totals > 0, row_totals, 1), np.nan)
    auc, auc_note = roc_auc(y_true, probabilities, names)

    result: dict = {
        "class_names": names,
        "num_classes": num_classes,
        "total": int(len(y_true)),
        "correct": int(np.sum(y_true == y_pred)),
        "incorrect": int(np.sum(y_true != y_pred)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        result[f"precision_{average}"] = float(precision)
        result[f"recall_{average}"] = float(recall)
        result[f"f1_{average}"] = float(f1)
    result["roc_auc"] = auc
    result["roc_auc_note"] = auc_note
    result["roc_auc_kind"] = "positive class" if num_classes == 2 else "one-vs-rest macro average"
    result["classification_table"] = {
        str(row): {column: _json_number(value, whole=column in COUNT_COLUMNS) for column, value in values.items()}
        for row, values in table.to_dict(orient="index").items()
    }
    result["confusion_matrix"] = {
        "labels": names,
        "rows": "true class",
        "columns": "predicted class",
        "counts": counts.astype(int).tolist(),
        "normalized": [[_json_number(value) for value in row] for row in normalized],
    }
    result["majority_baseline"] = majority_baseline(y_true, names)
    result["confidence_intervals"] = _confidence_intervals(
        y_true, probabilities, groups=groups, seed=seed, samples=bootstrap_samples, confidence=confidence
    )
    return result


def _confidence_intervals(y_true, probabilities, *, groups, seed, samples, confidence) -> dict:
    codes = group_codes(groups, num_items=len(y_true))
    distributions = bootstrap_distributions(
        list(INTERVAL_METRICS), y_true, probabilities, groups=groups, samples=samples, seed=seed
    )
    intervals: dict = {
        "method": "percentile bootstrap",
        "unit": "image" if codes is None else "patient",
        "units": int(len(y_true) if codes is None else codes.max() + 1),
        "samples": int(samples),
        "confidence": float(confidence),
        "seed": int(seed),
    }
    for name in INTERVAL_METRICS:
        values = distributions[name]
        defined = int(np.sum(np.isfinite(values)))
        low, high = percentile_interval(values, confidence=confidence)
        intervals[name] = {
            "low": _json_number(low),
            "high": _json_number(high),
            "defined_samples": defined,
        }
    return intervals


def _json_number(value, *, whole: bool = False):
    """A number for JSON: ``None`` for NaN, an int for counts, else a float."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    return int(round(value)) if whole else value
