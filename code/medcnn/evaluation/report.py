"""Write a run's evaluation to disk: ``metrics.json``, ``report.md`` and the figures.

Every file is written to a temporary name and then renamed, and ``metrics.json``
(removed first, written last) marks a finished report: a crash part-way leaves
no ``metrics.json`` that a later run or a comparison table would trust.

Files in ``run_dir``: ``metrics.json``, ``report.md``, ``confusion_matrix.png``,
``confusion_matrix_normalized.png``, ``roc_curves.png``, and when their inputs are
given ``learning_curves.png`` (``history``) and ``prediction_grid.png`` (``images``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from medcnn.errors import ConfigError, DataError
from medcnn.evaluation.checks import check_class_names, check_labels, check_probabilities
from medcnn.evaluation.figures import (
    history_frame,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_prediction_grid,
    plot_roc_curves,
)
from medcnn.evaluation.markdown import format_classification_table, format_confusion_matrix, markdown_table
from medcnn.evaluation.metrics import classification_table, evaluate_predictions
from medcnn.files import atomic_path

__all__ = ["format_classification_table", "read_metrics", "write_run_report"]

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
FIGURE_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "confusion_matrix_normalized": "confusion_matrix_normalized.png",
    "roc_curves": "roc_curves.png",
    "learning_curves": "learning_curves.png",
    "prediction_grid": "prediction_grid.png",
}


def _jsonable(value):
    """Plain JSON types for configs: dataclasses, paths, NumPy values, tuples; NaN becomes None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _config_dict(config) -> dict | None:
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return _jsonable(config)
    if isinstance(config, Mapping):
        return _jsonable(config)
    raise ConfigError(f"config is a {type(config).__name__}: expected a dict or a dataclass such as RunConfig")


def _write_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, then rename the result to ``path`` (see :func:`medcnn.files.atomic_path`)."""
    with atomic_path(path, what=path.name, fix="free some space, or write the run folder elsewhere with --out",
                     suffix=path.suffix) as temporary:
        write(str(temporary))


def _write_text(path: Path, text: str) -> None:
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)

    _write_atomically(path, write)


def _save_figure(figure, path: Path) -> None:
    _write_atomically(path, lambda temporary: figure.savefig(temporary, format="png", dpi=120))


def _with_interval(value, interval: dict | None) -> tuple[str, str]:
    if value is None:
        return "undefined", ""
    if not interval or interval.get("low") is None:
        return f"{value:.3f}", "undefined"
    return f"{value:.3f}", f"{interval['low']:.3f} – {interval['high']:.3f}"


def _report_markdown(metrics: dict, *, table, note, config, figures: dict) -> str:
    names = metrics["class_names"]
    intervals = metrics["confidence_intervals"]
    baseline = metrics["majority_baseline"]
    percent = f"{intervals['confidence']:.0%}"
    lines = ["# Evaluation report", ""]
    if note:
        lines += [f"> **{note}**", ""]
    lines += [
        f"{metrics['total']} images in {metrics['num_classes']} classes ({', '.join(names)}): "
        f"{metrics['correct']} classified correctly, {metrics['incorrect']} incorrectly.",
        "",
    ]
    if config:
        lines += ["## Settings", "", markdown_table(["setting", "value"], [[key, value if isinstance(value, str) else json.dumps(value)] for key, value in config.items()]), ""]
    auc_name = "ROC AUC (" + metrics["roc_auc_kind"] + ")"
    rows = [
        ["accuracy", *_with_interval(metrics["accuracy"], intervals["accuracy"])],
        ["macro F1", *_with_interval(metrics["f1_macro"], intervals["f1_macro"])],
        [auc_name, *_with_interval(metrics["roc_auc"], intervals["roc_auc"])],
        ["macro precision", f"{metrics['precision_macro']:.3f}", ""],
        ["macro recall", f"{metrics['recall_macro']:.3f}", ""],
        ["weighted F1", f"{metrics['f1_weighted']:.3f}", ""],
        [f"majority baseline accuracy (always {baseline['class_name']!r})", f"{baseline['accuracy']:.3f}", ""],
        [f"majority baseline macro F1 (always {baseline['class_name']!r})", f"{baseline['f1_macro']:.3f}", ""],
    ]
    unit = intervals["unit"]
    lines += [
        "## Results",
        "",
        markdown_table(["metric", "value", f"{percent} confidence interval"], rows),
        "",
        f"Confidence intervals: {intervals['method']}, {intervals['samples']} resamples of the "
        f"{intervals['units']} {unit}s (seed {intervals['seed']})"
        + (", so that slices of one patient stay together." if unit == "patient" else ".")
        + f" The majority baseline always predicts {baseline['source']}.",
        "",
    ]
    if metrics["roc_auc"] is None:
        lines += [f"ROC AUC: {metrics['roc_auc_note']}.", ""]
    lines += ["## Per-class results", "", format_classification_table(table), "",
              "`correct` and `incorrect` count the images of each true class that were classified "
              "correctly and incorrectly.", ""]
    lines += ["## Confusion matrix", "", "Rows are true classes, columns predicted classes.", "",
              format_confusion_matrix(metrics["confusion_matrix"]["counts"], names), ""]
    alt_texts = {
        "confusion_matrix": "Confusion matrix of image counts, true class by predicted class",
        "confusion_matrix_normalized": "Confusion matrix normalised by true class; the diagonal is each class's recall",
        "roc_curves": "ROC curves with the area under each curve",
        "learning_curves": "Loss and accuracy per epoch for training and validation",
        "prediction_grid": "Sample test images with true class, predicted class and probability; mistakes marked WRONG with a thick frame",
    }
    headings = {
        "confusion_matrix": None,
        "confusion_matrix_normalized": None,
        "roc_curves": "## ROC curves",
        "learning_curves": "## Learning curves",
        "prediction_grid": "## Sample predictions",
    }
    for key, file_name in figures.items():
        if headings[key]:
            lines += [headings[key], ""]
        lines += [f"![{alt_texts[key]}]({file_name})", ""]
    return "\n".join(lines)


def write_run_report(
    run_dir,
    *,
    y_true,
    probabilities,
    class_names,
    history=None,
    config=None,
    images=None,
    groups=None,
    seed: int = 0,
    note: str | None = None,
    bootstrap_samples: int = 1000,
    confidence: float = 0.95,
) -> dict:
    """Evaluate predictions and write ``metrics.json``, ``report.md`` and the figures into ``run_dir``.

    Args:
        run_dir: the run's folder (created if missing).
        y_true: integer labels of the evaluated images.
        probabilities: the model's class probabilities, one row per image.
        class_names: class names in label order.
        history: per-epoch training history (DataFrame, dict of lists or Keras ``History``).
        config: the run's settings (a dict or a dataclass such as ``RunConfig``), stored in both files.
        images: the evaluated images (same order as ``y_true``), for the prediction grid.
        groups: patient ids, one per image, for a patient-level bootstrap.
        seed: seeds the bootstrap and the choice of images in the grid.
        note: a line shown at the top of the report and on every figure,
            e.g. ``"SMOKE RUN: synthetic data, weights=None"``.
        bootstrap_samples: resamples for the confidence intervals.
        confidence: the intervals' coverage.

    Returns:
        the dictionary written to ``metrics.json``.

    Example:
        >>> import numpy as np, tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> metrics = write_run_report(run_dir, y_true=[0, 1, 1, 0], class_names=["healthy", "diseased"],
        ...                            probabilities=[[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]],
        ...                            bootstrap_samples=100, note="SMOKE RUN")
        >>> metrics["accuracy"], read_metrics(run_dir)["note"]
        (0.75, 'SMOKE RUN')
    """
    names = check_class_names(class_names)
    labels = check_labels(y_true, num_classes=len(names))
    probabilities = check_probabilities(probabilities, num_classes=len(names), num_items=len(labels))
    config_values = _config_dict(config)
    metrics = evaluate_predictions(
        labels, probabilities, names, groups=groups, seed=seed,
        bootstrap_samples=bootstrap_samples, confidence=confidence,
    )
    predicted = probabilities.argmax(axis=1)
    table = classification_table(labels, predicted, names)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / METRICS_FILE
    metrics_path.unlink(missing_ok=True)  # no finished-looking report until everything below is written

    drawings = {
        "confusion_matrix": lambda: plot_confusion_matrix(labels, predicted, names, note=note),
        "confusion_matrix_normalized": lambda: plot_confusion_matrix(labels, predicted, names, normalize=True, note=note),
        "roc_curves": lambda: plot_roc_curves(labels, probabilities, names, note=note),
    }
    if history is not None:
        drawings["learning_curves"] = lambda: plot_learning_curves(history, note=note)
    if images is not None:
        drawings["prediction_grid"] = lambda: plot_prediction_grid(images, labels, probabilities, names, seed=seed, note=note)
    figures = {}
    for key, file_name in FIGURE_FILES.items():
        path = run_dir / file_name
        if key not in drawings:
            path.unlink(missing_ok=True)  # a figure left by an earlier run would not match these results
            continue
        _save_figure(drawings[key](), path)
        figures[key] = file_name

    written = {"note": note, "config": config_values, **metrics, "figures": figures, "report": REPORT_FILE}
    if history is not None:
        frame = history_frame(history)
        written["epochs_trained"] = int(len(frame))
        if "val_loss" in frame.columns and frame["val_loss"].notna().any():
            written["best_epoch"] = _jsonable(frame["epoch"].iloc[int(np.nanargmin(frame["val_loss"].to_numpy(dtype=float)))])
    written = _jsonable(written)
    _write_text(run_dir / REPORT_FILE, _report_markdown(written, table=table, note=note, config=config_values, figures=figures))
    _write_text(metrics_path, json.dumps(written, indent=2, allow_nan=False) + "\n")
    return written


def read_metrics(run_dir) -> dict:
    """Read the ``metrics.json`` that :func:`write_run_report` wrote into ``run_dir``.

    Example:
        >>> read_metrics("/no/such/run")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: /no/such/run/metrics.json not found: expected a finished run report; run the evaluation (write_run_report) for this run first
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise DataError(
            f"{path} not found: expected a finished run report; run the evaluation (write_run_report) for this run first"
        )
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON ({error}): delete it and evaluate the run again") from error
