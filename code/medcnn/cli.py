"""The command line: ``python -m medcnn <command>`` for everything a chapter does.

Each command has ``--help``. Every failure is printed on one or two lines, never as a
traceback, and the command exits with a status that says what kind of failure it was
(:data:`medcnn.errors.EXIT_CODES`, listed by ``python -m medcnn --help``); ``--debug``
shows the traceback instead. Operating-system errors (read-only folder, permission,
full disk, a file where a folder belongs) are named with their path and the way out;
running out of memory in any backend exits 8 with the batch- and image-size advice;
SIGTERM is taken as Ctrl-C (the resume state kept, a message, exit 143);
any other exception is an internal error with a one-line summary and how to report it.

Example:
    >>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from medcnn.config import FEATURE_CACHE_CHOICES
from medcnn.datasets import DATASET_KEYS as DATASET_CHOICES
from medcnn.errors import INTERNAL_ERROR_EXIT_CODE
from medcnn.models.backbones import BACKBONE_KEYS as BACKBONE_CHOICES
from medcnn.profiles import PROFILES


def _root(arguments) -> Path:
    """The dataset folder: ``--root``, else ``<data dir>/<dataset>``."""
    from medcnn.paths import dataset_dir, expand_path

    if getattr(arguments, "root", None):
        return expand_path(arguments.root, setting="--root")
    return dataset_dir(arguments.dataset, getattr(arguments, "data_dir", None))


def command_download(arguments) -> int:
    from medcnn.datasets import get_dataset

    from medcnn.datasets.base import check_folder_path

    dataset = get_dataset(arguments.dataset)
    root = _root(arguments)
    # a file (or a link loop) where the data folder belongs is named now, not after a failed download
    check_folder_path(root, what=f"the {arguments.dataset} dataset", fix=WRITE_FIXES["download"])
    print(f"{dataset.TITLE}\nSource: {dataset.SOURCE}\nLicence: {dataset.LICENSE}\nPlease cite: {dataset.CITATION}\n")
    path = dataset.download(root, force=arguments.force)
    print(f"{arguments.dataset} is in {path}")
    return 0


def command_synth(arguments) -> int:
    from medcnn.datasets import get_dataset

    from medcnn.config import MAX_SEED
    from medcnn.errors import ConfigError
    from medcnn.files import check_writable

    if not 1 <= arguments.per_class <= 100_000:
        raise ConfigError(f"--per-class {arguments.per_class}: expected a whole number from 1 to 100000")
    if not 0 <= arguments.seed <= MAX_SEED:
        raise ConfigError(f"--seed {arguments.seed}: expected a whole number from 0 to {MAX_SEED}")
    check_writable(arguments.root, what="the synthetic dataset", fix=WRITE_FIXES["synth"], folder=True)
    path = get_dataset(arguments.dataset).write_synthetic(arguments.root, per_class=arguments.per_class, seed=arguments.seed)
    print(f"synthetic {arguments.dataset} stand-in written to {path} (in the real on-disk format)")
    return 0


def command_index(arguments) -> int:
    from medcnn.datasets import get_dataset
    from medcnn.splits import write_manifest

    from medcnn.files import check_writable

    check_writable(arguments.out, what="the index CSV", fix=WRITE_FIXES["index"])
    index = get_dataset(arguments.dataset).index(_root(arguments))
    write_manifest(index, arguments.out)
    print(index.groupby("class_name", sort=False).size().to_string())
    print(f"{len(index)} images indexed -> {arguments.out}")
    return 0


def command_split(arguments) -> int:
    from medcnn.data import load_index, split_index
    from medcnn.splits import subset_counts, write_manifest

    from medcnn.files import check_writable

    check_writable(arguments.out, what="the manifest", fix=WRITE_FIXES["split"])
    index = load_index(arguments.dataset, _root(arguments))
    manifest = split_index(index, dataset=arguments.dataset, strategy=arguments.strategy, seed=arguments.seed)
    write_manifest(manifest, arguments.out)
    print(subset_counts(manifest).to_string())
    print(f"manifest -> {arguments.out}")
    return 0


def command_train(arguments) -> int:
    from medcnn.config import RunConfig
    from medcnn.pipeline import train_and_evaluate
    from medcnn.profiles import get_profile

    profile = get_profile(arguments.profile)  # resolved once here (with the environment's), then passed down
    config = RunConfig(
        dataset=arguments.dataset,
        backbone=arguments.backbone,
        profile=profile.name,
        batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate,
        epochs=arguments.epochs,
        image_size=arguments.image_size,
        augment=arguments.augment,
        fine_tune=arguments.fine_tune,
        weights="profile" if arguments.weights is None else (None if arguments.weights == "none" else arguments.weights),
        split=arguments.strategy,
        seed=arguments.seed,
        feature_cache=arguments.feature_cache,
    )
    from medcnn.errors import ConfigError
    from medcnn.files import check_writable
    from medcnn.run_folder import check_not_overlapping

    if arguments.resume and arguments.overwrite:
        raise ConfigError("--overwrite and --resume contradict each other: start again (--overwrite) or "
                          "go on (--resume), not both")
    config.resolved(profile)  # every setting checked before anything is written
    check_not_overlapping(arguments.out, _root(arguments))
    check_writable(arguments.out, what="the run folder", fix=WRITE_FIXES["train"], folder=True)
    from medcnn.images.cache import default_cache_dir

    # The default cache is beside the data, which may be read-only (Kaggle's /kaggle/input): say so before work.
    check_writable(arguments.cache_dir or default_cache_dir(_root(arguments)), what="the image cache", folder=True,
                   fix="put the decoded images elsewhere with --cache-dir (on Kaggle: --cache-dir /kaggle/working/cache)")
    result = train_and_evaluate(
        config, root=_root(arguments), out=arguments.out, cache_dir=arguments.cache_dir, verbose=arguments.verbose,
        skip_bad=arguments.skip_bad, resume=arguments.resume, overwrite=arguments.overwrite, profile=profile,
    )
    print(result.summary())
    return 0


def command_evaluate(arguments) -> int:
    from medcnn.pipeline import evaluate_run

    result = evaluate_run(arguments.run, cache_dir=arguments.cache_dir)
    print(result.summary())
    return 0


def command_cite(arguments) -> int:
    from medcnn.datasets import get_dataset

    dataset = get_dataset(arguments.dataset)
    print(f"{dataset.TITLE}\nSource: {dataset.SOURCE}\nLicence: {dataset.LICENSE}\n\n{dataset.CITATION}")
    return 0


SECRET_VARIABLES = ("KAGGLE_KEY", "KAGGLE_API_TOKEN")


def hide_secrets(text: str) -> str:
    """Replace Kaggle credentials found in the environment by ``***`` (they are never printed).

    Example:
        >>> import os
        >>> os.environ["KAGGLE_KEY"] = "0123456789abcdef"
        >>> hide_secrets("401 for key 0123456789abcdef")
        '401 for key ***'
        >>> del os.environ["KAGGLE_KEY"]
    """
    from medcnn.download.fetch import hide_kaggle_secrets

    return hide_kaggle_secrets(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m medcnn``.

    Example:
        >>> build_parser().parse_args(["synth", "--dataset", "retina", "--root", "/tmp/r"]).per_class
        8
    """
    from medcnn.errors import EXIT_CODES

    epilog = "exit status:\n" + "\n".join(f"  {status:>3}  {meaning}" for status, meaning in EXIT_CODES)
    parser = argparse.ArgumentParser(prog="python -m medcnn", description="Classify medical images with CNNs: the course's command line.",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, function, help_text):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(function=function)
        return command

    def dataset_arguments(command, *, root_required=False):
        command.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="which dataset")
        command.add_argument("--root", required=root_required, help="the dataset folder (default: <data dir>/<dataset>)")
        command.add_argument("--data-dir", help="where datasets live (default: $MEDCNN_DATA_DIR, else ~/.medcnn/data)")

    command = add("download", command_download, "download a dataset (figshare or Kaggle) and unpack it")
    dataset_arguments(command)
    command.add_argument("--force", action="store_true", help="download again even if present")

    command = add("synth", command_synth, "write a small synthetic stand-in in the dataset's real on-disk format")
    command.add_argument("--dataset", required=True, choices=DATASET_CHOICES)
    command.add_argument("--root", required=True, help="folder to write into")
    command.add_argument("--per-class", type=int, default=8, help="images per class (default 8)")
    command.add_argument("--seed", type=int, default=0)

    command = add("index", command_index, "list a dataset's images, labels, patients and official split as CSV")
    dataset_arguments(command)
    command.add_argument("--out", required=True, help="CSV file to write")

    command = add("split", command_split, "split into train/val/test (the study's rule per dataset) and write the manifest")
    dataset_arguments(command)
    command.add_argument("--out", required=True, help="manifest CSV to write")
    command.add_argument("--strategy", choices=("grouped", "stratified", "official"), help="override the dataset's rule")
    command.add_argument("--seed", type=int, default=0)

    command = add("train", command_train, "train and evaluate one model; writes a run folder with its report")
    dataset_arguments(command)
    command.add_argument("--backbone", default="vgg16", choices=BACKBONE_CHOICES)
    command.add_argument("--profile", choices=tuple(PROFILES), help="smoke (default; $MEDCNN_PROFILE) or full")
    command.add_argument("--batch-size", type=int, default=32)
    command.add_argument("--learning-rate", type=float, default=1e-3)
    command.add_argument("--epochs", type=int, help="most epochs (default: the profile's: smoke 2, full 100)")
    command.add_argument("--image-size", type=int, help="image side in px (default: smoke 64/75, full the backbone's)")
    command.add_argument("--augment", action="store_true", help="the study's augmentation on training images")
    command.add_argument("--fine-tune", action="store_true", help="then unfreeze the backbone's second half (5 epochs at 1e-5 in full)")
    command.add_argument("--weights", choices=("imagenet", "none"), help="default: smoke none, full imagenet")
    command.add_argument("--strategy", choices=("grouped", "stratified", "official"), help="override the dataset's split rule")
    command.add_argument("--feature-cache", choices=FEATURE_CACHE_CHOICES, default="auto",
                         help="train the head on cached backbone outputs (auto: where that is faster)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--cache-dir", help="where decoded images are cached (default: <root>/.medcnn-cache)")
    command.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras progress output")
    command.add_argument("--skip-bad", action="store_true",
                         help="leave unreadable images out (recorded in the run's manifest) instead of stopping")
    command.add_argument("--resume", action="store_true",
                         help="continue a killed run in --out from its last finished epoch (same settings)")
    command.add_argument("--overwrite", action="store_true",
                         help="clear --out first when it holds another medcnn run (only a folder medcnn marked as "
                              "its run folder is ever emptied; without it, such a folder is refused)")
    command.add_argument("--out", required=True, help="run folder to write")

    command = add("evaluate", command_evaluate, "evaluate a trained run folder again and rewrite its report")
    command.add_argument("--run", required=True, help="a run folder written by train")
    command.add_argument("--cache-dir", help="where decoded images are cached")

    from medcnn.benchmark.cli import register as register_bench
    from medcnn.experiments.cli import register as register_study

    register_study(commands)  # study, study-merge
    register_bench(commands)  # bench

    command = add("cite", command_cite, "show a dataset's source, licence and citation")
    command.add_argument("--dataset", required=True, choices=DATASET_CHOICES)
    # --debug is accepted after the command too (`python -m medcnn train ... --debug`): absent
    # there, it leaves the value given before the command alone
    for command in commands.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the full traceback on errors")
    return parser


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While the block runs, SIGTERM raises :class:`medcnn.errors.Terminated` (a ``KeyboardInterrupt``).

    ``kill``, a notebook's stop button and a cluster's time limit send SIGTERM; taking
    Ctrl-C's way out means temporary files are removed and the resume state of the last
    finished epoch stays for ``--resume``. A second SIGTERM ends the process at once.
    Outside the main thread (where Python cannot set handlers) nothing changes.

    Example:
        >>> with sigterm_as_interrupt():
        ...     pass
    """
    import signal
    import threading

    from medcnn.errors import Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(number, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM is not caught
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


INTERRUPT_HINTS = {
    "train": "; run the same command with --resume to go on from the last finished epoch",
    "study": "; finished runs are in the results table: run the same command again to go on",
}


def main(argv=None) -> int:
    """Run the command line; return the exit status.

    Every exception becomes one or two lines on standard error (secrets hidden) and the
    exit status of its kind (:data:`medcnn.errors.EXIT_CODES`); ``--debug`` raises it with
    its traceback instead.

    Example:
        >>> main(["cite", "--dataset", "retina"])  # doctest: +SKIP
    """
    from medcnn.errors import INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE, Terminated

    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():
            return arguments.function(arguments)
    except KeyboardInterrupt as interruption:
        hint = INTERRUPT_HINTS.get(arguments.command, "")
        terminated = isinstance(interruption, Terminated)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"medcnn {arguments.command}: {what}; nothing half-written is kept{hint}", file=sys.stderr)
        return TERMINATED_EXIT_CODE if terminated else INTERRUPTED_EXIT_CODE
    except BaseException as error:  # noqa: BLE001 - every failure becomes a message
        if arguments.debug or isinstance(error, SystemExit):
            raise
        kind, message, status = describe_failure(error, command=arguments.command)
        print(f"medcnn {arguments.command}: {kind}: {hide_secrets(message)}", file=sys.stderr)
        print("(run with --debug for the traceback)" if status != INTERNAL_ERROR_EXIT_CODE else
              f"(please report it with the output of `python -m medcnn --debug {arguments.command} ...`)",
              file=sys.stderr)
        return status


WRITE_FIXES = {
    "download": "download into another folder with --data-dir or --root",
    "synth": "write into another folder with --root",
    "index": "write the CSV elsewhere with --out",
    "split": "write the manifest elsewhere with --out",
    "train": "write the run elsewhere with --out, and decoded images with --cache-dir",
    "evaluate": "copy the run folder somewhere writable, or use --cache-dir elsewhere",
    "study": "write the study elsewhere with --out (and datasets with --data-dir)",
    "study-merge": "write the merged table elsewhere with --out",
    "bench": "write the benchmark elsewhere",
}

DAMAGED_FILE_MODULES = ("zlib", "zipfile", "json", "csv", "pickle", "h5py", "gzip", "tarfile")
"""Modules whose exceptions mean a file read was damaged or malformed (plus pandas' parser errors)."""


def out_of_memory(error: BaseException) -> str:
    """Which backend ran out of memory, in a few words, or ``""`` when ``error`` is not that.

    Python's ``MemoryError``, TensorFlow's ``ResourceExhaustedError`` (an OOM when allocating
    a tensor) and JAX's ``XlaRuntimeError: RESOURCE_EXHAUSTED`` are all out of memory;
    the backends are recognised by name, so none of them is imported here.

    Example:
        >>> out_of_memory(MemoryError())
        'MemoryError'
        >>> out_of_memory(ValueError("RESOURCE_EXHAUSTED"))
        ''
    """
    if isinstance(error, MemoryError):
        return "MemoryError"
    names = [kind.__name__ for kind in type(error).__mro__]
    if "ResourceExhaustedError" in names:
        return "TensorFlow ResourceExhaustedError"
    module = type(error).__module__.split(".")[0]
    if (module in ("jax", "jaxlib") or names[0] in ("XlaRuntimeError", "JaxRuntimeError")) and \
            str(error).lstrip().startswith("RESOURCE_EXHAUSTED"):
        return f"JAX {names[0]}: RESOURCE_EXHAUSTED"
    return ""


def describe_failure(error: BaseException, *, command: str) -> tuple[str, str, int]:
    """``(kind, message, exit status)`` for any exception a command raised.

    Example:
        >>> import errno
        >>> describe_failure(OSError(errno.EACCES, "Permission denied", "/runs/a"), command="train")[::2]
        ('FileSystemError', 6)
        >>> describe_failure(TypeError("unsupported operand"), command="train")[::2]
        ('internal error', 70)
    """
    from medcnn.errors import (
        INTERNAL_ERROR_EXIT_CODE,
        OUT_OF_MEMORY_EXIT_CODE,
        DataError,
        MedcnnError,
        os_error_message,
    )

    if isinstance(error, OSError) and error.errno is not None:
        error = os_error_message(error, fix=WRITE_FIXES.get(command))
    if isinstance(error, MedcnnError):
        return type(error).__name__, str(error), getattr(error, "exit_code", 1)
    if isinstance(error, OSError) and error.errno is None:  # a library's I/O failure (h5py: a damaged file)
        where = f"{error.filename}: " if getattr(error, "filename", None) else ""
        damaged = DataError(f"{where}input/output error ({type(error).__name__}: {str(error)[:200]}); a file it read "
                            "is damaged or unreadable: replace it (a cache is rebuilt, a download fetched again)")
        return "DataError", str(damaged), damaged.exit_code
    memory = out_of_memory(error)
    if memory:
        return ("MemoryError", f"out of memory ({memory}); use a smaller --batch-size (halve it) or --image-size, "
                "or a machine with more memory", OUT_OF_MEMORY_EXIT_CODE)
    if isinstance(error, RuntimeError) and "home directory" in str(error):  # Path.expanduser of ~nosuchuser
        from medcnn.errors import ConfigError

        return ("ConfigError", f"a path starting with ~ names no home folder known here ({error}); give the full "
                "path (--root, --data-dir, --out or MEDCNN_DATA_DIR)", ConfigError.exit_code)
    module = type(error).__module__.split(".")[0]
    name = type(error).__name__
    if (module in DAMAGED_FILE_MODULES or name in ("ParserError", "EmptyDataError")
            or isinstance(error, (EOFError, UnicodeDecodeError))):
        damaged = DataError(f"a file it read is damaged or malformed ({module}.{name}: {str(error)[:200]}); "
                            "delete the damaged file (a cache is rebuilt, a download fetched again) and run again")
        return "DataError", str(damaged), damaged.exit_code
    summary = str(error).splitlines()[0][:200] if str(error) else ""
    return ("internal error",
            f"{name}: {summary} (this is a bug in medcnn, not in your data)", INTERNAL_ERROR_EXIT_CODE)

