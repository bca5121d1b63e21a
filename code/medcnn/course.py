"""The course's tools in one place: every name a chapter imports from medcnn, with where it lives.

A chapter's first cell needs one line, ``from medcnn.course import ...``. Each name below
is a plain import from the module that does the job, so a student can follow any of
them to its source. The chapters write the Keras a student must learn in their own
cells (model, freeze, compile, fit, fine-tune); these names get the data ready and
show the results.

Nothing here comes from the study's machinery (:mod:`medcnn.experiments`: its
stages, runner and reports) or from the benchmark (:mod:`medcnn.benchmark`), and a
test keeps it so (``tests/test_package_layout.py``). A chapter that quotes the study's
published figures imports them from :mod:`medcnn.experiments` in a line of its own,
so the reader sees where they come from.

Importing this module imports Keras (the models and the training callbacks are Keras
code), as a chapter does in the same cell; ``import medcnn`` and the command line's
``--help`` import neither this module nor Keras.

By job:

- the run's sizes: :func:`get_profile` (``smoke`` or ``full``; read once, at the top);
- the data: :func:`prepare_data` (download or stand-in), :func:`load_index`,
  :func:`smoke_subset`, :func:`class_names_of`, :func:`get_dataset` (a dataset's record:
  ``get_dataset("retina").CLASS_NAMES``), :func:`synthetic_settings` (is it a stand-in?),
  :func:`read_mat_record`, :func:`read_cvind` (the brain tumor dataset's own MATLAB files);
- the split: :func:`split_index` (the study's rule), :func:`make_splits`,
  :func:`subset_counts`, :func:`check_no_shared_patients`;
- the images: :func:`read_image` (any file to RGB uint8), :func:`build_cache` (decoded
  once), :func:`resize_image`, :func:`make_batches`, :func:`plot_samples` (real sample images);
- the model's parts: :func:`build_augmentation`, :func:`augmentation_settings`,
  :func:`get_backbone`, :func:`build_classifier`, :func:`backbone_layer`,
  :func:`head_layers`, :func:`unfreeze_second_half`;
- training: :func:`configure_precision`, :func:`feature_cache_decision`, :func:`frozen_stage`
  (the model and batches of the frozen-backbone stage), :func:`study_callbacks`,
  :func:`train_classifier`, :func:`fine_tune_classifier`, :func:`join_histories`;
- results: :func:`predict_probabilities`, :func:`predicted_labels`,
  :func:`classification_table`, :func:`evaluate_predictions`, :func:`majority_baseline`,
  :func:`format_classification_table`, :func:`bootstrap_interval`,
  :func:`wilson_interval`, :func:`confusion_bounds`, :func:`count_intervals`,
  :func:`threshold_for_sensitivity`, :func:`rates_at_threshold`,
  :func:`expected_calibration_error`, :func:`results_dir`;
- figures: :func:`plot_class_counts`, :func:`plot_image_grid`,
  :func:`plot_learning_curves`, :func:`history_frame`, :func:`plot_confusion_matrix`,
  :func:`plot_prediction_grid`, :func:`plot_roc_curves`, :func:`plot_confusion_bounds`,
  :func:`plot_reliability_diagram`, :func:`grad_cam`, :func:`heatmap_mass_inside`, :func:`plot_grad_cam`;
- errors: :class:`DataError` (data missing, unreadable or damaged: the message says the fix).

Example:
    >>> from medcnn.course import get_profile, prepare_data  # doctest: +SKIP
    >>> root = prepare_data("retina", profile=get_profile())  # doctest: +SKIP
"""

from medcnn.augment import augmentation_settings, build_augmentation
from medcnn.data import class_names_of, load_index, make_batches, prepare_data, smoke_subset, split_index
from medcnn.datasets import get_dataset
from medcnn.datasets.base import synthetic_settings
from medcnn.errors import DataError
from medcnn.evaluation.bootstrap import bootstrap_interval
from medcnn.evaluation.calibration import expected_calibration_error, plot_reliability_diagram
from medcnn.evaluation.confusion_bounds import confusion_bounds, count_intervals, plot_confusion_bounds
from medcnn.evaluation.figures import (
    history_frame,
    plot_class_counts,
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_prediction_grid,
    plot_roc_curves,
)
from medcnn.evaluation.grad_cam import grad_cam, heatmap_mass_inside
from medcnn.evaluation.grad_cam_figure import plot_grad_cam
from medcnn.evaluation.intervals import wilson_interval
from medcnn.evaluation.markdown import format_classification_table
from medcnn.evaluation.metrics import classification_table, evaluate_predictions, majority_baseline
from medcnn.evaluation.predictions import predict_probabilities, predicted_labels
from medcnn.evaluation.thresholds import rates_at_threshold, threshold_for_sensitivity
from medcnn.images.cache import build_cache, resize_image
from medcnn.images.decode import read_image
from medcnn.images.matlab import read_cvind, read_mat_record
from medcnn.models.backbones import get_backbone
from medcnn.models.classifier import backbone_layer, build_classifier, head_layers
from medcnn.models.fine_tune import unfreeze_second_half
from medcnn.paths import results_dir
from medcnn.profiles import get_profile
from medcnn.samples import plot_samples
from medcnn.splits import check_no_shared_patients, make_splits, subset_counts
from medcnn.training.callbacks import study_callbacks
from medcnn.training.features import feature_cache_decision
from medcnn.training.fit import fine_tune_classifier, frozen_stage, train_classifier
from medcnn.training.history import join_histories
from medcnn.training.precision import configure_precision

__all__ = [
    "DataError",
    "augmentation_settings",
    "backbone_layer",
    "bootstrap_interval",
    "build_augmentation",
    "build_cache",
    "build_classifier",
    "check_no_shared_patients",
    "class_names_of",
    "classification_table",
    "configure_precision",
    "confusion_bounds",
    "count_intervals",
    "evaluate_predictions",
    "expected_calibration_error",
    "feature_cache_decision",
    "fine_tune_classifier",
    "format_classification_table",
    "frozen_stage",
    "get_backbone",
    "get_dataset",
    "get_profile",
    "grad_cam",
    "head_layers",
    "heatmap_mass_inside",
    "history_frame",
    "join_histories",
    "load_index",
    "majority_baseline",
    "make_batches",
    "make_splits",
    "plot_class_counts",
    "plot_confusion_bounds",
    "plot_confusion_matrix",
    "plot_grad_cam",
    "plot_image_grid",
    "plot_learning_curves",
    "plot_prediction_grid",
    "plot_reliability_diagram",
    "plot_roc_curves",
    "plot_samples",
    "predict_probabilities",
    "predicted_labels",
    "prepare_data",
    "rates_at_threshold",
    "read_cvind",
    "read_image",
    "read_mat_record",
    "resize_image",
    "results_dir",
    "smoke_subset",
    "split_index",
    "study_callbacks",
    "subset_counts",
    "synthetic_settings",
    "threshold_for_sensitivity",
    "train_classifier",
    "unfreeze_second_half",
    "wilson_interval",
]
