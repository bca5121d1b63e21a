"""Training: compile, the study's callbacks, precision choice, cached features equal end-to-end training."""

import math

import keras
import numpy as np
import pandas as pd
import pytest

from medcnn.batches import ArrayBatches
from medcnn.errors import ConfigError
from medcnn.models.classifier import build_classifier
from medcnn.training.callbacks import BestModelCheckpoint, EpochHistory, StopOnNaN, study_callbacks
from medcnn.training.compile import compile_classifier
from medcnn.training.errors import TrainingError
from medcnn.training.features import compute_features, feature_batches, feature_cache_decision
from medcnn.training.fit import fine_tune_classifier, train_classifier
from medcnn.training.precision import Device, choose_policy, configure_precision, detect_device


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()  # and a garbage collection


def _data(count=30, size=32, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, 3), dtype="uint8"), rng.integers(0, num_classes, count)


def _batches(images, labels, num_classes=3):
    train = ArrayBatches(images, labels, num_classes=num_classes, batch_size=8, shuffle=True, seed=5, indices=np.arange(20))
    validation = ArrayBatches(images, labels, num_classes=num_classes, batch_size=8, indices=np.arange(20, 30))
    return train, validation


def test_compile_picks_the_loss_by_output_units():
    binary = compile_classifier(build_classifier("resnet50", 2, weights=None, input_size=32), learning_rate=1e-4)
    assert binary.loss == "binary_crossentropy"
    assert float(keras.ops.convert_to_numpy(binary.optimizer.learning_rate)) == pytest.approx(1e-4)
    categorical = compile_classifier(build_classifier("resnet50", 3, weights=None, input_size=32))
    assert categorical.loss == "categorical_crossentropy" and isinstance(categorical.optimizer, keras.optimizers.Adam)
    with pytest.raises(ConfigError, match="learning_rate"):
        compile_classifier(categorical, learning_rate=0)


def test_study_callbacks_settings(tmp_path):
    callbacks = study_callbacks(tmp_path)
    kinds = {type(callback).__name__: callback for callback in callbacks}
    assert list(kinds) == ["EpochHistory", "StopOnNaN", "EarlyStopping", "ReduceLROnPlateau", "BestModelCheckpoint"]
    stopping, plateau = kinds["EarlyStopping"], kinds["ReduceLROnPlateau"]
    assert (stopping.monitor, stopping.patience, stopping.restore_best_weights) == ("val_loss", 10, True)
    assert abs(stopping.min_delta) == pytest.approx(1e-4)
    assert (plateau.monitor, plateau.patience, plateau.factor, plateau.min_lr) == ("val_loss", 5, 0.1, 1e-7)
    assert plateau.min_delta == pytest.approx(1e-3)
    assert kinds["BestModelCheckpoint"].path == tmp_path / "best_model.keras"
    with pytest.raises(ConfigError, match=".keras"):
        BestModelCheckpoint(tmp_path / "best.h5")


def test_nan_loss_raises_a_training_error_naming_the_epoch():
    model = compile_classifier(build_classifier("resnet50", 3, weights=None, input_size=32), learning_rate=0.5)
    guard = StopOnNaN()
    guard.set_model(model)
    guard.on_epoch_end(0, {"loss": 0.7, "val_loss": 0.8})
    with pytest.raises(TrainingError, match=r"epoch 4 .*learning rate 0.5.*too high a learning rate; try 0.05"):
        guard.on_epoch_end(3, {"loss": math.nan})


def test_precision_policy_by_device():
    assert choose_policy(Device()) == "float32"
    assert choose_policy(Device("gpu", "Tesla T4", (7, 5))) == "mixed_float16"
    assert choose_policy(Device("gpu", "NVIDIA H100", (9, 0))) == "mixed_bfloat16"
    assert choose_policy(Device("tpu", "TPU v4")) == "mixed_bfloat16"
    assert detect_device().kind == "cpu"  # the test machines have no accelerator
    try:
        choice = configure_precision("auto")
        assert choice.policy == "float32" and choice.jit_compile == "auto"
        assert keras.mixed_precision.dtype_policy().name == "float32"
        gpu = configure_precision("auto", device=Device("gpu", "NVIDIA A100", (8, 0)))
        assert gpu.policy == "mixed_bfloat16" and gpu.jit_compile is True
        assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    with pytest.raises(ConfigError, match="policy"):
        configure_precision("float8")


def test_feature_cache_decision():
    from medcnn.augment import build_augmentation

    resnet = build_classifier("resnet50", 3, weights=None, input_size=32)
    vgg = build_classifier("vgg16", 3, weights=None, input_size=32)
    assert feature_cache_decision(resnet, "auto", device_kind="cpu")[0] is True
    assert feature_cache_decision(vgg, "auto", device_kind="gpu")[0] is True
    use, reason = feature_cache_decision(resnet, "auto", device_kind="gpu")
    assert use is False and "larger than the image" in reason
    assert feature_cache_decision(resnet, "on", device_kind="gpu")[0] is True  # "on" overrides that choice
    assert feature_cache_decision(resnet, "off", device_kind="cpu")[0] is False
    augmented = build_classifier("resnet50", 3, weights=None, input_size=32, augmentation=build_augmentation(seed=0))
    assert feature_cache_decision(augmented, "auto", device_kind="cpu") == (False, "augmentation changes the images every epoch: trained end to end")
    with pytest.raises(ConfigError, match="augmentation"):
        feature_cache_decision(augmented, "on")
    unfrozen = build_classifier("resnet50", 3, weights=None, input_size=32, freeze_backbone=False)
    assert feature_cache_decision(unfrozen, "auto", device_kind="cpu")[0] is False
    with pytest.raises(ConfigError, match="feature_cache"):
        feature_cache_decision(resnet, "yes")


def test_cached_features_train_exactly_like_end_to_end(tmp_path):
    images, labels = _data()
    results = {}
    for feature_cache in ("off", "on"):
        model = build_classifier("resnet50", 3, weights=None, input_size=32, seed=1)
        initial_kernel = np.array(model.get_layer("head_dense_1").get_weights()[0])
        train, validation = _batches(images, labels)
        run_dir = tmp_path / f"run-{feature_cache}"
        history = train_classifier(
            model, train, validation, learning_rate=1e-3, epochs=2, run_dir=run_dir, feature_cache=feature_cache, verbose=0
        )
        results[feature_cache] = (history, model.predict(images, verbose=0), train.epoch)
        # training the head (alone, on the feature path) trained the classifier's own layers
        assert not np.allclose(model.get_layer("head_dense_1").get_weights()[0], initial_kernel)
        assert history.attrs["training_path"] == ("cached_features" if feature_cache == "on" else "end_to_end")
        assert list(history.columns[:6]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
        on_disk = pd.read_csv(run_dir / "history.csv")
        np.testing.assert_allclose(on_disk["loss"], history["loss"], rtol=1e-6)
        assert not (run_dir / "resume.npz").exists()  # the resume state is written only when asked
        # the checkpoint is the whole classifier (uint8 images in), also on the feature path
        best = keras.saving.load_model(run_dir / "best_model.keras")
        assert best.input.dtype == "uint8" and best.output.shape == (None, 3)
    end_to_end, cached = results["off"], results["on"]
    assert len(end_to_end[0]) == len(cached[0]) == 2
    for column in ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(cached[0][column], end_to_end[0][column], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cached[1], end_to_end[1], atol=1e-4)
    assert cached[2] == end_to_end[2]  # the image batches were left at the same epoch
    assert sorted(path.name.split("-")[0] for path in (tmp_path / "feature_cache").glob("*.npy")) == ["train", "validation"]


def test_feature_cache_files_are_reused_and_keyed_by_weights(tmp_path):
    from medcnn.models.classifier import split_classifier

    images, labels = _data(count=12)
    batches = ArrayBatches(images, labels, num_classes=3, batch_size=5, shuffle=True, seed=2)
    model = build_classifier("resnet50", 3, weights=None, input_size=32, seed=0)
    extractor, _ = split_classifier(model)
    first = compute_features(extractor, batches, cache_dir=tmp_path, name="train")
    assert isinstance(first, np.memmap) and first.shape == (12, 1, 1, 2048)
    (cached_file,) = tmp_path.glob("train-*.npy")
    modified = cached_file.stat().st_mtime_ns
    again = compute_features(extractor, batches, cache_dir=tmp_path, name="train")
    assert cached_file.stat().st_mtime_ns == modified and np.array_equal(first, again)
    np.testing.assert_allclose(first, extractor.predict(images, verbose=0), rtol=1e-4, atol=1e-4)
    assert not list(tmp_path.glob("*.tmp.npy"))
    kernel = extractor.get_layer("backbone").get_layer("conv1_conv").kernel
    kernel.assign(kernel * 2.0)
    changed = compute_features(extractor, batches, cache_dir=tmp_path, name="train")
    assert not np.allclose(changed, first)
    assert len(list(tmp_path.glob("train-*.npy"))) == 2
    # feature batches serve the same rows in the same order as the image batches
    batches.on_epoch_end()
    head_batches = feature_batches(first, batches)
    assert head_batches.epoch == batches.epoch
    for index in range(len(batches)):
        np.testing.assert_array_equal(head_batches[index][1], batches[index][1])


def test_fine_tuning_trains_the_backbone_at_a_low_rate(tmp_path):
    images, labels = _data(num_classes=2)
    model = build_classifier("vgg16", 2, weights=None, input_size=32, seed=0)
    train, validation = _batches(images, labels, num_classes=2)
    history = fine_tune_classifier(model, train, validation, epochs=1, run_dir=tmp_path, verbose=0)
    assert history.attrs["stage"] == "fine_tune" and history.attrs["training_path"] == "end_to_end"
    assert history["learning_rate"].iloc[0] == pytest.approx(1e-5)
    assert (tmp_path / "fine_tune_history.csv").exists() and (tmp_path / "fine_tune_best_model.keras").exists()
    assert len(model.get_layer("backbone").trainable_weights) > 0


def test_bad_batches_are_refused():
    images, labels = _data()
    model = build_classifier("resnet50", 2, weights=None, input_size=32)
    train, validation = _batches(images, labels, num_classes=3)
    with pytest.raises(ConfigError, match="num_classes=3"):
        train_classifier(model, train, validation, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="epochs"):
        train_classifier(model, train, validation, epochs=0, verbose=0)
    unlabeled = ArrayBatches(images, num_classes=2)
    with pytest.raises(ConfigError, match="no labels"):
        train_classifier(model, unlabeled, validation, epochs=1, verbose=0)


def test_epoch_history_records_the_rate_used(tmp_path):
    model = compile_classifier(build_classifier("resnet50", 3, weights=None, input_size=32), learning_rate=2e-3)
    history = EpochHistory(tmp_path / "history.csv")
    history.set_model(model)
    history.on_train_begin()
    history.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4})
    frame = pd.read_csv(tmp_path / "history.csv")
    assert frame.to_dict("records") == [
        {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4, "learning_rate": 0.002}
    ]


def test_checkpoints_off_writes_only_the_history(tmp_path):
    """The study runner redoes interrupted runs, so it skips the best-model and resume files."""
    import numpy as np

    from medcnn.batches import ArrayBatches
    from medcnn.models.classifier import build_classifier
    from medcnn.training.fit import train_classifier

    generator = np.random.default_rng(0)
    images = generator.integers(0, 255, size=(12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12) % 2
    model = build_classifier("vgg16", 2, weights=None, input_size=32, seed=0)
    train = ArrayBatches(images, labels, num_classes=2, batch_size=4, shuffle=True, indices=np.arange(8))
    val = ArrayBatches(images, labels, num_classes=2, batch_size=4, indices=np.arange(8, 12))
    history = train_classifier(model, train, val, epochs=2, run_dir=tmp_path / "run", verbose=0, checkpoints=False)
    assert len(history) == 2
    written = sorted(path.name for path in (tmp_path / "run").iterdir())
    assert "history.csv" in written
    assert not any(name.endswith((".keras", ".npz")) for name in written)
