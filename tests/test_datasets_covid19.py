"""The COVID-19 Radiography Database reader: current layout, early flat releases, re-split copies."""

import zlib

import numpy as np
import pytest
from PIL import Image

from medcnn.datasets import covid19
from medcnn.errors import DataError


def gray_png(path, value=100, size=(12, 12), mode="L"):
    """A small image, different for every path: identical bytes would be one image kept once (issue 23)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full(size, value, np.uint8)
    pixels[0, :4] = list(zlib.crc32(str(path).encode()).to_bytes(4, "big"))
    image = Image.fromarray(pixels)
    image.convert(mode).save(path)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return covid19.write_synthetic(tmp_path_factory.mktemp("covid") / "covid19", per_class=4, seed=1, image_size=16)


def test_metadata():
    assert covid19.CLASS_NAMES == ("normal", "viral_pneumonia", "covid")
    assert covid19.DEFAULT_SPLIT == "stratified"
    assert covid19.SPLIT_FRACTIONS == (0.60, 0.20, 0.20)


def test_synthetic_current_layout(synthetic_root):
    release = synthetic_root / "COVID-19_Radiography_Dataset"
    assert (release / "Viral Pneumonia" / "images" / "Viral Pneumonia-4.png").is_file()
    assert (release / "Lung_Opacity" / "masks" / "Lung_Opacity-1.png").is_file()
    with Image.open(release / "Normal" / "images" / "Normal-1.png") as image:
        assert image.mode == "L" and image.size == (16, 16)
    readme = (release / "README.md.txt").read_text()
    has_xlsx = (release / "COVID.metadata.xlsx").exists()
    assert has_xlsx == ("without the <Class>.metadata.xlsx" not in readme)


def test_index_three_classes(synthetic_root):
    frame = covid19.index(synthetic_root)
    assert frame["label"].value_counts().sort_index().tolist() == [4, 4, 4]
    assert frame.groupby("label")["class_name"].first().tolist() == ["normal", "viral_pneumonia", "covid"]
    assert not frame["path"].str.contains("/masks/").any()
    assert (frame["patient_id"] == "").all() and (frame["split"] == "").all()
    covid_paths = frame[frame["label"] == 2]["path"].tolist()
    assert covid_paths[0] == "COVID-19_Radiography_Dataset/COVID/images/COVID-1.png"


def test_lung_opacity_on_request(synthetic_root):
    frame = covid19.index(synthetic_root, include_lung_opacity=True)
    assert frame["label"].value_counts().sort_index().tolist() == [4, 4, 4, 4]
    assert set(frame[frame["label"] == 3]["class_name"]) == {"lung_opacity"}


@pytest.mark.parametrize("covid_folder", ["COVID-19", "COVID"])
def test_early_flat_release(tmp_path, covid_folder):
    base = tmp_path / "COVID-19 Radiography Database"
    for folder in (covid_folder, "NORMAL", "Viral Pneumonia"):
        for number in (1, 2, 10):
            gray_png(base / folder / f"{folder} ({number}).png", mode="RGB")
    frame = covid19.index(tmp_path)
    assert frame["label"].value_counts().sort_index().tolist() == [3, 3, 3]
    assert frame[frame["label"] == 0]["path"].tolist() == [
        "COVID-19 Radiography Database/NORMAL/NORMAL (1).png",
        "COVID-19 Radiography Database/NORMAL/NORMAL (2).png",
        "COVID-19 Radiography Database/NORMAL/NORMAL (10).png",
    ]


def test_train_test_resplit_copy(tmp_path):
    for part, count in (("train", 3), ("test", 1)):
        for folder in ("COVID", "Normal", "Viral Pneumonia"):
            for number in range(count):
                gray_png(tmp_path / "data" / part / folder / f"{part}-{number}.jpg")
    frame = covid19.index(tmp_path)
    assert frame["label"].value_counts().sort_index().tolist() == [4, 4, 4]
    assert frame["path"].str.contains("/test/").sum() == 3


def test_missing_class_is_named(tmp_path):
    gray_png(tmp_path / "COVID" / "images" / "COVID-1.png")
    gray_png(tmp_path / "Normal" / "images" / "Normal-1.png")
    with pytest.raises(DataError, match="viral_pneumonia"):
        covid19.index(tmp_path)


def test_another_datasets_layout_is_refused(tmp_path):
    from medcnn.datasets import retina

    root = retina.write_synthetic(tmp_path / "retina", per_class=1, image_size=8)
    with pytest.raises(DataError, match="no covid19 images found"):
        covid19.index(root)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        covid19.index(tmp_path / "absent")


def test_synthetic_deterministic(tmp_path):
    first = covid19.write_synthetic(tmp_path / "a", per_class=2, seed=9, image_size=8)
    second = covid19.write_synthetic(tmp_path / "b", per_class=2, seed=9, image_size=8)
    for path in covid19.index(first)["path"]:
        assert (first / path).read_bytes() == (second / path).read_bytes()
