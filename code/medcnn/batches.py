"""Batches for Keras: a ``keras.utils.PyDataset`` over arrays already in memory or on disk.

The arrays are usually the decoded uint8 image cache (a NumPy memmap, see
:mod:`medcnn.images.cache`) or cached backbone features. Nothing is decoded here:
a batch is a fancy-indexed slice of the array, so an epoch costs one read of the
cache. With ``shuffle=True`` the order is reshuffled at the end of every epoch from
a generator seeded with ``seed``, so two runs with the same seed see the same batches.
"""

from __future__ import annotations

import keras
import numpy as np

from medcnn.errors import ConfigError


def encode_labels(labels, *, num_classes: int) -> np.ndarray:
    """Encode integer labels the way the study's losses expect them.

    Two classes give one float column for a sigmoid output and binary
    cross-entropy; three or more give one-hot rows for a softmax output and
    categorical cross-entropy.

    Example:
        >>> encode_labels([0, 2], num_classes=3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
        >>> encode_labels([0, 1], num_classes=2).tolist()
        [[0.0], [1.0]]
    """
    labels = np.asarray(labels, dtype=np.int64)
    if num_classes < 2:
        raise ConfigError(f"num_classes={num_classes}: a classifier needs at least 2 classes")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ConfigError(
            f"labels run from {labels.min()} to {labels.max()}, expected 0..{num_classes - 1} "
            f"for num_classes={num_classes}"
        )
    if num_classes == 2:
        return labels.astype("float32").reshape(-1, 1)
    return np.eye(num_classes, dtype="float32")[labels]


class SeededBatches(keras.utils.PyDataset):
    """Batches served in an order that depends only on the seed and the epoch.

    The one shuffle of the package: epoch ``e`` serves the items in the order of a NumPy
    generator seeded with ``[seed, e]``, so two runs with the same seed, or a run resumed
    after epoch ``e``, see the same batches (Keras's own shuffle stays off). Subclasses
    read :attr:`order` (positions ``0 … count-1``) in ``__getitem__``.

    Args:
        count: how many items the batches cover.
        batch_size: items per batch; the last batch may be smaller.
        shuffle: a new order every epoch; ``False`` keeps ``0 … count-1``.
        seed: seeds the shuffles.
        **options: ``keras.utils.PyDataset``'s (``workers``, ``use_multiprocessing``, ``max_queue_size``).

    Example:
        >>> batches = SeededBatches(count=5, batch_size=2, shuffle=True, seed=1)
        >>> len(batches), sorted(batches.order.tolist())
        (3, [0, 1, 2, 3, 4])
        >>> first = batches.order.copy(); batches.on_epoch_end(); batches.epoch
        1
    """

    def __init__(self, *, count: int, batch_size: int, shuffle: bool, seed: int, **options):
        super().__init__(**options)
        self.count = int(count)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.order = self.order_for_epoch(0)

    def order_for_epoch(self, epoch: int) -> np.ndarray:
        """The positions in the order epoch ``epoch`` serves them."""
        positions = np.arange(self.count)
        if self.shuffle:
            np.random.default_rng([self.seed, epoch]).shuffle(positions)
        return positions

    def __len__(self) -> int:
        return -(-self.count // self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self.order_for_epoch(self.epoch)


class ArrayBatches(SeededBatches):
    """A seeded, shuffling ``keras.utils.PyDataset`` over an array and its labels.

    Args:
        inputs: an array (or memmap) whose first axis indexes the samples.
        labels: integer labels, one per row of ``inputs`` (or ``None`` for prediction only).
        num_classes: how many classes the labels encode (2 = binary).
        batch_size: samples per batch; the last batch may be smaller.
        shuffle: reshuffle the order at every epoch.
        seed: seeds the shuffles.
        indices: restrict to these rows of ``inputs`` (for example one subset).
        workers: threads that prepare the next batches while the current one trains
            (Keras's ``OrderedEnqueuer``: same batches, same order). The default, 2,
            keeps the accelerator fed; 1 prepares each batch when it is asked for.
        max_queue_size: batches prepared ahead at most.

    Example:
        >>> import numpy as np
        >>> batches = ArrayBatches(np.zeros((10, 4, 4, 3), "uint8"), [0, 1] * 5,
        ...                        num_classes=2, batch_size=4)
        >>> len(batches), batches[2][0].shape
        (3, (2, 4, 4, 3))
    """

    def __init__(
        self,
        inputs,
        labels=None,
        *,
        num_classes: int = 2,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        indices=None,
        workers: int = 2,
        use_multiprocessing: bool = False,
        max_queue_size: int = 4,
    ):
        if batch_size <= 0:
            raise ConfigError(f"batch_size={batch_size}: expected a positive whole number")
        if workers < 1 or max_queue_size < 1:
            raise ConfigError(
                f"workers={workers}, max_queue_size={max_queue_size}: expected at least 1 each"
            )
        self.inputs = inputs
        self.indices = np.arange(len(inputs)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.num_classes = int(num_classes)
        self.labels = None  # integer labels of the selected rows, in row order
        self.targets = None  # the same, encoded for the loss
        if labels is not None:
            labels = np.asarray(labels)
            if len(labels) != len(inputs):
                raise ConfigError(f"{len(labels)} labels for {len(inputs)} inputs: expected one label per row")
            self.labels = labels[self.indices].astype(np.int64)
            self.targets = encode_labels(self.labels, num_classes=num_classes)
        super().__init__(count=len(self.indices), batch_size=batch_size, shuffle=shuffle, seed=seed, workers=workers,
                         use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)

    def __getitem__(self, batch_index: int):
        if batch_index < 0 or batch_index >= len(self):
            raise IndexError(f"batch {batch_index} out of range 0..{len(self) - 1}")
        positions = self.order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
        rows = self.indices[positions]
        # Sorted reads are kinder to a memmap; put the batch back in shuffled order afterwards.
        sort = np.argsort(rows, kind="stable")
        batch_inputs = np.empty((len(rows),) + tuple(self.inputs.shape[1:]), dtype=self.inputs.dtype)
        batch_inputs[sort] = self.inputs[rows[sort]]
        if self.targets is None:
            return (batch_inputs,)
        return batch_inputs, self.targets[positions]

    @property
    def labels_in_order(self):
        """The encoded targets in the order the batches currently serve them."""
        return None if self.targets is None else self.targets[self.order]

