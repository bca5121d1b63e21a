"""The real sample images: present, small, one provenance record each, loadable and drawable."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcnn.errors import ConfigError
from medcnn.samples import DATA_FOLDER, attribution, load_samples, plot_samples, provenance_records


def test_one_provenance_record_per_file_and_no_file_without_one():
    records = provenance_records()
    listed = {record["file"] for record in records}
    on_disk = {str(path.relative_to(DATA_FOLDER)) for path in DATA_FOLDER.rglob("*.jpg")}
    assert listed == on_disk and len(records) == 28
    for record in records:
        assert record["licence"] == "CC BY 4.0"
        assert record["source"] and record["original_id"] and record["change"] and record["attribution"]
        with Image.open(DATA_FOLDER / record["file"]) as image:
            assert max(image.size) <= 512


def test_load_samples_in_label_order():
    brain = load_samples(dataset="brain_tumor")
    assert len(brain.images) == 24 and np.bincount(brain.labels).tolist() == [8, 8, 8]
    assert brain.images[0].dtype == np.uint8 and brain.images[0].ndim == 2
    retina = load_samples(dataset="retina")
    assert retina.labels.tolist() == [0, 1, 1, 1] and retina.images[0].shape[-1] == 3
    assert Path(retina.provenance[0]["file"]).stem == "10"  # the healthy eye
    assert "CC BY 4.0" in attribution("retina")


def test_covid_and_unknown_datasets_say_why():
    with pytest.raises(ConfigError, match="cannot be redistributed"):
        load_samples(dataset="covid19")
    with pytest.raises(ConfigError, match="brain_tumor, retina"):
        load_samples(dataset="chest")


def test_plot_samples_carries_the_attribution():
    figure = plot_samples("brain_tumor", per_class=2)
    assert len([axes for axes in figure.axes if axes.images]) == 6
    assert any("CC BY 4.0" in text.get_text() for text in figure.texts)
