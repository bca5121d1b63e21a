"""The study's published figures as data: the CSV files in ``medcnn/experiments/published/``.

What is there (see ``published/README.md``): the test accuracy of the study's best
configuration for each dataset, the parameter counts of its three classifiers, the
datasets' class counts and the misprints known to be in the study's tables. The
study's result tables themselves (Tables 5.1-5.8 and B.1-B.6) are **not yet
transcribed**; a maintainer adds them as rows of ``results.csv`` (or of any
``results_*.csv`` beside it), and every loader and report here works with whatever
rows exist.

Example:
    >>> from medcnn.experiments.published import load_published_results
    >>> best = load_published_results()
    >>> best.loc[best["dataset"] == "retina", "value"].tolist()
    [0.927]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medcnn.errors import DataError

PUBLISHED_DIR = Path(__file__).with_name("published")
RESULT_COLUMNS = ("table", "dataset", "backbone", "batch_size", "learning_rate", "augment", "fine_tune",
                  "subset", "class_name", "metric", "value", "source", "note")
OVERALL_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                   "recall_weighted", "f1_weighted", "correct", "incorrect", "total")
CLASS_METRICS = ("precision", "recall", "f1", "support", "correct", "incorrect")
# Columns that say which configuration a published figure belongs to.
KEY_COLUMNS = ("dataset", "backbone", "batch_size", "learning_rate", "augment", "fine_tune")


def _read(path: Path, required) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(required)} (see {PUBLISHED_DIR / 'README.md'})")
    if not table.empty and table["source"].isna().any():
        line = int(table.index[table["source"].isna()][0]) + 2
        raise DataError(f"{path}, line {line}: no source; every published figure names where it comes from")
    return table


def _boolean(value, *, path, column):
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DataError(f"{path}: {column}={value!r}; expected True or False")


def load_published_results(directory=None) -> pd.DataFrame:
    """Every ``results*.csv`` in ``directory`` (default: the package's), checked and typed.

    Columns: :data:`RESULT_COLUMNS` plus ``file``. ``batch_size`` is an integer,
    ``learning_rate`` and ``value`` floats, ``augment``/``fine_tune`` booleans, and
    ``class_name`` empty for figures over all classes.

    Example:
        >>> sorted(load_published_results()["dataset"])
        ['brain_tumor', 'covid19', 'retina']
    """
    directory = Path(directory) if directory is not None else PUBLISHED_DIR
    frames = []
    for path in sorted(directory.glob("results*.csv")):
        table = _read(path, RESULT_COLUMNS)
        for column in ("table", "subset", "class_name", "note"):
            table[column] = table[column].fillna("")
        try:
            table["batch_size"] = table["batch_size"].astype(int)
            table["learning_rate"] = table["learning_rate"].astype(float)
            table["value"] = table["value"].astype(float)
        except (TypeError, ValueError) as error:
            raise DataError(f"{path}: {error}; expected whole batch sizes and numeric learning rates and values") from None
        for column in ("augment", "fine_tune"):
            table[column] = [_boolean(value, path=path, column=column) for value in table[column]]
        for row in table.itertuples():
            allowed = CLASS_METRICS if row.class_name else OVERALL_METRICS
            if row.metric not in allowed:
                raise DataError(
                    f"{path}: metric {row.metric!r} for {'class ' + repr(row.class_name) if row.class_name else 'all classes'}; "
                    f"expected one of {', '.join(allowed)}"
                )
        table["file"] = path.name
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=[*RESULT_COLUMNS, "file"])
    return pd.concat(frames, ignore_index=True)


def load_parameter_counts(directory=None) -> pd.DataFrame:
    """The study's total and trainable parameter counts per backbone.

    Example:
        >>> int(load_parameter_counts().set_index("backbone").loc["vgg16", "total_parameters"])
        134272835
    """
    path = (Path(directory) if directory is not None else PUBLISHED_DIR) / "parameter_counts.csv"
    table = _read(path, ("backbone", "total_parameters", "trainable_parameters", "source"))
    return table.astype({"total_parameters": int, "trainable_parameters": int})


def load_dataset_counts(directory=None) -> pd.DataFrame:
    """Images per dataset, subset and class, as the datasets' releases give them.

    Example:
        >>> counts = load_dataset_counts()
        >>> int(counts.loc[counts["dataset"] == "brain_tumor", "images"].sum())
        3064
    """
    path = (Path(directory) if directory is not None else PUBLISHED_DIR) / "dataset_counts.csv"
    return _read(path, ("dataset", "subset", "class_name", "images", "source")).astype({"images": int})


def load_misprints(directory=None) -> pd.DataFrame:
    """The misprints known to be in the study's tables: what was printed and what was meant.

    Example:
        >>> load_misprints()[["printed", "correct"]].values.tolist()
        [['3200', '1920'], ['540', '640']]
    """
    path = (Path(directory) if directory is not None else PUBLISHED_DIR) / "misprints.csv"
    table = _read(path, ("dataset", "table", "row", "column", "printed", "correct", "source", "note"))
    return table.fillna("")
