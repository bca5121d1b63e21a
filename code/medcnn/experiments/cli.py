"""The ``study`` and ``study-merge`` commands, added to ``python -m medcnn`` by :func:`register`.

``study --dataset D|all --stage 1|2|3|4|all [--profile smoke|full] [--seeds N] [--shard I/N] --out DIR``
runs stages of the study (see :mod:`medcnn.experiments.runner`) and prints the
stages' tables; ``study-merge --out DIR TABLE...`` combines the results tables of
shards into ``DIR/results.csv``.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="medcnn")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["study", "--dataset", "retina", "--stage", "1", "--out", "s"]).seeds
    1
"""

from __future__ import annotations

from pathlib import Path

from medcnn.experiments.stages import STUDY_DATASETS, STUDY_STAGES
from medcnn.profiles import PROFILES

STAGE_CHOICES = (*(str(stage.number) for stage in STUDY_STAGES), "all")
SELECT_ON = ("val", "test")  # medcnn.experiments.select.SELECT_ON, without importing pandas here
DEFAULT_SELECT_ON = "val"
DATASET_CHOICES = (*STUDY_DATASETS, "all")


def command_study(arguments) -> int:
    """Run the study's stages as the command line asked."""
    from medcnn.experiments.report import markdown, stage_results, study_layout
    from medcnn.experiments.results import read_results
    from medcnn.experiments.runner import run_study
    from medcnn.experiments.shard import parse_shard
    from medcnn.experiments.stages import STUDY_DATASETS, StudySettings
    from medcnn.profiles import get_profile

    from medcnn.errors import ConfigError
    from medcnn.files import check_writable
    from medcnn.models.backbones import BACKBONES

    if not 1 <= arguments.seeds <= 1000:
        raise ConfigError(f"--seeds {arguments.seeds}: expected a whole number from 1 to 1000 (seeds 0 ... N-1)")
    profile = get_profile(arguments.profile)  # resolved once here (with the environment's), then passed down
    settings = StudySettings(
        profile=profile.name, resolved_profile=profile,
        seeds=tuple(range(arguments.seeds)),
        epochs=arguments.epochs, image_size=arguments.image_size,
    )
    datasets = STUDY_DATASETS if arguments.dataset == "all" else (arguments.dataset,)
    for dataset in datasets:  # every setting checked for every run before any work
        for backbone in (key for key, record in BACKBONES.items() if record.in_study):
            settings.config(dataset=dataset, backbone=backbone, seed=max(settings.seeds))
    check_writable(arguments.out, what="the study folder", fix="write the study elsewhere with --out", folder=True)
    summary = run_study(
        datasets=arguments.dataset, stages=arguments.stage, out=arguments.out, settings=settings,
        shard=parse_shard(arguments.shard), data_dir=arguments.data_dir, keep_models=arguments.keep_models,
        data_parallel=arguments.data_parallel, verbose=arguments.verbose, progress=arguments.verbose > 0,
        select_on=arguments.select_on,
    )
    if arguments.shard is None or parse_shard(arguments.shard)[1] == 1:
        results = read_results(summary.table)
        datasets = STUDY_DATASETS if arguments.dataset == "all" else (arguments.dataset,)
        stages = [stage.number for stage in STUDY_STAGES] if arguments.stage == "all" else (int(arguments.stage),)
        for dataset in datasets:
            for stage in stages:
                rows = stage_results(results, stage=stage, dataset=dataset, select_on=arguments.select_on)
                if not rows.empty:
                    print(f"\nstage {stage}, {dataset} (test subset):\n{markdown(study_layout(rows, stage=stage))}")
    print(f"\nresults table: {summary.table}")
    return 0


def command_study_merge(arguments) -> int:
    """Merge shards' results tables into ``--out``."""
    from medcnn.experiments.results import read_results
    from medcnn.experiments.shard import merge_into

    from medcnn.files import check_writable

    check_writable(arguments.out, what="the study folder", fix="write the merged table elsewhere with --out", folder=True)
    path = merge_into(arguments.out, arguments.tables)
    print(f"{len(read_results(path))} runs in {path}")
    return 0


def register(subcommands) -> None:
    """Add ``study`` and ``study-merge`` to an ``argparse`` subparsers object.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["study-merge", "--out", "all", "a.csv", "b.csv"]).tables
        ['a.csv', 'b.csv']
    """
    text = "run the study's stages (1 batch size, 2 learning rate, 3 augmentation, 4 fine-tuning); resumable"
    command = subcommands.add_parser("study", help=text, description=text)
    command.set_defaults(function=command_study)
    command.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="one dataset, or all three")
    command.add_argument("--stage", required=True, choices=STAGE_CHOICES, help="one stage, or all in order")
    command.add_argument("--profile", choices=tuple(PROFILES), help="smoke (default; $MEDCNN_PROFILE) or full")
    command.add_argument("--seeds", type=int, default=1, help="run each configuration with seeds 0 … N-1 (default 1)")
    command.add_argument("--shard", help="I/N: run the I-th of N equal shares of the stage (one stage per call)")
    command.add_argument("--epochs", type=int, help="most epochs per run (default: the profile's)")
    command.add_argument("--image-size", type=int, help="image side in px (default: the profile's)")
    command.add_argument("--data-dir", help="where datasets live (default: $MEDCNN_DATA_DIR, else ~/.medcnn/data)")
    command.add_argument("--data-parallel", choices=("auto", "on", "off"), default="auto",
                         help="split batches over all GPUs (JAX backend; auto: when there are several)")
    command.add_argument(
        "--select-on", choices=SELECT_ON, default=DEFAULT_SELECT_ON,
        help="pick each stage's winner on the validation subset (val, default) or on the test subset "
             "as the study did (test: reproduces its choices, but flatters the winner's test figures)",
    )
    command.add_argument("--keep-models", action="store_true", help="keep each run's .keras files (large)")
    command.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras progress output per run")
    command.add_argument("--out", required=True, type=Path, help="the study folder: results.csv and runs/")

    text = "combine the results tables of shards into one (refuses conflicting duplicates)"
    command = subcommands.add_parser("study-merge", help=text, description=text)
    command.set_defaults(function=command_study_merge)
    command.add_argument("--out", required=True, type=Path, help="the study folder to write results.csv into")
    command.add_argument("tables", nargs="+", help="results.csv files (or study folders) of the shards")

