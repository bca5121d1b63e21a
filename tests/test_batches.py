"""Batches: seeded per-epoch shuffles over a cache, labels encoded for the loss."""

import numpy as np
import pytest

from medcnn.batches import ArrayBatches, encode_labels
from medcnn.errors import ConfigError


def test_every_row_once_per_epoch_and_seeded_reshuffle():
    inputs = np.arange(23)[:, None] * np.ones((1, 2), dtype=np.int64)
    labels = np.arange(23) % 3
    batches = ArrayBatches(inputs, labels, num_classes=3, batch_size=5, shuffle=True, seed=4)
    assert len(batches) == 5
    first_epoch = np.concatenate([batches[i][0][:, 0] for i in range(len(batches))])
    assert sorted(first_epoch.tolist()) == list(range(23))
    # labels travel with their rows
    targets = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert (targets.argmax(axis=1) == first_epoch % 3).all()
    batches.on_epoch_end()
    second_epoch = np.concatenate([batches[i][0][:, 0] for i in range(len(batches))])
    assert sorted(second_epoch.tolist()) == list(range(23)) and (second_epoch != first_epoch).any()
    again = ArrayBatches(inputs, labels, num_classes=3, batch_size=5, shuffle=True, seed=4)
    assert np.array_equal(np.concatenate([again[i][0][:, 0] for i in range(len(again))]), first_epoch)


def test_indices_select_a_subset_without_shuffle():
    inputs = np.arange(10)[:, None]
    batches = ArrayBatches(inputs, np.arange(10) % 2, num_classes=2, batch_size=4, indices=[7, 2, 5])
    rows, targets = batches[0]
    assert rows[:, 0].tolist() == [7, 2, 5]
    assert targets.ravel().tolist() == [1.0, 0.0, 1.0]


def test_label_encoding_and_errors():
    assert encode_labels([1, 0], num_classes=2).shape == (2, 1)
    assert encode_labels([2], num_classes=4).tolist() == [[0, 0, 1, 0]]
    with pytest.raises(ConfigError, match="0..2"):
        encode_labels([3], num_classes=3)
    with pytest.raises(ConfigError, match="batch_size"):
        ArrayBatches(np.zeros((2, 1)), [0, 1], batch_size=0)
