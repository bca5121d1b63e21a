"""The brain tumor reader on synthetic data in the figshare layout (nested zips of MATLAB v7.3 files)."""

import shutil
import zipfile

import numpy as np
import pytest

from medcnn.datasets import brain_tumor
from medcnn.images.matlab import read_cvind, read_mat_record, write_mat_record
from medcnn.errors import DataError


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return brain_tumor.write_synthetic(tmp_path_factory.mktemp("brain") / "brain_tumor", per_class=6, seed=3, image_size=16)


def comparable(frame):
    """Everything but the folder a file sits in."""
    result = frame.copy()
    result["path"] = result["path"].str.rsplit("/", n=1).str[-1]
    return result


def test_metadata():
    assert brain_tumor.CLASS_NAMES == ("meningioma", "glioma", "pituitary")
    assert brain_tumor.DEFAULT_SPLIT == "grouped"
    assert brain_tumor.SPLIT_FRACTIONS == (0.70, 0.15, 0.15)
    assert "1512427" in brain_tumor.SOURCE


def test_outer_zip_holds_the_real_nesting(synthetic_root):
    with zipfile.ZipFile(synthetic_root / brain_tumor.DOWNLOAD_NAME) as archive:
        names = archive.namelist()
    assert names == [
        "brainTumorDataPublic_1-766.zip",
        "brainTumorDataPublic_767-1532.zip",
        "brainTumorDataPublic_1533-2298.zip",
        "brainTumorDataPublic_2299-3064.zip",
        "cvind.mat",
        "README.txt",
    ]


def test_index_from_outer_zip(synthetic_root):
    frame = brain_tumor.index(synthetic_root)
    assert frame["label"].value_counts().sort_index().tolist() == [6, 6, 6]
    assert set(frame["split"]) == {""}
    numbers = frame["path"].str.extract(r"/(\d+)\.mat$")[0].astype(int).tolist()
    assert numbers == sorted(numbers) and numbers[0] == 1 and 767 in numbers and 2299 in numbers
    # Several slices per patient, each patient in one class only, PIDs in the real styles.
    per_patient = frame.groupby("patient_id")["label"].agg(["nunique", "size"])
    assert (per_patient["nunique"] == 1).all() and per_patient["size"].max() >= 2
    assert frame["patient_id"].str.fullmatch(r"\d{6}").any()
    assert frame["patient_id"].str.fullmatch(r"MR\d{6}").any()
    assert frame["patient_id"].str.fullmatch(r"MR\d{6}B").any()
    # Labels agree with the files themselves (1/2/3 -> 0/1/2).
    first = frame.iloc[0]
    record = read_mat_record(synthetic_root / first["path"])
    assert record.label - 1 == first["label"] and record.patient_id == first["patient_id"]


def test_second_index_does_not_unpack_again(synthetic_root):
    brain_tumor.index(synthetic_root)
    marker = synthetic_root / "1512427" / ".medcnn-unpacked.json"
    stamp = marker.stat().st_mtime_ns
    again = brain_tumor.index(synthetic_root)
    assert marker.stat().st_mtime_ns == stamp
    assert len(again) == 18


def test_inner_zips_and_extracted_folder_give_the_same_index(synthetic_root, tmp_path):
    expected = comparable(brain_tumor.index(synthetic_root))
    inner = tmp_path / "inner"
    inner.mkdir()
    for archive in (synthetic_root / "1512427").glob("brainTumorDataPublic_*.zip"):
        shutil.copy(archive, inner / archive.name)
    from_inner = brain_tumor.index(inner)
    assert comparable(from_inner).equals(expected)

    flat = tmp_path / "flat"
    flat.mkdir()
    for mat in (synthetic_root / "1512427").rglob("[0-9]*.mat"):
        shutil.copy(mat, flat / mat.name)
    from_flat = brain_tumor.index(flat)
    assert comparable(from_flat).equals(expected)
    assert from_flat["path"].iloc[0] == "1.mat"


def test_subset_of_files(synthetic_root, tmp_path):
    mats = sorted((synthetic_root / "1512427").rglob("[0-9]*.mat"))
    full = brain_tumor.index(synthetic_root)
    keep = full.groupby("label").head(1)
    for path in keep["path"]:
        shutil.copy(synthetic_root / path, tmp_path / path.rsplit("/", 1)[-1])
    subset = brain_tumor.index(tmp_path)
    assert len(subset) == 3 < len(mats)
    assert sorted(subset["label"].tolist()) == [0, 1, 2]
    assert comparable(subset).set_index("path").equals(comparable(keep).set_index("path").loc[comparable(subset)["path"]])


def test_cvind_has_one_fold_per_image(synthetic_root):
    folds = read_cvind(synthetic_root / "1512427" / "cvind.mat")
    frame = brain_tumor.index(synthetic_root)
    assert len(folds) == len(frame) and set(folds) <= {1, 2, 3, 4, 5}
    by_patient = frame.assign(fold=folds).groupby("patient_id")["fold"].nunique()
    assert (by_patient == 1).all()


def test_synthetic_images_have_raw_intensities_and_half_sizes(synthetic_root):
    frame = brain_tumor.index(synthetic_root)
    shapes, maxima = set(), []
    for path in frame["path"]:
        record = read_mat_record(synthetic_root / path, include_image=True, include_mask=True)
        shapes.add(record.image.shape)
        maxima.append(int(record.image.max()))
        assert record.image.dtype == np.int16 and record.tumor_mask.shape == record.image.shape
    assert shapes == {(16, 16), (8, 8)}
    assert max(maxima) > 255


def test_synthetic_is_deterministic_and_idempotent(tmp_path):
    first = brain_tumor.write_synthetic(tmp_path / "a", per_class=2, seed=5, image_size=8)
    second = brain_tumor.write_synthetic(tmp_path / "b", per_class=2, seed=5, image_size=8)
    a, b = brain_tumor.index(first), brain_tumor.index(second)
    assert a.equals(b)
    for path in a["path"]:
        image_a = read_mat_record(first / path, include_image=True).image
        image_b = read_mat_record(second / path, include_image=True).image
        assert np.array_equal(image_a, image_b)
    stamp = (first / "1512427.zip").stat().st_mtime_ns
    brain_tumor.write_synthetic(first, per_class=2, seed=5, image_size=8)
    assert (first / "1512427.zip").stat().st_mtime_ns == stamp


def test_missing_root_names_the_download_command(tmp_path):
    with pytest.raises(DataError, match="python -m medcnn download --dataset brain_tumor"):
        brain_tumor.index(tmp_path / "nowhere")


def test_another_datasets_layout_is_refused(tmp_path):
    from medcnn.datasets import covid19

    root = covid19.write_synthetic(tmp_path / "covid", per_class=1, image_size=8)
    with pytest.raises(DataError, match="no brain_tumor images found"):
        brain_tumor.index(root)


def test_missing_class_is_named(tmp_path):
    write_mat_record(tmp_path / "1.mat", label=1, patient_id="MR1", image=np.ones((4, 4)))
    with pytest.raises(DataError, match="glioma"):
        brain_tumor.index(tmp_path)


def test_damaged_mat_is_named(tmp_path):
    write_mat_record(tmp_path / "1.mat", label=1, patient_id="MR1", image=np.ones((4, 4)))
    (tmp_path / "2.mat").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="2.mat"):
        brain_tumor.index(tmp_path)


def test_damaged_zip_is_named(tmp_path):
    (tmp_path / "brainTumorDataPublic_1-766.zip").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DataError, match="brainTumorDataPublic_1-766.zip"):
        brain_tumor.index(tmp_path)


def test_write_synthetic_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "precious.txt").write_text("real data")
    with pytest.raises(DataError, match="not empty"):
        brain_tumor.write_synthetic(tmp_path, per_class=2)
    assert (tmp_path / "precious.txt").read_text() == "real data"
