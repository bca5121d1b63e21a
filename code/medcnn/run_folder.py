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
from medcnn.errors import ConfigError, DataError

RESULTS_FIX = "free some space, or write the run folder elsewhere with --out"
FINISHED_RUN_FILES = ("config.json", "run.json", "manifest.csv", "model.keras")


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

            lines.append(get_profile("smoke").banner(epochs=self.config.epochs))
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
    from medcnn.files import atomic_path

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
    from medcnn.files import atomic_path

    with atomic_path(Path(path), what=what, fix=RESULTS_FIX) as temporary:
        frame.to_csv(temporary, index=False)


def write_model(model, path) -> None:
    """Save a Keras model to a ``.keras`` file, atomically.

    Example:
        >>> write_model(model, "runs/demo/model.keras")  # doctest: +SKIP
    """
    from medcnn.files import atomic_path

    with atomic_path(Path(path), what="the trained model", fix=RESULTS_FIX, suffix=".keras") as temporary:
        model.save(temporary)


def check_resumable(run_dir, config: RunConfig) -> None:
    """Refuse to resume a run folder that was started with other settings.

    Example:
        >>> import tempfile
        >>> check_resumable(tempfile.mkdtemp(), RunConfig())  # a fresh folder: nothing to compare
    """
    path = Path(run_dir) / "config.json"
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
    from medcnn.splits import read_manifest

    run_dir = Path(run_dir)
    missing = [name for name in FINISHED_RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise DataError(
            f"{run_dir}: not a finished run folder (missing {', '.join(missing)}); "
            "train one with `python -m medcnn train ... --out RUN_DIR`"
        )
    config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    where = json.loads((run_dir / "run.json").read_text())
    manifest = read_manifest(run_dir / "manifest.csv")
    skip_bad = "skipped" in manifest.columns and bool((manifest["skipped"].astype(str) != "").any())
    history = pd.read_csv(run_dir / "history.csv") if (run_dir / "history.csv").is_file() else None
    return RunFolder(
        run_dir=run_dir, config=config, root=Path(where["root"]), cache_dir=where.get("cache_dir"),
        manifest=manifest.drop(columns=["skipped"], errors="ignore"), skip_bad=skip_bad, history=history,
    )
