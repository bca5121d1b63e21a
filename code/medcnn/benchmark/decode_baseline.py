"""The baseline: decode and resize every image file on every epoch, as the study's tutorials did.

Written plainly and fairly: a ``keras.utils.PyDataset`` whose ``__getitem__`` opens
each PNG of the batch with PIL, converts it to RGB, resizes it (bilinear) to the
model's input size and stacks the batch as uint8 (the same input the cached
pipeline gives the same model, so only the input path differs). Keras runs it with
``workers`` threads (Pillow releases the GIL while it inflates and resizes), the way
``ImageDataGenerator.flow_from_directory`` was run with ``workers=``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medcnn.batches import SeededBatches, encode_labels
from medcnn.errors import ConfigError


class DecodeEveryEpoch(SeededBatches):
    """Batches decoded from the image files every time they are asked for.

    Args:
        paths: image files, one per sample.
        labels: integer labels, one per file.
        num_classes: how many classes (2 = binary, one float target).
        image_size: the side the images are resized to.
        batch_size: images per batch.
        shuffle: reshuffle the order every epoch (seeded).
        seed: seeds the shuffles.
        workers: threads decoding batches ahead of the model (Colab has 2 vCPUs).
        max_queue_size: batches prepared ahead.

    Example:
        >>> batches = DecodeEveryEpoch(["a.png", "b.png"], [0, 1], image_size=64, batch_size=2)  # doctest: +SKIP
        >>> batches[0][0].shape  # doctest: +SKIP
        (2, 64, 64, 3)
    """

    def __init__(
        self,
        paths,
        labels,
        *,
        num_classes: int = 3,
        image_size: int = 224,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        workers: int = 2,
        max_queue_size: int = 10,
    ):
        if batch_size <= 0 or image_size <= 0 or workers < 1:
            raise ConfigError(
                f"batch_size={batch_size}, image_size={image_size}, workers={workers}: expected positive whole numbers"
            )
        self.paths = [Path(path) for path in paths]
        if len(labels) != len(self.paths):
            raise ConfigError(f"{len(labels)} labels for {len(self.paths)} files: expected one label per file")
        self.targets = encode_labels(labels, num_classes=num_classes)
        self.image_size = int(image_size)
        super().__init__(count=len(self.paths), batch_size=batch_size, shuffle=shuffle, seed=seed, workers=workers,
                         use_multiprocessing=False, max_queue_size=max_queue_size)

    def load(self, path: Path) -> np.ndarray:
        """Decode one file to RGB uint8 at ``image_size`` × ``image_size``."""
        from PIL import Image

        with Image.open(path) as image:
            image = image.convert("RGB").resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)

    def __getitem__(self, batch_index: int):
        rows = self.order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
        images = np.stack([self.load(self.paths[row]) for row in rows])
        return images, self.targets[rows]
