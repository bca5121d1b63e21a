"""The bring-your-own folder dataset, and the registry of datasets."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medcnn.datasets import DATASET_KEYS, folder, get_dataset, retina
from medcnn.datasets.base import INDEX_COLUMNS, check_index
from medcnn.errors import ConfigError, DataError


def test_registry_lists_every_dataset_with_its_interface():
    assert DATASET_KEYS == ("brain_tumor", "covid19", "retina", "folder")
    expected_split = {"brain_tumor": "grouped", "covid19": "stratified", "retina": "official", "folder": "stratified"}
    for key in DATASET_KEYS:
        module = get_dataset(key)
        assert module.KEY == key and module.DEFAULT_SPLIT == expected_split[key]
        assert abs(sum(module.SPLIT_FRACTIONS) - 1.0) < 1e-9
        for name in ("TITLE", "SOURCE", "LICENSE", "CITATION", "LAYOUT", "download", "index", "write_synthetic"):
            assert hasattr(module, name), (key, name)


def test_unknown_dataset_lists_the_valid_keys():
    with pytest.raises(ConfigError, match="brain_tumor, covid19, retina, folder"):
        get_dataset("mnist")


@pytest.mark.parametrize("key", ["brain_tumor", "covid19", "retina", "folder"])
def test_every_synthetic_index_has_the_columns_and_types(key, tmp_path):
    module = get_dataset(key)
    frame = module.index(module.write_synthetic(tmp_path / key, per_class=2, image_size=8))
    assert tuple(frame.columns) == INDEX_COLUMNS
    assert frame["label"].dtype == np.int64
    assert all(isinstance(value, str) for value in frame["patient_id"])
    assert not frame["path"].str.startswith("/").any() and not frame["path"].str.contains("\\\\", regex=False).any()


def test_folder_index(tmp_path):
    root = folder.write_synthetic(tmp_path / "mine", per_class=3, seed=4, image_size=16)
    frame = folder.index(root)
    assert folder.class_names(root) == ("dark", "grey", "light")
    assert frame["label"].value_counts().sort_index().tolist() == [3, 3, 3]
    assert frame[frame["label"] == 1]["path"].tolist() == ["grey/grey-1.JPG", "grey/grey-2.JPG", "grey/grey-3.JPG"]


def test_folder_any_extension_case_and_sorted_classes(tmp_path):
    for class_name, suffix in (("zebra", ".TIF"), ("apple", ".bmp"), ("mango", ".jpeg")):
        (tmp_path / class_name).mkdir()
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / class_name / f"x{suffix}")
        (tmp_path / class_name / "notes.txt").write_text("not an image")
    frame = folder.index(tmp_path)
    assert frame["class_name"].tolist() == ["apple", "mango", "zebra"] and frame["label"].tolist() == [0, 1, 2]


def test_folder_empty_class_is_named(tmp_path):
    (tmp_path / "benign").mkdir()
    (tmp_path / "malignant").mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "benign" / "1.png")
    with pytest.raises(DataError, match="malignant"):
        folder.index(tmp_path)


def test_folder_without_class_folders(tmp_path):
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "1.png")
    with pytest.raises(DataError, match="(?s)no folder images found.*<class name>"):
        folder.index(tmp_path)


def test_check_index_rejects_mismatched_labels(tmp_path):
    frame = pd.DataFrame(
        {"path": ["a.png", "b.png"], "label": [1, 0], "class_name": ["healthy", "diseased"], "patient_id": "", "split": ""}
    )
    with pytest.raises(DataError, match="a.png: label 1 does not match class 'healthy'"):
        check_index(frame, root=tmp_path, dataset="retina", class_names=retina.CLASS_NAMES, layout=retina.LAYOUT)


def test_check_index_rejects_unknown_split(tmp_path):
    frame = pd.DataFrame(
        {"path": ["a.png", "b.png"], "label": [0, 1], "class_name": ["healthy", "diseased"], "patient_id": "", "split": ["train", "dev"]}
    )
    with pytest.raises(DataError, match="b.png: split 'dev'"):
        check_index(frame, root=tmp_path, dataset="retina", class_names=retina.CLASS_NAMES, layout=retina.LAYOUT)


def test_synthetic_rewrites_itself_with_new_settings(tmp_path):
    root = folder.write_synthetic(tmp_path / "mine", per_class=2, image_size=8)
    assert len(folder.index(root)) == 6
    folder.write_synthetic(root, per_class=3, image_size=8)
    assert len(folder.index(root)) == 9
    assert not any(entry.name.startswith(".partial") for entry in root.iterdir())


def test_synthetic_classes_are_separable_by_brightness(tmp_path):
    """Every synthetic set's classes differ plainly in mean brightness, after decoding."""
    from medcnn.images.decode import read_image

    for key in DATASET_KEYS:
        module = get_dataset(key)
        root = module.write_synthetic(tmp_path / key, per_class=4, image_size=16)
        frame = module.index(root)
        means = frame.assign(mean=[read_image(root / path).mean() for path in frame["path"]])
        ranges = means.groupby("label")["mean"].agg(["min", "max"]).sort_index()
        assert (ranges["min"].to_numpy()[1:] > ranges["max"].to_numpy()[:-1]).all(), (key, ranges)


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, medcnn.datasets; print(any(m.startswith(('keras', 'tensorflow', 'h5py', 'medcnn.datasets.')) for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
