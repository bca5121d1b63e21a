"""Train a classifier the study's way, by the fastest path that gives the same result.

``train_classifier`` is the first stage (frozen backbone, train the head, at most
100 epochs with the study's callbacks); ``fine_tune_classifier`` the last (second
half of the backbone unfrozen, 5 epochs at 1e-5). Both return the history as a
DataFrame, one row per epoch, and record which path ran in ``history.attrs`` and in
the ``training_path`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medcnn.batches import ArrayBatches
from medcnn.errors import ConfigError
from medcnn.models.classifier import split_classifier
from medcnn.models.fine_tune import unfreeze_second_half
from medcnn.training.callbacks import BestModelCheckpoint, study_callbacks
from medcnn.training.compile import compile_classifier
from medcnn.training.features import compute_features, feature_batches, feature_cache_decision
from medcnn.training.resume import (
    ResumeCheckpoint,
    finish_from_state,
    load_resume_state,
    restore_model_state,
    resume_path,
)

CACHED_FEATURES = "cached_features"
END_TO_END = "end_to_end"


def _check_batches(train_batches, val_batches, model):
    for name, batches in (("train_batches", train_batches), ("val_batches", val_batches)):
        if not isinstance(batches, ArrayBatches):
            raise ConfigError(f"{name}: expected medcnn.batches.ArrayBatches over the image cache, got {type(batches).__name__}")
        if batches.labels is None:
            raise ConfigError(f"{name}: these batches have no labels; build them with the subset's labels")
        if len(batches.indices) == 0:
            raise ConfigError(f"{name}: no rows selected; check the split manifest")
        units = 1 if batches.num_classes == 2 else batches.num_classes
        if units != int(model.outputs[0].shape[-1]):
            raise ConfigError(
                f"{name}: num_classes={batches.num_classes} but the model has {int(model.outputs[0].shape[-1])} "
                "output units; build the classifier with the dataset's number of classes"
            )


def _run_fit(fit_model, classifier, train, validation, *, epochs, run_dir, file_prefix, verbose, callback_options,
             resume=False, checkpoints=True, resume_state=False):
    """Fit with the study's callbacks; with ``resume`` continue from the stage's resume state in ``run_dir``.

    The per-epoch resume state is written only when asked (``resume_state`` or ``resume``).

    ``checkpoints=False`` writes neither the best model nor the per-epoch resume state (the
    study runner redoes an interrupted run instead), only the history.
    """
    callbacks = study_callbacks(run_dir, classifier=classifier, file_prefix=file_prefix, **callback_options)
    if not checkpoints:
        callbacks = [callback for callback in callbacks if not isinstance(callback, BestModelCheckpoint)]
    state = load_resume_state(run_dir, file_prefix=file_prefix) if (resume and run_dir is not None) else None
    initial_epoch = 0
    if state is not None:
        for _ in range(state.epoch):  # the shuffle of epoch k depends only on the seed and k
            train.on_epoch_end()
        if state.finished_for(epochs):
            finish_from_state(fit_model, state)
            return pd.DataFrame(state.rows, columns=callbacks[0].frame().columns)
        restore_model_state(fit_model, state, where=str(resume_path(run_dir, file_prefix=file_prefix)))
        initial_epoch = state.epoch
        if verbose:
            print(f"resuming {file_prefix or ''}training after epoch {state.epoch} of {epochs} (from {run_dir})")
    if run_dir is not None and checkpoints and (resume_state or resume):
        callbacks.append(ResumeCheckpoint(resume_path(run_dir, file_prefix=file_prefix), callbacks=callbacks,
                                          epochs=epochs, state=state))
    # shuffle=False: ArrayBatches shuffle their rows themselves, by seed and epoch only; Keras' own
    # shuffle of the batch order would draw on Python's global random state, which a resumed run lacks.
    fit_model.fit(train, validation_data=validation, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                  verbose=verbose, shuffle=False)
    return callbacks[0].frame()


def _describe(history: pd.DataFrame, *, path: str, reason: str, stage: str) -> pd.DataFrame:
    history = history.copy()
    history["training_path"] = path
    history.attrs.update({"stage": stage, "training_path": path, "reason": reason})
    return history


@dataclass
class FrozenStage:
    """What to fit in a stage: the model and its batches, and why (fine-tuning fits the classifier itself).

    Attributes:
        model: the classifier itself (end to end), or its head (on cached features; the
            head shares the classifier's layers, so fitting it trains the classifier).
        train_batches, validation_batches: the batches ``model`` takes (images or features).
        path: ``"end_to_end"`` or ``"cached_features"``.
        reason: why that path (see :func:`medcnn.training.features.feature_cache_decision`).
    """

    model: object
    train_batches: ArrayBatches
    validation_batches: ArrayBatches
    path: str
    reason: str


def frozen_stage(
    model,
    train_batches,
    validation_batches,
    *,
    feature_cache: str = "auto",
    feature_cache_dir=None,
    verbose: int = 0,
) -> FrozenStage:
    """The plumbing of the frozen-backbone stage: which model to fit, on which batches.

    With a frozen backbone and no augmentation (and ``feature_cache`` allowing it) the
    backbone's outputs are computed once (kept in ``feature_cache_dir`` when given) and
    the classifier's head is returned with batches over those outputs, served in the
    same order as the image batches; otherwise the classifier and the image batches.
    Compile and fit the returned ``model`` as usual.

    Example:
        >>> stage = frozen_stage(model, train_batches, validation_batches)  # doctest: +SKIP
        >>> stage.model.compile(optimizer="adam", loss="categorical_crossentropy")  # doctest: +SKIP
        >>> stage.model.fit(stage.train_batches, validation_data=stage.validation_batches)  # doctest: +SKIP
    """
    _check_batches(train_batches, validation_batches, model)
    use_features, reason = feature_cache_decision(model, feature_cache)
    if not use_features:
        return FrozenStage(model, train_batches, validation_batches, END_TO_END, reason)
    extractor, head = split_classifier(model)
    subsets = (("train", train_batches), ("validation", validation_batches))
    features = {
        name: compute_features(extractor, batches, cache_dir=feature_cache_dir, name=name, verbose=verbose)
        for name, batches in subsets
    }
    return FrozenStage(
        head,
        feature_batches(features["train"], train_batches),
        feature_batches(features["validation"], validation_batches),
        CACHED_FEATURES,
        reason,
    )


def _fit_stage(model, prepare, *, learning_rate: float, epochs: int, file_prefix: str, run_dir=None,
               jit_compile="auto", seed: int = 0, verbose: int = 2, resume: bool = False, checkpoints: bool = True,
               resume_state: bool = False, **callback_options) -> tuple[pd.DataFrame, FrozenStage]:
    """One stage of training, the part both stages share: ``prepare(run_dir, verbose)`` says what
    to fit; then Keras' seed, Adam (:func:`medcnn.training.compile.compile_classifier`) and ``fit``
    with the study's callbacks (the keywords are documented once, in :func:`train_classifier`)."""
    import keras

    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ConfigError(f"epochs={epochs!r}: expected a whole number of at least 1")
    stage = prepare(run_dir, verbose)
    keras.utils.set_random_seed(seed)
    compile_classifier(model, learning_rate=learning_rate, jit_compile=jit_compile)
    if stage.model is not model:
        compile_classifier(stage.model, learning_rate=learning_rate, jit_compile=jit_compile)
    history = _run_fit(
        stage.model, model if stage.model is not model else None, stage.train_batches, stage.validation_batches,
        epochs=int(epochs), run_dir=run_dir, file_prefix=file_prefix, verbose=verbose,
        callback_options=callback_options, resume=resume, checkpoints=checkpoints, resume_state=resume_state,
    )
    return history, stage


def train_classifier(
    model,
    train_batches,
    val_batches,
    *,
    learning_rate: float = 1e-3,
    epochs: int = 100,
    feature_cache="auto",
    feature_cache_dir=None,
    **options,
) -> pd.DataFrame:
    """Train ``model`` (the study's first stages) with Adam and the study's callbacks.

    With a frozen backbone and no augmentation the backbone's outputs can be computed
    once and only the head trained on them (see :mod:`medcnn.training.features`); the
    head's layers are the classifier's, so ``model`` comes back trained either way,
    and with the same batches in the same order the result is the same.

    Args:
        model: from :func:`medcnn.models.classifier.build_classifier`.
        train_batches, val_batches: :class:`medcnn.batches.ArrayBatches` over the uint8
            image cache (shuffle the training batches; their seed fixes the order).
        learning_rate: Adam's step size.
        epochs: the most epochs to run (early stopping usually ends sooner).
        feature_cache: ``"auto"`` (CPU: yes; GPU: VGG-16 only), ``"on"`` or ``"off"``.
        feature_cache_dir: where cached features are kept; default ``<run_dir>/../feature_cache``
            (shared by runs next to each other) or memory only when ``run_dir`` is ``None``.
        options: the keywords both stages share (:func:`fine_tune_classifier` takes them too):

            - ``run_dir``: where ``history.csv`` and ``best_model.keras`` go (default ``None``: nowhere);
            - ``jit_compile``: passed to ``compile`` (default ``"auto"``, see
              :func:`medcnn.training.precision.configure_precision`);
            - ``seed``: seeds Keras' global random state (``keras.utils.set_random_seed``) before
              training (default 0);
            - ``verbose``: Keras' progress output (0 silent, 1 bar, 2 one line per epoch; default 2);
            - ``resume``: continue from ``run_dir/resume.npz`` (written after every epoch) when a
              killed run left one: same weights, optimizer state, callbacks and history (see
              :mod:`medcnn.training.resume`); without one, train from the start (default ``False``);
            - ``checkpoints``: write ``best_model.keras`` into ``run_dir`` (``False``: only the
              history; default ``True``);
            - ``resume_state``: also write the per-epoch resume state (``resume.npz``: the weights
              that train, the optimizer's and the callbacks' state), so that a killed run can go
              on with ``resume=True``. Off by default (a chapter redoes a lost run; on Colab the
              state would be rewritten every epoch); ``resume=True`` turns it on too;
            - any other keyword overrides :func:`medcnn.training.callbacks.study_callbacks`
              (``patience=...``, ``min_learning_rate=...``).

    Returns:
        One row per epoch: ``epoch, loss, accuracy, val_loss, val_accuracy, learning_rate,
        training_path``; ``attrs`` holds ``training_path`` and the ``reason`` for it.

    Example:
        >>> history = train_classifier(model, train_batches, val_batches, epochs=2, verbose=0)  # doctest: +SKIP
        >>> history.attrs["training_path"]  # doctest: +SKIP
        'cached_features'
    """

    def prepare(run_dir, verbose):
        cache_dir = feature_cache_dir
        if cache_dir is None and run_dir is not None:
            cache_dir = Path(run_dir).resolve().parent / "feature_cache"
        return frozen_stage(model, train_batches, val_batches, feature_cache=feature_cache,
                            feature_cache_dir=cache_dir, verbose=verbose)

    history, stage = _fit_stage(model, prepare, learning_rate=learning_rate, epochs=epochs, file_prefix="", **options)
    # Leave the image batches where end-to-end training would have left them.
    while train_batches.epoch < stage.train_batches.epoch:
        train_batches.on_epoch_end()
    return _describe(history, path=stage.path, reason=stage.reason, stage="train")


def fine_tune_classifier(
    model,
    train_batches,
    val_batches,
    *,
    epochs: int = 5,
    learning_rate: float = 1e-5,
    **options,
) -> pd.DataFrame:
    """The study's fine-tuning: unfreeze the backbone's second half (BatchNorm frozen), train end to end.

    Writes ``fine_tune_history.csv``, ``fine_tune_best_model.keras`` and ``fine_tune_resume.npz``
    into ``run_dir``; ``resume=True`` continues a killed fine-tuning from the last. ``options``
    are :func:`train_classifier`'s (``run_dir``, ``jit_compile``, ``seed``, ``verbose``,
    ``resume``, ``checkpoints``, ``resume_state``, callback settings).

    Example:
        >>> history = fine_tune_classifier(model, train_batches, val_batches, epochs=5)  # doctest: +SKIP
        >>> history["learning_rate"].iloc[0]  # doctest: +SKIP
        1e-05
    """

    def prepare(run_dir, verbose):
        _check_batches(train_batches, val_batches, model)
        unfrozen = unfreeze_second_half(model)
        reason = f"fine-tuning trains {len(unfrozen)} backbone layers, so there is nothing to cache"
        return FrozenStage(model, train_batches, val_batches, END_TO_END, reason)

    history, stage = _fit_stage(model, prepare, learning_rate=learning_rate, epochs=epochs,
                                file_prefix="fine_tune_", **options)
    return _describe(history, path=stage.path, reason=stage.reason, stage="fine_tune")
