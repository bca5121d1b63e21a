"""Figures of the transfer lesson: accuracy against labelled images per class; filters and feature maps.

Example:
    >>> figure = plot_few_label_curves(summary)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from medcnn.evaluation.palette import REFERENCE_COLOUR, series_style


def plot_few_label_curves(summary, *, variants=None, labels=None, chance: float | None = 0.25, title=None):
    """Mean test accuracy (with its 95 % interval over seeds) against N per class, one line per variant.

    Args:
        summary: :func:`medcnn.transfer.few_labels.summarise`'s table (index ``(variant, per_class)``).
        variants: the variants to draw, in order (default: all in the table).
        labels: optional ``{variant: legend text}``.
        chance: draws a dotted line at this accuracy (``None``: none).
        title: the chart's title.

    Returns the matplotlib figure. Each variant has its own colour, marker and line
    style; the y-axis runs from 0 to 1.

    Example:
        >>> figure = plot_few_label_curves(summarise(frame))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(summary.index.get_level_values("variant"))) if variants is None else list(variants)
    figure, axes = plt.subplots(figsize=(7.5, 4.6))
    for index, name in enumerate(names):
        rows = summary.loc[name].sort_index()
        counts = rows.index.to_numpy()
        errors = np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]])
        axes.errorbar(counts * (1 + 0.03 * (index - len(names) / 2)), rows["mean"], yerr=errors, capsize=3,
                      label=(labels or {}).get(name, name), markersize=6, linewidth=1.6, **series_style(index))
    if chance is not None:
        axes.axhline(chance, color=REFERENCE_COLOUR, linestyle=":", linewidth=1)
        axes.text(min(summary.index.get_level_values("per_class")), chance + 0.015, "chance",
                  color=REFERENCE_COLOUR, fontsize=9)
    axes.set_xscale("log")
    counts = sorted(set(summary.index.get_level_values("per_class")))
    axes.set_xticks(counts, [str(count) for count in counts])
    axes.minorticks_off()
    axes.set_ylim(0, 1)
    axes.set_xlabel("labelled training images per class (log scale)")
    axes.set_ylabel("test accuracy (mean, 95 % interval over seeds)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=9)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def plot_first_filters(kernels: dict, *, title=None):
    """The first convolution's 3 x 3 filters of each network, one row per network.

    Args:
        kernels: ``{name: kernel array (3, 3, 1, filters)}``, e.g. the pretrained and a random network's
            ``conv_1`` weights.

    Example:
        >>> figure = plot_first_filters({"random": random_kernel, "pretrained": kernel})  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    count = max(kernel.shape[-1] for kernel in kernels.values())
    figure, axes = plt.subplots(len(kernels), count, figsize=(count * 0.55, len(kernels) * 0.8 + 0.4), squeeze=False)
    for row, (name, kernel) in enumerate(kernels.items()):
        for column in range(count):
            cell = axes[row, column]
            cell.set_xticks([])
            cell.set_yticks([])
            if column < kernel.shape[-1]:
                weights = kernel[:, :, 0, column]
                limit = float(np.abs(weights).max()) or 1.0
                cell.imshow(weights, cmap="gray", vmin=-limit, vmax=limit)
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_feature_maps(image, maps: dict, *, channels: int = 8, title=None):
    """An image and the first ``channels`` feature maps each network computes from it, one row per network.

    Args:
        image: a 2-D grey image.
        maps: ``{name: array (height, width, channels)}``.

    Example:
        >>> figure = plot_feature_maps(slice_, {"random": random_maps, "pretrained": maps})  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(maps), channels + 1, figsize=((channels + 1) * 1.05, len(maps) * 1.2 + 0.4),
                                squeeze=False)
    for row, (name, values) in enumerate(maps.items()):
        axes[row, 0].imshow(image, cmap="gray")
        axes[row, 0].set_title("input" if row == 0 else "", fontsize=8)
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        for column in range(channels):
            axes[row, column + 1].imshow(values[..., column], cmap="gray")
            if row == 0:
                axes[row, column + 1].set_title(f"map {column + 1}", fontsize=8)
        for cell in axes[row]:
            cell.set_xticks([])
            cell.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def real_sample_slice(*, image_size: int = 128, index: int = 0):
    """A real brain MRI slice from the package's samples, grey, resized, values 0-1; and its credit line.

    Returns ``(image, attribution)``: a float32 ``(image_size, image_size)`` array and
    the text to print with it (the samples are CC BY 4.0).

    Example:
        >>> image, attribution = real_sample_slice(image_size=64)
        >>> image.shape, float(image.max()) <= 1.0
        ((64, 64), True)
    """
    from PIL import Image

    from medcnn.samples import load_samples

    samples = load_samples(dataset="brain_tumor")
    pixels = np.asarray(samples.images[index])
    picture = Image.fromarray(pixels).convert("L").resize((int(image_size), int(image_size)), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.float32) / 255.0, samples.attribution
