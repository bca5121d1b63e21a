"""Training, validation and test subsets: seeded, stratified, grouped by patient.

The rule follows the study and the dataset:

* ``grouped`` — stratified by class **and** grouped by patient, so no patient's
  slices appear in two subsets (brain MRI: slices of one patient look alike, and a
  model that saw a patient in training would be marked on a familiar face);
* ``stratified`` — stratified by class only (images without patient ids);
* ``official`` — the split published with the dataset (RFMiD).

The result is the index with a ``subset`` column (``train``/``val``/``test``),
written as a CSV manifest so that a split is reproducible and inspectable: the
same index and seed give a byte-identical file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError, DataError
from medcnn.files import atomic_path
from medcnn.tables import read_checked_csv

SUBSETS = ("train", "val", "test")
STRATEGIES = ("grouped", "stratified", "official")


def _check_fractions(fractions) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(not 0 < value < 1 for value in fractions):
        raise ConfigError(
            f"fractions={tuple(fractions)}: expected three numbers between 0 and 1 (train, val, test)"
        )
    total = float(sum(fractions))
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"fractions={tuple(fractions)} add up to {total:g}: they must add up to 1")
    return tuple(float(value) for value in fractions)


def _check_class_sizes(labels: np.ndarray, *, needed: int, unit: str) -> None:
    values, counts = np.unique(labels, return_counts=True)
    too_small = [(int(value), int(count)) for value, count in zip(values, counts) if count < needed]
    if too_small:
        listed = ", ".join(f"label {value}: {count}" for value, count in too_small)
        raise DataError(
            f"too few {unit} in a class to split into train/val/test ({listed}; at least {needed} "
            f"per class needed). Add data (for synthetic data raise --per-class) or use fewer subsets."
        )


def _check_splittable(labels: np.ndarray, *, fractions) -> None:
    """Refuse, naming the numbers, a stratified split that scikit-learn's splitter cannot make.

    ``StratifiedShuffleSplit`` needs each of the two parts it makes to hold at least one image
    per class (``ceil(fraction * n) >= classes`` and the rest too); it is used twice, once for the
    test subset and once for validation within the rest.
    """
    import math

    classes = len(np.unique(labels))
    train_fraction, val_fraction, test_fraction = fractions
    count = len(labels)
    for subset, fraction in (("test", test_fraction), ("val", val_fraction / (train_fraction + val_fraction))):
        held_out = math.ceil(fraction * count - 1e-9)
        kept = count - held_out
        if held_out < classes or kept < classes:
            raise DataError(
                f"{len(labels)} images in {classes} classes are too few for fractions {tuple(fractions)}: "
                f"splitting off the {subset} subset divides {count} images into {kept} and {held_out}, and each "
                f"part needs at least one image per class ({classes}). Add images (for synthetic data raise "
                "--per-class) or change the fractions"
            )
        count = kept


def _two_way(labels, groups, *, test_fraction: float, seed: int, grouped: bool):
    """Split positions 0..n-1 into (keep, held_out), stratified and optionally grouped."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

    positions = np.arange(len(labels))
    if grouped:
        # StratifiedGroupKFold with k folds holds out ~1/k of the groups; choose k from the fraction,
        # but no more folds than the smallest class has patients (tiny datasets).
        patients_per_class = pd.DataFrame({"label": labels, "group": groups}).groupby("label")["group"].nunique()
        folds = max(2, min(int(round(1.0 / test_fraction)), int(patients_per_class.min())))
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        arguments = (positions, labels, groups)
    else:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
        arguments = (positions, labels)
    try:
        keep, held_out = next(splitter.split(*arguments))
    except ValueError as error:  # what the splitter itself needs, in its words
        counts = pd.Series(labels).value_counts().sort_index().to_dict()
        raise DataError(f"cannot split {len(labels)} images (per label {counts}) with {type(splitter).__name__}: "
                        f"{error}. Add images or change the fractions") from None
    return keep, held_out


def make_splits(
    index: pd.DataFrame,
    *,
    strategy: str = "stratified",
    fractions=(0.70, 0.15, 0.15),
    seed: int = 0,
) -> pd.DataFrame:
    """Add a ``subset`` column (train/val/test) to a dataset index.

    Args:
        index: a table with at least ``label`` (and ``patient_id`` for ``grouped``,
            ``split`` for ``official``), as returned by a dataset's ``index(root)``.
        strategy: ``grouped`` (stratified, no patient in two subsets), ``stratified``
            or ``official`` (the dataset's own ``split`` column).
        fractions: train, validation and test shares; they must add up to 1.
        seed: seeds scikit-learn's splitters; the same seed gives the same split.

    Example:
        >>> import pandas as pd
        >>> index = pd.DataFrame({"path": [f"{i}.png" for i in range(20)],
        ...                       "label": [0, 1] * 10, "patient_id": "", "split": ""})
        >>> manifest = make_splits(index, strategy="stratified", fractions=(0.6, 0.2, 0.2), seed=0)
        >>> manifest.groupby("subset").size().to_dict()
        {'test': 4, 'train': 12, 'val': 4}
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= 2**32 - 2:
        raise ConfigError(f"seed={seed}: expected a whole number from 0 to {2**32 - 2} (NumPy's seed range; "
                          "the validation split uses seed + 1)")
    if len(index) == 0:
        raise DataError("the index is empty: there is nothing to split. Check the dataset root.")
    manifest = index.reset_index(drop=True).copy()
    labels = manifest["label"].to_numpy()
    if len(np.unique(labels)) < 2:
        raise DataError(
            f"only one class in the index ({len(labels)} images of label {labels[0]}): a classifier needs at least "
            "two classes. Check the dataset root (a class folder missing or empty?)"
        )

    if strategy == "official":
        split = manifest.get("split")
        if split is None or (split.fillna("") == "").any():
            raise ConfigError(
                "strategy='official' needs the dataset's own split for every image (column 'split'); "
                "this index has none: use strategy='stratified' or 'grouped'"
            )
        unknown = sorted(set(split) - set(SUBSETS))
        if unknown:
            raise DataError(f"split column holds {unknown}: expected only {', '.join(SUBSETS)}")
        manifest["subset"] = split.to_numpy()
        return manifest

    train_fraction, val_fraction, test_fraction = _check_fractions(fractions)
    grouped = strategy == "grouped"
    if grouped:
        groups = manifest["patient_id"].fillna("").astype(str).to_numpy()
        if (groups == "").any():
            raise ConfigError(
                "strategy='grouped' needs a patient_id for every image; some are empty. "
                "Use strategy='stratified' for data without patient ids."
            )
        # A group takes the label of its first image for the class check; StratifiedGroupKFold
        # balances classes across groups itself.
        per_group = pd.Series(labels).groupby(groups).first().to_numpy()
        _check_class_sizes(per_group, needed=3, unit="patients")
    else:
        groups = None
        _check_class_sizes(labels, needed=3, unit="images")

    if not grouped:
        _check_splittable(labels, fractions=(train_fraction, val_fraction, test_fraction))
    rest, test = _two_way(labels, groups, test_fraction=test_fraction, seed=seed, grouped=grouped)
    rest_labels = labels[rest]
    rest_groups = None if groups is None else groups[rest]
    share_of_rest = val_fraction / (train_fraction + val_fraction)
    train_in_rest, val_in_rest = _two_way(
        rest_labels, rest_groups, test_fraction=share_of_rest, seed=seed + 1, grouped=grouped
    )
    subset = np.empty(len(manifest), dtype=object)
    subset[rest[train_in_rest]] = "train"
    subset[rest[val_in_rest]] = "val"
    subset[test] = "test"
    manifest["subset"] = subset
    missing = sorted(set(SUBSETS) - set(subset))
    if missing:
        raise DataError(
            f"the split left no images in {', '.join(missing)}: the dataset is too small for "
            f"fractions={fractions}. Add data or change the fractions."
        )
    return manifest


def check_no_shared_patients(manifest: pd.DataFrame) -> None:
    """Raise :class:`DataError` if any patient id appears in more than one subset.

    Example:
        >>> import pandas as pd
        >>> check_no_shared_patients(pd.DataFrame({"patient_id": ["a", "a", "b"],
        ...                                         "subset": ["train", "train", "test"]}))
    """
    known = manifest[manifest["patient_id"].fillna("").astype(str) != ""]
    subsets_per_patient = known.groupby("patient_id")["subset"].nunique()
    shared = subsets_per_patient[subsets_per_patient > 1]
    if len(shared):
        raise DataError(
            f"{len(shared)} patient(s) appear in more than one subset (for example {shared.index[0]!r}); "
            "split with strategy='grouped'"
        )


def subset_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per class per subset, like the study's Table 4.1.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"class_name": ["a", "a", "b"], "subset": ["train", "test", "train"]})
        >>> subset_counts(frame).loc["a", "train"]
        np.int64(1)
    """
    table = pd.crosstab(manifest["class_name"], manifest["subset"])
    table = table.reindex(columns=[name for name in SUBSETS if name in table.columns])
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    return table


def write_manifest(manifest: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest as CSV atomically (a temporary file, then a rename).

    Example:
        >>> import pandas as pd, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> frame = pd.DataFrame({"path": ["a.png"], "label": [0], "subset": ["train"]})
        >>> write_manifest(frame, folder / "manifest.csv").name
        'manifest.csv'
    """
    path = Path(path)
    with atomic_path(path, what=f"the manifest {path.name}") as temporary:
        manifest.to_csv(temporary, index=False, lineterminator="\n")
    return path


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest`, with string ids kept as strings.

    Example:
        >>> import pandas as pd, tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
        >>> _ = write_manifest(pd.DataFrame({"path": ["a.png"], "label": [0], "patient_id": ["007"],
        ...                                  "split": [""], "subset": ["train"]}), file)
        >>> read_manifest(file)["patient_id"].tolist()
        ['007']
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found. Create it with `python -m medcnn split ... --out {path}`")

    frame = read_checked_csv(
        path, what="manifest", integer=("label",),
        fix=f"write it again with `python -m medcnn split ... --out {path}`",
        dtype={"path": str, "class_name": str, "patient_id": str, "split": str, "subset": str},
        keep_default_na=False,
    )
    required = {"path", "label", "subset"}
    missing = required - set(frame.columns)
    if missing:
        raise DataError(f"{path}: manifest lacks column(s) {sorted(missing)}; expected {sorted(required)}")
    return frame
