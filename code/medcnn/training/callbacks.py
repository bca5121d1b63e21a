"""The study's callbacks, and the three medcnn adds: a history file, a NaN guard, a safe checkpoint.

- ``EarlyStopping`` on ``val_loss`` (patience 10, min_delta 1e-4, best weights restored);
- ``ReduceLROnPlateau`` on ``val_loss`` (patience 5, min_delta 1e-3, factor 0.1, min 1e-7);
- :class:`BestModelCheckpoint`: the classifier saved as ``.keras`` whenever ``val_loss`` improves;
- :class:`EpochHistory`: one row per epoch with the learning rate used, rewritten to
  ``history.csv`` after every epoch;
- :class:`StopOnNaN`: raises :class:`~medcnn.training.errors.TrainingError` when a loss is not finite.

Files are written to a temporary name and renamed, so a run killed mid-write never
leaves a half-written checkpoint or history behind.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from medcnn.errors import ConfigError
from medcnn.files import atomic_path
from medcnn.training.errors import TrainingError

RUN_FOLDER_FIX = "free some space, or write the run folder elsewhere with --out"
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]


def current_learning_rate(optimizer) -> float:
    """The optimizer's learning rate as a Python float.

    Example:
        >>> current_learning_rate(keras.optimizers.Adam(learning_rate=1e-3))
        0.001
    """
    # Optimizers keep it in float32: round to the 7 digits float32 holds, so 2e-3 reads 0.002.
    rate = optimizer.learning_rate
    value = rate.numpy() if hasattr(rate, "numpy") else keras.ops.convert_to_numpy(rate)
    return float(f"{float(value):.7g}")


class EpochHistory(keras.callbacks.Callback):
    """Records one row per epoch (``HISTORY_COLUMNS``) and rewrites ``path`` as CSV after each.

    Put it before ``ReduceLROnPlateau`` so the learning rate recorded is the one the epoch used.

    Example:
        >>> history = EpochHistory("runs/vgg16/history.csv")  # doctest: +SKIP
        >>> model.fit(..., callbacks=[history]); history.frame()  # doctest: +SKIP
    """

    def __init__(self, path=None):
        super().__init__()
        self.path = Path(path) if path is not None else None
        self.rows: list[dict] = []

    def on_train_begin(self, logs=None):
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1}
        for column in HISTORY_COLUMNS[1:-1]:
            row[column] = float(logs[column]) if column in logs else math.nan
        row["learning_rate"] = current_learning_rate(self.model.optimizer)
        self.rows.append(row)
        if self.path is not None:
            with atomic_path(self.path, what="the training history", fix=RUN_FOLDER_FIX) as temporary:
                self.frame().to_csv(temporary, index=False)

    def frame(self) -> pd.DataFrame:
        """The rows so far as a DataFrame with ``HISTORY_COLUMNS``."""
        return pd.DataFrame(self.rows, columns=HISTORY_COLUMNS)


class StopOnNaN(keras.callbacks.Callback):
    """Raise :class:`TrainingError` at the end of an epoch whose loss is NaN or infinite.

    Checked once per epoch (a NaN batch makes the epoch's mean NaN too), so it adds no
    per-batch synchronisation with the accelerator.

    Example:
        >>> model.fit(..., callbacks=[StopOnNaN()])  # doctest: +SKIP
    """

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for name in ("loss", "val_loss"):
            if name in logs and not np.isfinite(float(logs[name])):
                learning_rate = current_learning_rate(self.model.optimizer)
                raise TrainingError(
                    f"{name} became {float(logs[name])} in epoch {epoch + 1} at learning rate "
                    f"{learning_rate:g}: training diverged. The usual cause is too high a learning "
                    f"rate; try {learning_rate / 10:g}. (Also check the inputs hold finite 0-255 values.)"
                )


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save ``classifier`` (default: the model being fitted) to ``path`` whenever ``monitor`` improves.

    ``classifier`` lets the head-only training of the cached-feature path save the full
    classifier, whose head layers it shares. The file is written under a temporary
    name and renamed.

    Example:
        >>> checkpoint = BestModelCheckpoint("runs/vgg16/best_model.keras")  # doctest: +SKIP
    """

    def __init__(self, path, *, classifier=None, monitor: str = "val_loss"):
        super().__init__()
        self.path = Path(path)
        if self.path.suffix != ".keras":
            raise ConfigError(f"checkpoint path {self.path}: expected a file name ending in .keras")
        self.classifier = classifier
        self.monitor = monitor
        self.best = math.inf

    def on_train_begin(self, logs=None):
        self.best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) < self.best:
            return
        self.best = float(value)
        model = self.classifier if self.classifier is not None else self.model
        with atomic_path(self.path, what="the best model checkpoint", fix=RUN_FOLDER_FIX, suffix=".keras") as temporary:
            model.save(temporary)


def study_callbacks(
    run_dir=None,
    *,
    patience: int = 10,
    min_delta: float = 1e-4,
    learning_rate_patience: int = 5,
    learning_rate_min_delta: float = 1e-3,
    learning_rate_factor: float = 0.1,
    min_learning_rate: float = 1e-7,
    classifier=None,
    file_prefix: str = "",
    verbose: int = 0,
) -> list:
    """The study's callbacks, in the order they must run.

    ``[EpochHistory, StopOnNaN, EarlyStopping, ReduceLROnPlateau, BestModelCheckpoint]``; the
    history and checkpoint write ``run_dir/<file_prefix>history.csv`` and
    ``run_dir/<file_prefix>best_model.keras`` when ``run_dir`` is given (no checkpoint otherwise).

    Args:
        run_dir: folder for the history and the best model, or ``None`` to write nothing.
        patience, min_delta: early stopping on ``val_loss`` (best weights restored when it stops).
        learning_rate_patience, learning_rate_min_delta, learning_rate_factor, min_learning_rate:
            ``ReduceLROnPlateau`` on ``val_loss``.
        classifier: the model to checkpoint, when it is not the one being fitted.
        file_prefix: prefix for the file names (fine-tuning uses ``"fine_tune_"``).
        verbose: passed to the Keras callbacks.

    Example:
        >>> [type(callback).__name__ for callback in study_callbacks()]
        ['EpochHistory', 'StopOnNaN', 'EarlyStopping', 'ReduceLROnPlateau']
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    callbacks = [
        EpochHistory(run_dir / f"{file_prefix}history.csv" if run_dir is not None else None),
        StopOnNaN(),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, min_delta=min_delta, restore_best_weights=True, verbose=verbose
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            patience=learning_rate_patience,
            min_delta=learning_rate_min_delta,
            factor=learning_rate_factor,
            min_lr=min_learning_rate,
            verbose=verbose,
        ),
    ]
    if run_dir is not None:
        callbacks.append(BestModelCheckpoint(run_dir / f"{file_prefix}best_model.keras", classifier=classifier))
    return callbacks
