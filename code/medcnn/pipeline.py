"""One run, end to end, in named steps: the ``train`` command and the study runner call it.

:func:`train_and_evaluate` runs the steps below in order and writes a run folder
(:mod:`medcnn.run_folder`); the chapters call the same steps' functions one by one
(the data steps are in :mod:`medcnn.data`).

1. :func:`split_step` — index and split the dataset (or reuse a given or resumed split);
2. :func:`cache_step` — decode the images once into the cache, batch them;
3. :func:`model_step` — build the classifier (with the dataset's augmentation when asked);
4. :func:`train_step` — the frozen-backbone stage, then fine-tuning when asked;
5. :func:`report_step` — predict the test subset, write ``metrics.json``, ``report.md`` and figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from medcnn.augment import build_augmentation
from medcnn.config import RunConfig
from medcnn.data import class_names_of, load_index, make_batches, split_index
from medcnn.evaluation.predictions import predict_probabilities
from medcnn.images.cache import build_cache
from medcnn.models.classifier import build_classifier
from medcnn.profiles import PROFILES, Profile, get_profile
from medcnn.run_folder import (
    RunResult,
    claim_run_folder,
    load_run_model,
    manifest_with_skipped,
    read_run_folder,
    write_json,
    write_model,
    write_table,
)
from medcnn.splits import read_manifest, write_manifest
from medcnn.training.history import join_histories
from medcnn.training.precision import configure_precision


def split_step(config: RunConfig, *, root: Path, run_dir: Path, manifest=None, resume: bool = False,
               progress: bool = True) -> pd.DataFrame:
    """The run's split: ``manifest`` if given, the resumed run's own, else the dataset's rule (the caller writes it).

    Example:
        >>> manifest = split_step(config, root=root, run_dir=run_dir)  # doctest: +SKIP
    """
    if resume and manifest is None and (run_dir / "manifest.csv").is_file():
        manifest = read_manifest(run_dir / "manifest.csv").drop(columns=["skipped"], errors="ignore")
    if manifest is None:
        index = load_index(config.dataset, root, progress=progress)
        manifest = split_index(index, dataset=config.dataset, strategy=config.split, seed=config.seed)
    return manifest


def cache_step(config: RunConfig, manifest, *, root: Path, run_dir: Path, cache_dir=None, progress=True,
               skip_bad=False):
    """Decode once into the image cache (``<root>/.medcnn-cache`` by default); record skipped images.

    Returns:
        ``(cache, manifest, class_names, (train, validation, test))``.

    Example:
        >>> cache, manifest, class_names, batches = cache_step(config, manifest, root=root, run_dir=run_dir)  # doctest: +SKIP
    """
    cache = build_cache(manifest, root=root, image_size=config.image_size, cache_dir=cache_dir,
                        progress=progress, skip_bad=skip_bad)
    if len(cache.skipped):
        manifest = manifest_with_skipped(manifest, cache.skipped)
        write_manifest(manifest, run_dir / "manifest.csv")
        write_manifest(cache.skipped, run_dir / "skipped.csv")
        print(f"skipped {len(cache.skipped)} unreadable image(s) of {len(manifest)}: listed in "
              f"{run_dir / 'skipped.csv'} and in manifest.csv's 'skipped' column")
    class_names = class_names_of(config.dataset, manifest)
    batches = make_batches(cache, num_classes=len(class_names), batch_size=config.batch_size, seed=config.seed)
    return cache, manifest, class_names, batches


def model_step(config: RunConfig, *, num_classes: int):
    """The study's classifier for ``config``, with the dataset's augmentation when ``config.augment``.

    Example:
        >>> model = model_step(RunConfig(augment=True).resolved(), num_classes=3)  # doctest: +SKIP
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    augmentation = build_augmentation(config.dataset, seed=config.seed) if config.augment else None
    return build_classifier(config.backbone, num_classes, weights=config.weights, input_size=config.image_size,
                            augmentation=augmentation, seed=config.seed)


def train_step(config: RunConfig, model, train, validation, *, run_dir: Path, verbose=2, resume=False,
               save_models=True, jit_compile="auto") -> pd.DataFrame:
    """The frozen-backbone stage, then fine-tuning when asked; both stages' epochs in one history.

    The history's ``attrs`` keep the first stage's ``training_path`` and its ``reason``.

    Example:
        >>> history = train_step(config, model, train, validation, run_dir=run_dir)  # doctest: +SKIP
    """
    from medcnn.training.fit import fine_tune_classifier, train_classifier

    common = dict(run_dir=run_dir, seed=config.seed, verbose=verbose, resume=resume, jit_compile=jit_compile,
                  checkpoints=save_models, resume_state=save_models)  # the CLI's runs can be resumed
    first = train_classifier(model, train, validation, learning_rate=config.learning_rate, epochs=config.epochs,
                             feature_cache=config.feature_cache, **common)
    fine_tuning = None
    if config.fine_tune and config.fine_tune_epochs > 0:
        fine_tuning = fine_tune_classifier(model, train, validation, epochs=config.fine_tune_epochs,
                                           learning_rate=config.fine_tune_learning_rate, **common)
    history = join_histories(first, fine_tuning)
    history.attrs.update(training_path=first.attrs["training_path"], reason=first.attrs["reason"])
    return history


def report_step(model, cache, test, class_names, *, run_dir, config: RunConfig, history, note):
    """Predict the test subset and write ``metrics.json``, ``report.md`` and the figures; return the metrics.

    Example:
        >>> metrics = report_step(model, cache, test, class_names, run_dir=run_dir, config=config,
        ...                       history=history, note=None)  # doctest: +SKIP
    """
    from medcnn.evaluation.report import write_run_report

    probabilities = predict_probabilities(model, test)
    rows = test.indices
    groups = cache.frame["patient_id"].astype(str).to_numpy()[rows] if "patient_id" in cache.frame else None
    if groups is not None and (groups == "").all():
        groups = None
    return write_run_report(
        run_dir, y_true=test.labels, probabilities=probabilities, class_names=class_names,
        history=history, config=config.to_dict(), images=cache.view(rows), groups=groups,
        seed=config.seed, note=note,
    )


def train_and_evaluate(
    config: RunConfig,
    *,
    root,
    out,
    manifest: pd.DataFrame | None = None,
    cache_dir=None,
    verbose: int = 2,
    progress: bool = True,
    skip_bad: bool = False,
    resume: bool = False,
    save_models: bool = True,
    overwrite: bool = False,
    profile: Profile | None = None,
) -> RunResult:
    """Train one model as configured, evaluate it on the test subset and write its run folder.

    Args:
        config: the run's settings; open ones are filled from its profile.
        profile: the profile resolved where the run started (a command, the study); default:
            resolved here from ``config.profile`` (:func:`medcnn.profiles.get_profile`).
        root: the dataset folder.
        out: the run folder to write.
        manifest: a split to use (default: split the index with the dataset's rule and ``config.seed``).
        cache_dir: where decoded images are cached (default ``<root>/.medcnn-cache``).
        verbose: Keras progress output (0 silent, 1 bar, 2 one line per epoch).
        progress: show the decoding progress bar.
        skip_bad: leave unreadable images out (listed in ``manifest.csv``'s ``skipped`` column
            and ``skipped.csv``) instead of stopping with the list of them.
        resume: continue a killed run in ``out`` from its last epoch (same settings needed; the
            run's own manifest is reused); without a checkpoint, train from the start.
        save_models: write ``model.keras``, the best-model checkpoints and the resume state
            (``False`` for runs that are redone rather than resumed, such as the study's:
            then ``evaluate_run`` cannot reload the run).
        overwrite: clear ``out`` first when it holds another run that medcnn marked as its own
            (without it, such a folder is refused; a folder without the mark is never emptied; see
            :func:`medcnn.run_folder.claim_run_folder`).

    Example:
        >>> import tempfile
        >>> from medcnn.datasets import get_dataset
        >>> root = get_dataset("covid19").write_synthetic(tempfile.mkdtemp(), per_class=8, seed=0)
        >>> result = train_and_evaluate(RunConfig(dataset="covid19", epochs=1), root=root,
        ...                             out=tempfile.mkdtemp(), verbose=0)  # doctest: +SKIP
    """
    profile = profile if profile is not None else get_profile(config.profile)  # resolved once, passed down
    config = config.resolved(profile)
    root = Path(root)
    run_dir = Path(out)
    # One run per folder: a folder holding another run is refused before any work, but the folder is
    # claimed (marked, its record written) only once the data has been indexed and split without error,
    # so a run that fails its data checks leaves nothing that would block a rerun with other settings.
    claim_run_folder(run_dir, config, root=root, resume=resume, overwrite=overwrite, mark=False)
    timings = {}
    started = time.perf_counter()
    banner = profile.banner(epochs=config.epochs)
    if verbose:
        print(banner)
    manifest = split_step(config, root=root, run_dir=run_dir, manifest=manifest, resume=resume, progress=progress)
    timings["index_and_split_seconds"] = time.perf_counter() - started

    claim_run_folder(run_dir, config, root=root, resume=resume)  # the data is valid: mark the folder as this run's
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", config.to_dict())
    write_json(run_dir / "run.json", {"root": str(root.resolve()), "cache_dir": str(cache_dir) if cache_dir else None})
    write_manifest(manifest, run_dir / "manifest.csv")

    step = time.perf_counter()
    cache, manifest, class_names, (train, validation, test) = cache_step(
        config, manifest, root=root, run_dir=run_dir, cache_dir=cache_dir, progress=progress, skip_bad=skip_bad)
    timings["cache_seconds"] = time.perf_counter() - step

    precision = configure_precision("auto")  # float32 on a CPU; mixed precision and XLA on a GPU
    timings["precision"] = precision.policy
    model = model_step(config, num_classes=len(class_names))

    step = time.perf_counter()
    history = train_step(config, model, train, validation, run_dir=run_dir, verbose=verbose, resume=resume,
                         save_models=save_models, jit_compile=precision.jit_compile)
    timings["train_seconds"] = time.perf_counter() - step
    timings["training_path"] = history.attrs["training_path"]
    timings["training_path_reason"] = history.attrs["reason"]
    if save_models:
        write_model(model, run_dir / "model.keras")
    write_table(history, run_dir / "history.csv", what="the training history")

    metrics = report_step(model, cache, test, class_names, run_dir=run_dir, config=config, history=history,
                          note=banner if profile.name == "smoke" else None)
    timings["total_seconds"] = time.perf_counter() - started
    metrics["timings"] = timings
    write_json(run_dir / "timings.json", timings)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, history=history, model=model,
                     manifest=manifest, timings=timings)


def evaluate_run(run_dir, *, cache_dir=None) -> RunResult:
    """Evaluate a trained run folder again (its saved model on its test subset) and rewrite the report.

    Example:
        >>> evaluate_run("runs/demo").metrics["accuracy"]  # doctest: +SKIP
        0.93
    """
    folder = read_run_folder(run_dir)
    config = folder.config
    class_names = class_names_of(config.dataset, folder.manifest)
    model = load_run_model(folder.run_dir / "model.keras", config, num_classes=len(class_names))  # before any work
    cache = build_cache(folder.manifest, root=folder.root, image_size=config.image_size,
                        cache_dir=cache_dir or folder.cache_dir, progress=False, skip_bad=folder.skip_bad)
    _, _, test = make_batches(cache, num_classes=len(class_names), batch_size=config.batch_size, seed=config.seed)
    # the recorded run's own notice (its profile's name and epochs), not this session's environment
    note = PROFILES["smoke"].banner(epochs=config.epochs) if config.profile == "smoke" else None
    metrics = report_step(model, cache, test, class_names, run_dir=folder.run_dir, config=config,
                          history=folder.history, note=note)
    return RunResult(run_dir=folder.run_dir, config=config, metrics=metrics, history=folder.history, model=model,
                     manifest=folder.manifest)
