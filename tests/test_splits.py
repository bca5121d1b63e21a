"""Splits: stratified, grouped by patient, official; reproducible manifests."""

import numpy as np
import pandas as pd
import pytest

from medcnn.errors import ConfigError, DataError
from medcnn.splits import (
    check_no_shared_patients,
    make_splits,
    read_manifest,
    subset_counts,
    write_manifest,
)


def patient_index(patients_per_class=12, slices=(2, 6), seed=0):
    generator = np.random.default_rng(seed)
    rows = []
    for label, name in enumerate(["meningioma", "glioma", "pituitary"]):
        for patient in range(patients_per_class):
            pid = f"MR{label}{patient:04d}"
            for slice_number in range(generator.integers(*slices)):
                rows.append(
                    {"path": f"{pid}_{slice_number}.mat", "label": label, "class_name": name, "patient_id": pid, "split": ""}
                )
    return pd.DataFrame(rows)


def test_grouped_split_keeps_every_patient_in_one_subset():
    manifest = make_splits(patient_index(), strategy="grouped", fractions=(0.7, 0.15, 0.15), seed=3)
    check_no_shared_patients(manifest)
    assert manifest.groupby("patient_id")["subset"].nunique().max() == 1
    # every class is present in every subset, and train is the largest
    counts = pd.crosstab(manifest["label"], manifest["subset"])
    assert (counts > 0).all().all()
    shares = manifest["subset"].value_counts(normalize=True)
    assert shares["train"] > 0.5 and 0.05 < shares["val"] < 0.3 and 0.05 < shares["test"] < 0.3


def test_shared_patient_is_detected():
    frame = pd.DataFrame({"patient_id": ["p1", "p1", "p2"], "subset": ["train", "test", "val"]})
    with pytest.raises(DataError, match="p1"):
        check_no_shared_patients(frame)


def test_stratified_split_fractions_and_stratification():
    index = pd.DataFrame({"path": [f"{i}.png" for i in range(500)], "label": [0] * 300 + [1] * 100 + [2] * 100,
                          "class_name": "x", "patient_id": "", "split": ""})
    manifest = make_splits(index, strategy="stratified", fractions=(0.6, 0.2, 0.2), seed=0)
    assert manifest.groupby("subset").size().to_dict() == {"test": 100, "train": 300, "val": 100}
    per_class = pd.crosstab(manifest["subset"], manifest["label"])
    assert per_class.loc["test"].tolist() == [60, 20, 20]


def test_same_seed_gives_byte_identical_manifest_and_other_seed_differs(tmp_path):
    index = patient_index()
    first = write_manifest(make_splits(index, strategy="grouped", seed=7), tmp_path / "a.csv")
    second = write_manifest(make_splits(index, strategy="grouped", seed=7), tmp_path / "b.csv")
    third = write_manifest(make_splits(index, strategy="grouped", seed=8), tmp_path / "c.csv")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != third.read_bytes()
    back = read_manifest(first)
    assert isinstance(back["patient_id"].iloc[0], str) and back["patient_id"].iloc[0].startswith("MR")


def test_official_split_is_kept():
    index = pd.DataFrame({"path": ["1.png", "2.png", "3.png"], "label": [0, 1, 1], "patient_id": "",
                          "split": ["train", "val", "test"]})
    assert make_splits(index, strategy="official")["subset"].tolist() == ["train", "val", "test"]
    with pytest.raises(ConfigError, match="official"):
        make_splits(index.assign(split=""), strategy="official")


def test_bad_settings_and_tiny_classes_are_clear_errors():
    index = patient_index()
    with pytest.raises(ConfigError, match="add up to 1"):
        make_splits(index, fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ConfigError, match="strategy"):
        make_splits(index, strategy="random")
    tiny = pd.DataFrame({"path": ["a", "b", "c", "d"], "label": [0, 0, 0, 1], "patient_id": "", "split": ""})
    with pytest.raises(DataError, match="label 1: 1"):
        make_splits(tiny, strategy="stratified")
    with pytest.raises(ConfigError, match="patient_id"):
        make_splits(tiny, strategy="grouped")


def test_subset_counts_table_like_the_study():
    manifest = make_splits(patient_index(), strategy="grouped", seed=0)
    table = subset_counts(manifest)
    assert list(table.columns) == ["train", "val", "test", "total"]
    assert table.loc["total", "total"] == len(manifest)
