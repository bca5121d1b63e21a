"""Resume a training stage where a killed run left it, with the same history.

After every epoch :class:`ResumeCheckpoint` writes ``<prefix>resume.npz`` into the
run folder (under a temporary name, then renamed, with :func:`medcnn.files.atomic_path`):
the variables of the model being fitted that training can change (the trainable
weights, and the BatchNorm statistics and random-generator states of layers that are
not frozen; a frozen backbone's tens of millions of weights are not rewritten every
epoch), the optimizer's variables (step count, learning rate, Adam's moments), and the
state of the study's callbacks (early stopping's best value, patience counter and best
weights, again only those that can change, the learning-rate schedule's counters, the
best checkpoint's value) and the history rows. Only written when asked
(``train_classifier(..., resume_state=True)`` or ``resume=True``).

:func:`load_resume_state` reads it back; ``train_classifier(..., resume=True)``
restores it and continues with ``initial_epoch`` set to the epochs already done, so a
run killed after epoch k and resumed gives the same history and weights as one that
was never interrupted (same batches too: the shuffle depends only on seed and epoch).

A run stopped by Ctrl-C or by SIGTERM (``kill``, a notebook's stop button, a cluster's
time limit: ``python -m medcnn`` takes SIGTERM as Ctrl-C and exits 143) keeps the state of
its last finished epoch, here where training wrote it; the epoch it was in is not saved
half-way (the temporary file is removed). A run killed outright (SIGKILL) can leave a
``.resume.npz.<pid>.partial`` file: the next run in that folder sweeps it.

Example:
    >>> state = load_resume_state("runs/vgg16")  # doctest: +SKIP
    >>> state.epoch, state.finished  # doctest: +SKIP
    (3, False)
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from medcnn.errors import ConfigError, DataError
from medcnn.files import atomic_path

RESUME_FILE = "resume.npz"
RESUME_FORMAT_VERSION = 2  # 2: only the variables training can change


def resume_path(run_dir, *, file_prefix: str = "") -> Path:
    """Where a stage's resume state lives: ``<run_dir>/<file_prefix>resume.npz``.

    Example:
        >>> resume_path("runs/a", file_prefix="fine_tune_").as_posix()
        'runs/a/fine_tune_resume.npz'
    """
    return Path(run_dir) / f"{file_prefix}{RESUME_FILE}"


@dataclass
class ResumeState:
    """What a stage had done when its last epoch ended.

    Attributes:
        epoch: epochs completed.
        epochs: the most epochs the stage was asked for.
        stopped_early: early stopping ended the stage.
        rows: the history rows so far (``EpochHistory`` rows).
        callbacks: the callbacks' counters (``early_stopping``, ``plateau``, ``checkpoint``).
        variables: values of the fitted model's variables, in ``model.variables`` order.
        optimizer: values of the optimizer's variables.
        best_weights: early stopping's best weights (``model.get_weights()`` order), or None.

    Example:
        >>> ResumeState(epoch=2, epochs=5).finished_for(5)
        False
    """

    epoch: int = 0
    epochs: int = 0
    stopped_early: bool = False
    rows: list = field(default_factory=list)
    callbacks: dict = field(default_factory=dict)
    variables: list = field(default_factory=list)
    optimizer: list = field(default_factory=list)
    best_weights: list | None = None

    def finished_for(self, epochs: int) -> bool:
        """True when the stage needs no more epochs to reach ``epochs`` (or stopped early)."""
        return self.stopped_early or self.epoch >= int(epochs)


def _frozen_ids(model) -> set[int]:
    """Ids of the variables of frozen layers (``trainable=False``, at any depth): training leaves them alone."""
    frozen = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not layer.trainable:
            frozen.update(id(variable) for variable in layer.variables)
    return frozen


def changing_variables(model) -> list:
    """The variables of ``model`` that fitting can change, in ``model.variables`` order.

    Example:
        >>> len(changing_variables(model)) < len(model.variables)  # doctest: +SKIP
        True
    """
    frozen = _frozen_ids(model)
    return [variable for variable in model.variables if id(variable) not in frozen]


def _changing_weight_positions(model) -> list[int]:
    """Positions in ``model.get_weights()`` (early stopping's best weights) that fitting can change."""
    frozen = _frozen_ids(model)
    return [position for position, weight in enumerate(model.weights) if id(weight) not in frozen]


def _full_weights(model, changing_values) -> list:
    """``model.get_weights()`` with the changing positions replaced by ``changing_values``."""
    weights = model.get_weights()
    positions = _changing_weight_positions(model)
    if len(positions) != len(changing_values):
        raise ConfigError(
            f"the resume checkpoint holds {len(changing_values)} best weights, this model changes {len(positions)}; "
            "resume with the run's own settings, or train into a new run folder"
        )
    for position, value in zip(positions, changing_values):
        weights[position] = np.asarray(value)
    return weights


def _values(variables) -> list:
    return [np.asarray(keras.ops.convert_to_numpy(variable.value if hasattr(variable, "value") else variable)) for variable in variables]


def save_resume_state(path, state: ResumeState) -> Path:
    """Write ``state`` to ``path`` (one ``.npz``, written to a temporary name and renamed).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "resume.npz"
        >>> _ = save_resume_state(path, ResumeState(epoch=1, epochs=3, variables=[np.zeros(2)]))
        >>> load_resume_state(path.parent).epoch
        1
    """
    path = Path(path)
    meta = {
        "version": RESUME_FORMAT_VERSION,
        "epoch": int(state.epoch),
        "epochs": int(state.epochs),
        "stopped_early": bool(state.stopped_early),
        "rows": state.rows,
        "callbacks": state.callbacks,
        "counts": [len(state.variables), len(state.optimizer), -1 if state.best_weights is None else len(state.best_weights)],
    }
    arrays = {"meta": np.array(json.dumps(meta, default=float))}
    for prefix, values in (("variable", state.variables), ("optimizer", state.optimizer), ("best", state.best_weights or [])):
        for position, value in enumerate(values):
            arrays[f"{prefix}_{position}"] = np.asarray(value)
    fix = "free some space, or train without a run folder"
    with atomic_path(path, what="the resume checkpoint", fix=fix) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)
    return path


def load_resume_state(run_dir, *, file_prefix: str = "") -> ResumeState | None:
    """Read the resume state of a stage from ``run_dir``, or None if there is none.

    Raises:
        DataError: the file exists but cannot be read (it is then not trusted: delete it).

    Example:
        >>> load_resume_state("/no/such/run") is None
        True
    """
    path = resume_path(run_dir, file_prefix=file_prefix)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("version") != RESUME_FORMAT_VERSION:
                raise ValueError(f"format {meta.get('version')}, this medcnn reads format {RESUME_FORMAT_VERSION}")
            count_variables, count_optimizer, count_best = meta["counts"]
            variables = [archive[f"variable_{i}"] for i in range(count_variables)]
            optimizer = [archive[f"optimizer_{i}"] for i in range(count_optimizer)]
            best = None if count_best < 0 else [archive[f"best_{i}"] for i in range(count_best)]
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(
            f"{path}: cannot read the resume checkpoint, it is damaged or truncated ({type(error).__name__}: "
            f"{error}); delete it to train this stage from the start, or train again with --overwrite"
        ) from None
    return ResumeState(
        epoch=meta["epoch"], epochs=meta["epochs"], stopped_early=meta["stopped_early"], rows=meta["rows"],
        callbacks=meta["callbacks"], variables=variables, optimizer=optimizer, best_weights=best,
    )


def _check_shapes(path_hint: str, variables, values) -> None:
    if len(variables) != len(values) or any(
        tuple(variable.shape) != tuple(np.shape(value)) for variable, value in zip(variables, values)
    ):
        raise ConfigError(
            f"{path_hint}: the checkpoint was written by a different model ({len(values)} variables, "
            f"this one has {len(variables)}); resume with the run's own settings, or train into a new --out folder"
        )


def restore_model_state(model, state: ResumeState, *, where: str = "resume checkpoint") -> None:
    """Put the checkpoint's variables and optimizer state back into a compiled ``model``.

    Example:
        >>> restore_model_state(model, load_resume_state("runs/a"))  # doctest: +SKIP
    """
    changing = changing_variables(model)
    _check_shapes(where, changing, state.variables)
    for variable, value in zip(changing, state.variables):
        variable.assign(value)
    if state.optimizer and model.optimizer is not None:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        _check_shapes(where, model.optimizer.variables, state.optimizer)
        for variable, value in zip(model.optimizer.variables, state.optimizer):
            variable.assign(value)


def finish_from_state(model, state: ResumeState) -> None:
    """Leave ``model`` as the finished stage left it: the last epoch's variables, then the best weights.

    Early stopping restores the best epoch's weights when training ends; this does the same.

    Example:
        >>> finish_from_state(model, state)  # doctest: +SKIP
    """
    changing = changing_variables(model)
    _check_shapes("resume checkpoint", changing, state.variables)
    for variable, value in zip(changing, state.variables):
        variable.assign(value)
    if state.best_weights is not None:
        model.set_weights(_full_weights(model, state.best_weights))


class ResumeCheckpoint(keras.callbacks.Callback):
    """Write the stage's resume state after every epoch; restore the callbacks' counters when resuming.

    Put it last in the callback list: it reads what the others decided in the same epoch.

    Args:
        path: the ``.npz`` file to write.
        callbacks: the study's callbacks (``EpochHistory``, ``EarlyStopping``,
            ``ReduceLROnPlateau``, ``BestModelCheckpoint``) whose state is saved.
        epochs: the most epochs of the stage.
        state: a state to restore at the start of training (resuming), or None.

    Example:
        >>> callbacks.append(ResumeCheckpoint("runs/a/resume.npz", callbacks=callbacks, epochs=100))  # doctest: +SKIP
    """

    def __init__(self, path, *, callbacks, epochs: int, state: ResumeState | None = None):
        super().__init__()
        self.path = Path(path)
        self.others = list(callbacks)
        self.epochs = int(epochs)
        self.state = state

    def _find(self, name):
        for callback in self.others:
            if type(callback).__name__ == name:
                return callback
        return None

    def on_train_begin(self, logs=None):
        if self.state is None:
            return
        saved = self.state.callbacks
        history = self._find("EpochHistory")
        if history is not None:
            history.rows = [dict(row) for row in self.state.rows]
        stopping = self._find("EarlyStopping")
        if stopping is not None and "early_stopping" in saved:
            for name, value in saved["early_stopping"].items():
                setattr(stopping, name, value)
            if self.state.best_weights is not None:
                stopping.best_weights = _full_weights(self.model, self.state.best_weights)
        plateau = self._find("ReduceLROnPlateau")
        if plateau is not None and "plateau" in saved:
            for name, value in saved["plateau"].items():
                setattr(plateau, name, value)
        checkpoint = self._find("BestModelCheckpoint")
        if checkpoint is not None and "checkpoint_best" in saved:
            checkpoint.best = float(saved["checkpoint_best"])

    def on_epoch_end(self, epoch, logs=None):
        history = self._find("EpochHistory")
        stopping = self._find("EarlyStopping")
        plateau = self._find("ReduceLROnPlateau")
        checkpoint = self._find("BestModelCheckpoint")
        callbacks = {}
        best_weights = None
        if stopping is not None:
            callbacks["early_stopping"] = {
                "wait": int(stopping.wait), "best": None if stopping.best is None else float(stopping.best),
                "best_epoch": int(stopping.best_epoch), "stopped_epoch": int(stopping.stopped_epoch),
            }
            if stopping.best_weights is not None:
                positions = _changing_weight_positions(self.model)
                best_weights = [stopping.best_weights[position] for position in positions]
        if plateau is not None:
            callbacks["plateau"] = {
                "wait": int(plateau.wait), "best": None if plateau.best is None else float(plateau.best),
                "cooldown_counter": int(plateau.cooldown_counter),
            }
        if checkpoint is not None:
            callbacks["checkpoint_best"] = float(checkpoint.best)
        state = ResumeState(
            epoch=epoch + 1,
            epochs=self.epochs,
            stopped_early=bool(getattr(self.model, "stop_training", False)),
            rows=list(history.rows) if history is not None else [],
            callbacks=callbacks,
            variables=_values(changing_variables(self.model)),
            optimizer=_values(self.model.optimizer.variables) if self.model.optimizer is not None else [],
            best_weights=best_weights,
        )
        save_resume_state(self.path, state)
