"""Calibration: whether a predicted probability of 0.8 comes true about 80 % of the time.

The scores are split into equal-width bins; in each bin the mean predicted
probability is set against the share of images that are positive. A calibrated
model's bins lie on the diagonal of the **reliability diagram**; bins below it mean
over-confidence. The expected calibration error (ECE) is the bins' average distance
from the diagonal, weighted by how many images each holds.

Example:
    >>> table = reliability_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2)
    >>> table[["images", "mean_predicted", "observed"]].values.tolist()
    [[2.0, 0.15000000000000002, 0.0], [2.0, 0.8500000000000001, 1.0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.evaluation.figures import new_figure, set_title
from medcnn.evaluation.palette import REFERENCE_COLOUR, SERIES_COLOURS
from medcnn.evaluation.thresholds import _binary


def reliability_table(y_true, scores, *, bins: int = 10) -> pd.DataFrame:
    """Per bin of predicted probability: images, mean predicted probability, observed share of positives.

    Args:
        y_true: 0 or 1 per image.
        scores: the positive class's probability per image (or both columns of
            :func:`medcnn.evaluation.predictions.predict_probabilities`).
        bins: equal-width bins between 0 and 1; empty bins are left out.

    Returns:
        Columns ``low``, ``high`` (the bin's edges), ``images``, ``mean_predicted``, ``observed``.

    Example:
        >>> len(reliability_table([0, 1, 1], [0.05, 0.55, 0.95], bins=10))
        3
    """
    labels, values = _binary(y_true, scores)
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise DataError(f"bins={bins!r}: expected a whole number of bins, at least 1")
    if ((values < 0) | (values > 1)).any():
        raise DataError("scores fall outside 0-1: expected probabilities (a sigmoid or softmax output)")
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    which = np.clip(np.digitize(values, edges[1:-1], right=False), 0, int(bins) - 1)
    rows = []
    for number in range(int(bins)):
        inside = which == number
        if inside.any():
            rows.append({"low": edges[number], "high": edges[number + 1], "images": float(inside.sum()),
                         "mean_predicted": float(values[inside].mean()), "observed": float(labels[inside].mean())})
    return pd.DataFrame(rows, columns=["low", "high", "images", "mean_predicted", "observed"])


def expected_calibration_error(y_true, scores, *, bins: int = 10) -> float:
    """The bins' mean distance between predicted and observed, weighted by their images (0 is calibrated).

    Example:
        >>> round(expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2), 3)
        0.15
    """
    table = reliability_table(y_true, scores, bins=bins)
    weights = table["images"] / table["images"].sum()
    return float((weights * (table["mean_predicted"] - table["observed"]).abs()).sum())


def plot_reliability_diagram(y_true, scores, *, bins: int = 10, title: str | None = None, note: str | None = None):
    """The reliability diagram: observed share of positives against mean predicted probability, per bin.

    Each bin is a marker (its size grows with its images, and its count is written
    beside it); the dashed diagonal is perfect calibration; the ECE is added to the title
    (``title`` replaces the rest of it).

    Example:
        >>> figure = plot_reliability_diagram([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2)
        >>> figure.axes[0].get_xlabel()
        'mean predicted probability of the positive class'
    """
    table = reliability_table(y_true, scores, bins=bins)
    error = expected_calibration_error(y_true, scores, bins=bins)
    figure = new_figure(4.8, 4.4)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color=REFERENCE_COLOUR, linewidth=1, label="perfectly calibrated")
    sizes = 20 + 180 * table["images"] / max(1.0, float(table["images"].max()))
    axes.plot(table["mean_predicted"], table["observed"], color=SERIES_COLOURS[0], linewidth=1)
    axes.scatter(table["mean_predicted"], table["observed"], s=sizes, marker="o", color=SERIES_COLOURS[0],
                 edgecolor="black", zorder=3, label="one bin (size: images)")
    for _, row in table.iterrows():
        axes.annotate(f"{int(row['images'])}", (row["mean_predicted"], row["observed"]), textcoords="offset points",
                      xytext=(7, 4), fontsize="x-small")
    axes.set_xlim(-0.04, 1.04)
    axes.set_ylim(-0.04, 1.04)
    axes.set_aspect("equal")
    axes.set_xlabel("mean predicted probability of the positive class")
    axes.set_ylabel("observed share of positives")
    axes.legend(fontsize="small", loc="lower right", markerscale=0.5)
    count = int(table["images"].sum())
    default = f"Reliability diagram of {count} images, {bins} bins"
    set_title(figure, f"{default if title is None else title} (ECE {error:.3f})", None, note)
    return figure
