"""The frozen-backbone shortcut: compute the backbone's outputs once, then train only the head.

With a frozen backbone and no augmentation, every epoch feeds the same images
through the same backbone to the same outputs. Computing them once per subset and
training the head on them gives the same result (same batches, same order, same
updates) at a fraction of the cost where the backbone dominates: always on a CPU,
and on a large GPU for VGG-16, whose 7×7×512 feature maps are small. ResNet-50's and
Inception-V3's Flatten inputs (100,352 and 131,072 values) are larger than the
images themselves, so on a GPU reading them costs more than recomputing them
(measured on an H200: ResNet-50 13,200 img/s end to end vs 6,700 on cached features;
Inception-V3 8,900 vs 5,700; VGG-16 8,900 vs 48,300).

Features are cached as ``.npy`` files keyed by a hash of the extractor's weights and
the identity of the images (file, size, modification time and rows), written under
a temporary name and renamed, so a stale or half-written cache is never read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from medcnn.batches import ArrayBatches
from medcnn.config import FEATURE_CACHE_CHOICES
from medcnn.errors import ConfigError
from medcnn.files import atomic_path
from medcnn.models.backbones import backbone_architecture, get_backbone
from medcnn.models.classifier import backbone_layer, has_augmentation
from medcnn.training.precision import detect_device

def feature_cache_decision(model, feature_cache="auto", *, device_kind: str | None = None) -> tuple[bool, str]:
    """Decide whether to train ``model``'s head on cached backbone features, and say why.

    Args:
        model: a classifier from :func:`medcnn.models.classifier.build_classifier`.
        feature_cache: ``"auto"`` (by device and backbone), ``"on"`` (required: an error
            if the model cannot use it) or ``"off"`` (always train end to end) — the
            vocabulary of :class:`medcnn.config.RunConfig` and ``train --feature-cache``.
        device_kind: ``"cpu"``, ``"gpu"`` or ``"tpu"`` (default: ask the backend).

    Returns:
        ``(use_features, reason)``.

    Example:
        >>> feature_cache_decision(model, "auto", device_kind="cpu")  # doctest: +SKIP
        (True, 'cpu: the backbone dominates every step, so its outputs are computed once')
    """
    if not isinstance(feature_cache, str) or feature_cache not in FEATURE_CACHE_CHOICES:
        raise ConfigError(
            f"feature_cache={feature_cache!r}: expected one of {', '.join(map(repr, FEATURE_CACHE_CHOICES))}"
        )
    obstacles = []
    if len(backbone_layer(model).trainable_weights) > 0:
        obstacles.append("the backbone is being trained")
    if has_augmentation(model):
        obstacles.append("augmentation changes the images every epoch")
    if feature_cache == "off":
        return False, "feature_cache='off': trained end to end"
    if obstacles:
        if feature_cache == "on":
            raise ConfigError(
                f"feature_cache='on', but {' and '.join(obstacles)}: cached features would be wrong; "
                "use feature_cache='auto' or 'off'"
            )
        return False, f"{' and '.join(obstacles)}: trained end to end"
    if feature_cache == "on":
        return True, "feature_cache='on'"
    if device_kind is None:
        device_kind = detect_device().kind
    if device_kind == "cpu":
        return True, "cpu: the backbone dominates every step, so its outputs are computed once"
    backbone = get_backbone(backbone_architecture(model))
    if backbone.cache_features_on_gpu:
        return True, (f"{device_kind}: {backbone.display_name}'s feature maps are small, "
                      "so reading them beats recomputing them")
    return False, (
        f"{device_kind}: {backbone.name}'s Flatten input is larger than the image, "
        "so recomputing the frozen backbone is faster than reading cached features"
    )


def _data_identity(batches: ArrayBatches) -> bytes:
    inputs = batches.inputs
    parts = [str(tuple(inputs.shape)), str(inputs.dtype)]
    filename = getattr(inputs, "filename", None)
    if filename is not None and os.path.exists(filename):
        status = os.stat(filename)
        parts += [os.path.abspath(filename), str(getattr(inputs, "offset", 0)), str(status.st_size), str(status.st_mtime_ns)]
        digest = "|".join(parts).encode()
    else:
        digest = "|".join(parts).encode() + hashlib.sha256(np.ascontiguousarray(inputs).tobytes()).digest()
    return digest + hashlib.sha256(np.ascontiguousarray(batches.indices).tobytes()).digest()


def feature_cache_key(extractor, batches: ArrayBatches) -> str:
    """A key naming one extractor's outputs on one set of rows of one image array.

    Changes when any weight, the dtype policy, the backend, the image file (path, size,
    modification time) or the selected rows change.

    Example:
        >>> key = feature_cache_key(extractor, train_batches)  # doctest: +SKIP
        >>> len(key)  # doctest: +SKIP
        20
    """
    import keras

    digest = hashlib.sha256()
    digest.update(f"{keras.backend.backend()}|{keras.mixed_precision.dtype_policy().name}".encode())
    digest.update(str([tuple(tensor.shape) for tensor in extractor.inputs + extractor.outputs]).encode())
    # By position, not by name: automatic layer names (Inception-V3's) change with every build.
    for position, weight in enumerate(extractor.weights):
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{position}|{value.shape}|{value.dtype}".encode())
        digest.update(value.tobytes())
    digest.update(_data_identity(batches))
    return digest.hexdigest()[:20]


def compute_features(extractor, batches: ArrayBatches, *, cache_dir=None, name: str = "features", verbose: int = 0):
    """The extractor's outputs for ``batches``' rows, in index order (float32).

    Args:
        extractor: images → backbone outputs (see :func:`medcnn.models.classifier.split_classifier`).
        batches: the subset's image batches; their rows are read in index order, unshuffled.
        cache_dir: folder to keep the features in as ``<name>-<key>.npy`` (opened as a memmap
            when already there); ``None`` keeps them in memory only.
        name: the subset's name in the file name (``"train"``, ``"validation"``).
        verbose: show a progress bar while computing.

    Example:
        >>> features = compute_features(extractor, validation_batches, cache_dir="runs/feature_cache")  # doctest: +SKIP
    """
    ordered = ArrayBatches(batches.inputs, batch_size=batches.batch_size, shuffle=False, indices=batches.indices)
    shape = (len(batches.indices),) + tuple(int(size) for size in extractor.outputs[0].shape[1:])
    path = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        path = cache_dir / f"{name}-{feature_cache_key(extractor, batches)}.npy"
        if path.exists():
            try:
                cached = np.load(path, mmap_mode="r")
            except (ValueError, OSError, EOFError) as error:  # truncated or overwritten: computed again
                print(f"{path}: damaged feature cache ({error}); computing the features again")
                cached = None
            if cached is not None and cached.shape == shape and cached.dtype == np.float32:
                return cached
            del cached
        with atomic_path(path, what="the cached backbone features", suffix=".npy",
                         fix="free some space, or train with feature_cache='off'") as temporary:
            features = np.lib.format.open_memmap(temporary, mode="w+", dtype="float32", shape=shape)
            _fill_features(features, extractor, ordered, name=name, verbose=verbose)
            features.flush()
            del features
        return np.load(path, mmap_mode="r")
    features = np.empty(shape, dtype="float32")
    _fill_features(features, extractor, ordered, name=name, verbose=verbose)
    return features


def _fill_features(features, extractor, ordered: ArrayBatches, *, name: str, verbose: int) -> None:
    from tqdm.auto import tqdm

    start = 0
    for batch_index in tqdm(range(len(ordered)), desc=f"{name} features", disable=not verbose):
        (images,) = ordered[batch_index]
        outputs = np.asarray(extractor.predict_on_batch(images), dtype="float32")
        features[start : start + len(outputs)] = outputs
        start += len(outputs)


def feature_batches(features, batches: ArrayBatches) -> ArrayBatches:
    """Batches over ``features`` that serve the same rows in the same order as ``batches``.

    ``features[i]`` belongs to ``batches.indices[i]``; the shuffle of an ``ArrayBatches``
    depends only on the number of rows, the seed and the epoch, so with the same batch
    size, shuffle, seed and epoch every batch holds the same samples.

    Example:
        >>> head_batches = feature_batches(features, train_batches)  # doctest: +SKIP
    """
    if batches.labels is None:
        raise ConfigError("these batches have no labels: training needs ArrayBatches built with labels")
    if len(features) != len(batches.indices):
        raise ConfigError(f"{len(features)} feature rows for {len(batches.indices)} selected images: expected one per image")
    result = ArrayBatches(
        features,
        batches.labels,
        num_classes=batches.num_classes,
        batch_size=batches.batch_size,
        shuffle=batches.shuffle,
        seed=batches.seed,
    )
    while result.epoch < batches.epoch:
        result.on_epoch_end()
    return result
