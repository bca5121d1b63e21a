"""Real sample images that ship with the package (CC BY 4.0), with one provenance record per file.

The smoke build trains on synthetic stand-ins; these few real images let every
page show what the data really looks like. :func:`load_samples` returns the
pixels with their labels and provenance; :func:`plot_samples` draws them with
the attribution under the figure; :func:`attribution` gives the credit line.
There are no COVID-19 radiographs: that database gathers images from many
sources under different terms, so the course does not redistribute any.

Example:
    >>> from medcnn.samples import load_samples
    >>> samples = load_samples(dataset="retina")
    >>> len(samples.images), samples.class_names
    (4, ('healthy', 'diseased'))
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medcnn.datasets import get_dataset
from medcnn.errors import ConfigError

DATA_FOLDER = Path(__file__).resolve().parent / "data"
PROVENANCE_FILE = DATA_FOLDER / "provenance.csv"

ATTRIBUTIONS = {
    "brain_tumor": (
        "Real images: Jun Cheng, brain tumor dataset, figshare 1512427 "
        "(doi:10.6084/m9.figshare.1512427.v5), CC BY 4.0; resized to 256 x 256. The JPEG conversion "
        "(by a third party) clipped the intensities, so the grey levels are lost."
    ),
    "retina": (
        "Real images: RFMiD training set, Pachade et al., Data 2021 "
        "(doi:10.3390/data6020014), CC BY 4.0; resized to 512 px wide."
    ),
}

NOT_SHIPPED = {
    "covid19": (
        "no real COVID-19 radiographs ship with the course: the COVID-19 Radiography Database gathers "
        "images from many sources under different terms, so they cannot be redistributed; the chapter "
        "shows real ones only when it runs on the real data (profile 'full')"
    ),
}


@dataclass(frozen=True)
class Samples:
    """Real sample images of one dataset.

    Attributes:
        dataset: the dataset key, e.g. ``"brain_tumor"``.
        images: a list of uint8 arrays, (height, width) grey or (height, width, 3) colour.
        labels: integer labels in the course's label order.
        class_names: the dataset's class names, in label order.
        provenance: one dict per image (file, source, original_id, licence, attribution, change).
        attribution: the credit line to print with the images.
    """

    dataset: str
    images: list
    labels: np.ndarray
    class_names: tuple
    provenance: list
    attribution: str


def provenance_records(dataset: str | None = None) -> list[dict]:
    """Return the provenance records (one per shipped file), of one dataset or all.

    Example:
        >>> len(provenance_records("brain_tumor"))
        24
    """
    with PROVENANCE_FILE.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    if dataset is not None:
        _check_dataset(dataset)
        records = [record for record in records if record["dataset"] == dataset]
    return records


def _check_dataset(dataset: str) -> None:
    if dataset in NOT_SHIPPED:
        raise ConfigError(f"dataset={dataset!r}: {NOT_SHIPPED[dataset]}")
    if dataset not in ATTRIBUTIONS:
        raise ConfigError(f"dataset={dataset!r}: real samples exist for {', '.join(sorted(ATTRIBUTIONS))}")


def attribution(dataset: str) -> str:
    """Return the credit line for a dataset's sample images.

    Example:
        >>> attribution("retina").startswith("Real images: RFMiD")
        True
    """
    _check_dataset(dataset)
    return ATTRIBUTIONS[dataset]


def load_samples(dataset: str = "brain_tumor", *, per_class: int | None = None) -> Samples:
    """Load the real sample images of ``dataset`` (``"brain_tumor"`` or ``"retina"``).

    Args:
        dataset: which dataset's samples; ``"covid19"`` raises a ``ConfigError``
            saying why none ship.
        per_class: at most this many images per class (the first ones, in file
            order), or ``None`` for all.

    Example:
        >>> samples = load_samples(dataset="brain_tumor", per_class=2)
        >>> len(samples.images), samples.images[0].shape, samples.labels.tolist()
        (6, (256, 256), [0, 0, 1, 1, 2, 2])
    """
    from PIL import Image

    _check_dataset(dataset)
    if per_class is not None and (int(per_class) != per_class or per_class < 1):
        raise ConfigError(f"per_class={per_class!r}: expected a positive whole number or None")
    records = sorted(provenance_records(dataset), key=lambda record: int(record["label"]))
    chosen, counts = [], {}
    for record in records:
        label = int(record["label"])
        if per_class is not None and counts.get(label, 0) >= per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        chosen.append(record)
    images = []
    for record in chosen:
        path = DATA_FOLDER / record["file"]
        if not path.is_file():
            raise ConfigError(
                f"{path}: a sample image listed in {PROVENANCE_FILE.name} is missing; reinstall medcnn "
                "(pip install -e ./code) so its package data is present"
            )
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("L" if image.mode in ("L", "P") else "RGB")))
    labels = np.array([int(record["label"]) for record in chosen], dtype=np.int64)
    class_names = get_dataset(dataset).CLASS_NAMES  # the dataset's record: one definition of its classes
    return Samples(dataset, images, labels, class_names, chosen, ATTRIBUTIONS[dataset])


def plot_samples(dataset: str = "brain_tumor", *, per_class: int = 4, title: str | None = None):
    """Draw real sample images, one row per class, with the attribution under the figure.

    Each panel's caption gives the class and the original image identifier.

    Example:
        >>> figure = plot_samples("retina", per_class=2)  # one healthy, two diseased
        >>> len([axes for axes in figure.axes if axes.images])
        3
    """
    import matplotlib.pyplot as pyplot

    samples = load_samples(dataset, per_class=per_class)
    rows = len(samples.class_names)
    columns = max(int(np.sum(samples.labels == label)) for label in range(rows))
    aspect = samples.images[0].shape[1] / samples.images[0].shape[0]
    figure = pyplot.figure(figsize=(2.3 * aspect * columns + 0.6, 2.5 * rows + 0.8), layout="constrained")
    pyplot.close(figure)
    panels = np.asarray(figure.subplots(rows, columns, squeeze=False))
    for label in range(rows):
        members = np.flatnonzero(samples.labels == label)
        for column, axes in enumerate(panels[label]):
            axes.set_xticks([])
            axes.set_yticks([])
            if column >= len(members):
                axes.axis("off")
                continue
            index = int(members[column])
            image = samples.images[index]
            axes.imshow(image, cmap="gray" if image.ndim == 2 else None)
            identifier = Path(samples.provenance[index]["file"]).stem
            axes.set_title(f"{samples.class_names[label]} (image {identifier})", fontsize="small")
    default = f"Real {dataset.replace('_', ' ')} images, one row per class"
    figure.suptitle(default if title is None else title, fontsize="medium")
    figure.text(0.5, 0.0, samples.attribution, ha="center", va="top", fontsize="small", wrap=True)
    return figure
