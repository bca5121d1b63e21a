"""Run the study: each configuration once, one results row per finished run, resumable.

:func:`run_study` prepares each dataset once (:func:`medcnn.data.prepare_data`; in
the smoke profile a small subset with :func:`medcnn.data.smoke_subset`), splits it
once per seed, and runs the stages in order. Every configuration goes through
:func:`medcnn.pipeline.train_and_evaluate` into ``<out>/runs/<config id>/``, all sharing
that split, the decoded-image cache beside the data, and the backbone features cached
in ``<out>/runs/feature_cache`` (one set per dataset × backbone × image size × seed for
the frozen-backbone stages, reused by every batch size and learning rate).

Resuming: a configuration whose config id is in ``<out>/results.csv`` is skipped. A row
is appended only after its run finished, so a run that was interrupted has no row; on
the next invocation its folder is cleared and the run done again from the start.

Example:
    >>> from medcnn.experiments.runner import run_study
    >>> run_study(datasets=["retina"], stages=[1, 2], out="study")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from medcnn import pipeline
from medcnn.config import RunConfig
from medcnn.data import load_index, prepare_data, smoke_subset, split_index
from medcnn.datasets import DATASET_KEYS
from medcnn.errors import ConfigError, DataError
from medcnn.experiments.parallel import check_batch_size, configure_data_parallel
from medcnn.experiments.report import stage_results
from medcnn.experiments.results import (
    COMPLETED,
    DIVERGED,
    RESULTS_FILE,
    append_row,
    config_from_row,
    config_id,
    make_row,
    read_results,
)
from medcnn.experiments.select import DEFAULT_SELECT_ON, select_winner, validation_score
from medcnn.experiments.shard import shard_items
from medcnn.experiments.stages import STUDY_DATASETS, STUDY_STAGES, StudySettings, get_stage, stage_configs
from medcnn.profiles import Profile, as_profile, get_profile
from medcnn.training.errors import TrainingError
from medcnn.training.precision import detect_device

MODEL_FILES = ("model.keras", "best_model.keras", "fine_tune_best_model.keras")


@dataclass
class StudyData:
    """One dataset, prepared once for all of a study's runs.

    Attributes:
        dataset: the dataset key.
        root: its folder (real data, or the synthetic stand-in in smoke).
        index: the images used (a subset in smoke).
        manifests: the split of ``index`` for each seed, computed on first use.
    """

    dataset: str
    root: Path
    index: pd.DataFrame
    manifests: dict = field(default_factory=dict)

    def manifest(self, seed: int) -> pd.DataFrame:
        """The split for ``seed`` (the dataset's own rule), the same for every run with that seed."""
        if seed not in self.manifests:
            self.manifests[seed] = split_index(self.index, dataset=self.dataset, seed=seed)
        return self.manifests[seed]


def prepare_study_data(dataset: str, *, profile: Profile | str = "smoke", data_dir=None, seed: int = 0) -> StudyData:
    """Get ``dataset`` for ``profile`` (downloading in ``full``) and index it once.

    Example:
        >>> import tempfile
        >>> data = prepare_study_data("retina", profile="smoke", data_dir=tempfile.mkdtemp())
        >>> sorted(data.manifest(0)["subset"].unique())
        ['test', 'train', 'val']
    """
    chosen = as_profile(profile)
    root = prepare_data(dataset, profile=chosen, data_dir=data_dir, seed=seed)
    index = load_index(dataset, root)
    if chosen.name == "smoke":
        index = smoke_subset(index, per_class=chosen.synthetic_per_class, seed=seed)
    return StudyData(dataset=dataset, root=Path(root), index=index)


def _device_name() -> str:
    device = detect_device()
    return f"{device.kind}: {device.name}" if device.name else device.kind


def run_config(
    config: RunConfig,
    *,
    stage: int,
    data: StudyData,
    out,
    keep_models: bool = False,
    verbose: int = 0,
    progress: bool = False,
    device: str | None = None,
    profile: Profile | None = None,
) -> dict | None:
    """Run one configuration unless its row is in ``<out>/results.csv``; return the row it appended.

    The run goes into ``<out>/runs/<config id>/`` (cleared first if an interrupted
    attempt left it). Its row is appended only when the run has finished; a run whose
    loss became NaN is recorded with ``status="diverged"`` and no metrics (running it
    again would diverge again). ``keep_models=False`` deletes the run's ``.keras`` files
    once its row is written (a full-size VGG-16 takes 0.5 GB per file); everything else
    in the run folder stays.

    Returns ``None`` when the configuration was already in the table. ``profile`` is the
    study's, resolved once by :func:`run_study` (default: resolved here from ``config.profile``).

    Example:
        >>> row = run_config(config, stage=1, data=data, out="study")  # doctest: +SKIP
        >>> row["accuracy"]  # doctest: +SKIP
        0.83
    """
    import keras

    profile = profile if profile is not None else get_profile(config.profile)
    config = config.resolved(profile)
    if config.dataset != data.dataset:
        raise ConfigError(f"config for {config.dataset!r} given the data of {data.dataset!r}")
    out = Path(out)
    table_path = out / RESULTS_FILE
    identifier = config_id(config)
    if identifier in set(read_results(table_path)["config_id"]):
        return None
    run_dir = out / "runs" / identifier
    if run_dir.exists():  # an interrupted attempt: nothing in it is trusted
        shutil.rmtree(run_dir)
    # Fresh layer names for every run: the feature-cache key hashes weight paths, and
    # auto-named layers (Inception-V3's) would otherwise get new names in each build.
    keras.backend.clear_session()
    started = time.perf_counter()
    status, metrics, message, history = COMPLETED, None, None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            result = pipeline.train_and_evaluate(
                config, root=data.root, out=run_dir, manifest=data.manifest(config.seed), verbose=verbose,
                progress=progress, save_models=keep_models,  # an interrupted run is redone, not resumed
                profile=profile,
            )
            history = result.history
            # the validation score of the kept weights, for --select-on val
            metrics = {**result.metrics, **validation_score(history)}
        except TrainingError as error:
            status, message = DIVERGED, str(error)
    # Keep what the run warned about (e.g. a batch size clamped to a small training set) in its row.
    notes = list(dict.fromkeys(str(warning.message) for warning in caught if "medcnn" in warning.filename))
    if notes:
        message = "; ".join(([message] if message else []) + notes)
    seconds = time.perf_counter() - started
    epochs_run = None
    training_path = None
    if history is not None and len(history):
        epochs_run = int(len(history))
        if "training_path" in history.columns:
            training_path = str(history["training_path"].iloc[0])
    row = make_row(
        config, stage=stage, metrics=metrics, status=status, message=message, epochs_run=epochs_run,
        training_path=training_path, wall_seconds=round(seconds, 3), device=device or _device_name(),
        backend=keras.backend.backend(), finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        run_dir=str(Path("runs") / identifier),
    )
    added = append_row(table_path, row)
    if not keep_models:
        for name in MODEL_FILES:
            (run_dir / name).unlink(missing_ok=True)
    return row if added else None


def stage_start(stage, dataset: str, *, table: pd.DataFrame, settings: StudySettings, stages=STUDY_STAGES,
                select_on: str = DEFAULT_SELECT_ON):
    """The winning configuration (seed 0) of the stage ``stage`` starts from; ``None`` for a grid stage.

    The winner is picked by the ``select_on`` rule (see :mod:`medcnn.experiments.select`):
    ``"val"`` on the validation subset, ``"test"`` as the study did.

    Raises :class:`~medcnn.errors.DataError` when that stage is not complete in ``table``.

    Example:
        >>> stage_start(get_stage(2), "retina", table=read_results("study"), settings=StudySettings())  # doctest: +SKIP
        RunConfig(dataset='retina', backbone='vgg16', ...)
    """
    if stage.starts_from is None:
        return None
    earlier = get_stage(stage.starts_from, stages)
    rows = stage_results(table, stage=earlier.number, dataset=dataset, stages=stages, select_on=select_on,
                         settings=settings)
    rows = rows[rows["role"] != "before"] if not rows.empty else rows
    expected = len(stage_configs(earlier, dataset, settings=settings,
                                 start=stage_start(earlier, dataset, table=table, settings=settings, stages=stages,
                                                   select_on=select_on)))
    if len(rows) < expected:
        raise DataError(
            f"stage {stage.number} of {dataset} starts from the winner of stage {earlier.number}, "
            f"but only {len(rows)} of its {expected} runs are in the results table: "
            f"run `study --stage {earlier.number}` first (on every shard, then `study-merge` their tables)"
        )
    return config_from_row(select_winner(rows.reset_index(drop=True), select_on=select_on))


@dataclass
class StudyRun:
    """What :func:`run_study` did.

    Attributes:
        table: the results table's path.
        ran: config ids run now, in order.
        skipped: config ids already in the table.
        seconds: wall time of the whole call.
        devices: how many devices each step was spread over, and why.
    """

    table: Path
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0
    devices: str = ""


def _parse_stages(stages, definitions) -> list[int]:
    if stages in (None, "all"):
        return [stage.number for stage in definitions]
    numbers = [int(stages)] if isinstance(stages, (int, str)) else [int(number) for number in stages]
    for number in numbers:
        get_stage(number, definitions)
    return sorted(set(numbers))


def _parse_datasets(datasets) -> list[str]:
    if datasets in (None, "all"):
        return list(STUDY_DATASETS)
    chosen = [datasets] if isinstance(datasets, str) else list(datasets)

    for dataset in chosen:
        if dataset not in DATASET_KEYS:
            raise ConfigError(f"dataset {dataset!r}: expected 'all' or one of {', '.join(DATASET_KEYS)}")
    return chosen


def _describe(config: RunConfig) -> str:
    return (f"{config.dataset} {config.backbone} batch {config.batch_size} lr {config.learning_rate:g}"
            f"{' +augmentation' if config.augment else ''}{' +fine-tuning' if config.fine_tune else ''} seed {config.seed}")


def run_study(
    *,
    datasets="all",
    stages="all",
    out,
    settings: StudySettings | None = None,
    shard: tuple[int, int] = (1, 1),
    data_dir=None,
    prepared: dict | None = None,
    stage_definitions=STUDY_STAGES,
    keep_models: bool = False,
    data_parallel: str = "auto",
    verbose: int = 0,
    progress: bool = False,
    log=print,
    select_on: str = DEFAULT_SELECT_ON,
) -> StudyRun:
    """Run stages of the study on datasets, appending one row per finished run to ``<out>/results.csv``.

    Args:
        datasets: ``"all"`` (the study's three) or dataset keys.
        stages: ``"all"``, a stage number, or several.
        out: the study folder (``results.csv``, ``runs/``).
        settings: profile, seeds and shared settings (default: smoke, seed 0).
        shard: ``(I, N)``: run every N-th configuration of each stage from the I-th; a
            sharded call runs one stage (the next starts from the merged winners).
        data_dir: where datasets live (see :mod:`medcnn.paths`).
        prepared: already prepared data, ``{dataset: StudyData}`` (default: prepare each
            dataset with :func:`prepare_study_data` when its first run starts).
        stage_definitions: the stages (default the study's; tests pass smaller ones).
        keep_models: keep each run's ``.keras`` files.
        data_parallel: ``"auto"``, ``"on"`` or ``"off"`` (see :mod:`medcnn.experiments.parallel`).
        verbose: Keras' output per run (0 silent).
        progress: show the image-decoding progress bar.
        log: where one line per run goes (``None``: nowhere).
        select_on: how each stage's winner is picked for the next: ``"val"`` (default) on
            the validation subset, ``"test"`` on the test subset as the study did
            (see :mod:`medcnn.experiments.select`).

    Example:
        >>> summary = run_study(datasets=["retina"], stages=1, out="study")  # doctest: +SKIP
        >>> len(summary.ran)  # doctest: +SKIP
        12
    """
    settings = settings or StudySettings()
    log = log or (lambda text: None)
    numbers = _parse_stages(stages, stage_definitions)
    chosen_datasets = _parse_datasets(datasets)
    shard_index, shard_count = shard
    if shard_count > 1 and len(numbers) > 1:
        raise ConfigError(
            f"--shard {shard_index}/{shard_count} with stages {numbers}: a shard runs one stage, because each stage "
            "starts from the previous one's winner over all shards. Run one stage on every shard, "
            "`study-merge` the tables, then the next stage"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    devices, reason = configure_data_parallel(data_parallel)
    summary = StudyRun(table=out / RESULTS_FILE, devices=reason)
    profile = settings.resolved_profile or get_profile(settings.profile)  # once for the whole study
    if settings.resolved_profile is None:
        settings = dataclasses.replace(settings, resolved_profile=profile)
    if profile.name == "smoke":
        log(profile.banner(epochs=settings.epochs))
    device = _device_name()
    log(f"device: {device}; {reason}")
    for dataset in chosen_datasets:
        data = (prepared or {}).get(dataset)
        for number in numbers:
            stage = get_stage(number, stage_definitions)
            table = read_results(summary.table)
            start = stage_start(stage, dataset, table=table, settings=settings, stages=stage_definitions,
                                select_on=select_on)
            configs = shard_items(stage_configs(stage, dataset, settings=settings, start=start),
                                  index=shard_index, count=shard_count)
            done = set(table["config_id"])
            todo = [config for config in configs if config_id(config) not in done]
            summary.skipped += [config_id(config) for config in configs if config_id(config) in done]
            log(f"stage {stage.number} ({stage.name}), {dataset}: {len(configs)} runs"
                f"{f' in shard {shard_index}/{shard_count}' if shard_count > 1 else ''}, "
                f"{len(configs) - len(todo)} already in the table")
            for config in todo:
                check_batch_size(config.batch_size, devices)
                if data is None:
                    data = prepare_study_data(dataset, profile=profile, data_dir=data_dir)
                row = run_config(config, stage=stage.number, data=data, out=out, keep_models=keep_models,
                                 verbose=verbose, progress=progress, device=device, profile=profile)
                if row is None:
                    summary.skipped.append(config_id(config))
                    continue
                summary.ran.append(row["config_id"])
                outcome = (f"accuracy {row['accuracy']:.3f}, {row['correct']}/{row['total']} correct"
                           if row["status"] == COMPLETED else "diverged (loss became NaN)")
                log(f"  {_describe(config)}: {outcome} ({row['wall_seconds']:.1f} s)")
                if row["status"] == COMPLETED and row["message"]:
                    log(f"    note: {row['message']}")
    summary.seconds = time.perf_counter() - started
    log(f"{len(summary.ran)} run(s) done, {len(summary.skipped)} already in {summary.table} ({summary.seconds:.0f} s)")
    return summary
