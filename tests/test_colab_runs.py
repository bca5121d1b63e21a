"""What a full run on Colab relies on: results kept on Drive, the environment's adjustments of the
full profile (fewer epochs, random weights). (The resume state it writes to Drive each
epoch, and only when asked, is checked by tests/test_faults_training.py and tests/test_training.py.)"""

from __future__ import annotations

import pytest

from medcnn.errors import ConfigError


def test_results_dir_on_an_unmounted_drive_is_refused(tmp_path, monkeypatch):
    from medcnn import paths

    monkeypatch.setattr(paths, "DRIVE_MOUNT", tmp_path / "drive")
    with pytest.raises(ConfigError, match=r'drive\.mount\("/content/drive"\)'):
        paths.results_dir("study", base=tmp_path / "drive" / "MyDrive" / "medcnn-results")
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)
    folder = paths.results_dir("study", base=tmp_path / "drive" / "MyDrive" / "medcnn-results")
    assert folder == tmp_path / "drive" / "MyDrive" / "medcnn-results" / "study" and folder.is_dir()


def test_results_dir_elsewhere_and_by_default(tmp_path):
    from medcnn.paths import results_dir

    assert results_dir("retina", base=tmp_path).is_dir()
    first, second = results_dir("retina"), results_dir("retina")
    assert first != second and first.name == "retina" and first.parent.is_dir()


def test_full_profile_overrides_come_from_the_environment(monkeypatch):
    from medcnn.profiles import get_profile

    for name in ("MEDCNN_EPOCHS", "MEDCNN_FINE_TUNE_EPOCHS", "MEDCNN_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    assert get_profile("full").epochs == 100 and get_profile("full").weights == "imagenet"
    monkeypatch.setenv("MEDCNN_EPOCHS", "2")
    monkeypatch.setenv("MEDCNN_FINE_TUNE_EPOCHS", "1")
    monkeypatch.setenv("MEDCNN_WEIGHTS", "none")
    full = get_profile("full")
    assert (full.name, full.epochs, full.fine_tune_epochs, full.weights, full.image_size) == ("full", 2, 1, None, None)
    assert full.image_size_for("inceptionv3") == 299
    monkeypatch.setenv("MEDCNN_EPOCHS", "zero")
    with pytest.raises(ConfigError, match=r"\$MEDCNN_EPOCHS='zero'"):
        get_profile("full")
    monkeypatch.setenv("MEDCNN_EPOCHS", "2")
    monkeypatch.setenv("MEDCNN_WEIGHTS", "imagenet21k")
    with pytest.raises(ConfigError, match="imagenet or none"):
        get_profile("full")
