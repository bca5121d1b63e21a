"""A grid of Grad-CAM heatmaps laid over their images, with the predicted class and probability.

Example:
    >>> figure = plot_grad_cam(model, images[:8], class_names, labels=labels[:8])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from medcnn.errors import ConfigError
from medcnn.evaluation.checks import check_class_names, check_labels
from medcnn.evaluation.figures import _grid, _image_for_display, new_figure, set_title
from medcnn.evaluation.grad_cam import grad_cam_with_probabilities
from medcnn.evaluation.palette import HEATMAP_COLOUR_MAP, RIGHT_COLOUR, WRONG_COLOUR


def plot_heatmaps(
    images,
    heatmaps,
    probabilities,
    class_names,
    *,
    labels=None,
    explained=None,
    columns: int = 4,
    alpha: float = 0.45,
    title: str | None = None,
    note: str | None = None,
):
    """Overlay each heatmap (0-1) on its image; caption the predicted class and probability.

    Args:
        images: the images, uint8 or float, grey or colour.
        heatmaps: ``(images, height, width)`` values 0-1, e.g. from :func:`medcnn.evaluation.grad_cam.grad_cam`.
        probabilities: ``(images, classes)`` predicted probabilities.
        class_names: names in label order.
        labels: true labels, to mark wrong predictions WRONG, in vermillion with a thick frame (optional).
        explained: the class each heatmap explains, when it is not the predicted one.
        columns: panels per row.
        alpha: the heatmap's opacity.

    Example:
        >>> images = np.zeros((2, 8, 8, 3), "uint8"); heatmaps = np.random.rand(2, 8, 8)
        >>> figure = plot_heatmaps(images, heatmaps, [[0.9, 0.1], [0.3, 0.7]], ["a", "b"])
        >>> len(figure.axes)
        2
    """
    names = check_class_names(class_names)
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if heatmaps.ndim != 3 or len(heatmaps) != len(images) or probabilities.shape != (len(images), len(names)):
        raise ConfigError(
            f"heatmaps {heatmaps.shape} and probabilities {probabilities.shape} must have one row per image "
            f"({len(images)}), the probabilities one column per class ({len(names)})"
        )
    if labels is not None:
        labels = check_labels(labels, num_classes=len(names), name="labels")
    rows, columns = _grid(len(images), columns=columns)
    figure = new_figure(2.6 * columns, 2.9 * rows)
    panels = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for position, axes in enumerate(panels):
        axes.set_xticks([])
        axes.set_yticks([])
        if position >= len(images):
            figure.delaxes(axes)
            continue
        picture, colour_map = _image_for_display(images[position])
        axes.imshow(picture, cmap=colour_map)
        height, width = picture.shape[:2]
        axes.imshow(heatmaps[position], cmap=HEATMAP_COLOUR_MAP, alpha=alpha, vmin=0.0, vmax=1.0, extent=(-0.5, width - 0.5, height - 0.5, -0.5))
        predicted = int(probabilities[position].argmax())
        caption = f"predicted: {names[predicted]} ({probabilities[position, predicted]:.2f})"
        colour = "black"
        if labels is not None:
            wrong = predicted != labels[position]
            colour = WRONG_COLOUR if wrong else RIGHT_COLOUR
            caption = f"true: {names[labels[position]]}\n{caption}" + ("\nWRONG" if wrong else "")
            for spine in axes.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3 if wrong else 1)
        if explained is not None and int(explained[position]) != predicted:
            caption += f"\nheatmap for: {names[int(explained[position])]}"
        axes.set_title(caption, color=colour, fontsize="small")
    set_title(
        figure,
        "Grad-CAM: where the network looked (bright yellow = raised the class score most, dark = least), "
        "with the predicted class and its probability",
        title,
        note,
    )
    return figure


def plot_grad_cam(
    model,
    images,
    class_names,
    *,
    labels=None,
    class_index=None,
    layer: str | None = None,
    count: int = 8,
    seed: int = 0,
    columns: int = 4,
    title: str | None = None,
    note: str | None = None,
):
    """Compute Grad-CAM for a seeded sample of ``count`` images and draw them with :func:`plot_heatmaps`.

    ``class_index=None`` explains each image's predicted class; the layer used
    is named in the title.

    Example:
        >>> plot_grad_cam(model, test_images, ["healthy", "diseased"], labels=test_labels)  # doctest: +SKIP
    """
    if int(count) != count or count < 1:
        raise ConfigError(f"count={count!r}: expected at least one image")
    total = len(images)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=min(int(count), total), replace=False))
    sample = np.asarray(images)[chosen]
    heatmaps, probabilities, explained, used = grad_cam_with_probabilities(
        model, sample, class_index=class_index, layer=layer
    )
    chosen_labels = None if labels is None else np.asarray(labels)[chosen]
    default = f"Grad-CAM at layer {used} for {len(chosen)} images: predicted class and probability"
    return plot_heatmaps(
        sample,
        heatmaps,
        probabilities,
        class_names,
        labels=chosen_labels,
        explained=explained,
        columns=columns,
        title=default if title is None else title,
        note=note,
    )
