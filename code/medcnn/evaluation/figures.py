"""Figures for a run: confusion matrix, learning curves, predictions, ROC curves, class counts.

Every function returns a :class:`matplotlib.figure.Figure` that is already
closed in pyplot: a notebook shows it once when it is the cell's last value,
and a script saves it with ``figure.savefig(path)`` without opening a window.
Titles say what the figure shows; ``title`` replaces the default title and ``note`` adds
a line under it, e.g. ``"SMOKE RUN: synthetic data"``. Colours, markers, line styles and
hatches come from :mod:`medcnn.evaluation.palette`, so no chart relies on colour alone.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas

from medcnn.errors import ConfigError
from medcnn.evaluation.checks import check_class_names, check_labels, check_probabilities, check_same_length
from medcnn.evaluation.palette import (
    REFERENCE_COLOUR,
    RIGHT_COLOUR,
    SEQUENTIAL_COLOUR_MAP,
    WRONG_COLOUR,
    bar_style,
    series_style,
)

SUBSET_ORDER = ("train", "training", "validation", "val", "test")


def new_figure(width: float, height: float):
    """An empty figure of ``width`` × ``height`` inches with constrained layout, not shown twice by pyplot.

    Every figure of medcnn starts here, so they share one look.

    Example:
        >>> new_figure(4, 3).get_size_inches().tolist()
        [4.0, 3.0]
    """
    import matplotlib.pyplot as pyplot

    figure = pyplot.figure(figsize=(width, height), layout="constrained")
    pyplot.close(figure)  # the caller owns it; pyplot will not show it a second time
    return figure


def set_title(figure, default: str, title: str | None, note: str | None) -> None:
    """Give ``figure`` its title (``title``, else ``default``), wrapped to its width, with ``note`` below.

    ``note`` is the smoke notice (see :attr:`medcnn.profiles.Profile.note`), so every
    figure of a smoke run says so under its title.

    Example:
        >>> figure = new_figure(4, 3)
        >>> set_title(figure, "Default", None, "SMOKE RUN")
        >>> figure._suptitle.get_text()
        'Default\nSMOKE RUN'
    """
    # About eleven characters of medium-sized text fit in an inch.
    width = max(30, int(figure.get_figwidth() * 11))
    text = textwrap.fill(default if title is None else title, width)
    if note:
        text = f"{text}\n{textwrap.fill(note, width)}"
    figure.suptitle(text, fontsize="medium")


def _image_for_display(image) -> tuple[np.ndarray, str | None]:
    """An image as imshow wants it, and the colour map for a single channel."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ConfigError(f"an image has shape {array.shape}: expected (height, width), (height, width, 1) or (height, width, 3)")
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array, ("gray" if array.ndim == 2 else None)


def _grid(count: int, *, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def plot_confusion_matrix(
    y_true,
    y_pred,
    class_names,
    *,
    normalize: bool = False,
    title: str | None = None,
    note: str | None = None,
):
    """Plot the confusion matrix: rows are true classes, columns predicted classes.

    With ``normalize=True`` each row is divided by the images of its true class
    (the diagonal is then each class's recall); the cells also show the counts.

    Example:
        >>> figure = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["healthy", "diseased"])
        >>> figure.axes[0].get_ylabel()
        'True class'
    """
    from sklearn.metrics import confusion_matrix

    names = check_class_names(class_names)
    y_true = check_labels(y_true, num_classes=len(names), name="y_true")
    y_pred = check_labels(y_pred, num_classes=len(names), name="y_pred")
    check_same_length(len(y_true), y_pred, name="y_pred")
    counts = confusion_matrix(y_true, y_pred, labels=list(range(len(names))))
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
    values = fractions if normalize else counts.astype(np.float64)

    size = 2.2 + 0.9 * len(names)
    figure = new_figure(size + 1.0, size)
    axes = figure.add_subplot()
    top = 1.0 if normalize else max(1.0, float(counts.max()))
    image = axes.imshow(np.ma.masked_invalid(values), cmap=SEQUENTIAL_COLOUR_MAP, vmin=0.0, vmax=top)
    figure.colorbar(image, ax=axes, label="fraction of the true class" if normalize else "images")
    for row in range(len(names)):
        for column in range(len(names)):
            value = values[row, column]
            if np.isnan(value):
                text = "no images"
            elif normalize:
                text = f"{value:.0%}\n({counts[row, column]})"
            else:
                text = f"{counts[row, column]}"
            shade = 0.0 if np.isnan(value) else value / top
            axes.text(column, row, text, ha="center", va="center", fontsize="small",
                      color="white" if shade > 0.6 else "black")
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("Predicted class")
    axes.set_ylabel("True class")
    kind = "row-normalised, each row sums to 100%" if normalize else "image counts"
    set_title(figure, f"Confusion matrix ({kind}) of {len(y_true)} images", title, note)
    return figure


def history_frame(history) -> pandas.DataFrame:
    """Return a training history as a DataFrame with an ``epoch`` column (counted from 1 if missing).

    Accepts a DataFrame, a dict of per-epoch lists or a Keras ``History``.

    Example:
        >>> history_frame({"loss": [0.9, 0.7]})["epoch"].tolist()
        [1, 2]
    """
    if hasattr(history, "history") and isinstance(history.history, dict):  # a keras.callbacks.History
        history = history.history
    frame = pandas.DataFrame(history)
    if "loss" not in frame.columns:
        raise ConfigError(
            f"history has columns {list(frame.columns)}: expected at least 'loss' "
            f"(and accuracy, val_loss, val_accuracy) per epoch"
        )
    if "epoch" not in frame.columns:
        frame = frame.assign(epoch=np.arange(1, len(frame) + 1))
    return frame


def plot_learning_curves(history, *, title: str | None = None, note: str | None = None):
    """Plot loss and accuracy per epoch, training and validation, side by side.

    ``history`` is a DataFrame with ``epoch``, ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy`` and optionally ``learning_rate`` (a dict of lists or a Keras
    ``History`` works too). The epoch with the lowest validation loss (the one
    early stopping restores) is marked, and so are learning-rate reductions.

    Example:
        >>> import pandas
        >>> history = pandas.DataFrame({"epoch": [1, 2], "loss": [0.9, 0.6], "accuracy": [0.5, 0.7],
        ...                             "val_loss": [1.0, 0.8], "val_accuracy": [0.4, 0.6]})
        >>> [axes.get_title() for axes in plot_learning_curves(history).axes]
        ['Loss', 'Accuracy']
    """
    from matplotlib.ticker import MaxNLocator

    frame = history_frame(history)
    if frame.empty:
        raise ConfigError("history is empty: train for at least one epoch before plotting learning curves")
    epochs = frame["epoch"].to_numpy()
    figure = new_figure(10.0, 4.0)
    panels = figure.subplots(1, 2)
    best_epoch = None
    if "val_loss" in frame.columns and frame["val_loss"].notna().any():
        best_epoch = epochs[int(np.nanargmin(frame["val_loss"].to_numpy(dtype=np.float64)))]
    reductions = []
    if "learning_rate" in frame.columns:
        rates = frame["learning_rate"].to_numpy(dtype=np.float64)
        reductions = [epochs[position] for position in range(1, len(rates)) if rates[position] < rates[position - 1]]
    for axes, metric, label in ((panels[0], "loss", "Loss"), (panels[1], "accuracy", "Accuracy")):
        drawn = False
        for position, (column, name) in enumerate(((metric, "training"), (f"val_{metric}", "validation"))):
            if column in frame.columns:
                axes.plot(epochs, frame[column].to_numpy(dtype=np.float64), markersize=4, label=name,
                          **series_style(position))  # solid with circles, dashed with squares
                drawn = True
        if not drawn:
            axes.text(0.5, 0.5, f"no {metric} recorded", ha="center", va="center", transform=axes.transAxes)
        for position, epoch in enumerate(reductions):
            axes.axvline(epoch, color=REFERENCE_COLOUR, linestyle=":", linewidth=1,
                         label="learning rate reduced" if position == 0 else None)
        if best_epoch is not None:
            axes.axvline(best_epoch, color="black", linestyle="--", linewidth=1,
                         label=f"lowest validation loss (epoch {best_epoch})")
        axes.set_title(label)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Epoch")
        axes.set_ylabel(label)
        if drawn:
            axes.legend(fontsize="small")
        axes.grid(alpha=0.3)
    set_title(figure, f"Learning curves over {len(frame)} epochs: loss and accuracy, training and validation",
               title, note)
    return figure


def plot_prediction_grid(
    images,
    y_true,
    probabilities,
    class_names,
    *,
    count: int = 12,
    seed: int = 0,
    columns: int = 4,
    title: str | None = None,
    note: str | None = None,
):
    """Show a seeded random sample of images with their true and predicted class.

    Each panel reads "true: ... / predicted: ... (probability)"; misclassified
    images say WRONG in a vermillion caption and a thicker frame (the palette's ``WRONG_COLOUR``).

    Example:
        >>> import numpy as np
        >>> figure = plot_prediction_grid(np.zeros((3, 8, 8, 3), "uint8"), [0, 1, 1],
        ...                               [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], ["healthy", "diseased"])
        >>> len(figure.axes)
        3
    """
    names = check_class_names(class_names)
    y_true = check_labels(y_true, num_classes=len(names))
    probabilities = check_probabilities(probabilities, num_classes=len(names), num_items=len(y_true))
    check_same_length(len(y_true), images, name="images")
    if count < 1:
        raise ConfigError(f"count={count}: expected at least one image to show")
    chosen = np.sort(np.random.default_rng(seed).choice(len(y_true), size=min(count, len(y_true)), replace=False))
    rows, columns = _grid(len(chosen), columns=columns)
    figure = new_figure(2.6 * columns, 2.9 * rows)
    panels = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    wrong_count = 0
    for axes, index in zip(panels, chosen):
        picture, colour_map = _image_for_display(images[int(index)])
        axes.imshow(picture, cmap=colour_map)
        predicted = int(probabilities[index].argmax())
        wrong = predicted != y_true[index]
        wrong_count += int(wrong)
        colour = WRONG_COLOUR if wrong else RIGHT_COLOUR
        caption = f"true: {names[y_true[index]]}\npredicted: {names[predicted]} ({probabilities[index, predicted]:.2f})"
        if wrong:
            caption += "\nWRONG"
        axes.set_title(caption, color=colour, fontsize="small")
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3 if wrong else 1)
    for axes in panels[len(chosen):]:
        figure.delaxes(axes)
    set_title(
        figure,
        f"{len(chosen)} test images with true and predicted class and the predicted probability "
        f"({wrong_count} misclassified, marked WRONG)",
        title,
        note,
    )
    return figure


def plot_roc_curves(
    y_true, probabilities, class_names, *, title: str | None = None, note: str | None = None
):
    """Plot ROC curves: the positive class for two classes, one-vs-rest per class otherwise.

    The legend gives each curve's AUC; a class without images in ``y_true`` has
    no curve and says so.

    Example:
        >>> figure = plot_roc_curves([0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4]],
        ...                          ["healthy", "diseased"])
        >>> figure.axes[0].get_xlabel()
        'False positive rate (1 - specificity)'
    """
    from sklearn.metrics import auc, roc_curve

    names = check_class_names(class_names)
    y_true = check_labels(y_true, num_classes=len(names))
    probabilities = check_probabilities(probabilities, num_classes=len(names), num_items=len(y_true))
    figure = new_figure(5.5, 5.0)
    axes = figure.add_subplot()
    classes = [1] if len(names) == 2 else list(range(len(names)))
    for position, label in enumerate(classes):
        is_class = y_true == label
        if is_class.all() or not is_class.any():
            axes.plot([], [], " ", label=f"{names[label]}: undefined (only one class in y_true)")
            continue
        false_positive, true_positive, _ = roc_curve(is_class, probabilities[:, label])
        prefix = names[label] if len(names) == 2 else f"{names[label]} vs rest"
        axes.plot(false_positive, true_positive, linewidth=2, markersize=5, markevery=0.1, **series_style(position),
                  label=f"{prefix} (AUC {auc(false_positive, true_positive):.3f})")
    axes.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle=":", linewidth=1, label="chance")
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.01)
    axes.set_aspect("equal")
    axes.set_xlabel("False positive rate (1 - specificity)")
    axes.set_ylabel("True positive rate (sensitivity)")
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)
    kind = f"positive class {names[1]!r}" if len(names) == 2 else "one-vs-rest per class"
    set_title(figure, f"ROC curves ({kind}) of {len(y_true)} images", title, note)
    return figure


def _ordered(values, preferred=()) -> list:
    present = list(dict.fromkeys(values))
    first = [value for value in preferred if value in present]
    return first + sorted((value for value in present if value not in first), key=str)


def plot_class_counts(
    frame,
    *,
    by: str = "class_name",
    hue: str | None = "subset",
    title: str | None = None,
    note: str | None = None,
):
    """Bar chart of images per class, with one bar per subset when ``hue`` is given.

    ``frame`` is a dataset index or split manifest, one row per image. Classes are
    ordered by their ``label`` column when there is one; subsets as train,
    validation, test. Each bar shows its count.

    Example:
        >>> import pandas
        >>> index = pandas.DataFrame({"class_name": ["a", "a", "b"], "subset": ["train", "test", "train"]})
        >>> plot_class_counts(index).axes[0].get_ylabel()
        'Images'
    """
    if not isinstance(frame, pandas.DataFrame):
        raise ConfigError(f"frame is a {type(frame).__name__}: expected a pandas DataFrame with one row per image")
    for column in (by, hue):
        if column is not None and column not in frame.columns:
            raise ConfigError(
                f"column {column!r} not in the table (columns: {', '.join(map(str, frame.columns))}): "
                f"pass by=/hue= naming a column, or hue=None for one bar per class"
            )
    if frame.empty:
        raise ConfigError("the table is empty: there are no images to count")
    if "label" in frame.columns and by != "label":
        classes = list(frame.sort_values("label", kind="stable")[by].drop_duplicates())
    else:
        classes = _ordered(frame[by])
    subsets = [None] if hue is None else _ordered(frame[hue], SUBSET_ORDER)
    figure = new_figure(max(5.0, 1.2 * len(classes) * max(1, len(subsets)) ** 0.5 + 2.0), 4.2)
    axes = figure.add_subplot()
    width = 0.8 / len(subsets)
    positions = np.arange(len(classes))
    for offset, subset in enumerate(subsets):
        rows = frame if subset is None else frame[frame[hue] == subset]
        counts = rows[by].value_counts().reindex(classes, fill_value=0).to_numpy()
        bars = axes.bar(positions + (offset - (len(subsets) - 1) / 2) * width, counts, width,
                        label=None if subset is None else str(subset), **bar_style(offset))
        axes.bar_label(bars, fontsize="small")
    axes.set_xticks(positions, [str(name) for name in classes], rotation=20 if len(classes) > 4 else 0)
    axes.set_xlabel(by.replace("_", " ").capitalize())
    axes.set_ylabel("Images")
    axes.margins(y=0.12)
    if hue is not None:
        axes.legend(title=hue.replace("_", " "), fontsize="small")
    per = "" if hue is None else f" and {hue.replace('_', ' ')}"
    set_title(figure, f"Images per {by.replace('_', ' ')}{per} ({len(frame)} images in all)", title, note)
    return figure


def plot_image_grid(
    images,
    labels,
    class_names,
    *,
    per_class: int = 4,
    seed: int = 0,
    title: str | None = None,
    note: str | None = None,
):
    """Show a seeded random sample of ``per_class`` images of each class, one row per class.

    Example:
        >>> import numpy as np
        >>> figure = plot_image_grid(np.zeros((4, 8, 8), "uint8"), [0, 0, 1, 1], ["a", "b"], per_class=2)
        >>> len(figure.axes)
        4
    """
    names = check_class_names(class_names)
    labels = check_labels(labels, num_classes=len(names), name="labels")
    check_same_length(len(labels), images, name="images")
    if per_class < 1:
        raise ConfigError(f"per_class={per_class}: expected at least one image per class")
    rng = np.random.default_rng(seed)
    figure = new_figure(2.2 * per_class + 1.0, 2.3 * len(names))
    panels = np.asarray(figure.subplots(len(names), per_class, squeeze=False))
    for label, row in enumerate(panels):
        members = np.flatnonzero(labels == label)
        chosen = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False)) if len(members) else []
        for column, axes in enumerate(row):
            axes.set_xticks([])
            axes.set_yticks([])
            if column < len(chosen):
                picture, colour_map = _image_for_display(images[int(chosen[column])])
                axes.imshow(picture, cmap=colour_map)
            else:
                axes.axis("off")
                if column == 0:
                    axes.text(0.5, 0.5, "no images", ha="center", va="center", transform=axes.transAxes)
            if column == 0:
                axes.set_ylabel(f"{names[label]}\n({len(members)} images)", fontsize="small")
    set_title(figure, f"Sample images: up to {per_class} per class, one row per class", title, note)
    return figure
