"""The RFMiD reader: official splits from the label CSVs (BOM, CRLF), and its checks."""

import pandas as pd
import pytest

from medcnn.datasets import retina
from medcnn.datasets.retina import LABEL_COLUMNS, read_labels
from medcnn.errors import DataError


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return retina.write_synthetic(tmp_path_factory.mktemp("retina") / "retina", per_class=3, seed=2, image_size=12)


@pytest.fixture()
def copy_root(synthetic_root, tmp_path):
    import shutil

    shutil.copytree(synthetic_root, tmp_path / "retina")
    return tmp_path / "retina"


def test_metadata():
    assert retina.CLASS_NAMES == ("healthy", "diseased")
    assert retina.DEFAULT_SPLIT == "official"
    assert len(LABEL_COLUMNS) == 47 and LABEL_COLUMNS[:3] == ["ID", "Disease_Risk", "DR"] and LABEL_COLUMNS[-1] == "CL"


def test_csv_has_bom_crlf_and_the_real_header(synthetic_root):
    raw = (synthetic_root / "Training_Set" / "Training_Set" / "RFMiD_Training_Labels.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfID,Disease_Risk,DR,ARMD")
    assert raw.count(b"\r\n") == 7 and raw.count(b"\n") == 7


def test_index_official_splits(synthetic_root):
    frame = retina.index(synthetic_root)
    assert frame.groupby("split", sort=False).size().to_dict() == {"train": 6, "val": 6, "test": 6}
    assert frame.groupby(["split", "label"]).size().tolist() == [3] * 6
    assert (frame["patient_id"] == "").all()
    test_rows = frame[frame["split"] == "test"]
    assert test_rows["path"].iloc[0] == "Test_Set/Test_Set/Test/1.png"
    labels = read_labels(synthetic_root / "Test_Set" / "Test_Set" / "RFMiD_Testing_Labels.csv")
    assert test_rows["label"].tolist() == labels.sort_values("ID")["Disease_Risk"].tolist()


def test_images_are_rgb_and_wider_than_high(synthetic_root):
    from PIL import Image

    with Image.open(synthetic_root / "Training_Set" / "Training_Set" / "Training" / "1.png") as image:
        assert image.mode == "RGB" and image.size == (18, 12)


def test_diseased_rows_mark_a_disease(synthetic_root):
    labels = read_labels(synthetic_root / "Training_Set" / "Training_Set" / "RFMiD_Training_Labels.csv")
    diseases = labels[LABEL_COLUMNS[2:]].sum(axis=1)
    assert (diseases[labels["Disease_Risk"] == 1] >= 1).all() and (diseases[labels["Disease_Risk"] == 0] == 0).all()


def test_other_nesting_and_a_subset_of_splits(synthetic_root, tmp_path):
    import shutil

    base = synthetic_root / "Training_Set" / "Training_Set"
    shutil.copytree(base / "Training", tmp_path / "images" / "Training")
    shutil.copy(base / "RFMiD_Training_Labels.csv", tmp_path / "RFMiD_Training_Labels.csv")
    frame = retina.index(tmp_path)
    assert set(frame["split"]) == {"train"} and len(frame) == 6


def rewrite_csv(root, transform):
    path = root / "Training_Set" / "Training_Set" / "RFMiD_Training_Labels.csv"
    table = transform(read_labels(path))
    retina.write_label_csv(path, table)
    return path


def test_missing_disease_risk_is_named(copy_root):
    rewrite_csv(copy_root, lambda table: table.drop(columns=["Disease_Risk"]))
    with pytest.raises(DataError, match="RFMiD_Training_Labels.csv.*Disease_Risk"):
        retina.index(copy_root)


def test_missing_id_is_named(copy_root):
    rewrite_csv(copy_root, lambda table: table.drop(columns=["ID"]))
    with pytest.raises(DataError, match="RFMiD_Training_Labels.csv.*'ID'"):
        retina.index(copy_root)


def test_duplicated_id_is_named(copy_root):
    rewrite_csv(copy_root, lambda table: pd.concat([table, table.iloc[:1]]))
    with pytest.raises(DataError, match="RFMiD_Training_Labels.csv: ID 1 appears more than once"):
        retina.index(copy_root)


def test_label_row_without_image(copy_root):
    (copy_root / "Training_Set" / "Training_Set" / "Training" / "2.png").unlink()
    with pytest.raises(DataError, match="RFMiD_Training_Labels.csv.*no image.*ID 2"):
        retina.index(copy_root)


def test_image_without_label_row(copy_root):
    rewrite_csv(copy_root, lambda table: table[table["ID"] != 3])
    with pytest.raises(DataError, match="RFMiD_Training_Labels.csv: no label row.*3.png"):
        retina.index(copy_root)


def test_plain_csv_without_bom_also_reads(copy_root):
    path = copy_root / "Training_Set" / "Training_Set" / "RFMiD_Training_Labels.csv"
    path.write_bytes(path.read_bytes()[3:].replace(b"\r\n", b"\n"))
    assert len(retina.index(copy_root)) == 18


def test_another_datasets_layout_is_refused(tmp_path):
    from medcnn.datasets import folder

    root = folder.write_synthetic(tmp_path / "mine", per_class=1, image_size=8)
    with pytest.raises(DataError, match="no retina images found"):
        retina.index(root)
