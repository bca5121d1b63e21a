"""Each chapter's workflow at tiny scale: synth → index → split → train (smoke) → report, through the CLI."""

import json

import pandas as pd
import pytest

from medcnn.cli import main
from medcnn.config import RunConfig
from medcnn.errors import ConfigError

# The chapters' workflows end to end; the JAX pass in CI skips them (make test-jax) to stay inside CI's time.
pytestmark = pytest.mark.integration

RUN_FILES = ("config.json", "manifest.csv", "history.csv", "metrics.json", "report.md", "model.keras",
             "confusion_matrix.png", "learning_curves.png", "prediction_grid.png")


@pytest.mark.parametrize(
    "dataset, backbone, feature_cache, training_path",
    # "off" on one dataset: the end-to-end path through the command line ("on" takes the path
    # "auto" takes here; what each setting decides is checked in tests/test_training.py)
    [("brain_tumor", "resnet50", "auto", "cached_features"), ("covid19", "vgg16", "auto", "cached_features"),
     ("retina", "vgg16", "off", "end_to_end"), ("folder", "vgg16", "auto", "cached_features")],
)
def test_cli_workflow_for_each_dataset(dataset, backbone, feature_cache, training_path, tmp_path, capsys):
    root = tmp_path / "data"
    assert main(["synth", "--dataset", dataset, "--root", str(root), "--per-class", "6", "--seed", "1"]) == 0
    assert main(["index", "--dataset", dataset, "--root", str(root), "--out", str(tmp_path / "index.csv")]) == 0
    assert main(["split", "--dataset", dataset, "--root", str(root), "--out", str(tmp_path / "manifest.csv")]) == 0
    manifest = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    assert set(manifest["subset"]) == {"train", "val", "test"}
    run = tmp_path / "run"
    assert main(["train", "--dataset", dataset, "--root", str(root), "--backbone", backbone, "--profile", "smoke",
                 "--epochs", "1", "--batch-size", "8", "--verbose", "0", "--feature-cache", feature_cache,
                 "--out", str(run)]) == 0
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert "SMOKE RUN" in (run / "report.md").read_text()
    # the path taken is recorded in the history and the timings
    assert set(pd.read_csv(run / "history.csv")["training_path"]) == {training_path}
    assert json.loads((run / "timings.json").read_text())["training_path"] == training_path
    printed = capsys.readouterr().out
    assert "SMOKE RUN" in printed
    # the banner states the epochs asked for, not the profile's two
    assert "at most 1 epoch(s)" in printed and "at most 2 epoch(s)" not in printed
    assert main(["evaluate", "--run", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == pytest.approx(metrics["accuracy"])


def test_smoke_run_on_separable_synthetic_data_beats_the_majority_baseline(tmp_path):
    from medcnn.datasets import get_dataset
    from medcnn.pipeline import train_and_evaluate

    root = get_dataset("covid19").write_synthetic(tmp_path / "data", per_class=20, seed=0)
    result = train_and_evaluate(
        RunConfig(dataset="covid19", backbone="vgg16", epochs=4, batch_size=16, seed=0),
        root=root, out=tmp_path / "run", verbose=0, progress=False,
    )
    assert result.metrics["accuracy"] > result.metrics["majority_baseline"]["accuracy"] + 0.2


def test_bad_configuration_is_rejected_before_any_work(tmp_path, capsys):
    with pytest.raises(ConfigError, match="vgg16"):
        RunConfig(backbone="alexnet").resolved()
    with pytest.raises(ConfigError, match="75"):
        RunConfig(backbone="inceptionv3", image_size=64).resolved()
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig(learning_rate=0).resolved()
    status = main(["train", "--dataset", "retina", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "run")])
    assert status == 3  # DataError
    error = capsys.readouterr().err
    assert "absent" in error and "Traceback" not in error


def test_smoke_subset_keeps_whole_patients_and_at_least_three_per_class():
    from medcnn.data import smoke_subset, split_index

    rows = [{"path": f"{label}-{patient}-{slice_}.mat", "label": label, "class_name": str(label),
             "patient_id": f"P{label}{patient}", "split": ""}
            for label in range(3) for patient in range(8) for slice_ in range(13)]
    index = pd.DataFrame(rows)
    subset = smoke_subset(index, per_class=12, seed=0)
    per_class_patients = subset.groupby("label")["patient_id"].nunique()
    assert (per_class_patients >= 3).all()
    assert (subset.groupby("patient_id").size() == 13).all()  # whole patients only
    split_index(subset, dataset="brain_tumor", seed=0)  # a grouped split is possible


def test_feature_cache_on_with_augmentation_is_refused_before_any_work(tmp_path, capsys):
    status = main(["train", "--dataset", "retina", "--root", str(tmp_path / "absent"), "--augment",
                   "--feature-cache", "on", "--out", str(tmp_path / "run")])
    assert status == 2
    error = capsys.readouterr().err
    assert "feature_cache='on' with augment=True" in error
    assert not (tmp_path / "run").exists()
