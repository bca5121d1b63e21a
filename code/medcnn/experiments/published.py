"""The study's published tables as data: the CSV files in ``medcnn/experiments/published/``.

Every number of the study's result tables is there, as printed (``published/README.md``):

- ``results.csv``: Tablas 5.1-5.8 and B.1-B.6, one row per result: the
  configuration (``table, dataset, model, batch_size, learning_rate, augment,
  fine_tune``), ``class_name`` (a class, or ``average`` for the average over classes
  and the whole test set), the metrics ``precision, recall, f1, accuracy, correct,
  incorrect, total`` and the ``source`` (``Tabla B.2``);
- ``study_subsets.csv``: Tabla 4.1, the study's images per dataset, subset and class;
- ``augmentation.csv``: Tabla A.1, the study's augmentation ranges;
- ``misprints.csv``: every number that disagrees with the study's own arithmetic, with
  the value that agrees and how we know (``status`` ``unresolved`` where two readings
  remain); :func:`find_inconsistencies` finds them again.

Figures are kept as printed; ``corrected=True`` replaces each listed misprint by its
consistent value. :func:`load_published_results` gives the long form (one figure per
row) that :mod:`medcnn.experiments.report` compares a reproduction with.

Example:
    >>> from medcnn.experiments.published import published_table
    >>> published_table(dataset="brain_tumor")["recall"].tolist()
    [0.855, 0.969, 1.0, 0.941]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.experiments.stages import describe_setting

PUBLISHED_DIR = Path(__file__).with_name("published")
TABLE_KEYS = ("table", "dataset", "model", "batch_size", "learning_rate", "augment", "fine_tune", "class_name")
TABLE_METRICS = ("precision", "recall", "f1", "accuracy", "correct", "incorrect", "total")
TABLE_COLUMNS = (*TABLE_KEYS, *TABLE_METRICS, "source")
COUNT_METRICS = ("correct", "incorrect", "total")
AVERAGE = "average"
MISPRINT_COLUMNS = ("table", "dataset", "model", "batch_size", "learning_rate", "augment", "fine_tune",
                    "class_name", "column", "printed", "consistent", "evidence", "status")
# ``confirmed``: the study's own figures show the consistent value; ``unresolved``: the printed
# figures disagree with another table but admit two readings (the evidence gives both; the
# corrected tables use the one written in ``consistent``).
MISPRINT_STATUSES = ("confirmed", "unresolved")
# The long form compared with a reproduction (one figure per row); kept for the reports.
RESULT_COLUMNS = ("table", "dataset", "backbone", "batch_size", "learning_rate", "augment", "fine_tune",
                  "subset", "class_name", "metric", "value", "source", "note", "best")
OVERALL_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "correct", "incorrect", "total")
CLASS_METRICS = ("precision", "recall", "f1", "support", "correct", "incorrect")
# Columns that say which configuration a published figure belongs to.
KEY_COLUMNS = ("dataset", "backbone", "batch_size", "learning_rate", "augment", "fine_tune")
_AVERAGE_NAMES = {"precision": "precision_macro", "recall": "recall_macro", "f1": "f1_macro", "accuracy": "accuracy",
                  "correct": "correct", "incorrect": "incorrect", "total": "total"}
_CLASS_NAMES = {"precision": "precision", "recall": "recall", "f1": "f1", "correct": "correct",
                "incorrect": "incorrect", "total": "support"}
# Where one configuration is printed in several tables, the long form takes its figures from
# the most detailed one: the annex first.
_TABLE_ORDER = ("B.6", "B.5", "B.4", "B.1", "B.2", "B.3", "5.6", "5.5", "5.4", "5.1", "5.2", "5.3", "5.7")


def _directory(directory) -> Path:
    return Path(directory) if directory is not None else PUBLISHED_DIR


def _read(path: Path, required) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file; the study's tables ship with medcnn (reinstall the package)")
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(f"{path}: not a well-formed CSV ({error}); one row per result, one value per column") from None
    if not isinstance(table.index, pd.RangeIndex):
        raise DataError(f"{path}: some rows have more values than the header has columns; "
                        "quote values that contain a comma, and write numbers with a decimal point (0.904)")
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(required)} (see {PUBLISHED_DIR / 'README.md'})")
    if "source" in table.columns and not table.empty and table["source"].isna().any():
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


def _type_keys(table: pd.DataFrame, path) -> pd.DataFrame:
    try:
        table["batch_size"] = table["batch_size"].astype(int)
        table["learning_rate"] = table["learning_rate"].astype(float)
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: {error}; expected whole batch sizes and numeric learning rates") from None
    for column in ("augment", "fine_tune"):
        table[column] = [_boolean(value, path=path, column=column) for value in table[column]]
    return table


def load_study_tables(directory=None, *, corrected: bool = False) -> pd.DataFrame:
    """Tablas 5.1-5.8 and B.1-B.6 in the tidy layout, typed (metrics as floats, empty as NaN).

    Args:
        directory: where ``results.csv`` is (default: the package's).
        corrected: replace each misprint listed in ``misprints.csv`` by its consistent value.

    Example:
        >>> tables = load_study_tables()
        >>> row = tables[(tables["table"] == "B.4") & (tables["learning_rate"] == 0.1)
        ...              & (tables["dataset"] == "brain_tumor")].iloc[0]
        >>> float(row["accuracy"]), int(row["correct"]), int(row["total"])
        (0.556, 255, 459)
    """
    path = _directory(directory) / "results.csv"
    table = _type_keys(_read(path, TABLE_COLUMNS), path)
    try:
        for column in TABLE_METRICS:
            table[column] = table[column].astype(float)
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: {error}; expected numbers as printed (0.904, 2982) or an empty cell") from None
    if corrected:
        for misprint in _table_misprints(load_misprints(directory)).itertuples():
            where = _locate(table, misprint)
            table.loc[where, misprint.column] = float(misprint.consistent)
    return table


def _table_misprints(misprints: pd.DataFrame) -> pd.DataFrame:
    rows = misprints[misprints["column"].isin(TABLE_METRICS) & (misprints["table"] != "4.1")].copy()
    return _type_keys(rows, "misprints.csv")


def _locate(table: pd.DataFrame, misprint) -> np.ndarray:
    where = np.ones(len(table), dtype=bool)
    for key in TABLE_KEYS:
        value = getattr(misprint, key)
        if key == "learning_rate":
            where &= np.isclose(table[key].to_numpy(dtype=float), float(value), rtol=1e-6, atol=0)
        else:
            where &= (table[key] == value).to_numpy()
    if where.sum() != 1:
        raise DataError(f"misprints.csv: {misprint.table} {misprint.dataset} {misprint.model} {misprint.class_name} "
                        f"{misprint.column} matches {int(where.sum())} rows of results.csv; expected exactly one")
    printed = table.loc[where, misprint.column].iloc[0]
    if not math.isclose(printed, float(misprint.printed)):
        raise DataError(f"misprints.csv: {misprint.table} {misprint.dataset} {misprint.model} {misprint.class_name} "
                        f"{misprint.column} says {misprint.printed} was printed; results.csv has {printed:g}")
    return where


def load_study_subsets(directory=None, *, corrected: bool = False) -> pd.DataFrame:
    """Tabla 4.1: the study's images per dataset, subset and class (``class_name`` ``total`` for the row sum).

    Example:
        >>> subsets = load_study_subsets()
        >>> subsets[(subsets["dataset"] == "brain_tumor") & (subsets["subset"] == "test")]["images"].tolist()
        [117, 255, 87, 459]
    """
    path = _directory(directory) / "study_subsets.csv"
    table = _read(path, ("table", "dataset", "subset", "class_name", "images", "source")).astype({"images": int})
    if corrected:
        misprints = load_misprints(directory)
        for misprint in misprints[misprints["table"] == "4.1"].itertuples():
            where = (table["dataset"] == misprint.dataset) & (table["subset"] == misprint.subset) & (
                table["class_name"] == misprint.class_name)
            table.loc[where, "images"] = int(misprint.consistent)
    return table


def load_augmentation_ranges(directory=None) -> pd.DataFrame:
    """Tabla A.1: the study's augmentation ranges per dataset (``printed`` as printed, ``value`` as a number or flag).

    Example:
        >>> ranges = load_augmentation_ranges().set_index(["dataset", "transformation"])
        >>> ranges.loc[("covid19", "rotation"), "printed"], ranges.loc[("covid19", "vertical_flip"), "value"]
        ('<10º', 'False')
    """
    return _read(_directory(directory) / "augmentation.csv", ("table", "dataset", "transformation", "printed", "value",
                                                               "source"))


def load_misprints(directory=None) -> pd.DataFrame:
    """Every misprint found in the study: where (table and row keys, or ``text``), what was printed, the consistent value, how we know.

    For Tabla 4.1 the ``model`` column is empty and ``subset`` names the row; for errors in
    the study's text ``table`` is ``text`` and ``column`` gives the line(s) of the extracted
    text. ``status`` is ``confirmed``, or ``unresolved`` where the printed figures admit two
    readings (Tabla 5.7's retina row): ``evidence`` then gives both, and ``consistent`` the
    one the corrected tables use.

    Example:
        >>> misprints = load_misprints()
        >>> row = misprints[(misprints["table"] == "B.3") & (misprints["column"] == "total")].iloc[0]
        >>> row["printed"], row["consistent"], row["status"]
        ('540', '640', 'confirmed')
    """
    path = _directory(directory) / "misprints.csv"
    table = _read(path, (*MISPRINT_COLUMNS, "subset")).fillna("")
    unknown = sorted(set(table["status"]) - set(MISPRINT_STATUSES))
    if unknown:
        raise DataError(f"{path}: status {unknown}; expected one of {list(MISPRINT_STATUSES)}")
    return table


def find_inconsistencies(tables: pd.DataFrame | None = None, subsets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every number that disagrees with the study's own arithmetic or with another table.

    Checks, within 0.001 where a value is rounded: correct + incorrect = total;
    accuracy = correct / total (averages); recall = correct / total and
    F1 = 2PR / (P + R) (classes; F1 within 0.002); a class row's accuracy is its table's
    average accuracy; averages are the mean of the classes' precision, recall and F1
    and the sum of their counts; the classes' predictions (correct / precision) add up
    to the test set; totals match Tabla 4.1's test subsets; a configuration
    printed in several tables has the same numbers in each (compared with its annex row);
    Tabla 4.1's class counts add up to its totals.

    Returns one row per failing cell: :data:`TABLE_KEYS` (``subset`` for Tabla 4.1),
    ``column``, ``printed``, ``check``. Empty when everything agrees.

    Example:
        >>> find_inconsistencies(load_study_tables(corrected=True), load_study_subsets(corrected=True)).empty
        True
    """
    tables = load_study_tables() if tables is None else tables
    subsets = load_study_subsets() if subsets is None else subsets
    found = []

    def flag(row, column, check):
        found.append({**{key: row[key] for key in TABLE_KEYS}, "subset": "test", "column": column,
                      "printed": row[column], "check": check})

    data = tables[tables["total"].notna()]
    test = subsets[subsets["subset"] == "test"].set_index(["dataset", "class_name"])["images"]
    for _, row in data.iterrows():
        if row["correct"] + row["incorrect"] != row["total"]:
            flag(row, "total" if row["correct"] + row["incorrect"] in test.values else "incorrect",
                 f"correct + incorrect = {row['correct'] + row['incorrect']:g}")
        expected_total = test.get((row["dataset"], "total" if row["class_name"] == AVERAGE else row["class_name"]))
        if expected_total is not None and row["total"] != expected_total and row["correct"] + row["incorrect"] == expected_total:
            flag(row, "total", f"Tabla 4.1's test subset has {expected_total}")
        ratio = row["correct"] / row["total"] if row["correct"] + row["incorrect"] == row["total"] else (
            row["correct"] / expected_total if expected_total else np.nan)
        if row["class_name"] == AVERAGE:
            if abs(row["accuracy"] - ratio) > 0.001:
                flag(row, "accuracy", f"correct / total = {ratio:.4f}")
        else:
            if abs(row["recall"] - ratio) > 0.001:
                flag(row, "recall", f"correct / total = {ratio:.4f}")
            f1 = 2 * row["precision"] * row["recall"] / (row["precision"] + row["recall"])
            if abs(row["f1"] - f1) > 0.002:
                alternative = [column for column in ("precision", "recall") if column in _suspects(row)]
                flag(row, alternative[0] if alternative else "f1", f"2PR / (P + R) = {f1:.4f}")
    configuration = [key for key in TABLE_KEYS if key not in ("table", "class_name")]
    for keys, group in data.groupby(["table", *configuration], sort=False):
        average = group[group["class_name"] == AVERAGE]
        classes = group[group["class_name"] != AVERAGE]
        if average.empty or classes.empty:
            continue
        average = average.iloc[0]
        for _, row in classes.iterrows():
            if row["accuracy"] != average["accuracy"]:
                flag(row, "accuracy", f"the average row's accuracy is {average['accuracy']:g}")
        for column in ("precision", "recall", "f1"):
            mean = classes[column].mean()
            if abs(average[column] - mean) > 0.001:
                flag(average, column, f"mean over classes = {mean:.4f}")
        # Each class's predictions are correct / precision; together they are every test image.
        predicted = (classes["correct"] / classes["precision"]).sum()
        slack = (classes["correct"] * 0.0005 / classes["precision"] ** 2).sum() + 0.5
        if abs(predicted - average["total"]) > slack:
            flag(average, "precision", f"the classes' correct / precision add up to {predicted:.1f} predictions, "
                                       f"not {average['total']:g}")
        for column in COUNT_METRICS:
            if average[column] != classes[column].sum():
                flag(average, column, f"sum over classes = {classes[column].sum():g}")
    # The same configuration in several tables: compared with its row in the annex (B.x).
    annex = data[data["table"].str.startswith("B.")]
    for _, row in data[~data["table"].str.startswith("B.")].iterrows():
        same = annex[_same_configuration(annex, row)]
        for column in TABLE_METRICS:
            values = set(same[column].dropna())
            if values and row[column] not in values:
                flag(row, column, f"{', '.join(sorted(set(same['table'])))} print(s) {', '.join(f'{v:g}' for v in sorted(values))}")
    # Within the annex: B.4-B.6 repeat B.1-B.3's stage-1 winners and each other's 'before' rows.
    for _, group in annex.groupby([*configuration, "class_name"], sort=False):
        for column in TABLE_METRICS:
            counts = group[column].value_counts()
            if len(counts) > 1:
                majority = counts.index[0]
                for _, row in group[group[column] != majority].iterrows():
                    flag(row, column, f"{len(group) - 1} other annex table(s) print {', '.join(f'{v:g}' for v in group[column] if v != row[column])}")
    for (dataset, subset), group in subsets.groupby(["dataset", "subset"], sort=False):
        total = group[group["class_name"] == "total"]
        counted = group.loc[group["class_name"] != "total", "images"].sum()
        if not total.empty and int(total["images"].iloc[0]) != counted:
            found.append({"table": "4.1", "dataset": dataset, "model": "", "batch_size": np.nan, "learning_rate": np.nan,
                          "augment": np.nan, "fine_tune": np.nan, "class_name": "total", "subset": subset,
                          "column": "images", "printed": int(total["images"].iloc[0]),
                          "check": f"sum over classes = {counted}"})
    columns = [*TABLE_KEYS, "subset", "column", "printed", "check"]
    return pd.DataFrame(found, columns=columns).drop_duplicates(["table", *configuration, "class_name", "subset", "column"])


def _suspects(row) -> tuple:
    """Which of precision/recall the counts contradict (recall is fixed by correct / total)."""
    if abs(row["recall"] - row["correct"] / row["total"]) > 0.001:
        return ("recall",)
    return ()


def _same_configuration(frame: pd.DataFrame, row) -> np.ndarray:
    where = np.ones(len(frame), dtype=bool)
    for key in ("dataset", "model", "batch_size", "augment", "fine_tune", "class_name"):
        where &= (frame[key] == row[key]).to_numpy()
    where &= np.isclose(frame["learning_rate"].to_numpy(dtype=float), row["learning_rate"], rtol=1e-6, atol=0)
    return where


def best_configurations(directory=None) -> pd.DataFrame:
    """Tabla 5.8: the study's winning configuration per dataset, with its published test figures.

    Columns: the configuration, ``precision``, ``recall``, ``f1`` (macro), ``accuracy``,
    ``correct``, ``incorrect``, ``total`` (from the table that prints the configuration in
    full, misprints corrected) and ``source``.

    Example:
        >>> best = best_configurations().set_index("dataset")
        >>> best.loc["brain_tumor", "model"], float(best.loc["brain_tumor", "accuracy"])
        ('resnet50', 0.946)
    """
    tables = load_study_tables(directory, corrected=True)
    winners = tables[tables["table"] == "5.8"]
    records = []
    for _, winner in winners.iterrows():
        figures = tables[_same_configuration(tables, winner) & (tables["table"] != "5.8")]
        figures = figures.assign(order=figures["table"].map(_TABLE_ORDER.index)).sort_values("order")
        record = winner.drop(list(TABLE_METRICS)).to_dict()
        if not figures.empty:
            record.update({column: figures.iloc[0][column] for column in TABLE_METRICS})
            record["source"] = f"Tabla 5.8; figures from Tabla {figures.iloc[0]['table']}"
        records.append(record)
    return pd.DataFrame(records)


def published_table(dataset: str, *, directory=None) -> pd.DataFrame:
    """The study's per-class test results for ``dataset``'s best configuration (Tabla 5.8), as a small table.

    One row per class and one ``average`` row: ``precision``, ``recall``, ``f1``,
    ``correct``, ``total``, ``accuracy`` (of the whole test set, as the study prints it);
    ``attrs["caption"]`` says which configuration and table, to print beside it.
    Misprints are corrected (see ``misprints.csv``).

    Example:
        >>> table = published_table("retina")
        >>> table.index.tolist(), table.attrs["source"]
        (['healthy', 'diseased', 'average'], 'Tabla B.6')
    """
    tables = load_study_tables(directory, corrected=True)
    if dataset not in set(tables["dataset"]):
        raise DataError(f"no published results for dataset {dataset!r}; expected one of {sorted(set(tables['dataset']))}")
    winner = tables[(tables["table"] == "5.8") & (tables["dataset"] == dataset)].iloc[0]
    rows = tables[(tables["table"] == "B.6") & (tables["dataset"] == dataset) & (tables["model"] == winner["model"])
                  & (tables["batch_size"] == winner["batch_size"]) & (tables["augment"] == winner["augment"])
                  & (tables["fine_tune"] == winner["fine_tune"])]
    rows = rows.drop_duplicates("class_name").set_index("class_name")
    shown = rows[["precision", "recall", "f1", "correct", "total", "accuracy"]].copy()
    for column in ("correct", "total"):
        shown[column] = shown[column].astype(int)
    shown.index.name = "class"

    shown.attrs["source"] = "Tabla B.6"
    shown.attrs["caption"] = (f"The study's test results for {describe_setting({**winner, 'backbone': winner['model']})} "
                              f"(its best configuration for this dataset, Tabla 5.8, chosen like every winner of "
                              f"the study by its test results, which flatters it; per class from Tabla B.6).")
    return shown


def load_published_results(directory=None, *, corrected: bool = True) -> pd.DataFrame:
    """The study's figures in long form, one per row: each configuration once, from its most detailed table.

    Columns: :data:`RESULT_COLUMNS` (``backbone`` is the study's ``model``; ``class_name``
    empty for figures over all classes; ``metric`` one of :data:`OVERALL_METRICS` or,
    for a class, :data:`CLASS_METRICS`; ``best`` True for Tabla 5.8's winners) plus ``file``.
    With ``corrected`` (the default) each misprint is replaced by its consistent value and
    ``note`` says so.

    Example:
        >>> results = load_published_results()
        >>> best = results[results["best"] & (results["metric"] == "accuracy")]
        >>> best.set_index("dataset")["value"].to_dict()
        {'brain_tumor': 0.946, 'covid19': 0.988, 'retina': 0.927}
    """
    printed = load_study_tables(directory)
    tables = load_study_tables(directory, corrected=corrected)
    winners = tables[tables["table"] == "5.8"]
    tables = tables[tables["table"] != "5.8"]
    tables = tables.assign(order=tables["table"].map(_TABLE_ORDER.index)).sort_values("order", kind="mergesort")
    configuration = ["dataset", "model", "batch_size", "learning_rate", "augment", "fine_tune", "class_name"]
    records = []
    for _, row in tables.drop_duplicates(configuration).iterrows():
        best = bool(_same_configuration(winners, {**row, "class_name": AVERAGE}).any())
        names = _AVERAGE_NAMES if row["class_name"] == AVERAGE else _CLASS_NAMES
        original = printed.loc[row.name]
        for column, metric in names.items():
            if pd.isna(row[column]):
                continue
            note = "" if original[column] == row[column] else f"printed {original[column]:g}; see misprints.csv"
            records.append({
                "table": row["table"], "dataset": row["dataset"], "backbone": row["model"],
                "batch_size": int(row["batch_size"]), "learning_rate": float(row["learning_rate"]),
                "augment": bool(row["augment"]), "fine_tune": bool(row["fine_tune"]), "subset": "test",
                "class_name": "" if row["class_name"] == AVERAGE else row["class_name"], "metric": metric,
                "value": float(row[column]), "source": row["source"], "note": note, "best": best,
                "file": "results.csv",
            })  # fmt: skip
    return pd.DataFrame(records, columns=[*RESULT_COLUMNS, "file"])


def load_parameter_counts(directory=None) -> pd.DataFrame:
    """The study's total and trainable parameter counts per backbone.

    Example:
        >>> int(load_parameter_counts().set_index("backbone").loc["vgg16", "total_parameters"])
        134272835
    """
    path = _directory(directory) / "parameter_counts.csv"
    table = _read(path, ("backbone", "total_parameters", "trainable_parameters", "source"))
    return table.astype({"total_parameters": int, "trainable_parameters": int})


def load_dataset_counts(directory=None) -> pd.DataFrame:
    """Images per dataset, subset and class, as the datasets' releases give them.

    Example:
        >>> counts = load_dataset_counts()
        >>> int(counts.loc[counts["dataset"] == "brain_tumor", "images"].sum())
        3064
    """
    path = _directory(directory) / "dataset_counts.csv"
    return _read(path, ("dataset", "subset", "class_name", "images", "source")).astype({"images": int})
