"""Faults while training: a killed run resumes with the same history (case 23); NaN loss (case 24)."""

import keras
import numpy as np
import pandas as pd
import pytest

from medcnn.batches import ArrayBatches
from medcnn.models.classifier import build_classifier
from medcnn.training.fit import train_classifier
from medcnn.training.resume import load_resume_state


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()  # and a garbage collection


def _batches(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (28, 32, 32, 3), dtype="uint8")
    labels = np.arange(28) % 3
    images[labels == 1] //= 2  # a learnable signal, so the callbacks' counters move
    train = ArrayBatches(images, labels, num_classes=3, batch_size=8, shuffle=True, seed=5, indices=np.arange(20))
    validation = ArrayBatches(images, labels, num_classes=3, batch_size=8, indices=np.arange(20, 28))
    return train, validation


def _train(run_dir, *, epochs, feature_cache, resume=False, stop_after=None):
    keras.backend.clear_session()
    model = build_classifier("resnet50", 3, weights=None, input_size=32, seed=3)
    train, validation = _batches()
    options = dict(learning_rate=1e-3, epochs=epochs, run_dir=run_dir, feature_cache=feature_cache, seed=0, verbose=0,
                   learning_rate_patience=1, resume=resume, resume_state=True)
    if stop_after is not None:
        # A run killed after `stop_after` epochs (Ctrl-C, a lost Colab session): a callback put after
        # the study's ones raises once that epoch's checkpoint is written, as a kill between epochs would.
        class Kill(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 == stop_after:
                    raise KeyboardInterrupt

        original_fit = keras.Model.fit

        def fit(self, *arguments, callbacks=None, **keywords):
            return original_fit(self, *arguments, callbacks=list(callbacks) + [Kill()], **keywords)

        keras.Model.fit = fit
        try:
            with pytest.raises(KeyboardInterrupt):
                train_classifier(model, train, validation, **options)
        finally:
            keras.Model.fit = original_fit
        return None, model
    history = train_classifier(model, train, validation, **options)
    return history, [np.array(weight) for weight in model.get_weights()]


@pytest.mark.parametrize("feature_cache", ["on", "off"], ids=["cached_features", "end_to_end"])
def test_killed_training_resumes_with_the_same_history_and_weights(tmp_path, feature_cache):
    if feature_cache == "on" and keras.backend.backend() != "tensorflow":
        # what resuming restores (weights, optimizer, callbacks) is the same on both paths:
        # the end-to-end case covers the other backends (a CI-time choice, 20-30 s a pass)
        pytest.skip("the cached-features path resumes through the same state: checked on TensorFlow")
    whole, whole_weights = _train(tmp_path / "whole", epochs=3, feature_cache=feature_cache)
    _, killed_model = _train(tmp_path / "killed", epochs=3, feature_cache=feature_cache, stop_after=2)
    state = load_resume_state(tmp_path / "killed")
    assert state.epoch == 2 and not state.finished_for(3)
    # The state holds only what training changes (a Colab run writes it to Drive each epoch):
    # the frozen backbone's weights are not in it.
    trainable = sum(int(np.prod(weight.shape)) for weight in killed_model.trainable_weights)
    assert sum(int(np.size(value)) for value in state.variables) < trainable + 100
    assert len(state.variables) < len(killed_model.variables)
    assert state.best_weights is None or len(state.best_weights) < len(killed_model.get_weights())
    assert state.callbacks["early_stopping"]["best"] == pytest.approx(min(row["val_loss"] for row in state.rows))
    assert len(pd.read_csv(tmp_path / "killed" / "history.csv")) == 2
    resumed, resumed_weights = _train(tmp_path / "killed", epochs=3, feature_cache=feature_cache, resume=True)
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    assert resumed["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(resumed[columns], whole[columns], rtol=1e-4, atol=1e-5)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "killed" / "history.csv"), whole[columns], rtol=1e-4, atol=1e-5)
    for expected, actual in zip(whole_weights, resumed_weights):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
    # Resuming a finished stage trains nothing more and gives the same model.
    again, again_weights = _train(tmp_path / "killed", epochs=3, feature_cache=feature_cache, resume=True)
    assert again["epoch"].tolist() == [1, 2, 3]
    for expected, actual in zip(whole_weights, again_weights):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
