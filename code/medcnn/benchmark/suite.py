"""One backbone through every path of the benchmark, on one decoded cache and one set of files."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from medcnn.batches import ArrayBatches
from medcnn.benchmark.decode_baseline import DecodeEveryEpoch
from medcnn.benchmark.pipelines import (
    measure_cached_features,
    measure_decode_every_epoch,
    measure_model_only,
    measure_pipeline,
)
from medcnn.images.cache import build_cache
from medcnn.models.backbones import check_input_size
from medcnn.models.classifier import build_classifier
from medcnn.training.compile import compile_classifier
from medcnn.training.features import feature_cache_decision

FROZEN_LEARNING_RATE = 1e-3  # the study's head stage
TRAINABLE_LEARNING_RATE = 1e-5  # the study's fine-tuning stage


def benchmark_backbone(
    backbone: str,
    *,
    frame,
    root,
    cache_dir,
    image_size: int,
    num_classes: int = 3,
    batch_size: int = 32,
    epochs: int = 2,
    workers: int = 2,
    jit_compile="auto",
    device_kind: str = "cpu",
    seed: int = 0,
    log=print,
) -> dict:
    """Measure every path for ``backbone`` (random weights) and return the figures as a dictionary.

    Builds the decoded cache of ``frame``'s files at ``image_size`` (reused when it is
    already there), then trains a frozen-backbone classifier by model-only, pipeline,
    decode-every-epoch and cached features, and an all-trainable one by the first three.

    Args:
        backbone: ``"vgg16"``, ``"resnet50"`` or ``"inceptionv3"``.
        frame: the source images' index (``path`` relative to ``root``, ``label``).
        root: the folder of the source images.
        cache_dir: where the decoded cache goes.
        image_size: the model's input side in pixels.
        num_classes: output classes.
        batch_size: images per step.
        epochs: timed epochs per path (one warm-up epoch comes first).
        workers: decoding threads of the decode-every-epoch baseline.
        jit_compile: passed to ``compile_classifier``.
        device_kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``: for medcnn's feature-cache choice.
        seed: seeds the weights and the shuffles.
        log: called with one line of progress per path.

    Example:
        >>> figures = benchmark_backbone("vgg16", frame=frame, root=folder, cache_dir=folder / "cache",
        ...                              image_size=64, batch_size=16)  # doctest: +SKIP
        >>> sorted(figures["paths"])  # doctest: +SKIP
        ['cached_features', 'decode_every_epoch_frozen', 'decode_every_epoch_trainable', 'model_only_frozen', ...]
    """
    image_size = check_input_size(backbone, image_size)
    start = time.perf_counter()
    cache = build_cache(frame, root=root, image_size=image_size, cache_dir=cache_dir, progress=False)
    decode_once_seconds = time.perf_counter() - start
    labels = cache.labels
    paths = {}

    def batches(prefetch_workers: int = 2):
        return ArrayBatches(
            cache.images, labels, num_classes=num_classes, batch_size=batch_size, shuffle=True, seed=seed,
            workers=prefetch_workers,
        )

    def decoded():
        return DecodeEveryEpoch(
            [Path(root) / name for name in frame["path"]], labels, num_classes=num_classes,
            image_size=image_size, batch_size=batch_size, shuffle=True, seed=seed, workers=workers,
        )

    def record(name, measure):
        result = measure()
        paths[name] = result.as_dict()
        log(f"  {backbone} {name}: {result.images_per_second:,.1f} images/s (warm-up {result.warmup_seconds:.1f} s)")

    keras.backend.clear_session()
    model = build_classifier(backbone, num_classes, weights=None, input_size=image_size, freeze_backbone=True, seed=seed)
    compile_classifier(model, learning_rate=FROZEN_LEARNING_RATE, jit_compile=jit_compile)
    record("model_only_frozen", lambda: measure_model_only(model, batches(), epochs=epochs))
    record("pipeline_frozen", lambda: measure_pipeline(model, batches(), epochs=epochs))
    record("pipeline_frozen_no_prefetch", lambda: measure_pipeline(model, batches(1), epochs=epochs))
    record("decode_every_epoch_frozen", lambda: measure_decode_every_epoch(model, decoded(), epochs=epochs))
    record(
        "cached_features",
        lambda: measure_cached_features(
            model, batches(), epochs=epochs, learning_rate=FROZEN_LEARNING_RATE, jit_compile=jit_compile
        ),
    )
    uses_features, reason = feature_cache_decision(model, "auto", device_kind=device_kind)
    parameters = {"total": int(model.count_params())}
    del model

    keras.backend.clear_session()
    model = build_classifier(backbone, num_classes, weights=None, input_size=image_size, freeze_backbone=False, seed=seed)
    compile_classifier(model, learning_rate=TRAINABLE_LEARNING_RATE, jit_compile=jit_compile)
    parameters["trainable_all"] = int(sum(math.prod(weight.shape) for weight in model.trainable_weights))
    record("model_only_trainable", lambda: measure_model_only(model, batches(), epochs=epochs))
    record("pipeline_trainable", lambda: measure_pipeline(model, batches(), epochs=epochs))
    record("pipeline_trainable_no_prefetch", lambda: measure_pipeline(model, batches(1), epochs=epochs))
    record("decode_every_epoch_trainable", lambda: measure_decode_every_epoch(model, decoded(), epochs=epochs))
    del model
    keras.backend.clear_session()

    return {
        "backbone": backbone,
        "image_size": image_size,
        "images": len(frame),
        "parameters": parameters,
        "decode_once_seconds": round(decode_once_seconds, 3),
        "paths": paths,
        "medcnn_feature_cache": {"uses_cached_features": uses_features, "reason": reason},
    }
