"""The four input paths the benchmark times, each feeding the same compiled model.

- :func:`measure_model_only`: one batch converted to the backend's tensor once (on the
  accelerator under JAX and PyTorch), served again and again: the step's own limit;
- :func:`measure_pipeline`: medcnn's path, :class:`medcnn.batches.ArrayBatches` over
  the decoded-once memmap cache, as ``train_classifier`` feeds ``fit``;
- :func:`measure_decode_every_epoch`: :class:`~medcnn.benchmark.decode_baseline.DecodeEveryEpoch`;
- :func:`measure_cached_features`: the head trained on the frozen backbone's outputs,
  computed once with :func:`medcnn.training.features.compute_features` (that one-off
  cost is reported as ``setup_seconds``).

Each path runs one warm-up epoch and ``epochs`` timed ones (see :func:`~medcnn.benchmark.measure.timed_fit`).
"""

from __future__ import annotations

import time

import keras

from medcnn.batches import ArrayBatches
from medcnn.benchmark.measure import Throughput, timed_fit
from medcnn.errors import ConfigError
from medcnn.models.classifier import split_classifier
from medcnn.training.compile import compile_classifier
from medcnn.training.features import compute_features, feature_batches


class OneBatch(keras.utils.PyDataset):
    """The same (images, targets) batch ``steps`` times per epoch, converted to backend tensors once.

    Example:
        >>> import numpy as np
        >>> data = OneBatch(np.zeros((4, 8, 8, 3), "uint8"), np.zeros((4, 1), "float32"), steps=3)
        >>> len(data), tuple(data[2][0].shape)
        (3, (4, 8, 8, 3))
    """

    def __init__(self, images, targets, *, steps: int = 1):
        super().__init__(workers=1, use_multiprocessing=False)
        if steps < 1:
            raise ConfigError(f"steps={steps}: expected at least one step per epoch")
        self.batch = (keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(targets))
        self.steps = int(steps)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, batch_index: int):
        if batch_index < 0 or batch_index >= self.steps:
            raise IndexError(f"batch {batch_index} out of range 0..{self.steps - 1}")
        return self.batch


def measure_model_only(model, batches: ArrayBatches, *, epochs: int = 2) -> Throughput:
    """The ceiling: ``model`` trained on ``batches``' first batch, already on the device, ``len(batches)`` steps an epoch.

    Example:
        >>> measure_model_only(model, train_batches, epochs=2).images_per_second  # doctest: +SKIP
    """
    images, targets = batches[0]
    data = OneBatch(images, targets, steps=len(batches))
    return timed_fit(model, data, images_per_epoch=len(images) * len(batches), epochs=epochs)


def measure_pipeline(model, batches: ArrayBatches, *, epochs: int = 2) -> Throughput:
    """medcnn's training path: ``fit`` on :class:`~medcnn.batches.ArrayBatches` over the uint8 cache.

    Example:
        >>> measure_pipeline(model, train_batches, epochs=2).images_per_second  # doctest: +SKIP
    """
    return timed_fit(model, batches, images_per_epoch=len(batches.indices), epochs=epochs)


def measure_decode_every_epoch(model, batches, *, epochs: int = 2) -> Throughput:
    """The study's path: ``fit`` on batches decoded from the image files every epoch.

    Args:
        model: the same compiled model the other paths train.
        batches: a :class:`~medcnn.benchmark.decode_baseline.DecodeEveryEpoch`.
        epochs: timed epochs after the warm-up.

    Example:
        >>> measure_decode_every_epoch(model, decode_batches, epochs=2).images_per_second  # doctest: +SKIP
    """
    return timed_fit(model, batches, images_per_epoch=len(batches.paths), epochs=epochs)


def measure_cached_features(
    model, batches: ArrayBatches, *, epochs: int = 2, learning_rate: float = 1e-3, jit_compile="auto"
) -> Throughput:
    """The frozen-backbone stage on cached features: backbone outputs computed once, then only the head trained.

    The head shares ``model``'s layers (:func:`medcnn.models.classifier.split_classifier`);
    the features are computed in memory, and that time is ``setup_seconds``.

    Example:
        >>> measure_cached_features(frozen_model, train_batches, epochs=2).setup_seconds  # doctest: +SKIP
    """
    extractor, head = split_classifier(model)
    compile_classifier(head, learning_rate=learning_rate, jit_compile=jit_compile)
    start = time.perf_counter()
    features = compute_features(extractor, batches)
    setup_seconds = time.perf_counter() - start
    head_batches = feature_batches(features, batches)
    return timed_fit(head, head_batches, images_per_epoch=len(batches.indices), epochs=epochs, setup_seconds=setup_seconds)
