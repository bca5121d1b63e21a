"""Evaluation: predictions, metrics in the study's layout, bootstrap intervals, figures, run reports.

Modules, by job:

- :mod:`medcnn.evaluation.predictions`: class probabilities from a Keras model;
- :mod:`medcnn.evaluation.metrics`: the per-class table and :func:`evaluate_predictions`;
- :mod:`medcnn.evaluation.bootstrap`: percentile bootstrap intervals, by image or by patient;
- :mod:`medcnn.evaluation.figures`: confusion matrix, learning curves, ROC, sample grids;
- :mod:`medcnn.evaluation.markdown`: Markdown tables for reports and chapters;
- :mod:`medcnn.evaluation.report`: ``metrics.json``, ``report.md`` and figures for one run.

The names below can also be imported from this package; each submodule is
imported only when one of its names is first used.

Example:
    >>> from medcnn.evaluation import classification_table
    >>> classification_table([0, 1], [0, 1], ["a", "b"]).loc["accuracy", "accuracy"]
    np.float64(1.0)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "predict_probabilities": "predictions",
    "predicted_labels": "predictions",
    "as_probability_columns": "predictions",
    "classification_table": "metrics",
    "evaluate_predictions": "metrics",
    "majority_baseline": "metrics",
    "roc_auc": "metrics",
    "bootstrap_interval": "bootstrap",
    "bootstrap_distributions": "bootstrap",
    "plot_confusion_matrix": "figures",
    "plot_learning_curves": "figures",
    "plot_prediction_grid": "figures",
    "plot_roc_curves": "figures",
    "plot_class_counts": "figures",
    "plot_image_grid": "figures",
    "grad_cam": "grad_cam",
    "grad_cam_with_probabilities": "grad_cam",
    "plot_grad_cam": "grad_cam_figure",
    "plot_heatmaps": "grad_cam_figure",
    "format_classification_table": "markdown",
    "format_confusion_matrix": "markdown",
    "write_run_report": "report",
    "read_metrics": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"medcnn.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'medcnn.evaluation' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
