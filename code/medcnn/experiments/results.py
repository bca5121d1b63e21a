"""The results table: one row per finished run, appended atomically to ``<out>/results.csv``.

A row holds the run's whole configuration (the fields of
:class:`medcnn.config.RunConfig`, resolved), its ``config_id`` and ``setting_id`` (the
same without the seed, shared by the repeats of ``--seeds N``), every metric of
:func:`medcnn.evaluation.metrics.evaluate_predictions` on the test subset with its
bootstrap interval, the per-class table, and how the run went: ``status``
(``completed``, or ``diverged`` when the loss became NaN), epochs run, training path,
wall time, device and backend.

A row is written only when its run has finished, under a lock, by writing the whole
table to a temporary file and renaming it: a run that is interrupted leaves no row,
and a table is never half-written.

Example:
    >>> from medcnn.experiments.results import config_id
    >>> from medcnn.config import RunConfig
    >>> config_id(RunConfig(dataset="retina").resolved())[:36]
    'retina-vgg16-b32-lr1e-03-noaug-noft-'
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
from pathlib import Path

import pandas as pd

from medcnn.config import RunConfig
from medcnn.errors import DataError
from medcnn.files import atomic_path
from medcnn.tables import read_checked_csv

RESULTS_FILE = "results.csv"
CONFIG_COLUMNS = tuple(field.name for field in dataclasses.fields(RunConfig))
ID_COLUMNS = ("config_id", "setting_id", "stage")
METRIC_COLUMNS = (
    "accuracy", "precision_macro", "recall_macro", "f1_macro",
    "precision_weighted", "recall_weighted", "f1_weighted", "roc_auc",
    "correct", "incorrect", "total", "majority_accuracy",
    "accuracy_low", "accuracy_high", "f1_macro_low", "f1_macro_high", "roc_auc_low", "roc_auc_high",
    "val_accuracy", "val_loss",  # the kept weights' validation score, for picking winners on val
)  # fmt: skip
CLASS_METRICS = ("precision", "recall", "f1", "support", "correct", "incorrect")
RUN_COLUMNS = ("status", "message", "epochs_run", "training_path", "wall_seconds", "device", "backend",
               "finished_at", "run_dir")
# Columns that may differ between two runs of one configuration on different machines.
BOOKKEEPING_COLUMNS = ("stage", "message", "training_path", "wall_seconds", "device", "backend", "finished_at", "run_dir")
COMPLETED = "completed"
DIVERGED = "diverged"


def _digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]


def config_id(config: RunConfig) -> str:
    """A readable, unique name for one resolved configuration (also its run folder's name).

    The readable part names what the study varies; the hash covers every setting, so two
    configurations that differ in anything (epochs, image size, profile) never share an id.

    Example:
        >>> config_id(RunConfig(dataset="covid19", batch_size=64, seed=1).resolved()).split("-")[:7]
        ['covid19', 'vgg16', 'b64', 'lr1e', '03', 'noaug', 'noft']
    """
    config = config.resolved()
    return (
        f"{config.dataset}-{config.backbone}-b{config.batch_size}-lr{config.learning_rate:.0e}-"
        f"{'aug' if config.augment else 'noaug'}-{'ft' if config.fine_tune else 'noft'}-"
        f"seed{config.seed}-{config.profile}-{_digest(config.to_dict())}"
    )


def setting_id(config: RunConfig) -> str:
    """Like :func:`config_id` without the seed: the repeats of one setting share it.

    Example:
        >>> setting_id(RunConfig(seed=0).resolved()) == setting_id(RunConfig(seed=5).resolved())
        True
    """
    config = dataclasses.replace(config.resolved(), seed=0)
    return config_id(config).replace("-seed0-", "-")


def config_from_row(row) -> RunConfig:
    """Rebuild the :class:`~medcnn.config.RunConfig` of a results row.

    Example:
        >>> config = RunConfig(dataset="retina").resolved()
        >>> config_from_row(config.to_dict()) == config
        True
    """
    values = {}
    for field in dataclasses.fields(RunConfig):
        value = row[field.name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = None
        elif field.name in ("batch_size", "epochs", "image_size", "fine_tune_epochs", "seed"):
            value = int(value)
        elif field.name in ("learning_rate", "fine_tune_learning_rate"):
            value = float(value)
        elif field.name in ("augment", "fine_tune"):
            value = value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1")
        else:
            value = str(value)
        values[field.name] = value
    return RunConfig(**values)


def metrics_row(metrics: dict) -> dict:
    """The table's metric columns from :func:`~medcnn.evaluation.metrics.evaluate_predictions`' output.

    Example:
        >>> import numpy as np
        >>> from medcnn.evaluation.metrics import evaluate_predictions
        >>> metrics = evaluate_predictions([0, 1, 1], np.eye(2)[[0, 1, 0]], ["a", "b"], bootstrap_samples=20)
        >>> row = metrics_row(metrics)
        >>> row["correct"], row["class.b.recall"]
        (2, 0.5)
    """
    row = {name: metrics.get(name) for name in METRIC_COLUMNS if name in metrics}
    row["majority_accuracy"] = (metrics.get("majority_baseline") or {}).get("accuracy")
    intervals = metrics.get("confidence_intervals") or {}
    for name in ("accuracy", "f1_macro", "roc_auc"):
        interval = intervals.get(name) or {}
        row[f"{name}_low"] = interval.get("low")
        row[f"{name}_high"] = interval.get("high")
    table = metrics.get("classification_table") or {}
    for class_name in metrics.get("class_names", []):
        values = table.get(class_name, {})
        for metric in CLASS_METRICS:
            row[f"class.{class_name}.{metric}"] = values.get(metric)
    return row


def make_row(config: RunConfig, *, stage: int, metrics: dict | None, status: str = COMPLETED, **run) -> dict:
    """One results row: configuration, ids, metrics (``None`` for a diverged run) and run facts.

    Example:
        >>> row = make_row(RunConfig().resolved(), stage=1, metrics=None, status="diverged")
        >>> row["status"], row["stage"], row["accuracy"]
        ('diverged', 1, None)
    """
    config = config.resolved()
    row = dict(config.to_dict())
    row.update(config_id=config_id(config), setting_id=setting_id(config), stage=int(stage))
    row.update({name: None for name in METRIC_COLUMNS})
    if metrics is not None:
        row.update(metrics_row(metrics))
    row.update({name: None for name in RUN_COLUMNS})
    row.update(status=status, **run)
    unknown = sorted(set(run) - set(RUN_COLUMNS))
    if unknown:
        raise DataError(f"unknown run column(s) {unknown}: expected some of {list(RUN_COLUMNS)}")
    return row


def read_results(path) -> pd.DataFrame:
    """Read a results table (a file, or a study folder holding ``results.csv``); empty if absent.

    Example:
        >>> import tempfile
        >>> len(read_results(tempfile.mkdtemp()))
        0
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.exists():
        return pd.DataFrame(columns=list(CONFIG_COLUMNS + ID_COLUMNS + METRIC_COLUMNS + RUN_COLUMNS))

    table = read_checked_csv(
        path, what="results table", keep_default_na=True,
        numeric=("learning_rate", "fine_tune_learning_rate", *METRIC_COLUMNS),
        integer=("batch_size", "epochs", "image_size", "fine_tune_epochs", "seed", "stage"),
        fix="restore that line from a copy, or delete the row (the study reruns missing configurations)",
    )
    missing = [name for name in ("config_id", "status", *CONFIG_COLUMNS) if name not in table.columns]
    if missing:
        raise DataError(
            f"{path}: not a study results table (missing columns {missing}); "
            "expected a results.csv written by `python -m medcnn study`"
        )
    duplicated = table["config_id"][table["config_id"].duplicated()].tolist()
    if duplicated:
        raise DataError(f"{path}: config id {duplicated[0]} appears twice; merge tables with `study-merge`, not by hand")
    for name in ("augment", "fine_tune"):
        table[name] = table[name].map(lambda value: value if isinstance(value, bool) else str(value).lower() == "true")
    return table


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on ``<path>.lock`` (where the system offers ``fcntl``) while the block runs.

    Example:
        >>> import tempfile, pathlib
        >>> with locked(pathlib.Path(tempfile.mkdtemp()) / "results.csv"):
        ...     pass
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: one writer per table is the caller's job
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_results(table: pd.DataFrame, path) -> Path:
    """Write a whole table atomically (temporary file, then rename).

    Example:
        >>> import tempfile, pathlib
        >>> write_results(read_results(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp()) / "results.csv").name
        'results.csv'
    """
    path = Path(path)
    with atomic_path(path, what="the results table", fix="free some space, or write the study elsewhere with --out") as temporary:
        table.to_csv(temporary, index=False)
    return path


def append_row(path, row: dict) -> bool:
    """Append ``row`` to the table at ``path`` unless its config id is already there.

    Returns ``True`` if the row was added.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.csv"
        >>> row = make_row(RunConfig().resolved(), stage=1, metrics=None, status="diverged")
        >>> append_row(path, row), append_row(path, row)
        (True, False)
    """
    path = Path(path)
    with locked(path):
        table = read_results(path)
        if row["config_id"] in set(table["config_id"]):
            return False
        addition = pd.DataFrame([row])
        table = addition if table.empty else pd.concat([table, addition], ignore_index=True)
        write_results(table, path)
    return True
