"""The study's published results in its own layouts and as charts, with 95 % intervals from its counts.

Everything here reads :mod:`medcnn.experiments.published` (misprints corrected) and
nothing else: these are the study's figures, not results of a run.

- :func:`published_layout`: one of the study's tables (``"B.1"`` … ``"B.6"``, ``"5.1"`` …)
  as it printed it, with each accuracy's Wilson 95 % interval;
- :func:`majority_baseline`: the accuracy of always answering the largest class, on
  the study's own test subsets (Tabla 4.1);
- :func:`plot_published_batch_size`, :func:`plot_published_learning_rate`,
  :func:`plot_published_per_class`: the charts, interval bars included.

Example:
    >>> layout = published_layout("B.4")
    >>> row = layout.loc[("brain_tumor", 0.1)]
    >>> float(row["accuracy"]), int(row["correct"]), int(row["total"])
    (0.556, 255, 459)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.evaluation.figures import new_figure, set_title
from medcnn.evaluation.intervals import wilson_interval
from medcnn.experiments.published import AVERAGE, load_study_subsets, load_study_tables
from medcnn.models.backbones import display_name

DATASET_NAMES = {"brain_tumor": "brain tumour MRI", "covid19": "COVID-19 X-ray", "retina": "retinal fundus"}
STUDY_NOTE = ("The study's published figures (not a run of this site); y-axis from 0; "
              "error bars: 95 % Wilson intervals from its counts.")
# Each series of bars has its own hatch as well as its colour, so the charts read in grey too.
HATCHES = ("", "//", "..", "xx", "\\\\")


def _with_interval(frame: pd.DataFrame) -> pd.DataFrame:
    bounds = [wilson_interval(correct=int(c), total=int(t)) for c, t in zip(frame["correct"], frame["total"])]
    frame = frame.copy()
    frame["95% low"] = [low for low, _ in bounds]
    frame["95% high"] = [high for _, high in bounds]
    return frame


def published_layout(table: str, *, directory=None) -> pd.DataFrame:
    """One of the study's tables as printed (misprints corrected), with each accuracy's 95 % interval.

    Index: ``model, batch_size`` (Tablas 5.1-5.3, B.1-B.3), ``dataset, learning_rate``
    (5.4, B.4), ``dataset, class_name, stage`` with stage ``before``/``after`` (5.5-5.7,
    B.5, B.6). Columns: ``precision, recall, f1, accuracy, correct, incorrect, total``,
    ``95% low``, ``95% high`` (for a class: the interval of its recall, correct / its images).

    Example:
        >>> int(published_layout("B.1").loc[("resnet50", 256), "correct"])
        426
    """
    tables = load_study_tables(directory, corrected=True)
    rows = tables[tables["table"] == table]
    if rows.empty or rows["total"].isna().all():
        known = sorted(set(tables.loc[tables["total"].notna(), "table"]))
        raise DataError(f"no results table {table!r} in the study; expected one of {', '.join(known)}")
    rows = rows.copy()
    for column in ("correct", "incorrect", "total"):
        rows[column] = rows[column].astype(int)
    if table in ("5.1", "5.2", "5.3", "B.1", "B.2", "B.3"):
        index = ["model", "batch_size"]
    elif table in ("5.4", "B.4"):
        index = ["dataset", "learning_rate"]
    else:
        rows["stage"] = np.where(rows["augment"] | rows["fine_tune"], "after", "before")
        index = ["dataset", "class_name", "stage"]
    columns = ["precision", "recall", "f1", "accuracy", "correct", "incorrect", "total"]
    return _with_interval(rows.set_index(index)[columns])


def majority_baseline(dataset: str, *, subset: str = "test", directory=None) -> dict:
    """Always answering the largest class of the study's ``subset`` (Tabla 4.1): which class, and its accuracy.

    Example:
        >>> baseline = majority_baseline("brain_tumor")
        >>> baseline["class_name"], round(baseline["accuracy"], 3), baseline["total"]
        ('glioma', 0.556, 459)
    """
    subsets = load_study_subsets(directory, corrected=True)
    rows = subsets[(subsets["dataset"] == dataset) & (subsets["subset"] == subset) & (subsets["class_name"] != "total")]
    if rows.empty:
        raise DataError(f"no study subset {subset!r} of {dataset!r}; datasets: {sorted(set(subsets['dataset']))}, "
                        "subsets: train, val, test")
    largest = rows.loc[rows["images"].idxmax()]
    total = int(rows["images"].sum())
    return {"class_name": largest["class_name"], "images": int(largest["images"]), "total": total,
            "accuracy": int(largest["images"]) / total}


def _bars(axes, labels, series: dict, *, ylabel):
    """Grouped bars from 0 to 1 (a share is never drawn from a cut-off axis), with their intervals."""
    positions = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for number, (name, (values, lows, highs)) in enumerate(series.items()):
        values, lows, highs = (np.asarray(part, dtype=float) for part in (values, lows, highs))
        offset = positions - 0.4 + width * (number + 0.5)
        errors = None if np.isnan(lows).all() else np.vstack([values - lows, highs - values])
        axes.bar(offset, values, width, yerr=errors, capsize=3, label=str(name),
                 hatch=HATCHES[number % len(HATCHES)], edgecolor="white", linewidth=0)
    axes.set_xticks(positions, [str(label) for label in labels])
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 1.04)  # room above 1.0 for the caps of a perfect class's interval
    axes.set_yticks(np.linspace(0, 1, 6))
    axes.grid(axis="y", alpha=0.3)


def _legend_below(figure, axes, *, columns):
    """The legend under the chart, outside the axes, where it cannot cover a bar."""
    handles, labels = axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize="small", frameon=False)


def plot_published_batch_size(dataset: str, *, metric: str = "accuracy", directory=None):
    """The study's stage 1 on ``dataset`` (Tablas B.1-B.3): ``metric`` by batch size, one bar per network.

    Accuracy bars carry their 95 % Wilson interval.

    Example:
        >>> figure = plot_published_batch_size("brain_tumor")
        >>> len(figure.axes[0].patches)
        12
    """
    table = {"brain_tumor": "B.1", "covid19": "B.2", "retina": "B.3"}.get(dataset)
    if table is None:
        raise DataError(f"dataset={dataset!r}: expected brain_tumor, covid19 or retina")
    layout = published_layout(table, directory=directory).reset_index()
    sizes = sorted(layout["batch_size"].unique())
    series = {}
    for model, rows in layout.groupby("model", sort=False):
        rows = rows.set_index("batch_size").loc[sizes]
        interval = metric == "accuracy"
        series[display_name(model)] = (rows[metric], rows["95% low"] if interval else [np.nan] * len(rows),
                                      rows["95% high"] if interval else [np.nan] * len(rows))
    figure = new_figure(7, 3.8)
    axes = figure.add_subplot()
    _bars(axes, sizes, series, ylabel=f"test {metric}")
    axes.set_xlabel("batch size")
    _legend_below(figure, axes, columns=3)
    set_title(figure, f"Stage 1 on {DATASET_NAMES[dataset]} (Tabla {table}): test {metric} by batch size",
               None, STUDY_NOTE)
    return figure


def plot_published_learning_rate(*, directory=None):
    """The study's stage 2 (Tabla B.4): test accuracy by learning rate on each dataset, with the majority baseline.

    One panel per dataset; bars carry their 95 % interval; the dashed line is the
    accuracy of always answering the largest class of the study's test subset.

    Example:
        >>> figure = plot_published_learning_rate()
        >>> len(figure.axes), len(figure.axes[0].patches)
        (3, 5)
    """
    layout = published_layout("B.4", directory=directory).reset_index()
    figure = new_figure(9, 3.4)
    panels = figure.subplots(1, 3, sharey=True)
    for axes, (dataset, rows) in zip(panels, layout.groupby("dataset", sort=False)):
        rows = rows.sort_values("learning_rate", ascending=False)
        labels = [f"{rate:.0e}".replace("e-0", "e-") for rate in rows["learning_rate"]]
        _bars(axes, labels, {"test accuracy": (rows["accuracy"], rows["95% low"], rows["95% high"])},
              ylabel="test accuracy")
        baseline = majority_baseline(dataset, directory=directory)
        axes.axhline(baseline["accuracy"], linestyle="--", color="black", linewidth=1,
                     label="majority baseline (always the largest class)")
        axes.set_title(f"{DATASET_NAMES[dataset]}\n(baseline: always '{baseline['class_name']}', "
                       f"{baseline['accuracy']:.3f})", fontsize="small")
        axes.set_xlabel("initial learning rate")
    handles, names = panels[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    set_title(figure, "Stage 2 (Tabla B.4): test accuracy by learning rate", None, STUDY_NOTE)
    return figure


def plot_published_per_class(dataset: str, *, change: str = "augment", directory=None):
    """Per class, before and after ``change`` (``"augment"``: Tabla B.5; ``"fine_tune"``: B.6): recall with its interval.

    A class's recall is its images classified correctly over its test images, so its
    95 % interval comes from those two counts; the last group is the whole test set's
    accuracy.

    Example:
        >>> figure = plot_published_per_class("covid19", change="fine_tune")
        >>> len(figure.axes[0].patches)
        8
    """
    table = {"augment": "B.5", "fine_tune": "B.6"}.get(change)
    if table is None:
        raise DataError(f"change={change!r}: expected 'augment' (Tabla B.5) or 'fine_tune' (Tabla B.6)")
    layout = published_layout(table, directory=directory)
    if dataset not in layout.index.get_level_values("dataset"):
        raise DataError(f"dataset={dataset!r}: expected brain_tumor, covid19 or retina")
    rows = layout.loc[dataset]
    classes = list(dict.fromkeys(rows.index.get_level_values("class_name")))
    series = {}
    for stage in ("before", "after"):
        part = rows.xs(stage, level="stage").loc[classes]
        values = np.where(part.index == AVERAGE, part["accuracy"], part["recall"])
        series[stage] = (values, part["95% low"], part["95% high"])
    words = {"augment": "augmentation", "fine_tune": "fine-tuning"}[change]
    labels = ["all (accuracy)" if name == AVERAGE else name.replace("_", " ") for name in classes]
    figure = new_figure(7, 3.6)
    axes = figure.add_subplot()
    _bars(axes, labels, {f"{stage} {words}": value for stage, value in series.items()},
          ylabel="recall (images of the class found)")
    _legend_below(figure, axes, columns=2)
    set_title(figure, f"{DATASET_NAMES[dataset]}: per class before and after {words} (Tabla {table})", None, STUDY_NOTE)
    return figure


def compare_subsets(manifest: pd.DataFrame, *, dataset: str, directory=None) -> pd.DataFrame:
    """A split's images per subset and class beside the study's (Tabla 4.1, misprints corrected).

    Args:
        manifest: a split, with ``subset`` (train/val/test) and ``class_name`` columns, e.g.
            from :func:`medcnn.splits.make_splits`.
        dataset: whose study subsets to compare with.

    Returns:
        Index ``subset, class_name`` (``total`` last in each subset); columns ``study``,
        ``this split`` and ``difference`` (this split − the study's).

    Example:
        >>> import pandas as pd
        >>> manifest = pd.DataFrame({"subset": ["test"] * 3, "class_name": ["glioma", "glioma", "meningioma"]})
        >>> int(compare_subsets(manifest, dataset="brain_tumor").loc[("test", "glioma"), "difference"])
        -253
    """
    missing = [name for name in ("subset", "class_name") if name not in manifest.columns]
    if missing:
        raise DataError(f"the manifest lacks column(s) {missing}: expected a split from medcnn.splits.make_splits")
    study = load_study_subsets(directory, corrected=True)
    study = study[study["dataset"] == dataset]
    if study.empty:
        raise DataError(f"no study subsets for dataset {dataset!r}; expected brain_tumor, covid19 or retina")
    counts = manifest.groupby(["subset", "class_name"]).size()
    records = []
    for subset in ("train", "val", "test"):
        part = study[study["subset"] == subset]
        for _, row in part.iterrows():
            if row["class_name"] == "total":
                mine = int(counts[counts.index.get_level_values(0) == subset].sum())
            else:
                mine = int(counts.get((subset, row["class_name"]), 0))
            records.append({"subset": subset, "class_name": row["class_name"], "study": int(row["images"]),
                            "this split": mine, "difference": mine - int(row["images"])})
    return pd.DataFrame(records).set_index(["subset", "class_name"])
