"""What a per-class results table fixes of its confusion matrix, when the matrix itself is lost.

A table of precision, recall and counts per class (the study's Tablas B.5 and B.6)
gives three things of the confusion matrix behind it: the diagonal (each class's
images classified correctly), the row totals (each class's test images) and,
through ``correct / precision``, the column totals (the images predicted as each
class; the rounding of the printed precision may leave more than one whole number
possible). With two classes that is the whole matrix; with three, the off-diagonal
cells can still shift by a few images while every total holds, so each cell is
given as the smallest and largest count that agrees with the table.

:func:`count_intervals` adds to such a table the 95 % Wilson interval of each class's
recall (correct of its images) and precision (correct of its predictions).

Example:
    >>> low, high = confusion_bounds([111, 482], [134, 506], [0.822, 0.954])
    >>> low.tolist() == high.tolist(), low.tolist()
    (True, [[111, 23], [24, 482]])
"""

from __future__ import annotations

import itertools

import numpy as np

from medcnn.errors import DataError
from medcnn.evaluation.checks import check_class_names
from medcnn.evaluation.figures import new_figure, set_title
from medcnn.evaluation.intervals import wilson_interval
from medcnn.evaluation.palette import SEQUENTIAL_COLOUR_MAP


def _counts(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise DataError(f"{name}={values!r}: expected one number per class, at least two classes")
    if (array < 0).any() or (array != np.round(array)).any():
        raise DataError(f"{name}={values!r}: expected whole numbers of images, none negative")
    return array.astype(int)


def predicted_counts(correct, support, precision, *, decimals: int = 3) -> list[tuple[int, ...]]:
    """Every set of per-class prediction counts that agrees with the printed precisions and the test set's size.

    A class predicted ``p`` times with ``correct`` of them right has precision
    ``correct / p``; ``p`` is kept when that rounds to the printed value (to
    ``decimals`` places), and the counts of all classes must add up to the test set.

    Args:
        correct: images of each class classified correctly (the diagonal).
        support: test images of each class (the row totals).
        precision: each class's precision as printed.
        decimals: the places the precision was rounded to.

    Returns:
        The possible column totals, one tuple per possibility (usually one).

    Example:
        >>> predicted_counts([100, 247, 87], [117, 255, 87], [0.926, 0.972, 0.897])
        [(108, 254, 97)]
    """
    correct, support = _counts(correct, "correct"), _counts(support, "support")
    precision = np.asarray(precision, dtype=float)
    if not (len(correct) == len(support) == len(precision)):
        raise DataError(f"correct, support and precision have {len(correct)}, {len(support)} and "
                        f"{len(precision)} values: expected one per class each")
    if (correct > support).any():
        raise DataError(f"correct={correct.tolist()} exceeds support={support.tolist()} for some class")
    total = int(support.sum())
    tolerance = 0.5 * 10.0 ** -decimals + 1e-9
    open_classes = [number for number, right in enumerate(correct) if right == 0]
    if len(open_classes) > 1:
        raise DataError(f"correct={correct.tolist()}: more than one class with no image right leaves the "
                        "predictions per class open; expected at most one")
    options = []
    for right, printed in zip(correct, precision):
        if right == 0:
            options.append([None])  # precision says nothing when nothing is right: the rest of the test set
            continue
        options.append([count for count in range(int(right), total + 1)
                        if abs(right / count - printed) <= tolerance])
    found = []
    for combination in itertools.product(*options):
        known = sum(count for count in combination if count is not None)
        if open_classes:
            combination = tuple(total - known if count is None else count for count in combination)
        if sum(combination) == total and min(combination) >= 0:
            found.append(tuple(int(count) for count in combination))
    return found


def confusion_bounds(correct, support, precision, *, decimals: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest count of every confusion-matrix cell that agrees with a per-class table.

    Rows are true classes, columns predicted classes. The diagonal is ``correct``;
    each off-diagonal cell ranges over the whole-number matrices with the table's
    row totals (``support``) and any column totals of :func:`predicted_counts`.

    Returns:
        ``(low, high)``, two integer arrays of shape (classes, classes); where they are
        equal, the table fixes the cell.

    Raises:
        DataError: no matrix agrees with the table (a misprint, or a wrong class order).

    Example:
        >>> low, high = confusion_bounds([100, 247, 87], [117, 255, 87], [0.926, 0.972, 0.897])
        >>> low.tolist() == high.tolist(), low[0].tolist()
        (True, [100, 7, 10])
    """
    from scipy.optimize import linprog

    correct, support = _counts(correct, "correct"), _counts(support, "support")
    classes = len(correct)
    cells = [(row, column) for row in range(classes) for column in range(classes) if row != column]
    low = np.full((classes, classes), np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full((classes, classes), -1, dtype=np.int64)
    found = False
    for columns in predicted_counts(correct, support, precision, decimals=decimals):
        equations, targets = [], []
        for row in range(classes):
            equations.append([1.0 if cell[0] == row else 0.0 for cell in cells])
            targets.append(support[row] - correct[row])
        for column in range(classes):
            equations.append([1.0 if cell[1] == column else 0.0 for cell in cells])
            targets.append(columns[column] - correct[column])
        if min(targets) < 0:
            continue
        for number in range(len(cells)):
            objective = np.zeros(len(cells))
            objective[number] = 1.0
            bounds = []
            for sign in (1.0, -1.0):
                result = linprog(sign * objective, A_eq=equations, b_eq=targets, bounds=(0, None), method="highs")
                if not result.success:
                    break
                bounds.append(round(sign * result.fun))
            if len(bounds) < 2:
                break
            row, column = cells[number]
            low[row, column] = min(low[row, column], bounds[0])
            high[row, column] = max(high[row, column], bounds[1])
            found = True
    if not found:
        raise DataError(f"no confusion matrix has diagonal {correct.tolist()}, row totals {support.tolist()} "
                        f"and precisions {list(precision)}: check the table for a misprint or a wrong class order")
    for index in range(classes):
        low[index, index] = high[index, index] = correct[index]
    return low, high


def count_intervals(correct, support, precision, *, class_names=None, decimals: int = 3):
    """Each class's recall and precision with their 95 % Wilson intervals, from a per-class table's counts.

    The recall's interval comes from ``correct`` of ``support`` images, the precision's
    from ``correct`` of the images predicted as the class (:func:`predicted_counts`;
    where the rounding leaves several counts possible, the widest interval is kept).
    The last row, ``all``, is the accuracy over the whole test set.

    Returns:
        A ``pandas.DataFrame`` indexed by class: ``images``, ``predicted``, ``recall``,
        ``recall low``, ``recall high``, ``precision``, ``precision low``, ``precision high``.

    Example:
        >>> table = count_intervals([111, 482], [134, 506], [0.822, 0.954], class_names=["healthy", "diseased"])
        >>> table.loc["healthy", ["recall", "recall low", "recall high"]].round(3).tolist()
        [0.828, 0.756, 0.883]
    """
    import pandas as pd

    correct, support = _counts(correct, "correct"), _counts(support, "support")
    precision = np.asarray(precision, dtype=float)
    names = [str(name) for name in class_names] if class_names is not None else [str(n) for n in range(len(correct))]
    if len(names) != len(correct):
        raise DataError(f"class_names has {len(names)} names for {len(correct)} classes: expected one per class")
    options = predicted_counts(correct, support, precision, decimals=decimals)
    if not options:
        raise DataError(f"no prediction counts agree with precisions {list(precision)} and the test set's "
                        f"{int(support.sum())} images: check the table for a misprint")
    rows = {}
    for number, name in enumerate(names):
        recall_low, recall_high = wilson_interval(correct=int(correct[number]), total=int(support[number]))
        bounds = [wilson_interval(correct=int(correct[number]), total=int(option[number]))
                  for option in options if option[number] > 0]
        predicted = sorted({option[number] for option in options})
        rows[name] = {
            "images": int(support[number]),
            "predicted": predicted[0] if len(predicted) == 1 else f"{predicted[0]}-{predicted[-1]}",
            "recall": correct[number] / support[number], "recall low": recall_low, "recall high": recall_high,
            "precision": float(precision[number]),
            "precision low": min(low for low, _ in bounds) if bounds else float("nan"),
            "precision high": max(high for _, high in bounds) if bounds else float("nan"),
        }
    total, right = int(support.sum()), int(correct.sum())
    low, high = wilson_interval(correct=right, total=total)
    rows["all"] = {"images": total, "predicted": total, "recall": right / total, "recall low": low,
                   "recall high": high, "precision": float("nan"), "precision low": float("nan"),
                   "precision high": float("nan")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "class"
    return table


def plot_confusion_bounds(low, high, class_names, *, title: str | None = None, note: str | None = None):
    """Draw a confusion matrix known as ranges: one count where the table fixes a cell, ``low–high`` where not.

    The shade is the cell's share of its true class (the middle of its range), so the
    diagonal reads as each class's recall; numbers are written in every cell, so the
    figure does not rely on colour.

    Example:
        >>> low, high = confusion_bounds([111, 482], [134, 506], [0.822, 0.954])
        >>> figure = plot_confusion_bounds(low, high, ["healthy", "diseased"])
        >>> figure.axes[0].texts[1].get_text()
        '23\\n(17%)'
    """
    names = check_class_names(class_names)
    low, high = np.asarray(low), np.asarray(high)
    if low.shape != (len(names), len(names)) or high.shape != low.shape:
        raise DataError(f"low and high have shapes {low.shape} and {high.shape}: expected "
                        f"({len(names)}, {len(names)}) for classes {names}")
    rows = np.where(np.eye(len(names), dtype=bool), low, (low + high) / 2).sum(axis=1, keepdims=True)
    shares = np.where(np.eye(len(names), dtype=bool), low, (low + high) / 2) / np.maximum(rows, 1)
    size = 2.2 + 0.9 * len(names)
    figure = new_figure(size + 1.0, size)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap=SEQUENTIAL_COLOUR_MAP, vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class")
    for row in range(len(names)):
        for column in range(len(names)):
            count = f"{low[row, column]}" if low[row, column] == high[row, column] else \
                f"{low[row, column]}–{high[row, column]}"
            axes.text(column, row, f"{count}\n({shares[row, column]:.0%})", ha="center", va="center",
                      fontsize="small", color="white" if shares[row, column] > 0.6 else "black")
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("Predicted class")
    axes.set_ylabel("True class")
    set_title(figure, f"Confusion matrix of {int(rows.sum())} images (counts; a range where the "
                      "table leaves a cell open)", title, note)
    return figure
