"""A run folder, the unit of record: what one run writes, and reading it back.

``config.json`` (the settings), ``run.json`` (where the data and cache were),
``manifest.csv`` (the split, with a ``skipped`` column when images were left out),
``history.csv``, ``model.keras``, ``metrics.json``, ``timings.json``, ``report.md`` and
the figures. Every file is written through :mod:`medcnn.files` (a temporary name renamed
when complete). :mod:`medcnn.pipeline` writes a run folder; :func:`read_run_folder`
reads one back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from medcnn.config import RunConfig
from medcnn.datasets.base import RUN_FOLDER_MARKER, SYNTHETIC_MARKER, is_image_file
from medcnn.errors import ConfigError, DataError
from medcnn.files import PARTIAL_SUFFIX, atomic_path, format_bytes, remove_stale_partials
from medcnn.models.backbones import backbone_architecture
from medcnn.profiles import PROFILES
from medcnn.splits import read_manifest
from medcnn.tables import read_checked_csv

RESULTS_FIX = "free some space, or write the run folder elsewhere with --out"
FINISHED_RUN_FILES = ("config.json", "run.json", "manifest.csv", "model.keras")
RUN_MARKER = RUN_FOLDER_MARKER
"""Written into a run folder when a run claims it: only a folder holding it is ever emptied (``--overwrite``)."""
CLAIM_FILES = (RUN_MARKER, "config.json", "run.json", "manifest.csv", "skipped.csv")
"""What a run writes before training begins: a folder holding only these never got past its data checks."""


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
            lines.append(PROFILES["smoke"].banner(epochs=self.config.epochs))  # the recorded run's, no lookup
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


def write_json(path, value) -> None:
    """Write ``value`` as indented JSON, atomically (see :func:`medcnn.files.atomic_path`).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
        >>> write_json(path, {"a": 1}); json.loads(path.read_text())
        {'a': 1}
    """
    path = Path(path)
    with atomic_path(path, what=path.name, fix=RESULTS_FIX) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str))


def write_table(frame: pd.DataFrame, path, *, what: str) -> None:
    """Write a DataFrame as CSV (no index), atomically.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
        >>> write_table(pd.DataFrame({"epoch": [1]}), path, what="the history"); path.read_text()
        'epoch\\n1\\n'
    """
    with atomic_path(Path(path), what=what, fix=RESULTS_FIX) as temporary:
        frame.to_csv(temporary, index=False)


def write_model(model, path) -> None:
    """Save a Keras model to a ``.keras`` file, atomically.

    Example:
        >>> write_model(model, "runs/demo/model.keras")  # doctest: +SKIP
    """
    with atomic_path(Path(path), what="the trained model", fix=RESULTS_FIX, suffix=".keras") as temporary:
        model.save(temporary)


def read_record(path, *, fix: str) -> dict:
    """A JSON record read back (``config.json``, ``run.json``, ``metrics.json``): complete and a JSON object.

    Raises:
        DataError: the file is truncated, hand-edited into invalid JSON, or not an object;
            the message names the file, where it broke, and ``fix``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "config.json"
        >>> _ = path.write_text('{"seed": 0')
        >>> read_record(path, fix="train again")
        Traceback (most recent call last):
        ...
        medcnn.errors.DataError: ...config.json: damaged record (truncated or not JSON: Expecting ',' delimiter at line 1 column 11); train again
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        where = f"{error.msg} at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) \
            else str(error)
        raise DataError(f"{path}: damaged record (truncated or not JSON: {where}); {fix}") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: damaged record (expected a JSON object, found {type(value).__name__}); {fix}")
    return value


def recorded_config(run_dir, *, fix: str) -> RunConfig:
    """The :class:`RunConfig` a run folder's ``config.json`` records, checked (every setting valid).

    Example:
        >>> recorded_config("runs/demo", fix="train again").backbone  # doctest: +SKIP
        'vgg16'
    """
    path = Path(run_dir) / "config.json"
    values = read_record(path, fix=fix)
    try:
        config = RunConfig.from_dict(values)
        config.validate()
    except (ConfigError, TypeError) as error:
        raise DataError(f"{path}: damaged record ({error}); {fix}") from None
    return config


def describe_folder(folder, *, shown: int = 4) -> str:
    """What a folder holds, in a few words: how many files and folders, what kind of data, a few names.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.png", "a.png", "notes.txt"):
        ...     _ = (folder / name).write_text("x")
        >>> describe_folder(folder)
        '3 file(s) (2 image(s)): a.png, b.png, notes.txt'
    """
    folder = Path(folder)
    entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    files = [entry for entry in entries if not entry.is_dir()]
    folders = [entry for entry in entries if entry.is_dir()]
    images = sum(1 for entry in files if is_image_file(entry))
    kinds = []
    if (folder / SYNTHETIC_MARKER).is_file():
        kinds.append("a synthetic dataset stand-in")
    if (folder / ".medcnn-cache").is_dir() or folder.name == ".medcnn-cache":
        kinds.append("an image cache")
    if (folder / "config.json").is_file() and not (folder / RUN_MARKER).is_file():
        kinds.append("a run written before run folders were marked, or someone else's config.json")
    counts = [f"{len(files)} file(s)" + (f" ({images} image(s))" if images else "")]
    if folders:
        counts.append(f"{len(folders)} folder(s)")
    names = [entry.name + ("/" if entry.is_dir() else "") for entry in entries[:shown]]
    more = f" and {len(entries) - shown} more" if len(entries) > shown else ""
    kind = f"{'; '.join(kinds)}; " if kinds else ""
    return f"{kind}{' and '.join(counts)}: {', '.join(names)}{more}"


def check_not_overlapping(run_dir, root) -> None:
    """Refuse a run folder that is the dataset folder, inside it, or holds it.

    Inside the data, a run's files would be read as data (for the folder dataset, a class
    of its own); around the data, clearing the run folder would delete the data.

    Example:
        >>> check_not_overlapping("/runs/a", "/data/retina")
        >>> check_not_overlapping("/data/retina/runs/a", "/data/retina")
        Traceback (most recent call last):
        ...
        medcnn.errors.ConfigError: /data/retina/runs/a: the run folder is inside the dataset folder /data/retina, where its files would be read as data; write the run elsewhere with --out (beside the data, not in it)
    """
    import os

    run_dir = Path(os.path.abspath(Path(run_dir).expanduser()))
    root = Path(os.path.abspath(Path(root).expanduser()))
    for left, right in ((run_dir, root), (run_dir.resolve(), root.resolve())):
        if left == right:
            raise ConfigError(f"{run_dir}: the run folder is the dataset folder; write the run elsewhere with --out "
                              "(beside the data, not in it)")
        if right in left.parents:
            raise ConfigError(f"{run_dir}: the run folder is inside the dataset folder {root}, where its files would be "
                              "read as data; write the run elsewhere with --out (beside the data, not in it)")
        if left in right.parents:
            raise ConfigError(f"{run_dir}: the run folder holds the dataset folder {root}; write the run elsewhere "
                              "with --out (beside the data, not around it)")


def _mark(run_dir: Path) -> None:
    import datetime

    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / RUN_MARKER).is_file():
        write_json(run_dir / RUN_MARKER, {"medcnn_run": 1, "claimed": datetime.datetime.now(datetime.timezone.utc)
                                          .isoformat(timespec="seconds")})


def _empty(run_dir: Path) -> None:
    import shutil

    for entry in run_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def claim_run_folder(run_dir, config: RunConfig, *, root, resume: bool = False, overwrite: bool = False,
                     mark: bool = True) -> None:
    """One run per run folder: refuse ``run_dir`` if it holds another run or anything else, before anything is written.

    An absent or empty folder, or one holding this same run (same settings and data root), is
    taken, and marked as a run folder (``.medcnn-run.json``, unless ``mark=False``). A folder
    a run claimed that never got past its data checks (only :data:`CLAIM_FILES`) is taken over
    by a run with other settings. A folder holding another run, files that are not a run, or a
    damaged record is refused; ``overwrite`` empties it first, but only a folder holding the
    marker, one medcnn wrote: never the data, a cache, a home folder. ``resume`` needs the
    same run, and cannot go with ``overwrite``. Partial files left by killed runs are swept.

    Raises:
        ConfigError: another run, or other files, are there (names the differences and the fix);
            ``--overwrite`` of a folder that is not a marked run folder (says what is there);
            ``resume`` with ``overwrite``; a run folder inside the data, or around it.
        DataError: the folder's ``config.json`` or ``run.json`` is damaged.

    Example:
        >>> import tempfile
        >>> claim_run_folder(tempfile.mkdtemp(), RunConfig().resolved(), root="/data")  # an empty folder
    """
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume contradict each other: start again (--overwrite) or "
                          "go on (--resume), not both")
    run_dir = Path(run_dir)
    if root is not None:
        check_not_overlapping(run_dir, root)
    if not run_dir.is_dir():
        if mark:
            _mark(run_dir)
        return
    sizes = {}
    for path in run_dir.glob(f"*{PARTIAL_SUFFIX}*"):
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            pass
    swept = remove_stale_partials(run_dir)
    if swept:
        total = sum(sizes.get(path, 0) for path in swept)
        print(f"{run_dir}: removed {len(swept)} partial file(s) left by a killed run ({format_bytes(total)}, "
              f"e.g. {swept[0].name})")
    entries = [entry for entry in run_dir.iterdir() if PARTIAL_SUFFIX not in entry.name]
    if not entries:
        if mark:
            _mark(run_dir)
        return
    ours = (run_dir / RUN_MARKER).is_file()
    if overwrite:
        if not ours:
            raise ConfigError(
                f"{run_dir}: --overwrite empties only a run folder medcnn wrote (marked by {RUN_MARKER}), and this "
                f"folder has no such mark; it holds {describe_folder(run_dir)}. Nothing was removed: train into "
                "another --out (a new or empty folder)")
        print(f"{run_dir}: --overwrite: removing the earlier run there ({describe_folder(run_dir)})")
        _empty(run_dir)
        if mark:
            _mark(run_dir)
        return
    escape = "train into another --out, or add --overwrite to clear it first" if ours else \
        "train into another --out (a new or empty folder)"
    unstarted = ours and all(entry.name in CLAIM_FILES for entry in entries)
    if unstarted and not resume:
        # an earlier run claimed it and stopped at its data or settings checks: nothing trained to keep
        print(f"{run_dir}: an earlier run stopped here before training began; its record is replaced")
        _empty(run_dir)
        if mark:
            _mark(run_dir)
        return
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir}: holds files that are not a medcnn run ({describe_folder(run_dir)}); {escape}")
    fix = f"the run's record is damaged: {escape}" if not resume else \
        "the run's record is damaged, so it cannot be resumed: start again with --overwrite, or use another --out"
    before = recorded_config(run_dir, fix=fix).to_dict()
    before = json.loads(json.dumps(before, default=str))
    now = json.loads(json.dumps(config.to_dict(), default=str))
    differences = [f"{name} {before.get(name)!r} -> {now.get(name)!r}" for name in sorted(now)
                   if before.get(name) != now.get(name)]
    if (run_dir / "run.json").is_file():
        where = read_record(run_dir / "run.json", fix=fix)
        recorded_root = where.get("root")
        if recorded_root is not None and root is not None and str(recorded_root) != str(Path(root).resolve()):
            differences.append(f"data root {recorded_root!r} -> {str(Path(root).resolve())!r}")
    elif resume:
        raise DataError(f"{run_dir / 'run.json'}: missing, so the data root of the run cannot be checked; {fix}")
    if differences:
        if resume:
            raise ConfigError(
                f"{run_dir}: cannot resume, this run was started with other settings ({'; '.join(differences)}); "
                "resume with the same settings, or train into a new --out folder"
            )
        raise ConfigError(f"{run_dir}: holds another run ({'; '.join(differences)}); {escape}")
    if mark:
        _mark(run_dir)


def check_resumable(run_dir, config: RunConfig, *, root=None) -> None:
    """Refuse to resume a run folder that was started with other settings, or whose record is damaged.

    Example:
        >>> import tempfile
        >>> check_resumable(tempfile.mkdtemp(), RunConfig())  # a fresh folder: nothing to compare
    """
    if root is None and (Path(run_dir) / "run.json").is_file():
        root = read_record(Path(run_dir) / "run.json", fix="train into a new --out folder").get("root", ".")
    claim_run_folder(run_dir, config, root=root, resume=True, mark=False)


def load_run_model(path, config: RunConfig, *, num_classes: int):
    """Load a run's ``model.keras`` and check it belongs to the recorded settings.

    Raises:
        DataError: the file is truncated or damaged, or its backbone, input size or number
            of outputs differ from ``config.json`` (a model copied in from another run).

    Example:
        >>> model = load_run_model("runs/demo/model.keras", config, num_classes=3)  # doctest: +SKIP
    """
    import zipfile

    import keras

    path = Path(path)
    fix = "train the run again (python -m medcnn train ... --overwrite --out RUN_DIR)"
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: damaged model file (truncated, or not a .keras archive); {fix}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - any failure to rebuild means a damaged file
        summary = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise DataError(f"{path}: damaged model file ({type(error).__name__}: {summary}); {fix}") from None
    problems = []
    try:
        architecture = backbone_architecture(model)
    except ConfigError:
        architecture = "none"
    if architecture != config.backbone:
        problems.append(f"backbone {architecture} (config.json: {config.backbone})")
    shape = tuple(model.input_shape[1:3]) if model.input_shape else ()
    if shape != (config.image_size, config.image_size):
        problems.append(f"input size {shape} (config.json: image_size {config.image_size})")
    outputs = int(model.output_shape[-1])
    expected = 1 if num_classes == 2 else num_classes
    if outputs != expected:
        problems.append(f"{outputs} output(s) (the manifest's {num_classes} classes need {expected})")
    if problems:
        raise DataError(f"{path}: this model does not belong to the run's recorded settings ({'; '.join(problems)}); "
                        f"{fix}")
    return model


def manifest_with_skipped(manifest: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """The manifest with a ``skipped`` column: why a row was left out, ``""`` for rows used.

    Example:
        >>> manifest = pd.DataFrame({"path": ["a.png", "b.png"]})
        >>> skipped = pd.DataFrame({"path": ["b.png"], "reason": ["empty file"]})
        >>> manifest_with_skipped(manifest, skipped)["skipped"].tolist()
        ['', 'empty file']
    """
    reasons = dict(zip(skipped["path"].astype(str), skipped["reason"].astype(str)))
    recorded = manifest.copy()
    recorded["skipped"] = recorded["path"].astype(str).map(reasons).fillna("")
    return recorded


@dataclass
class RunFolder:
    """A finished run folder read back: its settings, data location, split and history."""

    run_dir: Path
    config: RunConfig
    root: Path
    cache_dir: str | None
    manifest: pd.DataFrame
    skip_bad: bool
    history: pd.DataFrame | None


def read_run_folder(run_dir) -> RunFolder:
    """Read a run folder written by :func:`medcnn.pipeline.train_and_evaluate`.

    Raises:
        DataError: a file a finished run has is missing (names them, and how to make one).

    Example:
        >>> read_run_folder("runs/demo").config.backbone  # doctest: +SKIP
        'vgg16'
    """
    run_dir = Path(run_dir)
    missing = [name for name in FINISHED_RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise DataError(
            f"{run_dir}: not a finished run folder (missing {', '.join(missing)}); "
            "train one with `python -m medcnn train ... --out RUN_DIR`"
        )
    fix = "the run's record is damaged: train it again (python -m medcnn train ... --overwrite --out RUN_DIR)"
    config = recorded_config(run_dir, fix=fix)
    where = read_record(run_dir / "run.json", fix=fix)
    if not isinstance(where.get("root"), str):
        raise DataError(f"{run_dir / 'run.json'}: damaged record (no data root); {fix}")
    manifest = read_manifest(run_dir / "manifest.csv")
    skip_bad = "skipped" in manifest.columns and bool((manifest["skipped"].astype(str) != "").any())
    history = None
    if (run_dir / "history.csv").is_file():
        history = read_checked_csv(run_dir / "history.csv", what="training history", fix=fix,
                                   numeric=("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"),
                                   integer=("epoch",))
    return RunFolder(
        run_dir=run_dir, config=config, root=Path(where["root"]), cache_dir=where.get("cache_dir"),
        manifest=manifest.drop(columns=["skipped"], errors="ignore"), skip_bad=skip_bad, history=history,
    )
