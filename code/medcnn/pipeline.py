"""The whole path in one call: index → split → image cache → batches → model → train → evaluate → report.

The chapters call the steps one by one; the ``train`` command and the study
runner call :func:`train_and_evaluate`, which writes a run folder:

``config.json``, ``manifest.csv``, ``history.csv``, ``model.keras``,
``metrics.json``, ``report.md`` and the figures.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.config import RunConfig
from medcnn.errors import ConfigError, DataError


def load_index(dataset: str, root) -> pd.DataFrame:
    """Index a dataset folder with its reader (see :mod:`medcnn.datasets`).

    Example:
        >>> import tempfile
        >>> from medcnn.datasets import get_dataset
        >>> root = get_dataset("folder").write_synthetic(tempfile.mkdtemp(), per_class=4, seed=0)
        >>> len(load_index("folder", root)) > 0
        True
    """
    from medcnn.datasets import get_dataset

    return get_dataset(dataset).index(Path(root))


def prepare_data(dataset: str, *, profile: str | None = None, data_dir=None, seed: int = 0) -> Path:
    """Return the folder of ``dataset`` for a profile, getting the data if needed.

    ``full``: the real dataset under ``<data dir>/<dataset>``, downloaded if absent
    (figshare or Kaggle). ``smoke``: the real dataset if it is already there (a chapter
    then takes a small subset, see :func:`smoke_subset`), else a synthetic stand-in in
    the real on-disk format under ``<data dir>/synthetic/<dataset>`` — no network.

    Example:
        >>> import tempfile
        >>> root = prepare_data("retina", profile="smoke", data_dir=tempfile.mkdtemp())
        >>> root.name
        'retina'
    """
    from medcnn.datasets import get_dataset
    from medcnn.datasets.base import synthetic_settings
    from medcnn.paths import data_dir as resolve_data_dir
    from medcnn.profiles import get_profile

    chosen = get_profile(profile)
    module = get_dataset(dataset)
    real_root = resolve_data_dir(data_dir) / dataset
    if chosen.name == "full":
        if not _has_data(module, real_root):
            module.download(real_root)
        return real_root
    if _has_data(module, real_root) and synthetic_settings(real_root) is None:
        return real_root
    synthetic_root = resolve_data_dir(data_dir) / "synthetic" / dataset
    return Path(module.write_synthetic(synthetic_root, per_class=chosen.synthetic_per_class, seed=seed))


def _has_data(module, root: Path) -> bool:
    if not root.is_dir() or not any(root.iterdir()):
        return False
    try:
        module.index(root)
    except DataError:
        return False
    return True


MINIMUM_PATIENTS_PER_CLASS = 3


def smoke_subset(index: pd.DataFrame, *, per_class: int = 12, seed: int = 0) -> pd.DataFrame:
    """Keep at most ``per_class`` images of each class (per official split where there is one).

    Used by the smoke profile when the real dataset is on disk. Whole patients are kept
    where patient ids exist, and at least three of them per class, so a grouped split
    stays possible (a class may then exceed ``per_class``).

    Example:
        >>> import pandas as pd
        >>> index = pd.DataFrame({"path": [str(i) for i in range(40)], "label": [0, 1] * 20,
        ...                       "class_name": "x", "patient_id": "", "split": ""})
        >>> len(smoke_subset(index, per_class=5))
        10
    """
    generator = np.random.default_rng(seed)
    keep = []
    for _, group in index.groupby(["split", "label"], sort=True):
        patients = group["patient_id"].astype(str)
        if (patients != "").all():
            chosen, taken = [], 0
            for patient in generator.permutation(patients.unique()):
                # at least three patients per class, so a grouped split can fill train, val and test
                if len(chosen) >= per_class and taken >= MINIMUM_PATIENTS_PER_CLASS:
                    break
                chosen.extend(group.index[patients == patient])
                taken += 1
            keep.extend(chosen)
        else:
            keep.extend(generator.permutation(group.index.to_numpy())[:per_class])
    return index.loc[sorted(keep)].reset_index(drop=True)


def class_names_of(dataset: str, index: pd.DataFrame) -> list[str]:
    """The class names in label order: the dataset's own, else those found in the index.

    Example:
        >>> import pandas as pd
        >>> class_names_of("folder", pd.DataFrame({"label": [1, 0], "class_name": ["b", "a"]}))
        ['a', 'b']
    """
    from medcnn.datasets import get_dataset

    names = getattr(get_dataset(dataset), "CLASS_NAMES", None)
    present = index.drop_duplicates("label").sort_values("label")
    if names is None:
        return present["class_name"].tolist()
    return list(names[: int(index["label"].max()) + 1])


def split_index(index: pd.DataFrame, *, dataset: str, strategy: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Split with the dataset's own rule (grouped by patient for brain MRI, official for RFMiD, …).

    Example:
        >>> import pandas as pd
        >>> index = pd.DataFrame({"path": [str(i) for i in range(30)], "label": [0, 1, 2] * 10,
        ...                       "class_name": "x", "patient_id": "", "split": ""})
        >>> split_index(index, dataset="covid19", seed=0)["subset"].value_counts().to_dict()["train"]
        18
    """
    from medcnn.datasets import get_dataset
    from medcnn.splits import make_splits

    module = get_dataset(dataset)
    chosen = strategy or module.DEFAULT_SPLIT
    return make_splits(index, strategy=chosen, fractions=module.SPLIT_FRACTIONS, seed=seed)


def default_cache_dir(root) -> Path:
    """Decoded images are cached beside the data they come from: ``<root>/.medcnn-cache``."""
    return Path(root) / ".medcnn-cache"


def make_batches(cache, *, num_classes: int, batch_size: int = 32, seed: int = 0):
    """Training (shuffled each epoch), validation and test batches over an image cache.

    A batch size larger than the training subset is clamped to it, with a one-line warning.

    Example:
        >>> # train, val, test = make_batches(cache, num_classes=3, batch_size=32, seed=0)
    """
    from medcnn.batches import ArrayBatches

    rows = {subset: cache.rows(subset) for subset in ("train", "val", "test")}
    empty = [subset for subset, positions in rows.items() if len(positions) == 0]
    if empty:
        raise DataError(f"the manifest has no images in {', '.join(empty)}: split the data again with more images")
    if batch_size > len(rows["train"]):
        warnings.warn(
            f"batch_size={batch_size} is larger than the {len(rows['train'])} training images; using {len(rows['train'])}",
            stacklevel=2,
        )
        batch_size = len(rows["train"])
    common = dict(num_classes=num_classes, batch_size=batch_size, seed=seed)
    return (
        ArrayBatches(cache.images, cache.labels, indices=rows["train"], shuffle=True, **common),
        ArrayBatches(cache.images, cache.labels, indices=rows["val"], **common),
        ArrayBatches(cache.images, cache.labels, indices=rows["test"], **common),
    )


@dataclass
class RunResult:
    """What one run produced (all of it is also in ``run_dir``)."""

    run_dir: Path
    config: RunConfig
    metrics: dict
    history: pd.DataFrame | None = None
    model: object = None
    manifest: pd.DataFrame | None = None
    timings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for the terminal."""
        metrics = self.metrics
        lines = []
        if self.config.profile == "smoke":
            from medcnn.profiles import get_profile

            lines.append(get_profile("smoke").banner)
        accuracy = metrics.get("accuracy")
        interval = metrics.get("confidence_intervals", {}).get("accuracy")
        text = f"test accuracy {accuracy:.3f}" if accuracy is not None else "test accuracy n/a"
        if interval and interval.get("low") is not None:
            text += f" (95% CI {interval['low']:.3f}-{interval['high']:.3f})"
        baseline = metrics.get("majority_baseline", {}).get("accuracy")
        if baseline is not None:
            text += f"; majority-class baseline {baseline:.3f}"
        lines.append(text)
        lines.append(f"report: {self.run_dir / 'report.md'}")
        return "\n".join(lines)


RESULTS_FIX = "free some space, or write the run folder elsewhere with --out"


def _write_json(path: Path, value) -> None:
    from medcnn.files import atomic_path

    with atomic_path(path, what=path.name, fix=RESULTS_FIX) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str))


def _check_resumable(run_dir: Path, config: RunConfig) -> None:
    """Refuse to resume a run folder that was started with other settings."""
    path = run_dir / "config.json"
    if not path.is_file():
        return
    try:
        before = json.loads(path.read_text())
    except ValueError:
        return
    now = json.loads(json.dumps(config.to_dict(), default=str))
    differences = [f"{name} {before.get(name)!r} -> {now.get(name)!r}" for name in sorted(now) if before.get(name) != now.get(name)]
    if differences:
        raise ConfigError(
            f"{run_dir}: cannot resume, this run was started with other settings ({'; '.join(differences)}); "
            "resume with the same settings, or train into a new --out folder"
        )


def _manifest_for_skipped(manifest: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """The manifest with a ``skipped`` column: why a row was left out, ``""`` for rows used."""
    reasons = dict(zip(skipped["path"].astype(str), skipped["reason"].astype(str)))
    recorded = manifest.copy()
    recorded["skipped"] = recorded["path"].astype(str).map(reasons).fillna("")
    return recorded


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
) -> RunResult:
    """Train one model as configured, evaluate it on the test subset and write its run folder.

    Args:
        config: the run's settings; open ones are filled from its profile.
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

    Example:
        >>> import tempfile
        >>> from medcnn.datasets import get_dataset
        >>> root = get_dataset("covid19").write_synthetic(tempfile.mkdtemp(), per_class=8, seed=0)
        >>> result = train_and_evaluate(RunConfig(dataset="covid19", epochs=1), root=root,
        ...                             out=tempfile.mkdtemp(), verbose=0)  # doctest: +SKIP
    """
    import keras

    from medcnn.images.cache import build_cache
    from medcnn.models.classifier import build_classifier
    from medcnn.profiles import get_profile
    from medcnn.splits import write_manifest
    from medcnn.training.fit import fine_tune_classifier, train_classifier

    config = config.resolved()
    profile = get_profile(config.profile)
    root = Path(root)
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    started = time.perf_counter()
    if verbose:
        print(profile.banner)

    if resume:
        _check_resumable(run_dir, config)
        if manifest is None and (run_dir / "manifest.csv").is_file():
            from medcnn.splits import read_manifest

            manifest = read_manifest(run_dir / "manifest.csv").drop(columns=["skipped"], errors="ignore")
    _write_json(run_dir / "config.json", config.to_dict())
    _write_json(run_dir / "run.json", {"root": str(root.resolve()), "cache_dir": str(cache_dir) if cache_dir else None})
    if manifest is None:
        index = load_index(config.dataset, root)
        manifest = split_index(index, dataset=config.dataset, strategy=config.split, seed=config.seed)
    write_manifest(manifest, run_dir / "manifest.csv")
    class_names = class_names_of(config.dataset, manifest)
    timings["index_and_split_seconds"] = time.perf_counter() - started

    step = time.perf_counter()
    cache = build_cache(
        manifest, root=root, image_size=config.image_size,
        cache_dir=cache_dir or default_cache_dir(root), progress=progress, skip_bad=skip_bad,
    )
    timings["cache_seconds"] = time.perf_counter() - step
    if len(cache.skipped):
        manifest = _manifest_for_skipped(manifest, cache.skipped)
        write_manifest(manifest, run_dir / "manifest.csv")
        write_manifest(cache.skipped, run_dir / "skipped.csv")
        print(f"skipped {len(cache.skipped)} unreadable image(s) of {len(manifest)}: listed in "
              f"{run_dir / 'skipped.csv'} and in manifest.csv's 'skipped' column")
    train, val, test = make_batches(cache, num_classes=len(class_names), batch_size=config.batch_size, seed=config.seed)

    from medcnn.training.precision import configure_precision

    precision = configure_precision("auto")  # float32 on a CPU; mixed precision and XLA on a GPU
    timings["precision"] = precision.policy
    keras.utils.set_random_seed(config.seed)
    augmentation = None
    if config.augment:
        from medcnn.augment import build_augmentation

        augmentation = build_augmentation(config.dataset if config.dataset != "folder" else "brain_tumor", seed=config.seed)
    model = build_classifier(
        config.backbone, len(class_names), weights=config.weights, input_size=config.image_size,
        augmentation=augmentation, seed=config.seed,
    )
    step = time.perf_counter()
    history = train_classifier(
        model, train, val, learning_rate=config.learning_rate, epochs=config.epochs, run_dir=run_dir,
        feature_cache=config.feature_cache, seed=config.seed, verbose=verbose, resume=resume,
        jit_compile=precision.jit_compile, checkpoints=save_models,
    )
    history = history.assign(stage="train")
    if config.fine_tune and config.fine_tune_epochs > 0:
        more = fine_tune_classifier(
            model, train, val, epochs=config.fine_tune_epochs, learning_rate=config.fine_tune_learning_rate,
            run_dir=run_dir, seed=config.seed, verbose=verbose, resume=resume, jit_compile=precision.jit_compile,
            checkpoints=save_models,
        )
        # Fine-tuning's epochs continue the count, so learning curves read left to right.
        more = more.assign(epoch=more["epoch"] + int(history["epoch"].max()), stage="fine_tune")
        history = pd.concat([history, more], ignore_index=True)
    timings["train_seconds"] = time.perf_counter() - step
    from medcnn.files import atomic_path

    if save_models:
        with atomic_path(run_dir / "model.keras", what="the trained model", fix=RESULTS_FIX, suffix=".keras") as temporary:
            model.save(temporary)
    with atomic_path(run_dir / "history.csv", what="the training history", fix=RESULTS_FIX) as temporary:
        history.to_csv(temporary, index=False)

    metrics = _evaluate_and_report(model, cache, test, class_names, run_dir=run_dir, config=config, history=history,
                                   note=profile.banner if profile.name == "smoke" else None)
    timings["total_seconds"] = time.perf_counter() - started
    metrics["timings"] = timings
    _write_json(run_dir / "timings.json", timings)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, history=history, model=model,
                     manifest=manifest, timings=timings)


def _evaluate_and_report(model, cache, test, class_names, *, run_dir, config, history, note):
    from medcnn.evaluation.predictions import predict_probabilities
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


def evaluate_run(run_dir, *, cache_dir=None) -> RunResult:
    """Evaluate a trained run folder again (its saved model on its test subset) and rewrite the report.

    Example:
        >>> # evaluate_run("runs/demo")
    """
    import keras

    from medcnn.images.cache import build_cache
    from medcnn.profiles import get_profile
    from medcnn.splits import read_manifest

    run_dir = Path(run_dir)
    needed = ["config.json", "run.json", "manifest.csv", "model.keras"]
    missing = [name for name in needed if not (run_dir / name).is_file()]
    if missing:
        raise DataError(
            f"{run_dir}: not a finished run folder (missing {', '.join(missing)}); "
            "train one with `python -m medcnn train ... --out RUN_DIR`"
        )
    config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    where = json.loads((run_dir / "run.json").read_text())
    manifest = read_manifest(run_dir / "manifest.csv")
    skip_bad = "skipped" in manifest.columns and bool((manifest["skipped"].astype(str) != "").any())
    manifest = manifest.drop(columns=["skipped"], errors="ignore")
    root = Path(where["root"])
    cache = build_cache(manifest, root=root, image_size=config.image_size,
                        cache_dir=cache_dir or where.get("cache_dir") or default_cache_dir(root), progress=False,
                        skip_bad=skip_bad)
    class_names = class_names_of(config.dataset, manifest)
    _, _, test = make_batches(cache, num_classes=len(class_names), batch_size=config.batch_size, seed=config.seed)
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    history = pd.read_csv(run_dir / "history.csv") if (run_dir / "history.csv").is_file() else None
    profile = get_profile(config.profile)
    metrics = _evaluate_and_report(model, cache, test, class_names, run_dir=run_dir, config=config, history=history,
                                   note=profile.banner if profile.name == "smoke" else None)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, history=history, model=model, manifest=manifest)
